/* SPDX-License-Identifier: MIT */
/*
 * pci_cfg.c - PCI configuration access: ECAM (memory-mapped, 4 KiB per function) when the chipset
 * has it enabled, else configuration mechanism #1 through ports 0xCF8/0xCFC (256 bytes per
 * function). Mechanism #1 is an address write then a data access, so it runs with interrupts off.
 */
#include <keel/error.h>

#include "../common/port_internal.h"
#include "x86.h"

#define CF8_ADDR   0xcf8
#define CF8_DATA   0xcfc
#define CF8_ENABLE 0x80000000u

static uint64_t ecam;
static uint8_t ecam_bus_last;

void x86_pci_set_ecam(uint64_t phys, uint8_t bus_last)
{
    ecam = phys;
    ecam_bus_last = bus_last;
}

static bool args_ok(struct keel_pci_addr a, uint16_t off, uint8_t width)
{
    if (a.segment != 0u || a.dev > 31u || a.fn > 7u)
        return false;
    if (width != 1u && width != 2u && width != 4u)
        return false;
    return (off & (width - 1u)) == 0u && off < (ecam != 0u ? 4096u : 256u);
}

static uint64_t ecam_addr(struct keel_pci_addr a, uint16_t off)
{
    return ecam + ((uint64_t)a.bus << 20) + ((uint64_t)a.dev << 15) + ((uint64_t)a.fn << 12) + off;
}

static uint32_t cf8_addr(struct keel_pci_addr a, uint16_t off)
{
    return CF8_ENABLE | ((uint32_t)a.bus << 16) | ((uint32_t)a.dev << 11) | ((uint32_t)a.fn << 8) |
           (off & 0xfcu);
}

int x86_pci_cfg_read(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t *v)
{
    uintptr_t st;

    (void)ctx;
    if (v == NULL || !args_ok(a, off, width))
        return KEEL_EINVAL;
    if (ecam != 0u) {
        uint64_t p;

        if (a.bus > ecam_bus_last) {
            *v = 0xffffffffu; /* outside the decoded bus range: nothing answers */
            return KEEL_OK;
        }
        p = ecam_addr(a, off);
        if (width == 1u)
            *v = *(volatile uint8_t *)(uintptr_t)p;
        else if (width == 2u)
            *v = *(volatile uint16_t *)(uintptr_t)p;
        else
            *v = *(volatile uint32_t *)(uintptr_t)p;
        return KEEL_OK;
    }
    st = port_arch_irq_save();
    outl(CF8_ADDR, cf8_addr(a, off));
    if (width == 1u)
        *v = inb((uint16_t)(CF8_DATA + (off & 3u)));
    else if (width == 2u)
        *v = inw((uint16_t)(CF8_DATA + (off & 2u)));
    else
        *v = inl(CF8_DATA);
    port_arch_irq_restore(st);
    return KEEL_OK;
}

int x86_pci_cfg_write(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t v)
{
    uintptr_t st;

    (void)ctx;
    if (!args_ok(a, off, width))
        return KEEL_EINVAL;
    if (ecam != 0u) {
        uint64_t p;

        if (a.bus > ecam_bus_last)
            return KEEL_ENODEV;
        p = ecam_addr(a, off);
        if (width == 1u)
            *(volatile uint8_t *)(uintptr_t)p = (uint8_t)v;
        else if (width == 2u)
            *(volatile uint16_t *)(uintptr_t)p = (uint16_t)v;
        else
            *(volatile uint32_t *)(uintptr_t)p = v;
        return KEEL_OK;
    }
    st = port_arch_irq_save();
    outl(CF8_ADDR, cf8_addr(a, off));
    if (width == 1u)
        outb((uint16_t)(CF8_DATA + (off & 3u)), (uint8_t)v);
    else if (width == 2u)
        outw((uint16_t)(CF8_DATA + (off & 2u)), (uint16_t)v);
    else
        outl(CF8_DATA, v);
    port_arch_irq_restore(st);
    return KEEL_OK;
}
