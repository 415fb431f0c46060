/* SPDX-License-Identifier: MIT */
/*
 * Internal to virtio-blk: request bookkeeping shared by blk.c (attach, configuration, events),
 * blk_req.c (submission, splitting, completion, timeouts) and blk_recover.c (resets).
 *
 * A block request's driver-private words (req->priv):
 *   [P_ISSUED]   logical blocks already handed to the device (in flight or done)
 *   [P_INFLIGHT] virtio requests (pieces) of it in flight
 *   [P_ERR]      first error, negated (0: none)
 *   [P_FLAGS]    RF_* bits and the resubmission count
 */
#ifndef KEEL_VIRTIO_BLK_INTERNAL_H
#define KEEL_VIRTIO_BLK_INTERNAL_H

#include <keel/blkdev.h>
#include <keel/virtio_blk.h>

#if KEEL_CONFIG_BLK_REQ_PRIV_WORDS < 4
#error "virtio-blk needs KEEL_CONFIG_BLK_REQ_PRIV_WORDS >= 4"
#endif

#define P_ISSUED   0
#define P_INFLIGHT 1
#define P_ERR      2
#define P_FLAGS    3

#define RF_PENDING     0x01u /* on the queue's pending list */
#define RF_SENT        0x02u /* the single piece (FLUSH, FUA flush, GET_ID) went out */
#define RF_COLLECTED   0x04u /* gathered by a recovery */
#define RF_RETRY_SHIFT 8
#define RF_RETRY_MASK  0xff00u

/* Operations beyond the block layer's, used by keel_vblk_get_id / keel_vblk_secure_erase. */
#define VBLK_OP_GET_ID       0x40u
#define VBLK_OP_SECURE_ERASE 0x41u

/* Slot DMA layout (KEEL_VBLK_SLOT_BYTES each). */
#define SLOT_HDR      0u
#define SLOT_SEG      16u
#define SLOT_ID       32u
#define SLOT_STATUS   56u
#define STATUS_PRESET 0xffu
#define NO_SLOT       0xffffu

/* Why a recovery runs: decides what happens to each request it collects. */
enum vblk_reason {
    R_NONE = 0,
    R_TIMEOUT = 1,     /* overdue requests fail ETIMEDOUT, the rest are resubmitted */
    R_NEEDS_RESET = 2, /* everything resubmitted (bounded) */
    R_BROKEN = 3,      /* the culprit queue's requests fail EPROTO, others resubmitted */
    R_CANCEL = 4,      /* detach: everything fails ECANCELED */
    R_DEAD = 5         /* the device cannot be brought back: everything fails */
};

extern const struct keel_blkdev_ops keel_vblk_ops;
extern const struct keel_blkdev_batch_ops keel_vblk_batch_ops;

static inline uint32_t rq_flags(const struct keel_blk_req *r)
{
    return (uint32_t)r->priv[P_FLAGS];
}
static inline void rq_set(struct keel_blk_req *r, uint32_t f)
{
    r->priv[P_FLAGS] |= f;
}
static inline void rq_clear(struct keel_blk_req *r, uint32_t f)
{
    r->priv[P_FLAGS] &= ~(uintptr_t)f;
}
static inline uint32_t rq_issued(const struct keel_blk_req *r)
{
    return (uint32_t)r->priv[P_ISSUED];
}
static inline uint32_t rq_inflight(const struct keel_blk_req *r)
{
    return (uint32_t)r->priv[P_INFLIGHT];
}
static inline int rq_err(const struct keel_blk_req *r)
{
    return -(int)r->priv[P_ERR];
}
static inline void rq_note_err(struct keel_blk_req *r, int err)
{
    if (r->priv[P_ERR] == 0u && err < 0)
        r->priv[P_ERR] = (uintptr_t)(unsigned)-err;
}

uint64_t keel_vblk_deadline(const struct keel_blk_req *req);

/* blk_req.c */
void keel_vblk_pend_push(struct keel_vblk_queue *q, struct keel_blk_req *req);
void keel_vblk_finish(struct keel_vblk_queue *q, struct keel_blk_req *req);
unsigned keel_vblk_drain_finished(struct keel_vblk_queue *q);
/** Drain the finished list from outside any call on `q` (skipped while one is inside), taking an
    interrupt deferred meanwhile. */
void keel_vblk_drain_idle(struct keel_vblk_queue *q);
void keel_vblk_pump(struct keel_vblk_queue *q);
int keel_vblk_reap(struct keel_vblk_queue *q, unsigned budget);
void keel_vblk_slot_release(struct keel_vblk_queue *q, struct keel_vblk_slot *s);
int keel_vblk_vq_create(struct keel_vblk_queue *q, uint16_t size_cap);
int keel_vblk_submit_internal(struct keel_vblk *vb, struct keel_blk_req *req);
int keel_vblk_execute_internal(struct keel_vblk *vb, struct keel_blk_req *req);

/* blk_recover.c */
int keel_vblk_queue_recover(struct keel_vblk_queue *q, enum vblk_reason why);
int keel_vblk_device_recover(struct keel_vblk *vb, enum vblk_reason why,
                             struct keel_vblk_queue *culprit);
void keel_vblk_check_timeouts(struct keel_vblk_queue *q);
void keel_vblk_cancel_queue(struct keel_vblk_queue *q, enum vblk_reason why);
void keel_vblk_stop_dma(struct keel_vblk *vb);

/* blk.c */
int keel_vblk_reinit(struct keel_vblk *vb);
void keel_vblk_device_events(struct keel_vblk *vb);

#endif
