/* SPDX-License-Identifier: MIT */
/*
 * Virtio over PCI, legacy interface (VIRTIO 1.2 section 4.1.5.1 legacy notes): legacy devices
 * (0x1000..0x103f without modern capabilities) and transitional devices driven through BAR0, an I/O
 * BAR (port I/O on x86, an I/O window elsewhere: struct keel_region hides which). Queues are placed
 * by page frame number with the used ring on a 4096-byte boundary, the queue size is the device's
 * (read-only), there are 32 feature bits, no FEATURES_OK step and fields are in guest byte order.
 * Keel drives legacy devices with INTx (ISR read) or polling; MSI-X stays disabled, which keeps the
 * device configuration at offset 0x14.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/pci.h>
#include <keel/str.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>

#include "vq_internal.h"

#define LEG_HOST_FEATURES  0x00u
#define LEG_GUEST_FEATURES 0x04u
#define LEG_QUEUE_PFN      0x08u
#define LEG_QUEUE_SIZE     0x0cu
#define LEG_QUEUE_SEL      0x0eu
#define LEG_QUEUE_NOTIFY   0x10u
#define LEG_STATUS         0x12u
#define LEG_ISR            0x13u
#define LEG_CONFIG_NO_MSIX 0x14u
#define LEG_PAGE_SHIFT     12u

static struct keel_region *io(struct keel_virtio_dev *d)
{
    return &d->t.leg.io;
}

static uint64_t pl_get_features(struct keel_virtio_dev *d)
{
    return keel_region_read32(io(d), LEG_HOST_FEATURES);
}

static void pl_set_features(struct keel_virtio_dev *d, uint64_t f)
{
    keel_region_write32(io(d), LEG_GUEST_FEATURES, (uint32_t)f);
}

static uint8_t pl_get_status(struct keel_virtio_dev *d)
{
    return keel_region_read8(io(d), LEG_STATUS);
}

static void pl_set_status(struct keel_virtio_dev *d, uint8_t s)
{
    keel_region_write8(io(d), LEG_STATUS, s);
}

static bool cfg_in_bar(struct keel_virtio_dev *d, uint32_t off, unsigned width)
{
    return (uint64_t)d->t.leg.cfg_off + off + width <= io(d)->size;
}

static uint32_t pl_cfg_read(struct keel_virtio_dev *d, uint32_t off, unsigned width)
{
    uint32_t at = d->t.leg.cfg_off + off;

    if (!cfg_in_bar(d, off, width))
        return 0;
    if (width == 1u)
        return keel_region_read8(io(d), at);
    if (width == 2u)
        return keel_region_read16(io(d), at);
    return keel_region_read32(io(d), at);
}

static void pl_cfg_write(struct keel_virtio_dev *d, uint32_t off, unsigned width, uint32_t v)
{
    uint32_t at = d->t.leg.cfg_off + off;

    if (!cfg_in_bar(d, off, width))
        return;
    if (width == 1u)
        keel_region_write8(io(d), at, (uint8_t)v);
    else if (width == 2u)
        keel_region_write16(io(d), at, (uint16_t)v);
    else
        keel_region_write32(io(d), at, v);
}

static uint16_t pl_queue_max(struct keel_virtio_dev *d, uint16_t index)
{
    keel_region_write16(io(d), LEG_QUEUE_SEL, index);
    if (keel_region_read32(io(d), LEG_QUEUE_PFN) != 0u)
        return 0; /* already in use: a reset did not take */
    return keel_region_read16(io(d), LEG_QUEUE_SIZE);
}

static int pl_queue_setup(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    uint64_t pfn = vq->desc_bus >> LEG_PAGE_SHIFT;

    keel_region_write16(io(d), LEG_QUEUE_SEL, vq->index);
    if (keel_region_read16(io(d), LEG_QUEUE_SIZE) != vq->size) {
        /* The legacy queue size is fixed by the device: it must fit the shadow as is. */
        KEEL_LOGE(d->hal, "virtio-pci-legacy: queue %u size %u not usable", (unsigned)vq->index,
                  (unsigned)keel_region_read16(io(d), LEG_QUEUE_SIZE));
        return KEEL_ENOTSUP;
    }
    if (vq->packed || (vq->desc_bus & ((1u << LEG_PAGE_SHIFT) - 1u)) != 0u || pfn > UINT32_MAX ||
        pfn == 0u) {
        KEEL_LOGE(d->hal, "virtio-pci-legacy: ring at bus 0x%llx cannot be given as a PFN",
                  (unsigned long long)vq->desc_bus);
        return KEEL_ENOTSUP;
    }
    keel_region_write32(io(d), LEG_QUEUE_PFN, (uint32_t)pfn);
    return KEEL_OK;
}

static void pl_notify(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    keel_region_write16(io(d), LEG_QUEUE_NOTIFY, vq->index);
}

static uint32_t pl_isr(struct keel_virtio_dev *d)
{
    return keel_region_read8(io(d), LEG_ISR);
}

const struct keel_virtio_transport_ops keel_virtio_pci_legacy_ops = {
    .name = "pci-legacy",
    .get_features = pl_get_features,
    .set_features = pl_set_features,
    .get_status = pl_get_status,
    .set_status = pl_set_status,
    .generation = NULL,
    .cfg_read = pl_cfg_read,
    .cfg_write = pl_cfg_write,
    .queue_max = pl_queue_max,
    .queue_setup = pl_queue_setup,
    .queue_reset = NULL,
    .notify = pl_notify,
    .isr = pl_isr,
    .set_config_vector = NULL,
};

int keel_virtio_pci_legacy_probe(struct keel_virtio_dev *d, const struct keel_hal *hal,
                                 struct keel_pci_addr a, uint64_t cpu_offset)
{
    struct keel_pci_bar bar;
    uint16_t pci_device;
    int rc;

    if (d == NULL || hal == NULL)
        return KEEL_EINVAL;
    if (keel_hal_check(hal) != KEEL_OK)
        return KEEL_EHAL;
    keel_memset(d, 0, sizeof(*d));
    d->hal = hal;
    d->pci_addr = a;
    d->irq_mode = KEEL_VIRTIO_IRQ_POLL;
    rc = keel_virtio_pci_identify(hal, a, &d->device_id, &pci_device);
    if (rc != KEEL_OK)
        return rc;
    if (pci_device > KEEL_VIRTIO_PCI_LEGACY_LAST)
        return KEEL_ENOTSUP; /* modern-only device: no legacy interface */
    rc = keel_pci_bar_decode(hal, a, 0, &bar);
    if (rc != KEEL_OK)
        return rc;
    if (!bar.is_io || bar.size < LEG_CONFIG_NO_MSIX)
        return KEEL_ENOTSUP;
    rc = keel_pci_bar_region(hal, a, 0, cpu_offset, &d->t.leg.io);
    if (rc != KEEL_OK)
        return rc;
    /* MSI-X moves the device configuration (4.1.5.1 legacy); Keel keeps it off here. */
    if (keel_pci_msix_init(hal, a, cpu_offset, &d->msix) == KEEL_OK)
        (void)keel_pci_msix_enable(hal, a, &d->msix, false);
    rc = keel_pci_enable(hal, a, KEEL_PCI_CMD_IO | KEEL_PCI_CMD_MASTER, 0);
    if (rc != KEEL_OK)
        return rc;
    d->t.leg.cfg_off = LEG_CONFIG_NO_MSIX;
    d->tops = &keel_virtio_pci_legacy_ops;
    d->transport = KEEL_VIRTIO_T_PCI_LEGACY;
    d->legacy = true;
    d->num_queues = 0; /* the legacy interface does not say: probe with queue_max */
    return KEEL_OK;
}
