/* SPDX-License-Identifier: MIT */
/*
 * blkbench's latency histogram: exact buckets below 32 us, percentiles within the log-linear
 * error above, and never outside the observed [min, max] (a fresh-clone QEMU run once printed a
 * p99 above max: the bucket's middle, not a sample).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lat_hist.h"

static struct lat_hist *fresh(void)
{
    struct lat_hist *h = calloc(1, sizeof(*h));

    assert_non_null(h);
    return h;
}

static void test_an_empty_histogram_reports_zero(void **state)
{
    struct lat_hist *h = fresh();

    (void)state;
    assert_int_equal(lat_hist_percentile(h, 50), 0);
    assert_int_equal(lat_hist_percentile(h, 99), 0);
    assert_int_equal(lat_hist_avg(h), 0);
    free(h);
}

static void test_small_latencies_are_exact(void **state)
{
    struct lat_hist *h = fresh();
    uint64_t us;

    (void)state;
    for (us = 1; us <= 20; us++) /* 1..20: p50 is the 10th value, p99 the 20th */
        lat_hist_add(h, us);
    assert_int_equal(h->n, 20);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 20);
    assert_int_equal(lat_hist_percentile(h, 50), 10);
    assert_int_equal(lat_hist_percentile(h, 99), 20);
    assert_int_equal(lat_hist_percentile(h, 100), 20);
    assert_int_equal(lat_hist_avg(h), 10); /* 210 / 20 */
    free(h);
}

/* The regression: one value at the low end of a wide bucket, whose middle lies above it. */
static void test_a_percentile_never_exceeds_the_largest_sample(void **state)
{
    struct lat_hist *h = fresh();
    unsigned i;

    (void)state;
    for (i = 0; i < 1000; i++)
        lat_hist_add(h, 40960); /* 2^15 * 1.25: the first value of its bucket */
    assert_int_equal(lat_hist_percentile(h, 50), 40960);
    assert_int_equal(lat_hist_percentile(h, 99), 40960);
    free(h);
}

static void test_a_percentile_never_falls_below_the_smallest_sample(void **state)
{
    struct lat_hist *h = fresh();

    (void)state;
    lat_hist_add(h, 4095); /* the last value of its bucket: the middle lies below it */
    assert_int_equal(lat_hist_percentile(h, 50), 4095);
    free(h);
}

/* Above the exact range every estimate is within 1/32 of a sample of its bucket (16 per octave). */
static void test_large_latencies_are_within_the_bucket_error(void **state)
{
    struct lat_hist *h;
    uint64_t us;

    (void)state;
    for (us = 33; us < (1ull << 40); us = us * 3u / 2u + 7u) {
        uint64_t est;

        h = fresh();
        lat_hist_add(h, 1); /* a smaller sample so the clamp does not hide the bucket value */
        lat_hist_add(h, us);
        lat_hist_add(h, us * 2u);
        est = lat_hist_percentile(h, 60); /* the second of three: us */
        assert_true(est * 32u >= us * 31u && est * 32u <= us * 33u);
        free(h);
    }
}

static void test_percentiles_are_ordered(void **state)
{
    struct lat_hist *h = fresh();
    uint64_t x = 88172645463325252ull;
    unsigned i;

    (void)state;
    for (i = 0; i < 5000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        lat_hist_add(h, 20u + (x >> 48)); /* 20 .. 65555 us */
    }
    assert_true(h->min <= lat_hist_percentile(h, 1));
    assert_true(lat_hist_percentile(h, 1) <= lat_hist_percentile(h, 50));
    assert_true(lat_hist_percentile(h, 50) <= lat_hist_percentile(h, 99));
    assert_true(lat_hist_percentile(h, 99) <= h->max);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_empty_histogram_reports_zero),
        cmocka_unit_test(test_small_latencies_are_exact),
        cmocka_unit_test(test_a_percentile_never_exceeds_the_largest_sample),
        cmocka_unit_test(test_a_percentile_never_falls_below_the_smallest_sample),
        cmocka_unit_test(test_large_latencies_are_within_the_bucket_error),
        cmocka_unit_test(test_percentiles_are_ordered),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
