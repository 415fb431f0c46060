/* SPDX-License-Identifier: MIT */
/*
 * Injected device misbehaviour (enum vmodel_fault in virtio_model.h documents each effect). The
 * rings call in at two points: when a chain has been consumed and when its used element is written.
 */
#include "vmodel_internal.h"

/* Whether `id` is armed, and its param, without counting a hit. */
static bool fault_peek(const struct sim *s, int id, uint64_t *param)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_FAULTS; i++) {
        if (s->faults[i].armed && s->faults[i].id == id) {
            *param = s->faults[i].param;
            return true;
        }
    }
    return false;
}

static void hold(struct vm_vq *vq, const struct vmodel_chain *c)
{
    vq->inflight[c->id].held = true;
}

/* Garbage that cannot be mistaken for a sane descriptor. */
static uint64_t junk_addr(unsigned k)
{
    return 0xdead00000000ull + ((uint64_t)k << 12) + 0x11u;
}

static void rewrite_split(struct vm_vq *vq, const struct vmodel_chain *c)
{
    struct vmodel *m = vq->m;
    unsigned k;

    for (k = 0; k < c->ring_descs; k++) {
        uint64_t d = vq->desc + 16ull * vq->scratch_idx[k];
        uint16_t flags = vm_rd16(m, d + 12);

        vm_wr64(m, d, junk_addr(k));
        vm_wr32(m, d + 8, 0xfffffff0u | k);
        vm_wr16(m, d + 12, (uint16_t)(flags ^ VIRTQ_DESC_F_NEXT));
        vm_wr16(m, d + 14, (uint16_t)((vq->scratch_idx[k] + 7u + k) % vq->size));
    }
}

static void rewrite_packed(struct vm_vq *vq, const struct vmodel_chain *c, uint16_t slot)
{
    struct vmodel *m = vq->m;
    unsigned k;

    for (k = 0; k < c->ring_descs; k++) {
        uint64_t d = vq->desc + 16ull * slot;
        uint16_t flags = vm_rd16(m, d + 14);

        vm_wr64(m, d, junk_addr(k));
        vm_wr32(m, d + 8, 0xfffffff0u | k);
        vm_wr16(m, d + 12, (uint16_t)(c->id ^ 0x5a5au));
        vm_wr16(m, d + 14, (uint16_t)(flags ^ VIRTQ_DESC_F_NEXT));
        slot = (uint16_t)(slot + 1u == vq->size ? 0u : slot + 1u);
    }
}

static void rewrite_indirect(struct vm_vq *vq)
{
    uint32_t k;

    for (k = 0; k + 16u <= vq->pop_ind_len; k += 16u) {
        vm_wr64(vq->m, vq->pop_ind_addr + k, junk_addr(k / 16u));
        vm_wr32(vq->m, vq->pop_ind_addr + k + 8u, 0xfffffff0u);
    }
}

static bool stall_applies(struct vm_vq *vq)
{
    uint64_t mask;

    if (!fault_peek(vq->m->s, VMODEL_FAULT_QUEUE_STALL, &mask))
        return false;
    if (mask != 0 && (vq->idx >= 64u || !((mask >> vq->idx) & 1u)))
        return false;
    return sim_fault_hit(vq->m->s, VMODEL_FAULT_QUEUE_STALL, NULL);
}

bool vm_fault_on_consume(struct vm_vq *vq, struct vmodel_chain *c, uint16_t first_slot)
{
    struct vmodel *m = vq->m;

    if (sim_fault_hit(m->s, VMODEL_FAULT_DESC_REWRITE, NULL)) {
        if (vq->packed)
            rewrite_packed(vq, c, first_slot);
        else
            rewrite_split(vq, c);
        if (vq->pop_ind_addr)
            rewrite_indirect(vq);
    }
    if (sim_fault_hit(m->s, VMODEL_FAULT_NEEDS_RESET_MID_IO, NULL)) {
        hold(vq, c);
        vmodel_set_needs_reset(m);
        return true;
    }
    if (sim_fault_hit(m->s, VMODEL_FAULT_DEVICE_HANG, NULL)) {
        hold(vq, c);
        vm_stop_silently(m);
        return true;
    }
    if (stall_applies(vq)) {
        hold(vq, c);
        return true;
    }
    return false;
}

/* An id the driver must reject as "not the head of anything in flight". */
static uint16_t non_head_id(struct vm_vq *vq, const struct vmodel_chain *c)
{
    struct vm_chain *vc = vm_chain_of((struct vmodel_chain *)(uintptr_t)c);
    unsigned k;

    if (!vq->packed && vc->has_second && vq->inflight[vc->second_idx].c == NULL)
        return vc->second_idx;
    for (k = 1; k < vq->size; k++) {
        uint16_t id = (uint16_t)((c->id + k) % vq->size);
        if (vq->inflight[id].c == NULL)
            return id;
    }
    return vq->size; /* every id in flight: only out-of-range is left */
}

static void emit(struct vm_vq *vq, const struct vmodel_chain *c, uint16_t id, uint32_t len,
                 uint16_t slots)
{
    struct vmodel *m = vq->m;
    uint64_t p;

    m->st.vq[vq->idx].completed++;
    if (!vq->packed) {
        vm_split_push(vq, id, len);
        return;
    }
    if (sim_fault_hit(m->s, VMODEL_FAULT_PACKED_BAD_USED_FLAGS, &p))
        vm_packed_push(vq, id, len, c->nwr > 0 && len > 0, slots, (int)(p & 1u));
    else
        vm_packed_push(vq, id, len, c->nwr > 0 && len > 0, slots, -1);
}

void vm_fault_push_used(struct vm_vq *vq, struct vmodel_chain *c)
{
    struct vmodel *m = vq->m;
    uint32_t len = c->used_len;
    uint64_t p;

    if (sim_fault_hit(m->s, VMODEL_FAULT_USED_ID_OUT_OF_RANGE, &p)) {
        uint64_t id = vq->size + p;
        hold(vq, c);
        emit(vq, c, (uint16_t)(id > 0xffffu ? 0xffffu : id), len, c->ring_descs);
        return;
    }
    if (sim_fault_hit(m->s, VMODEL_FAULT_USED_ID_NOT_HEAD, NULL)) {
        hold(vq, c);
        emit(vq, c, non_head_id(vq, c), len, c->ring_descs);
        return;
    }
    if (sim_fault_hit(m->s, VMODEL_FAULT_USED_LEN_TOO_LONG, &p)) {
        uint64_t l = c->wr_len + (p ? p : 1u);
        len = l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
    }
    emit(vq, c, c->id, len, c->ring_descs);
    vq->inflight[c->id].c = NULL;
    vq->inflight[c->id].held = false;
    m->st.vq[vq->idx].inflight--;
    if (sim_fault_hit(m->s, VMODEL_FAULT_USED_ID_REUSED, NULL))
        emit(vq, c, c->id, len, 1);
    vm_chain_free(c);
}

bool vm_fault_irq_lost(struct vm_vq *vq)
{
    return sim_fault_hit(vq->m->s, VMODEL_FAULT_IRQ_LOST, NULL);
}
