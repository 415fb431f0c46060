/* SPDX-License-Identifier: MIT */
/*
 * sim/ramdisk.h - a memory-backed block driver for block-layer and partition tests. It behaves like
 * a real asynchronous driver: submit queues the request, poll completes it, with a bounded queue
 * depth (ENOSPC when full) and injectable I/O errors. It counts what reached it, so tests can prove
 * that the block layer stopped a request before the driver.
 */
#ifndef SIM_RAMDISK_H
#define SIM_RAMDISK_H

#include <stdint.h>

#include <keel/blkdev.h>

#define RAMDISK_MAX_DEPTH 64

struct ramdisk {
    struct keel_blkdev dev;
    uint8_t *data;
    uint64_t bytes;
    unsigned depth; /* queue depth per queue (<= RAMDISK_MAX_DEPTH) */
    struct keel_blk_req *pending[KEEL_CONFIG_BLK_MAX_QUEUES][RAMDISK_MAX_DEPTH];
    unsigned npending[KEEL_CONFIG_BLK_MAX_QUEUES];
    unsigned submits[KEEL_BLK_OP_COUNT]; /* requests that reached the driver, by op */
    uint64_t fail_lba;                   /* requests covering this LBA fail with EIO ... */
    bool fail_enabled;                   /* ... when set */
    bool never_complete;                 /* poll completes nothing (timeout tests) */
    unsigned recovers;
};

/**
 * Create a ramdisk of `sectors` x `sector_size` over `data` (caller-owned, may be NULL to allocate
 * with calloc), named `name`, with `flags` (KEEL_BLK_F_*), `queues` queues and `max_transfer`.
 */
struct ramdisk *ramdisk_create(const struct keel_hal *hal, const char *name, uint32_t sector_size,
                               uint64_t sectors, uint32_t flags, uint16_t queues,
                               uint32_t max_transfer);
/** Create over an image file's contents (read fully into memory). NULL on error. */
struct ramdisk *ramdisk_from_file(const struct keel_hal *hal, const char *name, const char *path,
                                  uint32_t sector_size);
void ramdisk_destroy(struct ramdisk *rd);

#endif
