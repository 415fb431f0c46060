/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, device side (VIRTIO 1.2 section 2.7): avail ring consumption, descriptor chain
 * and indirect table parsing with every driver requirement checked, used ring production, and both
 * suppression schemes (flags, 2.7.7/2.7.10, and event index, 2.7.10).
 *
 * Layout (modern: three independent addresses; legacy: one PFN, see vm_legacy_ring_layout; the
 * "le" fields are in host order on the legacy interface, see vm_g16):
 *   desc:   struct { le64 addr; le32 len; le16 flags; le16 next; } [size]
 *   avail:  le16 flags; le16 idx; le16 ring[size]; le16 used_event;
 *   used:   le16 flags; le16 idx; struct { le32 id; le32 len; } ring[size]; le16 avail_event;
 */
#include "vmodel_internal.h"

#define AVAIL_RING(vq, i) ((vq)->driver + 4u + 2ull * (i))
#define USED_EVENT(vq)    ((vq)->driver + 4u + 2ull * (vq)->size)
#define USED_RING(vq, i)  ((vq)->device + 4u + 8ull * (i))
#define AVAIL_EVENT(vq)   ((vq)->device + 4u + 8ull * (vq)->size)

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

static struct desc read_desc(struct vmodel *m, uint64_t at)
{
    uint8_t b[16];
    struct desc d;

    sim_dma_read(m->s, at, b, sizeof(b));
    d.addr = vm_g64(m, b);
    d.len = vm_g32(m, b + 8);
    d.flags = vm_g16(m, b + 12);
    d.next = vm_g16(m, b + 14);
    return d;
}

uint16_t vm_split_avail_idx(struct vm_vq *vq)
{
    return vm_rd16(vq->m, vq->driver + 2u);
}

void vm_split_init(struct vm_vq *vq)
{
    vq->last_avail = 0;
    vq->used_idx = 0;
    vq->avail_at_notify = 0;
    vq->avail_event_pub = 0;
    vq->no_notify_pub = false;
    vq->pop_ind_addr = 0;
    vm_split_publish(vq, true);
}

/* ------------------------------------------------------------------------------------------------
 * Chain parsing (2.7.5, 2.7.5.3)
 */
struct parse {
    unsigned n, nrd, ndesc;
    bool seen_write;
};

static bool parse_indirect(struct vm_vq *vq, const struct desc *d, struct parse *p)
{
    struct vmodel *m = vq->m;
    uint32_t ntab, i, steps;

    if (!vq->indirect_ok) {
        vm_device_error(m, "queue %u: INDIRECT descriptor without VIRTIO_F_INDIRECT_DESC", vq->idx);
        return false;
    }
    if (d->flags & VIRTQ_DESC_F_NEXT) {
        vm_device_error(m, "queue %u: descriptor has both INDIRECT and NEXT", vq->idx);
        return false;
    }
    if (d->len == 0 || (d->len & 15u) != 0 || d->len / 16u > vq->size || (d->addr & 15u) != 0) {
        vm_device_error(m, "queue %u: indirect table 0x%llx+%u is malformed", vq->idx,
                        (unsigned long long)d->addr, d->len);
        return false;
    }
    if (!sim_dma_valid(m->s, d->addr, d->len)) {
        vm_device_error(m, "queue %u: indirect table not mapped for DMA", vq->idx);
        return false;
    }
    vq->pop_ind_addr = d->addr;
    vq->pop_ind_len = d->len;
    ntab = d->len / 16u;
    for (i = 0, steps = 0;; steps++) {
        struct desc t = read_desc(m, d->addr + 16ull * i);

        if (steps >= ntab) {
            vm_device_error(m, "queue %u: loop in an indirect table", vq->idx);
            return false;
        }
        if (t.flags & VIRTQ_DESC_F_INDIRECT) {
            vm_device_error(m, "queue %u: INDIRECT inside an indirect table", vq->idx);
            return false;
        }
        p->ndesc++;
        if (!vm_seg_add(vq, &p->n, t.addr, t.len, t.flags & VIRTQ_DESC_F_WRITE, &p->nrd,
                        &p->seen_write))
            return false;
        if (!(t.flags & VIRTQ_DESC_F_NEXT))
            return true;
        if (t.next >= ntab) {
            vm_device_error(m, "queue %u: indirect next %u beyond table of %u", vq->idx, t.next,
                            ntab);
            return false;
        }
        i = t.next;
    }
}

static bool parse_chain(struct vm_vq *vq, uint16_t head, struct parse *p, unsigned *table_descs)
{
    struct vmodel *m = vq->m;
    uint16_t i = head;
    unsigned count = 0;

    for (;;) {
        struct desc d;

        if (count >= vq->size) {
            vm_device_error(m, "queue %u: descriptor chain from %u loops", vq->idx, head);
            return false;
        }
        d = read_desc(m, vq->desc + 16ull * i);
        vq->scratch_idx[count++] = i;
        *table_descs = count;
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (count != 1) {
                vm_device_error(m, "queue %u: INDIRECT descriptor inside a chain", vq->idx);
                return false;
            }
            return parse_indirect(vq, &d, p);
        }
        p->ndesc++;
        if (!vm_seg_add(vq, &p->n, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE, &p->nrd,
                        &p->seen_write))
            return false;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return true;
        if (d.next >= vq->size) {
            vm_device_error(m, "queue %u: next %u beyond queue size %u", vq->idx, d.next, vq->size);
            return false;
        }
        i = d.next;
    }
}

struct vmodel_chain *vm_split_pop(struct vm_vq *vq)
{
    struct vmodel *m = vq->m;
    uint16_t avail = vm_split_avail_idx(vq);
    uint16_t pending = (uint16_t)(avail - vq->last_avail);
    struct parse p = {0, 0, 0, false};
    struct vmodel_chain *c;
    struct vm_chain *vc;
    unsigned table_descs = 0;
    uint16_t head;

    if (pending == 0)
        return NULL;
    if (pending > vq->size) {
        vm_device_error(m, "queue %u: avail idx %u is %u ahead of %u, more than size %u", vq->idx,
                        avail, pending, vq->last_avail, vq->size);
        return NULL;
    }
    head = vm_rd16(m, AVAIL_RING(vq, vq->last_avail % vq->size));
    if (head >= vq->size) {
        vm_device_error(m, "queue %u: avail ring entry %u out of range", vq->idx, head);
        return NULL;
    }
    if (vq->inflight[head].c != NULL) {
        vm_device_error(m, "queue %u: head %u made available again while in flight", vq->idx, head);
        return NULL;
    }
    vq->pop_ind_addr = 0;
    if (!parse_chain(vq, head, &p, &table_descs))
        return NULL;
    c = vm_chain_new(vq, p.nrd, p.n - p.nrd);
    vc = vm_chain_of(c);
    c->id = head;
    c->ring_descs = (uint16_t)table_descs;
    c->ndesc = (uint16_t)p.ndesc;
    c->indirect = vq->pop_ind_addr != 0;
    vc->has_second = table_descs >= 2;
    vc->second_idx = table_descs >= 2 ? vq->scratch_idx[1] : 0;
    vq->inflight[head].c = c;
    vq->inflight[head].held = false;
    vq->last_avail++;
    return c;
}

/* ------------------------------------------------------------------------------------------------
 * Used ring (2.7.8) and used-buffer notification decision (2.7.10)
 */
void vm_split_push(struct vm_vq *vq, uint16_t id, uint32_t len)
{
    uint64_t e = USED_RING(vq, vq->used_idx % vq->size);

    vm_wr32(vq->m, e, id);
    vm_wr32(vq->m, e + 4u, len);
    vq->used_idx++;
}

void vm_split_flush(struct vm_vq *vq, bool *need_irq)
{
    struct vmodel *m = vq->m;
    uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
    bool valid = vq->signalled_valid;
    uint64_t jump;

    if (sim_fault_hit(m->s, VMODEL_FAULT_USED_IDX_JUMP, &jump)) {
        uint16_t extra = (uint16_t)(jump ? jump : vq->size + 1u);
        vm_wr16(m, vq->device + 2u, (uint16_t)(vq->used_idx + extra));
        m->broken = true;
    } else {
        /* Elements first, then the index (2.7.8.2): each write is a separate DMA store here. */
        vm_wr16(m, vq->device + 2u, vq->used_idx);
    }
    vq->signalled_used = new_idx;
    vq->signalled_valid = true;
    if (vq->event_idx) {
        uint16_t event = vm_rd16(m, USED_EVENT(vq));
        *need_irq = !valid || vm_need_event(event, new_idx, old);
    } else {
        *need_irq = !(vm_rd16(m, vq->driver) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
}

/* Available-buffer notification suppression the device publishes (2.7.10). */
void vm_split_publish(struct vm_vq *vq, bool enable)
{
    if (vq->event_idx) {
        /* Disable = leave avail_event where it is: the driver has passed it already. */
        if (enable) {
            vq->avail_event_pub = vq->last_avail;
            vm_wr16(vq->m, AVAIL_EVENT(vq), vq->last_avail);
        }
        return;
    }
    vq->no_notify_pub = !enable;
    vm_wr16(vq->m, vq->device, (uint16_t)(enable ? 0u : VIRTQ_USED_F_NO_NOTIFY));
}

bool vm_split_notify_needed(struct vm_vq *vq, uint16_t avail_now)
{
    if (vq->event_idx)
        return vm_need_event(vq->avail_event_pub, avail_now, vq->avail_at_notify);
    return !vq->no_notify_pub;
}
