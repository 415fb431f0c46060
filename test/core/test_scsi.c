/* SPDX-License-Identifier: MIT */
/*
 * SCSI helpers: CDB encodings byte for byte against the SPC-5/SBC-4 layouts, the UNMAP parameter
 * list, LUN addressing, and the parsers fed truncated, oversized and lying lengths. Parser inputs
 * that test bounds are copied into exactly-sized heap buffers so ASan catches any over-read.
 */
#include <sim/test_common.h>

#include <keel/error.h>
#include <keel/scsi.h>

/* An exactly-sized heap copy (ASan flags a read one byte past it). */
static uint8_t *exact(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len == 0 ? 1 : len);
    assert_non_null(p);
    if (len != 0)
        memcpy(p, src, len);
    return p;
}

static void prefill(uint8_t *cdb)
{
    memset(cdb, 0xaa, KEEL_SCSI_CDB_MAX);
}

/* ---- CDB builders ---- */

static void test_cdb_test_unit_ready_is_six_zero_bytes(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t want[6] = {0};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_test_unit_ready(cdb), 6);
    assert_memory_equal(cdb, want, 6);
}

static void test_cdb_inquiry_standard_and_vpd_layouts(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t std[6] = {0x12, 0x00, 0x00, 0x00, 0x60, 0x00};
    const uint8_t big[6] = {0x12, 0x00, 0x00, 0x12, 0x34, 0x00};
    const uint8_t vpd[6] = {0x12, 0x01, 0x83, 0x00, 0xff, 0x00};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_inquiry(cdb, 96), 6);
    assert_memory_equal(cdb, std, 6);
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_inquiry(cdb, 0x1234), 6);
    assert_memory_equal(cdb, big, 6);
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_inquiry_vpd(cdb, 0x83, 255), 6);
    assert_memory_equal(cdb, vpd, 6);
}

static void test_cdb_report_luns_layout(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t want[12] = {0xa0, 0x00, 0x02, 0x00, 0x00, 0x00,
                              0x01, 0x02, 0x03, 0x04, 0x00, 0x00};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_report_luns(cdb, 0x02, 0x01020304u), 12);
    assert_memory_equal(cdb, want, 12);
}

static void test_cdb_read_capacity_10_and_16_layouts(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t rc10[10] = {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t rc16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x20, 0, 0};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_read_capacity10(cdb), 10);
    assert_memory_equal(cdb, rc10, 10);
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_read_capacity16(cdb, 32), 16);
    assert_memory_equal(cdb, rc16, 16);
}

static void test_cdb_read10_write10_layout_with_fua_and_dpo(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t rd[10] = {0x28, 0x00, 0x12, 0x34, 0x56, 0x78, 0x00, 0xab, 0xcd, 0x00};
    const uint8_t wr_fua[10] = {0x2a, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x08, 0x00};
    const uint8_t rd_dpo_fua[10] = {0x28, 0x18, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x00};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_rw10(cdb, false, 0x12345678u, 0xabcd, 0), 10);
    assert_memory_equal(cdb, rd, 10);
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_rw10(cdb, true, 1, 8, KEEL_SCSI_RW_FUA), 10);
    assert_memory_equal(cdb, wr_fua, 10);
    prefill(cdb);
    keel_scsi_cdb_rw10(cdb, false, 0xffffffffu, 0xffff, KEEL_SCSI_RW_FUA | KEEL_SCSI_RW_DPO);
    assert_memory_equal(cdb, rd_dpo_fua, 10);
}

static void test_cdb_read16_write16_layout(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t rd[16] = {0x88, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                            0xcd, 0xef, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
    const uint8_t wr[16] = {0x8a, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                            0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_rw16(cdb, false, 0x0123456789abcdefull, 0x10000, 0), 16);
    assert_memory_equal(cdb, rd, 16);
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_rw16(cdb, true, 0x100000000ull, 0xdeadbeefu, KEEL_SCSI_RW_FUA),
                     16);
    assert_memory_equal(cdb, wr, 16);
}

static void test_cdb_rw_picks_10_when_lba_and_length_fit(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    (void)state;
    /* (10) addresses 32-bit LBAs and 16-bit lengths; only the start LBA must fit. */
    assert_int_equal(keel_scsi_cdb_rw(cdb, false, 0, 1, 0), 10);
    assert_int_equal(cdb[0], 0x28);
    assert_int_equal(keel_scsi_cdb_rw(cdb, true, 0xffffffffull, 0xffff, KEEL_SCSI_RW_FUA), 10);
    assert_int_equal(cdb[0], 0x2a);
    assert_int_equal(cdb[1], 0x08);
    assert_false(keel_scsi_rw_needs16(0xffffffffull, 0xffff));
}

static void test_cdb_rw_picks_16_for_big_lba_length_or_force(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    (void)state;
    assert_int_equal(keel_scsi_cdb_rw(cdb, false, 0x100000000ull, 1, 0), 16);
    assert_int_equal(cdb[0], 0x88);
    assert_int_equal(cdb[5], 0x01); /* LBA bits 39:32 */
    assert_int_equal(keel_scsi_cdb_rw(cdb, true, 0, 0x10000, 0), 16);
    assert_int_equal(cdb[0], 0x8a);
    assert_int_equal(cdb[11], 0x01); /* length 0x00010000 */
    assert_int_equal(keel_scsi_cdb_rw(cdb, false, 5, 1, KEEL_SCSI_RW_FORCE16), 16);
    assert_int_equal(cdb[0], 0x88);
    assert_int_equal(cdb[9], 5);
    assert_true(keel_scsi_rw_needs16(0x100000000ull, 1));
    assert_true(keel_scsi_rw_needs16(0, 0x10000));
}

static void test_cdb_rw_rejects_zero_length_and_wrapping_range(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    (void)state;
    assert_int_equal(keel_scsi_cdb_rw(cdb, false, 0, 0, 0), KEEL_EINVAL);
    assert_int_equal(keel_scsi_cdb_rw(cdb, false, UINT64_MAX, 2, 0), KEEL_ERANGE);
    assert_int_equal(keel_scsi_cdb_rw(cdb, false, UINT64_MAX - 9, 11, 0), KEEL_ERANGE);
    /* The very last addressable block is fine. */
    assert_int_equal(keel_scsi_cdb_rw(cdb, false, UINT64_MAX, 1, 0), 16);
}

static void test_cdb_synchronize_cache_layouts(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t s10[10] = {0x35, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t s10i[10] = {0x35, 0x02, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00};
    const uint8_t s16[16] = {0x91, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
                             0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_sync_cache10(cdb, 0, 0, false), 10);
    assert_memory_equal(cdb, s10, 10);
    prefill(cdb);
    keel_scsi_cdb_sync_cache10(cdb, 0x1000, 0x20, true);
    assert_memory_equal(cdb, s10i, 10);
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_sync_cache16(cdb, 0x200000000ull, 0x100, true), 16);
    assert_memory_equal(cdb, s16, 16);
}

static void test_cdb_unmap_layout(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t want[10] = {0x42, 0, 0, 0, 0, 0, 0, 0x00, 0x58, 0};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_unmap(cdb, 0x58), 10);
    assert_memory_equal(cdb, want, 10);
}

static void test_cdb_mode_sense_6_and_10_layouts(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t m6[6] = {0x1a, 0x08, 0x3f, 0x00, 0xc0, 0x00};
    const uint8_t m6_default_caching[6] = {0x1a, 0x00, 0x88, 0x00, 0x14, 0x00};
    const uint8_t m10[10] = {0x5a, 0x08, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
    const uint8_t m10_sub[10] = {0x5a, 0x00, 0x7f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_mode_sense6(cdb, true, KEEL_SCSI_MODE_PC_CURRENT,
                                               KEEL_SCSI_MODE_PAGE_ALL, 0, 192),
                     6);
    assert_memory_equal(cdb, m6, 6);
    prefill(cdb);
    keel_scsi_cdb_mode_sense6(cdb, false, KEEL_SCSI_MODE_PC_DEFAULT, KEEL_SCSI_MODE_PAGE_CACHING, 0,
                              20);
    assert_memory_equal(cdb, m6_default_caching, 6);
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_mode_sense10(cdb, true, 0, 0x3f, 0, 256), 10);
    assert_memory_equal(cdb, m10, 10);
    prefill(cdb);
    keel_scsi_cdb_mode_sense10(cdb, false, KEEL_SCSI_MODE_PC_CHANGEABLE, 0x3f, 0xff, 8);
    assert_memory_equal(cdb, m10_sub, 10);
}

static void test_cdb_request_sense_and_start_stop_unit_layouts(void **state)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    const uint8_t rs[6] = {0x03, 0x01, 0x00, 0x00, 0xfc, 0x00};
    const uint8_t rs_fixed[6] = {0x03, 0x00, 0x00, 0x00, 0x12, 0x00};
    const uint8_t ssu[6] = {0x1b, 0x01, 0x00, 0x00, 0x03, 0x00};
    const uint8_t ssu_start[6] = {0x1b, 0x00, 0x00, 0x00, 0x01, 0x00};
    (void)state;
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_request_sense(cdb, true, 252), 6);
    assert_memory_equal(cdb, rs, 6);
    prefill(cdb);
    keel_scsi_cdb_request_sense(cdb, false, 18);
    assert_memory_equal(cdb, rs_fixed, 6);
    prefill(cdb);
    assert_int_equal(keel_scsi_cdb_start_stop_unit(cdb, true, true, true), 6);
    assert_memory_equal(cdb, ssu, 6);
    prefill(cdb);
    keel_scsi_cdb_start_stop_unit(cdb, false, true, false);
    assert_memory_equal(cdb, ssu_start, 6);
}

/* ---- UNMAP parameter list ---- */

static void test_unmap_param_list_single_descriptor_layout(void **state)
{
    uint8_t p[64];
    uint64_t covered;
    const uint8_t want[24] = {0x00, 0x16, 0x00, 0x10, 0,    0,    0,    0,
                              0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78,
                              0x00, 0x00, 0x00, 0x02, 0,    0,    0,    0};
    (void)state;
    memset(p, 0xaa, sizeof(p));
    assert_int_equal(keel_scsi_unmap_build(p, sizeof(p), 0x12345678u, 2, 0, 0, &covered), 24);
    assert_memory_equal(p, want, 24);
    assert_true(covered == 2);
}

static void test_unmap_param_list_honours_max_lba_count(void **state)
{
    uint8_t p[256];
    uint64_t covered;
    (void)state;
    assert_int_equal(keel_scsi_unmap_build(p, sizeof(p), 100, 1000, 300, 0, &covered), 24);
    assert_true(covered == 300);
    assert_int_equal(p[19], 0x2c); /* 300 = 0x12c */
    assert_int_equal(p[18], 0x01);
}

static void test_unmap_param_list_splits_beyond_32_bit_descriptors(void **state)
{
    uint8_t p[256];
    uint64_t covered;
    (void)state;
    /* 2^32 + 5 blocks: one descriptor of FFFFFFFFh blocks, one of 6, starting where it ended. */
    assert_int_equal(keel_scsi_unmap_build(p, sizeof(p), 0, 0x100000005ull, 0, 0, &covered), 40);
    assert_true(covered == 0x100000005ull);
    assert_int_equal(p[1], 38);
    assert_int_equal(p[3], 32);
    assert_memory_equal(p + 16, "\xff\xff\xff\xff", 4);
    assert_memory_equal(p + 24, "\x00\x00\x00\x00\xff\xff\xff\xff", 8); /* second LBA */
    assert_memory_equal(p + 32, "\x00\x00\x00\x06", 4);
}

static void test_unmap_param_list_honours_descriptor_and_buffer_limits(void **state)
{
    uint8_t p[256];
    uint64_t covered;
    (void)state;
    assert_int_equal(keel_scsi_unmap_build(p, sizeof(p), 0, 1ull << 34, 0, 1, &covered), 24);
    assert_true(covered == 0xffffffffull);
    /* 40 bytes hold two descriptors (8 + 2 * 16). */
    assert_int_equal(keel_scsi_unmap_build(p, 40, 0, 1ull << 34, 0, 0, &covered), 40);
    assert_true(covered == 2 * 0xffffffffull);
}

static void test_unmap_param_list_rejects_bad_arguments(void **state)
{
    uint8_t p[64];
    uint64_t covered = 99;
    (void)state;
    assert_int_equal(keel_scsi_unmap_build(p, sizeof(p), 0, 0, 0, 0, &covered), KEEL_EINVAL);
    assert_true(covered == 0);
    assert_int_equal(keel_scsi_unmap_build(p, 23, 0, 1, 0, 0, &covered), KEEL_ENOSPC);
    assert_int_equal(keel_scsi_unmap_build(p, sizeof(p), UINT64_MAX, 2, 0, 0, &covered),
                     KEEL_ERANGE);
}

/* ---- transfer length and LUN addressing ---- */

static void test_xfer_len_rejects_residual_larger_than_allocation(void **state)
{
    uint32_t len = 7;
    (void)state;
    assert_int_equal(keel_scsi_xfer_len(96, 60, &len), KEEL_OK);
    assert_int_equal(len, 36);
    assert_int_equal(keel_scsi_xfer_len(96, 96, &len), KEEL_OK);
    assert_int_equal(len, 0);
    assert_int_equal(keel_scsi_xfer_len(96, 97, &len), KEEL_EPROTO);
    assert_int_equal(len, 0);
}

static void test_lun_decode_peripheral_and_flat_space(void **state)
{
    const uint8_t per[8] = {0x00, 0x07, 0, 0, 0, 0, 0, 0};
    const uint8_t flat[8] = {0x41, 0x2c, 0, 0, 0, 0, 0, 0};
    const uint8_t flat_max[8] = {0x7f, 0xff, 0, 0, 0, 0, 0, 0};
    uint32_t lun = 0;
    (void)state;
    assert_int_equal(keel_scsi_lun_decode(per, &lun), KEEL_OK);
    assert_int_equal(lun, 7);
    assert_int_equal(keel_scsi_lun_decode(flat, &lun), KEEL_OK);
    assert_int_equal(lun, 300);
    assert_int_equal(keel_scsi_lun_decode(flat_max, &lun), KEEL_OK);
    assert_int_equal(lun, 16383);
}

static void test_lun_decode_skips_multilevel_extended_and_bus_addresses(void **state)
{
    const uint8_t bus[8] = {0x01, 0x05, 0, 0, 0, 0, 0, 0};
    const uint8_t level2[8] = {0x00, 0x01, 0x00, 0x02, 0, 0, 0, 0};
    const uint8_t lu_addr[8] = {0x80, 0x01, 0, 0, 0, 0, 0, 0};
    const uint8_t wlun[8] = {0xc1, 0x01, 0, 0, 0, 0, 0, 0}; /* REPORT LUNS well-known LUN */
    uint32_t lun = 1234;
    (void)state;
    assert_int_equal(keel_scsi_lun_decode(bus, &lun), KEEL_ENOTSUP);
    assert_int_equal(keel_scsi_lun_decode(level2, &lun), KEEL_ENOTSUP);
    assert_int_equal(keel_scsi_lun_decode(lu_addr, &lun), KEEL_ENOTSUP);
    assert_int_equal(keel_scsi_lun_decode(wlun, &lun), KEEL_ENOTSUP);
    assert_int_equal(lun, 1234);
}

static void test_lun_encode_round_trips_every_single_level_lun(void **state)
{
    uint8_t e[8];
    uint32_t lun, out;
    (void)state;
    assert_int_equal(keel_scsi_lun_encode(255, e), KEEL_OK);
    assert_memory_equal(e, "\x00\xff\x00\x00\x00\x00\x00\x00", 8);
    assert_int_equal(keel_scsi_lun_encode(256, e), KEEL_OK);
    assert_memory_equal(e, "\x41\x00\x00\x00\x00\x00\x00\x00", 8);
    for (lun = 0; lun <= 0x3fff; lun++) {
        assert_int_equal(keel_scsi_lun_encode(lun, e), KEEL_OK);
        assert_int_equal(keel_scsi_lun_decode(e, &out), KEEL_OK);
        assert_int_equal(out, lun);
    }
    assert_int_equal(keel_scsi_lun_encode(0x4000, e), KEEL_EINVAL);
}

/* ---- REPORT LUNS ---- */

static void test_report_luns_full_list_iterates_every_lun(void **state)
{
    const uint8_t d[32] = {0x00, 0x00, 0x00, 0x18, 0, 0, 0, 0,  /* 3 entries */
                           0x00, 0x00, 0,    0,    0, 0, 0, 0,  /* LUN 0 */
                           0x00, 0x03, 0,    0,    0, 0, 0, 0,  /* LUN 3 */
                           0x41, 0x2c, 0,    0,    0, 0, 0, 0}; /* LUN 300, flat space */
    uint8_t *b = exact(d, sizeof(d));
    struct keel_scsi_lun_list l;
    uint32_t cursor = 0, lun, skipped = 0;
    (void)state;
    assert_int_equal(keel_scsi_parse_report_luns(b, sizeof(d), &l), KEEL_OK);
    assert_int_equal(l.total, 3);
    assert_int_equal(l.avail, 3);
    assert_false(l.truncated);
    assert_int_equal(l.needed_len, 32);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, &skipped), 1);
    assert_int_equal(lun, 0);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, &skipped), 1);
    assert_int_equal(lun, 3);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, &skipped), 1);
    assert_int_equal(lun, 300);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, &skipped), 0);
    assert_int_equal(skipped, 0);
    free(b);
}

static void test_report_luns_truncated_list_reports_needed_length(void **state)
{
    /* The device has 300 LUNs (2400 bytes) but the allocation held one entry. */
    const uint8_t d[16] = {0x00, 0x00, 0x09, 0x60, 0, 0, 0, 0, 0x00, 0x00, 0, 0, 0, 0, 0, 0};
    uint8_t *b = exact(d, sizeof(d));
    struct keel_scsi_lun_list l;
    uint32_t cursor = 0, lun;
    (void)state;
    assert_int_equal(keel_scsi_parse_report_luns(b, sizeof(d), &l), KEEL_OK);
    assert_int_equal(l.total, 300);
    assert_int_equal(l.avail, 1);
    assert_true(l.truncated);
    assert_int_equal(l.needed_len, 2408);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, NULL), 1);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, NULL), 0);
    free(b);
}

static void test_report_luns_partial_entry_is_not_read(void **state)
{
    /* 2 entries claimed, 1.5 arrived: only the complete one counts. */
    const uint8_t d[20] = {0x00, 0x00, 0x00, 0x10, 0, 0, 0,    0,    0x00, 0x05,
                           0,    0,    0,    0,    0, 0, 0x00, 0x06, 0,    0};
    uint8_t *b = exact(d, sizeof(d));
    struct keel_scsi_lun_list l;
    (void)state;
    assert_int_equal(keel_scsi_parse_report_luns(b, sizeof(d), &l), KEEL_OK);
    assert_int_equal(l.avail, 1);
    assert_true(l.truncated);
    free(b);
}

static void test_report_luns_list_shorter_than_data_limits_entries(void **state)
{
    /* The device says 1 entry but sent 3: bytes past the list are not LUNs. */
    const uint8_t d[32] = {0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
                           0x00, 0x02, 0,    0,    0, 0, 0, 0, 0x00, 0x03, 0, 0, 0, 0, 0, 0};
    struct keel_scsi_lun_list l;
    (void)state;
    assert_int_equal(keel_scsi_parse_report_luns(d, sizeof(d), &l), KEEL_OK);
    assert_int_equal(l.avail, 1);
    assert_int_equal(l.total, 1);
    assert_false(l.truncated);
}

static void test_report_luns_rejects_short_header_and_bad_list_length(void **state)
{
    uint8_t d[16] = {0x00, 0x00, 0x00, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    struct keel_scsi_lun_list l;
    (void)state;
    assert_int_equal(keel_scsi_parse_report_luns(d, 7, &l), KEEL_EPROTO);
    assert_int_equal(keel_scsi_parse_report_luns(d, sizeof(d), &l), KEEL_EPROTO); /* 12: not x8 */
    d[0] = 0xff;
    d[1] = 0xff;
    d[2] = 0xff;
    d[3] = 0xf8; /* needed length would overflow 32 bits */
    assert_int_equal(keel_scsi_parse_report_luns(d, sizeof(d), &l), KEEL_EPROTO);
    d[3] = 0xf0;
    assert_int_equal(keel_scsi_parse_report_luns(d, sizeof(d), &l), KEEL_OK);
    assert_int_equal(l.needed_len, 0xfffffff8u);
    assert_int_equal(l.avail, 1);
}

static void test_report_luns_iteration_skips_undecodable_entries(void **state)
{
    const uint8_t d[40] = {0x00, 0x00, 0x00, 0x20, 0, 0, 0, 0,
                           0xc1, 0x01, 0,    0,    0, 0, 0, 0,  /* well-known: skipped */
                           0x00, 0x02, 0,    0,    0, 0, 0, 0,  /* LUN 2 */
                           0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0,  /* two levels: skipped */
                           0x40, 0x09, 0,    0,    0, 0, 0, 0}; /* flat LUN 9 */
    struct keel_scsi_lun_list l;
    uint32_t cursor = 0, lun, skipped = 0;
    (void)state;
    assert_int_equal(keel_scsi_parse_report_luns(d, sizeof(d), &l), KEEL_OK);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, &skipped), 1);
    assert_int_equal(lun, 2);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, &skipped), 1);
    assert_int_equal(lun, 9);
    assert_int_equal(keel_scsi_lun_list_next(&l, &cursor, &lun, &skipped), 0);
    assert_int_equal(skipped, 2);
}

/* ---- standard INQUIRY ---- */

static void fill_inquiry(uint8_t *d, uint8_t b0, uint8_t b1)
{
    memset(d, 0, 36);
    d[0] = b0;
    d[1] = b1;
    d[2] = 0x05; /* SPC-3 */
    d[3] = 0x12; /* HISUP, response data format 2 */
    d[4] = 31;   /* additional length: 36 bytes in all */
    d[7] = 0x02; /* CMDQUE */
    memcpy(d + 8, "QEMU    ", 8);
    memcpy(d + 16, "QEMU HARDDISK   ", 16);
    memcpy(d + 32, "2.5+", 4);
}

static void test_inquiry_parses_disk_fields_and_trims_strings(void **state)
{
    uint8_t d[36];
    uint8_t *b;
    struct keel_scsi_inquiry inq;
    (void)state;
    fill_inquiry(d, 0x00, 0x00);
    b = exact(d, sizeof(d));
    assert_int_equal(keel_scsi_parse_inquiry(b, sizeof(d), &inq), KEEL_OK);
    assert_int_equal(inq.qualifier, 0);
    assert_int_equal(inq.type, KEEL_SCSI_TYPE_DISK);
    assert_false(inq.removable);
    assert_int_equal(inq.version, 5);
    assert_int_equal(inq.response_format, 2);
    assert_true(inq.hisup);
    assert_true(inq.cmdque);
    assert_int_equal(inq.valid_len, 36);
    assert_string_equal(inq.vendor, "QEMU");
    assert_string_equal(inq.product, "QEMU HARDDISK");
    assert_string_equal(inq.revision, "2.5+");
    assert_true(keel_scsi_inquiry_lun_present(&inq));
    free(b);
}

static void test_inquiry_cdrom_is_removable_type_5(void **state)
{
    uint8_t d[36];
    struct keel_scsi_inquiry inq;
    (void)state;
    fill_inquiry(d, 0x05, 0x80);
    assert_int_equal(keel_scsi_parse_inquiry(d, sizeof(d), &inq), KEEL_OK);
    assert_int_equal(inq.type, KEEL_SCSI_TYPE_CDROM);
    assert_true(inq.removable);
    assert_true(keel_scsi_inquiry_lun_present(&inq));
}

static void test_inquiry_placeholder_lun_is_not_present(void **state)
{
    uint8_t d[36];
    struct keel_scsi_inquiry inq;
    (void)state;
    fill_inquiry(d, 0x7f, 0x00); /* qualifier 011b, type 1Fh: QEMU's answer for no LUN 0 */
    assert_int_equal(keel_scsi_parse_inquiry(d, sizeof(d), &inq), KEEL_OK);
    assert_int_equal(inq.qualifier, KEEL_SCSI_PQ_NO_LUN);
    assert_int_equal(inq.type, KEEL_SCSI_TYPE_NONE);
    assert_false(keel_scsi_inquiry_lun_present(&inq));
    fill_inquiry(d, 0x20, 0x00); /* qualifier 001b: supported but not connected */
    assert_int_equal(keel_scsi_parse_inquiry(d, sizeof(d), &inq), KEEL_OK);
    assert_false(keel_scsi_inquiry_lun_present(&inq));
}

static void test_inquiry_truncated_transfer_limits_strings(void **state)
{
    uint8_t d[36];
    uint8_t *b;
    struct keel_scsi_inquiry inq;
    (void)state;
    fill_inquiry(d, 0x00, 0x00);
    b = exact(d, 20); /* additional length says 36, only 20 arrived */
    assert_int_equal(keel_scsi_parse_inquiry(b, 20, &inq), KEEL_OK);
    assert_int_equal(inq.valid_len, 20);
    assert_string_equal(inq.vendor, "QEMU");
    assert_string_equal(inq.product, "QEMU");
    assert_string_equal(inq.revision, "");
    free(b);
}

static void test_inquiry_short_additional_length_hides_bytes_beyond_it(void **state)
{
    uint8_t d[36];
    struct keel_scsi_inquiry inq;
    (void)state;
    fill_inquiry(d, 0x00, 0x00);
    d[4] = 3; /* the device says only 8 bytes are valid */
    assert_int_equal(keel_scsi_parse_inquiry(d, sizeof(d), &inq), KEEL_OK);
    assert_int_equal(inq.valid_len, 8);
    assert_true(inq.cmdque);
    assert_string_equal(inq.vendor, "");
    assert_string_equal(inq.product, "");
}

static void test_inquiry_replaces_unprintable_bytes(void **state)
{
    uint8_t d[36];
    struct keel_scsi_inquiry inq;
    (void)state;
    fill_inquiry(d, 0x00, 0x00);
    memcpy(d + 8, "AB\x01\xff\0\0\0\0", 8);
    assert_int_equal(keel_scsi_parse_inquiry(d, sizeof(d), &inq), KEEL_OK);
    assert_string_equal(inq.vendor, "AB??");
}

static void test_inquiry_rejects_data_shorter_than_header(void **state)
{
    const uint8_t d[4] = {0, 0, 5, 2};
    uint8_t *b = exact(d, 4);
    struct keel_scsi_inquiry inq;
    (void)state;
    assert_int_equal(keel_scsi_parse_inquiry(b, 4, &inq), KEEL_EPROTO);
    assert_int_equal(keel_scsi_parse_inquiry(b, 0, &inq), KEEL_EPROTO);
    free(b);
}

/* ---- VPD pages ---- */

static void test_vpd_body_checks_page_code_and_clamps_length(void **state)
{
    const uint8_t d[8] = {0x00, 0x80, 0x01, 0x00, 'a', 'b', 'c', 'd'}; /* claims 256 bytes */
    const uint8_t *body;
    uint32_t n;
    (void)state;
    assert_int_equal(keel_scsi_vpd_body(d, sizeof(d), 0x80, &body, &n), KEEL_OK);
    assert_ptr_equal(body, d + 4);
    assert_int_equal(n, 4);
    assert_int_equal(keel_scsi_vpd_body(d, sizeof(d), 0x83, &body, &n), KEEL_EPROTO);
    assert_int_equal(keel_scsi_vpd_body(d, 3, 0x80, &body, &n), KEEL_EPROTO);
}

static void test_vpd_supported_pages_bitmap(void **state)
{
    /* Page length 200 claimed, 6 entries sent (one duplicate). */
    const uint8_t d[10] = {0x00, 0x00, 0x00, 0xc8, 0x00, 0x80, 0x83, 0xb0, 0xb2, 0x83};
    uint8_t *b = exact(d, sizeof(d));
    struct keel_scsi_vpd_pages p;
    (void)state;
    assert_int_equal(keel_scsi_parse_vpd_pages(b, sizeof(d), &p), KEEL_OK);
    assert_int_equal(p.count, 5);
    assert_true(keel_scsi_vpd_has_page(&p, 0x00));
    assert_true(keel_scsi_vpd_has_page(&p, 0x80));
    assert_true(keel_scsi_vpd_has_page(&p, 0x83));
    assert_true(keel_scsi_vpd_has_page(&p, 0xb0));
    assert_true(keel_scsi_vpd_has_page(&p, 0xb2));
    assert_false(keel_scsi_vpd_has_page(&p, 0xb1));
    assert_false(keel_scsi_vpd_has_page(&p, 0x86));
    free(b);
}

static void test_vpd_serial_trims_blanks_and_truncates_to_buffer(void **state)
{
    const uint8_t d[15] = {0x00, 0x80, 0x00, 0x0b, ' ', ' ', 'S', 'E',
                           'R',  '1',  '2',  '3',  ' ', ' ', '\0'};
    uint8_t *b = exact(d, sizeof(d));
    char out[32];
    (void)state;
    assert_int_equal(keel_scsi_parse_vpd_serial(b, sizeof(d), out, sizeof(out)), 6);
    assert_string_equal(out, "SER123");
    assert_int_equal(keel_scsi_parse_vpd_serial(b, sizeof(d), out, 4), 3);
    assert_string_equal(out, "SER");
    assert_int_equal(keel_scsi_parse_vpd_serial(b, sizeof(d), out, 0), KEEL_EINVAL);
    free(b);
}

/* Page 83h: T10 vendor id (ASCII), NAA 6 (16 bytes), EUI-64 (8 bytes), NAA 5 for a port. */
static size_t build_page83(uint8_t *d)
{
    size_t o = 4;
    d[0] = 0x00;
    d[1] = 0x83;
    d[o++] = 0x02; /* ASCII */
    d[o++] = 0x01; /* LU, T10 vendor id */
    d[o++] = 0;
    d[o++] = 16;
    memcpy(d + o, "KEEL    SERIAL01", 16);
    o += 16;
    d[o++] = 0x01; /* binary */
    d[o++] = 0x03; /* LU, NAA */
    d[o++] = 0;
    d[o++] = 16;
    memcpy(d + o, "\x60\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 16);
    o += 16;
    d[o++] = 0x01;
    d[o++] = 0x02; /* LU, EUI-64 */
    d[o++] = 0;
    d[o++] = 8;
    memcpy(d + o, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    o += 8;
    d[o++] = 0x61; /* protocol 6 (SAS), binary */
    d[o++] = 0x93; /* PIV, target port, NAA */
    d[o++] = 0;
    d[o++] = 8;
    memcpy(d + o, "\x50\x00\x00\x00\x00\x00\x00\x01", 8);
    o += 8;
    d[2] = (uint8_t)((o - 4) >> 8);
    d[3] = (uint8_t)(o - 4);
    return o;
}

static void test_vpd_device_id_iterates_every_designator(void **state)
{
    uint8_t d[128];
    size_t n = build_page83(d);
    uint8_t *b = exact(d, n);
    struct keel_scsi_designator des;
    uint32_t cursor = 0;
    (void)state;
    assert_int_equal(keel_scsi_vpd_devid_next(b, (uint32_t)n, &cursor, &des), 1);
    assert_int_equal(des.type, KEEL_SCSI_DESIG_T10);
    assert_int_equal(des.code_set, KEEL_SCSI_CODESET_ASCII);
    assert_int_equal(des.len, 16);
    assert_memory_equal(des.id, "KEEL    SERIAL01", 16);
    assert_int_equal(keel_scsi_vpd_devid_next(b, (uint32_t)n, &cursor, &des), 1);
    assert_int_equal(des.type, KEEL_SCSI_DESIG_NAA);
    assert_int_equal(keel_scsi_vpd_devid_next(b, (uint32_t)n, &cursor, &des), 1);
    assert_int_equal(des.type, KEEL_SCSI_DESIG_EUI64);
    assert_int_equal(keel_scsi_vpd_devid_next(b, (uint32_t)n, &cursor, &des), 1);
    assert_int_equal(des.assoc, KEEL_SCSI_ASSOC_PORT);
    assert_true(des.piv);
    assert_int_equal(des.protocol, 6);
    assert_int_equal(keel_scsi_vpd_devid_next(b, (uint32_t)n, &cursor, &des), 0);
    free(b);
}

static void test_vpd_device_id_best_prefers_naa_then_eui64_then_t10(void **state)
{
    uint8_t d[128];
    size_t n = build_page83(d);
    struct keel_scsi_designator des;
    (void)state;
    assert_int_equal(keel_scsi_vpd_devid_best(d, (uint32_t)n, &des), KEEL_OK);
    assert_int_equal(des.type, KEEL_SCSI_DESIG_NAA);
    assert_int_equal(des.id[0], 0x60);
    /* Make the NAA 6 designator malformed (8 bytes long for NAA 6 is wrong): EUI-64 wins. */
    d[4 + 20 + 3] = 8;
    /* Re-pack: shift the rest so the page stays consistent. */
    memmove(d + 4 + 20 + 4 + 8, d + 4 + 20 + 4 + 16, n - (4 + 20 + 4 + 16));
    n -= 8;
    d[3] = (uint8_t)(n - 4);
    assert_int_equal(keel_scsi_vpd_devid_best(d, (uint32_t)n, &des), KEEL_OK);
    assert_int_equal(des.type, KEEL_SCSI_DESIG_EUI64);
    /* Only the T10 one: page cut right after it. */
    d[3] = 20;
    assert_int_equal(keel_scsi_vpd_devid_best(d, 24, &des), KEEL_OK);
    assert_int_equal(des.type, KEEL_SCSI_DESIG_T10);
    /* Only a port designator: nothing for the logical unit. */
    {
        const uint8_t port[16] = {0x00, 0x83, 0x00, 0x0c, 0x61, 0x93, 0x00, 0x08,
                                  0x50, 0,    0,    0,    0,    0,    0,    1};
        assert_int_equal(keel_scsi_vpd_devid_best(port, sizeof(port), &des), KEEL_ENOENT);
    }
}

static void test_vpd_device_id_lying_designator_length_stops_iteration(void **state)
{
    /* The second descriptor claims 200 bytes; only 4 follow. */
    const uint8_t d[20] = {0x00, 0x83, 0x00, 0x10, 0x01, 0x03, 0x00, 0x04, 0x50, 0x01,
                           0x02, 0x03, 0x01, 0x02, 0x00, 0xc8, 0xaa, 0xbb, 0xcc, 0xdd};
    uint8_t *b = exact(d, sizeof(d));
    struct keel_scsi_designator des;
    uint32_t cursor = 0;
    (void)state;
    assert_int_equal(keel_scsi_vpd_devid_next(b, sizeof(d), &cursor, &des), 1);
    assert_int_equal(des.len, 4);
    assert_int_equal(keel_scsi_vpd_devid_next(b, sizeof(d), &cursor, &des), 0);
    /* A page length beyond the data is clamped too: cut the buffer mid-descriptor. */
    cursor = 0;
    assert_int_equal(keel_scsi_vpd_devid_next(b, 10, &cursor, &des), 0);
    assert_int_equal(keel_scsi_vpd_devid_best(b, 3, &des), KEEL_EPROTO);
    free(b);
}

static void fill_block_limits(uint8_t *d)
{
    memset(d, 0, 64);
    d[1] = 0xb0;
    d[3] = 0x3c;
    d[4] = 0x01;                                           /* WSNZ */
    d[5] = 0x10;                                           /* max compare and write */
    memcpy(d + 6, "\x00\x08", 2);                          /* opt granularity 8 */
    memcpy(d + 8, "\x00\x00\x10\x00", 4);                  /* max transfer 4096 */
    memcpy(d + 12, "\x00\x00\x01\x00", 4);                 /* optimal 256 */
    memcpy(d + 16, "\x00\x00\x00\x20", 4);                 /* prefetch 32 */
    memcpy(d + 20, "\x00\x40\x00\x00", 4);                 /* max unmap LBAs 4 Mi */
    memcpy(d + 24, "\x00\x00\x00\x10", 4);                 /* 16 descriptors */
    memcpy(d + 28, "\x00\x00\x00\x08", 4);                 /* unmap granularity 8 */
    memcpy(d + 32, "\x80\x00\x00\x03", 4);                 /* UGAVALID, alignment 3 */
    memcpy(d + 36, "\x00\x00\x00\x01\x00\x00\x00\x00", 8); /* write same 2^32 */
}

static void test_vpd_block_limits_full_page(void **state)
{
    uint8_t d[64];
    uint8_t *b;
    struct keel_scsi_block_limits bl;
    (void)state;
    fill_block_limits(d);
    b = exact(d, sizeof(d));
    assert_int_equal(keel_scsi_parse_vpd_block_limits(b, sizeof(d), &bl), KEEL_OK);
    assert_int_equal(bl.page_len, 0x3c);
    assert_true(bl.wsnz);
    assert_int_equal(bl.max_compare_write_len, 0x10);
    assert_int_equal(bl.opt_xfer_granularity, 8);
    assert_int_equal(bl.max_xfer_len, 4096);
    assert_int_equal(bl.opt_xfer_len, 256);
    assert_int_equal(bl.max_prefetch_len, 32);
    assert_int_equal(bl.max_unmap_lba_count, 0x400000);
    assert_int_equal(bl.max_unmap_desc_count, 16);
    assert_int_equal(bl.opt_unmap_granularity, 8);
    assert_true(bl.ugavalid);
    assert_int_equal(bl.unmap_granularity_align, 3);
    assert_true(bl.max_write_same_len == 0x100000000ull);
    free(b);
}

static void test_vpd_block_limits_short_page_leaves_missing_fields_zero(void **state)
{
    uint8_t d[64];
    uint8_t *b;
    struct keel_scsi_block_limits bl;
    (void)state;
    fill_block_limits(d);
    d[3] = 0x0c; /* SBC-2 sized page: up to the optimal transfer length */
    b = exact(d, 16);
    assert_int_equal(keel_scsi_parse_vpd_block_limits(b, 16, &bl), KEEL_OK);
    assert_int_equal(bl.max_xfer_len, 4096);
    assert_int_equal(bl.opt_xfer_len, 256);
    assert_int_equal(bl.max_unmap_lba_count, 0);
    assert_int_equal(bl.max_unmap_desc_count, 0);
    assert_false(bl.ugavalid);
    assert_true(bl.max_write_same_len == 0);
    free(b);
    /* Page length claims 3Ch but the transfer stopped at 26 bytes, inside a field. */
    d[3] = 0x3c;
    b = exact(d, 26);
    assert_int_equal(keel_scsi_parse_vpd_block_limits(b, 26, &bl), KEEL_OK);
    assert_int_equal(bl.max_unmap_lba_count, 0x400000);
    assert_int_equal(bl.max_unmap_desc_count, 0);
    free(b);
}

static void test_vpd_provisioning_bits(void **state)
{
    const uint8_t d[8] = {0x00, 0xb2, 0x00, 0x04, 0x00, 0xe6, 0x02, 0x00};
    const uint8_t none[8] = {0x00, 0xb2, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00};
    uint8_t *b = exact(d, sizeof(d));
    struct keel_scsi_provisioning p;
    (void)state;
    assert_int_equal(keel_scsi_parse_vpd_provisioning(b, sizeof(d), &p), KEEL_OK);
    assert_true(p.lbpu);
    assert_true(p.lbpws);
    assert_true(p.lbpws10);
    assert_int_equal(p.lbprz, 1);
    assert_true(p.anc_sup);
    assert_false(p.dp);
    assert_int_equal(p.prov_type, KEEL_SCSI_PROV_THIN);
    assert_int_equal(keel_scsi_parse_vpd_provisioning(none, sizeof(none), &p), KEEL_OK);
    assert_false(p.lbpu);
    assert_int_equal(p.prov_type, KEEL_SCSI_PROV_FULL);
    /* Only byte 4 arrived: the LBPU byte is missing. */
    assert_int_equal(keel_scsi_parse_vpd_provisioning(b, 5, &p), KEEL_EPROTO);
    /* Bytes 4..5 only: provisioning type not returned. */
    assert_int_equal(keel_scsi_parse_vpd_provisioning(b, 6, &p), KEEL_OK);
    assert_true(p.lbpu);
    assert_int_equal(p.prov_type, 0);
    free(b);
}

/* ---- READ CAPACITY ---- */

static void test_read_capacity10_parses_last_lba_and_block_length(void **state)
{
    const uint8_t d[8] = {0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x02, 0x00};
    uint8_t *b = exact(d, sizeof(d));
    struct keel_scsi_capacity c;
    (void)state;
    assert_int_equal(keel_scsi_parse_read_capacity10(b, sizeof(d), &c), KEEL_OK);
    assert_true(c.last_lba == 0xffff);
    assert_true(c.nblocks == 0x10000);
    assert_int_equal(c.block_len, 512);
    assert_int_equal(c.block_shift, 9);
    assert_false(c.need16);
    free(b);
}

static void test_read_capacity10_all_ones_asks_for_16(void **state)
{
    const uint8_t d[8] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x10, 0x00};
    struct keel_scsi_capacity c;
    (void)state;
    assert_int_equal(keel_scsi_parse_read_capacity10(d, sizeof(d), &c), KEEL_OK);
    assert_true(c.need16);
    assert_true(c.nblocks == 0);
    assert_int_equal(c.block_len, 4096);
}

static void test_read_capacity_rejects_bad_block_lengths(void **state)
{
    static const uint32_t bad[] = {0, 1, 256, 511, 513, 1000, 4095, 131072, 0xffffffffu};
    static const uint32_t good[] = {512, 1024, 2048, 4096, 8192, 65536};
    uint8_t d[32];
    struct keel_scsi_capacity c;
    size_t i;
    (void)state;
    memset(d, 0, sizeof(d));
    d[3] = 0x10;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d[4] = (uint8_t)(bad[i] >> 24);
        d[5] = (uint8_t)(bad[i] >> 16);
        d[6] = (uint8_t)(bad[i] >> 8);
        d[7] = (uint8_t)bad[i];
        assert_int_equal(keel_scsi_parse_read_capacity10(d, 8, &c), KEEL_EPROTO);
        assert_int_equal(keel_scsi_block_shift(bad[i]), KEEL_EPROTO);
        memcpy(d + 8, d + 4, 4);
        memset(d + 4, 0, 4);
        assert_int_equal(keel_scsi_parse_read_capacity16(d, 32, &c), KEEL_EPROTO);
        memcpy(d + 4, d + 8, 4);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        d[4] = (uint8_t)(good[i] >> 24);
        d[5] = (uint8_t)(good[i] >> 16);
        d[6] = (uint8_t)(good[i] >> 8);
        d[7] = (uint8_t)good[i];
        assert_int_equal(keel_scsi_parse_read_capacity10(d, 8, &c), KEEL_OK);
        assert_int_equal(c.block_len, good[i]);
        assert_int_equal(1u << c.block_shift, good[i]);
    }
}

static void test_read_capacity10_rejects_short_data(void **state)
{
    const uint8_t d[8] = {0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x02, 0x00};
    uint8_t *b = exact(d, 7);
    struct keel_scsi_capacity c;
    (void)state;
    assert_int_equal(keel_scsi_parse_read_capacity10(b, 7, &c), KEEL_EPROTO);
    free(b);
}

static void test_read_capacity16_parses_protection_and_provisioning(void **state)
{
    const uint8_t d[32] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* 2^32 */
                           0x00, 0x00, 0x10, 0x00,                         /* 4096 */
                           0x03,       /* P_TYPE 1 (type 2), PROT_EN */
                           0x43,       /* P_I_EXPONENT 4, LBPPBE 3 */
                           0xc1, 0x02, /* LBPME, LBPRZ, lowest aligned 0x102 */
                           0};
    uint8_t *b = exact(d, sizeof(d));
    struct keel_scsi_capacity c;
    (void)state;
    assert_int_equal(keel_scsi_parse_read_capacity16(b, sizeof(d), &c), KEEL_OK);
    assert_true(c.last_lba == 0x100000000ull);
    assert_true(c.nblocks == 0x100000001ull);
    assert_int_equal(c.block_len, 4096);
    assert_int_equal(c.block_shift, 12);
    assert_true(c.prot_en);
    assert_int_equal(c.p_type, 1);
    assert_int_equal(c.lbppbe, 3);
    assert_true(c.lbpme);
    assert_true(c.lbprz);
    assert_int_equal(c.lowest_aligned, 0x102);
    free(b);
    /* Only the mandatory 12 bytes: the optional bits read as zero. */
    b = exact(d, 12);
    assert_int_equal(keel_scsi_parse_read_capacity16(b, 12, &c), KEEL_OK);
    assert_false(c.prot_en);
    assert_false(c.lbpme);
    assert_int_equal(c.lbppbe, 0);
    free(b);
    b = exact(d, 11);
    assert_int_equal(keel_scsi_parse_read_capacity16(b, 11, &c), KEEL_EPROTO);
    free(b);
}

static void test_read_capacity16_rejects_overflowing_capacity(void **state)
{
    uint8_t d[32];
    struct keel_scsi_capacity c;
    (void)state;
    memset(d, 0, sizeof(d));
    d[10] = 0x02; /* 512-byte blocks */
    memset(d, 0xff, 8);
    assert_int_equal(keel_scsi_parse_read_capacity16(d, 32, &c), KEEL_EPROTO);
    /* 2^55 blocks of 512 bytes = 2^64 bytes: does not fit. */
    memcpy(d, "\x00\x7f\xff\xff\xff\xff\xff\xff", 8);
    assert_int_equal(keel_scsi_parse_read_capacity16(d, 32, &c), KEEL_EPROTO);
    assert_true(c.nblocks == 0);
    /* 2^55 - 1 blocks fit. */
    memcpy(d, "\x00\x7f\xff\xff\xff\xff\xff\xfe", 8);
    assert_int_equal(keel_scsi_parse_read_capacity16(d, 32, &c), KEEL_OK);
    assert_true(c.nblocks == 0x7fffffffffffffull);
}

/* ---- MODE SENSE ---- */

static void test_mode_sense6_header_write_protect_and_dpofua(void **state)
{
    const uint8_t wp[4] = {0x0b, 0x00, 0x80, 0x08};
    const uint8_t rw[4] = {0x03, 0x00, 0x10, 0x00};
    struct keel_scsi_mode_header h;
    uint8_t *b = exact(wp, 4);
    (void)state;
    assert_int_equal(keel_scsi_parse_mode_sense6(b, 4, &h), KEEL_OK);
    assert_true(h.wp);
    assert_false(h.dpofua);
    assert_int_equal(h.bd_len, 8);
    assert_int_equal(h.data_len, 4); /* 12 claimed, 4 arrived */
    assert_int_equal(keel_scsi_parse_mode_sense6(rw, 4, &h), KEEL_OK);
    assert_false(h.wp);
    assert_true(h.dpofua);
    assert_int_equal(keel_scsi_parse_mode_sense6(b, 3, &h), KEEL_EPROTO);
    free(b);
}

static void test_mode_sense10_header_write_protect(void **state)
{
    const uint8_t d[8] = {0x00, 0x06, 0x00, 0x90, 0x01, 0x00, 0x00, 0x10};
    struct keel_scsi_mode_header h;
    uint8_t *b = exact(d, 8);
    (void)state;
    assert_int_equal(keel_scsi_parse_mode_sense10(b, 8, &h), KEEL_OK);
    assert_true(h.wp);
    assert_true(h.dpofua);
    assert_true(h.longlba);
    assert_int_equal(h.bd_len, 16);
    assert_int_equal(h.data_len, 8);
    assert_int_equal(keel_scsi_parse_mode_sense10(b, 7, &h), KEEL_EPROTO);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cdb_test_unit_ready_is_six_zero_bytes),
        cmocka_unit_test(test_cdb_inquiry_standard_and_vpd_layouts),
        cmocka_unit_test(test_cdb_report_luns_layout),
        cmocka_unit_test(test_cdb_read_capacity_10_and_16_layouts),
        cmocka_unit_test(test_cdb_read10_write10_layout_with_fua_and_dpo),
        cmocka_unit_test(test_cdb_read16_write16_layout),
        cmocka_unit_test(test_cdb_rw_picks_10_when_lba_and_length_fit),
        cmocka_unit_test(test_cdb_rw_picks_16_for_big_lba_length_or_force),
        cmocka_unit_test(test_cdb_rw_rejects_zero_length_and_wrapping_range),
        cmocka_unit_test(test_cdb_synchronize_cache_layouts),
        cmocka_unit_test(test_cdb_unmap_layout),
        cmocka_unit_test(test_cdb_mode_sense_6_and_10_layouts),
        cmocka_unit_test(test_cdb_request_sense_and_start_stop_unit_layouts),
        cmocka_unit_test(test_unmap_param_list_single_descriptor_layout),
        cmocka_unit_test(test_unmap_param_list_honours_max_lba_count),
        cmocka_unit_test(test_unmap_param_list_splits_beyond_32_bit_descriptors),
        cmocka_unit_test(test_unmap_param_list_honours_descriptor_and_buffer_limits),
        cmocka_unit_test(test_unmap_param_list_rejects_bad_arguments),
        cmocka_unit_test(test_xfer_len_rejects_residual_larger_than_allocation),
        cmocka_unit_test(test_lun_decode_peripheral_and_flat_space),
        cmocka_unit_test(test_lun_decode_skips_multilevel_extended_and_bus_addresses),
        cmocka_unit_test(test_lun_encode_round_trips_every_single_level_lun),
        cmocka_unit_test(test_report_luns_full_list_iterates_every_lun),
        cmocka_unit_test(test_report_luns_truncated_list_reports_needed_length),
        cmocka_unit_test(test_report_luns_partial_entry_is_not_read),
        cmocka_unit_test(test_report_luns_list_shorter_than_data_limits_entries),
        cmocka_unit_test(test_report_luns_rejects_short_header_and_bad_list_length),
        cmocka_unit_test(test_report_luns_iteration_skips_undecodable_entries),
        cmocka_unit_test(test_inquiry_parses_disk_fields_and_trims_strings),
        cmocka_unit_test(test_inquiry_cdrom_is_removable_type_5),
        cmocka_unit_test(test_inquiry_placeholder_lun_is_not_present),
        cmocka_unit_test(test_inquiry_truncated_transfer_limits_strings),
        cmocka_unit_test(test_inquiry_short_additional_length_hides_bytes_beyond_it),
        cmocka_unit_test(test_inquiry_replaces_unprintable_bytes),
        cmocka_unit_test(test_inquiry_rejects_data_shorter_than_header),
        cmocka_unit_test(test_vpd_body_checks_page_code_and_clamps_length),
        cmocka_unit_test(test_vpd_supported_pages_bitmap),
        cmocka_unit_test(test_vpd_serial_trims_blanks_and_truncates_to_buffer),
        cmocka_unit_test(test_vpd_device_id_iterates_every_designator),
        cmocka_unit_test(test_vpd_device_id_best_prefers_naa_then_eui64_then_t10),
        cmocka_unit_test(test_vpd_device_id_lying_designator_length_stops_iteration),
        cmocka_unit_test(test_vpd_block_limits_full_page),
        cmocka_unit_test(test_vpd_block_limits_short_page_leaves_missing_fields_zero),
        cmocka_unit_test(test_vpd_provisioning_bits),
        cmocka_unit_test(test_read_capacity10_parses_last_lba_and_block_length),
        cmocka_unit_test(test_read_capacity10_all_ones_asks_for_16),
        cmocka_unit_test(test_read_capacity_rejects_bad_block_lengths),
        cmocka_unit_test(test_read_capacity10_rejects_short_data),
        cmocka_unit_test(test_read_capacity16_parses_protection_and_provisioning),
        cmocka_unit_test(test_read_capacity16_rejects_overflowing_capacity),
        cmocka_unit_test(test_mode_sense6_header_write_protect_and_dpofua),
        cmocka_unit_test(test_mode_sense10_header_write_protect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
