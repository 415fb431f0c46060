/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request types (IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES with and without UNMAP,
 * SECURE_ERASE), each only when offered; 512-byte sector addressing with other block sizes; FUA
 * emulation; and splitting to honour seg_max, size_max and the discard / write-zeroes /
 * secure-erase limits. Request shapes are read back from the model's request log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

static void start(struct vt *v, enum vmodel_transport t, bool packed, enum sim_map_mode map)
{
    struct vt_params p = {t, packed, false, map};
    vt_init(v, &p);
}

static const struct vmodel_blk_req *last(struct vt *v, unsigned i)
{
    const struct vmodel_blk_req *r = vmodel_blk_last(v->b, i);
    assert_non_null(r);
    return r;
}

static uint64_t reqs(struct vt *v)
{
    return vmodel_blk_stats(v->b)->reqs;
}

static void test_read_write_use_512_byte_sectors_with_4k_blocks(void **state)
{
    struct vt v;
    uint8_t *w = malloc(3 * 4096), *r = malloc(3 * 4096);

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, SIM_MAP_TRANSLATE);
    v.bc.blk_size = 4096;
    v.bc.capacity = 8192; /* 4 MiB: 1024 blocks of 4 KiB */
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(v.vb->blk.info.sector_size, 4096);
    assert_int_equal(v.vb->blk.info.sector_count, 1024);
    vt_fill(w, 3 * 4096, 5);
    assert_int_equal(keel_blk_write(&v.vb->blk, 0, 3, 3, w, 0), KEEL_OK);
    assert_int_equal(last(&v, 0)->type, VMODEL_BLK_T_OUT);
    assert_int_equal(last(&v, 0)->sector, 24); /* block 3 = sector 24 */
    assert_int_equal(last(&v, 0)->data_len, 3 * 4096);
    assert_true(vt_media_equals(&v, 3 * 4096, w, 3 * 4096));
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 3, 3, r, 0), KEEL_OK);
    assert_int_equal(last(&v, 0)->type, VMODEL_BLK_T_IN);
    assert_int_equal(last(&v, 0)->sector, 24);
    assert_memory_equal(r, w, 3 * 4096);
    /* the last block, and one past it */
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1023, 1, r, 0), KEEL_OK);
    assert_int_equal(last(&v, 0)->sector, 1023 * 8);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1024, 1, r, 0), KEEL_ERANGE);
    free(w);
    free(r);
    vt_finish(&v);
}

static void test_flush_is_sent_only_when_offered(void **state)
{
    struct vt v;
    uint64_t n;

    (void)state;
    start(&v, VMODEL_MMIO_V2, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_true(v.vb->blk.info.flags & KEEL_BLK_F_FLUSH);
    assert_int_equal(keel_blk_flush(&v.vb->blk, 0, 0), KEEL_OK);
    assert_int_equal(last(&v, 0)->type, VMODEL_BLK_T_FLUSH);
    assert_int_equal(last(&v, 0)->sector, 0);
    assert_int_equal(vmodel_blk_stats(v.b)->flushes, 1);
    vt_finish(&v);

    start(&v, VMODEL_MMIO_V2, false, SIM_MAP_TRANSLATE);
    v.bc.features &= ~(VMODEL_BLK_F_FLUSH | VMODEL_BLK_F_CONFIG_WCE);
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_false(v.vb->blk.info.flags & KEEL_BLK_F_FLUSH);
    n = reqs(&v);
    assert_int_equal(keel_blk_flush(&v.vb->blk, 0, 0), KEEL_OK); /* write-through: nothing to do */
    assert_int_equal(reqs(&v), n);
    vt_finish(&v);
}

static void test_fua_write_is_followed_by_a_flush_on_writeback_cache(void **state)
{
    struct vt v;
    uint8_t buf[1024];
    struct vt_req r;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, true, SIM_MAP_TRANSLATE);
    assert_int_equal(vt_start(&v), KEEL_OK);
    vt_fill(buf, sizeof(buf), 1);
    vt_req_init(&r, KEEL_BLK_OP_WRITE, 0, 40, 2, buf);
    r.r.flags = KEEL_BLK_REQ_FUA;
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
    assert_int_equal(vt_wait(&v, &r, 1000), KEEL_OK);
    assert_int_equal(last(&v, 0)->type, VMODEL_BLK_T_FLUSH);
    assert_int_equal(last(&v, 1)->type, VMODEL_BLK_T_OUT);
    assert_int_equal(v.vb->stats.fua_flushes, 1);
    assert_true(vt_media_equals(&v, 40 * 512, buf, sizeof(buf)));
    /* write-through: FUA needs no flush */
    assert_int_equal(keel_vblk_set_writeback(v.vb, false), KEEL_OK);
    assert_false(vmodel_blk_wce(v.b));
    assert_false(v.vb->blk.info.flags & KEEL_BLK_F_FLUSH);
    vt_req_init(&r, KEEL_BLK_OP_WRITE, 0, 50, 2, buf);
    r.r.flags = KEEL_BLK_REQ_FUA;
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
    assert_int_equal(vt_wait(&v, &r, 1000), KEEL_OK);
    assert_int_equal(last(&v, 0)->type, VMODEL_BLK_T_OUT);
    assert_int_equal(v.vb->stats.fua_flushes, 1);
    assert_int_equal(keel_vblk_set_writeback(v.vb, true), KEEL_OK);
    assert_true(v.vb->blk.info.flags & KEEL_BLK_F_FLUSH);
    vt_finish(&v);
}

static void test_discard_is_split_by_max_discard_sectors(void **state)
{
    struct vt v;
    size_t len;
    uint8_t *media;
    unsigned i;

    (void)state;
    start(&v, VMODEL_MMIO_V2, false, SIM_MAP_TRANSLATE);
    v.bc.max_discard_sectors = 64;
    v.bc.discard_sector_alignment = 1; /* the limit alone decides here */
    v.bc.discard_fill = 0x5a;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_true(v.vb->blk.info.flags & KEEL_BLK_F_TRIM);
    assert_int_equal(keel_blk_trim(&v.vb->blk, 0, 100, 200, 0), KEEL_OK);
    assert_int_equal(vmodel_blk_stats(v.b)->discards, 4);
    for (i = 0; i < 4; i++) {
        const struct vmodel_blk_req *r = last(&v, 3 - i);
        assert_int_equal(r->type, VMODEL_BLK_T_DISCARD);
        assert_int_equal(r->ranges, 1);
        assert_int_equal(r->flags, 0); /* unmap must be 0 for discard */
        assert_int_equal(r->num_sectors, i < 3 ? 64 : 8);
        assert_int_equal(r->status, VMODEL_BLK_S_OK);
    }
    assert_int_equal(v.vb->stats.splits, 3);
    media = vmodel_blk_media(v.b, &len);
    for (i = 100 * 512; i < 300 * 512; i++)
        assert_int_equal(media[i], 0x5a);
    assert_int_equal(media[99 * 512 + 511], vmodel_blk_pattern(99 * 512 + 511));
    assert_int_equal(media[300 * 512], vmodel_blk_pattern(300 * 512));
    vt_finish(&v);
}

/* Check the last `n` requests: each ends on a multiple of `align` sectors except the last, none is
 * longer than `max` sectors, and together they cover [sector, sector + total) in order. */
static void assert_aligned_pieces(struct vt *v, unsigned n, uint32_t type, uint64_t sector,
                                  uint64_t total, uint64_t max, uint64_t align)
{
    uint64_t at = sector;
    unsigned i;

    for (i = 0; i < n; i++) {
        const struct vmodel_blk_req *r = last(v, n - 1u - i);
        assert_int_equal(r->type, type);
        assert_int_equal(r->sector, at);
        assert_true(r->num_sectors <= max);
        if (i + 1u < n)
            assert_int_equal((r->sector + r->num_sectors) % align, 0);
        assert_int_equal(r->status, VMODEL_BLK_S_OK);
        at += r->num_sectors;
    }
    assert_int_equal(at, sector + total);
}

/* 5.2.4: discard_sector_alignment guides the split points; a power-of-two alignment is kept
 * (512-byte and 4 KiB blocks), any other is ignored (splitting by the limit alone). */
static void test_discard_split_points_honour_discard_sector_alignment(void **state)
{
    struct vt v;
    uint64_t n0;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, SIM_MAP_TRANSLATE);
    v.bc.max_discard_sectors = 64;
    v.bc.discard_sector_alignment = 16;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_blk_trim(&v.vb->blk, 0, 100, 200, 0), KEEL_OK);
    assert_int_equal(vmodel_blk_stats(v.b)->discards, 4); /* 60 + 64 + 64 + 12 */
    assert_aligned_pieces(&v, 4, VMODEL_BLK_T_DISCARD, 100, 200, 64, 16);
    assert_int_equal(last(&v, 3)->num_sectors, 60);
    /* already aligned: full pieces */
    n0 = vmodel_blk_stats(v.b)->discards;
    assert_int_equal(keel_blk_trim(&v.vb->blk, 0, 512, 128, 0), KEEL_OK);
    assert_int_equal(vmodel_blk_stats(v.b)->discards - n0, 2);
    assert_aligned_pieces(&v, 2, VMODEL_BLK_T_DISCARD, 512, 128, 64, 16);
    /* small enough for one piece: no split, whatever the alignment */
    assert_int_equal(keel_blk_trim(&v.vb->blk, 0, 3, 50, 0), KEEL_OK);
    assert_int_equal(last(&v, 0)->num_sectors, 50);
    vt_finish(&v);

    /* 4 KiB logical blocks: alignment 64 sectors = 8 blocks, limit 256 sectors = 32 blocks */
    start(&v, VMODEL_MMIO_V2, true, SIM_MAP_BOUNCE);
    v.bc.blk_size = 4096;
    v.bc.capacity = 8192;
    v.bc.max_discard_sectors = 256;
    v.bc.discard_sector_alignment = 64;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_blk_trim(&v.vb->blk, 0, 5, 100, 0), KEEL_OK);
    assert_int_equal(vmodel_blk_stats(v.b)->discards, 4); /* 27 + 32 + 32 + 9 blocks */
    assert_aligned_pieces(&v, 4, VMODEL_BLK_T_DISCARD, 5 * 8, 100 * 8, 256, 64);
    vt_finish(&v);

    /* not a power of two: ignored */
    start(&v, VMODEL_PCI_MODERN, false, SIM_MAP_TRANSLATE);
    v.bc.max_discard_sectors = 64;
    v.bc.discard_sector_alignment = 12;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_blk_trim(&v.vb->blk, 0, 100, 200, 0), KEEL_OK);
    assert_int_equal(last(&v, 3)->num_sectors, 64);
    assert_int_equal(last(&v, 0)->num_sectors, 8);
    vt_finish(&v);
}

/* The same for secure erase with secure_erase_sector_alignment; write zeroes has no alignment. */
static void test_secure_erase_split_points_honour_their_alignment(void **state)
{
    struct vt v;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, SIM_MAP_TRANSLATE);
    v.bc.features |= VMODEL_BLK_F_SECURE_ERASE;
    v.bc.max_secure_erase_sectors = 32;
    v.bc.secure_erase_sector_alignment = 8;
    v.bc.max_write_zeroes_sectors = 32;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_vblk_secure_erase(v.vb, 0, 3, 70, 0), KEEL_OK);
    assert_int_equal(vmodel_blk_stats(v.b)->secure_erases, 3); /* 29 + 32 + 9 */
    assert_aligned_pieces(&v, 3, VMODEL_BLK_T_SECURE_ERASE, 3, 70, 32, 8);
    assert_int_equal(keel_blk_write_zeroes(&v.vb->blk, 0, 3, 70, 0), KEEL_OK);
    assert_int_equal(last(&v, 2)->num_sectors, 32);
    assert_int_equal(last(&v, 1)->num_sectors, 32);
    assert_int_equal(last(&v, 0)->num_sectors, 6);
    vt_finish(&v);
}

static void test_write_zeroes_with_and_without_unmap(void **state)
{
    struct vt v;
    struct vt_req r;
    size_t len;
    uint8_t *media;
    unsigned i;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, SIM_MAP_TRANSLATE);
    v.bc.max_write_zeroes_sectors = 16;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_true(v.vb->blk.info.flags & KEEL_BLK_F_WRITE_ZEROES);
    assert_int_equal(keel_blk_write_zeroes(&v.vb->blk, 0, 10, 20, 0), KEEL_OK);
    assert_int_equal(last(&v, 0)->type, VMODEL_BLK_T_WRITE_ZEROES);
    assert_int_equal(last(&v, 0)->num_sectors, 4);
    assert_int_equal(last(&v, 1)->num_sectors, 16);
    assert_int_equal(last(&v, 0)->flags, 0);
    vt_req_init(&r, KEEL_BLK_OP_WRITE_ZEROES, 0, 500, 8, NULL);
    r.r.flags = KEEL_BLK_REQ_UNMAP;
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
    assert_int_equal(vt_wait(&v, &r, 1000), KEEL_OK);
    assert_int_equal(last(&v, 0)->flags, VMODEL_BLK_WZ_F_UNMAP);
    assert_int_equal(last(&v, 0)->sector, 500);
    assert_int_equal(last(&v, 0)->ranges, 1);
    assert_int_equal(vmodel_blk_stats(v.b)->write_zeroes_unmap, 1);
    media = vmodel_blk_media(v.b, &len);
    for (i = 10 * 512; i < 30 * 512; i++)
        assert_int_equal(media[i], 0);
    for (i = 500 * 512; i < 508 * 512; i++)
        assert_int_equal(media[i], 0);
    vt_finish(&v);
}

static void test_secure_erase_only_when_offered_and_split(void **state)
{
    struct vt v;

    (void)state;
    start(&v, VMODEL_MMIO_V2, true, SIM_MAP_TRANSLATE);
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_vblk_secure_erase(v.vb, 0, 0, 8, 0), KEEL_ENOTSUP);
    vt_finish(&v);

    start(&v, VMODEL_MMIO_V2, true, SIM_MAP_TRANSLATE);
    v.bc.features |= VMODEL_BLK_F_SECURE_ERASE;
    v.bc.max_secure_erase_sectors = 32;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_vblk_secure_erase(v.vb, 0, 64, 70, 0), KEEL_OK);
    assert_int_equal(vmodel_blk_stats(v.b)->secure_erases, 3);
    assert_int_equal(last(&v, 0)->type, VMODEL_BLK_T_SECURE_ERASE);
    assert_int_equal(last(&v, 0)->num_sectors, 6);
    assert_int_equal(last(&v, 2)->num_sectors, 32);
    assert_int_equal(keel_vblk_secure_erase(v.vb, 0, 2040, 9, 0), KEEL_ERANGE);
    assert_int_equal(keel_vblk_secure_erase(v.vb, 0, 0, 0, 0), KEEL_EINVAL);
    vt_finish(&v);
}

static void test_get_id_reads_the_serial(void **state)
{
    struct vt v;
    char id[32];

    (void)state;
    start(&v, VMODEL_PCI_LEGACY, false, SIM_MAP_TRANSLATE);
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_vblk_get_id(v.vb, id, sizeof(id), 0), KEEL_OK);
    assert_string_equal(id, "KEEL-VMODEL-0001");
    assert_int_equal(last(&v, 0)->type, VMODEL_BLK_T_GET_ID);
    vt_finish(&v);

    /* exactly 20 characters: no NUL from the device, Keel terminates it */
    start(&v, VMODEL_PCI_MODERN, false, SIM_MAP_TRANSLATE);
    memcpy(v.bc.serial, "ABCDEFGHIJKLMNOPQRST", 20);
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_vblk_get_id(v.vb, id, sizeof(id), 0), KEEL_OK);
    assert_string_equal(id, "ABCDEFGHIJKLMNOPQRST");
    assert_int_equal(keel_vblk_get_id(v.vb, id, 5, 0), KEEL_OK);
    assert_string_equal(id, "ABCD");
    vt_finish(&v);

    start(&v, VMODEL_MMIO_V1, false, SIM_MAP_TRANSLATE);
    v.bc.get_id_unsupported = true;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(keel_vblk_get_id(v.vb, id, sizeof(id), 0), KEEL_ENOTSUP);
    assert_string_equal(id, "");
    vt_finish(&v);
}

static void test_read_only_device_refuses_writes_before_the_device(void **state)
{
    struct vt v;
    uint8_t buf[512] = {0};
    uint64_t n;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, SIM_MAP_TRANSLATE);
    v.bc.read_only = true;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_true(v.vb->blk.info.flags & KEEL_BLK_F_READ_ONLY);
    n = reqs(&v);
    assert_int_equal(keel_blk_write(&v.vb->blk, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_trim(&v.vb->blk, 0, 0, 1, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_write_zeroes(&v.vb->blk, 0, 0, 1, 0), KEEL_EROFS);
    assert_int_equal(reqs(&v), n);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 0, 1, buf, 0), KEEL_OK);
    vt_finish(&v);
}

static void test_types_not_offered_are_refused(void **state)
{
    struct vt v;
    uint64_t n;

    (void)state;
    start(&v, VMODEL_MMIO_V2, false, SIM_MAP_TRANSLATE);
    v.bc.features &= ~(VMODEL_BLK_F_DISCARD | VMODEL_BLK_F_WRITE_ZEROES);
    assert_int_equal(vt_start(&v), KEEL_OK);
    n = reqs(&v);
    assert_int_equal(keel_blk_trim(&v.vb->blk, 0, 0, 8, 0), KEEL_ENOTSUP);
    assert_int_equal(keel_blk_write_zeroes(&v.vb->blk, 0, 0, 8, 0), KEEL_ENOTSUP);
    assert_int_equal(reqs(&v), n);
    vt_finish(&v);
}

/* Page-scrambled buffers: one descriptor per page, at most seg_max per request. */
static void test_requests_are_split_to_honour_seg_max(void **state)
{
    static const unsigned seg_max[] = {1, 3, 4, 7};
    unsigned i;

    (void)state;
    for (i = 0; i < 4; i++) {
        struct vt v;
        uint8_t *w = aligned_alloc(4096, 84 * 1024), *r = aligned_alloc(4096, 84 * 1024);
        /* seg_max 1 needs every block within one page; the others start mid-page */
        size_t wo = i == 0 ? 512 : 100, ro = i == 0 ? 1024 : 7;
        uint64_t before;
        unsigned k, n;

        start(&v, VMODEL_PCI_MODERN, i & 1u, SIM_MAP_TRANSLATE);
        v.bc.seg_max = seg_max[i];
        assert_int_equal(vt_start(&v), KEEL_OK);
        vt_fill(w, 84 * 1024, i);
        before = vmodel_blk_stats(v.b)->log_total;
        assert_int_equal(keel_blk_write(&v.vb->blk, 0, 200, 160, w + wo, 0), KEEL_OK);
        n = (unsigned)(vmodel_blk_stats(v.b)->log_total - before);
        assert_true(n >= (80 * 1024) / (seg_max[i] * 4096u));
        for (k = 0; k < n; k++) {
            assert_true(last(&v, k)->data_segs <= seg_max[i]);
            assert_int_equal(last(&v, k)->data_len % 512, 0);
        }
        assert_true(v.vb->stats.splits >= n - 1);
        assert_true(vt_media_equals(&v, 200 * 512, w + wo, 160 * 512));
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 200, 160, r + ro, 0), KEEL_OK);
        assert_memory_equal(r + ro, w + wo, 160 * 512);
        if (seg_max[i] == 1) {
            /* a block straddling two pages cannot travel in one segment: refused, not copied */
            before = vmodel_blk_stats(v.b)->log_total;
            assert_int_equal(keel_blk_read(&v.vb->blk, 0, 0, 1, r + 4000, 0), KEEL_EFAULT);
            assert_int_equal(vmodel_blk_stats(v.b)->log_total, before);
        }
        free(w);
        free(r);
        vt_finish(&v);
    }
}

/* A contiguous mapping longer than size_max becomes several descriptors, within seg_max. */
static void test_segments_are_cut_at_size_max(void **state)
{
    struct vt v;
    uint8_t *w = malloc(256 * 1024);
    uint64_t before, k;

    (void)state;
    start(&v, VMODEL_MMIO_V2, false, SIM_MAP_CONTIGUOUS);
    v.bc.size_max = 4096;
    v.bc.seg_max = 8;
    assert_int_equal(vt_start(&v), KEEL_OK);
    vt_fill(w, 256 * 1024, 77);
    before = vmodel_blk_stats(v.b)->log_total;
    assert_int_equal(keel_blk_write(&v.vb->blk, 0, 0, 512, w, 0), KEEL_OK);
    /* 256 KiB in pieces of at most 8 x 4 KiB */
    assert_int_equal(vmodel_blk_stats(v.b)->log_total - before, 8);
    for (k = 0; k < 8; k++) {
        assert_true(last(&v, (unsigned)k)->max_seg_len <= 4096);
        assert_true(last(&v, (unsigned)k)->data_segs <= 8);
        assert_int_equal(last(&v, (unsigned)k)->data_len, 32 * 1024);
    }
    assert_true(vt_media_equals(&v, 0, w, 256 * 1024));
    free(w);
    vt_finish(&v);
}

/* A contiguous mapping of exactly size_max bytes is one data descriptor, one of twice that two
 * (the boundary of the driver's one-segment path). */
static void test_a_mapping_of_exactly_size_max_is_one_descriptor(void **state)
{
    struct vt v;
    uint8_t *w = malloc(8192);

    (void)state;
    start(&v, VMODEL_MMIO_V2, false, SIM_MAP_CONTIGUOUS);
    v.bc.size_max = 4096;
    v.bc.seg_max = 8;
    assert_int_equal(vt_start(&v), KEEL_OK);
    vt_fill(w, 8192, 5);
    assert_int_equal(keel_blk_write(&v.vb->blk, 0, 0, 8, w, 0), KEEL_OK);
    assert_int_equal(last(&v, 0)->data_segs, 1);
    assert_int_equal(last(&v, 0)->data_len, 4096);
    assert_int_equal(keel_blk_write(&v.vb->blk, 0, 0, 16, w, 0), KEEL_OK);
    assert_int_equal(last(&v, 0)->data_segs, 2);
    assert_int_equal(last(&v, 0)->max_seg_len, 4096);
    assert_true(vt_media_equals(&v, 0, w, 8192));
    free(w);
    vt_finish(&v);
}

/* Bigger than one HAL mapping (the sim maps at most 2 MiB at once): pieces are halved to fit. */
static void test_large_transfer_is_split_to_what_the_hal_can_map(void **state)
{
    struct vt v;
    size_t len = 6u << 20;
    uint8_t *w = malloc(len), *r = malloc(len);

    (void)state;
    start(&v, VMODEL_PCI_MODERN, true, SIM_MAP_CONTIGUOUS);
    v.bc.capacity = 16384; /* 8 MiB */
    v.bc.seg_max = 126;
    assert_int_equal(vt_start(&v), KEEL_OK);
    vt_fill(w, len, 9);
    assert_int_equal(keel_blk_write(&v.vb->blk, 0, 1, (uint32_t)(len / 512), w, 0), KEEL_OK);
    assert_true(vt_media_equals(&v, 512, w, len));
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, (uint32_t)(len / 512), r, 0), KEEL_OK);
    assert_memory_equal(r, w, len);
    assert_true(v.vb->stats.splits >= 2);
    free(w);
    free(r);
    vt_finish(&v);
}

/* Direct chains when indirect descriptors are not offered, on a small ring. */
static void test_without_indirect_descriptors_chains_fit_the_ring(void **state)
{
    struct vt v;
    uint8_t *w = malloc(64 * 1024);
    unsigned packed;

    (void)state;
    for (packed = 0; packed < 2; packed++) {
        start(&v, VMODEL_MMIO_V2, packed != 0, SIM_MAP_TRANSLATE);
        v.mc.features &= ~VMODEL_F_INDIRECT_DESC;
        v.mc.queue_size_max = 8;
        assert_int_equal(vt_start(&v), KEEL_OK);
        assert_false(v.vb->q[0].vq.use_indirect);
        vt_fill(w, 64 * 1024, packed);
        assert_int_equal(keel_blk_write(&v.vb->blk, 0, 0, 128, w, 0), KEEL_OK);
        assert_true(vt_media_equals(&v, 0, w, 64 * 1024));
        assert_int_equal(vmodel_stats(v.m)->vq[0].indirect, 0);
        assert_true(vmodel_stats(v.m)->vq[0].max_chain_descs <= 8);
        vt_finish(&v);
    }
    free(w);
}

/*
 * The capacity shrinks (a configuration change) while a request waits for ring room: it is refused
 * with KEEL_ERANGE when its turn comes, before the device sees it. The block layer checked it
 * against the old capacity at submit, so this is the driver's own check (issue_one).
 */
static void test_a_request_waiting_across_a_shrink_is_refused_before_the_device(void **state)
{
    unsigned packed;

    (void)state;
    for (packed = 0; packed < 2; packed++) {
        struct vt v;
        struct vt_req a, b;
        uint8_t buf_a[512], buf_b[512];
        uint64_t before;

        start(&v, VMODEL_MMIO_V2, packed != 0, SIM_MAP_TRANSLATE);
        v.mc.features &= ~VMODEL_F_INDIRECT_DESC;
        v.mc.queue_size_max = 4; /* room for one 3-descriptor read */
        assert_int_equal(vt_start(&v), KEEL_OK);
        assert_int_equal(v.vb->blk.info.sector_count, 2048);
        vmodel_set_mode(v.m, VMODEL_DEFERRED, 50);
        before = reqs(&v);
        vt_req_init(&a, KEEL_BLK_OP_READ, 0, 0, 1, buf_a);
        vt_req_init(&b, KEEL_BLK_OP_READ, 0, 1500, 1, buf_b);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &a.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &b.r), KEEL_OK); /* waits: ring full */
        vmodel_blk_resize(v.b, 1024);
        sim_advance(v.s, KEEL_CONFIG_VIRTIO_STATUS_POLL_US + 1);
        assert_int_equal(keel_vblk_service(v.vb), KEEL_OK);
        assert_int_equal(v.vb->blk.info.sector_count, 1024);
        assert_false(b.done);
        assert_int_equal(vt_wait(&v, &a, 100), KEEL_OK);
        assert_int_equal(vt_wait(&v, &b, 100), KEEL_ERANGE);
        assert_int_equal(reqs(&v) - before, 1); /* only the first reached the device */
        vt_finish(&v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_write_use_512_byte_sectors_with_4k_blocks),
        cmocka_unit_test(test_flush_is_sent_only_when_offered),
        cmocka_unit_test(test_fua_write_is_followed_by_a_flush_on_writeback_cache),
        cmocka_unit_test(test_discard_is_split_by_max_discard_sectors),
        cmocka_unit_test(test_discard_split_points_honour_discard_sector_alignment),
        cmocka_unit_test(test_secure_erase_split_points_honour_their_alignment),
        cmocka_unit_test(test_write_zeroes_with_and_without_unmap),
        cmocka_unit_test(test_secure_erase_only_when_offered_and_split),
        cmocka_unit_test(test_get_id_reads_the_serial),
        cmocka_unit_test(test_read_only_device_refuses_writes_before_the_device),
        cmocka_unit_test(test_types_not_offered_are_refused),
        cmocka_unit_test(test_requests_are_split_to_honour_seg_max),
        cmocka_unit_test(test_segments_are_cut_at_size_max),
        cmocka_unit_test(test_a_mapping_of_exactly_size_max_is_one_descriptor),
        cmocka_unit_test(test_large_transfer_is_split_to_what_the_hal_can_map),
        cmocka_unit_test(test_without_indirect_descriptors_chains_fit_the_ring),
        cmocka_unit_test(test_a_request_waiting_across_a_shrink_is_refused_before_the_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
