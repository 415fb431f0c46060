/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (VIRTIO 1.2 section 2.7). Layout in one page-aligned allocation, compatible with
 * the legacy interface (2.7.2 legacy note, QueuePFN): descriptor table at 0, available ring right
 * after it, used ring at the next 4096-byte boundary.
 *
 * The free descriptor list, every chain's links and every in-flight head live in the private
 * shadow; ring descriptors are only ever written from the shadow, and read back only to check that
 * the device did not rewrite them.
 */
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

static size_t avail_bytes(uint16_t size)
{
    return AVAIL_RING + 2u * (size_t)size + 2u;
}

static size_t used_off(uint16_t size)
{
    size_t end = (size_t)size * VQ_DESC_BYTES + avail_bytes(size);
    return (end + KEEL_VIRTQ_LEGACY_ALIGN - 1u) & ~(size_t)(KEEL_VIRTQ_LEGACY_ALIGN - 1u);
}

size_t keel_vq_split_bytes(uint16_t size)
{
    return used_off(size) + USED_RING + VQ_USED_ELEM_BYTES * (size_t)size + 2u;
}

/* used_event lives after the available ring, avail_event after the used ring (2.7.10). */
static size_t used_event_off(const struct keel_vq *vq)
{
    return AVAIL_RING + 2u * (size_t)vq->size;
}
static size_t avail_event_off(const struct keel_vq *vq)
{
    return USED_RING + VQ_USED_ELEM_BYTES * (size_t)vq->size;
}

void keel_vq_split_init(struct keel_vq *vq)
{
    uint16_t i;

    vq->desc = (uint8_t *)vq->ring.cpu;
    vq->driver = vq->desc + (size_t)vq->size * VQ_DESC_BYTES;
    vq->device = (uint8_t *)vq->ring.cpu + used_off(vq->size);
    vq->desc_bus = vq->ring.bus;
    vq->driver_bus = vq->ring.bus + (keel_bus_addr_t)vq->size * VQ_DESC_BYTES;
    vq->device_bus = vq->ring.bus + used_off(vq->size);
    for (i = 0; i < vq->size; i++)
        vq->shadow[i].next = (uint16_t)(i + 1u);
    vq->free_head = 0;
    vq->held_ndesc = 0;
    vq->avail_idx = 0;
    vq->kicked_idx = 0;
    vq->last_used = 0;
    vq->avail_flags = 0;
}

/* Write descriptor `i` of the ring from its shadow. */
static void desc_write(struct keel_vq *vq, uint16_t i)
{
    uint8_t *d = vq->desc + (size_t)i * VQ_DESC_BYTES;
    const struct keel_vq_shadow *s = &vq->shadow[i];

    vq_wr64(vq, d, 0, s->addr);
    vq_wr32(vq, d, 8, s->len);
    vq_wr16(vq, d, 12, s->flags);
    vq_wr16(vq, d, 14, s->next);
}

static bool desc_matches(const struct keel_vq *vq, uint16_t i)
{
    const uint8_t *d = vq->desc + (size_t)i * VQ_DESC_BYTES;
    const struct keel_vq_shadow *s = &vq->shadow[i];

    return vq_rd64(vq, d, 0) == s->addr && vq_rd32(vq, d, 8) == s->len &&
           vq_rd16(vq, d, 12) == s->flags && vq_rd16(vq, d, 14) == s->next;
}

int keel_vq_split_add(struct keel_vq *vq, const struct keel_vq_sg *sg, unsigned n_out,
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
        desc_write(vq, head);
        ndesc = 1;
    } else {
        /* The chain takes descriptors in free-list order, so its links are the free-list links. */
        for (k = 0; k < total; k++) {
            struct keel_vq_shadow *s = &vq->shadow[i];
            s->addr = sg[k].addr;
            s->len = sg[k].len;
            s->flags = (uint16_t)((k >= n_out ? KEEL_VIRTQ_DESC_F_WRITE : 0u) |
                                  (k + 1u < total ? KEEL_VIRTQ_DESC_F_NEXT : 0u));
            desc_write(vq, i);
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

bool keel_vq_split_kick_prepare(struct keel_vq *vq)
{
    uint16_t old = vq->kicked_idx, new_idx = vq->avail_idx;
    bool need;

    if (old == new_idx)
        return false;
    vq->stats.kicks++;
    /* 2.7.13.3: descriptors and ring entries before the index the device reads. */
    keel_wmb(vq->hal);
    vq_wr16(vq, vq->driver, AVAIL_IDX, new_idx);
    vq->kicked_idx = new_idx;
    /* 2.7.13.4: the index store must be visible before the suppression field is read. */
    keel_mb(vq->hal);
    if (vq->event_idx)
        need = keel_vq_need_event(vq_rd16(vq, vq->device, avail_event_off(vq)), new_idx, old);
    else
        need = (vq_rd16(vq, vq->device, USED_FLAGS) & KEEL_VIRTQ_USED_F_NO_NOTIFY) == 0u;
    if (!need)
        vq->stats.suppressed++;
    return need;
}

void keel_vq_split_free(struct keel_vq *vq, uint16_t head)
{
    struct keel_vq_inflight *f = &vq->inflight[head];

    keel_vq_ind_release(vq, f->ind);
    vq->shadow[f->last].next = vq->free_head;
    vq->free_head = head;
    vq->num_free = (uint16_t)(vq->num_free + f->ndesc);
    f->token = NULL;
    f->ind = KEEL_VQ_NO_IND;
}

/* A completed chain whose descriptors must not be reused yet (see held_first). */
static void split_hold(struct keel_vq *vq, uint16_t head)
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

/* Every completion the device had written when used->idx was last read is consumed. */
void keel_vq_split_release_held(struct keel_vq *vq)
{
    if (vq->held_ndesc == 0u)
        return;
    vq->shadow[vq->held_last].next = vq->free_head;
    vq->free_head = vq->held_first;
    vq->num_free = (uint16_t)(vq->num_free + vq->held_ndesc);
    vq->held_ndesc = 0;
}

/* Every descriptor of the chain still reads as the driver wrote it (the device only reads them). */
static bool chain_intact(const struct keel_vq *vq, uint16_t head)
{
    uint16_t i = head, k;

    for (k = 0; k < vq->inflight[head].ndesc; k++) {
        if (!desc_matches(vq, i))
            return false;
        i = vq->shadow[i].next;
    }
    return true;
}

/* Buffers added but not yet published (their avail ring entries lie beyond avail->idx). */
static uint16_t unpublished(const struct keel_vq *vq)
{
    return (uint16_t)(vq->avail_idx - vq->kicked_idx);
}

/* The head was added but its ring entry is not covered by avail->idx yet: the device cannot
 * legitimately have seen it (positions in flight are within `size` of avail_idx, so the 16-bit
 * window test is exact). */
static bool head_unpublished(const struct keel_vq *vq, const struct keel_vq_inflight *f)
{
    return (uint16_t)(f->pos - vq->kicked_idx) < unpublished(vq);
}

int keel_vq_split_get(struct keel_vq *vq, void **token, uint32_t *len)
{
    uint16_t used_idx = vq_rd16(vq, vq->device, USED_IDX);
    uint16_t slot;
    uint32_t id, ulen;
    struct keel_vq_inflight *f;

    if (used_idx == vq->last_used) {
        keel_vq_split_release_held(vq);
        return 0;
    }
    if ((uint16_t)(used_idx - vq->last_used) > (uint16_t)(vq->in_flight - unpublished(vq))) {
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
    if (f->token == NULL || head_unpublished(vq, f)) {
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
    if (KEEL_CONFIG_VIRTIO_CHECK_DESC && !chain_intact(vq, (uint16_t)id)) {
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

bool keel_vq_split_pending(struct keel_vq *vq)
{
    return vq_rd16(vq, vq->device, USED_IDX) != vq->last_used;
}

void keel_vq_split_set_irq(struct keel_vq *vq, bool on)
{
    if (vq->event_idx) {
        /*
         * 2.7.10: interrupt when the device moves past used_event. Enabled: the next used buffer.
         * Disabled: one behind, so only a full 2^16 wrap could trigger it.
         */
        uint16_t ev = on ? vq->last_used : (uint16_t)(vq->last_used - 1u);
        vq_wr16(vq, vq->driver, used_event_off(vq), ev);
        return;
    }
    vq->avail_flags = (uint16_t)(on ? 0u : KEEL_VIRTQ_AVAIL_F_NO_INTERRUPT);
    vq_wr16(vq, vq->driver, AVAIL_FLAGS, vq->avail_flags);
}
