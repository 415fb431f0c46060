/* SPDX-License-Identifier: MIT */
/*
 * keel/nvme.h - the Keel NVMe host driver: one PCIe NVMe controller per caller-owned
 * struct keel_nvme_ctrl, every active namespace exposed as a keel_blkdev ("nvme0n1", ...).
 *
 * Memory: the caller owns the controller structure (its size follows the KEEL_CONFIG_NVME_* options
 * in keel/keel_config.h). DMA memory (admin and I/O queues, identify and log buffers, PRP list
 * pools, bounce buffers) is taken with the HAL's dma_alloc while attaching and returned at detach;
 * nothing is allocated afterwards.
 *
 * Bring-up is a state machine: keel_nvme_init_start() then keel_nvme_init_step() until it stops
 * returning KEEL_EAGAIN (a caller can do other work between steps; nothing in a step blocks), or
 * keel_nvme_attach() which does both with a short delay between steps.
 *
 * I/O goes through the block layer (keel/blkdev.h) on the namespaces' block devices. Each block
 * queue is one NVMe I/O queue pair with exactly one owner; nothing on the I/O path takes a lock.
 * Requests larger than the controller's MDTS are split into child commands; buffers that break the
 * PRP rules (a segment not dword aligned, or a hole inside a memory page) are bounced through a
 * per-queue bounce buffer when KEEL_CONFIG_NVME_BOUNCE_BYTES > 0, else refused with KEEL_EFAULT.
 *
 * Recovery: a command past its deadline triggers, in order, a CSTS check (fatal status -> reset,
 * all-ones -> device gone), a poll of its completion queue (a lost interrupt), an Abort, and when
 * the abort does not finish it either, a controller reset. The reset disables the controller (or,
 * if it refuses, turns off bus mastering) before any in-flight request is completed or its buffer
 * unmapped; the timed-out request fails with KEEL_ETIMEDOUT and the others are resubmitted on the
 * re-created queues (KEEL_ECANCELED when their retries are used up).
 *
 * Contexts: "init context" = attach/detach/reset paths, may block (bounded) and take the admin
 * lock; "owner context" = the single thread (or interrupt handler) that owns an I/O queue; "any
 * context" = also interrupt handlers, never blocks. Admin functions below are init/thread context
 * and serialise on the controller's admin lock (HAL lock hooks).
 */
#ifndef KEEL_NVME_H
#define KEEL_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/blkdev.h>
#include <keel/hal.h>
#include <keel/keel_config.h>
#include <keel/nvme_spec.h>
#include <keel/pci.h>
#include <keel/wait.h>

#ifdef __cplusplus
extern "C" {
#endif

struct keel_nvme_ctrl;

/* ---- configuration ------------------------------------------------------------------------- */

/** How completions are signalled. */
enum keel_nvme_irq_mode {
    KEEL_NVME_IRQ_AUTO = 0, /* MSI-X if the function and HAL have it, else INTx, else polling */
    KEEL_NVME_IRQ_POLL = 1, /* no interrupts: completion queues created with IEN = 0 */
    KEEL_NVME_IRQ_MSIX = 2, /* one MSI-X vector per completion queue (0: admin) or fail */
    KEEL_NVME_IRQ_INTX = 3, /* legacy pin interrupt, masked with INTMS/INTMC while serviced */
};

/* keel_nvme_config.flags */
#define KEEL_NVME_F_DEFERRED_RESET                                                                 \
    0x01u                        /* a reset needed by a queue's poll waits for service()           \
                                  */
#define KEEL_NVME_F_NO_AER 0x02u /* do not arm Asynchronous Event Requests */

/* Admin passthrough: opcodes refused unless enabled (keel_nvme_config.passthru_allow). */
#define KEEL_NVME_PT_ALLOW_FORMAT      0x01u /* Format NVM (80h) */
#define KEEL_NVME_PT_ALLOW_SANITIZE    0x02u /* Sanitize (84h) */
#define KEEL_NVME_PT_ALLOW_FW_COMMIT   0x04u /* Firmware Commit (10h) */
#define KEEL_NVME_PT_ALLOW_FW_DOWNLOAD 0x08u /* Firmware Image Download (11h) */
#define KEEL_NVME_PT_ALLOW_NS_MGMT     0x10u /* Namespace Management/Attachment (0Dh, 15h) */
#define KEEL_NVME_PT_ALLOW_SECURITY    0x20u /* Security Send (81h) */
#define KEEL_NVME_PT_ALLOW_VENDOR      0x40u /* vendor specific admin opcodes C0h..FFh */

/** An asynchronous event, as handed to the integrator. */
struct keel_nvme_event {
    uint8_t type;             /* KEEL_NVME_AET_* */
    uint8_t info;             /* KEEL_NVME_AEI_* for the type */
    uint8_t log_page;         /* log page the controller named (read to clear the event) */
    uint8_t critical_warning; /* SMART events: KEEL_NVME_CW_* bits from the log just read */
    uint16_t temperature_k;   /* SMART events: composite temperature in Kelvin (0: unknown) */
    int log_status;           /* 0 or the KEEL_E* error of reading the log page */
    uint32_t dw0;             /* raw completion dword 0 */
};

/**
 * Receives asynchronous events (SMART/thermal/critical warnings, notices, errors). Runs from
 * keel_nvme_service() or from the admin queue's interrupt handler: it must not block and must not
 * call keel_nvme_detach(); admin functions may be called only when it runs from service().
 */
typedef void (*keel_nvme_event_fn)(void *arg, struct keel_nvme_ctrl *ctrl,
                                   const struct keel_nvme_event *ev);

/** What keel_nvme_attach / keel_nvme_init_start need. */
struct keel_nvme_config {
    struct keel_pci_addr pci;         /* the function to drive */
    uint64_t bar_cpu_offset;          /* CPU physical = bus + offset for BAR0 (0 on x86) */
    struct keel_pci_windows *windows; /* optional: assign BAR0 from these when unassigned */
    uint8_t index;                    /* names the namespaces nvme<index>n<nsid> */
    uint16_t io_queues;        /* wanted I/O queue pairs; 0: KEEL_CONFIG_NVME_MAX_IO_QUEUES */
    uint16_t queue_depth;      /* I/O queue entries; 0: KEEL_CONFIG_NVME_IO_QUEUE_DEPTH */
    uint8_t irq_mode;          /* enum keel_nvme_irq_mode */
    uint32_t flags;            /* KEEL_NVME_F_* */
    uint32_t admin_timeout_us; /* 0: KEEL_CONFIG_NVME_ADMIN_TIMEOUT_US */
    uint32_t passthru_allow;   /* KEEL_NVME_PT_* */
    keel_nvme_event_fn event;  /* optional */
    void *event_arg;
};

/* ---- state machine ------------------------------------------------------------------------- */

enum keel_nvme_init_state {
    KEEL_NVME_INIT_NONE = 0,
    KEEL_NVME_INIT_PROBE,         /* PCI identity, BAR0, memory decode and bus master */
    KEEL_NVME_INIT_READ_CAP,      /* CAP, VS, page size; disable when firmware left EN = 1 */
    KEEL_NVME_INIT_WAIT_DISABLE,  /* CSTS.RDY -> 0, bounded by CAP.TO */
    KEEL_NVME_INIT_ALLOC,         /* admin queues and buffers (first attach only) */
    KEEL_NVME_INIT_ENABLE,        /* AQA, ASQ, ACQ, CC.EN = 1 */
    KEEL_NVME_INIT_WAIT_READY,    /* CSTS.RDY -> 1, CSTS.CFS checked, bounded by CAP.TO */
    KEEL_NVME_INIT_IDENTIFY_CTRL, /* Identify Controller */
    KEEL_NVME_INIT_SET_QUEUES,    /* Set Features Number of Queues */
    KEEL_NVME_INIT_SETUP_IRQ,     /* MSI-X vectors / INTx / polling */
    KEEL_NVME_INIT_CREATE_CQ,     /* Create I/O Completion Queue, one per pair */
    KEEL_NVME_INIT_CREATE_SQ,     /* Create I/O Submission Queue, one per pair */
    KEEL_NVME_INIT_NS_LIST,       /* Identify Active Namespace List (fallback: 1..NN) */
    KEEL_NVME_INIT_IDENTIFY_NS,   /* Identify Namespace, one per candidate */
    KEEL_NVME_INIT_ASYNC_EVENTS,  /* Asynchronous Event Configuration, arm AERs */
    KEEL_NVME_INIT_DONE,
    KEEL_NVME_INIT_FAILED,
};

/** Life cycle of an attached controller. */
enum keel_nvme_life {
    KEEL_NVME_LIFE_DOWN = 0, /* not attached (or detached) */
    KEEL_NVME_LIFE_INIT = 1, /* bring-up in progress */
    KEEL_NVME_LIFE_LIVE = 2, /* I/O flows */
    KEEL_NVME_LIFE_RESETTING = 3,
    KEEL_NVME_LIFE_FAILED = 4, /* reset failed: every request fails with KEEL_ENODEV */
    KEEL_NVME_LIFE_GONE = 5,   /* registers read all-ones: surprise removal */
};

/* ---- statistics ---------------------------------------------------------------------------- */

/** NVMe specifics per queue pair (the block layer keeps request statistics per queue). */
struct keel_nvme_qstats {
    uint64_t submitted;    /* commands written to the SQ (children and retries included) */
    uint64_t completed;    /* accepted completion entries */
    uint64_t sq_doorbells; /* SQ tail doorbell writes (fewer than submitted when batched) */
    uint64_t cq_doorbells; /* CQ head doorbell writes */
    uint32_t max_batch;    /* most commands published by one doorbell write */
    uint32_t backpressure; /* submissions refused with KEEL_ENOSPC */
    uint32_t bad_cqes;     /* entries rejected: CID range/generation/idle slot/SQID */
    uint32_t bad_sqhd;     /* entries whose SQ head pointer was out of range (value ignored) */
    uint32_t bounces;      /* commands whose data went through the bounce buffer */
    uint32_t interrupts;   /* interrupt handler runs */
};

/** Controller-wide counters. */
struct keel_nvme_stats {
    uint32_t aer_events;      /* asynchronous events received */
    uint32_t resets;          /* controller resets started (recovery or keel_nvme_reset) */
    uint32_t reset_failures;  /* resets that left the controller failed */
    uint32_t timeouts;        /* commands that passed their deadline */
    uint32_t timeouts_polled; /* ... found completed by polling the CQ (lost interrupt) */
    uint32_t aborts;          /* Abort commands sent */
    uint32_t retries;         /* resubmissions of retriable errors */
    uint32_t efault;          /* requests refused because their buffer breaks PRP rules */
    uint32_t admin_cmds;      /* admin commands submitted */
    uint32_t protocol_errors; /* device behaviour rejected (see qstats for the detail) */
};

/* ---- decoded device data ------------------------------------------------------------------- */

/** One power state descriptor (Identify Controller bytes 2048+, spec 5.15.2.2). */
struct keel_nvme_power_state {
    uint32_t max_power_uw;      /* MP in microwatts */
    uint32_t entry_lat_us;      /* ENLAT */
    uint32_t exit_lat_us;       /* EXLAT */
    uint32_t idle_power_uw;     /* IDLP (0: not reported) */
    uint32_t active_power_uw;   /* ACTP (0: not reported) */
    uint8_t rrt, rrl, rwt, rwl; /* relative read/write throughput and latency */
    bool non_operational;       /* NOPS */
};

/** SMART / Health Information log (02h), decoded. Counters are the low 64 bits of 128. */
struct keel_nvme_smart {
    uint8_t critical_warning; /* KEEL_NVME_CW_* */
    uint16_t temperature_k;   /* composite temperature */
    uint8_t available_spare;  /* percent */
    uint8_t spare_threshold;  /* percent */
    uint8_t percent_used;
    uint64_t data_units_read; /* thousands of 512-byte units */
    uint64_t data_units_written;
    uint64_t host_reads;
    uint64_t host_writes;
    uint64_t power_cycles;
    uint64_t power_on_hours;
    uint64_t unsafe_shutdowns;
    uint64_t media_errors;
    uint64_t error_log_entries;
    uint32_t warning_temp_minutes;
    uint32_t critical_temp_minutes;
    uint16_t sensor_k[8]; /* temperature sensors 1..8 (0: not implemented) */
};

/** One Error Information log (01h) entry, decoded. */
struct keel_nvme_error_entry {
    uint64_t error_count; /* 0: empty entry */
    uint16_t sqid;
    uint16_t cid;
    uint16_t status; /* status field without the phase tag */
    uint16_t param_location;
    uint64_t lba;
    uint32_t nsid;
};

/** Firmware Slot Information log (03h), decoded. */
struct keel_nvme_fw_slots {
    uint8_t active_slot; /* AFI bits 2:0 */
    uint8_t next_slot;   /* AFI bits 6:4 (0: none) */
    char revision[7][9]; /* FRS1..FRS7, NUL-terminated */
};

/** Why a namespace was not exposed as a block device. */
enum keel_nvme_ns_refusal {
    KEEL_NVME_NS_OK = 0,
    KEEL_NVME_NS_REFUSED_METADATA,   /* the in-use format carries metadata: not supported */
    KEEL_NVME_NS_REFUSED_LBA_SIZE,   /* LBADS below 9 or above the largest supported */
    KEEL_NVME_NS_REFUSED_FORMAT,     /* FLBAS names a format beyond NLBAF */
    KEEL_NVME_NS_REFUSED_TRANSFER,   /* one block exceeds what one command may carry */
    KEEL_NVME_NS_REFUSED_PROTECTION, /* end-to-end protection enabled (DPS) */
};

/** A namespace. Embedded in the controller; `blk` is what block-layer users see. */
struct keel_nvme_ns {
    struct keel_blkdev blk; /* valid when refusal == KEEL_NVME_NS_OK */
    struct keel_nvme_ctrl *ctrl;
    uint64_t nsze; /* blocks */
    uint32_t nsid;
    uint32_t child_max_lbas; /* most blocks one command carries (MDTS, PRP pool, NLB) */
    uint16_t ms;             /* metadata bytes per block of the in-use format */
    uint8_t lba_shift;       /* log2 of the block size */
    uint8_t refusal;         /* enum keel_nvme_ns_refusal */
    bool write_protected;    /* NSATTR bit 0: exposed read-only */
};

/* ---- private state (do not touch; shown so the caller can own the memory) ------------------ */

struct keel_nvme_slot {
    struct keel_nvme_sqe sqe; /* as submitted; resubmissions rewrite the CID only */
    void *owner;              /* per kind: keel_blk_req, admin waiter, ... */
    void *map_cookie;         /* HAL mapping of buf (NULL when none) */
    void *buf;                /* caller bytes behind this command */
    uint64_t deadline_us;     /* UINT64_MAX: none */
    uint32_t len;
    uint32_t nlb; /* blocks this child carries */
    uint32_t timeout_us;
    uint16_t gen;
    uint8_t state;
    uint8_t kind;
    uint8_t dir;
    uint8_t retries;
    uint8_t nlist; /* PRP list pages held */
    uint8_t flags;
    uint16_t list[KEEL_CONFIG_NVME_PRP_PAGES_PER_CMD];
};

struct keel_nvme_qpair {
    struct keel_nvme_ctrl *ctrl;
    struct keel_nvme_slot *slots;
    uint16_t *free_stack;
    struct keel_dma_mem sq_mem, cq_mem, prp_mem, bounce_mem;
    keel_io_addr_t sq_db, cq_db;
    struct keel_blk_req *waiting; /* request partly issued, waiting for slots/PRP pages/bounce */
    uint64_t next_check_us;       /* earliest deadline among busy slots */
    uint32_t bounce_bytes;
    uint16_t qid, entries, nslots, nfree;
    uint16_t sq_tail, sq_head, sq_rung, cq_head, cq_unrung;
    uint16_t prp_pages, prp_nfree;
    uint16_t prp_free[KEEL_CONFIG_NVME_PRP_POOL_PAGES];
    uint16_t vector;
    uint16_t last_status; /* status field of the last failed command */
    uint8_t slot_bits, phase;
    uint8_t plugged;       /* batch open: submissions do not ring */
    volatile uint8_t busy; /* nesting depth of owner activity (IRQ defers while set) */
    volatile uint8_t irq_pending;
    uint8_t bounce_busy;
    bool has_irq, created;
    uint32_t irq_handle;
    struct keel_dma_seg segs[KEEL_CONFIG_NVME_MAX_CMD_PAGES + 1u]; /* mapping scratch */
    struct keel_nvme_qstats stats;
};

struct keel_nvme_admin_wait {
    volatile bool done;
    uint16_t status; /* status field (0 success) */
    int err;         /* KEEL_E* when the command never completed (cancelled) */
    uint32_t dw0;
};

struct keel_nvme_init {
    uint8_t state;    /* enum keel_nvme_init_state */
    bool reset;       /* re-init after a reset: keep identity, namespaces and memory */
    bool issued;      /* the step's admin command is in flight */
    bool ns_fallback; /* scanning 1..NN instead of the active list */
    int rc;           /* result once DONE/FAILED */
    uint16_t idx;     /* queue / namespace cursor */
    uint32_t nsid;    /* fallback scan cursor */
    uint32_t scanned; /* candidates looked at */
    uint32_t cmds;    /* admin commands issued by this bring-up (bounded: NVME_INIT_CMD_BUDGET) */
    uint32_t candidates[KEEL_CONFIG_NVME_MAX_NAMESPACES];
    uint16_t ncandidates;
    struct keel_deadline deadline;
    struct keel_nvme_admin_wait wait;
};

struct keel_nvme_ctrl {
    const struct keel_hal *hal;
    struct keel_nvme_config cfg;
    keel_io_addr_t regs;
    uint64_t regs_size;
    uint64_t cap;
    uint32_t vs;
    uint32_t ready_timeout_us;
    uint32_t admin_timeout_us;
    uint32_t db_stride; /* bytes between doorbells: 4 << CAP.DSTRD */
    uint8_t page_shift; /* memory page size chosen in CC.MPS */
    uint8_t life;       /* enum keel_nvme_life */
    uint8_t irq_mode;   /* mode in effect */
    uint8_t int_pin;
    bool msix_on, intx_attached, alloc_done, bme_on, reset_pending, in_reset;
    uint16_t nr_io, io_entries;

    /* Identify Controller facts */
    char sn[21], mn[41], fr[9];
    uint16_t vid, oacs, oncs, wctemp, cctemp;
    uint16_t crdt[3];
    uint8_t mdts, acl, aerl, elpe, npss, apsta, lpa, vwc, frmw;
    uint32_t nn, rtd3e_us, ver, oaes;
    uint32_t cmd_max_bytes; /* one command's data limit (MDTS, PRP pool, segment scratch) */

    struct keel_dma_mem
        buf_mem; /* identify / log buffer (4 KiB), owned by whoever holds buf_busy */
    struct keel_dma_mem aer_mem; /* log page read for an asynchronous event */
    bool buf_busy;
    bool aer_log_busy;

    struct keel_nvme_qpair admin;
    struct keel_nvme_qpair io[KEEL_CONFIG_NVME_MAX_IO_QUEUES];
    struct keel_nvme_slot admin_slots[KEEL_CONFIG_NVME_ADMIN_QUEUE_DEPTH];
    uint16_t admin_free[KEEL_CONFIG_NVME_ADMIN_QUEUE_DEPTH];
    struct keel_nvme_slot io_slots[KEEL_CONFIG_NVME_MAX_IO_QUEUES][KEEL_CONFIG_NVME_IO_QUEUE_DEPTH];
    uint16_t io_free[KEEL_CONFIG_NVME_MAX_IO_QUEUES][KEEL_CONFIG_NVME_IO_QUEUE_DEPTH];

    struct keel_nvme_ns ns[KEEL_CONFIG_NVME_MAX_NAMESPACES];
    uint16_t ns_count;

    struct keel_nvme_power_state ps[KEEL_CONFIG_NVME_MAX_POWER_STATES];

    struct keel_pci_msix msix;
    uint32_t intx_handle;
    volatile uint8_t intx_deferred;

    keel_lock_t admin_lock;
    volatile uint8_t admin_busy;
    volatile uint8_t admin_irq_pending;
    uint8_t aer_outstanding;
    uint8_t aborts_outstanding;
    struct keel_nvme_event events[KEEL_CONFIG_NVME_EVENT_QUEUE];
    uint8_t ev_head, ev_count;
    uint32_t events_dropped;

    struct keel_nvme_init init;
    struct keel_nvme_stats stats;
};

/* ---- bring-up and tear-down ---------------------------------------------------------------- */

/**
 * True when `fn` is an NVMe controller (class 01h, subclass 08h, prog-if 02h), for keel_pci_scan
 * visitors. Thread safety: pure; any context.
 */
bool keel_nvme_pci_match(const struct keel_pci_fn *fn);

/**
 * Prepare `ctrl` for bring-up of the function in `cfg` (copied). Returns 0, KEEL_EINVAL or
 * KEEL_EHAL. Nothing touches the device until the first keel_nvme_init_step(). Init context; `ctrl`
 * must not be in use.
 */
int keel_nvme_init_start(struct keel_nvme_ctrl *ctrl, const struct keel_hal *hal,
                         const struct keel_nvme_config *cfg);

/**
 * Advance bring-up by one step without blocking: KEEL_EAGAIN while not finished (call again, e.g.
 * after a short delay), 0 when every namespace is ready, or the failure (then every resource taken
 * so far is returned and the controller is left disabled). Once finished it keeps returning the
 * same result. Init context; one caller at a time per controller.
 */
int keel_nvme_init_step(struct keel_nvme_ctrl *ctrl);

/** Current bring-up state (enum keel_nvme_init_state). Thread safety: racy read; any context. */
enum keel_nvme_init_state keel_nvme_init_state(const struct keel_nvme_ctrl *ctrl);

/**
 * init_start, then init_step until finished, with KEEL_CONFIG_NVME_POLL_INTERVAL_US between steps.
 * Every wait inside is bounded (CAP.TO, admin timeout). Init context.
 */
int keel_nvme_attach(struct keel_nvme_ctrl *ctrl, const struct keel_hal *hal,
                     const struct keel_nvme_config *cfg);

/**
 * Orderly hand-off: drain the I/O queues (bounded), flush when a volatile write cache is present,
 * delete the I/O queues, set CC.SHN to normal shutdown and wait for CSTS.SHST = complete, bounded
 * by RTD3E clamped to [KEEL_CONFIG_NVME_SHUTDOWN_MIN_US, KEEL_CONFIG_NVME_SHUTDOWN_MAX_US]. Then
 * interrupts are detached, bus mastering is turned off, DMA memory is freed and the namespaces are
 * marked gone. Requests still in flight complete with KEEL_ECANCELED once the device can no longer
 * touch them. Returns 0, KEEL_ETIMEDOUT (shutdown did not complete; the controller was disabled
 * instead) or KEEL_ENODEV (device gone or failed). Init context; no other call on `ctrl` may run
 * meanwhile.
 */
int keel_nvme_detach(struct keel_nvme_ctrl *ctrl);

/**
 * Reset the controller now: disable it (bounded; bus mastering off if it will not stop), complete
 * in-flight requests with KEEL_ECANCELED, then bring admin and I/O queues back. Returns 0 or the
 * failure (the controller is then KEEL_NVME_LIFE_FAILED). Init context; the caller must own every
 * I/O queue (no concurrent submit/poll).
 */
int keel_nvme_reset(struct keel_nvme_ctrl *ctrl);

/**
 * Housekeeping for the admin queue: reap admin completions (asynchronous events and their log
 * pages), check admin timeouts, run a reset requested with KEEL_NVME_F_DEFERRED_RESET, then deliver
 * queued events to the integrator's callback. Call it periodically when polling (or let the admin
 * interrupt do the reaping). Returns 0 or KEEL_ENODEV when the controller is gone or failed.
 * Thread context; takes the admin lock (not across the event callback).
 */
int keel_nvme_service(struct keel_nvme_ctrl *ctrl);

/** Life-cycle state (enum keel_nvme_life). Thread safety: racy read; any context. */
enum keel_nvme_life keel_nvme_life(const struct keel_nvme_ctrl *ctrl);

/* ---- namespaces ---------------------------------------------------------------------------- */

/** Namespaces found (usable or refused). Thread safety: stable after attach; any context. */
unsigned keel_nvme_ns_count(const struct keel_nvme_ctrl *ctrl);

/** The i-th namespace found, NULL past the end. Thread safety: as keel_nvme_ns_count. */
struct keel_nvme_ns *keel_nvme_ns_at(struct keel_nvme_ctrl *ctrl, unsigned i);

/** The namespace with `nsid`, NULL when not found. Thread safety: as keel_nvme_ns_count. */
struct keel_nvme_ns *keel_nvme_ns_find(struct keel_nvme_ctrl *ctrl, uint32_t nsid);

/** Its block device, or NULL when the namespace was refused. Thread safety: pure; any context. */
struct keel_blkdev *keel_nvme_ns_blkdev(struct keel_nvme_ns *ns);

/* ---- I/O extras (owner context of `queue`; blocking: they poll until done, bounded) --------- */

/*
 * They return only once their command completed or was taken back from the device: past the
 * deadline a reset takes it back, and when no reset can run the controller is failed (disabled,
 * bus mastering off), so `buf` and `ranges` are never touched after the call returns.
 */

/** One Dataset Management range. */
struct keel_nvme_range {
    uint64_t lba;
    uint32_t count; /* blocks, >= 1 */
};

/**
 * Deallocate up to KEEL_NVME_DSM_MAX_RANGES ranges with one Dataset Management command (needs ONCS
 * DSM). Returns 0, KEEL_ENOTSUP, KEEL_EROFS, KEEL_ERANGE, KEEL_EINVAL or the command's error.
 * Thread safety: only the owner of `queue`; thread context (polls until done, bounded by
 * `timeout_us` plus the recovery grace).
 */
int keel_nvme_ns_deallocate(struct keel_nvme_ns *ns, unsigned queue,
                            const struct keel_nvme_range *ranges, unsigned n, uint32_t timeout_us);

/**
 * Compare `count` blocks at `lba` with `buf` on the device (needs ONCS Compare; split like a read).
 * Returns 0 when equal, KEEL_EBADMSG on a miscompare, or another error. Thread safety: only the
 * owner of `queue`; thread context (polls until done, bounded).
 */
int keel_nvme_ns_compare(struct keel_nvme_ns *ns, unsigned queue, uint64_t lba, uint32_t count,
                         const void *buf, uint32_t timeout_us);

/**
 * Open a submission batch on `queue`: block-layer submits to it write their entries but do not
 * ring the doorbell until keel_nvme_batch_end() rings it once for all. An open batch is bounded:
 * the doorbell still rings once it holds KEEL_CONFIG_NVME_PLUG_MAX commands or the SQ is full, and
 * a poll of the queue publishes what it holds (the batch stays open). keel_blk_plug() and
 * keel_blk_unplug() on a namespace's block device call these. Thread safety: only the owner of
 * `queue`; owner context, never blocks.
 */
void keel_nvme_batch_begin(struct keel_nvme_ctrl *ctrl, unsigned queue);
void keel_nvme_batch_end(struct keel_nvme_ctrl *ctrl, unsigned queue);

/**
 * Check `queue` for commands past their deadline and escalate (CSTS, poll the CQ, Abort, reset)
 * without reaping completions first: what a watchdog calls in interrupt mode. Returns the number of
 * requests completed by the check. Thread safety: only the owner of `queue`; owner context (a
 * reset it triggers touches every queue unless KEEL_NVME_F_DEFERRED_RESET is set).
 */
int keel_nvme_check_timeouts(struct keel_nvme_ctrl *ctrl, unsigned queue);

/* ---- admin commands (thread context; block until done, bounded by the admin timeout; a timeout
 * resets the controller before returning KEEL_ETIMEDOUT, so a caller buffer is never left mapped
 * to a device that may still write it) ------------------------------------------------------- */

/**
 * Identify with `cns` into a 4096-byte caller buffer. Thread safety: any thread (admin lock);
 * thread context, blocks (bounded).
 */
int keel_nvme_identify(struct keel_nvme_ctrl *ctrl, uint8_t cns, uint32_t nsid, void *buf4k);

/**
 * Get Features `fid` (SEL = current) with CDW11 `cdw11`; the result dword in *dw0.
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_get_features(struct keel_nvme_ctrl *ctrl, uint8_t fid, uint32_t nsid, uint32_t cdw11,
                           uint32_t *dw0);

/**
 * Set Features `fid` to `cdw11` (not Number of Queues: fixed at attach); result in *dw0.
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_set_features(struct keel_nvme_ctrl *ctrl, uint8_t fid, uint32_t nsid, uint32_t cdw11,
                           uint32_t *dw0);

/**
 * Interrupt coalescing (08h): aggregation threshold (entries, 0-based) and time (100 us units).
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_set_irq_coalescing(struct keel_nvme_ctrl *ctrl, uint8_t threshold,
                                 uint8_t time_100us);

/**
 * Volatile write cache (06h) on or off; KEEL_ENOTSUP without one. Thread safety: any thread (admin
 * lock); thread context, blocks (bounded).
 */
int keel_nvme_set_write_cache(struct keel_nvme_ctrl *ctrl, bool enable);

/**
 * Arbitration (01h): burst (log2) and priority weights. Thread safety: any thread (admin lock);
 * thread context, blocks (bounded).
 */
int keel_nvme_set_arbitration(struct keel_nvme_ctrl *ctrl, uint8_t burst_log2, uint8_t low,
                              uint8_t medium, uint8_t high);

/**
 * Get Log Page `lid` for `nsid` (0xffffffff: controller) from byte `offset` into `buf` (`len` a
 * multiple of 4, up to one command's transfer size), RAE set when `retain` is true.
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_get_log_page(struct keel_nvme_ctrl *ctrl, uint8_t lid, uint32_t nsid, uint64_t offset,
                           void *buf, uint32_t len, bool retain);

/**
 * SMART / Health log, decoded. Thread safety: any thread (admin lock); thread context, blocks
 * (bounded).
 */
int keel_nvme_smart_log(struct keel_nvme_ctrl *ctrl, struct keel_nvme_smart *out);

/**
 * Up to `max` Error Information entries (newest first) into `out`; *n = entries copied.
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_error_log(struct keel_nvme_ctrl *ctrl, struct keel_nvme_error_entry *out,
                        unsigned max, unsigned *n);

/**
 * Firmware Slot Information log, decoded. Thread safety: any thread (admin lock); thread context,
 * blocks (bounded).
 */
int keel_nvme_fw_slot_log(struct keel_nvme_ctrl *ctrl, struct keel_nvme_fw_slots *out);

/* ---- power and thermal --------------------------------------------------------------------- */

/**
 * Power state descriptors reported (NPSS + 1). Thread safety: read-only after attach; any context.
 */
unsigned keel_nvme_power_state_count(const struct keel_nvme_ctrl *ctrl);

/** Descriptor `ps`, NULL when out of range. Thread safety: read-only after attach; any context. */
const struct keel_nvme_power_state *keel_nvme_power_state(const struct keel_nvme_ctrl *ctrl,
                                                          unsigned ps);

/**
 * Set Features Power Management: enter power state `ps` (KEEL_EINVAL beyond NPSS).
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_set_power_state(struct keel_nvme_ctrl *ctrl, unsigned ps);

/**
 * Current power state. Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_get_power_state(struct keel_nvme_ctrl *ctrl, unsigned *ps);

/**
 * Autonomous Power State Transitions (0Ch): enable with a table in which each power state steps to
 * the next deeper non-operational state whose entry + exit latency is at most `max_latency_us`,
 * after an idle time of about 50x that latency. KEEL_ENOTSUP when APSTA is 0.
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_apst_enable(struct keel_nvme_ctrl *ctrl, uint32_t max_latency_us);
int keel_nvme_apst_disable(struct keel_nvme_ctrl *ctrl);

/**
 * Composite temperature in Kelvin, from the SMART log. Thread safety: any thread (admin lock);
 * thread context, blocks (bounded).
 */
int keel_nvme_temperature(struct keel_nvme_ctrl *ctrl, uint16_t *kelvin);

/**
 * Temperature threshold (04h) for `sensor` (0: composite), over (under = false) or under.
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_set_temp_threshold(struct keel_nvme_ctrl *ctrl, unsigned sensor, bool under,
                                 uint16_t kelvin);
int keel_nvme_get_temp_threshold(struct keel_nvme_ctrl *ctrl, unsigned sensor, bool under,
                                 uint16_t *kelvin);

/* ---- admin passthrough (passthru.c) -------------------------------------------------------- */

/**
 * Send an integrator-built admin command. `cmd` is the submission queue entry as the device reads
 * it, so every multi-byte field is little-endian (spec 4.2) whatever the CPU: fill NSID and the
 * command dwords with keel_cpu_to_le32() (keel/endian.h); the driver copies them unconverted. The
 * driver owns CID, PRPs, MPTR and flags (overwritten); opcode, NSID and CDW2/3/10..15 are passed
 * through. *dw0 and *status are returned in host byte order. Data direction follows the opcode's
 * low bits (spec 5.1 figure 138): `buf`/`len` must be NULL/0 for opcodes without data. Refused with
 * KEEL_ENOTSUP: queue management, Abort and AER (the driver owns them), Set Features Number of
 * Queues, and destructive opcodes unless enabled in passthru_allow (KEEL_NVME_PT_*). Returns 0, the
 * device's status mapped by keel_nvme_status_to_err (raw status field in *status), or a driver
 * error (KEEL_EFAULT: `buf` breaks the PRP rules; there is no admin bounce buffer); *dw0 receives
 * the result dword. A timeout resets the controller before KEEL_ETIMEDOUT is returned.
 * Thread safety: any thread (admin lock); thread context, blocks (bounded).
 */
int keel_nvme_admin_passthru(struct keel_nvme_ctrl *ctrl, const struct keel_nvme_sqe *cmd,
                             void *buf, uint32_t len, uint32_t *dw0, uint16_t *status,
                             uint32_t timeout_us);

/**
 * Change the passthrough allow mask (KEEL_NVME_PT_*). Thread safety: not concurrently with a
 * passthrough call on the same controller; init/thread context.
 */
void keel_nvme_passthru_allow(struct keel_nvme_ctrl *ctrl, uint32_t allow);

/** True when keel_nvme_admin_passthru would accept `cmd` under `allow`. Pure; any context. */
bool keel_nvme_passthru_allowed(const struct keel_nvme_sqe *cmd, uint32_t allow);

/* ---- status (status.c; names in status_names.c) -------------------------------------------- */

/** A completion status field, decoded (spec 4.6.1). */
struct keel_nvme_status {
    uint8_t sct; /* status code type */
    uint8_t sc;  /* status code */
    uint8_t crd; /* command retry delay index (0: none) */
    bool more;   /* more information in the Error log */
    bool dnr;    /* do not retry */
};

/** Decode the 15-bit status field (CQE DW3 bits 31:17). Pure; any context. */
struct keel_nvme_status keel_nvme_status_decode(uint16_t status);

/** Map a status field to a KEEL_E* code (0 for success). Pure; any context. */
int keel_nvme_status_to_err(uint16_t status);

/**
 * Name of the status ("Unrecovered Read Error"); "Unknown" for codes not in the table.
 * Thread safety: pure; any context.
 */
const char *keel_nvme_status_name(uint16_t status);

/** Name of a status code type ("Media and Data Integrity Errors"). Pure; any context. */
const char *keel_nvme_sct_name(uint8_t sct);

/**
 * Status field of the last failed command on I/O `queue` (0 when none). Thread safety: racy
 * read; any context.
 */
uint16_t keel_nvme_last_status(const struct keel_nvme_ctrl *ctrl, unsigned queue);

/* ---- statistics ---------------------------------------------------------------------------- */

/** Controller counters. Thread safety: racy snapshot; any context. */
const struct keel_nvme_stats *keel_nvme_stats(const struct keel_nvme_ctrl *ctrl);

/**
 * Counters of I/O queue `queue` (0-based), NULL when out of range. Thread safety: racy snapshot;
 * any context.
 */
const struct keel_nvme_qstats *keel_nvme_queue_stats(const struct keel_nvme_ctrl *ctrl,
                                                     unsigned queue);

/**
 * I/O queue pairs in use after attach, and their entries. Thread safety: racy read; any context.
 */
unsigned keel_nvme_io_queue_count(const struct keel_nvme_ctrl *ctrl);
unsigned keel_nvme_io_queue_entries(const struct keel_nvme_ctrl *ctrl);

#ifdef __cplusplus
}
#endif

#endif
