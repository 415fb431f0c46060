/* SPDX-License-Identifier: MIT */
/*
 * floor_virtio.h - the ring work of the hand-written virtio floors (floor_virtio_blk.c,
 * floor_virtio_scsi.c): what a minimal but correct driver must do per request on a split or packed
 * virtqueue, and nothing else. One chain of three direct descriptors per request (a fixed set per
 * request slot), the ring entries of a whole batch published together, one barrier pair and at
 * most one notification per batch (honouring the device's event index / suppression flags), and
 * per completion: the used index or flags, a read barrier, the id (range-checked) and the answer.
 *
 * No buffer mapping (the data buffers are identity-mapped), no statistics, no timeouts, no
 * validation beyond the id range: this is a lower bound for the ring work, not a driver.
 * The instructions of these inline functions are attributed to this file by callgrind.
 */
#ifndef KEEL_BENCH_FLOOR_VIRTIO_H
#define KEEL_BENCH_FLOOR_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/virtqueue.h>

#include "bench.h"

#define FV_NEXT     1u
#define FV_WRITE    2u
#define FV_AVAIL    (1u << 7)
#define FV_USED     (1u << 15)
#define FV_DESC     16u
#define FV_CHAIN    3u /* descriptors per request */
#define FV_NO_USED  0xffffffffu
#define FV_BAD_USED 0xfffffffeu

/** A virtqueue as the floor drives it (taken over from an idle keel_vq). */
struct floor_vq {
    const struct keel_hal *hal;
    keel_io_addr_t notify;
    uint16_t index;
    uint16_t size, mask;
    bool event_idx;
    uint8_t *desc, *driver, *device;
    uint16_t avail_idx, kicked, last_used; /* split */
    uint16_t pos, used_pos, added;         /* packed */
    bool wrap, used_wrap;                  /* packed */
};

static inline void fv_wr16(uint8_t *p, uint16_t v)
{
    *(volatile uint16_t *)(void *)p = v;
}
static inline void fv_wr32(uint8_t *p, uint32_t v)
{
    *(volatile uint32_t *)(void *)p = v;
}
static inline void fv_wr64(uint8_t *p, uint64_t v)
{
    *(volatile uint64_t *)(void *)p = v;
}
static inline uint16_t fv_rd16(const uint8_t *p)
{
    return *(const volatile uint16_t *)(const void *)p;
}
static inline uint32_t fv_rd32(const uint8_t *p)
{
    return *(const volatile uint32_t *)(const void *)p;
}

/** Take over `vq` (idle) with its notify address. */
static inline void fv_adopt(struct floor_vq *v, const struct keel_vq *vq, keel_io_addr_t notify)
{
    v->hal = vq->hal;
    v->notify = notify;
    v->index = vq->index;
    v->size = vq->size;
    v->mask = (uint16_t)(vq->size - 1u);
    v->event_idx = vq->event_idx;
    v->desc = vq->desc;
    v->driver = vq->driver;
    v->device = vq->device;
    v->avail_idx = vq->avail_idx;
    v->kicked = vq->avail_idx;
    v->last_used = vq->last_used;
    v->pos = vq->next_avail;
    v->used_pos = vq->next_used;
    v->wrap = vq->avail_wrap;
    v->used_wrap = vq->used_wrap;
    v->added = 0;
}

/* ---- split ring (2.7) ------------------------------------------------------------------------ */

static inline void fv_split_desc(struct floor_vq *v, uint16_t i, uint64_t addr, uint32_t len,
                                 uint16_t flags, uint16_t next)
{
    uint8_t *d = v->desc + (size_t)i * FV_DESC;

    fv_wr64(d, addr);
    fv_wr32(d + 8u, len);
    fv_wr16(d + 12u, flags);
    fv_wr16(d + 14u, next);
}

/** One buffer of a chain. */
struct fv_buf {
    uint64_t addr;
    uint32_t len;
};

/**
 * Chain out (device-readable), in1, in2 (device-writable). Request slot `s` owns descriptors s,
 * s + n, s + 2n (n = slots): its chain head is s.
 */
static inline void fv_split_add(struct floor_vq *v, uint16_t s, uint16_t n, struct fv_buf out,
                                struct fv_buf in1, struct fv_buf in2)
{
    fv_split_desc(v, s, out.addr, out.len, FV_NEXT, (uint16_t)(s + n));
    fv_split_desc(v, (uint16_t)(s + n), in1.addr, in1.len, FV_NEXT | FV_WRITE,
                  (uint16_t)(s + 2u * n));
    fv_split_desc(v, (uint16_t)(s + 2u * n), in2.addr, in2.len, FV_WRITE, 0);
    fv_wr16(v->driver + 4u + 2u * (v->avail_idx & v->mask), s);
    v->avail_idx++;
}

/** Publish the batch; notify when the device asked for it (2.7.13.3, 2.7.13.4, 2.7.10). */
static inline void fv_split_kick(struct floor_vq *v)
{
    uint16_t old = v->kicked, now = v->avail_idx;
    bool need;

    keel_wmb(v->hal);
    fv_wr16(v->driver + 2u, now);
    v->kicked = now;
    keel_mb(v->hal);
    if (v->event_idx)
        need = keel_vq_need_event(fv_rd16(v->device + 4u + 8u * v->size), now, old);
    else
        need = (fv_rd16(v->device) & KEEL_VIRTQ_USED_F_NO_NOTIFY) == 0u;
    if (need)
        keel_mmio_write16(v->hal, v->notify, v->index);
}

/** The next used id (< limit), FV_NO_USED when none, FV_BAD_USED when out of range. */
static inline uint32_t fv_split_used(struct floor_vq *v, uint32_t limit)
{
    uint32_t id;

    if (fv_rd16(v->device + 2u) == v->last_used)
        return FV_NO_USED;
    keel_rmb(v->hal);
    id = fv_rd32(v->device + 4u + 8u * (v->last_used & v->mask));
    v->last_used++;
    return id < limit ? id : FV_BAD_USED;
}

/* ---- packed ring (2.8) ----------------------------------------------------------------------- */

static inline void fv_packed_desc(struct floor_vq *v, uint16_t slot, uint64_t addr, uint32_t len,
                                  uint16_t id)
{
    uint8_t *d = v->desc + (size_t)slot * FV_DESC;

    fv_wr64(d, addr);
    fv_wr32(d + 8u, len);
    fv_wr16(d + 12u, id);
}

static inline uint16_t fv_packed_next(struct floor_vq *v, uint16_t slot)
{
    if (++slot == v->size) {
        slot = 0;
        v->wrap = !v->wrap;
    }
    return slot;
}

/**
 * Write request `id`'s chain; returns its head slot, whose flags (returned in *head_flags) the
 * caller stores after the barrier that ends the batch (2.8.21.1).
 */
static inline uint16_t fv_packed_add(struct floor_vq *v, uint16_t id, struct fv_buf out,
                                     struct fv_buf in1, struct fv_buf in2, uint16_t *head_flags)
{
    uint16_t head = v->pos, s1, s2;
    uint16_t av = (uint16_t)(v->wrap ? FV_AVAIL : FV_USED);

    fv_packed_desc(v, head, out.addr, out.len, id);
    *head_flags = (uint16_t)(FV_NEXT | av);
    s1 = fv_packed_next(v, head);
    av = (uint16_t)(v->wrap ? FV_AVAIL : FV_USED);
    fv_packed_desc(v, s1, in1.addr, in1.len, id);
    fv_wr16(v->desc + (size_t)s1 * FV_DESC + 14u, (uint16_t)(FV_NEXT | FV_WRITE | av));
    s2 = fv_packed_next(v, s1);
    av = (uint16_t)(v->wrap ? FV_AVAIL : FV_USED);
    fv_packed_desc(v, s2, in2.addr, in2.len, id);
    fv_wr16(v->desc + (size_t)s2 * FV_DESC + 14u, (uint16_t)(FV_WRITE | av));
    v->pos = fv_packed_next(v, s2);
    v->added = (uint16_t)(v->added + FV_CHAIN);
    return head;
}

/** Make the batch's heads available and notify when the device wants it (2.8.22, 2.8.10). */
static inline void fv_packed_kick(struct floor_vq *v, const uint16_t *heads, const uint16_t *flags,
                                  unsigned n)
{
    uint16_t off_wrap, ev, old = (uint16_t)(v->pos - v->added), evflags;
    unsigned i;
    bool need;

    keel_wmb(v->hal);
    for (i = 0; i < n; i++)
        fv_wr16(v->desc + (size_t)heads[i] * FV_DESC + 14u, flags[i]);
    keel_mb(v->hal);
    evflags = (uint16_t)(fv_rd16(v->device + 2u) & 3u);
    if (evflags == KEEL_VIRTQ_EVENT_F_DESC && v->event_idx) {
        off_wrap = fv_rd16(v->device);
        ev = (uint16_t)(off_wrap & 0x7fffu);
        if (((off_wrap >> 15) != 0u) != v->wrap)
            ev = (uint16_t)(ev - v->size);
        need = keel_vq_need_event(ev, v->pos, old);
    } else {
        need = evflags != KEEL_VIRTQ_EVENT_F_DISABLE;
    }
    v->added = 0;
    if (need)
        keel_mmio_write16(v->hal, v->notify, v->index);
}

/** The next used id (< limit), FV_NO_USED or FV_BAD_USED; every chain is FV_CHAIN slots long. */
static inline uint32_t fv_packed_used(struct floor_vq *v, uint32_t limit)
{
    const uint8_t *d = v->desc + (size_t)v->used_pos * FV_DESC;
    uint16_t fl = fv_rd16(d + 14u);
    uint32_t id;

    if (((fl & FV_AVAIL) != 0u) != v->used_wrap || ((fl & FV_USED) != 0u) != v->used_wrap)
        return FV_NO_USED;
    keel_rmb(v->hal);
    id = fv_rd16(d + 12u);
    v->used_pos = (uint16_t)(v->used_pos + FV_CHAIN);
    if (v->used_pos >= v->size) {
        v->used_pos = (uint16_t)(v->used_pos - v->size);
        v->used_wrap = !v->used_wrap;
    }
    return id < limit ? id : FV_BAD_USED;
}

/* ---- the virtio floors (floor_virtio_blk.c, floor_virtio_scsi.c) --------------------------- */

/** virtio-blk floor: `qd` request slots of header + status in DMA memory, identity data buffers. */
struct floor_blk {
    struct floor_vq vq;
    unsigned qd;
    uint8_t *slot_cpu; /* qd slots of 32 bytes: header at 0, status at 16 */
    uint64_t slot_bus;
    uint64_t data_bus[BENCH_QD_MAX];
    uint64_t seq, lba_mask; /* sectors */
};

uint64_t floor_vblk_split(void *ctx, uint64_t ios);
uint64_t floor_vblk_packed(void *ctx, uint64_t ios);

/** virtio-scsi floor: request header (19 + cdb_size bytes) and response per slot. */
struct floor_scsi {
    struct floor_vq vq;
    unsigned qd;
    uint8_t *slot_cpu; /* qd slots of FLOOR_SCSI_SLOT bytes: request at 0, response at 64 */
    uint64_t slot_bus;
    uint64_t data_bus[BENCH_QD_MAX];
    uint32_t req_len, resp_len; /* 19 + cdb_size, 12 + sense_size */
    uint64_t lun_bytes;         /* the 8-byte LUN field as stored (little-endian load of it) */
    uint64_t seq, lba_mask;     /* logical blocks */
    uint16_t blocks;            /* per 4 KiB read */
};

#define FLOOR_SCSI_SLOT     192u
#define FLOOR_SCSI_RESP_OFF 64u

uint64_t floor_vscsi_split(void *ctx, uint64_t ios);

#endif
