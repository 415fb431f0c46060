/* SPDX-License-Identifier: MIT */
/*
 * floor_nvme.h - the hand-written NVMe protocol floor (floor_nvme.c): a bench_fn (bench.h) over
 * the context below, filled by keel-bench-nvme after the real driver created the queue pair and
 * left it idle.
 */
#ifndef KEEL_BENCH_FLOOR_NVME_H
#define KEEL_BENCH_FLOOR_NVME_H

#include <stdint.h>

#include <keel/hal.h>

#include "bench.h"

/** NVMe floor: one I/O queue pair taken over from the driver while idle. */
struct floor_nvme {
    const struct keel_hal *hal;
    keel_io_addr_t sq_db, cq_db;
    uint8_t *sq, *cq;
    uint16_t entries;
    uint16_t sq_tail, cq_head;
    uint8_t phase;
    unsigned qd;
    uint32_t nsid;
    uint16_t nlb0; /* blocks per 4 KiB read, minus one (NLB is 0-based) */
    uint64_t data_bus[BENCH_QD_MAX];
    uint64_t seq, lba_mask; /* logical blocks */
};

uint64_t floor_nvme(void *ctx, uint64_t ios);

#endif
