/* SPDX-License-Identifier: MIT */
/*
 * bench.h - Keel's host hot-path benchmark: the harness shared by every benchmark program.
 *
 * A benchmark brings a driver up on the simulated platform against the full device model (test/),
 * then, by default, hands the hot path to an "instant" device: bench_hal_install() swaps the sim's
 * hot HAL hooks (doorbell writes, time, barriers, streaming DMA maps) for minimal ones, and the
 * doorbell of the queue under test is served by a purpose-built device (instant_*.c) that completes
 * every command inside the doorbell write. What is left is the driver's own work plus a few
 * instructions of HAL and device per I/O, which callgrind attributes separately (tools/bench-host
 * splits the counts by source file).
 *
 * Every measured workload runs inside bench_measured_run(): tools/bench-host passes
 * --toggle-collect=bench_measured_run to callgrind, so set-up, warm-up and tear-down are not
 * counted. The hand-written protocol floors (floor_*.c) run inside the same function against the
 * same instant device.
 *
 * Host-only code (libc, one thread); not part of any driver library.
 */
#ifndef KEEL_BENCH_H
#define KEEL_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>
#include <sim/sim.h>

#define BENCH_BLOCK_BYTES 4096u /* every workload reads 4 KiB */
#define BENCH_QD_MAX      32u

/** Command line of a benchmark program. */
struct bench_opts {
    const char *workload; /* e.g. "split-qd32" (each program lists its own) */
    uint64_t ios;         /* measured I/Os per repetition */
    uint64_t warmup;      /* I/Os before the first measured repetition */
    unsigned reps;        /* measured repetitions (the median is reported) */
    bool floor;           /* the hand-written floor loop instead of the driver */
    bool model;           /* keep the full device model (no instant device, sim HAL hooks) */
};

/** Performs `ios` I/Os; returns how many completed successfully. */
typedef uint64_t (*bench_fn)(void *ctx, uint64_t ios);

/** The one function callgrind collects in (--toggle-collect). Never inlined. */
uint64_t bench_measured_run(bench_fn fn, void *ctx, uint64_t ios);

/** Parse argv into `o`; prints usage and exits on a bad option. `usage` names the workloads. */
void bench_parse(struct bench_opts *o, int argc, char **argv, const char *usage);

/** Abort the program with a message (set-up failures; a benchmark has nothing to recover). */
void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* ---- the driver workload: 4 KiB reads through the block layer ------------------------------ */

struct keel_blkdev;

/** State of the block-layer workload loop (bench_io_run). */
struct bench_io {
    struct keel_blkdev *dev;
    unsigned qd;           /* requests kept in flight (1 .. BENCH_QD_MAX) */
    uint32_t count;        /* sectors per request (4 KiB worth) */
    uint64_t lba_mask;     /* LBAs wrap inside this (a power of two minus one, in sectors) */
    uint8_t *bufs;         /* qd buffers of BENCH_BLOCK_BYTES, page aligned */
    bool batch;            /* each round of submissions inside keel_blk_plug / keel_blk_unplug */
    struct bench_req *req; /* qd requests */
    uint16_t free[BENCH_QD_MAX];
    unsigned nfree;
    uint64_t ok, failed;
};

/** Prepare `b` (dev, qd, count, lba_mask and batch set by the caller). */
void bench_io_init(struct bench_io *b);
/** bench_fn: keep b->qd reads in flight until `ios` completed (submit, then poll queue 0). */
uint64_t bench_io_run(void *ctx, uint64_t ios);
void bench_io_free(struct bench_io *b);

/* ---- the minimal HAL hooks ------------------------------------------------------------------ */

/** A doorbell write the instant device receives: `off` within the window, value written. */
typedef void (*bench_db_fn)(void *dev, uint64_t off, unsigned width, uint32_t val);

struct bench_hal {
    struct sim *s;
    struct keel_hal_ops orig; /* the sim's hooks: everything not swapped goes there */
    bool instant;             /* hooks swapped for the instant device (else: counting only) */
    keel_io_addr_t db_base;   /* doorbell window */
    uint64_t db_size;
    bench_db_fn db_fn; /* NULL: count, then forward to the sim (full model) */
    void *db_dev;
    uint64_t doorbells; /* writes into the window while installed */
    uint64_t now_us;    /* instant mode: the clock (1 us per read, as the sim's) */
};

/**
 * Route writes into [db_base, db_base + db_size) to `fn(dev, ...)` and, when `fn` is not NULL,
 * replace the sim's time, barrier and streaming-map hooks with minimal ones (identity mapping: bus
 * address = CPU address, one segment; barriers are compiler barriers; the clock is a counter that
 * continues the sim's). With `fn` NULL only doorbells are counted and everything reaches the
 * model. One bench_hal may be installed at a time.
 */
void bench_hal_install(struct bench_hal *bh, struct sim *s, keel_io_addr_t db_base,
                       uint64_t db_size, bench_db_fn fn, void *dev);
/** Put the sim's hooks back (before detaching the driver); the sim clock continues from ours. */
void bench_hal_remove(struct bench_hal *bh);
/** CPU pointer for a bus address handed out by the sim arena or by the identity mapping. */
void *bench_bus_ptr(const struct bench_hal *bh, uint64_t bus);

/* ---- timing and reporting ------------------------------------------------------------------- */

/**
 * Warm up, then run `reps` measured repetitions of `ios` I/Os with clock_gettime around each, and
 * print one result line:
 *   RESULT program=<p> workload=<w> impl=<driver|floor> device=<instant|model> ios=<n> reps=<r>
 *          ns_per_io=<median> ns_min=<min> doorbells_per_io=<d>
 * Exits non-zero when an I/O failed.
 */
void bench_report(const char *program, const struct bench_opts *o, struct bench_hal *bh,
                  bench_fn fn, void *ctx);

#endif
