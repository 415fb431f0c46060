/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi request queues (5.6.6.1): every command is one slot of DMA memory holding its
 * struct virtio_scsi_req_cmd header (lun, id, task attribute, cdb[cdb_size]) and its
 * struct virtio_scsi_cmd_resp (sense_len, residual, status, response, sense[sense_size]), framed
 * as one chain: header, data-out, response, data-in (one descriptor each for header and response,
 * which also meets the legacy framing rule). The response byte is preset to a value no device
 * writes, so a response the device never wrote is seen as such. Also here: slot bookkeeping,
 * reaping with token checks, the queue's interrupt callback, and internal commands (discovery,
 * pass-through) that wait on request queue 0 with the sense-based retry policy on top.
 *
 * Concurrency: everything runs in the queue owner's context or in the queue's interrupt callback;
 * q->depth tells the callback that the owner is inside, in which case it only leaves a note.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio_scsi.h>
#include <keel/wait.h>

#include "scsi_internal.h"

#define EXEC_POLL_US 10u /* spacing of polls while an internal command is outstanding */

/* ---- slots --------------------------------------------------------------------------------------
 */

static uint8_t *slot_cpu(const struct keel_vscsi_rq *q, uint16_t i)
{
    return keel_vscsi_slot_cpu(q, i);
}

static keel_bus_addr_t slot_bus(const struct keel_vscsi_rq *q, uint16_t i)
{
    return q->slot_mem.bus + (keel_bus_addr_t)i * q->vs->slot_bytes;
}

uint8_t *keel_vscsi_slot_aux(const struct keel_vscsi_rq *q, const struct keel_vscsi_slot *s)
{
    return slot_cpu(q, slot_index(q, s)) + q->vs->off_aux;
}

uint16_t keel_vscsi_slot_take(struct keel_vscsi_rq *q)
{
    uint16_t i = q->free_slot;

    if (i != NO_SLOT) {
        struct keel_vscsi_slot *s = &q->slots[i];
        uint16_t gen = s->gen;

        q->free_slot = s->next;
        q->used_slots++;
        keel_memset(s, 0, sizeof(*s));
        s->gen = gen; /* the generation survives: it makes every tag unique */
        s->next = NO_SLOT;
        s->flags = SF_FIRST;
    }
    return i;
}

void keel_vscsi_slot_put(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    s->req = NULL;
    s->icmd = NULL;
    s->lunp = NULL;
    s->cookie = NULL;
    s->flags = 0;
    s->kind = K_NONE;
    s->next = q->free_slot;
    q->free_slot = slot_index(q, s);
    q->used_slots--;
}

void keel_vscsi_slot_unmap(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    const struct keel_hal *hal = q->vs->vdev.hal;

    if (s->cookie != NULL)
        hal->ops->dma_unmap(hal->ctx, s->cookie, s->buf, s->len, (enum keel_dma_dir)s->dir);
    s->cookie = NULL;
}

/* ---- framing ------------------------------------------------------------------------------------
 */

/* lun[8] of 5.6.6.1: 1, target, a single-level LUN (peripheral below 256, flat above), zeroes. */
void keel_vscsi_lun_addr(uint8_t *p, uint8_t target, uint16_t lun)
{
    uint8_t e[8];

    (void)keel_scsi_lun_encode(lun, e); /* lun <= 16383 is checked by every caller */
    p[0] = 1;
    p[1] = target;
    p[2] = e[0];
    p[3] = e[1];
    p[4] = p[5] = p[6] = p[7] = 0;
}

static int build_cdb(const struct keel_vscsi_slot *s, uint8_t *cdb)
{
    const struct keel_vscsi_lun *lun = s->lunp;
    const struct vscsi_icmd *ic = s->icmd;
    unsigned flags = 0;

    if (s->flags & SF_START)
        return (int)keel_scsi_cdb_start_stop_unit(cdb, false, true, false);
    switch (s->kind) {
    case K_RW:
        if (s->req->op == KEEL_BLK_OP_WRITE && (s->req->flags & KEEL_BLK_REQ_FUA) && lun->dpofua)
            flags |= KEEL_SCSI_RW_FUA;
        if (lun->force16)
            flags |= KEEL_SCSI_RW_FORCE16;
        return keel_scsi_cdb_rw(cdb, s->req->op == KEEL_BLK_OP_WRITE, s->lba, s->blocks, flags);
    case K_SYNC:
        if (lun->force16)
            return (int)keel_scsi_cdb_sync_cache16(cdb, 0, 0, false);
        return (int)keel_scsi_cdb_sync_cache10(cdb, 0, 0, false);
    case K_UNMAP:
        return (int)keel_scsi_cdb_unmap(cdb, (uint16_t)s->len);
    case K_INTERNAL:
        keel_memcpy(cdb, ic->cdb, ic->cdb_len);
        return (int)ic->cdb_len;
    default:
        return KEEL_EINVAL;
    }
}

/*
 * Map caller data into q->segs. A READ/WRITE piece whose mapping needs more segments than the
 * device takes is halved until it fits, on its first send as on a resend (a new mapping may well
 * come out more fragmented: bounce buffers, an IOMMU). On the first send the request's issue
 * cursor has not moved yet, so the blocks shed simply go to later pieces; on a resend they were
 * already counted as issued, so the slot keeps them in s->rest and sends them itself, as further
 * commands, once this part is done (keel_vscsi_slot_done).
 */
static int map_data(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s, unsigned *nsegs)
{
    struct keel_vscsi *vs = q->vs;
    const struct keel_hal *hal = vs->vdev.hal;

    for (;;) {
        void *cookie = NULL;
        uint32_t keep;
        int rc = hal->ops->dma_map(hal->ctx, s->buf, s->len, (enum keel_dma_dir)s->dir, q->segs,
                                   vs->seg_limit, nsegs, &cookie);
        if (rc == KEEL_OK) {
            s->cookie = cookie;
            return KEEL_OK;
        }
        if (rc != KEEL_ENOSPC || s->kind != K_RW)
            return rc == KEEL_ENOSPC ? KEEL_EFAULT : rc;
        if (s->blocks == 1u)
            return KEEL_EFAULT; /* one block needs more segments than the device takes */
        keep = s->blocks >> 1;
        if (!(s->flags & SF_FIRST))
            s->rest += s->blocks - keep; /* contiguous with what this slot still owes */
        s->blocks = keep;
        s->len = s->blocks << s->lunp->block_shift;
    }
}

/* Where the data goes: *out set for data-out; returns the number of data pieces in q->segs. */
static int place_data(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s, uint16_t si, bool *out)
{
    struct vscsi_icmd *ic = s->icmd;
    unsigned n = 0;
    int rc;

    *out = false;
    if (s->flags & SF_START)
        return 0;
    switch (s->kind) {
    case K_RW:
        *out = s->req->op == KEEL_BLK_OP_WRITE;
        rc = map_data(q, s, &n);
        return rc != KEEL_OK ? rc : (int)n;
    case K_UNMAP:
        *out = true;
        q->segs[0].bus = slot_bus(q, si) + q->vs->off_aux;
        q->segs[0].len = s->len;
        return 1;
    case K_INTERNAL:
        if (ic->len == 0u)
            return 0;
        *out = ic->write;
        if (ic->coherent) {
            q->segs[0].bus = ic->bus;
            q->segs[0].len = ic->len;
            return 1;
        }
        rc = map_data(q, s, &n);
        return rc != KEEL_OK ? rc : (int)n;
    default:
        return 0;
    }
}

/*
 * The request header around the CDB build_cdb wrote in place, and the response header preset. A
 * command to a LUN of the table takes the address built when the LUN was found; only internal
 * commands to other addresses build it here.
 */
static void write_header(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s, uint8_t *p,
                         uint16_t si)
{
    struct keel_vscsi *vs = q->vs;
    uint8_t *r = p + vs->off_resp;

    s->gen++;
    s->tag = ((uint64_t)(q->index + 1u) << 48) | ((uint64_t)s->gen << 16) | si;
    if (s->lunp != NULL)
        keel_memcpy(p, s->lunp->addr, 8);
    else
        keel_vscsi_lun_addr(p, s->target, s->lun);
    keel_vscsi_put64(vs, p + 8, s->tag);
    keel_memset(r, 0, KEEL_VIRTIO_SCSI_RESP_HDR_BYTES);
    r[11] = RESP_PRESET;
}

int keel_vscsi_slot_send(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    struct keel_vscsi *vs = q->vs;
    uint16_t si = slot_index(q, s);
    uint8_t *p = slot_cpu(q, si);
    unsigned n_out, n_in, i;
    int nd, clen, rc;
    bool out;

    nd = place_data(q, s, si, &out);
    if (nd < 0)
        return nd;
    /*
     * The slot is ours until the ring names it: the CDB is built where the device reads it, on
     * task_attr SIMPLE, prio 0, crn 0 (5.6.6.1.2) and zeroes. build_cdb writes at most
     * KEEL_SCSI_CDB_MAX bytes, cdb_size is at least that, and the CDB field beyond those bytes was
     * zeroed when the slots were allocated and is never written.
     */
    keel_memset(p + 16, 0, 3u + KEEL_SCSI_CDB_MAX);
    clen = build_cdb(s, p + KEEL_VIRTIO_SCSI_REQ_HDR_BYTES);
    if (clen < 0) {
        keel_vscsi_slot_unmap(q, s);
        return clen;
    }
    write_header(q, s, p, si);
    q->sg[0].addr = slot_bus(q, si);
    q->sg[0].len = vs->hdr_len;
    if (out) {
        for (i = 0; i < (unsigned)nd; i++) {
            q->sg[1u + i].addr = q->segs[i].bus;
            q->sg[1u + i].len = q->segs[i].len;
        }
        q->sg[1u + (unsigned)nd].addr = slot_bus(q, si) + vs->off_resp;
        q->sg[1u + (unsigned)nd].len = vs->resp_len;
        n_out = 1u + (unsigned)nd;
        n_in = 1u;
    } else {
        q->sg[1].addr = slot_bus(q, si) + vs->off_resp;
        q->sg[1].len = vs->resp_len;
        for (i = 0; i < (unsigned)nd; i++) {
            q->sg[2u + i].addr = q->segs[i].bus;
            q->sg[2u + i].len = q->segs[i].len;
        }
        n_out = 1u;
        n_in = 1u + (unsigned)nd;
    }
    rc = keel_vq_add(&q->vq, q->sg, n_out, n_in, s);
    if (rc != KEEL_OK) {
        keel_vscsi_slot_unmap(q, s);
        return rc;
    }
    s->flags = (uint8_t)((s->flags | SF_INFLIGHT) & ~SF_FIRST);
    vs->stats.commands++;
    return KEEL_OK;
}

/* ---- completions --------------------------------------------------------------------------------
 */

/* Token sanity: what the queue hands back must be one of this queue's slots with the device. */
static struct keel_vscsi_slot *token_slot(struct keel_vscsi_rq *q, void *token)
{
    struct keel_vscsi_slot *s = token;

    if (s < q->slots || s >= q->slots + q->nslots)
        return NULL;
    if (&q->slots[slot_index(q, s)] != s || !(s->flags & SF_INFLIGHT))
        return NULL; /* inside the array but not the start of a slot, or not with the device */
    return s;
}

int keel_vscsi_reap(struct keel_vscsi_rq *q, unsigned budget)
{
    bool irq = q->vs->vdev.irq_mode != KEEL_VIRTIO_IRQ_POLL;
    int n = 0;

    if (q->vs->in_recovery || !q->vq.ready)
        return 0;
    for (;;) {
        while (budget == 0u || (unsigned)n < budget) {
            struct keel_vscsi_slot *s;
            void *token;
            uint32_t len;
            int rc = keel_vq_get(&q->vq, &token, &len);

            if (rc == 0)
                break;
            if (rc < 0) {
                q->recover = R_BROKEN; /* the owner resets the device outside this path */
                return n;
            }
            s = token_slot(q, token);
            if (s == NULL) {
                keel_vq_mark_broken(&q->vq, KEEL_VQ_NOT_HEAD);
                q->recover = R_BROKEN;
                return n;
            }
            /* The used length is only a bound (legacy devices fill it loosely, 5.6.6 legacy
               note); the preset response byte tells whether the device answered. */
            s->flags = (uint8_t)(s->flags & ~SF_INFLIGHT);
            keel_vscsi_slot_done(q, s);
            n++;
        }
        if (!irq || (budget != 0u && (unsigned)n >= budget))
            break;
        /* Re-arm; if buffers slipped in meanwhile, go round again (no lost interrupt). */
        if (keel_vq_enable_irq(&q->vq))
            break;
    }
    return n;
}

/* The queue's interrupt: complete here unless the owner is inside a call on this queue. */
void keel_vscsi_vq_irq(struct keel_vq *vq, void *arg)
{
    struct keel_vscsi_rq *q = arg;

    (void)vq;
    if (q->depth != 0u || q->vs->in_recovery) {
        q->irq_pending = true;
        return;
    }
    keel_vscsi_q_enter(q);
    (void)keel_vscsi_reap(q, 0);
    keel_vscsi_pump(q);
    /* q_leave, not a bare drain: an interrupt nested in the drain (platforms that allow it) left
     * a note that nobody else would take. */
    (void)keel_vscsi_q_leave(q, true);
}

unsigned keel_vscsi_q_leave(struct keel_vscsi_rq *q, bool drain)
{
    unsigned n = 0;

    for (;;) {
        while (q->depth == 1u && q->irq_pending) {
            q->irq_pending = false;
            (void)keel_vscsi_reap(q, 0);
            keel_vscsi_pump(q);
        }
        q->depth--;
        if (drain && q->depth == 0u)
            n += keel_vscsi_drain_finished(q);
        /* An interrupt between the last look at irq_pending and depth-- was deferred to us, and
         * nobody else will take it: take it now. */
        if (q->depth != 0u || !q->irq_pending || q->vs->in_recovery)
            return n;
        q->depth++;
    }
}

/*
 * Complete the queue's finished requests from outside any call on it (recovery). An interrupt
 * while they complete only leaves a note (fin_pop marks the queue busy), so the drain goes
 * through q_leave, which takes that note: otherwise its completions would wait for the owner's
 * next call, and an owner waiting for an interrupt would wait for a timeout.
 */
void keel_vscsi_drain_idle(struct keel_vscsi_rq *q)
{
    if (q->depth != 0u)
        return; /* the call that is inside drains on its way out */
    keel_vscsi_q_enter(q);
    (void)keel_vscsi_q_leave(q, true);
}

/* ---- internal commands --------------------------------------------------------------------------
 */

void keel_vscsi_icmd_init(struct vscsi_icmd *ic, uint8_t target, uint16_t lun)
{
    keel_memset(ic, 0, sizeof(*ic));
    ic->target = target;
    ic->lun = lun;
}

/* Data in the discovery buffer at `off` (coherent memory: no mapping needed). */
void keel_vscsi_icmd_disc(struct keel_vscsi *vs, struct vscsi_icmd *ic, uint32_t off, uint32_t len)
{
    ic->coherent = true;
    ic->buf = (uint8_t *)vs->disc_mem.cpu + off;
    ic->bus = vs->disc_mem.bus + off;
    ic->len = len;
}

/* A device recovery a reap asked for (a broken queue): true when it ran. */
static bool recover_if_asked(struct keel_vscsi *vs, struct keel_vscsi_rq *q)
{
    enum vscsi_reason why = (enum vscsi_reason)q->recover;

    if (why == R_NONE)
        return false;
    q->recover = R_NONE;
    (void)keel_vscsi_device_recover(vs, why, q);
    return true;
}

/*
 * An internal command to a LUN of the table takes a place in the LUN's share of cmd_per_lun on
 * queue 0 like a block piece (the device counts every command on the LUN, 5.6.4). When the share
 * is full, wait (bounded by the command's deadline) for block I/O to give a place back: reap,
 * resend due retries (already counted), let overdue pieces escalate; new pieces to the LUN are
 * held back meanwhile (q->icmd_wait) so they cannot starve the command.
 */
static int wait_lun_room(struct keel_vscsi *vs, struct keel_vscsi_rq *q, struct keel_vscsi_lun *lun,
                         uint64_t deadline)
{
    const struct keel_hal *hal = vs->vdev.hal;
    int rc = KEEL_OK;

    if (lun == NULL || lun->inflight[q->index] < lun->qdepth)
        return KEEL_OK;
    vs->stats.lun_full_waits++;
    q->icmd_wait = lun;
    while (lun->inflight[q->index] >= lun->qdepth) {
        /* First the bounds: a recovery (below) may leave the adapter dead with a broken queue,
         * which every later reap reports again. */
        if (vs->dead) {
            rc = KEEL_ENODEV;
            break;
        }
        if (keel_time_us(hal) >= deadline) {
            rc = KEEL_ETIMEDOUT;
            break;
        }
        (void)keel_vscsi_reap(q, 0);
        if (recover_if_asked(vs, q))
            continue;
        keel_vscsi_pump(q);
        keel_vscsi_check_timeouts(q);
        if (lun->inflight[q->index] < lun->qdepth)
            break;
        keel_delay_us(hal, EXEC_POLL_US);
    }
    q->icmd_wait = NULL;
    return rc == KEEL_OK && vs->dead ? KEEL_ENODEV : rc;
}

/* Wait (bounded) for a free slot on queue 0, reaping meanwhile. */
static uint16_t take_slot_wait(struct keel_vscsi *vs, struct keel_vscsi_rq *q, uint64_t deadline)
{
    const struct keel_hal *hal = vs->vdev.hal;

    for (;;) {
        uint16_t si = keel_vscsi_slot_take(q);
        if (si != NO_SLOT || vs->dead || keel_time_us(hal) >= deadline)
            return si;
        (void)keel_vscsi_reap(q, 0);
        keel_delay_us(hal, EXEC_POLL_US);
    }
}

static int exec_send(struct keel_vscsi *vs, struct keel_vscsi_rq *q, struct keel_vscsi_slot *s,
                     uint64_t deadline)
{
    const struct keel_hal *hal = vs->vdev.hal;

    for (;;) {
        int rc = keel_vscsi_slot_send(q, s);
        if (rc != KEEL_ENOSPC)
            return rc;
        (void)keel_vscsi_reap(q, 0);
        if (keel_time_us(hal) >= deadline)
            return KEEL_ETIMEDOUT;
        keel_delay_us(hal, EXEC_POLL_US);
    }
}

/* One try of an internal command: 0 when a response arrived (ic->out), else a transport error. */
int keel_vscsi_exec(struct keel_vscsi *vs, struct vscsi_icmd *ic, uint32_t timeout_us)
{
    const struct keel_hal *hal = vs->vdev.hal;
    struct keel_vscsi_rq *q = &vs->rq[0];
    struct keel_vscsi_lun *lun;
    struct keel_vscsi_slot *s;
    uint16_t si;
    int rc;

    if (vs->dead || !vs->attached)
        return KEEL_ENODEV;
    ic->done = false;
    ic->err = KEEL_OK;
    ic->deadline = keel_time_us(hal) + (timeout_us ? timeout_us : KEEL_CONFIG_VSCSI_CMD_TIMEOUT_US);
    keel_vscsi_q_enter(q);
    lun = keel_vscsi_lun_lookup(vs, ic->target, ic->lun);
    rc = wait_lun_room(vs, q, lun, ic->deadline);
    if (rc != KEEL_OK) {
        (void)keel_vscsi_q_leave(q, true);
        return rc;
    }
    /* From here until the command is sent nothing issues new pieces (no pump): the place stays. */
    si = take_slot_wait(vs, q, ic->deadline);
    if (si == NO_SLOT) {
        (void)keel_vscsi_q_leave(q, true);
        return vs->dead ? KEEL_ENODEV : KEEL_ETIMEDOUT;
    }
    s = &q->slots[si];
    s->kind = K_INTERNAL;
    s->icmd = ic;
    s->target = ic->target;
    s->lun = ic->lun;
    s->deadline = ic->deadline;
    s->buf = ic->buf;
    s->len = ic->len;
    s->dir = (uint8_t)(ic->write ? KEEL_DMA_TO_DEVICE : KEEL_DMA_FROM_DEVICE);
    rc = exec_send(vs, q, s, ic->deadline);
    if (rc != KEEL_OK) {
        keel_vscsi_slot_put(q, s);
        (void)keel_vscsi_q_leave(q, true);
        return rc;
    }
    if (lun != NULL) {
        s->lunp = lun; /* given back by internal_done, or by a recovery collecting the slot */
        lun->inflight[q->index]++;
    }
    (void)keel_vq_kick(&q->vq);
    while (!ic->done && !vs->dead) {
        (void)keel_vscsi_reap(q, 0);
        if (recover_if_asked(vs, q))
            continue;
        keel_vscsi_pump(q);
        if (ic->done)
            break;
        if (keel_time_us(hal) >= ic->deadline && s->icmd == ic && (s->flags & SF_INFLIGHT) &&
            !(s->flags & SF_OVERDUE)) {
            keel_vscsi_escalate(q, s);
            continue;
        }
        keel_delay_us(hal, EXEC_POLL_US);
    }
    if (!ic->done)
        ic->err = KEEL_ENODEV;
    (void)keel_vscsi_q_leave(q, true);
    return ic->err;
}

static int start_unit(struct keel_vscsi *vs, uint8_t target, uint16_t lun, uint32_t timeout_us)
{
    struct vscsi_icmd ic;
    int rc;

    keel_vscsi_icmd_init(&ic, target, lun);
    ic.cdb_len = (uint8_t)keel_scsi_cdb_start_stop_unit(ic.cdb, false, true, false);
    rc = keel_vscsi_exec(vs, &ic, timeout_us);
    if (rc != KEEL_OK)
        return rc;
    return ic.out.action == A_DONE ? KEEL_OK : ic.out.err;
}

/*
 * An internal command with the retry policy of keel_scsi_classify: unit attentions resent (up to
 * UA_RETRIES, a LUN queues several after resets), other retriable conditions up to
 * KEEL_CONFIG_VSCSI_RETRIES times, "becoming ready" waited for within
 * KEEL_CONFIG_VSCSI_READY_TIMEOUT_US, "initializing command required" answered with one START
 * STOP UNIT. 0, or the error of the last outcome.
 */
int keel_vscsi_run(struct keel_vscsi *vs, struct vscsi_icmd *ic, uint32_t timeout_us)
{
    const struct keel_hal *hal = vs->vdev.hal;
    struct keel_deadline ready = keel_deadline_in(hal, KEEL_CONFIG_VSCSI_READY_TIMEOUT_US);
    unsigned ua = 0, retries = 0;
    bool started = false;
    int rc;

    for (;;) {
        rc = keel_vscsi_exec(vs, ic, timeout_us);
        if (rc != KEEL_OK)
            return rc;
        keel_vscsi_note_outcome(vs, keel_vscsi_lun_lookup(vs, ic->target, ic->lun), &ic->out,
                                false);
        switch (ic->out.action) {
        case A_DONE:
            return KEEL_OK;
        case A_RETRY:
            if (ic->out.ua ? ua++ >= UA_RETRIES : retries++ >= KEEL_CONFIG_VSCSI_RETRIES)
                return ic->out.err;
            vs->stats.retries++;
            if (ic->out.delay_us != 0u)
                keel_delay_us(hal, ic->out.delay_us);
            break;
        case A_WAIT:
            if (keel_deadline_passed(hal, ready))
                return ic->out.err;
            vs->stats.retries++;
            keel_delay_us(hal, KEEL_CONFIG_VSCSI_READY_POLL_US);
            break;
        case A_START:
            if (started)
                return ic->out.err;
            started = true;
            rc = start_unit(vs, ic->target, ic->lun, timeout_us);
            if (rc != KEEL_OK)
                return rc;
            break;
        case A_FAIL:
        default:
            return ic->out.err;
        }
    }
}

int keel_vscsi_command(struct keel_vscsi *vs, uint8_t target, uint16_t lun, const uint8_t *cdb,
                       unsigned cdb_len, void *buf, uint32_t len, bool write, uint32_t timeout_us,
                       uint8_t *status, uint32_t *xfer)
{
    struct vscsi_icmd ic;
    int rc;

    if (vs == NULL || !vs->attached || cdb == NULL || cdb_len == 0u ||
        cdb_len > KEEL_SCSI_CDB_MAX || cdb_len > vs->cfg.cdb_size || lun > 0x3fffu ||
        (len != 0u && buf == NULL) || len > vs->max_xfer_bytes)
        return KEEL_EINVAL; /* more data than the device takes in one command (max_sectors) */
    keel_vscsi_icmd_init(&ic, target, lun);
    keel_memcpy(ic.cdb, cdb, cdb_len);
    ic.cdb_len = (uint8_t)cdb_len;
    ic.buf = buf;
    ic.len = len;
    ic.write = write;
    rc = keel_vscsi_run(vs, &ic, timeout_us);
    if (status != NULL)
        *status = ic.out.status;
    if (xfer != NULL)
        *xfer = ic.done ? ic.out.xfer : 0u;
    return rc;
}
