/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi device recovery: the last step of the timeout escalation, DEVICE_NEEDS_RESET, a
 * queue that broke the protocol, and detach. Only once the device reset has completed (it can no
 * longer touch a ring or a buffer) are the commands in flight taken back, their buffers unmapped
 * and their requests settled: overdue ones fail with KEEL_ETIMEDOUT, those of a queue that broke
 * the protocol with KEEL_EPROTO, the rest are resent from their first block (at most
 * KEEL_CONFIG_VSCSI_RETRIES times, then KEEL_EIO). Internal commands end with KEEL_ETIMEDOUT or
 * KEEL_ECANCELED. A device that does not even complete a reset gets bus mastering switched off on
 * PCI (the only remaining guarantee that it stops DMA); everything then fails and the adapter is
 * dead.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/pci.h>
#include <keel/str.h>
#include <keel/virtio_scsi.h>

#include "scsi_internal.h"

static void list_add(struct keel_blk_req **head, struct keel_blk_req **tail, struct keel_blk_req *r)
{
    r->next = NULL;
    if (*tail != NULL)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

/* Take back one slot the device no longer has; returns its block request, or NULL. */
static struct keel_blk_req *take_slot(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    /* A busy slot carries either a block request or an internal command, never both. */
    struct keel_blk_req *r = s->req;
    struct vscsi_icmd *ic = s->icmd;

    if (s->flags & SF_RETRY)
        keel_vscsi_retry_remove(q, s);
    keel_vscsi_slot_unmap(q, s);
    slot_lun_put(q, s); /* internal commands count on their LUN too */
    if (ic != NULL) {
        ic->err = (s->flags & SF_OVERDUE) ? KEEL_ETIMEDOUT : KEEL_ECANCELED;
        keel_vscsi_slot_put(q, s);
        ic->done = true;
        return NULL;
    }
    keel_vscsi_slot_put(q, s);
    r->priv[P_INFLIGHT]--;
    return r;
}

/* Take every request of `q` away from the device side: commands in flight, retries, pending. */
static struct keel_blk_req *collect(struct keel_vscsi_rq *q)
{
    struct keel_blk_req *list = NULL, *tail = NULL, *r, *next;
    void *token;
    uint16_t i;

    /* Ring state is forgotten: the device was reset, so nothing is in its hands. */
    while (keel_vq_detach(&q->vq, &token) == 1)
        ;
    for (i = 0; i < q->nslots; i++) {
        struct keel_vscsi_slot *s = &q->slots[i];
        if (s->req == NULL && s->icmd == NULL)
            continue;
        r = take_slot(q, s);
        if (r == NULL || (rq_flags(r) & (RF_COLLECTED | RF_PENDING)))
            continue;
        rq_set(r, RF_COLLECTED);
        list_add(&list, &tail, r);
    }
    /* Then the pending list, in order (its head may also have had pieces in flight). */
    for (r = q->pend_head; r != NULL; r = next) {
        next = r->next;
        rq_clear(r, RF_PENDING);
        if (rq_flags(r) & RF_COLLECTED)
            continue;
        rq_set(r, RF_COLLECTED);
        list_add(&list, &tail, r);
    }
    q->pend_head = q->pend_tail = NULL;
    q->retry_head = NO_SLOT;
    return list;
}

static void fail(struct keel_vscsi_rq *q, struct keel_blk_req *r, int err)
{
    r->priv[P_ERR] = 0;
    rq_note_err(r, err);
    keel_vscsi_finish(q, r);
}

/* Start `r` again from its first block, unless it already used up its resubmissions. */
static void resubmit(struct keel_vscsi_rq *q, struct keel_blk_req *r)
{
    uint32_t retries = (rq_flags(r) & RF_RETRY_MASK) >> RF_RETRY_SHIFT;

    if (retries >= KEEL_CONFIG_VSCSI_RETRIES ||
        keel_vscsi_req_lun(r)->state == KEEL_VSCSI_LUN_GONE) {
        fail(q, r, retries >= KEEL_CONFIG_VSCSI_RETRIES ? KEEL_EIO : KEEL_ENODEV);
        return;
    }
    r->priv[P_ISSUED] = 0;
    r->priv[P_INFLIGHT] = 0;
    r->priv[P_ERR] = 0;
    r->priv[P_FLAGS] = ((uintptr_t)retries + 1u) << RF_RETRY_SHIFT;
    q->vs->stats.resubmits++;
    keel_blk_note_retry(r);
    keel_vscsi_pend_push(q, r);
}

/* Decide the fate of every collected request of `q`. */
static void settle_all(struct keel_vscsi_rq *q, struct keel_blk_req *list, enum vscsi_reason why,
                       uint64_t now)
{
    struct keel_blk_req *r, *next;

    for (r = list; r != NULL; r = next) {
        next = r->next;
        rq_clear(r, RF_COLLECTED);
        switch (why) {
        case R_TIMEOUT:
            if (now >= keel_vscsi_req_deadline(r))
                fail(q, r, KEEL_ETIMEDOUT);
            else
                resubmit(q, r);
            break;
        case R_BROKEN:
            fail(q, r, KEEL_EPROTO);
            break;
        case R_CANCEL:
            fail(q, r, KEEL_ECANCELED);
            break;
        case R_DEAD:
            fail(q, r, now >= keel_vscsi_req_deadline(r) ? KEEL_ETIMEDOUT : KEEL_EIO);
            break;
        default:
            resubmit(q, r);
            break;
        }
    }
}

static void forget_events(struct keel_vscsi *vs)
{
    void *token;

    while (keel_vq_detach(&vs->event_vq, &token) == 1)
        ;
}

void keel_vscsi_cancel_all(struct keel_vscsi *vs, enum vscsi_reason why)
{
    uint64_t now = keel_time_us(vs->vdev.hal);
    uint16_t i;

    for (i = 0; i < vs->nrq; i++)
        settle_all(&vs->rq[i], collect(&vs->rq[i]), why, now);
    keel_vscsi_ctrl_forget(vs);
    forget_events(vs);
}

void keel_vscsi_stop_dma(struct keel_vscsi *vs)
{
    struct keel_virtio_dev *d = &vs->vdev;

    if (d->transport == KEEL_VIRTIO_T_PCI_MODERN || d->transport == KEEL_VIRTIO_T_PCI_LEGACY)
        (void)keel_pci_enable(d->hal, d->pci_addr, 0, KEEL_PCI_CMD_MASTER);
    else
        KEEL_LOGE(d->hal, "virtio-scsi: device ignores reset; its buffers are given up");
}

int keel_vscsi_device_recover(struct keel_vscsi *vs, enum vscsi_reason why,
                              struct keel_vscsi_rq *culprit)
{
    const struct keel_hal *hal = vs->vdev.hal;
    struct keel_blk_req *lists[KEEL_CONFIG_VSCSI_MAX_QUEUES];
    /* One count for the collect and settle loops, so every settled list was collected. */
    const uint16_t nrq = vs->nrq;
    uint64_t now;
    uint16_t i;
    int rc;

    if (vs->in_recovery)
        return KEEL_EBUSY;
    vs->in_recovery = true;
    vs->stats.device_resets++;
    KEEL_LOGW(hal, "virtio-scsi: device recovery (reason %d)", (int)why);
    rc = keel_virtio_reset(&vs->vdev);
    if (rc != KEEL_OK) {
        keel_vscsi_stop_dma(vs);
        vs->dead = true;
    }
    now = keel_time_us(hal);
    for (i = 0; i < nrq; i++)
        lists[i] = collect(&vs->rq[i]);
    keel_vscsi_ctrl_forget(vs);
    forget_events(vs);
    for (i = 0; i < nrq; i++) {
        enum vscsi_reason r = why;
        if (vs->dead)
            r = R_DEAD;
        else if (why == R_BROKEN && &vs->rq[i] != culprit)
            r = R_NEEDS_RESET; /* innocent queues: resend */
        settle_all(&vs->rq[i], lists[i], r, now);
    }
    if (!vs->dead) {
        rc = keel_vscsi_reinit(vs);
        if (rc != KEEL_OK) {
            KEEL_LOGE(hal, "virtio-scsi: re-initialisation failed (%d)", rc);
            (void)keel_virtio_reset(&vs->vdev);
            vs->dead = true;
            keel_vscsi_cancel_all(vs, R_DEAD);
        }
    }
    vs->in_recovery = false;
    for (i = 0; i < vs->nrq; i++) {
        vs->rq[i].recover = R_NONE;
        vs->rq[i].next_deadline = 0; /* recompute on the next poll */
        keel_vscsi_pump(&vs->rq[i]);
    }
    return vs->dead ? (rc != KEEL_OK ? rc : KEEL_ENODEV) : KEEL_OK;
}
