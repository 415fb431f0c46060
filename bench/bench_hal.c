/* SPDX-License-Identifier: MIT */
/*
 * The minimal HAL hooks of the benchmark. The sim's hooks do real bookkeeping on every call (region
 * lookup for each register access, mapping tables, timers and pollers on every clock read); a
 * firmware port does none of that on its hot path: a doorbell is one store, a barrier one
 * instruction, the clock one counter read, and an identity-mapped platform's dma_map fills one
 * segment. These hooks stand in for that port while a workload runs.
 */
#include <string.h>

#include "bench.h"

static struct bench_hal *g_bh; /* the installed instance (hooks get the sim as ctx) */

static void db_write(void *ctx, keel_io_addr_t a, unsigned width, uint32_t v)
{
    struct bench_hal *bh = g_bh;

    if (a - bh->db_base < bh->db_size) {
        bh->doorbells++;
        if (bh->db_fn != NULL) {
            bh->db_fn(bh->db_dev, a - bh->db_base, width, v);
            return;
        }
    }
    if (width == 2)
        bh->orig.mmio_write16(ctx, a, (uint16_t)v);
    else
        bh->orig.mmio_write32(ctx, a, v);
}

static void hook_mmio_w16(void *ctx, keel_io_addr_t a, uint16_t v)
{
    db_write(ctx, a, 2, v);
}

static void hook_mmio_w32(void *ctx, keel_io_addr_t a, uint32_t v)
{
    db_write(ctx, a, 4, v);
}

static uint64_t hook_time_us(void *ctx)
{
    (void)ctx;
    return ++g_bh->now_us;
}

static void hook_barrier(void *ctx, enum keel_barrier kind)
{
    (void)ctx;
    (void)kind;
    /* The instant device runs on this thread: ordering against the compiler is all there is. */
    __asm__ volatile("" ::: "memory");
}

static int hook_dma_map(void *ctx, void *buf, size_t len, enum keel_dma_dir dir,
                        struct keel_dma_seg *segs, unsigned max_segs, unsigned *nsegs,
                        void **cookie)
{
    (void)ctx;
    (void)dir;
    if (buf == NULL || len == 0 || len > UINT32_MAX || max_segs == 0)
        return -22; /* KEEL_EINVAL without pulling in the header for one constant */
    segs[0].bus = (keel_bus_addr_t)(uintptr_t)buf;
    segs[0].len = (uint32_t)len;
    *nsegs = 1;
    *cookie = buf; /* non-NULL: drivers test the cookie to know a mapping exists */
    return 0;
}

static void hook_dma_unmap(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_dir dir)
{
    (void)ctx;
    (void)cookie;
    (void)buf;
    (void)len;
    (void)dir;
}

static void hook_dma_sync(void *ctx, void *cookie, void *buf, size_t len,
                          enum keel_dma_sync_for who)
{
    (void)ctx;
    (void)cookie;
    (void)buf;
    (void)len;
    (void)who;
}

void bench_hal_install(struct bench_hal *bh, struct sim *s, keel_io_addr_t db_base,
                       uint64_t db_size, bench_db_fn fn, void *dev)
{
    if (g_bh != NULL)
        bench_die("bench_hal_install: already installed");
    bh->s = s;
    bh->orig = s->ops;
    bh->db_base = db_base;
    bh->db_size = db_size;
    bh->db_fn = fn;
    bh->db_dev = dev;
    bh->instant = fn != NULL;
    bh->now_us = s->now_us;
    g_bh = bh;
    s->ops.mmio_write16 = hook_mmio_w16;
    s->ops.mmio_write32 = hook_mmio_w32;
    if (bh->instant) {
        s->ops.time_us = hook_time_us;
        s->ops.barrier = hook_barrier;
        s->ops.dma_map = hook_dma_map;
        s->ops.dma_unmap = hook_dma_unmap;
        if (s->ops.dma_sync != NULL)
            s->ops.dma_sync = hook_dma_sync;
    }
}

void bench_hal_remove(struct bench_hal *bh)
{
    if (g_bh != bh)
        return;
    bh->s->ops = bh->orig;
    if (bh->instant && bh->now_us > bh->s->now_us)
        bh->s->now_us = bh->now_us;
    g_bh = NULL;
}

void *bench_bus_ptr(const struct bench_hal *bh, uint64_t bus)
{
    const struct sim *s = bh->s;

    if (bus - s->arena_bus < s->arena_size)
        return s->arena + (bus - s->arena_bus);
    return (void *)(uintptr_t)bus; /* identity mapping of a caller buffer */
}
