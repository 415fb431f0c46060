/* SPDX-License-Identifier: MIT */
/*
 * timer.c - the monotonic microsecond clock: the generic timer's virtual count (CNTVCT_EL0) at
 * CNTFRQ_EL0. time_us = (count - count0) * mult >> 32 with a 128-bit product: no run-time division.
 */
#include "../common/port_internal.h"
#include "a64.h"

__extension__ typedef unsigned __int128 u128;

static uint64_t cnt0, freq, mult;

static uint64_t count(void)
{
    isb(); /* keep the read from being hoisted above earlier instructions */
    return A64_READ_SYSREG(cntvct_el0);
}

void a64_timer_init(void)
{
    freq = A64_READ_SYSREG(cntfrq_el0) & 0xffffffffu;
    if (freq < 1000000u)
        port_panic("CNTFRQ_EL0 = %llu Hz: too slow to count microseconds",
                   (unsigned long long)freq);
    mult = (1000000ull << 32) / freq; /* < 2^52: a 64-bit division, once */
    cnt0 = count();
}

uint64_t a64_timer_hz(void)
{
    return freq;
}

uint64_t a64_time_us(void *ctx)
{
    (void)ctx;
    return (uint64_t)(((u128)(count() - cnt0) * mult) >> 32);
}

void a64_delay_us(void *ctx, uint32_t us)
{
    uint64_t end = a64_time_us(ctx) + us;

    while (a64_time_us(ctx) < end)
        __asm__ volatile("yield" ::: "memory");
}
