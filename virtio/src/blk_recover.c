/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk recovery: timeouts, broken queues, DEVICE_NEEDS_RESET.
 *
 * Escalation for an overdue request (anchor: lost interrupts): reap the queue first; if still
 * overdue, reset that queue alone when RING_RESET was negotiated, else reset the device. A queue
 * reset only helps a device that lost track of one queue: when the same queue times out again
 * with no completion since its queue reset (or the queue reset fails), the device as a whole has
 * stopped, silently (no DEVICE_NEEDS_RESET), and is reset. Only once
 * a reset has completed (the device can no longer touch the rings or the buffers) are the pieces in
 * flight unmapped and their requests settled: overdue ones fail with KEEL_ETIMEDOUT, requests of a
 * queue that broke the protocol fail with KEEL_EPROTO, the rest are resubmitted from scratch (at
 * most KEEL_CONFIG_VIRTIO_BLK_RETRIES times, then KEEL_EIO). When a device does not even complete a
 * reset, bus mastering is switched off on PCI (the only remaining guarantee that it stops DMA) and
 * everything fails; the device is then dead.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/pci.h>
#include <keel/virtio_blk.h>

#include "blk_internal.h"

/* Take every request of `q` away from the device side: pieces in flight and the pending list. */
static struct keel_blk_req *collect(struct keel_vblk_queue *q)
{
    struct keel_blk_req *list = NULL, *tail = NULL, *r, *next;
    void *token;
    uint16_t i;

    /* Ring state is forgotten: the device was reset (or the queue), so nothing is in its hands. */
    while (keel_vq_detach(&q->vq, &token) == 1)
        ;
    for (i = 0; i < q->nslots; i++) {
        struct keel_vblk_slot *s = &q->slots[i];
        if (s->req == NULL)
            continue;
        r = s->req;
        r->priv[P_INFLIGHT]--;
        keel_vblk_slot_release(q, s);
        if (rq_flags(r) & (RF_COLLECTED | RF_PENDING))
            continue;
        rq_set(r, RF_COLLECTED);
        r->next = NULL;
        if (tail != NULL)
            tail->next = r;
        else
            list = r;
        tail = r;
    }
    /* Then the pending list, in order (its head may also have had pieces in flight). */
    for (r = q->pend_head; r != NULL; r = next) {
        next = r->next;
        rq_clear(r, RF_PENDING);
        rq_set(r, RF_COLLECTED);
        r->next = NULL;
        if (tail != NULL)
            tail->next = r;
        else
            list = r;
        tail = r;
    }
    q->pend_head = q->pend_tail = NULL;
    return list;
}

static void fail(struct keel_vblk_queue *q, struct keel_blk_req *r, int err)
{
    r->priv[P_ERR] = 0;
    rq_note_err(r, err);
    keel_vblk_finish(q, r);
}

/* Start `r` again from its first block, unless it already used up its resubmissions. */
static void resubmit(struct keel_vblk_queue *q, struct keel_blk_req *r)
{
    uint32_t retries = (rq_flags(r) & RF_RETRY_MASK) >> RF_RETRY_SHIFT;

    if (retries >= KEEL_CONFIG_VIRTIO_BLK_RETRIES) {
        fail(q, r, KEEL_EIO);
        return;
    }
    r->priv[P_ISSUED] = 0;
    r->priv[P_INFLIGHT] = 0;
    r->priv[P_ERR] = 0;
    r->priv[P_FLAGS] = ((uintptr_t)retries + 1u) << RF_RETRY_SHIFT;
    q->vb->stats.resubmits++;
    if (r->op < KEEL_BLK_OP_COUNT)
        keel_blk_note_retry(r);
    keel_vblk_pend_push(q, r);
}

/* Decide the fate of every collected request of `q`. */
static void settle_all(struct keel_vblk_queue *q, struct keel_blk_req *list, enum vblk_reason why,
                       uint64_t now)
{
    struct keel_blk_req *r, *next;

    for (r = list; r != NULL; r = next) {
        next = r->next;
        rq_clear(r, RF_COLLECTED);
        switch (why) {
        case R_TIMEOUT:
            if (now >= keel_vblk_deadline(r))
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
            fail(q, r, now >= keel_vblk_deadline(r) ? KEEL_ETIMEDOUT : KEEL_EIO);
            break;
        default:
            resubmit(q, r);
            break;
        }
    }
}

void keel_vblk_cancel_queue(struct keel_vblk_queue *q, enum vblk_reason why)
{
    settle_all(q, collect(q), why, keel_time_us(q->vb->vdev.hal));
}

int keel_vblk_queue_recover(struct keel_vblk_queue *q, enum vblk_reason why)
{
    struct keel_vblk *vb = q->vb;
    uint64_t now;
    int rc = keel_vq_reset(&q->vq);

    if (rc != KEEL_OK)
        return rc;
    vb->stats.queue_resets++;
    now = keel_time_us(vb->vdev.hal);
    settle_all(q, collect(q), why, now);
    rc = keel_vq_restart(&q->vq);
    if (rc != KEEL_OK)
        return rc;
    if (vb->vdev.irq_mode != KEEL_VIRTIO_IRQ_POLL)
        (void)keel_vq_enable_irq(&q->vq);
    keel_vblk_pump(q);
    return KEEL_OK;
}

void keel_vblk_stop_dma(struct keel_vblk *vb)
{
    struct keel_virtio_dev *d = &vb->vdev;

    if (d->transport == KEEL_VIRTIO_T_PCI_MODERN || d->transport == KEEL_VIRTIO_T_PCI_LEGACY)
        (void)keel_pci_enable(d->hal, d->pci_addr, 0, KEEL_PCI_CMD_MASTER);
    else
        KEEL_LOGE(d->hal, "virtio-blk: device ignores reset; its buffers are given up");
}

int keel_vblk_device_recover(struct keel_vblk *vb, enum vblk_reason why,
                             struct keel_vblk_queue *culprit)
{
    const struct keel_hal *hal = vb->vdev.hal;
    struct keel_blk_req *lists[KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES];
    /* One count for the collect and settle loops, so every settled list was collected. */
    const uint16_t nq = vb->nq;
    uint64_t now;
    uint16_t i;
    int rc;

    if (vb->in_recovery)
        return KEEL_EBUSY;
    vb->in_recovery = true;
    vb->stats.device_resets++;
    KEEL_LOGW(hal, "virtio-blk %s: device recovery (reason %d)", vb->blk.info.name, (int)why);
    rc = keel_virtio_reset(&vb->vdev);
    if (rc != KEEL_OK) {
        keel_vblk_stop_dma(vb);
        vb->dead = true;
    }
    now = keel_time_us(hal);
    for (i = 0; i < nq; i++)
        lists[i] = collect(&vb->q[i]);
    for (i = 0; i < nq; i++) {
        enum vblk_reason r = why;
        if (vb->dead)
            r = R_DEAD;
        else if (why == R_BROKEN && &vb->q[i] != culprit)
            r = R_NEEDS_RESET; /* innocent queues: resubmit */
        settle_all(&vb->q[i], lists[i], r, now);
    }
    if (!vb->dead) {
        rc = keel_vblk_reinit(vb);
        if (rc != KEEL_OK) {
            KEEL_LOGE(hal, "virtio-blk %s: re-initialisation failed (%d)", vb->blk.info.name, rc);
            (void)keel_virtio_reset(&vb->vdev);
            vb->dead = true;
            for (i = 0; i < vb->nq; i++)
                keel_vblk_cancel_queue(&vb->q[i], R_DEAD);
        }
    }
    vb->in_recovery = false;
    for (i = 0; i < vb->nq; i++) {
        vb->q[i].recover = R_NONE;
        vb->q[i].reset_unproven = false;
        vb->q[i].next_deadline = 0; /* recompute on the next poll */
        keel_vblk_pump(&vb->q[i]);
    }
    return vb->dead ? (rc != KEEL_OK ? rc : KEEL_ENODEV) : KEEL_OK;
}

/* Earliest deadline among `q`'s requests (UINT64_MAX: none); true when one has passed `now`. */
static bool scan_deadlines(const struct keel_vblk_queue *q, uint64_t now, uint64_t *earliest)
{
    const struct keel_blk_req *r;
    uint64_t min = UINT64_MAX;
    uint16_t i;

    for (i = 0; i < q->nslots; i++) {
        if (q->slots[i].req != NULL) {
            uint64_t d = keel_vblk_deadline(q->slots[i].req);
            if (d < min)
                min = d;
        }
    }
    for (r = q->pend_head; r != NULL; r = r->next) {
        uint64_t d = keel_vblk_deadline(r);
        if (d < min)
            min = d;
    }
    *earliest = min;
    return min <= now;
}

void keel_vblk_check_timeouts(struct keel_vblk_queue *q)
{
    struct keel_vblk *vb = q->vb;
    const struct keel_hal *hal = vb->vdev.hal;
    uint64_t now = keel_time_us(hal), next;
    uint32_t ev;

    if (now < q->next_deadline)
        return;
    if (!scan_deadlines(q, now, &next)) {
        q->next_deadline = next;
        return;
    }
    /* First look at the ring: the completion may be there and only its interrupt lost. */
    (void)keel_vblk_reap(q, 0);
    now = keel_time_us(hal);
    if (q->recover == R_NONE && !scan_deadlines(q, now, &next)) {
        q->next_deadline = next;
        return;
    }
    ev = keel_virtio_check(&vb->vdev, true);
    vb->vdev.events |= ev & (KEEL_VIRTIO_EV_CONFIG | KEEL_VIRTIO_EV_RECHECK); /* for later */
    if (ev & KEEL_VIRTIO_EV_NEEDS_RESET) {
        KEEL_LOGW(hal, "virtio-blk %s: device needs reset", vb->blk.info.name);
    } else if (q->recover == R_NONE && q->reset_unproven) {
        /* The last queue reset brought nothing back: the device, not the queue, has stopped. */
        vb->stats.escalations++;
        KEEL_LOGW(hal, "virtio-blk %s: queue %u still silent after its reset", vb->blk.info.name,
                  (unsigned)q->index);
    } else if (q->recover == R_NONE && keel_vblk_queue_recover(q, R_TIMEOUT) == KEEL_OK) {
        q->reset_unproven = true; /* until the queue completes something */
        return;
    }
    (void)keel_vblk_device_recover(
        vb, q->recover != R_NONE ? (enum vblk_reason)q->recover : R_TIMEOUT, q);
}
