/* SPDX-License-Identifier: MIT */
/* platform.c - the platform report every example prints first. */
#include "example.h"

static void print_window(const char *name, const struct keel_pci_window *w)
{
    if (w->size == 0u)
        keel_port_printf(" %s=none", name);
    else
        keel_port_printf(" %s=0x%llx+0x%llx", name, (unsigned long long)w->base,
                         (unsigned long long)w->size);
}

void ex_print_platform(const struct keel_port *p)
{
    unsigned i;

    keel_port_printf("platform port=%s arch=%s machine=%s firmware=%s irqchip=%s msi=%d "
                     "ram_mib=%llu clock_hz=%llu dma=0x%llx+0x%llx\n",
                     p->name, p->arch, p->machine, p->firmware, p->irqchip, p->msi ? 1 : 0,
                     (unsigned long long)(p->ram_bytes >> 20), (unsigned long long)p->clock_hz,
                     (unsigned long long)p->dma_bus, (unsigned long long)p->dma_size);
    keel_port_printf("cmdline \"%s\"\n", p->cmdline);
    for (i = 0; i < p->npci; i++) {
        const struct keel_port_pci_host *h = &p->pci[i];

        keel_port_printf("pcihost segment=%u buses=%u-%u ecam=0x%llx", h->segment, h->bus_first,
                         h->bus_last, (unsigned long long)h->ecam_phys);
        print_window("mem32", &h->windows.mem32);
        print_window("mem64", &h->windows.mem64);
        print_window("io", &h->windows.io);
        keel_port_printf(" functions=%u bars_firmware=%u bars_port=%u bridges_port=%u\n", h->nfuncs,
                         h->bars_by_firmware, h->bars_by_port, h->bridges_by_port);
    }
}
