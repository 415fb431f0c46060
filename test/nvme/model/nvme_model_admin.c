/* SPDX-License-Identifier: MIT */
/* Admin command set (spec 5): queue management, Abort, Get/Set Features, dispatch. */
#include <stdlib.h>
#include <string.h>

#include "nvme_model_int.h"

#define ST_INVALID_FIELD NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_INVALID_FIELD)
#define ST_CS(sc)        NM_ST_DNR(NVME_MODEL_SCT_CMD_SPECIFIC, sc)

/* Feature identifiers (spec 5.21.1) */
#define FID_ARB      0x01
#define FID_POWER    0x02
#define FID_TEMP     0x04
#define FID_VWC      0x06
#define FID_NQ       0x07
#define FID_COALESCE 0x08
#define FID_IVC      0x09
#define FID_AEC      0x0b
#define FID_APST     0x0c

static unsigned nvectors(const struct nvme_model *m)
{
    return m->cfg.msix_vectors ? m->cfg.msix_vectors : 1u;
}

/* ---- queue management (spec 5.3, 5.4, 5.5, 5.6) ---- */

static uint16_t check_queue_common(const struct nvme_model *m, const struct nm_cmd *c, uint16_t qid,
                                   uint16_t limit, bool exists)
{
    uint32_t qsize = (c->cdw[10] >> 16) + 1u;

    if (qid == 0 || qid > limit || qid > NM_MAX_QID || exists)
        return ST_CS(NVME_MODEL_SC_INVALID_QID);
    if (qsize < 2u || qsize > (uint32_t)m->cfg.mqes + 1u)
        return ST_CS(NVME_MODEL_SC_INVALID_QSIZE);
    if (!(c->cdw[11] & 1u)) /* CAP.CQR = 1: PC must be set */
        return ST_INVALID_FIELD;
    if (c->prp1 & (m->page - 1u))
        return NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_PRP_OFFSET_INVALID);
    return NM_OK;
}

static void check_queue_memory(struct nvme_model *m, const char *what, uint16_t qid, uint64_t base,
                               uint64_t bytes)
{
    if (!sim_dma_valid(m->s, base, bytes))
        sim_violation(m->s, "nvme model: %s %u memory 0x%llx+%llu is not DMA-accessible", what, qid,
                      (unsigned long long)base, (unsigned long long)bytes);
}

static void create_cq(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    uint16_t qid = (uint16_t)c->cdw[10], iv = (uint16_t)(c->cdw[11] >> 16);
    struct nm_cq *cq;

    r->status = check_queue_common(m, c, qid, m->ncq_max, qid <= NM_MAX_QID && m->cq[qid].exists);
    if (r->status == NM_OK && iv >= nvectors(m))
        r->status = ST_CS(NVME_MODEL_SC_INVALID_VECTOR);
    if (r->status != NM_OK)
        return;
    cq = &m->cq[qid];
    memset(cq, 0, sizeof(*cq));
    cq->exists = true;
    cq->size = (uint16_t)((c->cdw[10] >> 16) + 1u);
    cq->base = c->prp1;
    cq->phase = 1;
    cq->ien = (c->cdw[11] & 2u) != 0;
    cq->vector = iv;
    check_queue_memory(m, "CQ", qid, cq->base, (uint64_t)cq->size * 16u);
    m->st.cq_created++;
}

static void create_sq(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    uint16_t qid = (uint16_t)c->cdw[10], cqid = (uint16_t)(c->cdw[11] >> 16);
    struct nm_sq *sq;

    r->status = check_queue_common(m, c, qid, m->nsq_max, qid <= NM_MAX_QID && m->sq[qid].exists);
    if (r->status == NM_OK && (cqid == 0 || cqid > NM_MAX_QID || !m->cq[cqid].exists))
        r->status = ST_CS(NVME_MODEL_SC_INVALID_CQ);
    if (r->status != NM_OK)
        return;
    sq = &m->sq[qid];
    nm_queue_free(sq);
    sq->size = (uint16_t)((c->cdw[10] >> 16) + 1u);
    sq->avail_at = calloc(sq->size, sizeof(uint64_t));
    if (sq->avail_at == NULL) {
        r->status = NM_ST(NVME_MODEL_SCT_GENERIC, 0x06); /* internal error */
        return;
    }
    sq->exists = true;
    sq->base = c->prp1;
    sq->cqid = cqid;
    sq->qprio = (uint8_t)((c->cdw[11] >> 1) & 3u);
    check_queue_memory(m, "SQ", qid, sq->base, (uint64_t)sq->size * 64u);
    m->st.sq_created++;
}

/* Held commands of a deleted SQ complete with "aborted due to SQ deletion" (spec 5.6). */
static void abort_held_of(struct nvme_model *m, uint16_t sqid)
{
    unsigned i;

    for (i = 0; i < NM_MAX_HELD; i++) {
        if (m->held[i].used && m->held[i].cmd.sqid == sqid) {
            struct nm_result r = {
                .status = NM_ST(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_ABORT_SQ_DELETED)};
            m->held[i].used = false;
            nm_complete(m, &m->held[i].cmd, &r);
        }
    }
}

static void delete_sq(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    uint16_t qid = (uint16_t)c->cdw[10];

    if (qid == 0 || qid > NM_MAX_QID || !m->sq[qid].exists) {
        r->status = ST_CS(NVME_MODEL_SC_INVALID_QID);
        return;
    }
    abort_held_of(m, qid);
    nm_queue_free(&m->sq[qid]); /* unfetched entries are discarded */
    m->st.sq_deleted++;
}

static void delete_cq(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    uint16_t qid = (uint16_t)c->cdw[10];
    unsigned i;

    if (qid == 0 || qid > NM_MAX_QID || !m->cq[qid].exists) {
        r->status = ST_CS(NVME_MODEL_SC_INVALID_QID);
        return;
    }
    for (i = 1; i <= NM_MAX_QID; i++) {
        if (m->sq[i].exists && m->sq[i].cqid == qid) {
            r->status = ST_CS(NVME_MODEL_SC_INVALID_QDELETE);
            return;
        }
    }
    memset(&m->cq[qid], 0, sizeof(m->cq[qid]));
    m->st.cq_deleted++;
}

/* ---- Abort (spec 5.1) ---- */

static bool abort_held(struct nvme_model *m, uint16_t sqid, uint16_t cid)
{
    unsigned i;

    for (i = 0; i < NM_MAX_HELD; i++) {
        struct nm_held *h = &m->held[i];
        if (h->used && h->cmd.sqid == sqid && h->cmd.cid == cid) {
            struct nm_result r = {.status =
                                      NM_ST(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_ABORT_REQUESTED)};
            h->used = false;
            nm_complete(m, &h->cmd, &r);
            return true;
        }
    }
    return false;
}

/* A command still in the SQ (not fetched): it will complete as aborted when fetched. */
static bool abort_unfetched(struct nvme_model *m, uint16_t sqid, uint16_t cid)
{
    struct nm_sq *sq = &m->sq[sqid];
    uint16_t i;
    uint8_t b[4];

    for (i = sq->head; i != sq->tail; i = (uint16_t)((i + 1u) % sq->size)) {
        if (!sim_dma_read(m->s, sq->base + (uint64_t)i * 64u, b, 4))
            return false;
        if (nm_get16(b + 2) == cid && m->aborts_n < NM_MAX_ABORTS) {
            m->aborts[m->aborts_n].sqid = sqid;
            m->aborts[m->aborts_n].cid = cid;
            m->aborts_n++;
            return true;
        }
    }
    return false;
}

static void abort_cmd(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    uint16_t sqid = (uint16_t)c->cdw[10], cid = (uint16_t)(c->cdw[10] >> 16);
    bool hit = false;

    m->st.aborts++;
    if (sqid <= NM_MAX_QID && m->sq[sqid].exists) {
        hit = abort_held(m, sqid, cid) || abort_unfetched(m, sqid, cid);
        if (!hit && sqid == 0)
            hit = nm_aer_abort(m, cid);
    }
    if (hit)
        m->st.aborts_hit++;
    r->dw0 = hit ? 0u : 1u; /* bit 0: command not aborted */
}

/* ---- features (spec 5.21) ---- */

void nm_features_default(struct nvme_model *m)
{
    unsigned i;

    memset(m->feat, 0, sizeof(m->feat));
    memset(m->ivc, 0, sizeof(m->ivc));
    memset(m->apst, 0, sizeof(m->apst));
    for (i = 0; i < 9; i++) {
        m->tmpth[i][0] = i == 0 ? m->cfg.wctemp : 0xffffu;
        m->tmpth[i][1] = 0;
    }
    m->feat[FID_VWC] = m->cfg.vwc ? 1u : 0u;
    m->nsq_max = m->cfg.max_io_queues;
    m->ncq_max = m->cfg.max_io_queues;
    m->feat[FID_NQ] = (uint32_t)(m->nsq_max - 1u) | ((uint32_t)(m->ncq_max - 1u) << 16);
    m->st.nsq_granted = m->nsq_max;
    m->st.ncq_granted = m->ncq_max;
}

static bool io_queues_exist(const struct nvme_model *m)
{
    unsigned i;

    for (i = 1; i <= NM_MAX_QID; i++)
        if (m->sq[i].exists || m->cq[i].exists)
            return true;
    return false;
}

static uint16_t set_nq(struct nvme_model *m, uint32_t dw11, uint32_t *dw0)
{
    uint32_t nsqr = dw11 & 0xffffu, ncqr = dw11 >> 16, max = m->cfg.max_io_queues;

    if (nsqr == 0xffffu || ncqr == 0xffffu)
        return ST_INVALID_FIELD;
    if (io_queues_exist(m)) /* spec 5.21.1.7 */
        return NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_CMD_SEQ_ERROR);
    m->nsq_max = (uint16_t)(nsqr + 1u < max ? nsqr + 1u : max);
    m->ncq_max = (uint16_t)(ncqr + 1u < max ? ncqr + 1u : max);
    m->feat[FID_NQ] = (uint32_t)(m->nsq_max - 1u) | ((uint32_t)(m->ncq_max - 1u) << 16);
    m->st.nq_set = true;
    m->st.nsq_granted = m->nsq_max;
    m->st.ncq_granted = m->ncq_max;
    *dw0 = m->feat[FID_NQ];
    return NM_OK;
}

static uint16_t set_temp(struct nvme_model *m, uint32_t dw11)
{
    unsigned sel = (dw11 >> 16) & 0xfu, th = (dw11 >> 20) & 3u, i;

    if (th > 1u || (sel > 8u && sel != 0xfu))
        return ST_INVALID_FIELD;
    for (i = 0; i < 9; i++)
        if (i == sel || sel == 0xfu)
            m->tmpth[i][th] = (uint16_t)dw11;
    nm_temperature_check(m);
    return NM_OK;
}

static uint16_t set_apst(struct nvme_model *m, const struct nm_cmd *c)
{
    uint8_t t[256];
    uint16_t st;

    if (!m->cfg.apst)
        return ST_INVALID_FIELD;
    st = nm_xfer_from_host(m, c, t, sizeof(t));
    if (st != NM_OK)
        return st;
    memcpy(m->apst, t, sizeof(t));
    m->feat[FID_APST] = c->cdw[11] & 1u;
    return NM_OK;
}

static uint16_t set_feature(struct nvme_model *m, const struct nm_cmd *c, uint32_t *dw0)
{
    uint8_t fid = (uint8_t)c->cdw[10];
    uint32_t v = c->cdw[11];

    if (c->cdw[10] & (1u << 31)) /* SV: nothing is saveable (ONCS bit 4 clear) */
        return ST_CS(NVME_MODEL_SC_NOT_SAVEABLE);
    switch (fid) {
    case FID_ARB:
    case FID_COALESCE:
    case FID_AEC:
        m->feat[fid] = fid == FID_COALESCE ? (v & 0xffffu) : v;
        return NM_OK;
    case FID_POWER:
        if ((v & 0x1fu) >= m->cfg.npsd)
            return ST_INVALID_FIELD;
        m->feat[fid] = v & 0xffu;
        return NM_OK;
    case FID_TEMP:
        return set_temp(m, v);
    case FID_VWC:
        if (!m->cfg.vwc)
            return ST_INVALID_FIELD;
        m->feat[fid] = v & 1u;
        return NM_OK;
    case FID_NQ:
        return set_nq(m, v, dw0);
    case FID_IVC:
        if ((v & 0xffffu) >= nvectors(m))
            return ST_INVALID_FIELD;
        m->ivc[v & 0xffffu] = v & 0x1ffffu;
        return NM_OK;
    case FID_APST:
        return set_apst(m, c);
    default:
        return ST_INVALID_FIELD;
    }
}

static uint32_t feature_default(const struct nvme_model *m, uint8_t fid)
{
    if (fid == FID_VWC)
        return m->cfg.vwc ? 1u : 0u;
    if (fid == FID_NQ)
        return (uint32_t)(m->cfg.max_io_queues - 1u) * 0x10001u;
    if (fid == FID_TEMP)
        return m->cfg.wctemp;
    return 0;
}

static uint16_t get_feature(struct nvme_model *m, const struct nm_cmd *c, uint32_t *dw0)
{
    uint8_t fid = (uint8_t)c->cdw[10];
    unsigned sel = (c->cdw[10] >> 8) & 7u;
    uint32_t v = c->cdw[11];

    if (sel > 3u)
        return ST_INVALID_FIELD;
    if ((fid == FID_VWC && !m->cfg.vwc) || (fid == FID_APST && !m->cfg.apst))
        return ST_INVALID_FIELD;
    if (fid != FID_ARB && fid != FID_POWER && fid != FID_TEMP && fid != FID_VWC && fid != FID_NQ &&
        fid != FID_COALESCE && fid != FID_IVC && fid != FID_AEC && fid != FID_APST)
        return ST_INVALID_FIELD;
    if (sel == 3u) {
        *dw0 = 0x4u; /* changeable, not saveable, not namespace specific */
        return NM_OK;
    }
    if (sel == 1u || sel == 2u) { /* default; saved = default (nothing saveable) */
        *dw0 = feature_default(m, fid);
        return NM_OK;
    }
    if (fid == FID_TEMP) {
        unsigned tsel = (v >> 16) & 0xfu, th = (v >> 20) & 3u;
        if (tsel > 8u || th > 1u)
            return ST_INVALID_FIELD;
        *dw0 = m->tmpth[tsel][th];
    } else if (fid == FID_IVC) {
        if ((v & 0xffffu) >= nvectors(m))
            return ST_INVALID_FIELD;
        *dw0 = (v & 0xffffu) | (m->ivc[v & 0xffffu] & 0x10000u);
    } else {
        *dw0 = m->feat[fid];
    }
    if (fid == FID_APST)
        return nm_xfer_to_host(m, c, m->apst, sizeof(m->apst));
    return NM_OK;
}

/* ---- dispatch ---- */

void nm_admin(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    if (c->psdt != 0 || c->fuse != 0) {
        r->status = ST_INVALID_FIELD;
        return;
    }
    switch (c->opc) {
    case NM_ADM_DELETE_SQ:
        delete_sq(m, c, r);
        break;
    case NM_ADM_CREATE_SQ:
        create_sq(m, c, r);
        break;
    case NM_ADM_GET_LOG:
        nm_get_log(m, c, r);
        break;
    case NM_ADM_DELETE_CQ:
        delete_cq(m, c, r);
        break;
    case NM_ADM_CREATE_CQ:
        create_cq(m, c, r);
        break;
    case NM_ADM_IDENTIFY:
        nm_identify(m, c, r);
        break;
    case NM_ADM_ABORT:
        abort_cmd(m, c, r);
        break;
    case NM_ADM_SET_FEAT:
        r->status = set_feature(m, c, &r->dw0);
        break;
    case NM_ADM_GET_FEAT:
        r->status = get_feature(m, c, &r->dw0);
        break;
    case NM_ADM_AER:
        nm_aer_submit(m, c, r);
        break;
    default:
        r->status = NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_INVALID_OPCODE);
        break;
    }
}

uint32_t nvme_model_feature(const struct nvme_model *m, uint8_t fid)
{
    return fid == FID_TEMP ? m->tmpth[0][0] : m->feat[fid];
}

uint16_t nvme_model_temp_threshold(const struct nvme_model *m, unsigned tmpsel, bool under)
{
    return tmpsel < 9u ? m->tmpth[tmpsel][under ? 1 : 0] : 0;
}

const uint8_t *nvme_model_apst_table(const struct nvme_model *m)
{
    return m->apst;
}
