/* SPDX-License-Identifier: MIT */
/*
 * Partition tables built in memory: MBR primaries and extended chains (including hostile ones),
 * GPT with primary/backup fallback, bad CRCs, overlapping and out-of-range entries, 512- and
 * 4096-byte sectors; and partitions as child block devices over a ramdisk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keel/error.h>
#include <keel/part.h>
#include <keel/registry.h>
#include <sim/ramdisk.h>
#include <sim/sim.h>

#include "part_image.h"

struct fixture {
    struct sim *s;
    struct ramdisk *rd;
    struct keel_part_table t;
    struct img_gpt g;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->s = sim_create(1u << 16);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    img_gpt_free(&f->g);
    ramdisk_destroy(f->rd);
    sim_destroy(f->s);
    free(f);
    return 0;
}

static uint8_t *new_disk(struct fixture *f, const char *name, uint32_t ss, uint64_t sectors)
{
    f->rd = ramdisk_create(&f->s->hal, name, ss, sectors, 0, 1, 64);
    assert_non_null(f->rd);
    return f->rd->data;
}

static uint8_t *sector(struct fixture *f, uint64_t lba)
{
    return f->rd->data + lba * f->rd->dev.info.sector_size;
}

/* Scan with a scratch buffer of exactly one sector, so any overrun is an ASan error. */
static int scan(struct fixture *f)
{
    size_t ss = f->rd->dev.info.sector_size;
    void *scratch = malloc(ss);
    int rc = keel_part_scan(&f->rd->dev, 0, scratch, ss, &f->t);

    free(scratch);
    return rc;
}

static void expect_part(const struct keel_part *p, unsigned number, uint64_t start, uint64_t count)
{
    assert_int_equal(p->number, number);
    assert_true(p->start_lba == start);
    assert_true(p->sector_count == count);
}

/* ---- no table ---- */

static void test_blank_disk_has_no_table(void **state)
{
    struct fixture *f = *state;

    new_disk(f, "vda", 512, 2048);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.scheme, KEEL_PART_NONE);
    assert_int_equal(f->t.count, 0);
}

static void test_boot_sector_with_55aa_but_no_table_has_no_table(void **state)
{
    struct fixture *f = *state;
    uint8_t *mbr = new_disk(f, "vda", 512, 2048);

    memset(mbr, 0x4e, 510); /* boot code where the slots would be: status bytes 0x4e */
    img_mbr_sign(mbr);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.scheme, KEEL_PART_NONE);
}

static void test_scan_needs_one_sector_of_scratch(void **state)
{
    struct fixture *f = *state;
    uint8_t small[511];

    new_disk(f, "vda", 512, 2048);
    assert_int_equal(keel_part_scan(&f->rd->dev, 0, small, sizeof(small), &f->t), KEEL_EINVAL);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_READ], 0);
}

/* ---- MBR ---- */

static void test_mbr_primaries_by_slot(void **state)
{
    struct fixture *f = *state;
    uint8_t *mbr = new_disk(f, "vda", 512, 100000);

    img_mbr_slot(mbr, 0, 0x80, 0x83, 2048, 8192);
    img_mbr_slot(mbr, 1, 0x00, 0x07, 10240, 20000);
    img_mbr_slot(mbr, 3, 0x00, 0x0c, 40000, 60000); /* slot 3 empty: a gap */
    mbr[440] = 0x78;
    mbr[441] = 0x56;
    mbr[442] = 0x34;
    mbr[443] = 0x12;
    img_mbr_sign(mbr);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.scheme, KEEL_PART_MBR);
    assert_int_equal(f->t.mbr_disk_id, 0x12345678u);
    assert_int_equal(f->t.count, 3);
    assert_int_equal(f->t.dropped, 0);
    expect_part(&f->t.part[0], 1, 2048, 8192);
    assert_true(f->t.part[0].bootable);
    assert_int_equal(f->t.part[0].mbr_type, 0x83);
    expect_part(&f->t.part[1], 2, 10240, 20000);
    assert_false(f->t.part[1].bootable);
    expect_part(&f->t.part[2], 4, 40000, 60000);
    assert_int_equal(f->t.part[2].mbr_type, 0x0c);
}

/*
 * An extended partition at [ext, ext + size) with `n` logicals, each `len` sectors after a one-
 * sector gap for its EBR (the layout fdisk uses, scaled down). Returns the EBR LBAs in `ebr`.
 */
static void build_chain(uint8_t *disk, uint32_t ss, uint32_t ext, unsigned n, uint32_t len,
                        uint32_t *ebr)
{
    unsigned i;

    for (i = 0; i < n; i++)
        ebr[i] = ext + i * (len + 1u);
    for (i = 0; i < n; i++) {
        uint8_t *s = disk + (uint64_t)ebr[i] * ss;

        img_mbr_slot(s, 0, 0, 0x83, 1, len); /* relative to this EBR */
        if (i + 1 < n)
            img_mbr_slot(s, 1, 0, 0x05, ebr[i + 1] - ext, len + 1u); /* relative to the extended */
        img_mbr_sign(s);
    }
}

static void test_mbr_extended_logicals_numbered_from_5(void **state)
{
    struct fixture *f = *state;
    uint8_t *mbr = new_disk(f, "sda", 512, 100000);
    uint32_t ebr[6];
    unsigned i;

    img_mbr_slot(mbr, 0, 0, 0x83, 2048, 2048);
    img_mbr_slot(mbr, 1, 0, 0x0f, 8192, 50000); /* Windows LBA extended */
    img_mbr_slot(mbr, 2, 0, 0x83, 60000, 1000);
    img_mbr_sign(mbr);
    build_chain(f->rd->data, 512, 8192, 6, 100, ebr);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.scheme, KEEL_PART_MBR);
    assert_int_equal(f->t.count, 3 + 6);
    assert_int_equal(f->t.dropped, 0);
    expect_part(&f->t.part[1], 2, 8192, 50000);
    assert_true(f->t.part[1].extended);
    assert_false(f->t.part[0].extended);
    for (i = 0; i < 6; i++) {
        expect_part(&f->t.part[3 + i], 5 + i, ebr[i] + 1u, 100);
        assert_int_equal(f->t.part[3 + i].mbr_type, 0x83);
        assert_false(f->t.part[3 + i].extended);
    }
}

static void test_mbr_ebr_loop_is_cut(void **state)
{
    struct fixture *f = *state;
    uint8_t *mbr = new_disk(f, "sda", 512, 100000);
    uint32_t ebr[3];

    img_mbr_slot(mbr, 0, 0, 0x05, 4096, 10000);
    img_mbr_sign(mbr);
    build_chain(f->rd->data, 512, 4096, 3, 50, ebr);
    /* The third EBR links back to the first one. */
    img_mbr_slot(sector(f, ebr[2]), 1, 0, 0x05, 0, 51);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.count, 1 + 3);
    assert_int_equal(f->t.dropped, 0);
    expect_part(&f->t.part[3], 7, ebr[2] + 1u, 50);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_READ], 1 + 3);
    /* An EBR linking to itself. */
    img_mbr_slot(sector(f, ebr[0]), 1, 0, 0x05, 0, 51);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.count, 1 + 1);
}

static void test_mbr_ebr_chain_is_bounded(void **state)
{
    struct fixture *f = *state;
    const unsigned n = KEEL_CONFIG_PART_MAX_LOGICAL + 10;
    uint8_t *mbr = new_disk(f, "sda", 512, 100000);
    uint32_t ebr[KEEL_CONFIG_PART_MAX_LOGICAL + 10];

    img_mbr_slot(mbr, 0, 0, 0x05, 2048, 90000);
    img_mbr_sign(mbr);
    build_chain(f->rd->data, 512, 2048, n, 8, ebr);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.count, KEEL_CONFIG_PART_MAX);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_READ], 1 + KEEL_CONFIG_PART_MAX_LOGICAL);
    /* Logicals beyond the table's capacity, plus one for the chain cut by the bound. */
    assert_int_equal(f->t.dropped, KEEL_CONFIG_PART_MAX_LOGICAL - (KEEL_CONFIG_PART_MAX - 1) + 1);
}

static void test_mbr_out_of_range_and_overlapping_entries_dropped(void **state)
{
    struct fixture *f = *state;
    uint8_t *mbr = new_disk(f, "sda", 512, 100000);
    uint32_t ebr[4];

    img_mbr_slot(mbr, 0, 0, 0x83, 2048, 10000);
    img_mbr_slot(mbr, 1, 0, 0x83, 10000, 5000);  /* overlaps slot 0 */
    img_mbr_slot(mbr, 2, 0, 0x83, 99000, 2000);  /* runs past the end of the disk */
    img_mbr_slot(mbr, 3, 0, 0x05, 20000, 30000); /* extended */
    img_mbr_sign(mbr);
    build_chain(f->rd->data, 512, 20000, 4, 100, ebr);
    img_mbr_slot(sector(f, ebr[1]), 0, 0, 0x83, 1, 40000); /* logical 6 leaves its container */
    img_mbr_slot(sector(f, ebr[2]), 0, 0, 0x83, 0, 10);    /* logical 7 starts on its EBR */
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.dropped, 4);
    assert_int_equal(f->t.count, 4);
    expect_part(&f->t.part[0], 1, 2048, 10000);
    expect_part(&f->t.part[1], 4, 20000, 30000);
    expect_part(&f->t.part[2], 5, ebr[0] + 1u, 100);
    expect_part(&f->t.part[3], 8, ebr[3] + 1u, 100); /* dropped logicals keep their numbers */
}

static void test_mbr_with_4096_byte_sectors(void **state)
{
    struct fixture *f = *state;
    uint8_t *mbr = new_disk(f, "nvme0n1", 4096, 8000);
    uint32_t ebr[3];

    img_mbr_slot(mbr, 0, 0x80, 0x83, 256, 1024);
    img_mbr_slot(mbr, 1, 0, 0x05, 2048, 4000);
    img_mbr_sign(mbr);
    build_chain(f->rd->data, 4096, 2048, 3, 300, ebr);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.scheme, KEEL_PART_MBR);
    assert_int_equal(f->t.count, 2 + 3);
    expect_part(&f->t.part[0], 1, 256, 1024);
    expect_part(&f->t.part[4], 7, ebr[2] + 1u, 300);
}

/* ---- GPT ---- */

/* A GPT with entries 0, 2 and 5 in use (numbers 1, 3, 6). */
static void build_gpt(struct fixture *f, uint32_t ss, uint64_t sectors)
{
    new_disk(f, "nvme0n1", ss, sectors);
    img_gpt_init(&f->g, ss, sectors);
    img_gpt_entry(&f->g, 0, img_guid_esp, 40, 99, 0x1, "EFI system");
    img_gpt_entry(&f->g, 2, img_guid_linux_fs, 100, 499, 0, "root");
    img_gpt_entry(&f->g, 5, img_guid_linux_fs, 600, sectors - 100, 1ull << 60, "data");
    img_gpt_write(&f->g, f->rd->data);
}

static void expect_gpt_parts(struct fixture *f, uint64_t sectors)
{
    char guid[37];

    assert_int_equal(f->t.scheme, KEEL_PART_GPT);
    assert_int_equal(f->t.count, 3);
    assert_int_equal(f->t.dropped, 0);
    expect_part(&f->t.part[0], 1, 40, 60);
    expect_part(&f->t.part[1], 3, 100, 400);
    expect_part(&f->t.part[2], 6, 600, sectors - 100 - 600 + 1);
    assert_string_equal(f->t.part[0].name, "EFI system");
    assert_string_equal(f->t.part[1].name, "root");
    assert_string_equal(f->t.part[2].name, "data");
    assert_memory_equal(f->t.part[0].type_guid, img_guid_esp, 16);
    img_guid_str(f->t.part[1].type_guid, guid);
    assert_string_equal(guid, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    assert_true(f->t.part[0].attributes == 1u);
    assert_true(f->t.part[2].attributes == 1ull << 60);
    assert_memory_equal(f->t.part[1].part_guid, f->g.array + 2 * 128 + 16, 16);
    assert_memory_equal(f->t.disk_guid, f->g.disk_guid, 16);
    assert_int_equal(f->t.part[0].mbr_type, 0);
}

static void test_gpt_valid_table(void **state)
{
    struct fixture *f = *state;

    build_gpt(f, 512, 4096);
    assert_int_equal(scan(f), KEEL_OK);
    expect_gpt_parts(f, 4096);
    assert_false(f->t.used_backup);
}

static void test_gpt_corrupt_primary_header_uses_backup(void **state)
{
    struct fixture *f = *state;

    build_gpt(f, 512, 4096);
    sector(f, 1)[60] ^= 0x01; /* a disk GUID bit: only the header CRC notices */
    assert_int_equal(scan(f), KEEL_OK);
    expect_gpt_parts(f, 4096);
    assert_true(f->t.used_backup);
}

static void test_gpt_corrupt_primary_entries_crc_uses_backup(void **state)
{
    struct fixture *f = *state;

    build_gpt(f, 512, 4096);
    sector(f, 2)[2 * 128 + 32] ^= 0x04; /* entry 2's first LBA, only in the primary array */
    assert_int_equal(scan(f), KEEL_OK);
    expect_gpt_parts(f, 4096);
    assert_true(f->t.used_backup);
}

static void test_gpt_backup_found_through_alternate_lba_after_disk_grew(void **state)
{
    struct fixture *f = *state;
    uint8_t *big;

    build_gpt(f, 512, 4096);
    /* The disk grew to 8192 sectors: the backup stays at 4095, where the primary points. */
    big = calloc(8192, 512);
    memcpy(big, f->rd->data, 4096 * 512);
    ramdisk_destroy(f->rd);
    f->rd = ramdisk_create(&f->s->hal, "nvme0n1", 512, 8192, 0, 1, 64);
    memcpy(f->rd->data, big, 8192 * 512);
    free(big);
    sector(f, 2)[32] ^= 0x01; /* primary array corrupt, primary header valid */
    assert_int_equal(scan(f), KEEL_OK);
    expect_gpt_parts(f, 4096);
    assert_true(f->t.used_backup);
    /* With the primary header also corrupt, its alternate LBA is not trusted: only the last LBA is
     * tried, and there is no backup there. */
    sector(f, 1)[60] ^= 0x01;
    assert_int_equal(scan(f), KEEL_EBADMSG);
    assert_int_equal(f->t.count, 0);
}

static void test_gpt_both_headers_bad_is_ebadmsg(void **state)
{
    struct fixture *f = *state;

    build_gpt(f, 512, 4096);
    sector(f, 1)[0] = 'X';
    sector(f, 4095)[70] ^= 0x80;
    assert_int_equal(scan(f), KEEL_EBADMSG);
    assert_int_equal(f->t.scheme, KEEL_PART_GPT);
    assert_int_equal(f->t.count, 0);
}

static void test_gpt_both_entry_arrays_bad_is_ebadmsg(void **state)
{
    struct fixture *f = *state;
    uint64_t n;

    build_gpt(f, 512, 4096);
    n = img_gpt_array_sectors(&f->g);
    sector(f, 2)[5 * 128 + 60] ^= 0x20;        /* primary: a name character */
    sector(f, 4095 - n)[5 * 128 + 60] ^= 0x20; /* backup: the same */
    assert_int_equal(scan(f), KEEL_EBADMSG);
    assert_int_equal(f->t.count, 0);
}

static void test_gpt_read_error_on_primary_uses_backup(void **state)
{
    struct fixture *f = *state;

    build_gpt(f, 512, 4096);
    f->rd->fail_lba = 1;
    f->rd->fail_enabled = true;
    assert_int_equal(scan(f), KEEL_OK);
    expect_gpt_parts(f, 4096);
    assert_true(f->t.used_backup);
}

static void test_gpt_overlapping_and_out_of_range_entries_dropped(void **state)
{
    struct fixture *f = *state;

    new_disk(f, "vda", 512, 4096);
    img_gpt_init(&f->g, 512, 4096);
    img_gpt_entry(&f->g, 0, img_guid_linux_fs, 100, 199, 0, "a");
    img_gpt_entry(&f->g, 1, img_guid_linux_fs, 150, 250, 0, "overlaps a");
    img_gpt_entry(&f->g, 2, img_guid_linux_fs, 300, 299, 0, "start after end");
    img_gpt_entry(&f->g, 3, img_guid_linux_fs, 10, 50, 0, "before first usable");
    img_gpt_entry(&f->g, 4, img_guid_linux_fs, 4000, 4094, 0, "after last usable");
    img_gpt_entry(&f->g, 5, img_guid_linux_fs, 0xffffffffffffff00ull, 0xffffffffffffffffull, 0,
                  "far beyond the disk");
    img_gpt_entry(&f->g, 6, img_guid_linux_fs, 200, 299, 0, "b");
    img_gpt_write(&f->g, f->rd->data);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.count, 2);
    assert_int_equal(f->t.dropped, 5);
    expect_part(&f->t.part[0], 1, 100, 100);
    expect_part(&f->t.part[1], 7, 200, 100);
    assert_string_equal(f->t.part[1].name, "b");
}

static void test_gpt_entries_beyond_capacity_are_counted(void **state)
{
    struct fixture *f = *state;
    unsigned i;

    new_disk(f, "vda", 512, 8192);
    img_gpt_init(&f->g, 512, 8192);
    for (i = 0; i < KEEL_CONFIG_PART_MAX + 4; i++)
        img_gpt_entry(&f->g, i, img_guid_linux_fs, 100 + 100 * i, 199 + 100 * i, 0, "p");
    img_gpt_write(&f->g, f->rd->data);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.count, KEEL_CONFIG_PART_MAX);
    assert_int_equal(f->t.dropped, 4);
    expect_part(&f->t.part[KEEL_CONFIG_PART_MAX - 1], KEEL_CONFIG_PART_MAX,
                100 + 100 * (KEEL_CONFIG_PART_MAX - 1), 100);
}

static void test_gpt_with_4096_byte_sectors(void **state)
{
    struct fixture *f = *state;

    build_gpt(f, 4096, 4096);
    assert_int_equal(img_gpt_array_sectors(&f->g), 4);
    assert_int_equal(scan(f), KEEL_OK);
    expect_gpt_parts(f, 4096);
    assert_false(f->t.used_backup);
    sector(f, 1)[100] ^= 1; /* in the header's reserved tail: not covered by its 92-byte CRC */
    sector(f, 1)[40] ^= 1;  /* first usable LBA: covered */
    assert_int_equal(scan(f), KEEL_OK);
    expect_gpt_parts(f, 4096);
    assert_true(f->t.used_backup);
}

static void test_gpt_array_with_partial_last_sector_and_large_entries(void **state)
{
    struct fixture *f = *state;

    new_disk(f, "vda", 512, 2048);
    img_gpt_init(&f->g, 512, 2048);
    img_gpt_resize(&f->g, 5, 256); /* 1280 bytes: 2.5 sectors */
    img_gpt_entry(&f->g, 4, img_guid_linux_fs, 100, 199, 0, "last");
    img_gpt_write(&f->g, f->rd->data);
    memset(sector(f, 4) + 256, 0xa5, 256); /* after the array: must not enter the CRC */
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.count, 1);
    expect_part(&f->t.part[0], 5, 100, 100);
    assert_false(f->t.used_backup);
    /* 2 reads for the MBR and header, 3 for the array. */
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_READ], 5);
}

static void test_gpt_names_reduced_to_ascii(void **state)
{
    struct fixture *f = *state;
    const uint16_t mixed[] = {'c', 0x00e9, 'a', 0xd83d, 0xde00, 'z', 0x0007, 0xdc00, 'q'};
    uint16_t full[36];
    unsigned i;

    new_disk(f, "vda", 512, 2048);
    img_gpt_init(&f->g, 512, 2048);
    img_gpt_entry(&f->g, 0, img_guid_linux_fs, 100, 199, 0, NULL);
    img_gpt_entry_name16(&f->g, 0, mixed, 9);
    for (i = 0; i < 36; i++)
        full[i] = (uint16_t)('A' + i % 26);
    img_gpt_entry(&f->g, 1, img_guid_linux_fs, 200, 299, 0, NULL);
    img_gpt_entry_name16(&f->g, 1, full, 36);
    img_gpt_write(&f->g, f->rd->data);
    assert_int_equal(scan(f), KEEL_OK);
    /* é -> ?, a surrogate pair -> one ?, a control -> ?, a lone low surrogate -> ? */
    assert_string_equal(f->t.part[0].name, "c?a?z??q");
    assert_int_equal(strlen(f->t.part[1].name), 36);
    assert_int_equal(f->t.part[1].name[35], 'J');
}

/* Edit a header field and fix the CRC, so only the check under test can refuse it. */
static int header_with(struct fixture *f, unsigned off, unsigned width, uint64_t val)
{
    uint8_t copy[2 * 512]; /* LBA 0 and 1, so the CRC helper can address the header by LBA */
    struct keel_gpt_header h;

    memcpy(copy, f->rd->data, sizeof(copy));
    for (unsigned i = 0; i < width; i++)
        copy[512 + off + i] = (uint8_t)(val >> (8 * i));
    if (off != 16)
        img_gpt_fix_header_crc(copy, 512, 1);
    return keel_gpt_parse_header(copy + 512, 512, 1, 4096, &h);
}

static void test_gpt_header_checks_each_field(void **state)
{
    struct fixture *f = *state;
    struct keel_gpt_header h;

    build_gpt(f, 512, 4096);
    assert_int_equal(keel_gpt_parse_header(sector(f, 1), 512, 1, 4096, &h), KEEL_OK);
    assert_true(h.alternate_lba == 4095 && h.first_usable == 34 && h.last_usable == 4062);
    assert_true(h.entries_lba == 2 && h.num_entries == 128 && h.entry_size == 128);
    assert_int_equal(header_with(f, 0, 1, 'e'), KEEL_EBADMSG);         /* signature */
    assert_int_equal(header_with(f, 8, 4, 0x00020000), KEEL_EBADMSG);  /* revision 2.0 */
    assert_int_equal(header_with(f, 8, 4, 0x00010001), KEEL_OK);       /* revision 1.1 */
    assert_int_equal(header_with(f, 12, 4, 91), KEEL_EBADMSG);         /* header size */
    assert_int_equal(header_with(f, 12, 4, 513), KEEL_EBADMSG);        /* header size */
    assert_int_equal(header_with(f, 16, 4, 0x12345678), KEEL_EBADMSG); /* header CRC */
    assert_int_equal(header_with(f, 24, 8, 2), KEEL_EBADMSG);          /* my_lba */
    assert_int_equal(header_with(f, 40, 8, 1), KEEL_EBADMSG);          /* first usable */
    assert_int_equal(header_with(f, 40, 8, 4063), KEEL_EBADMSG);       /* first > last */
    assert_int_equal(header_with(f, 48, 8, 4096), KEEL_EBADMSG);       /* last off the disk */
    assert_int_equal(header_with(f, 72, 8, 30), KEEL_EBADMSG);         /* array in usable */
    assert_int_equal(header_with(f, 72, 8, 1), KEEL_EBADMSG);          /* array on header */
    assert_int_equal(header_with(f, 72, 8, 4090), KEEL_EBADMSG);       /* array off the disk */
    assert_int_equal(header_with(f, 80, 4, 0), KEEL_EBADMSG);          /* no entries */
    assert_int_equal(header_with(f, 80, 4, 0x01000000), KEEL_EBADMSG); /* array too large */
    assert_int_equal(header_with(f, 84, 4, 100), KEEL_EBADMSG);        /* entry size */
    assert_int_equal(header_with(f, 84, 4, 1024), KEEL_EBADMSG);       /* entry > sector */
    assert_int_equal(keel_gpt_parse_header(sector(f, 1), 512, 1, 30, &h), KEEL_EBADMSG);
    assert_int_equal(keel_gpt_parse_header(sector(f, 1), 500, 1, 4096, &h), KEEL_EINVAL);
}

/* ---- partitions as block devices ---- */

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed + i * 7);
}

static void test_partition_child_maps_lbas_onto_the_disk(void **state)
{
    struct fixture *f = *state;
    struct keel_blkdev kids[4];
    uint8_t wbuf[4 * 512], rbuf[4 * 512];

    build_gpt(f, 512, 4096);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, kids, 4, NULL), 3);
    assert_string_equal(kids[1].info.name, "nvme0n1p3");
    assert_ptr_equal(kids[1].parent, &f->rd->dev);
    assert_true(kids[1].start_lba == 100 && kids[1].info.sector_count == 400);
    assert_null(kids[1].ops);
    assert_string_equal(kids[1].info.driver, "part");
    assert_int_equal(kids[1].info.sector_size, 512);
    fill_pattern(wbuf, sizeof(wbuf), 3);
    assert_int_equal(keel_blk_write(&kids[1], 0, 10, 4, wbuf, 0), KEEL_OK);
    assert_memory_equal(sector(f, 110), wbuf, sizeof(wbuf));
    fill_pattern(sector(f, 100 + 396), 4 * 512, 9); /* the partition's last four sectors */
    assert_int_equal(keel_blk_read(&kids[1], 0, 396, 4, rbuf, 0), KEEL_OK);
    assert_memory_equal(rbuf, sector(f, 496), sizeof(rbuf));
}

static void test_partition_io_past_its_end_is_erange_and_reaches_no_driver(void **state)
{
    struct fixture *f = *state;
    struct keel_blkdev kids[4];
    uint8_t buf[2 * 512] = {0};
    unsigned reads, writes;

    build_gpt(f, 512, 4096);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, kids, 4, NULL), 3);
    reads = f->rd->submits[KEEL_BLK_OP_READ];
    writes = f->rd->submits[KEEL_BLK_OP_WRITE];
    assert_int_equal(keel_blk_read(&kids[0], 0, 59, 2, buf, 0), KEEL_ERANGE); /* 60 sectors */
    assert_int_equal(keel_blk_write(&kids[0], 0, 60, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_read(&kids[0], 0, UINT64_MAX, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_READ], reads);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_WRITE], writes);
    assert_int_equal(keel_blk_read(&kids[0], 0, 58, 2, buf, 0), KEEL_OK);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_READ], reads + 1);
}

static void test_partition_of_read_only_disk_refuses_writes(void **state)
{
    struct fixture *f = *state;
    struct keel_blkdev kids[4];
    uint8_t buf[512] = {0};

    build_gpt(f, 512, 4096);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, kids, 4, NULL), 3);
    assert_int_equal(keel_blkdev_set_access(&f->rd->dev, KEEL_BLK_ACCESS_RO), KEEL_OK);
    assert_int_equal(keel_blk_write(&kids[2], 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_WRITE], 0);
    assert_int_equal(keel_blk_read(&kids[2], 0, 0, 1, buf, 0), KEEL_OK);
    /* A medium that is read-only: its partitions say so and refuse writes too. */
    f->rd->dev.info.flags |= KEEL_BLK_F_READ_ONLY;
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, kids, 4, NULL), 3);
    assert_true(kids[2].info.flags & KEEL_BLK_F_READ_ONLY);
    assert_int_equal(kids[2].access, KEEL_BLK_ACCESS_RO);
    assert_int_equal(keel_blkdev_set_access(&kids[2], KEEL_BLK_ACCESS_RW), KEEL_EROFS);
    assert_int_equal(keel_blk_write(&kids[2], 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_WRITE], 0);
}

static void test_register_names_skips_extended_and_fills_registry(void **state)
{
    struct fixture *f = *state;
    struct keel_registry reg;
    struct keel_blkdev kids[8];
    uint8_t *mbr = new_disk(f, "vda", 512, 100000);
    uint32_t ebr[2];

    img_mbr_slot(mbr, 0, 0, 0x83, 2048, 2048);
    img_mbr_slot(mbr, 1, 0, 0x05, 8192, 5000);
    img_mbr_sign(mbr);
    build_chain(f->rd->data, 512, 8192, 2, 100, ebr);
    assert_int_equal(scan(f), KEEL_OK);
    assert_int_equal(f->t.count, 4);
    keel_registry_init(&reg, &f->s->hal);
    assert_int_equal(keel_registry_add(&reg, &f->rd->dev), KEEL_OK);
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, kids, 8, &reg), 3);
    assert_int_equal(keel_registry_count(&reg), 4);
    assert_ptr_equal(keel_registry_find(&reg, "vda1"), &kids[0]);
    assert_null(keel_registry_find(&reg, "vda2")); /* the extended container */
    assert_ptr_equal(keel_registry_find(&reg, "vda5"), &kids[1]);
    assert_ptr_equal(keel_registry_find(&reg, "vda6"), &kids[2]);
    assert_true(kids[2].start_lba == ebr[1] + 1u);
    sim_assert_clean(f->s);
}

static void test_register_failure_leaves_no_child_in_registry(void **state)
{
    struct fixture *f = *state;
    struct keel_registry reg;
    struct keel_blkdev kids[4], other;
    struct keel_blkdev_info info = {.name = "nvme0n1p6", .sector_size = 512, .sector_count = 1};

    build_gpt(f, 512, 4096);
    assert_int_equal(scan(f), KEEL_OK);
    keel_registry_init(&reg, NULL);
    keel_blkdev_init(&other, &f->s->hal, NULL, NULL, &info);
    assert_int_equal(keel_registry_add(&reg, &other), KEEL_OK);
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, kids, 4, &reg), KEEL_EEXIST);
    assert_int_equal(keel_registry_count(&reg), 1);
    /* At most nchildren are set up. */
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, kids, 2, NULL), 2);
    /* A table that does not fit the disk is refused. */
    f->t.part[1].sector_count = 5000;
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, kids, 4, NULL), KEEL_ERANGE);
}

static void test_part_name_follows_linux(void **state)
{
    char name[16];

    (void)state;
    keel_part_name(name, sizeof(name), "nvme0n1", 1);
    assert_string_equal(name, "nvme0n1p1");
    keel_part_name(name, sizeof(name), "vda", 12);
    assert_string_equal(name, "vda12");
    keel_part_name(name, sizeof(name), "sd0", 130);
    assert_string_equal(name, "sd0p130");
    keel_part_name(name, sizeof(name), "mmcblk0", 65535);
    assert_string_equal(name, "mmcblk0p65535");
    keel_part_name(name, 6, "nvme0n1", 1);
    assert_string_equal(name, "nvme0");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_blank_disk_has_no_table),
        T(test_boot_sector_with_55aa_but_no_table_has_no_table),
        T(test_scan_needs_one_sector_of_scratch),
        T(test_mbr_primaries_by_slot),
        T(test_mbr_extended_logicals_numbered_from_5),
        T(test_mbr_ebr_loop_is_cut),
        T(test_mbr_ebr_chain_is_bounded),
        T(test_mbr_out_of_range_and_overlapping_entries_dropped),
        T(test_mbr_with_4096_byte_sectors),
        T(test_gpt_valid_table),
        T(test_gpt_corrupt_primary_header_uses_backup),
        T(test_gpt_corrupt_primary_entries_crc_uses_backup),
        T(test_gpt_backup_found_through_alternate_lba_after_disk_grew),
        T(test_gpt_both_headers_bad_is_ebadmsg),
        T(test_gpt_both_entry_arrays_bad_is_ebadmsg),
        T(test_gpt_read_error_on_primary_uses_backup),
        T(test_gpt_overlapping_and_out_of_range_entries_dropped),
        T(test_gpt_entries_beyond_capacity_are_counted),
        T(test_gpt_with_4096_byte_sectors),
        T(test_gpt_array_with_partial_last_sector_and_large_entries),
        T(test_gpt_names_reduced_to_ascii),
        T(test_gpt_header_checks_each_field),
        T(test_partition_child_maps_lbas_onto_the_disk),
        T(test_partition_io_past_its_end_is_erange_and_reaches_no_driver),
        T(test_partition_of_read_only_disk_refuses_writes),
        T(test_register_names_skips_extended_and_fills_registry),
        T(test_register_failure_leaves_no_child_in_registry),
        T(test_part_name_follows_linux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
