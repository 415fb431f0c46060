/* SPDX-License-Identifier: MIT */
/*
 * sim/sim.h - the simulated platform host tests run Keel on.
 *
 * It implements the whole HAL (struct keel_hal) over:
 *  - MMIO and port I/O dispatched by address range to device models;
 *  - a PCI configuration space of simulated functions with real BAR sizing semantics;
 *  - a DMA arena whose bus addresses differ from CPU pointers (bus = arena offset + SIM_BUS_BASE,
 *    or the base given to sim_set_arena_bus_base()),
 *    and streaming mappings of caller buffers that either translate page by page into a separate
 *    bus window (scrambled, so a driver assuming contiguity or using CPU pointers fails) or bounce
 *    through the arena (so a missing unmap/sync loses data and fails the test);
 *  - a virtual clock: every time_us() call advances it by `tick_us`, delay_us() by its argument, so
 *    timeouts run instantly and deterministically; models can schedule callbacks at a virtual time;
 *  - interrupt injection: models raise a handle; the handler runs if unmasked, else stays pending;
 *  - fault injection: numbered fault points that models consult (sim_fault_hit) and tests arm.
 *
 * Every contract violation the sim can see (access to an unmapped register, DMA to an unmapped bus
 * address, unmapping an unknown cookie, leaking a mapping, a misaligned MMIO access) is counted in
 * `violations` with a message; tests end with sim_assert_clean().
 *
 * Single-threaded by design: models run inside HAL calls (register writes, time reads), never on
 * another thread, so every test is reproducible.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_BUS_BASE     0x7f0000000000ull /* bus address of the DMA arena's first byte */
#define SIM_MAP_BUS_BASE 0x5a0000000000ull /* bus window for translated caller buffers */
#define SIM_PAGE         4096u

#define SIM_MAX_REGIONS     64
#define SIM_MAX_PCI_FNS     16
#define SIM_MAX_IRQS        128
#define SIM_MAX_MAPS        1024
#define SIM_MAX_TIMERS      64
#define SIM_MAX_FAULTS      64
#define SIM_MAX_POLLERS     16
#define SIM_MAX_MAP_PAGES   512               /* 2 MiB per mapping */
#define SIM_BOUNCE_BUS_BASE 0x3b0000000000ull /* bus window of bounce buffers */
#define SIM_MSIX_MAX        64

struct sim;

/** Register-file callbacks of a device model for one region. `off` is relative to the region. */
struct sim_region_ops {
    uint32_t (*read)(void *dev, uint64_t off, unsigned width);
    void (*write)(void *dev, uint64_t off, unsigned width, uint32_t val);
};

/** How caller buffers are mapped for DMA. */
enum sim_map_mode {
    SIM_MAP_TRANSLATE = 0, /* per-page translation into SIM_MAP_BUS_BASE, pages scrambled */
    SIM_MAP_BOUNCE = 1,    /* copied through the arena at map/unmap/sync */
    SIM_MAP_CONTIGUOUS = 2 /* per-page translation, but consecutive bus pages (one segment) */
};

/** A simulated PCI function: a 4 KiB configuration space plus BAR bookkeeping. */
struct sim_pci_fn {
    bool present;
    struct keel_pci_addr addr;
    uint8_t cfg[4096];
    uint8_t cfg_wmask[4096]; /* bits the driver may write */
    uint64_t bar_size[6];    /* 0: unimplemented; for 64-bit BARs the size sits in the low index */
    int bar_region[6];       /* region index that follows the BAR's address, or -1 */
    uint16_t cap_next_free;  /* where the next capability goes */
    void (*cfg_write_hook)(void *dev, uint16_t off, unsigned width, uint32_t val);
    void *dev;
};

struct sim_region {
    bool used;
    bool is_pio;
    bool enabled;
    uint64_t base, size;
    const struct sim_region_ops *ops;
    void *dev;
};

struct sim_irq {
    bool used;
    bool masked;
    bool pending;
    struct keel_irq_src src;
    keel_irq_fn fn;
    void *arg;
    unsigned raised; /* deliveries, for tests */
    unsigned eois;
};

struct sim_map {
    bool used;
    void *buf;
    size_t len;
    enum keel_dma_dir dir;
    uint64_t bus_first_page; /* translated: first bus page; bounce: arena bus address */
    uint64_t bounce_off;     /* bounce: arena offset */
    unsigned npages;
    uint32_t page_perm[SIM_MAX_MAP_PAGES]; /* translated: bus page slot per CPU page (scrambled) */
};

struct sim_timer {
    bool used;
    uint64_t at_us;
    void (*fn)(void *arg);
    void *arg;
};

struct sim_fault {
    bool armed;
    int id;         /* model-defined fault number */
    uint32_t skip;  /* let this many hits pass first */
    uint32_t count; /* then fire this many times (UINT32_MAX: forever) */
    uint64_t param; /* model-defined argument */
    uint32_t fired;
};

struct sim_poller {
    void (*fn)(void *arg);
    void *arg;
};

struct sim {
    struct keel_hal hal; /* hand &sim->hal to Keel */

    /* hook table (a copy, so a test can remove optional hooks) */
    struct keel_hal_ops ops;

    /* DMA arena */
    uint8_t *arena;
    size_t arena_size;
    size_t arena_next;
    unsigned dma_allocs, dma_frees;

    /* streaming mappings */
    enum sim_map_mode map_mode;
    struct sim_map maps[SIM_MAX_MAPS];
    unsigned maps_live, maps_total;
    uint64_t map_bus_next_page;
    uint32_t scramble; /* LCG state for page scrambling */
    uint8_t *bounce;   /* bounce arena, bus SIM_BOUNCE_BUS_BASE */
    size_t bounce_size, bounce_next;

    /* registers */
    struct sim_region regions[SIM_MAX_REGIONS];
    struct sim_pci_fn pci[SIM_MAX_PCI_FNS];

    /* time */
    uint64_t now_us;
    uint32_t tick_us; /* advance per time_us() read (default 1) */
    struct sim_timer timers[SIM_MAX_TIMERS];
    struct sim_poller pollers[SIM_MAX_POLLERS];
    bool in_poll;

    /* interrupts */
    struct sim_irq irqs[SIM_MAX_IRQS];
    uint64_t msi_base; /* MSI doorbell address composed by msi_compose */

    /* faults */
    struct sim_fault faults[SIM_MAX_FAULTS];

    /* counters and contract violations */
    unsigned mmio_reads, mmio_writes, barriers, locks_held;
    unsigned violations;
    char last_violation[256];
    unsigned log_lines;
    char last_log[256];
    bool log_to_stderr;

    /* bus address of the arena's first byte: SIM_BUS_BASE unless sim_set_arena_bus_base() */
    uint64_t arena_bus;

    /* Optional (NULL by default): called by sim_dma_write with a private copy of the `len` bytes a
       device model is about to write at `bus`, before they land; it may change them. The fuzz
       harnesses (test/fuzz) play a hostile device this way. */
    void (*dma_write_hook)(void *arg, uint64_t bus, uint8_t *data, size_t len);
    void *dma_write_hook_arg;
};

/** Create a platform with an arena of `arena_size` bytes (malloc'ed). Free with sim_destroy. */
struct sim *sim_create(size_t arena_size);
/** sim_create with a bounce arena of `bounce_size` bytes instead of 8 MiB (fuzzers: cheaper). */
struct sim *sim_create_sized(size_t arena_size, size_t bounce_size);
void sim_destroy(struct sim *s);

/** Record a contract violation (used by the sim and by models). */
void sim_violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Fail the current cmocka test when any violation was recorded, printing the last one. */
void sim_assert_clean_impl(struct sim *s, const char *file, int line);
#define sim_assert_clean(s) sim_assert_clean_impl((s), __FILE__, __LINE__)

/* ---- registers ---- */
int sim_region_add(struct sim *s, bool is_pio, uint64_t base, uint64_t size,
                   const struct sim_region_ops *ops, void *dev);
void sim_region_move(struct sim *s, int region, uint64_t base, bool enabled);

/* ---- PCI ---- */
/**
 * Add a function with vendor/device/class. Returns the function, with a capability list empty and
 * every header field writable as on real hardware (command, BARs, interrupt line).
 */
struct sim_pci_fn *sim_pci_add(struct sim *s, struct keel_pci_addr a, uint16_t vendor,
                               uint16_t device, uint32_t class_rev);
/** Declare BAR `idx` of `size` bytes (power of two) backed by a region with `ops`. */
int sim_pci_bar(struct sim *s, struct sim_pci_fn *fn, unsigned idx, uint64_t size, bool is_io,
                bool is_64, const struct sim_region_ops *ops, void *dev);
/** Place BAR `idx` at `addr` as firmware would (SeaBIOS-style pre-assigned). */
void sim_pci_bar_set(struct sim *s, struct sim_pci_fn *fn, unsigned idx, uint64_t addr);
/** Append a capability of `len` bytes (id and next filled in); returns its offset. */
uint16_t sim_pci_cap_add(struct sim_pci_fn *fn, uint8_t id, const uint8_t *body, unsigned len);
void sim_pci_cfg_put(struct sim_pci_fn *fn, uint16_t off, unsigned width, uint32_t val);
uint32_t sim_pci_cfg_get(const struct sim_pci_fn *fn, uint16_t off, unsigned width);

/* ---- DMA, as seen from device models ---- */
/** Copy `len` bytes from bus address `bus` into `out`. False (and a violation) if unmapped. */
bool sim_dma_read(struct sim *s, uint64_t bus, void *out, size_t len);
/** Copy `len` bytes from `in` to bus address `bus`. False (and a violation) if unmapped. */
bool sim_dma_write(struct sim *s, uint64_t bus, const void *in, size_t len);
/** CPU pointer for an arena bus address range (coherent memory), or NULL. */
void *sim_dma_ptr(struct sim *s, uint64_t bus, size_t len);
/** True when [bus, bus+len) is currently device-accessible (arena or a live mapping). */
bool sim_dma_valid(struct sim *s, uint64_t bus, size_t len);

/**
 * Move the arena's bus window to `bus` (page aligned), e.g. below 16 TiB for legacy virtio whose
 * 32-bit page frame numbers cannot reach SIM_BUS_BASE. Only before the first dma_alloc: false
 * (and nothing changes) otherwise.
 */
bool sim_set_arena_bus_base(struct sim *s, uint64_t bus);

/* ---- time ---- */
/** Run `fn(arg)` once the virtual clock reaches now + delay_us. Returns a timer id. */
int sim_timer_add(struct sim *s, uint64_t delay_us, void (*fn)(void *arg), void *arg);
void sim_timer_cancel(struct sim *s, int id);
/** Call `fn(arg)` whenever time advances (device models that process queues in the background). */
int sim_poller_add(struct sim *s, void (*fn)(void *arg), void *arg);
/** Remove a poller added by sim_poller_add (a model being destroyed). */
void sim_poller_remove(struct sim *s, int id);
/** Advance the clock by `us` (runs timers and pollers). */
void sim_advance(struct sim *s, uint64_t us);

/* ---- interrupts ---- */
/** Find the handle attached for a source (-1 if none). */
int sim_irq_find(struct sim *s, enum keel_irq_kind kind, struct keel_pci_addr a, uint32_t index);
/** Raise handle: runs the handler now if unmasked, else marks it pending. */
void sim_irq_raise(struct sim *s, int handle);
/** Raise by MSI message (address/data as programmed by the driver). */
void sim_msi_write(struct sim *s, uint64_t addr, uint32_t data);

/* ---- MSI-X table emulation shared by device models ---- */
struct sim_msix {
    struct sim *s;
    struct sim_pci_fn *fn;
    uint16_t cap_off;
    unsigned nvec;
    uint32_t table[SIM_MSIX_MAX][4]; /* addr lo, addr hi, data, vector control */
    bool pending[SIM_MSIX_MAX];
    unsigned fired[SIM_MSIX_MAX];
};
/** Add the MSI-X capability to `fn` (table at bar/table_off, PBA at bar/pba_off), all masked. */
void sim_msix_init(struct sim_msix *m, struct sim *s, struct sim_pci_fn *fn, unsigned nvec,
                   unsigned bar, uint32_t table_off, uint32_t pba_off);
/** Table and PBA accesses, for the model's BAR handler; `off` relative to the table start. */
uint32_t sim_msix_table_read(struct sim_msix *m, uint64_t off, unsigned width);
void sim_msix_table_write(struct sim_msix *m, uint64_t off, unsigned width, uint32_t val);
uint32_t sim_msix_pba_read(struct sim_msix *m, uint64_t off, unsigned width);
/** MSI-X enabled in the capability (and function not masked). */
bool sim_msix_enabled(const struct sim_msix *m);
/** Signal vector `vec`: delivered now when enabled and unmasked, else left pending. */
void sim_msix_fire(struct sim_msix *m, unsigned vec);

/* ---- faults ---- */
/** Arm fault `id`: after `skip` hits, fire `count` times with `param`. */
void sim_fault_arm(struct sim *s, int id, uint32_t skip, uint32_t count, uint64_t param);
void sim_fault_clear(struct sim *s, int id);
/** Consulted by models: true when fault `id` fires on this hit (param in *param if non-NULL). */
bool sim_fault_hit(struct sim *s, int id, uint64_t *param);
/**
 * Look at an armed fault without consuming a hit: true when `id` is armed, with its param in
 * *param (models use it to filter which events may hit the fault at all).
 */
bool sim_fault_peek(const struct sim *s, int id, uint64_t *param);
/** How many times fault `id` has fired. */
uint32_t sim_fault_fired(const struct sim *s, int id);

#ifdef __cplusplus
}
#endif

#endif
