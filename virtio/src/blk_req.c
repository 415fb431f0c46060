/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk requests (5.2.6): a block request becomes one or more virtio requests ("pieces"), each
 * a chain of header (device-readable), data and a status byte (device-writable) in one slot. READ
 * and WRITE buffers are mapped through the HAL and every DMA segment becomes a descriptor; a piece
 * carries at most seg_limit data descriptors of at most size_max bytes, and when the mapping needs
 * more, the piece is halved until it fits (split). Discard, write-zeroes and secure-erase pieces
 * honour the device's per-request sector limits, and discard / secure-erase split points its
 * alignment. Pieces of one request are issued in order, many
 * per notification, and the request completes when its last piece does.
 *
 * Concurrency: all of this runs in the queue owner's context or in the queue's interrupt callback;
 * q->depth tells the callback that the owner is inside, in which case it only leaves a note.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/testpoint.h>
#include <keel/virtio_blk.h>
#include <keel/wait.h>

#include "blk_internal.h"

enum { ISSUE_MORE = 0, ISSUE_LAST = 1, ISSUE_NONE = 2 };

enum piece_kind { K_RW = 1, K_FLUSH = 2, K_RANGE = 3, K_GET_ID = 4 };

uint64_t keel_vblk_deadline(const struct keel_blk_req *req)
{
    uint32_t t = req->timeout_us ? req->timeout_us : KEEL_CONFIG_BLK_DEFAULT_TIMEOUT_US;
    return req->start_us + t;
}

/* ---- small helpers --------------------------------------------------------------------------- */

static uint8_t *slot_cpu(const struct keel_vblk_queue *q, uint16_t i)
{
    return (uint8_t *)q->slot_mem.cpu + (size_t)i * KEEL_VBLK_SLOT_BYTES;
}

static keel_bus_addr_t slot_bus(const struct keel_vblk_queue *q, uint16_t i)
{
    return q->slot_mem.bus + (keel_bus_addr_t)i * KEEL_VBLK_SLOT_BYTES;
}

/* Kept in the slot: a pointer difference would divide by the slot's size on every completion. */
static uint16_t slot_index(const struct keel_vblk_queue *q, const struct keel_vblk_slot *s)
{
    (void)q;
    return s->index;
}

/* Header fields: little-endian, or guest order on the legacy interface (5.2.6.3). */
static void put32(const struct keel_vblk *vb, uint8_t *p, uint32_t v)
{
    if (KEEL_BIG_ENDIAN && vb->vdev.legacy)
        keel_st_be32(p, v);
    else
        keel_st_le32(p, v);
}

static void put64(const struct keel_vblk *vb, uint8_t *p, uint64_t v)
{
    if (KEEL_BIG_ENDIAN && vb->vdev.legacy)
        keel_st_be64(p, v);
    else
        keel_st_le64(p, v);
}

static void write_header(struct keel_vblk_queue *q, uint16_t s, uint32_t type, uint64_t sector)
{
    uint8_t *p = slot_cpu(q, s);

    put32(q->vb, p + SLOT_HDR, type);
    put32(q->vb, p + SLOT_HDR + 4u, 0);
    put64(q->vb, p + SLOT_HDR + 8u, sector);
    /* Preset to a value no device writes as status: unwritten means failed (5.2.6). */
    *(volatile uint8_t *)(p + SLOT_STATUS) = STATUS_PRESET;
}

static uint16_t slot_take(struct keel_vblk_queue *q)
{
    uint16_t i = q->free_slot;

    if (i != NO_SLOT) {
        q->free_slot = q->slots[i].next_free;
        q->used_slots++;
    }
    return i;
}

static void slot_put(struct keel_vblk_queue *q, uint16_t i)
{
    q->slots[i].req = NULL;
    q->slots[i].cookie = NULL;
    q->slots[i].next_free = q->free_slot;
    q->free_slot = i;
    q->used_slots--;
}

static void unmap_slot(struct keel_vblk_queue *q, struct keel_vblk_slot *s)
{
    const struct keel_hal *hal = q->vb->vdev.hal;

    if (s->cookie != NULL)
        hal->ops->dma_unmap(hal->ctx, s->cookie, s->buf, s->len, (enum keel_dma_dir)s->dir);
    s->cookie = NULL;
}

void keel_vblk_slot_release(struct keel_vblk_queue *q, struct keel_vblk_slot *s)
{
    unmap_slot(q, s);
    slot_put(q, slot_index(q, s));
}

/* ---- lists ------------------------------------------------------------------------------------
 */

void keel_vblk_pend_push(struct keel_vblk_queue *q, struct keel_blk_req *req)
{
    req->next = NULL;
    rq_set(req, RF_PENDING);
    if (q->pend_tail != NULL)
        q->pend_tail->next = req;
    else
        q->pend_head = req;
    q->pend_tail = req;
}

static void pend_pop(struct keel_vblk_queue *q)
{
    struct keel_blk_req *req = q->pend_head;

    q->pend_head = req->next;
    if (q->pend_head == NULL)
        q->pend_tail = NULL;
    req->next = NULL;
    rq_clear(req, RF_PENDING);
}

void keel_vblk_finish(struct keel_vblk_queue *q, struct keel_blk_req *req)
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
 * lost a request or completed one twice (seen with virtio-scsi on QEMU under TCG).
 */
static struct keel_blk_req *fin_pop(struct keel_vblk_queue *q)
{
    struct keel_blk_req *req;

    q->depth++;
    __asm__ volatile("" ::: "memory"); /* busy before the list is read */
    req = q->fin_head;
    if (req != NULL) {
        q->fin_head = req->next;
        KEEL_TEST_POINT(KEEL_TP_VBLK_FIN_POP); /* an interrupt here must find the queue busy */
        if (q->fin_head == NULL)
            q->fin_tail = NULL;
        req->next = NULL;
    }
    __asm__ volatile("" ::: "memory"); /* the list is consistent before the interrupt may run */
    q->depth--;
    return req;
}

unsigned keel_vblk_drain_finished(struct keel_vblk_queue *q)
{
    struct keel_blk_req *req;
    unsigned n = 0;

    while ((req = fin_pop(q)) != NULL) {
        int st = rq_err(req);
        if (st == KEEL_ETIMEDOUT)
            q->vb->stats.timeouts++;
        else if (st == KEEL_EPROTO)
            q->vb->stats.protocol_errors++;
        if (req->op < KEEL_BLK_OP_COUNT) {
            keel_blk_complete(req, st);
        } else {
            req->status = st;
            req->done(req);
        }
        n++;
    }
    return n;
}

/* ---- what a request still needs ------------------------------------------------------------- */

static bool has_flush(const struct keel_vblk *vb)
{
    return keel_virtio_has(&vb->vdev, KEEL_VIRTIO_BLK_F_FLUSH);
}

/* FUA has no virtio equivalent: a flush after the write, when there is a cache to flush. */
static bool fua_flush(const struct keel_vblk *vb, const struct keel_blk_req *req)
{
    return req->op == KEEL_BLK_OP_WRITE && (req->flags & KEEL_BLK_REQ_FUA) && has_flush(vb) &&
           (vb->blk.info.flags & KEEL_BLK_F_FLUSH);
}

static bool needs_more_op(const struct keel_vblk *vb, const struct keel_blk_req *req)
{
    switch (req->op) {
    case KEEL_BLK_OP_TRIM:
    case KEEL_BLK_OP_WRITE_ZEROES:
    case VBLK_OP_SECURE_ERASE:
        return rq_issued(req) < req->count;
    case KEEL_BLK_OP_WRITE:
        return rq_issued(req) < req->count || (fua_flush(vb, req) && !(rq_flags(req) & RF_SENT));
    case KEEL_BLK_OP_FLUSH:
        return has_flush(vb) && !(rq_flags(req) & RF_SENT);
    case VBLK_OP_GET_ID:
        return !(rq_flags(req) & RF_SENT);
    default:
        return false;
    }
}

/* Whether `req` has a piece left to issue. READ, the common case, is one comparison (this runs
 * when a piece is issued, after it and when the last piece completes). */
static inline bool needs_more(const struct keel_vblk *vb, const struct keel_blk_req *req)
{
    if (req->op == KEEL_BLK_OP_READ)
        return rq_issued(req) < req->count;
    return needs_more_op(vb, req);
}

/* ---- building pieces ----------------------------------------------------------------------------
 */

/* Turn mapped segments into data descriptors no longer than size_max; count them. One non-empty
 * segment within size_max, the common case, is one descriptor as it is. */
static unsigned fill_data(struct keel_vblk_queue *q, unsigned nsegs, unsigned limit)
{
    uint32_t smax = q->vb->cfg.size_max, len0 = q->segs[0].len;
    unsigned n = 0, i;

    if (nsegs == 1u && len0 != 0u && (smax == 0u || len0 <= smax)) {
        q->sg[1].addr = q->segs[0].bus;
        q->sg[1].len = len0;
        return 1;
    }
    for (i = 0; i < nsegs; i++) {
        keel_bus_addr_t a = q->segs[i].bus;
        uint32_t left = q->segs[i].len;
        while (left > 0u) {
            uint32_t l = (smax != 0u && left > smax) ? smax : left;
            if (n >= limit)
                return limit + 1u;
            q->sg[1u + n].addr = a;
            q->sg[1u + n].len = l;
            n++;
            a += l;
            left -= l;
        }
    }
    return n;
}

/* Map the next part of a READ/WRITE buffer, halving it until it fits the descriptor limits. */
static int map_rw(struct keel_vblk_queue *q, struct keel_blk_req *req, struct keel_vblk_slot *s,
                  unsigned *ndesc)
{
    struct keel_vblk *vb = q->vb;
    const struct keel_hal *hal = vb->vdev.hal;
    uint32_t left = req->count - rq_issued(req);
    uint32_t blocks = left < vb->max_chunk_blocks ? left : vb->max_chunk_blocks;
    enum keel_dma_dir dir = req->op == KEEL_BLK_OP_READ ? KEEL_DMA_FROM_DEVICE : KEEL_DMA_TO_DEVICE;
    uint8_t *buf = (uint8_t *)req->buf + ((size_t)rq_issued(req) << vb->lb_bytes_shift);

    for (;;) {
        size_t len = (size_t)blocks << vb->lb_bytes_shift;
        unsigned nsegs = 0;
        void *cookie = NULL;
        int rc =
            hal->ops->dma_map(hal->ctx, buf, len, dir, q->segs, vb->seg_limit, &nsegs, &cookie);
        if (rc == KEEL_OK) {
            *ndesc = fill_data(q, nsegs, vb->seg_limit);
            if (*ndesc <= vb->seg_limit) {
                s->cookie = cookie;
                s->buf = buf;
                s->len = (uint32_t)len;
                s->dir = (uint8_t)dir;
                s->blocks = blocks;
                return KEEL_OK;
            }
            hal->ops->dma_unmap(hal->ctx, cookie, buf, len, dir);
            rc = KEEL_ENOSPC;
        }
        if (rc != KEEL_ENOSPC)
            return rc;
        if (blocks == 1u)
            return KEEL_EFAULT; /* one block needs more segments than the device takes */
        blocks >>= 1;
    }
}

static int piece_rw(struct keel_vblk_queue *q, struct keel_blk_req *req, uint16_t si)
{
    struct keel_vblk *vb = q->vb;
    struct keel_vblk_slot *s = &q->slots[si];
    bool write = req->op == KEEL_BLK_OP_WRITE;
    uint64_t lba = req->dev_lba + rq_issued(req);
    unsigned ndesc = 0;
    int rc = map_rw(q, req, s, &ndesc);

    if (rc != KEEL_OK)
        return rc;
    write_header(q, si, write ? KEEL_VIRTIO_BLK_T_OUT : KEEL_VIRTIO_BLK_T_IN, lba << vb->lb_shift);
    q->sg[0].addr = slot_bus(q, si) + SLOT_HDR;
    q->sg[0].len = 16;
    q->sg[1u + ndesc].addr = slot_bus(q, si) + SLOT_STATUS;
    q->sg[1u + ndesc].len = 1;
    s->kind = K_RW;
    if (write)
        rc = keel_vq_add(&q->vq, q->sg, 1u + ndesc, 1, s);
    else
        rc = keel_vq_add(&q->vq, q->sg, 1, ndesc + 1u, s);
    if (rc != KEEL_OK) {
        unmap_slot(q, s);
        return rc;
    }
    if (rq_issued(req) != 0u)
        vb->stats.splits++;
    req->priv[P_ISSUED] += s->blocks;
    return KEEL_OK;
}

/*
 * Per-request limit of a range operation, and the alignment its split points should keep
 * (discard_sector_alignment / secure_erase_sector_alignment, 5.2.4: "can be used by OS when
 * splitting a request based on alignment"), in logical blocks. Only a power-of-two alignment of at
 * least one logical block is honoured (no division in the I/O path); 0 means none.
 */
static void range_limit(const struct keel_vblk *vb, uint8_t op, uint32_t *type, uint32_t *max,
                        uint32_t *align)
{
    uint32_t sectors, al = 0;

    if (op == KEEL_BLK_OP_TRIM) {
        *type = KEEL_VIRTIO_BLK_T_DISCARD;
        sectors = vb->cfg.max_discard_sectors;
        al = vb->cfg.discard_sector_alignment;
    } else if (op == KEEL_BLK_OP_WRITE_ZEROES) {
        *type = KEEL_VIRTIO_BLK_T_WRITE_ZEROES;
        sectors = vb->cfg.max_write_zeroes_sectors;
    } else {
        *type = KEEL_VIRTIO_BLK_T_SECURE_ERASE;
        sectors = vb->cfg.max_secure_erase_sectors;
        al = vb->cfg.secure_erase_sector_alignment;
    }
    if (sectors == 0u)
        sectors = UINT32_MAX; /* no limit given: bounded by the 32-bit num_sectors field */
    *max = sectors >> vb->lb_shift;
    if (*max == 0u)
        *max = 1u;
    al >>= vb->lb_shift;
    *align = (al > 1u && (al & (al - 1u)) == 0u) ? al : 0u;
}

/* Blocks for the next range piece at `lba`: at most `max`; when the rest does not fit, end the
 * piece on an alignment boundary if one lies inside it, so the following pieces start aligned. */
static uint32_t range_blocks(uint64_t lba, uint32_t left, uint32_t max, uint32_t align)
{
    uint64_t end, aligned;

    if (left <= max)
        return left;
    if (align == 0u)
        return max;
    end = lba + max;
    aligned = end & ~(uint64_t)(align - 1u);
    return aligned > lba ? (uint32_t)(aligned - lba) : max;
}

/* DISCARD / WRITE_ZEROES / SECURE_ERASE: one struct virtio_blk_discard_write_zeroes per piece. */
static int piece_range(struct keel_vblk_queue *q, struct keel_blk_req *req, uint16_t si)
{
    struct keel_vblk *vb = q->vb;
    struct keel_vblk_slot *s = &q->slots[si];
    uint8_t *seg = slot_cpu(q, si) + SLOT_SEG;
    uint32_t type, max, align, left = req->count - rq_issued(req), blocks;
    int rc;

    range_limit(vb, req->op, &type, &max, &align);
    blocks = range_blocks(req->dev_lba + rq_issued(req), left, max, align);
    write_header(q, si, type, 0);
    put64(vb, seg, (req->dev_lba + rq_issued(req)) << vb->lb_shift);
    put32(vb, seg + 8u, blocks << vb->lb_shift);
    /* 5.2.6.2: unmap must be 0 for discard; write-zeroes may let the device deallocate. */
    put32(vb, seg + 12u,
          (req->op == KEEL_BLK_OP_WRITE_ZEROES && (req->flags & KEEL_BLK_REQ_UNMAP)) ? 1u : 0u);
    q->sg[0].addr = slot_bus(q, si) + SLOT_HDR;
    q->sg[0].len = 16;
    q->sg[1].addr = slot_bus(q, si) + SLOT_SEG;
    q->sg[1].len = 16;
    q->sg[2].addr = slot_bus(q, si) + SLOT_STATUS;
    q->sg[2].len = 1;
    s->kind = K_RANGE;
    s->blocks = blocks;
    rc = keel_vq_add(&q->vq, q->sg, 2, 1, s);
    if (rc != KEEL_OK)
        return rc;
    if (rq_issued(req) != 0u)
        vb->stats.splits++;
    req->priv[P_ISSUED] += blocks;
    return KEEL_OK;
}

/* FLUSH (also the FUA emulation) and GET_ID: a single piece each. */
static int piece_single(struct keel_vblk_queue *q, struct keel_blk_req *req, uint16_t si)
{
    struct keel_vblk_slot *s = &q->slots[si];
    bool get_id = req->op == VBLK_OP_GET_ID;
    unsigned n = 0;
    int rc;

    write_header(q, si, get_id ? KEEL_VIRTIO_BLK_T_GET_ID : KEEL_VIRTIO_BLK_T_FLUSH, 0);
    q->sg[n].addr = slot_bus(q, si) + SLOT_HDR;
    q->sg[n++].len = 16;
    if (get_id) {
        keel_memset(slot_cpu(q, si) + SLOT_ID, 0, KEEL_VIRTIO_BLK_ID_BYTES);
        q->sg[n].addr = slot_bus(q, si) + SLOT_ID;
        q->sg[n++].len = KEEL_VIRTIO_BLK_ID_BYTES;
    }
    q->sg[n].addr = slot_bus(q, si) + SLOT_STATUS;
    q->sg[n++].len = 1;
    s->kind = get_id ? K_GET_ID : K_FLUSH;
    s->blocks = 0;
    rc = keel_vq_add(&q->vq, q->sg, 1, n - 1u, s);
    if (rc != KEEL_OK)
        return rc;
    if (req->op == KEEL_BLK_OP_WRITE)
        q->vb->stats.fua_flushes++;
    rq_set(req, RF_SENT);
    return KEEL_OK;
}

/* Issue the next piece of `req` into slot `si`. */
static int build_piece(struct keel_vblk_queue *q, struct keel_blk_req *req, uint16_t si)
{
    /* READ and WRITE data (a READ that gets here always has some left): piece_rw has this one
     * call site, so it compiles into the issue path. */
    if ((req->op == KEEL_BLK_OP_READ || req->op == KEEL_BLK_OP_WRITE) &&
        rq_issued(req) < req->count)
        return piece_rw(q, req, si);
    switch (req->op) {
    case KEEL_BLK_OP_TRIM:
    case KEEL_BLK_OP_WRITE_ZEROES:
    case VBLK_OP_SECURE_ERASE:
        return piece_range(q, req, si);
    default:
        return piece_single(q, req, si);
    }
}

/* The request's next piece, if it can and may go now. */
static int issue_one(struct keel_vblk_queue *q, struct keel_blk_req *req)
{
    struct keel_vblk *vb = q->vb;
    uint16_t si;
    int rc;

    if (rq_err(req) != 0 || !needs_more(vb, req))
        return ISSUE_NONE;
    if (rq_issued(req) < req->count) {
        /*
         * A piece beyond the capacity is refused before the device sees it. This is the driver's
         * one capacity check (the block layer checked the request against the same number when it
         * was submitted): the capacity can shrink (a configuration change) while the request
         * waits on the pending list or between two of its pieces.
         */
        if (req->op != KEEL_BLK_OP_FLUSH && req->op != VBLK_OP_GET_ID &&
            (req->dev_lba > vb->cap_blocks || req->count > vb->cap_blocks - req->dev_lba))
            return KEEL_ERANGE;
    } else if (req->op == KEEL_BLK_OP_WRITE && rq_inflight(req) != 0u) {
        /* The FUA flush must follow the completion of every data piece (no ordering in virtio). */
        return ISSUE_NONE;
    }
    si = slot_take(q);
    if (si == NO_SLOT)
        return KEEL_EAGAIN;
    q->slots[si].req = req;
    rc = build_piece(q, req, si);
    if (rc != KEEL_OK) {
        slot_put(q, si);
        if (rc == KEEL_ENOSPC || (rc == KEEL_ENOMEM && q->used_slots != 0u))
            return KEEL_EAGAIN; /* ring or mapping space comes back with completions */
        return rc;
    }
    req->priv[P_INFLIGHT]++;
    return needs_more(vb, req) ? ISSUE_MORE : ISSUE_LAST;
}

/* A request with nothing left to issue: complete it, or wait for its pieces / its FUA flush. */
static inline void settle(struct keel_vblk_queue *q, struct keel_blk_req *req)
{
    if (rq_inflight(req) != 0u || (rq_flags(req) & RF_PENDING))
        return;
    if (rq_err(req) == 0 && needs_more(q->vb, req)) {
        keel_vblk_pend_push(q, req); /* e.g. the FUA flush after the data */
        return;
    }
    keel_vblk_finish(q, req);
}

/* Issue what the pending list allows; true when it stopped for lack of ring or slot space. */
static bool pump_issue(struct keel_vblk_queue *q)
{
    struct keel_blk_req *req;

    while ((req = q->pend_head) != NULL) {
        int rc = issue_one(q, req);
        if (rc == KEEL_EAGAIN)
            return true;
        if (rc == ISSUE_MORE)
            continue;
        pend_pop(q);
        if (rc == ISSUE_LAST)
            continue; /* its last piece is in flight: that piece's completion settles it */
        if (rc < 0)
            rq_note_err(req, rc);
        settle(q, req);
    }
    return false;
}

static bool pump_allowed(const struct keel_vblk_queue *q)
{
    return !q->vb->in_recovery && !q->vb->dead && q->vq.ready;
}

void keel_vblk_pump(struct keel_vblk_queue *q)
{
    if (!pump_allowed(q))
        return;
    (void)pump_issue(q);
    /* Many pieces, one notification (when the device wants one at all); this also publishes what
     * an open submission batch held back: a poll or an interrupt must not wait for unplug. */
    if (q->vq.unkicked != 0u)
        (void)keel_vq_kick(&q->vq);
}

/*
 * The submit path: like keel_vblk_pump, but an open batch keeps holding the notification unless
 * the ring or the slots ran full (the device must see the batch to make room). A request that
 * finds nothing pending is issued at once, without a round trip through the pending list; it
 * joins the list only when it has more pieces to go or must wait for room.
 */
static void pump_submit(struct keel_vblk_queue *q, struct keel_blk_req *req)
{
    bool full = false;
    int rc;

    if (q->pend_head != NULL || !pump_allowed(q)) {
        keel_vblk_pend_push(q, req); /* behind the others, in order */
        if (!pump_allowed(q))
            return;
        full = pump_issue(q);
    } else {
        rc = issue_one(q, req);
        if (rc == ISSUE_MORE || rc == KEEL_EAGAIN) {
            keel_vblk_pend_push(q, req);
            full = rc == KEEL_EAGAIN || pump_issue(q);
        } else if (rc != ISSUE_LAST) { /* ISSUE_LAST: in flight, its completion settles it */
            if (rc < 0)
                rq_note_err(req, rc);
            settle(q, req);
        }
    }
    (void)keel_vq_kick_batch(&q->vq, full);
}

static int status_to_err(struct keel_vblk *vb, uint8_t st)
{
    switch (st) {
    case KEEL_VIRTIO_BLK_S_OK:
        return KEEL_OK;
    case KEEL_VIRTIO_BLK_S_UNSUPP:
        return KEEL_ENOTSUP;
    case KEEL_VIRTIO_BLK_S_IOERR:
        return KEEL_EIO;
    case STATUS_PRESET:
        vb->stats.status_unwritten++;
        return KEEL_EIO;
    default:
        return KEEL_EIO;
    }
}

static void piece_done(struct keel_vblk_queue *q, struct keel_vblk_slot *s)
{
    struct keel_blk_req *req = s->req;
    uint16_t si = slot_index(q, s);
    uint8_t *p = slot_cpu(q, si);
    int rc = status_to_err(q->vb, *(volatile uint8_t *)(p + SLOT_STATUS));

    unmap_slot(q, s); /* the device is done with the buffer: the CPU owns it again */
    if (rc == KEEL_OK && s->kind == K_GET_ID)
        keel_memcpy(req->buf, p + SLOT_ID, KEEL_VIRTIO_BLK_ID_BYTES);
    slot_put(q, si);
    req->priv[P_INFLIGHT]--;
    rq_note_err(req, rc);
    if (rc != KEEL_OK && rc != KEEL_ENOTSUP)
        q->vb->vdev.events |= KEEL_VIRTIO_EV_RECHECK; /* an error: look at the status soon */
    settle(q, req);
}

/* Token sanity: what the queue hands back must be one of this queue's slots in use. */
static struct keel_vblk_slot *token_slot(struct keel_vblk_queue *q, void *token)
{
    struct keel_vblk_slot *s = token;

    if (s < q->slots || s >= q->slots + q->nslots || s->req == NULL)
        return NULL;
    return s;
}

int keel_vblk_reap(struct keel_vblk_queue *q, unsigned budget)
{
    bool irq = q->vb->vdev.irq_mode != KEEL_VIRTIO_IRQ_POLL;
    int n = 0;

    if (q->vb->in_recovery || !q->vq.ready)
        return 0;
    for (;;) {
        void *token;
        uint32_t len;
        int rc;

        while (budget == 0u || (unsigned)n < budget) {
            struct keel_vblk_slot *s;
            rc = keel_vq_get(&q->vq, &token, &len);
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
            piece_done(q, s);
            q->reset_unproven = false; /* the queue works */
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

static void q_enter(struct keel_vblk_queue *q)
{
    q->depth++;
}

static unsigned q_leave(struct keel_vblk_queue *q, bool drain)
{
    unsigned n = 0;

    for (;;) {
        while (q->depth == 1u && q->irq_pending) {
            q->irq_pending = false;
            (void)keel_vblk_reap(q, 0);
            keel_vblk_pump(q);
        }
        q->depth--;
        /* An empty list needs no drain: what an interrupt appends from here on, that interrupt
         * drains itself (the queue is idle) or leaves a note taken below. */
        if (drain && q->depth == 0u && q->fin_head != NULL)
            n += keel_vblk_drain_finished(q);
        /* An interrupt between the last look at irq_pending and depth-- was deferred to us, and
         * nobody else will take it: take it now. */
        if (q->depth != 0u || !q->irq_pending || q->vb->in_recovery)
            return n;
        q->depth++;
    }
}

/*
 * q_leave(q, true) for the submit path, which most often finds no note and nothing finished and
 * then only leaves (and looks once more for a note, exactly as q_leave does): that case inline.
 */
static inline void q_leave_submit(struct keel_vblk_queue *q)
{
    if (q->depth == 1u && !q->irq_pending && q->fin_head == NULL) {
        q->depth = 0;
        if (!q->irq_pending || q->vb->in_recovery)
            return;
        q->depth = 1; /* a note came meanwhile: take it as q_leave's loop does */
    }
    (void)q_leave(q, true);
}

/*
 * Complete the queue's finished requests from outside any call on it (recovery, service). An
 * interrupt while they complete only leaves a note (fin_pop marks the queue busy), so the drain
 * goes through q_leave, which takes that note: otherwise its completions would wait for the
 * owner's next call, and an owner waiting for an interrupt would wait for a timeout.
 */
void keel_vblk_drain_idle(struct keel_vblk_queue *q)
{
    if (q->depth != 0u)
        return; /* the call that is inside drains on its way out */
    q_enter(q);
    (void)q_leave(q, true);
}

/* The queue's interrupt: complete here unless the owner is inside a call on this queue. */
static void vblk_vq_irq(struct keel_vq *vq, void *arg)
{
    struct keel_vblk_queue *q = arg;

    (void)vq;
    if (q->depth != 0u || q->vb->in_recovery) {
        q->irq_pending = true;
        return;
    }
    q_enter(q);
    (void)keel_vblk_reap(q, 0);
    keel_vblk_pump(q);
    /* q_leave, not a bare drain: an interrupt nested in the drain (platforms that allow it) left
     * a note that nobody else would take. */
    (void)q_leave(q, true);
}

/* Create the queue's virtqueue with its interrupt callback (defined here: its address stays local).
 */
int keel_vblk_vq_create(struct keel_vblk_queue *q, uint16_t size_cap)
{
    return keel_vq_create(&q->vq, &q->vb->vdev, q->index, size_cap, vblk_vq_irq, q);
}

/* ---- block layer operations ------------------------------------------------------------------ */

static int check_op(const struct keel_vblk *vb, const struct keel_blk_req *req)
{
    const struct keel_virtio_dev *d = &vb->vdev;

    switch (req->op) {
    case KEEL_BLK_OP_READ:
    case KEEL_BLK_OP_WRITE:
    case KEEL_BLK_OP_FLUSH:
        return KEEL_OK;
    case KEEL_BLK_OP_TRIM:
        return keel_virtio_has(d, KEEL_VIRTIO_BLK_F_DISCARD) ? KEEL_OK : KEEL_ENOTSUP;
    case KEEL_BLK_OP_WRITE_ZEROES:
        return keel_virtio_has(d, KEEL_VIRTIO_BLK_F_WRITE_ZEROES) ? KEEL_OK : KEEL_ENOTSUP;
    case VBLK_OP_SECURE_ERASE:
        return keel_virtio_has(d, KEEL_VIRTIO_BLK_F_SECURE_ERASE) ? KEEL_OK : KEEL_ENOTSUP;
    case VBLK_OP_GET_ID:
        return req->buf != NULL ? KEEL_OK : KEEL_EINVAL;
    default:
        return KEEL_EINVAL;
    }
}

static int queue_submit(struct keel_vblk *vb, struct keel_blk_req *req)
{
    struct keel_vblk_queue *q;
    uint64_t dl;
    int rc;

    if (vb->dead || !vb->attached)
        return KEEL_ENODEV;
    if (req->queue >= vb->nq)
        return KEEL_EINVAL;
    rc = check_op(vb, req);
    if (rc != KEEL_OK)
        return rc;
    /* The range against the capacity: checked when the request's pieces are issued (issue_one). */
    q = &vb->q[req->queue];
    if (q->free_slot == NO_SLOT)
        return KEEL_ENOSPC; /* back-pressure: poll, then retry */
    req->priv[P_ISSUED] = 0;
    req->priv[P_INFLIGHT] = 0;
    req->priv[P_ERR] = 0;
    req->priv[P_FLAGS] = 0;
    dl = keel_vblk_deadline(req);
    if (dl < q->next_deadline)
        q->next_deadline = dl;
    q_enter(q);
    pump_submit(q, req);
    /* An interrupt that came while we were inside was deferred to us: the requests it finished
     * (this one included) are completed here, since no other interrupt may ever come for them. */
    q_leave_submit(q);
    return KEEL_OK;
}

static int op_submit(struct keel_blkdev *dev, struct keel_blk_req *req)
{
    return queue_submit((struct keel_vblk *)dev->drv, req);
}

int keel_vblk_submit_internal(struct keel_vblk *vb, struct keel_blk_req *req)
{
    req->dev = &vb->blk;
    req->status = KEEL_EAGAIN;
    req->next = NULL;
    req->start_us = keel_time_us(vb->vdev.hal);
    return queue_submit(vb, req);
}

static int op_poll(struct keel_blkdev *dev, unsigned queue, unsigned budget)
{
    struct keel_vblk *vb = (struct keel_vblk *)dev->drv;
    struct keel_vblk_queue *q;
    unsigned n;

    if (queue >= vb->nq)
        return KEEL_EINVAL;
    q = &vb->q[queue];
    if (q->depth != 0u)
        return 0; /* called from a done() callback of this queue: nothing to add */
    q_enter(q);
    if (!vb->dead) {
        keel_vblk_device_events(vb);
        (void)keel_vblk_reap(q, budget);
        if (q->recover != R_NONE) {
            enum vblk_reason why = (enum vblk_reason)q->recover;
            q->recover = R_NONE;
            (void)keel_vblk_device_recover(vb, why, q);
        }
        keel_vblk_pump(q);
        keel_vblk_check_timeouts(q);
    }
    n = q_leave(q, true);
    return (int)n;
}

static int op_recover(struct keel_blkdev *dev)
{
    return keel_vblk_recover((struct keel_vblk *)dev->drv);
}

const struct keel_blkdev_ops keel_vblk_ops = {
    .submit = op_submit,
    .poll = op_poll,
    .recover = op_recover,
};

static void op_plug(struct keel_blkdev *dev, unsigned queue)
{
    struct keel_vblk *vb = (struct keel_vblk *)dev->drv;

    if (queue < vb->nq)
        keel_vq_plug(&vb->q[queue].vq);
}

static void op_unplug(struct keel_blkdev *dev, unsigned queue)
{
    struct keel_vblk *vb = (struct keel_vblk *)dev->drv;
    struct keel_vblk_queue *q;

    if (queue >= vb->nq)
        return;
    q = &vb->q[queue];
    q->vq.plugged = false;
    if (q->vq.unkicked == 0u)
        return; /* nothing held back */
    q_enter(q);
    if (pump_allowed(q))
        (void)keel_vq_kick(&q->vq);
    (void)q_leave(q, true);
}

const struct keel_blkdev_batch_ops keel_vblk_batch_ops = {
    .plug = op_plug,
    .unplug = op_unplug,
};

static void internal_done(struct keel_blk_req *req)
{
    *(volatile bool *)req->user = true;
}

int keel_vblk_execute_internal(struct keel_vblk *vb, struct keel_blk_req *req)
{
    const struct keel_hal *hal = vb->vdev.hal;
    volatile bool finished = false;
    uint32_t t = req->timeout_us ? req->timeout_us : KEEL_CONFIG_BLK_DEFAULT_TIMEOUT_US;
    struct keel_deadline d;
    int rc;

    req->done = internal_done;
    /* The flag outlives the request: the loops below return only once done() ran, or after
     * keel_vblk_recover, which completes every request it takes back. */
    /* cppcheck-suppress autoVariables */
    req->user = (void *)&finished;
    d = keel_deadline_in(hal, t);
    for (;;) {
        rc = keel_vblk_submit_internal(vb, req);
        if (rc != KEEL_ENOSPC)
            break;
        (void)op_poll(&vb->blk, req->queue, 0);
        if (keel_deadline_passed(hal, d))
            return KEEL_ETIMEDOUT;
    }
    if (rc != KEEL_OK)
        return rc;
    d = keel_deadline_in(hal, (uint64_t)t + KEEL_CONFIG_BLK_RECOVERY_GRACE_US);
    while (!finished) {
        (void)op_poll(&vb->blk, req->queue, 0);
        if (!finished && keel_deadline_passed(hal, d)) {
            (void)keel_vblk_recover(vb);
            /* `finished` is volatile: internal_done sets it inside the calls above. */
            /* cppcheck-suppress identicalInnerCondition */
            if (!finished)
                return KEEL_ETIMEDOUT;
        }
    }
    return req->status;
}
