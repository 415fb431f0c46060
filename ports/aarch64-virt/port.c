/* SPDX-License-Identifier: MIT */
/*
 * port.c - AArch64 QEMU virt port: boot sequence, the device tree (memory, UART, GIC, virtio-mmio,
 * the PCIe host's ECAM, bus range, windows and interrupt map, /chosen/bootargs), and the keel_port
 * description. Everything platform-specific comes from the tree; the constants below are only the
 * fallbacks QEMU's documented layout gives when a property is missing.
 */
#include <keel/error.h>
#include <keel/str.h>

#include "../common/dma_pool.h"
#include "../common/pci_setup.h"
#include "../common/port_internal.h"
#include "a64.h"

#define DTB_DEFAULT     0x40000000u /* ELF boot: QEMU leaves x0 = 0 and the tree at the base of RAM */
#define DTB_MAX         0x100000u
#define PCI_SPACE_IO    1u
#define PCI_SPACE_MEM32 2u
#define PCI_SPACE_MEM64 3u
#define PCI_IO_FIRST    0x1000u /* keep port 0 (reads as "unassigned") and the legacy range free */

extern char __dma_start[], __dma_end[];

struct a64_platform a64_plat;
static struct keel_port self;
static bool self_ready;

struct node_cells {
    uint32_t addr, size;
};

/* #address-cells / #size-cells a node gives its children (spec defaults 2 and 1). */
static struct node_cells cells_of(uint32_t node)
{
    struct node_cells c = {2, 1};

    if (node == UINT32_MAX)
        return c;
    (void)fdt_getprop_u32(&a64_plat.fdt, node, "#address-cells", &c.addr);
    (void)fdt_getprop_u32(&a64_plat.fdt, node, "#size-cells", &c.size);
    if (c.addr > 3u || c.size > 2u)
        c.addr = c.size = 0; /* nonsense: makes every reg read below fail */
    return c;
}

/* Entry `i` of a node's "reg", decoded with its parent's cell sizes. */
static int reg_entry(uint32_t node, uint32_t parent, unsigned i, uint64_t *base, uint64_t *size)
{
    struct node_cells c = cells_of(parent);
    const uint8_t *v;
    uint32_t len, stride = 4u * (c.addr + c.size);

    if (c.addr == 0u || fdt_getprop(&a64_plat.fdt, node, "reg", &v, &len) != KEEL_OK)
        return KEEL_ENOENT;
    if (stride == 0u || len / stride <= i)
        return KEEL_ENOENT;
    *base = fdt_cells(v + stride * i, c.addr);
    *size = c.size != 0u ? fdt_cells(v + stride * i + 4u * c.addr, c.size) : 0u;
    return KEEL_OK;
}

static bool is_gic(uint32_t node, unsigned *version)
{
    const struct fdt *f = &a64_plat.fdt;

    if (fdt_is_compatible(f, node, "arm,gic-v3")) {
        *version = 3;
        return true;
    }
    if (fdt_is_compatible(f, node, "arm,cortex-a15-gic") ||
        fdt_is_compatible(f, node, "arm,gic-400")) {
        *version = 2;
        return true;
    }
    return false;
}

static void note_memory(uint32_t node, uint32_t parent)
{
    uint64_t b, s;
    unsigned i;

    for (i = 0; a64_plat.nram < A64_MAX_RAM && reg_entry(node, parent, i, &b, &s) == KEEL_OK; i++) {
        a64_plat.ram_base[a64_plat.nram] = b;
        a64_plat.ram_size[a64_plat.nram] = s;
        a64_plat.nram++;
    }
}

static void note_chosen(uint32_t node)
{
    const uint8_t *v;
    uint32_t len, i;

    if (fdt_getprop(&a64_plat.fdt, node, "bootargs", &v, &len) != KEEL_OK)
        return;
    for (i = 0; i < len && i + 1u < sizeof(a64_plat.bootargs) && v[i] != '\0'; i++)
        a64_plat.bootargs[i] = (char)v[i];
    a64_plat.bootargs[i] = '\0';
}

static void note_gic(uint32_t node, uint32_t parent, unsigned version)
{
    uint64_t s;

    a64_plat.gic_version = version;
    (void)fdt_getprop_u32(&a64_plat.fdt, node, "phandle", &a64_plat.gic_phandle);
    (void)reg_entry(node, parent, 0, &a64_plat.gicd, &s);
    if (version == 3u)
        (void)reg_entry(node, parent, 1, &a64_plat.gicr, &s);
    else
        (void)reg_entry(node, parent, 1, &a64_plat.gicc, &s);
}

/* Pass 1, before the MMU is on: RAM, console, GIC, the PCIe host node, bootargs. */
static int platform_node(void *arg, const struct fdt *f, uint32_t node, uint32_t parent,
                         unsigned depth, const char *name)
{
    const uint8_t *v;
    uint32_t len;
    unsigned version;
    uint64_t s;

    (void)arg;
    if (depth == 1u && fdt_getprop(f, node, "device_type", &v, &len) == KEEL_OK && len == 7u &&
        keel_memcmp(v, "memory", 7) == 0)
        note_memory(node, parent);
    else if (depth == 1u && keel_streq(name, "chosen"))
        note_chosen(node);
    else if (is_gic(node, &version))
        note_gic(node, parent, version);
    else if (fdt_is_compatible(f, node, "arm,gic-v2m-frame") && a64_plat.v2m == 0u)
        (void)reg_entry(node, parent, 0, &a64_plat.v2m, &s);
    else if (fdt_is_compatible(f, node, "arm,pl011") && a64_plat.uart == 0u)
        (void)reg_entry(node, parent, 0, &a64_plat.uart, &s);
    else if (fdt_is_compatible(f, node, "pci-host-ecam-generic") &&
             a64_plat.pcie_node == UINT32_MAX)
        a64_plat.pcie_node = node;
    return 0;
}

void a64_boot(uint64_t dtb)
{
    int rc;

    if (dtb == 0u)
        dtb = DTB_DEFAULT;
    a64_plat.pcie_node = UINT32_MAX;
    /* The MMU is still off: memory is Device-nGnRnE, and the strict-align build keeps every
     * access of the parser aligned, so reading the tree now is safe. */
    rc = fdt_init(&a64_plat.fdt, (const void *)(uintptr_t)dtb, DTB_MAX);
    if (rc != KEEL_OK)
        port_panic("no valid device tree at 0x%llx", (unsigned long long)dtb);
    rc = fdt_walk(&a64_plat.fdt, platform_node, NULL);
    if (rc != KEEL_OK)
        port_panic("malformed device tree (%d)", rc);
    if (a64_plat.uart != 0u)
        a64_uart_set_base(a64_plat.uart);
    if (a64_plat.nram == 0u)
        port_panic("device tree has no memory node");
    a64_mmu_init();
    a64_timer_init();
    if (a64_plat.gic_version == 0u || a64_gic_init() != KEEL_OK)
        port_panic("no usable GIC in the device tree");
    port_dma_pool_init(__dma_start, (keel_bus_addr_t)(uintptr_t)__dma_start,
                       (size_t)(__dma_end - __dma_start));
    rc = main();
    keel_port_exit(rc == 0 ? KEEL_PORT_EXIT_PASS : KEEL_PORT_EXIT_FAIL);
}

/* ---- keel_port_init: PCIe host and virtio-mmio ------------------------------------------------
 */

/* "ranges" of the PCIe host: (phys.hi, pci address (2), CPU address (parent cells), size (2)). */
static int pcie_windows(struct keel_port_pci_host *h, uint32_t parent)
{
    struct node_cells pc = cells_of(parent);
    const uint8_t *v;
    uint32_t len, stride = 4u * (3u + pc.addr + 2u), off;

    if (pc.addr == 0u ||
        fdt_getprop(&a64_plat.fdt, a64_plat.pcie_node, "ranges", &v, &len) != KEEL_OK)
        return KEEL_ENOENT;
    for (off = 0; len - off >= stride; off += stride) {
        uint32_t space = (fdt_be32(v + off) >> 24) & 3u;
        uint64_t pci = fdt_cells(v + off + 4, 2);
        uint64_t cpu = fdt_cells(v + off + 12, pc.addr);
        uint64_t size = fdt_cells(v + off + 12 + 4u * pc.addr, 2);
        struct keel_pci_window w = {pci, size, pci, cpu - pci};

        if (space == PCI_SPACE_IO) {
            if (size > PCI_IO_FIRST) { /* never hand out port 0 */
                w.base = pci + PCI_IO_FIRST;
                w.size = size - PCI_IO_FIRST;
                w.next = w.base;
            }
            h->windows.io = w;
        } else if (space == PCI_SPACE_MEM32) {
            h->windows.mem32 = w;
        } else if (space == PCI_SPACE_MEM64) {
            h->windows.mem64 = w;
        }
    }
    return KEEL_OK;
}

struct parent_find {
    uint32_t target, parent;
};

static int find_parent(void *arg, const struct fdt *f, uint32_t node, uint32_t parent,
                       unsigned depth, const char *name)
{
    struct parent_find *p = arg;

    (void)f;
    (void)depth;
    (void)name;
    if (node == p->target) {
        p->parent = parent;
        return 1;
    }
    return 0;
}

static int describe_pcie(struct keel_port *p)
{
    struct keel_port_pci_host *h = &p->pci[0];
    struct parent_find pf = {a64_plat.pcie_node, UINT32_MAX};
    const uint8_t *v;
    uint32_t len;
    uint64_t size;
    int rc;

    if (a64_plat.pcie_node == UINT32_MAX)
        return KEEL_OK; /* no PCIe: fine, virtio-mmio only */
    if (fdt_walk(&a64_plat.fdt, find_parent, &pf) != 1)
        return KEEL_EBADMSG;
    h->segment = 0;
    h->bus_first = 0;
    h->bus_last = 255;
    if (fdt_getprop(&a64_plat.fdt, a64_plat.pcie_node, "bus-range", &v, &len) == KEEL_OK &&
        len == 8u && fdt_be32(v) <= fdt_be32(v + 4) && fdt_be32(v + 4) <= 255u) {
        h->bus_first = (uint8_t)fdt_be32(v);
        h->bus_last = (uint8_t)fdt_be32(v + 4);
    }
    rc = reg_entry(a64_plat.pcie_node, pf.parent, 0, &h->ecam_phys, &size);
    if (rc != KEEL_OK)
        return rc;
    /* ECAM holds 1 MiB per bus: never believe a bus range the window cannot hold. */
    if (size < ((uint64_t)(h->bus_last - h->bus_first) + 1u) << 20)
        h->bus_last = (uint8_t)(h->bus_first + (size >> 20) - 1u);
    rc = a64_map_device(h->ecam_phys, size);
    if (rc == KEEL_OK)
        rc = pcie_windows(h, pf.parent);
    if (rc != KEEL_OK)
        return rc;
    a64_pci_set_ecam(h->ecam_phys, h->bus_first, h->bus_last);
    p->npci = 1;
    return port_pci_setup(&p->hal, h, 0);
}

struct mmio_scan {
    struct keel_port *port;
};

static int mmio_node(void *arg, const struct fdt *f, uint32_t node, uint32_t parent, unsigned depth,
                     const char *name)
{
    struct keel_port *p = ((struct mmio_scan *)arg)->port;
    struct keel_port_mmio_slot m;
    const uint8_t *v;
    uint32_t len;
    unsigned i;

    (void)depth;
    (void)name;
    if (!fdt_is_compatible(f, node, "virtio,mmio") || p->nmmio >= KEEL_PORT_MAX_MMIO_SLOTS)
        return 0;
    if (reg_entry(node, parent, 0, &m.phys, &m.size) != KEEL_OK)
        return 0;
    /* interrupts = <type number flags> for the GIC: SPI n is INTID 32 + n. */
    if (fdt_getprop(f, node, "interrupts", &v, &len) != KEEL_OK || len != 12u || fdt_be32(v) != 0u)
        return 0;
    m.irq = 32u + fdt_be32(v + 4);
    m.irq_flags = (fdt_be32(v + 8) & 0xcu) ? KEEL_IRQ_F_LEVEL : 0u;
    /* Keep the list sorted by address, so slot n is the n-th window (0x0a000000 + n * 0x200). */
    for (i = p->nmmio; i > 0u && p->mmio[i - 1u].phys > m.phys; i--)
        p->mmio[i] = p->mmio[i - 1u];
    p->mmio[i] = m;
    p->nmmio++;
    return 0;
}

static uint64_t ram_total(void)
{
    uint64_t t = 0;
    unsigned i;

    for (i = 0; i < a64_plat.nram; i++)
        t += a64_plat.ram_size[i];
    return t;
}

static int describe(struct keel_port *p)
{
    struct mmio_scan ms = {p};
    unsigned i;
    int rc;

    p->hal.ops = &a64_hal_ops;
    p->hal.ctx = NULL;
    p->name = "aarch64-virt";
    p->arch = "aarch64";
    p->machine = "virt";
    p->firmware = "none";
    p->irqchip = a64_gic_name();
    p->msi = a64_gic_has_msi();
    p->cmdline = a64_plat.bootargs;
    p->ram_bytes = ram_total();
    p->clock_hz = a64_timer_hz();
    p->dma_bus = (keel_bus_addr_t)(uintptr_t)__dma_start;
    p->dma_size = (uint64_t)(__dma_end - __dma_start);
    rc = fdt_walk(&a64_plat.fdt, mmio_node, &ms);
    if (rc != KEEL_OK)
        return rc;
    for (i = 0; i < p->nmmio; i++) {
        rc = a64_map_device(p->mmio[i].phys, p->mmio[i].size);
        if (rc != KEEL_OK)
            return rc;
    }
    rc = describe_pcie(p);
    if (rc != KEEL_OK)
        keel_port_printf("port: PCIe setup failed (%d)\n", rc);
    return rc;
}

int keel_port_init(struct keel_port *port)
{
    int rc;

    if (port == NULL)
        return KEEL_EINVAL;
    if (!self_ready) {
        rc = describe(&self);
        if (rc != KEEL_OK)
            return rc;
        self_ready = true;
    }
    *port = self;
    return KEEL_OK;
}
