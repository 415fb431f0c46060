/* SPDX-License-Identifier: MIT */
/*
 * Self-test of the SCSI target model, driven directly (no transport): topology shapes, every
 * command, injected conditions and faults, task management, hot-plug events, and media contents
 * byte for byte. CDBs come from Keel's builders (tested byte for byte in test/core/test_scsi.c)
 * and answers are checked both as raw bytes and through Keel's parsers.
 */
#include <sim/test_common.h>

#include <keel/error.h>
#include <keel/scsi.h>
#include <sim/sim.h>

#include "scsi_model.h"

struct done {
    unsigned n;
    uint64_t tag[16];
    struct scsi_model_result res[16];
};

struct fx {
    struct sim *s;
    struct scsi_model *m;
    struct done done;
    /* last command */
    uint8_t status;
    enum scsi_model_response resp;
    uint32_t in_len, sense_len;
    uint8_t sense[64];
    uint8_t in[160 * 1024];
};

static void on_complete(void *ctx, uint64_t tag, const struct scsi_model_result *r)
{
    struct done *d = ctx;
    if (d->n < 16) {
        d->tag[d->n] = tag;
        d->res[d->n] = *r;
    }
    d->n++;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->s = sim_create(1 << 20);
    f->m = scsi_model_create(f->s);
    scsi_model_add_standard_topology(f->m);
    scsi_model_set_complete_cb(f->m, on_complete, &f->done);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sim_assert_clean(f->s);
    scsi_model_destroy(f->m);
    sim_destroy(f->s);
    free(f);
    return 0;
}

/* Run a command with data-in into f->in (in_cap bytes) and optional data-out. */
static uint8_t cmd_io(struct fx *f, uint8_t t, uint32_t l, const uint8_t *cdb, unsigned cdb_len,
                      const void *out, uint32_t out_len, uint32_t in_cap)
{
    memset(f->sense, 0, sizeof(f->sense));
    f->status = scsi_model_execute(f->m, t, l, cdb, cdb_len, out, out_len, f->in, in_cap,
                                   &f->in_len, f->sense, sizeof(f->sense), &f->sense_len, &f->resp);
    return f->status;
}

static uint8_t cmd(struct fx *f, uint8_t t, uint32_t l, const uint8_t *cdb, unsigned cdb_len)
{
    return cmd_io(f, t, l, cdb, cdb_len, NULL, 0, sizeof(f->in));
}

static uint8_t tur(struct fx *f, uint8_t t, uint32_t l)
{
    uint8_t c[KEEL_SCSI_CDB_MAX];
    return cmd(f, t, l, c, keel_scsi_cdb_test_unit_ready(c));
}

/* The last command ended in CHECK CONDITION with this sense. */
static void expect_sense(struct fx *f, uint8_t key, uint8_t asc, uint8_t ascq)
{
    struct keel_scsi_sense s;
    assert_int_equal(f->resp, SCSI_MODEL_RESP_OK);
    assert_int_equal(f->status, KEEL_SCSI_STATUS_CHECK_CONDITION);
    assert_int_equal(keel_scsi_sense_decode(f->sense, f->sense_len, &s), KEEL_OK);
    if (s.key != key || s.asc != asc || s.ascq != ascq)
        fail_msg("sense %x %02x/%02x, want %x %02x/%02x", s.key, s.asc, s.ascq, key, asc, ascq);
}

static void expect_good(struct fx *f)
{
    assert_int_equal(f->resp, SCSI_MODEL_RESP_OK);
    if (f->status != KEEL_SCSI_STATUS_GOOD)
        fail_msg("status %02x sense %02x %02x %02x/%02x", f->status, f->sense[0], f->sense[2],
                 f->sense[12], f->sense[13]);
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 9)) ^ seed);
}

static uint8_t rw(struct fx *f, uint8_t t, uint32_t l, bool write, uint64_t lba, uint32_t n,
                  unsigned flags, const void *out, uint32_t out_len)
{
    uint8_t c[KEEL_SCSI_CDB_MAX];
    int len = keel_scsi_cdb_rw(c, write, lba, n, flags);
    assert_true(len > 0);
    return cmd_io(f, t, l, c, (unsigned)len, out, out_len, sizeof(f->in));
}

/* ---- topology ---- */

static void test_absent_target_answers_bad_target(void **state)
{
    struct fx *f = *state;
    tur(f, 6, 0);
    assert_int_equal(f->resp, SCSI_MODEL_RESP_BAD_TARGET);
    tur(f, 255, 0);
    assert_int_equal(f->resp, SCSI_MODEL_RESP_BAD_TARGET);
    assert_false(scsi_model_target_present(f->m, 6));
    assert_true(scsi_model_target_present(f->m, 5));
    assert_int_equal(scsi_model_lun_count(f->m, 5), 300);
}

static void test_inquiry_standard_data_for_disk_and_cdrom(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_inquiry inq;

    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry(c, 96));
    expect_good(f);
    assert_int_equal(f->in_len, 36);
    assert_int_equal(f->in[4], 31);
    assert_memory_equal(f->in + 8, "KEEL    SIM DISK        1.0 ", 28);
    assert_int_equal(keel_scsi_parse_inquiry(f->in, f->in_len, &inq), KEEL_OK);
    assert_int_equal(inq.type, KEEL_SCSI_TYPE_DISK);
    assert_false(inq.removable);
    assert_true(keel_scsi_inquiry_lun_present(&inq));

    cmd(f, 1, 0, c, keel_scsi_cdb_inquiry(c, 96));
    expect_good(f);
    assert_int_equal(f->in[0], 0x05);
    assert_int_equal(f->in[1], 0x80);
    /* Allocation length shorter than the data: cut, no error. */
    cmd_io(f, 0, 0, c, keel_scsi_cdb_inquiry(c, 5), NULL, 0, 5);
    expect_good(f);
    assert_int_equal(f->in_len, 5);
}

static void test_missing_lun0_answers_placeholder_like_qemu(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_sense s;

    cmd(f, 4, 0, c, keel_scsi_cdb_inquiry(c, 36));
    expect_good(f);
    assert_int_equal(f->in[0], 0x7f); /* qualifier 011b, type 1Fh */
    tur(f, 4, 0);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x25, 0x00);
    /* Any missing LUN of a present target answers the same way. */
    tur(f, 0, 1);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x25, 0x00);
    cmd(f, 4, 0, c, keel_scsi_cdb_request_sense(c, false, 18));
    expect_good(f);
    assert_int_equal(keel_scsi_sense_decode(f->in, f->in_len, &s), KEEL_OK);
    assert_int_equal(s.asc, 0x25);
    tur(f, 4, 2);
    expect_good(f);
}

static void test_vpd_pages_describe_each_lun(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_vpd_pages pages;
    struct keel_scsi_block_limits bl;
    struct keel_scsi_provisioning p;
    struct keel_scsi_designator d;
    char serial[40];

    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry_vpd(c, 0x00, 255));
    expect_good(f);
    assert_int_equal(keel_scsi_parse_vpd_pages(f->in, f->in_len, &pages), KEEL_OK);
    assert_int_equal(pages.count, 5);
    assert_true(keel_scsi_vpd_has_page(&pages, 0xb0));
    assert_true(keel_scsi_vpd_has_page(&pages, 0xb2));
    cmd(f, 0, 3, c, keel_scsi_cdb_inquiry_vpd(c, 0x00, 255));
    assert_int_equal(keel_scsi_parse_vpd_pages(f->in, f->in_len, &pages), KEEL_OK);
    assert_false(keel_scsi_vpd_has_page(&pages, 0xb2));

    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry_vpd(c, 0x80, 255));
    expect_good(f);
    assert_int_equal(keel_scsi_parse_vpd_serial(f->in, f->in_len, serial, sizeof(serial)), 5);
    assert_string_equal(serial, "KS0-0");

    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry_vpd(c, 0x83, 255));
    expect_good(f);
    assert_int_equal(keel_scsi_vpd_devid_best(f->in, f->in_len, &d), KEEL_OK);
    assert_int_equal(d.type, KEEL_SCSI_DESIG_NAA);
    assert_memory_equal(d.id, "\x50\x00\xc5\x00\x12\x34\x56\x70", 8);
    cmd(f, 0, 3, c, keel_scsi_cdb_inquiry_vpd(c, 0x83, 255));
    assert_int_equal(keel_scsi_vpd_devid_best(f->in, f->in_len, &d), KEEL_OK);
    assert_int_equal(d.type, KEEL_SCSI_DESIG_EUI64);
    cmd(f, 2, 0, c, keel_scsi_cdb_inquiry_vpd(c, 0x83, 255));
    assert_int_equal(keel_scsi_vpd_devid_best(f->in, f->in_len, &d), KEEL_OK);
    assert_int_equal(d.type, KEEL_SCSI_DESIG_T10);
    assert_memory_equal(d.id, "KEEL    KS2-0", 13);

    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry_vpd(c, 0xb0, 64));
    expect_good(f);
    assert_int_equal(f->in_len, 64);
    assert_int_equal(keel_scsi_parse_vpd_block_limits(f->in, f->in_len, &bl), KEEL_OK);
    assert_int_equal(bl.page_len, 0x3c);
    assert_int_equal(bl.max_xfer_len, 256);
    assert_int_equal(bl.opt_xfer_len, 64);
    assert_int_equal(bl.max_unmap_lba_count, 1024);
    assert_int_equal(bl.max_unmap_desc_count, 4);
    assert_int_equal(bl.opt_unmap_granularity, 8);

    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry_vpd(c, 0xb2, 8));
    expect_good(f);
    assert_int_equal(keel_scsi_parse_vpd_provisioning(f->in, f->in_len, &p), KEEL_OK);
    assert_true(p.lbpu);
    assert_int_equal(p.lbprz & 1, 1);
    assert_int_equal(p.prov_type, KEEL_SCSI_PROV_THIN);

    cmd(f, 0, 3, c, keel_scsi_cdb_inquiry_vpd(c, 0xb2, 8));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
    cmd(f, 1, 0, c, keel_scsi_cdb_inquiry_vpd(c, 0xb0, 64));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry_vpd(c, 0x86, 64));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
    /* A page code without EVPD is an invalid field too. */
    keel_scsi_cdb_inquiry(c, 36);
    c[2] = 0x80;
    cmd(f, 0, 0, c, 6);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
}

/* REPORT LUNS on target t into f->in; returns decoded LUNs in out[] (count). */
static uint32_t report_luns(struct fx *f, uint8_t t, uint32_t alloc, uint32_t *out, uint32_t max,
                            struct keel_scsi_lun_list *l)
{
    uint8_t c[KEEL_SCSI_CDB_MAX];
    uint32_t cursor = 0, lun, n = 0;
    cmd_io(f, t, 0, c, keel_scsi_cdb_report_luns(c, 0, alloc), NULL, 0, alloc);
    expect_good(f);
    assert_int_equal(keel_scsi_parse_report_luns(f->in, f->in_len, l), KEEL_OK);
    while (n < max && keel_scsi_lun_list_next(l, &cursor, &lun, NULL) == 1)
        out[n++] = lun;
    return n;
}

static void test_report_luns_lists_sparse_luns(void **state)
{
    struct fx *f = *state;
    struct keel_scsi_lun_list l;
    uint32_t luns[8];

    assert_int_equal(report_luns(f, 0, 256, luns, 8, &l), 3);
    assert_false(l.truncated);
    assert_int_equal(luns[0], 0);
    assert_int_equal(luns[1], 3);
    assert_int_equal(luns[2], 7);
    assert_int_equal(report_luns(f, 2, 16, luns, 8, &l), 1);
    assert_int_equal(luns[0], 0);
}

static void test_report_luns_short_allocation_keeps_full_list_length(void **state)
{
    struct fx *f = *state;
    struct keel_scsi_lun_list l;
    static uint32_t luns[400];
    uint32_t i;

    /* Room for one entry: the list length still says 300 LUNs. */
    assert_int_equal(report_luns(f, 5, 16, luns, 400, &l), 1);
    assert_int_equal(f->in_len, 16);
    assert_true(l.truncated);
    assert_int_equal(l.total, 300);
    assert_int_equal(l.needed_len, 8 + 300 * 8);
    /* Grow to the needed length: every LUN, ascending; >= 256 in flat-space form. */
    assert_int_equal(report_luns(f, 5, l.needed_len, luns, 400, &l), 300);
    assert_false(l.truncated);
    for (i = 0; i < 300; i++)
        assert_int_equal(luns[i], i);
    assert_memory_equal(f->in + 8 + 255 * 8, "\x00\xff\x00\x00\x00\x00\x00\x00", 8);
    assert_memory_equal(f->in + 8 + 256 * 8, "\x41\x00\x00\x00\x00\x00\x00\x00", 8);
    assert_memory_equal(f->in + 8 + 299 * 8, "\x41\x2b\x00\x00\x00\x00\x00\x00", 8);
    /* LUN 299 answers, sparse and memory-light. */
    tur(f, 5, 299);
    expect_good(f);
    assert_int_equal(scsi_model_media_footprint(f->m, 5, 299), 0);
}

static void test_report_luns_rejects_allocation_below_16(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    cmd(f, 0, 0, c, keel_scsi_cdb_report_luns(c, 0, 15));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
    cmd(f, 0, 0, c, keel_scsi_cdb_report_luns(c, 0x10, 64));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
}

static void test_report_luns_unsupported_target_answers_invalid_opcode(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    cmd(f, 3, 0, c, keel_scsi_cdb_report_luns(c, 0, 64));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x20, 0x00);
    tur(f, 3, 1); /* LUNs are there for a sequential scan */
    expect_good(f);
}

static void test_report_luns_lists_absent_lun0_unless_told_not_to(void **state)
{
    struct fx *f = *state;
    struct keel_scsi_lun_list l;
    uint32_t luns[4];

    assert_int_equal(report_luns(f, 4, 64, luns, 4, &l), 2);
    assert_int_equal(luns[0], 0);
    assert_int_equal(luns[1], 2);
    scsi_model_set_target_flags(f->m, 4, SCSI_MODEL_TGT_NO_PHANTOM_LUN0);
    assert_int_equal(report_luns(f, 4, 64, luns, 4, &l), 1);
    assert_int_equal(luns[0], 2);
}

static void test_read_capacity_10_and_16(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_capacity cap;

    cmd(f, 0, 0, c, keel_scsi_cdb_read_capacity10(c));
    expect_good(f);
    assert_memory_equal(f->in, "\x00\x00\x1f\xff\x00\x00\x02\x00", 8);
    cmd(f, 0, 3, c, keel_scsi_cdb_read_capacity10(c));
    assert_int_equal(keel_scsi_parse_read_capacity10(f->in, f->in_len, &cap), KEEL_OK);
    assert_true(cap.nblocks == 1024);
    assert_int_equal(cap.block_len, 4096);
    /* 2^33 blocks: (10) says FFFFFFFFh, (16) tells the truth. */
    cmd(f, 0, 7, c, keel_scsi_cdb_read_capacity10(c));
    assert_int_equal(keel_scsi_parse_read_capacity10(f->in, f->in_len, &cap), KEEL_OK);
    assert_true(cap.need16);
    cmd(f, 0, 7, c, keel_scsi_cdb_read_capacity16(c, 32));
    expect_good(f);
    assert_int_equal(f->in_len, 32);
    assert_int_equal(keel_scsi_parse_read_capacity16(f->in, f->in_len, &cap), KEEL_OK);
    assert_true(cap.nblocks == (1ull << 33));
    assert_false(cap.lbpme);
    cmd(f, 0, 0, c, keel_scsi_cdb_read_capacity16(c, 32));
    assert_int_equal(keel_scsi_parse_read_capacity16(f->in, f->in_len, &cap), KEEL_OK);
    assert_true(cap.lbpme);
    assert_true(cap.lbprz);
    /* Allocation length honoured. */
    cmd(f, 0, 0, c, keel_scsi_cdb_read_capacity16(c, 12));
    assert_int_equal(f->in_len, 12);
}

static void test_overrun_when_buffer_is_smaller_than_transfer_length(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    uint8_t out[4096];

    cmd_io(f, 0, 0, c, keel_scsi_cdb_inquiry(c, 96), NULL, 0, 36);
    assert_int_equal(f->resp, SCSI_MODEL_RESP_OVERRUN);
    assert_int_equal(f->in_len, 0);
    cmd_io(f, 0, 0, c, (unsigned)keel_scsi_cdb_rw(c, false, 0, 8, 0), NULL, 0, 2048);
    assert_int_equal(f->resp, SCSI_MODEL_RESP_OVERRUN);
    cmd_io(f, 0, 0, c, (unsigned)keel_scsi_cdb_rw(c, true, 0, 8, 0), out, 2048, 0);
    assert_int_equal(f->resp, SCSI_MODEL_RESP_OVERRUN);
    /* Exactly enough is fine. */
    cmd_io(f, 0, 0, c, (unsigned)keel_scsi_cdb_rw(c, true, 0, 8, 0), out, 4096, 0);
    expect_good(f);
}

static void test_write_then_read_returns_the_same_bytes(void **state)
{
    struct fx *f = *state;
    static uint8_t out[8192], media[8192];

    fill_pattern(out, sizeof(out), 1);
    rw(f, 0, 0, true, 100, 16, 0, out, sizeof(out));
    expect_good(f);
    memset(f->in, 0, sizeof(f->in));
    rw(f, 0, 0, false, 100, 16, KEEL_SCSI_RW_FORCE16, NULL, 0);
    expect_good(f);
    assert_int_equal(f->in_len, 8192);
    assert_memory_equal(f->in, out, 8192);
    assert_int_equal(scsi_model_media_read(f->m, 0, 0, 100 * 512, media, 8192), 0);
    assert_memory_equal(media, out, 8192);
    /* Neighbours untouched. */
    rw(f, 0, 0, false, 99, 1, 0, NULL, 0);
    assert_memory_equal(f->in, "\0\0\0\0\0\0\0\0", 8);

    /* 4096-byte blocks, and media written by the test read back through READ. */
    fill_pattern(out, 8192, 9);
    assert_int_equal(scsi_model_media_write(f->m, 2, 0, 2047 * 4096, out, 4096), 0);
    rw(f, 2, 0, false, 2047, 1, 0, NULL, 0);
    expect_good(f);
    assert_memory_equal(f->in, out, 4096);
    assert_int_equal(scsi_model_media_write(f->m, 2, 0, 2047 * 4096, out, 4097), -1);
    const struct scsi_model_lun_stats *st = scsi_model_lun_stats(f->m, 0, 0);
    assert_int_equal(st->writes, 1);
    assert_int_equal(st->blocks_written, 16);
    assert_int_equal(st->reads, 2);
}

static void test_read_write_range_and_length_checks(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    static uint8_t out[512 * 257];

    rw(f, 0, 0, false, 8192, 1, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x21, 0x00);
    rw(f, 0, 0, false, 8190, 3, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x21, 0x00);
    rw(f, 0, 0, false, 8191, 1, 0, NULL, 0);
    expect_good(f);
    /* Beyond MAXIMUM TRANSFER LENGTH (256 blocks on this LUN). */
    rw(f, 0, 0, true, 0, 257, 0, out, sizeof(out));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
    /* Transfer length 0: GOOD, nothing moves; it may start at the end but not beyond. */
    keel_scsi_cdb_rw10(c, false, 5, 0, 0);
    cmd(f, 0, 0, c, 10);
    expect_good(f);
    assert_int_equal(f->in_len, 0);
    keel_scsi_cdb_rw10(c, false, 8192, 0, 0);
    cmd(f, 0, 0, c, 10);
    expect_good(f);
    keel_scsi_cdb_rw10(c, false, 8193, 0, 0);
    cmd(f, 0, 0, c, 10);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x21, 0x00);
    keel_scsi_cdb_rw10(c, false, 5, 0, 0);
    /* A 10-byte opcode in a 6-byte CDB. */
    cmd(f, 0, 0, c, 6);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
}

static void test_write_protected_lun_refuses_writes_and_reports_wp(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_mode_header h;
    static uint8_t out[4096];

    rw(f, 0, 3, true, 0, 1, 0, out, sizeof(out));
    expect_sense(f, KEEL_SCSI_SK_DATA_PROTECT, 0x27, 0x00);
    cmd(f, 0, 3, c, keel_scsi_cdb_mode_sense6(c, true, 0, 0x3f, 0, 192));
    expect_good(f);
    assert_int_equal(keel_scsi_parse_mode_sense6(f->in, f->in_len, &h), KEEL_OK);
    assert_true(h.wp);
    cmd(f, 0, 3, c, keel_scsi_cdb_mode_sense10(c, true, 0, 0x3f, 0, 256));
    assert_int_equal(keel_scsi_parse_mode_sense10(f->in, f->in_len, &h), KEEL_OK);
    assert_true(h.wp);
    cmd(f, 0, 0, c, keel_scsi_cdb_mode_sense6(c, true, 0, 0x3f, 0, 192));
    assert_int_equal(keel_scsi_parse_mode_sense6(f->in, f->in_len, &h), KEEL_OK);
    assert_false(h.wp);
    assert_true(h.dpofua);
    /* Run-time change. */
    scsi_model_set_write_protect(f->m, 0, 0, true);
    rw(f, 0, 0, true, 0, 1, 0, out, 512);
    expect_sense(f, KEEL_SCSI_SK_DATA_PROTECT, 0x27, 0x00);
}

static void test_fua_writes_and_synchronize_cache_are_counted(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    static uint8_t out[512];
    const struct scsi_model_lun_stats *st = scsi_model_lun_stats(f->m, 0, 0);

    rw(f, 0, 0, true, 1, 1, 0, out, 512);
    rw(f, 0, 0, true, 2, 1, 0, out, 512);
    assert_int_equal(st->dirty_writes, 2);
    rw(f, 0, 0, true, 3, 1, KEEL_SCSI_RW_FUA, out, 512);
    expect_good(f);
    assert_int_equal(st->fua_writes, 1);
    assert_int_equal(st->dirty_writes, 2);
    cmd(f, 0, 0, c, keel_scsi_cdb_sync_cache10(c, 0, 0, false));
    expect_good(f);
    assert_int_equal(st->syncs, 1);
    assert_int_equal(st->dirty_writes, 0);
    cmd(f, 0, 7, c, keel_scsi_cdb_sync_cache16(c, 0, 0, true));
    expect_good(f);
    cmd(f, 0, 0, c, keel_scsi_cdb_sync_cache16(c, 8192, 0, false));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x21, 0x00);
    /* No DPOFUA on LUN 7: FUA is an invalid field there. */
    rw(f, 0, 7, true, 0, 1, KEEL_SCSI_RW_FUA, out, 512);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
}

static uint8_t unmap(struct fx *f, uint8_t t, uint32_t l, const uint8_t *param, uint16_t len)
{
    uint8_t c[KEEL_SCSI_CDB_MAX];
    return cmd_io(f, t, l, c, keel_scsi_cdb_unmap(c, len), param, len, 0);
}

static void test_unmap_zeroes_blocks_and_frees_memory(void **state)
{
    struct fx *f = *state;
    static uint8_t out[512 * 256];
    uint8_t param[64];
    uint64_t covered;
    size_t before;
    int len;

    fill_pattern(out, sizeof(out), 3);
    rw(f, 0, 0, true, 0, 256, 0, out, sizeof(out));
    rw(f, 0, 0, true, 256, 256, 0, out, sizeof(out));
    before = scsi_model_media_footprint(f->m, 0, 0);
    /* Unmap blocks 128..383 (one whole 64 KiB chunk plus halves of two). */
    len = keel_scsi_unmap_build(param, sizeof(param), 128, 256, 1024, 4, &covered);
    assert_true(len > 0 && covered == 256);
    unmap(f, 0, 0, param, (uint16_t)len);
    expect_good(f);
    rw(f, 0, 0, false, 0, 256, 0, NULL, 0);
    assert_memory_equal(f->in, out, 128 * 512);
    for (size_t i = 128 * 512; i < 256 * 512; i++)
        assert_int_equal(f->in[i], 0);
    rw(f, 0, 0, false, 384, 128, 0, NULL, 0);
    assert_memory_equal(f->in, out + 128 * 512, 128 * 512);
    assert_true(scsi_model_media_footprint(f->m, 0, 0) < before);
    assert_int_equal(scsi_model_lun_stats(f->m, 0, 0)->blocks_unmapped, 256);
}

static void test_unmap_parameter_list_is_validated_before_anything_is_unmapped(void **state)
{
    struct fx *f = *state;
    static uint8_t out[512];
    uint8_t param[128];
    unsigned i;

    fill_pattern(out, sizeof(out), 4);
    rw(f, 0, 0, true, 10, 1, 0, out, 512);
    /* Five descriptors: the LUN allows 4. */
    memset(param, 0, sizeof(param));
    param[1] = 6 + 80;
    param[3] = 80;
    for (i = 0; i < 5; i++) {
        param[8 + 16 * i + 7] = (uint8_t)(10 + i);
        param[8 + 16 * i + 11] = 1;
    }
    unmap(f, 0, 0, param, 88);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x00);
    /* Two descriptors, the second out of range: nothing is unmapped. */
    param[1] = 6 + 32;
    param[3] = 32;
    param[8 + 16 + 6] = 0x20; /* LBA 0x200b: beyond 8192 */
    unmap(f, 0, 0, param, 40);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x21, 0x00);
    rw(f, 0, 0, false, 10, 1, 0, NULL, 0);
    assert_memory_equal(f->in, out, 512);
    /* More than MAXIMUM UNMAP LBA COUNT (1024) in all. */
    param[8 + 16 + 6] = 0;
    param[8 + 10] = 0x04; /* first: 1025 blocks */
    unmap(f, 0, 0, param, 40);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x00);
    /* Header lengths beyond the list, a partial descriptor, a list shorter than a header. */
    param[8 + 10] = 0;
    param[3] = 48;
    unmap(f, 0, 0, param, 40);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00);
    param[3] = 20;
    unmap(f, 0, 0, param, 40);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00);
    unmap(f, 0, 0, param, 6);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00);
    /* An empty list is fine; LUNs without provisioning do not know UNMAP. */
    unmap(f, 0, 0, param, 0);
    expect_good(f);
    unmap(f, 2, 0, param, 0);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x20, 0x00);
    assert_int_equal(scsi_model_lun_stats(f->m, 0, 0)->unmaps, 1);
}

static void test_huge_disk_stays_sparse(void **state)
{
    struct fx *f = *state;
    static uint8_t out[512];
    fill_pattern(out, sizeof(out), 5);
    rw(f, 0, 7, true, (1ull << 33) - 1, 1, 0, out, 512);
    expect_good(f);
    rw(f, 0, 7, false, (1ull << 33) - 1, 1, 0, NULL, 0);
    expect_good(f);
    assert_memory_equal(f->in, out, 512);
    rw(f, 0, 7, false, 1ull << 32, 1, 0, NULL, 0);
    expect_good(f);
    assert_int_equal(f->in[0], 0);
    assert_true(scsi_model_media_footprint(f->m, 0, 7) <= 65536 + 1024);
}

static void test_cdrom_without_medium_is_not_ready_until_inserted(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_sense s;
    struct keel_scsi_capacity cap;

    tur(f, 1, 0);
    expect_sense(f, KEEL_SCSI_SK_NOT_READY, 0x3a, 0x00);
    cmd(f, 1, 0, c, keel_scsi_cdb_read_capacity10(c));
    expect_sense(f, KEEL_SCSI_SK_NOT_READY, 0x3a, 0x00);
    rw(f, 1, 0, false, 0, 1, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_NOT_READY, 0x3a, 0x00);
    cmd(f, 1, 0, c, keel_scsi_cdb_request_sense(c, false, 18));
    expect_good(f);
    assert_int_equal(keel_scsi_sense_decode(f->in, f->in_len, &s), KEEL_OK);
    assert_int_equal(s.asc, 0x3a);
    cmd(f, 1, 0, c, keel_scsi_cdb_inquiry(c, 36));
    expect_good(f);
    /* Insert: 28/00 once, then ready with 2048-byte blocks. */
    scsi_model_set_medium(f->m, 1, 0, 1000);
    tur(f, 1, 0);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x28, 0x00);
    tur(f, 1, 0);
    expect_good(f);
    cmd(f, 1, 0, c, keel_scsi_cdb_read_capacity10(c));
    assert_int_equal(keel_scsi_parse_read_capacity10(f->in, f->in_len, &cap), KEEL_OK);
    assert_int_equal(cap.block_len, 2048);
    assert_true(cap.nblocks == 1000);
    /* Eject with START STOP UNIT (LOEJ, START = 0). */
    cmd(f, 1, 0, c, keel_scsi_cdb_start_stop_unit(c, false, false, true));
    expect_good(f);
    tur(f, 1, 0);
    expect_sense(f, KEEL_SCSI_SK_NOT_READY, 0x3a, 0x00);
}

static void test_unit_attention_is_reported_once_except_to_exempt_commands(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct scsi_model_lun_cfg cfg;
    struct keel_scsi_sense s;
    struct keel_scsi_lun_list l;
    uint32_t luns[4];

    scsi_model_lun_cfg_disk(&cfg, 512, 128); /* power-on UA */
    assert_int_equal(scsi_model_add_lun(f->m, 9, 0, &cfg), 0);
    cmd(f, 9, 0, c, keel_scsi_cdb_inquiry(c, 36));
    expect_good(f);
    report_luns(f, 9, 64, luns, 4, &l);
    tur(f, 9, 0);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x29, 0x00);
    tur(f, 9, 0);
    expect_good(f);
    /* REQUEST SENSE returns a pending UA as data and clears it. */
    scsi_model_set_ua(f->m, 9, 0, 0x2a, 0x01);
    scsi_model_set_ua(f->m, 9, 0, 0x2a, 0x01); /* duplicates are merged */
    cmd(f, 9, 0, c, keel_scsi_cdb_request_sense(c, false, 18));
    expect_good(f);
    assert_int_equal(keel_scsi_sense_decode(f->in, f->in_len, &s), KEEL_OK);
    assert_int_equal(s.key, KEEL_SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(s.asc, 0x2a);
    tur(f, 9, 0);
    expect_good(f);
    assert_int_equal(scsi_model_lun_stats(f->m, 9, 0)->unit_attentions, 2);
    assert_int_equal(scsi_model_add_lun(f->m, 9, 0, &cfg), -1);
}

static void test_becoming_ready_for_n_commands_then_ready(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    unsigned i;

    scsi_model_set_becoming_ready(f->m, 0, 0, 3);
    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry(c, 36)); /* not a medium access */
    expect_good(f);
    for (i = 0; i < 3; i++) {
        tur(f, 0, 0);
        expect_sense(f, KEEL_SCSI_SK_NOT_READY, 0x04, 0x01);
    }
    tur(f, 0, 0);
    expect_good(f);
    assert_int_equal(scsi_model_lun_stats(f->m, 0, 0)->not_ready, 3);
}

static void test_stopped_lun_needs_start_stop_unit(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_sense s;
    struct keel_scsi_verdict v;

    scsi_model_set_stopped(f->m, 2, 0, true);
    tur(f, 2, 0);
    expect_sense(f, KEEL_SCSI_SK_NOT_READY, 0x04, 0x02);
    keel_scsi_sense_decode(f->sense, f->sense_len, &s);
    v = keel_scsi_classify(f->status, &s);
    assert_int_equal(v.action, KEEL_SCSI_ACT_START_UNIT);
    cmd(f, 2, 0, c, keel_scsi_cdb_start_stop_unit(c, false, true, false));
    expect_good(f);
    tur(f, 2, 0);
    expect_good(f);
}

static void test_medium_error_reports_lba_and_transfers_good_prefix(void **state)
{
    struct fx *f = *state;
    struct keel_scsi_sense s;
    static uint8_t out[4096 * 8];

    scsi_model_add_bad_block(f->m, 0, 0, 10, true, true);
    rw(f, 0, 0, false, 5, 8, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_MEDIUM_ERROR, 0x11, 0x00);
    assert_int_equal(f->in_len, 5 * 512);
    keel_scsi_sense_decode(f->sense, f->sense_len, &s);
    assert_false(s.descriptor);
    assert_true(s.info_valid);
    assert_true(s.info == 10);
    rw(f, 0, 0, true, 10, 1, 0, out, 512);
    expect_sense(f, KEEL_SCSI_SK_MEDIUM_ERROR, 0x0c, 0x00);
    rw(f, 0, 0, false, 11, 8, 0, NULL, 0); /* not covering it */
    expect_good(f);
    scsi_model_clear_bad_blocks(f->m, 0, 0);
    rw(f, 0, 0, false, 5, 8, 0, NULL, 0);
    expect_good(f);

    /* Descriptor-format LUN: the LBA is in an information descriptor. */
    scsi_model_add_bad_block(f->m, 2, 0, 2000, true, false);
    rw(f, 2, 0, false, 1999, 2, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_MEDIUM_ERROR, 0x11, 0x00);
    assert_int_equal(f->sense[0], 0x72);
    keel_scsi_sense_decode(f->sense, f->sense_len, &s);
    assert_true(s.descriptor);
    assert_true(s.info_valid && s.info == 2000);
    assert_int_equal(f->in_len, 4096);
    assert_int_equal(scsi_model_lun_stats(f->m, 2, 0)->medium_errors, 1);
}

static void test_busy_and_task_set_full_status(void **state)
{
    struct fx *f = *state;
    scsi_model_set_busy(f->m, 0, 0, 2, KEEL_SCSI_STATUS_BUSY);
    assert_int_equal(tur(f, 0, 0), KEEL_SCSI_STATUS_BUSY);
    assert_int_equal(f->sense_len, 0);
    assert_int_equal(tur(f, 0, 0), KEEL_SCSI_STATUS_BUSY);
    assert_int_equal(tur(f, 0, 0), KEEL_SCSI_STATUS_GOOD);
    sim_fault_arm(f->s, SCSI_MODEL_F_STATUS, 0, 1, SCSI_MODEL_FP_VALUE(0x28));
    assert_int_equal(tur(f, 0, 0), KEEL_SCSI_STATUS_TASK_SET_FULL);
    assert_int_equal(tur(f, 0, 0), KEEL_SCSI_STATUS_GOOD);
    sim_fault_arm(f->s, SCSI_MODEL_F_STATUS, 0, 1, 0);
    assert_int_equal(tur(f, 0, 0), KEEL_SCSI_STATUS_BUSY);
}

static void test_unsupported_opcodes_are_illegal_requests(void **state)
{
    struct fx *f = *state;
    uint8_t c[16] = {0x41}; /* WRITE SAME(10) */
    cmd(f, 0, 0, c, 10);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x20, 0x00);
    c[0] = 0xc0;
    cmd(f, 0, 0, c, 16);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x20, 0x00);
    c[0] = 0x9e; /* SERVICE ACTION IN with another service action */
    c[1] = 0x12;
    cmd(f, 0, 0, c, 16);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
}

static void test_mode_sense_pages_and_block_descriptor(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_mode_header h;

    cmd(f, 0, 0, c, keel_scsi_cdb_mode_sense6(c, false, 0, 0x3f, 0, 255));
    expect_good(f);
    assert_int_equal(f->in_len, 4 + 8 + 20 + 12);
    assert_int_equal(f->in[0], f->in_len - 1);
    assert_int_equal(f->in[3], 8);
    assert_memory_equal(f->in + 4, "\x00\x00\x20\x00\x00\x00\x02\x00", 8);
    assert_int_equal(f->in[12], 0x08);        /* caching page */
    assert_int_equal(f->in[14] & 0x04, 0x04); /* WCE */
    assert_int_equal(f->in[32], 0x0a);        /* control page */
    cmd(f, 2, 0, c, keel_scsi_cdb_mode_sense10(c, true, 0, 0x0a, 0, 64));
    expect_good(f);
    assert_int_equal(keel_scsi_parse_mode_sense10(f->in, f->in_len, &h), KEEL_OK);
    assert_int_equal(h.bd_len, 0);
    assert_int_equal(f->in[8], 0x0a);
    assert_int_equal(f->in[10] & 0x04, 0x04); /* D_SENSE */
    cmd(f, 0, 0, c, keel_scsi_cdb_mode_sense6(c, true, 0, 0x1c, 0, 255));
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00);
    /* The 4-byte header alone is enough for WP. */
    cmd_io(f, 0, 0, c, keel_scsi_cdb_mode_sense6(c, true, 0, 0x3f, 0, 4), NULL, 0, 4);
    expect_good(f);
    assert_int_equal(f->in_len, 4);
}

static void test_request_sense_in_descriptor_format_when_asked(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    scsi_model_set_ua(f->m, 0, 0, 0x29, 0x01);
    cmd(f, 0, 0, c, keel_scsi_cdb_request_sense(c, true, 252));
    expect_good(f);
    assert_int_equal(f->in[0], 0x72);
    assert_int_equal(f->in[1], KEEL_SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(f->in[2], 0x29);
    assert_int_equal(f->in[3], 0x01);
    cmd(f, 0, 0, c, keel_scsi_cdb_request_sense(c, false, 252));
    assert_int_equal(f->in[0], 0x70);
    assert_int_equal(f->in[2], KEEL_SCSI_SK_NO_SENSE);
}

/* ---- held commands and task management ---- */

static enum scsi_model_response submit_tur(struct fx *f, uint8_t t, uint32_t l, uint64_t tag)
{
    static uint8_t c[KEEL_SCSI_CDB_MAX];
    struct scsi_model_cmd cm;
    struct scsi_model_result r;
    memset(&cm, 0, sizeof(cm));
    cm.tag = tag;
    cm.target = t;
    cm.lun = l;
    cm.cdb_len = keel_scsi_cdb_test_unit_ready(c);
    cm.cdb = c;
    cm.sense = f->sense;
    cm.sense_cap = sizeof(f->sense);
    return scsi_model_submit(f->m, &cm, &r);
}

static void test_held_command_completes_only_when_aborted(void **state)
{
    struct fx *f = *state;
    scsi_model_hold_next(f->m, 0, 0, 1);
    assert_int_equal(submit_tur(f, 0, 0, 77), SCSI_MODEL_RESP_PENDING);
    assert_int_equal(submit_tur(f, 0, 0, 78), SCSI_MODEL_RESP_OK); /* only the next one */
    assert_int_equal(scsi_model_held_count(f->m), 1);
    assert_int_equal(f->done.n, 0);
    assert_int_equal(scsi_model_abort_task(f->m, 0, 0, 76), SCSI_MODEL_TMF_COMPLETE);
    assert_int_equal(scsi_model_abort_task(f->m, 0, 3, 77), SCSI_MODEL_TMF_COMPLETE);
    assert_int_equal(scsi_model_held_count(f->m), 1);
    assert_int_equal(scsi_model_abort_task(f->m, 0, 0, 77), SCSI_MODEL_TMF_COMPLETE);
    assert_int_equal(scsi_model_held_count(f->m), 0);
    assert_int_equal(f->done.n, 1);
    assert_true(f->done.tag[0] == 77);
    assert_int_equal(f->done.res[0].response, SCSI_MODEL_RESP_ABORTED);
    /* TMF addressing errors. */
    assert_int_equal(scsi_model_abort_task(f->m, 6, 0, 1), SCSI_MODEL_TMF_BAD_TARGET);
    assert_int_equal(scsi_model_abort_task(f->m, 0, 1, 1), SCSI_MODEL_TMF_INCORRECT_LUN);
    assert_int_equal(scsi_model_lun_reset(f->m, 0, 2), SCSI_MODEL_TMF_INCORRECT_LUN);
    assert_int_equal(scsi_model_it_nexus_reset(f->m, 200), SCSI_MODEL_TMF_BAD_TARGET);
}

static void test_lun_and_nexus_resets_end_held_commands_with_unit_attention(void **state)
{
    struct fx *f = *state;
    scsi_model_hold_next(f->m, 0, 0, 2);
    scsi_model_hold_next(f->m, 0, 3, 1);
    scsi_model_hold_next(f->m, 2, 0, 1);
    assert_int_equal(submit_tur(f, 0, 0, 1), SCSI_MODEL_RESP_PENDING);
    assert_int_equal(submit_tur(f, 0, 0, 2), SCSI_MODEL_RESP_PENDING);
    assert_int_equal(submit_tur(f, 0, 3, 3), SCSI_MODEL_RESP_PENDING);
    assert_int_equal(submit_tur(f, 2, 0, 4), SCSI_MODEL_RESP_PENDING);
    assert_int_equal(scsi_model_lun_reset(f->m, 0, 0), SCSI_MODEL_TMF_COMPLETE);
    assert_int_equal(f->done.n, 2);
    assert_int_equal(f->done.res[0].response, SCSI_MODEL_RESP_RESET);
    assert_int_equal(f->done.res[1].response, SCSI_MODEL_RESP_RESET);
    assert_int_equal(scsi_model_held_count(f->m), 2);
    tur(f, 0, 0);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x29, 0x03);
    tur(f, 0, 7); /* other LUNs are untouched by a LUN reset */
    expect_good(f);
    assert_int_equal(scsi_model_it_nexus_reset(f->m, 0), SCSI_MODEL_TMF_COMPLETE);
    assert_int_equal(f->done.n, 3);
    assert_true(f->done.tag[2] == 3);
    assert_int_equal(scsi_model_held_count(f->m), 1); /* target 2 keeps its command */
    tur(f, 0, 7);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x29, 0x07);
    scsi_model_reset(f->m);
    assert_int_equal(f->done.n, 4);
    assert_int_equal(f->done.res[3].response, SCSI_MODEL_RESP_RESET);
    tur(f, 5, 299);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x29, 0x00);
}

static void test_hang_fault_then_release_completes_late_with_data(void **state)
{
    struct fx *f = *state;
    static uint8_t out[512], in[512];
    uint8_t c[KEEL_SCSI_CDB_MAX], sense[32];
    struct scsi_model_cmd cm;
    struct scsi_model_result r;

    fill_pattern(out, sizeof(out), 6);
    scsi_model_media_write(f->m, 0, 0, 42 * 512, out, 512);
    sim_fault_arm(f->s, SCSI_MODEL_F_HANG, 0, 1, SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_READ10));
    tur(f, 0, 0); /* not a READ(10): neither held nor counted */
    expect_good(f);
    memset(&cm, 0, sizeof(cm));
    cm.tag = 500;
    cm.cdb = c;
    cm.cdb_len = (uint32_t)keel_scsi_cdb_rw(c, false, 42, 1, 0);
    cm.data_in = in;
    cm.in_cap = sizeof(in);
    cm.sense = sense;
    cm.sense_cap = sizeof(sense);
    assert_int_equal(scsi_model_submit(f->m, &cm, &r), SCSI_MODEL_RESP_PENDING);
    memset(c, 0, sizeof(c)); /* the model kept its own copy of the CDB */
    assert_int_equal(scsi_model_release(f->m, 501), -1);
    assert_int_equal(scsi_model_release(f->m, 500), 0);
    assert_int_equal(f->done.n, 1);
    assert_int_equal(f->done.res[0].response, SCSI_MODEL_RESP_OK);
    assert_int_equal(f->done.res[0].status, KEEL_SCSI_STATUS_GOOD);
    assert_int_equal(f->done.res[0].in_len, 512);
    assert_memory_equal(in, out, 512);
    assert_int_equal(sim_fault_fired(f->s, SCSI_MODEL_F_HANG), 1);
}

static void test_tmf_fault_rejects_and_escalation_still_works(void **state)
{
    struct fx *f = *state;
    scsi_model_hold_next(f->m, 0, 0, 1);
    assert_int_equal(submit_tur(f, 0, 0, 9), SCSI_MODEL_RESP_PENDING);
    sim_fault_arm(f->s, SCSI_MODEL_F_TMF_FAIL, 0, 1, 0);
    assert_int_equal(scsi_model_abort_task(f->m, 0, 0, 9), SCSI_MODEL_TMF_REJECTED);
    assert_int_equal(scsi_model_held_count(f->m), 1);
    sim_fault_arm(f->s, SCSI_MODEL_F_TMF_FAIL, 0, 1, SCSI_MODEL_FP_VALUE(SCSI_MODEL_TMF_FAILURE));
    assert_int_equal(scsi_model_lun_reset(f->m, 0, 0), SCSI_MODEL_TMF_FAILURE);
    assert_int_equal(scsi_model_lun_reset(f->m, 0, 0), SCSI_MODEL_TMF_COMPLETE);
    assert_int_equal(f->done.n, 1);
    assert_int_equal(f->done.res[0].response, SCSI_MODEL_RESP_RESET);
}

/* ---- hot-plug and events ---- */

static void test_hotplug_queues_rescan_event_and_reported_luns_changed(void **state)
{
    struct fx *f = *state;
    struct scsi_model_lun_cfg cfg;
    struct scsi_model_event ev;
    struct keel_scsi_lun_list l;
    uint32_t luns[8];

    scsi_model_lun_cfg_disk(&cfg, 4096, 256);
    assert_int_equal(scsi_model_hotplug_lun(f->m, 0, 5, &cfg), 0);
    assert_int_equal(scsi_model_hotplug_lun(f->m, 0, 5, &cfg), -1);
    assert_int_equal(scsi_model_event_count(f->m), 1);
    assert_true(scsi_model_event_pop(f->m, &ev));
    assert_int_equal(ev.type, SCSI_MODEL_EV_TRANSPORT_RESET);
    assert_int_equal(ev.reason, SCSI_MODEL_RESET_RESCAN);
    assert_int_equal(ev.target, 0);
    assert_int_equal(ev.lun, 5);
    assert_false(ev.missed);
    assert_false(scsi_model_event_pop(f->m, &ev));
    tur(f, 0, 0);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x3f, 0x0e);
    tur(f, 2, 0); /* the whole bus, as QEMU */
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x3f, 0x0e);
    assert_int_equal(report_luns(f, 0, 64, luns, 8, &l), 4);
    assert_int_equal(luns[2], 5);
    tur(f, 0, 5);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x29, 0x00);
    /* A new target appears the same way. */
    assert_int_equal(scsi_model_hotplug_lun(f->m, 10, 0, &cfg), 0);
    assert_true(scsi_model_event_pop(f->m, &ev));
    assert_int_equal(ev.target, 10);
}

static void test_unplug_aborts_held_commands_and_queues_removed(void **state)
{
    struct fx *f = *state;
    struct scsi_model_event ev;

    scsi_model_hold_next(f->m, 2, 0, 1);
    assert_int_equal(submit_tur(f, 2, 0, 33), SCSI_MODEL_RESP_PENDING);
    assert_int_equal(scsi_model_unplug_lun(f->m, 2, 0), 0);
    assert_int_equal(scsi_model_unplug_lun(f->m, 2, 0), -1);
    assert_int_equal(f->done.n, 1);
    assert_int_equal(f->done.res[0].response, SCSI_MODEL_RESP_ABORTED);
    assert_true(scsi_model_event_pop(f->m, &ev));
    assert_int_equal(ev.type, SCSI_MODEL_EV_TRANSPORT_RESET);
    assert_int_equal(ev.reason, SCSI_MODEL_RESET_REMOVED);
    assert_int_equal(ev.target, 2);
    tur(f, 2, 0);
    assert_int_equal(f->resp, SCSI_MODEL_RESP_BAD_TARGET);
    tur(f, 0, 0);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x3f, 0x0e);
    /* Removing one LUN of several leaves the target. */
    assert_int_equal(scsi_model_unplug_lun(f->m, 0, 3), 0);
    tur(f, 0, 3);
    expect_sense(f, KEEL_SCSI_SK_ILLEGAL_REQUEST, 0x25, 0x00);
}

static void test_capacity_change_queues_param_change_and_unit_attention(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct scsi_model_event ev;
    struct keel_scsi_capacity cap;
    static uint8_t out[512];

    fill_pattern(out, sizeof(out), 8);
    rw(f, 0, 0, true, 8000, 1, 0, out, 512);
    scsi_model_set_capacity(f->m, 0, 0, 16384);
    assert_true(scsi_model_event_pop(f->m, &ev));
    assert_int_equal(ev.type, SCSI_MODEL_EV_PARAM_CHANGE);
    assert_int_equal(ev.asc, 0x2a);
    assert_int_equal(ev.ascq, 0x09);
    rw(f, 0, 0, false, 9000, 1, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x2a, 0x09);
    cmd(f, 0, 0, c, keel_scsi_cdb_read_capacity10(c));
    assert_int_equal(keel_scsi_parse_read_capacity10(f->in, f->in_len, &cap), KEEL_OK);
    assert_true(cap.nblocks == 16384);
    rw(f, 0, 0, false, 9000, 1, 0, NULL, 0);
    expect_good(f);
    /* Shrinking drops the data beyond the end; growing back shows zeros. */
    scsi_model_set_capacity(f->m, 0, 0, 4096);
    scsi_model_set_capacity(f->m, 0, 0, 8192);
    scsi_model_clear_all_ua(f->m);
    rw(f, 0, 0, false, 8000, 1, 0, NULL, 0);
    expect_good(f);
    assert_int_equal(f->in[0] | f->in[100] | f->in[511], 0);
}

static void test_event_queue_overflow_and_drop_report_events_missed(void **state)
{
    struct fx *f = *state;
    struct scsi_model_event ev, got;
    unsigned i;

    memset(&ev, 0, sizeof(ev));
    ev.type = SCSI_MODEL_EV_PARAM_CHANGE;
    for (i = 0; i < SCSI_MODEL_EVENT_MAX + 1; i++) {
        ev.lun = i;
        scsi_model_event_push(f->m, &ev);
    }
    assert_int_equal(scsi_model_event_count(f->m), SCSI_MODEL_EVENT_MAX);
    assert_true(scsi_model_event_pop(f->m, &got));
    assert_true(got.missed);
    assert_int_equal(got.lun, 0);
    assert_true(scsi_model_event_pop(f->m, &got));
    assert_false(got.missed);
    while (scsi_model_event_pop(f->m, &got))
        ;
    /* A dropped event with nothing after it: a NO_EVENT that says missed. */
    sim_fault_arm(f->s, SCSI_MODEL_F_EVENT_DROP, 0, 1, 0);
    scsi_model_set_capacity(f->m, 0, 0, 9000);
    assert_int_equal(scsi_model_event_count(f->m), 0);
    assert_true(scsi_model_event_pop(f->m, &got));
    assert_int_equal(got.type, SCSI_MODEL_EV_NONE);
    assert_true(got.missed);
    assert_false(scsi_model_event_pop(f->m, &got));
    /* The transport may report a loss itself. */
    scsi_model_event_note_missed(f->m);
    scsi_model_set_capacity(f->m, 0, 0, 9001);
    assert_true(scsi_model_event_pop(f->m, &got));
    assert_int_equal(got.type, SCSI_MODEL_EV_PARAM_CHANGE);
    assert_true(got.missed);
}

/* ---- faults ---- */

static void test_faults_match_only_their_lun_and_opcode(void **state)
{
    struct fx *f = *state;
    sim_fault_arm(f->s, SCSI_MODEL_F_UNIT_ATTENTION, 0, 1,
                  SCSI_MODEL_FP_LUN(0, 3) | SCSI_MODEL_FP_ASC(0x2a, 0x01));
    tur(f, 0, 0);
    expect_good(f);
    tur(f, 0, 3);
    expect_sense(f, KEEL_SCSI_SK_UNIT_ATTENTION, 0x2a, 0x01);
    tur(f, 0, 3);
    expect_good(f);
    /* NOT READY for two READ(10)s on any LUN, default ASC 04/01. */
    sim_fault_arm(f->s, SCSI_MODEL_F_NOT_READY, 0, 2, SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_READ10));
    tur(f, 0, 0);
    expect_good(f);
    rw(f, 0, 0, false, 0, 1, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_NOT_READY, 0x04, 0x01);
    rw(f, 2, 0, false, 0, 1, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_NOT_READY, 0x04, 0x01);
    rw(f, 0, 0, false, 0, 1, 0, NULL, 0);
    expect_good(f);
    /* MEDIUM ERROR only for commands covering its LBA. */
    sim_fault_arm(f->s, SCSI_MODEL_F_MEDIUM_ERROR, 0, 1, SCSI_MODEL_FP_VALUE(20));
    rw(f, 0, 0, false, 0, 8, 0, NULL, 0);
    expect_good(f);
    rw(f, 0, 0, false, 16, 8, 0, NULL, 0);
    expect_sense(f, KEEL_SCSI_SK_MEDIUM_ERROR, 0x11, 0x00);
    assert_int_equal(f->in_len, 4 * 512);
    rw(f, 0, 0, false, 16, 8, 0, NULL, 0);
    expect_good(f);
}

static void test_response_fault_returns_each_transport_response(void **state)
{
    struct fx *f = *state;
    unsigned r;
    for (r = SCSI_MODEL_RESP_OVERRUN; r <= SCSI_MODEL_RESP_FAILURE; r++) {
        sim_fault_arm(f->s, SCSI_MODEL_F_RESPONSE, 0, 1, SCSI_MODEL_FP_VALUE(r));
        tur(f, 0, 0);
        assert_int_equal(f->resp, r);
    }
    sim_fault_arm(f->s, SCSI_MODEL_F_RESPONSE, 0, 1, 0);
    tur(f, 0, 0);
    assert_int_equal(f->resp, SCSI_MODEL_RESP_FAILURE);
    tur(f, 0, 0);
    expect_good(f);
}

static void test_sense_and_data_faults_damage_what_is_returned(void **state)
{
    struct fx *f = *state;
    uint8_t c[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_sense s;
    struct keel_scsi_capacity cap;
    struct keel_scsi_lun_list l;

    sim_fault_arm(f->s, SCSI_MODEL_F_SENSE_SHORT, 0, 1, 0);
    tur(f, 0, 1);
    assert_int_equal(f->status, KEEL_SCSI_STATUS_CHECK_CONDITION);
    assert_int_equal(f->sense_len, 0);
    sim_fault_arm(f->s, SCSI_MODEL_F_SENSE_SHORT, 0, 1, SCSI_MODEL_FP_VALUE(5));
    tur(f, 0, 1);
    assert_int_equal(f->sense_len, 5);
    sim_fault_arm(f->s, SCSI_MODEL_F_SENSE_LEN_LIE, 0, 1, 0);
    tur(f, 0, 1);
    assert_int_equal(f->sense_len, 18);
    assert_int_equal(f->sense[7], 0xf4);
    assert_int_equal(keel_scsi_sense_decode(f->sense, f->sense_len, &s), KEEL_OK);
    assert_int_equal(s.asc, 0x25); /* clamped to what arrived */

    sim_fault_arm(f->s, SCSI_MODEL_F_DATA_SHORT, 0, 1, SCSI_MODEL_FP_VALUE(10));
    cmd(f, 0, 0, c, keel_scsi_cdb_inquiry(c, 96));
    expect_good(f);
    assert_int_equal(f->in_len, 10);

    sim_fault_arm(f->s, SCSI_MODEL_F_CAPACITY_LIE, 0, 1, SCSI_MODEL_FP_VALUE(513));
    cmd(f, 0, 0, c, keel_scsi_cdb_read_capacity10(c));
    expect_good(f);
    assert_int_equal(keel_scsi_parse_read_capacity10(f->in, f->in_len, &cap), KEEL_EPROTO);

    sim_fault_arm(f->s, SCSI_MODEL_F_REPORT_LUNS_LIE, 0, 1, SCSI_MODEL_FP_VALUE(0x0c));
    cmd(f, 0, 0, c, keel_scsi_cdb_report_luns(c, 0, 64));
    expect_good(f);
    assert_int_equal(keel_scsi_parse_report_luns(f->in, f->in_len, &l), KEEL_EPROTO);
}

static void test_model_without_sim_has_no_faults(void **state)
{
    struct scsi_model *m = scsi_model_create(NULL);
    struct scsi_model_lun_cfg cfg;
    uint8_t c[KEEL_SCSI_CDB_MAX], in[64], sense[32];
    uint32_t in_len, sense_len;
    enum scsi_model_response resp;
    (void)state;
    scsi_model_lun_cfg_disk(&cfg, 512, 16);
    cfg.power_on_ua = false;
    assert_int_equal(scsi_model_add_lun(m, 0, 0, &cfg), 0);
    cfg.block_size = 1000;
    assert_int_equal(scsi_model_add_lun(m, 0, 1, &cfg), -1);
    assert_int_equal(scsi_model_execute(m, 0, 0, c, keel_scsi_cdb_inquiry(c, 36), NULL, 0, in,
                                        sizeof(in), &in_len, sense, sizeof(sense), &sense_len,
                                        &resp),
                     KEEL_SCSI_STATUS_GOOD);
    assert_int_equal(resp, SCSI_MODEL_RESP_OK);
    assert_int_equal(in_len, 36);
    assert_int_equal(sense_len, 0);
    scsi_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_absent_target_answers_bad_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inquiry_standard_data_for_disk_and_cdrom, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_lun0_answers_placeholder_like_qemu, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vpd_pages_describe_each_lun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_luns_lists_sparse_luns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_luns_short_allocation_keeps_full_list_length,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_luns_rejects_allocation_below_16, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_report_luns_unsupported_target_answers_invalid_opcode,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_luns_lists_absent_lun0_unless_told_not_to,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_capacity_10_and_16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrun_when_buffer_is_smaller_than_transfer_length,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_then_read_returns_the_same_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_write_range_and_length_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_protected_lun_refuses_writes_and_reports_wp,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fua_writes_and_synchronize_cache_are_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unmap_zeroes_blocks_and_frees_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_unmap_parameter_list_is_validated_before_anything_is_unmapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_disk_stays_sparse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cdrom_without_medium_is_not_ready_until_inserted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_unit_attention_is_reported_once_except_to_exempt_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_becoming_ready_for_n_commands_then_ready, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stopped_lun_needs_start_stop_unit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_medium_error_reports_lba_and_transfers_good_prefix,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_and_task_set_full_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_opcodes_are_illegal_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mode_sense_pages_and_block_descriptor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_sense_in_descriptor_format_when_asked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_held_command_completes_only_when_aborted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_lun_and_nexus_resets_end_held_commands_with_unit_attention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hang_fault_then_release_completes_late_with_data,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmf_fault_rejects_and_escalation_still_works, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hotplug_queues_rescan_event_and_reported_luns_changed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unplug_aborts_held_commands_and_queues_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_capacity_change_queues_param_change_and_unit_attention,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_queue_overflow_and_drop_report_events_missed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_match_only_their_lun_and_opcode, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response_fault_returns_each_transport_response, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sense_and_data_faults_damage_what_is_returned, setup,
                                        teardown),
        cmocka_unit_test(test_model_without_sim_has_no_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
