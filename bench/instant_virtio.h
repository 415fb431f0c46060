/* SPDX-License-Identifier: MIT */
/*
 * instant_virtio.h - a minimal virtio device for the benchmark: on an available buffer
 * notification it consumes every chain the driver made available on that queue (split or packed,
 * direct or indirect descriptors), writes a success answer (virtio-blk: status byte
 * VIRTIO_BLK_S_OK into the last device-writable buffer; virtio-scsi: a 12-byte response header
 * with response OK, status GOOD, no sense, no residual into the first) and returns the chain as
 * used with the device-writable byte count as length, all inside the notify write. It never touches
 * data buffers, raises no interrupts, and (event index) always asks to be notified about the next
 * buffer, as a device that is idle when the driver kicks does.
 *
 * It takes over queues the full model set up: iv_queue_adopt() reads the ring addresses and the
 * current positions from the driver's struct keel_vq while the queue is idle (what the device had
 * learnt from the queue registers and its own progress).
 */
#ifndef KEEL_BENCH_INSTANT_VIRTIO_H
#define KEEL_BENCH_INSTANT_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/virtqueue.h>

#include "bench.h"

#define IV_MAX_QUEUES 16u

enum iv_kind {
    IV_BLK = 0,  /* last writable buffer: virtio-blk status byte */
    IV_SCSI = 1, /* first writable buffer: struct virtio_scsi_cmd_resp */
};

struct iv_queue {
    bool live;
    enum iv_kind kind;
    bool packed, event_idx;
    uint16_t size;
    uint8_t *desc, *driver, *device; /* ring areas (CPU) */
    uint16_t last_avail;             /* split: next available index to consume */
    uint16_t used_idx;               /* split: next used index to write */
    uint16_t pos;                    /* packed: next ring slot (available and used alike) */
    bool wrap;                       /* packed: the device's wrap counter */
    uint64_t chains;
};

struct iv_dev {
    const struct bench_hal *bh;
    struct iv_queue q[IV_MAX_QUEUES]; /* by virtqueue index */
};

/** Serve virtqueue vq->index from now on; the queue must be idle (nothing in flight). */
void iv_queue_adopt(struct iv_dev *d, const struct keel_vq *vq, enum iv_kind kind);

/** bench_db_fn for the virtio PCI notify window: the value written is the queue index. */
void iv_notify(void *dev, uint64_t off, unsigned width, uint32_t val);

#endif
