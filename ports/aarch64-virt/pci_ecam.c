/* SPDX-License-Identifier: MIT */
/*
 * pci_ecam.c - PCIe configuration through ECAM (PCIe base 7.2.2: bus << 20 | dev << 15 | fn << 12),
 * and INTx routing through the host bridge's device tree interrupt-map (Devicetree Specification
 * 2.4.3, PCI bus binding): the swizzled root-bus device and pin, masked by interrupt-map-mask,
 * select a GIC interrupt specifier.
 */
#include <keel/error.h>

#include "../common/pci_setup.h"
#include "../common/port_internal.h"
#include "a64.h"

#define GIC_SPI              0u
#define GIC_FLAGS_LEVEL_MASK 0xcu /* interrupt specifier flags 4/8: level high/low */
#define MAP_MAX_ENTRIES      256u

static uint64_t ecam;
static uint8_t ecam_bus_first, ecam_bus_last;

void a64_pci_set_ecam(uint64_t phys, uint8_t bus_first, uint8_t bus_last)
{
    ecam = phys;
    ecam_bus_first = bus_first;
    ecam_bus_last = bus_last;
}

static bool args_ok(struct keel_pci_addr a, uint16_t off, uint8_t width)
{
    if (ecam == 0u || a.segment != 0u || a.dev > 31u || a.fn > 7u)
        return false;
    if (width != 1u && width != 2u && width != 4u)
        return false;
    return (off & (width - 1u)) == 0u && off < 4096u;
}

static uint64_t cfg_addr(struct keel_pci_addr a, uint16_t off)
{
    return ecam + ((uint64_t)(a.bus - ecam_bus_first) << 20) + ((uint64_t)a.dev << 15) +
           ((uint64_t)a.fn << 12) + off;
}

int a64_pci_cfg_read(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t *v)
{
    uint64_t p;

    (void)ctx;
    if (v == NULL || !args_ok(a, off, width))
        return KEEL_EINVAL;
    if (a.bus < ecam_bus_first || a.bus > ecam_bus_last) {
        *v = 0xffffffffu;
        return KEEL_OK;
    }
    p = cfg_addr(a, off);
    *v = width == 1u ? a64_rd8(p) : width == 2u ? a64_rd16(p) : a64_rd32(p);
    return KEEL_OK;
}

int a64_pci_cfg_write(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t v)
{
    uint64_t p;

    (void)ctx;
    if (!args_ok(a, off, width))
        return KEEL_EINVAL;
    if (a.bus < ecam_bus_first || a.bus > ecam_bus_last)
        return KEEL_ENODEV;
    p = cfg_addr(a, off);
    if (width == 1u)
        a64_wr8(p, (uint8_t)v);
    else if (width == 2u)
        a64_wr16(p, (uint16_t)v);
    else
        a64_wr32(p, v);
    return KEEL_OK;
}

/* #address-cells and #interrupt-cells of the interrupt parent `phandle`. */
static int parent_cells(uint32_t phandle, uint32_t *addr_cells, uint32_t *int_cells)
{
    const struct fdt *f = &a64_plat.fdt;
    uint32_t node;

    if (fdt_node_by_phandle(f, phandle, &node) != KEEL_OK)
        return KEEL_ENOENT;
    if (fdt_getprop_u32(f, node, "#interrupt-cells", int_cells) != KEEL_OK)
        return KEEL_EBADMSG;
    if (fdt_getprop_u32(f, node, "#address-cells", addr_cells) != KEEL_OK)
        *addr_cells = 0;
    if (*addr_cells > 3u || *int_cells == 0u || *int_cells > 4u)
        return KEEL_EBADMSG;
    return KEEL_OK;
}

/* Look (phys.hi, pin) up in interrupt-map; a GIC SPI specifier gives the INTID and trigger. */
static int map_lookup(uint32_t phys_hi, uint32_t pin, uint32_t *intid, uint32_t *flags)
{
    const struct fdt *f = &a64_plat.fdt;
    const uint8_t *map, *mask;
    uint32_t map_len, mask_len, off = 0, n;

    if (a64_plat.pcie_node == UINT32_MAX ||
        fdt_getprop(f, a64_plat.pcie_node, "interrupt-map", &map, &map_len) != KEEL_OK)
        return KEEL_ENOTSUP;
    if (fdt_getprop(f, a64_plat.pcie_node, "interrupt-map-mask", &mask, &mask_len) != KEEL_OK ||
        mask_len != 16u)
        return KEEL_EBADMSG;
    phys_hi &= fdt_be32(mask);
    pin &= fdt_be32(mask + 12);
    /* Entry: child unit address (3 cells), child pin (1), parent phandle (1), parent unit
     * address (#address-cells of the parent), parent specifier (#interrupt-cells). */
    for (n = 0; n < MAP_MAX_ENTRIES && map_len - off >= 20u; n++) {
        uint32_t c_hi = fdt_be32(map + off), c_pin = fdt_be32(map + off + 12);
        uint32_t ph = fdt_be32(map + off + 16), acells, icells, spec;

        if (parent_cells(ph, &acells, &icells) != KEEL_OK)
            return KEEL_EBADMSG;
        spec = off + 20u + 4u * acells;
        if (spec > map_len || 4u * icells > map_len - spec)
            return KEEL_EBADMSG;
        if (c_hi == phys_hi && c_pin == pin) {
            if (ph != a64_plat.gic_phandle || icells != 3u || fdt_be32(map + spec) != GIC_SPI)
                return KEEL_ENOTSUP;
            *intid = 32u + fdt_be32(map + spec + 4);
            *flags = (fdt_be32(map + spec + 8) & GIC_FLAGS_LEVEL_MASK) ? KEEL_IRQ_F_LEVEL : 0u;
            return KEEL_OK;
        }
        off = spec + 4u * icells;
    }
    return KEEL_ENOENT;
}

int a64_pci_intx_spi(struct keel_pci_addr a, uint8_t pin, uint32_t *intid, uint32_t *flags)
{
    uint8_t root_dev, root_pin;
    int rc = port_pci_intx_root(0, a.bus, a.dev, pin, &root_dev, &root_pin);

    if (rc != KEEL_OK)
        return rc;
    /* phys.hi of a root-bus function: bus << 16 | dev << 11 | fn << 8 (the mask keeps dev). */
    return map_lookup(((uint32_t)ecam_bus_first << 16) | ((uint32_t)root_dev << 11), root_pin,
                      intid, flags);
}
