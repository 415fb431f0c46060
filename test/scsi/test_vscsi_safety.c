/* SPDX-License-Identifier: MIT */
/*
 * Safety properties of the virtio-scsi driver (issue 7, point 6), on split and packed rings and a
 * legacy transport, for 512- and 4096-byte LUNs and a LUN beyond 2^32 blocks:
 *  - nothing is written beyond the end of a LUN: refused before the device (the device sees no
 *    command) and the medium stays as it was;
 *  - writes to a write-protected LUN fail with KEEL_EROFS and reach no device (also once the LUN
 *    became write-protected at run time and said so once);
 *  - a used element written into another request queue's used ring never completes a request of
 *    the queue it belongs to;
 *  - a timed-out read's buffer is never written after its callback ran, whichever escalation step
 *    ended it (ABORT TASK, LUN reset, device reset, a device that gets to it late), and no DMA
 *    reaches an unmapped address (vst_finish checks the sim).
 */
#include <string.h>

#include <keel/endian.h>

#include "vst.h"

#define SHORT_TIMEOUT 200000u /* us */
#define MANY_POLLS    400000u
#define SENTINEL      0xa5u

struct col {
    enum vmodel_transport t;
    bool packed;
};

static const struct col cols[] = {
    {VMODEL_PCI_MODERN, false},
    {VMODEL_PCI_MODERN, true},
    {VMODEL_MMIO_V1, false},
};

#define EACH(c) for (const struct col *c = cols; c < cols + sizeof(cols) / sizeof(cols[0]); c++)

/* The small standard topology plus the 4 TiB LUN 0/7 (READ/WRITE(16) only). */
static void setup(struct vst *v, const struct col *c)
{
    struct vst_params p = {c->t, c->packed, false, SIM_MAP_TRANSLATE, 0, 0};
    struct scsi_model_lun_cfg lc;

    vst_init(v, &p, false);
    vst_small_topology(v->sm);
    scsi_model_lun_cfg_disk(&lc, 512, 1ull << 33);
    lc.dpofua = false;
    assert_int_equal(scsi_model_add_lun(v->sm, 0, 7, &lc), 0);
    scsi_model_clear_all_ua(v->sm);
}

static void up(struct vst *v, const struct col *c)
{
    setup(v, c);
    assert_int_equal(vst_start(v), KEEL_OK);
}

static uint64_t dev_cmds(const struct vst *v)
{
    return vscsi_dev_stats(v->d)->cmds;
}

static void never_called(struct keel_blk_req *r)
{
    *(bool *)r->user = true;
}

/* Every way a write-like request can reach past `dev`'s end: each refused with KEEL_ERANGE. */
static void refuse_past_end(struct keel_blkdev *dev, uint8_t *buf)
{
    uint64_t n = dev->info.sector_count;
    struct keel_blk_req r;
    bool called = false;

    assert_int_equal(keel_blk_write(dev, 0, n, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_write(dev, 0, n - 1, 2, buf, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_write(dev, 0, n + 100, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX - 1u, 4, buf, 0), KEEL_ERANGE);
    if (dev->info.flags & KEEL_BLK_F_TRIM)
        assert_int_equal(keel_blk_trim(dev, 0, n - 2, 3, 0), KEEL_ERANGE);
    if (dev->info.flags & KEEL_BLK_F_WRITE_ZEROES)
        assert_int_equal(keel_blk_write_zeroes(dev, 0, n - 1, 2, 0), KEEL_ERANGE);
    memset(&r, 0, sizeof(r));
    r.op = KEEL_BLK_OP_WRITE;
    r.flags = KEEL_BLK_REQ_FUA;
    r.lba = n - 1;
    r.count = 2;
    r.buf = buf;
    r.user = &called;
    r.done = never_called;
    assert_int_equal(keel_blk_submit(dev, &r), KEEL_ERANGE);
    assert_false(called);
}

static void test_write_beyond_a_lun_end_reaches_no_device(void **state)
{
    static const struct {
        uint8_t target;
        uint16_t lun;
    } disks[] = {{0, 0}, {2, 0}, {0, 7}};

    (void)state;
    EACH(c)
    {
        struct vst v;
        unsigned i;

        up(&v, c);
        for (i = 0; i < sizeof(disks) / sizeof(disks[0]); i++) {
            struct keel_blkdev *b = vst_disk(&v, disks[i].target, disks[i].lun);
            uint32_t bs = b->info.sector_size;
            uint64_t n = b->info.sector_count, cmds, writes;
            uint8_t *w = malloc(4u * bs), *tail = malloc(bs), *now = malloc(bs);

            assert_non_null(w);
            assert_non_null(tail);
            assert_non_null(now);
            vst_fill(w, 4u * bs, 7 + i);
            assert_int_equal(
                scsi_model_media_read(v.sm, disks[i].target, disks[i].lun, (n - 1) * bs, tail, bs),
                0);
            cmds = dev_cmds(&v);
            writes = scsi_model_lun_stats(v.sm, disks[i].target, disks[i].lun)->writes;
            refuse_past_end(b, w);
            assert_int_equal(dev_cmds(&v), cmds);
            assert_int_equal(scsi_model_lun_stats(v.sm, disks[i].target, disks[i].lun)->writes,
                             writes);
            assert_true(
                vst_media_equals(&v, disks[i].target, disks[i].lun, (n - 1) * bs, tail, bs));
            /* the medium has no byte past its end the driver could have reached */
            assert_int_equal(
                scsi_model_media_read(v.sm, disks[i].target, disks[i].lun, n * bs, now, bs), -1);
            /* the last block itself is writable */
            assert_int_equal(keel_blk_write(b, 0, n - 1, 1, w, 0), KEEL_OK);
            assert_true(vst_media_equals(&v, disks[i].target, disks[i].lun, (n - 1) * bs, w, bs));
            free(w);
            free(tail);
            free(now);
        }
        vst_finish(&v);
    }
}

static void refuse_writes(struct keel_blkdev *dev, uint8_t *buf)
{
    struct keel_blk_req r;
    bool called = false;

    assert_int_equal(keel_blk_write(dev, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_write(dev, 0, 5, 3, buf, 0), KEEL_EROFS);
    if (dev->info.flags & KEEL_BLK_F_TRIM)
        assert_int_equal(keel_blk_trim(dev, 0, 0, 8, 0), KEEL_EROFS);
    if (dev->info.flags & KEEL_BLK_F_WRITE_ZEROES)
        assert_int_equal(keel_blk_write_zeroes(dev, 0, 0, 8, 0), KEEL_EROFS);
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

static void test_writes_to_a_write_protected_lun_fail_with_erofs_and_reach_no_device(void **state)
{
    (void)state;
    EACH(c)
    {
        struct vst v;
        struct keel_blkdev *b;
        uint8_t *buf = malloc(8u * 4096u), *before = malloc(8u * 4096u);
        uint64_t cmds;

        assert_non_null(buf);
        assert_non_null(before);
        up(&v, c);
        /* write-protected when discovered: never a single write command */
        b = vst_disk(&v, 0, 3);
        assert_true(b->info.flags & KEEL_BLK_F_READ_ONLY);
        assert_int_equal(keel_blkdev_set_access(b, KEEL_BLK_ACCESS_RW), KEEL_EROFS);
        vst_fill(buf, 8u * 4096u, 3);
        assert_int_equal(scsi_model_media_read(v.sm, 0, 3, 0, before, 8u * 4096u), 0);
        cmds = dev_cmds(&v);
        refuse_writes(b, buf);
        assert_int_equal(dev_cmds(&v), cmds);
        assert_int_equal(scsi_model_lun_stats(v.sm, 0, 3)->writes, 0);
        assert_true(vst_media_equals(&v, 0, 3, 0, before, 8u * 4096u));
        assert_int_equal(keel_blk_read(b, 0, 0, 1, buf, 0), KEEL_OK);

        /* write-protected at run time: the device says DATA PROTECT once, then nothing reaches
           it any more */
        b = vst_disk(&v, 3, 0);
        scsi_model_set_write_protect(v.sm, 3, 0, true);
        assert_int_equal(scsi_model_media_read(v.sm, 3, 0, 0, before, 8u * 512u), 0);
        assert_int_equal(keel_blk_write(b, 0, 0, 1, buf, 0), KEEL_EROFS);
        assert_true(b->info.flags & KEEL_BLK_F_READ_ONLY || b->access == KEEL_BLK_ACCESS_RO);
        cmds = dev_cmds(&v);
        refuse_writes(b, buf);
        assert_int_equal(dev_cmds(&v), cmds);
        assert_int_equal(scsi_model_lun_stats(v.sm, 3, 0)->writes, 0);
        assert_true(vst_media_equals(&v, 3, 0, 0, before, 8u * 512u));
        free(buf);
        free(before);
        vst_finish(&v);
    }
}

/* ---- cross-queue completions ---- */

static uint16_t id_only_on(const struct keel_vq *a, const struct keel_vq *b)
{
    uint16_t i;

    for (i = 0; i < a->size; i++)
        if (a->inflight[i].token != NULL && (i >= b->size || b->inflight[i].token == NULL))
            return i;
    fail_msg("no id in flight on queue %u only", (unsigned)a->index);
    return 0;
}

/* Ring fields in guest order: little-endian, host order on a legacy interface (2.7 legacy note). */
static void ring_st16(bool legacy, uint8_t *p, uint16_t v)
{
    if (legacy)
        memcpy(p, &v, sizeof(v));
    else
        keel_st_le16(p, v);
}
static void ring_st32(bool legacy, uint8_t *p, uint32_t v)
{
    if (legacy)
        memcpy(p, &v, sizeof(v));
    else
        keel_st_le32(p, v);
}
static uint16_t ring_ld16(bool legacy, const uint8_t *p)
{
    uint16_t v;

    if (!legacy)
        return keel_ld_le16(p);
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Play the device: publish one used element with `id` on `vq` (ring memory is coherent). */
static void forge_used(struct keel_vq *vq, bool legacy, uint16_t id, uint32_t len)
{
    if (vq->packed) {
        uint8_t *d = vq->desc + (size_t)vq->next_used * 16u;
        uint16_t flags = vq->used_wrap ? (uint16_t)((1u << 7) | (1u << 15)) : 0u;
        keel_st_le32(d + 8, len);
        keel_st_le16(d + 12, id);
        keel_wmb(vq->hal);
        keel_st_le16(d + 14, flags);
    } else {
        uint16_t idx = ring_ld16(legacy, vq->device + 2);
        uint8_t *e = vq->device + 4 + 8u * (size_t)(idx & (vq->size - 1u));
        ring_st32(legacy, e, id);
        ring_st32(legacy, e + 4, len);
        keel_wmb(vq->hal);
        ring_st16(legacy, vq->device + 2, (uint16_t)(idx + 1u));
    }
}

static void test_completion_on_another_request_queues_ring_never_completes_its_request(void **state)
{
    (void)state;
    EACH(c)
    {
        struct vst v;
        struct vst_req a0, a1, b0;
        struct keel_blkdev *d;
        uint8_t buf[3 * 512];
        unsigned i;

        setup(&v, c);
        v.dc.num_queues = 2;
        assert_int_equal(vst_start(&v), KEEL_OK);
        assert_int_equal(v.vs->nrq, 2);
        d = vst_disk(&v, 0, 0);
        memset(buf, SENTINEL, sizeof(buf));
        vmodel_set_mode(v.m, VMODEL_MANUAL, 0);
        vst_req_init(&a0, &v, KEEL_BLK_OP_READ, 0, 5, 1, buf);
        vst_req_init(&a1, &v, KEEL_BLK_OP_READ, 0, 6, 1, buf + 512);
        vst_req_init(&b0, &v, KEEL_BLK_OP_READ, 1, 7, 1, buf + 1024);
        assert_int_equal(keel_blk_submit(d, &a0.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(d, &a1.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(d, &b0.r), KEEL_OK);
        forge_used(&v.vs->rq[1].vq, v.vs->vdev.legacy, id_only_on(&v.vs->rq[0].vq, &v.vs->rq[1].vq),
                   12);

        (void)keel_blk_poll(d, 1, 0);
        assert_false(a0.done);
        assert_false(a1.done);
        assert_true(keel_vscsi_vq_stats(v.vs, 1)->violations >= 1);
        assert_int_equal(keel_vscsi_vq_stats(v.vs, 0)->violations, 0);

        /* let the device run: queue 0's reads complete once, with the medium's data */
        for (i = 0; i < 2000 && !(a0.done && a1.done && b0.done); i++) {
            (void)vmodel_process(v.m, VMODEL_ALL_QUEUES);
            (void)keel_blk_poll(d, 0, 0);
            (void)keel_blk_poll(d, 1, 0);
            sim_advance(v.s, 100);
        }
        assert_true(a0.done && a1.done && b0.done);
        assert_int_equal(a0.status, KEEL_OK);
        assert_int_equal(a1.status, KEEL_OK);
        assert_true(vst_media_equals(&v, 0, 0, 5u * 512u, buf, 1024));
        assert_int_equal(d->stats[0].requests[KEEL_BLK_OP_READ], 2);
        assert_int_equal(d->stats[0].errors, 0);
        vmodel_set_mode(v.m, VMODEL_IMMEDIATE, 0);
        vst_roundtrip(&v, 0, 0, 30, 2, 5);
        vst_finish(&v);
    }
}

/* ---- timed-out buffers ---- */

struct late_req {
    struct vst_req q; /* first: the fixture's callback casts to it */
    uint8_t snap[2048];
};

static void late_done(struct keel_blk_req *r)
{
    struct late_req *l = (struct late_req *)r;
    unsigned i;

    l->q.done = true;
    l->q.status = r->status;
    l->q.held_at_done = vscsi_dev_held(l->q.v->d);
    l->q.vq_at_done = 0;
    for (i = 2; i < vmodel_num_queues(l->q.v->m); i++)
        l->q.vq_at_done += vmodel_inflight(l->q.v->m, i);
    memcpy(l->snap, r->buf, (size_t)r->count * 512u);
}

enum late_kind {
    LATE_ABORTED,      /* the hold ends with ABORT TASK */
    LATE_LUN_RESET,    /* ABORT TASK ignored: the LUN reset ends it */
    LATE_DEVICE_RESET, /* every TMF fails: the device reset ends it */
    LATE_STALLED,      /* the device takes the chain and never answers */
    LATE_DEFERRED,     /* the device only processes the queue long after the timeout */
};

static void late(const struct col *c, enum late_kind kind)
{
    struct vst v;
    struct late_req l;
    struct keel_blkdev *d;
    uint8_t buf[2048];
    uint64_t tag = 0, reads;

    up(&v, c);
    d = vst_disk(&v, 0, 0);
    memset(buf, SENTINEL, sizeof(buf));
    reads = scsi_model_lun_stats(v.sm, 0, 0)->reads;
    switch (kind) {
    case LATE_ABORTED:
        scsi_model_hold_next(v.sm, 0, 0, 1);
        break;
    case LATE_LUN_RESET:
        scsi_model_hold_next(v.sm, 0, 0, 1);
        sim_fault_arm(v.s, VSCSI_FAULT_TMF_IGNORE, 0, 1, 0);
        break;
    case LATE_DEVICE_RESET:
        scsi_model_hold_next(v.sm, 0, 0, 1);
        sim_fault_arm(v.s, SCSI_MODEL_F_TMF_FAIL, 0, UINT32_MAX, 0);
        break;
    case LATE_STALLED:
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 1u << KEEL_VIRTIO_SCSI_Q_REQUEST);
        break;
    case LATE_DEFERRED:
        vmodel_set_mode(v.m, VMODEL_DEFERRED, 100u * SHORT_TIMEOUT);
        break;
    }
    vst_req_init(&l.q, &v, KEEL_BLK_OP_READ, 0, 40, 4, buf);
    l.q.r.done = late_done;
    l.q.r.timeout_us = SHORT_TIMEOUT;
    assert_int_equal(keel_blk_submit(d, &l.q.r), KEEL_OK);
    if (kind <= LATE_DEVICE_RESET) {
        assert_int_equal(vscsi_dev_held(v.d), 1);
        tag = vscsi_dev_last(v.d, 0)->tag;
    }
    assert_int_equal(vst_wait(&v, d, &l.q, MANY_POLLS), KEEL_ETIMEDOUT);
    assert_int_equal(l.q.held_at_done, 0);
    assert_int_equal(l.q.vq_at_done, 0);

    /* afterwards: whatever the device still tries comes too late */
    if (kind <= LATE_DEVICE_RESET)
        assert_int_equal(scsi_model_release(v.sm, tag), -1);
    sim_advance(v.s, 300u * SHORT_TIMEOUT);
    (void)vmodel_process(v.m, VMODEL_ALL_QUEUES);
    (void)keel_blk_poll(d, 0, 0);
    assert_memory_equal(buf, l.snap, sizeof(buf));
    if (kind != LATE_STALLED)
        assert_true(scsi_model_lun_stats(v.sm, 0, 0)->reads == reads); /* never executed */
    assert_int_equal(v.s->violations, 0);
    assert_int_equal(v.s->maps_live, 0);
    sim_fault_clear(v.s, SCSI_MODEL_F_TMF_FAIL);
    vmodel_set_mode(v.m, VMODEL_IMMEDIATE, 0);
    vst_roundtrip(&v, 0, 0, 40, 4, 8);
    vst_finish(&v);
}

static void test_timed_out_read_buffer_is_never_written_after_its_callback(void **state)
{
    (void)state;
    EACH(c)
    {
        late(c, LATE_ABORTED);
        late(c, LATE_LUN_RESET);
        late(c, LATE_DEVICE_RESET);
        late(c, LATE_STALLED);
        late(c, LATE_DEFERRED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_beyond_a_lun_end_reaches_no_device),
        cmocka_unit_test(test_writes_to_a_write_protected_lun_fail_with_erofs_and_reach_no_device),
        cmocka_unit_test(
            test_completion_on_another_request_queues_ring_never_completes_its_request),
        cmocka_unit_test(test_timed_out_read_buffer_is_never_written_after_its_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
