/* SPDX-License-Identifier: MIT */
/*
 * keel/virtqueue.h - one virtqueue, split (2.7) or packed (2.8), behind one interface.
 *
 * The driver keeps all of its own state privately (the "shadow"): for every descriptor it wrote,
 * its address, length, flags and link, and for every buffer in flight the token, how many ring
 * slots it holds, how many bytes the device may write, and its indirect table. Ring memory the
 * device can write is read only for the two things the protocol says come from the device (used id
 * + length, and the suppression fields), and both are validated: an id out of range, an id that is
 * not the head of a chain in flight (a free head, one already used, or one added but not yet
 * published by a kick), a used length beyond the chain's device-writable bytes, a used
 * index that runs ahead of what was made available, or a descriptor rewritten behind the driver's
 * back (split rings) mark the queue broken. A broken queue accepts nothing and returns KEEL_EPROTO
 * until it is reset; its in-flight tokens are given back by keel_vq_detach once the device has been
 * reset.
 *
 * Use:
 *   keel_vq_add(vq, sg, n_out, n_in, token)   one buffer (chain) per call, any number per kick
 *   keel_vq_kick(vq)                          publish + notify if the device asked for it
 *   keel_vq_plug / keel_vq_kick_batch / keel_vq_unplug   one kick per batch of adds
 *   keel_vq_get(vq, &token, &len)             reap one used buffer (1), none (0), or < 0
 *   keel_vq_enable_irq / keel_vq_disable_irq  interrupt (used buffer notification) suppression
 *
 * Thread safety: a queue has exactly one owner; every call on one queue must be serialised by the
 * caller (no locks inside). The interrupt handler only calls the queue's callback, which the device
 * driver writes to respect that rule. Stats reads are racy snapshots.
 */
#ifndef KEEL_VIRTQUEUE_H
#define KEEL_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/keel_config.h>

#ifdef __cplusplus
extern "C" {
#endif

struct keel_virtio_dev;
struct keel_vq;

/* Descriptor flags (2.7.5, 2.8). */
#define KEEL_VIRTQ_DESC_F_NEXT     1u
#define KEEL_VIRTQ_DESC_F_WRITE    2u
#define KEEL_VIRTQ_DESC_F_INDIRECT 4u
#define KEEL_VIRTQ_DESC_F_AVAIL    (1u << 7)
#define KEEL_VIRTQ_DESC_F_USED     (1u << 15)
/* Split ring suppression flags (2.7.7, 2.7.10). */
#define KEEL_VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define KEEL_VIRTQ_USED_F_NO_NOTIFY     1u
/* Packed ring event suppression (2.8.10). */
#define KEEL_VIRTQ_EVENT_F_ENABLE  0u
#define KEEL_VIRTQ_EVENT_F_DISABLE 1u
#define KEEL_VIRTQ_EVENT_F_DESC    2u

/** Legacy ring layout alignment of the used ring (2.7.2 legacy note; also MMIO v1 QueueAlign). */
#define KEEL_VIRTQ_LEGACY_ALIGN 4096u

/** One piece of a buffer: a bus address and a length. */
struct keel_vq_sg {
    keel_bus_addr_t addr;
    uint32_t len;
};

/** Called from the interrupt handler when this queue's device signalled used buffers. */
typedef void (*keel_vq_callback)(struct keel_vq *vq, void *arg);

/** Per-queue statistics. */
struct keel_vq_stats {
    uint64_t buffers;       /* buffers (chains) added */
    uint64_t completions;   /* used buffers reaped */
    uint64_t bytes_out;     /* device-readable bytes added */
    uint64_t bytes_in;      /* used lengths reported */
    uint64_t kicks;         /* keel_vq_kick calls with something to publish */
    uint64_t notifications; /* notifications sent to the device */
    uint64_t suppressed;    /* kicks the device's suppression made unnecessary */
    uint64_t interrupts;    /* used buffer notifications received */
    uint64_t indirect;      /* buffers that used an indirect table */
    uint64_t full;          /* adds refused for lack of descriptors */
    uint32_t occupancy;     /* descriptors in use now */
    uint32_t occupancy_max; /* high-water mark */
    uint32_t violations;    /* device protocol violations seen */
};

/** What the private shadow remembers about one descriptor the driver wrote. */
struct keel_vq_shadow {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

/** What the driver remembers about one buffer in flight, keyed by head (split) or id (packed). */
struct keel_vq_inflight {
    void *token;    /* NULL: not in flight */
    uint32_t wlen;  /* device-writable bytes: the bound for the used length */
    uint16_t ndesc; /* ring descriptors held (1 for an indirect buffer) */
    uint16_t ind;   /* indirect table index, or KEEL_VQ_NO_IND */
    uint16_t last;  /* split: last descriptor of the chain */
    uint16_t nsg;   /* buffers in the chain (direct or indirect) */
    uint16_t pos;   /* split: available ring index the head went to (published once the kick
                       moved avail->idx past it) */
};
#define KEEL_VQ_NO_IND 0xffffu

/** Why a queue is broken (first violation seen). */
enum keel_vq_violation {
    KEEL_VQ_OK = 0,
    KEEL_VQ_BAD_ID = 1,       /* used id out of range */
    KEEL_VQ_NOT_HEAD = 2,     /* used id is not a chain head in flight (free, already used, or
                                 not yet made available) */
    KEEL_VQ_BAD_LEN = 3,      /* used length beyond the device-writable bytes */
    KEEL_VQ_BAD_IDX = 4,      /* used index moved further than what is in flight */
    KEEL_VQ_DESC_CHANGED = 5, /* a descriptor in flight was rewritten by the device */
    KEEL_VQ_DEVICE_RESET = 6  /* marked by the device layer (reset, NEEDS_RESET) */
};

/** One virtqueue. Caller-provided storage (embedded in the device driver's instance). */
struct keel_vq {
    struct keel_virtio_dev *dev;
    const struct keel_hal *hal;
    uint16_t index;
    uint16_t size;     /* entries in use (<= KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX) */
    uint16_t num_free; /* free ring descriptors */
    uint16_t vector;   /* MSI-X vector or KEEL_VIRTIO_MSI_NO_VECTOR */
    bool packed;
    bool event_idx;
    bool use_indirect;
    bool native_endian;  /* legacy interface: ring fields in CPU order */
    bool lenient_len;    /* legacy: used length is advisory (clamped, not a violation) */
    bool len_counts_out; /* the used length may also count the device-readable bytes after the
                            first segment (QEMU's virtio-scsi for data-out commands) */
    bool irq_enabled;
    bool ready;          /* set up and enabled at the device */
    uint8_t broken;      /* enum keel_vq_violation */
    uint32_t notify_off; /* transport-specific notify offset */

    /* ring memory (one coherent allocation, legacy-compatible layout for split rings) */
    struct keel_dma_mem ring;
    struct keel_dma_mem ind_pool;
    keel_bus_addr_t desc_bus, driver_bus, device_bus;
    uint8_t *desc;   /* descriptor table */
    uint8_t *driver; /* split: avail ring; packed: driver event suppression */
    uint8_t *device; /* split: used ring; packed: device event suppression */

    /* split ring state */
    uint16_t free_head;
    uint16_t avail_idx;   /* next avail index (shadow of what the driver wrote) */
    uint16_t kicked_idx;  /* avail index at the last notification decision */
    uint16_t last_used;   /* next used index to reap */
    uint16_t avail_flags; /* shadow of avail->flags */

    /* Buffers completed while the device had more completions visible: their ids (split: head
     * descriptors) are held back from reuse until those are consumed too, so that a repeated id
     * among them can never complete a buffer added meanwhile. Linked like free ones. */
    uint16_t held_first; /* split: first held descriptor; packed: first held id */
    uint16_t held_last;  /* the end of that list */
    uint16_t held_ndesc; /* ring descriptors held (0: none) */

    /* packed ring state */
    uint16_t next_avail;
    uint16_t next_used;
    uint16_t free_id;
    uint16_t added; /* descriptors made available since the last kick decision */
    bool avail_wrap;
    bool used_wrap;
    uint16_t event_flags; /* shadow of the driver event suppression flags */

    /* shadow state */
    struct keel_vq_shadow shadow[KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX];
    struct keel_vq_inflight inflight[KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX];
#if KEEL_CONFIG_VIRTIO_INDIRECT_POOL > 0
    uint16_t ind_free[KEEL_CONFIG_VIRTIO_INDIRECT_POOL];
#endif
    uint16_t ind_top;
    uint16_t ind_count;
    uint16_t in_flight; /* buffers in flight */
    uint16_t unkicked;  /* buffers added since the last kick decision */
    bool plugged;       /* submission batch open: keel_vq_kick_batch holds notifications back */

    keel_vq_callback callback;
    void *cb_arg;
    struct keel_vq_stats stats;
};

/**
 * Set up queue `index` of `dev`: read its maximum size, clamp it to `size_cap` (0: no cap beyond
 * KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX; split rings round down to a power of two), allocate the ring
 * and indirect pool through the HAL (only here, never during I/O), program it through the transport
 * and enable it. The ring format follows the negotiated features (RING_PACKED). `cb` runs from the
 * queue's interrupt (may be NULL for polled use). KEEL_ENOENT when the queue does not exist,
 * KEEL_ENOMEM, or a transport error. Init context (between keel_virtio_begin and driver_ok).
 */
int keel_vq_create(struct keel_vq *vq, struct keel_virtio_dev *dev, uint16_t index,
                   uint16_t size_cap, keel_vq_callback cb, void *cb_arg);

/** Free the ring memory of a queue (the device must be reset first). Init context. */
void keel_vq_destroy(struct keel_vq *vq);

/**
 * Re-initialise the ring memory and shadow state (after a device reset or a queue reset) and
 * program the queue again. In-flight tokens must have been taken back with keel_vq_detach first.
 * Init context, or the owner's context for a per-queue reset.
 */
int keel_vq_restart(struct keel_vq *vq);

/**
 * Add one buffer: `n_out` device-readable pieces followed by `n_in` device-writable pieces, as one
 * chain (or one indirect table when that is possible and saves ring space). `token` (non-NULL)
 * comes back from keel_vq_get. KEEL_ENOSPC when the ring lacks descriptors (retry after reaping),
 * KEEL_EINVAL for an empty or too long chain, KEEL_EPROTO when the queue is broken. The buffer is
 * not visible to the device until keel_vq_kick. Owner context.
 */
int keel_vq_add(struct keel_vq *vq, const struct keel_vq_sg *sg, unsigned n_out, unsigned n_in,
                void *token);

/**
 * Publish every buffer added since the last kick and decide whether the device wants a
 * notification (event index, or the NO_NOTIFY / event suppression flags), with the spec's full
 * barrier between publishing and reading the device's suppression field. Returns true when the
 * caller must call keel_vq_notify. Owner context.
 */
bool keel_vq_kick_prepare(struct keel_vq *vq);

/** Send the available buffer notification. Any context. */
void keel_vq_notify(struct keel_vq *vq);

/** keel_vq_kick_prepare then keel_vq_notify when needed. Returns true when notified. */
bool keel_vq_kick(struct keel_vq *vq);

/**
 * Submission batching. keel_vq_plug opens a batch: keel_vq_kick_batch then holds the publication
 * and the notification back until keel_vq_unplug, or until KEEL_CONFIG_VIRTIO_PLUG_MAX buffers are
 * held (the bound for a batch left open). keel_vq_kick stays unconditional: a driver calls it
 * whenever it must not wait (ring full, poll, interrupt, recovery). keel_vq_unplug closes the
 * batch and kicks once (true when it notified). Owner context.
 */
void keel_vq_plug(struct keel_vq *vq);
bool keel_vq_unplug(struct keel_vq *vq);
/**
 * The submit path's kick: nothing when no buffer waits for publication; otherwise keel_vq_kick
 * unless a batch is open, holds fewer than KEEL_CONFIG_VIRTIO_PLUG_MAX buffers and the caller is
 * not `stuck` (out of ring or slot space: the device must see the batch to make room). Inline:
 * the common unplugged case is one test on the hot path. Owner context.
 */
static inline bool keel_vq_kick_batch(struct keel_vq *vq, bool stuck)
{
    if (vq->unkicked == 0u || (vq->plugged && !stuck && vq->unkicked < KEEL_CONFIG_VIRTIO_PLUG_MAX))
        return false;
    return keel_vq_kick(vq);
}

/**
 * Reap one used buffer: 1 with *token and *len (validated) set, 0 when none is pending, KEEL_EPROTO
 * when the queue is (or just became) broken. Owner context.
 */
int keel_vq_get(struct keel_vq *vq, void **token, uint32_t *len);

/** True when the device has used buffers waiting (a cheap peek). Owner context. */
bool keel_vq_pending(struct keel_vq *vq);

/**
 * Ask for used buffer notifications again. Returns false when used buffers arrived meanwhile (the
 * caller should reap again before waiting). Owner context.
 */
bool keel_vq_enable_irq(struct keel_vq *vq);

/** Suppress used buffer notifications (polled operation). Owner context. */
void keel_vq_disable_irq(struct keel_vq *vq);

/**
 * Take back one in-flight token without the device (after the device or the queue was reset, or the
 * queue is broken and being torn down): 1 with *token, 0 when none is left. Never reads ring
 * memory. Owner or init context.
 */
int keel_vq_detach(struct keel_vq *vq, void **token);

/** Mark the queue broken (device layer: reset pending). Owner context. */
void keel_vq_mark_broken(struct keel_vq *vq, enum keel_vq_violation why);

/**
 * Per-queue reset (VIRTIO_F_RING_RESET): the device stops using the queue, which then is not ready
 * until keel_vq_restart. Completion is the queue reading disabled; both the VIRTIO 1.2 (queue_reset
 * reads 1 once done) and 1.3 (reads 0 once done) polarities are accepted. KEEL_ENOTSUP when not
 * negotiated / not supported by the transport, KEEL_ETIMEDOUT when the device does not finish the
 * reset (bounded wait). Owner context (blocks briefly).
 */
int keel_vq_reset(struct keel_vq *vq);

/**
 * The event-index notification rule of 2.7.7.2 / 2.7.10: true when `event_idx` lies in the
 * half-open window [old, new) of indices just published, modulo 2^16. Pure.
 */
static inline bool keel_vq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1u) < (uint16_t)(new_idx - old_idx);
}

/** Bytes of DMA memory a ring of `size` entries needs (for sizing documentation and tests). Pure.
 */
size_t keel_vq_ring_bytes(uint16_t size, bool packed);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_VIRTQUEUE_H */
