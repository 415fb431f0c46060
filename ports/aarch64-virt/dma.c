/* SPDX-License-Identifier: MIT */
/*
 * dma.c - streaming DMA of caller buffers on a CPU whose RAM is cacheable and whose devices are
 * treated as non-coherent (as on much real silicon):
 *   - to the device: clean the buffer's lines to memory (DC CVAC) before the device reads it;
 *   - from the device: clean+invalidate before (no dirty line may be written back over the DMA
 *     data later) and invalidate after (DC IVAC), so the CPU reads what the device wrote;
 *   - a buffer the device writes that does not start and end on cache-line boundaries shares lines
 *     with other data; invalidating them would destroy that data, so such buffers are bounced
 *     through pages of the (non-cacheable) DMA pool and copied back at unmap or sync.
 * Bus address == physical == the CPU pointer's value (identity map, no IOMMU).
 */
#include <keel/error.h>
#include <keel/str.h>

#include "../common/dma_pool.h"
#include "../common/port_internal.h"
#include "a64.h"

#define BOUNCE_SLOTS 32u
#define SEG_MAX      0x80000000u

struct bounce {
    bool used;
    struct keel_dma_mem mem;
    void *buf;
    size_t len;
    enum keel_dma_dir dir;
};

static struct bounce bounces[BOUNCE_SLOTS];

/*
 * Cookies: a direct mapping's cookie is its direction (1..3) so sync knows which maintenance is
 * safe; a bounced mapping's cookie points at its slot; a mapping inside the pool has NULL.
 */
#define COOKIE_DIR_MAX 3u

static struct bounce *as_bounce(void *cookie, void *buf)
{
    struct bounce *b = cookie;

    if ((uintptr_t)cookie <= COOKIE_DIR_MAX)
        return NULL;
    if (b < bounces || b >= bounces + BOUNCE_SLOTS || !b->used || b->buf != buf)
        port_panic("DMA cookie %p is not a mapping of %p", cookie, buf);
    return b;
}

static uint64_t line_size(void)
{
    return 4ull << ((A64_READ_SYSREG(ctr_el0) >> 16) & 0xfu); /* CTR_EL0.DminLine, words */
}

enum cache_op { CLEAN, INVALIDATE, CLEAN_INVALIDATE };

/* One maintenance operation over every line touching [p, p + len), then wait for completion. */
static void cache_range(const void *p, size_t len, enum cache_op op)
{
    uint64_t line = line_size(), a = (uint64_t)(uintptr_t)p & ~(line - 1u);
    uint64_t end = (uint64_t)(uintptr_t)p + len;

    for (; a < end; a += line) {
        if (op == CLEAN)
            __asm__ volatile("dc cvac, %0" ::"r"(a) : "memory");
        else if (op == INVALIDATE)
            __asm__ volatile("dc ivac, %0" ::"r"(a) : "memory");
        else
            __asm__ volatile("dc civac, %0" ::"r"(a) : "memory");
    }
    dsb_sy();
}

static bool device_writes(enum keel_dma_dir dir)
{
    return dir != KEEL_DMA_TO_DEVICE;
}

static bool line_aligned(const void *buf, size_t len)
{
    uint64_t mask = line_size() - 1u;
    return (((uint64_t)(uintptr_t)buf | len) & mask) == 0u;
}

static struct bounce *bounce_get(void)
{
    uintptr_t st = port_arch_irq_save();
    unsigned i;

    for (i = 0; i < BOUNCE_SLOTS; i++) {
        if (!bounces[i].used) {
            bounces[i].used = true;
            port_arch_irq_restore(st);
            return &bounces[i];
        }
    }
    port_arch_irq_restore(st);
    return NULL;
}

static int fill_segs(keel_bus_addr_t bus, size_t len, struct keel_dma_seg *segs, unsigned max,
                     unsigned *nsegs)
{
    unsigned n = 0;

    if ((len + SEG_MAX - 1u) / SEG_MAX > max)
        return KEEL_ENOSPC;
    while (len > 0u) {
        uint32_t l = len > SEG_MAX ? SEG_MAX : (uint32_t)len;
        segs[n].bus = bus;
        segs[n].len = l;
        bus += l;
        len -= l;
        n++;
    }
    *nsegs = n;
    return KEEL_OK;
}

static int map_bounced(void *buf, size_t len, enum keel_dma_dir dir, struct keel_dma_seg *segs,
                       unsigned max_segs, unsigned *nsegs, void **cookie)
{
    struct bounce *b = bounce_get();
    int rc;

    if (b == NULL)
        return KEEL_ENOMEM;
    b->mem = (struct keel_dma_mem){0};
    rc = port_dma_alloc(NULL, len, PORT_DMA_PAGE, &b->mem);
    if (rc == KEEL_OK)
        rc = fill_segs(b->mem.bus, len, segs, max_segs, nsegs);
    if (rc != KEEL_OK) {
        if (b->mem.cpu != NULL)
            port_dma_free(NULL, &b->mem);
        b->used = false;
        return rc;
    }
    b->buf = buf;
    b->len = len;
    b->dir = dir;
    if (dir != KEEL_DMA_FROM_DEVICE)
        keel_memcpy(b->mem.cpu, buf, len);
    dsb_sy();
    *cookie = b;
    return KEEL_OK;
}

int a64_dma_map(void *ctx, void *buf, size_t len, enum keel_dma_dir dir, struct keel_dma_seg *segs,
                unsigned max_segs, unsigned *nsegs, void **cookie)
{
    int rc;

    (void)ctx;
    if (buf == NULL || len == 0u || segs == NULL || nsegs == NULL || cookie == NULL)
        return KEEL_EINVAL;
    if (dir != KEEL_DMA_TO_DEVICE && dir != KEEL_DMA_FROM_DEVICE && dir != KEEL_DMA_BIDIRECTIONAL)
        return KEEL_EINVAL;
    if (port_dma_pool_contains(buf, len)) {
        /* Already in the coherent pool: no maintenance, just the translation. */
        *cookie = NULL;
        return fill_segs((keel_bus_addr_t)(uintptr_t)buf, len, segs, max_segs, nsegs);
    }
    if (!a64_is_ram((uint64_t)(uintptr_t)buf, len))
        return KEEL_EFAULT;
    if (device_writes(dir) && !line_aligned(buf, len))
        return map_bounced(buf, len, dir, segs, max_segs, nsegs, cookie);
    rc = fill_segs((keel_bus_addr_t)(uintptr_t)buf, len, segs, max_segs, nsegs);
    if (rc != KEEL_OK)
        return rc;
    cache_range(buf, len, device_writes(dir) ? CLEAN_INVALIDATE : CLEAN);
    *cookie = (void *)(uintptr_t)dir;
    return KEEL_OK;
}

void a64_dma_unmap(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_dir dir)
{
    struct bounce *b = as_bounce(cookie, buf);

    (void)ctx;
    if (b != NULL) {
        dsb_sy();
        if (device_writes(b->dir))
            keel_memcpy(b->buf, b->mem.cpu, b->len);
        port_dma_free(NULL, &b->mem);
        b->used = false;
        return;
    }
    if (device_writes(dir) && !port_dma_pool_contains(buf, len))
        cache_range(buf, len, INVALIDATE); /* drop lines speculatively fetched meanwhile */
    else
        dsb_sy();
}

void a64_dma_sync(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_sync_for who)
{
    struct bounce *b = as_bounce(cookie, buf);
    enum keel_dma_dir dir = (enum keel_dma_dir)(uintptr_t)cookie;

    (void)ctx;
    if (b != NULL) {
        if (len > b->len)
            len = b->len;
        if (who == KEEL_DMA_SYNC_FOR_CPU && device_writes(b->dir))
            keel_memcpy(buf, b->mem.cpu, len);
        else if (who == KEEL_DMA_SYNC_FOR_DEVICE && b->dir != KEEL_DMA_FROM_DEVICE)
            keel_memcpy(b->mem.cpu, buf, len);
        dsb_sy();
        return;
    }
    if (cookie == NULL) { /* inside the coherent pool */
        dsb_sy();
        return;
    }
    if (who == KEEL_DMA_SYNC_FOR_DEVICE)
        cache_range(buf, len, device_writes(dir) ? CLEAN_INVALIDATE : CLEAN);
    else if (device_writes(dir)) /* line-aligned, else it would have been bounced */
        cache_range(buf, len, INVALIDATE);
    else
        dsb_sy();
}
