/* SPDX-License-Identifier: MIT */
/*
 * blkbench's latency histogram: log-linear buckets, exact below LAT_EXACT microseconds, then
 * LAT_SUB buckets per power of two (a percentile is within about 6% of the true value), with the
 * count, sum, minimum and maximum beside it. No division on the recording path.
 */
#ifndef BLKBENCH_LAT_HIST_H
#define BLKBENCH_LAT_HIST_H

#include <stdint.h>

#define LAT_EXACT   32u /* latencies below this are their own bucket */
#define LAT_SUB     16u /* buckets per power of two above */
#define LAT_BUCKETS (LAT_EXACT + (64u - 5u) * LAT_SUB)

struct lat_hist {
    uint64_t n, sum, min, max;
    uint64_t bucket[LAT_BUCKETS];
};

/* Record one latency (us). A zeroed struct lat_hist is an empty histogram. */
void lat_hist_add(struct lat_hist *h, uint64_t us);

/*
 * The latency at percentile pct (1..100): the value of the bucket holding the ceil(n * pct /
 * 100)-th sample, kept inside [min, max] (a bucket's middle can lie past every sample in it). 0
 * when empty.
 */
uint64_t lat_hist_percentile(const struct lat_hist *h, unsigned pct);

/* The mean latency, 0 when empty. */
uint64_t lat_hist_avg(const struct lat_hist *h);

#endif
