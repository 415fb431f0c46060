/* SPDX-License-Identifier: MIT */
/*
 * keel/region.h - a window of device registers reached either through MMIO or through port I/O.
 * Transports that may sit behind a memory BAR or an I/O BAR (virtio legacy PCI) use this so their
 * code does not care which one it is.
 */
#ifndef KEEL_REGION_H
#define KEEL_REGION_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>

struct keel_region {
    const struct keel_hal *hal;
    keel_io_addr_t base; /* io address of offset 0 */
    uint64_t size;       /* bytes */
    bool is_mmio;        /* false: port I/O hooks */
};

/* Any context. `off` + width must be within size; callers check against the layout they expect. */
static inline uint8_t keel_region_read8(const struct keel_region *r, uint32_t off)
{
    return r->is_mmio ? r->hal->ops->mmio_read8(r->hal->ctx, r->base + off)
                      : r->hal->ops->pio_read8(r->hal->ctx, r->base + off);
}
static inline uint16_t keel_region_read16(const struct keel_region *r, uint32_t off)
{
    return r->is_mmio ? r->hal->ops->mmio_read16(r->hal->ctx, r->base + off)
                      : r->hal->ops->pio_read16(r->hal->ctx, r->base + off);
}
static inline uint32_t keel_region_read32(const struct keel_region *r, uint32_t off)
{
    return r->is_mmio ? r->hal->ops->mmio_read32(r->hal->ctx, r->base + off)
                      : r->hal->ops->pio_read32(r->hal->ctx, r->base + off);
}
static inline void keel_region_write8(const struct keel_region *r, uint32_t off, uint8_t v)
{
    if (r->is_mmio)
        r->hal->ops->mmio_write8(r->hal->ctx, r->base + off, v);
    else
        r->hal->ops->pio_write8(r->hal->ctx, r->base + off, v);
}
static inline void keel_region_write16(const struct keel_region *r, uint32_t off, uint16_t v)
{
    if (r->is_mmio)
        r->hal->ops->mmio_write16(r->hal->ctx, r->base + off, v);
    else
        r->hal->ops->pio_write16(r->hal->ctx, r->base + off, v);
}
static inline void keel_region_write32(const struct keel_region *r, uint32_t off, uint32_t v)
{
    if (r->is_mmio)
        r->hal->ops->mmio_write32(r->hal->ctx, r->base + off, v);
    else
        r->hal->ops->pio_write32(r->hal->ctx, r->base + off, v);
}

#endif
