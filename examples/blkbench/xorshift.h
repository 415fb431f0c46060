/* SPDX-License-Identifier: MIT */
/*
 * xorshift.h - the pseudo-random offsets of blkbench and of its ceiling probe (nvme_floor.c):
 * xorshift64 (Marsaglia 2003), the same sequence for the same seed in both.
 */
#ifndef KEEL_BLKBENCH_XORSHIFT_H
#define KEEL_BLKBENCH_XORSHIFT_H

#include <stdint.h>

/** The next value of the sequence in *s (never 0 for a seed that is not 0). */
static inline uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

#endif
