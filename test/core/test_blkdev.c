/* SPDX-License-Identifier: MIT */
/* The block layer: checks before the driver, completion and statistics, blocking helpers. */
#include <sim/test_common.h>

#include <keel/blkdev.h>
#include <keel/error.h>
#include <sim/ramdisk.h>
#include <sim/sim.h>

struct fixture {
    struct sim *s;
    struct ramdisk *rd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->s = sim_create(1 << 20);
    /* 1000 sectors of 512 bytes, two queues, 16 sectors per request at most, trim supported. */
    f->rd =
        ramdisk_create(&f->s->hal, "ram0", 512, 1000, KEEL_BLK_F_TRIM | KEEL_BLK_F_FLUSH, 2, 16);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ramdisk_destroy(f->rd);
    sim_destroy(f->s);
    free(f);
    return 0;
}

static unsigned total_submits(const struct ramdisk *rd)
{
    unsigned i, n = 0;
    for (i = 0; i < KEEL_BLK_OP_COUNT; i++)
        n += rd->submits[i];
    return n;
}

static unsigned done_calls;
static void count_done(struct keel_blk_req *req)
{
    (void)req;
    done_calls++;
}

static struct keel_blk_req make_req(uint8_t op, uint64_t lba, uint32_t count, void *buf)
{
    struct keel_blk_req r = {0};
    r.op = op;
    r.lba = lba;
    r.count = count;
    r.buf = buf;
    r.done = count_done;
    return r;
}

static void test_async_read_completes_through_poll_with_data(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[1024];
    struct keel_blk_req r = make_req(KEEL_BLK_OP_READ, 10, 2, buf);

    memset(f->rd->data + 10 * 512, 0x5a, 1024);
    done_calls = 0;
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_OK);
    assert_int_equal(done_calls, 0); /* nothing completes inside submit */
    assert_int_equal(keel_blk_poll(&f->rd->dev, 0, 8), 1);
    assert_int_equal(done_calls, 1);
    assert_int_equal(r.status, KEEL_OK);
    assert_int_equal(buf[0], 0x5a);
    assert_int_equal(buf[1023], 0x5a);
    assert_true(f->rd->dev.stats[0].bytes_read == 1024);
    assert_true(f->rd->dev.stats[0].requests[KEEL_BLK_OP_READ] == 1);
}

static void test_range_checks_stop_requests_before_the_driver(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[16 * 512];
    struct keel_blk_req r;

    r = make_req(KEEL_BLK_OP_READ, 1000, 1, buf); /* first LBA past the end */
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_ERANGE);
    r = make_req(KEEL_BLK_OP_READ, 999, 2, buf); /* straddles the end */
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_ERANGE);
    r = make_req(KEEL_BLK_OP_READ, UINT64_MAX - 1, 4, buf); /* lba + count overflows */
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_ERANGE);
    r = make_req(KEEL_BLK_OP_TRIM, 990, 11, NULL);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_ERANGE);
    assert_int_equal(total_submits(f->rd), 0);
    r = make_req(KEEL_BLK_OP_READ, 999, 1, buf); /* the last sector is fine */
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_OK);
    assert_int_equal(keel_blk_poll(&f->rd->dev, 0, 0), 1);
    assert_int_equal(r.status, KEEL_OK);
}

static void test_malformed_requests_are_invalid(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[17 * 512];
    struct keel_blk_req r;

    r = make_req(KEEL_BLK_OP_READ, 0, 1, NULL);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EINVAL);
    r = make_req(KEEL_BLK_OP_READ, 0, 0, buf);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EINVAL);
    r = make_req(KEEL_BLK_OP_READ, 0, 17, buf); /* above max_transfer */
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EINVAL);
    r = make_req(KEEL_BLK_OP_READ, 0, 1, buf);
    r.flags = KEEL_BLK_REQ_FUA; /* FUA only means something for writes */
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EINVAL);
    r = make_req(KEEL_BLK_OP_READ, 0, 1, buf);
    r.queue = 2; /* the device has queues 0 and 1 */
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EINVAL);
    r = make_req(KEEL_BLK_OP_COUNT, 0, 1, buf);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EINVAL);
    r = make_req(KEEL_BLK_OP_READ, 0, 1, buf);
    r.done = NULL;
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EINVAL);
    r = make_req(KEEL_BLK_OP_WRITE_ZEROES, 0, 1, NULL); /* not offered by this device */
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_ENOTSUP);
    assert_int_equal(total_submits(f->rd), 0);
}

static void test_read_only_access_refuses_writes_before_the_driver(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[512] = {1};
    struct keel_blk_req r;

    assert_int_equal(keel_blkdev_set_access(&f->rd->dev, KEEL_BLK_ACCESS_RO), KEEL_OK);
    r = make_req(KEEL_BLK_OP_WRITE, 0, 1, buf);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EROFS);
    r = make_req(KEEL_BLK_OP_TRIM, 0, 1, NULL);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_EROFS);
    assert_int_equal(keel_blk_write(&f->rd->dev, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(total_submits(f->rd), 0);
    assert_int_equal(f->rd->data[0], 0);
    /* Reads still work; going back to RW works because the medium is writable. */
    assert_int_equal(keel_blk_read(&f->rd->dev, 0, 0, 1, buf, 0), KEEL_OK);
    assert_int_equal(keel_blkdev_set_access(&f->rd->dev, KEEL_BLK_ACCESS_RW), KEEL_OK);
    assert_int_equal(keel_blk_write(&f->rd->dev, 0, 0, 1, buf, 0), KEEL_OK);
}

static void test_read_only_medium_cannot_be_opened_read_write(void **state)
{
    struct fixture *f = *state;
    struct ramdisk *ro = ramdisk_create(&f->s->hal, "ro0", 512, 8, KEEL_BLK_F_READ_ONLY, 1, 8);
    uint8_t buf[512] = {0};

    assert_int_equal(ro->dev.access, KEEL_BLK_ACCESS_RO);
    assert_int_equal(keel_blkdev_set_access(&ro->dev, KEEL_BLK_ACCESS_RW), KEEL_EROFS);
    ro->dev.access = KEEL_BLK_ACCESS_RW; /* even if someone pokes the field directly */
    assert_int_equal(keel_blk_write(&ro->dev, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(total_submits(ro), 0);
    ramdisk_destroy(ro);
}

static void test_blocking_helpers_split_by_max_transfer(void **state)
{
    struct fixture *f = *state;
    static uint8_t wbuf[100 * 512], rbuf[100 * 512];
    unsigned i;

    for (i = 0; i < sizeof(wbuf); i++)
        wbuf[i] = (uint8_t)(i * 7u + 3u);
    assert_int_equal(keel_blk_write(&f->rd->dev, 1, 100, 100, wbuf, 0), KEEL_OK);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_WRITE], 7); /* 6 x 16 + 4 */
    assert_memory_equal(f->rd->data + 100 * 512, wbuf, sizeof(wbuf));
    assert_int_equal(keel_blk_read(&f->rd->dev, 1, 100, 100, rbuf, 0), KEEL_OK);
    assert_memory_equal(rbuf, wbuf, sizeof(wbuf));
    assert_int_equal(keel_blk_trim(&f->rd->dev, 0, 100, 40, 0), KEEL_OK);
    assert_int_equal(f->rd->data[100 * 512], 0);
    assert_int_equal(keel_blk_flush(&f->rd->dev, 0, 0), KEEL_OK);
    assert_true(f->rd->dev.stats[1].bytes_written == sizeof(wbuf));
    assert_true(f->rd->dev.stats[1].bytes_read == sizeof(rbuf));
}

static void test_queue_full_is_back_pressure_not_failure(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[3][512];
    struct keel_blk_req r[3];
    unsigned i;

    f->rd->depth = 2;
    done_calls = 0;
    for (i = 0; i < 3; i++)
        r[i] = make_req(KEEL_BLK_OP_READ, i, 1, buf[i]);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r[0]), KEEL_OK);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r[1]), KEEL_OK);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r[2]), KEEL_ENOSPC);
    assert_int_equal(f->rd->dev.stats[0].in_flight, 2);
    assert_int_equal(keel_blk_poll(&f->rd->dev, 0, 1), 1);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r[2]), KEEL_OK);
    assert_int_equal(keel_blk_poll(&f->rd->dev, 0, 0), 2);
    assert_int_equal(done_calls, 3);
    assert_int_equal(f->rd->dev.stats[0].in_flight, 0);
    assert_int_equal(f->rd->dev.stats[0].in_flight_max, 2);
}

static void test_device_errors_are_reported_and_counted(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[4 * 512];

    f->rd->fail_enabled = true;
    f->rd->fail_lba = 42;
    assert_int_equal(keel_blk_read(&f->rd->dev, 0, 40, 4, buf, 0), KEEL_EIO);
    assert_int_equal(keel_blk_read(&f->rd->dev, 0, 43, 4, buf, 0), KEEL_OK);
    assert_true(f->rd->dev.stats[0].errors == 1);
    assert_true(f->rd->dev.stats[0].requests[KEEL_BLK_OP_READ] == 2);
    assert_true(f->rd->dev.stats[0].bytes_read == 4 * 512);
}

static void test_silent_driver_times_out_after_recovery_hook(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[512];
    uint64_t start = f->s->now_us;

    f->rd->never_complete = true;
    f->s->tick_us = 500; /* the helper spins on the clock: coarser ticks keep the test quick */
    assert_int_equal(keel_blk_read(&f->rd->dev, 0, 0, 1, buf, 1000), KEEL_ETIMEDOUT);
    assert_int_equal(f->rd->recovers, 1);
    /* Bounded: the request timeout plus the recovery grace, plus a few clock reads of slack. */
    assert_true(f->s->now_us - start >= 1000 + KEEL_CONFIG_BLK_RECOVERY_GRACE_US);
    assert_true(f->s->now_us - start <= 1000 + KEEL_CONFIG_BLK_RECOVERY_GRACE_US + 10 * 500);
    assert_true(f->rd->dev.stats[0].timeouts == 1);
    assert_int_equal(f->rd->dev.stats[0].in_flight, 0);
}

static void test_blocking_helpers_refuse_a_driver_without_recover(void **state)
{
    struct fixture *f = *state;
    struct keel_blkdev_ops no_recover = *f->rd->dev.ops;
    uint8_t buf[512];

    no_recover.recover = NULL;
    f->rd->dev.ops = &no_recover;
    /* Without recover a stuck request could outlive the helper's stack frame: refuse up front. */
    assert_int_equal(keel_blk_read(&f->rd->dev, 0, 0, 1, buf, 0), KEEL_ENOTSUP);
    assert_int_equal(total_submits(f->rd), 0);
}

static void test_removed_device_refuses_new_requests(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[512];

    keel_blkdev_mark_gone(&f->rd->dev);
    assert_int_equal(keel_blk_read(&f->rd->dev, 0, 0, 1, buf, 0), KEEL_ENODEV);
    assert_int_equal(total_submits(f->rd), 0);
}

static void test_latency_histogram_counts_every_completion(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[512];
    uint64_t sum = 0;
    unsigned i;

    for (i = 0; i < 5; i++)
        assert_int_equal(keel_blk_read(&f->rd->dev, 0, i, 1, buf, 0), KEEL_OK);
    for (i = 0; i < KEEL_CONFIG_BLK_LAT_BUCKETS; i++)
        sum += f->rd->dev.stats[0].latency_hist[i];
    assert_true(sum == 5);
    assert_int_equal(keel_blk_lat_bucket(0), 0);
    assert_int_equal(keel_blk_lat_bucket(1), 1);
    assert_int_equal(keel_blk_lat_bucket(3), 2);
    assert_int_equal(keel_blk_lat_bucket(1024), 11);
    assert_int_equal(keel_blk_lat_bucket(1023), 10);
    assert_int_equal(keel_blk_lat_bucket((1u << 22) - 1u), 22);
    assert_int_equal(keel_blk_lat_bucket(1u << 22),
                     KEEL_CONFIG_BLK_LAT_BUCKETS > 23 ? 23 : KEEL_CONFIG_BLK_LAT_BUCKETS - 1);
    assert_int_equal(keel_blk_lat_bucket(1ull << 32), KEEL_CONFIG_BLK_LAT_BUCKETS - 1);
    assert_int_equal(keel_blk_lat_bucket(UINT64_MAX), KEEL_CONFIG_BLK_LAT_BUCKETS - 1);
}

/* A hand-made partition: the layer maps LBAs and bounds both the partition and the disk. */
static void test_child_device_maps_and_bounds_lbas(void **state)
{
    struct fixture *f = *state;
    struct keel_blkdev part;
    struct keel_blkdev_info info = {0};
    uint8_t buf[2 * 512];
    struct keel_blk_req r;

    info.sector_size = 512;
    info.sector_count = 100;
    info.driver = "part";
    info.queue_count = 2;
    keel_blkdev_init(&part, NULL, NULL, NULL, &info);
    part.parent = &f->rd->dev;
    part.start_lba = 900;
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(keel_blk_write(&part, 0, 98, 2, buf, 0), KEEL_OK);
    assert_int_equal(f->rd->data[998 * 512], 0x77);
    assert_int_equal(f->rd->data[999 * 512 + 511], 0x77);
    r = make_req(KEEL_BLK_OP_WRITE, 99, 2, buf);
    assert_int_equal(keel_blk_submit(&part, &r), KEEL_ERANGE);
    /* A partition table that claims more than the disk has is still bounded by the disk. */
    part.info.sector_count = 200;
    r = make_req(KEEL_BLK_OP_WRITE, 150, 1, buf);
    assert_int_equal(keel_blk_submit(&part, &r), KEEL_ERANGE);
    assert_int_equal(f->rd->submits[KEEL_BLK_OP_WRITE], 1);
    /* Read-only parent: the child cannot write whatever its own mode says. */
    assert_int_equal(keel_blkdev_set_access(&f->rd->dev, KEEL_BLK_ACCESS_RO), KEEL_OK);
    assert_int_equal(keel_blk_write(&part, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_true(part.stats[0].bytes_written == 1024);
}

/* Batching: the layer forwards plug/unplug to the disk's driver (also from a partition), checks
 * the queue, and is a no-op for a driver without batching. */
static unsigned plugs[2], unplugs[2];

static void count_plug(struct keel_blkdev *dev, unsigned queue)
{
    (void)dev;
    plugs[queue]++;
}

static void count_unplug(struct keel_blkdev *dev, unsigned queue)
{
    (void)dev;
    unplugs[queue]++;
}

static void test_plug_unplug_reach_the_driver_or_do_nothing(void **state)
{
    static const struct keel_blkdev_batch_ops ops = {count_plug, count_unplug};
    struct fixture *f = *state;
    struct keel_blkdev part;
    struct keel_blkdev_info info = {0};
    uint8_t buf[512];

    assert_null(f->rd->dev.batch); /* keel_blkdev_init leaves batching off */
    assert_int_equal(keel_blk_plug(&f->rd->dev, 0), KEEL_OK);
    assert_int_equal(keel_blk_read(&f->rd->dev, 0, 0, 1, buf, 0), KEEL_OK);
    assert_int_equal(keel_blk_unplug(&f->rd->dev, 0), KEEL_OK);
    f->rd->dev.batch = &ops;
    info.sector_size = 512;
    info.sector_count = 100;
    info.queue_count = 2;
    keel_blkdev_init(&part, NULL, NULL, NULL, &info);
    part.parent = &f->rd->dev;
    assert_int_equal(keel_blk_plug(&part, 1), KEEL_OK);
    assert_int_equal(keel_blk_unplug(&f->rd->dev, 1), KEEL_OK);
    assert_int_equal(keel_blk_plug(&f->rd->dev, 0), KEEL_OK);
    assert_int_equal(plugs[1], 1);
    assert_int_equal(unplugs[1], 1);
    assert_int_equal(plugs[0], 1);
    assert_int_equal(unplugs[0], 0);
    /* the ramdisk has two queues; bad arguments never reach the driver */
    assert_int_equal(keel_blk_plug(&f->rd->dev, 2), KEEL_EINVAL);
    assert_int_equal(keel_blk_unplug(&part, 2), KEEL_EINVAL);
    assert_int_equal(keel_blk_plug(NULL, 0), KEEL_EINVAL);
    assert_int_equal(plugs[0] + plugs[1] + unplugs[0] + unplugs[1], 3);
    f->rd->dev.batch = NULL;
}

/* A child whose start_lba makes the absolute LBA wrap must not land back inside the disk. */
static void test_child_start_lba_overflow_is_erange_not_a_wrap(void **state)
{
    struct fixture *f = *state;
    struct keel_blkdev part;
    struct keel_blkdev_info info = {0};
    struct keel_blk_req r;
    struct keel_blkdev *root;
    uint64_t abs_lba;
    uint8_t buf[512];

    info.sector_size = 512;
    info.sector_count = 100;
    info.queue_count = 1;
    keel_blkdev_init(&part, NULL, NULL, NULL, &info);
    part.parent = &f->rd->dev;
    part.start_lba = UINT64_MAX - 5u; /* + 10 wraps to 4: a valid disk LBA */
    r = make_req(KEEL_BLK_OP_READ, 10, 1, buf);
    assert_int_equal(keel_blk_check(&part, &r, &root, &abs_lba), KEEL_ERANGE);
    assert_int_equal(keel_blk_submit(&part, &r), KEEL_ERANGE);
    assert_int_equal(keel_blk_read(&part, 0, 10, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(total_submits(f->rd), 0);
}

/* A corrupt chain that loops must fail, not hang the blocking helpers before any check runs. */
static void test_looping_parent_chain_is_invalid_not_a_hang(void **state)
{
    struct fixture *f = *state;
    struct keel_blkdev a, b;
    struct keel_blkdev_info info = {0};
    uint8_t buf[512];

    info.sector_size = 512;
    info.sector_count = 10;
    info.queue_count = 1;
    keel_blkdev_init(&a, &f->s->hal, NULL, NULL, &info);
    keel_blkdev_init(&b, &f->s->hal, NULL, NULL, &info);
    a.parent = &b;
    b.parent = &a;
    assert_int_equal(keel_blk_read(&a, 0, 0, 1, buf, 0), KEEL_EINVAL);
    assert_int_equal(keel_blk_flush(&a, 0, 0), KEEL_EINVAL);
    assert_int_equal(keel_blk_poll(&a, 0, 0), KEEL_EINVAL);
}

/* req.queue is 16 bits: queue 65536 must not silently become queue 0 (another owner's queue). */
static void test_blocking_helpers_refuse_queue_numbers_that_would_truncate(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[512];

    assert_int_equal(keel_blk_read(&f->rd->dev, 0x10000u, 0, 1, buf, 0), KEEL_EINVAL);
    assert_int_equal(keel_blk_write(&f->rd->dev, 0x10001u, 0, 1, buf, 0), KEEL_EINVAL);
    assert_int_equal(keel_blk_trim(&f->rd->dev, 0x10000u, 0, 1, 0), KEEL_EINVAL);
    assert_int_equal(keel_blk_flush(&f->rd->dev, 0x10000u, 0), KEEL_EINVAL);
    assert_int_equal(total_submits(f->rd), 0);
}

/*
 * Completion only indexes statistics with values the layer checked: a request whose queue was
 * rewritten while in flight (or that never went through submit) still completes, and nothing
 * outside the stats array is touched.
 */
static void test_completion_with_unchecked_queue_touches_no_stats(void **state)
{
    struct fixture *f = *state;
    struct keel_blkdev snapshot;
    struct keel_blk_req r, stray = {0};
    uint8_t buf[512];
    uint8_t *data = f->rd->data;

    done_calls = 0;
    r = make_req(KEEL_BLK_OP_READ, 0, 1, buf);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_OK);
    snapshot = f->rd->dev;
    r.queue = KEEL_CONFIG_BLK_MAX_QUEUES; /* one past the stats array */
    keel_blk_note_retry(&r);
    keel_blk_complete(&r, KEEL_EIO);
    assert_int_equal(done_calls, 1);
    assert_int_equal(r.status, KEEL_EIO);
    assert_memory_equal(f->rd->dev.stats, snapshot.stats, sizeof(snapshot.stats));
    assert_ptr_equal(f->rd->data, data); /* the field right after the device */
    /* A request the layer never saw (no device): done still runs once. */
    stray.done = count_done;
    stray.op = KEEL_BLK_OP_READ;
    keel_blk_complete(&stray, KEEL_OK);
    assert_int_equal(done_calls, 2);
    f->rd->npending[0] = 0; /* the ramdisk still holds r: drop it, it was completed by hand */
}

/* A driver that completes inside submit (its interrupt fired at once), on a one-queue device. */
static int sync_submit(struct keel_blkdev *dev, struct keel_blk_req *req)
{
    (void)dev;
    keel_blk_complete(req, KEEL_OK);
    return KEEL_OK;
}

static int sync_poll(struct keel_blkdev *dev, unsigned queue, unsigned budget)
{
    (void)dev;
    (void)queue;
    (void)budget;
    return 0;
}

static void test_completion_inside_submit_is_still_counted_in_flight(void **state)
{
    struct fixture *f = *state;
    static const struct keel_blkdev_ops ops = {sync_submit, sync_poll, NULL};
    struct keel_blkdev_info info = {0};
    struct keel_blkdev dev;
    struct keel_blk_req r;
    uint8_t buf[512];

    info.sector_size = 512;
    info.sector_count = 8;
    info.queue_count = 1;
    keel_blkdev_init(&dev, &f->s->hal, &ops, NULL, &info);
    done_calls = 0;
    r = make_req(KEEL_BLK_OP_READ, 0, 1, buf);
    assert_int_equal(keel_blk_submit(&dev, &r), KEEL_OK);
    assert_int_equal(done_calls, 1);
    assert_int_equal(dev.stats[0].in_flight, 0);
    assert_int_equal(dev.stats[0].in_flight_max, 1);
    /* A refused request leaves no trace in the high-water mark. */
    f->rd->depth = 0;
    r = make_req(KEEL_BLK_OP_READ, 0, 1, buf);
    assert_int_equal(keel_blk_submit(&f->rd->dev, &r), KEEL_ENOSPC);
    assert_int_equal(f->rd->dev.stats[0].in_flight, 0);
    assert_int_equal(f->rd->dev.stats[0].in_flight_max, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_async_read_completes_through_poll_with_data),
        T(test_range_checks_stop_requests_before_the_driver),
        T(test_malformed_requests_are_invalid),
        T(test_read_only_access_refuses_writes_before_the_driver),
        T(test_read_only_medium_cannot_be_opened_read_write),
        T(test_blocking_helpers_split_by_max_transfer),
        T(test_queue_full_is_back_pressure_not_failure),
        T(test_device_errors_are_reported_and_counted),
        T(test_silent_driver_times_out_after_recovery_hook),
        T(test_blocking_helpers_refuse_a_driver_without_recover),
        T(test_removed_device_refuses_new_requests),
        T(test_latency_histogram_counts_every_completion),
        T(test_child_device_maps_and_bounds_lbas),
        T(test_child_start_lba_overflow_is_erange_not_a_wrap),
        T(test_plug_unplug_reach_the_driver_or_do_nothing),
        T(test_looping_parent_chain_is_invalid_not_a_hang),
        T(test_blocking_helpers_refuse_queue_numbers_that_would_truncate),
        T(test_completion_with_unchecked_queue_touches_no_stats),
        T(test_completion_inside_submit_is_still_counted_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
