/* SPDX-License-Identifier: MIT */
/*
 * instant_nvme.h - a minimal NVMe I/O queue pair for the benchmark: on an SQ tail doorbell it
 * consumes every new submission entry and posts a successful completion for each (CID copied, SQ
 * head and SQID filled, phase tag written last), inside the doorbell write, as long as the
 * completion queue has room (a full CQ holds the rest back until the next CQ head doorbell, as a
 * controller does). It never touches data buffers and raises no interrupt.
 *
 * It takes over the I/O queue pair the full model created: inv_adopt() reads the queue memory and
 * positions from the driver's struct keel_nvme_qpair while the queue is idle (what the controller
 * had learnt from Create I/O SQ/CQ and its own progress).
 */
#ifndef KEEL_BENCH_INSTANT_NVME_H
#define KEEL_BENCH_INSTANT_NVME_H

#include <stdint.h>

#include <keel/nvme.h>

struct inv_dev {
    uint8_t *sq, *cq; /* queue memory (CPU) */
    uint16_t entries; /* SQ and CQ size */
    uint16_t qid;
    uint32_t stride;  /* doorbell stride: the CQ head doorbell is at +stride */
    uint16_t sq_tail; /* last SQ tail doorbell value */
    uint16_t sq_head; /* next entry to fetch */
    uint16_t cq_tail; /* next completion slot */
    uint16_t cq_head; /* last CQ head doorbell value */
    uint8_t phase;    /* phase tag of the current CQ pass */
    uint64_t cmds;
};

/** Serve I/O queue pair `q` (idle) whose SQ tail doorbell is the window's offset 0. */
void inv_adopt(struct inv_dev *d, const struct keel_nvme_qpair *q, uint32_t db_stride);

/** bench_db_fn for the window [SQ tail doorbell, CQ head doorbell + 4). */
void inv_doorbell(void *dev, uint64_t off, unsigned width, uint32_t val);

#endif
