/* SPDX-License-Identifier: MIT */
/* The instant NVMe queue pair (see instant_nvme.h). Little-endian host assumed. */
#include <string.h>

#include "bench.h"
#include "instant_nvme.h"

#define SQE_BYTES 64u
#define CQE_BYTES 16u

void inv_adopt(struct inv_dev *d, const struct keel_nvme_qpair *q, uint32_t db_stride)
{
    if (q->sq_rung != q->sq_tail || q->cq_unrung != 0 || q->nfree != q->nslots)
        bench_die("instant nvme: queue %u is not idle", (unsigned)q->qid);
    memset(d, 0, sizeof(*d));
    d->sq = q->sq_mem.cpu;
    d->cq = q->cq_mem.cpu;
    d->entries = q->entries;
    d->qid = q->qid;
    d->stride = db_stride;
    d->sq_tail = q->sq_tail;
    d->sq_head = q->sq_tail;
    d->cq_tail = q->cq_head;
    d->cq_head = q->cq_head;
    d->phase = q->phase;
}

static uint16_t next(const struct inv_dev *d, uint16_t i)
{
    return (uint16_t)(i + 1u == d->entries ? 0u : i + 1u);
}

static void process(struct inv_dev *d)
{
    while (d->sq_head != d->sq_tail && next(d, d->cq_tail) != d->cq_head) {
        const uint8_t *sqe = d->sq + (size_t)d->sq_head * SQE_BYTES;
        uint8_t *cqe = d->cq + (size_t)d->cq_tail * CQE_BYTES;
        uint16_t cid = *(const volatile uint16_t *)(const void *)(sqe + 2u);

        d->sq_head = next(d, d->sq_head);
        *(volatile uint32_t *)(void *)cqe = 0;                 /* DW0 */
        *(volatile uint32_t *)(void *)(cqe + 4u) = 0;          /* DW1 */
        *(volatile uint16_t *)(void *)(cqe + 8u) = d->sq_head; /* SQHD */
        *(volatile uint16_t *)(void *)(cqe + 10u) = d->qid;    /* SQID */
        *(volatile uint16_t *)(void *)(cqe + 12u) = cid;       /* CID */
        __asm__ volatile("" ::: "memory");                     /* phase tag last */
        *(volatile uint16_t *)(void *)(cqe + 14u) = d->phase;  /* status 0, P */
        d->cq_tail = next(d, d->cq_tail);
        if (d->cq_tail == 0u)
            d->phase ^= 1u;
        d->cmds++;
    }
}

void inv_doorbell(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct inv_dev *d = dev;

    (void)width;
    if (val >= d->entries)
        return; /* an invalid doorbell value is ignored */
    if (off == 0)
        d->sq_tail = (uint16_t)val;
    else if (off == d->stride)
        d->cq_head = (uint16_t)val;
    process(d);
}
