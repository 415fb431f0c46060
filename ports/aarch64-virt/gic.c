/* SPDX-License-Identifier: MIT */
/*
 * gic.c - the interrupt controller: GICv2 (distributor + memory-mapped CPU interface) with the
 * GICv2m MSI frame, or GICv3 (distributor + redistributor + system-register CPU interface), SPIs
 * only. virtio-mmio and PCIe INTx are SPIs from the device tree; each MSI/MSI-X vector gets its own
 * SPI from the v2m frame (a device's MSI write to MSI_SETSPI_NS raises it). GICv3's ITS (LPIs) is
 * not driven: under GICv3 irq_attach refuses the MSI kinds and drivers fall back to INTx or
 * polling. The handler acknowledges, dispatches and ends each interrupt; the HAL's irq_eoi has
 * nothing left.
 */
#include <keel/error.h>

#include "../common/irq_table.h"
#include "../common/port_internal.h"
#include "a64.h"

#define GICD_CTLR       0x000
#define GICD_TYPER      0x004
#define GICD_IGROUPR    0x080
#define GICD_ISENABLER  0x100
#define GICD_ICENABLER  0x180
#define GICD_ICPENDR    0x280
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR  0x800
#define GICD_ICFGR      0xc00
#define GICD_IROUTER    0x6000
#define GICD_CTLR_RWP   (1u << 31)
#define GICD_CTLR_ARE   (1u << 4)
#define GICD_CTLR_GRP1  (1u << 1)

#define GICC_CTLR 0x00
#define GICC_PMR  0x04
#define GICC_BPR  0x08
#define GICC_IAR  0x0c
#define GICC_EOIR 0x10

#define GICR_WAKER            0x14
#define GICR_SGI              0x10000
#define WAKER_SLEEP           (1u << 1)
#define WAKER_CHILDREN_ASLEEP (1u << 2)

#define V2M_MSI_TYPER     0x008
#define V2M_MSI_SETSPI_NS 0x040

#define SPI_FIRST      32u
#define INTID_SPURIOUS 1020u
#define PRIO_DEFAULT   0xa0u
#define MAX_INTID      1020u

static unsigned nlines; /* INTIDs the distributor implements */
static uint32_t v2m_base, v2m_count;
static uint8_t v2m_used[MAX_INTID / 8u];

static uint32_t gicd_rd(uint32_t off)
{
    return a64_rd32(a64_plat.gicd + off);
}
static void gicd_wr(uint32_t off, uint32_t v)
{
    a64_wr32(a64_plat.gicd + off, v);
}

static void gicd_wait_rwp(void)
{
    unsigned i;

    for (i = 0; i < 1000000u && (gicd_rd(GICD_CTLR) & GICD_CTLR_RWP); i++)
        ;
}

static void v3_cpu_init(void)
{
    uint64_t rd = a64_plat.gicr, sre;
    unsigned i;

    /* Wake this CPU's redistributor (GICv3 9.11.39 GICR_WAKER). */
    a64_wr32(rd + GICR_WAKER, a64_rd32(rd + GICR_WAKER) & ~WAKER_SLEEP);
    for (i = 0; i < 1000000u && (a64_rd32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP); i++)
        ;
    a64_wr32(rd + GICR_SGI + GICD_ICENABLER, 0xffffffffu);
    a64_wr32(rd + GICR_SGI + GICD_IGROUPR, 0xffffffffu);
    /* System-register CPU interface: ICC_SRE_EL1, ICC_PMR_EL1, ICC_BPR1_EL1, ICC_IGRPEN1_EL1. */
    sre = A64_READ_SYSREG(S3_0_C12_C12_5);
    A64_WRITE_SYSREG(S3_0_C12_C12_5, sre | 1u);
    isb();
    A64_WRITE_SYSREG(S3_0_C4_C6_0, 0xf0u);
    A64_WRITE_SYSREG(S3_0_C12_C12_3, 0u);
    A64_WRITE_SYSREG(S3_0_C12_C12_7, 1u);
    isb();
}

static void v2m_init(void)
{
    uint32_t typer;

    if (a64_plat.v2m == 0u || a64_map_device(a64_plat.v2m, 0x1000) != KEEL_OK)
        return;
    typer = a64_rd32(a64_plat.v2m + V2M_MSI_TYPER);
    v2m_base = (typer >> 16) & 0x3ffu;
    v2m_count = typer & 0x3ffu;
    if (v2m_base < SPI_FIRST || v2m_base + v2m_count > nlines || v2m_count == 0u) {
        keel_port_printf("gic: GICv2m frame reports SPIs %u+%u: MSI disabled\n", v2m_base,
                         v2m_count);
        v2m_count = 0;
    }
}

int a64_gic_init(void)
{
    unsigned i;

    if (a64_map_device(a64_plat.gicd, 0x10000) != KEEL_OK)
        return KEEL_ENODEV;
    nlines = 32u * ((gicd_rd(GICD_TYPER) & 0x1fu) + 1u);
    if (nlines > MAX_INTID)
        nlines = MAX_INTID;
    gicd_wr(GICD_CTLR, 0);
    gicd_wait_rwp();
    for (i = SPI_FIRST; i < nlines; i += 32u) {
        gicd_wr(GICD_ICENABLER + i / 8u, 0xffffffffu);
        gicd_wr(GICD_ICPENDR + i / 8u, 0xffffffffu);
        /* GICv3 without security: group 1 is what IRQ delivers (group 0 would be FIQ). */
        gicd_wr(GICD_IGROUPR + i / 8u, a64_plat.gic_version == 3u ? 0xffffffffu : 0u);
    }
    if (a64_plat.gic_version == 3u) {
        if (a64_map_device(a64_plat.gicr, 0x20000) != KEEL_OK)
            return KEEL_ENODEV;
        gicd_wr(GICD_CTLR, GICD_CTLR_ARE);
        gicd_wait_rwp();
        gicd_wr(GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_GRP1);
        gicd_wait_rwp();
        v3_cpu_init();
    } else {
        if (a64_map_device(a64_plat.gicc, 0x2000) != KEEL_OK)
            return KEEL_ENODEV;
        gicd_wr(GICD_CTLR, 1);
        a64_wr32(a64_plat.gicc + GICC_PMR, 0xf0u);
        a64_wr32(a64_plat.gicc + GICC_BPR, 0);
        a64_wr32(a64_plat.gicc + GICC_CTLR, 1);
        v2m_init();
    }
    __asm__ volatile("msr daifclr, #2" ::: "memory"); /* IRQs on */
    return KEEL_OK;
}

bool a64_gic_has_msi(void)
{
    return v2m_count != 0u;
}

const char *a64_gic_name(void)
{
    if (a64_plat.gic_version == 3u)
        return "gicv3";
    return v2m_count != 0u ? "gicv2+v2m" : "gicv2";
}

static uint32_t ack(void)
{
    if (a64_plat.gic_version == 3u)
        return (uint32_t)A64_READ_SYSREG(S3_0_C12_C12_0); /* ICC_IAR1_EL1 */
    return a64_rd32(a64_plat.gicc + GICC_IAR);
}

static void eoi(uint32_t iar)
{
    if (a64_plat.gic_version == 3u) {
        A64_WRITE_SYSREG(S3_0_C12_C12_1, iar); /* ICC_EOIR1_EL1 */
        isb();
    } else {
        a64_wr32(a64_plat.gicc + GICC_EOIR, iar);
    }
}

void a64_gic_handle_irq(void)
{
    unsigned n;

    /* Drain what is pending, bounded so a stuck level source cannot starve the caller forever. */
    for (n = 0; n < 64u; n++) {
        uint32_t iar = ack(), intid = iar & 0xffffffu;

        if (intid >= INTID_SPURIOUS)
            return;
        (void)port_irq_dispatch(intid);
        eoi(iar);
    }
}

static void spi_configure(uint32_t intid, bool level)
{
    uint32_t reg = GICD_ICFGR + (intid / 16u) * 4u, shift = (intid % 16u) * 2u + 1u;
    uint32_t cfg = gicd_rd(reg);

    cfg = level ? cfg & ~(1u << shift) : cfg | (1u << shift);
    gicd_wr(reg, cfg);
    a64_wr8(a64_plat.gicd + GICD_IPRIORITYR + intid, PRIO_DEFAULT);
    if (a64_plat.gic_version == 3u)
        a64_wr64(a64_plat.gicd + GICD_IROUTER + 8u * intid, 0); /* affinity 0.0.0.0: this CPU */
    else
        a64_wr8(a64_plat.gicd + GICD_ITARGETSR + intid, 0x01u);
}

static void spi_enable(uint32_t intid, bool on)
{
    gicd_wr((on ? GICD_ISENABLER : GICD_ICENABLER) + (intid / 32u) * 4u, 1u << (intid % 32u));
    if (!on && a64_plat.gic_version == 3u)
        gicd_wait_rwp();
}

static int v2m_alloc(uint32_t *intid)
{
    uint32_t i;

    for (i = 0; i < v2m_count; i++) {
        uint32_t id = v2m_base + i;
        if (!(v2m_used[id / 8u] & (1u << (id % 8u)))) {
            v2m_used[id / 8u] = (uint8_t)(v2m_used[id / 8u] | (1u << (id % 8u)));
            *intid = id;
            return KEEL_OK;
        }
    }
    return KEEL_ENOSPC;
}

static bool is_msi(enum keel_irq_kind k)
{
    return k == KEEL_IRQ_PCI_MSI || k == KEEL_IRQ_PCI_MSIX;
}

int a64_irq_attach(void *ctx, const struct keel_irq_src *src, keel_irq_fn fn, void *arg,
                   uint32_t *handle)
{
    uint32_t intid, flags = src->flags, h;
    int rc;

    (void)ctx;
    if (fn == NULL || handle == NULL)
        return KEEL_EINVAL;
    switch (src->kind) {
    case KEEL_IRQ_LINE:
        intid = src->index;
        break;
    case KEEL_IRQ_PCI_INTX:
        if (src->index < 1u || src->index > 4u)
            return KEEL_EINVAL;
        rc = a64_pci_intx_spi(src->pci, (uint8_t)src->index, &intid, &flags);
        if (rc != KEEL_OK)
            return rc;
        break;
    case KEEL_IRQ_PCI_MSI:
    case KEEL_IRQ_PCI_MSIX:
        if (v2m_count == 0u)
            return KEEL_ENOTSUP;
        rc = v2m_alloc(&intid);
        if (rc != KEEL_OK)
            return rc;
        flags &= ~KEEL_IRQ_F_LEVEL; /* message-signalled: edge */
        break;
    default:
        return KEEL_ENOTSUP;
    }
    if (intid < SPI_FIRST || intid >= nlines)
        return KEEL_ENOTSUP;
    h = port_irq_slot_alloc(src->kind, intid, intid, flags, fn, arg);
    if (h == 0u) {
        if (is_msi(src->kind))
            v2m_used[intid / 8u] = (uint8_t)(v2m_used[intid / 8u] & ~(1u << (intid % 8u)));
        return KEEL_ENOSPC;
    }
    if (port_irq_line_users(intid, false) == 1u)
        spi_configure(intid, (flags & KEEL_IRQ_F_LEVEL) != 0u);
    *handle = h;
    return KEEL_OK;
}

void a64_irq_mask(void *ctx, uint32_t handle, bool masked)
{
    struct port_irq_slot *s = port_irq_slot_get(handle);
    uintptr_t st;

    (void)ctx;
    if (s == NULL)
        return;
    st = port_arch_irq_save();
    s->masked = masked;
    /* A shared SPI stays enabled while any of its sources wants interrupts. */
    spi_enable(s->line, port_irq_line_users(s->line, true) != 0u);
    port_arch_irq_restore(st);
}

void a64_irq_detach(void *ctx, uint32_t handle)
{
    struct port_irq_slot *s = port_irq_slot_get(handle);
    uint32_t intid;
    bool msi;

    if (s == NULL)
        return;
    a64_irq_mask(ctx, handle, true);
    intid = s->line;
    msi = is_msi(s->kind);
    port_irq_slot_free(handle);
    if (msi)
        v2m_used[intid / 8u] = (uint8_t)(v2m_used[intid / 8u] & ~(1u << (intid % 8u)));
}

void a64_irq_eoi(void *ctx, uint32_t handle)
{
    /* The handler loop already wrote EOIR after dispatch. */
    (void)ctx;
    (void)handle;
}

int a64_msi_compose(void *ctx, uint32_t handle, uint64_t *addr, uint32_t *data)
{
    struct port_irq_slot *s = port_irq_slot_get(handle);

    (void)ctx;
    if (s == NULL || !is_msi(s->kind) || addr == NULL || data == NULL)
        return KEEL_EINVAL;
    /* GICv2m: the device writes the SPI number to MSI_SETSPI_NS (bus address == physical). */
    *addr = a64_plat.v2m + V2M_MSI_SETSPI_NS;
    *data = s->line;
    return KEEL_OK;
}
