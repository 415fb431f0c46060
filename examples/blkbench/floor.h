/* SPDX-License-Identifier: MIT */
/*
 * floor.h - blkbench's ceiling probe (nvme_floor.c): a hand-written minimal NVMe read loop that
 * bypasses Keel's driver, so its IOPS are the emulated device's limit. Thread context on the boot
 * CPU; it takes over the first NVMe controller for good (the machine ends after it).
 */
#ifndef KEEL_BLKBENCH_FLOOR_H
#define KEEL_BLKBENCH_FLOOR_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/port.h>

struct floor_cfg {
    const struct keel_port *port;
    unsigned qd;     /* 1..32 */
    uint32_t bs;     /* bytes, a multiple of the block size, at most 4096 */
    bool write;      /* random writes instead of reads */
    uint64_t ios;    /* measured I/Os (0: no limit) */
    uint64_t secs;   /* measured seconds (0: no limit) */
    uint64_t warmup; /* completions before the measurement starts (>= 1) */
    uint64_t seed;
};

struct floor_out {
    uint64_t ios, t0, t_end, errors, sectors;
    uint32_t sector_size;
};

typedef void (*floor_lat_fn)(uint64_t lat_us);

/** Run the probe on the first NVMe function, namespace 1. Returns 0 or a KEEL_E* code. */
int nvme_floor_run(const struct floor_cfg *c, floor_lat_fn rec, struct floor_out *o);

#endif
