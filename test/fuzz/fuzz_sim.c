/* SPDX-License-Identifier: MIT */
/* The simulated platform as a hostile device: see fuzz_sim.h. */
#include "fuzz_sim.h"

#include <stdlib.h>
#include <string.h>

static struct fsim *g_fs;

static uint32_t reg(uint32_t v, keel_io_addr_t a)
{
    struct fsim *fs = g_fs;
    uint32_t r;

    if (fs == NULL || fs->reg32 == NULL)
        return v;
    r = fs->reg32(fs->arg, a, v);
    if (r != v)
        fs->tainted = true;
    return r;
}

static uint32_t mmio_r32(void *ctx, keel_io_addr_t a)
{
    return reg(g_fs->s->ops.mmio_read32(ctx, a), a);
}

static void delay(void *ctx, uint32_t us)
{
    struct fsim *fs = g_fs;

    fs->s->ops.delay_us(ctx, us > fs->delay_min_us ? us : fs->delay_min_us);
}

/*
 * A driver spinning on the clock (a blocking helper polling a request the device never answers, for
 * its whole timeout plus grace) would need millions of reads at a few microseconds each. Once the
 * clock has been read FSIM_IDLE_READS times without a register write, every further read also
 * moves it by a growing step (doubling every 128 reads, at most FSIM_IDLE_STEP_MAX): the clock
 * stays monotonic and waits stay bounded, they just end in thousands of reads, not millions.
 */
#define FSIM_IDLE_READS    512u
#define FSIM_IDLE_STEP_MAX 131072u

static uint64_t time_us(void *ctx)
{
    struct fsim *fs = g_fs;

    if (++fs->idle_reads > FSIM_IDLE_READS) {
        unsigned k = (fs->idle_reads - FSIM_IDLE_READS) / 128u;
        uint64_t step = k >= 17u ? FSIM_IDLE_STEP_MAX : (1ull << k);
        sim_advance(fs->s, step);
    }
    return fs->s->ops.time_us(ctx);
}

static void mmio_w8(void *ctx, keel_io_addr_t a, uint8_t v)
{
    g_fs->idle_reads = 0;
    g_fs->s->ops.mmio_write8(ctx, a, v);
}

static void mmio_w16(void *ctx, keel_io_addr_t a, uint16_t v)
{
    g_fs->idle_reads = 0;
    g_fs->s->ops.mmio_write16(ctx, a, v);
}

static void mmio_w32(void *ctx, keel_io_addr_t a, uint32_t v)
{
    g_fs->idle_reads = 0;
    g_fs->s->ops.mmio_write32(ctx, a, v);
}

static void patch_bytes(struct fsim *fs, uint8_t *data, size_t len, uint8_t ctl)
{
    unsigned n = 1u + (ctl >> 5), i;

    for (i = 0; i < n; i++) {
        size_t off = fz_below(fs->in, len > 0xffffffffu ? 0xffffffffu : (uint32_t)len);
        data[off] = fz_u8(fs->in);
    }
}

static void write_hook(void *arg, uint64_t bus, uint8_t *data, size_t len)
{
    struct fsim *fs = arg;
    uint8_t ctl;

    if (fs->budget == 0u)
        return;
    fs->budget--;
    ctl = fz_u8(fs->in);
    if (ctl == 0u)
        return;
    fs->tainted = true;
    fs->mutations++;
    if (fs->mutate != NULL && fs->mutate(fs->arg, bus, data, len, ctl))
        return;
    patch_bytes(fs, data, len, ctl);
}

void fsim_init(struct fsim *fs, struct fz *in, size_t arena, uint32_t tick_us)
{
    memset(fs, 0, sizeof(*fs));
    fs->s = sim_create_sized(arena, 1u << 20);
    if (fs->s == NULL)
        abort();
    fs->s->tick_us = tick_us;
    fs->in = in;
    fs->delay_min_us = 1;
    fs->ops = fs->s->ops;
    fs->ops.mmio_read32 = mmio_r32;
    fs->ops.delay_us = delay;
    fs->ops.time_us = time_us;
    fs->ops.mmio_write8 = mmio_w8;
    fs->ops.mmio_write16 = mmio_w16;
    fs->ops.mmio_write32 = mmio_w32;
    fs->hal.ops = &fs->ops;
    fs->hal.ctx = fs->s;
    fs->s->dma_write_hook = write_hook;
    fs->s->dma_write_hook_arg = fs;
    fs->s->log_to_stderr = getenv("KEEL_FUZZ_LOG") != NULL;
    g_fs = fs;
}

void fsim_taint(struct fsim *fs)
{
    fs->tainted = true;
}

bool fsim_buf_mapped(const struct fsim *fs, const void *buf, size_t len)
{
    uintptr_t b = (uintptr_t)buf;
    unsigned i;

    if (fs->s->maps_live == 0u)
        return false;
    for (i = 0; i < SIM_MAX_MAPS; i++) {
        const struct sim_map *m = &fs->s->maps[i];
        uintptr_t mb = (uintptr_t)m->buf;
        if (m->used && b < mb + m->len && mb < b + len)
            return true;
    }
    return false;
}

void fsim_finish(struct fsim *fs, bool detached)
{
    struct sim *s = fs->s;
    unsigned i;

    if (detached) {
        if (s->maps_live != 0u)
            fh_fail("%u DMA mapping(s) leaked", s->maps_live);
        if (s->dma_allocs != s->dma_frees)
            fh_fail("%u DMA allocation(s) leaked", s->dma_allocs - s->dma_frees);
        if (s->locks_held != 0u)
            fh_fail("%u lock(s) still held", s->locks_held);
        for (i = 0; i < SIM_MAX_IRQS; i++)
            if (s->irqs[i].used)
                fh_fail("interrupt handle %u still attached", i);
    }
    if (!fs->tainted && s->violations != 0u)
        fh_fail("sim: %u contract violation(s) with an honest device; last: %s", s->violations,
                s->last_violation);
    g_fs = NULL;
    sim_destroy(s);
    fs->s = NULL;
}
