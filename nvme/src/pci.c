/* SPDX-License-Identifier: MIT */
/*
 * PCI front-end: identity check (class 01h/08h/02h), BAR0 (MLBAR/MUBAR, a 64-bit memory BAR per
 * spec 2.1.10), optional assignment when firmware left it unassigned, register window mapping,
 * memory decode and bus mastering.
 */
#include "nvme_priv.h"

bool keel_nvme_pci_match(const struct keel_pci_fn *fn)
{
    return fn != NULL && fn->class_code == KEEL_NVME_PCI_CLASS &&
           fn->subclass == KEEL_NVME_PCI_SUBCLASS && fn->prog_if == KEEL_NVME_PCI_PROG_IF;
}

int keel_nvme_pci_probe(struct keel_nvme_ctrl *c)
{
    const struct keel_hal *hal = c->hal;
    struct keel_pci_addr a = c->cfg.pci;
    struct keel_pci_fn fn;
    struct keel_pci_bar bar;
    struct keel_region r;
    int rc;

    rc = keel_pci_probe_fn(hal, a, &fn);
    if (rc != KEEL_OK)
        return KEEL_ENODEV;
    if (!keel_nvme_pci_match(&fn))
        return KEEL_ENODEV;
    rc = keel_pci_bar_decode(hal, a, 0, &bar);
    if (rc != KEEL_OK || bar.size == 0u || bar.is_io)
        return KEEL_ENODEV;
    if (!bar.is_64)
        KEEL_LOGW(hal, "nvme%u: BAR0 is 32-bit (spec wants 64-bit); using it",
                  (unsigned)c->cfg.index);
    if (bar.addr == 0u) {
        if (c->cfg.windows == NULL)
            return KEEL_ENODEV;
        rc = keel_pci_assign_bars(hal, a, c->cfg.windows);
        if (rc != KEEL_OK)
            return rc;
    }
    rc = keel_pci_bar_region(hal, a, 0, c->cfg.bar_cpu_offset, &r);
    if (rc != KEEL_OK)
        return rc;
    if (!r.is_mmio || r.size < KEEL_NVME_REG_DBS + 8u)
        return KEEL_ENODEV;
    c->regs = r.base;
    c->regs_size = r.size;
    rc = keel_pci_enable(hal, a, KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_MASTER, 0);
    if (rc != KEEL_OK)
        return rc;
    c->bme_on = true;
    c->int_pin = keel_pci_read8(hal, a, KEEL_PCI_INT_PIN);
    return KEEL_OK;
}
