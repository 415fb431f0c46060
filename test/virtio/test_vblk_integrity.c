/* SPDX-License-Identifier: MIT */
/*
 * Data integrity: many concurrent reads, writes, trims, write-zeroes and flushes over several
 * queues, with the device completing out of order and late, on every transport and ring format. The
 * test keeps its own image of what the disk must hold; reads are checked against it as they
 * complete, and at the end the model's backing memory must equal it byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

#define SLOTS 24 /* requests in flight at most: each owns a disjoint region of the disk */
#define OPS   700

struct slot {
    struct vt_req q;
    bool busy;
    uint8_t *buf;
    uint8_t *expect; /* reads: what the region must hold */
};

struct run {
    struct vt v;
    uint8_t *image;
    uint32_t bs;     /* logical block size */
    uint64_t blocks; /* device blocks */
    uint64_t region; /* blocks per slot region */
    uint32_t rng;
    struct slot s[SLOTS];
    unsigned completed[KEEL_BLK_OP_COUNT];
};

static uint32_t rnd(struct run *r)
{
    r->rng = r->rng * 1664525u + 1013904223u;
    return r->rng >> 8;
}

static void check_done(struct run *r, struct slot *sl)
{
    struct keel_blk_req *q = &sl->q.r;

    assert_int_equal(sl->q.status, KEEL_OK);
    if (q->op == KEEL_BLK_OP_READ)
        assert_memory_equal(q->buf, sl->expect, (size_t)q->count * r->bs);
    r->completed[q->op]++;
    sl->busy = false;
}

static void poll_all(struct run *r)
{
    unsigned q, i;

    for (q = 0; q < r->v.vb->nq; q++)
        (void)keel_blk_poll(&r->v.vb->blk, q, 0);
    sim_advance(r->v.s, 3);
    for (i = 0; i < SLOTS; i++)
        if (r->s[i].busy && r->s[i].q.done)
            check_done(r, &r->s[i]);
}

static void issue(struct run *r, unsigned i)
{
    struct slot *sl = &r->s[i];
    uint64_t base = r->region * i;
    uint32_t count = 1u + rnd(r) % (uint32_t)(r->region < 96 ? r->region : 96);
    uint64_t lba = base + rnd(r) % (r->region - count + 1u);
    uint8_t op = (uint8_t)(rnd(r) % 10u);
    size_t off = (size_t)lba * r->bs, len = (size_t)count * r->bs;
    unsigned misalign = rnd(r) % 64u;
    int rc;

    /* mostly reads and writes, some of everything else */
    op = op < 4    ? KEEL_BLK_OP_READ
         : op < 8  ? KEEL_BLK_OP_WRITE
         : op == 8 ? (uint8_t)(KEEL_BLK_OP_TRIM + rnd(r) % 2u)
                   : KEEL_BLK_OP_FLUSH;
    vt_req_init(&sl->q, op, (uint16_t)(rnd(r) % r->v.vb->nq), lba, count, NULL);
    sl->buf = malloc(len + 64);
    assert_non_null(sl->buf);
    sl->buf += misalign;
    switch (op) {
    case KEEL_BLK_OP_READ:
        memcpy(sl->expect, r->image + off, len);
        sl->q.r.buf = sl->buf;
        break;
    case KEEL_BLK_OP_WRITE:
        vt_fill(sl->buf, len, rnd(r));
        memcpy(r->image + off, sl->buf, len);
        sl->q.r.buf = sl->buf;
        if (rnd(r) % 4u == 0)
            sl->q.r.flags = KEEL_BLK_REQ_FUA;
        break;
    case KEEL_BLK_OP_TRIM:
        memset(r->image + off, 0xd7, len); /* the model's discard_fill */
        sl->q.r.buf = NULL;
        break;
    case KEEL_BLK_OP_WRITE_ZEROES:
        memset(r->image + off, 0, len);
        sl->q.r.buf = NULL;
        if (rnd(r) % 2u == 0)
            sl->q.r.flags = KEEL_BLK_REQ_UNMAP;
        break;
    default:
        sl->q.r.buf = NULL;
        sl->q.r.count = 0;
        sl->q.r.lba = 0;
        break;
    }
    sl->buf -= misalign;
    sl->busy = true;
    while ((rc = keel_blk_submit(&r->v.vb->blk, &sl->q.r)) == KEEL_ENOSPC)
        poll_all(r);
    assert_int_equal(rc, KEEL_OK);
}

static void release(struct slot *sl)
{
    free(sl->buf);
    sl->buf = NULL;
}

static void run_mix(const struct vt_params *p, uint32_t bs, enum vmodel_order order,
                    enum vmodel_mode mode, uint32_t seed)
{
    struct run *r = calloc(1, sizeof(*r));
    size_t mlen;
    unsigned n, i, spins;

    assert_non_null(r);
    r->rng = seed;
    vt_init(&r->v, p);
    r->v.bc.capacity = 8192; /* 4 MiB */
    r->v.bc.blk_size = bs;
    r->v.bc.num_queues = 3;
    r->v.bc.discard_fill = 0xd7;
    r->v.bc.seg_max = 16;
    r->v.bc.max_discard_sectors = 40;
    r->v.bc.max_write_zeroes_sectors = 24;
    r->v.mc.order = order;
    r->v.mc.mode = mode;
    r->v.mc.latency_us = 7;
    assert_int_equal(vt_start(&r->v), KEEL_OK);
    r->bs = bs;
    r->blocks = r->v.vb->blk.info.sector_count;
    r->region = r->blocks / SLOTS;
    r->image = malloc(r->blocks * bs);
    memcpy(r->image, vmodel_blk_media(r->v.b, &mlen), r->blocks * bs);
    for (i = 0; i < SLOTS; i++)
        r->s[i].expect = malloc(96u * bs);
    for (n = 0; n < OPS; n++) {
        i = rnd(r) % SLOTS;
        for (spins = 0; r->s[i].busy; spins++) {
            poll_all(r);
            assert_true(spins < 100000u);
        }
        release(&r->s[i]);
        issue(r, i);
        if (n % 5u == 0)
            poll_all(r);
    }
    for (i = 0; i < SLOTS; i++)
        for (spins = 0; r->s[i].busy; spins++) {
            poll_all(r);
            assert_true(spins < 100000u);
        }
    assert_true(r->completed[KEEL_BLK_OP_READ] > OPS / 5);
    assert_true(r->completed[KEEL_BLK_OP_WRITE] > OPS / 5);
    assert_true(r->completed[KEEL_BLK_OP_TRIM] + r->completed[KEEL_BLK_OP_WRITE_ZEROES] > 10);
    /* the media, byte for byte */
    assert_true(vt_media_equals(&r->v, 0, r->image, r->blocks * bs));
    assert_int_equal(vmodel_stats(r->v.m)->driver_errors, 0);
    assert_int_equal(vmodel_blk_stats(r->v.b)->shape_errors, 0);
    for (i = 0; i < SLOTS; i++) {
        release(&r->s[i]);
        free(r->s[i].expect);
    }
    /* the block layer saw every request complete once; notifications were exactly the needed ones
     */
    {
        uint64_t total = 0, batched = 0;
        unsigned q, o;
        for (q = 0; q < r->v.vb->nq; q++) {
            const struct keel_vq_stats *qs = keel_vblk_vq_stats(r->v.vb, q);
            const struct vmodel_vq_stats *ms = &vmodel_stats(r->v.m)->vq[q];
            assert_false(vmodel_notify_owed(r->v.m, q));
            assert_int_equal(ms->notifies_unneeded, 0);
            assert_int_equal(ms->notifies, qs->notifications);
            assert_int_equal(qs->kicks, qs->notifications + qs->suppressed);
            assert_int_equal(qs->violations, 0);
            if (mode == VMODEL_DEFERRED)
                assert_true(qs->suppressed > 0);
            batched += ms->max_batch > 1u;
            for (o = 0; o < KEEL_BLK_OP_COUNT; o++)
                total += r->v.vb->blk.stats[q].requests[o];
            assert_int_equal(r->v.vb->blk.stats[q].in_flight, 0);
            assert_true(keel_vblk_vq_stats(r->v.vb, q)->occupancy_max >= 1);
        }
        assert_int_equal(total, OPS);
        if (mode == VMODEL_DEFERRED)
            assert_true(batched > 0); /* many buffers per notification */
    }
    vt_finish(&r->v);
    free(r->image);
    free(r);
}

static void test_mixed_io_pci_modern_packed_irq_out_of_order(void **state)
{
    struct vt_params p = {VMODEL_PCI_MODERN, true, true, SIM_MAP_TRANSLATE};
    (void)state;
    run_mix(&p, 512, VMODEL_ORDER_REVERSE, VMODEL_DEFERRED, 1);
}

static void test_mixed_io_pci_modern_split_poll_4k_blocks(void **state)
{
    struct vt_params p = {VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE};
    (void)state;
    run_mix(&p, 4096, VMODEL_ORDER_REVERSE, VMODEL_DEFERRED, 2);
}

static void test_mixed_io_mmio_v2_packed_poll_bounce(void **state)
{
    struct vt_params p = {VMODEL_MMIO_V2, true, false, SIM_MAP_BOUNCE};
    (void)state;
    run_mix(&p, 512, VMODEL_ORDER_FIFO, VMODEL_IMMEDIATE, 3);
}

static void test_mixed_io_mmio_v1_irq_out_of_order(void **state)
{
    struct vt_params p = {VMODEL_MMIO_V1, false, true, SIM_MAP_TRANSLATE};
    (void)state;
    run_mix(&p, 512, VMODEL_ORDER_REVERSE, VMODEL_DEFERRED, 4);
}

static void test_mixed_io_pci_legacy_bounce_4k(void **state)
{
    struct vt_params p = {VMODEL_PCI_LEGACY, false, true, SIM_MAP_BOUNCE};
    (void)state;
    run_mix(&p, 4096, VMODEL_ORDER_FIFO, VMODEL_DEFERRED, 5);
}

static void test_mixed_io_pci_transitional_immediate(void **state)
{
    struct vt_params p = {VMODEL_PCI_TRANSITIONAL, false, false, SIM_MAP_TRANSLATE};
    (void)state;
    run_mix(&p, 512, VMODEL_ORDER_FIFO, VMODEL_IMMEDIATE, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_io_pci_modern_packed_irq_out_of_order),
        cmocka_unit_test(test_mixed_io_pci_modern_split_poll_4k_blocks),
        cmocka_unit_test(test_mixed_io_mmio_v2_packed_poll_bounce),
        cmocka_unit_test(test_mixed_io_mmio_v1_irq_out_of_order),
        cmocka_unit_test(test_mixed_io_pci_legacy_bounce_4k),
        cmocka_unit_test(test_mixed_io_pci_transitional_immediate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
