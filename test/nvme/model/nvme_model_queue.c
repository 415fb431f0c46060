/* SPDX-License-Identifier: MIT */
/* Queues: doorbells, fetching submissions, posting completions (phase tags), interrupts. */
#include <stdlib.h>
#include <string.h>

#include "nvme_model_int.h"

void nm_queue_free(struct nm_sq *sq)
{
    free(sq->avail_at);
    memset(sq, 0, sizeof(*sq));
}

static bool bus_master_on(struct nvme_model *m)
{
    if (m->fn->cfg[0x04] & 0x04)
        return true;
    if (!m->bme_warned)
        sim_violation(m->s, "nvme model: queue activity while PCI bus mastering is disabled");
    m->bme_warned = true;
    return false;
}

static uint16_t cq_used(const struct nm_cq *cq)
{
    return (uint16_t)((cq->tail + cq->size - cq->head) % cq->size);
}

static unsigned cq_free(const struct nm_cq *cq)
{
    return cq->size - 1u - cq_used(cq);
}

static unsigned backlog_for(const struct nvme_model *m, uint16_t cqid)
{
    unsigned i, n = 0;

    for (i = 0; i < NM_MAX_BACKLOG && n < m->backlog_n; i++)
        if (m->backlog[i].used && m->backlog[i].cqid == cqid)
            n++;
    return n;
}

/* Spec 4.1: invalid doorbell writes are reported with an Error asynchronous event. */
static void bad_doorbell(struct nvme_model *m, uint8_t info)
{
    m->st.bad_doorbells++;
    nm_event(m, NVME_MODEL_AET_ERROR, info, 0x01);
}

void nm_sq_doorbell(struct nvme_model *m, uint16_t qid, uint32_t val)
{
    struct nm_sq *sq = &m->sq[qid];
    uint32_t n, i;

    m->st.sq_doorbells[qid]++;
    if (!nm_running(m)) {
        m->st.doorbells_ignored++;
        return;
    }
    if (!sq->exists || val >= sq->size) {
        bad_doorbell(m, sq->exists ? 0x01 : 0x00);
        return;
    }
    n = (val + sq->size - sq->tail) % sq->size;
    for (i = 0; i < n; i++)
        sq->avail_at[(sq->tail + i) % sq->size] = m->s->now_us + m->cfg.latency_us;
    sq->tail = (uint16_t)val;
    m->st.sq_db_entries_last[qid] = n;
    if (n > m->st.sq_db_entries_max[qid])
        m->st.sq_db_entries_max[qid] = n;
    if (!bus_master_on(m))
        return;
    if (m->cfg.mode == NVME_MODEL_IMMEDIATE)
        nm_process(m, m->cfg.irq_in_doorbell);
    else if (m->cfg.mode == NVME_MODEL_DEFERRED)
        m->deferred_work = true;
}

void nm_cq_doorbell(struct nvme_model *m, uint16_t qid, uint32_t val)
{
    struct nm_cq *cq = &m->cq[qid];

    m->st.cq_doorbells[qid]++;
    if (!nm_running(m)) {
        m->st.doorbells_ignored++;
        return;
    }
    if (!cq->exists) {
        bad_doorbell(m, 0x00);
        return;
    }
    /* The new head may only release entries the controller has posted. */
    if (val >= cq->size || (val + cq->size - cq->head) % cq->size > cq_used(cq)) {
        bad_doorbell(m, 0x01);
        return;
    }
    cq->head = (uint16_t)val;
    if (m->cfg.mode == NVME_MODEL_IMMEDIATE)
        nm_process(m, m->cfg.irq_in_doorbell);
    else
        nm_flush_backlog(m);
}

static void write_cqe(struct nvme_model *m, uint16_t cqid, const struct nm_cqe *e)
{
    struct nm_cq *cq = &m->cq[cqid];
    uint8_t b[16];
    uint32_t phase = (uint32_t)(cq->phase ^ (e->bad_phase ? 1u : 0u));

    nm_put32(b, e->dw0);
    nm_put32(b + 4, e->dw1);
    nm_put32(b + 8, (uint32_t)e->sqhd | ((uint32_t)e->sqid << 16));
    nm_put32(b + 12, (uint32_t)e->cid | (phase << 16) | ((uint32_t)(e->status & 0x7fffu) << 17));
    sim_dma_write(m->s, cq->base + (uint64_t)cq->tail * 16u, b, sizeof(b));
    cq->tail = (uint16_t)((cq->tail + 1u) % cq->size);
    if (cq->tail == 0)
        cq->phase ^= 1u;
    m->st.cqes_posted[cqid]++;
    if (!e->no_irq && cq->ien) {
        cq->irq_pending = true;
        m->irq_work = true;
    }
}

static void backlog_add(struct nvme_model *m, uint16_t cqid, const struct nm_cqe *e, uint64_t delay)
{
    unsigned i;

    for (i = 0; i < NM_MAX_BACKLOG; i++) {
        struct nm_pend *p = &m->backlog[i];
        if (p->used)
            continue;
        *p = (struct nm_pend){true, cqid, m->s->now_us + delay, m->seq++, *e};
        m->backlog_n++;
        if (m->backlog_n > m->st.backlog_max)
            m->st.backlog_max = m->backlog_n;
        return;
    }
    sim_violation(m->s, "nvme model: completion backlog overflow (model limit)");
}

void nm_post(struct nvme_model *m, uint16_t cqid, const struct nm_cqe *e, uint64_t delay_us)
{
    struct nm_cq *cq;

    /* A CQE_WRONG_CQ fault may name any queue id: range-check before indexing. */
    if (cqid > NM_MAX_QID || !m->cq[cqid].exists) {
        m->st.cqes_dropped++;
        return;
    }
    cq = &m->cq[cqid];
    if (delay_us == 0 && backlog_for(m, cqid) == 0 && cq_free(cq) > 0 && bus_master_on(m))
        write_cqe(m, cqid, e);
    else
        backlog_add(m, cqid, e, delay_us);
}

/* Oldest due backlog entry whose CQ has room (per-CQ order is preserved by the sequence). */
static int backlog_next(struct nvme_model *m)
{
    int best = -1;
    unsigned i;

    for (i = 0; i < NM_MAX_BACKLOG; i++) {
        const struct nm_pend *p = &m->backlog[i];
        if (!p->used || p->at > m->s->now_us)
            continue;
        if (!m->cq[p->cqid].exists || cq_free(&m->cq[p->cqid]) == 0)
            continue;
        if (best < 0 || p->seq < m->backlog[best].seq)
            best = (int)i;
    }
    return best;
}

static void backlog_drop_dead(struct nvme_model *m)
{
    unsigned i;

    for (i = 0; i < NM_MAX_BACKLOG; i++) {
        if (m->backlog[i].used && !m->cq[m->backlog[i].cqid].exists) {
            m->backlog[i].used = false;
            m->backlog_n--;
            m->st.cqes_dropped++;
        }
    }
}

void nm_flush_backlog(struct nvme_model *m)
{
    int i;

    if (m->backlog_n == 0 || !nm_running(m))
        return;
    backlog_drop_dead(m);
    while (m->backlog_n > 0 && (i = backlog_next(m)) >= 0) {
        struct nm_pend *p = &m->backlog[i];
        p->used = false;
        m->backlog_n--;
        write_cqe(m, p->cqid, &p->e);
    }
}

/* ---------------------------------------------------------------------------------------- */

static void decode(struct nm_cmd *c, uint16_t sqid)
{
    const uint8_t *b = c->raw;
    uint32_t dw0 = nm_get32(b);
    unsigned i;

    c->sqid = sqid;
    c->opc = (uint8_t)dw0;
    c->fuse = (uint8_t)((dw0 >> 8) & 3u);
    c->psdt = (uint8_t)((dw0 >> 14) & 3u);
    c->cid = (uint16_t)(dw0 >> 16);
    c->nsid = nm_get32(b + 4);
    c->mptr = nm_get64(b + 16);
    c->prp1 = nm_get64(b + 24);
    c->prp2 = nm_get64(b + 32);
    for (i = 0; i < 16; i++)
        c->cdw[i] = nm_get32(b + 4u * i);
}

void nm_complete(struct nvme_model *m, const struct nm_cmd *c, const struct nm_result *r)
{
    struct nm_cqe e = {r->dw0, r->dw1, m->sq[c->sqid].head, c->sqid, c->cid, r->status,
                       false,  false};
    uint16_t cqid = m->sq[c->sqid].cqid;
    uint64_t delay = 0;
    bool dup;

    if (r->status != NM_OK)
        nm_log_error(m, c, r);
    if (!m->sq[c->sqid].exists) {
        m->st.cqes_dropped++; /* its SQ was deleted meanwhile */
        return;
    }
    if (!nm_fault_cqe(m, c, &e, &cqid, &delay))
        return;
    dup = nm_fault_cmd(m, NVME_MODEL_F_CQE_CID_DUP, c, NULL);
    nm_post(m, cqid, &e, delay);
    if (dup)
        nm_post(m, cqid, &e, delay);
}

void nm_run_and_complete(struct nvme_model *m, const struct nm_cmd *c)
{
    struct nm_result r = {0};
    uint32_t v;

    if (c->sqid == 0)
        m->st.admin_cmds[c->opc]++;
    else
        m->st.io_cmds[c->opc]++;
    /* Events a command raises or unmasks (log read, threshold change) follow its completion. */
    m->events_deferred = true;
    if (nm_fault_cmd(m, NVME_MODEL_F_STATUS, c, &v))
        r.status = (uint16_t)(v & 0x7fffu);
    else if (c->sqid == 0)
        nm_admin(m, c, &r);
    else
        nm_io(m, c, &r);
    if (!r.no_cqe && nm_fault_cmd(m, NVME_MODEL_F_STATUS_FLAGS, c, &v))
        r.status = (uint16_t)(r.status | (v & 0x7800u));
    if (!r.no_cqe)
        nm_complete(m, c, &r);
    m->events_deferred = false;
    nm_events_deliver(m);
}

static bool take_abort(struct nvme_model *m, const struct nm_cmd *c)
{
    unsigned i;

    for (i = 0; i < m->aborts_n; i++) {
        if (m->aborts[i].sqid == c->sqid && m->aborts[i].cid == c->cid) {
            m->aborts[i] = m->aborts[--m->aborts_n];
            return true;
        }
    }
    return false;
}

static void hold(struct nvme_model *m, const struct nm_cmd *c)
{
    unsigned i;

    for (i = 0; i < NM_MAX_HELD; i++) {
        if (!m->held[i].used) {
            m->held[i].used = true;
            m->held[i].cmd = *c;
            return;
        }
    }
    sim_violation(m->s, "nvme model: too many held commands (model limit)");
}

void nm_execute(struct nvme_model *m, const struct nm_cmd *c)
{
    if (nm_fault_cmd(m, NVME_MODEL_F_CFS_ON_COMMAND, c, NULL)) {
        m->csts |= NM_CSTS_CFS;
        m->halted = true;
        return;
    }
    if (take_abort(m, c)) {
        struct nm_result r = {.status =
                                  NM_ST(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_ABORT_REQUESTED)};
        nm_complete(m, c, &r);
        return;
    }
    if (nm_fault_cmd(m, NVME_MODEL_F_CMD_HANG, c, NULL)) {
        hold(m, c);
        return;
    }
    nm_run_and_complete(m, c);
}

static bool fetch_one(struct nvme_model *m, uint16_t qid)
{
    struct nm_sq *sq = &m->sq[qid];
    struct nm_cmd c;

    if (!sq->exists || sq->head == sq->tail || !nm_running(m))
        return false;
    if (m->cfg.mode == NVME_MODEL_DEFERRED && sq->avail_at[sq->head] > m->s->now_us)
        return false;
    if (!m->cq[sq->cqid].exists || cq_free(&m->cq[sq->cqid]) <= backlog_for(m, sq->cqid))
        return false; /* CQ full: back-pressure, spec 4.1 */
    memset(&c, 0, sizeof(c));
    sim_dma_read(m->s, sq->base + (uint64_t)sq->head * 64u, c.raw, sizeof(c.raw));
    sq->head = (uint16_t)((sq->head + 1u) % sq->size);
    m->st.sqes_fetched[qid]++;
    decode(&c, qid);
    nm_execute(m, &c);
    return true;
}

static unsigned process_pass(struct nvme_model *m)
{
    unsigned qid, n = 0;

    nm_flush_backlog(m);
    for (qid = 0; qid <= NM_MAX_QID; qid++)
        while (fetch_one(m, (uint16_t)qid))
            n++;
    return n;
}

static bool any_available(const struct nvme_model *m)
{
    unsigned qid;

    for (qid = 0; qid <= NM_MAX_QID; qid++)
        if (m->sq[qid].exists && m->sq[qid].head != m->sq[qid].tail)
            return true;
    return false;
}

unsigned nm_process(struct nvme_model *m, bool deliver_irqs)
{
    unsigned n = 0;

    if (m->in_process) {
        m->rerun = true; /* a nested doorbell: the outer loop picks it up */
        return 0;
    }
    if (m->removed || !bus_master_on(m))
        return 0;
    m->in_process = true;
    do {
        m->rerun = false;
        n += process_pass(m);
    } while (m->rerun);
    m->in_process = false;
    m->deferred_work = any_available(m);
    if (deliver_irqs)
        nm_deliver_irqs(m);
    return n;
}

/* ---------------------------------------------------------------------------------------- */

static bool intx_disabled(const struct nvme_model *m)
{
    return (m->fn->cfg[0x05] & 0x04) != 0;
}

static void signal_vector(struct nvme_model *m, unsigned v)
{
    int h;

    m->st.irqs[v]++;
    if (m->has_msix && sim_msix_enabled(&m->msix)) {
        sim_msix_fire(&m->msix, v);
        return;
    }
    if (intx_disabled(m))
        return;
    if (v < 32 && (m->intms & (1u << v))) {
        m->intx_pending[v] = true;
        m->st.irqs_masked++;
        return;
    }
    h = sim_irq_find(m->s, KEEL_IRQ_PCI_INTX, m->cfg.pci, 1);
    m->st.intx_raised++;
    if (h >= 0)
        sim_irq_raise(m->s, h);
}

void nm_deliver_irqs(struct nvme_model *m)
{
    uint64_t vecs = m->irq_kick;
    unsigned i;

    if (!m->irq_work || m->removed)
        return;
    m->irq_work = false;
    m->irq_kick = 0;
    for (i = 0; i <= NM_MAX_QID; i++) {
        struct nm_cq *cq = &m->cq[i];
        if (cq->exists && cq->irq_pending && cq->vector < 64)
            vecs |= 1ull << cq->vector;
        cq->irq_pending = false;
    }
    for (i = 0; i < 64; i++)
        if (vecs & (1ull << i))
            signal_vector(m, i);
}

void nm_intx_unmasked(struct nvme_model *m, uint32_t bits)
{
    unsigned v;

    for (v = 0; v < 32; v++) {
        if ((bits & (1u << v)) && m->intx_pending[v]) {
            m->intx_pending[v] = false;
            m->irq_kick |= 1ull << v;
            m->irq_work = true;
        }
    }
    if (m->irq_work && m->cfg.irq_in_doorbell)
        nm_deliver_irqs(m);
}

void nm_poller(void *arg)
{
    struct nvme_model *m = arg;

    if (m->removed)
        return;
    if (m->trans != NM_TRANS_NONE)
        nm_poll_transitions(m);
    if (m->backlog_n > 0)
        nm_flush_backlog(m);
    if (m->cfg.mode == NVME_MODEL_DEFERRED && m->deferred_work && !m->in_process)
        nm_process(m, false);
    if (m->irq_work && !m->in_process)
        nm_deliver_irqs(m);
}

void nvme_model_set_mode(struct nvme_model *m, enum nvme_model_mode mode, uint32_t latency_us)
{
    m->cfg.mode = mode;
    m->cfg.latency_us = latency_us;
    m->deferred_work = any_available(m);
}

unsigned nvme_model_process(struct nvme_model *m)
{
    unsigned n;

    nm_poll_transitions(m);
    n = nm_process(m, true);
    return n;
}

void nvme_model_release_held(struct nvme_model *m)
{
    unsigned i;

    for (i = 0; i < NM_MAX_HELD; i++) {
        if (m->held[i].used) {
            struct nm_cmd c = m->held[i].cmd;
            m->held[i].used = false;
            if (m->sq[c.sqid].exists)
                nm_run_and_complete(m, &c);
        }
    }
    nm_deliver_irqs(m); /* test context: no driver MMIO write is in progress */
}

unsigned nvme_model_cmds_held(const struct nvme_model *m)
{
    unsigned i, n = 0;

    for (i = 0; i < NM_MAX_HELD; i++)
        n += m->held[i].used ? 1u : 0u;
    return n;
}
