/* SPDX-License-Identifier: MIT */
/* dma_pool.c - first-fit page allocator over the port's reserved DMA region. */
#include <keel/error.h>
#include <keel/str.h>

#include "dma_pool.h"
#include "port_internal.h"

#define POOL_MAX_PAGES (PORT_DMA_POOL_MAX_BYTES / PORT_DMA_PAGE)

static struct {
    uintptr_t cpu;
    keel_bus_addr_t bus;
    size_t pages;
    size_t used;
    uint8_t map[POOL_MAX_PAGES / 8u]; /* one bit per page, 1 = allocated */
} pool;

static int page_used(size_t i)
{
    return (pool.map[i >> 3] >> (i & 7u)) & 1u;
}

static void page_set(size_t i, int used)
{
    if (used)
        pool.map[i >> 3] = (uint8_t)(pool.map[i >> 3] | (1u << (i & 7u)));
    else
        pool.map[i >> 3] = (uint8_t)(pool.map[i >> 3] & ~(1u << (i & 7u)));
}

void port_dma_pool_init(void *cpu, keel_bus_addr_t bus, size_t size)
{
    if (((uintptr_t)cpu & (PORT_DMA_PAGE - 1u)) != 0u || (bus & (PORT_DMA_PAGE - 1u)) != 0u)
        port_panic("DMA pool at %p is not page aligned", cpu);
    if (size > PORT_DMA_POOL_MAX_BYTES)
        size = PORT_DMA_POOL_MAX_BYTES;
    pool.cpu = (uintptr_t)cpu;
    pool.bus = bus;
    pool.pages = size / PORT_DMA_PAGE;
    pool.used = 0;
}

/* First run of `n` free pages whose bus address is a multiple of `align`, or pool.pages. */
static size_t find_run(size_t n, size_t align)
{
    size_t step = align / PORT_DMA_PAGE;
    size_t first = (size_t)((port_align_up(pool.bus, align) - pool.bus) / PORT_DMA_PAGE);
    size_t i, k;

    for (i = first; i + n <= pool.pages; i += step) {
        for (k = 0; k < n && !page_used(i + k); k++)
            ;
        if (k == n) {
            /* Keep the run within one 4 GiB bus window, as the HAL promises. */
            keel_bus_addr_t lo = pool.bus + (keel_bus_addr_t)i * PORT_DMA_PAGE;
            keel_bus_addr_t hi = lo + (keel_bus_addr_t)n * PORT_DMA_PAGE - 1u;
            if ((lo >> 32) == (hi >> 32) || n * PORT_DMA_PAGE > 0x100000000ull)
                return i;
        }
    }
    return pool.pages;
}

int port_dma_alloc(void *ctx, size_t size, size_t align, struct keel_dma_mem *out)
{
    size_t n, i, k;
    uintptr_t st;

    (void)ctx;
    if (out == NULL || size == 0u || (align & (align - 1u)) != 0u || align > PORT_DMA_MAX_ALIGN)
        return KEEL_EINVAL;
    if (size > pool.pages * PORT_DMA_PAGE)
        return KEEL_ENOMEM;
    if (align < PORT_DMA_PAGE)
        align = PORT_DMA_PAGE;
    n = (size + PORT_DMA_PAGE - 1u) / PORT_DMA_PAGE;
    st = port_arch_irq_save();
    i = find_run(n, align);
    if (i < pool.pages) {
        for (k = 0; k < n; k++)
            page_set(i + k, 1);
        pool.used += n;
    }
    port_arch_irq_restore(st);
    if (i >= pool.pages)
        return KEEL_ENOMEM;
    out->cpu = (void *)(pool.cpu + i * PORT_DMA_PAGE);
    out->bus = pool.bus + (keel_bus_addr_t)i * PORT_DMA_PAGE;
    out->size = n * PORT_DMA_PAGE;
    out->cookie = NULL;
    keel_memset(out->cpu, 0, out->size);
    return KEEL_OK;
}

void port_dma_free(void *ctx, struct keel_dma_mem *mem)
{
    uintptr_t cpu, st;
    size_t i, n, k;

    (void)ctx;
    if (mem == NULL || mem->cpu == NULL)
        return;
    cpu = (uintptr_t)mem->cpu;
    /* A free that does not match an allocation is a driver bug: stop loudly rather than corrupt. */
    if (cpu < pool.cpu || ((cpu - pool.cpu) & (PORT_DMA_PAGE - 1u)) != 0u ||
        mem->bus != pool.bus + (cpu - pool.cpu))
        port_panic("dma_free of %p: not from dma_alloc", mem->cpu);
    i = (cpu - pool.cpu) / PORT_DMA_PAGE;
    n = (mem->size + PORT_DMA_PAGE - 1u) / PORT_DMA_PAGE;
    if (n == 0u || i + n > pool.pages)
        port_panic("dma_free of %p: size %zu out of the pool", mem->cpu, mem->size);
    st = port_arch_irq_save();
    for (k = 0; k < n; k++) {
        if (!page_used(i + k))
            port_panic("dma_free of %p: page %zu already free", mem->cpu, i + k);
        page_set(i + k, 0);
    }
    pool.used -= n;
    port_arch_irq_restore(st);
    mem->cpu = NULL;
}

size_t port_dma_pages_used(void)
{
    return pool.used;
}

int port_dma_pool_contains(const void *cpu, size_t len)
{
    uintptr_t p = (uintptr_t)cpu;
    uintptr_t end = pool.cpu + pool.pages * PORT_DMA_PAGE;

    return p >= pool.cpu && p <= end && len <= end - p;
}
