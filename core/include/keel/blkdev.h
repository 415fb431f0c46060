/* SPDX-License-Identifier: MIT */
/*
 * keel/blkdev.h - the block-device interface every Keel driver exposes.
 *
 * A keel_blkdev is a disk (an NVMe namespace, a virtio-blk device, a SCSI LUN) or a partition of
 * one. I/O is asynchronous: fill a caller-owned keel_blk_req, keel_blk_submit() it, and its done
 * callback runs exactly once, from keel_blk_poll() on that queue or from the queue's interrupt
 * handler (which may fire before keel_blk_submit returns), or from the driver's recover hook.
 * Blocking helpers (keel_blk_read & co.) are layered on top with a timeout.
 *
 * The layer checks every request before a driver sees it: operation supported, access mode (a
 * read-only device never receives a write, trim or write-zeroes), LBA + count overflow and the end
 * of the device (and of every parent, for partitions), queue index, buffer present, transfer size.
 *
 * Thread safety (one rule for the whole interface): each queue of a device has one owner. Calls
 * that name a queue (submit, poll, the blocking helpers) must not run concurrently for the same
 * queue; different queues may be driven from different CPUs without locks. Info and stats reads are
 * racy snapshots. keel_blkdev_set_access is init context.
 */
#ifndef KEEL_BLKDEV_H
#define KEEL_BLKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/keel_config.h>

#ifdef __cplusplus
extern "C" {
#endif

enum keel_blk_op {
    KEEL_BLK_OP_READ = 0,
    KEEL_BLK_OP_WRITE = 1,
    KEEL_BLK_OP_FLUSH = 2,        /* make completed writes durable (volatile cache) */
    KEEL_BLK_OP_TRIM = 3,         /* discard / deallocate [lba, lba + count) */
    KEEL_BLK_OP_WRITE_ZEROES = 4, /* zero [lba, lba + count) without a data buffer */
    KEEL_BLK_OP_COUNT = 5,
};

/* Request flags. */
#define KEEL_BLK_REQ_FUA   0x01u /* WRITE: durable before completion (force unit access) */
#define KEEL_BLK_REQ_UNMAP 0x02u /* WRITE_ZEROES: the device may deallocate the range */

/* Device capability flags (keel_blkdev_info.flags). */
#define KEEL_BLK_F_READ_ONLY    0x01u /* the medium or driver is read-only */
#define KEEL_BLK_F_FLUSH        0x02u /* has a volatile cache: FLUSH does something */
#define KEEL_BLK_F_TRIM         0x04u /* TRIM supported */
#define KEEL_BLK_F_WRITE_ZEROES 0x08u /* WRITE_ZEROES supported */
#define KEEL_BLK_F_FUA          0x10u /* KEEL_BLK_REQ_FUA honoured natively */
#define KEEL_BLK_F_REMOVABLE    0x20u

/* Access modes (keel_blkdev.access). */
enum keel_blk_access {
    KEEL_BLK_ACCESS_RW = 0,
    KEEL_BLK_ACCESS_RO = 1,
};

struct keel_blk_req;
struct keel_blkdev;

/** Completion callback: runs once per submitted request, with req->status set. */
typedef void (*keel_blk_done_fn)(struct keel_blk_req *req);

/**
 * A request. The caller owns the storage; from a successful submit until done() runs, Keel owns it
 * and its buffer (do not touch or free either).
 */
struct keel_blk_req {
    /* ---- set by the caller ---- */
    uint8_t op;          /* enum keel_blk_op */
    uint8_t flags;       /* KEEL_BLK_REQ_* */
    uint16_t queue;      /* 0 .. info.queue_count - 1, and < KEEL_CONFIG_BLK_MAX_QUEUES */
    uint32_t count;      /* sectors (not used by FLUSH) */
    uint64_t lba;        /* first sector, relative to the device submitted to */
    void *buf;           /* READ/WRITE: count * sector_size bytes, any alignment; else NULL */
    uint32_t timeout_us; /* 0: KEEL_CONFIG_BLK_DEFAULT_TIMEOUT_US */
    keel_blk_done_fn done;
    void *user; /* for the caller */

    /* ---- set by Keel before done() ---- */
    int status; /* 0 or KEEL_E* */

    /* ---- Keel-private while in flight ---- */
    struct keel_blkdev *dev; /* device submitted to (stats) */
    uint64_t dev_lba;        /* absolute LBA on the driver's device (partitions resolved) */
    uint64_t start_us;       /* submit time, for latency and timeouts */
    struct keel_blk_req *next;
    uintptr_t priv[KEEL_CONFIG_BLK_REQ_PRIV_WORDS]; /* driver-private */
};

/** Static facts about a device. */
struct keel_blkdev_info {
    char name[KEEL_CONFIG_BLK_NAME_MAX]; /* "nvme0n1", "vda", "sd0", "nvme0n1p1" */
    const char *driver;                  /* "nvme", "virtio-blk", "virtio-scsi", "part", ... */
    uint32_t sector_size;                /* bytes per logical block (power of two, >= 512) */
    uint64_t sector_count;
    uint32_t max_transfer; /* most sectors one READ/WRITE request may carry (drivers split below) */
    uint32_t max_discard;  /* most sectors one TRIM/WRITE_ZEROES may carry; 0: max_transfer */
    uint16_t queue_count;  /* I/O queues: req->queue 0 .. queue_count-1 (< BLK_MAX_QUEUES) */
    uint32_t flags;        /* KEEL_BLK_F_* */
};

/** Per-queue statistics kept by the block layer. */
struct keel_blk_qstats {
    uint64_t requests[KEEL_BLK_OP_COUNT]; /* completed, by operation */
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint64_t errors;   /* completed with status != 0 */
    uint64_t retries;  /* driver-level resubmissions */
    uint64_t timeouts; /* completed with KEEL_ETIMEDOUT */
    uint32_t in_flight;
    uint32_t in_flight_max;
    uint64_t latency_hist[KEEL_CONFIG_BLK_LAT_BUCKETS]; /* [i]: latency < 2^i us (log2 buckets) */
};

/** What a driver provides. Called by the layer only after its checks passed. */
struct keel_blkdev_ops {
    /**
     * Queue the request (req->dev_lba is the absolute LBA). Return 0 when accepted (done() will run
     * exactly once, later, via keel_blk_complete) or a negative code when refused (done() will not
     * run): KEEL_ENOSPC when the queue is full (back-pressure: poll, then retry).
     */
    int (*submit)(struct keel_blkdev *dev, struct keel_blk_req *req);
    /**
     * Reap up to `budget` completions on `queue` (0: no limit, everything the device has completed
     * so far; the blocking helpers pass 0), check timeouts; return completions or < 0.
     */
    int (*poll)(struct keel_blkdev *dev, unsigned queue, unsigned budget);
    /**
     * Last resort when a request overstays far beyond its timeout: quiesce the device and complete
     * every in-flight request (ETIMEDOUT / ECANCELED) once the device can no longer write their
     * buffers. Init/thread context. Optional for asynchronous use, required by the blocking helpers
     * (they refuse a device without it with KEEL_ENOTSUP before submitting anything): their request
     * lives on the helper's stack, so it must be finished before the helper may return. It may
     * touch every queue of the device: integrations that drive queues from several CPUs must
     * serialise the blocking helpers' recovery with those queues' owners.
     */
    int (*recover)(struct keel_blkdev *dev);
};

/**
 * Optional submission batching a driver offers (keel_blk_plug / keel_blk_unplug). Kept apart from
 * keel_blkdev_ops so drivers without it need no change: a driver that has it points
 * keel_blkdev.batch here after keel_blkdev_init. Called by the layer only for a valid queue.
 */
struct keel_blkdev_batch_ops {
    /**
     * Open a submission batch on `queue`: submits still queue their requests, but the driver may
     * hold back the doorbell / notification until unplug. The driver bounds what it holds back (a
     * full queue, its own threshold and a poll of the queue publish the batch so far). Owner
     * context of `queue`.
     */
    void (*plug)(struct keel_blkdev *dev, unsigned queue);
    /** Close the batch: publish what it holds and notify the device at most once. Owner context. */
    void (*unplug)(struct keel_blkdev *dev, unsigned queue);
};

/** A block device, embedded in or allocated by the caller; drivers fill it with keel_blkdev_init.
 */
struct keel_blkdev {
    struct keel_blkdev_info info;
    const struct keel_blkdev_ops *ops; /* NULL for partitions: the layer forwards to the parent */
    void *drv;                         /* driver instance */
    const struct keel_hal *hal;
    struct keel_blkdev *parent;                /* partitions: the disk */
    uint64_t start_lba;                        /* partitions: first sector on the parent */
    uint8_t access;                            /* enum keel_blk_access */
    bool gone;                                 /* removed: submits fail with KEEL_ENODEV */
    const struct keel_blkdev_batch_ops *batch; /* NULL: no batching (set after keel_blkdev_init) */
    struct keel_blk_qstats stats[KEEL_CONFIG_BLK_MAX_QUEUES];
};

/**
 * Driver side: initialise `dev` (zeroes stats, access RW or RO per info flags). Init context.
 */
void keel_blkdev_init(struct keel_blkdev *dev, const struct keel_hal *hal,
                      const struct keel_blkdev_ops *ops, void *drv,
                      const struct keel_blkdev_info *info);

/**
 * Driver side: finish a request. Updates statistics and calls req->done. Called from the owning
 * queue's poll or interrupt path.
 */
void keel_blk_complete(struct keel_blk_req *req, int status);

/** Driver side: count a resubmission of `req` (retriable error). */
void keel_blk_note_retry(struct keel_blk_req *req);

/**
 * Set the access mode. Asking RW on a KEEL_BLK_F_READ_ONLY device returns KEEL_EROFS. Partitions
 * inherit their parent's read-only state at check time, whatever their own mode.
 */
int keel_blkdev_set_access(struct keel_blkdev *dev, enum keel_blk_access mode);

/** Mark a device removed: in-flight requests are the driver's to fail; new ones get ENODEV. */
void keel_blkdev_mark_gone(struct keel_blkdev *dev);

/**
 * Check `req` against `dev` as keel_blk_submit would, without submitting or changing `req`; on
 * success set *root to the device whose driver serves it and *abs_lba to the absolute LBA on it.
 * For drivers and tests.
 */
int keel_blk_check(struct keel_blkdev *dev, const struct keel_blk_req *req,
                   struct keel_blkdev **root, uint64_t *abs_lba);

/** Submit asynchronously. 0: done() will run once. < 0: refused, done() will not run. */
int keel_blk_submit(struct keel_blkdev *dev, struct keel_blk_req *req);

/**
 * Reap up to `budget` completions on `queue` (0: no limit; done callbacks run inside). Returns how
 * many, or < 0.
 */
int keel_blk_poll(struct keel_blkdev *dev, unsigned queue, unsigned budget);

/**
 * Submission batching: between keel_blk_plug and keel_blk_unplug on `queue`, keel_blk_submit
 * queues requests without notifying the device for each; keel_blk_unplug publishes them and rings
 * at most one doorbell (and none when the device's notification suppression says it needs none).
 * Same use on every driver; a driver without batching ignores both calls (each submit notifies).
 * A batch left open is bounded by the driver: a full queue, the driver's own threshold (virtio:
 * KEEL_CONFIG_VIRTIO_PLUG_MAX buffers) and keel_blk_poll on the queue publish what it holds so
 * far, the batch staying open. Completion callbacks may run inside keel_blk_unplug. Returns 0, or
 * KEEL_EINVAL for a bad device or queue. Thread safety: only the owner of `queue`; owner context,
 * never blocks.
 */
int keel_blk_plug(struct keel_blkdev *dev, unsigned queue);
int keel_blk_unplug(struct keel_blkdev *dev, unsigned queue);

/*
 * Blocking helpers: split into max_transfer chunks, submit on `queue`, poll until done.
 * `timeout_us` bounds each chunk (0: default). Queue full is retried within the timeout. Return 0
 * or KEEL_E*. Thread/init context (they poll and delay).
 */
int keel_blk_read(struct keel_blkdev *dev, unsigned queue, uint64_t lba, uint32_t count, void *buf,
                  uint32_t timeout_us);
int keel_blk_write(struct keel_blkdev *dev, unsigned queue, uint64_t lba, uint32_t count,
                   const void *buf, uint32_t timeout_us);
int keel_blk_flush(struct keel_blkdev *dev, unsigned queue, uint32_t timeout_us);
int keel_blk_trim(struct keel_blkdev *dev, unsigned queue, uint64_t lba, uint32_t count,
                  uint32_t timeout_us);
int keel_blk_write_zeroes(struct keel_blkdev *dev, unsigned queue, uint64_t lba, uint32_t count,
                          uint32_t timeout_us);

/**
 * Run one prepared request synchronously (any op); used by the helpers above and by drivers. It
 * takes over req->done and req->user. Thread/init context, as the helpers above.
 */
int keel_blk_execute(struct keel_blkdev *dev, struct keel_blk_req *req);

/** Index of the latency bucket for `us` (exposed for tests). */
unsigned keel_blk_lat_bucket(uint64_t us);

#ifdef __cplusplus
}
#endif

#endif
