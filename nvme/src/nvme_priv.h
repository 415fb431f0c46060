/* SPDX-License-Identifier: MIT */
/* nvme_priv.h - internal interfaces between the NVMe driver's files. Not installed. */
#ifndef KEEL_NVME_PRIV_H
#define KEEL_NVME_PRIV_H

#include <keel/error.h>
#include <keel/log.h>
#include <keel/nvme.h>
#include <keel/str.h>

#if KEEL_CONFIG_BLK_REQ_PRIV_WORDS < 4
#error "the NVMe driver keeps 4 words of state in keel_blk_req.priv"
#endif
#if KEEL_CONFIG_NVME_IO_QUEUE_DEPTH < 2 || KEEL_CONFIG_NVME_IO_QUEUE_DEPTH > 4096
#error "KEEL_CONFIG_NVME_IO_QUEUE_DEPTH must be 2..4096"
#endif
#if KEEL_CONFIG_NVME_ADMIN_QUEUE_DEPTH < 4 || KEEL_CONFIG_NVME_ADMIN_QUEUE_DEPTH > 4096
#error "KEEL_CONFIG_NVME_ADMIN_QUEUE_DEPTH must be 4..4096"
#endif
#if KEEL_CONFIG_NVME_ADMIN_PRP_POOL_PAGES > KEEL_CONFIG_NVME_PRP_POOL_PAGES
#error "KEEL_CONFIG_NVME_ADMIN_PRP_POOL_PAGES must not exceed KEEL_CONFIG_NVME_PRP_POOL_PAGES"
#endif
#if KEEL_CONFIG_NVME_PRP_PAGES_PER_CMD < 1 || KEEL_CONFIG_NVME_MAX_CMD_PAGES < 2
#error "NVMe PRP configuration too small"
#endif
/* NPSS is at most 31 (32 descriptors at Identify bytes 2048..3071) and the APST table power.c
 * builds has 32 entries (256 bytes): more would read past the descriptors and write past the table.
 */
#if KEEL_CONFIG_NVME_MAX_POWER_STATES < 1 || KEEL_CONFIG_NVME_MAX_POWER_STATES > 32
#error "KEEL_CONFIG_NVME_MAX_POWER_STATES must be 1..32"
#endif
/* LBA data sizes accepted are 2^9 .. 2^MAX_LBA_SHIFT: a request must carry one block of any. */
#if (KEEL_CONFIG_NVME_MAX_TRANSFER_BYTES >> KEEL_CONFIG_NVME_MAX_LBA_SHIFT) < 1
#error "KEEL_CONFIG_NVME_MAX_TRANSFER_BYTES must hold one block of 2^KEEL_CONFIG_NVME_MAX_LBA_SHIFT"
#endif

/* Slot states. */
enum {
    NVME_SLOT_FREE = 0,
    NVME_SLOT_ACTIVE,     /* in the SQ or with the device */
    NVME_SLOT_ABORTING,   /* timed out, Abort sent */
    NVME_SLOT_RETRY_WAIT, /* retriable error: resubmit once deadline_us passes (CRD) */
    NVME_SLOT_RESUBMIT,   /* survived a reset: resubmit on the re-created queue */
};

/* Slot kinds: who the completion goes to. */
enum {
    NVME_KIND_BLK = 0, /* child command of a keel_blk_req */
    NVME_KIND_WAIT,    /* an admin waiter (struct keel_nvme_admin_wait) */
    NVME_KIND_AER,     /* Asynchronous Event Request */
    NVME_KIND_AER_LOG, /* Get Log Page that clears an event */
    NVME_KIND_ABORT,   /* Abort of a timed-out I/O command */
};

/* Slot flags. */
#define NVME_SF_BOUNCE    0x01u /* data in the queue's bounce buffer */
#define NVME_SF_TIMED_OUT 0x02u /* passed its deadline: fail with ETIMEDOUT unless it succeeds */
#define NVME_SF_NO_RETRY  0x04u /* passthrough and internal admin: report the first status */

/* Block request private words. */
/*
 * Admin commands one bring-up may issue: Identify Controller, Number of Queues, the Active
 * Namespace List, Asynchronous Event Configuration, a Create CQ and SQ per I/O queue, and at most
 * one Identify Namespace per scanned ID (the list holds at most KEEL_CONFIG_NVME_MAX_NAMESPACES).
 * Every wait has its deadline; this bounds how many of them a bring-up can chain, whatever step
 * the device (or a driver bug) keeps repeating.
 */
#define NVME_INIT_CMD_BUDGET                                                                       \
    (8u + 2u * KEEL_CONFIG_NVME_MAX_IO_QUEUES + KEEL_CONFIG_NVME_NS_SCAN_MAX +                     \
     KEEL_CONFIG_NVME_MAX_NAMESPACES)

#define NVME_REQ_LEFT        0 /* units (blocks, or 1 for flush/DSM) not yet handed to commands */
#define NVME_REQ_OUTSTANDING 1 /* child commands in flight */
#define NVME_REQ_STATE       2 /* flags << 8 | first error as -err (low 8 bits) */
#define NVME_REQ_NS          3 /* struct keel_nvme_ns * */
#define NVME_RF_COMPARE      0x1u /* READ op carrying a Compare */
#define NVME_RF_RANGES       0x2u /* TRIM op: buf holds `count` keel_nvme_range entries */
#define NVME_RF_EXEC_DONE    0x4u /* done() of a blocking helper's request ran (io.c) */

/* A data buffer for an admin command: coherent DMA memory or a caller buffer to map. */
struct nvme_xfer {
    void *buf;             /* caller buffer (mapped), or NULL */
    keel_bus_addr_t bus;   /* coherent memory bus address when buf is NULL */
    uint32_t len;          /* 0: no data */
    enum keel_dma_dir dir; /* for caller buffers */
};

/* ---- registers (ctrl.c) ---- */
uint32_t keel_nvme_rd32(const struct keel_nvme_ctrl *c, uint32_t off);
void keel_nvme_wr32(const struct keel_nvme_ctrl *c, uint32_t off, uint32_t v);
/* CSTS with one re-read on all-ones; sets life GONE and returns all-ones when it persists. */
uint32_t keel_nvme_csts(struct keel_nvme_ctrl *c);
bool keel_nvme_csts_gone(uint32_t csts);
/* Disable (CC.EN = 0) and wait for RDY = 0, bounded; bus mastering off if it will not stop. */
int keel_nvme_disable(struct keel_nvme_ctrl *c);
void keel_nvme_bus_master(struct keel_nvme_ctrl *c, bool on);
void keel_nvme_mark_namespaces_gone(struct keel_nvme_ctrl *c);
int keel_nvme_init_run(struct keel_nvme_ctrl *c);
void keel_nvme_free_dma(struct keel_nvme_ctrl *c);
int keel_nvme_dma_alloc(struct keel_nvme_ctrl *c, size_t size, struct keel_dma_mem *out);

/* ---- queue pairs (qpair.c) ---- */
void keel_nvme_qpair_setup(struct keel_nvme_ctrl *c, struct keel_nvme_qpair *q, uint16_t qid,
                           uint16_t entries, struct keel_nvme_slot *slots, uint16_t *free_stack,
                           uint16_t prp_pages);
void keel_nvme_qpair_restart(struct keel_nvme_qpair *q);
struct keel_nvme_slot *keel_nvme_slot_get(struct keel_nvme_qpair *q);
uint16_t keel_nvme_slot_index(const struct keel_nvme_qpair *q, const struct keel_nvme_slot *s);
bool keel_nvme_sq_full(const struct keel_nvme_qpair *q);
/* The SQ looks full: if no slot has a command with the device, resync the head; true when full. */
bool keel_nvme_sq_full_resync(struct keel_nvme_qpair *q);
/* Copy the slot's SQE (with a fresh CID) into the SQ; does not ring. */
void keel_nvme_sq_push(struct keel_nvme_qpair *q, struct keel_nvme_slot *s);
void keel_nvme_sq_ring(struct keel_nvme_qpair *q);
/* Reap up to budget (0: one pass of the queue) completions; rings the CQ head doorbell once. */
unsigned keel_nvme_cq_reap(struct keel_nvme_qpair *q, unsigned budget);
void keel_nvme_track_deadline(struct keel_nvme_qpair *q, uint64_t deadline_us);
/* Unmap the slot's buffer, free its PRP pages and the bounce buffer, and free the slot. */
void keel_nvme_slot_release(struct keel_nvme_qpair *q, struct keel_nvme_slot *s);
/* Queue entries in use by busy slots. */
unsigned keel_nvme_qpair_busy(const struct keel_nvme_qpair *q);

/* ---- PRP (prp.c) ---- */
/* Map `buf` and build PRPs into s->sqe: 0, KEEL_ENOSPC (too many segments), KEEL_EBUSY (no PRP
 * list page free), KEEL_EFAULT (PRP rules broken) or the HAL's error. */
int keel_nvme_prp_map(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, void *buf, uint32_t len,
                      enum keel_dma_dir dir);
/* PRPs for a bus-contiguous range (coherent memory, bounce buffer). */
int keel_nvme_prp_contig(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, keel_bus_addr_t bus,
                         uint32_t len);
void keel_nvme_prp_free(struct keel_nvme_qpair *q, struct keel_nvme_slot *s);

/* ---- admin (admin.c) ---- */
uintptr_t keel_nvme_admin_lock(struct keel_nvme_ctrl *c);
void keel_nvme_admin_unlock(struct keel_nvme_ctrl *c, uintptr_t st);
/* Lock held. Submit and ring; *out gets the slot. */
int keel_nvme_admin_submit(struct keel_nvme_ctrl *c, const struct keel_nvme_sqe *cmd,
                           const struct nvme_xfer *x, uint8_t kind, void *owner,
                           uint32_t timeout_us, struct keel_nvme_slot **out);
/* Submit, poll until done (bounded), reset on timeout. Lock not held. */
int keel_nvme_admin_sync(struct keel_nvme_ctrl *c, const struct keel_nvme_sqe *cmd,
                         const struct nvme_xfer *x, uint32_t *dw0, uint16_t *status,
                         uint32_t timeout_us);
/* Reap the admin CQ (lock taken inside unless held). */
void keel_nvme_admin_reap(struct keel_nvme_ctrl *c);
void keel_nvme_admin_complete(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, uint16_t status,
                              uint32_t dw0);
/* The shared 4 KiB buffer: take (KEEL_EBUSY when in use) and give back. */
int keel_nvme_buf_take(struct keel_nvme_ctrl *c);
void keel_nvme_buf_give(struct keel_nvme_ctrl *c);
void keel_nvme_cmd_identify(struct keel_nvme_sqe *cmd, uint8_t cns, uint32_t nsid);
void keel_nvme_cmd_features(struct keel_nvme_sqe *cmd, bool set, uint8_t fid, uint32_t nsid,
                            uint32_t cdw11);
void keel_nvme_cmd_log(struct keel_nvme_sqe *cmd, uint8_t lid, uint32_t nsid, uint64_t off,
                       uint32_t len, bool rae);
void keel_nvme_parse_identify_ctrl(struct keel_nvme_ctrl *c, const uint8_t *id);
void keel_nvme_parse_power_states(struct keel_nvme_ctrl *c, const uint8_t *id);

/* ---- I/O (io.c) ---- */
int keel_nvme_io_submit(struct keel_nvme_ns *ns, struct keel_blk_req *req);
int keel_nvme_io_poll(struct keel_nvme_qpair *q, unsigned budget);
void keel_nvme_io_complete(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, uint16_t status);
void keel_nvme_io_continue(struct keel_nvme_qpair *q);
/* Finish a child without the device (reset, gone): err applied to its parent. */
void keel_nvme_io_fail_slot(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, int err);
void keel_nvme_io_fail_waiting(struct keel_nvme_qpair *q, int err);
int keel_nvme_io_execute(struct keel_nvme_ns *ns, struct keel_blk_req *req);
/* Owner activity brackets (defer interrupts, ring once on the way out). */
void keel_nvme_q_enter(struct keel_nvme_qpair *q);
void keel_nvme_q_leave(struct keel_nvme_qpair *q);

/* ---- namespaces (ns.c) ---- */
void keel_nvme_ns_parse(struct keel_nvme_ctrl *c, struct keel_nvme_ns *ns, uint32_t nsid,
                        const uint8_t *id);
void keel_nvme_ns_register(struct keel_nvme_ctrl *c, struct keel_nvme_ns *ns);

/* ---- recovery (recover.c) ---- */
int keel_nvme_qpair_check_timeouts(struct keel_nvme_qpair *q, uint64_t now);
void keel_nvme_admin_check_timeouts(struct keel_nvme_ctrl *c);
int keel_nvme_reset_now(struct keel_nvme_ctrl *c, bool resubmit);
void keel_nvme_request_reset(struct keel_nvme_ctrl *c);
void keel_nvme_abort_complete(struct keel_nvme_ctrl *c, struct keel_nvme_slot *s, uint16_t status,
                              uint32_t dw0);
void keel_nvme_ctrl_gone(struct keel_nvme_ctrl *c);
/* Stop the device's DMA for good and complete everything in flight (the controller fails). */
void keel_nvme_fence(struct keel_nvme_ctrl *c);
/* Complete every busy slot of every queue without the device: controller already quiet. */
void keel_nvme_reclaim_all(struct keel_nvme_ctrl *c, bool resubmit, int err);

/* ---- asynchronous events (aer.c) ---- */
void keel_nvme_aer_arm(struct keel_nvme_ctrl *c);
void keel_nvme_aer_complete(struct keel_nvme_ctrl *c, struct keel_nvme_slot *s, uint16_t status,
                            uint32_t dw0);
void keel_nvme_aer_log_complete(struct keel_nvme_ctrl *c, struct keel_nvme_slot *s,
                                uint16_t status);
void keel_nvme_events_deliver(struct keel_nvme_ctrl *c);

/* ---- interrupts (irq.c) ---- */
int keel_nvme_irq_setup(struct keel_nvme_ctrl *c);
void keel_nvme_irq_teardown(struct keel_nvme_ctrl *c);
/* Interrupt vector and IEN for the CQ of I/O queue pair `i` (0-based). */
uint32_t keel_nvme_irq_cq_flags(const struct keel_nvme_ctrl *c, unsigned i);

/* ---- status (status.c) ---- */
bool keel_nvme_status_retriable(uint16_t status);

/* ---- PCI (pci.c) ---- */
int keel_nvme_pci_probe(struct keel_nvme_ctrl *c);

/* ---- small helpers ---- */
static inline uint64_t nvme_now(const struct keel_nvme_ctrl *c)
{
    return keel_time_us(c->hal);
}

static inline uint64_t nvme_deadline_after(const struct keel_nvme_ctrl *c, uint32_t us)
{
    uint64_t now = nvme_now(c);
    return now + us;
}

static inline bool nvme_live(const struct keel_nvme_ctrl *c)
{
    return c->life == KEEL_NVME_LIFE_LIVE;
}

/* The device may be talked to: bus mastering on and not gone, failed or detached. */
static inline bool nvme_dev_ok(const struct keel_nvme_ctrl *c)
{
    return c->bme_on && (c->life == KEEL_NVME_LIFE_INIT || c->life == KEEL_NVME_LIFE_LIVE ||
                         c->life == KEEL_NVME_LIFE_RESETTING);
}

#endif
