/* SPDX-License-Identifier: MIT */
/*
 * keel/virtio_blk.h - virtio-blk (VIRTIO 1.2 section 5.2) as a Keel block device.
 *
 * Attach: probe the transport into vb->vdev (keel_virtio_pci_probe / keel_virtio_mmio_probe), then
 * keel_vblk_attach(vb, &opts). The disk is vb->blk, a struct keel_blkdev named "vd" + letters from
 * opts.index: 0 -> "vda", 25 -> "vdz", 26 -> "vdaa", ... (like Linux); register it, partition it
 * and do I/O through keel/blkdev.h.
 *
 * What the driver does for the block layer:
 *  - negotiates RO, BLK_SIZE, SEG_MAX, SIZE_MAX, TOPOLOGY, FLUSH, CONFIG_WCE, MQ, DISCARD,
 *    WRITE_ZEROES and SECURE_ERASE (each used only when the device offers it), plus the virtqueue
 *    features of keel/virtio.h;
 *  - maps READ/WRITE buffers through the HAL (zero-copy unless the HAL bounces), one descriptor per
 *    DMA segment, and splits a request into several virtio requests to honour seg_max, size_max,
 *    the discard / write-zeroes / secure-erase limits and the HAL's segment limits (discard and
 *    secure-erase split points on the device's alignment when it is a power of two);
 *  - addresses the device in 512-byte sectors whatever the logical block size (blk_size);
 *  - presets every status byte to 0xff and fails a request whose status the device never wrote;
 *  - emulates FUA with a flush after the write when the device has a write-back cache;
 *  - one virtqueue per block queue, each with one owner and no locks (MQ);
 *  - per-request timeouts: poll, then reset the queue (RING_RESET) or the device (no RING_RESET,
 *    a failed queue reset, or the same queue timing out again with nothing completed since its
 *    queue reset), fail the overdue requests with KEEL_ETIMEDOUT and resubmit the others (bounded
 *    by KEEL_CONFIG_VIRTIO_BLK_RETRIES);
 *  - DEVICE_NEEDS_RESET and broken queues (device protocol violations) trigger the same recovery;
 *    requests of a broken queue fail with KEEL_EPROTO;
 *  - configuration changes re-read capacity (resize) and the cache mode; new requests are checked
 *    against the new capacity.
 *
 * Thread safety: attach/detach/recover/set_writeback are init context and exclusive with every
 * other call. Each block queue has one owner (keel/blkdev.h). Device-wide recovery (a reset after a
 * timeout without RING_RESET, NEEDS_RESET, a broken queue) runs inside the poll of the queue that
 * found the problem and touches every queue: with several CPUs driving queues, run I/O on other
 * queues only while no recovery can happen, or negotiate RING_RESET. Interrupt handlers complete
 * requests themselves when the queue's owner is not inside a call on that queue (else the owner
 * does it before returning), so they must run on the owner's CPU or be serialised with it by the
 * HAL.
 */
#ifndef KEEL_VIRTIO_BLK_H
#define KEEL_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/blkdev.h>
#include <keel/keel_config.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits (5.2.3). */
#define KEEL_VIRTIO_BLK_F_SIZE_MAX     1
#define KEEL_VIRTIO_BLK_F_SEG_MAX      2
#define KEEL_VIRTIO_BLK_F_GEOMETRY     4
#define KEEL_VIRTIO_BLK_F_RO           5
#define KEEL_VIRTIO_BLK_F_BLK_SIZE     6
#define KEEL_VIRTIO_BLK_F_FLUSH        9
#define KEEL_VIRTIO_BLK_F_TOPOLOGY     10
#define KEEL_VIRTIO_BLK_F_CONFIG_WCE   11
#define KEEL_VIRTIO_BLK_F_MQ           12
#define KEEL_VIRTIO_BLK_F_DISCARD      13
#define KEEL_VIRTIO_BLK_F_WRITE_ZEROES 14
#define KEEL_VIRTIO_BLK_F_SECURE_ERASE 16

/* Request types (5.2.6) and status values. */
#define KEEL_VIRTIO_BLK_T_IN           0u
#define KEEL_VIRTIO_BLK_T_OUT          1u
#define KEEL_VIRTIO_BLK_T_FLUSH        4u
#define KEEL_VIRTIO_BLK_T_GET_ID       8u
#define KEEL_VIRTIO_BLK_T_DISCARD      11u
#define KEEL_VIRTIO_BLK_T_WRITE_ZEROES 13u
#define KEEL_VIRTIO_BLK_T_SECURE_ERASE 14u
#define KEEL_VIRTIO_BLK_S_OK           0u
#define KEEL_VIRTIO_BLK_S_IOERR        1u
#define KEEL_VIRTIO_BLK_S_UNSUPP       2u
#define KEEL_VIRTIO_BLK_ID_BYTES       20u

/* Configuration layout (struct virtio_blk_config). */
#define KEEL_VIRTIO_BLK_CFG_CAPACITY            0u
#define KEEL_VIRTIO_BLK_CFG_SIZE_MAX            8u
#define KEEL_VIRTIO_BLK_CFG_SEG_MAX             12u
#define KEEL_VIRTIO_BLK_CFG_BLK_SIZE            20u
#define KEEL_VIRTIO_BLK_CFG_PHYS_EXP            24u
#define KEEL_VIRTIO_BLK_CFG_ALIGN_OFF           25u
#define KEEL_VIRTIO_BLK_CFG_MIN_IO              26u
#define KEEL_VIRTIO_BLK_CFG_OPT_IO              28u
#define KEEL_VIRTIO_BLK_CFG_WRITEBACK           32u
#define KEEL_VIRTIO_BLK_CFG_NUM_QUEUES          34u
#define KEEL_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36u
#define KEEL_VIRTIO_BLK_CFG_MAX_DISCARD_SEG     40u
#define KEEL_VIRTIO_BLK_CFG_DISCARD_ALIGN       44u
#define KEEL_VIRTIO_BLK_CFG_MAX_WZ_SECTORS      48u
#define KEEL_VIRTIO_BLK_CFG_MAX_WZ_SEG          52u
#define KEEL_VIRTIO_BLK_CFG_WZ_MAY_UNMAP        56u
#define KEEL_VIRTIO_BLK_CFG_MAX_SE_SECTORS      60u
#define KEEL_VIRTIO_BLK_CFG_MAX_SE_SEG          64u
#define KEEL_VIRTIO_BLK_CFG_SE_ALIGN            68u

/** Bytes of per-slot DMA memory: header, discard segment, GET_ID buffer, status. */
#define KEEL_VBLK_SLOT_BYTES 64u

/** The configuration fields the driver uses, as last read (validated). */
struct keel_vblk_config {
    uint64_t capacity; /* 512-byte sectors */
    uint32_t size_max; /* 0: no limit */
    uint32_t seg_max;  /* 0: no limit from the device */
    uint32_t blk_size; /* logical block size in bytes */
    uint8_t physical_block_exp;
    uint8_t alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback;
    uint8_t write_zeroes_may_unmap;
    uint16_t num_queues;
    uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
    uint32_t max_secure_erase_sectors, max_secure_erase_seg, secure_erase_sector_alignment;
};

/** Attach options. Zero-initialised options mean: polled, all queues, device queue size. */
struct keel_vblk_opts {
    enum keel_virtio_irq_mode irq; /* KEEL_VIRTIO_IRQ_POLL (0) or AUTO / a specific mode */
    uint16_t max_queues;           /* 0: as many as the device offers (<= config) */
    uint16_t queue_size;           /* 0: the device's maximum (<= config) */
    bool no_packed;                /* never negotiate RING_PACKED */
    uint64_t refuse;               /* device feature bits (1 << KEEL_VIRTIO_BLK_F_*) not to take */
    uint8_t index;                 /* name: 0 -> "vda" */
};

/** Driver-level counters (the block layer keeps per-queue request statistics). */
struct keel_vblk_stats {
    uint64_t splits;           /* extra virtio requests made by splitting */
    uint64_t timeouts;         /* requests failed with KEEL_ETIMEDOUT */
    uint64_t queue_resets;     /* RING_RESET recoveries */
    uint64_t device_resets;    /* device-wide recoveries */
    uint64_t resubmits;        /* requests resubmitted after a reset */
    uint64_t protocol_errors;  /* requests failed with KEEL_EPROTO */
    uint64_t status_unwritten; /* status byte never written by the device */
    uint64_t resizes;          /* capacity changes seen */
    uint64_t fua_flushes;      /* flushes issued to emulate FUA */
    uint64_t escalations;      /* queue timeouts escalated to a device reset after a queue reset
                                  that brought nothing back */
};

/** One in-flight virtio request (a request, or one piece of a split one). */
struct keel_vblk_slot {
    struct keel_blk_req *req;
    void *cookie; /* DMA mapping of the caller's data, NULL when none */
    void *buf;
    uint32_t len;
    uint32_t blocks; /* logical blocks this piece covers */
    uint8_t dir;     /* enum keel_dma_dir of the mapping */
    uint8_t kind;    /* internal piece kind */
    uint16_t next_free;
    uint16_t index; /* its place in slots[] and in the slot DMA memory */
};

struct keel_vblk;

/** One request queue: a virtqueue, its slots and the requests waiting for them. */
struct keel_vblk_queue {
    struct keel_vblk *vb;
    uint16_t index;
    struct keel_vq vq;
    struct keel_dma_mem slot_mem; /* KEEL_VBLK_SLOT_BYTES per slot */
    struct keel_vblk_slot slots[KEEL_CONFIG_VIRTIO_BLK_SLOTS];
    uint16_t nslots;
    uint16_t free_slot;
    uint16_t used_slots;
    struct keel_blk_req *pend_head, *pend_tail; /* not fully issued, in order */
    struct keel_blk_req *fin_head, *fin_tail;   /* finished, done() not yet called */
    uint64_t next_deadline;                     /* earliest timeout among requests here */
    uint8_t depth;                              /* owner calls in progress (irq exclusion) */
    volatile bool irq_pending;                  /* the interrupt came while the owner was inside */
    uint8_t recover;                            /* recovery reason found by this queue */
    bool reset_unproven; /* a timeout reset this queue and nothing completed on it since: the
                            next timeout resets the device instead */
    /* scratch for building one request (owner only) */
    struct keel_dma_seg segs[KEEL_CONFIG_VIRTIO_MAX_SEGS];
    struct keel_vq_sg sg[KEEL_CONFIG_VIRTIO_MAX_SEGS];
};

/** A virtio-blk device. Caller-provided storage; keep it in place while attached. */
struct keel_vblk {
    struct keel_blkdev blk;      /* the disk: hand &vb->blk to the block layer */
    struct keel_virtio_dev vdev; /* probed by the caller before keel_vblk_attach */
    struct keel_vblk_opts opts;
    struct keel_vblk_config cfg;
    uint64_t wanted;        /* device features asked for */
    uint64_t negotiated;    /* features after the first negotiation */
    uint8_t lb_shift;       /* log2(logical block / 512) */
    uint8_t lb_bytes_shift; /* log2(logical block) */
    uint16_t nq;
    uint16_t seg_limit;        /* data descriptors per virtio request */
    uint32_t max_chunk_blocks; /* logical blocks per READ/WRITE piece */
    uint64_t cap_blocks;       /* capacity in logical blocks (what requests are checked against) */
    bool attached;
    bool dead; /* the device could not be recovered: requests fail, ENODEV */
    bool in_recovery;
    struct keel_vblk_queue q[KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES];
    struct keel_vblk_stats stats;
};

/**
 * Bring up the virtio-blk device already probed into vb->vdev: negotiate, read and validate the
 * configuration, create the queues, attach interrupts (opts->irq), set DRIVER_OK and fill vb->blk.
 * KEEL_ENODEV when vb->vdev is not a block device, KEEL_ENOTSUP when features are refused, or an
 * allocation / transport error (the device is then reset and nothing stays allocated).
 * Init context.
 */
int keel_vblk_attach(struct keel_vblk *vb, const struct keel_vblk_opts *opts);

/**
 * Reset the device, complete every outstanding request with KEEL_ECANCELED (after the reset, so the
 * device can no longer write their buffers), detach interrupts and free the DMA memory. Init
 * context.
 */
void keel_vblk_detach(struct keel_vblk *vb);

/**
 * Device-wide recovery: reset, complete or resubmit every request (see the file comment), and bring
 * the device back. Also the block layer's recover hook. Init/thread context, exclusive with all
 * queues' owners.
 */
int keel_vblk_recover(struct keel_vblk *vb);

/**
 * Service device events without I/O: configuration changes (capacity, cache mode) and
 * DEVICE_NEEDS_RESET. Returns 0 or the recovery error. Thread context of queue 0's owner.
 */
int keel_vblk_service(struct keel_vblk *vb);

/**
 * Read the device serial (VIRTIO_BLK_T_GET_ID): up to 20 bytes, NUL-terminated in `out` (size
 * >= 21). KEEL_ENOTSUP when the device answers UNSUPP. Thread context of queue 0's owner (polls).
 */
int keel_vblk_get_id(struct keel_vblk *vb, char *out, size_t size, uint32_t timeout_us);

/**
 * Secure-erase [lba, lba + count) (VIRTIO_BLK_T_SECURE_ERASE, split by the device's limits).
 * KEEL_ENOTSUP unless SECURE_ERASE was negotiated; KEEL_EROFS on a read-only device; KEEL_ERANGE
 * beyond capacity. Thread context of `queue`'s owner (polls).
 */
int keel_vblk_secure_erase(struct keel_vblk *vb, unsigned queue, uint64_t lba, uint32_t count,
                           uint32_t timeout_us);

/**
 * Switch the device cache to write-back (true) or write-through (false) through the writeback
 * config field. KEEL_ENOTSUP unless CONFIG_WCE was negotiated. Init context.
 */
int keel_vblk_set_writeback(struct keel_vblk *vb, bool writeback);

/** The virtqueue statistics of block queue `queue`, or NULL. Racy snapshot; any context. */
const struct keel_vq_stats *keel_vblk_vq_stats(const struct keel_vblk *vb, unsigned queue);

/** Write the name for device index `index` ("vda", ..., "vdz", "vdaa", ...) into `out`. Pure. */
void keel_vblk_name(unsigned index, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_VIRTIO_BLK_H */
