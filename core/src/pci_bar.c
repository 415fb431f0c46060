/* SPDX-License-Identifier: MIT */
/*
 * Base Address Registers: decode, sizing, assignment from platform windows, mapping
 * (PCI Local Bus 3.0 6.2.5.1; PCIe base 7.5.1.2.1).
 */
#include <keel/error.h>
#include <keel/pci.h>

#include "pci_internal.h"

#define BAR_IO            0x1u        /* bit 0: I/O space indicator */
#define BAR_MEM_TYPE_MASK 0x6u        /* bits 2:1: 00 32-bit, 01 below 1 MiB (legacy), */
#define BAR_MEM_TYPE_64   0x4u        /* 10 64-bit, */
#define BAR_MEM_TYPE_RSVD 0x6u        /* 11 reserved */
#define BAR_MEM_PREFETCH  0x8u        /* bit 3 */
#define BAR_MEM_ADDR      0xfffffff0u /* address bits of a memory BAR's low dword */
#define BAR_IO_ADDR       0xfffffffcu /* address bits of an I/O BAR */
#define CMD_DECODE        (KEEL_PCI_CMD_IO | KEEL_PCI_CMD_MEM)
#define ADDR32_END        0xffffffffull /* last address a 32-bit BAR can hold */

static uint16_t bar_off(unsigned idx)
{
    return (uint16_t)(KEEL_PCI_BAR0 + 4u * idx);
}

static bool bar_is_mem64(uint32_t lo)
{
    return !(lo & BAR_IO) && (lo & BAR_MEM_TYPE_MASK) == BAR_MEM_TYPE_64;
}

/* How many BAR slots the function's header layout has: 6 for endpoints, 2 for PCI bridges. */
static int bar_slots(const struct keel_hal *hal, struct keel_pci_addr a, unsigned *n)
{
    uint32_t hdr;
    int rc = keel_pci_read(hal, a, KEEL_PCI_HEADER_TYPE, 1, &hdr);

    if (rc != KEEL_OK)
        return rc;
    if (hdr == 0xffu)
        return KEEL_ENODEV;
    switch (hdr & 0x7fu) {
    case 0:
        *n = KEEL_PCI_BAR_COUNT;
        return KEEL_OK;
    case 1:
        *n = 2;
        return KEEL_OK;
    default:
        *n = 0;
        return KEEL_OK;
    }
}

/*
 * Read BAR `idx`'s low dword after checking that `idx` starts a BAR: walking from BAR0 is the only
 * way to know, since the upper half of a 64-bit BAR holds address bits that may look like a type.
 */
static int bar_locate(const struct keel_hal *hal, struct keel_pci_addr a, unsigned idx,
                      unsigned *nslots, uint32_t *lo)
{
    unsigned i = 0;
    int rc = bar_slots(hal, a, nslots);

    if (rc != KEEL_OK)
        return rc;
    if (idx >= *nslots)
        return KEEL_EINVAL;
    for (;;) {
        rc = keel_pci_read(hal, a, bar_off(i), 4, lo);
        if (rc != KEEL_OK)
            return rc;
        if (i == idx)
            return KEEL_OK;
        i += bar_is_mem64(*lo) ? 2u : 1u;
        if (i > idx)
            return KEEL_EINVAL; /* idx is the upper half of a 64-bit pair */
    }
}

/* Turn memory and I/O decode off, remembering the command register for decode_restore. */
static int decode_off(const struct keel_hal *hal, struct keel_pci_addr a, uint32_t *cmd)
{
    int rc = keel_pci_read(hal, a, KEEL_PCI_COMMAND, 2, cmd);

    if (rc != KEEL_OK)
        return rc;
    if (*cmd == 0xffffu)
        return KEEL_ENODEV;
    if (!(*cmd & CMD_DECODE))
        return KEEL_OK;
    return keel_pci_write(hal, a, KEEL_PCI_COMMAND, 2, *cmd & ~(uint32_t)CMD_DECODE);
}

static int decode_restore(const struct keel_hal *hal, struct keel_pci_addr a, uint32_t cmd)
{
    if (!(cmd & CMD_DECODE))
        return KEEL_OK;
    return keel_pci_write(hal, a, KEEL_PCI_COMMAND, 2, cmd);
}

/* Write all-ones, read back the writable bits, restore the original value. */
static int size_dword(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off,
                      uint32_t orig, uint32_t *mask)
{
    int rc = keel_pci_write(hal, a, off, 4, 0xffffffffu);

    if (rc == KEEL_OK)
        rc = keel_pci_read(hal, a, off, 4, mask);
    /* Restore even after a failure: the BAR must not be left at all-ones. */
    if (keel_pci_write(hal, a, off, 4, orig) != KEEL_OK && rc == KEEL_OK)
        rc = KEEL_EIO;
    return rc;
}

/* Size one BAR with decode disabled, so the function never decodes the all-ones address. */
static int bar_size_masks(const struct keel_hal *hal, struct keel_pci_addr a, unsigned idx,
                          uint32_t lo, uint32_t hi, bool is64, uint32_t *mlo, uint32_t *mhi)
{
    uint32_t cmd;
    int rc = decode_off(hal, a, &cmd), rc2;

    if (rc != KEEL_OK)
        return rc;
    rc = size_dword(hal, a, bar_off(idx), lo, mlo);
    if (rc == KEEL_OK && is64)
        rc = size_dword(hal, a, bar_off(idx + 1u), hi, mhi);
    rc2 = decode_restore(hal, a, cmd);
    return rc != KEEL_OK ? rc : rc2;
}

/* The size is the lowest writable address bit (16-bit I/O decoders leave the upper bits 0). */
static uint64_t lowest_bit(uint64_t mask)
{
    return mask & (~mask + 1u);
}

int keel_pci_bar_decode(const struct keel_hal *hal, struct keel_pci_addr a, unsigned idx,
                        struct keel_pci_bar *out)
{
    uint32_t lo, hi = 0, mlo = 0, mhi = 0;
    unsigned nslots;
    int rc;

    if (out == NULL)
        return KEEL_EINVAL;
    *out = (struct keel_pci_bar){0};
    rc = bar_locate(hal, a, idx, &nslots, &lo);
    if (rc != KEEL_OK)
        return rc;
    out->is_io = (lo & BAR_IO) != 0u;
    out->is_64 = bar_is_mem64(lo);
    if (!out->is_io && (lo & BAR_MEM_TYPE_MASK) == BAR_MEM_TYPE_RSVD)
        return KEEL_EPROTO;
    if (out->is_64 && idx + 1u >= nslots)
        return KEEL_EPROTO; /* a 64-bit BAR in the last slot has no upper half */
    if (out->is_64) {
        rc = keel_pci_read(hal, a, bar_off(idx + 1u), 4, &hi);
        if (rc != KEEL_OK)
            return rc;
    }
    rc = bar_size_masks(hal, a, idx, lo, hi, out->is_64, &mlo, &mhi);
    if (rc != KEEL_OK)
        return rc;
    if (out->is_io) {
        out->addr = lo & BAR_IO_ADDR;
        out->size = lowest_bit(mlo & BAR_IO_ADDR);
    } else {
        out->addr = (lo & BAR_MEM_ADDR) | ((uint64_t)hi << 32);
        out->size = lowest_bit((mlo & BAR_MEM_ADDR) | ((uint64_t)mhi << 32));
        out->prefetchable = (lo & BAR_MEM_PREFETCH) != 0u;
    }
    if (out->size == 0u) {
        out->addr = 0; /* unimplemented: whatever reads back means nothing */
        return KEEL_OK;
    }
    /*
     * Address bits below the size are hardwired to 0 (PCI 3.0 6.2.5.1). A device that reads back
     * others is broken or hostile; refusing it also keeps addr + size from wrapping, which callers
     * adding an offset (the MSI-X table) rely on.
     */
    if ((out->addr & (out->size - 1u)) != 0u)
        return KEEL_EPROTO;
    return KEEL_OK;
}

/* The window a BAR is assigned from, or NULL to leave it unassigned (no I/O window). */
static struct keel_pci_window *pick_window(struct keel_pci_windows *w, const struct keel_pci_bar *b)
{
    if (b->is_io)
        return w->io.size != 0u ? &w->io : NULL;
    if (b->is_64 && w->mem64.size != 0u)
        return &w->mem64;
    return &w->mem32;
}

/* Carve `size` (a power of two) bytes aligned to `size` out of `win`, ending at most at `last`. */
static int window_alloc(struct keel_pci_window *win, uint64_t size, uint64_t last, uint64_t *addr)
{
    uint64_t start, used;

    if (win->size == 0u || size == 0u)
        return KEEL_ENOMEM;
    if (win->next < win->base)
        win->next = win->base;
    if (win->next > UINT64_MAX - (size - 1u))
        return KEEL_ENOMEM;
    start = (win->next + size - 1u) & ~(size - 1u);
    used = start - win->base;
    if (used > win->size || size > win->size - used)
        return KEEL_ENOMEM;
    if (start > last || size - 1u > last - start)
        return KEEL_ENOMEM; /* a 32-bit BAR cannot hold an address above 4 GiB */
    win->next = start + size;
    *addr = start;
    return KEEL_OK;
}

/* Program a BAR with decode off, so a half-written 64-bit address is never decoded. */
static int bar_program(const struct keel_hal *hal, struct keel_pci_addr a, unsigned idx, bool is64,
                       uint64_t addr)
{
    uint32_t cmd;
    int rc = decode_off(hal, a, &cmd), rc2;

    if (rc != KEEL_OK)
        return rc;
    rc = keel_pci_write(hal, a, bar_off(idx), 4, (uint32_t)addr);
    if (rc == KEEL_OK && is64)
        rc = keel_pci_write(hal, a, bar_off(idx + 1u), 4, (uint32_t)(addr >> 32));
    rc2 = decode_restore(hal, a, cmd);
    return rc != KEEL_OK ? rc : rc2;
}

/* Give one BAR an address if it has none; *decode gets the command bit it needs. */
static int assign_one(const struct keel_hal *hal, struct keel_pci_addr a, unsigned idx,
                      const struct keel_pci_bar *b, struct keel_pci_windows *w, uint16_t *decode)
{
    struct keel_pci_window *win;
    uint64_t addr;
    int rc;

    if (b->size == 0u)
        return KEEL_OK;
    if (b->addr == 0u) {
        win = pick_window(w, b);
        if (win == NULL)
            return KEEL_OK; /* no I/O window: stays unassigned and I/O decode stays off */
        rc = window_alloc(win, b->size, b->is_64 ? UINT64_MAX : ADDR32_END, &addr);
        if (rc == KEEL_OK)
            rc = bar_program(hal, a, idx, b->is_64, addr);
        if (rc != KEEL_OK)
            return rc;
    }
    *decode |= b->is_io ? KEEL_PCI_CMD_IO : KEEL_PCI_CMD_MEM;
    return KEEL_OK;
}

int keel_pci_assign_bars(const struct keel_hal *hal, struct keel_pci_addr a,
                         struct keel_pci_windows *w)
{
    uint16_t decode = 0;
    unsigned idx, nslots;
    int rc;

    if (w == NULL)
        return KEEL_EINVAL;
    rc = bar_slots(hal, a, &nslots);
    for (idx = 0; rc == KEEL_OK && idx < nslots;) {
        struct keel_pci_bar b;

        rc = keel_pci_bar_decode(hal, a, idx, &b);
        if (rc == KEEL_OK)
            rc = assign_one(hal, a, idx, &b, w, &decode);
        idx += b.is_64 ? 2u : 1u;
    }
    if (rc != KEEL_OK)
        return rc;
    return keel_pci_enable(hal, a, decode, 0);
}

int keel_pci_map_phys(const struct keel_hal *hal, uint64_t phys, uint64_t size, bool is_io,
                      struct keel_region *out)
{
    keel_io_addr_t base;
    bool is_mmio;
    int rc;

    if (size == 0u || phys > UINT64_MAX - (size - 1u))
        return KEEL_ERANGE;
    if (hal->ops->io_map != NULL) {
        rc = hal->ops->io_map(hal->ctx, phys, size, is_io, &base, &is_mmio);
        if (rc != KEEL_OK)
            return rc;
        /* Register offsets are added to `base` in keel_io_addr_t: they must not wrap. */
        if (size - 1u > (uint64_t)(UINTPTR_MAX - base))
            return KEEL_ERANGE;
    } else {
#if UINTPTR_MAX < UINT64_MAX
        if (phys + (size - 1u) > UINTPTR_MAX)
            return KEEL_ERANGE; /* beyond what a 32-bit CPU can address without io_map */
#endif
        base = (keel_io_addr_t)phys;
        is_mmio = !is_io;
    }
    if (!is_mmio && (hal->ops->pio_read8 == NULL || hal->ops->pio_read16 == NULL ||
                     hal->ops->pio_read32 == NULL || hal->ops->pio_write8 == NULL ||
                     hal->ops->pio_write16 == NULL || hal->ops->pio_write32 == NULL))
        return KEEL_ENOTSUP;
    out->hal = hal;
    out->base = base;
    out->size = size;
    out->is_mmio = is_mmio;
    return KEEL_OK;
}

int keel_pci_bar_region(const struct keel_hal *hal, struct keel_pci_addr a, unsigned idx,
                        uint64_t cpu_offset, struct keel_region *out)
{
    struct keel_pci_bar b;
    int rc;

    if (out == NULL)
        return KEEL_EINVAL;
    rc = keel_pci_bar_decode(hal, a, idx, &b);
    if (rc != KEEL_OK)
        return rc;
    if (b.size == 0u || b.addr == 0u)
        return KEEL_ENODEV;
    if (b.addr > UINT64_MAX - cpu_offset)
        return KEEL_ERANGE;
    return keel_pci_map_phys(hal, b.addr + cpu_offset, b.size, b.is_io, out);
}
