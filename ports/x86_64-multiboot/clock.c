/* SPDX-License-Identifier: MIT */
/*
 * clock.c - the monotonic microsecond clock: the TSC, calibrated once at boot against PIT channel 2
 * (1.193182 MHz, gated through port 0x61). time_us = (tsc - tsc0) * mult >> 32 with a 128-bit
 * product, so it neither overflows nor divides at run time.
 */
#include "../common/port_internal.h"
#include "x86.h"

#define PIT_HZ        1193182u
#define PIT_CH2       0x42
#define PIT_CMD       0x43
#define PIT_GATE      0x61
#define CAL_PIT_TICKS 11932u /* 10 ms */
#define CAL_ROUNDS    5u

__extension__ typedef unsigned __int128 u128;

static uint64_t tsc0, tsc_hz, mult;

/* Latch and read channel 2's count, bracketed by two TSC reads; *tsc gets their midpoint. */
static uint16_t pit_read(uint64_t *tsc, uint64_t *bracket)
{
    uint64_t a = rdtsc(), b;
    uint8_t lo, hi;

    outb(PIT_CMD, 0x80); /* counter latch, channel 2 */
    lo = inb(PIT_CH2);
    hi = inb(PIT_CH2);
    b = rdtsc();
    *tsc = a + (b - a) / 2u;
    *bracket = b - a;
    return (uint16_t)(lo | (hi << 8));
}

/*
 * One measurement: TSC ticks across CAL_PIT_TICKS of the PIT's count. Reading the count at both
 * ends (instead of waiting for terminal count) makes a vCPU preempted mid-measurement harmless;
 * only a preemption inside a read's bracket skews it, and the median of several rounds drops that.
 */
static uint64_t calibrate_once(void)
{
    uint64_t t0, t1, b0, b1;
    uint16_t c0 = pit_read(&t0, &b0), c1;
    unsigned long spins = 0;

    do {
        c1 = pit_read(&t1, &b1);
        if (++spins > 100000000ul)
            port_panic("PIT channel 2 does not count: cannot calibrate the TSC");
    } while ((uint16_t)(c0 - c1) < CAL_PIT_TICKS);
    return (t1 - t0) * PIT_HZ / (uint16_t)(c0 - c1);
}

static uint64_t calibrate(void)
{
    uint64_t r[CAL_ROUNDS];
    unsigned i, j;

    /* Gate high, speaker off; channel 2, lobyte/hibyte, mode 2 (rate generator), count 0xffff. */
    outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02u) | 0x01u));
    outb(PIT_CMD, 0xb4);
    outb(PIT_CH2, 0xff);
    outb(PIT_CH2, 0xff);
    for (i = 0; i < CAL_ROUNDS; i++) {
        uint64_t v = calibrate_once();
        for (j = i; j > 0u && r[j - 1u] > v; j--) /* insertion sort */
            r[j] = r[j - 1u];
        r[j] = v;
    }
    return r[CAL_ROUNDS / 2u];
}

void x86_clock_init(void)
{
    tsc_hz = calibrate();
    if (tsc_hz < 1000000u)
        port_panic("TSC runs at %llu Hz: too slow to count microseconds",
                   (unsigned long long)tsc_hz);
    mult = (1000000ull << 32) / tsc_hz; /* < 2^52: a 64-bit division suffices */
    tsc0 = rdtsc();
}

uint64_t x86_tsc_hz(void)
{
    return tsc_hz;
}

uint64_t x86_time_us(void *ctx)
{
    (void)ctx;
    return (uint64_t)(((u128)(rdtsc() - tsc0) * mult) >> 32);
}

void x86_delay_us(void *ctx, uint32_t us)
{
    uint64_t end = x86_time_us(ctx) + us;

    while (x86_time_us(ctx) < end)
        cpu_relax();
}
