/* SPDX-License-Identifier: MIT */
/*
 * pciinfo - the first thing to run on a new port: prints the platform, every PCI function with its
 * BARs after the port's assignment, and every virtio-mmio slot holding a device; reads a register
 * through each NVMe controller's BAR0 to show the mapping works; then checks what every port must
 * guarantee: a HAL that passes keel_hal_check, every memory BAR assigned, no two BARs overlapping,
 * and virtio-mmio slots that answer with the virtio magic.
 *
 * Output lines (stable, one fact per line, for tests and humans alike):
 *   pci <seg:bus:dev.fn> id=<vendor:device> class=<cc sc pi> rev=<rr> hdr=<type> [mf]
 *   pcibar <seg:bus:dev.fn> bar=<i> type=<mem32|mem64|io> pref=<0|1> addr=0x<a> size=0x<s>
 *   nvmeregs <seg:bus:dev.fn> vs=0x<VS> mqes=<CAP.MQES>
 *   virtio-mmio slot=<n> base=0x<b> irq=<line> version=<1|2> device=<id> vendor=0x<v>
 * Arguments: none.
 */
#include <keel/error.h>
#include <keel/pci.h>

#include "example.h"

#define MAX_BARS          128
#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define NVME_CLASS        0x010802u

struct bar_rec {
    struct keel_pci_addr a;
    unsigned idx;
    bool is_io;
    uint64_t addr, size;
};

struct scan {
    const struct keel_port *port;
    const struct keel_port_pci_host *host;
    struct bar_rec bars[MAX_BARS];
    unsigned nbars;
    unsigned nfuncs;
};

static void print_addr(const char *tag, struct keel_pci_addr a)
{
    keel_port_printf("%s %04x:%02x:%02x.%x", tag, a.segment, a.bus, a.dev, a.fn);
}

/* Read NVMe VS and CAP through BAR0: a register read through the port's mapping of the BAR. */
static void nvme_regs(struct scan *s, const struct keel_pci_fn *f)
{
    struct keel_region r;
    uint32_t vs, cap_lo;
    int rc = keel_pci_bar_region(&s->port->hal, f->addr, 0, s->host->windows.mem32.cpu_offset, &r);

    if (!EX_CHECK(rc == KEEL_OK, "nvme %02x:%02x.%x: BAR0 cannot be mapped (%s)", f->addr.bus,
                  f->addr.dev, f->addr.fn, keel_strerror(rc)))
        return;
    cap_lo = keel_region_read32(&r, 0x00);
    vs = keel_region_read32(&r, 0x08);
    print_addr("nvmeregs", f->addr);
    keel_port_printf(" vs=0x%08x mqes=%u\n", vs, cap_lo & 0xffffu);
    EX_CHECK(vs != 0xffffffffu && vs != 0u, "nvme %02x:%02x.%x: VS reads 0x%08x through BAR0",
             f->addr.bus, f->addr.dev, f->addr.fn, vs);
}

static void record_bars(struct scan *s, const struct keel_pci_fn *f)
{
    unsigned nslots = f->header_type == 0u ? 6u : f->header_type == 1u ? 2u : 0u, idx = 0;

    while (idx < nslots) {
        struct keel_pci_bar b;
        int rc = keel_pci_bar_decode(&s->port->hal, f->addr, idx, &b);

        if (!EX_CHECK(rc == KEEL_OK, "%02x:%02x.%x BAR%u: decode failed (%s)", f->addr.bus,
                      f->addr.dev, f->addr.fn, idx, keel_strerror(rc)))
            return;
        if (b.size != 0u) {
            print_addr("pcibar", f->addr);
            keel_port_printf(" bar=%u type=%s pref=%d addr=0x%llx size=0x%llx\n", idx,
                             b.is_io   ? "io"
                             : b.is_64 ? "mem64"
                                       : "mem32",
                             b.prefetchable ? 1 : 0, (unsigned long long)b.addr,
                             (unsigned long long)b.size);
            EX_CHECK(b.addr != 0u, "%02x:%02x.%x BAR%u (%s, 0x%llx bytes) left unassigned",
                     f->addr.bus, f->addr.dev, f->addr.fn, idx, b.is_io ? "io" : "mem",
                     (unsigned long long)b.size);
            if (b.addr != 0u && s->nbars < MAX_BARS)
                s->bars[s->nbars++] = (struct bar_rec){f->addr, idx, b.is_io, b.addr, b.size};
        }
        idx += b.is_64 ? 2u : 1u;
    }
}

static int visit(void *arg, const struct keel_pci_fn *f)
{
    struct scan *s = arg;
    uint32_t class_code =
        ((uint32_t)f->class_code << 16) | ((uint32_t)f->subclass << 8) | f->prog_if;

    s->nfuncs++;
    print_addr("pci", f->addr);
    keel_port_printf(" id=%04x:%04x class=%06x rev=%02x hdr=%u%s\n", f->vendor, f->device,
                     class_code, f->revision, f->header_type, f->multifunction ? " mf" : "");
    record_bars(s, f);
    if (class_code == NVME_CLASS)
        nvme_regs(s, f);
    return 0;
}

/* No two assigned BARs of the same space may overlap: the port's assignment must be sound. */
static void check_overlaps(const struct scan *s)
{
    unsigned i, j;

    for (i = 0; i < s->nbars; i++) {
        for (j = i + 1u; j < s->nbars; j++) {
            const struct bar_rec *x = &s->bars[i], *y = &s->bars[j];

            if (x->is_io != y->is_io)
                continue;
            EX_CHECK(x->addr + x->size <= y->addr || y->addr + y->size <= x->addr,
                     "BARs overlap: %02x:%02x.%x BAR%u and %02x:%02x.%x BAR%u", x->a.bus, x->a.dev,
                     x->a.fn, x->idx, y->a.bus, y->a.dev, y->a.fn, y->idx);
        }
    }
}

static void print_mmio(const struct keel_port *p)
{
    unsigned i, present = 0;

    for (i = 0; i < p->nmmio; i++) {
        const struct keel_port_mmio_slot *m = &p->mmio[i];
        keel_io_addr_t base;
        bool is_mmio = true;
        uint32_t magic, version, device, vendor;

        if (p->hal.ops->io_map != NULL) {
            int rc = p->hal.ops->io_map(p->hal.ctx, m->phys, m->size, false, &base, &is_mmio);
            if (!EX_CHECK(rc == KEEL_OK && is_mmio, "virtio-mmio slot %u: io_map failed", i))
                continue;
        } else {
            base = (keel_io_addr_t)m->phys;
        }
        magic = keel_mmio_read32(&p->hal, base + 0x000);
        version = keel_mmio_read32(&p->hal, base + 0x004);
        device = keel_mmio_read32(&p->hal, base + 0x008);
        vendor = keel_mmio_read32(&p->hal, base + 0x00c);
        if (!EX_CHECK(magic == VIRTIO_MMIO_MAGIC, "virtio-mmio slot %u at 0x%llx: magic 0x%08x", i,
                      (unsigned long long)m->phys, magic))
            continue;
        if (device == 0u)
            continue; /* an empty slot */
        present++;
        keel_port_printf("virtio-mmio slot=%u base=0x%llx irq=%u version=%u device=%u "
                         "vendor=0x%08x\n",
                         i, (unsigned long long)m->phys, m->irq, version, device, vendor);
    }
    keel_port_printf("virtio-mmio slots=%u devices=%u\n", p->nmmio, present);
}

int main(void)
{
    static struct scan s;
    struct keel_port port;
    unsigned h;
    int rc = keel_port_init(&port);

    if (!EX_CHECK(rc == KEEL_OK, "keel_port_init: %s", keel_strerror(rc)))
        return ex_finish();
    ex_print_platform(&port);
    rc = keel_hal_check(&port.hal);
    EX_CHECK(rc == KEEL_OK, "keel_hal_check: %s", keel_strerror(rc));
    s.port = &port;
    for (h = 0; h < port.npci; h++) {
        s.host = &port.pci[h];
        rc = keel_pci_scan(&port.hal, port.pci[h].segment, port.pci[h].bus_first,
                           port.pci[h].bus_last, visit, &s);
        EX_CHECK(rc == KEEL_OK, "PCI scan of segment %u: %s", port.pci[h].segment,
                 keel_strerror(rc));
    }
    keel_port_printf("pci functions=%u bars=%u\n", s.nfuncs, s.nbars);
    check_overlaps(&s);
    print_mmio(&port);
    return ex_finish();
}
