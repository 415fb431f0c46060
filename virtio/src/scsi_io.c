/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi block I/O: a block request becomes one or more SCSI commands ("pieces") on the
 * request queue its req->queue names. READ/WRITE pieces carry at most the LUN's per-command limit
 * (max_sectors, VPD B0h MAXIMUM TRANSFER LENGTH, 1 GiB) and at most seg_limit data descriptors
 * (halved until the mapping fits: on a resend, the blocks shed are sent by the same slot once the
 * first part is done, see map_data in scsi_cmd.c); TRIM pieces are UNMAP commands within the B0h
 * limits; FLUSH, and FUA on a LUN without DPOFUA, is SYNCHRONIZE CACHE (after every data piece of
 * the write). Pieces of one request are issued in order, many per notification, at most the LUN's
 * share of cmd_per_lun at a time (internal commands to the LUN count too, see keel_vscsi_exec), and
 * the request completes when its last piece does.
 *
 * A piece that comes back with a retriable condition (keel_scsi_classify, or a retriable virtio
 * response) waits on the queue's retry list and is resent, bounded by KEEL_CONFIG_VSCSI_RETRIES
 * (UA_RETRIES for unit attentions) and by the request's deadline; "becoming ready" is resent every
 * KEEL_CONFIG_VSCSI_READY_POLL_US, "initializing command required" gets a START STOP UNIT first.
 * A data piece that moved fewer bytes than asked (residual) is never a success.
 *
 * Concurrency: owner context of the queue, or its interrupt callback (see scsi_cmd.c).
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/testpoint.h>
#include <keel/virtio_scsi.h>

#include "scsi_internal.h"

enum { ISSUE_MORE = 0, ISSUE_LAST = 1, ISSUE_NONE = 2, ISSUE_BLOCKED = 3 };

struct keel_vscsi_lun *keel_vscsi_req_lun(const struct keel_blk_req *req)
{
    const struct keel_blkdev *d = req->dev;
    unsigned depth;

    /* req->dev may be a partition: the disk (and its LUN) is at the root of the chain. */
    for (depth = 0; depth <= 4u && d->parent != NULL; depth++)
        d = d->parent;
    return (struct keel_vscsi_lun *)d->drv;
}

/* ---- lists --------------------------------------------------------------------------------------
 */

void keel_vscsi_pend_push(struct keel_vscsi_rq *q, struct keel_blk_req *req)
{
    req->next = NULL;
    rq_set(req, RF_PENDING);
    if (q->pend_tail != NULL)
        q->pend_tail->next = req;
    else
        q->pend_head = req;
    q->pend_tail = req;
}

static void pend_unlink(struct keel_vscsi_rq *q, struct keel_blk_req *prev,
                        struct keel_blk_req *req)
{
    if (prev != NULL)
        prev->next = req->next;
    else
        q->pend_head = req->next;
    if (q->pend_tail == req)
        q->pend_tail = prev;
    req->next = NULL;
    rq_clear(req, RF_PENDING);
}

void keel_vscsi_finish(struct keel_vscsi_rq *q, struct keel_blk_req *req)
{
    req->next = NULL;
    if (q->fin_tail != NULL)
        q->fin_tail->next = req;
    else
        q->fin_head = req;
    q->fin_tail = req;
}

/*
 * Take the first finished request off the list. Finished requests are completed with interrupts
 * allowed (done() may submit and poll), so the interrupt handler can run between any two
 * instructions of this drain and append to (and drain) the same list: each entry is therefore
 * taken off with the queue marked busy, which makes an interrupt meanwhile only set irq_pending
 * (taken by q_leave's re-check). Without this, an interrupt between the head and tail updates
 * lost a request or completed one twice (seen on QEMU under TCG).
 */
static struct keel_blk_req *fin_pop(struct keel_vscsi_rq *q)
{
    struct keel_blk_req *req;

    q->depth++;
    __asm__ volatile("" ::: "memory"); /* busy before the list is read */
    req = q->fin_head;
    if (req != NULL) {
        q->fin_head = req->next;
        KEEL_TEST_POINT(KEEL_TP_VSCSI_FIN_POP); /* an interrupt here must find the queue busy */
        if (q->fin_head == NULL)
            q->fin_tail = NULL;
        req->next = NULL;
    }
    __asm__ volatile("" ::: "memory"); /* the list is consistent before the interrupt may run */
    q->depth--;
    return req;
}

unsigned keel_vscsi_drain_finished(struct keel_vscsi_rq *q)
{
    struct keel_blk_req *req;
    unsigned n = 0;

    while ((req = fin_pop(q)) != NULL) {
        keel_blk_complete(req, rq_err(req));
        n++;
    }
    return n;
}

void keel_vscsi_retry_remove(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    uint16_t si = slot_index(q, s), *link = &q->retry_head;

    while (*link != NO_SLOT) {
        if (*link == si) {
            *link = s->next;
            s->next = NO_SLOT;
            s->flags = (uint8_t)(s->flags & ~SF_RETRY);
            return;
        }
        link = &q->slots[*link].next;
    }
}

/* Put a piece back on the retry list, to be resent at `at`; the device is done with it. */
static void requeue(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s, uint64_t at, int err)
{
    keel_vscsi_slot_unmap(q, s);
    s->retry_at = at;
    s->err = err;
    s->flags = (uint8_t)(s->flags | SF_RETRY);
    s->next = q->retry_head;
    q->retry_head = slot_index(q, s);
}

/* ---- what a request still needs -------------------------------------------------------------- */

/* FUA without DPOFUA: SYNCHRONIZE CACHE after the data, when there is a cache to flush. */
static bool fua_sync(const struct keel_vscsi_lun *lun, const struct keel_blk_req *req)
{
    return req->op == KEEL_BLK_OP_WRITE && (req->flags & KEEL_BLK_REQ_FUA) && !lun->dpofua &&
           lun->wce;
}

static bool needs_more_op(const struct keel_vscsi_lun *lun, const struct keel_blk_req *req)
{
    switch (req->op) {
    case KEEL_BLK_OP_TRIM:
        return rq_issued(req) < req->count;
    case KEEL_BLK_OP_WRITE:
        return rq_issued(req) < req->count ||
               (fua_sync(lun, req) && !(rq_flags(req) & RF_SYNC_SENT));
    case KEEL_BLK_OP_FLUSH:
        return !(rq_flags(req) & RF_SYNC_SENT);
    default:
        return false;
    }
}

/* Whether `req` has a piece left to issue. READ, the common case, is one comparison (this runs
 * when a piece is issued, after it and when the last piece completes). */
static inline bool needs_more(const struct keel_vscsi_lun *lun, const struct keel_blk_req *req)
{
    if (req->op == KEEL_BLK_OP_READ)
        return rq_issued(req) < req->count;
    return needs_more_op(lun, req);
}

/* needs_more when the caller has no LUN at hand: READ needs none (no walk up the partitions). */
static inline bool req_needs_more(const struct keel_blk_req *req)
{
    if (req->op == KEEL_BLK_OP_READ)
        return rq_issued(req) < req->count;
    return needs_more_op(keel_vscsi_req_lun(req), req);
}

/* A request with nothing left to issue: complete it, or wait for its pieces / its sync. */
static void settle(struct keel_vscsi_rq *q, struct keel_blk_req *req)
{
    if (rq_inflight(req) != 0u || (rq_flags(req) & RF_PENDING))
        return;
    if (rq_err(req) == 0 && req_needs_more(req)) {
        keel_vscsi_pend_push(q, req); /* e.g. the FUA sync after the data */
        return;
    }
    keel_vscsi_finish(q, req);
}

void keel_vscsi_piece_end(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s, int err)
{
    struct keel_blk_req *req = s->req;

    keel_vscsi_slot_unmap(q, s);
    slot_lun_put(q, s);
    keel_vscsi_slot_put(q, s);
    req->priv[P_INFLIGHT]--;
    rq_note_err(req, err);
    settle(q, req);
}

/* ---- building pieces ----------------------------------------------------------------------------
 */

static void piece_rw(struct keel_vscsi_lun *lun, struct keel_blk_req *req,
                     struct keel_vscsi_slot *s)
{
    uint32_t left = req->count - rq_issued(req);

    s->kind = K_RW;
    s->blocks = left < lun->max_xfer_blocks ? left : lun->max_xfer_blocks;
    s->lba = req->dev_lba + rq_issued(req);
    s->buf = (uint8_t *)req->buf + ((size_t)rq_issued(req) << lun->block_shift);
    s->len = s->blocks << lun->block_shift;
    s->dir = (uint8_t)(req->op == KEEL_BLK_OP_READ ? KEEL_DMA_FROM_DEVICE : KEEL_DMA_TO_DEVICE);
}

/* UNMAP: the parameter list lives in the slot; it covers what the B0h limits allow. */
static int piece_unmap(struct keel_vscsi_rq *q, struct keel_vscsi_lun *lun,
                       struct keel_blk_req *req, struct keel_vscsi_slot *s)
{
    uint64_t covered = 0;
    int plen;

    plen = keel_scsi_unmap_build(keel_vscsi_slot_aux(q, s), q->vs->aux_cap,
                                 req->dev_lba + rq_issued(req), req->count - rq_issued(req),
                                 lun->max_unmap_lba, lun->max_unmap_desc, &covered);
    if (plen < 0)
        return plen;
    s->kind = K_UNMAP;
    s->lba = req->dev_lba + rq_issued(req);
    s->blocks = (uint32_t)covered;
    s->len = (uint32_t)plen;
    return KEEL_OK;
}

static int build_piece(struct keel_vscsi_rq *q, struct keel_vscsi_lun *lun,
                       struct keel_blk_req *req, struct keel_vscsi_slot *s)
{
    switch (req->op) {
    case KEEL_BLK_OP_READ:
        piece_rw(lun, req, s);
        return KEEL_OK;
    case KEEL_BLK_OP_WRITE:
        if (rq_issued(req) < req->count) {
            piece_rw(lun, req, s);
            return KEEL_OK;
        }
        s->kind = K_SYNC;
        q->vs->stats.fua_syncs++;
        return KEEL_OK;
    case KEEL_BLK_OP_FLUSH:
        s->kind = K_SYNC;
        return KEEL_OK;
    case KEEL_BLK_OP_TRIM:
        return piece_unmap(q, lun, req, s);
    default:
        return KEEL_EINVAL;
    }
}

static bool beyond_capacity(const struct keel_vscsi_lun *lun, const struct keel_blk_req *req)
{
    return req->op != KEEL_BLK_OP_FLUSH &&
           (req->dev_lba > lun->nblocks || req->count > lun->nblocks - req->dev_lba);
}

/* The request's next piece, if it can and may go now. */
static int issue_one(struct keel_vscsi_rq *q, struct keel_vscsi_lun *lun, struct keel_blk_req *req)
{
    struct keel_vscsi_slot *s;
    uint32_t before = rq_issued(req);
    uint16_t si;
    int rc;

    if (rq_err(req) != 0 || !needs_more(lun, req))
        return ISSUE_NONE;
    if (lun->state == KEEL_VSCSI_LUN_GONE)
        return KEEL_ENODEV;
    /* The sync of a FUA write follows the completion of every data piece (5.6.6.1: no order). */
    if (req->op == KEEL_BLK_OP_WRITE && before >= req->count && rq_inflight(req) != 0u)
        return ISSUE_NONE;
    /*
     * A piece beyond the capacity is refused before the device sees it. This is the driver's one
     * capacity check (the block layer checked the request against the block device's copy of the
     * same number when it was submitted): the capacity can shrink (a revalidation after a
     * CAPACITY DATA HAS CHANGED unit attention, no medium) while the request waits on the pending
     * list or between two of its pieces.
     */
    if (before < req->count && beyond_capacity(lun, req))
        return KEEL_ERANGE;
    /* The LUN's share of cmd_per_lun is in use (5.6.4), or an internal command waits for the
     * next place in it (keel_vscsi_exec) and must not be starved by new pieces. */
    if (lun->inflight[q->index] >= lun->qdepth || q->icmd_wait == lun)
        return ISSUE_BLOCKED;
    si = keel_vscsi_slot_take(q);
    if (si == NO_SLOT)
        return KEEL_EAGAIN;
    s = &q->slots[si];
    s->req = req;
    s->lunp = lun;
    s->target = lun->target;
    s->lun = lun->lun;
    s->deadline = keel_vscsi_req_deadline(req);
    rc = build_piece(q, lun, req, s);
    if (rc == KEEL_OK)
        rc = keel_vscsi_slot_send(q, s);
    if (rc != KEEL_OK) {
        keel_vscsi_slot_put(q, s);
        if (rc == KEEL_ENOSPC || (rc == KEEL_ENOMEM && q->used_slots != 0u))
            return KEEL_EAGAIN; /* ring or mapping space comes back with completions */
        return rc;
    }
    if (s->kind == K_SYNC)
        rq_set(req, RF_SYNC_SENT);
    else
        req->priv[P_ISSUED] += s->blocks;
    if (before != 0u && s->kind != K_SYNC)
        q->vs->stats.splits++;
    req->priv[P_INFLIGHT]++;
    lun->inflight[q->index]++;
    return needs_more(lun, req) ? ISSUE_MORE : ISSUE_LAST;
}

/* Resend the pieces whose retry time has come. */
static bool resend_due(struct keel_vscsi_rq *q)
{
    uint64_t now = keel_time_us(q->vs->vdev.hal);
    uint16_t si = q->retry_head;
    bool added = false;

    while (si != NO_SLOT) {
        struct keel_vscsi_slot *s = &q->slots[si];
        uint16_t next = s->next;
        int rc;

        if (s->retry_at <= now) {
            keel_vscsi_retry_remove(q, s);
            if (s->lunp != NULL && s->lunp->state == KEEL_VSCSI_LUN_GONE) {
                keel_vscsi_piece_end(q, s, KEEL_ENODEV);
            } else {
                rc = keel_vscsi_slot_send(q, s);
                if (rc == KEEL_ENOSPC || rc == KEEL_ENOMEM) {
                    requeue(q, s, s->retry_at, s->err); /* ring full: next round */
                    break;
                }
                if (rc != KEEL_OK)
                    keel_vscsi_piece_end(q, s, rc);
                else
                    added = true;
            }
        }
        si = next;
    }
    return added;
}

/* Issue what the retry and pending lists allow; true when something could not go for lack of
 * ring, slot or LUN space (the device must see what is queued to make room). */
static bool pump_issue(struct keel_vscsi_rq *q)
{
    struct keel_blk_req *req, *prev = NULL, *next;
    bool stuck = false;

    if (q->retry_head != NO_SLOT)
        (void)resend_due(q);
    for (req = q->pend_head; req != NULL; req = next) {
        struct keel_vscsi_lun *lun = keel_vscsi_req_lun(req);
        int rc;

        next = req->next;
        do {
            rc = issue_one(q, lun, req);
        } while (rc == ISSUE_MORE);
        if (rc == KEEL_EAGAIN)
            return true; /* queue full: later requests wait, in order */
        if (rc == ISSUE_BLOCKED) {
            stuck = true;
            prev = req; /* this LUN is saturated: its requests keep their order behind */
            continue;
        }
        pend_unlink(q, prev, req);
        if (rc < 0)
            rq_note_err(req, rc);
        settle(q, req);
    }
    return stuck;
}

static bool pump_allowed(const struct keel_vscsi_rq *q)
{
    return !q->vs->in_recovery && !q->vs->dead && q->vq.ready;
}

void keel_vscsi_pump(struct keel_vscsi_rq *q)
{
    if (!pump_allowed(q))
        return;
    (void)pump_issue(q);
    /* Many commands, one notification (when the device wants one at all); this also publishes
     * what an open submission batch held back: a poll or an interrupt must not wait for unplug. */
    if (q->vq.unkicked != 0u)
        (void)keel_vq_kick(&q->vq);
}

/*
 * The submit path: an open batch keeps holding the notification unless something is stuck. A
 * request that finds nothing pending and no resend waiting is issued at once, without a round
 * trip through the pending list; it joins the list only when it has more pieces to go or must
 * wait (ring, slot or LUN space).
 */
static void pump_submit(struct keel_vscsi_rq *q, struct keel_vscsi_lun *lun,
                        struct keel_blk_req *req)
{
    bool stuck;
    int rc;

    if (q->pend_head != NULL || q->retry_head != NO_SLOT || !pump_allowed(q)) {
        keel_vscsi_pend_push(q, req); /* behind the others, in order */
        if (!pump_allowed(q))
            return;
        stuck = pump_issue(q);
    } else {
        rc = issue_one(q, lun, req);
        if (rc == ISSUE_MORE || rc == ISSUE_BLOCKED || rc == KEEL_EAGAIN) {
            keel_vscsi_pend_push(q, req);
            stuck = rc != ISSUE_MORE || pump_issue(q);
        } else {
            if (rc < 0)
                rq_note_err(req, rc);
            settle(q, req);
            stuck = false;
        }
    }
    (void)keel_vq_kick_batch(&q->vq, stuck);
}

/* ---- completions --------------------------------------------------------------------------------
 */

static uint32_t data_len(const struct keel_vscsi_slot *s)
{
    if (s->flags & SF_START)
        return 0;
    if (s->kind == K_RW || s->kind == K_UNMAP)
        return s->len;
    if (s->kind == K_INTERNAL)
        return ((const struct vscsi_icmd *)s->icmd)->len;
    return 0;
}

static void internal_done(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s,
                          const struct vscsi_outcome *o)
{
    struct vscsi_icmd *ic = s->icmd;

    ic->out = *o;
    /* An overdue command ended by the escalation (ABORTED, RESET) timed out. */
    if ((s->flags & SF_OVERDUE) && o->action != A_DONE)
        ic->err = KEEL_ETIMEDOUT;
    keel_vscsi_slot_unmap(q, s);
    slot_lun_put(q, s);
    keel_vscsi_slot_put(q, s);
    ic->done = true;
}

/* Decide a retriable piece's fate: resend (when the bounds allow) or end it with `err`. */
static void retry_or_end(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s,
                         const struct vscsi_outcome *o, int err)
{
    uint64_t now = keel_time_us(q->vs->vdev.hal);

    q->vs->stats.retries++; /* undone below when the bounds say no */
    switch (o->action) {
    case A_RETRY:
        if (o->ua ? s->ua_retries++ >= UA_RETRIES : s->retries++ >= KEEL_CONFIG_VSCSI_RETRIES)
            break;
        if (now + o->delay_us >= s->deadline)
            break;
        requeue(q, s, now + o->delay_us, err);
        return;
    case A_WAIT:
        if (now + KEEL_CONFIG_VSCSI_READY_POLL_US >= s->deadline)
            break;
        requeue(q, s, now + KEEL_CONFIG_VSCSI_READY_POLL_US, err);
        return;
    case A_START:
        if (s->flags & SF_STARTED)
            break;
        s->flags = (uint8_t)(s->flags | SF_START | SF_STARTED);
        requeue(q, s, now, err);
        return;
    default:
        break;
    }
    q->vs->stats.retries--;
    keel_vscsi_piece_end(q, s, err);
}

/* The part of a split resend that just succeeded: the slot goes on with the blocks after it. */
static void next_part(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    keel_vscsi_slot_unmap(q, s); /* with the buffer and length it was mapped with */
    s->lba += s->blocks;
    s->buf = (uint8_t *)s->buf + s->len;
    s->blocks = s->rest;
    s->rest = 0;
    s->len = s->blocks << s->lunp->block_shift;
    q->vs->stats.splits++;
    requeue(q, s, 0, KEEL_OK); /* sent on the next pump, ahead of new pieces */
}

void keel_vscsi_slot_done(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    struct keel_vscsi *vs = q->vs;
    struct vscsi_icmd *ic = s->icmd;
    struct vscsi_outcome o;
    uint32_t len = data_len(s);

    keel_vscsi_decode(vs, keel_vscsi_slot_resp(q, s), len, &o, ic != NULL ? ic->sense : NULL);
    if (ic != NULL) {
        internal_done(q, s, &o);
        return;
    }
    keel_vscsi_note_outcome(vs, s->lunp, &o, true);
    if (s->flags & SF_START) {
        /* The START STOP UNIT sent ahead of the command: on success send the command at once. */
        s->flags = (uint8_t)(s->flags & ~SF_START);
        if (o.action == A_DONE)
            requeue(q, s, 0, KEEL_EIO);
        else
            keel_vscsi_piece_end(q, s, o.err != KEEL_OK ? o.err : KEEL_EIO);
        return;
    }
    if (o.action == A_DONE && len != 0u && o.xfer != len) {
        /* A short transfer with GOOD status: the data is incomplete, whatever the status says. */
        vs->stats.short_transfers++;
        o.action = A_RETRY;
        o.err = KEEL_EIO;
        o.ua = false;
    }
    if (o.action == A_DONE && s->rest != 0u) {
        /* A part of a resend that had to split: the rest of the piece follows (an overdue one
         * is past its deadline, and what it still owes was never written or read). */
        if (s->flags & SF_OVERDUE)
            keel_vscsi_piece_end(q, s, KEEL_ETIMEDOUT);
        else
            next_part(q, s);
        return;
    }
    if (o.action == A_DONE) {
        keel_vscsi_piece_end(q, s, KEEL_OK);
        return;
    }
    if (s->flags & SF_OVERDUE) {
        keel_vscsi_piece_end(q, s, KEEL_ETIMEDOUT); /* ended by the escalation */
        return;
    }
    if (s->lunp->state == KEEL_VSCSI_LUN_GONE) {
        keel_vscsi_piece_end(q, s, KEEL_ENODEV);
        return;
    }
    retry_or_end(q, s, &o, o.err);
}

/* ---- timeouts -----------------------------------------------------------------------------------
 */

/* Earliest deadline among `q`'s commands and pending requests (UINT64_MAX: none). */
static uint64_t earliest_deadline(const struct keel_vscsi_rq *q)
{
    const struct keel_blk_req *r;
    uint64_t min = UINT64_MAX;
    uint16_t i;

    for (i = 0; i < q->nslots; i++) {
        const struct keel_vscsi_slot *s = &q->slots[i];
        if (s->req != NULL && !(s->flags & SF_OVERDUE) && s->deadline < min)
            min = s->deadline;
    }
    for (r = q->pend_head; r != NULL; r = r->next) {
        uint64_t d = keel_vscsi_req_deadline(r);
        if (d < min)
            min = d;
    }
    return min;
}

/* One overdue piece handled (true), or none left (false). */
static bool handle_one_overdue(struct keel_vscsi_rq *q, uint64_t now)
{
    uint16_t i;

    for (i = 0; i < q->nslots; i++) {
        struct keel_vscsi_slot *s = &q->slots[i];
        if (s->req == NULL || s->deadline > now || (s->flags & SF_OVERDUE))
            continue;
        if (s->flags & SF_INFLIGHT) {
            keel_vscsi_escalate(q, s); /* the device has it: only the device may give it back */
            return true;
        }
        if (s->flags & SF_RETRY) {
            keel_vscsi_retry_remove(q, s); /* waiting here, not at the device: end it now */
            keel_vscsi_piece_end(q, s, s->err != KEEL_OK ? s->err : KEEL_ETIMEDOUT);
            return true;
        }
    }
    return false;
}

/* Pending requests whose deadline passed before any of their pieces could be sent. */
static void expire_pending(struct keel_vscsi_rq *q, uint64_t now)
{
    struct keel_blk_req *req, *prev = NULL, *next;

    for (req = q->pend_head; req != NULL; req = next) {
        next = req->next;
        if (rq_inflight(req) == 0u && keel_vscsi_req_deadline(req) <= now) {
            pend_unlink(q, prev, req);
            rq_note_err(req, KEEL_ETIMEDOUT);
            settle(q, req);
            continue;
        }
        prev = req;
    }
}

void keel_vscsi_check_timeouts(struct keel_vscsi_rq *q)
{
    struct keel_vscsi *vs = q->vs;
    const struct keel_hal *hal = vs->vdev.hal;
    uint64_t now = keel_time_us(hal);
    unsigned guard;

    if (now < q->next_deadline)
        return;
    /* First look at the ring: the completion may be there and only its interrupt lost. */
    (void)keel_vscsi_reap(q, 0);
    for (guard = 0; guard <= q->nslots && !vs->dead; guard++) {
        now = keel_time_us(hal);
        if (!handle_one_overdue(q, now))
            break;
    }
    expire_pending(q, keel_time_us(hal));
    q->next_deadline = earliest_deadline(q);
}

/* ---- block layer operations ------------------------------------------------------------------ */

static int check_op(const struct keel_vscsi_lun *lun, const struct keel_blk_req *req)
{
    switch (req->op) {
    case KEEL_BLK_OP_READ:
    case KEEL_BLK_OP_WRITE:
    case KEEL_BLK_OP_FLUSH:
        return KEEL_OK;
    case KEEL_BLK_OP_TRIM:
        return lun->lbpu ? KEEL_OK : KEEL_ENOTSUP; /* UNMAP only when B2h says LBPU */
    default:
        return KEEL_ENOTSUP;
    }
}

static int op_submit(struct keel_blkdev *dev, struct keel_blk_req *req)
{
    struct keel_vscsi_lun *lun = dev->drv;
    struct keel_vscsi *vs = lun->vs;
    struct keel_vscsi_rq *q;
    uint64_t dl;
    int rc;

    if (vs->dead || !vs->attached || lun->state == KEEL_VSCSI_LUN_GONE || !lun->has_blk)
        return KEEL_ENODEV;
    if (req->queue >= vs->nrq)
        return KEEL_EINVAL;
    rc = check_op(lun, req);
    if (rc != KEEL_OK)
        return rc;
    /* The range against the capacity: checked when the request's pieces are issued (issue_one). */
    q = &vs->rq[req->queue];
    if (q->free_slot == NO_SLOT)
        return KEEL_ENOSPC; /* back-pressure: poll, then retry */
    req->priv[P_ISSUED] = 0;
    req->priv[P_INFLIGHT] = 0;
    req->priv[P_ERR] = 0;
    req->priv[P_FLAGS] = 0;
    dl = keel_vscsi_req_deadline(req);
    if (dl < q->next_deadline)
        q->next_deadline = dl;
    keel_vscsi_q_enter(q);
    pump_submit(q, lun, req);
    /* An interrupt that came while we were inside was deferred to us: the requests it finished
     * (this one included) are completed here, since no other interrupt may ever come for them. */
    (void)keel_vscsi_q_leave(q, true);
    return KEEL_OK;
}

static int op_poll(struct keel_blkdev *dev, unsigned queue, unsigned budget)
{
    struct keel_vscsi_lun *lun = dev->drv;
    struct keel_vscsi *vs = lun->vs;
    struct keel_vscsi_rq *q;

    if (queue >= vs->nrq)
        return KEEL_EINVAL;
    q = &vs->rq[queue];
    if (q->depth != 0u)
        return 0; /* called from a done() callback of this queue: nothing to add */
    keel_vscsi_q_enter(q);
    if (!vs->dead) {
        if (keel_virtio_check(&vs->vdev, false) & KEEL_VIRTIO_EV_NEEDS_RESET)
            (void)keel_vscsi_device_recover(vs, R_NEEDS_RESET, NULL);
        (void)keel_vscsi_reap(q, budget);
        if (q->recover != R_NONE) {
            enum vscsi_reason why = (enum vscsi_reason)q->recover;
            q->recover = R_NONE;
            (void)keel_vscsi_device_recover(vs, why, q);
        }
        keel_vscsi_pump(q);
        keel_vscsi_check_timeouts(q);
        /* Queue 0's owner is also the adapter's: events and rescans when some are waiting. */
        if (queue == 0u && !vs->dead && !vs->in_service &&
            (vs->work != 0u || keel_vq_pending(&vs->event_vq)))
            (void)keel_vscsi_service(vs);
    }
    return (int)keel_vscsi_q_leave(q, true);
}

static int op_recover(struct keel_blkdev *dev)
{
    struct keel_vscsi_lun *lun = dev->drv;
    return keel_vscsi_recover(lun->vs);
}

const struct keel_blkdev_ops keel_vscsi_blk_ops = {
    .submit = op_submit,
    .poll = op_poll,
    .recover = op_recover,
};

static void op_plug(struct keel_blkdev *dev, unsigned queue)
{
    struct keel_vscsi_lun *lun = dev->drv;

    if (queue < lun->vs->nrq)
        keel_vq_plug(&lun->vs->rq[queue].vq);
}

static void op_unplug(struct keel_blkdev *dev, unsigned queue)
{
    struct keel_vscsi_lun *lun = dev->drv;
    struct keel_vscsi_rq *q;

    if (queue >= lun->vs->nrq)
        return;
    q = &lun->vs->rq[queue];
    q->vq.plugged = false;
    if (q->vq.unkicked == 0u)
        return; /* nothing held back */
    keel_vscsi_q_enter(q);
    if (pump_allowed(q))
        (void)keel_vq_kick(&q->vq);
    (void)keel_vscsi_q_leave(q, true);
}

const struct keel_blkdev_batch_ops keel_vscsi_blk_batch_ops = {
    .plug = op_plug,
    .unplug = op_unplug,
};
