/* SPDX-License-Identifier: MIT */
/* Fault points: filters for per-command faults and the completion-entry mutations. */
#include "nvme_model_int.h"

/* Does command `c` pass the filter in bits 27:0 of a fault's param? */
static bool filter_match(uint64_t param, const struct nm_cmd *c)
{
    unsigned qclass = (unsigned)(param >> 9) & 3u;

    if ((param & (1ull << 8)) && c->opc != (uint8_t)param)
        return false;
    if (qclass == 1u && c->sqid != 0)
        return false;
    if (qclass == 2u && c->sqid == 0)
        return false;
    if ((param & (1ull << 11)) && c->sqid != (uint16_t)(param >> 12))
        return false;
    return true;
}

bool nm_fault(struct nvme_model *m, int id, uint32_t *value)
{
    uint64_t p = 0;

    if (!sim_fault_hit(m->s, id, &p))
        return false;
    if (value)
        *value = (uint32_t)(p >> 32);
    return true;
}

bool nm_fault_cmd(struct nvme_model *m, int id, const struct nm_cmd *c, uint32_t *value)
{
    uint64_t p;

    if (!sim_fault_peek(m->s, id, &p) || !filter_match(p, c))
        return false;
    return nm_fault(m, id, value);
}

/* Where the CQE goes when NVME_MODEL_F_CQE_WRONG_CQ fires. */
static uint16_t wrong_cq(const struct nm_cmd *c, uint32_t v)
{
    if (v != 0)
        return (uint16_t)v;
    return c->sqid != 0 ? 0 : 1;
}

/*
 * Apply the completion faults to `e` (about to be posted on *cqid). Returns false when the CQE
 * must not be posted at all. *delay_us is set for a delayed completion.
 */
bool nm_fault_cqe(struct nvme_model *m, const struct nm_cmd *c, struct nm_cqe *e, uint16_t *cqid,
                  uint64_t *delay_us)
{
    uint32_t v = 0;

    if (nm_fault_cmd(m, NVME_MODEL_F_CQE_LOST, c, NULL))
        return false;
    if (nm_fault_cmd(m, NVME_MODEL_F_CQE_WRONG_CQ, c, &v))
        *cqid = wrong_cq(c, v);
    if (nm_fault_cmd(m, NVME_MODEL_F_CQE_CID_INVALID, c, &v))
        e->cid = v ? (uint16_t)v : 0xffffu;
    if (nm_fault_cmd(m, NVME_MODEL_F_CQE_BAD_SQHD, c, &v))
        e->sqhd = v ? (uint16_t)v : (uint16_t)(m->sq[c->sqid].size + 7u);
    if (nm_fault_cmd(m, NVME_MODEL_F_CQE_WRONG_SQID, c, &v))
        e->sqid = v ? (uint16_t)v : (uint16_t)(c->sqid + 1u);
    if (nm_fault_cmd(m, NVME_MODEL_F_CQE_BAD_PHASE, c, NULL))
        e->bad_phase = true;
    if (nm_fault_cmd(m, NVME_MODEL_F_IRQ_LOST, c, NULL))
        e->no_irq = true;
    if (nm_fault_cmd(m, NVME_MODEL_F_CQE_DELAY, c, &v))
        *delay_us = v ? v : 1000u;
    return true;
}
