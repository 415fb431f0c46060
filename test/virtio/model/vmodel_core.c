/* SPDX-License-Identifier: MIT */
/*
 * Device-side virtio core of the model: device status state machine (2.1, 3.1), feature negotiation
 * (2.2), device configuration space and generation (2.5), queue lifecycle, interrupts and the
 * public lifetime / observation API. Transports decode registers and call in here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmodel_internal.h"

/* ------------------------------------------------------------------------------------------------
 * Errors
 */
__attribute__((format(printf, 2, 0))) static void vm_verror(struct vmodel *m, const char *fmt,
                                                            va_list ap)
{
    char msg[200];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    m->st.driver_errors++;
    sim_violation(m->s, "virtio model (%s): %s", m->dev->name ? m->dev->name : "dev", msg);
}

void vm_driver_error(struct vmodel *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vm_verror(m, fmt, ap);
    va_end(ap);
}

void vm_device_error(struct vmodel *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vm_verror(m, fmt, ap);
    va_end(ap);
    /* A real device cannot trust a queue the driver corrupted: QEMU's virtio_error() marks the
       device broken and asks for a reset. */
    if (m->cfg.error_needs_reset)
        vmodel_set_needs_reset(m);
    else
        m->broken = true;
}

/* ------------------------------------------------------------------------------------------------
 * DMA helpers (all ring accesses go through the sim so unmapped addresses are violations; fields in
 * guest order: little-endian, or host order on a legacy interface)
 */
uint16_t vm_rd16(struct vmodel *m, uint64_t bus)
{
    uint8_t b[2];

    sim_dma_read(m->s, bus, b, 2);
    return vm_g16(m, b);
}

uint32_t vm_rd32(struct vmodel *m, uint64_t bus)
{
    uint8_t b[4];

    sim_dma_read(m->s, bus, b, 4);
    return vm_g32(m, b);
}

uint64_t vm_rd64(struct vmodel *m, uint64_t bus)
{
    uint8_t b[8];

    sim_dma_read(m->s, bus, b, 8);
    return vm_g64(m, b);
}

void vm_wr16(struct vmodel *m, uint64_t bus, uint16_t v)
{
    uint8_t b[2];

    vm_gput16(m, b, v);
    sim_dma_write(m->s, bus, b, 2);
}

void vm_wr32(struct vmodel *m, uint64_t bus, uint32_t v)
{
    uint8_t b[4];

    vm_gput32(m, b, v);
    sim_dma_write(m->s, bus, b, 4);
}

void vm_wr64(struct vmodel *m, uint64_t bus, uint64_t v)
{
    uint8_t b[8];

    vm_gput64(m, b, v);
    sim_dma_write(m->s, bus, b, 8);
}

/* ------------------------------------------------------------------------------------------------
 * Interface and feature helpers
 */
bool vm_is_legacy(const struct vmodel *m)
{
    return m->cfg.transport == VMODEL_MMIO_V1 || m->cfg.transport == VMODEL_PCI_LEGACY ||
           (m->cfg.transport == VMODEL_PCI_TRANSITIONAL && m->iface == VM_IFACE_LEGACY);
}

bool vm_has(const struct vmodel *m, uint64_t feature)
{
    /* Legacy devices apply guest features as they are written (there is no FEATURES_OK), and
       queues are set up before DRIVER_OK. */
    if (!m->features_done && vm_is_legacy(m))
        return ((m->driver_features & m->offered & 0xffffffffull) & feature) == feature;
    return m->features_done && (m->negotiated & feature) == feature;
}

bool vm_iface_use(struct vmodel *m, enum vm_iface iface)
{
    if (m->cfg.transport != VMODEL_PCI_TRANSITIONAL)
        return true;
    if (m->iface == VM_IFACE_NONE) {
        m->iface = iface;
        return true;
    }
    if (m->iface != iface) {
        if (m->cfg.strict)
            vm_driver_error(m, "driver mixes the legacy and modern interfaces without a reset");
        return !m->cfg.strict;
    }
    return true;
}

bool vm_dma_allowed(struct vmodel *m)
{
    if (m->fn != NULL && !(sim_pci_cfg_get(m->fn, 0x04, 2) & 0x4u)) {
        vm_driver_error(m, "device must DMA but PCI bus mastering is disabled");
        return false;
    }
    return true;
}

static uint64_t offered_now(const struct vmodel *m)
{
    if (vm_is_legacy(m))
        return m->offered & 0xffffffffull;
    return m->offered;
}

uint32_t vm_device_features_read(struct vmodel *m, uint32_t sel)
{
    uint64_t f = offered_now(m);

    if (vm_is_legacy(m))
        return sel == 0 ? (uint32_t)f : 0u;
    if (sel == 0)
        return (uint32_t)f;
    if (sel == 1)
        return (uint32_t)(f >> 32);
    return 0;
}

void vm_driver_features_write(struct vmodel *m, uint32_t sel, uint32_t val)
{
    if (m->cfg.strict && (m->status & (VMODEL_S_FEATURES_OK | VMODEL_S_DRIVER_OK)))
        vm_driver_error(m, "driver features written after FEATURES_OK/DRIVER_OK (status 0x%x)",
                        m->status);
    if (m->cfg.strict && !(m->status & VMODEL_S_DRIVER))
        vm_driver_error(m, "driver features written before DRIVER (status 0x%x)", m->status);
    if (sel == 0) {
        m->driver_features = (m->driver_features & ~0xffffffffull) | val;
    } else if (sel == 1 && !vm_is_legacy(m)) {
        m->driver_features = (m->driver_features & 0xffffffffull) | ((uint64_t)val << 32);
    } else if (val != 0 && m->cfg.strict) {
        vm_driver_error(m, "driver accepts features 0x%x in unsupported word %u", val, sel);
    }
    m->st.features_driver = m->driver_features;
}

/* ------------------------------------------------------------------------------------------------
 * Device status (2.1, 3.1.1)
 */
static void free_queue_state(struct vm_vq *vq)
{
    if (vq->timer >= 0) {
        sim_timer_cancel(vq->m->s, vq->timer);
        vq->timer = -1;
    }
    vm_free_inflight(vq);
}

static void queue_defaults(struct vm_vq *vq)
{
    vq->ready = false;
    vq->reset_done = false;
    vq->size = vq->size_max;
    vq->msix_vector = VMODEL_NO_VECTOR;
    vq->desc = vq->driver = vq->device = 0;
    vq->pfn = 0;
    vq->align = VMODEL_LEGACY_ALIGN;
    vq->in_pass = false;
    vq->epoch++;
}

static void device_reset(struct vmodel *m)
{
    unsigned q;

    if (sim_fault_hit(m->s, VMODEL_FAULT_RESET_STUCK, NULL))
        return; /* status keeps its value: the driver's bounded wait must give up */
    if (m->dev->reset)
        m->dev->reset(m->dev_ctx);
    for (q = 0; q < m->nq; q++) {
        free_queue_state(&m->vq[q]);
        queue_defaults(&m->vq[q]);
    }
    m->status = 0;
    m->driver_features = 0;
    m->negotiated = 0;
    m->features_done = false;
    m->dfsel = m->gfsel = 0;
    m->broken = false;
    m->iface = VM_IFACE_NONE;
    m->isr = 0;
    m->int_status = 0;
    m->config_vector = VMODEL_NO_VECTOR;
    m->queue_sel = 0;
    m->st.device_resets++;
}

static bool accept_features(struct vmodel *m)
{
    uint64_t f = m->driver_features;

    if (f & ~offered_now(m)) {
        vm_driver_error(m, "driver accepted features 0x%llx the device did not offer",
                        (unsigned long long)(f & ~offered_now(m)));
        return false;
    }
    if (!vm_is_legacy(m) && !(f & VMODEL_F_VERSION_1)) {
        /* 6.1: a non-transitional device may refuse FEATURES_OK without VERSION_1. */
        if (m->cfg.strict)
            vm_driver_error(m, "modern interface used without accepting VERSION_1");
        return false;
    }
    if (m->dev->features_ok && !m->dev->features_ok(m->dev_ctx, f))
        return false;
    m->negotiated = f;
    m->features_done = true;
    m->st.features_negotiated = f;
    return true;
}

static void check_status_sequence(struct vmodel *m, uint8_t old, uint8_t val)
{
    uint8_t add = (uint8_t)(val & ~old);

    if ((val & old & ~VMODEL_S_NEEDS_RESET) != (old & ~VMODEL_S_NEEDS_RESET))
        vm_driver_error(m, "status write 0x%x clears bits of 0x%x (only a reset may)", val, old);
    if ((add & VMODEL_S_NEEDS_RESET))
        vm_driver_error(m, "driver set DEVICE_NEEDS_RESET (a device-only bit)");
    if ((add & VMODEL_S_DRIVER) && !(val & VMODEL_S_ACKNOWLEDGE))
        vm_driver_error(m, "DRIVER set without ACKNOWLEDGE");
    if ((add & VMODEL_S_FEATURES_OK) && !(val & VMODEL_S_DRIVER))
        vm_driver_error(m, "FEATURES_OK set without DRIVER");
    if ((add & VMODEL_S_DRIVER_OK) && !(val & VMODEL_S_DRIVER))
        vm_driver_error(m, "DRIVER_OK set without DRIVER");
    if ((add & VMODEL_S_DRIVER_OK) && !vm_is_legacy(m) && !(old & VMODEL_S_FEATURES_OK))
        vm_driver_error(m, "DRIVER_OK set before FEATURES_OK was accepted");
    if ((add & VMODEL_S_DRIVER_OK) && (add & VMODEL_S_FEATURES_OK))
        vm_driver_error(m, "FEATURES_OK and DRIVER_OK in one write (FEATURES_OK must be re-read)");
}

void vm_status_write(struct vmodel *m, uint8_t val)
{
    uint8_t old = m->status;
    uint8_t add;

    if (m->st.status_log_len < VMODEL_STATUS_LOG)
        m->st.status_log[m->st.status_log_len++] = val;
    m->st.status_writes++;
    if (val == 0) {
        device_reset(m);
        return;
    }
    if (m->cfg.strict)
        check_status_sequence(m, old, val);
    add = (uint8_t)(val & ~old);
    val = (uint8_t)((val & ~VMODEL_S_NEEDS_RESET) | (old & VMODEL_S_NEEDS_RESET));
    if (add & VMODEL_S_FEATURES_OK) {
        if (vm_is_legacy(m)) {
            /* Legacy has no FEATURES_OK; a transitional device just stores the bit. */
        } else if (sim_fault_hit(m->s, VMODEL_FAULT_FEATURES_OK_REFUSED, NULL) ||
                   !accept_features(m)) {
            val &= (uint8_t)~VMODEL_S_FEATURES_OK;
        }
    }
    if ((add & VMODEL_S_DRIVER_OK) && vm_is_legacy(m) && !m->features_done) {
        /* Legacy: the guest features in force at DRIVER_OK are the negotiated set. */
        if (!accept_features(m))
            m->features_done = true; /* keep going: QEMU applies what it can */
    }
    m->status = val;
}

uint8_t vm_status_read(struct vmodel *m)
{
    return m->status;
}

/* ------------------------------------------------------------------------------------------------
 * Device-specific configuration space (2.5)
 */
uint32_t vm_config_size(const struct vmodel *m)
{
    return m->dev->config_size(m->dev_ctx);
}

static bool config_access_ok(struct vmodel *m, uint32_t off, unsigned width, const char *what)
{
    unsigned nat;

    if ((uint64_t)off + width > vm_config_size(m)) {
        vm_driver_error(m, "device config %s of %u bytes at 0x%x beyond its %u bytes", what, width,
                        off, vm_config_size(m));
        return false;
    }
    if (!m->cfg.strict || m->dev->config_width == NULL)
        return true;
    nat = m->dev->config_width(m->dev_ctx, off);
    if (nat == 0 || width == nat || (nat == 8 && width == 4 && (off & 3u) == 0))
        return true;
    vm_driver_error(m, "device config %s at 0x%x with width %u, field is %u bytes wide", what, off,
                    width, nat);
    return true;
}

uint32_t vm_config_read(struct vmodel *m, uint32_t off, unsigned width)
{
    uint32_t v;
    uint64_t n;

    if (!config_access_ok(m, off, width, "read"))
        return 0;
    v = m->dev->config_read(m->dev_ctx, off, width);
    m->st.config_reads++;
    if (sim_fault_hit(m->s, VMODEL_FAULT_CONFIG_GEN_MIDREAD, &n)) {
        m->gen_fault_ctr++;
        if (n == 0)
            n = 1;
        if (m->gen_fault_ctr % n == 0) {
            m->generation++;
            m->st.generation = m->generation;
        }
    }
    return v;
}

void vm_config_write(struct vmodel *m, uint32_t off, unsigned width, uint32_t val)
{
    if (!config_access_ok(m, off, width, "write"))
        return;
    m->st.config_writes++;
    if (m->dev->config_write)
        m->dev->config_write(m->dev_ctx, off, width, val);
    else if (m->cfg.strict)
        vm_driver_error(m, "write to read-only device config at 0x%x", off);
}

/* ------------------------------------------------------------------------------------------------
 * Queues
 */
bool vm_queue_writable(struct vmodel *m, unsigned q, const char *what)
{
    struct vm_vq *vq = &m->vq[q];

    if (!m->cfg.strict)
        return true;
    if ((m->status & VMODEL_S_DRIVER_OK) && !vq->reset_done) {
        vm_driver_error(m, "queue %u %s written after DRIVER_OK", q, what);
        return false;
    }
    if (vq->ready) {
        vm_driver_error(m, "queue %u %s written while the queue is enabled", q, what);
        return false;
    }
    if (!vm_is_legacy(m) && !(m->status & VMODEL_S_FEATURES_OK)) {
        vm_driver_error(m, "queue %u %s written before FEATURES_OK", q, what);
        return false;
    }
    return true;
}

void vm_legacy_ring_layout(struct vm_vq *vq, uint64_t base, uint32_t align)
{
    uint64_t used;

    vq->desc = base;
    vq->driver = base + 16ull * vq->size;
    used = vq->driver + 6ull + 2ull * vq->size;
    vq->device = (used + align - 1u) & ~(uint64_t)(align - 1u);
}

static bool ring_mem_ok(struct vmodel *m, struct vm_vq *vq)
{
    uint64_t dsz = 16ull * vq->size;
    uint64_t asz = vq->packed ? 4u : 6ull + 2ull * vq->size;
    uint64_t usz = vq->packed ? 4u : 6ull + 8ull * vq->size;
    uint64_t aal = vq->packed ? 4u : 2u;
    uint64_t ual = vq->packed ? 4u : 4u;

    if ((vq->desc & 15u) || (vq->driver & (aal - 1u)) || (vq->device & (ual - 1u))) {
        vm_driver_error(m,
                        "queue %u ring parts misaligned (desc 0x%llx driver 0x%llx device "
                        "0x%llx)",
                        vq->idx, (unsigned long long)vq->desc, (unsigned long long)vq->driver,
                        (unsigned long long)vq->device);
        return false;
    }
    if (!sim_dma_valid(m->s, vq->desc, dsz) || !sim_dma_valid(m->s, vq->driver, asz) ||
        !sim_dma_valid(m->s, vq->device, usz)) {
        vm_driver_error(m, "queue %u ring parts are not in DMA memory", vq->idx);
        return false;
    }
    return true;
}

void vm_queue_enable(struct vmodel *m, unsigned q)
{
    struct vm_vq *vq = &m->vq[q];

    if (vq->ready)
        return;
    if (!vm_is_legacy(m) && !m->features_done) {
        vm_driver_error(m, "queue %u enabled before features were negotiated", q);
        return;
    }
    vq->packed = vm_has(m, VMODEL_F_RING_PACKED);
    vq->event_idx = vm_has(m, VMODEL_F_EVENT_IDX);
    vq->indirect_ok = vm_has(m, VMODEL_F_INDIRECT_DESC);
    if (vq->size == 0 || vq->size > vq->size_max ||
        (!vq->packed && (vq->size & (vq->size - 1u)) != 0)) {
        vm_driver_error(m, "queue %u enabled with size %u (max %u, %s ring)", q, vq->size,
                        vq->size_max, vq->packed ? "packed" : "split: power of two");
        return;
    }
    if (!ring_mem_ok(m, vq))
        return;
    vq->ready = true;
    vq->reset_done = false;
    vq->signalled_valid = false;
    vq->slots_since_signal = 0;
    vq->notified_pending = 0;
    vq->epoch++;
    if (vq->packed)
        vm_packed_init(vq);
    else
        vm_split_init(vq);
}

void vm_queue_reset(struct vmodel *m, unsigned q)
{
    struct vm_vq *vq = &m->vq[q];

    if (m->dev->queue_reset)
        m->dev->queue_reset(m->dev_ctx, q);
    free_queue_state(vq);
    queue_defaults(vq);
    m->st.vq[q].resets++;
}

void vm_notify(struct vmodel *m, unsigned q)
{
    struct vm_vq *vq;
    struct vmodel_vq_stats *st;

    if (q >= m->nq) {
        vm_driver_error(m, "notify of queue %u, device has %u", q, m->nq);
        return;
    }
    vq = &m->vq[q];
    st = &m->st.vq[q];
    st->notifies++;
    if (!(m->status & VMODEL_S_DRIVER_OK) || !vq->ready) {
        st->notifies_before_ok++;
        if (m->cfg.strict)
            vm_driver_error(m, "notify of queue %u before DRIVER_OK or while disabled", q);
        return;
    }
    if (m->broken)
        return;
    if (vq->packed) {
        if (vq->dev_event_flags_pub == RING_EVENT_FLAGS_DISABLE)
            st->notifies_unneeded++;
        vq->notified_pending = vm_packed_pending(vq);
    } else {
        uint16_t now = vm_split_avail_idx(vq);
        if (!vm_split_notify_needed(vq, now))
            st->notifies_unneeded++;
        vq->avail_at_notify = now;
    }
    vm_queue_kick(vq);
}

/* ------------------------------------------------------------------------------------------------
 * Interrupts
 */
void vm_raise_irq(struct vmodel *m, int q)
{
    if (m->gone)
        return;
    if (q < 0)
        m->st.config_irqs++;
    else
        m->st.vq[q].irqs++;
    if (m->cfg.transport == VMODEL_MMIO_V1 || m->cfg.transport == VMODEL_MMIO_V2)
        vm_mmio_irq(m, q);
    else
        vm_pci_irq(m, q);
}

/* ------------------------------------------------------------------------------------------------
 * Public API
 */
void vmodel_cfg_default(struct vmodel_cfg *cfg, enum vmodel_transport t)
{
    bool mmio = t == VMODEL_MMIO_V1 || t == VMODEL_MMIO_V2;

    memset(cfg, 0, sizeof(*cfg));
    cfg->transport = t;
    cfg->pci_addr = (struct keel_pci_addr){0, 0, 4, 0};
    cfg->pci_bars_preassigned = true;
    cfg->pci_bar4_addr = 0xfe000000ull;
    cfg->pci_bar1_addr = 0xfebf1000ull;
    cfg->pci_io_addr = 0xc040u;
    cfg->pci_notify_multiplier = 4;
    cfg->mmio_base = 0x0a000000ull;
    cfg->mmio_irq_line = 48;
    cfg->features =
        VMODEL_F_VERSION_1 | VMODEL_F_INDIRECT_DESC | VMODEL_F_EVENT_IDX | VMODEL_F_RING_RESET;
    cfg->queue_size_max = mmio ? 1024 : 256;
    cfg->mode = VMODEL_IMMEDIATE;
    cfg->latency_us = 10;
    cfg->order = VMODEL_ORDER_FIFO;
    cfg->strict = true;
    cfg->error_needs_reset = true;
}

static int alloc_queue(struct vm_vq *vq)
{
    size_t n = vq->size_max;

    vq->inflight = calloc(n, sizeof(*vq->inflight));
    vq->done = calloc(n, sizeof(*vq->done));
    vq->scratch = calloc(n, sizeof(*vq->scratch));
    vq->scratch_idx = calloc(n, sizeof(*vq->scratch_idx));
    return (vq->inflight && vq->done && vq->scratch && vq->scratch_idx) ? 0 : -1;
}

static int init_queues(struct vmodel *m)
{
    unsigned q;

    for (q = 0; q < m->nq; q++) {
        struct vm_vq *vq = &m->vq[q];
        uint32_t max =
            m->cfg.queue_size_max_q[q] ? m->cfg.queue_size_max_q[q] : m->cfg.queue_size_max;
        if (max == 0 || max > VMODEL_QUEUE_SIZE_MAX)
            return -1;
        vq->m = m;
        vq->idx = q;
        vq->size_max = (uint16_t)max;
        vq->timer = -1;
        queue_defaults(vq);
        if (alloc_queue(vq) != 0)
            return -1;
    }
    return 0;
}

struct vmodel *vmodel_create(struct sim *s, const struct vmodel_cfg *cfg,
                             const struct vmodel_device_ops *dev, void *dev_ctx)
{
    struct vmodel *m = calloc(1, sizeof(*m));
    int rc;

    if (m == NULL)
        return NULL;
    m->s = s;
    m->cfg = *cfg;
    m->dev = dev;
    m->dev_ctx = dev_ctx;
    m->nq = dev->num_queues(dev_ctx);
    m->config_vector = VMODEL_NO_VECTOR;
    if (m->nq == 0 || m->nq > VMODEL_MAX_QUEUES || init_queues(m) != 0) {
        sim_violation(s, "virtio model: bad configuration (%u queues)", m->nq);
        vmodel_destroy(m);
        return NULL;
    }
    m->offered =
        (cfg->features | (dev->features ? dev->features(dev_ctx) : 0)) & ~cfg->features_clear;
    m->st.features_offered = m->offered;
    /* Legacy rings are placed by a 32-bit page frame number: keep DMA memory below 16 TiB. */
    if (cfg->transport == VMODEL_MMIO_V1 || cfg->transport == VMODEL_PCI_LEGACY ||
        cfg->transport == VMODEL_PCI_TRANSITIONAL)
        sim_set_arena_bus_base(s, VMODEL_LEGACY_ARENA_BUS);
    if (dev->attach)
        dev->attach(dev_ctx, m);
    switch (cfg->transport) {
    case VMODEL_PCI_MODERN:
    case VMODEL_PCI_TRANSITIONAL:
        rc = vm_pci_modern_init(m);
        break;
    case VMODEL_PCI_LEGACY:
        rc = vm_pci_legacy_init(m);
        break;
    case VMODEL_MMIO_V1:
    case VMODEL_MMIO_V2:
        rc = vm_mmio_init(m);
        break;
    default:
        rc = -1;
        break;
    }
    if (rc != 0) {
        sim_violation(s, "virtio model: transport %d setup failed", (int)cfg->transport);
        vmodel_destroy(m);
        return NULL;
    }
    return m;
}

/* Regions stay registered with the sim after destroy; they must not reach freed memory. */
static uint32_t dead_read(void *dev, uint64_t off, unsigned width)
{
    (void)dev;
    (void)off;
    (void)width;
    return 0xffffffffu;
}

static void dead_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    (void)dev;
    (void)off;
    (void)width;
    (void)val;
}

static const struct sim_region_ops dead_ops = {dead_read, dead_write};

void vmodel_destroy(struct vmodel *m)
{
    unsigned q, i;

    if (m == NULL)
        return;
    for (i = 0; i < SIM_MAX_REGIONS; i++)
        if (m->s->regions[i].used && m->s->regions[i].dev == m)
            m->s->regions[i].ops = &dead_ops;
    if (m->fn != NULL)
        m->fn->dev = NULL;
    for (q = 0; q < m->nq; q++) {
        struct vm_vq *vq = &m->vq[q];
        if (vq->m == NULL)
            continue;
        free_queue_state(vq);
        free(vq->inflight);
        free(vq->done);
        free(vq->scratch);
        free(vq->scratch_idx);
    }
    free(m);
}

struct sim *vmodel_sim(const struct vmodel *m)
{
    return m->s;
}
const struct vmodel_cfg *vmodel_get_cfg(const struct vmodel *m)
{
    return &m->cfg;
}
struct sim_pci_fn *vmodel_pci_fn(const struct vmodel *m)
{
    return m->fn;
}

unsigned vmodel_process(struct vmodel *m, int q)
{
    unsigned n = 0, i;

    if (q >= 0)
        return (unsigned)q < m->nq ? vm_process_queue(&m->vq[q]) : 0u;
    for (i = 0; i < m->nq; i++)
        n += vm_process_queue(&m->vq[i]);
    return n;
}

void vmodel_complete(struct vmodel *m, struct vmodel_chain *c, uint32_t used_len)
{
    struct vm_vq *vq;

    if (c == NULL || c->queue >= m->nq) {
        sim_violation(m->s, "vmodel_complete of an unknown chain");
        return;
    }
    vq = &m->vq[c->queue];
    if (c->id >= vq->size_max || vq->inflight[c->id].c != c) {
        sim_violation(m->s, "vmodel_complete of a chain that is not in flight");
        return;
    }
    if (vq->inflight[c->id].held)
        return;
    vm_complete_chain(vq, c, used_len);
}

void vmodel_set_mode(struct vmodel *m, enum vmodel_mode mode, uint32_t latency_us)
{
    m->cfg.mode = mode;
    m->cfg.latency_us = latency_us;
}

void vmodel_config_changed(struct vmodel *m)
{
    m->generation++;
    m->st.generation = m->generation;
    m->st.config_changes++;
    /* Like QEMU: the notification needs DRIVER_OK; the generation moves regardless. */
    if (m->status & VMODEL_S_DRIVER_OK) {
        m->isr |= 2u;
        m->int_status |= 2u;
        vm_raise_irq(m, -1);
    }
}

void vm_stop_silently(struct vmodel *m)
{
    unsigned q;

    m->broken = true;
    for (q = 0; q < m->nq; q++) {
        if (m->vq[q].timer >= 0) {
            sim_timer_cancel(m->s, m->vq[q].timer);
            m->vq[q].timer = -1;
        }
    }
}

void vmodel_set_needs_reset(struct vmodel *m)
{
    vm_stop_silently(m);
    if (vm_is_legacy(m) || !(m->status & VMODEL_S_DRIVER_OK))
        return;
    m->status |= VMODEL_S_NEEDS_RESET;
    m->isr |= 2u;
    m->int_status |= 2u;
    vm_raise_irq(m, -1);
}

void vmodel_inject_irq(struct vmodel *m, int q)
{
    if (q >= (int)m->nq)
        return;
    if (q < 0) {
        m->isr |= 2u;
        m->int_status |= 2u;
    } else {
        m->isr |= 1u;
        m->int_status |= 1u;
    }
    vm_raise_irq(m, q);
}

void vmodel_set_gone(struct vmodel *m, bool gone)
{
    m->gone = gone;
    if (m->fn != NULL)
        m->fn->present = !gone; /* configuration reads of an absent function return all-ones */
}

const struct vmodel_stats *vmodel_stats(const struct vmodel *m)
{
    return &m->st;
}

void vmodel_stats_clear(struct vmodel *m)
{
    struct vmodel_stats keep = m->st;
    unsigned q;

    memset(&m->st, 0, sizeof(m->st));
    m->st.features_offered = keep.features_offered;
    m->st.features_driver = keep.features_driver;
    m->st.features_negotiated = keep.features_negotiated;
    m->st.generation = keep.generation;
    for (q = 0; q < VMODEL_MAX_QUEUES; q++)
        m->st.vq[q].inflight = keep.vq[q].inflight;
}

uint8_t vmodel_status(const struct vmodel *m)
{
    return m->status;
}
uint64_t vmodel_features(const struct vmodel *m)
{
    return m->features_done ? m->negotiated : 0;
}
unsigned vmodel_num_queues(const struct vmodel *m)
{
    return m->nq;
}
bool vmodel_broken(const struct vmodel *m)
{
    return m->broken;
}

bool vmodel_is_legacy(const struct vmodel *m)
{
    return vm_is_legacy(m);
}

bool vmodel_queue_enabled(const struct vmodel *m, unsigned q)
{
    return q < m->nq && m->vq[q].ready;
}

uint16_t vmodel_queue_size(const struct vmodel *m, unsigned q)
{
    return q < m->nq ? m->vq[q].size : 0;
}

bool vmodel_queue_packed(const struct vmodel *m, unsigned q)
{
    return q < m->nq && m->vq[q].ready && m->vq[q].packed;
}

unsigned vmodel_inflight(const struct vmodel *m, unsigned q)
{
    return q < m->nq ? m->st.vq[q].inflight : 0u;
}

unsigned vmodel_avail_pending(struct vmodel *m, unsigned q)
{
    struct vm_vq *vq;

    if (q >= m->nq || !m->vq[q].ready)
        return 0;
    vq = &m->vq[q];
    if (vq->packed)
        return vm_packed_pending(vq);
    return (uint16_t)(vm_split_avail_idx(vq) - vq->last_avail);
}

bool vmodel_notify_owed(struct vmodel *m, unsigned q)
{
    struct vm_vq *vq;
    uint16_t now;

    if (q >= m->nq || !m->vq[q].ready || !(m->status & VMODEL_S_DRIVER_OK))
        return false;
    vq = &m->vq[q];
    if (vq->packed)
        return vq->dev_event_flags_pub != RING_EVENT_FLAGS_DISABLE &&
               vm_packed_pending(vq) > vq->notified_pending;
    now = vm_split_avail_idx(vq);
    if (now == vq->avail_at_notify || now == vq->last_avail)
        return false;
    return vm_split_notify_needed(vq, now);
}

const char *vmodel_transport_name(enum vmodel_transport t)
{
    switch (t) {
    case VMODEL_PCI_MODERN:
        return "pci-modern";
    case VMODEL_PCI_TRANSITIONAL:
        return "pci-transitional";
    case VMODEL_PCI_LEGACY:
        return "pci-legacy";
    case VMODEL_MMIO_V2:
        return "mmio-v2";
    case VMODEL_MMIO_V1:
        return "mmio-v1";
    }
    return "?";
}
