/* SPDX-License-Identifier: MIT */
/*
 * MSI-X: capability, table mapping, per-entry programming and masking (PCI Local Bus 3.0 6.8.2;
 * PCIe base 6.1.4 and 7.7.2).
 */
#include <keel/error.h>
#include <keel/pci.h>

#include "pci_internal.h"

/* Capability registers, relative to the capability. */
#define MSIX_CTRL           2u      /* Message Control (16 bits) */
#define MSIX_CTRL_SIZE_MASK 0x07ffu /* table size - 1 */
#define MSIX_CTRL_FMASK     0x4000u /* Function Mask */
#define MSIX_CTRL_ENABLE    0x8000u /* MSI-X Enable */
#define MSIX_TABLE          4u      /* Table Offset (31:3) / Table BIR (2:0) */
#define MSIX_BIR_MASK       0x7u

/* Table entries. */
#define MSIX_ENTRY_SIZE    16u
#define MSIX_ENTRY_ADDR_LO 0u
#define MSIX_ENTRY_ADDR_HI 4u
#define MSIX_ENTRY_DATA    8u
#define MSIX_ENTRY_VCTRL   12u
#define MSIX_VCTRL_MASKED  0x1u /* bits 31:1 are reserved: read-modify-write them */

static uint32_t entry_off(uint16_t idx, uint32_t field)
{
    return (uint32_t)idx * MSIX_ENTRY_SIZE + field;
}

static void vctrl_set(const struct keel_pci_msix *mx, uint16_t idx, bool masked)
{
    uint32_t off = entry_off(idx, MSIX_ENTRY_VCTRL);
    uint32_t v = keel_region_read32(&mx->table, off);

    v = masked ? (v | MSIX_VCTRL_MASKED) : (v & ~MSIX_VCTRL_MASKED);
    keel_region_write32(&mx->table, off, v);
}

/* Decode the Table Offset/BIR register and check the table lies inside its (memory) BAR. */
static int table_location(const struct keel_hal *hal, struct keel_pci_addr a, uint32_t tbl,
                          uint16_t nent, uint64_t *phys)
{
    unsigned bir = tbl & MSIX_BIR_MASK;
    uint64_t off = tbl & ~MSIX_BIR_MASK, bytes = (uint64_t)nent * MSIX_ENTRY_SIZE;
    struct keel_pci_bar b;
    int rc;

    if (bir >= KEEL_PCI_BAR_COUNT)
        return KEEL_EPROTO;
    rc = keel_pci_bar_decode(hal, a, bir, &b);
    if (rc == KEEL_EINVAL)
        return KEEL_EPROTO; /* BIR names the upper half of a 64-bit BAR */
    if (rc != KEEL_OK)
        return rc;
    if (b.size == 0u || b.addr == 0u)
        return KEEL_ENODEV;
    if (b.is_io || off > b.size || bytes > b.size - off)
        return KEEL_EPROTO;
    *phys = b.addr + off;
    return KEEL_OK;
}

int keel_pci_msix_init(const struct keel_hal *hal, struct keel_pci_addr a, uint64_t cpu_offset,
                       struct keel_pci_msix *mx)
{
    uint32_t ctrl, tbl;
    uint64_t phys;
    uint16_t cap, i, nent;
    int rc;

    if (mx == NULL)
        return KEEL_EINVAL;
    *mx = (struct keel_pci_msix){0};
    rc = keel_pci_find_cap(hal, a, KEEL_PCI_CAP_ID_MSIX, 0, &cap);
    if (rc == KEEL_OK)
        rc = keel_pci_read(hal, a, (uint16_t)(cap + MSIX_CTRL), 2, &ctrl);
    if (rc == KEEL_OK)
        rc = keel_pci_read(hal, a, (uint16_t)(cap + MSIX_TABLE), 4, &tbl);
    if (rc != KEEL_OK)
        return rc;
    nent = (uint16_t)((ctrl & MSIX_CTRL_SIZE_MASK) + 1u);
    rc = table_location(hal, a, tbl, nent, &phys);
    if (rc == KEEL_OK && phys > UINT64_MAX - cpu_offset)
        rc = KEEL_ERANGE;
    if (rc == KEEL_OK)
        rc = keel_pci_map_phys(hal, phys + cpu_offset, (uint64_t)nent * MSIX_ENTRY_SIZE, false,
                               &mx->table);
    /* The table is reached through the BAR: memory decode must be on. */
    if (rc == KEEL_OK)
        rc = keel_pci_enable(hal, a, KEEL_PCI_CMD_MEM, 0);
    if (rc != KEEL_OK)
        return rc;
    mx->cap_off = cap;
    mx->table_size = nent;
    for (i = 0; i < nent; i++)
        vctrl_set(mx, i, true);
    return KEEL_OK;
}

int keel_pci_msix_set(const struct keel_pci_msix *mx, uint16_t idx, uint64_t addr, uint32_t data)
{
    if (mx == NULL || mx->table.hal == NULL || idx >= mx->table_size)
        return KEEL_EINVAL;
    /*
     * PCIe base 6.1.4.5: changing Address or Data of an unmasked entry is undefined. Mask, write
     * the message, and make those stores reach the device before the unmask does.
     */
    vctrl_set(mx, idx, true);
    keel_region_write32(&mx->table, entry_off(idx, MSIX_ENTRY_ADDR_LO), (uint32_t)addr);
    keel_region_write32(&mx->table, entry_off(idx, MSIX_ENTRY_ADDR_HI), (uint32_t)(addr >> 32));
    keel_region_write32(&mx->table, entry_off(idx, MSIX_ENTRY_DATA), data);
    keel_wmb(mx->table.hal);
    vctrl_set(mx, idx, false);
    return KEEL_OK;
}

int keel_pci_msix_mask(const struct keel_pci_msix *mx, uint16_t idx, bool masked)
{
    if (mx == NULL || mx->table.hal == NULL || idx >= mx->table_size)
        return KEEL_EINVAL;
    vctrl_set(mx, idx, masked);
    return KEEL_OK;
}

int keel_pci_msix_enable(const struct keel_hal *hal, struct keel_pci_addr a,
                         const struct keel_pci_msix *mx, bool on)
{
    uint16_t off;
    uint32_t ctrl;
    int rc;

    if (mx == NULL || mx->cap_off == 0u)
        return KEEL_EINVAL;
    off = (uint16_t)(mx->cap_off + MSIX_CTRL);
    rc = keel_pci_read(hal, a, off, 2, &ctrl);
    if (rc != KEEL_OK)
        return rc;
    if (ctrl == 0xffffu)
        return KEEL_ENODEV;
    if (on)
        ctrl = (ctrl | MSIX_CTRL_ENABLE) & ~(uint32_t)MSIX_CTRL_FMASK;
    else
        ctrl &= ~(uint32_t)MSIX_CTRL_ENABLE;
    return keel_pci_write(hal, a, off, 2, ctrl);
}

static bool hal_has_msi(const struct keel_hal *hal)
{
    const struct keel_hal_ops *o = hal->ops;
    return o->irq_attach != NULL && o->irq_detach != NULL && o->irq_mask != NULL &&
           o->msi_compose != NULL;
}

int keel_pci_msix_attach(const struct keel_hal *hal, struct keel_pci_addr a,
                         const struct keel_pci_msix *mx, uint16_t idx, keel_irq_fn fn, void *arg,
                         uint32_t *handle)
{
    struct keel_irq_src src = {KEEL_IRQ_PCI_MSIX, a, idx, 0};
    uint64_t maddr;
    uint32_t h, mdata;
    int rc;

    if (hal == NULL || mx == NULL || fn == NULL || handle == NULL || idx >= mx->table_size)
        return KEEL_EINVAL;
    if (!hal_has_msi(hal))
        return KEEL_ENOTSUP;
    rc = hal->ops->irq_attach(hal->ctx, &src, fn, arg, &h);
    if (rc != KEEL_OK)
        return rc;
    rc = hal->ops->msi_compose(hal->ctx, h, &maddr, &mdata);
    if (rc != KEEL_OK) {
        hal->ops->irq_detach(hal->ctx, h);
        return rc;
    }
    /* Open the CPU side first, so a message the device sends right after the unmask is taken. */
    hal->ops->irq_mask(hal->ctx, h, false);
    rc = keel_pci_msix_set(mx, idx, maddr, mdata);
    if (rc != KEEL_OK) {
        hal->ops->irq_detach(hal->ctx, h);
        return rc;
    }
    *handle = h;
    return KEEL_OK;
}

int keel_pci_msix_detach(const struct keel_hal *hal, const struct keel_pci_msix *mx, uint16_t idx,
                         uint32_t handle)
{
    int rc;

    if (hal == NULL || hal->ops->irq_detach == NULL)
        return KEEL_EINVAL;
    rc = keel_pci_msix_mask(mx, idx, true);
    if (rc != KEEL_OK)
        return rc;
    hal->ops->irq_detach(hal->ctx, handle);
    return KEEL_OK;
}
