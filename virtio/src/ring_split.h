/* SPDX-License-Identifier: MIT */
/*
 * Internal to virtio/: the split ring's per-buffer operations (VIRTIO 1.2 section 2.7), adding one
 * chain and reaping one used element. Static inline and included by vq.c, whose keel_vq_add and
 * keel_vq_get are their only callers: the ring code compiles into the format-independent front
 * (one call and one prologue less per buffer each way). Layout, kicks and interrupt suppression
 * stay in ring_split.c.
 */
#ifndef KEEL_VIRTIO_RING_SPLIT_H
#define KEEL_VIRTIO_RING_SPLIT_H

#include <keel/error.h>
#include <keel/virtqueue.h>

#include "vq_internal.h"

/* Offsets inside the available ring (2.7.6) and the used ring (2.7.8). */
#define AVAIL_FLAGS 0u
#define AVAIL_IDX   2u
#define AVAIL_RING  4u
#define USED_FLAGS  0u
#define USED_IDX    2u
#define USED_RING   4u

/* Write descriptor `i` of the ring from its shadow. */
static inline void split_desc_write(struct keel_vq *vq, uint16_t i)
{
    uint8_t *d = vq->desc + (size_t)i * VQ_DESC_BYTES;
    const struct keel_vq_shadow *s = &vq->shadow[i];

    vq_wr64(vq, d, 0, s->addr);
    vq_wr32(vq, d, 8, s->len);
    vq_wr16(vq, d, 12, s->flags);
    vq_wr16(vq, d, 14, s->next);
}

static inline bool split_desc_matches(const struct keel_vq *vq, uint16_t i)
{
    const uint8_t *d = vq->desc + (size_t)i * VQ_DESC_BYTES;
    const struct keel_vq_shadow *s = &vq->shadow[i];

    return vq_rd64(vq, d, 0) == s->addr && vq_rd32(vq, d, 8) == s->len &&
           vq_rd16(vq, d, 12) == s->flags && vq_rd16(vq, d, 14) == s->next;
}

/* Add one chain: a direct chain, or one descriptor naming indirect table `ind` (keel_vq_add
 * checked the chain, filled the table and found the room). */
static inline int keel_vq_split_add(struct keel_vq *vq, const struct keel_vq_sg *sg, unsigned n_out,
                                    unsigned total, void *token, uint16_t ind, uint32_t wlen)
{
    uint16_t head = vq->free_head, i = head, last = head, ndesc;
    struct keel_vq_inflight *f;
    unsigned k;

    if (ind != KEEL_VQ_NO_IND) {
        struct keel_vq_shadow *s = &vq->shadow[head];
        s->addr = keel_vq_ind_bus(vq, ind);
        s->len = (uint32_t)(total * VQ_DESC_BYTES);
        s->flags = KEEL_VIRTQ_DESC_F_INDIRECT;
        split_desc_write(vq, head);
        ndesc = 1;
    } else {
        /* The chain takes descriptors in free-list order, so its links are the free-list links. */
        for (k = 0; k < total; k++) {
            struct keel_vq_shadow *s = &vq->shadow[i];
            s->addr = sg[k].addr;
            s->len = sg[k].len;
            s->flags = (uint16_t)((k >= n_out ? KEEL_VIRTQ_DESC_F_WRITE : 0u) |
                                  (k + 1u < total ? KEEL_VIRTQ_DESC_F_NEXT : 0u));
            split_desc_write(vq, i);
            last = i;
            i = s->next;
        }
        ndesc = (uint16_t)total;
    }
    vq->free_head = vq->shadow[last].next;
    vq->num_free = (uint16_t)(vq->num_free - ndesc);
    f = &vq->inflight[head];
    f->token = token;
    f->wlen = wlen;
    f->ndesc = ndesc;
    f->ind = ind;
    f->last = last;
    f->nsg = (uint16_t)total;
    f->pos = vq->avail_idx;
    /* The ring entry is written now; avail->idx is published by the kick (batched). */
    vq_wr16(vq, vq->driver, AVAIL_RING + 2u * (size_t)(vq->avail_idx & (vq->size - 1u)), head);
    vq->avail_idx++;
    return KEEL_OK;
}

/* A completed chain whose descriptors must not be reused yet (see held_first). */
static inline void split_hold(struct keel_vq *vq, uint16_t head)
{
    struct keel_vq_inflight *f = &vq->inflight[head];

    keel_vq_ind_release(vq, f->ind);
    vq->shadow[f->last].next = vq->held_first;
    if (vq->held_ndesc == 0u)
        vq->held_last = f->last;
    vq->held_first = head;
    vq->held_ndesc = (uint16_t)(vq->held_ndesc + f->ndesc);
    f->token = NULL;
    f->ind = KEEL_VQ_NO_IND;
}

/* Every completion the device had written when used->idx was last read is consumed: give the held
 * descriptors back for reuse. */
static inline void keel_vq_split_release_held(struct keel_vq *vq)
{
    if (vq->held_ndesc == 0u)
        return;
    vq->shadow[vq->held_last].next = vq->free_head;
    vq->free_head = vq->held_first;
    vq->num_free = (uint16_t)(vq->num_free + vq->held_ndesc);
    vq->held_ndesc = 0;
}

/* Every descriptor of the chain still reads as the driver wrote it (the device only reads them). */
static inline bool split_chain_intact(const struct keel_vq *vq, uint16_t head)
{
    uint16_t i = head, k;

    for (k = 0; k < vq->inflight[head].ndesc; k++) {
        if (!split_desc_matches(vq, i))
            return false;
        i = vq->shadow[i].next;
    }
    return true;
}

/* Buffers added but not yet published (their avail ring entries lie beyond avail->idx). */
static inline uint16_t split_unpublished(const struct keel_vq *vq)
{
    return (uint16_t)(vq->avail_idx - vq->kicked_idx);
}

/* The head was added but its ring entry is not covered by avail->idx yet: the device cannot
 * legitimately have seen it (positions in flight are within `size` of avail_idx, so the 16-bit
 * window test is exact). */
static inline bool split_head_unpublished(const struct keel_vq *vq,
                                          const struct keel_vq_inflight *f)
{
    return (uint16_t)(f->pos - vq->kicked_idx) < split_unpublished(vq);
}

/* Reap one used element: 1, 0 (none), KEEL_EPROTO (a violation: the queue is broken). */
static inline int keel_vq_split_get(struct keel_vq *vq, void **token, uint32_t *len)
{
    uint16_t used_idx = vq_rd16(vq, vq->device, USED_IDX);
    uint16_t slot;
    uint32_t id, ulen;
    struct keel_vq_inflight *f;

    if (used_idx == vq->last_used) {
        keel_vq_split_release_held(vq);
        return 0;
    }
    if ((uint16_t)(used_idx - vq->last_used) > (uint16_t)(vq->in_flight - split_unpublished(vq))) {
        keel_vq_violation(vq, KEEL_VQ_BAD_IDX, used_idx, vq->last_used);
        return KEEL_EPROTO;
    }
    /* 2.7.13: read the used element only after seeing the index that covers it. */
    keel_rmb(vq->hal);
    slot = (uint16_t)(vq->last_used & (vq->size - 1u));
    id = vq_rd32(vq, vq->device, USED_RING + VQ_USED_ELEM_BYTES * (size_t)slot);
    ulen = vq_rd32(vq, vq->device, USED_RING + VQ_USED_ELEM_BYTES * (size_t)slot + 4u);
    if (id >= vq->size) {
        keel_vq_violation(vq, KEEL_VQ_BAD_ID, id, vq->size);
        return KEEL_EPROTO;
    }
    f = &vq->inflight[id];
    if (f->token == NULL || split_head_unpublished(vq, f)) {
        keel_vq_violation(vq, KEEL_VQ_NOT_HEAD, id, f->token == NULL ? 0u : 1u);
        return KEEL_EPROTO;
    }
    if (ulen > f->wlen) {
        if (!vq->lenient_len) {
            keel_vq_violation(vq, KEEL_VQ_BAD_LEN, ulen, f->wlen);
            return KEEL_EPROTO;
        }
        ulen = f->wlen;
    }
    if (KEEL_CONFIG_VIRTIO_CHECK_DESC && !split_chain_intact(vq, (uint16_t)id)) {
        keel_vq_violation(vq, KEEL_VQ_DESC_CHANGED, id, 0);
        return KEEL_EPROTO;
    }
    *token = f->token;
    *len = ulen;
    vq->last_used++;
    /* Reused at once, this head could be named again by a later element the device wrote before
     * the reuse (a repeated id), and that element would complete the new buffer. */
    split_hold(vq, (uint16_t)id);
    if (used_idx == vq->last_used)
        keel_vq_split_release_held(vq);
    return 1;
}

#endif
