/* SPDX-License-Identifier: MIT */
/*
 * Virtio over PCI, modern interface (VIRTIO 1.2 section 4.1): the PCI function, vendor-specific
 * capabilities pointing into BAR4 with QEMU's layout, the common configuration structure, ISR,
 * device configuration and notification windows, MSI-X (BAR1) and INTx delivery. Transitional
 * devices add the legacy I/O BAR (vmodel_transport_pci_legacy.c) to the same function.
 */
#include <string.h>

#include "vmodel_internal.h"

#define VIRTIO_PCI_CAP_COMMON_CFG 1u
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2u
#define VIRTIO_PCI_CAP_ISR_CFG    3u
#define VIRTIO_PCI_CAP_DEVICE_CFG 4u
#define VIRTIO_PCI_CAP_PCI_CFG    5u
#define PCI_CAP_ID_VNDR           0x09u

#define WIN 0x1000u /* each capability window in BAR4 */

/* struct virtio_pci_common_cfg offsets (4.1.4.3) */
#define CC_DFSELECT     0x00u
#define CC_DF           0x04u
#define CC_GFSELECT     0x08u
#define CC_GF           0x0cu
#define CC_MSIX_CONFIG  0x10u
#define CC_NUM_QUEUES   0x12u
#define CC_STATUS       0x14u
#define CC_GENERATION   0x15u
#define CC_Q_SELECT     0x16u
#define CC_Q_SIZE       0x18u
#define CC_Q_MSIX       0x1au
#define CC_Q_ENABLE     0x1cu
#define CC_Q_NOFF       0x1eu
#define CC_Q_DESC       0x20u
#define CC_Q_DRIVER     0x28u
#define CC_Q_DEVICE     0x30u
#define CC_Q_NOTIF_DATA 0x38u
#define CC_Q_RESET      0x3au
#define CC_END          0x3cu

/* ------------------------------------------------------------------------------------------------
 * PCI function, MSI-X and interrupts (shared with the legacy-only device)
 */
static uint32_t msix_read(void *dev, uint64_t off, unsigned width)
{
    struct vmodel *m = dev;

    if (m->gone)
        return 0xffffffffu;
    if (off >= 0x800u)
        return sim_msix_pba_read(&m->msix, off - 0x800u, width);
    return sim_msix_table_read(&m->msix, off, width);
}

static void msix_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct vmodel *m = dev;

    if (m->gone)
        return;
    if (off >= 0x800u) {
        vm_driver_error(m, "write to the MSI-X PBA at 0x%llx", (unsigned long long)off);
        return;
    }
    sim_msix_table_write(&m->msix, off, width, val);
}

static const struct sim_region_ops msix_ops = {msix_read, msix_write};

int vm_pci_common_init(struct vmodel *m, uint16_t device_id, uint8_t revision)
{
    struct sim *s = m->s;

    m->fn =
        sim_pci_add(s, m->cfg.pci_addr, 0x1af4u, device_id, (m->dev->pci_class << 8) | revision);
    if (m->fn == NULL)
        return -1;
    m->fn->dev = m;
    sim_pci_cfg_put(m->fn, 0x2c, 2, 0x1af4u);           /* subsystem vendor */
    sim_pci_cfg_put(m->fn, 0x2e, 2, m->dev->device_id); /* subsystem id = virtio device id */
    if (m->cfg.msix_vectors != VMODEL_NO_MSIX) {
        m->nvec = m->cfg.msix_vectors ? m->cfg.msix_vectors : m->nq + 1u;
        if (m->nvec > SIM_MSIX_MAX)
            m->nvec = SIM_MSIX_MAX;
        if (sim_pci_bar(s, m->fn, VMODEL_PCI_BAR_MSIX, 0x1000u, false, false, &msix_ops, m) < 0)
            return -1;
        sim_msix_init(&m->msix, s, m->fn, m->nvec, VMODEL_PCI_BAR_MSIX, 0, 0x800u);
        m->has_msix = true;
    }
    return 0;
}

/* Firmware-style placement: decode and bus mastering on, BARs at the configured addresses. */
static void preassign(struct vmodel *m)
{
    if (!m->cfg.pci_bars_preassigned)
        return;
    sim_pci_cfg_put(m->fn, 0x04, 2, 0x0007u);
    if (m->has_msix)
        sim_pci_bar_set(m->s, m->fn, VMODEL_PCI_BAR_MSIX, m->cfg.pci_bar1_addr);
    if (m->fn->bar_size[VMODEL_PCI_BAR_MODERN])
        sim_pci_bar_set(m->s, m->fn, VMODEL_PCI_BAR_MODERN, m->cfg.pci_bar4_addr);
    if (m->fn->bar_size[VMODEL_PCI_BAR_LEGACY])
        sim_pci_bar_set(m->s, m->fn, VMODEL_PCI_BAR_LEGACY, m->cfg.pci_io_addr);
}

uint16_t vm_msix_vector_write(struct vmodel *m, uint16_t v)
{
    /* 4.1.5.1.2: a vector the device cannot map reads back as NO_VECTOR. */
    if (!m->has_msix || (v != VMODEL_NO_VECTOR && v >= m->nvec))
        return VMODEL_NO_VECTOR;
    return v;
}

void vm_pci_irq(struct vmodel *m, int q)
{
    int h;

    if (m->has_msix && sim_msix_enabled(&m->msix)) {
        uint16_t vec = q < 0 ? m->config_vector : m->vq[q].msix_vector;
        if (vec != VMODEL_NO_VECTOR && vec < m->nvec)
            sim_msix_fire(&m->msix, vec);
        return;
    }
    if (sim_pci_cfg_get(m->fn, 0x04, 2) & 0x400u)
        return; /* INTx disabled in the command register */
    h = sim_irq_find(m->s, KEEL_IRQ_PCI_INTX, m->cfg.pci_addr, 1);
    if (h >= 0) {
        m->st.intx_raised++;
        sim_irq_raise(m->s, h);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Common configuration structure
 */
static unsigned cc_width(uint32_t off)
{
    if (off < CC_MSIX_CONFIG)
        return 4;
    if (off == CC_STATUS || off == CC_GENERATION)
        return 1;
    if (off >= CC_Q_DESC && off < CC_Q_NOTIF_DATA)
        return 4; /* 64-bit fields, accessed as two 32-bit halves (4.1.3.1) */
    return 2;
}

static struct vm_vq *selected(struct vmodel *m)
{
    return m->queue_sel < m->nq ? &m->vq[m->queue_sel] : NULL;
}

static uint32_t addr_half(uint64_t a, uint32_t off)
{
    return (off & 4u) ? (uint32_t)(a >> 32) : (uint32_t)a;
}

static uint32_t cc_queue_read(struct vmodel *m, uint32_t off)
{
    struct vm_vq *vq = selected(m);

    if (vq == NULL)
        return 0; /* 4.1.4.3.2: an unavailable queue reads size 0 */
    switch (off) {
    case CC_Q_SIZE:
        return vq->size;
    case CC_Q_MSIX:
        return vq->msix_vector;
    case CC_Q_ENABLE:
        return vq->ready ? 1u : 0u;
    case CC_Q_NOFF:
        return vq->idx;
    case CC_Q_RESET:
        return vq->reset_done ? 1u : 0u;
    case CC_Q_NOTIF_DATA:
        return 0;
    default:
        break;
    }
    if (off < CC_Q_DRIVER)
        return addr_half(vq->desc, off - CC_Q_DESC);
    if (off < CC_Q_DEVICE)
        return addr_half(vq->driver, off - CC_Q_DRIVER);
    return addr_half(vq->device, off - CC_Q_DEVICE);
}

static uint32_t cc_read(struct vmodel *m, uint32_t off)
{
    switch (off) {
    case CC_DFSELECT:
        return m->dfsel;
    case CC_DF:
        return vm_device_features_read(m, m->dfsel);
    case CC_GFSELECT:
        return m->gfsel;
    case CC_GF:
        return m->gfsel == 0 ? (uint32_t)m->driver_features
                             : (m->gfsel == 1 ? (uint32_t)(m->driver_features >> 32) : 0u);
    case CC_MSIX_CONFIG:
        return m->config_vector;
    case CC_NUM_QUEUES:
        return m->nq;
    case CC_STATUS:
        return vm_status_read(m);
    case CC_GENERATION:
        return m->generation & 0xffu;
    case CC_Q_SELECT:
        return m->queue_sel;
    default:
        return cc_queue_read(m, off);
    }
}

static void set_half(uint64_t *a, uint32_t off, uint32_t val)
{
    if (off & 4u)
        *a = (*a & 0xffffffffull) | ((uint64_t)val << 32);
    else
        *a = (*a & ~0xffffffffull) | val;
}

static void cc_queue_reset(struct vmodel *m, struct vm_vq *vq, uint32_t val)
{
    if (val != 1u)
        return;
    if (!vm_has(m, VMODEL_F_RING_RESET)) {
        vm_driver_error(m, "queue_reset written without VIRTIO_F_RING_RESET");
        return;
    }
    if (sim_fault_hit(m->s, VMODEL_FAULT_QUEUE_RESET_STUCK, NULL))
        return;
    vm_queue_reset(m, vq->idx);
    vq->reset_done = true; /* 4.1.4.3.2: reads 1 until re-enabled */
}

static void cc_queue_write(struct vmodel *m, uint32_t off, uint32_t val)
{
    struct vm_vq *vq = selected(m);

    if (vq == NULL) {
        vm_driver_error(m, "queue register 0x%x written with queue_select %u of %u", off,
                        m->queue_sel, m->nq);
        return;
    }
    switch (off) {
    case CC_Q_SIZE:
        if (vm_queue_writable(m, vq->idx, "queue_size"))
            vq->size = (uint16_t)val;
        return;
    case CC_Q_MSIX:
        vq->msix_vector = vm_msix_vector_write(m, (uint16_t)val);
        return;
    case CC_Q_ENABLE:
        if (val != 1u) {
            vm_driver_error(m, "queue %u: queue_enable written with %u (only 1 is allowed)",
                            vq->idx, val);
            return;
        }
        if (vm_queue_writable(m, vq->idx, "queue_enable"))
            vm_queue_enable(m, vq->idx);
        return;
    case CC_Q_RESET:
        cc_queue_reset(m, vq, val);
        return;
    case CC_Q_NOFF:
    case CC_Q_NOTIF_DATA:
        vm_driver_error(m, "write to read-only common config 0x%x", off);
        return;
    default:
        break;
    }
    if (!vm_queue_writable(m, vq->idx, "ring address"))
        return;
    if (off < CC_Q_DRIVER)
        set_half(&vq->desc, off - CC_Q_DESC, val);
    else if (off < CC_Q_DEVICE)
        set_half(&vq->driver, off - CC_Q_DRIVER, val);
    else
        set_half(&vq->device, off - CC_Q_DEVICE, val);
}

static void cc_write(struct vmodel *m, uint32_t off, uint32_t val)
{
    if (!vm_iface_use(m, VM_IFACE_MODERN))
        return;
    switch (off) {
    case CC_DFSELECT:
        m->dfsel = val;
        return;
    case CC_GFSELECT:
        m->gfsel = val;
        return;
    case CC_GF:
        vm_driver_features_write(m, m->gfsel, val);
        return;
    case CC_MSIX_CONFIG:
        m->config_vector = vm_msix_vector_write(m, (uint16_t)val);
        return;
    case CC_STATUS:
        vm_status_write(m, (uint8_t)val);
        return;
    case CC_Q_SELECT:
        m->queue_sel = (uint16_t)val;
        return;
    case CC_DF:
    case CC_NUM_QUEUES:
    case CC_GENERATION:
        vm_driver_error(m, "write to read-only common config 0x%x", off);
        return;
    default:
        cc_queue_write(m, off, val);
        return;
    }
}

static bool cc_access_ok(struct vmodel *m, uint64_t off, unsigned width)
{
    if (off >= CC_END) {
        vm_driver_error(m, "common config access at 0x%llx beyond the structure",
                        (unsigned long long)off);
        return false;
    }
    if (m->cfg.strict && width != cc_width((uint32_t)off)) {
        vm_driver_error(m, "common config 0x%llx accessed with width %u (field is %u)",
                        (unsigned long long)off, width, cc_width((uint32_t)off));
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------------
 * BAR4 dispatch: common | ISR | device config | notify
 */
static uint32_t modern_read(void *dev, uint64_t off, unsigned width)
{
    struct vmodel *m = dev;
    uint32_t v;

    if (m->gone)
        return 0xffffffffu;
    if (off < VMODEL_PCI_ISR_OFF)
        return cc_access_ok(m, off, width) ? cc_read(m, (uint32_t)off) : 0u;
    if (off < VMODEL_PCI_DEVICE_OFF) {
        if (off != VMODEL_PCI_ISR_OFF || (width != 1 && m->cfg.strict))
            vm_driver_error(m, "ISR read at +0x%llx width %u",
                            (unsigned long long)(off - VMODEL_PCI_ISR_OFF), width);
        v = m->isr; /* 4.1.4.5: reading clears it and de-asserts INTx */
        m->isr = 0;
        return v;
    }
    if (off < VMODEL_PCI_NOTIFY_OFF)
        return vm_config_read(m, (uint32_t)(off - VMODEL_PCI_DEVICE_OFF), width);
    return 0;
}

static void notify_write(struct vmodel *m, uint32_t off, unsigned width, uint32_t val)
{
    uint32_t mult = m->cfg.pci_notify_multiplier;
    uint32_t q = mult ? off / mult : val;

    if (m->cfg.strict && (width != 2 || (mult && off % mult) || (val & 0xffffu) != q))
        vm_driver_error(m, "notify write at +0x%x width %u value 0x%x (expected queue %u)", off,
                        width, val, q);
    vm_notify(m, q);
}

static void modern_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct vmodel *m = dev;

    if (m->gone)
        return;
    if (off < VMODEL_PCI_ISR_OFF) {
        if (cc_access_ok(m, off, width))
            cc_write(m, (uint32_t)off, val);
    } else if (off < VMODEL_PCI_DEVICE_OFF) {
        vm_driver_error(m, "write to the read-only ISR");
    } else if (off < VMODEL_PCI_NOTIFY_OFF) {
        if (vm_iface_use(m, VM_IFACE_MODERN))
            vm_config_write(m, (uint32_t)(off - VMODEL_PCI_DEVICE_OFF), width, val);
    } else if (off - VMODEL_PCI_NOTIFY_OFF < m->notify_len) {
        notify_write(m, (uint32_t)(off - VMODEL_PCI_NOTIFY_OFF), width, val);
    } else {
        vm_driver_error(m, "write beyond the notify window at +0x%llx", (unsigned long long)off);
    }
}

static const struct sim_region_ops modern_ops = {modern_read, modern_write};

/* ------------------------------------------------------------------------------------------------
 * Capabilities (4.1.4)
 */
static void add_vcap(struct sim_pci_fn *fn, uint8_t type, uint8_t bar, uint32_t offset,
                     uint32_t length, const uint32_t *extra)
{
    uint8_t cap[20] = {0};
    unsigned len = extra ? 20u : 16u;

    cap[2] = (uint8_t)len; /* cap_len */
    cap[3] = type;         /* cfg_type */
    cap[4] = bar;
    vm_put32(cap + 8, offset);
    vm_put32(cap + 12, length);
    if (extra)
        vm_put32(cap + 16, *extra);
    sim_pci_cap_add(fn, PCI_CAP_ID_VNDR, cap, len);
}

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 1;

    while (p < v)
        p <<= 1;
    return p;
}

int vm_pci_modern_init(struct vmodel *m)
{
    bool transitional = m->cfg.transport == VMODEL_PCI_TRANSITIONAL;
    uint16_t devid = transitional ? vm_pci_legacy_device_id(m->dev->device_id)
                                  : (uint16_t)(0x1040u + m->dev->device_id);
    uint32_t mult = m->cfg.pci_notify_multiplier;
    uint64_t bar_size;

    if (vm_pci_common_init(m, devid, (uint8_t)(transitional ? 0u : 1u)) != 0)
        return -1;
    if (transitional)
        vm_pci_legacy_bar_init(m);
    m->notify_len = mult ? mult * (m->nq - 1u) + 2u : 2u;
    m->notify_len = (m->notify_len + 3u) & ~3u;
    if (m->notify_len < WIN)
        m->notify_len = WIN;
    bar_size = pow2_at_least(VMODEL_PCI_NOTIFY_OFF + (uint64_t)m->notify_len);
    if (sim_pci_bar(m->s, m->fn, VMODEL_PCI_BAR_MODERN, bar_size, false, true, &modern_ops, m) < 0)
        return -1;
    if (m->cfg.pci_decoy_caps) /* 4.1.4.1: a reserved BAR value must be ignored by the driver */
        add_vcap(m->fn, VIRTIO_PCI_CAP_COMMON_CFG, 7, 0, WIN, NULL);
    add_vcap(m->fn, VIRTIO_PCI_CAP_COMMON_CFG, VMODEL_PCI_BAR_MODERN, VMODEL_PCI_COMMON_OFF, WIN,
             NULL);
    add_vcap(m->fn, VIRTIO_PCI_CAP_ISR_CFG, VMODEL_PCI_BAR_MODERN, VMODEL_PCI_ISR_OFF, WIN, NULL);
    add_vcap(m->fn, VIRTIO_PCI_CAP_DEVICE_CFG, VMODEL_PCI_BAR_MODERN, VMODEL_PCI_DEVICE_OFF, WIN,
             NULL);
    add_vcap(m->fn, VIRTIO_PCI_CAP_NOTIFY_CFG, VMODEL_PCI_BAR_MODERN, VMODEL_PCI_NOTIFY_OFF,
             m->notify_len, &mult);
    if (m->cfg.pci_decoy_caps) { /* access through it is not modelled */
        uint32_t data = 0;
        add_vcap(m->fn, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, &data);
    }
    preassign(m);
    return 0;
}

int vm_pci_legacy_init(struct vmodel *m)
{
    if (vm_pci_common_init(m, vm_pci_legacy_device_id(m->dev->device_id), 0) != 0)
        return -1;
    vm_pci_legacy_bar_init(m);
    preassign(m);
    return 0;
}
