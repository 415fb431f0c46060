/* SPDX-License-Identifier: MIT */
/*
 * apic.c - interrupt delivery: the legacy 8259 pair remapped and masked, the local APIC enabled
 * (spurious vector 0xff), the IOAPIC for PCI INTx and platform lines, and MSI/MSI-X messages aimed
 * at the boot CPU's LAPIC. Each MSI/MSI-X attach gets its own vector; INTx sources on one IOAPIC
 * pin share that pin's vector. The dispatcher sends the LAPIC EOI after the handlers ran, so the
 * HAL's irq_eoi has nothing left to do on x86.
 */
#include <keel/error.h>

#include "../common/irq_table.h"
#include "../common/pci_setup.h"
#include "../common/port_internal.h"
#include "x86.h"

#define MSR_APIC_BASE    0x1b
#define APIC_BASE_ENABLE 0x800u
#define LAPIC_ID         0x020
#define LAPIC_TPR        0x080
#define LAPIC_EOI        0x0b0
#define LAPIC_SVR        0x0f0
#define LAPIC_LVT_LINT0  0x350
#define LAPIC_LVT_LINT1  0x360
#define LVT_MASKED       0x10000u
#define SVR_ENABLE       0x100u
#define VEC_SPURIOUS     0xffu

#define IOAPIC_DEFAULT_BASE 0xfec00000ull
#define IOAPIC_REGSEL       0x00
#define IOAPIC_WIN          0x10
#define IOAPIC_REG_VER      0x01
#define IOAPIC_REDTBL(n)    (0x10u + 2u * (n))
#define RTE_LEVEL           0x8000u
#define RTE_MASKED          0x10000u

#define MSI_ADDR_BASE 0xfee00000ull
#define VEC_FIRST     0x30u
#define VEC_LAST      0xefu

/* ICH9 (q35): PIRQ[A-H] reach IOAPIC inputs 16-23 in APIC mode. */
#define Q35_PIRQ_GSI_BASE   16u
#define Q35_LPC_SLOT        25u /* slots 25..31 are chipset functions with their own routing registers */
#define Q35_DMI_BRIDGE_SLOT 30u
#define PIIX_PIRQRC         0x60 /* PIIX3 00:01.0: PIRQ[A-D] route control, bit 7 = disabled */

enum x86_chipset x86_chipset;

static uint64_t lapic_base;
static uint32_t lapic_id;
static uint32_t ioapic_pins;
static uint8_t vector_users[256];

static uint32_t lapic_rd(uint32_t reg)
{
    return mmio_rd32(lapic_base + reg);
}
static void lapic_wr(uint32_t reg, uint32_t v)
{
    mmio_wr32(lapic_base + reg, v);
}

static uint32_t ioapic_rd(uint32_t reg)
{
    mmio_wr32(IOAPIC_DEFAULT_BASE + IOAPIC_REGSEL, reg);
    return mmio_rd32(IOAPIC_DEFAULT_BASE + IOAPIC_WIN);
}

static void ioapic_wr(uint32_t reg, uint32_t v)
{
    mmio_wr32(IOAPIC_DEFAULT_BASE + IOAPIC_REGSEL, reg);
    mmio_wr32(IOAPIC_DEFAULT_BASE + IOAPIC_WIN, v);
}

static void pic_disable(void)
{
    /* ICW1-4: remap to vectors 0x20-0x2f (off the exception vectors), then mask every line. */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0x20);
    outb(0xa1, 0x28);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void x86_apic_init(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    uint32_t ver, i;

    pic_disable();
    if (!(base & APIC_BASE_ENABLE))
        port_panic("local APIC disabled in IA32_APIC_BASE");
    lapic_base = base & 0x000ffffffffff000ull;
    lapic_id = lapic_rd(LAPIC_ID) >> 24;
    lapic_wr(LAPIC_TPR, 0);
    lapic_wr(LAPIC_LVT_LINT0, LVT_MASKED); /* ExtINT from the (masked) 8259 */
    lapic_wr(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
    /* The IOAPIC sits at its architectural default on QEMU's x86 machines (no ACPI parsing). */
    ver = ioapic_rd(IOAPIC_REG_VER);
    ioapic_pins = ((ver >> 16) & 0xffu) + 1u;
    if (ver == 0xffffffffu || ioapic_pins > 240u)
        ioapic_pins = 0;
    for (i = 0; i < ioapic_pins; i++) {
        ioapic_wr(IOAPIC_REDTBL(i), RTE_MASKED);
        ioapic_wr(IOAPIC_REDTBL(i) + 1u, 0);
    }
}

bool x86_ioapic_present(void)
{
    return ioapic_pins != 0u;
}

void x86_irq_vector(uint8_t vector)
{
    (void)port_irq_dispatch(vector);
    lapic_wr(LAPIC_EOI, 0);
}

static int vector_alloc(uint8_t *out)
{
    unsigned v;

    for (v = VEC_FIRST; v <= VEC_LAST; v++) {
        if (vector_users[v] == 0u) {
            *out = (uint8_t)v;
            return KEEL_OK;
        }
    }
    return KEEL_ENOSPC;
}

/* q35: INTx of a root-bus slot to an IOAPIC input (QEMU ich9 defaults, matching its ACPI _PRT). */
static int q35_gsi(uint8_t slot, uint8_t pin, uint32_t *gsi)
{
    uint32_t pirq;

    if (slot < Q35_LPC_SLOT)
        pirq = ((slot + pin - 1u) & 3u) + 4u; /* PIRQ[E-H], rotated by slot */
    else if (slot == Q35_DMI_BRIDGE_SLOT)
        pirq = pin - 1u + 4u;
    else
        pirq = pin - 1u; /* D25IR..D31IR reset value 0x3210: INTA->PIRQA ... */
    *gsi = Q35_PIRQ_GSI_BASE + pirq;
    return KEEL_OK;
}

/* i440fx/PIIX3: the PIRQ is rotated by slot; its ISA IRQ (= IOAPIC input) is in PIRQRC. */
static int piix_gsi(uint8_t slot, uint8_t pin, uint32_t *gsi)
{
    static const uint8_t pick[4] = {10, 10, 11, 11};
    struct keel_pci_addr isa = {0, 0, 1, 0};
    uint32_t pirq = (pin - 1u + slot - 1u) & 3u, v;

    if (x86_pci_cfg_read(NULL, isa, (uint16_t)(PIIX_PIRQRC + pirq), 1, &v) != KEEL_OK)
        return KEEL_ENOTSUP;
    if (v & 0x80u) { /* not routed by firmware: route it now */
        v = pick[pirq];
        if (x86_pci_cfg_write(NULL, isa, (uint16_t)(PIIX_PIRQRC + pirq), 1, v) != KEEL_OK)
            return KEEL_ENOTSUP;
    }
    *gsi = v & 0x0fu;
    return KEEL_OK;
}

static int intx_gsi(const struct keel_irq_src *src, uint32_t *gsi)
{
    uint8_t root_dev, root_pin;
    int rc;

    if (src->index < 1u || src->index > 4u)
        return KEEL_EINVAL;
    rc = port_pci_intx_root(0, src->pci.bus, src->pci.dev, (uint8_t)src->index, &root_dev,
                            &root_pin);
    if (rc != KEEL_OK)
        return rc;
    switch (x86_chipset) {
    case X86_CHIPSET_Q35:
        return q35_gsi(root_dev, root_pin, gsi);
    case X86_CHIPSET_I440FX:
        return piix_gsi(root_dev, root_pin, gsi);
    default:
        return KEEL_ENOTSUP;
    }
}

static void rte_program(uint32_t gsi, uint8_t vector, bool level, bool masked)
{
    ioapic_wr(IOAPIC_REDTBL(gsi) + 1u, lapic_id << 24);
    ioapic_wr(IOAPIC_REDTBL(gsi), vector | (level ? RTE_LEVEL : 0u) | (masked ? RTE_MASKED : 0u));
}

/* An existing vector for a line input, so sources sharing an IOAPIC pin share its vector. */
static bool vector_of_input(uint32_t gsi, uint8_t *vector)
{
    uint32_t h;

    for (h = 1; h <= PORT_IRQ_SLOTS; h++) {
        struct port_irq_slot *s = port_irq_slot_get(h);
        if (s != NULL && (s->kind == KEEL_IRQ_PCI_INTX || s->kind == KEEL_IRQ_LINE) &&
            s->input == gsi) {
            *vector = (uint8_t)s->line;
            return true;
        }
    }
    return false;
}

int x86_irq_attach(void *ctx, const struct keel_irq_src *src, keel_irq_fn fn, void *arg,
                   uint32_t *handle)
{
    uint32_t gsi = 0, flags = src->flags, h;
    uint8_t vector;
    bool line;
    int rc;

    (void)ctx;
    if (fn == NULL || handle == NULL)
        return KEEL_EINVAL;
    switch (src->kind) {
    case KEEL_IRQ_PCI_MSIX:
    case KEEL_IRQ_PCI_MSI:
        line = false;
        break;
    case KEEL_IRQ_PCI_INTX:
        rc = intx_gsi(src, &gsi);
        if (rc != KEEL_OK)
            return rc;
        flags |= KEEL_IRQ_F_LEVEL;
        line = true;
        break;
    case KEEL_IRQ_LINE:
        gsi = src->index;
        line = true;
        break;
    default:
        return KEEL_ENOTSUP;
    }
    if (line && gsi >= ioapic_pins)
        return KEEL_ENOTSUP;
    if (!line || !vector_of_input(gsi, &vector)) {
        rc = vector_alloc(&vector);
        if (rc != KEEL_OK)
            return rc;
    }
    h = port_irq_slot_alloc(src->kind, vector, gsi, flags, fn, arg);
    if (h == 0u)
        return KEEL_ENOSPC;
    vector_users[vector]++;
    if (line && vector_users[vector] == 1u)
        rte_program(gsi, vector, (flags & KEEL_IRQ_F_LEVEL) != 0u, true);
    *handle = h;
    return KEEL_OK;
}

static bool slot_is_line(const struct port_irq_slot *s)
{
    return s->kind == KEEL_IRQ_PCI_INTX || s->kind == KEEL_IRQ_LINE;
}

void x86_irq_mask(void *ctx, uint32_t handle, bool masked)
{
    struct port_irq_slot *s = port_irq_slot_get(handle);
    uintptr_t st;

    (void)ctx;
    if (s == NULL)
        return;
    st = port_arch_irq_save();
    s->masked = masked;
    /* An IOAPIC pin is open while any source sharing it wants interrupts. */
    if (slot_is_line(s))
        rte_program(s->input, (uint8_t)s->line, (s->flags & KEEL_IRQ_F_LEVEL) != 0u,
                    port_irq_line_users(s->line, true) == 0u);
    port_arch_irq_restore(st);
}

void x86_irq_detach(void *ctx, uint32_t handle)
{
    struct port_irq_slot *s = port_irq_slot_get(handle);
    uint8_t vector;

    if (s == NULL)
        return;
    x86_irq_mask(ctx, handle, true);
    vector = (uint8_t)s->line;
    port_irq_slot_free(handle);
    if (vector_users[vector] > 0u)
        vector_users[vector]--;
}

void x86_irq_eoi(void *ctx, uint32_t handle)
{
    /* The dispatcher already wrote the LAPIC EOI when the handlers returned; a level source that
     * is still asserted re-fires once its pin is unmasked, which is what the contract wants. */
    (void)ctx;
    (void)handle;
}

int x86_msi_compose(void *ctx, uint32_t handle, uint64_t *addr, uint32_t *data)
{
    struct port_irq_slot *s = port_irq_slot_get(handle);

    (void)ctx;
    if (s == NULL || slot_is_line(s) || addr == NULL || data == NULL)
        return KEEL_EINVAL;
    /* Intel SDM vol. 3 11.11: physical destination, fixed delivery, edge. */
    *addr = MSI_ADDR_BASE | ((uint64_t)lapic_id << 12);
    *data = s->line;
    return KEEL_OK;
}
