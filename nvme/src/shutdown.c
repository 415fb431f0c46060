/* SPDX-License-Identifier: MIT */
/*
 * Detach with an orderly hand-off (spec 7.6.2): drain, flush a volatile write cache, delete the I/O
 * queues, normal shutdown through CC.SHN and wait for CSTS.SHST = complete, bounded by RTD3E
 * clamped to [KEEL_CONFIG_NVME_SHUTDOWN_MIN_US, KEEL_CONFIG_NVME_SHUTDOWN_MAX_US] (like Linux:
 * RTD3E = 0 or tiny gets the floor, absurd values the ceiling). The next OS then finds a controller
 * that shut down cleanly, not one with live queues.
 */
#include "nvme_priv.h"

#include <keel/endian.h>

static bool queues_idle(const struct keel_nvme_ctrl *c)
{
    unsigned i;

    for (i = 0; i < c->nr_io; i++)
        if (keel_nvme_qpair_busy(&c->io[i]) != 0u || c->io[i].waiting != NULL)
            return false;
    return true;
}

static void drain(struct keel_nvme_ctrl *c)
{
    struct keel_deadline d = keel_deadline_in(c->hal, c->admin_timeout_us);
    unsigned i;

    while (nvme_live(c) && !queues_idle(c)) {
        for (i = 0; i < c->nr_io; i++)
            (void)keel_nvme_io_poll(&c->io[i], 0);
        if (keel_deadline_passed(c->hal, d))
            break;
        keel_delay_us(c->hal, KEEL_CONFIG_NVME_POLL_INTERVAL_US);
    }
}

static void flush_all(struct keel_nvme_ctrl *c)
{
    unsigned i;

    if (!(c->vwc & 1u))
        return;
    for (i = 0; i < c->ns_count && nvme_live(c); i++) {
        struct keel_nvme_ns *ns = &c->ns[i];
        int rc;

        if (ns->refusal != KEEL_NVME_NS_OK || ns->write_protected)
            continue;
        rc = keel_blk_flush(&ns->blk, 0, c->admin_timeout_us);
        if (rc != KEEL_OK)
            KEEL_LOGW(c->hal, "nvme%un%u: flush at shutdown failed: %d", (unsigned)c->cfg.index,
                      (unsigned)ns->nsid, rc);
    }
}

static void delete_queue(struct keel_nvme_ctrl *c, uint8_t opc, uint16_t qid)
{
    struct keel_nvme_sqe cmd = {0};
    int rc;

    cmd.opc = opc;
    cmd.cdw10 = keel_cpu_to_le32(qid);
    rc = keel_nvme_admin_sync(c, &cmd, NULL, NULL, NULL, 0);
    if (rc != KEEL_OK)
        KEEL_LOGW(c->hal, "nvme%u: deleting queue %u failed: %d", (unsigned)c->cfg.index,
                  (unsigned)qid, rc);
}

static void delete_queues(struct keel_nvme_ctrl *c)
{
    unsigned i;

    /* Every SQ before its CQ (5.5: a CQ with SQs still attached may not be deleted). */
    for (i = c->nr_io; i > 0u && nvme_live(c); i--)
        delete_queue(c, KEEL_NVME_ADM_DELETE_SQ, (uint16_t)i);
    for (i = c->nr_io; i > 0u && nvme_live(c); i--)
        delete_queue(c, KEEL_NVME_ADM_DELETE_CQ, (uint16_t)i);
}

static uint32_t shutdown_timeout_us(const struct keel_nvme_ctrl *c)
{
    uint32_t t = c->rtd3e_us;

    if (t < KEEL_CONFIG_NVME_SHUTDOWN_MIN_US)
        t = KEEL_CONFIG_NVME_SHUTDOWN_MIN_US;
    if (t > KEEL_CONFIG_NVME_SHUTDOWN_MAX_US)
        t = KEEL_CONFIG_NVME_SHUTDOWN_MAX_US;
    return t;
}

static int shutdown_ctrl(struct keel_nvme_ctrl *c)
{
    uint32_t cc = keel_nvme_rd32(c, KEEL_NVME_REG_CC), csts;
    struct keel_deadline d;

    if (keel_nvme_csts_gone(cc) && keel_nvme_csts_gone(keel_nvme_csts(c)))
        return KEEL_ENODEV;
    keel_nvme_wr32(c, KEEL_NVME_REG_CC, (cc & ~KEEL_NVME_CC_SHN_MASK) | KEEL_NVME_CC_SHN_NORMAL);
    d = keel_deadline_in(c->hal, shutdown_timeout_us(c));
    for (;;) {
        csts = keel_nvme_csts(c);
        if (keel_nvme_csts_gone(csts))
            return KEEL_ENODEV;
        if ((csts & KEEL_NVME_CSTS_SHST_MASK) == KEEL_NVME_CSTS_SHST_COMPLETE)
            return KEEL_OK;
        if (keel_deadline_passed(c->hal, d))
            return KEEL_ETIMEDOUT;
        keel_delay_us(c->hal, KEEL_CONFIG_NVME_POLL_INTERVAL_US);
    }
}

int keel_nvme_detach(struct keel_nvme_ctrl *ctrl)
{
    int rc = KEEL_OK;

    if (ctrl == NULL)
        return KEEL_EINVAL;
    if (ctrl->life == KEEL_NVME_LIFE_DOWN)
        return KEEL_OK; /* never attached, or bring-up failed and cleaned up */
    if (ctrl->life == KEEL_NVME_LIFE_LIVE) {
        drain(ctrl);
        flush_all(ctrl);
        delete_queues(ctrl);
    }
    if (ctrl->life == KEEL_NVME_LIFE_LIVE || ctrl->life == KEEL_NVME_LIFE_INIT) {
        rc = shutdown_ctrl(ctrl);
        if (rc == KEEL_ETIMEDOUT) {
            KEEL_LOGW(ctrl->hal, "nvme%u: shutdown did not complete; disabling",
                      (unsigned)ctrl->cfg.index);
            (void)keel_nvme_disable(ctrl);
        }
    } else {
        rc = KEEL_ENODEV; /* gone or failed: no orderly shutdown was possible */
    }
    keel_nvme_irq_teardown(ctrl);
    ctrl->life = KEEL_NVME_LIFE_DOWN;
    /* Hand-off: the memory we give back must never see a DMA from this function again. */
    if (ctrl->bme_on)
        keel_nvme_bus_master(ctrl, false);
    /* Shut down and cut off the bus: whatever is left can be completed and unmapped. */
    keel_nvme_reclaim_all(ctrl, false, KEEL_ECANCELED);
    keel_nvme_mark_namespaces_gone(ctrl);
    keel_nvme_free_dma(ctrl);
    ctrl->init.state = KEEL_NVME_INIT_NONE;
    return rc;
}
