/* SPDX-License-Identifier: MIT */
/*
 * keel/virtio.h - a virtio device, independent of its transport (PCI modern, PCI legacy or
 * transitional, MMIO version 2, MMIO version 1), and the transport interface behind it.
 *
 * A device driver (virtio-blk, virtio-scsi) never knows which transport or ring format it runs on:
 *
 *   keel_virtio_pci_probe() / keel_virtio_mmio_probe()       find the transport, fill `dev`
 *   keel_virtio_begin(dev, wanted_device_features)            reset, ACKNOWLEDGE, DRIVER, features,
 *                                                             FEATURES_OK written then re-read
 *   keel_virtio_config_read(dev, fn, arg)                     consistent config snapshot
 *   keel_virtio_irq_setup(dev, mode, nvqs)                    MSI-X / INTx / MMIO line / polling
 *   keel_vq_create(vq, dev, index, ...)  (keel/virtqueue.h)   per queue
 *   keel_virtio_driver_ok(dev)                                DRIVER_OK, interrupts unmasked
 *   ...I/O through keel_vq_*...
 *   keel_virtio_check(dev)                                    status / config-change events
 *   keel_virtio_reset(dev) and again from keel_virtio_begin   recovery (DEVICE_NEEDS_RESET)
 *
 * Status bits are only ever added, never cleared (a write of 0 is the reset, always followed by a
 * bounded wait for the device to read back 0). Every wait is bounded by HAL time.
 *
 * Thread safety: the init/reset calls are init context and must not run concurrently with any other
 * call on the same device. Queue-level calls follow keel/virtqueue.h (one owner per queue).
 * Interrupt handlers installed by keel_virtio_irq_setup run in interrupt context and only read the
 * interrupt cause, count, and call the callbacks the device driver registered.
 */
#ifndef KEEL_VIRTIO_H
#define KEEL_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/keel_config.h>
#include <keel/pci.h>
#include <keel/region.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Spec constants (VIRTIO 1.2/1.3) ----------------------------------------------------------
 */

/* Device status (2.1). */
#define KEEL_VIRTIO_S_ACKNOWLEDGE        0x01u
#define KEEL_VIRTIO_S_DRIVER             0x02u
#define KEEL_VIRTIO_S_DRIVER_OK          0x04u
#define KEEL_VIRTIO_S_FEATURES_OK        0x08u
#define KEEL_VIRTIO_S_DEVICE_NEEDS_RESET 0x40u
#define KEEL_VIRTIO_S_FAILED             0x80u

/* Reserved (device-independent) feature bits (6). */
#define KEEL_VIRTIO_F_NOTIFY_ON_EMPTY   24
#define KEEL_VIRTIO_F_ANY_LAYOUT        27
#define KEEL_VIRTIO_F_INDIRECT_DESC     28
#define KEEL_VIRTIO_F_EVENT_IDX         29
#define KEEL_VIRTIO_F_VERSION_1         32
#define KEEL_VIRTIO_F_ACCESS_PLATFORM   33
#define KEEL_VIRTIO_F_RING_PACKED       34
#define KEEL_VIRTIO_F_IN_ORDER          35
#define KEEL_VIRTIO_F_ORDER_PLATFORM    36
#define KEEL_VIRTIO_F_SR_IOV            37
#define KEEL_VIRTIO_F_NOTIFICATION_DATA 38
#define KEEL_VIRTIO_F_RING_RESET        40

#define KEEL_VIRTIO_BIT(n) (1ull << (n))

/* Device IDs (5). */
#define KEEL_VIRTIO_ID_BLOCK 2
#define KEEL_VIRTIO_ID_SCSI  8

/* PCI identity (4.1.2). */
#define KEEL_VIRTIO_PCI_VENDOR       0x1af4u
#define KEEL_VIRTIO_PCI_MODERN_BASE  0x1040u /* 0x1040 + device ID */
#define KEEL_VIRTIO_PCI_LEGACY_FIRST 0x1000u
#define KEEL_VIRTIO_PCI_LEGACY_LAST  0x103fu

/* MSI-X "no vector" (4.1.4.3). */
#define KEEL_VIRTIO_MSI_NO_VECTOR 0xffffu

/* Interrupt causes as read from ISR / InterruptStatus. */
#define KEEL_VIRTIO_ISR_QUEUE  0x1u
#define KEEL_VIRTIO_ISR_CONFIG 0x2u

/* ---- Types --------------------------------------------------------------------------------------
 */

struct keel_virtio_dev;
struct keel_vq;

/** Which transport a device sits on. */
enum keel_virtio_transport {
    KEEL_VIRTIO_T_NONE = 0,
    KEEL_VIRTIO_T_PCI_MODERN = 1, /* vendor capabilities, memory BARs */
    KEEL_VIRTIO_T_PCI_LEGACY = 2, /* legacy or transitional device through its I/O BAR */
    KEEL_VIRTIO_T_MMIO = 3,       /* virtio-mmio version 2 */
    KEEL_VIRTIO_T_MMIO_LEGACY = 4 /* virtio-mmio version 1 (QueuePFN, GuestPageSize) */
};

/** How the device signals; keel_virtio_irq_setup picks the best one the platform offers. */
enum keel_virtio_irq_mode {
    KEEL_VIRTIO_IRQ_POLL = 0,        /* no interrupts; the owner polls */
    KEEL_VIRTIO_IRQ_AUTO = 1,        /* request: best available (resolved to one of the below) */
    KEEL_VIRTIO_IRQ_MSIX_PER_VQ = 2, /* PCI: config on vector 0, queue i on vector 1 + i */
    KEEL_VIRTIO_IRQ_MSIX_SHARED = 3, /* PCI: one vector for config and every queue */
    KEEL_VIRTIO_IRQ_INTX = 4,        /* PCI INTx, ISR read to find and acknowledge the cause */
    KEEL_VIRTIO_IRQ_LINE = 5         /* virtio-mmio platform line, InterruptStatus + InterruptACK */
};

/**
 * The transport interface. Transports implement every hook (those marked optional may be NULL);
 * devices and virtqueues call them only through keel_virtio_* and keel_vq_*. All hooks touch
 * registers only. Offsets are relative to the device-specific configuration space.
 */
struct keel_virtio_transport_ops {
    const char *name;
    /** 64 device feature bits (legacy transports: the low 32 only). */
    uint64_t (*get_features)(struct keel_virtio_dev *d);
    /** Write the driver's feature bits. */
    void (*set_features)(struct keel_virtio_dev *d, uint64_t features);
    uint8_t (*get_status)(struct keel_virtio_dev *d);
    /** Write the status register (0 resets the device). */
    void (*set_status)(struct keel_virtio_dev *d, uint8_t status);
    /** Config generation (optional: NULL on legacy transports, which have none). */
    uint32_t (*generation)(struct keel_virtio_dev *d);
    /** One access of `width` (1, 2 or 4) bytes at config offset `off`, little-endian value. */
    uint32_t (*cfg_read)(struct keel_virtio_dev *d, uint32_t off, unsigned width);
    void (*cfg_write)(struct keel_virtio_dev *d, uint32_t off, unsigned width, uint32_t val);
    /** Largest size of queue `index`, 0 when the queue does not exist. */
    uint16_t (*queue_max)(struct keel_virtio_dev *d, uint16_t index);
    /** Program size, ring addresses and MSI-X vector of `vq`, then enable it. */
    int (*queue_setup)(struct keel_virtio_dev *d, struct keel_vq *vq);
    /** Per-queue reset (VIRTIO_F_RING_RESET): write 1, wait (bounded) for 0 (optional). */
    int (*queue_reset)(struct keel_virtio_dev *d, uint16_t index);
    /** Available buffer notification for `vq`. Any context. */
    void (*notify)(struct keel_virtio_dev *d, struct keel_vq *vq);
    /** Read and acknowledge the interrupt cause (KEEL_VIRTIO_ISR_*). Interrupt context. */
    uint32_t (*isr)(struct keel_virtio_dev *d);
    /** Program the config-change MSI-X vector; returns what the device read back (optional). */
    uint16_t (*set_config_vector)(struct keel_virtio_dev *d, uint16_t vector);
};

/** Transport state: PCI modern (4.1.4). */
struct keel_virtio_pci_modern {
    struct keel_region common, notify, isr, device;
    uint32_t notify_mult; /* notify_off_multiplier */
    uint32_t device_len;  /* bytes of device config the capability covers */
};

/** Transport state: PCI legacy / transitional through the I/O BAR (4.1.5). */
struct keel_virtio_pci_legacy {
    struct keel_region io;
    uint32_t cfg_off; /* 0x14, or 0x18 while MSI-X is enabled */
};

/** Transport state: virtio-mmio (4.2). */
struct keel_virtio_mmio {
    struct keel_region regs;
    uint32_t version; /* 1 (legacy) or 2 */
    uint32_t irq_line;
};

/** Device-level counters. */
struct keel_virtio_stats {
    uint64_t resets;         /* device resets performed */
    uint64_t config_changes; /* configuration-change events seen */
    uint64_t needs_reset;    /* DEVICE_NEEDS_RESET observations */
    uint64_t config_retries; /* generation-loop retries */
    uint64_t interrupts;     /* handler invocations (any vector) */
    uint64_t spurious;       /* INTx/line interrupts with no cause bit */
};

/** Called (interrupt or poll context) when the device signals a configuration change. */
typedef void (*keel_virtio_config_fn)(struct keel_virtio_dev *d, void *arg);

/* Pending events, set from interrupt context, consumed by keel_virtio_check(). */
#define KEEL_VIRTIO_EV_CONFIG      0x1u
#define KEEL_VIRTIO_EV_NEEDS_RESET 0x2u
#define KEEL_VIRTIO_EV_RECHECK                                                                     \
    0x4u /* no generation counter (legacy): re-read config and compare                             \
          */

#define KEEL_VIRTIO_MAX_VECTORS (KEEL_CONFIG_VIRTIO_MAX_QUEUES + 1)

/** One virtio device. Caller-provided storage; filled by a probe function. */
struct keel_virtio_dev {
    const struct keel_hal *hal;
    const struct keel_virtio_transport_ops *tops;
    enum keel_virtio_transport transport;
    union {
        struct keel_virtio_pci_modern pci;
        struct keel_virtio_pci_legacy leg;
        struct keel_virtio_mmio mmio;
    } t;
    /* PCI only */
    struct keel_pci_addr pci_addr;
    bool has_msix;
    struct keel_pci_msix msix;

    uint32_t device_id;
    uint16_t num_queues;    /* queues the transport reports (0: unknown, probe with queue_max) */
    bool legacy;            /* legacy interface: 32 feature bits, no FEATURES_OK, native endian */
    uint64_t offered;       /* device features */
    uint64_t features;      /* negotiated */
    uint8_t status;         /* bits the driver has set since the last reset */
    bool dead;              /* a reset did not complete: the device is not used again */
    uint32_t generation;    /* last config generation seen (change detection) */
    uint64_t last_check_us; /* polled mode: last status/generation look */

    /* interrupts */
    enum keel_virtio_irq_mode irq_mode;
    uint32_t irq_handle[KEEL_VIRTIO_MAX_VECTORS];
    uint16_t irq_count;
    bool irq_level; /* INTx / level line: EOI after acknowledging */
    keel_virtio_config_fn config_cb;
    void *config_arg;
    volatile uint32_t events; /* KEEL_VIRTIO_EV_* */

    struct keel_vq *vqs[KEEL_CONFIG_VIRTIO_MAX_QUEUES];
    struct keel_virtio_stats stats;
};

/* ---- Transports ---------------------------------------------------------------------------------
 */

/**
 * Probe the PCI function `a`: the modern interface when its vendor capabilities are present (and
 * `allow_legacy` is false or the device is modern-only), else the legacy I/O BAR of a legacy or
 * transitional device. BARs must be assigned (keel_pci_assign_bars); `cpu_offset` is the
 * platform's bus-to-CPU offset for BARs. Enables memory/I/O decode and bus mastering.
 * KEEL_ENODEV when it is not a virtio function, KEEL_ENOTSUP when no usable interface exists.
 * Init context; `dev` is the caller's storage.
 */
int keel_virtio_pci_probe(struct keel_virtio_dev *dev, const struct keel_hal *hal,
                          struct keel_pci_addr a, uint64_t cpu_offset, bool prefer_legacy);

/** Probe only the modern interface of `a` (see keel_virtio_pci_probe). Init context. */
int keel_virtio_pci_modern_probe(struct keel_virtio_dev *dev, const struct keel_hal *hal,
                                 struct keel_pci_addr a, uint64_t cpu_offset);

/** Probe only the legacy I/O BAR interface of `a` (see keel_virtio_pci_probe). Init context. */
int keel_virtio_pci_legacy_probe(struct keel_virtio_dev *dev, const struct keel_hal *hal,
                                 struct keel_pci_addr a, uint64_t cpu_offset);

/**
 * Probe a virtio-mmio window at physical `base` (`size` bytes, at least 0x200) whose interrupt is
 * platform line `irq_line`. Version 1 (legacy) and 2 are both handled. KEEL_ENODEV for a bad magic
 * value or an empty slot (DeviceID 0), KEEL_ENOTSUP for an unknown version. Init context.
 */
int keel_virtio_mmio_probe(struct keel_virtio_dev *dev, const struct keel_hal *hal, uint64_t base,
                           uint64_t size, uint32_t irq_line);

/* ---- Initialisation (3.1) -----------------------------------------------------------------------
 */

/**
 * Reset the device: write 0 to status, wait (bounded, KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US) until it
 * reads 0. After success the device no longer touches any ring or buffer. KEEL_ETIMEDOUT (and
 * dev->dead set) when it never reads 0; KEEL_ENODEV when it reads all-ones. Init context.
 */
int keel_virtio_reset(struct keel_virtio_dev *dev);

/**
 * The first half of initialisation: reset, ACKNOWLEDGE, DRIVER, read the device features, accept
 * `wanted` (device-specific bits) plus the device-independent ones Keel implements (VERSION_1,
 * RING_PACKED unless `no_packed`, INDIRECT_DESC, EVENT_IDX, RING_RESET, ACCESS_PLATFORM), write
 * them, and on a modern device set FEATURES_OK and re-read it. A modern transport whose device does
 * not offer VERSION_1 is refused. Returns 0 (dev->features holds the result), KEEL_ENOTSUP when the
 * device refused FEATURES_OK (status FAILED is set), or a reset error. Init context.
 */
int keel_virtio_begin(struct keel_virtio_dev *dev, uint64_t wanted, bool no_packed);

/** Set DRIVER_OK and unmask interrupts: the device is live. Init context. */
int keel_virtio_driver_ok(struct keel_virtio_dev *dev);

/** Set FAILED (driver gave up on the device). Init context. */
void keel_virtio_fail(struct keel_virtio_dev *dev);

/** True when feature bit `bit` was negotiated. Any context. */
static inline bool keel_virtio_has(const struct keel_virtio_dev *dev, unsigned bit)
{
    return (dev->features & KEEL_VIRTIO_BIT(bit)) != 0u;
}

/** Current device status register (raw). Any context. */
uint8_t keel_virtio_status(struct keel_virtio_dev *dev);

/* ---- Device configuration space (2.5) -----------------------------------------------------------
 */

/**
 * Natural-width accessors, for use inside a keel_virtio_config_read callback (a lone read is not
 * guaranteed consistent). Values are in CPU order: little-endian fields on the modern interface,
 * guest-endian (native) ones on the legacy interface. Thread/init context of the device's owner.
 */
uint8_t keel_virtio_cfg8(struct keel_virtio_dev *dev, uint32_t off);
uint16_t keel_virtio_cfg16(struct keel_virtio_dev *dev, uint32_t off);
uint32_t keel_virtio_cfg32(struct keel_virtio_dev *dev, uint32_t off);
/** 64-bit field as two 32-bit accesses (lower address first); consistent only inside the
    generation loop. */
uint64_t keel_virtio_cfg64(struct keel_virtio_dev *dev, uint32_t off);
/** Writes of driver-writable config fields, each one access at the field's natural width. */
void keel_virtio_cfg_write8(struct keel_virtio_dev *dev, uint32_t off, uint8_t val);
void keel_virtio_cfg_write16(struct keel_virtio_dev *dev, uint32_t off, uint16_t val);
void keel_virtio_cfg_write32(struct keel_virtio_dev *dev, uint32_t off, uint32_t val);

/** Reads config fields into the caller's snapshot; called again until the snapshot is stable. */
typedef void (*keel_virtio_cfg_reader)(struct keel_virtio_dev *dev, void *arg);

/**
 * Run `fn` inside the generation loop (read generation, run, read generation again, retry while it
 * changed; legacy transports have no generation, so the reader runs until two runs agree through a
 * caller-supplied snapshot comparison: `snap`/`len` are compared byte for byte). At most
 * KEEL_CONFIG_VIRTIO_CONFIG_RETRIES attempts, then KEEL_EAGAIN. Thread/init context.
 */
int keel_virtio_config_read(struct keel_virtio_dev *dev, keel_virtio_cfg_reader fn, void *snap,
                            size_t len);

/* ---- Interrupts and events ----------------------------------------------------------------------
 */

/**
 * Attach interrupts for `nvqs` queues: MSI-X one vector per queue plus config when the function has
 * enough vectors, else one shared MSI-X vector, else INTx (PCI) or the platform line (MMIO). With
 * KEEL_VIRTIO_IRQ_POLL (or a HAL without irq_attach) nothing is attached. Call after
 * keel_virtio_begin and before creating queues (queues pick up their vector). `config_cb` may be
 * NULL. Returns 0 with dev->irq_mode set to what was attached. Init context.
 */
int keel_virtio_irq_setup(struct keel_virtio_dev *dev, enum keel_virtio_irq_mode mode,
                          uint16_t nvqs, keel_virtio_config_fn config_cb, void *config_arg);

/** Detach every interrupt attached by keel_virtio_irq_setup. Init context. */
void keel_virtio_irq_teardown(struct keel_virtio_dev *dev);

/** The MSI-X vector queue `index` uses (KEEL_VIRTIO_MSI_NO_VECTOR without MSI-X). Any context. */
uint16_t keel_virtio_queue_vector(const struct keel_virtio_dev *dev, uint16_t index);

/**
 * Service device-level events: pending configuration-change interrupts, and (rate-limited to
 * KEEL_CONFIG_VIRTIO_STATUS_POLL_US unless `force`) a look at the status register and config
 * generation, which is how a polled device reports them. Returns a mask of KEEL_VIRTIO_EV_* seen
 * (DEVICE_NEEDS_RESET set, config changed). Thread context of the device's owner.
 */
uint32_t keel_virtio_check(struct keel_virtio_dev *dev, bool force);

/** Human-readable transport name ("pci-modern", "pci-legacy", "mmio", "mmio-legacy"). Pure. */
const char *keel_virtio_transport_name(const struct keel_virtio_dev *dev);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_VIRTIO_H */
