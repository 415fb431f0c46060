/* SPDX-License-Identifier: MIT */
/*
 * keel/virtio_scsi.h - virtio-scsi (VIRTIO 1.2 section 5.6): a SCSI host adapter whose disks become
 * Keel block devices.
 *
 * Attach: probe the transport into vs->vdev (keel_virtio_pci_probe / keel_virtio_mmio_probe), then
 * keel_vscsi_attach(vs, &opts). The driver uses all three kinds of queue: the control queue (task
 * management), the event queue (hot-plug, removal, parameter changes; its buffers are kept posted
 * and re-posted after every event) and num_queues request queues (no more than cmd_per_lun: each
 * queue needs a command per LUN), each with one owner.
 *
 * Discovery (keel_vscsi_scan, run by attach): every target 0..max_target (the device's value,
 * bounded by KEEL_CONFIG_VSCSI_MAX_TARGET) gets REPORT LUNS, with the allocation grown when the
 * list does not fit, or, when the target rejects REPORT LUNS, LUNs
 * 0..KEEL_CONFIG_VSCSI_SEQ_SCAN_LUNS
 * - 1 probed one by one. Each LUN gets INQUIRY (standard data, VPD 00h, 80h, 83h, B0h, B2h), TEST
 * UNIT READY with bounded retries through UNIT ATTENTION and "becoming ready" (START STOP UNIT when
 * it says "initializing command required"), READ CAPACITY(10) then (16) when the LBA count does not
 * fit or protection is on, and MODE SENSE for write protection, DPOFUA and the write cache.
 *
 * Naming: every direct-access LUN (peripheral type 0) that is ready becomes a struct keel_blkdev
 * named "sd<N>": N = opts.name_base + the lowest number no other live disk of this adapter uses, so
 * the first scan numbers disks in (target, LUN) order from name_base; a removed disk frees its
 * number for the next disk that appears. Other device types (CD-ROM, ...) and disks that are not
 * ready are listed (keel_vscsi_lun_info) without a block device; an empty removable drive is in
 * state KEEL_VSCSI_LUN_NO_MEDIUM, which is not a failure.
 *
 * I/O: READ/WRITE(10) or (16) chosen by LBA and length (always (16) beyond 2^32 blocks), FUA when
 * MODE SENSE reports DPOFUA (else a SYNCHRONIZE CACHE after the write), SYNCHRONIZE CACHE for
 * flushes, UNMAP for trims only when VPD B2h sets LBPU (the blkdev has no TRIM flag otherwise);
 * requests split by max_sectors, seg_max, VPD B0h MAXIMUM TRANSFER LENGTH and the UNMAP limits.
 * Every response code is mapped (keel_vscsi_response_err), SCSI status and sense go through
 * keel_scsi_classify: retriable conditions are resent (bounded by KEEL_CONFIG_VSCSI_RETRIES and the
 * request's timeout), others fail. Residuals are honoured (a short transfer is never success) and
 * every length the device writes is bounds-checked.
 *
 * Timeouts: an overdue command is first looked for in its queue (lost interrupt), then escalated:
 * ABORT TASK, LOGICAL UNIT RESET, I_T NEXUS RESET on the control queue, finally a device reset. A
 * request is only completed once its command came back from the device or the device was reset,
 * so the device can never write a buffer the caller got back.
 *
 * Events (keel_vscsi_service): TRANSPORT_RESET/RESCAN probes the new LUN (LUN 0: the whole target)
 * and registers a new disk; TRANSPORT_RESET/REMOVED marks the LUN gone (new requests fail with
 * KEEL_ENODEV, its commands fail as the device ends them), unregisters it; PARAM_CHANGE re-reads
 * capacity and write protection; EVENTS_MISSED (and UNIT ATTENTION 3F/0E) rescans. The integrator
 * hears about each change through opts.event_cb, and disks are added to / removed from
 * opts.registry when one is given.
 *
 * Thread safety: attach/detach/scan/recover are init context and exclusive with every other call.
 * Block queue i of every disk of one adapter is request virtqueue i: the owner of queue i drives
 * that queue for all of the adapter's disks (no locks inside). keel_vscsi_service, discovery and
 * event handling run in the context of queue 0's owner (a poll of queue 0 also runs them when work
 * is pending). Task management takes the adapter's control lock (HAL lock hooks), so any queue's
 * owner may escalate a timeout; a device reset (last resort, NEEDS_RESET, broken queue) touches
 * every queue: with several CPUs driving queues, run I/O on other queues only while no recovery can
 * happen. Interrupt handlers complete requests themselves when the queue's owner is not inside a
 * call on that queue, so they must run on the owner's CPU or be serialised with it by the HAL.
 */
#ifndef KEEL_VIRTIO_SCSI_H
#define KEEL_VIRTIO_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/blkdev.h>
#include <keel/keel_config.h>
#include <keel/registry.h>
#include <keel/scsi.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Spec constants (5.6) -----------------------------------------------------------------------
 */

/* Feature bits (5.6.3). */
#define KEEL_VIRTIO_SCSI_F_INOUT   0
#define KEEL_VIRTIO_SCSI_F_HOTPLUG 1
#define KEEL_VIRTIO_SCSI_F_CHANGE  2
#define KEEL_VIRTIO_SCSI_F_T10_PI  3

/* Virtqueues (5.6.2). */
#define KEEL_VIRTIO_SCSI_Q_CONTROL 0u
#define KEEL_VIRTIO_SCSI_Q_EVENT   1u
#define KEEL_VIRTIO_SCSI_Q_REQUEST 2u /* first request queue */

/* Configuration layout (struct virtio_scsi_config, 5.6.4). */
#define KEEL_VIRTIO_SCSI_CFG_NUM_QUEUES      0u
#define KEEL_VIRTIO_SCSI_CFG_SEG_MAX         4u
#define KEEL_VIRTIO_SCSI_CFG_MAX_SECTORS     8u
#define KEEL_VIRTIO_SCSI_CFG_CMD_PER_LUN     12u
#define KEEL_VIRTIO_SCSI_CFG_EVENT_INFO_SIZE 16u
#define KEEL_VIRTIO_SCSI_CFG_SENSE_SIZE      20u
#define KEEL_VIRTIO_SCSI_CFG_CDB_SIZE        24u
#define KEEL_VIRTIO_SCSI_CFG_MAX_CHANNEL     28u
#define KEEL_VIRTIO_SCSI_CFG_MAX_TARGET      30u
#define KEEL_VIRTIO_SCSI_CFG_MAX_LUN         32u
#define KEEL_VIRTIO_SCSI_CFG_SIZE            36u

/* Response codes of request and control queue requests (5.6.6.1, 5.6.6.2). */
#define KEEL_VIRTIO_SCSI_S_OK                 0u
#define KEEL_VIRTIO_SCSI_S_OVERRUN            1u
#define KEEL_VIRTIO_SCSI_S_ABORTED            2u
#define KEEL_VIRTIO_SCSI_S_BAD_TARGET         3u
#define KEEL_VIRTIO_SCSI_S_RESET              4u
#define KEEL_VIRTIO_SCSI_S_BUSY               5u
#define KEEL_VIRTIO_SCSI_S_TRANSPORT_FAILURE  6u
#define KEEL_VIRTIO_SCSI_S_TARGET_FAILURE     7u
#define KEEL_VIRTIO_SCSI_S_NEXUS_FAILURE      8u
#define KEEL_VIRTIO_SCSI_S_FAILURE            9u
#define KEEL_VIRTIO_SCSI_S_FUNCTION_SUCCEEDED 10u
#define KEEL_VIRTIO_SCSI_S_FUNCTION_REJECTED  11u
#define KEEL_VIRTIO_SCSI_S_INCORRECT_LUN      12u
#define KEEL_VIRTIO_SCSI_S_FUNCTION_COMPLETE  0u

/* Task attributes. */
#define KEEL_VIRTIO_SCSI_S_SIMPLE 0u

/* Control queue request types and task management functions (5.6.6.2). */
#define KEEL_VIRTIO_SCSI_T_TMF                    0u
#define KEEL_VIRTIO_SCSI_T_AN_QUERY               1u
#define KEEL_VIRTIO_SCSI_T_AN_SUBSCRIBE           2u
#define KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK         0u
#define KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK_SET     1u
#define KEEL_VIRTIO_SCSI_T_TMF_CLEAR_ACA          2u
#define KEEL_VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET     3u
#define KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET    4u
#define KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET 5u
#define KEEL_VIRTIO_SCSI_T_TMF_QUERY_TASK         6u
#define KEEL_VIRTIO_SCSI_T_TMF_QUERY_TASK_SET     7u

/* Events (5.6.6.3). */
#define KEEL_VIRTIO_SCSI_T_NO_EVENT        0u
#define KEEL_VIRTIO_SCSI_T_TRANSPORT_RESET 1u
#define KEEL_VIRTIO_SCSI_T_ASYNC_NOTIFY    2u
#define KEEL_VIRTIO_SCSI_T_PARAM_CHANGE    3u
#define KEEL_VIRTIO_SCSI_T_EVENTS_MISSED   0x80000000u
#define KEEL_VIRTIO_SCSI_EVT_RESET_HARD    0u
#define KEEL_VIRTIO_SCSI_EVT_RESET_RESCAN  1u
#define KEEL_VIRTIO_SCSI_EVT_RESET_REMOVED 2u
#define KEEL_VIRTIO_SCSI_EVENT_BYTES       16u /* struct virtio_scsi_event */
#define KEEL_VIRTIO_SCSI_REQ_HDR_BYTES     19u /* lun, id, task_attr, prio, crn (+ cdb_size) */
#define KEEL_VIRTIO_SCSI_RESP_HDR_BYTES    12u /* sense_len, residual, qualifier, status, response */
#define KEEL_VIRTIO_SCSI_TMF_REQ_BYTES     24u /* type, subtype, lun, id */
#define KEEL_VIRTIO_SCSI_AN_REQ_BYTES      16u /* type, lun, event_requested */

/* ---- Types --------------------------------------------------------------------------------------
 */

struct keel_vscsi;
struct keel_vscsi_lun;

/** The configuration fields, as read and validated at attach (5.6.4). */
struct keel_vscsi_config {
    uint32_t num_queues;      /* request queues the device has (>= 1) */
    uint32_t seg_max;         /* data segments per command (0: no limit given) */
    uint32_t max_sectors;     /* 512-byte sectors per command (0: no limit given) */
    uint32_t cmd_per_lun;     /* commands in flight per LUN (0: treated as the slot count) */
    uint32_t event_info_size; /* event buffer size the device fills */
    uint32_t sense_size;      /* in use (what the driver wrote, as read back) */
    uint32_t cdb_size;        /* in use (what the driver wrote, as read back) */
    uint16_t max_channel;
    uint16_t max_target;
    uint32_t max_lun;
};

/** State of a LUN in the adapter's table. */
enum keel_vscsi_lun_state {
    KEEL_VSCSI_LUN_FREE = 0,      /* table entry unused */
    KEEL_VSCSI_LUN_READY = 1,     /* present and ready (disks have a block device) */
    KEEL_VSCSI_LUN_NO_MEDIUM = 2, /* removable, no medium: listed, not a failure */
    KEEL_VSCSI_LUN_NOT_READY = 3, /* did not become ready within the bound */
    KEEL_VSCSI_LUN_OFFLINE = 4,   /* probing failed (bad capacity data, errors) */
    KEEL_VSCSI_LUN_GONE = 5       /* removed (event, or no longer reported) */
};

/** What the integrator's callback is told. */
enum keel_vscsi_event {
    KEEL_VSCSI_EV_ADDED = 1,   /* a LUN appeared (scan or hot-plug); disks have lun->blk now */
    KEEL_VSCSI_EV_REMOVED = 2, /* a LUN went away; its block device is marked gone */
    KEEL_VSCSI_EV_RESIZED = 3, /* capacity changed; lun->blk.info.sector_count is the new value */
    KEEL_VSCSI_EV_CHANGED = 4  /* state, medium or write protection changed */
};

/**
 * Integrator callback: runs in the context of keel_vscsi_service, a poll of queue 0, a scan or
 * attach (queue 0's owner). It may submit I/O and use keel_vscsi_command, but must not scan,
 * recover, attach or detach (it runs in the middle of a scan).
 */
typedef void (*keel_vscsi_event_fn)(struct keel_vscsi *vs, struct keel_vscsi_lun *lun,
                                    enum keel_vscsi_event ev, void *arg);

/** Attach options. Zero-initialised options: polled, all queues, device queue size, scan. */
struct keel_vscsi_opts {
    enum keel_virtio_irq_mode irq; /* KEEL_VIRTIO_IRQ_POLL (0) or AUTO / a specific mode */
    uint16_t max_queues;           /* request queues (0: as many as offered, <= config) */
    uint16_t queue_size;           /* 0: the device's maximum (<= config) */
    bool no_packed;                /* never negotiate RING_PACKED */
    bool no_scan;                  /* attach without scanning (call keel_vscsi_scan) */
    uint64_t refuse;               /* device feature bits (1 << KEEL_VIRTIO_SCSI_F_*) not to take */
    uint16_t name_base;            /* first disk is "sd<name_base>" */
    struct keel_registry *registry; /* disks are added / removed here (may be NULL) */
    keel_vscsi_event_fn event_cb;   /* may be NULL */
    void *event_arg;
    struct keel_vscsi_lun *lun_table; /* caller storage for LUNs (NULL: the built-in table) */
    uint16_t lun_table_len;           /* entries in lun_table */
};

/** One logical unit. Entries live in the adapter's table; read them through keel_vscsi_lun_info. */
struct keel_vscsi_lun {
    struct keel_blkdev blk; /* the disk ("sdN"); valid while has_blk */
    struct keel_vscsi *vs;
    uint8_t state; /* enum keel_vscsi_lun_state */
    uint8_t target;
    uint16_t lun;
    uint8_t type; /* PERIPHERAL DEVICE TYPE (KEEL_SCSI_TYPE_*) */
    bool removable;
    bool has_blk;    /* a block device was set up (disks) */
    bool registered; /* in opts.registry */
    bool wp;         /* MODE SENSE WP (or DATA PROTECT seen) */
    bool dpofua;     /* MODE SENSE DPOFUA: FUA sent natively */
    bool wce;        /* caching page WCE (or unknown: assumed on) */
    bool lbpu;       /* VPD B2h LBPU: UNMAP used for trims */
    bool force16;    /* more than 2^32 blocks: every READ/WRITE is (16) */
    bool prot_en;    /* READ CAPACITY(16) PROT_EN */
    bool seen;       /* scratch of a rescan */
    uint8_t block_shift;
    uint16_t name_idx;        /* N of "sdN" minus name_base; valid while has_blk */
    uint16_t qdepth;          /* commands in flight per request queue for this LUN */
    uint16_t work;            /* internal: pending revalidation */
    uint64_t nblocks;         /* capacity in logical blocks (0: none known) */
    uint32_t max_xfer_blocks; /* per command: max_sectors, B0h, 1 GiB */
    uint32_t dev_max_xfer;    /* B0h MAXIMUM TRANSFER LENGTH (0: none reported) */
    uint32_t max_unmap_lba;   /* B0h (0: no limit given) */
    uint32_t max_unmap_desc;  /* B0h (0: no limit given) */
    uint16_t inflight[KEEL_CONFIG_VSCSI_MAX_QUEUES]; /* commands on each request queue (block
                                                        pieces and internal commands) */
    struct keel_scsi_inquiry inq;                    /* standard INQUIRY data */
    char serial[KEEL_CONFIG_VSCSI_SERIAL_MAX];       /* VPD 80h ("" when none) */
    uint8_t id_type; /* best VPD 83h designator (KEEL_SCSI_DESIG_*) */
    uint8_t id_len;  /* 0: none */
    uint8_t id[16];
    uint8_t addr[8]; /* internal: lun[8] of its request headers (5.6.6.1), built once */
};

/** A LUN as listed by keel_vscsi_lun_info. Strings are copies. */
struct keel_vscsi_lun_info {
    uint8_t target;
    uint16_t lun;
    uint8_t type;
    uint8_t state; /* enum keel_vscsi_lun_state */
    bool removable;
    bool write_protected;
    char name[KEEL_CONFIG_BLK_NAME_MAX]; /* "sdN" for disks with a block device, else "" */
    char vendor[9];
    char product[17];
    char revision[5];
    char serial[KEEL_CONFIG_VSCSI_SERIAL_MAX];
    uint64_t nblocks;        /* capacity in logical blocks (0: none known, or no medium) */
    uint32_t block_size;     /* logical block length (blk->info.sector_size when blk is set,
                                even without medium); 0 only when no geometry is known */
    struct keel_blkdev *blk; /* NULL unless the LUN has a block device */
};

/** One command in flight on a request queue (a piece of a block request or an internal one). */
struct keel_vscsi_slot {
    struct keel_blk_req *req;    /* block request, or NULL */
    void *icmd;                  /* internal command, or NULL */
    struct keel_vscsi_lun *lunp; /* its LUN (counted in inflight[]); NULL: not in the table */
    void *cookie;                /* DMA mapping of the data, NULL when none */
    void *buf;
    uint32_t len;
    uint32_t blocks;
    uint32_t rest; /* blocks after this command the slot still sends (a resend split) */
    uint64_t lba;
    uint64_t tag;      /* virtio_scsi_req_cmd.id */
    uint64_t deadline; /* time the command is overdue */
    uint64_t retry_at; /* on the retry list: when to resend */
    int err;           /* on the retry list: error if it cannot be resent */
    uint8_t dir;       /* enum keel_dma_dir of the mapping */
    uint8_t kind;      /* internal piece kind */
    uint8_t flags;     /* internal slot flags */
    uint8_t retries;
    uint8_t ua_retries;
    uint8_t target;
    uint16_t lun;
    uint16_t gen;
    uint16_t next; /* free list / retry list link */
};

/** One request queue: its virtqueue, slots, and the requests waiting for them. */
struct keel_vscsi_rq {
    struct keel_vscsi *vs;
    uint16_t index; /* request queue number (virtqueue 2 + index) */
    struct keel_vq vq;
    struct keel_dma_mem slot_mem;
    struct keel_vscsi_slot slots[KEEL_CONFIG_VSCSI_SLOTS];
    uint16_t nslots;
    uint16_t free_slot;
    uint16_t used_slots;
    uint16_t retry_head;                        /* slots waiting to be resent */
    struct keel_blk_req *pend_head, *pend_tail; /* not fully issued, in order */
    struct keel_blk_req *fin_head, *fin_tail;   /* finished, done() not yet called */
    uint64_t next_deadline;
    uint8_t depth;                    /* owner calls in progress (interrupt exclusion) */
    volatile bool irq_pending;        /* the interrupt came while the owner was inside */
    uint8_t recover;                  /* device recovery reason found by this queue */
    struct keel_vscsi_lun *icmd_wait; /* an internal command waits for room on this LUN */
    struct keel_dma_seg segs[KEEL_CONFIG_VIRTIO_MAX_SEGS];
    struct keel_vq_sg sg[KEEL_CONFIG_VIRTIO_MAX_SEGS];
};

/** Driver counters. */
struct keel_vscsi_stats {
    uint64_t commands; /* commands sent on request queues (resends included) */
    uint64_t splits;   /* extra commands made by splitting block requests */
    uint64_t retries;  /* commands resent after a retriable condition */
    uint64_t responses[KEEL_VIRTIO_SCSI_S_FAILURE + 1]; /* by virtio response code */
    uint64_t bad_responses;                             /* response byte unwritten or undefined */
    uint64_t check_conditions;
    uint64_t unit_attentions;
    uint64_t sense_clamped;                    /* sense_len beyond sense_size */
    uint64_t short_transfers;                  /* residual on a data command */
    uint64_t residual_lies;                    /* residual larger than the data buffer */
    uint64_t timeouts;                         /* commands overdue */
    uint64_t aborts, lun_resets, nexus_resets; /* TMFs sent */
    uint64_t tmf_failures;                     /* TMFs that failed or timed out */
    uint64_t device_resets;
    uint64_t resubmits;         /* requests resent after a device reset */
    uint64_t lun_full_waits;    /* internal commands that waited for room in cmd_per_lun */
    uint64_t fua_syncs;         /* SYNCHRONIZE CACHE sent to emulate FUA */
    uint64_t events;            /* events taken from the event queue */
    uint64_t events_missed;     /* events with EVENTS_MISSED set */
    uint64_t bad_events;        /* events that were malformed or for an impossible address */
    uint64_t rescans;           /* target scans */
    uint64_t report_luns_grown; /* REPORT LUNS re-sent with a larger allocation */
    uint64_t seq_scans;         /* targets scanned LUN by LUN */
    uint64_t luns_dropped;      /* LUNs found that did not fit the table */
    uint64_t added, removed, resized;
};

/** A virtio-scsi adapter. Caller-provided storage; keep it in place while attached. */
struct keel_vscsi {
    struct keel_virtio_dev vdev; /* probed by the caller before keel_vscsi_attach */
    struct keel_vscsi_opts opts;
    struct keel_vscsi_config cfg;
    uint64_t wanted;
    uint64_t negotiated;
    uint16_t nrq;       /* request queues in use */
    uint16_t seg_limit; /* data descriptors per command */
    uint32_t max_xfer_bytes;
    uint32_t hdr_len, resp_len; /* request header and response sizes in use */
    uint32_t off_resp, off_aux, aux_cap, slot_bytes;
    uint16_t lun_qdepth; /* per-queue share of cmd_per_lun */
    bool attached;
    bool dead;
    bool in_recovery;
    bool in_service;
    uint16_t scanning;      /* target being scanned + 1 (0: none) */
    uint32_t work;          /* pending adapter work (internal) */
    uint8_t rescan_map[32]; /* targets to rescan */

    /* control queue */
    struct keel_vq ctrl_vq;
    struct keel_dma_mem ctrl_mem;
    uint8_t ctrl_state[KEEL_CONFIG_VSCSI_CTRL_SLOTS];
    keel_lock_t ctrl_lock;

    /* event queue */
    struct keel_vq event_vq;
    struct keel_dma_mem event_mem;
    uint16_t nevents;
    uint32_t event_len;
    uint8_t ev_unposted[KEEL_CONFIG_VSCSI_EVENT_BUFS]; /* taken back, not yet re-posted */

    /* discovery */
    struct keel_dma_mem disc_mem;

    /* LUNs */
    struct keel_vscsi_lun *luns;
    uint16_t nluns;
    struct keel_vscsi_lun lun_store[KEEL_CONFIG_VSCSI_MAX_LUNS];

    struct keel_vscsi_rq rq[KEEL_CONFIG_VSCSI_MAX_QUEUES];
    struct keel_vscsi_stats stats;
};

/* ---- Functions ----------------------------------------------------------------------------------
 */

/**
 * Bring up the virtio-scsi device already probed into vs->vdev: negotiate (HOTPLUG and CHANGE when
 * offered), read and validate the configuration, write sense_size and cdb_size, create the control,
 * event and request queues, post the event buffers, set DRIVER_OK and (unless opts->no_scan) scan
 * every target. KEEL_ENODEV when vs->vdev is not a SCSI host, KEEL_ENOTSUP for refused features or
 * an unusable configuration, or an allocation / transport error (the device is then reset and
 * nothing stays allocated). A scan that finds nothing is not an error. Init context.
 */
int keel_vscsi_attach(struct keel_vscsi *vs, const struct keel_vscsi_opts *opts);

/**
 * Reset the device, complete every outstanding request with KEEL_ECANCELED (after the reset),
 * mark every disk gone (and remove it from opts.registry), detach interrupts and free the DMA
 * memory. Init context.
 */
void keel_vscsi_detach(struct keel_vscsi *vs);

/**
 * Scan every target again: new LUNs are probed and added, LUNs no longer reported are marked gone,
 * the others are revalidated (capacity, medium, write protection). Returns 0 or the first error
 * that stopped the scan. Thread context of queue 0's owner.
 */
int keel_vscsi_scan(struct keel_vscsi *vs);

/** keel_vscsi_scan for one target. Thread context of queue 0's owner. */
int keel_vscsi_scan_target(struct keel_vscsi *vs, uint8_t target);

/**
 * Adapter work without I/O: DEVICE_NEEDS_RESET, the event queue (each event handled, its buffer
 * re-posted), rescans and revalidations asked for by events or unit attentions. Returns 0 or the
 * recovery error (KEEL_ENODEV once the device is dead). Thread context of queue 0's owner.
 */
int keel_vscsi_service(struct keel_vscsi *vs);

/**
 * Device-wide recovery: reset, complete overdue requests with KEEL_ETIMEDOUT and resend the others,
 * bring the device back (features, sizes, queues, event buffers). Also the block layer's recover
 * hook. Init/thread context, exclusive with all queues' owners.
 */
int keel_vscsi_recover(struct keel_vscsi *vs);

/**
 * Send a task management function (KEEL_VIRTIO_SCSI_T_TMF_*) for `target`/`lun` (`tag`: the
 * command id for ABORT TASK / QUERY TASK) and wait for it, bounded by
 * KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US. 0 for FUNCTION COMPLETE / SUCCEEDED, else
 * keel_vscsi_tmf_err of the response (KEEL_ETIMEDOUT when the device never answered; that
 * control slot then stays with the device until a reset). Thread context; takes the control lock.
 */
int keel_vscsi_tmf(struct keel_vscsi *vs, uint32_t subtype, uint8_t target, uint16_t lun,
                   uint64_t tag);

/** LOGICAL UNIT RESET of `lun`'s LUN (keel_vscsi_tmf). Thread context. */
int keel_vscsi_lun_reset(struct keel_vscsi_lun *lun);

/**
 * Run one SCSI command on `target`/`lun` through request queue 0, with retries by the sense policy:
 * `buf`/`len` data in (`write` false) or out, mapped through the HAL; `timeout_us` 0 is
 * KEEL_CONFIG_VSCSI_CMD_TIMEOUT_US. On return *status holds the SCSI status and *xfer the bytes
 * moved (either may be NULL). 0, or the error of the response / sense; KEEL_EINVAL when `len`
 * exceeds what the device accepts in one command (its max_sectors). Like block I/O, the command
 * takes a place in the LUN's share of cmd_per_lun on queue 0: when block I/O fills it, the command
 * waits (within `timeout_us`; KEEL_ETIMEDOUT, never sent, when no place comes free). Thread context
 * of queue 0's owner.
 */
int keel_vscsi_command(struct keel_vscsi *vs, uint8_t target, uint16_t lun, const uint8_t *cdb,
                       unsigned cdb_len, void *buf, uint32_t len, bool write, uint32_t timeout_us,
                       uint8_t *status, uint32_t *xfer);

/** Number of LUNs in the table (any state but FREE). Any context (racy snapshot). */
unsigned keel_vscsi_lun_count(const struct keel_vscsi *vs);

/**
 * Describe the i-th LUN in the table (FREE entries skipped; order: table order) into *out.
 * KEEL_ENOENT when i is past the end. Any context (racy snapshot).
 */
int keel_vscsi_lun_info(const struct keel_vscsi *vs, unsigned i, struct keel_vscsi_lun_info *out);

/** The LUN `target`/`lun` (any state but FREE), or NULL. Any context (racy snapshot). */
struct keel_vscsi_lun *keel_vscsi_find(struct keel_vscsi *vs, uint8_t target, uint16_t lun);

/** The block device of disk "sdN" of this adapter, or NULL. Any context (racy snapshot). */
struct keel_blkdev *keel_vscsi_disk(struct keel_vscsi *vs, const char *name);

/** The virtqueue statistics of request queue `queue`, or NULL. Racy snapshot; any context. */
const struct keel_vq_stats *keel_vscsi_vq_stats(const struct keel_vscsi *vs, unsigned queue);

/** Write the disk name for index `index` ("sd0", "sd1", ...) into `out`. Pure. */
void keel_vscsi_name(unsigned index, char *out, size_t size);

/**
 * The Keel error a virtio-scsi request response code stands for: OK 0, OVERRUN KEEL_EPROTO,
 * ABORTED KEEL_ECANCELED, BAD_TARGET KEEL_ENODEV, RESET KEEL_ECANCELED, BUSY KEEL_EBUSY,
 * TRANSPORT_FAILURE KEEL_EIO, TARGET_FAILURE KEEL_EIO, NEXUS_FAILURE KEEL_EIO, FAILURE KEEL_EIO,
 * anything else KEEL_EPROTO. Whether it is retried: keel_vscsi_response_retriable. Pure.
 */
int keel_vscsi_response_err(uint8_t response);

/** True for the responses resent on the same path: ABORTED (not by us), RESET, BUSY,
 *  TRANSPORT_FAILURE. Pure. */
bool keel_vscsi_response_retriable(uint8_t response);

/** The Keel error of a TMF response: COMPLETE / SUCCEEDED 0, REJECTED KEEL_ENOTSUP,
 *  INCORRECT_LUN / BAD_TARGET KEEL_ENODEV, BUSY KEEL_EBUSY, else KEEL_EIO. Pure. */
int keel_vscsi_tmf_err(uint8_t response);

/** "OK", "OVERRUN", ..., "INCORRECT_LUN"; "UNKNOWN" otherwise. Pure. */
const char *keel_vscsi_response_name(uint8_t response);

/** "free", "ready", "no medium", "not ready", "offline", "gone". Pure. */
const char *keel_vscsi_state_name(uint8_t state);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_VIRTIO_SCSI_H */
