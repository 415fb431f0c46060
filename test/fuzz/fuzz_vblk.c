/* SPDX-License-Identifier: MIT */
/*
 * Fuzz targets "vring_split", "vring_packed" and "vblk_status": Keel's virtio-blk driver, attached
 * through its real virtio-mmio transport and virtqueues to fuzz_vdev (an honest register file),
 * with requests in flight while the input plays the device's side of the rings.
 *
 *   vring_split   split rings: used elements with any id and length, used->idx jumps, arbitrary
 *                 bytes anywhere in ring memory, plus everything below
 *   vring_packed  packed rings: used descriptors with any id, length and flags, ring scribbles
 *   vblk_status   honest rings (split or packed, chosen by the input), hostile contents: status
 *                 bytes, GET_ID data, used lengths, lost requests, interrupts, configuration
 *                 changes, DEVICE_NEEDS_RESET, resets that never complete
 *
 * Input: an 8-byte header (device shape, see parse_header), then operations until the input ends:
 * the harness submits, polls, lets time pass and makes blocking calls (GET_ID, SECURE_ERASE) on the
 * driver side; the device takes chains, completes them (honestly or not), drops them, interrupts,
 * changes its configuration. During a blocking call the device acts on every clock read. Once the
 * input is used up the device turns honest (or silent, per the header) and the harness polls until
 * every request has finished, then detaches.
 *
 * Invariants beyond the sanitizers: a request completes exactly once, never while its buffer is
 * still mapped, and within bounded virtual time once polled; a refused request never completes;
 * the driver never posts a malformed chain, a descriptor over unmapped memory or a device-writable
 * descriptor over a to-device buffer, never makes available what the device still holds, never
 * gives back a buffer the device still holds, never clears status bits or accepts features that
 * were not offered; detach resets the device, and afterwards no DMA memory, mapping, interrupt or
 * lock is left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/virtio.h>
#include <keel/virtio_blk.h>

#include "fuzz_hal.h"
#include "fuzz_vdev.h"

#define MODE_SPLIT  0
#define MODE_PACKED 1
#define MODE_STATUS 2
#ifndef FUZZ_VBLK_MODE
#define FUZZ_VBLK_MODE MODE_SPLIT
#endif

#define NREQ       32
#define MMIO_BASE  0x0a000000u
#define IRQ_LINE   48u
#define MAX_OPS    4096u
#define SLACK_US   60000000ull /* after the last deadline, every request must have finished */
#define FINAL_STEP 10000u

/* virtio-blk request header type values the device side needs to recognise */
#define T_GET_ID 8u

enum op {
    OP_SUBMIT,
    OP_POLL,
    OP_ADVANCE,
    OP_COMPLETE,
    OP_COMPLETE_ALL,
    OP_DROP,
    OP_IRQ,
    OP_PROCESS,
    OP_RAW_USED,
    OP_USED_IDX,
    OP_SCRIBBLE,
    OP_NEEDS_RESET,
    OP_CONFIG,
    OP_SERVICE,
    OP_GET_ID,
    OP_RECOVER,
    OP_WRITEBACK,
    OP_RESET_STUCK,
    OP_SECURE_ERASE,
    OP_REFUSE_FEATURES,
    OP_COUNT
};

struct hreq {
    struct keel_blk_req r;
    int state; /* 0 free, 1 in flight */
    uint8_t *mem, *buf;
    size_t len;
    uint64_t deadline;
    struct fuzz_hal *fh;
};

struct h {
    struct fz in;
    struct fuzz_hal fh;
    struct fuzz_vdev v;
    struct keel_vblk *vb;
    struct hreq req[NREQ];
    uint32_t ss;
    bool irq;
    bool immediate;    /* the device completes inside the notification */
    bool blocking;     /* a blocking call runs: the device acts on clock reads */
    bool final_silent; /* after the input: the device never completes again */
    bool quiet;        /* the input is used up */
    uint64_t completions;
};

/* ---- requests
 * ------------------------------------------------------------------------------------
 */

static void hdone(struct keel_blk_req *r)
{
    struct hreq *q = r->user;

    if (q == NULL || q->state != 1)
        fh_fail("request completed twice, or never submitted");
    if (r->status > 0 || r->status <= -KEEL_ERR_COUNT)
        fh_fail("request completed with status %d", r->status);
    if (q->buf != NULL && fh_buf_mapped(q->fh, q->buf, q->len))
        fh_fail("request completed while its buffer is still mapped for DMA");
    if (q->fh->log_print)
        fprintf(stderr, "request op %u lba %llu count %u: status %d\n", r->op,
                (unsigned long long)r->lba, r->count, r->status);
    free(q->mem);
    q->mem = q->buf = NULL;
    q->state = 0;
}

static uint64_t cap_blocks(const struct h *h)
{
    return h->vb->blk.info.sector_count;
}

static void op_submit(struct h *h)
{
    struct hreq *q = &h->req[fz_below(&h->in, NREQ)];
    uint8_t op = (uint8_t)fz_below(&h->in, 5);
    uint32_t count = 1u + fz_below(&h->in, 32);
    uint8_t lmode = fz_u8(&h->in);
    uint64_t lba, cap = cap_blocks(h);
    uint8_t flags = (uint8_t)(fz_u8(&h->in) & 3u);
    uint16_t queue = (uint16_t)fz_below(&h->in, 3);
    uint32_t timeout = 1000u + 8u * (uint32_t)fz_u16(&h->in);
    size_t mis = fz_below(&h->in, 16);
    int rc;

    switch (lmode & 3u) {
    case 0:
        lba = cap ? fz_u16(&h->in) % cap : 0u;
        break;
    case 1:
        lba = cap > count ? cap - count : 0u;
        break;
    case 2:
        lba = cap - count + 1u;
        break;
    default:
        lba = fz_u64(&h->in);
        break;
    }
    if (q->state != 0)
        return;
    memset(&q->r, 0, sizeof(q->r));
    q->r.op = op;
    q->r.flags = flags;
    q->r.queue = queue;
    q->r.count = op == KEEL_BLK_OP_FLUSH ? 0u : count;
    q->r.lba = lba;
    q->r.timeout_us = timeout;
    q->r.done = hdone;
    q->r.user = q;
    q->fh = &h->fh;
    q->len = 0;
    if (op == KEEL_BLK_OP_READ || op == KEEL_BLK_OP_WRITE) {
        q->len = (size_t)count * h->ss;
        q->mem = malloc(q->len + mis);
        if (q->mem == NULL)
            abort();
        q->buf = q->mem + mis;
        memset(q->buf, 0xa5, q->len);
        q->r.buf = q->buf;
    }
    q->deadline = h->fh.now_us + timeout;
    q->state = 1;
    rc = keel_blk_submit(&h->vb->blk, &q->r);
    if (rc != KEEL_OK) {
        if (q->state != 1)
            fh_fail("done() ran for a request submit refused (%d)", rc);
        free(q->mem);
        q->mem = q->buf = NULL;
        q->state = 0;
    }
}

static unsigned in_flight(const struct h *h)
{
    unsigned i, n = 0;

    for (i = 0; i < NREQ; i++)
        n += h->req[i].state == 1 ? 1u : 0u;
    return n;
}

/* ---- device side
 * ---------------------------------------------------------------------------------
 */

/* Complete chain `k` of queue `qi` as a virtio-blk device would, with what the input says. */
static void dev_complete(struct h *h, unsigned qi, unsigned k, uint8_t status, uint8_t mode,
                         uint32_t raw_len)
{
    struct fv_queue *q = &h->v.q[qi];
    struct fv_chain *c;
    uint8_t hdr[16] = {0};
    uint64_t wlen;
    uint32_t len;

    if (qi >= h->v.nq || q->nchains == 0u)
        return;
    k %= q->nchains;
    c = q->chains[k];
    wlen = c->wlen;
    if (c->nseg > 0u && !c->seg[0].write)
        (void)fh_dma_read(&h->fh, c->seg[0].bus, hdr, c->seg[0].len < 16u ? c->seg[0].len : 16u);
    if (wlen > 1u) {
        /* Data (or the GET_ID string) before the status byte. */
        static const char serial[] = "KEEL-FUZZ-SERIAL-001";
        uint8_t fill[64];
        uint64_t off;
        memset(fill, 0x3c ^ mode, sizeof(fill));
        if (fv_ld32(&h->v, hdr) == T_GET_ID) {
            /* The serial: from the input while it lasts, else a plausible one. */
            if (fz_left(&h->in) >= KEEL_VIRTIO_BLK_ID_BYTES)
                fz_bytes(&h->in, fill, KEEL_VIRTIO_BLK_ID_BYTES);
            else
                memcpy(fill, serial, KEEL_VIRTIO_BLK_ID_BYTES);
        }
        for (off = 0; off < wlen - 1u; off += sizeof(fill)) {
            size_t n = wlen - 1u - off < sizeof(fill) ? (size_t)(wlen - 1u - off) : sizeof(fill);
            (void)fv_chain_write(&h->v, c, off, fill, n);
        }
    }
    if (wlen > 0u && !(mode & 0x80u))
        (void)fv_chain_write(&h->v, c, wlen - 1u, &status, 1);
    switch (mode & 3u) {
    case 0:
        len = (uint32_t)wlen;
        break;
    case 1:
        len = 0;
        break;
    case 2:
        len = raw_len;
        break;
    default:
        len = (uint32_t)wlen + 1u + (raw_len & 0xffu);
        break;
    }
    fv_complete(&h->v, qi, k, len);
    if (mode & 0x40u)
        fv_interrupt(&h->v, FV_ISR_QUEUE);
}

static void dev_complete_all(struct h *h, unsigned qi, bool irq)
{
    if (qi >= h->v.nq)
        return;
    while (h->v.q[qi].nchains > 0u)
        dev_complete(h, qi, 0, 0, 0, 0);
    if (irq)
        fv_interrupt(&h->v, FV_ISR_QUEUE);
}

static void on_notify(void *arg, unsigned qi)
{
    struct h *h = arg;

    if (h->immediate && !(h->quiet && h->final_silent))
        dev_complete_all(h, qi, h->irq);
}

/* One device action (also what the device does on clock reads during a blocking call). */
static void device_op(struct h *h, unsigned op)
{
    unsigned qi = fz_below(&h->in, h->v.nq);
    uint8_t b[16];

    switch (op) {
    case OP_COMPLETE: {
        unsigned k = fz_u8(&h->in);
        uint8_t status = fz_u8(&h->in), mode = fz_u8(&h->in);
        uint32_t raw = (mode & 3u) >= 2u ? fz_u32(&h->in) : 0u;
        (void)fv_consume(&h->v, qi);
        dev_complete(h, qi, k, status, mode, raw);
        break;
    }
    case OP_COMPLETE_ALL:
        (void)fv_consume(&h->v, qi);
        dev_complete_all(h, qi, h->irq);
        break;
    case OP_DROP:
        if (h->v.q[qi].nchains > 0u)
            fv_drop(&h->v, qi, fz_u8(&h->in) % h->v.q[qi].nchains);
        break;
    case OP_IRQ:
        fv_interrupt(&h->v, fz_u8(&h->in) & 3u);
        break;
    case OP_PROCESS:
        (void)fv_consume(&h->v, qi);
        break;
    case OP_RAW_USED: {
        uint32_t id = fz_u16(&h->in), len = fz_u32(&h->in);
        uint16_t flags = fz_u16(&h->in);
        fv_raw_used(&h->v, qi, id, len, flags);
        break;
    }
    case OP_USED_IDX:
        fv_used_idx_add(&h->v, qi, fz_u16(&h->in));
        break;
    case OP_SCRIBBLE: {
        uint32_t off = fz_u16(&h->in);
        size_t n = 1u + fz_below(&h->in, sizeof(b));
        fz_bytes(&h->in, b, n);
        fv_scribble(&h->v, qi, off, b, n);
        break;
    }
    case OP_NEEDS_RESET:
        fv_needs_reset(&h->v);
        break;
    case OP_CONFIG: {
        uint32_t off = fz_below(&h->in, 72);
        size_t n = 1u + fz_below(&h->in, 8);
        fz_bytes(&h->in, b, n);
        fv_config_change(&h->v, off, b, n);
        break;
    }
    case OP_RESET_STUCK:
        h->v.reset_stuck = !h->v.reset_stuck;
        break;
    case OP_REFUSE_FEATURES:
        h->v.refuse_features_ok = !h->v.refuse_features_ok;
        break;
    default:
        break;
    }
}

/* Hostile ring writes are for the ring targets; vblk_status keeps the rings honest. */
static unsigned allowed(unsigned op)
{
    if (FUZZ_VBLK_MODE == MODE_STATUS &&
        (op == OP_RAW_USED || op == OP_USED_IDX || op == OP_SCRIBBLE))
        return OP_COMPLETE;
    if (FUZZ_VBLK_MODE == MODE_PACKED && op == OP_USED_IDX)
        return OP_RAW_USED;
    return op;
}

/* The device during a blocking call: one action per clock read; honest once the input ends. */
static void on_time(void *arg)
{
    static const unsigned dev_ops[] = {OP_COMPLETE,    OP_COMPLETE_ALL, OP_DROP,  OP_IRQ,
                                       OP_NEEDS_RESET, OP_RAW_USED,     OP_CONFIG};
    struct h *h = arg;
    unsigned i;

    if (!h->blocking)
        return;
    if (fz_left(&h->in) == 0u) {
        if (h->final_silent)
            return;
        for (i = 0; i < h->v.nq; i++) {
            (void)fv_consume(&h->v, i);
            dev_complete_all(h, i, h->irq);
        }
        return;
    }
    device_op(h, allowed(dev_ops[fz_below(&h->in, sizeof(dev_ops) / sizeof(dev_ops[0]))]));
}

/* ---- driver side
 * ---------------------------------------------------------------------------------
 */

static void blocking(struct h *h, bool on)
{
    h->blocking = on;
    h->fh.tick_us = on ? 100u : 1u;
}

static void op_get_id(struct h *h)
{
    char out[KEEL_VIRTIO_BLK_ID_BYTES + 1];
    uint32_t timeout = 1000u + 100u * fz_u8(&h->in);
    int rc;

    memset(out, 0x5a, sizeof(out));
    blocking(h, true);
    rc = keel_vblk_get_id(h->vb, out, sizeof(out), timeout);
    blocking(h, false);
    if (memchr(out, '\0', sizeof(out)) == NULL)
        fh_fail("GET_ID result not terminated (rc %d)", rc);
}

static void op_secure_erase(struct h *h)
{
    unsigned q = fz_below(&h->in, 2);
    uint64_t lba = fz_u16(&h->in);
    uint32_t count = 1u + fz_u8(&h->in), timeout = 1000u + 100u * fz_u8(&h->in);

    blocking(h, true);
    (void)keel_vblk_secure_erase(h->vb, q, lba, count, timeout);
    blocking(h, false);
}

static void driver_op(struct h *h, unsigned op)
{
    switch (op) {
    case OP_SUBMIT:
        op_submit(h);
        break;
    case OP_POLL: {
        unsigned q = fz_below(&h->in, 3), budget = fz_below(&h->in, 4);
        (void)keel_blk_poll(&h->vb->blk, q, budget);
        break;
    }
    case OP_ADVANCE: {
        uint8_t a = fz_u8(&h->in);
        fh_advance(&h->fh, (a & 0x80u) ? (uint64_t)(a & 0x7fu) * 100000u : (uint64_t)a * 100u);
        break;
    }
    case OP_SERVICE:
        (void)keel_vblk_service(h->vb);
        break;
    case OP_GET_ID:
        op_get_id(h);
        break;
    case OP_RECOVER:
        (void)keel_vblk_recover(h->vb);
        break;
    case OP_WRITEBACK:
        (void)keel_vblk_set_writeback(h->vb, (fz_u8(&h->in) & 1u) != 0u);
        break;
    case OP_SECURE_ERASE:
        op_secure_erase(h);
        break;
    default:
        device_op(h, op);
        break;
    }
}

/* ---- set-up and the end
 * --------------------------------------------------------------------------
 */

#define BLK_F(n) (1ull << (n))

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8u * i));
}

static void parse_header(struct h *h, struct keel_vblk_opts *o)
{
    uint8_t h0 = fz_u8(&h->in), h1 = fz_u8(&h->in), h2 = fz_u8(&h->in), h3 = fz_u8(&h->in);
    uint16_t cap = fz_u16(&h->in);
    uint8_t h6 = fz_u8(&h->in), h7 = fz_u8(&h->in);
    bool packed = FUZZ_VBLK_MODE == MODE_PACKED || (FUZZ_VBLK_MODE == MODE_STATUS && (h6 & 1u));
    uint32_t version = (!packed && (h0 & 1u)) ? 1u : 2u;
    unsigned nq = (h0 & 0x80u) ? 2u : 1u;
    uint64_t f = 0;
    struct fuzz_vdev *v = &h->v;

    fv_init(v, &h->fh, MMIO_BASE, IRQ_LINE, version, 2, nq, 2u + h1);
    if (version == 2u)
        f |= 1ull << 32; /* VERSION_1 */
    if (packed)
        f |= 1ull << 34;
    if (h0 & 2u)
        f |= 1ull << 29; /* EVENT_IDX */
    if (h0 & 4u)
        f |= 1ull << 28; /* INDIRECT_DESC */
    if ((h0 & 8u) && version == 2u)
        f |= 1ull << 40; /* RING_RESET */
    if (h2 & 1u)
        f |= BLK_F(5); /* RO */
    if (h2 & 2u)
        f |= BLK_F(6); /* BLK_SIZE */
    if (h2 & 4u)
        f |= BLK_F(9); /* FLUSH */
    if (h2 & 8u)
        f |= BLK_F(11); /* CONFIG_WCE */
    if (h2 & 16u)
        f |= BLK_F(13); /* DISCARD */
    if (h2 & 32u)
        f |= BLK_F(14); /* WRITE_ZEROES */
    if (h2 & 64u)
        f |= BLK_F(16); /* SECURE_ERASE */
    if (h2 & 128u)
        f |= BLK_F(1) | BLK_F(2); /* SIZE_MAX, SEG_MAX */
    if (nq > 1u)
        f |= BLK_F(12); /* MQ */
    v->features = f;
    /* struct virtio_blk_config: the register file hands out little-endian field values */
    {
        uint64_t sectors = 64u + cap;
        uint32_t blk = (h2 & 2u) ? 4096u : 512u;
        put_le(v->config + 0, sectors, 8);
        put_le(v->config + 8, 512u << ((h3 >> 4) & 3u), 4); /* size_max */
        put_le(v->config + 12, 1u + (h3 & 15u), 4);         /* seg_max */
        put_le(v->config + 20, blk, 4);
        v->config[32] = 1;                  /* writeback */
        put_le(v->config + 34, nq, 2);      /* num_queues */
        put_le(v->config + 36, h7 | 1u, 4); /* max_discard_sectors */
        put_le(v->config + 40, 1, 4);       /* max_discard_seg */
        put_le(v->config + 48, h7 | 1u, 4); /* max_write_zeroes_sectors */
        put_le(v->config + 52, 1, 4);       /* max_write_zeroes_seg */
        put_le(v->config + 60, h7 | 8u, 4); /* max_secure_erase_sectors */
        put_le(v->config + 64, 1, 4);       /* max_secure_erase_seg */
        h->ss = blk;
    }
    v->on_notify = on_notify;
    v->notify_arg = h;
    h->irq = (h0 & 16u) != 0u;
    h->fh.map_mode = (h0 & 32u) ? FH_MAP_PAGES : FH_MAP_SINGLE;
    h->immediate = (h0 & 64u) != 0u;
    h->final_silent = (h6 & 2u) != 0u;
    memset(o, 0, sizeof(*o));
    o->irq = h->irq ? KEEL_VIRTIO_IRQ_AUTO : KEEL_VIRTIO_IRQ_POLL;
    o->queue_size = (h6 & 4u) ? (uint16_t)(2u + ((h6 >> 3) & 7u)) : 0u;
    o->index = (uint8_t)(h6 >> 6);
}

/* Poll until every request has finished; a request still open long after its deadline is a bug. */
static void finish_requests(struct h *h)
{
    uint64_t last = 0;
    unsigned i, iter;

    h->quiet = true;
    for (i = 0; i < NREQ; i++)
        if (h->req[i].state == 1 && h->req[i].deadline > last)
            last = h->req[i].deadline;
    if (last < h->fh.now_us)
        last = h->fh.now_us;
    for (iter = 0; in_flight(h) != 0u; iter++) {
        if (!h->final_silent)
            for (i = 0; i < h->v.nq; i++) {
                (void)fv_consume(&h->v, i);
                dev_complete_all(h, i, h->irq);
            }
        for (i = 0; i < h->vb->nq; i++)
            (void)keel_blk_poll(&h->vb->blk, i, 0);
        fh_advance(&h->fh, FINAL_STEP);
        if (h->fh.now_us > last + SLACK_US)
            fh_fail("%u request(s) still open %llu us after the last deadline", in_flight(h),
                    (unsigned long long)(h->fh.now_us - last));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct h *h = calloc(1, sizeof(*h));
    struct keel_vblk_opts opts;
    unsigned i, ops;
    int rc;

    if (h == NULL || (h->vb = calloc(1, sizeof(*h->vb))) == NULL)
        abort();
    fz_init(&h->in, data, size);
    fh_init(&h->fh, &h->in);
    h->fh.delay_min_us = 1000;
    h->fh.on_time = on_time;
    h->fh.on_time_arg = h;
    parse_header(h, &opts);

    rc = keel_virtio_mmio_probe(&h->vb->vdev, &h->fh.hal, MMIO_BASE, FV_MMIO_SIZE, IRQ_LINE);
    if (rc != KEEL_OK)
        fh_fail("probe of an honest virtio-mmio device failed: %d", rc);
    rc = keel_vblk_attach(h->vb, &opts);
    if (rc == KEEL_OK) {
        for (ops = 0; ops < MAX_OPS && fz_left(&h->in) > 0u; ops++) {
            unsigned o = allowed(fz_below(&h->in, OP_COUNT));
            if (h->fh.log_print)
                fprintf(stderr, "op %u at input byte %zu (t=%llu)\n", o, h->in.pos,
                        (unsigned long long)h->fh.now_us);
            driver_op(h, o);
        }
        finish_requests(h);
        keel_vblk_detach(h->vb);
        if (!h->v.reset_stuck && h->v.status != 0u)
            fh_fail("detach left the device running (status 0x%x)", h->v.status);
        if (in_flight(h) != 0u)
            fh_fail("%u request(s) never completed after detach", in_flight(h));
    }
    fv_destroy(&h->v);
    fh_finish(&h->fh, true);
    for (i = 0; i < NREQ; i++)
        free(h->req[i].mem);
    free(h->vb);
    free(h);
    return 0;
}
