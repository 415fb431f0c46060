/* SPDX-License-Identifier: MIT */
/*
 * hal.c - the x86-64 port's struct keel_hal_ops. Caches are coherent with DMA on x86, so streaming
 * mappings are identity translations (bus == physical == the CPU pointer's value) and dma_sync is
 * left NULL; the DMA pool is ordinary write-back RAM below 4 GiB.
 */
#include <keel/error.h>

#include "../common/dma_pool.h"
#include "../common/port_internal.h"
#include "x86.h"

#define SEG_MAX 0x80000000u /* keep each segment length well inside uint32_t */

static uint8_t mmio_read8(void *ctx, keel_io_addr_t a)
{
    (void)ctx;
    return *(volatile uint8_t *)a;
}
static uint16_t mmio_read16(void *ctx, keel_io_addr_t a)
{
    (void)ctx;
    return *(volatile uint16_t *)a;
}
static uint32_t mmio_read32(void *ctx, keel_io_addr_t a)
{
    (void)ctx;
    return *(volatile uint32_t *)a;
}
static void mmio_write8(void *ctx, keel_io_addr_t a, uint8_t v)
{
    (void)ctx;
    *(volatile uint8_t *)a = v;
}
static void mmio_write16(void *ctx, keel_io_addr_t a, uint16_t v)
{
    (void)ctx;
    *(volatile uint16_t *)a = v;
}
static void mmio_write32(void *ctx, keel_io_addr_t a, uint32_t v)
{
    (void)ctx;
    *(volatile uint32_t *)a = v;
}

static uint8_t pio_read8(void *ctx, keel_io_addr_t p)
{
    (void)ctx;
    return inb((uint16_t)p);
}
static uint16_t pio_read16(void *ctx, keel_io_addr_t p)
{
    (void)ctx;
    return inw((uint16_t)p);
}
static uint32_t pio_read32(void *ctx, keel_io_addr_t p)
{
    (void)ctx;
    return inl((uint16_t)p);
}
static void pio_write8(void *ctx, keel_io_addr_t p, uint8_t v)
{
    (void)ctx;
    outb((uint16_t)p, v);
}
static void pio_write16(void *ctx, keel_io_addr_t p, uint16_t v)
{
    (void)ctx;
    outw((uint16_t)p, v);
}
static void pio_write32(void *ctx, keel_io_addr_t p, uint32_t v)
{
    (void)ctx;
    outl((uint16_t)p, v);
}

static int io_map(void *ctx, uint64_t phys, uint64_t size, bool is_pio, keel_io_addr_t *out,
                  bool *is_mmio_out)
{
    int rc;

    (void)ctx;
    if (out == NULL || is_mmio_out == NULL || size == 0u)
        return KEEL_EINVAL;
    if (is_pio) {
        /* x86 has a real I/O space: the "address" is the port number, used with the pio hooks. */
        if (phys > 0xffffu || size > 0x10000u - phys)
            return KEEL_ERANGE;
        *out = (keel_io_addr_t)phys;
        *is_mmio_out = false;
        return KEEL_OK;
    }
    rc = x86_map_mmio(phys, size);
    if (rc != KEEL_OK)
        return rc;
    *out = (keel_io_addr_t)phys; /* identity map */
    *is_mmio_out = true;
    return KEEL_OK;
}

static int dma_map(void *ctx, void *buf, size_t len, enum keel_dma_dir dir,
                   struct keel_dma_seg *segs, unsigned max_segs, unsigned *nsegs, void **cookie)
{
    keel_bus_addr_t bus = (keel_bus_addr_t)(uintptr_t)buf; /* identity: bus == physical */
    unsigned n = 0;

    (void)ctx;
    if (buf == NULL || len == 0u || segs == NULL || nsegs == NULL || cookie == NULL)
        return KEEL_EINVAL;
    if (dir != KEEL_DMA_TO_DEVICE && dir != KEEL_DMA_FROM_DEVICE && dir != KEEL_DMA_BIDIRECTIONAL)
        return KEEL_EINVAL;
    if ((len + SEG_MAX - 1u) / SEG_MAX > max_segs)
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
    *cookie = NULL;
    /* Coherent caches: the CPU's earlier stores are visible to the device once ordered. */
    __asm__ volatile("" ::: "memory");
    return KEEL_OK;
}

static void dma_unmap(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_dir dir)
{
    (void)ctx;
    (void)cookie;
    (void)buf;
    (void)len;
    (void)dir;
    __asm__ volatile("" ::: "memory");
}

static void barrier(void *ctx, enum keel_barrier kind)
{
    (void)ctx;
    if (kind == KEEL_BARRIER_FULL)
        __asm__ volatile("mfence" ::: "memory");
    else
        __asm__ volatile("" ::: "memory"); /* x86 keeps loads and stores in order (TSO) */
}

static uintptr_t lock(void *ctx, keel_lock_t *l)
{
    (void)ctx;
    (void)l;
    return port_arch_irq_save(); /* one CPU: masking interrupts is the whole lock */
}

static void unlock(void *ctx, keel_lock_t *l, uintptr_t state)
{
    (void)ctx;
    (void)l;
    port_arch_irq_restore(state);
}

const struct keel_hal_ops x86_hal_ops = {
    .abi_version = KEEL_HAL_ABI_VERSION,
    .mmio_read8 = mmio_read8,
    .mmio_read16 = mmio_read16,
    .mmio_read32 = mmio_read32,
    .mmio_write8 = mmio_write8,
    .mmio_write16 = mmio_write16,
    .mmio_write32 = mmio_write32,
    .pio_read8 = pio_read8,
    .pio_read16 = pio_read16,
    .pio_read32 = pio_read32,
    .pio_write8 = pio_write8,
    .pio_write16 = pio_write16,
    .pio_write32 = pio_write32,
    .pci_cfg_read = x86_pci_cfg_read,
    .pci_cfg_write = x86_pci_cfg_write,
    .io_map = io_map,
    .dma_alloc = port_dma_alloc,
    .dma_free = port_dma_free,
    .dma_map = dma_map,
    .dma_unmap = dma_unmap,
    .dma_sync = NULL,
    .barrier = barrier,
    .time_us = x86_time_us,
    .delay_us = x86_delay_us,
    .irq_attach = x86_irq_attach,
    .irq_detach = x86_irq_detach,
    .irq_mask = x86_irq_mask,
    .irq_eoi = x86_irq_eoi,
    .msi_compose = x86_msi_compose,
    .lock = lock,
    .unlock = unlock,
    .log = port_hal_log,
};
