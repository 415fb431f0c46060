/* SPDX-License-Identifier: MIT */
/*
 * Virtio over PCI, modern interface (VIRTIO 1.2 section 4.1.4): the common, notify, ISR and device
 * configuration structures are found through vendor-specific capabilities, each a window into a
 * BAR. The first capability of each type that Keel can use wins (4.1.4.1: the driver SHOULD use the
 * first instance). Queue notify addresses are cap.offset + queue_notify_off *
 * notify_off_multiplier.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/pci.h>
#include <keel/str.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>
#include <keel/wait.h>

#include "vq_internal.h"

/* struct virtio_pci_cap (4.1.4). */
#define CAP_CFG_TYPE    3u
#define CAP_BAR         4u
#define CAP_OFFSET      8u
#define CAP_LENGTH      12u
#define CAP_NOTIFY_MULT 16u
#define CAP_LEN_MIN     16u

#define CFG_COMMON 1u
#define CFG_NOTIFY 2u
#define CFG_ISR    3u
#define CFG_DEVICE 4u

/* struct virtio_pci_common_cfg (4.1.4.3). */
#define CC_DFSELECT       0x00u
#define CC_DF             0x04u
#define CC_GFSELECT       0x08u
#define CC_GF             0x0cu
#define CC_MSIX_CONFIG    0x10u
#define CC_NUM_QUEUES     0x12u
#define CC_STATUS         0x14u
#define CC_CFG_GENERATION 0x15u
#define CC_Q_SELECT       0x16u
#define CC_Q_SIZE         0x18u
#define CC_Q_MSIX         0x1au
#define CC_Q_ENABLE       0x1cu
#define CC_Q_NOFF         0x1eu
#define CC_Q_DESC         0x20u
#define CC_Q_DRIVER       0x28u
#define CC_Q_DEVICE       0x30u
#define CC_Q_RESET        0x3au
#define CC_LEN_BASE       0x38u /* through queue_device */
#define CC_LEN_RESET      0x3cu /* with queue_notify_data and queue_reset */

static struct keel_virtio_pci_modern *pm(struct keel_virtio_dev *d)
{
    return &d->t.pci;
}

static uint64_t pm_get_features(struct keel_virtio_dev *d)
{
    struct keel_region *c = &pm(d)->common;
    uint64_t lo, hi;

    keel_region_write32(c, CC_DFSELECT, 0);
    lo = keel_region_read32(c, CC_DF);
    keel_region_write32(c, CC_DFSELECT, 1);
    hi = keel_region_read32(c, CC_DF);
    return lo | (hi << 32);
}

static void pm_set_features(struct keel_virtio_dev *d, uint64_t f)
{
    struct keel_region *c = &pm(d)->common;

    keel_region_write32(c, CC_GFSELECT, 0);
    keel_region_write32(c, CC_GF, (uint32_t)f);
    keel_region_write32(c, CC_GFSELECT, 1);
    keel_region_write32(c, CC_GF, (uint32_t)(f >> 32));
}

static uint8_t pm_get_status(struct keel_virtio_dev *d)
{
    return keel_region_read8(&pm(d)->common, CC_STATUS);
}

static void pm_set_status(struct keel_virtio_dev *d, uint8_t s)
{
    keel_region_write8(&pm(d)->common, CC_STATUS, s);
}

static uint32_t pm_generation(struct keel_virtio_dev *d)
{
    return keel_region_read8(&pm(d)->common, CC_CFG_GENERATION);
}

static uint32_t pm_cfg_read(struct keel_virtio_dev *d, uint32_t off, unsigned width)
{
    struct keel_region *r = &pm(d)->device;

    if ((uint64_t)off + width > pm(d)->device_len)
        return 0; /* outside what the capability covers: read as 0, never touch the bus */
    if (width == 1u)
        return keel_region_read8(r, off);
    if (width == 2u)
        return keel_region_read16(r, off);
    return keel_region_read32(r, off);
}

static void pm_cfg_write(struct keel_virtio_dev *d, uint32_t off, unsigned width, uint32_t v)
{
    struct keel_region *r = &pm(d)->device;

    if ((uint64_t)off + width > pm(d)->device_len)
        return;
    if (width == 1u)
        keel_region_write8(r, off, (uint8_t)v);
    else if (width == 2u)
        keel_region_write16(r, off, (uint16_t)v);
    else
        keel_region_write32(r, off, v);
}

static uint16_t pm_queue_max(struct keel_virtio_dev *d, uint16_t index)
{
    struct keel_region *c = &pm(d)->common;

    if (d->num_queues != 0u && index >= d->num_queues)
        return 0;
    keel_region_write16(c, CC_Q_SELECT, index);
    return keel_region_read16(c, CC_Q_SIZE);
}

static void write64(struct keel_region *c, uint32_t off, uint64_t v)
{
    keel_region_write32(c, off, (uint32_t)v);
    keel_region_write32(c, off + 4u, (uint32_t)(v >> 32));
}

static int pm_queue_setup(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    struct keel_region *c = &pm(d)->common;
    uint16_t noff;
    uint64_t at;

    keel_region_write16(c, CC_Q_SELECT, vq->index);
    keel_region_write16(c, CC_Q_SIZE, vq->size);
    keel_region_write16(c, CC_Q_MSIX, vq->vector);
    if (vq->vector != KEEL_VIRTIO_MSI_NO_VECTOR && keel_region_read16(c, CC_Q_MSIX) != vq->vector) {
        /* 4.1.5.1.2.1: the device could not allocate resources for this vector. */
        KEEL_LOGE(d->hal, "virtio-pci: queue %u refused MSI-X vector %u", (unsigned)vq->index,
                  (unsigned)vq->vector);
        return KEEL_ENOSPC;
    }
    write64(c, CC_Q_DESC, vq->desc_bus);
    write64(c, CC_Q_DRIVER, vq->driver_bus);
    write64(c, CC_Q_DEVICE, vq->device_bus);
    noff = keel_region_read16(c, CC_Q_NOFF);
    at = (uint64_t)noff * pm(d)->notify_mult;
    if (at + 2u > pm(d)->notify.size) {
        KEEL_LOGE(d->hal, "virtio-pci: queue %u notify offset beyond its window",
                  (unsigned)vq->index);
        return KEEL_EPROTO;
    }
    vq->notify_off = (uint32_t)at;
    keel_region_write16(c, CC_Q_ENABLE, 1);
    return KEEL_OK;
}

struct qreset_wait {
    struct keel_region *c;
};

static bool queue_disabled(void *arg)
{
    struct qreset_wait *w = arg;
    return keel_region_read16(w->c, CC_Q_ENABLE) == 0u;
}

static bool qreset_reads_zero(void *arg)
{
    struct qreset_wait *w = arg;
    return keel_region_read16(w->c, CC_Q_RESET) == 0u;
}

/*
 * Per-queue reset. VIRTIO 1.3 (4.1.4.3.2): queue_reset reads 1 while the reset is ongoing and 0
 * once it completed, with queue_enable 0. VIRTIO 1.2 had the opposite polarity (1 once reset, until
 * the queue is re-enabled). Both agree that a reset queue reads queue_enable = 0, so that is the
 * completion test; a device still showing 1 in queue_reset then gets a short grace to clear it (1.3
 * finishing up) before it is taken for a 1.2 device.
 */
static int pm_queue_reset(struct keel_virtio_dev *d, uint16_t index)
{
    struct qreset_wait w = {&pm(d)->common};
    uint16_t v;
    int rc;

    if (pm(d)->common.size < CC_LEN_RESET)
        return KEEL_ENOTSUP;
    keel_region_write16(w.c, CC_Q_SELECT, index);
    keel_region_write16(w.c, CC_Q_RESET, 1);
    rc = keel_wait_until(d->hal, queue_disabled, &w, KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US, 10);
    if (rc != KEEL_OK)
        return rc;
    (void)keel_wait_until(d->hal, qreset_reads_zero, &w, KEEL_CONFIG_VIRTIO_QRESET_SETTLE_US, 10);
    v = keel_region_read16(w.c, CC_Q_RESET);
    return v <= 1u ? KEEL_OK : KEEL_ENODEV;
}

static void pm_notify(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    keel_region_write16(&pm(d)->notify, vq->notify_off, vq->index);
}

static uint32_t pm_isr(struct keel_virtio_dev *d)
{
    /* 4.1.4.5: reading the ISR status acknowledges it (and de-asserts INTx). */
    return keel_region_read8(&pm(d)->isr, 0);
}

static uint16_t pm_set_config_vector(struct keel_virtio_dev *d, uint16_t vector)
{
    keel_region_write16(&pm(d)->common, CC_MSIX_CONFIG, vector);
    return keel_region_read16(&pm(d)->common, CC_MSIX_CONFIG);
}

const struct keel_virtio_transport_ops keel_virtio_pci_modern_ops = {
    .name = "pci-modern",
    .get_features = pm_get_features,
    .set_features = pm_set_features,
    .get_status = pm_get_status,
    .set_status = pm_set_status,
    .generation = pm_generation,
    .cfg_read = pm_cfg_read,
    .cfg_write = pm_cfg_write,
    .queue_max = pm_queue_max,
    .queue_setup = pm_queue_setup,
    .queue_reset = pm_queue_reset,
    .notify = pm_notify,
    .isr = pm_isr,
    .set_config_vector = pm_set_config_vector,
};

/* ---- probing ------------------------------------------------------------------------------------
 */

struct cap_info {
    bool found;
    uint8_t bar;
    uint32_t offset, length, mult;
};

static int map_cap(struct keel_virtio_dev *d, uint64_t cpu_offset, const struct cap_info *ci,
                   struct keel_region *out)
{
    struct keel_region bar;
    int rc = keel_pci_bar_region(d->hal, d->pci_addr, ci->bar, cpu_offset, &bar);

    if (rc != KEEL_OK)
        return rc;
    if ((uint64_t)ci->offset + ci->length > bar.size || ci->length == 0u)
        return KEEL_EPROTO;
    *out = bar;
    out->base = bar.base + ci->offset;
    out->size = ci->length;
    return KEEL_OK;
}

/* Walk the vendor capabilities; the first usable one of each type wins. */
static int find_caps(struct keel_virtio_dev *d, struct cap_info ci[5])
{
    const struct keel_hal *hal = d->hal;
    uint16_t off = 0;
    unsigned n;

    for (n = 0; n < KEEL_CONFIG_PCI_MAX_CAPS; n++) {
        uint8_t type, bar, clen;
        int rc = keel_pci_find_cap(hal, d->pci_addr, KEEL_PCI_CAP_ID_VNDR, off, &off);

        if (rc == KEEL_ENOENT)
            return KEEL_OK;
        if (rc != KEEL_OK)
            return rc;
        clen = keel_pci_read8(hal, d->pci_addr, (uint16_t)(off + 2u));
        type = keel_pci_read8(hal, d->pci_addr, (uint16_t)(off + CAP_CFG_TYPE));
        bar = keel_pci_read8(hal, d->pci_addr, (uint16_t)(off + CAP_BAR));
        if (clen < CAP_LEN_MIN || bar >= KEEL_PCI_BAR_COUNT || type < CFG_COMMON ||
            type > CFG_DEVICE || ci[type].found)
            continue;
        if (type == CFG_NOTIFY && clen < CAP_NOTIFY_MULT + 4u)
            continue;
        ci[type].found = true;
        ci[type].bar = bar;
        ci[type].offset = keel_pci_read32(hal, d->pci_addr, (uint16_t)(off + CAP_OFFSET));
        ci[type].length = keel_pci_read32(hal, d->pci_addr, (uint16_t)(off + CAP_LENGTH));
        if (type == CFG_NOTIFY)
            ci[type].mult = keel_pci_read32(hal, d->pci_addr, (uint16_t)(off + CAP_NOTIFY_MULT));
    }
    return KEEL_EPROTO;
}

static int id_from_pci(const struct keel_pci_fn *fn, uint32_t *id)
{
    if (fn->vendor != KEEL_VIRTIO_PCI_VENDOR)
        return KEEL_ENODEV;
    if (fn->device >= KEEL_VIRTIO_PCI_MODERN_BASE && fn->device <= 0x107fu)
        *id = (uint32_t)(fn->device - KEEL_VIRTIO_PCI_MODERN_BASE);
    else if (fn->device >= KEEL_VIRTIO_PCI_LEGACY_FIRST &&
             fn->device <= KEEL_VIRTIO_PCI_LEGACY_LAST)
        *id = fn->subsys_id; /* transitional: the subsystem ID names the device type */
    else
        return KEEL_ENODEV;
    return KEEL_OK;
}

static void dev_init_common(struct keel_virtio_dev *d, const struct keel_hal *hal,
                            struct keel_pci_addr a)
{
    keel_memset(d, 0, sizeof(*d));
    d->hal = hal;
    d->pci_addr = a;
    d->irq_mode = KEEL_VIRTIO_IRQ_POLL;
}

int keel_virtio_pci_modern_probe(struct keel_virtio_dev *d, const struct keel_hal *hal,
                                 struct keel_pci_addr a, uint64_t cpu_offset)
{
    struct cap_info ci[5] = {{0}};
    struct keel_pci_fn fn;
    struct keel_virtio_pci_modern *p;
    int rc;

    if (d == NULL || hal == NULL)
        return KEEL_EINVAL;
    if (keel_hal_check(hal) != KEEL_OK)
        return KEEL_EHAL;
    dev_init_common(d, hal, a);
    rc = keel_pci_probe_fn(hal, a, &fn);
    if (rc != KEEL_OK)
        return rc;
    rc = id_from_pci(&fn, &d->device_id);
    if (rc != KEEL_OK)
        return rc;
    rc = find_caps(d, ci);
    if (rc != KEEL_OK)
        return rc;
    if (!ci[CFG_COMMON].found || !ci[CFG_NOTIFY].found || !ci[CFG_ISR].found)
        return KEEL_ENOTSUP;
    p = &d->t.pci;
    if (ci[CFG_COMMON].length < CC_LEN_BASE)
        return KEEL_EPROTO;
    /*
     * 4.1.4.3.1, 4.1.4.4.1, 4.1.4.6.1: common and device configuration start 4-byte aligned, the
     * notification structure 2-byte aligned with an even multiplier, so every register access is
     * naturally aligned. A device placing them otherwise would have us issue misaligned MMIO
     * accesses (a bus fault on many CPUs, and outside the HAL contract): refuse it.
     */
    if ((ci[CFG_COMMON].offset & 3u) != 0u || (ci[CFG_NOTIFY].offset & 1u) != 0u ||
        (ci[CFG_NOTIFY].mult & 1u) != 0u ||
        (ci[CFG_DEVICE].found && (ci[CFG_DEVICE].offset & 3u) != 0u))
        return KEEL_EPROTO;
    rc = map_cap(d, cpu_offset, &ci[CFG_COMMON], &p->common);
    if (rc == KEEL_OK)
        rc = map_cap(d, cpu_offset, &ci[CFG_NOTIFY], &p->notify);
    if (rc == KEEL_OK)
        rc = map_cap(d, cpu_offset, &ci[CFG_ISR], &p->isr);
    if (rc == KEEL_OK && ci[CFG_DEVICE].found) {
        rc = map_cap(d, cpu_offset, &ci[CFG_DEVICE], &p->device);
        p->device_len = ci[CFG_DEVICE].length;
    }
    if (rc != KEEL_OK)
        return rc;
    p->notify_mult = ci[CFG_NOTIFY].mult;
    rc = keel_pci_enable(hal, a, KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_MASTER, 0);
    if (rc != KEEL_OK)
        return rc;
    d->tops = &keel_virtio_pci_modern_ops;
    d->transport = KEEL_VIRTIO_T_PCI_MODERN;
    d->num_queues = keel_region_read16(&p->common, CC_NUM_QUEUES);
    d->has_msix = keel_pci_msix_init(hal, a, cpu_offset, &d->msix) == KEEL_OK;
    return KEEL_OK;
}

int keel_virtio_pci_probe(struct keel_virtio_dev *d, const struct keel_hal *hal,
                          struct keel_pci_addr a, uint64_t cpu_offset, bool prefer_legacy)
{
    int rc;

    if (prefer_legacy) {
        rc = keel_virtio_pci_legacy_probe(d, hal, a, cpu_offset);
        if (rc != KEEL_ENOTSUP)
            return rc;
        return keel_virtio_pci_modern_probe(d, hal, a, cpu_offset);
    }
    rc = keel_virtio_pci_modern_probe(d, hal, a, cpu_offset);
    if (rc != KEEL_ENOTSUP)
        return rc;
    return keel_virtio_pci_legacy_probe(d, hal, a, cpu_offset);
}

int keel_virtio_pci_identify(const struct keel_hal *hal, struct keel_pci_addr a, uint32_t *id,
                             uint16_t *pci_device)
{
    struct keel_pci_fn fn;
    int rc = keel_pci_probe_fn(hal, a, &fn);

    if (rc != KEEL_OK)
        return rc;
    *pci_device = fn.device;
    return id_from_pci(&fn, id);
}
