/* SPDX-License-Identifier: MIT */
/*
 * vmodel_internal.h - state shared by the virtio device model's files (not for tests).
 *
 * Layering: transports (vmodel_transport_*.c) decode register accesses and call the core
 * (vmodel_core.c: status, features, config space, interrupts, queue lifecycle); the core asks the
 * ring consumers (vmodel_ring_split.c, vmodel_ring_packed.c) to pop chains and push used elements;
 * vmodel_queue.c owns processing passes, completion batching and notification suppression;
 * vmodel_faults.c applies injected device misbehaviour at the points the rings reach.
 */
#ifndef VMODEL_INTERNAL_H
#define VMODEL_INTERNAL_H

#include <string.h>

#include "virtio_model.h"

/* Split ring (2.7) */
#define VIRTQ_DESC_F_NEXT          1u
#define VIRTQ_DESC_F_WRITE         2u
#define VIRTQ_DESC_F_INDIRECT      4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY     1u
/* Packed ring (2.8) */
#define VIRTQ_DESC_F_AVAIL       (1u << 7)
#define VIRTQ_DESC_F_USED        (1u << 15)
#define RING_EVENT_FLAGS_ENABLE  0u
#define RING_EVENT_FLAGS_DISABLE 1u
#define RING_EVENT_FLAGS_DESC    2u

enum vm_iface { VM_IFACE_NONE = 0, VM_IFACE_MODERN, VM_IFACE_LEGACY };

/** A chain plus what only the model needs about it (pub first: the backend sees &pub). */
struct vm_chain {
    struct vmodel_chain pub;
    bool has_second;
    uint16_t second_idx; /* split: table index of the chain's second descriptor */
};

static inline struct vm_chain *vm_chain_of(struct vmodel_chain *c)
{
    return (struct vm_chain *)c;
}

struct vm_inflight {
    struct vmodel_chain *c;
    bool held; /* never to be completed (stall, needs-reset, wrong-id fault) */
};

struct vm_vq {
    struct vmodel *m;
    unsigned idx;
    uint16_t size_max;
    uint16_t size;
    bool ready;       /* queue_enable / QueueReady / QueuePFN != 0 */
    bool reset_done;  /* queue_reset reads 1 until re-enabled */
    bool packed;      /* fixed at enable from the negotiated features */
    bool event_idx;   /* ditto */
    bool indirect_ok; /* ditto */
    uint16_t msix_vector;
    uint64_t desc, driver, device; /* bus addresses (modern) or derived from the PFN (legacy) */
    uint32_t pfn;
    uint32_t align; /* MMIO v1 QueueAlign */

    /* split device state */
    uint16_t last_avail;      /* next avail ring index the device reads */
    uint16_t used_idx;        /* next used ring index the device writes */
    uint16_t avail_at_notify; /* avail->idx seen at the last notification */
    uint16_t avail_event_pub; /* avail_event the device last published */
    bool no_notify_pub;       /* VIRTQ_USED_F_NO_NOTIFY currently published */

    /* packed device state */
    uint16_t next_avail, next_used;
    bool avail_wrap, used_wrap;
    uint16_t dev_event_flags_pub; /* RING_EVENT_FLAGS_* published in the device area */
    uint32_t slots_since_signal;
    unsigned notified_pending; /* chains pending when the driver last notified */

    /* used-buffer notification (interrupt) decision, 2.7.10 / 2.8.10 */
    uint16_t signalled_used;
    bool signalled_valid;

    /* processing */
    int timer; /* DEFERRED: pending sim timer, or -1 */
    bool in_pass;
    uint32_t epoch;        /* bumped by every (queue) reset: a pass that sees it move stops */
    uint16_t pop_slot;     /* packed: first ring slot of the chain just popped */
    uint64_t pop_ind_addr; /* indirect table of the chain just popped (0: none) */
    uint32_t pop_ind_len;
    struct vm_inflight *inflight; /* by id, size entries */
    struct vmodel_chain **done;   /* completions collected during a pass */
    unsigned ndone;
    struct vmodel_seg *scratch; /* parse buffer: size segments */
    uint16_t *scratch_idx;      /* split: table indices of the chain's descriptors */
};

struct vmodel {
    struct sim *s;
    struct vmodel_cfg cfg;
    const struct vmodel_device_ops *dev;
    void *dev_ctx;
    unsigned nq;
    struct vm_vq vq[VMODEL_MAX_QUEUES];

    uint8_t status;
    uint64_t offered;
    uint64_t driver_features; /* as written so far */
    uint64_t negotiated;      /* valid once features_done */
    bool features_done;
    uint32_t dfsel, gfsel;
    bool broken;
    bool gone;
    enum vm_iface iface;
    uint32_t generation;
    uint64_t gen_fault_ctr;
    uint8_t isr;
    uint16_t config_vector;
    uint16_t queue_sel;

    /* PCI */
    struct sim_pci_fn *fn;
    struct sim_msix msix;
    bool has_msix;
    unsigned nvec;
    uint32_t notify_len;
    /* MMIO */
    uint32_t int_status;
    uint32_t guest_page_size;
    uint32_t shm_sel;

    struct vmodel_stats st;
};

/* ---- vmodel_core.c -------------------------------------------------------------------------- */
/** Record a driver-requirement breach (strict mode gates the protocol checks; see callers). */
void vm_driver_error(struct vmodel *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** A driver error that a real device answers by stopping (QEMU virtio_error). */
void vm_device_error(struct vmodel *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool vm_is_legacy(const struct vmodel *m);
/** Stop processing every queue until a device reset (no status change, no interrupt). */
void vm_stop_silently(struct vmodel *m);
bool vm_has(const struct vmodel *m, uint64_t feature); /* negotiated */
void vm_status_write(struct vmodel *m, uint8_t val);
uint8_t vm_status_read(struct vmodel *m);
uint32_t vm_device_features_read(struct vmodel *m, uint32_t sel);
void vm_driver_features_write(struct vmodel *m, uint32_t sel, uint32_t val);
uint32_t vm_config_read(struct vmodel *m, uint32_t off, unsigned width);
void vm_config_write(struct vmodel *m, uint32_t off, unsigned width, uint32_t val);
uint32_t vm_config_size(const struct vmodel *m);
/** Whether queue registers may change now (before DRIVER_OK, or the queue is in reset). */
bool vm_queue_writable(struct vmodel *m, unsigned q, const char *what);
/** Validate and activate queue q (addresses already set). */
void vm_queue_enable(struct vmodel *m, unsigned q);
/** Per-queue reset: forget in-flight chains, registers back to defaults. */
void vm_queue_reset(struct vmodel *m, unsigned q);
void vm_notify(struct vmodel *m, unsigned q);
/** Interrupt: q >= 0 used-buffer for that queue, q < 0 configuration change. */
void vm_raise_irq(struct vmodel *m, int q);
void vm_legacy_ring_layout(struct vm_vq *vq, uint64_t base, uint32_t align);
/** Latch modern/legacy interface of a transitional device; false (violation) on mixing. */
bool vm_iface_use(struct vmodel *m, enum vm_iface iface);
bool vm_dma_allowed(struct vmodel *m);

/* ---- transports ------------------------------------------------------------------------------ */
int vm_pci_modern_init(struct vmodel *m);
int vm_pci_legacy_init(struct vmodel *m);
int vm_mmio_init(struct vmodel *m);
/** PCI: interrupt delivery (MSI-X or INTx + ISR). */
void vm_pci_irq(struct vmodel *m, int q);
void vm_mmio_irq(struct vmodel *m, int q);
/** Common PCI function setup shared by modern and legacy: IDs, MSI-X BAR. */
int vm_pci_common_init(struct vmodel *m, uint16_t device_id, uint8_t revision);
uint16_t vm_msix_vector_write(struct vmodel *m, uint16_t v);
/** Add the legacy I/O BAR0 register file (legacy and transitional devices). */
void vm_pci_legacy_bar_init(struct vmodel *m);
/** Transitional PCI device id for a virtio device id (4.1.2.1: 0x1000 net, 0x1001 blk, ...). */
uint16_t vm_pci_legacy_device_id(uint16_t virtio_id);

/* ---- vmodel_queue.c -------------------------------------------------------------------------- */
unsigned vm_process_queue(struct vm_vq *vq);
void vm_queue_kick(struct vm_vq *vq);
/** Queue a completion for the current pass, or push it now when no pass runs. */
void vm_complete_chain(struct vm_vq *vq, struct vmodel_chain *c, uint32_t used_len);
void vm_free_inflight(struct vm_vq *vq);
struct vmodel_chain *vm_chain_new(struct vm_vq *vq, unsigned nrd, unsigned nwr);
void vm_chain_free(struct vmodel_chain *c);
/** Parse helper shared by both rings: add a segment to the scratch list (false: too long). */
bool vm_seg_add(struct vm_vq *vq, unsigned *n, uint64_t addr, uint32_t len, bool write,
                unsigned *nrd, bool *seen_write);
/** vring_need_event() of 2.7.10: true when `event` lies in (old, new]. */
static inline bool vm_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1u) < (uint16_t)(new_idx - old);
}

/* ---- rings ----------------------------------------------------------------------------------- */
/** Pop the next available chain (NULL: none or error), registering it in flight. */
struct vmodel_chain *vm_split_pop(struct vm_vq *vq);
void vm_split_push(struct vm_vq *vq, uint16_t id, uint32_t len);
void vm_split_flush(struct vm_vq *vq, bool *need_irq);
void vm_split_publish(struct vm_vq *vq, bool enable); /* notification suppression */
uint16_t vm_split_avail_idx(struct vm_vq *vq);
void vm_split_init(struct vm_vq *vq);
bool vm_split_notify_needed(struct vm_vq *vq, uint16_t avail_now);

struct vmodel_chain *vm_packed_pop(struct vm_vq *vq);
void vm_packed_push(struct vm_vq *vq, uint16_t id, uint32_t len, bool wrote, uint16_t slots,
                    int bad_flags);
void vm_packed_flush(struct vm_vq *vq, bool *need_irq);
void vm_packed_publish(struct vm_vq *vq, bool enable);
unsigned vm_packed_pending(struct vm_vq *vq);
void vm_packed_init(struct vm_vq *vq);

/* ---- vmodel_faults.c ------------------------------------------------------------------------- */
/** Faults at consumption; returns true when the chain must be held (never completed). */
bool vm_fault_on_consume(struct vm_vq *vq, struct vmodel_chain *c, uint16_t first_slot);
/** Write one used element for `c`, applying the used-element faults. */
void vm_fault_push_used(struct vm_vq *vq, struct vmodel_chain *c);
bool vm_fault_irq_lost(struct vm_vq *vq);

/* ---- guest-order accessors over DMA (little-endian, or host order on a legacy interface) -------
 */
uint16_t vm_rd16(struct vmodel *m, uint64_t bus);
uint32_t vm_rd32(struct vmodel *m, uint64_t bus);
uint64_t vm_rd64(struct vmodel *m, uint64_t bus);
void vm_wr16(struct vmodel *m, uint64_t bus, uint16_t v);
void vm_wr32(struct vmodel *m, uint64_t bus, uint32_t v);
void vm_wr64(struct vmodel *m, uint64_t bus, uint64_t v);

static inline uint16_t vm_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t vm_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t vm_le64(const uint8_t *p)
{
    return (uint64_t)vm_le32(p) | ((uint64_t)vm_le32(p + 4) << 32);
}
static inline void vm_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void vm_put32(uint8_t *p, uint32_t v)
{
    vm_put16(p, (uint16_t)v);
    vm_put16(p + 2, (uint16_t)(v >> 16));
}
static inline void vm_put64(uint8_t *p, uint64_t v)
{
    vm_put32(p, (uint32_t)v);
    vm_put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- guest-order helpers --------------------------------------------------------------------
 * Fields the driver and device share in memory or in device config are little-endian on the
 * modern interface, and in the guest's native order on the legacy one (MMIO v1, PCI legacy, a
 * transitional device driven through BAR0: VIRTIO 1.2 2.4.3, 2.7 and 5.2.6 legacy notes). The
 * guest is the host here, so legacy fields are plain host-order stores: on a big-endian host
 * (tools/test-bigendian) the model then demands what a big-endian legacy guest must write. */
static inline uint16_t vm_g16(const struct vmodel *m, const uint8_t *p)
{
    uint16_t v;

    if (!vm_is_legacy(m))
        return vm_le16(p);
    memcpy(&v, p, sizeof(v));
    return v;
}
static inline uint32_t vm_g32(const struct vmodel *m, const uint8_t *p)
{
    uint32_t v;

    if (!vm_is_legacy(m))
        return vm_le32(p);
    memcpy(&v, p, sizeof(v));
    return v;
}
static inline uint64_t vm_g64(const struct vmodel *m, const uint8_t *p)
{
    uint64_t v;

    if (!vm_is_legacy(m))
        return vm_le64(p);
    memcpy(&v, p, sizeof(v));
    return v;
}
static inline void vm_gput16(const struct vmodel *m, uint8_t *p, uint16_t v)
{
    if (!vm_is_legacy(m))
        vm_put16(p, v);
    else
        memcpy(p, &v, sizeof(v));
}
static inline void vm_gput32(const struct vmodel *m, uint8_t *p, uint32_t v)
{
    if (!vm_is_legacy(m))
        vm_put32(p, v);
    else
        memcpy(p, &v, sizeof(v));
}
static inline void vm_gput64(const struct vmodel *m, uint8_t *p, uint64_t v)
{
    if (!vm_is_legacy(m))
        vm_put64(p, v);
    else
        memcpy(p, &v, sizeof(v));
}

#endif
