/* SPDX-License-Identifier: MIT */
/*
 * Internal to virtio-scsi: what scsi.c (attach, configuration, queues), scsi_cmd.c (request queue
 * framing, slots, internal commands), scsi_resp.c (responses, status, sense), scsi_io.c (block
 * requests), scsi_tmf.c (control queue, timeout escalation), scsi_reset.c (device recovery),
 * scsi_discover.c (scans, probing), scsi_lun.c (LUN table, disks) and scsi_events.c (event queue)
 * share.
 *
 * A block request's driver-private words (req->priv):
 *   [P_ISSUED]   logical blocks already handed to commands (in flight or done)
 *   [P_INFLIGHT] commands (pieces) of it in flight or waiting to be resent
 *   [P_ERR]      first error, negated (0: none)
 *   [P_FLAGS]    RF_* bits and the resubmission count
 */
#ifndef KEEL_VIRTIO_SCSI_INTERNAL_H
#define KEEL_VIRTIO_SCSI_INTERNAL_H

#include <keel/blkdev.h>
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/scsi.h>
#include <keel/virtio_scsi.h>

#if KEEL_CONFIG_BLK_REQ_PRIV_WORDS < 4
#error "virtio-scsi needs KEEL_CONFIG_BLK_REQ_PRIV_WORDS >= 4"
#endif

#define P_ISSUED   0
#define P_INFLIGHT 1
#define P_ERR      2
#define P_FLAGS    3

#define RF_PENDING     0x01u /* on the queue's pending list */
#define RF_SYNC_SENT   0x02u /* the single SYNCHRONIZE CACHE (flush, FUA emulation) went out */
#define RF_COLLECTED   0x04u /* gathered by a device recovery */
#define RF_RETRY_SHIFT 8
#define RF_RETRY_MASK  0xff00u

/* Slot kinds. */
enum vscsi_kind { K_NONE = 0, K_RW = 1, K_SYNC = 2, K_UNMAP = 3, K_INTERNAL = 4 };

/* Slot flags. */
#define SF_INFLIGHT 0x01u /* the device has it (added to the virtqueue) */
#define SF_RETRY    0x02u /* on the queue's retry list */
#define SF_START    0x04u /* send START STOP UNIT (START = 1) before the command itself */
#define SF_OVERDUE  0x08u /* timed out: escalation runs; ends with KEEL_ETIMEDOUT unless good */
#define SF_FIRST    0x10u /* never sent: blocks a shrink sheds go back to the request's cursor */
#define SF_STARTED  0x20u /* a START STOP UNIT was already sent for this command */

#define NO_SLOT       0xffffu
#define RESP_PRESET   0xffu      /* response byte before the device writes it: no valid code */
#define UA_RETRIES    16u        /* unit attentions a command may meet (the model queues up to 8) */
#define DISC_PROBE    256u       /* probe area after the REPORT LUNS area of the discovery buffer */
#define MAX_CHUNK     (1u << 30) /* bytes per command: keeps lengths far from 2^32 */
#define CTRL_SLOT_LEN 32u        /* control request (24 or 16 bytes) + response (1 or 5) */

/* Control slot states. */
enum { CS_FREE = 0, CS_BUSY = 1, CS_DONE = 2, CS_STUCK = 3 };

/* Adapter work bits (vs->work). */
#define W_RESCAN_ALL  0x1u
#define W_RESCAN_SOME 0x2u /* rescan_map has targets */
#define W_REVALIDATE  0x4u /* some lun->work has LW_REVALIDATE */
#define W_EVENTS      0x8u /* the event queue signalled */

/* LUN work bits (lun->work). */
#define LW_REVALIDATE 0x1u

/* Why a device recovery runs: decides what happens to each request it collects. */
enum vscsi_reason {
    R_NONE = 0,
    R_TIMEOUT = 1,     /* overdue requests fail ETIMEDOUT, the rest are resent */
    R_NEEDS_RESET = 2, /* everything resent (bounded) */
    R_BROKEN = 3,      /* the culprit queue's requests fail EPROTO, others resent */
    R_CANCEL = 4,      /* detach: everything fails ECANCELED */
    R_DEAD = 5         /* the device cannot be brought back: everything fails */
};

/* What the driver does after a command came back (scsi_resp.c). */
enum vscsi_action {
    A_DONE = 0,  /* completed: status GOOD (or RECOVERED ERROR) */
    A_FAIL = 1,  /* give up with err */
    A_RETRY = 2, /* resend (after delay_us), bounded; err when the bound is hit */
    A_WAIT = 3,  /* not ready yet: resend after KEEL_CONFIG_VSCSI_READY_POLL_US, bounded by time */
    A_START = 4  /* send START STOP UNIT first, then resend */
};

/** The decoded outcome of one command. */
struct vscsi_outcome {
    enum vscsi_action action;
    int err;
    uint32_t delay_us;
    uint8_t response;    /* virtio response code (RESP_PRESET: never written) */
    uint8_t status;      /* SCSI status (valid when response is OK) */
    bool ua;             /* the condition was a unit attention */
    uint8_t scsi_action; /* enum keel_scsi_action of the status and sense (response OK) */
    bool has_sense;
    uint32_t xfer;      /* data bytes moved: data length minus residual */
    uint32_t sense_len; /* bytes of sense data (bounded by sense_size) */
    struct keel_scsi_sense sense;
};

/** An internal command (discovery, pass-through) waiting on request queue 0. */
struct vscsi_icmd {
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    uint8_t cdb_len;
    uint8_t target;
    uint16_t lun;
    bool write;
    bool coherent;       /* data in the discovery buffer: `bus` given, no mapping */
    void *buf;           /* data (CPU pointer) */
    keel_bus_addr_t bus; /* coherent data: its bus address */
    uint32_t len;        /* data bytes (0: none) */
    uint64_t deadline;
    volatile bool done;
    int err; /* transport-level failure (timeout, reset, protocol); 0: outcome valid */
    struct vscsi_outcome out;
    uint8_t sense[KEEL_SCSI_SENSE_MAX];
};

extern const struct keel_blkdev_ops keel_vscsi_blk_ops;
extern const struct keel_blkdev_batch_ops keel_vscsi_blk_batch_ops;

/* ---- request words ---- */
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

/* A slot gives its command's place in the LUN's share of cmd_per_lun back (every path that frees a
 * slot the device had, or that waited for a resend: completion, recovery). */
static inline void slot_lun_put(const struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    if (s->lunp != NULL && s->lunp->inflight[q->index] != 0u)
        s->lunp->inflight[q->index]--;
    s->lunp = NULL;
}

static inline uint16_t slot_index(const struct keel_vscsi_rq *q, const struct keel_vscsi_slot *s)
{
    return (uint16_t)(s - q->slots);
}

/* When a block request is overdue (inline: every submission and every piece). */
static inline uint64_t keel_vscsi_req_deadline(const struct keel_blk_req *req)
{
    uint32_t t = req->timeout_us ? req->timeout_us : KEEL_CONFIG_BLK_DEFAULT_TIMEOUT_US;
    return req->start_us + t;
}

/* The owner enters a call on `q` (see keel_vscsi_q_leave). */
static inline void keel_vscsi_q_enter(struct keel_vscsi_rq *q)
{
    q->depth++;
}

/* A slot's DMA memory (CPU view), and the response header in it (inline: once per command). */
static inline uint8_t *keel_vscsi_slot_cpu(const struct keel_vscsi_rq *q, uint16_t i)
{
    return (uint8_t *)q->slot_mem.cpu + (size_t)i * q->vs->slot_bytes;
}
static inline const uint8_t *keel_vscsi_slot_resp(const struct keel_vscsi_rq *q,
                                                  const struct keel_vscsi_slot *s)
{
    return keel_vscsi_slot_cpu(q, slot_index(q, s)) + q->vs->off_resp;
}

/* ---- scsi.c ---- */
int keel_vscsi_reinit(struct keel_vscsi *vs);
void keel_vscsi_enable_irqs(struct keel_vscsi *vs);

/* ---- scsi_cmd.c ---- */
uint16_t keel_vscsi_slot_take(struct keel_vscsi_rq *q);
void keel_vscsi_slot_put(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s);
void keel_vscsi_slot_unmap(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s);
int keel_vscsi_slot_send(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s);
uint8_t *keel_vscsi_slot_aux(const struct keel_vscsi_rq *q, const struct keel_vscsi_slot *s);
int keel_vscsi_reap(struct keel_vscsi_rq *q, unsigned budget);
void keel_vscsi_vq_irq(struct keel_vq *vq, void *arg);
unsigned keel_vscsi_q_leave(struct keel_vscsi_rq *q, bool drain);
/** Drain the finished list from outside any call on `q` (skipped while one is inside), taking an
    interrupt deferred meanwhile. */
void keel_vscsi_drain_idle(struct keel_vscsi_rq *q);
int keel_vscsi_exec(struct keel_vscsi *vs, struct vscsi_icmd *ic, uint32_t timeout_us);
int keel_vscsi_run(struct keel_vscsi *vs, struct vscsi_icmd *ic, uint32_t timeout_us);
void keel_vscsi_icmd_init(struct vscsi_icmd *ic, uint8_t target, uint16_t lun);
void keel_vscsi_icmd_disc(struct keel_vscsi *vs, struct vscsi_icmd *ic, uint32_t off, uint32_t len);

/* ---- scsi_resp.c ---- */
void keel_vscsi_decode(struct keel_vscsi *vs, const uint8_t *resp, uint32_t data_len,
                       struct vscsi_outcome *o, uint8_t *sense_copy);
void keel_vscsi_note_failure(struct keel_vscsi *vs, struct keel_vscsi_lun *lun,
                             const struct vscsi_outcome *o, bool io);
/* Side effects of an outcome on the adapter (logs, counters, rescans, revalidations). A success
 * without a unit attention has none: that check is inline, the rest is not (once per command). */
static inline void keel_vscsi_note_outcome(struct keel_vscsi *vs, struct keel_vscsi_lun *lun,
                                           const struct vscsi_outcome *o, bool io)
{
    if (o->action != A_DONE || o->err != KEEL_OK || o->ua)
        keel_vscsi_note_failure(vs, lun, o, io);
}

/* ---- scsi_io.c ---- */
void keel_vscsi_slot_done(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s);
void keel_vscsi_pend_push(struct keel_vscsi_rq *q, struct keel_blk_req *req);
void keel_vscsi_finish(struct keel_vscsi_rq *q, struct keel_blk_req *req);
unsigned keel_vscsi_drain_finished(struct keel_vscsi_rq *q);
void keel_vscsi_pump(struct keel_vscsi_rq *q);
void keel_vscsi_check_timeouts(struct keel_vscsi_rq *q);
struct keel_vscsi_lun *keel_vscsi_req_lun(const struct keel_blk_req *req);
void keel_vscsi_piece_end(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s, int err);
void keel_vscsi_retry_remove(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s);

/* ---- scsi_tmf.c ---- */
void keel_vscsi_escalate(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s);
void keel_vscsi_ctrl_forget(struct keel_vscsi *vs);
void keel_vscsi_lun_addr(uint8_t *p, uint8_t target, uint16_t lun);

/* ---- scsi_reset.c ---- */
int keel_vscsi_device_recover(struct keel_vscsi *vs, enum vscsi_reason why,
                              struct keel_vscsi_rq *culprit);
void keel_vscsi_cancel_all(struct keel_vscsi *vs, enum vscsi_reason why);
void keel_vscsi_stop_dma(struct keel_vscsi *vs);

/* ---- scsi_discover.c ---- */
int keel_vscsi_scan_all(struct keel_vscsi *vs);
int keel_vscsi_scan_one(struct keel_vscsi *vs, uint8_t target);
int keel_vscsi_rescan_lun(struct keel_vscsi *vs, uint8_t target, uint16_t lun);
int keel_vscsi_revalidate(struct keel_vscsi *vs, struct keel_vscsi_lun *e);

/* ---- scsi_lun.c ---- */
struct keel_vscsi_lun *keel_vscsi_lun_lookup(struct keel_vscsi *vs, uint8_t target, uint16_t lun);
struct keel_vscsi_lun *keel_vscsi_lun_alloc(struct keel_vscsi *vs, uint8_t target, uint16_t lun);
void keel_vscsi_lun_release(struct keel_vscsi_lun *e);
void keel_vscsi_lun_online(struct keel_vscsi *vs, struct keel_vscsi_lun *e, bool announce);
void keel_vscsi_lun_gone(struct keel_vscsi *vs, struct keel_vscsi_lun *e);
void keel_vscsi_lun_update(struct keel_vscsi *vs, struct keel_vscsi_lun *e);
void keel_vscsi_lun_limits(struct keel_vscsi *vs, struct keel_vscsi_lun *e);
void keel_vscsi_notify(struct keel_vscsi *vs, struct keel_vscsi_lun *e, enum keel_vscsi_event ev);
bool keel_vscsi_lun_busy(const struct keel_vscsi *vs, const struct keel_vscsi_lun *e);

/* ---- scsi_events.c ---- */
int keel_vscsi_events_post(struct keel_vscsi *vs);
void keel_vscsi_events_service(struct keel_vscsi *vs);
void keel_vscsi_event_irq(struct keel_vq *vq, void *arg);
void keel_vscsi_ctrl_irq(struct keel_vq *vq, void *arg);

/* ---- helpers shared by several files ---- */
static inline void keel_vscsi_put32(const struct keel_vscsi *vs, uint8_t *p, uint32_t v)
{
    /* Legacy interface: guest (CPU) order (5.6.6.1.1); else little-endian. */
    if (KEEL_BIG_ENDIAN && vs->vdev.legacy)
        keel_st_be32(p, v);
    else
        keel_st_le32(p, v);
}
static inline void keel_vscsi_put64(const struct keel_vscsi *vs, uint8_t *p, uint64_t v)
{
    if (KEEL_BIG_ENDIAN && vs->vdev.legacy)
        keel_st_be64(p, v);
    else
        keel_st_le64(p, v);
}
static inline uint32_t keel_vscsi_get32(const struct keel_vscsi *vs, const volatile uint8_t *p)
{
    uint8_t b[4];
    unsigned i;

    for (i = 0; i < 4u; i++)
        b[i] = p[i]; /* the device writes this memory: read each byte once */
    if (KEEL_BIG_ENDIAN && vs->vdev.legacy)
        return keel_ld_be32(b);
    return keel_ld_le32(b);
}
/* The same for a field at a 4-byte aligned address (the response header in a slot): one load. */
static inline uint32_t keel_vscsi_get32_aligned(const struct keel_vscsi *vs,
                                                const volatile uint8_t *p)
{
    uint32_t v = *(const volatile uint32_t *)(const volatile void *)p;

    if (KEEL_BIG_ENDIAN && vs->vdev.legacy)
        return v;
    return keel_le32_to_cpu(v);
}

static inline void keel_vscsi_set_work(struct keel_vscsi *vs, uint32_t w)
{
    vs->work |= w;
}

void keel_vscsi_mark_rescan(struct keel_vscsi *vs, uint8_t target);

#endif
