/* SPDX-License-Identifier: MIT */
/*
 * Queue pairs: slots and command identifiers, SQ entries and tail doorbells, CQ reaping with phase
 * tags and head doorbells. Everything the device writes into a CQ entry is checked here before it
 * indexes anything: SQ ID, SQ head pointer, CID slot index, CID generation, slot state.
 *
 * CID layout: bits [slot_bits-1:0] = slot index, the rest = a generation bumped on every
 * submission of the slot, so a late or duplicated completion for a recycled slot is rejected
 * (the same idea as Linux's genctr). CID FFFFh is never used (the error log reserves it).
 */
#include "nvme_priv.h"

#include <keel/endian.h>

/*
 * A CQ entry (4.6) is four little-endian dwords the device writes: DW0 the command's result, DW1
 * reserved, DW2 SQHD (15:0) and SQID (31:16), DW3 CID (15:0) and the status field with the phase
 * tag in bit 16. Read as whole dwords through a volatile pointer, converted from little-endian.
 */
#define CQE_DWORDS 4u
#define CQE_DW0    (KEEL_NVME_CQE_DW0 / 4u)
#define CQE_DW2    (KEEL_NVME_CQE_SQHD / 4u)
#define CQE_DW3    (KEEL_NVME_CQE_CID / 4u)

static uint16_t ring_dist(const struct keel_nvme_qpair *q, uint16_t from, uint16_t to)
{
    return (uint16_t)(to >= from ? to - from : (uint16_t)(to + q->entries - from));
}

static uint16_t ring_next(const struct keel_nvme_qpair *q, uint16_t i)
{
    return (uint16_t)(i + 1u == q->entries ? 0u : i + 1u);
}

void keel_nvme_qpair_setup(struct keel_nvme_ctrl *c, struct keel_nvme_qpair *q, uint16_t qid,
                           uint16_t entries, struct keel_nvme_slot *slots, uint16_t *free_stack,
                           uint16_t prp_pages)
{
    uint16_t i;
    keel_io_addr_t db = c->regs + KEEL_NVME_REG_DBS;

    q->ctrl = c;
    q->qid = qid;
    q->entries = entries;
    q->nslots = (uint16_t)(entries - 1u); /* a full ring keeps one entry empty (4.1.1) */
    q->slots = slots;
    q->free_stack = free_stack;
    q->slot_bits = 0;
    while ((1u << q->slot_bits) < q->nslots)
        q->slot_bits++;
    q->sq_db = db + (keel_io_addr_t)(2u * qid) * c->db_stride;
    q->cq_db = db + (keel_io_addr_t)(2u * qid + 1u) * c->db_stride;
    q->prp_pages = prp_pages;
    q->prp_nfree = 0;
    for (i = prp_pages; i > 0; i--)
        q->prp_free[q->prp_nfree++] = (uint16_t)(i - 1u);
    q->nfree = 0;
    for (i = q->nslots; i > 0; i--) {
        keel_memset(&slots[i - 1u], 0, sizeof(slots[0]));
        free_stack[q->nfree++] = (uint16_t)(i - 1u);
    }
    q->waiting = NULL;
    q->next_check_us = UINT64_MAX;
    q->bounce_busy = 0;
    keel_nvme_qpair_restart(q);
}

void keel_nvme_qpair_restart(struct keel_nvme_qpair *q)
{
    q->sq_tail = q->sq_head = q->sq_rung = 0;
    q->cq_head = q->cq_unrung = 0;
    q->phase = 1;
    /* Stale entries from before a reset may carry either phase: start from a zeroed ring. */
    if (q->cq_mem.cpu != NULL)
        keel_memset(q->cq_mem.cpu, 0, (size_t)q->entries << KEEL_NVME_CQES_SHIFT);
}

uint16_t keel_nvme_slot_index(const struct keel_nvme_qpair *q, const struct keel_nvme_slot *s)
{
    return (uint16_t)(s - q->slots);
}

struct keel_nvme_slot *keel_nvme_slot_get(struct keel_nvme_qpair *q)
{
    struct keel_nvme_slot *s;

    if (q->nfree == 0u)
        return NULL;
    s = &q->slots[q->free_stack[--q->nfree]];
    s->owner = NULL;
    s->map_cookie = NULL;
    s->buf = NULL;
    s->len = 0;
    s->nlb = 0;
    s->nlist = 0;
    s->flags = 0;
    s->retries = 0;
    s->deadline_us = UINT64_MAX;
    s->timeout_us = 0;
    keel_memset(&s->sqe, 0, sizeof(s->sqe));
    s->state = NVME_SLOT_ACTIVE;
    return s;
}

static void slot_put(struct keel_nvme_qpair *q, struct keel_nvme_slot *s)
{
    s->state = NVME_SLOT_FREE;
    s->owner = NULL;
    q->free_stack[q->nfree++] = keel_nvme_slot_index(q, s);
    /*
     * Every slot free: every command pushed to the SQ has completed, so the controller fetched them
     * all and its head is our tail. Resync here, or one bogus SQHD (ignored when it came) would
     * leave a small SQ looking full forever with nothing in flight to correct it.
     */
    if (q->nfree == q->nslots)
        q->sq_head = q->sq_tail;
}

unsigned keel_nvme_qpair_busy(const struct keel_nvme_qpair *q)
{
    return (unsigned)(q->nslots - q->nfree);
}

bool keel_nvme_sq_full(const struct keel_nvme_qpair *q)
{
    return ring_next(q, q->sq_tail) == q->sq_head;
}

/*
 * A completion may leave SQHD where it was (a valid value: the head never has to move), so a small
 * SQ can look full after its last command completed. When no slot holds a command the controller
 * has (ACTIVE or ABORTING), it fetched everything we pushed: its head is our tail. Without this a
 * slot waiting to retry (RETRY_WAIT) would wait for a head update no completion will ever bring.
 */
bool keel_nvme_sq_full_resync(struct keel_nvme_qpair *q)
{
    unsigned i;

    if (!keel_nvme_sq_full(q))
        return false;
    for (i = 0; i < q->nslots; i++)
        if (q->slots[i].state == NVME_SLOT_ACTIVE || q->slots[i].state == NVME_SLOT_ABORTING)
            return true;
    q->sq_head = q->sq_tail;
    return false;
}

void keel_nvme_sq_push(struct keel_nvme_qpair *q, struct keel_nvme_slot *s)
{
    uint32_t gen_mask = (1u << (16u - q->slot_bits)) - 1u;
    uint32_t idx = keel_nvme_slot_index(q, s);
    uint32_t cid;

    do {
        s->gen = (uint16_t)((s->gen + 1u) & gen_mask);
        cid = idx | ((uint32_t)s->gen << q->slot_bits);
    } while (cid == 0xffffu);
    s->sqe.cid = keel_cpu_to_le16((uint16_t)cid);
    keel_memcpy((uint8_t *)q->sq_mem.cpu + ((size_t)q->sq_tail << KEEL_NVME_SQES_SHIFT), &s->sqe,
                sizeof(s->sqe));
    q->sq_tail = ring_next(q, q->sq_tail);
    q->stats.submitted++;
}

void keel_nvme_sq_ring(struct keel_nvme_qpair *q)
{
    const struct keel_hal *hal = q->ctrl->hal;
    uint16_t batch;

    if (q->sq_tail == q->sq_rung)
        return;
    batch = ring_dist(q, q->sq_rung, q->sq_tail);
    if (batch > q->stats.max_batch)
        q->stats.max_batch = batch;
    q->sq_rung = q->sq_tail;
    q->stats.sq_doorbells++;
    keel_wmb(hal); /* entries and PRP lists visible before the doorbell */
    keel_mmio_write32(hal, q->sq_db, q->sq_tail);
}

void keel_nvme_track_deadline(struct keel_nvme_qpair *q, uint64_t deadline_us)
{
    if (deadline_us < q->next_check_us)
        q->next_check_us = deadline_us;
}

/* Unmap, free PRP pages and bounce; the slot stays allocated. */
static void slot_unmap(struct keel_nvme_qpair *q, struct keel_nvme_slot *s)
{
    const struct keel_hal *hal = q->ctrl->hal;

    if (s->map_cookie != NULL) {
        hal->ops->dma_unmap(hal->ctx, s->map_cookie, s->buf, s->len, (enum keel_dma_dir)s->dir);
        s->map_cookie = NULL;
    }
    if (s->flags & NVME_SF_BOUNCE) {
        q->bounce_busy = 0;
        s->flags = (uint8_t)(s->flags & ~NVME_SF_BOUNCE);
    }
    if (s->nlist != 0u)
        keel_nvme_prp_free(q, s);
}

void keel_nvme_slot_release(struct keel_nvme_qpair *q, struct keel_nvme_slot *s)
{
    slot_unmap(q, s);
    slot_put(q, s);
}

static void protocol_error(struct keel_nvme_qpair *q, const char *what, uint32_t v)
{
    q->ctrl->stats.protocol_errors++;
    KEEL_LOGW(q->ctrl->hal, "nvme%u: q%u: rejected completion: %s 0x%x",
              (unsigned)q->ctrl->cfg.index, (unsigned)q->qid, what, (unsigned)v);
}

static bool sqhd_valid(const struct keel_nvme_qpair *q, uint16_t sqhd)
{
    if (sqhd >= q->entries)
        return false;
    /* The head can only move forward, and never past what we published. */
    return ring_dist(q, q->sq_head, sqhd) <= ring_dist(q, q->sq_head, q->sq_tail);
}

static void cqe_handle(struct keel_nvme_qpair *q, uint32_t dw0, uint16_t sqhd, uint16_t sqid,
                       uint16_t cid, uint16_t status)
{
    struct keel_nvme_slot *s;
    uint32_t idx, gen;

    if (sqid != q->qid) {
        q->stats.bad_cqes++;
        protocol_error(q, "SQID", sqid);
        return;
    }
    if (sqhd_valid(q, sqhd)) {
        q->sq_head = sqhd;
    } else {
        q->stats.bad_sqhd++;
        protocol_error(q, "SQHD", sqhd);
    }
    idx = cid & ((1u << q->slot_bits) - 1u);
    gen = (uint32_t)cid >> q->slot_bits;
    if (idx >= q->nslots) {
        q->stats.bad_cqes++;
        protocol_error(q, "CID out of range", cid);
        return;
    }
    s = &q->slots[idx];
    if ((s->state != NVME_SLOT_ACTIVE && s->state != NVME_SLOT_ABORTING) || s->gen != gen) {
        q->stats.bad_cqes++;
        protocol_error(q, "CID stale or idle", cid);
        return;
    }
    q->stats.completed++;
    if (q->qid == 0u)
        keel_nvme_admin_complete(q, s, status, dw0);
    else
        keel_nvme_io_complete(q, s, status);
}

unsigned keel_nvme_cq_reap(struct keel_nvme_qpair *q, unsigned budget)
{
    const struct keel_hal *hal = q->ctrl->hal;
    const volatile uint32_t *ring = (const volatile uint32_t *)q->cq_mem.cpu;
    unsigned n = 0, limit = budget != 0u ? budget : q->entries;

    if (ring == NULL)
        return 0;
    while (n < limit) {
        const volatile uint32_t *e = ring + (size_t)q->cq_head * CQE_DWORDS;
        uint32_t dw0, dw2, dw3 = keel_le32_to_cpu(e[CQE_DW3]);

        if (((dw3 >> 16) & 1u) != q->phase)
            break;
        /* 4.6.1: the phase tag says the entry is new; read it before the rest of the entry. */
        keel_rmb(hal);
        dw0 = keel_le32_to_cpu(e[CQE_DW0]);
        dw2 = keel_le32_to_cpu(e[CQE_DW2]);
        dw3 = keel_le32_to_cpu(e[CQE_DW3]);
        q->cq_head = ring_next(q, q->cq_head);
        if (q->cq_head == 0u)
            q->phase ^= 1u;
        q->cq_unrung++;
        n++;
        /* SQHD, SQID, CID, and the status field above the phase tag. */
        cqe_handle(q, dw0, (uint16_t)dw2, (uint16_t)(dw2 >> 16), (uint16_t)dw3,
                   (uint16_t)(dw3 >> 17));
        if (!nvme_dev_ok(q->ctrl))
            break; /* a handler found the controller gone or reset it: the ring is not ours */
    }
    if (q->cq_unrung != 0u && nvme_dev_ok(q->ctrl)) {
        q->cq_unrung = 0;
        q->stats.cq_doorbells++;
        keel_mmio_write32(hal, q->cq_db, q->cq_head);
    }
    return n;
}

void keel_nvme_q_enter(struct keel_nvme_qpair *q)
{
    q->busy++;
}

void keel_nvme_q_leave(struct keel_nvme_qpair *q)
{
    struct keel_nvme_ctrl *c = q->ctrl;

    for (;;) {
        if (q->busy == 1u && nvme_live(c)) {
            /* Interrupts that arrived while we were busy were deferred to here. */
            while (q->irq_pending) {
                q->irq_pending = 0;
                (void)keel_nvme_cq_reap(q, 0);
                keel_nvme_io_continue(q);
            }
            /* An open batch still rings once it holds KEEL_CONFIG_NVME_PLUG_MAX commands or
             * fills the SQ: the bound for a batch its caller leaves open. */
            if (!q->plugged || keel_nvme_sq_full(q) ||
                ring_dist(q, q->sq_rung, q->sq_tail) >= KEEL_CONFIG_NVME_PLUG_MAX)
                keel_nvme_sq_ring(q);
            if (c->intx_deferred && nvme_live(c) && !c->admin_busy) {
                c->intx_deferred = 0;
                keel_nvme_wr32(c, KEEL_NVME_REG_INTMC, 1u);
            }
        }
        q->busy--;
        /* An interrupt that came after the last look at irq_pending (the doorbell just rung can
         * raise it at once) was deferred to us, and nobody else will take it: take it now. */
        if (q->busy != 0u || !q->irq_pending || !nvme_live(c))
            return;
        q->busy++;
    }
}
