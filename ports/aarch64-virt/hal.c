/* SPDX-License-Identifier: MIT */
/*
 * hal.c - the AArch64 port's struct keel_hal_ops. No port I/O: PCI I/O BARs are reached through the
 * CPU's I/O window with io_map (is_pio = true gives an MMIO mapping). Streaming DMA does real cache
 * maintenance (dma.c); coherent DMA memory is the non-cacheable pool.
 */
#include <keel/error.h>

#include "../common/dma_pool.h"
#include "../common/port_internal.h"
#include "a64.h"

static uint8_t mmio_read8(void *ctx, keel_io_addr_t a)
{
    (void)ctx;
    return a64_rd8(a);
}
static uint16_t mmio_read16(void *ctx, keel_io_addr_t a)
{
    (void)ctx;
    return a64_rd16(a);
}
static uint32_t mmio_read32(void *ctx, keel_io_addr_t a)
{
    (void)ctx;
    return a64_rd32(a);
}
static void mmio_write8(void *ctx, keel_io_addr_t a, uint8_t v)
{
    (void)ctx;
    a64_wr8(a, v);
}
static void mmio_write16(void *ctx, keel_io_addr_t a, uint16_t v)
{
    (void)ctx;
    a64_wr16(a, v);
}
static void mmio_write32(void *ctx, keel_io_addr_t a, uint32_t v)
{
    (void)ctx;
    a64_wr32(a, v);
}

static int io_map(void *ctx, uint64_t phys, uint64_t size, bool is_pio, keel_io_addr_t *out,
                  bool *is_mmio_out)
{
    int rc;

    (void)ctx;
    (void)is_pio; /* I/O BARs arrive as CPU addresses inside the I/O window: memory-mapped too */
    if (out == NULL || is_mmio_out == NULL || size == 0u)
        return KEEL_EINVAL;
    rc = a64_map_device(phys, size);
    if (rc != KEEL_OK)
        return rc;
    *out = (keel_io_addr_t)phys; /* identity map */
    *is_mmio_out = true;
    return KEEL_OK;
}

static void barrier(void *ctx, enum keel_barrier kind)
{
    (void)ctx;
    /* Outer shareable: the domain devices observe. FULL uses DSB, which also waits for
     * completion, for callers that follow it with a register access that must see the effect. */
    if (kind == KEEL_BARRIER_READ)
        __asm__ volatile("dmb oshld" ::: "memory");
    else if (kind == KEEL_BARRIER_WRITE)
        __asm__ volatile("dmb oshst" ::: "memory");
    else
        __asm__ volatile("dsb sy" ::: "memory");
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

const struct keel_hal_ops a64_hal_ops = {
    .abi_version = KEEL_HAL_ABI_VERSION,
    .mmio_read8 = mmio_read8,
    .mmio_read16 = mmio_read16,
    .mmio_read32 = mmio_read32,
    .mmio_write8 = mmio_write8,
    .mmio_write16 = mmio_write16,
    .mmio_write32 = mmio_write32,
    .pio_read8 = NULL,
    .pio_read16 = NULL,
    .pio_read32 = NULL,
    .pio_write8 = NULL,
    .pio_write16 = NULL,
    .pio_write32 = NULL,
    .pci_cfg_read = a64_pci_cfg_read,
    .pci_cfg_write = a64_pci_cfg_write,
    .io_map = io_map,
    .dma_alloc = port_dma_alloc,
    .dma_free = port_dma_free,
    .dma_map = a64_dma_map,
    .dma_unmap = a64_dma_unmap,
    .dma_sync = a64_dma_sync,
    .barrier = barrier,
    .time_us = a64_time_us,
    .delay_us = a64_delay_us,
    .irq_attach = a64_irq_attach,
    .irq_detach = a64_irq_detach,
    .irq_mask = a64_irq_mask,
    .irq_eoi = a64_irq_eoi,
    .msi_compose = a64_msi_compose,
    .lock = lock,
    .unlock = unlock,
    .log = port_hal_log,
};
