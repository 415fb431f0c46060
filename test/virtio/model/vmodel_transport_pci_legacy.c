/* SPDX-License-Identifier: MIT */
/*
 * Virtio over PCI, legacy interface (VIRTIO 1.2 section 4.1.4.8): the I/O BAR0 register file of
 * legacy and transitional devices. Fields are guest-endian (little-endian in the sim); the device
 * configuration starts at 0x14, or at 0x18 while MSI-X is enabled (the two vector registers sit in
 * between). Queues are placed by page frame number (address >> 12) with the used ring aligned to
 * 4096 bytes, and their size is the device's (read-only).
 */
#include "vmodel_internal.h"

#define LEG_HOST_FEATURES  0x00u
#define LEG_GUEST_FEATURES 0x04u
#define LEG_QUEUE_PFN      0x08u
#define LEG_QUEUE_NUM      0x0cu
#define LEG_QUEUE_SEL      0x0eu
#define LEG_QUEUE_NOTIFY   0x10u
#define LEG_STATUS         0x12u
#define LEG_ISR            0x13u
#define LEG_MSIX_CONFIG    0x14u
#define LEG_MSIX_QUEUE     0x16u
#define LEG_PFN_SHIFT      12u

uint16_t vm_pci_legacy_device_id(uint16_t virtio_id)
{
    switch (virtio_id) {
    case 1: /* net */
        return 0x1000u;
    case 2: /* block */
        return 0x1001u;
    case 5: /* balloon */
        return 0x1002u;
    case 3: /* console */
        return 0x1003u;
    case 8: /* scsi */
        return 0x1004u;
    case 4: /* entropy */
        return 0x1005u;
    case 9: /* 9p */
        return 0x1009u;
    default:
        return (uint16_t)(0x1040u + virtio_id); /* no transitional id: modern only exists */
    }
}

static bool msix_on(const struct vmodel *m)
{
    return m->has_msix && sim_msix_enabled(&m->msix);
}

static uint32_t cfg_base(const struct vmodel *m)
{
    return msix_on(m) ? 0x18u : 0x14u;
}

static unsigned reg_width(uint32_t off)
{
    if (off < LEG_QUEUE_NUM)
        return 4;
    if (off == LEG_STATUS || off == LEG_ISR)
        return 1;
    return 2;
}

static struct vm_vq *selected(struct vmodel *m)
{
    return m->queue_sel < m->nq ? &m->vq[m->queue_sel] : NULL;
}

static uint32_t reg_read(struct vmodel *m, uint32_t off)
{
    struct vm_vq *vq = selected(m);
    uint32_t v;

    switch (off) {
    case LEG_HOST_FEATURES:
        return (uint32_t)m->offered; /* legacy: bits 0..31 only */
    case LEG_GUEST_FEATURES:
        return (uint32_t)m->driver_features;
    case LEG_QUEUE_PFN:
        return vq ? vq->pfn : 0u;
    case LEG_QUEUE_NUM:
        return vq ? vq->size_max : 0u;
    case LEG_QUEUE_SEL:
        return m->queue_sel;
    case LEG_STATUS:
        return vm_status_read(m);
    case LEG_ISR:
        v = m->isr; /* read clears and de-asserts INTx */
        m->isr = 0;
        return v;
    case LEG_MSIX_CONFIG:
        return m->config_vector;
    case LEG_MSIX_QUEUE:
        return vq ? vq->msix_vector : VMODEL_NO_VECTOR;
    default:
        vm_driver_error(m, "legacy read of write-only register 0x%x", off);
        return 0;
    }
}

static void pfn_write(struct vmodel *m, struct vm_vq *vq, uint32_t pfn)
{
    if (pfn == 0) { /* stop using the queue */
        vm_queue_reset(m, vq->idx);
        return;
    }
    if (!vm_queue_writable(m, vq->idx, "queue PFN"))
        return;
    vq->size = vq->size_max; /* legacy: the device's size, not negotiable */
    vq->pfn = pfn;
    vm_legacy_ring_layout(vq, (uint64_t)pfn << LEG_PFN_SHIFT, VMODEL_LEGACY_ALIGN);
    vm_queue_enable(m, vq->idx);
    if (!vq->ready)
        vq->pfn = 0;
}

static void reg_write(struct vmodel *m, uint32_t off, uint32_t val)
{
    struct vm_vq *vq = selected(m);

    if (!vm_iface_use(m, VM_IFACE_LEGACY))
        return;
    switch (off) {
    case LEG_GUEST_FEATURES:
        vm_driver_features_write(m, 0, val);
        return;
    case LEG_QUEUE_PFN:
        if (vq)
            pfn_write(m, vq, val);
        else
            vm_driver_error(m, "legacy PFN written for absent queue %u", m->queue_sel);
        return;
    case LEG_QUEUE_SEL:
        m->queue_sel = (uint16_t)val;
        return;
    case LEG_QUEUE_NOTIFY:
        vm_notify(m, val & 0xffffu);
        return;
    case LEG_STATUS:
        vm_status_write(m, (uint8_t)val);
        return;
    case LEG_MSIX_CONFIG:
        m->config_vector = vm_msix_vector_write(m, (uint16_t)val);
        return;
    case LEG_MSIX_QUEUE:
        if (vq)
            vq->msix_vector = vm_msix_vector_write(m, (uint16_t)val);
        return;
    default:
        vm_driver_error(m, "legacy write of read-only register 0x%x", off);
        return;
    }
}

static bool width_ok(struct vmodel *m, uint32_t off, unsigned width)
{
    if (m->cfg.strict && width != reg_width(off)) {
        vm_driver_error(m, "legacy register 0x%x accessed with width %u", off, width);
        return false;
    }
    return true;
}

static uint32_t legacy_read(void *dev, uint64_t off, unsigned width)
{
    struct vmodel *m = dev;
    uint32_t o = (uint32_t)off;

    if (m->gone)
        return 0xffffffffu;
    if (o >= cfg_base(m)) {
        /* Config read through the legacy window: its fields are guest-endian, so a transitional
           device not yet latched to an interface latches to the legacy one here. */
        if (m->iface == VM_IFACE_NONE)
            (void)vm_iface_use(m, VM_IFACE_LEGACY);
        return vm_config_read(m, o - cfg_base(m), width);
    }
    return width_ok(m, o, width) ? reg_read(m, o) : 0u;
}

static void legacy_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct vmodel *m = dev;
    uint32_t o = (uint32_t)off;

    if (m->gone)
        return;
    if (o >= cfg_base(m)) {
        if (vm_iface_use(m, VM_IFACE_LEGACY))
            vm_config_write(m, o - cfg_base(m), width, val);
        return;
    }
    if (width_ok(m, o, width))
        reg_write(m, o, val);
}

static const struct sim_region_ops legacy_ops = {legacy_read, legacy_write};

void vm_pci_legacy_bar_init(struct vmodel *m)
{
    uint64_t size = 32;

    while (size < 0x18u + (uint64_t)vm_config_size(m))
        size <<= 1;
    sim_pci_bar(m->s, m->fn, VMODEL_PCI_BAR_LEGACY, size, true, false, &legacy_ops, m);
}
