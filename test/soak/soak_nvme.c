/* SPDX-License-Identifier: MIT */
/*
 * soak_nvme.c - the NVMe driver against the controller model, for the soak. Faults: every one of
 * enum nvme_model_fault that the driver recovers from or fails a request cleanly on (I/O queues
 * only, so bring-up and resets are not made to fail for good): controller fatal status mid-I/O, a
 * single all-ones register read, lost, held, delayed, phase-inverted, duplicated and misdirected
 * completions, bogus CIDs / SQ heads / SQIDs, error statuses with and without DNR, lost
 * interrupts, stuck AERs; and at bring-up lying Identify data that must not matter (MDTS, NN,
 * NLBAF, VER) and a small CAP.MQES.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/error.h>
#include <keel/nvme.h>

#include "nvme_model.h"
#include "soak.h"

struct nv {
    struct soak_rng rng; /* for the occasional thermal event */
    bool hot;
    struct nvme_model_cfg mc;
    struct keel_nvme_config cfg;
    struct nvme_model *m;
    struct keel_nvme_ctrl *c;
    uint16_t nq;
};

static struct nv *nv_of(struct soak_target *t)
{
    return t->priv;
}

static void nv_media_read(struct soak_target *t, uint64_t off, void *out, size_t len)
{
    uint64_t bytes = 0;
    uint8_t *m = nvme_model_media(nv_of(t)->m, 1, &bytes);

    if (m == NULL || off > bytes || len > bytes - off) {
        memset(out, 0, len);
        return;
    }
    memcpy(out, m + off, len);
}

static void nv_service(struct soak_target *t)
{
    struct nv *n = nv_of(t);

    /* now and then cross the temperature threshold: an asynchronous event, its log page read */
    if (soak_chance(&n->rng, 1, 100)) {
        n->hot = !n->hot;
        nvme_model_set_temperature(n->m, n->hot ? 350 : 310);
    }
    (void)keel_nvme_service(n->c);
}

static bool nv_alive(struct soak_target *t)
{
    return keel_nvme_life(nv_of(t)->c) == KEEL_NVME_LIFE_LIVE;
}

static void nv_recoveries(struct soak_target *t, uint64_t out[SOAK_MAX_REC])
{
    const struct keel_nvme_stats *st = keel_nvme_stats(nv_of(t)->c);

    out[0] = st->resets;
    out[1] = st->aborts;
    out[2] = st->timeouts;
    out[3] = st->timeouts_polled;
    out[4] = st->retries;
    out[5] = st->protocol_errors;
    out[6] = st->reset_failures;
}

static void nv_quiesce(struct soak_target *t)
{
    nvme_model_set_mode(nv_of(t)->m, NVME_MODEL_IMMEDIATE, 0);
    nvme_model_release_held(nv_of(t)->m);
}

static void nv_dump(struct soak_target *t)
{
    struct nv *n = nv_of(t);
    unsigned i;

    fprintf(stderr, "  controller: life %u, csts 0x%x\n", (unsigned)keel_nvme_life(n->c),
            (unsigned)nvme_model_csts(n->m));
    for (i = 0; i < n->nq; i++) {
        const struct keel_nvme_qpair *q = &n->c->io[i];
        struct nvme_model_qinfo qi;
        (void)nvme_model_sq_info(n->m, (uint16_t)(i + 1u), &qi);
        fprintf(stderr,
                "  queue %u: driver sq head %u tail %u of %u, free slots %u of %u, waiting %s; "
                "device sq head %u tail %u\n",
                i, (unsigned)q->sq_head, (unsigned)q->sq_tail, (unsigned)q->entries,
                (unsigned)q->nfree, (unsigned)q->nslots, q->waiting != NULL ? "yes" : "no",
                (unsigned)qi.head, (unsigned)qi.tail);
    }
}

static bool nv_teardown(struct soak_target *t)
{
    struct nv *n = nv_of(t);
    int rc = keel_nvme_detach(n->c);

    nvme_model_destroy(n->m);
    free(n->c);
    free(n);
    return rc == KEEL_OK;
}

/* ---- fault parameters ---- */

static uint64_t p_io(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    (void)r;
    return NVME_MODEL_FP_IO;
}

static uint64_t p_none(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    (void)r;
    return 0;
}

static uint64_t p_delay(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    /* within the request timeout, within the abort wait, or far beyond */
    static const uint32_t us[4] = {50000u, 150000u, 1100000u, 5000000u};
    return NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(us[soak_below(r, 4)]);
}

static uint64_t p_cid(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(soak_below(r, 0x10000));
}

static uint64_t p_status(struct soak_target *t, struct soak_rng *r)
{
    static const uint8_t sc[6][2] = {
        {NVME_MODEL_SCT_MEDIA, NVME_MODEL_SC_UNRECOVERED_READ},
        {NVME_MODEL_SCT_MEDIA, NVME_MODEL_SC_WRITE_FAULT},
        {NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_NS_NOT_READY},
        {NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_DATA_XFER_ERROR},
        {NVME_MODEL_SCT_GENERIC, 0x06}, /* internal error */
        {NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_INVALID_FIELD},
    };
    unsigned i = soak_below(r, 6);

    (void)t;
    return NVME_MODEL_FP_IO | NVME_MODEL_FP_STATUS(sc[i][0], sc[i][1], soak_chance(r, 1, 3));
}

static uint64_t p_wrong_cq(struct soak_target *t, struct soak_rng *r)
{
    return NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(soak_below(r, nv_of(t)->nq + 1u));
}

static uint64_t p_sqid(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return NVME_MODEL_FP_IO | (soak_chance(r, 1, 2) ? 0 : NVME_MODEL_FP_VALUE(soak_below(r, 70)));
}

static uint64_t p_sqhd(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return NVME_MODEL_FP_IO | (soak_chance(r, 1, 2) ? 0 : NVME_MODEL_FP_VALUE(soak_below(r, 80)));
}

static void nv_faults(struct soak_target *t)
{
    soak_add_fault(t, NVME_MODEL_F_CFS_ON_COMMAND, "cfs-on-command", 1, p_io);
    soak_add_fault(t, NVME_MODEL_F_READ_ALL_ONES, "all-ones-glitch", 1, p_none);
    soak_add_fault(t, NVME_MODEL_F_CQE_LOST, "cqe-lost", 2, p_io);
    soak_add_fault(t, NVME_MODEL_F_CMD_HANG, "cmd-hang", 2, p_io);
    soak_add_fault(t, NVME_MODEL_F_CQE_DELAY, "cqe-delay", 3, p_delay);
    soak_add_fault(t, NVME_MODEL_F_IRQ_LOST, "irq-lost", 4, p_io);
    soak_add_fault(t, NVME_MODEL_F_CQE_BAD_PHASE, "cqe-bad-phase", 1, p_io);
    soak_add_fault(t, NVME_MODEL_F_CQE_CID_INVALID, "cqe-cid-invalid", 2, p_cid);
    soak_add_fault(t, NVME_MODEL_F_CQE_CID_DUP, "cqe-cid-dup", 3, p_io);
    soak_add_fault(t, NVME_MODEL_F_CQE_BAD_SQHD, "cqe-bad-sqhd", 3, p_sqhd);
    soak_add_fault(t, NVME_MODEL_F_STATUS, "status", 5, p_status);
    soak_add_fault(t, NVME_MODEL_F_CQE_WRONG_SQID, "cqe-wrong-sqid", 1, p_sqid);
    soak_add_fault(t, NVME_MODEL_F_CQE_WRONG_CQ, "cqe-wrong-cq", 1, p_wrong_cq);
    soak_add_fault(t, NVME_MODEL_F_AER_STUCK, "aer-stuck", 3, p_none);
}

/* Bring-up faults that must change nothing visible: armed for the whole round. */
static void nv_bringup_faults(struct soak_target *t, struct nv *n, struct soak_rng *r)
{
    if (soak_chance(r, 1, 6) && !soak_excluded(NVME_MODEL_F_ID_VER)) {
        sim_fault_arm(t->s, NVME_MODEL_F_ID_VER, 0, UINT32_MAX, NVME_MODEL_FP_VALUE(0x00010000));
        soak_cfg(t, " id-ver-lie");
    }
    if (soak_chance(r, 1, 6) && !soak_excluded(NVME_MODEL_F_ID_NLBAF_HUGE)) {
        sim_fault_arm(t->s, NVME_MODEL_F_ID_NLBAF_HUGE, 0, UINT32_MAX, 0);
        soak_cfg(t, " nlbaf-huge");
    }
    if (soak_chance(r, 1, 6) && !soak_excluded(NVME_MODEL_F_ID_MDTS_HUGE)) {
        n->mc.mdts = 0;
        sim_fault_arm(t->s, NVME_MODEL_F_ID_MDTS_HUGE, 0, UINT32_MAX, 0);
        soak_cfg(t, " mdts-huge");
    }
    if (soak_chance(r, 1, 8) && !soak_excluded(NVME_MODEL_F_ID_NN_HUGE)) {
        sim_fault_arm(t->s, NVME_MODEL_F_ID_NN_HUGE, 0, UINT32_MAX, 0);
        soak_cfg(t, " nn-huge");
    }
    if (soak_chance(r, 1, 8) && !soak_excluded(NVME_MODEL_F_CAP_MQES)) {
        uint32_t mqes = 1u + soak_below(r, 8);
        sim_fault_arm(t->s, NVME_MODEL_F_CAP_MQES, 0, UINT32_MAX, NVME_MODEL_FP_VALUE(mqes));
        soak_cfg(t, " mqes=%u", (unsigned)mqes);
    }
}

bool soak_nvme_setup(struct soak_target *t, struct soak_rng *r)
{
    static const uint16_t depths[6] = {2, 4, 8, 16, 32, 64};
    static const char *const irqs[4] = {"auto", "poll", "msix", "intx"};
    struct nv *n = calloc(1, sizeof(*n));
    unsigned lba_shift = soak_chance(r, 1, 2) ? 12u : 9u, irq = soak_below(r, 4);
    struct keel_nvme_ns *ns;
    int rc;

    if (n == NULL)
        return false;
    t->priv = n;
    n->rng.s = soak_rnd(r);
    t->s = sim_create_sized(24u << 20, 64u << 20);
    if (t->s == NULL)
        return false;
    t->s->map_mode = soak_map_mode(r);
    t->s->tick_us = soak_chance(r, 1, 2) ? 1u : 4u;
    nvme_model_cfg_default(&n->mc);
    n->mc.bar0_addr = 0xfe000000ull;
    n->mc.ns[0].flbas = lba_shift == 12u ? 2 : 0;
    n->mc.ns[0].nsze = (8u << 20) >> lba_shift;
    n->mc.vwc = soak_chance(r, 3, 4);
    if (soak_chance(r, 1, 2)) {
        n->mc.mode = NVME_MODEL_DEFERRED;
        n->mc.latency_us = 1u + soak_below(r, 40);
    }
    n->cfg.pci = n->mc.pci;
    n->cfg.io_queues = (uint16_t)(1u + soak_below(r, 4));
    n->cfg.queue_depth = depths[soak_below(r, 6)];
    n->cfg.irq_mode = (uint8_t)irq;
    n->cfg.admin_timeout_us = 250000u;
    soak_cfg(t, "lba %u, %u queues x %u, irq %s, map %d, %s%s", 1u << lba_shift,
             (unsigned)n->cfg.io_queues, (unsigned)n->cfg.queue_depth, irqs[irq],
             (int)t->s->map_mode, n->mc.mode == NVME_MODEL_DEFERRED ? "deferred" : "immediate",
             n->mc.vwc ? ", write cache" : "");
    nv_bringup_faults(t, n, r);
    n->m = nvme_model_create(t->s, &n->mc);
    n->c = calloc(1, sizeof(*n->c));
    if (n->m == NULL || n->c == NULL)
        return false;
    rc = keel_nvme_attach(n->c, &t->s->hal, &n->cfg);
    if (rc != KEEL_OK) {
        soak_cfg(t, ": attach %s", keel_strerror(rc));
        nvme_model_destroy(n->m);
        free(n->c);
        free(n);
        return false;
    }
    ns = keel_nvme_ns_find(n->c, 1);
    t->bd = ns != NULL ? keel_nvme_ns_blkdev(ns) : NULL;
    if (t->bd == NULL) {
        (void)keel_nvme_detach(n->c);
        nvme_model_destroy(n->m);
        free(n->c);
        free(n);
        return false;
    }
    n->nq = (uint16_t)keel_nvme_io_queue_count(n->c);
    t->media_read = nv_media_read;
    t->service = nv_service;
    t->alive = nv_alive;
    t->recoveries = nv_recoveries;
    t->quiesce = nv_quiesce;
    t->teardown = nv_teardown;
    t->dump = nv_dump;
    t->rec_names[0] = "resets";
    t->rec_names[1] = "aborts";
    t->rec_names[2] = "timeouts";
    t->rec_names[3] = "timeouts-polled";
    t->rec_names[4] = "retries";
    t->rec_names[5] = "protocol-errors";
    t->rec_names[6] = "reset-failures";
    nv_faults(t);
    return true;
}
