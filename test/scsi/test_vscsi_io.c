/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi block I/O: data integrity byte for byte against the model's media, READ/WRITE(10) or
 * (16), splitting by VPD B0h, max_sectors and seg_max, FUA native or emulated, SYNCHRONIZE CACHE,
 * UNMAP within the provisioning limits (and none without LBPU), several request queues,
 * cmd_per_lun, back-pressure with many requests in flight, interrupts, bounced mappings.
 */
#include <stdlib.h>
#include <string.h>

#include "vst.h"

static void start(struct vst *v, enum vmodel_transport t, bool packed, bool irq,
                  enum sim_map_mode map)
{
    struct vst_params p = {t, packed, irq, map, 0, 0};
    vst_init(v, &p, true);
}

static const struct vscsi_cmd_log *last_op(struct vst *v, uint8_t op, uint8_t target, uint16_t lun)
{
    return vscsi_dev_find(v->d, op, target, lun);
}

static void test_data_integrity_on_every_disk_shape(void **state)
{
    struct vst v;
    const struct vscsi_cmd_log *lg;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    vst_roundtrip(&v, 0, 0, 0, 1, 1);
    vst_roundtrip(&v, 0, 0, 8191, 1, 2);   /* last block */
    vst_roundtrip(&v, 0, 0, 4000, 200, 3); /* below B0h's 256 */
    vst_roundtrip(&v, 2, 0, 2047, 1, 4);   /* 4096-byte blocks */
    vst_roundtrip(&v, 2, 0, 100, 37, 5);
    vst_roundtrip(&v, 3, 0, 512, 64, 6);
    /* 2^33 blocks: every command is (16), also far below 2^32 */
    vst_roundtrip(&v, 0, 7, 10, 2, 7);
    lg = last_op(&v, KEEL_SCSI_OP_WRITE16, 0, 7);
    assert_non_null(lg);
    assert_null(last_op(&v, KEEL_SCSI_OP_WRITE10, 0, 7));
    vst_roundtrip(&v, 0, 7, 0xffffffffull, 3, 8); /* across the 2^32 boundary */
    vst_roundtrip(&v, 0, 7, (1ull << 33) - 4u, 4, 9);
    /* a 512-byte disk of ordinary size uses (10) */
    assert_non_null(last_op(&v, KEEL_SCSI_OP_WRITE10, 0, 0));
    assert_null(last_op(&v, KEEL_SCSI_OP_WRITE16, 0, 0));
    vst_finish(&v);
}

static void test_requests_split_by_block_limits(void **state)
{
    struct vst v;
    uint64_t before;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_CONTIGUOUS);
    assert_int_equal(vst_start(&v), KEEL_OK);
    before = v.vs->stats.commands;
    vst_roundtrip(&v, 0, 0, 100, 1000, 11);           /* B0h MAXIMUM TRANSFER LENGTH 256 */
    assert_true(v.vs->stats.commands - before >= 8u); /* 4 writes + 4 reads */
    assert_true(v.vs->stats.splits >= 6u);
    assert_true(vscsi_dev_stats(v.d)->max_data_bytes <= 256u * 512u);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->writes, 4);
    vst_finish(&v);
}

static void test_requests_split_by_max_sectors(void **state)
{
    struct vst v;

    (void)state;
    start(&v, VMODEL_MMIO_V2, false, false, SIM_MAP_CONTIGUOUS);
    v.dc.max_sectors = 16; /* 8 KiB per command */
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(v.vs->max_xfer_bytes, 8192);
    assert_int_equal(vst_disk(&v, 2, 0)->info.sector_size, 4096);
    vst_roundtrip(&v, 2, 0, 3, 25, 12);
    vst_roundtrip(&v, 0, 0, 3, 100, 13);
    assert_true(vscsi_dev_stats(v.d)->max_data_bytes <= 8192u);
    assert_int_equal(scsi_model_lun_stats(v.sm, 2, 0)->writes, 13); /* 25 blocks, 2 per command */
    vst_finish(&v);
}

static void test_requests_split_by_seg_max(void **state)
{
    struct vst v;

    (void)state;
    /* Translated mappings scramble pages: every page of a buffer is its own segment. */
    start(&v, VMODEL_PCI_MODERN, true, false, SIM_MAP_TRANSLATE);
    v.dc.seg_max = 2;
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(v.vs->seg_limit, 2);
    vst_roundtrip(&v, 0, 0, 64, 128, 14); /* 64 KiB */
    vst_roundtrip(&v, 2, 0, 10, 9, 15);
    assert_true(vscsi_dev_stats(v.d)->max_data_segs <= 2u);
    assert_true(v.vs->stats.splits > 0u);
    vst_finish(&v);
}

/*
 * A piece is mapped again each time it is sent, and a resend (after a unit attention, BUSY, ...)
 * may map into more segments than its first send did (bounce buffers, an IOMMU that hands out
 * other pages): the resend is split to fit seg_max, the rest of the piece follows as further
 * commands, and every block still lands where it belongs. `busy_again`: the first part of the
 * split resend meets BUSY and is itself resent.
 */
static void resend_that_maps_into_more_segments(bool write, bool busy_again)
{
    enum { N = 64, LBA = 200, GUARD = 8 };
    struct vst v;
    struct vst_req r;
    struct keel_blkdev *b;
    uint8_t *buf, *want, guard[GUARD * 512], g2[GUARD * 512];
    uint64_t rw_before, splits_before;

    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_CONTIGUOUS);
    v.dc.seg_max = 2;
    assert_int_equal(vst_start(&v), KEEL_OK);
    b = vst_disk(&v, 0, 0);
    buf = aligned_alloc(4096, N * 512); /* 8 whole pages: 1 segment contiguous, ~8 translated */
    want = malloc(N * 512);
    assert_non_null(buf);
    assert_non_null(want);
    vst_fill(want, N * 512, write ? 31u : 32u);
    if (write) {
        memcpy(buf, want, N * 512);
    } else {
        memset(buf, 0xa5, N * 512);
        assert_int_equal(scsi_model_media_write(v.sm, 0, 0, (uint64_t)LBA * 512, want, N * 512), 0);
    }
    vst_fill(guard, sizeof(guard), 33u);
    assert_int_equal(
        scsi_model_media_write(v.sm, 0, 0, (uint64_t)(LBA - GUARD) * 512, guard, sizeof(guard)), 0);
    assert_int_equal(
        scsi_model_media_write(v.sm, 0, 0, (uint64_t)(LBA + N) * 512, guard, sizeof(guard)), 0);

    /* First send: one segment, answered UNIT ATTENTION (nothing transferred). */
    scsi_model_set_ua(v.sm, 0, 0, 0x29, 0x00);
    rw_before =
        write ? scsi_model_lun_stats(v.sm, 0, 0)->writes : scsi_model_lun_stats(v.sm, 0, 0)->reads;
    splits_before = v.vs->stats.splits;
    vst_req_init(&r, &v, write ? KEEL_BLK_OP_WRITE : KEEL_BLK_OP_READ, 0, LBA, N, buf);
    assert_int_equal(keel_blk_submit(b, &r.r), KEEL_OK);
    assert_false(r.done);
    assert_int_equal(vscsi_dev_last(v.d, 0)->status, KEEL_SCSI_STATUS_CHECK_CONDITION);
    assert_int_equal(vscsi_dev_last(v.d, 0)->out_segs + vscsi_dev_last(v.d, 0)->in_segs, 1);
    assert_int_equal(vscsi_dev_last(v.d, 0)->out_len + vscsi_dev_last(v.d, 0)->in_len, N * 512);

    /* The resend maps page by page, scrambled: the whole piece no longer fits 2 segments. */
    v.s->map_mode = SIM_MAP_TRANSLATE;
    if (busy_again)
        sim_fault_arm(v.s, SCSI_MODEL_F_STATUS, 0, 1,
                      SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_VALUE(KEEL_SCSI_STATUS_BUSY));
    assert_int_equal(vst_wait(&v, b, &r, 1000), KEEL_OK);
    if (busy_again)
        assert_int_equal(sim_fault_fired(v.s, SCSI_MODEL_F_STATUS), 1);

    if (write)
        assert_true(vst_media_equals(&v, 0, 0, (uint64_t)LBA * 512, want, N * 512));
    else
        assert_memory_equal(buf, want, N * 512);
    /* nothing outside the request's blocks was touched */
    assert_int_equal(
        scsi_model_media_read(v.sm, 0, 0, (uint64_t)(LBA - GUARD) * 512, g2, sizeof(g2)), 0);
    assert_memory_equal(g2, guard, sizeof(guard));
    assert_int_equal(scsi_model_media_read(v.sm, 0, 0, (uint64_t)(LBA + N) * 512, g2, sizeof(g2)),
                     0);
    assert_memory_equal(g2, guard, sizeof(guard));
    /* the resend went out as several commands, none beyond seg_max, covering exactly N blocks */
    assert_true((write ? scsi_model_lun_stats(v.sm, 0, 0)->writes
                       : scsi_model_lun_stats(v.sm, 0, 0)->reads) -
                    rw_before >=
                2u);
    assert_true(v.vs->stats.splits > splits_before);
    assert_true(vscsi_dev_stats(v.d)->max_data_segs <= 2u);
    assert_int_equal(b->stats[0].errors, 0);
    free(buf);
    free(want);

    /* the disk keeps working with the scrambled mappings */
    vst_roundtrip(&v, 0, 0, 1000, N, 34u);
    vst_finish(&v);
}

static void test_resent_write_that_maps_into_more_segments_is_split(void **state)
{
    (void)state;
    resend_that_maps_into_more_segments(true, false);
    resend_that_maps_into_more_segments(true, true);
}

static void test_resent_read_that_maps_into_more_segments_is_split(void **state)
{
    (void)state;
    resend_that_maps_into_more_segments(false, false);
    resend_that_maps_into_more_segments(false, true);
}

static int write_flags(struct vst *v, uint8_t target, uint16_t lun, uint64_t lba, uint32_t n,
                       void *buf, uint8_t flags)
{
    struct keel_blk_req r = {0};

    r.op = KEEL_BLK_OP_WRITE;
    r.flags = flags;
    r.lba = lba;
    r.count = n;
    r.buf = buf;
    return keel_blk_execute(vst_disk(v, target, lun), &r);
}

static void test_fua_is_native_with_dpofua(void **state)
{
    struct vst v;
    uint8_t buf[1024];
    const struct vscsi_cmd_log *lg;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_BOUNCE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    vst_fill(buf, sizeof(buf), 16);
    assert_int_equal(write_flags(&v, 0, 0, 5, 2, buf, KEEL_BLK_REQ_FUA), KEEL_OK);
    lg = last_op(&v, KEEL_SCSI_OP_WRITE10, 0, 0);
    assert_non_null(lg);
    assert_true((lg->cdb[1] & 0x08u) != 0u); /* FUA bit of WRITE(10) */
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->fua_writes, 1);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->syncs, 0);
    assert_int_equal(v.vs->stats.fua_syncs, 0);
    assert_true(vst_media_equals(&v, 0, 0, 5 * 512, buf, sizeof(buf)));
    vst_finish(&v);
}

static void test_fua_is_a_sync_after_the_write_without_dpofua(void **state)
{
    struct vst v;
    uint8_t buf[2048];
    const struct vscsi_cmd_log *lg;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    vst_fill(buf, sizeof(buf), 17);
    assert_int_equal(write_flags(&v, 0, 7, 77, 4, buf, KEEL_BLK_REQ_FUA), KEEL_OK);
    lg = last_op(&v, KEEL_SCSI_OP_WRITE16, 0, 7);
    assert_non_null(lg);
    assert_int_equal(lg->cdb[1] & 0x08u, 0); /* the LUN would reject FUA (24/00) */
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 7)->syncs, 1);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 7)->dirty_writes, 0);
    assert_int_equal(v.vs->stats.fua_syncs, 1);
    /* the sync came after the write: it is the newest command to that LUN */
    assert_int_equal(vscsi_dev_last(v.d, 0)->cdb[0], KEEL_SCSI_OP_SYNCHRONIZE_CACHE16);
    assert_true(vst_media_equals(&v, 0, 7, 77 * 512, buf, sizeof(buf)));
    vst_finish(&v);
}

static void test_flush_sends_synchronize_cache(void **state)
{
    struct vst v;
    uint8_t buf[512];

    (void)state;
    start(&v, VMODEL_MMIO_V1, false, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    vst_fill(buf, sizeof(buf), 18);
    assert_int_equal(keel_blk_write(vst_disk(&v, 0, 0), 0, 3, 1, buf, 0), KEEL_OK);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->dirty_writes, 1);
    assert_int_equal(keel_blk_flush(vst_disk(&v, 0, 0), 0, 0), KEEL_OK);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->syncs, 1);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->dirty_writes, 0);
    assert_non_null(last_op(&v, KEEL_SCSI_OP_SYNCHRONIZE_CACHE10, 0, 0));
    assert_int_equal(keel_blk_flush(vst_disk(&v, 0, 7), 0, 0), KEEL_OK);
    assert_non_null(last_op(&v, KEEL_SCSI_OP_SYNCHRONIZE_CACHE16, 0, 7));
    vst_finish(&v);
}

static bool media_is_zero(struct vst *v, uint8_t t, uint16_t l, uint64_t off, size_t len)
{
    uint8_t *z = calloc(1, len);
    bool eq;

    assert_non_null(z);
    eq = vst_media_equals(v, t, l, off, z, len);
    free(z);
    return eq;
}

static void test_trim_is_unmap_within_the_provisioning_limits(void **state)
{
    struct vst v;
    uint8_t *buf = malloc(2200 * 512);
    unsigned unmaps = 0, i;

    (void)state;
    assert_non_null(buf);
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    vst_fill(buf, 2200 * 512, 19);
    assert_int_equal(keel_blk_write(vst_disk(&v, 0, 0), 0, 0, 2200, buf, 0), KEEL_OK);
    assert_int_equal(keel_blk_trim(vst_disk(&v, 0, 0), 0, 100, 2000, 0), KEEL_OK);
    /* MAXIMUM UNMAP LBA COUNT 1024: at least two UNMAP commands; 4 descriptors at most each. */
    for (i = 0; i < 64; i++) {
        const struct vscsi_cmd_log *lg = vscsi_dev_last(v.d, i);
        if (lg != NULL && lg->cdb[0] == KEEL_SCSI_OP_UNMAP) {
            unmaps++;
            assert_true(lg->out_len <= 8u + 4u * 16u);
        }
    }
    assert_true(unmaps >= 2u);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->blocks_unmapped, 2000);
    assert_true(media_is_zero(&v, 0, 0, 100 * 512, 2000 * 512));
    assert_true(vst_media_equals(&v, 0, 0, 0, buf, 100 * 512));
    assert_true(vst_media_equals(&v, 0, 0, 2100 * 512, buf + 2100 * 512, 100 * 512));
    free(buf);
    vst_finish(&v);
}

static void test_trim_is_refused_without_lbpu(void **state)
{
    struct vst v;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(keel_blk_trim(vst_disk(&v, 2, 0), 0, 0, 8, 0), KEEL_ENOTSUP);
    assert_null(last_op(&v, KEEL_SCSI_OP_UNMAP, 2, 0));
    assert_int_equal(keel_blk_write_zeroes(vst_disk(&v, 0, 0), 0, 0, 8, 0), KEEL_ENOTSUP);
    vst_finish(&v);
}

static void test_write_protected_lun_refuses_writes(void **state)
{
    struct vst v;
    uint8_t buf[4096];

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    vst_fill(buf, sizeof(buf), 20);
    assert_int_equal(keel_blk_write(vst_disk(&v, 0, 3), 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_null(last_op(&v, KEEL_SCSI_OP_WRITE10, 0, 3));
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 3), 0, 1, 1, buf, 0), KEEL_OK);
    vst_finish(&v);
}

static void test_every_request_queue_carries_io(void **state)
{
    struct vst v;
    uint8_t w[4096], r[4096];
    unsigned q;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, true, SIM_MAP_TRANSLATE);
    v.dc.num_queues = 6; /* more than the driver uses */
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(v.vs->nrq, KEEL_CONFIG_VSCSI_MAX_QUEUES);
    assert_int_equal(vst_disk(&v, 0, 0)->info.queue_count, KEEL_CONFIG_VSCSI_MAX_QUEUES);
    for (q = 0; q < v.vs->nrq; q++) {
        uint64_t before = vscsi_dev_stats(v.d)->cmds_per_queue[2 + q];
        vst_fill(w, sizeof(w), 30 + q);
        assert_int_equal(keel_blk_write(vst_disk(&v, 3, 0), q, 8u * q, 8, w, 0), KEEL_OK);
        assert_int_equal(keel_blk_read(vst_disk(&v, 3, 0), q, 8u * q, 8, r, 0), KEEL_OK);
        assert_memory_equal(r, w, sizeof(w));
        assert_true(vscsi_dev_stats(v.d)->cmds_per_queue[2 + q] >= before + 2u);
        assert_true(keel_vscsi_vq_stats(v.vs, q)->completions >= 2u);
    }
    assert_null(keel_vscsi_vq_stats(v.vs, v.vs->nrq));
    vst_finish(&v);
}

static void test_many_requests_in_flight_complete_in_any_order(void **state)
{
    enum { N = 48, BLK = 4 };
    struct vst v;
    struct vst_req *reqs = calloc(N, sizeof(*reqs));
    uint8_t *bufs = malloc((size_t)N * BLK * 512);
    unsigned i, submitted = 0, polls = 0;

    (void)state;
    assert_non_null(reqs);
    assert_non_null(bufs);
    start(&v, VMODEL_MMIO_V2, true, false, SIM_MAP_TRANSLATE);
    v.mc.mode = VMODEL_DEFERRED;
    v.mc.latency_us = 50;
    v.mc.order = VMODEL_ORDER_REVERSE;
    assert_int_equal(vst_start(&v), KEEL_OK);
    vst_fill(bufs, (size_t)N * BLK * 512, 40);
    /* More requests than slots: KEEL_ENOSPC is back-pressure, poll then resubmit. */
    while (submitted < N && polls < 10000u) {
        struct keel_blkdev *b = vst_disk(&v, submitted % 2u ? 3 : 0, 0);
        vst_req_init(&reqs[submitted], &v, KEEL_BLK_OP_WRITE, 0, 16u * submitted, BLK,
                     bufs + (size_t)submitted * BLK * 512);
        if (keel_blk_submit(b, &reqs[submitted].r) == KEEL_OK) {
            submitted++;
            continue;
        }
        (void)keel_blk_poll(b, 0, 0);
        sim_advance(v.s, 20);
        polls++;
    }
    assert_int_equal(submitted, N);
    for (i = 0; i < N; i++)
        assert_int_equal(vst_wait(&v, vst_disk(&v, i % 2u ? 3 : 0, 0), &reqs[i], 1000), KEEL_OK);
    for (i = 0; i < N; i++)
        assert_true(vst_media_equals(&v, i % 2u ? 3 : 0, 0, 16u * i * 512u,
                                     bufs + (size_t)i * BLK * 512, BLK * 512));
    free(reqs);
    free(bufs);
    vst_finish(&v);
}

/* Six one-block reads to LUN 0:0 whose cmd_per_lun share is 2, the device holding the first two:
 * two commands reach the device, four wait in the driver; released, all six complete. */
static void six_reads_with_a_share_of_two(struct vst *v)
{
    enum { N = 6 };
    struct vst_req reqs[N];
    uint8_t bufs[N][512];
    unsigned i, released = 0;

    scsi_model_hold_next(v->sm, 0, 0, 2);
    for (i = 0; i < N; i++) {
        vst_req_init(&reqs[i], v, KEEL_BLK_OP_READ, 0, i, 1, bufs[i]);
        assert_int_equal(keel_blk_submit(vst_disk(v, 0, 0), &reqs[i].r), KEEL_OK);
    }
    (void)keel_blk_poll(vst_disk(v, 0, 0), 0, 0);
    assert_int_equal(vscsi_dev_held(v->d), 2);
    assert_int_equal(keel_vscsi_find(v->vs, 0, 0)->inflight[0], 2);
    for (i = 0; i < 64 && released < 2u; i++) {
        const struct vscsi_cmd_log *lg = vscsi_dev_last(v->d, i);
        if (lg != NULL && lg->cdb[0] == KEEL_SCSI_OP_READ10 && lg->target == 0 && lg->lun == 0 &&
            scsi_model_release(v->sm, lg->tag) == 0)
            released++;
    }
    assert_int_equal(released, 2);
    for (i = 0; i < N; i++)
        assert_int_equal(vst_wait(v, vst_disk(v, 0, 0), &reqs[i], 100), KEEL_OK);
    assert_int_equal(vscsi_dev_stats(v->d)->max_held_on_lun, 2);
}

static void test_cmd_per_lun_is_honoured(void **state)
{
    struct vst v;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    v.dc.cmd_per_lun = 2;
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->qdepth, 2);
    six_reads_with_a_share_of_two(&v);
    vst_finish(&v);
}

/* A device that states a lower cmd_per_lun after a reset (and a smaller max_sectors) is taken at
 * its word: the LUN's share and the transfer limit follow the configuration read at re-init. */
static void test_limits_lowered_across_a_reset_are_honoured(void **state)
{
    struct vst v;
    uint8_t big[64 * 512];

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_true(keel_vscsi_find(v.vs, 0, 0)->qdepth > 2u);
    vscsi_dev_config(v.d)->cmd_per_lun = 2;
    vscsi_dev_config(v.d)->max_sectors = 16;
    assert_int_equal(keel_vscsi_recover(v.vs), KEEL_OK);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->qdepth, 2);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->max_xfer_blocks, 16);
    /* 64 blocks in pieces of at most 16 (the model flags a larger one as a violation) */
    vst_fill(big, sizeof(big), 9);
    assert_int_equal(keel_blk_write(vst_disk(&v, 0, 0), 0, 100, 64, big, 0), KEEL_OK);
    assert_true(vst_media_equals(&v, 0, 0, 100u * 512u, big, sizeof(big)));
    six_reads_with_a_share_of_two(&v);
    vst_finish(&v); /* no "more commands on one LUN than cmd_per_lun", no oversized transfer */
}

/* Release every command the device holds whose log entry is still in reach (a sim timer). */
static void release_held(void *arg)
{
    struct vst *v = arg;
    unsigned i;

    for (i = 0; i < VSCSI_DEV_LOG; i++) {
        const struct vscsi_cmd_log *lg = vscsi_dev_last(v->d, i);
        if (lg != NULL)
            (void)scsi_model_release(v->sm, lg->tag);
    }
}

/* An internal command (here a pass-through INQUIRY; discovery and revalidation go the same way) to
 * a LUN whose share of cmd_per_lun block I/O fills waits for room instead of making one command
 * too many at the device, and goes out once the I/O is back. */
static void test_internal_command_waits_for_room_in_cmd_per_lun(void **state)
{
    struct vst v;
    struct vst_req rq;
    uint8_t buf[512], inq[96], cdb[6] = {KEEL_SCSI_OP_INQUIRY, 0, 0, 0, sizeof(inq), 0};
    uint8_t status = 0xff;
    uint32_t xfer = 0;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    v.dc.cmd_per_lun = 1;
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->qdepth, 1);
    scsi_model_hold_next(v.sm, 0, 0, 2); /* the READ, then the INQUIRY */
    vst_req_init(&rq, &v, KEEL_BLK_OP_READ, 0, 5, 1, buf);
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &rq.r), KEEL_OK);
    (void)keel_blk_poll(vst_disk(&v, 0, 0), 0, 0);
    assert_int_equal(vscsi_dev_held(v.d), 1);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->inflight[0], 1);
    /* The device gives the READ back after 500 us, the INQUIRY 1 ms after that. */
    assert_true(sim_timer_add(v.s, 500, release_held, &v) >= 0);
    assert_true(sim_timer_add(v.s, 1500, release_held, &v) >= 0);
    assert_int_equal(keel_vscsi_command(v.vs, 0, 0, cdb, sizeof(cdb), inq, sizeof(inq), false,
                                        1000000, &status, &xfer),
                     KEEL_OK);
    assert_int_equal(status, 0);
    assert_true(xfer >= 36u);
    assert_int_equal(vst_wait(&v, vst_disk(&v, 0, 0), &rq, 100), KEEL_OK);
    assert_int_equal(vscsi_dev_stats(v.d)->max_held_on_lun, 1);
    assert_int_equal(v.vs->stats.lun_full_waits, 1);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->inflight[0], 0);
    vst_finish(&v); /* no "more commands on one LUN than cmd_per_lun" */
}

/* The sequence the fuzzer found (regression/vscsi/scan-during-io-past-cmd-per-lun): a rescan
 * while block I/O fills the LUN's share; its REPORT LUNS (to LUN 0) and the revalidation that
 * follows wait for room. */
static void test_scan_waits_for_room_in_cmd_per_lun(void **state)
{
    struct vst v;
    struct vst_req rq;
    uint8_t buf[512];

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    v.dc.cmd_per_lun = 1;
    assert_int_equal(vst_start(&v), KEEL_OK);
    scsi_model_hold_next(v.sm, 0, 0, 2); /* the READ, then REPORT LUNS */
    vst_req_init(&rq, &v, KEEL_BLK_OP_READ, 0, 7, 1, buf);
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &rq.r), KEEL_OK);
    (void)keel_blk_poll(vst_disk(&v, 0, 0), 0, 0);
    assert_int_equal(vscsi_dev_held(v.d), 1);
    assert_true(sim_timer_add(v.s, 500, release_held, &v) >= 0);
    assert_true(sim_timer_add(v.s, 1500, release_held, &v) >= 0);
    assert_int_equal(keel_vscsi_scan_target(v.vs, 0), KEEL_OK);
    assert_int_equal(vst_wait(&v, vst_disk(&v, 0, 0), &rq, 100), KEEL_OK);
    assert_int_equal(vscsi_dev_stats(v.d)->max_held_on_lun, 1);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->state, KEEL_VSCSI_LUN_READY);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->inflight[0], 0);
    vst_finish(&v);
}

/* The same when the I/O never comes back in time: the internal command times out without ever
 * reaching the device, and the LUN is left as it was. */
static void test_internal_command_times_out_waiting_for_a_full_lun(void **state)
{
    struct vst v;
    struct vst_req rq;
    uint8_t buf[512], inq[96], cdb[6] = {KEEL_SCSI_OP_INQUIRY, 0, 0, 0, sizeof(inq), 0};
    uint64_t cmds;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    v.dc.cmd_per_lun = 1;
    assert_int_equal(vst_start(&v), KEEL_OK);
    scsi_model_hold_next(v.sm, 0, 0, 2);
    vst_req_init(&rq, &v, KEEL_BLK_OP_READ, 0, 5, 1, buf);
    rq.r.timeout_us = 60000000; /* outlives the INQUIRY */
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &rq.r), KEEL_OK);
    (void)keel_blk_poll(vst_disk(&v, 0, 0), 0, 0);
    assert_int_equal(vscsi_dev_held(v.d), 1);
    cmds = vscsi_dev_stats(v.d)->cmds;
    assert_int_equal(
        keel_vscsi_command(v.vs, 0, 0, cdb, sizeof(cdb), inq, sizeof(inq), false, 2000, NULL, NULL),
        KEEL_ETIMEDOUT);
    assert_int_equal(vscsi_dev_stats(v.d)->cmds, cmds); /* the INQUIRY was never sent */
    assert_int_equal(vscsi_dev_held(v.d), 1);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->inflight[0], 1);
    release_held(&v);
    assert_int_equal(vst_wait(&v, vst_disk(&v, 0, 0), &rq, 100), KEEL_OK);
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->state, KEEL_VSCSI_LUN_READY);
    vst_finish(&v);
}

/* cmd_per_lun below the number of request queues: every queue needs one command per LUN, so the
 * driver uses no more queues than cmd_per_lun (one command per queue and LUN would add up past
 * it). */
static void test_cmd_per_lun_below_the_queue_count_limits_the_queues(void **state)
{
    struct vst v;
    struct vst_req rq[2];
    uint8_t bufs[2][512];
    struct keel_blkdev *b;
    unsigned q, n;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    v.dc.num_queues = 2;
    v.dc.cmd_per_lun = 1;
    assert_int_equal(vst_start(&v), KEEL_OK);
    b = vst_disk(&v, 0, 0);
    n = b->info.queue_count;
    assert_int_equal(n, 1);
    assert_int_equal(v.vs->nrq, 1);
    scsi_model_hold_next(v.sm, 0, 0, 2);
    for (q = 0; q < 2u; q++) {
        vst_req_init(&rq[q], &v, KEEL_BLK_OP_READ, (uint16_t)(q % n), q, 1, bufs[q]);
        assert_int_equal(keel_blk_submit(b, &rq[q].r), KEEL_OK);
    }
    for (q = 0; q < n; q++)
        (void)keel_blk_poll(b, q, 0);
    assert_int_equal(vscsi_dev_held(v.d), 1);
    release_held(&v);
    for (q = 0; q < 2u; q++) {
        (void)keel_blk_poll(b, 0, 0);
        release_held(&v);
        assert_int_equal(vst_wait(&v, b, &rq[q], 100), KEEL_OK);
    }
    assert_int_equal(vscsi_dev_stats(v.d)->max_held_on_lun, 1);
    vst_finish(&v);
}

static void test_interrupts_complete_requests_without_polling(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[4096];
    unsigned i;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, true, true, SIM_MAP_TRANSLATE);
    v.mc.mode = VMODEL_DEFERRED;
    v.mc.latency_us = 30;
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(v.vs->vdev.irq_mode, KEEL_VIRTIO_IRQ_MSIX_PER_VQ);
    vst_req_init(&r, &v, KEEL_BLK_OP_READ, 0, 9, 1, buf);
    assert_int_equal(keel_blk_submit(vst_disk(&v, 2, 0), &r.r), KEEL_OK);
    for (i = 0; i < 100 && !r.done; i++)
        sim_advance(v.s, 10); /* no poll: the interrupt completes it */
    assert_true(r.done);
    assert_int_equal(r.status, KEEL_OK);
    assert_true(keel_vscsi_vq_stats(v.vs, 0)->interrupts >= 1u);
    vst_finish(&v);
}

static void test_bounced_mappings_are_synced_and_released(void **state)
{
    struct vst v;

    (void)state;
    start(&v, VMODEL_PCI_TRANSITIONAL, false, false, SIM_MAP_BOUNCE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    vst_roundtrip(&v, 0, 0, 1, 33, 50);
    vst_roundtrip(&v, 2, 0, 1, 3, 51);
    assert_int_equal(v.s->maps_live, 0);
    vst_finish(&v);
}

static void test_out_of_range_and_bad_queue_are_refused(void **state)
{
    struct vst v;
    uint8_t buf[512];
    struct vst_req r;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 8192, 1, buf, 0), KEEL_ERANGE);
    vst_req_init(&r, &v, KEEL_BLK_OP_READ, 1, 0, 1, buf); /* one request queue only */
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &r.r), KEEL_EINVAL);
    vst_finish(&v);
}

/* keel_blk_plug / keel_blk_unplug: a batch of commands costs one notification at most, every
 * request completes with the right data, across ring wraps. */
static void test_batched_submissions_notify_once(void **state)
{
    enum { N = 7 };
    struct vst v;
    struct vst_req reqs[N];
    uint8_t *w = malloc(64 * 512), bufs[N][512];
    struct keel_blkdev *b;
    struct keel_vq *vq;
    uint64_t dn, vn;
    unsigned round, i;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE);
    v.mc.queue_size_max = 16; /* 30 batches of 7 wrap the ring */
    assert_int_equal(vst_start(&v), KEEL_OK);
    b = vst_disk(&v, 0, 0);
    vq = &v.vs->rq[0].vq;
    vst_fill(w, 64 * 512, 3);
    assert_int_equal(keel_blk_write(b, 0, 0, 64, w, 0), KEEL_OK);
    for (round = 0; round < 30; round++) {
        uint64_t base = (round * N) & 31u;
        dn = vmodel_stats(v.m)->vq[2].notifies;
        vn = vq->stats.notifications;
        assert_int_equal(keel_blk_plug(b, 0), KEEL_OK);
        for (i = 0; i < N; i++) {
            vst_req_init(&reqs[i], &v, KEEL_BLK_OP_READ, 0, base + i, 1, bufs[i]);
            assert_int_equal(keel_blk_submit(b, &reqs[i].r), KEEL_OK);
        }
        assert_int_equal(vmodel_stats(v.m)->vq[2].notifies, dn); /* held back */
        assert_int_equal(keel_blk_unplug(b, 0), KEEL_OK);
        assert_int_equal(vmodel_stats(v.m)->vq[2].notifies - dn, 1);
        assert_int_equal(vq->stats.notifications - vn, 1);
        for (i = 0; i < N; i++) {
            assert_int_equal(vst_wait(&v, b, &reqs[i], 100), KEEL_OK);
            assert_memory_equal(bufs[i], w + (base + i) * 512, 512);
        }
    }
    assert_int_equal(keel_blk_plug(b, 1), KEEL_EINVAL); /* one request queue only */
    free(w);
    vst_finish(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_integrity_on_every_disk_shape),
        cmocka_unit_test(test_requests_split_by_block_limits),
        cmocka_unit_test(test_requests_split_by_max_sectors),
        cmocka_unit_test(test_requests_split_by_seg_max),
        cmocka_unit_test(test_resent_write_that_maps_into_more_segments_is_split),
        cmocka_unit_test(test_resent_read_that_maps_into_more_segments_is_split),
        cmocka_unit_test(test_fua_is_native_with_dpofua),
        cmocka_unit_test(test_fua_is_a_sync_after_the_write_without_dpofua),
        cmocka_unit_test(test_flush_sends_synchronize_cache),
        cmocka_unit_test(test_trim_is_unmap_within_the_provisioning_limits),
        cmocka_unit_test(test_trim_is_refused_without_lbpu),
        cmocka_unit_test(test_write_protected_lun_refuses_writes),
        cmocka_unit_test(test_every_request_queue_carries_io),
        cmocka_unit_test(test_many_requests_in_flight_complete_in_any_order),
        cmocka_unit_test(test_cmd_per_lun_is_honoured),
        cmocka_unit_test(test_limits_lowered_across_a_reset_are_honoured),
        cmocka_unit_test(test_internal_command_waits_for_room_in_cmd_per_lun),
        cmocka_unit_test(test_scan_waits_for_room_in_cmd_per_lun),
        cmocka_unit_test(test_internal_command_times_out_waiting_for_a_full_lun),
        cmocka_unit_test(test_cmd_per_lun_below_the_queue_count_limits_the_queues),
        cmocka_unit_test(test_interrupts_complete_requests_without_polling),
        cmocka_unit_test(test_bounced_mappings_are_synced_and_released),
        cmocka_unit_test(test_out_of_range_and_bad_queue_are_refused),
        cmocka_unit_test(test_batched_submissions_notify_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
