/* SPDX-License-Identifier: MIT */
/*
 * Packed virtqueue, device side (VIRTIO 1.2 section 2.8): descriptors made available by the
 * AVAIL/USED bits against the device's avail wrap counter, chains by VIRTQ_DESC_F_NEXT with the
 * buffer id in the last descriptor, indirect tables, used descriptors written at the device's own
 * next_used slot (skipping the buffer's descriptor count, toggling the used wrap counter), and the
 * event suppression structures (driver area: read by the device for interrupts; device area:
 * written by the device to suppress notifications).
 *
 *   desc:  struct { le64 addr; le32 len; le16 id; le16 flags; } [size]   (any size up to 32768)
 *   event suppression: le16 off_wrap (offset 0..14, wrap bit 15); le16 flags (RING_EVENT_FLAGS_*)
 */
#include "vmodel_internal.h"

struct pdesc {
    uint64_t addr;
    uint32_t len;
    uint16_t id;
    uint16_t flags;
};

static struct pdesc read_pdesc(struct vmodel *m, uint64_t at)
{
    uint8_t b[16];
    struct pdesc d;

    sim_dma_read(m->s, at, b, sizeof(b));
    d.addr = vm_le64(b);
    d.len = vm_le32(b + 8);
    d.id = vm_le16(b + 12);
    d.flags = vm_le16(b + 14);
    return d;
}

/* 2.8.1: available when AVAIL matches the wrap counter and USED does not. */
static bool is_avail(uint16_t flags, bool wrap)
{
    return ((flags & VIRTQ_DESC_F_AVAIL) != 0) == wrap &&
           ((flags & VIRTQ_DESC_F_USED) != 0) != wrap;
}

static void advance(const struct vm_vq *vq, uint16_t *slot, bool *wrap)
{
    if (++*slot == vq->size) {
        *slot = 0;
        *wrap = !*wrap;
    }
}

void vm_packed_init(struct vm_vq *vq)
{
    vq->next_avail = vq->next_used = 0;
    vq->avail_wrap = vq->used_wrap = true; /* 2.8.1: both counters start at 1 */
    vq->pop_ind_addr = 0;
    vm_packed_publish(vq, true);
}

/* ------------------------------------------------------------------------------------------------
 * Chain parsing (2.8.5 - 2.8.7)
 */
struct parse {
    unsigned n, nrd, ndesc;
    bool seen_write;
};

static bool parse_indirect(struct vm_vq *vq, const struct pdesc *d, struct parse *p)
{
    struct vmodel *m = vq->m;
    uint32_t i, ntab;

    if (!vq->indirect_ok) {
        vm_device_error(m, "queue %u: INDIRECT descriptor without VIRTIO_F_INDIRECT_DESC", vq->idx);
        return false;
    }
    if (d->flags & VIRTQ_DESC_F_NEXT) {
        vm_device_error(m, "queue %u: INDIRECT descriptor in a NEXT list", vq->idx);
        return false;
    }
    if (d->len == 0 || (d->len & 15u) != 0 || d->len / 16u > vq->size || (d->addr & 15u) != 0 ||
        !sim_dma_valid(m->s, d->addr, d->len)) {
        vm_device_error(m, "queue %u: indirect table 0x%llx+%u is malformed or unmapped", vq->idx,
                        (unsigned long long)d->addr, d->len);
        return false;
    }
    vq->pop_ind_addr = d->addr;
    vq->pop_ind_len = d->len;
    ntab = d->len / 16u;
    for (i = 0; i < ntab; i++) {
        struct pdesc t = read_pdesc(m, d->addr + 16ull * i);

        /* 2.8.7: only WRITE is valid inside an indirect table; the table is sequential. */
        if ((t.flags & (uint16_t)~VIRTQ_DESC_F_WRITE) && m->cfg.strict) {
            vm_device_error(m, "queue %u: flags 0x%x inside an indirect table", vq->idx, t.flags);
            return false;
        }
        p->ndesc++;
        if (!vm_seg_add(vq, &p->n, t.addr, t.len, t.flags & VIRTQ_DESC_F_WRITE, &p->nrd,
                        &p->seen_write))
            return false;
    }
    return true;
}

struct vmodel_chain *vm_packed_pop(struct vm_vq *vq)
{
    struct vmodel *m = vq->m;
    uint16_t slot = vq->next_avail, id = 0;
    bool wrap = vq->avail_wrap;
    struct parse p = {0, 0, 0, false};
    unsigned count = 0;
    struct vmodel_chain *c;

    vq->pop_ind_addr = 0;
    for (;;) {
        struct pdesc d = read_pdesc(m, vq->desc + 16ull * slot);

        if (!is_avail(d.flags, wrap)) {
            if (count == 0)
                return NULL;
            vm_device_error(m, "queue %u: list continues into slot %u that is not available",
                            vq->idx, slot);
            return NULL;
        }
        if (count >= vq->size) {
            vm_device_error(m, "queue %u: descriptor list longer than the queue", vq->idx);
            return NULL;
        }
        count++;
        id = d.id; /* 2.8.6: the buffer id is in the last descriptor of the list */
        advance(vq, &slot, &wrap);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (count != 1) {
                vm_device_error(m, "queue %u: INDIRECT descriptor inside a list", vq->idx);
                return NULL;
            }
            if (!parse_indirect(vq, &d, &p))
                return NULL;
            break;
        }
        p.ndesc++;
        if (!vm_seg_add(vq, &p.n, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE, &p.nrd,
                        &p.seen_write))
            return NULL;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
    }
    if (id >= vq->size) {
        /* The spec leaves ids opaque; Keel's driver (and the model) use ids < queue size. */
        vm_device_error(m, "queue %u: buffer id %u not below the queue size %u", vq->idx, id,
                        vq->size);
        return NULL;
    }
    if (vq->inflight[id].c != NULL) {
        vm_device_error(m, "queue %u: buffer id %u made available while in flight", vq->idx, id);
        return NULL;
    }
    c = vm_chain_new(vq, p.nrd, p.n - p.nrd);
    c->id = id;
    c->ring_descs = (uint16_t)count;
    c->ndesc = (uint16_t)p.ndesc;
    c->indirect = vq->pop_ind_addr != 0;
    vq->pop_slot = vq->next_avail;
    vq->next_avail = slot;
    vq->avail_wrap = wrap;
    vq->inflight[id].c = c;
    vq->inflight[id].held = false;
    return c;
}

unsigned vm_packed_pending(struct vm_vq *vq)
{
    uint16_t slot = vq->next_avail;
    bool wrap = vq->avail_wrap;
    unsigned descs, chains = 0;

    for (descs = 0; descs < vq->size; descs++) {
        uint16_t flags = vm_rd16(vq->m, vq->desc + 16ull * slot + 14u);

        if (!is_avail(flags, wrap))
            break;
        if (!(flags & VIRTQ_DESC_F_NEXT))
            chains++;
        advance(vq, &slot, &wrap);
    }
    return chains;
}

/* ------------------------------------------------------------------------------------------------
 * Used descriptors (2.8.8) and suppression (2.8.10, 2.8.14)
 */
void vm_packed_push(struct vm_vq *vq, uint16_t id, uint32_t len, bool wrote, uint16_t slots,
                    int bad_flags)
{
    struct vmodel *m = vq->m;
    uint64_t d = vq->desc + 16ull * vq->next_used;
    bool w = vq->used_wrap;
    uint16_t flags;
    unsigned k;

    if (bad_flags == 0) /* AVAIL != USED: still looks available */
        flags = (uint16_t)((w ? 0u : VIRTQ_DESC_F_AVAIL) | (w ? VIRTQ_DESC_F_USED : 0u));
    else if (bad_flags == 1) /* both from the previous lap */
        flags = (uint16_t)(w ? 0u : (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED));
    else
        flags = (uint16_t)(w ? (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED) : 0u);
    if (wrote)
        flags |= VIRTQ_DESC_F_WRITE;
    vm_wr32(m, d + 8u, len);
    vm_wr16(m, d + 12u, id);
    /* flags last: they publish the descriptor (2.8.8) */
    vm_wr16(m, d + 14u, flags);
    for (k = 0; k < slots; k++) {
        if (++vq->next_used == vq->size) {
            vq->next_used = 0;
            vq->used_wrap = !vq->used_wrap;
        }
    }
    vq->slots_since_signal += slots;
}

void vm_packed_flush(struct vm_vq *vq, bool *need_irq)
{
    struct vmodel *m = vq->m;
    uint16_t off_wrap = vm_rd16(m, vq->driver);
    uint16_t flags = (uint16_t)(vm_rd16(m, vq->driver + 2u) & 3u);
    uint16_t new_idx = vq->next_used;
    uint16_t old = (uint16_t)(new_idx - vq->slots_since_signal);
    bool valid = vq->signalled_valid;
    uint16_t off;

    vq->signalled_valid = true;
    vq->slots_since_signal = 0;
    if (flags == RING_EVENT_FLAGS_DISABLE) {
        *need_irq = false;
        return;
    }
    if (flags != RING_EVENT_FLAGS_DESC || !vq->event_idx) {
        if (flags != RING_EVENT_FLAGS_ENABLE && m->cfg.strict)
            vm_driver_error(m, "queue %u: driver event flags %u (DESC needs EVENT_IDX)", vq->idx,
                            flags);
        *need_irq = true;
        return;
    }
    /* Same arithmetic as the split ring, in a frame where the current lap starts at 0 and the
       previous lap is negative: an event offset from the other lap is moved back by size. */
    off = (uint16_t)(off_wrap & 0x7fffu);
    if (((off_wrap >> 15) != 0) != vq->used_wrap)
        off = (uint16_t)(off - vq->size);
    *need_irq = !valid || vm_need_event(off, new_idx, old);
}

void vm_packed_publish(struct vm_vq *vq, bool enable)
{
    struct vmodel *m = vq->m;
    uint16_t flags;

    if (!enable) {
        flags = RING_EVENT_FLAGS_DISABLE;
    } else if (vq->event_idx) {
        /* Ask to be notified when the next descriptor we have not seen is made available. */
        vm_wr16(m, vq->device, (uint16_t)(vq->next_avail | (vq->avail_wrap ? 0x8000u : 0u)));
        flags = RING_EVENT_FLAGS_DESC;
    } else {
        flags = RING_EVENT_FLAGS_ENABLE;
    }
    vq->dev_event_flags_pub = flags;
    vm_wr16(m, vq->device + 2u, flags);
}
