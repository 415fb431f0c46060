/* SPDX-License-Identifier: MIT */
/*
 * Internal to virtio/: the packed ring's per-buffer operations (VIRTIO 1.2 section 2.8), adding one
 * chain and reaping one used descriptor. Static inline and included by vq.c, whose keel_vq_add and
 * keel_vq_get are their only callers: the ring code compiles into the format-independent front
 * (one call and one prologue less per buffer each way). Layout, kicks and event suppression stay
 * in ring_packed.c.
 */
#ifndef KEEL_VIRTIO_RING_PACKED_H
#define KEEL_VIRTIO_RING_PACKED_H

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

/* AVAIL mirrors the wrap counter, USED its inverse: "available" in the current lap (2.8.1). */
static inline uint16_t packed_avail_bits(bool wrap)
{
    return (uint16_t)(wrap ? KEEL_VIRTQ_DESC_F_AVAIL : KEEL_VIRTQ_DESC_F_USED);
}

static inline void packed_slot_write(struct keel_vq *vq, uint16_t slot, uint64_t addr, uint32_t len,
                                     uint16_t id)
{
    uint8_t *d = vq->desc + (size_t)slot * VQ_DESC_BYTES;

    vq_wr64(vq, d, PD_ADDR, addr);
    vq_wr32(vq, d, PD_LEN, len);
    vq_wr16(vq, d, PD_ID, id);
    vq->shadow[slot].addr = addr;
    vq->shadow[slot].len = len;
    vq->shadow[slot].next = id;
}

/* Add one chain: a direct chain, or one descriptor naming indirect table `ind` (keel_vq_add
 * checked the chain, filled the table and found the room). */
static inline int keel_vq_packed_add(struct keel_vq *vq, const struct keel_vq_sg *sg,
                                     unsigned n_out, unsigned total, void *token, uint16_t ind,
                                     uint32_t wlen)
{
    uint16_t id = vq->free_id, head = vq->next_avail, slot = head, ndesc, head_flags;
    bool wrap = vq->avail_wrap;
    struct keel_vq_inflight *f;
    unsigned k;

    if (id >= vq->size)
        return KEEL_ENOSPC; /* cannot happen while num_free accounting holds */
    vq->free_id = vq->inflight[id].last;
    if (ind != KEEL_VQ_NO_IND) {
        packed_slot_write(vq, head, keel_vq_ind_bus(vq, ind), (uint32_t)(total * VQ_DESC_BYTES),
                          id);
        head_flags = (uint16_t)(KEEL_VIRTQ_DESC_F_INDIRECT | packed_avail_bits(wrap));
        ndesc = 1;
        slot = (uint16_t)(head + 1u);
        if (slot == vq->size) {
            slot = 0;
            wrap = !wrap;
        }
    } else {
        head_flags = 0;
        for (k = 0; k < total; k++) {
            uint16_t fl = (uint16_t)((k >= n_out ? KEEL_VIRTQ_DESC_F_WRITE : 0u) |
                                     (k + 1u < total ? KEEL_VIRTQ_DESC_F_NEXT : 0u) |
                                     packed_avail_bits(wrap));
            packed_slot_write(vq, slot, sg[k].addr, sg[k].len, id);
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

/*
 * A completed buffer whose id must not be reused yet (see held_first). Its ring slots stay
 * counted as in use as well, so that an add that finds slots free always finds an id free.
 */
static inline void packed_hold(struct keel_vq *vq, uint16_t id)
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
static inline void keel_vq_packed_release_held(struct keel_vq *vq)
{
    if (vq->held_ndesc == 0u)
        return;
    vq->inflight[vq->held_last].last = vq->free_id;
    vq->free_id = vq->held_first;
    vq->num_free = (uint16_t)(vq->num_free + vq->held_ndesc);
    vq->held_ndesc = 0;
}

static inline bool packed_slot_used(const struct keel_vq *vq, uint16_t flags)
{
    bool avail = (flags & KEEL_VIRTQ_DESC_F_AVAIL) != 0u;
    bool used = (flags & KEEL_VIRTQ_DESC_F_USED) != 0u;

    return avail == used && used == vq->used_wrap;
}

/* Reap one used descriptor: 1, 0 (none), KEEL_EPROTO (a violation: the queue is broken). */
static inline int keel_vq_packed_get(struct keel_vq *vq, void **token, uint32_t *len)
{
    const uint8_t *d = vq->desc + (size_t)vq->next_used * VQ_DESC_BYTES;
    uint16_t id, n;
    uint32_t ulen;
    struct keel_vq_inflight *f;

    if (!packed_slot_used(vq, vq_rd16(vq, d, PD_FLAGS))) {
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
    if (!packed_slot_used(vq,
                          vq_rd16(vq, vq->desc + (size_t)vq->next_used * VQ_DESC_BYTES, PD_FLAGS)))
        keel_vq_packed_release_held(vq);
    return 1;
}

#endif
