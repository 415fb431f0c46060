/* SPDX-License-Identifier: MIT */
/*
 * Packed virtqueues (VIRTIO 1.2 section 2.8). One allocation: descriptor ring (16 bytes per entry,
 * any size up to 32768, not only powers of two), then the driver event suppression structure, then
 * the device's. Buffer ids are the driver's own (0 .. size-1, free list in the shadow); every id in
 * flight remembers how many ring slots its chain holds, which is how far the used position moves
 * when the device returns it (2.8.7). Wrap counters start at 1 (2.8.1).
 */
#include <keel/error.h>
#include <keel/virtqueue.h>

#include "vq_internal.h"

/* Descriptor fields (2.8.13): addr 0, len 8, id 12, flags 14. Event suppression: desc 0, flags 2.
 */
#define PD_ADDR       0u
#define PD_LEN        8u
#define PD_ID         12u
#define PD_FLAGS      14u
#define EV_DESC       0u
#define EV_FLAGS      2u
#define EV_WRAP_SHIFT 15

size_t keel_vq_packed_bytes(uint16_t size)
{
    return (size_t)size * VQ_DESC_BYTES + 8u;
}

void keel_vq_packed_init(struct keel_vq *vq)
{
    uint16_t i;

    vq->desc = (uint8_t *)vq->ring.cpu;
    vq->driver = vq->desc + (size_t)vq->size * VQ_DESC_BYTES;
    vq->device = vq->driver + 4u;
    vq->desc_bus = vq->ring.bus;
    vq->driver_bus = vq->ring.bus + (keel_bus_addr_t)vq->size * VQ_DESC_BYTES;
    vq->device_bus = vq->driver_bus + 4u;
    /* Free buffer ids are linked through inflight[].last while not in flight. */
    for (i = 0; i < vq->size; i++)
        vq->inflight[i].last = (uint16_t)(i + 1u);
    vq->free_id = 0;
    vq->held_ndesc = 0;
    vq->next_avail = 0;
    vq->next_used = 0;
    vq->added = 0;
    vq->avail_wrap = true;
    vq->used_wrap = true;
    vq->event_flags = KEEL_VIRTQ_EVENT_F_ENABLE;
}

/* AVAIL mirrors the wrap counter, USED its inverse: "available" in the current lap (2.8.1). */
static uint16_t avail_bits(bool wrap)
{
    return (uint16_t)(wrap ? KEEL_VIRTQ_DESC_F_AVAIL : KEEL_VIRTQ_DESC_F_USED);
}

static void slot_write(struct keel_vq *vq, uint16_t slot, uint64_t addr, uint32_t len, uint16_t id)
{
    uint8_t *d = vq->desc + (size_t)slot * VQ_DESC_BYTES;

    vq_wr64(vq, d, PD_ADDR, addr);
    vq_wr32(vq, d, PD_LEN, len);
    vq_wr16(vq, d, PD_ID, id);
    vq->shadow[slot].addr = addr;
    vq->shadow[slot].len = len;
    vq->shadow[slot].next = id;
}

int keel_vq_packed_add(struct keel_vq *vq, const struct keel_vq_sg *sg, unsigned n_out,
                       unsigned total, void *token, uint16_t ind, uint32_t wlen)
{
    uint16_t id = vq->free_id, head = vq->next_avail, slot = head, ndesc, head_flags;
    bool wrap = vq->avail_wrap;
    struct keel_vq_inflight *f;
    unsigned k;

    if (id >= vq->size)
        return KEEL_ENOSPC; /* cannot happen while num_free accounting holds */
    vq->free_id = vq->inflight[id].last;
    if (ind != KEEL_VQ_NO_IND) {
        slot_write(vq, head, keel_vq_ind_bus(vq, ind), (uint32_t)(total * VQ_DESC_BYTES), id);
        head_flags = (uint16_t)(KEEL_VIRTQ_DESC_F_INDIRECT | avail_bits(wrap));
        ndesc = 1;
        slot = (uint16_t)(head + 1u);
        if (slot == vq->size) {
            slot = 0;
            wrap = !wrap;
        }
    } else {
        head_flags = 0;
        for (k = 0; k < total; k++) {
            uint16_t fl =
                (uint16_t)((k >= n_out ? KEEL_VIRTQ_DESC_F_WRITE : 0u) |
                           (k + 1u < total ? KEEL_VIRTQ_DESC_F_NEXT : 0u) | avail_bits(wrap));
            slot_write(vq, slot, sg[k].addr, sg[k].len, id);
            vq->shadow[slot].flags = fl;
            if (k == 0u)
                head_flags = fl;
            else
                vq_wr16(vq, vq->desc + (size_t)slot * VQ_DESC_BYTES, PD_FLAGS, fl);
            slot = (uint16_t)(slot + 1u);
            if (slot == vq->size) {
                slot = 0;
                wrap = !wrap;
            }
        }
        ndesc = (uint16_t)total;
    }
    f = &vq->inflight[id];
    f->token = token;
    f->wlen = wlen;
    f->ndesc = ndesc;
    f->ind = ind;
    f->nsg = (uint16_t)total;
    vq->shadow[head].flags = head_flags;
    /* 2.8.21.1: the rest of the chain before the head's flags make the whole of it available. */
    keel_wmb(vq->hal);
    vq_wr16(vq, vq->desc + (size_t)head * VQ_DESC_BYTES, PD_FLAGS, head_flags);
    vq->next_avail = slot;
    vq->avail_wrap = wrap;
    vq->num_free = (uint16_t)(vq->num_free - ndesc);
    vq->added = (uint16_t)(vq->added + ndesc);
    return KEEL_OK;
}

bool keel_vq_packed_kick_prepare(struct keel_vq *vq)
{
    uint16_t new_idx = vq->next_avail, old_idx, off_wrap, flags, ev;
    bool need;

    if (vq->added == 0u)
        return false;
    vq->stats.kicks++;
    /* Positions in the current lap are 0..size-1, the previous lap's are negative (mod 2^16). */
    old_idx = (uint16_t)(new_idx - vq->added);
    vq->added = 0;
    /* 2.8.22: descriptors visible before the device's event suppression structure is read. */
    keel_mb(vq->hal);
    off_wrap = vq_rd16(vq, vq->device, EV_DESC);
    flags = (uint16_t)(vq_rd16(vq, vq->device, EV_FLAGS) & 3u);
    if (flags == KEEL_VIRTQ_EVENT_F_DESC && vq->event_idx) {
        ev = (uint16_t)(off_wrap & 0x7fffu);
        if (((off_wrap >> EV_WRAP_SHIFT) != 0u) != vq->avail_wrap)
            ev = (uint16_t)(ev - vq->size);
        need = keel_vq_need_event(ev, new_idx, old_idx);
    } else {
        need = flags != KEEL_VIRTQ_EVENT_F_DISABLE;
    }
    if (!need)
        vq->stats.suppressed++;
    return need;
}

void keel_vq_packed_free(struct keel_vq *vq, uint16_t id)
{
    struct keel_vq_inflight *f = &vq->inflight[id];

    keel_vq_ind_release(vq, f->ind);
    vq->num_free = (uint16_t)(vq->num_free + f->ndesc);
    f->token = NULL;
    f->ind = KEEL_VQ_NO_IND;
    f->last = vq->free_id;
    vq->free_id = id;
}

/*
 * A completed buffer whose id must not be reused yet (see held_first). Its ring slots stay
 * counted as in use as well, so that an add that finds slots free always finds an id free.
 */
static void packed_hold(struct keel_vq *vq, uint16_t id)
{
    struct keel_vq_inflight *f = &vq->inflight[id];

    keel_vq_ind_release(vq, f->ind);
    f->token = NULL;
    f->ind = KEEL_VQ_NO_IND;
    f->last = vq->held_first;
    if (vq->held_ndesc == 0u)
        vq->held_last = id;
    vq->held_first = id;
    vq->held_ndesc = (uint16_t)(vq->held_ndesc + f->ndesc);
}

/* No further used descriptor is visible: the held ids and slots are free. */
void keel_vq_packed_release_held(struct keel_vq *vq)
{
    if (vq->held_ndesc == 0u)
        return;
    vq->inflight[vq->held_last].last = vq->free_id;
    vq->free_id = vq->held_first;
    vq->num_free = (uint16_t)(vq->num_free + vq->held_ndesc);
    vq->held_ndesc = 0;
}

static bool slot_used(const struct keel_vq *vq, uint16_t flags)
{
    bool avail = (flags & KEEL_VIRTQ_DESC_F_AVAIL) != 0u;
    bool used = (flags & KEEL_VIRTQ_DESC_F_USED) != 0u;

    return avail == used && used == vq->used_wrap;
}

int keel_vq_packed_get(struct keel_vq *vq, void **token, uint32_t *len)
{
    const uint8_t *d = vq->desc + (size_t)vq->next_used * VQ_DESC_BYTES;
    uint16_t id, n;
    uint32_t ulen;
    struct keel_vq_inflight *f;

    if (!slot_used(vq, vq_rd16(vq, d, PD_FLAGS))) {
        keel_vq_packed_release_held(vq);
        return 0;
    }
    /* 2.8.21.2: the flags first, then (after a read barrier) id and length. */
    keel_rmb(vq->hal);
    id = vq_rd16(vq, d, PD_ID);
    ulen = vq_rd32(vq, d, PD_LEN);
    if (id >= vq->size) {
        keel_vq_violation(vq, KEEL_VQ_BAD_ID, id, vq->size);
        return KEEL_EPROTO;
    }
    f = &vq->inflight[id];
    if (f->token == NULL) {
        keel_vq_violation(vq, KEEL_VQ_NOT_HEAD, id, 0);
        return KEEL_EPROTO;
    }
    if (ulen > f->wlen) {
        if (!vq->lenient_len) {
            keel_vq_violation(vq, KEEL_VQ_BAD_LEN, ulen, f->wlen);
            return KEEL_EPROTO;
        }
        ulen = f->wlen;
    }
    *token = f->token;
    *len = ulen;
    n = f->ndesc;
    /* Reused at once, this id could be named again by a later used descriptor the device wrote
     * before the reuse (a repeated id), which would then complete the new buffer. */
    packed_hold(vq, id);
    vq->next_used = (uint16_t)(vq->next_used + n);
    if (vq->next_used >= vq->size) {
        vq->next_used = (uint16_t)(vq->next_used - vq->size);
        vq->used_wrap = !vq->used_wrap;
    }
    if (!slot_used(vq, vq_rd16(vq, vq->desc + (size_t)vq->next_used * VQ_DESC_BYTES, PD_FLAGS)))
        keel_vq_packed_release_held(vq);
    return 1;
}

bool keel_vq_packed_pending(struct keel_vq *vq)
{
    const uint8_t *d = vq->desc + (size_t)vq->next_used * VQ_DESC_BYTES;

    return slot_used(vq, vq_rd16(vq, d, PD_FLAGS));
}

void keel_vq_packed_set_irq(struct keel_vq *vq, bool on)
{
    if (on && vq->event_idx) {
        /* 2.8.10: interrupt once the device reaches our next used position in our lap. */
        uint16_t off_wrap = (uint16_t)(vq->next_used | (vq->used_wrap ? 0x8000u : 0u));
        vq_wr16(vq, vq->driver, EV_DESC, off_wrap);
        keel_wmb(vq->hal);
        vq->event_flags = KEEL_VIRTQ_EVENT_F_DESC;
    } else {
        vq->event_flags = (uint16_t)(on ? KEEL_VIRTQ_EVENT_F_ENABLE : KEEL_VIRTQ_EVENT_F_DISABLE);
    }
    vq_wr16(vq, vq->driver, EV_FLAGS, vq->event_flags);
}
