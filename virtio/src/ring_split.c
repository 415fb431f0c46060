/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (VIRTIO 1.2 section 2.7). Layout in one page-aligned allocation, compatible with
 * the legacy interface (2.7.2 legacy note, QueuePFN): descriptor table at 0, available ring right
 * after it, used ring at the next 4096-byte boundary.
 *
 * The free descriptor list, every chain's links and every in-flight head live in the private
 * shadow; ring descriptors are only ever written from the shadow, and read back only to check that
 * the device did not rewrite them. Adding a chain and reaping a used element are in ring_split.h
 * (inline into vq.c's hot path); layout, kicks and interrupt suppression are here.
 */
#include <keel/error.h>
#include <keel/virtqueue.h>

#include "ring_split.h"
#include "vq_internal.h"

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
