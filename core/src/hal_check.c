/* SPDX-License-Identifier: MIT */
#include <keel/error.h>
#include <keel/hal.h>

/* All six port I/O hooks, or none: a region behind an I/O BAR uses every width. */
static bool pio_group_ok(const struct keel_hal_ops *o)
{
    bool any = o->pio_read8 || o->pio_read16 || o->pio_read32 || o->pio_write8 || o->pio_write16 ||
               o->pio_write32;
    bool all = o->pio_read8 && o->pio_read16 && o->pio_read32 && o->pio_write8 && o->pio_write16 &&
               o->pio_write32;

    return any == all;
}

int keel_hal_check(const struct keel_hal *hal)
{
    const struct keel_hal_ops *o;

    if (hal == NULL || hal->ops == NULL)
        return KEEL_EHAL;
    o = hal->ops;
    if ((o->abi_version >> 16) != KEEL_HAL_ABI_MAJOR)
        return KEEL_EHAL;
    if (!o->mmio_read8 || !o->mmio_read16 || !o->mmio_read32 || !o->mmio_write8 ||
        !o->mmio_write16 || !o->mmio_write32)
        return KEEL_EHAL;
    if (!o->dma_alloc || !o->dma_free || !o->dma_map || !o->dma_unmap)
        return KEEL_EHAL;
    if (!o->barrier || !o->time_us || !o->delay_us)
        return KEEL_EHAL;
    /* Port I/O, PCI config and interrupts are optional groups, but a half-filled group is a bug. */
    if (!pio_group_ok(o))
        return KEEL_EHAL;
    if ((o->pci_cfg_read == NULL) != (o->pci_cfg_write == NULL))
        return KEEL_EHAL;
    if ((o->lock == NULL) != (o->unlock == NULL))
        return KEEL_EHAL;
    /* Drivers call irq_eoi from every level-triggered handler without checking it. */
    if (o->irq_attach && (!o->irq_detach || !o->irq_mask || !o->irq_eoi))
        return KEEL_EHAL;
    return KEEL_OK;
}
