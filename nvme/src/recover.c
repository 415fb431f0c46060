/* SPDX-License-Identifier: MIT */
/*
 * Timeouts and recovery, escalating like Linux's nvme_timeout():
 *   1. CSTS: all-ones means the device is gone (fail everything, it cannot DMA any more);
 *      CFS means only a reset helps.
 *   2. Poll the completion queue: the command may have completed with its interrupt lost.
 *   3. Abort it (within the controller's Abort Command Limit) and give the abort the admin timeout.
 *   4. Reset the controller: disable it (or cut bus mastering when it will not stop), and only then
 *      complete or resubmit what was in flight, so no buffer is released while the device may
 *      still write it. Then bring the queues back with the same init steps as attach.
 */
#include "nvme_priv.h"

#include <keel/endian.h>

static void reclaim_admin(struct keel_nvme_ctrl *c, int err)
{
    struct keel_nvme_qpair *q = &c->admin;
    unsigned i;

    for (i = 0; i < q->nslots; i++) {
        struct keel_nvme_slot *s = &q->slots[i];
        struct keel_nvme_admin_wait *w;

        if (s->state == NVME_SLOT_FREE)
            continue;
        w = s->kind == NVME_KIND_WAIT ? s->owner : NULL;
        keel_nvme_slot_release(q, s);
        if (w != NULL) {
            w->err = err;
            w->done = true;
        }
    }
    c->aer_outstanding = 0;
    c->aborts_outstanding = 0;
    c->aer_log_busy = false;
    q->next_check_us = UINT64_MAX;
}

static void reclaim_io(struct keel_nvme_qpair *q, bool resubmit, int err)
{
    unsigned i;

    for (i = 0; i < q->nslots; i++) {
        struct keel_nvme_slot *s = &q->slots[i];

        if (s->state == NVME_SLOT_FREE)
            continue;
        if (s->flags & NVME_SF_TIMED_OUT) {
            keel_nvme_io_fail_slot(q, s, KEEL_ETIMEDOUT);
        } else if (resubmit && s->retries < KEEL_CONFIG_NVME_MAX_RETRIES) {
            /* Mapping and PRP lists stay: the same command goes to the new queue. */
            s->retries++;
            keel_blk_note_retry(s->owner);
            s->state = NVME_SLOT_RESUBMIT;
        } else {
            keel_nvme_io_fail_slot(q, s, err);
        }
    }
    q->next_check_us = UINT64_MAX;
}

void keel_nvme_reclaim_all(struct keel_nvme_ctrl *c, bool resubmit, int err)
{
    unsigned i;

    if (c->admin.slots != NULL)
        reclaim_admin(c, err);
    for (i = 0; i < KEEL_CONFIG_NVME_MAX_IO_QUEUES; i++) {
        if (!c->io[i].created)
            continue;
        reclaim_io(&c->io[i], resubmit, err);
        if (!resubmit)
            keel_nvme_io_fail_waiting(&c->io[i], err);
    }
}

void keel_nvme_ctrl_gone(struct keel_nvme_ctrl *c)
{
    if (c->life == KEEL_NVME_LIFE_GONE)
        return;
    KEEL_LOGE(c->hal, "nvme%u: registers read all-ones: device gone", (unsigned)c->cfg.index);
    c->life = KEEL_NVME_LIFE_GONE;
    /* A removed device performs no DMA: its requests can be completed now. */
    keel_nvme_reclaim_all(c, false, KEEL_ENODEV);
    keel_nvme_mark_namespaces_gone(c);
}

static void resubmit_survivors(struct keel_nvme_ctrl *c)
{
    unsigned i, k;

    for (i = 0; i < c->nr_io; i++) {
        struct keel_nvme_qpair *q = &c->io[i];

        for (k = 0; k < q->nslots; k++) {
            struct keel_nvme_slot *s = &q->slots[k];

            if (s->state != NVME_SLOT_RESUBMIT)
                continue;
            s->state = NVME_SLOT_ACTIVE;
            s->deadline_us = nvme_deadline_after(c, s->timeout_us);
            keel_nvme_track_deadline(q, s->deadline_us);
            keel_nvme_sq_push(q, s);
        }
        keel_nvme_sq_ring(q);
    }
}

static void reset_failed(struct keel_nvme_ctrl *c)
{
    unsigned i;

    c->stats.reset_failures++;
    if (c->bme_on && c->life != KEEL_NVME_LIFE_GONE) {
        (void)keel_nvme_disable(c);
        keel_nvme_bus_master(c, false);
    }
    if (c->life != KEEL_NVME_LIFE_GONE)
        c->life = KEEL_NVME_LIFE_FAILED;
    keel_nvme_reclaim_all(c, false, KEEL_ENODEV);
    for (i = 0; i < KEEL_CONFIG_NVME_MAX_IO_QUEUES; i++)
        if (c->io[i].created)
            keel_nvme_io_fail_waiting(&c->io[i], KEEL_ENODEV);
    keel_nvme_mark_namespaces_gone(c);
    c->init.state = KEEL_NVME_INIT_FAILED;
}

/*
 * The last resort of a blocking helper whose request is still in flight after its deadline and a
 * reset (the reset could not run: one is already under way elsewhere). What a failed reset does:
 * disable the controller or cut bus mastering, then complete everything in flight, so no request
 * can complete later and no buffer can be written after its owner returned. A detached controller
 * (DOWN) completed everything when it went down.
 */
void keel_nvme_fence(struct keel_nvme_ctrl *c)
{
    if (c->life == KEEL_NVME_LIFE_DOWN)
        return;
    KEEL_LOGE(c->hal, "nvme%u: a blocking request outlived recovery: failing the controller",
              (unsigned)c->cfg.index);
    reset_failed(c);
}

int keel_nvme_reset_now(struct keel_nvme_ctrl *c, bool resubmit)
{
    int rc;

    if (c->in_reset)
        return KEEL_EBUSY;
    if (c->life != KEEL_NVME_LIFE_LIVE)
        return c->life == KEEL_NVME_LIFE_DOWN ? KEEL_EINVAL : KEEL_ENODEV;
    c->in_reset = true;
    c->reset_pending = false;
    c->life = KEEL_NVME_LIFE_RESETTING;
    c->stats.resets++;
    KEEL_LOGW(c->hal, "nvme%u: resetting controller", (unsigned)c->cfg.index);
    rc = keel_nvme_disable(c);
    if (rc == KEEL_ENODEV) {
        keel_nvme_ctrl_gone(c);
        c->in_reset = false;
        return KEEL_ENODEV;
    }
    /* Disabled, or bus mastering off: nothing in flight can be touched by the device now. */
    keel_nvme_reclaim_all(c, resubmit && rc == KEEL_OK, KEEL_ECANCELED);
    if (rc == KEEL_OK) {
        c->init.reset = true;
        c->init.state = KEEL_NVME_INIT_ENABLE;
        c->init.issued = false;
        c->init.cmds = 0;
        rc = keel_nvme_init_run(c);
    }
    if (rc != KEEL_OK) {
        KEEL_LOGE(c->hal, "nvme%u: reset failed: %d", (unsigned)c->cfg.index, rc);
        if (rc == KEEL_ENODEV)
            c->life = KEEL_NVME_LIFE_GONE;
        reset_failed(c);
        c->in_reset = false;
        return rc;
    }
    c->life = KEEL_NVME_LIFE_LIVE;
    resubmit_survivors(c);
    c->in_reset = false;
    return KEEL_OK;
}

void keel_nvme_request_reset(struct keel_nvme_ctrl *c)
{
    if (c->cfg.flags & KEEL_NVME_F_DEFERRED_RESET)
        c->reset_pending = true;
    else
        (void)keel_nvme_reset_now(c, true);
}

int keel_nvme_reset(struct keel_nvme_ctrl *ctrl)
{
    if (ctrl == NULL)
        return KEEL_EINVAL;
    return keel_nvme_reset_now(ctrl, false);
}

/* ---- aborts -------------------------------------------------------------------------------- */

static bool send_abort(struct keel_nvme_ctrl *c, struct keel_nvme_qpair *q,
                       struct keel_nvme_slot *s)
{
    struct keel_nvme_sqe cmd = {0};
    uintptr_t st;
    int rc;

    if (c->aborts_outstanding > c->acl) /* ACL is 0-based */
        return false;
    cmd.opc = KEEL_NVME_ADM_ABORT;
    cmd.cdw10 = keel_cpu_to_le32(q->qid | ((uint32_t)keel_le16_to_cpu(s->sqe.cid) << 16));
    st = keel_nvme_admin_lock(c);
    rc = keel_nvme_admin_submit(c, &cmd, NULL, NVME_KIND_ABORT, NULL, c->admin_timeout_us, NULL);
    if (rc == KEEL_OK)
        c->aborts_outstanding++;
    keel_nvme_admin_unlock(c, st);
    if (rc != KEEL_OK)
        return false;
    c->stats.aborts++;
    return true;
}

void keel_nvme_abort_complete(struct keel_nvme_ctrl *c, struct keel_nvme_slot *s, uint16_t status,
                              uint32_t dw0)
{
    /* DW0 bit 0 set: not aborted. Either way the command's own deadline (ABORTING) decides. */
    (void)status;
    (void)dw0;
    if (c->aborts_outstanding > 0u)
        c->aborts_outstanding--;
    keel_nvme_slot_release(&c->admin, s);
}

/* A command passed its deadline. Returns true when a reset is needed. */
static bool expire(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, unsigned *reaped)
{
    struct keel_nvme_ctrl *c = q->ctrl;
    uint16_t gen = s->gen;
    uint32_t csts;

    c->stats.timeouts++;
    csts = keel_nvme_csts(c);
    if (keel_nvme_csts_gone(csts)) {
        keel_nvme_ctrl_gone(c);
        return false;
    }
    if (csts & KEEL_NVME_CSTS_CFS) {
        s->flags |= NVME_SF_TIMED_OUT;
        return true;
    }
    *reaped += keel_nvme_cq_reap(q, 0); /* a lost interrupt leaves the entry in the CQ */
    if (s->state != NVME_SLOT_ACTIVE || s->gen != gen) {
        c->stats.timeouts_polled++;
        return false;
    }
    s->flags |= NVME_SF_TIMED_OUT;
    if (!send_abort(c, q, s))
        return true;
    s->state = NVME_SLOT_ABORTING;
    s->deadline_us = nvme_deadline_after(c, c->admin_timeout_us);
    return false;
}

static void retry_due(struct keel_nvme_qpair *q, struct keel_nvme_slot *s)
{
    if (keel_nvme_sq_full_resync(q))
        return;
    s->state = NVME_SLOT_ACTIVE;
    s->deadline_us = nvme_deadline_after(q->ctrl, s->timeout_us);
    keel_nvme_sq_push(q, s);
}

int keel_nvme_qpair_check_timeouts(struct keel_nvme_qpair *q, uint64_t now)
{
    struct keel_nvme_ctrl *c = q->ctrl;
    bool need_reset = false;
    unsigned i, reaped = 0;

    if (c->aborts_outstanding != 0u)
        keel_nvme_admin_reap(c);
    q->next_check_us = UINT64_MAX;
    for (i = 0; i < q->nslots && nvme_live(c); i++) {
        struct keel_nvme_slot *s = &q->slots[i];

        if (s->state == NVME_SLOT_FREE || s->deadline_us > now) {
            if (s->state != NVME_SLOT_FREE)
                keel_nvme_track_deadline(q, s->deadline_us);
            continue;
        }
        switch (s->state) {
        case NVME_SLOT_RETRY_WAIT:
            retry_due(q, s);
            break;
        case NVME_SLOT_ACTIVE:
            if (expire(q, s, &reaped))
                need_reset = true;
            break;
        case NVME_SLOT_ABORTING: /* the abort did not end it either */
            need_reset = true;
            break;
        default:
            break;
        }
        if (s->state != NVME_SLOT_FREE)
            keel_nvme_track_deadline(q, s->deadline_us);
    }
    if (need_reset && nvme_live(c))
        keel_nvme_request_reset(c);
    return (int)reaped;
}

int keel_nvme_check_timeouts(struct keel_nvme_ctrl *ctrl, unsigned queue)
{
    struct keel_nvme_qpair *q;
    int n;

    if (ctrl == NULL || queue >= ctrl->nr_io)
        return KEEL_EINVAL;
    if (!nvme_live(ctrl))
        return KEEL_ENODEV;
    q = &ctrl->io[queue];
    keel_nvme_q_enter(q);
    n = keel_nvme_qpair_check_timeouts(q, nvme_now(ctrl));
    keel_nvme_io_continue(q);
    keel_nvme_q_leave(q);
    return n;
}

void keel_nvme_admin_check_timeouts(struct keel_nvme_ctrl *c)
{
    struct keel_nvme_qpair *q = &c->admin;
    bool need_reset = false;
    uint64_t now = nvme_now(c);
    uintptr_t st = keel_nvme_admin_lock(c);
    unsigned i;

    /* Waiters time their own commands out; the driver's own aborts and log reads are ours. */
    for (i = 0; i < q->nslots; i++) {
        const struct keel_nvme_slot *s = &q->slots[i];
        if (s->state != NVME_SLOT_FREE && s->kind != NVME_KIND_WAIT && s->deadline_us <= now)
            need_reset = true;
    }
    keel_nvme_admin_unlock(c, st);
    if (need_reset) {
        c->stats.timeouts++;
        (void)keel_nvme_reset_now(c, true);
    }
}
