/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vdev.h - the device side of virtio for the ring fuzzers: a virtio-mmio register file
 * (version 2, or the legacy version 1) that answers honestly, and a device-side ring engine (split
 * and packed) whose completions the harness drives from the fuzzer's input.
 *
 * The registers behave as the spec says (reset clears everything, FEATURES_OK is accepted unless
 * the harness refuses it, queue setup, per-queue reset, notifications, interrupt status and
 * acknowledge, device configuration with a generation counter), so the driver reaches its I/O paths
 * on every input. What the fuzzer controls is everything a hostile device writes into memory:
 * used elements and descriptors (ids, lengths, flags, indices), the status bytes and data it writes
 * into the driver's buffers, arbitrary bytes anywhere in ring memory, interrupts, configuration
 * changes and DEVICE_NEEDS_RESET.
 *
 * The engine also checks the driver, the way a strict device would: a chain the driver makes
 * available must be well formed (in range, no loop, readable before writable, no descriptor or
 * buffer id still in flight) and must point at live mappings in the right direction, and when the
 * device writes into the buffers of a chain it still holds, they must still be mapped. Each breach
 * is a violation (fh_fail), unless the device itself corrupted ring memory or lied about
 * completions earlier in this input ("tainted"), after which the driver cannot be blamed.
 */
#ifndef KEEL_FUZZ_VDEV_H
#define KEEL_FUZZ_VDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_hal.h"

#define FV_MAX_QUEUES   4
#define FV_MAX_RING     1024 /* largest queue size the device offers */
#define FV_MAX_SEGS     72   /* descriptors per chain, indirect ones included */
#define FV_MMIO_SIZE    0x200u
#define FV_CONFIG_BYTES 128u

#define FV_ISR_QUEUE  1u
#define FV_ISR_CONFIG 2u

struct fv_seg {
    uint64_t bus;
    uint32_t len;
    bool write;
};

/** One chain the device took from the ring and has not returned yet. */
struct fv_chain {
    uint16_t id;         /* split: head index; packed: buffer id */
    uint16_t ring_descs; /* ring slots it occupies */
    uint16_t nseg;
    uint16_t nring;
    struct fv_seg seg[FV_MAX_SEGS];
    uint16_t ring[FV_MAX_SEGS]; /* split: the ring descriptors it holds */
    uint64_t wlen;              /* device-writable bytes */
};

struct fv_queue {
    /* registers */
    uint32_t num_max, num;
    bool ready;
    uint64_t desc, driver, device;
    uint32_t pfn;
    /* device-side ring state */
    uint16_t last_avail, used_idx;  /* split */
    uint16_t next_avail, next_used; /* packed */
    bool avail_wrap, used_wrap;     /* packed */
    struct fv_chain *chains[FV_MAX_RING];
    unsigned nchains;
    bool owned[FV_MAX_RING]; /* split: descriptor held by the device */
    bool broken;             /* gave up on the ring (after the device itself corrupted it) */
};

struct fuzz_vdev {
    struct fuzz_hal *fh;
    uint64_t base;
    uint32_t irq_line;
    uint32_t version; /* 1 (legacy) or 2 */
    uint32_t device_id;
    uint64_t features; /* offered */
    uint64_t driver_features;
    uint32_t dev_sel, drv_sel;
    uint8_t status;
    uint32_t queue_sel;
    uint32_t guest_page, queue_align; /* version 1 */
    struct fv_queue q[FV_MAX_QUEUES];
    unsigned nq;
    uint32_t isr;
    uint8_t config[FV_CONFIG_BYTES];
    uint32_t generation;

    /* behaviour the harness switches */
    bool reset_stuck;        /* status 0 writes are ignored (the device never resets) */
    bool refuse_features_ok; /* FEATURES_OK does not stick */
    bool tainted;            /* the device misbehaved on purpose: its later DMA is not checked */

    /* called after the device took new chains on a notification (harness reaction) */
    void (*on_notify)(void *arg, unsigned q);
    void *notify_arg;

    unsigned resets;
};

/**
 * Register the device's window at `base` on `fh` (irq_line: its KEEL_IRQ_LINE). `nq` queues of at
 * most `qmax` entries. Features and configuration are the caller's to fill afterwards.
 */
void fv_init(struct fuzz_vdev *v, struct fuzz_hal *fh, uint64_t base, uint32_t irq_line,
             uint32_t version, uint32_t device_id, unsigned nq, uint32_t qmax);
/** Free the chains the device still holds. */
void fv_destroy(struct fuzz_vdev *v);

/** A 32-bit field of a request the driver wrote (little-endian, or native on the legacy interface).
 */
uint32_t fv_ld32(const struct fuzz_vdev *v, const uint8_t *p);

/** RING_PACKED was negotiated. */
bool fv_packed(const struct fuzz_vdev *v);

/** Take every chain the driver made available on queue `q` (also done on each notification). */
unsigned fv_consume(struct fuzz_vdev *v, unsigned q);

/**
 * Scatter `len` bytes into the device-writable part of chain `c` at writable offset `off`; false
 * when it does not fit. Writing into buffers the driver already unmapped is a violation.
 */
bool fv_chain_write(struct fuzz_vdev *v, const struct fv_chain *c, uint64_t off, const void *src,
                    size_t len);

/** Return chain `k` of queue `q` to the driver with used length `len` (a used element). */
void fv_complete(struct fuzz_vdev *v, unsigned q, unsigned k, uint32_t len);
/** Forget chain `k`: the device never completes it (a lost request). */
void fv_drop(struct fuzz_vdev *v, unsigned q, unsigned k);

/* Hostile writes: each one is a device lie. */
/** A used element (split) or used descriptor (packed, `flags` written as given) with any id/len. */
void fv_raw_used(struct fuzz_vdev *v, unsigned q, uint32_t id, uint32_t len, uint16_t flags);
/** Split: move used->idx by `delta` without writing elements. */
void fv_used_idx_add(struct fuzz_vdev *v, unsigned q, uint16_t delta);
/** Overwrite `n` bytes of queue `q`'s ring memory at offset `off` (wrapped into the ring). */
void fv_scribble(struct fuzz_vdev *v, unsigned q, uint32_t off, const uint8_t *bytes, size_t n);

/** Set interrupt cause bits and raise the line. */
void fv_interrupt(struct fuzz_vdev *v, uint32_t cause);
/** DEVICE_NEEDS_RESET (version 2) plus a configuration interrupt. */
void fv_needs_reset(struct fuzz_vdev *v);
/** Change `n` configuration bytes at `off`, bump the generation and signal it. */
void fv_config_change(struct fuzz_vdev *v, uint32_t off, const uint8_t *bytes, size_t n);

#endif
