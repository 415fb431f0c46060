/* SPDX-License-Identifier: MIT */
/*
 * keel/hal.h - the hardware abstraction contract every Keel integrator implements.
 *
 * The HAL is the only door to hardware. Drivers never touch a register, a DMA buffer, a clock or an
 * interrupt controller except through the hooks below. An instance is one context pointer plus one
 * const ops table (struct keel_hal); several instances may coexist in one program (tests run a
 * simulated platform and a fuzzing platform side by side).
 *
 * Conventions for every hook:
 *  - `ctx` is the integrator's own pointer, passed back unchanged.
 *  - Hooks returning int return 0 on success or a negative KEEL_E* code (keel/error.h).
 *  - "Any context" means the hook may be called from thread context, with the HAL lock held,
 *    and from within an interrupt handler Keel registered; such hooks must not block or sleep.
 *  - "Init context" means only from the driver's attach/detach/reset paths (never from an interrupt
 *    handler); such hooks may block and may take locks.
 *  - Times are microseconds everywhere. Sizes are bytes. Addresses named `bus` are what the device
 *    puts on the bus (DMA); addresses named `io` are what the CPU uses for a register. They are
 *    different things; never mix them.
 *
 * docs/porting.md walks through implementing this contract, with two worked ports.
 */
#ifndef KEEL_HAL_H
#define KEEL_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Version of this contract. Bump the major when a hook changes meaning or signature; an ops table
 * built against another major is refused at init (keel_hal_check() returns KEEL_EHAL).
 */
#define KEEL_HAL_ABI_MAJOR   1
#define KEEL_HAL_ABI_MINOR   0
#define KEEL_HAL_ABI_VERSION ((KEEL_HAL_ABI_MAJOR << 16) | KEEL_HAL_ABI_MINOR)

/** A device-visible (DMA) address. 64-bit on every platform, including 32-bit CPUs. */
typedef uint64_t keel_bus_addr_t;

/**
 * A CPU-visible register address: what the MMIO and port I/O hooks receive. For MMIO it is the
 * mapped virtual address of the register (identity-mapped firmware: the physical address); for port
 * I/O it is the port number. Drivers only add offsets to it; only the HAL interprets it.
 */
typedef uintptr_t keel_io_addr_t;

/** A PCI function address (segment/bus/device/function). */
struct keel_pci_addr {
    uint16_t segment;
    uint8_t bus;
    uint8_t dev; /* 0..31 */
    uint8_t fn;  /* 0..7 */
};

/** Coherent DMA memory handed out by dma_alloc. */
struct keel_dma_mem {
    void *cpu;           /* CPU pointer to the first byte */
    keel_bus_addr_t bus; /* device address of the same byte */
    size_t size;         /* bytes, at least what was asked */
    void *cookie;        /* HAL-private, passed back to dma_free */
};

/** Direction of a streaming mapping, as seen from memory. */
enum keel_dma_dir {
    KEEL_DMA_TO_DEVICE = 1,   /* device reads the buffer (a write to disk) */
    KEEL_DMA_FROM_DEVICE = 2, /* device writes the buffer (a read from disk) */
    KEEL_DMA_BIDIRECTIONAL = 3,
};

/** Which side is about to own a mapped buffer, for dma_sync. */
enum keel_dma_sync_for {
    KEEL_DMA_SYNC_FOR_DEVICE = 1, /* CPU is done writing; clean caches / copy to bounce */
    KEEL_DMA_SYNC_FOR_CPU = 2,    /* device is done writing; invalidate / copy back */
};

/** One bus-contiguous piece of a mapped caller buffer. */
struct keel_dma_seg {
    keel_bus_addr_t bus;
    uint32_t len;
};

/** Kinds of memory barrier; all order accesses to DMA memory and to MMIO registers. */
enum keel_barrier {
    KEEL_BARRIER_FULL = 0,  /* loads and stores before vs. loads and stores after */
    KEEL_BARRIER_READ = 1,  /* loads before vs. loads after (e.g. phase tag, then entry) */
    KEEL_BARRIER_WRITE = 2, /* stores before vs. stores after (e.g. entry, then doorbell) */
};

/** What an interrupt source is, for irq_attach. */
enum keel_irq_kind {
    KEEL_IRQ_PCI_INTX = 1, /* legacy INTx of `pci`; `index` = pin (1 = INTA .. 4 = INTD) */
    KEEL_IRQ_PCI_MSIX = 2, /* MSI-X table entry `index` of function `pci` */
    KEEL_IRQ_PCI_MSI = 3,  /* MSI (single message); `index` is 0 */
    KEEL_IRQ_LINE = 4,     /* platform line (e.g. a GIC SPI for virtio-mmio); `index` = line */
};

#define KEEL_IRQ_F_LEVEL 0x1u /* level-triggered (INTx); else edge/message */

struct keel_irq_src {
    enum keel_irq_kind kind;
    struct keel_pci_addr pci; /* for the PCI kinds */
    uint32_t index;
    uint32_t flags; /* KEEL_IRQ_F_* */
};

/** An interrupt handler. Runs in interrupt context (or from irq injection in tests). */
typedef void (*keel_irq_fn)(void *arg);

/** Storage for one lock, owned by the driver instance that uses it; the HAL interprets it. */
typedef struct {
    uintptr_t word[2];
} keel_lock_t;

/** Log levels for the log hook. */
enum keel_log_level {
    KEEL_LOG_ERROR = 1,
    KEEL_LOG_WARN = 2,
    KEEL_LOG_INFO = 3,
    KEEL_LOG_DEBUG = 4,
};

/**
 * The hook table. Fields marked "optional" may be NULL; every other field is required and checked
 * by keel_hal_check(). The table must stay valid and unchanged for as long as any driver uses it.
 */
struct keel_hal_ops {
    /** Set to KEEL_HAL_ABI_VERSION. */
    uint32_t abi_version;

    /* ---- MMIO --------------------------------------------------------------------------------
     * Any context, never block. `addr` is naturally aligned for the width. Each call is exactly one
     * access of that width on the bus (no merging, splitting or caching: use device memory
     * attributes / volatile). 64-bit registers are composed by Keel from two 32-bit accesses,
     * because some controllers require that. An access to a device that has gone away returns
     * all-ones, which drivers check for.
     */
    uint8_t (*mmio_read8)(void *ctx, keel_io_addr_t addr);
    uint16_t (*mmio_read16)(void *ctx, keel_io_addr_t addr);
    uint32_t (*mmio_read32)(void *ctx, keel_io_addr_t addr);
    void (*mmio_write8)(void *ctx, keel_io_addr_t addr, uint8_t val);
    void (*mmio_write16)(void *ctx, keel_io_addr_t addr, uint16_t val);
    void (*mmio_write32)(void *ctx, keel_io_addr_t addr, uint32_t val);

    /* ---- Port I/O (optional as a group of six: x86 only; all NULL elsewhere) -------------------
     * Any context, never block. Used for I/O BARs (virtio legacy PCI). On platforms that reach PCI
     * I/O space through a memory window (Arm), leave these NULL and map I/O BARs with io_map.
     */
    uint8_t (*pio_read8)(void *ctx, keel_io_addr_t port);
    uint16_t (*pio_read16)(void *ctx, keel_io_addr_t port);
    uint32_t (*pio_read32)(void *ctx, keel_io_addr_t port);
    void (*pio_write8)(void *ctx, keel_io_addr_t port, uint8_t val);
    void (*pio_write16)(void *ctx, keel_io_addr_t port, uint16_t val);
    void (*pio_write32)(void *ctx, keel_io_addr_t port, uint32_t val);

    /* ---- PCI configuration space (optional: NULL on platforms without PCI) --------------------
     * Init context; may take a lock; never called from an interrupt handler. `width` is 1, 2 or 4
     * and `off` is aligned to it; `off` < 4096 (< 256 without ECAM). A read of an absent function
     * returns 0 with *val = all-ones. Failure (KEEL_EINVAL, KEEL_ENODEV) means the access did not
     * happen.
     */
    int (*pci_cfg_read)(void *ctx, struct keel_pci_addr pci, uint16_t off, uint8_t width,
                        uint32_t *val);
    int (*pci_cfg_write)(void *ctx, struct keel_pci_addr pci, uint16_t off, uint8_t width,
                         uint32_t val);

    /* ---- Register window mapping (optional) ---------------------------------------------------
     * Init context. Turn a physical MMIO range (a BAR, a virtio-mmio window, or on Arm an I/O BAR
     * seen through the CPU's I/O window: `is_pio` = true) into the keel_io_addr_t the access hooks
     * take. `*is_mmio_out` tells whether the result is to be used with the MMIO hooks (true) or the
     * port I/O hooks (false). NULL means identity: MMIO phys == io addr, and I/O BARs use the port
     * I/O hooks with the port number. All `size` bytes must be reachable from *out: never truncate
     * `phys` (a BAR above 4 GiB on a 32-bit CPU), fail instead. Failure: KEEL_ENOMEM (no virtual
     * space), KEEL_ERANGE (the range cannot be reached) or KEEL_ENOTSUP.
     */
    int (*io_map)(void *ctx, uint64_t phys, uint64_t size, bool is_pio, keel_io_addr_t *out,
                  bool *is_mmio_out);

    /* ---- Coherent DMA memory -------------------------------------------------------------------
     * Init context; may block. Allocate `size` bytes, zeroed, whose CPU pointer and bus address are
     * both aligned to `align` (a power of two, at most 4096 unless the HAL documents more), that
     * the CPU and device see coherently (no cache maintenance needed, only barriers), and that does
     * not cross a 4 GiB bus boundary unless size requires. Drivers allocate only while attaching;
     * never in the I/O path. Failure: KEEL_ENOMEM, and *out is untouched. dma_free: init context;
     * `mem` is exactly what dma_alloc returned.
     */
    int (*dma_alloc)(void *ctx, size_t size, size_t align, struct keel_dma_mem *out);
    void (*dma_free)(void *ctx, struct keel_dma_mem *mem);

    /* ---- Streaming mappings of caller buffers --------------------------------------------------
     * Any context, never block (may spin briefly on an IOMMU). Make `len` bytes at `buf` visible to
     * the device for `dir`: translate (IOMMU, offset), bounce (copy through DMA memory) and/or do
     * the cache maintenance for the device to own the buffer. Fill at most `max_segs`
     * bus-contiguous segments in order, covering the buffer exactly, and set *nsegs. `buf` may be
     * at any byte alignment; segments may split anywhere the platform's memory is discontiguous
     * (identity-mapped firmware returns one segment). `*cookie` is HAL-private state handed back to
     * unmap and sync. Failure: KEEL_ENOSPC (more than max_segs segments needed; the driver splits
     * the request), KEEL_ENOMEM (no bounce or IOMMU space: retry later), KEEL_EINVAL; nothing is
     * mapped then. dma_unmap: any context; ends the mapping, copying a bounce back for
     * FROM_DEVICE/BIDIRECTIONAL and invalidating caches as needed; after it returns the CPU owns
     * the buffer again. dma_sync (optional: NULL when map/unmap are enough): hand ownership of a
     * still-mapped buffer to the device or back to the CPU.
     */
    int (*dma_map)(void *ctx, void *buf, size_t len, enum keel_dma_dir dir,
                   struct keel_dma_seg *segs, unsigned max_segs, unsigned *nsegs, void **cookie);
    void (*dma_unmap)(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_dir dir);
    void (*dma_sync)(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_sync_for who);

    /* ---- Ordering ------------------------------------------------------------------------------
     * Any context. Order CPU accesses to coherent DMA memory and MMIO as `kind` says, as seen by
     * devices (x86: compiler barrier for READ/WRITE, mfence for FULL; Arm: dmb oshld / dmb oshst /
     * dmb osh, or dsb where MMIO follows).
     */
    void (*barrier)(void *ctx, enum keel_barrier kind);

    /* ---- Time ----------------------------------------------------------------------------------
     * time_us: any context; a monotonic microsecond counter that never goes backwards and does not
     * wrap within 2^63 us. delay_us: thread or init context; waits at least `us` microseconds (busy
     * wait is fine; it may sleep when not called with a lock held). Keel computes every deadline
     * from time_us; delay_us only spaces out polls.
     */
    uint64_t (*time_us)(void *ctx);
    void (*delay_us)(void *ctx, uint32_t us);

    /* ---- Interrupts (optional as a group: NULL irq_attach means "poll only") -------------------
     * With irq_attach, irq_detach, irq_mask and irq_eoi are required (keel_hal_check); msi_compose
     * stays optional (NULL: no MSI/MSI-X; drivers use INTx or a line).
     * irq_attach: init context. Route `src` to `fn(arg)` and return a handle; the source starts
     * masked. For KEEL_IRQ_PCI_MSIX/MSI the HAL allocates a CPU vector; Keel then asks msi_compose
     * for the message and programs the device itself. Failure: KEEL_ENOSPC (no vector),
     * KEEL_ENOTSUP (kind unsupported; the driver falls back to another kind or polling).
     * irq_detach: init context; after it returns `fn` is not running and never runs again.
     * irq_mask: any context; masked = true stops delivery (pending edges may be lost; drivers
     * poll after unmasking). irq_eoi: interrupt context; end-of-interrupt for level sources, after
     * the driver has quieted the device. msi_compose: init context; the address/data pair the
     * device must write to raise the vector bound to `handle`.
     */
    int (*irq_attach)(void *ctx, const struct keel_irq_src *src, keel_irq_fn fn, void *arg,
                      uint32_t *handle);
    void (*irq_detach)(void *ctx, uint32_t handle);
    void (*irq_mask)(void *ctx, uint32_t handle, bool masked);
    void (*irq_eoi)(void *ctx, uint32_t handle);
    int (*msi_compose)(void *ctx, uint32_t handle, uint64_t *addr, uint32_t *data);

    /* ---- Locking (optional: NULL for single-threaded integrations) ------------------------------
     * Any context. lock returns a state that unlock restores (e.g. saved interrupt flags). Keel
     * takes a lock only off the hot path (shared admin queues, registries); a queue pair has
     * exactly one owner and is never locked. `l` is zeroed storage owned by the driver; the HAL may
     * keep its lock state in it.
     */
    uintptr_t (*lock)(void *ctx, keel_lock_t *l);
    void (*unlock)(void *ctx, keel_lock_t *l, uintptr_t state);

    /* ---- Log (optional) -------------------------------------------------------------------------
     * Any context, never block. One NUL-terminated line without trailing newline. Compiled out
     * below KEEL_CONFIG_LOG_LEVEL.
     */
    void (*log)(void *ctx, enum keel_log_level level, const char *line);
};

/** One HAL instance: the integrator's context and hook table. Drivers keep a pointer to it. */
struct keel_hal {
    const struct keel_hal_ops *ops;
    void *ctx;
};

/* ---- Thin inline wrappers so driver code reads as register access, not function pointers. ---- */

static inline uint8_t keel_mmio_read8(const struct keel_hal *h, keel_io_addr_t a)
{
    return h->ops->mmio_read8(h->ctx, a);
}
static inline uint16_t keel_mmio_read16(const struct keel_hal *h, keel_io_addr_t a)
{
    return h->ops->mmio_read16(h->ctx, a);
}
static inline uint32_t keel_mmio_read32(const struct keel_hal *h, keel_io_addr_t a)
{
    return h->ops->mmio_read32(h->ctx, a);
}
static inline void keel_mmio_write8(const struct keel_hal *h, keel_io_addr_t a, uint8_t v)
{
    h->ops->mmio_write8(h->ctx, a, v);
}
static inline void keel_mmio_write16(const struct keel_hal *h, keel_io_addr_t a, uint16_t v)
{
    h->ops->mmio_write16(h->ctx, a, v);
}
static inline void keel_mmio_write32(const struct keel_hal *h, keel_io_addr_t a, uint32_t v)
{
    h->ops->mmio_write32(h->ctx, a, v);
}

/** Read a 64-bit register as low half then high half (NVMe CAP, ASQ, ACQ). */
static inline uint64_t keel_mmio_read64_lohi(const struct keel_hal *h, keel_io_addr_t a)
{
    uint64_t lo = keel_mmio_read32(h, a);
    uint64_t hi = keel_mmio_read32(h, a + 4u);
    return lo | (hi << 32);
}

/** Write a 64-bit register as low half then high half. */
static inline void keel_mmio_write64_lohi(const struct keel_hal *h, keel_io_addr_t a, uint64_t v)
{
    keel_mmio_write32(h, a, (uint32_t)v);
    keel_mmio_write32(h, a + 4u, (uint32_t)(v >> 32));
}

static inline void keel_barrier(const struct keel_hal *h, enum keel_barrier kind)
{
    h->ops->barrier(h->ctx, kind);
}
static inline void keel_rmb(const struct keel_hal *h)
{
    h->ops->barrier(h->ctx, KEEL_BARRIER_READ);
}
static inline void keel_wmb(const struct keel_hal *h)
{
    h->ops->barrier(h->ctx, KEEL_BARRIER_WRITE);
}
static inline void keel_mb(const struct keel_hal *h)
{
    h->ops->barrier(h->ctx, KEEL_BARRIER_FULL);
}

static inline uint64_t keel_time_us(const struct keel_hal *h)
{
    return h->ops->time_us(h->ctx);
}
static inline void keel_delay_us(const struct keel_hal *h, uint32_t us)
{
    h->ops->delay_us(h->ctx, us);
}

static inline uintptr_t keel_lock(const struct keel_hal *h, keel_lock_t *l)
{
    return h->ops->lock ? h->ops->lock(h->ctx, l) : 0u;
}
static inline void keel_unlock(const struct keel_hal *h, keel_lock_t *l, uintptr_t state)
{
    if (h->ops->unlock)
        h->ops->unlock(h->ctx, l, state);
}

/**
 * Check that `hal` implements this contract: ABI major matches and every required hook is present.
 * Returns 0 or KEEL_EHAL. Every driver's attach calls it first. Thread safety: pure; any context.
 */
int keel_hal_check(const struct keel_hal *hal);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_HAL_H */
