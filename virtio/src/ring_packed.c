/* SPDX-License-Identifier: MIT */
/*
 * Packed virtqueues (VIRTIO 1.2 section 2.8). One allocation: descriptor ring (16 bytes per entry,
 * any size up to 32768, not only powers of two), then the driver event suppression structure, then
 * the device's. Buffer ids are the driver's own (0 .. size-1, free list in the shadow); every id in
 * flight remembers how many ring slots its chain holds, which is how far the used position moves
 * when the device returns it (2.8.7). Wrap counters start at 1 (2.8.1). Adding a chain and reaping
 * a used descriptor are in ring_packed.h (inline into vq.c's hot path); layout, kicks and event
 * suppression are here.
 */
#include <keel/error.h>
#include <keel/virtqueue.h>

#include "ring_packed.h"
#include "vq_internal.h"

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

bool keel_vq_packed_pending(struct keel_vq *vq)
{
    const uint8_t *d = vq->desc + (size_t)vq->next_used * VQ_DESC_BYTES;

    return packed_slot_used(vq, vq_rd16(vq, d, PD_FLAGS));
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
