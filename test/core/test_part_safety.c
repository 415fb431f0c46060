/* SPDX-License-Identifier: MIT */
/*
 * Safety properties of partitions (issue 7, point 6) over a ramdisk driver that counts every
 * request reaching it, with 512- and 4096-byte sectors and a GPT of three partitions, two of them
 * adjacent:
 *  - nothing is written beyond the end of a partition (writes, straddling writes, trims,
 *    write-zeroes, LBA + count wrapping, asynchronous submits): refused with KEEL_ERANGE before the
 *    driver, and every byte of the disk, the neighbouring partition included, stays as it was;
 *  - a nested partition is bounded by itself and by every parent;
 *  - writes to a read-only partition, to any partition of a read-only disk and of a read-only
 *    medium fail with KEEL_EROFS and reach no driver, while writable siblings stay writable.
 */
#include <sim/test_common.h>

#include <keel/error.h>
#include <keel/part.h>
#include <sim/ramdisk.h>
#include <sim/sim.h>

#include "part_image.h"

#define DISK_SECTORS 4096u

struct fixture {
    struct sim *s;
    struct ramdisk *rd;
    struct keel_part_table t;
    struct keel_blkdev kids[3]; /* 40..99, 100..499, 600..end-100 */
    uint8_t *copy;              /* the whole disk before the refused requests */
};

/* A GPT disk of `ss`-byte sectors with partitions 1 [40, 100), 3 [100, 500), 6 [600, n - 99). */
static void setup(struct fixture *f, uint32_t ss)
{
    struct img_gpt g;
    void *scratch;

    memset(f, 0, sizeof(*f));
    f->s = sim_create(1u << 16);
    assert_non_null(f->s);
    f->rd = ramdisk_create(&f->s->hal, "nvme0n1", ss, DISK_SECTORS,
                           KEEL_BLK_F_TRIM | KEEL_BLK_F_WRITE_ZEROES | KEEL_BLK_F_FUA, 2, 64);
    assert_non_null(f->rd);
    img_gpt_init(&g, ss, DISK_SECTORS);
    img_gpt_entry(&g, 0, img_guid_esp, 40, 99, 0, "a");
    img_gpt_entry(&g, 2, img_guid_linux_fs, 100, 499, 0, "b");
    img_gpt_entry(&g, 5, img_guid_linux_fs, 600, DISK_SECTORS - 100, 0, "c");
    img_gpt_write(&g, f->rd->data);
    img_gpt_free(&g);
    scratch = malloc(ss);
    assert_non_null(scratch);
    assert_int_equal(keel_part_scan(&f->rd->dev, 0, scratch, ss, &f->t), KEEL_OK);
    free(scratch);
    assert_int_equal(keel_part_register(&f->rd->dev, &f->t, f->kids, 3, NULL), 3);
    /* something distinctive everywhere but the GPT structures */
    {
        uint64_t i;
        for (i = (uint64_t)40 * ss; i < (uint64_t)(DISK_SECTORS - 40) * ss; i++)
            f->rd->data[i] = (uint8_t)(i * 7u + 3u);
    }
    f->copy = malloc(f->rd->bytes);
    assert_non_null(f->copy);
    memcpy(f->copy, f->rd->data, f->rd->bytes);
}

static void teardown(struct fixture *f)
{
    free(f->copy);
    ramdisk_destroy(f->rd);
    sim_destroy(f->s);
}

static unsigned submits(const struct fixture *f)
{
    unsigned i, n = 0;

    for (i = 0; i < KEEL_BLK_OP_COUNT; i++)
        n += f->rd->submits[i];
    return n;
}

static void assert_disk_unchanged(const struct fixture *f)
{
    assert_memory_equal(f->rd->data, f->copy, f->rd->bytes);
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
    assert_int_equal(keel_blk_write(dev, 1, n + 100, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX - 1u, 4, buf, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX - dev->start_lba + 1u, 1, buf, 0),
                     KEEL_ERANGE); /* wraps only once the partition's start is added */
    assert_int_equal(keel_blk_write_zeroes(dev, 0, n - 1, 2, 0), KEEL_ERANGE);
    assert_int_equal(keel_blk_trim(dev, 0, n - 2, 3, 0), KEEL_ERANGE);
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

static void test_write_past_a_partition_end_reaches_no_driver_and_spares_the_neighbour(void **state)
{
    uint32_t ss;

    (void)state;
    for (ss = 512; ss <= 4096; ss *= 8) {
        struct fixture f;
        uint8_t *buf = malloc(4u * ss);
        unsigned before, i;

        assert_non_null(buf);
        setup(&f, ss);
        memset(buf, 0x5a, 4u * ss);
        before = submits(&f);
        for (i = 0; i < 3; i++)
            refuse_past_end(&f.kids[i], buf);
        assert_int_equal(submits(&f), before);
        assert_disk_unchanged(&f);
        /* partition 1 ends where partition 3 begins: its last sector is fine, the next is not */
        assert_int_equal(keel_blk_write(&f.kids[0], 0, 59, 1, buf, 0), KEEL_OK);
        assert_memory_equal(f.rd->data + (size_t)99 * ss, buf, ss);
        assert_memory_equal(f.rd->data + (size_t)100 * ss, f.copy + (size_t)100 * ss, ss);
        free(buf);
        teardown(&f);
    }
}

static void test_nested_partition_is_bounded_by_itself_and_every_parent(void **state)
{
    uint32_t ss;

    (void)state;
    for (ss = 512; ss <= 4096; ss *= 8) {
        struct fixture f;
        struct keel_part_table inner;
        struct keel_blkdev grandkid;
        uint8_t *buf = malloc(4u * ss);
        unsigned before;

        assert_non_null(buf);
        setup(&f, ss);
        memset(buf, 0x3c, 4u * ss);
        memset(&inner, 0, sizeof(inner));
        inner.scheme = KEEL_PART_MBR;
        inner.count = 1;
        inner.part[0].number = 1;
        inner.part[0].start_lba = 300;
        inner.part[0].sector_count = 100; /* exactly to the end of its parent (400 sectors) */
        assert_int_equal(keel_part_register(&f.kids[1], &inner, &grandkid, 1, NULL), 1);
        assert_true(grandkid.start_lba == 300 && grandkid.info.sector_count == 100);
        before = submits(&f);
        refuse_past_end(&grandkid, buf);
        assert_int_equal(submits(&f), before);
        assert_disk_unchanged(&f);
        assert_int_equal(keel_blk_write(&grandkid, 0, 99, 1, buf, 0), KEEL_OK);
        assert_memory_equal(f.rd->data + (size_t)(100 + 300 + 99) * ss, buf, ss);
        /* a nested table reaching past its parent is refused outright */
        inner.part[0].sector_count = 101;
        assert_int_equal(keel_part_register(&f.kids[1], &inner, &grandkid, 1, NULL), KEEL_ERANGE);
        free(buf);
        teardown(&f);
    }
}

static void refuse_writes(struct keel_blkdev *dev, uint8_t *buf)
{
    struct keel_blk_req r;
    bool called = false;

    assert_int_equal(keel_blk_write(dev, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_write(dev, 1, 5, 3, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_write_zeroes(dev, 0, 0, 8, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_trim(dev, 0, 0, 8, 0), KEEL_EROFS);
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

static void test_read_only_partition_refuses_writes_and_siblings_stay_writable(void **state)
{
    uint32_t ss;

    (void)state;
    for (ss = 512; ss <= 4096; ss *= 8) {
        struct fixture f;
        uint8_t *buf = malloc(4u * ss);
        unsigned writes;

        assert_non_null(buf);
        setup(&f, ss);
        memset(buf, 0x77, 4u * ss);
        assert_int_equal(keel_blkdev_set_access(&f.kids[1], KEEL_BLK_ACCESS_RO), KEEL_OK);
        refuse_writes(&f.kids[1], buf);
        assert_int_equal(f.rd->submits[KEEL_BLK_OP_WRITE] + f.rd->submits[KEEL_BLK_OP_TRIM] +
                             f.rd->submits[KEEL_BLK_OP_WRITE_ZEROES],
                         0);
        assert_disk_unchanged(&f);
        assert_int_equal(keel_blk_read(&f.kids[1], 0, 0, 1, buf, 0), KEEL_OK);
        /* its siblings and the disk are still writable */
        assert_int_equal(keel_blk_write(&f.kids[0], 0, 0, 1, buf, 0), KEEL_OK);
        assert_int_equal(keel_blk_write(&f.kids[2], 0, 0, 1, buf, 0), KEEL_OK);
        assert_int_equal(keel_blk_write(&f.rd->dev, 0, 550, 1, buf, 0), KEEL_OK);
        assert_int_equal(f.rd->submits[KEEL_BLK_OP_WRITE], 3);
        /* the disk opened read-only: every partition refuses, whatever its own mode */
        writes = f.rd->submits[KEEL_BLK_OP_WRITE];
        assert_int_equal(keel_blkdev_set_access(&f.rd->dev, KEEL_BLK_ACCESS_RO), KEEL_OK);
        refuse_writes(&f.kids[0], buf);
        refuse_writes(&f.kids[2], buf);
        refuse_writes(&f.rd->dev, buf);
        assert_int_equal(f.rd->submits[KEEL_BLK_OP_WRITE], writes);
        /* a read-only medium: partitions registered on it are read-only and cannot be opened RW */
        assert_int_equal(keel_blkdev_set_access(&f.rd->dev, KEEL_BLK_ACCESS_RW), KEEL_OK);
        f.rd->dev.info.flags |= KEEL_BLK_F_READ_ONLY;
        f.rd->dev.access = KEEL_BLK_ACCESS_RO;
        assert_int_equal(keel_part_register(&f.rd->dev, &f.t, f.kids, 3, NULL), 3);
        assert_int_equal(keel_blkdev_set_access(&f.kids[0], KEEL_BLK_ACCESS_RW), KEEL_EROFS);
        refuse_writes(&f.kids[0], buf);
        assert_int_equal(f.rd->submits[KEEL_BLK_OP_WRITE], writes);
        free(buf);
        teardown(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_write_past_a_partition_end_reaches_no_driver_and_spares_the_neighbour),
        cmocka_unit_test(test_nested_partition_is_bounded_by_itself_and_every_parent),
        cmocka_unit_test(test_read_only_partition_refuses_writes_and_siblings_stay_writable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
