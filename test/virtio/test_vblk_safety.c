/* SPDX-License-Identifier: MIT */
/*
 * Safety properties of the virtio-blk driver (issue 7, point 6), on split and packed rings, a
 * legacy transport, and 512- and 4096-byte logical blocks:
 *  - nothing is written beyond the end of the disk (also when the capacity is not a whole number
 *    of logical blocks, and after the device shrank) or of a partition on it: the request is
 *    refused before the device (the backend sees no request) and every media byte stays;
 *  - writes to a read-only device (VIRTIO_BLK_F_RO), a disk opened read-only and a read-only
 *    partition fail with KEEL_EROFS and reach no device;
 *  - a used element written into another queue's used ring never completes a request of the
 *    queue it belongs to;
 *  - a timed-out read's buffer is never written after its callback ran, although the device gets
 *    to the request late, and no DMA reaches an unmapped address (vt_finish checks the sim).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/endian.h>
#include <keel/part.h>

#include "vtest.h"

#define SHORT_TIMEOUT 2000u /* us */
#define SENTINEL      0xa5u

struct col {
    enum vmodel_transport t;
    bool packed;
};

static const struct col cols[] = {
    {VMODEL_PCI_MODERN, false},
    {VMODEL_PCI_MODERN, true},
    {VMODEL_MMIO_V2, true},
    {VMODEL_MMIO_V1, false},
};

#define EACH(c, bs)                                                                                \
    for (const struct col *c = cols; c < cols + sizeof(cols) / sizeof(cols[0]); c++)               \
        for (uint32_t bs = 512; bs <= 4096; bs *= 8)

static void setup(struct vt *v, const struct col *c, uint32_t bs)
{
    struct vt_params p = {c->t, c->packed, false, bs == 512 ? SIM_MAP_TRANSLATE : SIM_MAP_BOUNCE};

    vt_init(v, &p);
    v->bc.blk_size = bs;
    v->bc.num_queues = 2;
    v->bc.features |= VMODEL_BLK_F_SECURE_ERASE;
    v->bc.max_secure_erase_sectors = 4096;
    v->bc.max_secure_erase_seg = 1;
    v->bc.secure_erase_sector_alignment = 1;
}

static void up(struct vt *v, const struct col *c, uint32_t bs)
{
    setup(v, c, bs);
    assert_int_equal(vt_start(v), KEEL_OK);
}

static uint32_t bsz(const struct vt *v)
{
    return v->vb->blk.info.sector_size;
}

static uint8_t *blocks(const struct vt *v, uint32_t n, uint32_t seed)
{
    uint8_t *b = malloc((size_t)n * bsz(v));

    assert_non_null(b);
    vt_fill(b, (size_t)n * bsz(v), seed);
    return b;
}

/* Requests the backend received (any type). */
static uint64_t reqs(const struct vt *v)
{
    return vmodel_blk_stats(v->b)->reqs;
}

static uint8_t *media_copy(struct vt *v, size_t *len)
{
    uint8_t *m = vmodel_blk_media(v->b, len);
    uint8_t *c = malloc(*len);

    assert_non_null(c);
    memcpy(c, m, *len);
    return c;
}

static void assert_media_unchanged(struct vt *v, const uint8_t *copy, size_t len)
{
    size_t now = 0;
    uint8_t *m = vmodel_blk_media(v->b, &now);

    assert_true(now >= len);
    assert_memory_equal(m, copy, len);
}

static void never_called(struct keel_blk_req *r)
{
    *(bool *)r->user = true;
}

/* Every way a write-like request can reach past `dev`'s end: each refused with `err`. */
static void refuse_past_end(struct keel_blkdev *dev, uint8_t *buf, int err)
{
    uint64_t n = dev->info.sector_count;
    struct keel_blk_req r;
    bool called = false;

    assert_int_equal(keel_blk_write(dev, 0, n, 1, buf, 0), err);
    assert_int_equal(keel_blk_write(dev, 0, n - 1, 2, buf, 0), err);
    assert_int_equal(keel_blk_write(dev, 1, n + 100, 1, buf, 0), err);
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX, 1, buf, 0), err);
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX - 1u, 4, buf, 0), err);
    assert_int_equal(keel_blk_write_zeroes(dev, 0, n - 1, 2, 0), err);
    assert_int_equal(keel_blk_trim(dev, 0, n - 2, 3, 0), err);
    memset(&r, 0, sizeof(r));
    r.op = KEEL_BLK_OP_WRITE;
    r.flags = KEEL_BLK_REQ_FUA;
    r.lba = n - 1;
    r.count = 2;
    r.buf = buf;
    r.user = &called;
    r.done = never_called;
    assert_int_equal(keel_blk_submit(dev, &r), err);
    assert_false(called);
}

static void test_write_beyond_the_disk_end_reaches_no_device(void **state)
{
    (void)state;
    EACH(c, bs)
    {
        struct vt v;
        uint8_t *buf, *copy;
        size_t len = 0;
        uint64_t n, before;

        setup(&v, c, bs);
        v.bc.capacity = 2044; /* 512-byte sectors: 255.5 blocks of 4 KiB */
        assert_int_equal(vt_start(&v), KEEL_OK);
        n = v.vb->blk.info.sector_count;
        assert_true(n == (bs == 512 ? 2044u : 255u));
        buf = blocks(&v, 4, 7);
        copy = media_copy(&v, &len);
        before = reqs(&v);
        refuse_past_end(&v.vb->blk, buf, KEEL_ERANGE);
        assert_int_equal(keel_vblk_secure_erase(v.vb, 0, n - 1, 2, 0), KEEL_ERANGE);
        assert_int_equal(reqs(&v), before);
        assert_media_unchanged(&v, copy, len);
        /* the last whole block is writable, and only it changes */
        assert_int_equal(keel_blk_write(&v.vb->blk, 0, n - 1, 1, buf, 0), KEEL_OK);
        assert_true(vt_media_equals(&v, (n - 1) * bsz(&v), buf, bsz(&v)));
        assert_memory_equal(vmodel_blk_media(v.b, &len), copy, (size_t)(n - 1) * bsz(&v));
        if (bs == 4096) /* the half block past the last whole one is never touched */
            assert_memory_equal(vmodel_blk_media(v.b, &len) + 2040u * 512u, copy + 2040u * 512u,
                                4u * 512u);

        /* the device shrinks: the old range is refused from the next service on */
        vmodel_blk_resize(v.b, 1024);
        sim_advance(v.s, KEEL_CONFIG_VIRTIO_STATUS_POLL_US + 1);
        assert_int_equal(keel_vblk_service(v.vb), KEEL_OK);
        assert_int_equal(v.vb->blk.info.sector_count, 1024u / (bs / 512u));
        before = reqs(&v);
        refuse_past_end(&v.vb->blk, buf, KEEL_ERANGE);
        assert_int_equal(reqs(&v), before);
        free(copy);
        free(buf);
        vt_finish(&v);
    }
}

/* An MBR with two adjacent primaries written straight into the backend's media. */
static void put_mbr(uint8_t *sector0, const uint32_t start[2], const uint32_t count[2])
{
    unsigned i, k;

    memset(sector0, 0, 512);
    for (i = 0; i < 2; i++) {
        uint8_t *e = sector0 + 446 + 16 * i;
        e[4] = 0x83;
        for (k = 0; k < 4; k++) {
            e[8 + k] = (uint8_t)(start[i] >> (8 * k));
            e[12 + k] = (uint8_t)(count[i] >> (8 * k));
        }
    }
    sector0[510] = 0x55;
    sector0[511] = 0xaa;
}

static void two_partitions(struct vt *v, struct keel_blkdev kids[2])
{
    static const uint32_t start[2] = {16, 80}, count[2] = {64, 64};
    struct keel_part_table tbl;
    size_t len = 0;
    uint8_t *scratch = malloc(bsz(v));

    assert_non_null(scratch);
    put_mbr(vmodel_blk_media(v->b, &len), start, count);
    assert_int_equal(keel_part_scan(&v->vb->blk, 0, scratch, bsz(v), &tbl), KEEL_OK);
    assert_int_equal(keel_part_register(&v->vb->blk, &tbl, kids, 2, NULL), 2);
    assert_true(kids[0].start_lba == 16 && kids[1].start_lba == 80);
    free(scratch);
}

static void test_write_beyond_a_partition_end_reaches_no_device(void **state)
{
    (void)state;
    EACH(c, bs)
    {
        struct vt v;
        struct keel_blkdev kids[2];
        uint8_t *buf, *copy;
        size_t len = 0;
        uint64_t before;

        up(&v, c, bs);
        two_partitions(&v, kids);
        buf = blocks(&v, 4, 9);
        copy = media_copy(&v, &len);
        before = reqs(&v);
        refuse_past_end(&kids[0], buf, KEEL_ERANGE);
        refuse_past_end(&kids[1], buf, KEEL_ERANGE);
        assert_int_equal(reqs(&v), before);
        assert_media_unchanged(&v, copy, len);
        assert_int_equal(keel_blk_write(&kids[0], 0, 63, 1, buf, 0), KEEL_OK);
        assert_true(vt_media_equals(&v, (uint64_t)(16 + 63) * bsz(&v), buf, bsz(&v)));
        assert_true(
            vt_media_equals(&v, (uint64_t)80 * bsz(&v), copy + (size_t)80 * bsz(&v), bsz(&v)));
        free(copy);
        free(buf);
        vt_finish(&v);
    }
}

static void refuse_writes(struct vt *v, struct keel_blkdev *dev, uint8_t *buf)
{
    struct keel_blk_req r;
    bool called = false;

    assert_int_equal(keel_blk_write(dev, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_write(dev, 1, 5, 3, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_write_zeroes(dev, 0, 0, 8, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_trim(dev, 0, 0, 8, 0), KEEL_EROFS);
    if (dev == &v->vb->blk)
        assert_int_equal(keel_vblk_secure_erase(v->vb, 0, 0, 8, 0), KEEL_EROFS);
    memset(&r, 0, sizeof(r));
    r.op = KEEL_BLK_OP_WRITE;
    r.flags = KEEL_BLK_REQ_FUA;
    r.lba = 1;
    r.count = 1;
    r.buf = buf;
    r.user = &called;
    r.done = never_called;
    assert_int_equal(keel_blk_submit(dev, &r), KEEL_EROFS);
    assert_false(called);
}

static void test_writes_to_a_read_only_device_fail_with_erofs_and_reach_no_device(void **state)
{
    (void)state;
    EACH(c, bs)
    {
        struct vt v;
        uint8_t *buf, *copy;
        size_t len = 0;
        uint64_t before;

        setup(&v, c, bs);
        v.bc.read_only = true;
        assert_int_equal(vt_start(&v), KEEL_OK);
        assert_true(v.vb->blk.info.flags & KEEL_BLK_F_READ_ONLY);
        assert_int_equal(keel_blkdev_set_access(&v.vb->blk, KEEL_BLK_ACCESS_RW), KEEL_EROFS);
        buf = blocks(&v, 4, 3);
        copy = media_copy(&v, &len);
        before = reqs(&v);
        refuse_writes(&v, &v.vb->blk, buf);
        assert_int_equal(reqs(&v), before);
        assert_int_equal(vmodel_blk_stats(v.b)->writes, 0);
        assert_media_unchanged(&v, copy, len);
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 0, 1, buf, 0), KEEL_OK);
        free(copy);
        free(buf);
        vt_finish(&v);
    }
}

static void test_disk_opened_read_only_and_read_only_partition_refuse_writes(void **state)
{
    (void)state;
    EACH(c, bs)
    {
        struct vt v;
        struct keel_blkdev kids[2];
        uint8_t *buf, *copy;
        size_t len = 0;
        uint64_t before;

        up(&v, c, bs);
        two_partitions(&v, kids);
        buf = blocks(&v, 4, 4);
        copy = media_copy(&v, &len);
        before = reqs(&v);
        assert_int_equal(keel_blkdev_set_access(&kids[1], KEEL_BLK_ACCESS_RO), KEEL_OK);
        refuse_writes(&v, &kids[1], buf);
        assert_int_equal(keel_blkdev_set_access(&v.vb->blk, KEEL_BLK_ACCESS_RO), KEEL_OK);
        refuse_writes(&v, &v.vb->blk, buf);
        refuse_writes(&v, &kids[0], buf); /* a partition of a read-only disk */
        assert_int_equal(reqs(&v), before);
        assert_media_unchanged(&v, copy, len);
        assert_int_equal(keel_blkdev_set_access(&v.vb->blk, KEEL_BLK_ACCESS_RW), KEEL_OK);
        assert_int_equal(keel_blk_write(&kids[0], 0, 0, 1, buf, 0), KEEL_OK);
        assert_int_equal(keel_blk_write(&kids[1], 0, 0, 1, buf, 0), KEEL_EROFS);
        free(copy);
        free(buf);
        vt_finish(&v);
    }
}

/* ---- cross-queue completions ---- */

/* An id in flight on `a` but not on `b`. */
static uint16_t id_only_on(const struct keel_vq *a, const struct keel_vq *b)
{
    uint16_t i;

    for (i = 0; i < a->size; i++)
        if (a->inflight[i].token != NULL && (i >= b->size || b->inflight[i].token == NULL))
            return i;
    fail_msg("no id in flight on queue %u only", (unsigned)a->index);
    return 0;
}

/* Play the device: publish one used element with `id` on `vq` (ring memory is coherent). */
static void forge_used(struct keel_vq *vq, uint16_t id, uint32_t len)
{
    if (vq->packed) {
        uint8_t *d = vq->desc + (size_t)vq->next_used * 16u;
        uint16_t flags = vq->used_wrap ? (uint16_t)((1u << 7) | (1u << 15)) : 0u;
        keel_st_le32(d + 8, len);
        keel_st_le16(d + 12, id);
        keel_wmb(vq->hal);
        keel_st_le16(d + 14, flags);
    } else {
        uint16_t idx = keel_ld_le16(vq->device + 2);
        uint8_t *e = vq->device + 4 + 8u * (size_t)(idx & (vq->size - 1u));
        keel_st_le32(e, id);
        keel_st_le32(e + 4, len);
        keel_wmb(vq->hal);
        keel_st_le16(vq->device + 2, (uint16_t)(idx + 1u));
    }
}

/*
 * Queue 0 has two reads in flight, queue 1 one; the device is held (manual). A used element naming
 * one of queue 0's ids appears in queue 1's ring. Polling queue 1 must not complete anything of
 * queue 0 (queue 1 breaks and is recovered); queue 0's reads then complete exactly once, with the
 * right data.
 */
static void test_completion_on_another_queues_used_ring_never_completes_its_request(void **state)
{
    (void)state;
    EACH(c, bs)
    {
        struct vt v;
        struct vt_req a0, a1, b0;
        uint8_t *buf;
        uint16_t id;

        up(&v, c, bs);
        assert_int_equal(v.vb->nq, 2);
        buf = blocks(&v, 3, 0);
        memset(buf, SENTINEL, (size_t)3 * bsz(&v));
        vmodel_set_mode(v.m, VMODEL_MANUAL, 0);
        vt_req_init(&a0, KEEL_BLK_OP_READ, 0, 5, 1, buf);
        vt_req_init(&a1, KEEL_BLK_OP_READ, 0, 6, 1, buf + bsz(&v));
        vt_req_init(&b0, KEEL_BLK_OP_READ, 1, 7, 1, buf + 2u * bsz(&v));
        assert_int_equal(keel_blk_submit(&v.vb->blk, &a0.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &a1.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &b0.r), KEEL_OK);
        id = id_only_on(&v.vb->q[0].vq, &v.vb->q[1].vq);
        forge_used(&v.vb->q[1].vq, id, 1);

        (void)keel_blk_poll(&v.vb->blk, 1, 0);
        assert_false(a0.done);
        assert_false(a1.done);
        assert_true(keel_vblk_vq_stats(v.vb, 1)->violations >= 1);
        assert_int_equal(keel_vblk_vq_stats(v.vb, 0)->violations, 0);

        (void)vmodel_process(v.m, VMODEL_ALL_QUEUES);
        assert_int_equal(vt_wait(&v, &a0, 100), KEEL_OK);
        assert_int_equal(vt_wait(&v, &a1, 100), KEEL_OK);
        assert_true(vt_media_equals(&v, 5u * bsz(&v), buf, 2u * bsz(&v)));
        (void)vmodel_process(v.m, VMODEL_ALL_QUEUES);
        (void)vt_wait(&v, &b0, 100);
        assert_true(b0.done); /* queue 1's own request ends (it was on the broken queue) */
        vmodel_set_mode(v.m, VMODEL_IMMEDIATE, 0);
        assert_int_equal(v.vb->blk.stats[0].errors, 0);
        assert_int_equal(v.vb->blk.stats[0].requests[KEEL_BLK_OP_READ], 2);
        assert_int_equal(keel_blk_read(&v.vb->blk, 1, 7, 1, buf, 0), KEEL_OK);
        free(buf);
        vt_finish(&v);
    }
}

/* ---- timed-out buffers ---- */

struct late_req {
    struct vt_req q; /* first: the fixture's callback casts to it */
    uint8_t *snap;
    size_t len;
};

static void late_done(struct keel_blk_req *r)
{
    struct late_req *l = (struct late_req *)r;

    l->q.done = true;
    l->q.status = r->status;
    memcpy(l->snap, r->buf, l->len);
}

/*
 * The device only gets to the read long after its timeout (deferred processing with a latency
 * far beyond it, or a stalled queue). The driver times the request out, resets the queue or the
 * device, and calls back; afterwards the device's late processing must not find the request any
 * more: the buffer keeps what it held at the callback and the backend never executes the read.
 */
static void late_device(const struct col *c, uint32_t bs, bool ring_reset, bool stall)
{
    struct vt v;
    struct late_req l;
    uint8_t *buf;
    uint64_t reads;

    setup(&v, c, bs);
    if (!ring_reset)
        v.mc.features &= ~VMODEL_F_RING_RESET;
    assert_int_equal(vt_start(&v), KEEL_OK);
    buf = blocks(&v, 4, 0);
    memset(buf, SENTINEL, (size_t)4 * bsz(&v));
    l.len = (size_t)4 * bsz(&v);
    l.snap = malloc(l.len);
    assert_non_null(l.snap);
    reads = vmodel_blk_stats(v.b)->reads;
    if (stall)
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 0);
    else
        vmodel_set_mode(v.m, VMODEL_DEFERRED, 50u * SHORT_TIMEOUT);
    vt_req_init(&l.q, KEEL_BLK_OP_READ, 0, 20, 4, buf);
    l.q.r.done = late_done;
    l.q.r.timeout_us = SHORT_TIMEOUT;
    assert_int_equal(keel_blk_submit(&v.vb->blk, &l.q.r), KEEL_OK);
    assert_int_equal(vt_wait(&v, &l.q, 1000000), KEEL_ETIMEDOUT);
    assert_int_equal(v.vb->stats.queue_resets + v.vb->stats.device_resets, 1);

    /* let the device do everything it still had scheduled, and more */
    sim_advance(v.s, 200u * SHORT_TIMEOUT);
    (void)vmodel_process(v.m, VMODEL_ALL_QUEUES);
    (void)keel_blk_poll(&v.vb->blk, 0, 0);
    assert_memory_equal(buf, l.snap, l.len);
    if (!stall)
        assert_true(vmodel_blk_stats(v.b)->reads == reads); /* never executed */
    assert_int_equal(v.s->violations, 0);
    assert_int_equal(v.s->maps_live, 0);
    vmodel_set_mode(v.m, VMODEL_IMMEDIATE, 0);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 20, 4, buf, 0), KEEL_OK);
    assert_true(vt_media_equals(&v, 20u * bsz(&v), buf, 4u * bsz(&v)));
    free(l.snap);
    free(buf);
    vt_finish(&v);
}

static void test_late_device_never_writes_a_timed_out_read_buffer(void **state)
{
    (void)state;
    EACH(c, bs)
    {
        bool legacy = c->t == VMODEL_MMIO_V1;
        late_device(c, bs, !legacy, false);
        late_device(c, bs, false, false);
        late_device(c, bs, !legacy, true);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_beyond_the_disk_end_reaches_no_device),
        cmocka_unit_test(test_write_beyond_a_partition_end_reaches_no_device),
        cmocka_unit_test(test_writes_to_a_read_only_device_fail_with_erofs_and_reach_no_device),
        cmocka_unit_test(test_disk_opened_read_only_and_read_only_partition_refuse_writes),
        cmocka_unit_test(test_completion_on_another_queues_used_ring_never_completes_its_request),
        cmocka_unit_test(test_late_device_never_writes_a_timed_out_read_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
