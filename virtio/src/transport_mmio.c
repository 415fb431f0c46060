/* SPDX-License-Identifier: MIT */
/*
 * Virtio over MMIO (VIRTIO 1.2 section 4.2), version 2 and the legacy version 1 (4.2.4), which is
 * QEMU's default. Version 1 places a queue by page frame number (QueuePFN) after GuestPageSize and
 * QueueAlign, has no FEATURES_OK step, no config generation and no per-queue reset; the ring layout
 * is the legacy one, which Keel's split rings always use.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>
#include <keel/wait.h>

#include "vq_internal.h"

#define MMIO_MAGIC_VALUE         0x000u
#define MMIO_VERSION             0x004u
#define MMIO_DEVICE_ID           0x008u
#define MMIO_DEVICE_FEATURES     0x010u
#define MMIO_DEVICE_FEATURES_SEL 0x014u
#define MMIO_DRIVER_FEATURES     0x020u
#define MMIO_DRIVER_FEATURES_SEL 0x024u
#define MMIO_GUEST_PAGE_SIZE     0x028u /* v1 */
#define MMIO_QUEUE_SEL           0x030u
#define MMIO_QUEUE_NUM_MAX       0x034u
#define MMIO_QUEUE_NUM           0x038u
#define MMIO_QUEUE_ALIGN         0x03cu /* v1 */
#define MMIO_QUEUE_PFN           0x040u /* v1 */
#define MMIO_QUEUE_READY         0x044u /* v2 */
#define MMIO_QUEUE_NOTIFY        0x050u
#define MMIO_INTERRUPT_STATUS    0x060u
#define MMIO_INTERRUPT_ACK       0x064u
#define MMIO_STATUS              0x070u
#define MMIO_QUEUE_DESC_LOW      0x080u
#define MMIO_QUEUE_DRIVER_LOW    0x090u
#define MMIO_QUEUE_DEVICE_LOW    0x0a0u
#define MMIO_QUEUE_RESET         0x0c0u
#define MMIO_CONFIG_GENERATION   0x0fcu
#define MMIO_CONFIG              0x100u

#define MMIO_MAGIC      0x74726976u /* "virt" */
#define MMIO_WINDOW_MIN 0x200u
#define MMIO_PAGE       4096u

static struct keel_region *regs(struct keel_virtio_dev *d)
{
    return &d->t.mmio.regs;
}
static uint32_t rd(struct keel_virtio_dev *d, uint32_t off)
{
    return keel_region_read32(regs(d), off);
}
static void wr(struct keel_virtio_dev *d, uint32_t off, uint32_t v)
{
    keel_region_write32(regs(d), off, v);
}

static uint64_t mm_get_features(struct keel_virtio_dev *d)
{
    uint64_t lo, hi;

    wr(d, MMIO_DEVICE_FEATURES_SEL, 0);
    lo = rd(d, MMIO_DEVICE_FEATURES);
    wr(d, MMIO_DEVICE_FEATURES_SEL, 1);
    hi = rd(d, MMIO_DEVICE_FEATURES);
    return lo | (hi << 32);
}

static void mm_set_features(struct keel_virtio_dev *d, uint64_t f)
{
    wr(d, MMIO_DRIVER_FEATURES_SEL, 0);
    wr(d, MMIO_DRIVER_FEATURES, (uint32_t)f);
    if (d->transport == KEEL_VIRTIO_T_MMIO_LEGACY)
        return; /* version 1 has 32 feature bits: a second word is a register misuse */
    wr(d, MMIO_DRIVER_FEATURES_SEL, 1);
    wr(d, MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static uint8_t mm_get_status(struct keel_virtio_dev *d)
{
    return (uint8_t)rd(d, MMIO_STATUS);
}
static void mm_set_status(struct keel_virtio_dev *d, uint8_t s)
{
    wr(d, MMIO_STATUS, s);
}
static uint32_t mm_generation(struct keel_virtio_dev *d)
{
    return rd(d, MMIO_CONFIG_GENERATION);
}

static bool cfg_in_window(struct keel_virtio_dev *d, uint32_t off, unsigned width)
{
    return (uint64_t)MMIO_CONFIG + off + width <= regs(d)->size;
}

static uint32_t mm_cfg_read(struct keel_virtio_dev *d, uint32_t off, unsigned width)
{
    if (!cfg_in_window(d, off, width))
        return 0;
    if (width == 1u)
        return keel_region_read8(regs(d), MMIO_CONFIG + off);
    if (width == 2u)
        return keel_region_read16(regs(d), MMIO_CONFIG + off);
    return keel_region_read32(regs(d), MMIO_CONFIG + off);
}

static void mm_cfg_write(struct keel_virtio_dev *d, uint32_t off, unsigned width, uint32_t v)
{
    if (!cfg_in_window(d, off, width))
        return;
    if (width == 1u)
        keel_region_write8(regs(d), MMIO_CONFIG + off, (uint8_t)v);
    else if (width == 2u)
        keel_region_write16(regs(d), MMIO_CONFIG + off, (uint16_t)v);
    else
        keel_region_write32(regs(d), MMIO_CONFIG + off, v);
}

static uint16_t mm_queue_max(struct keel_virtio_dev *d, uint16_t index)
{
    uint32_t max;

    wr(d, MMIO_QUEUE_SEL, index);
    /* 4.2.3.2: the queue must not already be in use. */
    if (rd(d, d->t.mmio.version == 1u ? MMIO_QUEUE_PFN : MMIO_QUEUE_READY) != 0u)
        return 0;
    max = rd(d, MMIO_QUEUE_NUM_MAX);
    return max > 0xffffu ? 0xffffu : (uint16_t)max;
}

static void wr64(struct keel_virtio_dev *d, uint32_t off, uint64_t v)
{
    wr(d, off, (uint32_t)v);
    wr(d, off + 4u, (uint32_t)(v >> 32));
}

static int mm_queue_setup(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    wr(d, MMIO_QUEUE_SEL, vq->index);
    wr(d, MMIO_QUEUE_NUM, vq->size);
    if (d->t.mmio.version == 1u) {
        uint64_t pfn = vq->desc_bus >> 12; /* MMIO_PAGE */
        if (vq->packed || (vq->desc_bus & (MMIO_PAGE - 1u)) != 0u || pfn > UINT32_MAX ||
            pfn == 0u) {
            KEEL_LOGE(d->hal, "virtio-mmio: ring at bus 0x%llx cannot be given as a PFN",
                      (unsigned long long)vq->desc_bus);
            return KEEL_ENOTSUP;
        }
        wr(d, MMIO_GUEST_PAGE_SIZE, MMIO_PAGE);
        wr(d, MMIO_QUEUE_ALIGN, KEEL_VIRTQ_LEGACY_ALIGN);
        wr(d, MMIO_QUEUE_PFN, (uint32_t)pfn);
        return KEEL_OK;
    }
    wr64(d, MMIO_QUEUE_DESC_LOW, vq->desc_bus);
    wr64(d, MMIO_QUEUE_DRIVER_LOW, vq->driver_bus);
    wr64(d, MMIO_QUEUE_DEVICE_LOW, vq->device_bus);
    wr(d, MMIO_QUEUE_READY, 1);
    return KEEL_OK;
}

struct qreset_wait {
    struct keel_virtio_dev *d;
};

static bool queue_not_ready(void *arg)
{
    struct qreset_wait *w = arg;
    return rd(w->d, MMIO_QUEUE_READY) == 0u;
}

static bool qreset_reads_zero(void *arg)
{
    struct qreset_wait *w = arg;
    return rd(w->d, MMIO_QUEUE_RESET) == 0u;
}

/* Per-queue reset; see transport_pci_modern.c for the two QueueReset polarities (1.2 / 1.3). */
static int mm_queue_reset(struct keel_virtio_dev *d, uint16_t index)
{
    struct qreset_wait w = {d};
    uint32_t v;
    int rc;

    wr(d, MMIO_QUEUE_SEL, index);
    wr(d, MMIO_QUEUE_RESET, 1);
    rc = keel_wait_until(d->hal, queue_not_ready, &w, KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US, 10);
    if (rc != KEEL_OK)
        return rc;
    (void)keel_wait_until(d->hal, qreset_reads_zero, &w, KEEL_CONFIG_VIRTIO_QRESET_SETTLE_US, 10);
    v = rd(d, MMIO_QUEUE_RESET);
    return v <= 1u ? KEEL_OK : KEEL_ENODEV;
}

static void mm_notify(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    wr(d, MMIO_QUEUE_NOTIFY, vq->index);
}

static uint32_t mm_isr(struct keel_virtio_dev *d)
{
    uint32_t st = rd(d, MMIO_INTERRUPT_STATUS) & (KEEL_VIRTIO_ISR_QUEUE | KEEL_VIRTIO_ISR_CONFIG);

    /* 4.2.2.1: acknowledge exactly the (defined) bits being handled. */
    if (st != 0u)
        wr(d, MMIO_INTERRUPT_ACK, st);
    return st;
}

const struct keel_virtio_transport_ops keel_virtio_mmio_ops = {
    .name = "mmio",
    .get_features = mm_get_features,
    .set_features = mm_set_features,
    .get_status = mm_get_status,
    .set_status = mm_set_status,
    .generation = mm_generation,
    .cfg_read = mm_cfg_read,
    .cfg_write = mm_cfg_write,
    .queue_max = mm_queue_max,
    .queue_setup = mm_queue_setup,
    .queue_reset = mm_queue_reset,
    .notify = mm_notify,
    .isr = mm_isr,
    .set_config_vector = NULL,
};

const struct keel_virtio_transport_ops keel_virtio_mmio_legacy_ops = {
    .name = "mmio-legacy",
    .get_features = mm_get_features,
    .set_features = mm_set_features,
    .get_status = mm_get_status,
    .set_status = mm_set_status,
    .generation = NULL,
    .cfg_read = mm_cfg_read,
    .cfg_write = mm_cfg_write,
    .queue_max = mm_queue_max,
    .queue_setup = mm_queue_setup,
    .queue_reset = NULL,
    .notify = mm_notify,
    .isr = mm_isr,
    .set_config_vector = NULL,
};

static int map_window(const struct keel_hal *hal, uint64_t base, uint64_t size,
                      struct keel_region *out)
{
    bool is_mmio = true;
    keel_io_addr_t io = (keel_io_addr_t)base;

    if (hal->ops->io_map != NULL) {
        int rc = hal->ops->io_map(hal->ctx, base, size, false, &io, &is_mmio);
        if (rc != KEEL_OK)
            return rc;
    }
    out->hal = hal;
    out->base = io;
    out->size = size;
    out->is_mmio = is_mmio;
    return KEEL_OK;
}

int keel_virtio_mmio_probe(struct keel_virtio_dev *d, const struct keel_hal *hal, uint64_t base,
                           uint64_t size, uint32_t irq_line)
{
    uint32_t version;
    int rc;

    if (d == NULL || hal == NULL || size < MMIO_WINDOW_MIN)
        return KEEL_EINVAL;
    if (keel_hal_check(hal) != KEEL_OK)
        return KEEL_EHAL;
    keel_memset(d, 0, sizeof(*d));
    d->hal = hal;
    d->irq_mode = KEEL_VIRTIO_IRQ_POLL;
    rc = map_window(hal, base, size, &d->t.mmio.regs);
    if (rc != KEEL_OK)
        return rc;
    if (rd(d, MMIO_MAGIC_VALUE) != MMIO_MAGIC)
        return KEEL_ENODEV;
    version = rd(d, MMIO_VERSION);
    d->device_id = rd(d, MMIO_DEVICE_ID);
    if (d->device_id == 0u)
        return KEEL_ENODEV; /* an empty slot (QEMU answers magic and version there) */
    if (version != 1u && version != 2u)
        return KEEL_ENOTSUP;
    d->t.mmio.version = version;
    d->t.mmio.irq_line = irq_line;
    d->legacy = version == 1u;
    d->tops = d->legacy ? &keel_virtio_mmio_legacy_ops : &keel_virtio_mmio_ops;
    d->transport = d->legacy ? KEEL_VIRTIO_T_MMIO_LEGACY : KEEL_VIRTIO_T_MMIO;
    return KEEL_OK;
}
