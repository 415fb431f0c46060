/* SPDX-License-Identifier: MIT */
/*
 * The NVM data path: block requests become Read/Write/Compare/Flush/Dataset Management/Write Zeroes
 * commands on the request's queue pair. A request larger than one command may carry (MDTS, PRP
 * pool, HAL segments) is split into child commands issued as slots, PRP list pages and the bounce
 * buffer allow; a request that could not be fully issued waits on the queue (`waiting`) and is
 * continued from poll, while new requests get KEEL_ENOSPC (back-pressure).
 *
 * Everything here runs in the queue owner's context: no locks. Doorbells are rung once on the way
 * out of the outermost owner call (submit, poll, batch end), so completions that trigger more
 * children or retries are published together.
 */
#include "nvme_priv.h"

#include <keel/endian.h>

#define NVME_MAX_NLB 65536u /* NLB is a 16-bit 0-based field */

/* ---- request private state ----------------------------------------------------------------- */

static uint32_t req_flags(const struct keel_blk_req *r)
{
    return (uint32_t)(r->priv[NVME_REQ_STATE] >> 8);
}

static int req_err(const struct keel_blk_req *r)
{
    return -(int)(r->priv[NVME_REQ_STATE] & 0xffu);
}

static void req_set_err(struct keel_blk_req *r, int err)
{
    if (err != KEEL_OK && req_err(r) == KEEL_OK)
        r->priv[NVME_REQ_STATE] |= (uintptr_t)(unsigned)(-err) & 0xffu;
}

static struct keel_nvme_ns *req_ns(const struct keel_blk_req *r)
{
    return (struct keel_nvme_ns *)r->priv[NVME_REQ_NS];
}

/* Units a request needs handed to commands: blocks, or 1 for a flush or a DSM range list. */
static uint32_t req_units(const struct keel_blk_req *r)
{
    return (r->op == KEEL_BLK_OP_FLUSH || r->op == KEEL_BLK_OP_TRIM) ? 1u : r->count;
}

static bool req_fully_issued(const struct keel_blk_req *r)
{
    return r->priv[NVME_REQ_LEFT] == 0u;
}

/* Units already handed to commands (block ranges only: the next child starts there). */
static uint32_t req_issued(const struct keel_blk_req *r)
{
    return r->count - (uint32_t)r->priv[NVME_REQ_LEFT];
}

/* Complete the parent once nothing is in flight and nothing more will be issued. */
static void req_settle(struct keel_nvme_qpair *q, struct keel_blk_req *r)
{
    bool done_issuing = req_fully_issued(r) || req_err(r) != KEEL_OK;

    if (!done_issuing)
        return;
    if (q->waiting == r)
        q->waiting = NULL;
    if (r->priv[NVME_REQ_OUTSTANDING] == 0u)
        keel_blk_complete(r, req_err(r));
}

/* ---- building one child command ------------------------------------------------------------ */

static uint32_t req_timeout(const struct keel_blk_req *r)
{
    return r->timeout_us != 0u ? r->timeout_us : KEEL_CONFIG_BLK_DEFAULT_TIMEOUT_US;
}

static int take_prp_page(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, uint8_t **cpu)
{
    if (q->prp_nfree == 0u)
        return KEEL_EAGAIN;
    s->list[0] = q->prp_free[--q->prp_nfree];
    s->nlist = 1;
    *cpu = (uint8_t *)q->prp_mem.cpu + ((size_t)s->list[0] << q->ctrl->page_shift);
    s->sqe.prp1 = keel_cpu_to_le64(q->prp_mem.bus + ((uint64_t)s->list[0] << q->ctrl->page_shift));
    return KEEL_OK;
}

/* Dataset Management, deallocate: the range list lives in a PRP pool page (16 B x 256 = 4 KiB). */
static int build_dsm(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, struct keel_blk_req *r)
{
    const struct keel_nvme_range *rg = r->buf;
    bool list = (req_flags(r) & NVME_RF_RANGES) != 0u;
    uint32_t i, nr = list ? r->count : 1u;
    uint8_t *p;

    if (take_prp_page(q, s, &p) != KEEL_OK)
        return KEEL_EAGAIN;
    for (i = 0; i < nr; i++) {
        uint8_t *e = p + (size_t)KEEL_NVME_DSM_RANGE_SIZE * i;
        keel_st_le32(e, 0); /* context attributes */
        keel_st_le32(e + 4, list ? rg[i].count : r->count);
        keel_st_le64(e + 8, list ? rg[i].lba : r->dev_lba);
    }
    s->sqe.opc = KEEL_NVME_CMD_DSM;
    s->sqe.cdw10 = keel_cpu_to_le32(nr - 1u);
    s->sqe.cdw11 = keel_cpu_to_le32(KEEL_NVME_DSM_AD);
    s->nlb = 1;
    return KEEL_OK;
}

/* Data through the bounce buffer: one contiguous, page-aligned DMA region per queue. */
static int map_bounce(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, struct keel_nvme_ns *ns,
                      uint8_t *buf, uint32_t *nlb, enum keel_dma_dir dir)
{
    uint32_t cap = q->bounce_bytes >> ns->lba_shift, bytes;
    int rc;

    if (cap == 0u) {
        q->ctrl->stats.efault++;
        return KEEL_EFAULT;
    }
    if (q->bounce_busy)
        return KEEL_EAGAIN;
    if (*nlb > cap)
        *nlb = cap;
    bytes = *nlb << ns->lba_shift;
    rc = keel_nvme_prp_contig(q, s, q->bounce_mem.bus, bytes);
    if (rc != KEEL_OK)
        return rc == KEEL_EBUSY ? KEEL_EAGAIN : rc;
    if (dir == KEEL_DMA_TO_DEVICE)
        keel_memcpy(q->bounce_mem.cpu, buf, bytes);
    q->bounce_busy = 1;
    s->flags |= NVME_SF_BOUNCE;
    s->buf = buf;
    s->len = bytes;
    s->dir = (uint8_t)dir;
    q->stats.bounces++;
    return KEEL_OK;
}

/* Map a child's part of the caller buffer; shrink when the HAL needs more segments than we hold. */
static int map_data(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, struct keel_nvme_ns *ns,
                    uint8_t *buf, uint32_t *nlb, enum keel_dma_dir dir)
{
    int rc;

    for (;;) {
        rc = keel_nvme_prp_map(q, s, buf, *nlb << ns->lba_shift, dir);
        if (rc != KEEL_ENOSPC || *nlb == 1u)
            break;
        *nlb >>= 1;
    }
    if (rc == KEEL_OK)
        return KEEL_OK;
    switch (rc) {
    case KEEL_EBUSY:  /* no PRP list page free */
    case KEEL_ENOMEM: /* HAL out of bounce/IOMMU space: try again later */
        return KEEL_EAGAIN;
    case KEEL_EFAULT:
        if (KEEL_CONFIG_NVME_BOUNCE_BYTES == 0u) {
            q->ctrl->stats.efault++;
            return KEEL_EFAULT;
        }
        return map_bounce(q, s, ns, buf, nlb, dir);
    default:
        return rc;
    }
}

static int build_rw(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, struct keel_nvme_ns *ns,
                    struct keel_blk_req *r)
{
    uint32_t done = req_issued(r);
    uint32_t nlb = r->count - done;
    bool compare = (req_flags(r) & NVME_RF_COMPARE) != 0u;
    enum keel_dma_dir dir =
        (r->op == KEEL_BLK_OP_READ && !compare) ? KEEL_DMA_FROM_DEVICE : KEEL_DMA_TO_DEVICE;
    uint64_t lba = r->dev_lba + done;
    uint32_t cdw12 = 0;
    int rc;

    if (nlb > ns->child_max_lbas)
        nlb = ns->child_max_lbas;
    rc = map_data(q, s, ns, (uint8_t *)r->buf + ((size_t)done << ns->lba_shift), &nlb, dir);
    if (rc != KEEL_OK)
        return rc;
    if (r->op == KEEL_BLK_OP_WRITE)
        s->sqe.opc = KEEL_NVME_CMD_WRITE;
    else
        s->sqe.opc = compare ? KEEL_NVME_CMD_COMPARE : KEEL_NVME_CMD_READ;
    if (r->flags & KEEL_BLK_REQ_FUA)
        cdw12 |= KEEL_NVME_RW_FUA;
    s->sqe.cdw10 = keel_cpu_to_le32((uint32_t)lba);
    s->sqe.cdw11 = keel_cpu_to_le32((uint32_t)(lba >> 32));
    s->sqe.cdw12 = keel_cpu_to_le32(cdw12 | (nlb - 1u));
    s->nlb = nlb;
    return KEEL_OK;
}

static void build_write_zeroes(struct keel_nvme_slot *s, struct keel_blk_req *r)
{
    uint32_t done = req_issued(r);
    uint32_t nlb = r->count - done;
    uint64_t lba = r->dev_lba + done;
    uint32_t cdw12 = (r->flags & KEEL_BLK_REQ_UNMAP) ? KEEL_NVME_WZ_DEAC : 0u;

    if (nlb > NVME_MAX_NLB)
        nlb = NVME_MAX_NLB;
    s->sqe.opc = KEEL_NVME_CMD_WRITE_ZEROES;
    s->sqe.cdw10 = keel_cpu_to_le32((uint32_t)lba);
    s->sqe.cdw11 = keel_cpu_to_le32((uint32_t)(lba >> 32));
    s->sqe.cdw12 = keel_cpu_to_le32(cdw12 | (nlb - 1u));
    s->nlb = nlb;
}

/*
 * Issue one child, timed from `now`. KEEL_EAGAIN: out of slots/SQ room/PRP pages/bounce, try again
 * after a poll.
 */
static int issue_one(struct keel_nvme_qpair *q, struct keel_blk_req *r, uint64_t now)
{
    struct keel_nvme_ns *ns = req_ns(r);
    struct keel_nvme_slot *s;
    int rc = KEEL_OK;

    if (keel_nvme_sq_full(q))
        return KEEL_EAGAIN;
    s = keel_nvme_slot_get(q);
    if (s == NULL)
        return KEEL_EAGAIN;
    switch (r->op) {
    case KEEL_BLK_OP_FLUSH:
        s->sqe.opc = KEEL_NVME_CMD_FLUSH;
        s->nlb = 1;
        break;
    case KEEL_BLK_OP_TRIM:
        rc = build_dsm(q, s, r);
        break;
    case KEEL_BLK_OP_WRITE_ZEROES:
        build_write_zeroes(s, r);
        break;
    default:
        rc = build_rw(q, s, ns, r);
        break;
    }
    if (rc != KEEL_OK) {
        keel_nvme_slot_release(q, s);
        return rc;
    }
    s->sqe.nsid = keel_cpu_to_le32(ns->nsid);
    s->kind = NVME_KIND_BLK;
    s->owner = r;
    s->timeout_us = req_timeout(r);
    s->deadline_us = now + s->timeout_us;
    keel_nvme_track_deadline(q, s->deadline_us);
    r->priv[NVME_REQ_LEFT] -= s->nlb;
    r->priv[NVME_REQ_OUTSTANDING]++;
    keel_nvme_sq_push(q, s);
    return KEEL_OK;
}

/*
 * Issue children until done, out of resources, or a hard error (recorded in the request). `now` is
 * the time the children are issued at (one clock read per call, not one per child).
 */
static void issue(struct keel_nvme_qpair *q, struct keel_blk_req *r, uint64_t now)
{
    while (!req_fully_issued(r) && req_err(r) == KEEL_OK) {
        int rc = issue_one(q, r, now);

        if (rc == KEEL_EAGAIN)
            break;
        if (rc != KEEL_OK)
            req_set_err(r, rc);
    }
}

/* ---- submit, continue, complete ------------------------------------------------------------ */

static int check_op(const struct keel_nvme_ns *ns, const struct keel_blk_req *r, uint32_t flags)
{
    const struct keel_nvme_ctrl *c = ns->ctrl;

    switch (r->op) {
    case KEEL_BLK_OP_READ:
        if ((flags & NVME_RF_COMPARE) && !(c->oncs & KEEL_NVME_ONCS_COMPARE))
            return KEEL_ENOTSUP;
        return r->buf != NULL && r->count != 0u ? KEEL_OK : KEEL_EINVAL;
    case KEEL_BLK_OP_WRITE:
        return r->buf != NULL && r->count != 0u ? KEEL_OK : KEEL_EINVAL;
    case KEEL_BLK_OP_FLUSH:
        return KEEL_OK;
    case KEEL_BLK_OP_TRIM:
        return (c->oncs & KEEL_NVME_ONCS_DSM) ? KEEL_OK : KEEL_ENOTSUP;
    case KEEL_BLK_OP_WRITE_ZEROES:
        return (c->oncs & KEEL_NVME_ONCS_WRITE_ZEROES) ? KEEL_OK : KEEL_ENOTSUP;
    default:
        return KEEL_EINVAL;
    }
}

static int submit(struct keel_nvme_ns *ns, struct keel_blk_req *r, uint32_t flags)
{
    struct keel_nvme_ctrl *c = ns->ctrl;
    struct keel_nvme_qpair *q;
    int rc;

    if (c->life != KEEL_NVME_LIFE_LIVE)
        return c->life == KEEL_NVME_LIFE_RESETTING ? KEEL_ENOSPC : KEEL_ENODEV;
    if (r->queue >= c->nr_io)
        return KEEL_EINVAL;
    rc = check_op(ns, r, flags);
    if (rc != KEEL_OK)
        return rc;
    q = &c->io[r->queue];
    if (q->waiting != NULL) {
        q->stats.backpressure++;
        return KEEL_ENOSPC;
    }
    r->priv[NVME_REQ_LEFT] = req_units(r);
    r->priv[NVME_REQ_OUTSTANDING] = 0;
    r->priv[NVME_REQ_STATE] = (uintptr_t)flags << 8;
    r->priv[NVME_REQ_NS] = (uintptr_t)ns;
    keel_nvme_q_enter(q);
    issue(q, r, r->start_us); /* the block layer read the clock at submit: timed from there */
    if (r->priv[NVME_REQ_OUTSTANDING] == 0u) {
        /* Nothing reached the device: refuse, done() will not run. */
        rc = req_err(r);
        if (rc == KEEL_OK) {
            rc = KEEL_ENOSPC;
            q->stats.backpressure++;
        }
    } else if (!req_fully_issued(r) && req_err(r) == KEEL_OK) {
        q->waiting = r;
    }
    keel_nvme_q_leave(q);
    return rc;
}

int keel_nvme_io_submit(struct keel_nvme_ns *ns, struct keel_blk_req *req)
{
    return submit(ns, req, 0);
}

void keel_nvme_io_continue(struct keel_nvme_qpair *q)
{
    struct keel_blk_req *r = q->waiting;
    uint64_t now;

    if (r == NULL || !nvme_live(q->ctrl))
        return;
    now = nvme_now(q->ctrl);
    issue(q, r, now);
    /* A request that could not even start within its timeout fails rather than wait forever. */
    if (r->priv[NVME_REQ_OUTSTANDING] == 0u && !req_fully_issued(r) &&
        now >= r->start_us + req_timeout(r))
        req_set_err(r, KEEL_ETIMEDOUT);
    req_settle(q, r);
}

static void finish_child(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, int err)
{
    struct keel_blk_req *r = s->owner;

    if (err == KEEL_OK && (s->flags & NVME_SF_BOUNCE) && s->dir == KEEL_DMA_FROM_DEVICE)
        keel_memcpy(s->buf, q->bounce_mem.cpu, s->len);
    keel_nvme_slot_release(q, s);
    r->priv[NVME_REQ_OUTSTANDING]--;
    req_set_err(r, err);
    req_settle(q, r);
}

static void retry(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, uint16_t status)
{
    struct keel_nvme_ctrl *c = q->ctrl;
    uint32_t crd = KEEL_NVME_STATUS_CRD(status);
    uint64_t delay = crd != 0u ? (uint64_t)c->crdt[crd - 1u] * 100000u : 0u; /* CRDT: 100 ms */

    s->retries++;
    keel_blk_note_retry(s->owner);
    c->stats.retries++;
    if (delay != 0u || keel_nvme_sq_full(q)) {
        s->state = NVME_SLOT_RETRY_WAIT;
        s->deadline_us = nvme_now(c) + delay;
    } else {
        s->deadline_us = nvme_deadline_after(c, s->timeout_us);
        keel_nvme_sq_push(q, s);
    }
    keel_nvme_track_deadline(q, s->deadline_us);
}

void keel_nvme_io_complete(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, uint16_t status)
{
    int err = KEEL_OK;

    if (status != 0u) {
        if (!(s->flags & NVME_SF_TIMED_OUT) && keel_nvme_status_retriable(status) &&
            s->retries < KEEL_CONFIG_NVME_MAX_RETRIES) {
            retry(q, s, status);
            return;
        }
        q->last_status = status;
        err = (s->flags & NVME_SF_TIMED_OUT) ? KEEL_ETIMEDOUT : keel_nvme_status_to_err(status);
    }
    finish_child(q, s, err);
}

void keel_nvme_io_fail_slot(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, int err)
{
    finish_child(q, s, err);
}

void keel_nvme_io_fail_waiting(struct keel_nvme_qpair *q, int err)
{
    struct keel_blk_req *r = q->waiting;

    if (r == NULL)
        return;
    req_set_err(r, err);
    req_settle(q, r);
}

int keel_nvme_io_poll(struct keel_nvme_qpair *q, unsigned budget)
{
    struct keel_nvme_ctrl *c = q->ctrl;
    int n;

    if (c->life != KEEL_NVME_LIFE_LIVE)
        return c->life == KEEL_NVME_LIFE_RESETTING ? 0 : KEEL_ENODEV;
    if (q->busy)
        return 0; /* called from a completion callback of this queue: the outer poll reaps */
    keel_nvme_q_enter(q);
    keel_nvme_sq_ring(q); /* a poll publishes an open batch so far (the batch stays open) */
    q->irq_pending = 0;
    n = (int)keel_nvme_cq_reap(q, budget);
    keel_nvme_io_continue(q);
    if (nvme_live(c)) {
        uint64_t now = nvme_now(c);
        if (now >= q->next_check_us)
            n += keel_nvme_qpair_check_timeouts(q, now);
    }
    keel_nvme_q_leave(q);
    return n;
}

/* ---- synchronous extras -------------------------------------------------------------------- */

/*
 * The blocking helpers keep the mark that done() ran in the request (NVME_RF_EXEC_DONE in its
 * private state), not in a variable of their own frame, and return only once it is set, or once
 * nothing in the driver refers to the request any more. Read through a volatile access: in
 * interrupt mode done() may run from the handler.
 */
static void exec_done(struct keel_blk_req *req)
{
    req->priv[NVME_REQ_STATE] |= (uintptr_t)NVME_RF_EXEC_DONE << 8;
}

static bool exec_finished(const struct keel_blk_req *req)
{
    const volatile uintptr_t *st = &req->priv[NVME_REQ_STATE];

    return ((*st >> 8) & NVME_RF_EXEC_DONE) != 0u;
}

/*
 * Wait for an accepted request. Past the deadline (the request's timeout plus the recovery grace;
 * the driver's own escalation normally ends it first), or when polling finds the controller no
 * longer usable, recovery takes the request back before this returns: a reset completes
 * everything in flight once the device can no longer touch it, and when the reset cannot run (one
 * is already under way elsewhere), keel_nvme_fence() fails the controller the same way. Either
 * way done() has run, or the request is in no slot and not waiting, when this returns.
 */
static int exec_wait(struct keel_nvme_ctrl *c, struct keel_blk_req *req)
{
    struct keel_nvme_qpair *q = &c->io[req->queue];
    struct keel_deadline d =
        keel_deadline_in(c->hal, (uint64_t)req_timeout(req) + KEEL_CONFIG_BLK_RECOVERY_GRACE_US);
    int rc;

    for (;;) {
        rc = keel_nvme_io_poll(q, 0);
        if (exec_finished(req))
            return req->status;
        if (rc < 0 && c->life != KEEL_NVME_LIFE_RESETTING)
            break; /* gone, failed or detached: their recovery completed what was in flight */
        if (keel_deadline_passed(c->hal, d)) {
            rc = KEEL_ETIMEDOUT;
            break;
        }
    }
    (void)keel_nvme_reset_now(c, false);
    if (!exec_finished(req))
        keel_nvme_fence(c);
    return exec_finished(req) ? req->status : rc;
}

int keel_nvme_io_execute(struct keel_nvme_ns *ns, struct keel_blk_req *req)
{
    struct keel_nvme_ctrl *c = ns->ctrl;
    uint32_t flags = req_flags(req) & ~NVME_RF_EXEC_DONE;
    struct keel_deadline d;
    int rc;

    req->done = exec_done;
    req->dev = &ns->blk;
    req->dev_lba = req->lba;
    req->status = KEEL_EAGAIN;
    req->next = NULL;
    d = keel_deadline_in(c->hal, req_timeout(req));
    for (;;) {
        req->start_us = nvme_now(c);
        rc = submit(ns, req, flags); /* refused (rc != 0): the driver keeps no reference */
        if (rc != KEEL_ENOSPC)
            break;
        (void)keel_nvme_io_poll(&c->io[req->queue], 0);
        if (keel_deadline_passed(c->hal, d))
            return KEEL_ETIMEDOUT;
    }
    if (rc != KEEL_OK)
        return rc;
    return exec_wait(c, req);
}

static int check_queue(const struct keel_nvme_ns *ns, unsigned queue)
{
    if (ns == NULL || ns->refusal != KEEL_NVME_NS_OK)
        return KEEL_EINVAL;
    if (queue >= ns->ctrl->nr_io)
        return KEEL_EINVAL;
    return KEEL_OK;
}

int keel_nvme_ns_compare(struct keel_nvme_ns *ns, unsigned queue, uint64_t lba, uint32_t count,
                         const void *buf, uint32_t timeout_us)
{
    struct keel_blk_req req = {0};
    int rc = check_queue(ns, queue);

    if (rc != KEEL_OK)
        return rc;
    if (buf == NULL || count == 0u)
        return KEEL_EINVAL;
    if (!(ns->ctrl->oncs & KEEL_NVME_ONCS_COMPARE))
        return KEEL_ENOTSUP;
    if (lba > ns->nsze || count > ns->nsze - lba)
        return KEEL_ERANGE;
    req.op = KEEL_BLK_OP_READ;
    req.queue = (uint16_t)queue;
    req.lba = lba;
    req.count = count;
    req.buf = (void *)(uintptr_t)buf; /* the device only reads it */
    req.timeout_us = timeout_us;
    req.priv[NVME_REQ_STATE] = (uintptr_t)NVME_RF_COMPARE << 8;
    return keel_nvme_io_execute(ns, &req);
}

int keel_nvme_ns_deallocate(struct keel_nvme_ns *ns, unsigned queue,
                            const struct keel_nvme_range *ranges, unsigned n, uint32_t timeout_us)
{
    struct keel_blk_req req = {0};
    unsigned i;
    int rc = check_queue(ns, queue);

    if (rc != KEEL_OK)
        return rc;
    if (ranges == NULL || n == 0u || n > KEEL_NVME_DSM_MAX_RANGES)
        return KEEL_EINVAL;
    if (!(ns->ctrl->oncs & KEEL_NVME_ONCS_DSM))
        return KEEL_ENOTSUP;
    if (ns->blk.access == KEEL_BLK_ACCESS_RO || ns->write_protected)
        return KEEL_EROFS;
    for (i = 0; i < n; i++) {
        if (ranges[i].count == 0u)
            return KEEL_EINVAL;
        if (ranges[i].lba > ns->nsze || ranges[i].count > ns->nsze - ranges[i].lba)
            return KEEL_ERANGE;
    }
    req.op = KEEL_BLK_OP_TRIM;
    req.queue = (uint16_t)queue;
    req.lba = ranges[0].lba;
    req.count = n;
    req.buf = (void *)(uintptr_t)ranges;
    req.timeout_us = timeout_us;
    req.priv[NVME_REQ_STATE] = (uintptr_t)NVME_RF_RANGES << 8;
    return keel_nvme_io_execute(ns, &req);
}

void keel_nvme_batch_begin(struct keel_nvme_ctrl *ctrl, unsigned queue)
{
    if (ctrl != NULL && queue < ctrl->nr_io)
        ctrl->io[queue].plugged = 1;
}

void keel_nvme_batch_end(struct keel_nvme_ctrl *ctrl, unsigned queue)
{
    struct keel_nvme_qpair *q;

    if (ctrl == NULL || queue >= ctrl->nr_io)
        return;
    q = &ctrl->io[queue];
    q->plugged = 0;
    keel_nvme_q_enter(q);
    keel_nvme_q_leave(q); /* rings once for everything queued meanwhile */
}
