/* SPDX-License-Identifier: MIT */
/*
 * virtio_model.h - a virtio device model for host tests on the simulated platform (test/sim).
 *
 * The model is the *device side* of virtio: register files for every transport Keel supports, split
 * and packed virtqueue consumers, interrupts, and a pluggable device backend (virtio-blk here, a
 * SCSI target later) behind `struct vmodel_device_ops`. Keel's real driver runs against it through
 * the sim's HAL; nothing in the model trusts the driver: every ring access goes through
 * sim_dma_read / sim_dma_write (so an unmapped bus address is a sim violation), descriptor chains
 * are bounded and validated, and in strict mode every deviation from the spec's driver requirements
 * is recorded with sim_violation() (so sim_assert_clean() fails the test).
 *
 * Transports (enum vmodel_transport):
 *  - VMODEL_PCI_MODERN: non-transitional PCI device 1af4:(1040 + device id), revision 1. Vendor
 *    capabilities in 64-bit memory BAR4 with QEMU's layout: common cfg at +0x0000, ISR at +0x1000,
 *    device cfg at +0x2000, notify at +0x3000 (queue_notify_off = queue index,
 * notify_off_multiplier configurable, default 4). MSI-X table in memory BAR1 (table +0, PBA
 * +0x800); config_msix_vector and queue_msix_vector (a vector beyond the table reads back as
 * VMODEL_NO_VECTOR). With MSI-X disabled, INTx (pin A) with the ISR register read-to-clear.
 *  - VMODEL_PCI_TRANSITIONAL: 1af4:(0fff + device id) (1001 blk, 1004 scsi), revision 0, subsystem
 * id = device id; the legacy I/O BAR0 register file (device config at 0x14, or 0x18 once MSI-X is
 * enabled) AND the modern capabilities as above. Which
 *    interface the driver uses is latched at the first access after reset; mixing them is a
 * violation.
 *  - VMODEL_PCI_LEGACY: as transitional but without the modern capabilities (QEMU
 * disable-modern=on).
 *  - VMODEL_MMIO_V2: virtio-mmio version 2 at cfg.mmio_base (0x200 bytes), interrupt on platform
 * line cfg.mmio_irq_line (KEEL_IRQ_LINE) with InterruptStatus / InterruptACK.
 *  - VMODEL_MMIO_V1: legacy virtio-mmio (QEMU's default): GuestPageSize, QueuePFN, QueueAlign, only
 *    feature bits 0..31, legacy ring layout (desc | avail | pad to QueueAlign | used).
 * Legacy interfaces (PCI legacy BAR0, MMIO v1) never offer VERSION_1 or any bit >= 32, so they
 * always use split rings in the legacy layout (PCI legacy: QueuePFN << 12, alignment 4096).
 * Byte order: transport registers are little-endian everywhere (the bus). Ring fields, request
 * headers (blk: type, sector, discard segments) and device config fields are little-endian on the
 * modern interface and guest-endian on the legacy one, where the guest is the host: on a
 * big-endian host (tools/test-bigendian) the model reads and writes legacy fields big-endian, and a
 * multi-byte legacy config read returns the bytes as the little-endian bus presents them.
 *
 * Processing (enum vmodel_mode): IMMEDIATE processes a queue inside the driver's notify write (so
 * the completion interrupt can run inside that write, as on real hardware with a fast device);
 * DEFERRED schedules processing cfg.latency_us after a notify with a sim timer, and suppresses
 * further notifications until then (VIRTQ_USED_F_NO_NOTIFY, a stale avail_event, or the packed
 * device event suppression structure); MANUAL does nothing until the test calls vmodel_process().
 *
 * Behaviour worth knowing:
 *  - Completions of one processing pass are written together (elements, then one used-index update
 *    for split rings) followed by one interrupt decision (2.7.10 / 2.8.10): flags, or the event
 *    index with the spec's 16-bit wrap arithmetic (packed: off_wrap relative to the wrap counter).
 *    After a pass the device re-publishes "notify me" and re-checks the ring (no lost wake-ups).
 *    The interrupt handler may run inside that decision; a notification it sends is picked up by
 *    the same pass's loop (no recursion), so drivers may resubmit from completion callbacks.
 *  - Used length = bytes really written into the writable buffers (blk: data + status byte on
 *    success, 1 on error, GET_ID: min(20, buffer) + 1).
 *  - A driver error the device cannot process past (bad descriptor, loop, avail index running more
 *    than the queue size ahead, head reused while in flight, unmapped ring or buffer) is a sim
 *    violation and, with cfg.error_needs_reset, sets DEVICE_NEEDS_RESET (VERSION_1) + config
 *    interrupt and stops the device until reset, as QEMU's virtio_error() does.
 *  - Strict mode additionally flags: status writes clearing bits or skipping steps, DRIVER_OK
 *    before FEATURES_OK was accepted, accepting features not offered, modern use without
 *    VERSION_1 (FEATURES_OK then refused), feature writes after FEATURES_OK, queue registers
 *    written after DRIVER_OK (unless the queue is in RING_RESET) or while enabled or before
 *    FEATURES_OK, queue_enable = 0 on PCI, notify before DRIVER_OK or for a disabled queue, notify
 *    value / width / offset mismatches, register and config accesses at the wrong width (MMIO
 *    control registers 32-bit only; 64-bit config fields as two 32-bit halves), reads of
 *    write-only registers, mixing the legacy and modern windows of a transitional device, DMA
 *    with PCI bus mastering off, misaligned rings, packed list descriptors not marked available.
 *  - MMIO QueueReady = 0 and legacy QueuePFN = 0 reset that queue (in-flight chains are dropped;
 *    QEMU's legacy PCI would reset the whole device on PFN 0).
 *  - Config-change interrupts are only sent after DRIVER_OK; the generation moves regardless.
 *  - vmodel_vq_stats.irqs counts interrupts the device decided to send, even when no vector or
 *    line is attached (MSI-X NO_VECTOR: nothing is delivered, the driver polls).
 *
 * Not modelled: VIRTIO_F_IN_ORDER, NOTIFICATION_DATA, NOTIF_CONFIG_DATA, admin virtqueues, SR-IOV,
 * shared memory regions (reads say "none"), access through the PCI_CFG capability (it is only
 * present as a decoy), IOMMU semantics of ACCESS_PLATFORM beyond the sim's mapping checks, MSI (not
 * MSI-X), INTx as a level (each interrupt is one sim_irq_raise), zoned block devices and LIFETIME,
 * legacy-only blk features (BARRIER, SCSI passthrough), a legacy guest whose byte order differs
 * from the host's, big-endian legacy MMIO register files (QEMU's DEVICE_NATIVE_ENDIAN), packed used
 * descriptors covering several buffers (one used descriptor per buffer), multi-threaded devices.
 *
 * Thread-safety: none, like the sim: everything runs on the test's thread, inside HAL calls.
 */
#ifndef VIRTIO_MODEL_H
#define VIRTIO_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmodel;
struct vmodel_blk;

/* ---- spec constants the model and its tests share (VIRTIO 1.2) --------------------------------
 */

/* Device status (2.1) */
#define VMODEL_S_ACKNOWLEDGE 0x01u
#define VMODEL_S_DRIVER      0x02u
#define VMODEL_S_DRIVER_OK   0x04u
#define VMODEL_S_FEATURES_OK 0x08u
#define VMODEL_S_NEEDS_RESET 0x40u
#define VMODEL_S_FAILED      0x80u

/* Reserved feature bits (6) */
#define VMODEL_F_NOTIFY_ON_EMPTY   (1ull << 24)
#define VMODEL_F_ANY_LAYOUT        (1ull << 27)
#define VMODEL_F_INDIRECT_DESC     (1ull << 28)
#define VMODEL_F_EVENT_IDX         (1ull << 29)
#define VMODEL_F_VERSION_1         (1ull << 32)
#define VMODEL_F_ACCESS_PLATFORM   (1ull << 33)
#define VMODEL_F_RING_PACKED       (1ull << 34)
#define VMODEL_F_IN_ORDER          (1ull << 35)
#define VMODEL_F_NOTIFICATION_DATA (1ull << 38)
#define VMODEL_F_RING_RESET        (1ull << 40)

/* virtio-blk feature bits (5.2.3) */
#define VMODEL_BLK_F_SIZE_MAX     (1ull << 1)
#define VMODEL_BLK_F_SEG_MAX      (1ull << 2)
#define VMODEL_BLK_F_GEOMETRY     (1ull << 4)
#define VMODEL_BLK_F_RO           (1ull << 5)
#define VMODEL_BLK_F_BLK_SIZE     (1ull << 6)
#define VMODEL_BLK_F_FLUSH        (1ull << 9)
#define VMODEL_BLK_F_TOPOLOGY     (1ull << 10)
#define VMODEL_BLK_F_CONFIG_WCE   (1ull << 11)
#define VMODEL_BLK_F_MQ           (1ull << 12)
#define VMODEL_BLK_F_DISCARD      (1ull << 13)
#define VMODEL_BLK_F_WRITE_ZEROES (1ull << 14)
#define VMODEL_BLK_F_SECURE_ERASE (1ull << 16)

/* virtio-blk request types, status values and flags (5.2.6) */
#define VMODEL_BLK_T_IN           0u
#define VMODEL_BLK_T_OUT          1u
#define VMODEL_BLK_T_FLUSH        4u
#define VMODEL_BLK_T_GET_ID       8u
#define VMODEL_BLK_T_DISCARD      11u
#define VMODEL_BLK_T_WRITE_ZEROES 13u
#define VMODEL_BLK_T_SECURE_ERASE 14u
#define VMODEL_BLK_S_OK           0u
#define VMODEL_BLK_S_IOERR        1u
#define VMODEL_BLK_S_UNSUPP       2u
#define VMODEL_BLK_WZ_F_UNMAP     1u
#define VMODEL_BLK_ID_BYTES       20u

/* virtio device ids (5) */
#define VMODEL_ID_BLOCK 2u
#define VMODEL_ID_SCSI  8u

#define VMODEL_NO_VECTOR      0xffffu
#define VMODEL_MAX_QUEUES     64u /* queues per device the model supports */
#define VMODEL_QUEUE_SIZE_MAX 32768u
#define VMODEL_NO_MSIX        0xffffu /* cfg.msix_vectors: no MSI-X capability at all */
#define VMODEL_ALL_QUEUES     (-1)    /* vmodel_process(): every queue */
#define VMODEL_CONFIG_IRQ     (-1)    /* vmodel_inject_irq(): the configuration-change interrupt */
#define VMODEL_STATUS_LOG     64u     /* status writes remembered in struct vmodel_stats */
#define VMODEL_BATCH_HIST     8u      /* batch-size histogram buckets: 1, 2, 3-4, 5-8, ..., >= 65 */

/* Register layouts, so tests can poke registers by hand (offsets relative to each window). */
#define VMODEL_PCI_BAR_MODERN  4u /* 64-bit memory BAR with the capability windows */
#define VMODEL_PCI_BAR_MSIX    1u /* MSI-X table (+0) and PBA (+0x800) */
#define VMODEL_PCI_BAR_LEGACY  0u /* legacy I/O BAR */
#define VMODEL_PCI_COMMON_OFF  0x0000u
#define VMODEL_PCI_ISR_OFF     0x1000u
#define VMODEL_PCI_DEVICE_OFF  0x2000u
#define VMODEL_PCI_NOTIFY_OFF  0x3000u
#define VMODEL_MMIO_SIZE       0x200u
#define VMODEL_MMIO_CONFIG_OFF 0x100u
#define VMODEL_LEGACY_ALIGN    4096u /* legacy PCI ring alignment and PFN shift */
/* Legacy transports (MMIO v1, PCI legacy/transitional) place rings by a 32-bit page frame number,
   which cannot reach SIM_BUS_BASE: vmodel_create() moves the sim's DMA arena to this bus address
   with sim_set_arena_bus_base() when nothing was allocated yet (else the driver must refuse). */
#define VMODEL_LEGACY_ARENA_BUS 0x40000000ull

/* ---- configuration ----------------------------------------------------------------------------
 */

enum vmodel_transport {
    VMODEL_PCI_MODERN = 0,
    VMODEL_PCI_TRANSITIONAL = 1,
    VMODEL_PCI_LEGACY = 2,
    VMODEL_MMIO_V2 = 3,
    VMODEL_MMIO_V1 = 4,
};

/**
 * True for the transports the tests drive through the legacy interface (MMIO v1, PCI legacy, and
 * PCI transitional probed legacy-first). Legacy fields are guest-endian: the model presents and
 * expects them in the host's order (big-endian under tools/test-bigendian), so the same tests
 * prove the driver's byte order on both kinds of host.
 */
static inline bool vmodel_transport_is_legacy(enum vmodel_transport t)
{
    return t == VMODEL_MMIO_V1 || t == VMODEL_PCI_LEGACY || t == VMODEL_PCI_TRANSITIONAL;
}

enum vmodel_mode {
    VMODEL_IMMEDIATE = 0, /* process inside the notify write */
    VMODEL_DEFERRED = 1,  /* process latency_us after the first unprocessed notify (sim timer) */
    VMODEL_MANUAL = 2,    /* process only in vmodel_process() */
};

enum vmodel_order {
    VMODEL_ORDER_FIFO = 0,    /* used elements in the order the chains were made available */
    VMODEL_ORDER_REVERSE = 1, /* each processing pass completes its chains in reverse order */
};

struct vmodel_cfg {
    enum vmodel_transport transport;

    /* PCI transports */
    struct keel_pci_addr pci_addr;  /* default 0000:00:04.0 */
    bool pci_bars_preassigned;      /* firmware placed BARs and enabled decode+bus master (default
                                       true); false: BARs are 0 and the command register is 0 */
    uint64_t pci_bar4_addr;         /* default 0xfe000000 (16 KiB, 64-bit memory BAR) */
    uint64_t pci_bar1_addr;         /* default 0xfebf1000 (4 KiB MSI-X BAR) */
    uint32_t pci_io_addr;           /* default 0xc040 (legacy I/O BAR0) */
    uint32_t pci_notify_multiplier; /* notify_off_multiplier (default 4; 0 = every queue shares) */
    unsigned msix_vectors;          /* 0: num_queues + 1; VMODEL_NO_MSIX: no capability */
    bool pci_decoy_caps;            /* add vendor caps the driver must skip: a common cfg cap with
                                       a reserved BAR number (7) first, and a PCI_CFG cap (type 5) */

    /* MMIO transports */
    uint64_t mmio_base;     /* default 0x0a000000 */
    uint32_t mmio_irq_line; /* default 48 */

    /* features: offered = (features | device backend's features) & ~features_clear; legacy
       interfaces additionally drop VERSION_1 and every bit >= 32 */
    uint64_t features;       /* default VERSION_1 | INDIRECT_DESC | EVENT_IDX | RING_RESET */
    uint64_t features_clear; /* default 0 */

    /* queues: the count comes from the backend (ops->num_queues) */
    uint16_t queue_size_max;                      /* default 256 (PCI) / 1024 (MMIO) */
    uint16_t queue_size_max_q[VMODEL_MAX_QUEUES]; /* per-queue override, 0 = queue_size_max;
                                                     any value for packed, e.g. 100 */

    /* behaviour */
    enum vmodel_mode mode;   /* default IMMEDIATE */
    uint32_t latency_us;     /* DEFERRED: processing delay (default 10) */
    enum vmodel_order order; /* default FIFO */
    bool strict;             /* default true: flag driver-requirement breaches as violations */
    bool error_needs_reset;  /* default true: like QEMU's virtio_error(), a driver error (bad
                                descriptor, ring overrun, ...) sets DEVICE_NEEDS_RESET (when
                                VERSION_1), raises the config interrupt and stops the device */
};

/** Defaults for `t` (see each field). Any context. */
void vmodel_cfg_default(struct vmodel_cfg *cfg, enum vmodel_transport t);

/* ---- descriptor chains as backends see them ----------------------------------------------------
 */

struct vmodel_seg {
    uint64_t bus; /* device address (use vmodel_chain_read/write, never a CPU pointer) */
    uint32_t len;
};

/**
 * One parsed, validated descriptor chain (split: from a head index; packed: one buffer id). The
 * readable segments come first in the chain, then the writable ones (a readable descriptor after a
 * writable one is a driver error the model refuses before the backend sees the chain).
 */
struct vmodel_chain {
    unsigned queue;
    uint16_t id;         /* split: head descriptor index; packed: buffer id */
    uint16_t ring_descs; /* descriptors occupied in the ring itself (packed: slots to skip) */
    uint16_t ndesc;      /* total descriptors including the indirect table's */
    bool indirect;       /* the chain used an indirect table */
    struct vmodel_seg *rd;
    unsigned nrd;
    uint64_t rd_len; /* total readable bytes */
    struct vmodel_seg *wr;
    unsigned nwr;
    uint64_t wr_len;    /* total writable bytes */
    uint32_t used_len;  /* filled when completed */
    void *backend_priv; /* free for the backend while the chain is deferred */
};

/** Gather `len` bytes at readable offset `off` of `c` into `buf` (false: out of range or DMA
 * fault). */
bool vmodel_chain_read(struct vmodel *m, const struct vmodel_chain *c, uint64_t off, void *buf,
                       size_t len);
/** Scatter `len` bytes into writable offset `off` of `c` (false: out of range or DMA fault). */
bool vmodel_chain_write(struct vmodel *m, const struct vmodel_chain *c, uint64_t off,
                        const void *buf, size_t len);

/* ---- device backend interface ------------------------------------------------------------------
 */

#define VMODEL_DEFER                                                                               \
    (-1) /* handle(): the backend keeps the chain, completes it with vmodel_complete */

/**
 * A device type behind the model. Callbacks run on the test thread from within register accesses,
 * timers or vmodel_process(). `ctx` is the dev_ctx given to vmodel_create().
 */
struct vmodel_device_ops {
    const char *name;
    uint16_t device_id; /* virtio device id (VMODEL_ID_BLOCK, VMODEL_ID_SCSI) */
    uint32_t pci_class; /* PCI class code, 24 bits (blk 0x018000, scsi 0x010000) */
    /** Called once from vmodel_create: the backend may keep `m` (config changes, completions). */
    void (*attach)(void *ctx, struct vmodel *m);
    /** Device-specific feature bits offered (ORed with cfg.features). */
    uint64_t (*features)(void *ctx);
    /** Number of virtqueues (1..VMODEL_MAX_QUEUES). */
    unsigned (*num_queues)(void *ctx);
    /** Size of the device-specific configuration space in bytes. */
    uint32_t (*config_size)(void *ctx);
    /** Natural access width of the field containing `off` (1, 2, 4 or 8; 0 = any), for strict
        width checks; 8-byte fields are read as two 4-byte halves. Optional. */
    unsigned (*config_width)(void *ctx, uint32_t off);
    /** Read `width` bytes at `off` (little-endian value; the model has range-checked). */
    uint32_t (*config_read)(void *ctx, uint32_t off, unsigned width);
    /** Driver write into device config; the backend flags read-only fields itself. Optional. */
    void (*config_write)(void *ctx, uint32_t off, unsigned width, uint32_t val);
    /** FEATURES_OK (or DRIVER_OK on legacy) with the negotiated set; false refuses it. Optional. */
    bool (*features_ok)(void *ctx, uint64_t negotiated);
    /**
     * A chain to execute. Return the used length (bytes written into the writable segments), or
     * VMODEL_DEFER to keep it and finish later with vmodel_complete() (chain memory stays valid
     * until then, or until a reset, before which reset()/queue_reset() are called).
     */
    int64_t (*handle)(void *ctx, struct vmodel *m, struct vmodel_chain *c);
    /** Device reset (status 0 written): forget deferred chains, reset config state. */
    void (*reset)(void *ctx);
    /** Queue `q` reset (RING_RESET) or disabled: forget its deferred chains. Optional. */
    void (*queue_reset)(void *ctx, unsigned q);
};

/* ---- lifetime -----------------------------------------------------------------------------------
 */

/**
 * Create a device on `s` (registers the PCI function or MMIO window, MSI-X, regions). `dev` and
 * `dev_ctx` must outlive the model. Returns NULL on a bad configuration (with a sim violation).
 */
struct vmodel *vmodel_create(struct sim *s, const struct vmodel_cfg *cfg,
                             const struct vmodel_device_ops *dev, void *dev_ctx);
/** Free the model (the sim's regions stay registered but go quiet: destroy the sim next). */
void vmodel_destroy(struct vmodel *m);

/** Name of a transport for messages ("pci-modern", "mmio-v1", ...). */
const char *vmodel_transport_name(enum vmodel_transport t);
struct sim *vmodel_sim(const struct vmodel *m);
const struct vmodel_cfg *vmodel_get_cfg(const struct vmodel *m);
/** The PCI function (PCI transports) or NULL. */
struct sim_pci_fn *vmodel_pci_fn(const struct vmodel *m);

/* ---- driving the device
 * -------------------------------------------------------------------------- */

/** Process queue `q` (or VMODEL_ALL_QUEUES) now, whatever the mode. Returns chains consumed. */
unsigned vmodel_process(struct vmodel *m, int q);
/** Complete a chain a backend deferred, with `used_len` bytes written. */
void vmodel_complete(struct vmodel *m, struct vmodel_chain *c, uint32_t used_len);
/** Change processing mode / latency at run time. */
void vmodel_set_mode(struct vmodel *m, enum vmodel_mode mode, uint32_t latency_us);

/* ---- run-time actions
 * ---------------------------------------------------------------------------- */

/** Configuration changed: bump config generation and send the configuration-change interrupt. */
void vmodel_config_changed(struct vmodel *m);
/** Set DEVICE_NEEDS_RESET (VERSION_1 only; legacy just stops), config interrupt, stop processing.
 */
void vmodel_set_needs_reset(struct vmodel *m);
/** Raise a queue's interrupt (or VMODEL_CONFIG_IRQ) without any used buffer: spurious. */
void vmodel_inject_irq(struct vmodel *m, int q);
/** Surprise removal (gone = true): every register and PCI configuration read returns all-ones,
    writes, DMA and interrupts stop; gone = false brings the device back as it was. */
void vmodel_set_gone(struct vmodel *m, bool gone);

/* ---- observing the device
 * ------------------------------------------------------------------------ */

struct vmodel_vq_stats {
    uint64_t notifies;           /* available-buffer notifications received */
    uint64_t notifies_unneeded;  /* received while the device had them suppressed (flag/event) */
    uint64_t notifies_before_ok; /* received before DRIVER_OK or for a disabled queue */
    uint64_t consumed;           /* chains taken from the ring */
    uint64_t completed;          /* used elements written (including fault-injected ones) */
    uint64_t passes;             /* processing passes that found at least one chain */
    uint64_t batch_hist[VMODEL_BATCH_HIST]; /* chains per pass: 1, 2, 3-4, 5-8, 9-16, 17-32,
                                               33-64, >= 65 */
    uint32_t last_batch, max_batch;
    uint64_t irqs;            /* used-buffer interrupts raised (MSI-X, INTx or MMIO line) */
    uint64_t irqs_suppressed; /* interrupts the driver suppressed (flags or event index) */
    uint64_t irqs_lost;       /* dropped by VMODEL_FAULT_IRQ_LOST */
    uint64_t indirect;        /* chains that used an indirect table */
    uint64_t bytes_read, bytes_written; /* through vmodel_chain_read/write */
    uint32_t max_chain_descs;           /* longest chain seen (descriptors incl. indirect) */
    uint32_t inflight;                  /* consumed, not yet completed */
    uint32_t inflight_max;
    uint64_t resets; /* per-queue resets (RING_RESET) and disables */
};

struct vmodel_stats {
    uint64_t status_writes;
    uint8_t status_log[VMODEL_STATUS_LOG]; /* values written, first VMODEL_STATUS_LOG */
    unsigned status_log_len;
    uint64_t features_offered;
    uint64_t features_driver;     /* last value the driver wrote (both halves) */
    uint64_t features_negotiated; /* accepted at FEATURES_OK (modern) or DRIVER_OK (legacy) */
    uint64_t device_resets;       /* status 0 written and honoured */
    uint64_t config_changes;      /* vmodel_config_changed() calls */
    uint64_t config_irqs;         /* configuration-change interrupts raised */
    uint64_t config_reads, config_writes; /* device-specific config accesses */
    uint32_t generation;                  /* current config generation */
    uint64_t intx_raised;
    uint64_t driver_errors; /* driver-requirement breaches detected (also sim violations) */
    struct vmodel_vq_stats vq[VMODEL_MAX_QUEUES];
};

const struct vmodel_stats *vmodel_stats(const struct vmodel *m);
void vmodel_stats_clear(struct vmodel *m);

uint8_t vmodel_status(const struct vmodel *m);
uint64_t vmodel_features(const struct vmodel *m); /* negotiated (0 before) */
unsigned vmodel_num_queues(const struct vmodel *m);
bool vmodel_queue_enabled(const struct vmodel *m, unsigned q);
uint16_t vmodel_queue_size(const struct vmodel *m, unsigned q); /* size in use */
bool vmodel_queue_packed(const struct vmodel *m, unsigned q);
/** Chains consumed by the device but not completed (stalled, deferred). */
unsigned vmodel_inflight(const struct vmodel *m, unsigned q);
/** Chains the driver made available that the device has not consumed yet. */
unsigned vmodel_avail_pending(struct vmodel *m, unsigned q);
/** True when the ring holds buffers made available after the last notification although the
    device's suppression state (flags / event index) required the driver to notify: a missed kick.
 */
bool vmodel_notify_owed(struct vmodel *m, unsigned q);
/** Device stopped (NEEDS_RESET, driver error, fault) until the next reset. */
bool vmodel_broken(const struct vmodel *m);
/** True while the driver uses the legacy interface (MMIO v1, PCI legacy, a transitional device
    latched to BAR0): ring fields, request headers and device config are then in the host's byte
    order instead of little-endian. For device backends outside the model (e.g. virtio-scsi). */
bool vmodel_is_legacy(const struct vmodel *m);

/* ---- fault injection
 * ------------------------------------------------------------------------------ Arm with
 * sim_fault_arm(s, id, skip, count, param): the fault point is "hit" at the event named below;
 * after `skip` hits it fires `count` times (UINT32_MAX: forever). Ids are unique across Keel's
 * device models: 2000-2049 virtio core, 2050-2099 virtio-blk backend, 2100-2199 reserved for the
 * virtio-scsi target model.
 */
enum vmodel_fault {
    /* Hit per used element about to be written. Fires: the element's id is queue size + param
       (split: head index; packed: buffer id); the real chain stays in flight forever. */
    VMODEL_FAULT_USED_ID_OUT_OF_RANGE = 2000,
    /* Hit per used element. Split: id = an index inside the chain (its 2nd descriptor) or, for a
       one-descriptor/indirect chain, an index that is not the head of any in-flight chain. Packed:
       a buffer id that is in range but not in flight. The real chain stays in flight forever. */
    VMODEL_FAULT_USED_ID_NOT_HEAD = 2001,
    /* Hit per used element. Fires: after the element is written correctly, a second element with
       the same id and length follows (completing a free id). */
    VMODEL_FAULT_USED_ID_REUSED = 2002,
    /* Hit per used element. Fires: len = the chain's writable bytes + max(param, 1). */
    VMODEL_FAULT_USED_LEN_TOO_LONG = 2003,
    /* Hit per chain consumed. Fires: after reading them, the device overwrites the chain's
       descriptors in ring memory (split: every descriptor of the chain in the table: addr, len,
       next and the NEXT flag; packed: addr, len, id of each ring slot, AVAIL/USED bits kept), so a
       driver that reads them back instead of its shadow state misbehaves. The chain itself is
       processed normally. Indirect tables are overwritten as well. */
    VMODEL_FAULT_DESC_REWRITE = 2004,
    /* Hit per device-config read (any width). Fires: an internal counter advances and the config
       generation bumps after this read when counter % max(param, 1) == 0 (param N: every N-th
       firing read). Contents do not change: the driver must re-read and terminate its loop. */
    VMODEL_FAULT_CONFIG_GEN_MIDREAD = 2005,
    /* Hit per FEATURES_OK write. Fires: the device does not set FEATURES_OK (reads back clear). */
    VMODEL_FAULT_FEATURES_OK_REFUSED = 2006,
    /* Hit per chain consumed. Fires: the device sets DEVICE_NEEDS_RESET (VERSION_1; on legacy it
       only stops), raises the config interrupt and stops: this chain and every in-flight one are
       never completed, further notifies are ignored, until reset. skip = requests before it. */
    VMODEL_FAULT_NEEDS_RESET_MID_IO = 2007,
    /* Hit per chain consumed on a queue in param's bitmask (bit q; param 0 = every queue). Fires:
       the chain is consumed but never completed (until reset). count UINT32_MAX: a dead queue. */
    VMODEL_FAULT_QUEUE_STALL = 2008,
    /* Packed rings. Hit per used descriptor. Fires: flags written wrong; param 0: AVAIL = !wrap,
       USED = wrap (looks still-available); param 1: AVAIL = USED = !wrap (looks like the previous
       lap). The device advances as if it were right, so the driver never sees that completion (or
       any after it until the slot is rewritten): it must time out, not spin or misparse. */
    VMODEL_FAULT_PACKED_BAD_USED_FLAGS = 2009,
    /* Hit per used-buffer interrupt the device decided to raise. Fires: not raised (counted in
       irqs_lost); the used ring is updated, so polling finds the completion. */
    VMODEL_FAULT_IRQ_LOST = 2010,
    /* Hit per reset (status 0) write. Fires: the reset is ignored: status keeps reading its old
       value, queues keep running. count UINT32_MAX: reset never completes. */
    VMODEL_FAULT_RESET_STUCK = 2011,
    /* Hit per queue_reset / QueueReset = 1 write. Fires: the queue is not reset and queue_reset
       keeps reading 0. */
    VMODEL_FAULT_QUEUE_RESET_STUCK = 2012,
    /* Split rings. Hit per used-index update. Fires: used->idx is advanced by param (0: queue size
       + 1) beyond the elements written, without writing them; the device then stops (broken). */
    VMODEL_FAULT_USED_IDX_JUMP = 2013,
    /* Hit per chain consumed. Fires: the device stops silently (hangs): this chain and every
       in-flight one are never completed and further notifies are ignored, on every queue, without
       DEVICE_NEEDS_RESET or any interrupt. Queue resets succeed but do not revive it; only a
       device reset does. */
    VMODEL_FAULT_DEVICE_HANG = 2014,

    /* virtio-blk backend */
    /* Hit per blk request. Fires: data is transferred but the status byte is never written; the
       used length excludes it. */
    VMODEL_FAULT_BLK_STATUS_UNWRITTEN = 2050,
    /* Hit per IN/OUT/DISCARD/WRITE_ZEROES/SECURE_ERASE request touching sector param (UINT64_MAX:
       any request). Fires: no data moves, status IOERR. */
    VMODEL_FAULT_BLK_IOERR = 2051,
    /* Hit per blk request. Fires: the status byte is written as (uint8_t)param (0: 0x7f), a value
       the spec does not define. */
    VMODEL_FAULT_BLK_STATUS_GARBAGE = 2052,
};

/* ---- virtio-blk backend over memory
 * -------------------------------------------------------------- */

struct vmodel_blk_cfg {
    uint64_t capacity; /* 512-byte sectors (default 2048 = 1 MiB) */
    uint64_t features; /* VMODEL_BLK_F_* offered (default SEG_MAX | GEOMETRY | BLK_SIZE | TOPOLOGY
                          | FLUSH | CONFIG_WCE | DISCARD | WRITE_ZEROES; MQ added when
                          num_queues > 1, RO when read_only, SIZE_MAX when size_max != 0;
                          add SECURE_ERASE yourself) */
    uint32_t size_max; /* max bytes per data segment; nonzero offers SIZE_MAX (default 0) */
    uint32_t seg_max;  /* max data segments per request (SEG_MAX), default 126 (QEMU: qsize - 2) */
    uint16_t cylinders;
    uint8_t heads, sectors;     /* geometry (default 2/16/63) */
    uint32_t blk_size;          /* logical block size (BLK_SIZE), default 512 */
    uint8_t physical_block_exp; /* topology: log2(physical/logical) */
    uint8_t alignment_offset;
    uint16_t min_io_size; /* in logical blocks */
    uint32_t opt_io_size; /* in logical blocks */
    bool writeback;       /* initial WCE (default true) */
    uint16_t num_queues;  /* request queues (default 1) */
    uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment; /* default 32768,1,8 */
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;                 /* default 32768, 1 */
    bool write_zeroes_may_unmap;                                             /* default true */
    uint32_t max_secure_erase_sectors, max_secure_erase_seg, secure_erase_sector_alignment;
    bool read_only;
    char serial[VMODEL_BLK_ID_BYTES]; /* GET_ID answer (not NUL-terminated when 20 chars) */
    bool get_id_unsupported;          /* GET_ID answers UNSUPP */
    uint8_t discard_fill;             /* byte discarded / securely erased sectors read as (0) */
    void *media; /* caller buffer of capacity * 512 bytes, or NULL: allocated, filled with
                    vmodel_blk_pattern() */
};

/** One executed request, for tests of splitting and request shapes. */
struct vmodel_blk_req {
    unsigned queue;
    uint32_t type;
    uint64_t sector;
    uint64_t data_len;  /* data bytes (IN/OUT/GET_ID) or segment-table bytes (DISCARD, ...) */
    unsigned data_segs; /* descriptors carrying data bytes */
    uint32_t max_seg_len;
    uint64_t num_sectors; /* total sectors touched (all ranges for DISCARD/WZ/SE) */
    unsigned ranges;      /* DISCARD/WZ/SE segments */
    uint32_t flags;       /* OR of the ranges' flags */
    uint8_t status;       /* status written (or intended, when a fault suppressed it) */
};

#define VMODEL_BLK_LOG 256u

struct vmodel_blk_stats {
    uint64_t reqs, reads, writes, flushes, get_ids, discards, write_zeroes, write_zeroes_unmap,
        secure_erases, unknown;
    uint64_t ok, ioerr, unsupp;
    uint64_t bytes_read, bytes_written;
    uint64_t shape_errors; /* malformed requests (also sim violations) */
    uint64_t writes_since_flush;
    uint64_t log_total;                        /* requests ever logged */
    struct vmodel_blk_req log[VMODEL_BLK_LOG]; /* log[(log_total - 1) % VMODEL_BLK_LOG] = newest */
};

void vmodel_blk_cfg_default(struct vmodel_blk_cfg *cfg);
struct vmodel_blk *vmodel_blk_create(const struct vmodel_blk_cfg *cfg);
void vmodel_blk_destroy(struct vmodel_blk *b);
/** The ops to pass to vmodel_create() with the vmodel_blk as dev_ctx. */
extern const struct vmodel_device_ops vmodel_blk_ops;

/** Backing memory (capacity * 512 bytes) for byte-for-byte comparisons. */
uint8_t *vmodel_blk_media(struct vmodel_blk *b, size_t *len);
/** Deterministic initial content of byte `off` of the media (when cfg.media was NULL). */
uint8_t vmodel_blk_pattern(uint64_t off);
/** Resize: the media grows (new bytes: pattern) or shrinks, capacity changes, config interrupt. */
void vmodel_blk_resize(struct vmodel_blk *b, uint64_t new_capacity);
bool vmodel_blk_wce(const struct vmodel_blk *b); /* current writeback flag */
const struct vmodel_blk_stats *vmodel_blk_stats(const struct vmodel_blk *b);
/** The i-th most recent request (0 = newest), or NULL. */
const struct vmodel_blk_req *vmodel_blk_last(const struct vmodel_blk *b, unsigned i);

/* Convenience for driver tests: a blk backend plus a model in one call (destroy both with
   vmodel_blk_pair_destroy). */
struct vmodel *vmodel_blk_pair_create(struct sim *s, const struct vmodel_cfg *cfg,
                                      const struct vmodel_blk_cfg *bcfg, struct vmodel_blk **out);
void vmodel_blk_pair_destroy(struct vmodel *m, struct vmodel_blk *b);

#ifdef __cplusplus
}
#endif

#endif
