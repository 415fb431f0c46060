/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hal.h - a Keel HAL whose device side is the fuzzer's input, for the libFuzzer harnesses.
 *
 * Two halves:
 *  - struct fz, a byte consumer over the fuzzer's input. Every read past the end returns zeroes,
 *    so a harness never needs to check lengths and a short input simply means a quiet device.
 *  - struct fuzz_hal, the whole HAL contract (keel/hal.h) for the driver under test:
 *      * register reads (MMIO, port I/O) go to a device emulation registered as a region, or, in
 *        stream mode, come straight from the input (writes are then dropped);
 *      * PCI configuration reads come from a callback or, in stream mode, from the input;
 *      * coherent DMA memory is one heap block per allocation (so ASan guards each one), with bus
 *        addresses below 4 GiB that differ from CPU pointers; streaming mappings get a fresh bus
 *        window each, never reused within one input, optionally one segment per page with gaps
 *        between them; allocation and mapping failures can be injected by number;
 *      * a virtual clock: time_us() advances by tick_us per read, delay_us() by at least its
 *        argument (at least delay_min_us), so every timeout runs instantly; once the clock has
 *        been read 512 times without a register write (a driver spinning until a deadline), each
 *        read also adds a step that doubles every 128 reads up to 131 ms, so even a wait of tens of
 *        seconds ends within a few thousand reads; an optional hook runs on every time read (how
 *        a harness lets the device act during a blocking driver call);
 *      * interrupts: attach/mask/eoi/detach bookkeeping, and fh_irq_raise() for the device side;
 *      * a counting lock (unbalanced use is a violation) and a log sink (printed when the
 *        environment variable KEEL_FUZZ_LOG is set).
 *    The device side reaches DMA memory only through fh_dma_*(), which translate bus addresses
 *    exactly like an IOMMU would and say when an address is not (or no longer) mapped.
 *
 * Violations (a contract breach by the driver: unaligned register access, unmapping an unknown
 * cookie, freeing twice, unbalanced locks, leaks at the end of an input, ...) print a message and
 * abort(), which libFuzzer reports as a crash and the replay driver as a failed test.
 *
 * Single-threaded, like the drivers' owner model: the device side runs inside HAL calls and
 * between the harness's calls.
 */
#ifndef KEEL_FUZZ_HAL_H
#define KEEL_FUZZ_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- input stream ------------------------------------------------------------------------------
 */

struct fz {
    const uint8_t *data;
    size_t size;
    size_t pos;
};

void fz_init(struct fz *f, const uint8_t *data, size_t size);
/** Bytes not consumed yet. */
size_t fz_left(const struct fz *f);
uint8_t fz_u8(struct fz *f);
uint16_t fz_u16(struct fz *f); /* little-endian */
uint32_t fz_u32(struct fz *f);
uint64_t fz_u64(struct fz *f);
/** `width` (1, 2, 4) bytes as a little-endian value. */
uint32_t fz_uN(struct fz *f, unsigned width);
/** Copy `len` bytes (zero-filled past the end). */
void fz_bytes(struct fz *f, void *out, size_t len);
/** A value in [0, n) (0 when n is 0), from as few bytes as n needs. */
uint32_t fz_below(struct fz *f, uint32_t n);

/* ---- platform ----------------------------------------------------------------------------------
 */

#define FH_MAX_REGIONS 8
#define FH_MAX_ALLOCS  96
#define FH_MAX_MAPS    256
#define FH_MAX_IRQS    40
#define FH_PAGE        4096u
#define FH_ALLOC_BUS   0x40000000ull     /* bus address of the first coherent allocation */
#define FH_MAP_BUS     0x5a0000000000ull /* bus window of streaming mappings */
#define FH_START_US    1000000u          /* the clock does not start at 0 */

/** How a caller buffer is cut into segments by dma_map. */
enum fh_map_mode {
    FH_MAP_SINGLE = 0, /* one bus-contiguous segment (identity-mapped firmware) */
    FH_MAP_PAGES = 1   /* one segment per CPU page, bus pages not adjacent (IOMMU, scattered) */
};

/** Register-file callbacks of a device emulation; `off` is relative to the region base. */
typedef uint32_t (*fh_reg_read_fn)(void *dev, uint64_t off, unsigned width);
typedef void (*fh_reg_write_fn)(void *dev, uint64_t off, unsigned width, uint32_t val);

struct fh_region {
    bool pio;
    uint64_t base, size;
    fh_reg_read_fn read;
    fh_reg_write_fn write;
    void *dev;
};

struct fh_alloc {
    bool live;
    void *cpu;
    size_t size;
    uint64_t bus;
};

struct fh_map {
    bool live;
    uint8_t *buf;
    size_t len;
    enum keel_dma_dir dir;
    bool pages;     /* FH_MAP_PAGES layout */
    uint64_t bus;   /* window base */
    uint64_t first; /* CPU address of the first page (buf rounded down) */
    unsigned npages;
};

struct fh_irq {
    bool used;
    bool masked;
    bool pending;
    struct keel_irq_src src;
    keel_irq_fn fn;
    void *arg;
};

/** Result of a device-side DMA access. */
enum fh_dma_result {
    FH_DMA_OK = 0,
    FH_DMA_UNMAPPED = 1, /* some byte is not in a live allocation or mapping */
    FH_DMA_READONLY = 2  /* a write into a mapping the driver made KEEL_DMA_TO_DEVICE */
};

struct fuzz_hal {
    struct keel_hal hal; /* hand &fh->hal to Keel */
    struct keel_hal_ops ops;
    struct fz *in; /* the input, for stream-mode registers and configuration space */

    /* registers */
    bool stream_regs; /* reads outside every region come from the input, writes are dropped */
    struct fh_region regions[FH_MAX_REGIONS];
    unsigned nregions;

    /* PCI configuration space: the callback, else the input (stream_pci), else absent */
    bool stream_pci;
    uint32_t (*pci_read)(void *dev, struct keel_pci_addr a, uint16_t off, unsigned width);
    void (*pci_write)(void *dev, struct keel_pci_addr a, uint16_t off, unsigned width,
                      uint32_t val);
    void *pci_dev;

    /* coherent DMA memory */
    struct fh_alloc allocs[FH_MAX_ALLOCS];
    unsigned allocs_used; /* slots ever used (searches stop there) */
    uint64_t alloc_bus_next;
    unsigned alloc_calls;
    unsigned alloc_fail_at; /* the n-th dma_alloc call (1-based) fails with KEEL_ENOMEM; 0: none */

    /* streaming mappings */
    enum fh_map_mode map_mode;
    struct fh_map maps[FH_MAX_MAPS];
    unsigned maps_used; /* slots ever used */
    uint64_t map_bus_next;
    unsigned map_calls;
    unsigned map_fail_at; /* the n-th dma_map call (1-based) fails with KEEL_ENOMEM; 0: none */

    /* time */
    uint64_t now_us;
    uint32_t tick_us;      /* per time_us() read (default 1) */
    uint32_t delay_min_us; /* delay_us() advances at least this much (default 1) */
    unsigned idle_reads;   /* clock reads since the last register write */
    void (*on_time)(void *arg);
    void *on_time_arg;
    bool in_on_time;

    /* interrupts */
    struct fh_irq irqs[FH_MAX_IRQS];
    unsigned irq_depth;

    /* lock and log */
    int lock_depth;
    unsigned log_lines;
    bool log_print;
};

/** Set up `fh` (all hooks present; stream modes off) over the input `in`. */
void fh_init(struct fuzz_hal *fh, struct fz *in);

/**
 * End of an input. With `expect_clean`, everything must have been given back: no live allocation
 * or mapping, no attached interrupt, no lock held (else a violation). Frees what is left either
 * way.
 */
void fh_finish(struct fuzz_hal *fh, bool expect_clean);

/** Report a violation and abort. */
void fh_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/** Route registers [base, base + size) (MMIO or port I/O) to a device emulation. */
void fh_region_add(struct fuzz_hal *fh, bool pio, uint64_t base, uint64_t size, fh_reg_read_fn rd,
                   fh_reg_write_fn wr, void *dev);

/* ---- device side -------------------------------------------------------------------------------
 */

/** CPU pointer for [bus, bus + len) inside one live coherent allocation, or NULL. */
void *fh_dma_ptr(struct fuzz_hal *fh, uint64_t bus, size_t len);
/** Device write / read of [bus, bus + len) through allocations and mappings (piecewise). */
enum fh_dma_result fh_dma_write(struct fuzz_hal *fh, uint64_t bus, const void *src, size_t len);
enum fh_dma_result fh_dma_read(struct fuzz_hal *fh, uint64_t bus, void *dst, size_t len);
/** What a device write of [bus, bus + len) would find, without writing. */
enum fh_dma_result fh_dma_check(struct fuzz_hal *fh, uint64_t bus, size_t len, bool write);

/** True when some live mapping overlaps [buf, buf + len). */
bool fh_buf_mapped(const struct fuzz_hal *fh, const void *buf, size_t len);
unsigned fh_live_allocs(const struct fuzz_hal *fh);
unsigned fh_live_maps(const struct fuzz_hal *fh);

/** Advance the clock by `us` (no hook). */
void fh_advance(struct fuzz_hal *fh, uint64_t us);

/** The handle attached for a source kind and index (-1 if none). */
int fh_irq_find(const struct fuzz_hal *fh, enum keel_irq_kind kind, uint32_t index);
/** Deliver interrupt `handle`: runs the handler now if attached and unmasked (after the one
 *  running, when called from inside a handler). */
void fh_irq_raise(struct fuzz_hal *fh, int handle);

#ifdef __cplusplus
}
#endif

#endif
