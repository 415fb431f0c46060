/* SPDX-License-Identifier: MIT */
/* The instant virtio device (see instant_virtio.h). Little-endian host assumed (x86-64, AArch64).
 */
#include <string.h>

#include "instant_virtio.h"

#define DESC_BYTES 16u
#define F_NEXT     1u
#define F_WRITE    2u
#define F_INDIRECT 4u
#define F_AVAIL    (1u << 7)
#define F_USED     (1u << 15)

#define SCSI_RESP_HDR 12u /* sense_len, residual, status_qualifier, status, response */

static uint16_t rd16(const uint8_t *p)
{
    return *(const volatile uint16_t *)(const void *)p;
}
static uint32_t rd32(const uint8_t *p)
{
    return *(const volatile uint32_t *)(const void *)p;
}
static uint64_t rd64(const uint8_t *p)
{
    return *(const volatile uint64_t *)(const void *)p;
}
static void wr16(uint8_t *p, uint16_t v)
{
    *(volatile uint16_t *)(void *)p = v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    *(volatile uint32_t *)(void *)p = v;
}

static void packed_rearm(struct iv_queue *q);

void iv_queue_adopt(struct iv_dev *d, const struct keel_vq *vq, enum iv_kind kind)
{
    struct iv_queue *q;

    if (vq->index >= IV_MAX_QUEUES)
        bench_die("instant virtio: queue %u beyond the table", (unsigned)vq->index);
    if (vq->in_flight != 0)
        bench_die("instant virtio: queue %u is not idle", (unsigned)vq->index);
    q = &d->q[vq->index];
    memset(q, 0, sizeof(*q));
    q->live = true;
    q->kind = kind;
    q->packed = vq->packed;
    q->event_idx = vq->event_idx;
    q->size = vq->size;
    q->desc = vq->desc;
    q->driver = vq->driver;
    q->device = vq->device;
    q->last_avail = vq->avail_idx;
    q->used_idx = vq->last_used;
    q->pos = vq->next_used;
    q->wrap = vq->used_wrap;
    if (q->packed)
        packed_rearm(q);
}

/*
 * The answer of a successful command: virtio-blk's status byte is the last device-writable buffer
 * (5.2.6), virtio-scsi's response the first (5.6.6.1: req, data-out, resp, data-in).
 */
static void answer(const struct iv_dev *d, const struct iv_queue *q, uint64_t first, uint64_t last)
{
    if (q->kind == IV_BLK)
        *(volatile uint8_t *)bench_bus_ptr(d->bh, last) = 0; /* VIRTIO_BLK_S_OK */
    else /* VIRTIO_SCSI_S_OK, GOOD, no sense, no residual */
        memset(bench_bus_ptr(d->bh, first), 0, SCSI_RESP_HDR);
}

/*
 * Walk one chain in `tbl` from `i` (split: NEXT links; packed indirect table: `max` entries in
 * order); returns the device-writable bytes.
 */
static uint32_t walk(const struct iv_dev *d, const struct iv_queue *q, const uint8_t *tbl,
                     uint16_t i, unsigned max, bool split_links)
{
    uint32_t wlen = 0;
    uint64_t first = 0, last = 0;
    unsigned n;

    for (n = 0; n < max; n++) {
        const uint8_t *e = tbl + (size_t)i * DESC_BYTES;
        uint16_t fl = rd16(e + (split_links ? 12u : 14u)); /* split and packed layouts */
        if (fl & F_WRITE) {
            last = rd64(e);
            if (wlen == 0)
                first = last;
            wlen += rd32(e + 8u);
        }
        if (split_links) {
            if (!(fl & F_NEXT))
                break;
            i = rd16(e + 14u);
        } else {
            i++; /* packed indirect tables: every entry, no NEXT flags (2.8.6) */
        }
    }
    answer(d, q, first, last);
    return wlen;
}

static void serve_split(struct iv_dev *d, struct iv_queue *q)
{
    uint16_t avail = rd16(q->driver + 2u), mask = (uint16_t)(q->size - 1u);

    __asm__ volatile("" ::: "memory");
    while (q->last_avail != avail) {
        uint16_t head = rd16(q->driver + 4u + 2u * (q->last_avail & mask));
        const uint8_t *hd = q->desc + (size_t)head * DESC_BYTES;
        uint8_t *ue = q->device + 4u + 8u * (q->used_idx & mask);
        uint32_t wlen;

        if (rd16(hd + 12u) & F_INDIRECT)
            wlen = walk(d, q, bench_bus_ptr(d->bh, rd64(hd)), 0, rd32(hd + 8u) / DESC_BYTES, true);
        else
            wlen = walk(d, q, q->desc, head, q->size, true);
        wr32(ue, head);
        wr32(ue + 4u, wlen);
        q->last_avail++;
        q->used_idx++;
        q->chains++;
    }
    __asm__ volatile("" ::: "memory");
    wr16(q->device + 2u, q->used_idx);
    if (q->event_idx) /* avail_event: notify me about the next buffer (2.7.10) */
        wr16(q->device + 4u + 8u * q->size, q->last_avail);
}

/* Device event suppression (2.8.10): ask for a notification about the next buffer. */
static void packed_rearm(struct iv_queue *q)
{
    if (q->event_idx) {
        wr16(q->device, (uint16_t)(q->pos | (q->wrap ? 0x8000u : 0u)));
        __asm__ volatile("" ::: "memory");
        wr16(q->device + 2u, 2u); /* RING_EVENT_FLAGS_DESC */
    } else {
        wr16(q->device + 2u, 0u); /* RING_EVENT_FLAGS_ENABLE */
    }
}

static void serve_packed(struct iv_dev *d, struct iv_queue *q)
{
    for (;;) {
        uint8_t *hd = q->desc + (size_t)q->pos * DESC_BYTES;
        uint16_t fl = rd16(hd + 14u), ndesc = 1, id = 0, slot = q->pos;
        bool avail = (fl & F_AVAIL) != 0, used = (fl & F_USED) != 0;
        uint32_t wlen = 0;
        uint64_t first = 0, last = 0;

        if (avail != q->wrap || used == q->wrap)
            break;
        __asm__ volatile("" ::: "memory");
        if (fl & F_INDIRECT) {
            id = rd16(hd + 12u);
            wlen = walk(d, q, bench_bus_ptr(d->bh, rd64(hd)), 0, rd32(hd + 8u) / DESC_BYTES, false);
        } else {
            /* In-ring chain: follow NEXT through consecutive slots (wrapping at the end). */
            for (;;) {
                const uint8_t *e = q->desc + (size_t)slot * DESC_BYTES;
                uint16_t f = rd16(e + 14u);
                if (f & F_WRITE) {
                    last = rd64(e);
                    if (wlen == 0)
                        first = last;
                    wlen += rd32(e + 8u);
                }
                id = rd16(e + 12u);
                if (!(f & F_NEXT) || ndesc == q->size)
                    break;
                slot = (uint16_t)(slot + 1u == q->size ? 0u : slot + 1u);
                ndesc++;
            }
            answer(d, q, first, last);
        }
        /* The used descriptor goes where the chain started: id and length, then the flags. */
        wr16(hd + 12u, id);
        wr32(hd + 8u, wlen);
        __asm__ volatile("" ::: "memory");
        wr16(hd + 14u, (uint16_t)(q->wrap ? (F_AVAIL | F_USED) : 0u));
        q->pos = (uint16_t)(q->pos + ndesc);
        if (q->pos >= q->size) {
            q->pos = (uint16_t)(q->pos - q->size);
            q->wrap = !q->wrap;
        }
        q->chains++;
    }
    packed_rearm(q);
}

void iv_notify(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct iv_dev *d = dev;
    struct iv_queue *q;

    (void)off;
    (void)width;
    if (val >= IV_MAX_QUEUES || !d->q[val].live)
        return; /* a queue the benchmark does not serve (virtio-scsi control / event) */
    q = &d->q[val];
    if (q->packed)
        serve_packed(d, q);
    else
        serve_split(d, q);
}
