/* SPDX-License-Identifier: MIT */
/* blkbench's latency histogram (see lat_hist.h). */
#include "lat_hist.h"

static unsigned lat_bucket(uint64_t us)
{
    unsigned e;

    if (us < LAT_EXACT)
        return (unsigned)us;
    e = 63u - (unsigned)__builtin_clzll(us); /* >= 5 */
    return LAT_EXACT + (e - 5u) * LAT_SUB + (unsigned)((us >> (e - 4u)) & (LAT_SUB - 1u));
}

/* A representative value of bucket i: exact below LAT_EXACT, else the middle of its range. */
static uint64_t lat_value(unsigned i)
{
    unsigned e, sub;
    uint64_t lo;

    if (i < LAT_EXACT)
        return i;
    e = 5u + (i - LAT_EXACT) / LAT_SUB;
    sub = (i - LAT_EXACT) % LAT_SUB;
    lo = (uint64_t)(LAT_SUB + sub) << (e - 4u);
    return lo + ((1ull << (e - 4u)) >> 1);
}

void lat_hist_add(struct lat_hist *h, uint64_t us)
{
    h->n++;
    h->sum += us;
    if (us < h->min || h->n == 1u)
        h->min = us;
    if (us > h->max)
        h->max = us;
    h->bucket[lat_bucket(us)]++;
}

/* The observed range bounds an estimate: a bucket's middle can lie past the largest value in it. */
static uint64_t lat_clamp(const struct lat_hist *h, uint64_t us)
{
    if (us > h->max)
        return h->max;
    return us < h->min ? h->min : us;
}

uint64_t lat_hist_percentile(const struct lat_hist *h, unsigned pct)
{
    uint64_t rank = (h->n * pct + 99u) / 100u, seen = 0;
    unsigned i;

    if (h->n == 0u)
        return 0;
    if (rank == 0u)
        rank = 1;
    for (i = 0; i < LAT_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank)
            return lat_clamp(h, lat_value(i));
    }
    return h->max;
}

uint64_t lat_hist_avg(const struct lat_hist *h)
{
    return h->n != 0u ? h->sum / h->n : 0u;
}
