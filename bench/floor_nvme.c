/* SPDX-License-Identifier: MIT */
/*
 * The NVMe protocol floor: 4 KiB Reads on one I/O queue pair, a batch of `qd` per SQ tail doorbell.
 * Per command it writes the 64-byte submission entry (opcode and CID, NSID, PRP1 for the one page,
 * SLBA, NLB; every other dword zeroed, since the slot held an older command); per completion it
 * checks the phase tag, then (after a read barrier) the CID range and the status, and advances the
 * head and phase; one CQ head doorbell per batch. No PRP lists (a 4 KiB page-aligned buffer needs
 * none), no mapping (identity), no SQ head bookkeeping beyond what a fixed depth below the queue
 * size needs, no timeouts: a lower bound for the queue work, not a driver.
 */
#include <keel/hal.h>

#include "floor_nvme.h"

#define SQE_BYTES 64u
#define CQE_BYTES 16u

static void wr64(uint8_t *p, uint64_t v)
{
    *(volatile uint64_t *)(void *)p = v;
}

static void write_sqe(struct floor_nvme *f, uint16_t cid, uint64_t slba)
{
    uint8_t *e = f->sq + (size_t)f->sq_tail * SQE_BYTES;

    wr64(e, 0x02u | ((uint64_t)cid << 16) | ((uint64_t)f->nsid << 32)); /* Read, CID, NSID */
    wr64(e + 8u, 0);                                                    /* CDW2, CDW3 */
    wr64(e + 16u, 0);                                                   /* MPTR */
    wr64(e + 24u, f->data_bus[cid]);                                    /* PRP1 */
    wr64(e + 32u, 0);                                                   /* PRP2 */
    wr64(e + 40u, slba);                                                /* CDW10, CDW11 */
    wr64(e + 48u, f->nlb0);                                             /* CDW12, CDW13 */
    wr64(e + 56u, 0);                                                   /* CDW14, CDW15 */
    if (++f->sq_tail == f->entries)
        f->sq_tail = 0;
}

/* One completion when the phase tag says so: 1 (success), 0 (error), -1 (none yet). */
static int reap_one(struct floor_nvme *f)
{
    const uint8_t *c = f->cq + (size_t)f->cq_head * CQE_BYTES;
    uint16_t st = *(const volatile uint16_t *)(const void *)(c + 14u), cid;

    if ((st & 1u) != f->phase)
        return -1;
    keel_rmb(f->hal);
    cid = *(const volatile uint16_t *)(const void *)(c + 12u);
    st = *(const volatile uint16_t *)(const void *)(c + 14u);
    if (++f->cq_head == f->entries) {
        f->cq_head = 0;
        f->phase ^= 1u;
    }
    return cid < f->qd && (st >> 1) == 0u;
}

uint64_t floor_nvme(void *ctx, uint64_t ios)
{
    struct floor_nvme *f = ctx;
    uint64_t done = 0, ok = 0;

    while (done < ios) {
        unsigned n = ios - done < f->qd ? (unsigned)(ios - done) : f->qd, got = 0;
        uint16_t cid;
        for (cid = 0; cid < n; cid++)
            write_sqe(f, cid, ((f->seq++) * (f->nlb0 + 1u)) & f->lba_mask);
        keel_wmb(f->hal); /* entries before the doorbell */
        keel_mmio_write32(f->hal, f->sq_db, f->sq_tail);
        while (got < n) {
            int r = reap_one(f);
            if (r < 0)
                continue; /* not yet (never with the instant device) */
            got++;
            ok += (uint64_t)r;
        }
        keel_mmio_write32(f->hal, f->cq_db, f->cq_head);
        done += got;
    }
    return ok;
}
