/* SPDX-License-Identifier: MIT */
/*
 * Virtio over MMIO (VIRTIO 1.2 section 4.2): the version 2 register file and the legacy version 1
 * one (4.2.4: GuestPageSize, QueueAlign, QueuePFN; QEMU's default). Control registers are 32-bit
 * only (4.2.2.2); the device configuration starts at 0x100. Interrupts go to a platform line with
 * InterruptStatus / InterruptACK.
 */
#include "vmodel_internal.h"

#define MAGIC_VALUE         0x000u
#define VERSION             0x004u
#define DEVICE_ID           0x008u
#define VENDOR_ID           0x00cu
#define DEVICE_FEATURES     0x010u
#define DEVICE_FEATURES_SEL 0x014u
#define DRIVER_FEATURES     0x020u
#define DRIVER_FEATURES_SEL 0x024u
#define GUEST_PAGE_SIZE     0x028u /* v1 */
#define QUEUE_SEL           0x030u
#define QUEUE_NUM_MAX       0x034u
#define QUEUE_NUM           0x038u
#define QUEUE_ALIGN         0x03cu /* v1 */
#define QUEUE_PFN           0x040u /* v1 */
#define QUEUE_READY         0x044u /* v2 */
#define QUEUE_NOTIFY        0x050u
#define INTERRUPT_STATUS    0x060u
#define INTERRUPT_ACK       0x064u
#define STATUS              0x070u
#define QUEUE_DESC_LOW      0x080u /* v2 from here */
#define QUEUE_DESC_HIGH     0x084u
#define QUEUE_DRIVER_LOW    0x090u
#define QUEUE_DRIVER_HIGH   0x094u
#define QUEUE_DEVICE_LOW    0x0a0u
#define QUEUE_DEVICE_HIGH   0x0a4u
#define SHM_SEL             0x0acu
#define SHM_LEN_LOW         0x0b0u
#define SHM_LEN_HIGH        0x0b4u
#define SHM_BASE_LOW        0x0b8u
#define SHM_BASE_HIGH       0x0bcu
#define QUEUE_RESET         0x0c0u
#define CONFIG_GENERATION   0x0fcu

#define MMIO_MAGIC  0x74726976u /* "virt" */
#define MMIO_VENDOR 0x554d4551u /* "QEMU" */

static bool v1(const struct vmodel *m)
{
    return m->cfg.transport == VMODEL_MMIO_V1;
}

static struct vm_vq *selected(struct vmodel *m)
{
    return m->queue_sel < m->nq ? &m->vq[m->queue_sel] : NULL;
}

static bool version_reg_ok(struct vmodel *m, uint32_t off, const char *what)
{
    bool only_v1 = off == GUEST_PAGE_SIZE || off == QUEUE_ALIGN || off == QUEUE_PFN;
    bool only_v2 = off == QUEUE_READY || (off >= QUEUE_DESC_LOW && off <= CONFIG_GENERATION);

    if ((only_v1 && !v1(m)) || (only_v2 && v1(m))) {
        vm_driver_error(m, "%s of register 0x%x that version %u does not have", what, off,
                        v1(m) ? 1u : 2u);
        return false;
    }
    return true;
}

static uint32_t queue_reg_read(struct vmodel *m, uint32_t off)
{
    struct vm_vq *vq = selected(m);

    if (vq == NULL)
        return 0; /* 4.2.2: QueueNumMax 0 = queue not available */
    switch (off) {
    case QUEUE_NUM_MAX:
        return vq->size_max;
    case QUEUE_PFN:
        return vq->pfn;
    case QUEUE_READY:
        return vq->ready ? 1u : 0u;
    case QUEUE_RESET:
        return vq->reset_done ? 1u : 0u;
    default:
        return 0;
    }
}

static uint32_t reg_read(struct vmodel *m, uint32_t off)
{
    switch (off) {
    case MAGIC_VALUE:
        return MMIO_MAGIC;
    case VERSION:
        return v1(m) ? 1u : 2u;
    case DEVICE_ID:
        return m->dev->device_id;
    case VENDOR_ID:
        return MMIO_VENDOR;
    case DEVICE_FEATURES:
        return vm_device_features_read(m, m->dfsel);
    case INTERRUPT_STATUS:
        return m->int_status;
    case STATUS:
        return vm_status_read(m);
    case SHM_LEN_LOW:
    case SHM_LEN_HIGH:
    case SHM_BASE_LOW:
    case SHM_BASE_HIGH:
        return 0xffffffffu; /* 4.2.2: no shared memory region with this id */
    case CONFIG_GENERATION:
        return m->generation;
    case QUEUE_NUM_MAX:
    case QUEUE_PFN:
    case QUEUE_READY:
    case QUEUE_RESET:
        return queue_reg_read(m, off);
    default:
        vm_driver_error(m, "mmio read of write-only or reserved register 0x%x", off);
        return 0;
    }
}

static void queue_reset(struct vmodel *m, struct vm_vq *vq, uint32_t val)
{
    if (val != 1u)
        return;
    if (!vm_has(m, VMODEL_F_RING_RESET)) {
        vm_driver_error(m, "QueueReset written without VIRTIO_F_RING_RESET");
        return;
    }
    if (sim_fault_hit(m->s, VMODEL_FAULT_QUEUE_RESET_STUCK, NULL))
        return;
    vm_queue_reset(m, vq->idx);
    vq->reset_done = true;
}

static void pfn_write(struct vmodel *m, struct vm_vq *vq, uint32_t pfn)
{
    if (pfn == 0) { /* 4.2.4: stop using the queue */
        vm_queue_reset(m, vq->idx);
        return;
    }
    if (!vm_queue_writable(m, vq->idx, "QueuePFN"))
        return;
    if (m->guest_page_size == 0) {
        vm_driver_error(m, "QueuePFN written before GuestPageSize");
        return;
    }
    vq->pfn = pfn;
    vm_legacy_ring_layout(vq, (uint64_t)pfn * m->guest_page_size, vq->align);
    vm_queue_enable(m, vq->idx);
    if (!vq->ready)
        vq->pfn = 0;
}

static void set_half(uint64_t *a, bool high, uint32_t val)
{
    if (high)
        *a = (*a & 0xffffffffull) | ((uint64_t)val << 32);
    else
        *a = (*a & ~0xffffffffull) | val;
}

static bool pow2(uint32_t v)
{
    return v != 0 && (v & (v - 1u)) == 0;
}

static void queue_reg_write(struct vmodel *m, uint32_t off, uint32_t val)
{
    struct vm_vq *vq = selected(m);

    if (vq == NULL) {
        vm_driver_error(m, "queue register 0x%x written with QueueSel %u of %u", off, m->queue_sel,
                        m->nq);
        return;
    }
    switch (off) {
    case QUEUE_NUM:
        if (vm_queue_writable(m, vq->idx, "QueueNum"))
            vq->size = (uint16_t)(val > 0xffffu ? 0u : val);
        return;
    case QUEUE_ALIGN:
        if (!pow2(val))
            vm_driver_error(m, "QueueAlign %u is not a power of two", val);
        else if (vm_queue_writable(m, vq->idx, "QueueAlign"))
            vq->align = val;
        return;
    case QUEUE_PFN:
        pfn_write(m, vq, val);
        return;
    case QUEUE_READY:
        if (val == 0) /* 4.2.3.2: how the driver stops using a queue */
            vm_queue_reset(m, vq->idx);
        else if (vm_queue_writable(m, vq->idx, "QueueReady"))
            vm_queue_enable(m, vq->idx);
        return;
    case QUEUE_RESET:
        queue_reset(m, vq, val);
        return;
    default:
        break;
    }
    if (!vm_queue_writable(m, vq->idx, "ring address"))
        return;
    if (off <= QUEUE_DESC_HIGH)
        set_half(&vq->desc, off == QUEUE_DESC_HIGH, val);
    else if (off <= QUEUE_DRIVER_HIGH)
        set_half(&vq->driver, off == QUEUE_DRIVER_HIGH, val);
    else
        set_half(&vq->device, off == QUEUE_DEVICE_HIGH, val);
}

static void reg_write(struct vmodel *m, uint32_t off, uint32_t val)
{
    switch (off) {
    case DEVICE_FEATURES_SEL:
        m->dfsel = val;
        return;
    case DRIVER_FEATURES:
        vm_driver_features_write(m, m->gfsel, val);
        return;
    case DRIVER_FEATURES_SEL:
        m->gfsel = val;
        return;
    case GUEST_PAGE_SIZE:
        if (!pow2(val))
            vm_driver_error(m, "GuestPageSize %u is not a power of two", val);
        else
            m->guest_page_size = val;
        return;
    case QUEUE_SEL:
        m->queue_sel = (uint16_t)val;
        return;
    case QUEUE_NOTIFY:
        vm_notify(m, val & 0xffffu);
        return;
    case INTERRUPT_ACK:
        m->int_status &= ~val;
        return;
    case STATUS:
        vm_status_write(m, (uint8_t)val);
        return;
    case SHM_SEL:
        m->shm_sel = val;
        return;
    case QUEUE_NUM:
    case QUEUE_ALIGN:
    case QUEUE_PFN:
    case QUEUE_READY:
    case QUEUE_RESET:
    case QUEUE_DESC_LOW:
    case QUEUE_DESC_HIGH:
    case QUEUE_DRIVER_LOW:
    case QUEUE_DRIVER_HIGH:
    case QUEUE_DEVICE_LOW:
    case QUEUE_DEVICE_HIGH:
        queue_reg_write(m, off, val);
        return;
    default:
        vm_driver_error(m, "mmio write of read-only or reserved register 0x%x", off);
        return;
    }
}

static uint32_t mmio_read(void *dev, uint64_t off, unsigned width)
{
    struct vmodel *m = dev;
    uint32_t o = (uint32_t)off;

    if (m->gone)
        return 0xffffffffu;
    if (o >= VMODEL_MMIO_CONFIG_OFF)
        return vm_config_read(m, o - VMODEL_MMIO_CONFIG_OFF, width);
    if (width != 4) {
        vm_driver_error(m, "mmio control register 0x%x read with width %u", o, width);
        return 0;
    }
    if (!version_reg_ok(m, o, "read"))
        return 0;
    return reg_read(m, o);
}

static void mmio_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct vmodel *m = dev;
    uint32_t o = (uint32_t)off;

    if (m->gone)
        return;
    if (o >= VMODEL_MMIO_CONFIG_OFF) {
        vm_config_write(m, o - VMODEL_MMIO_CONFIG_OFF, width, val);
        return;
    }
    if (width != 4) {
        vm_driver_error(m, "mmio control register 0x%x written with width %u", o, width);
        return;
    }
    if (version_reg_ok(m, o, "write"))
        reg_write(m, o, val);
}

static const struct sim_region_ops mmio_ops = {mmio_read, mmio_write};

void vm_mmio_irq(struct vmodel *m, int q)
{
    struct keel_pci_addr none = {0, 0, 0, 0};
    int h;

    (void)q;
    h = sim_irq_find(m->s, KEEL_IRQ_LINE, none, m->cfg.mmio_irq_line);
    if (h >= 0)
        sim_irq_raise(m->s, h);
}

int vm_mmio_init(struct vmodel *m)
{
    if (m->cfg.mmio_base == 0 || (m->cfg.mmio_base & 0x1ffu) != 0)
        return -1;
    m->guest_page_size = 0;
    return sim_region_add(m->s, false, m->cfg.mmio_base, VMODEL_MMIO_SIZE, &mmio_ops, m) < 0 ? -1
                                                                                             : 0;
}
