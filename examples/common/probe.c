/* SPDX-License-Identifier: MIT */
/*
 * probe.c - the examples' driver manager (see probe.h): PCI and virtio-mmio discovery, driver
 * attach, registration, partition scan, and run-time servicing.
 */
#include <stdarg.h>

#include <keel/error.h>
#include <keel/fmt.h>
#include <keel/str.h>

#include "example.h"
#include "probe.h"

#define NVME_EVENT_RING 8u
#define PART_SCRATCH    4096u /* largest sector size whose partition table is read */

/* One sector every partition-table read lands in (cache-line aligned: no bounce on AArch64). */
static uint8_t part_scratch[PART_SCRATCH] __attribute__((aligned(64)));
static struct keel_part_table part_table;

/* ---- Options ------------------------------------------------------------------------------- */

const char *ex_irq_name(enum ex_irq irq)
{
    switch (irq) {
    case EX_IRQ_MSIX:
        return "msix";
    case EX_IRQ_INTX:
        return "intx";
    case EX_IRQ_AUTO:
        return "auto";
    case EX_IRQ_POLL:
    default:
        return "poll";
    }
}

static bool parse_u16(const char *cmdline, const char *key, uint16_t max, uint16_t *out)
{
    uint64_t v;
    char buf[24];

    if (!ex_arg(cmdline, key, buf, sizeof(buf)))
        return true;
    if (!ex_parse_u64(buf, &v) || v > max) {
        keel_port_printf("probe: %s=%s is not a number in 0..%u\n", key, buf, max);
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

static bool parse_flag(const char *cmdline, const char *key, bool *out)
{
    char buf[8];

    if (!ex_arg(cmdline, key, buf, sizeof(buf)))
        return true;
    if (keel_streq(buf, "1") || keel_streq(buf, "on")) {
        *out = true;
        return true;
    }
    if (keel_streq(buf, "0") || keel_streq(buf, "off")) {
        *out = false;
        return true;
    }
    keel_port_printf("probe: %s=%s: expected 0 or 1\n", key, buf);
    return false;
}

bool ex_probe_opts_parse(const char *cmdline, struct ex_probe_opts *o)
{
    char buf[16];
    bool ok = true, packed = true, parts = true;

    *o = (struct ex_probe_opts){.irq = EX_IRQ_POLL};
    if (ex_arg(cmdline, "irq", buf, sizeof(buf))) {
        if (keel_streq(buf, "poll"))
            o->irq = EX_IRQ_POLL;
        else if (keel_streq(buf, "msix"))
            o->irq = EX_IRQ_MSIX;
        else if (keel_streq(buf, "intx"))
            o->irq = EX_IRQ_INTX;
        else if (keel_streq(buf, "auto"))
            o->irq = EX_IRQ_AUTO;
        else {
            keel_port_printf("probe: irq=%s: expected poll, msix, intx or auto\n", buf);
            ok = false;
        }
    }
    if (ex_arg(cmdline, "virtio", buf, sizeof(buf))) {
        if (keel_streq(buf, "legacy"))
            o->virtio_legacy = true;
        else if (!keel_streq(buf, "modern")) {
            keel_port_printf("probe: virtio=%s: expected modern or legacy\n", buf);
            ok = false;
        }
    }
    ok = parse_flag(cmdline, "packed", &packed) && ok;
    ok = parse_flag(cmdline, "parts", &parts) && ok;
    o->no_packed = !packed;
    o->no_parts = !parts;
    ok = parse_u16(cmdline, "qsize", 1024, &o->virtio_qsize) && ok;
    ok = parse_u16(cmdline, "ioq", KEEL_CONFIG_NVME_MAX_IO_QUEUES, &o->nvme_ioq) && ok;
    ok = parse_u16(cmdline, "qdepth", KEEL_CONFIG_NVME_IO_QUEUE_DEPTH, &o->nvme_qdepth) && ok;
    return ok;
}

/* ---- Bookkeeping --------------------------------------------------------------------------- */

static void unserved(struct ex_devices *d, const char *what, const char *driver, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

static void unserved(struct ex_devices *d, const char *what, const char *driver, const char *fmt,
                     ...)
{
    struct ex_unserved *u;
    va_list ap;

    if (d->nunserved >= EX_MAX_UNSERVED) {
        d->unserved_dropped++;
        return;
    }
    u = &d->unserved[d->nunserved++];
    (void)keel_strlcpy(u->what, what, sizeof(u->what));
    (void)keel_strlcpy(u->driver, driver, sizeof(u->driver));
    va_start(ap, fmt);
    (void)keel_vsnprintf(u->reason, sizeof(u->reason), fmt, ap);
    va_end(ap);
}

void ex_print_unserved(const struct ex_devices *d)
{
    unsigned i;

    for (i = 0; i < d->nunserved; i++)
        keel_port_printf("unserved what=%s driver=%s reason=\"%s\"\n", d->unserved[i].what,
                         d->unserved[i].driver, d->unserved[i].reason);
    if (d->unserved_dropped != 0u)
        keel_port_printf("unserved what=more driver=- reason=\"%u more not listed\"\n",
                         d->unserved_dropped);
}

static void where_pci(struct ex_where *w, struct keel_pci_addr a)
{
    *w = (struct ex_where){.pci = a};
    (void)keel_snprintf(w->text, sizeof(w->text), "%04x:%02x:%02x.%x", a.segment, a.bus, a.dev,
                        a.fn);
}

static void where_mmio(struct ex_where *w, unsigned slot, uint64_t phys)
{
    *w = (struct ex_where){.is_mmio = true, .slot = slot, .phys = phys};
    (void)keel_snprintf(w->text, sizeof(w->text), "mmio@0x%llx", (unsigned long long)phys);
}

static int add_disk(struct ex_devices *d, struct keel_blkdev *b, const char *driver)
{
    int rc = keel_registry_add(&d->reg, b);

    if (rc != KEEL_OK)
        unserved(d, b->info.name, driver, "registry: %s", keel_strerror(rc));
    return rc;
}

/* ---- NVMe ---------------------------------------------------------------------------------- */

static void nvme_event(void *arg, struct keel_nvme_ctrl *ctrl, const struct keel_nvme_event *ev)
{
    struct ex_nvme *n = arg;

    (void)ctrl;
    n->events[n->nevents % NVME_EVENT_RING] = *ev;
    n->nevents++;
}

static const char *ns_refusal_name(uint8_t r)
{
    switch (r) {
    case KEEL_NVME_NS_REFUSED_METADATA:
        return "format with metadata is not supported";
    case KEEL_NVME_NS_REFUSED_LBA_SIZE:
        return "LBA size not supported";
    case KEEL_NVME_NS_REFUSED_FORMAT:
        return "FLBAS names a format beyond NLBAF";
    case KEEL_NVME_NS_REFUSED_TRANSFER:
        return "one block exceeds one command's transfer";
    case KEEL_NVME_NS_REFUSED_PROTECTION:
        return "end-to-end protection is enabled";
    default:
        return "refused";
    }
}

static uint8_t nvme_irq_mode(enum ex_irq irq)
{
    switch (irq) {
    case EX_IRQ_MSIX:
        return KEEL_NVME_IRQ_MSIX;
    case EX_IRQ_INTX:
        return KEEL_NVME_IRQ_INTX;
    case EX_IRQ_AUTO:
        return KEEL_NVME_IRQ_AUTO;
    case EX_IRQ_POLL:
    default:
        return KEEL_NVME_IRQ_POLL;
    }
}

/* The CPU offset of the host window a BAR's bus address falls in (0 when it is in none). */
static uint64_t bar_cpu_offset(const struct keel_port_pci_host *h, uint64_t bus)
{
    const struct keel_pci_window *w[3] = {&h->windows.mem32, &h->windows.mem64, &h->windows.io};
    unsigned i;

    for (i = 0; i < 3u; i++)
        if (w[i]->size != 0u && bus >= w[i]->base && bus - w[i]->base < w[i]->size)
            return w[i]->cpu_offset;
    return h->windows.mem32.cpu_offset;
}

/* The CPU offset for the first memory BAR of `a` at or after `idx` (what its registers sit in). */
static uint64_t bar_offset_of(const struct ex_devices *d, const struct keel_port_pci_host *h,
                              struct keel_pci_addr a, unsigned idx)
{
    struct keel_pci_bar b;

    while (idx < KEEL_PCI_BAR_COUNT) {
        if (keel_pci_bar_decode(&d->port->hal, a, idx, &b) != KEEL_OK)
            break;
        if (b.size != 0u && !b.is_io)
            return bar_cpu_offset(h, b.addr);
        idx += b.is_64 ? 2u : 1u;
    }
    return h->windows.mem32.cpu_offset;
}

static void nvme_register(struct ex_devices *d, struct ex_nvme *n)
{
    unsigned i, count = keel_nvme_ns_count(&n->ctrl);

    for (i = 0; i < count; i++) {
        struct keel_nvme_ns *ns = keel_nvme_ns_at(&n->ctrl, i);
        struct keel_blkdev *b = ns != NULL ? keel_nvme_ns_blkdev(ns) : NULL;
        char name[16];

        if (ns == NULL)
            continue;
        (void)keel_snprintf(name, sizeof(name), "%sn%u", n->name, ns->nsid);
        if (b == NULL)
            unserved(d, name, "nvme", "%s", ns_refusal_name(ns->refusal));
        else
            (void)add_disk(d, b, "nvme");
    }
}

static void probe_nvme(struct ex_devices *d, const struct keel_port_pci_host *h,
                       const struct keel_pci_fn *f)
{
    struct ex_nvme *n;
    struct keel_nvme_config cfg = {0};
    struct ex_where w;
    int rc;

    where_pci(&w, f->addr);
    if (d->nnvme >= EX_MAX_NVME) {
        unserved(d, w.text, "nvme", "more than %u controllers", EX_MAX_NVME);
        return;
    }
    n = &d->nvme[d->nnvme];
    n->where = w;
    (void)keel_snprintf(n->name, sizeof(n->name), "nvme%u", d->nnvme);
    cfg.pci = f->addr;
    cfg.bar_cpu_offset = bar_offset_of(d, h, f->addr, 0);
    cfg.index = (uint8_t)d->nnvme;
    cfg.io_queues = d->opts.nvme_ioq;
    cfg.queue_depth = d->opts.nvme_qdepth;
    cfg.irq_mode = nvme_irq_mode(d->opts.irq);
    cfg.event = nvme_event;
    cfg.event_arg = n;
    d->nnvme++;
    rc = keel_nvme_attach(&n->ctrl, &d->port->hal, &cfg);
    if (rc != KEEL_OK) {
        unserved(d, n->name, "nvme", "attach at %s failed: %s", w.text, keel_strerror(rc));
        return;
    }
    n->up = true;
    nvme_register(d, n);
}

/* ---- virtio -------------------------------------------------------------------------------- */

static enum keel_virtio_irq_mode virtio_irq_mode(enum ex_irq irq, bool mmio)
{
    switch (irq) {
    case EX_IRQ_MSIX:
        return mmio ? KEEL_VIRTIO_IRQ_LINE : KEEL_VIRTIO_IRQ_MSIX_PER_VQ;
    case EX_IRQ_INTX:
        return mmio ? KEEL_VIRTIO_IRQ_LINE : KEEL_VIRTIO_IRQ_INTX;
    case EX_IRQ_AUTO:
        return KEEL_VIRTIO_IRQ_AUTO;
    case EX_IRQ_POLL:
    default:
        return KEEL_VIRTIO_IRQ_POLL;
    }
}

/* Probe a PCI virtio function into `vdev` with the interface the options ask for. */
static int virtio_pci_probe(struct ex_devices *d, const struct keel_port_pci_host *h,
                            const struct keel_pci_fn *f, struct keel_virtio_dev *vdev)
{
    bool transitional = f->device < KEEL_VIRTIO_PCI_MODERN_BASE;

    if (d->opts.virtio_legacy && transitional) {
        uint64_t off = h->windows.io.size != 0u ? h->windows.io.cpu_offset : 0u;
        return keel_virtio_pci_probe(vdev, &d->port->hal, f->addr, off, true);
    }
    /* Modern capabilities point into memory BARs, all from the same window on both ports. */
    return keel_virtio_pci_probe(vdev, &d->port->hal, f->addr, bar_offset_of(d, h, f->addr, 0),
                                 false);
}

static struct ex_vblk *vblk_slot(struct ex_devices *d, const struct ex_where *w)
{
    if (d->nvblk >= EX_MAX_VBLK) {
        unserved(d, w->text, "virtio-blk", "more than %u devices", EX_MAX_VBLK);
        return NULL;
    }
    d->vblk[d->nvblk].where = *w;
    return &d->vblk[d->nvblk];
}

/* Attach a probed virtio-blk device (vdev already filled) and register its disk. */
static void vblk_attach(struct ex_devices *d, struct ex_vblk *v)
{
    struct keel_vblk_opts o = {0};
    char name[KEEL_CONFIG_BLK_NAME_MAX];
    int rc;

    o.irq = virtio_irq_mode(d->opts.irq, v->where.is_mmio);
    o.queue_size = d->opts.virtio_qsize;
    o.no_packed = d->opts.no_packed;
    o.index = (uint8_t)d->nvblk;
    keel_vblk_name(d->nvblk, name, sizeof(name));
    d->nvblk++;
    rc = keel_vblk_attach(&v->vb, &o);
    if (rc != KEEL_OK) {
        unserved(d, name, "virtio-blk", "attach at %s failed: %s", v->where.text,
                 keel_strerror(rc));
        return;
    }
    v->up = true;
    (void)add_disk(d, &v->vb.blk, "virtio-blk");
}

#if KEEL_EX_HAVE_VSCSI
static void vscsi_event(struct keel_vscsi *vs, struct keel_vscsi_lun *lun, enum keel_vscsi_event ev,
                        void *arg)
{
    struct ex_vscsi *h = arg;
    struct ex_vscsi_event *e = &h->events[h->nevents % 16u];

    (void)vs;
    *e = (struct ex_vscsi_event){.ev = (uint8_t)ev};
    if (lun != NULL) {
        e->target = lun->target;
        e->lun = lun->lun;
        if (lun->has_blk)
            (void)keel_strlcpy(e->name, lun->blk.info.name, sizeof(e->name));
    }
    h->nevents++;
}

static const char *scsi_type_name(uint8_t type)
{
    switch (type) {
    case 0x00:
        return "disk";
    case 0x05:
        return "cd-rom";
    case 0x01:
        return "tape";
    case 0x0c:
        return "raid";
    case 0x0d:
        return "enclosure";
    case 0x1f:
        return "unknown or no device";
    default:
        return "non-disk";
    }
}

static void vscsi_list_unserved(struct ex_devices *d, struct ex_vscsi *h)
{
    struct keel_vscsi_lun_info li;
    unsigned i;

    for (i = 0; keel_vscsi_lun_info(&h->vs, i, &li) == KEEL_OK; i++) {
        char what[40];

        if (li.blk != NULL)
            continue;
        (void)keel_snprintf(what, sizeof(what), "%s:%u:%u", h->name, li.target, li.lun);
        if (li.state == KEEL_VSCSI_LUN_READY)
            unserved(d, what, "virtio-scsi", "%s (type 0x%02x): not a block device",
                     scsi_type_name(li.type), li.type);
        else
            unserved(d, what, "virtio-scsi", "%s: %s", scsi_type_name(li.type),
                     keel_vscsi_state_name(li.state));
    }
}

static struct ex_vscsi *vscsi_slot(struct ex_devices *d, const struct ex_where *w)
{
    if (d->nvscsi >= EX_MAX_VSCSI) {
        unserved(d, w->text, "virtio-scsi", "more than %u adapters", EX_MAX_VSCSI);
        return NULL;
    }
    d->vscsi[d->nvscsi].where = *w;
    return &d->vscsi[d->nvscsi];
}

static void vscsi_attach(struct ex_devices *d, struct ex_vscsi *h)
{
    struct keel_vscsi_opts o = {0};
    int rc;

    o.irq = virtio_irq_mode(d->opts.irq, h->where.is_mmio);
    o.queue_size = d->opts.virtio_qsize;
    o.no_packed = d->opts.no_packed;
    o.name_base = (uint16_t)(d->nvscsi * EX_VSCSI_NAME_STRIDE);
    o.registry = &d->reg;
    o.event_cb = vscsi_event;
    o.event_arg = h;
    (void)keel_snprintf(h->name, sizeof(h->name), "scsi%u", d->nvscsi);
    d->nvscsi++;
    rc = keel_vscsi_attach(&h->vs, &o);
    if (rc != KEEL_OK) {
        unserved(d, h->name, "virtio-scsi", "attach at %s failed: %s", h->where.text,
                 keel_strerror(rc));
        return;
    }
    h->up = true;
    vscsi_list_unserved(d, h);
}
#endif

/* ---- Discovery ----------------------------------------------------------------------------- */

struct pci_visit {
    struct ex_devices *d;
    const struct keel_port_pci_host *host;
};

static bool is_virtio(const struct keel_pci_fn *f, uint16_t modern, uint16_t transitional)
{
    return f->vendor == KEEL_VIRTIO_PCI_VENDOR &&
           (f->device == modern || f->device == transitional);
}

static void probe_pci_virtio(struct ex_devices *d, const struct keel_port_pci_host *h,
                             const struct keel_pci_fn *f, bool scsi)
{
    struct ex_where w;
    struct keel_virtio_dev *vdev;
    struct ex_vblk *v = NULL;
#if KEEL_EX_HAVE_VSCSI
    struct ex_vscsi *s = NULL;
#endif
    int rc;

    where_pci(&w, f->addr);
    if (scsi) {
#if KEEL_EX_HAVE_VSCSI
        s = vscsi_slot(d, &w);
        if (s == NULL)
            return;
        vdev = &s->vs.vdev;
#else
        unserved(d, w.text, "virtio-scsi", "driver not built into this image");
        return;
#endif
    } else {
        v = vblk_slot(d, &w);
        if (v == NULL)
            return;
        vdev = &v->vb.vdev;
    }
    rc = virtio_pci_probe(d, h, f, vdev);
    if (rc != KEEL_OK) {
        unserved(d, w.text, scsi ? "virtio-scsi" : "virtio-blk", "transport probe failed: %s",
                 keel_strerror(rc));
        return;
    }
#if KEEL_EX_HAVE_VSCSI
    if (s != NULL) {
        vscsi_attach(d, s);
        return;
    }
#endif
    vblk_attach(d, v);
}

static int pci_visit(void *arg, const struct keel_pci_fn *f)
{
    struct pci_visit *pv = arg;

    if (keel_nvme_pci_match(f))
        probe_nvme(pv->d, pv->host, f);
    else if (is_virtio(f, KEEL_VIRTIO_PCI_MODERN_BASE + KEEL_VIRTIO_ID_BLOCK, 0x1001u))
        probe_pci_virtio(pv->d, pv->host, f, false);
    else if (is_virtio(f, KEEL_VIRTIO_PCI_MODERN_BASE + KEEL_VIRTIO_ID_SCSI, 0x1004u))
        probe_pci_virtio(pv->d, pv->host, f, true);
    return 0;
}

/* A virtio-mmio slot's DeviceID register (0: empty slot), read before any driver touches it. */
static uint32_t mmio_device_id(const struct ex_devices *d, const struct keel_port_mmio_slot *m)
{
    const struct keel_hal *hal = &d->port->hal;
    keel_io_addr_t base = (keel_io_addr_t)m->phys;
    bool is_mmio = true;

    if (hal->ops->io_map != NULL &&
        (hal->ops->io_map(hal->ctx, m->phys, m->size, false, &base, &is_mmio) != KEEL_OK ||
         !is_mmio))
        return 0;
    if (keel_mmio_read32(hal, base) != 0x74726976u) /* "virt" */
        return 0;
    return keel_mmio_read32(hal, base + 0x008u);
}

static void probe_mmio_slot(struct ex_devices *d, unsigned i)
{
    const struct keel_port_mmio_slot *m = &d->port->mmio[i];
    uint32_t id = mmio_device_id(d, m);
    struct ex_where w;
    int rc;

    if (id != KEEL_VIRTIO_ID_BLOCK && id != KEEL_VIRTIO_ID_SCSI)
        return;
    where_mmio(&w, i, m->phys);
    if (id == KEEL_VIRTIO_ID_BLOCK) {
        struct ex_vblk *v = vblk_slot(d, &w);

        if (v == NULL)
            return;
        rc = keel_virtio_mmio_probe(&v->vb.vdev, &d->port->hal, m->phys, m->size, m->irq);
        if (rc != KEEL_OK) {
            unserved(d, w.text, "virtio-blk", "transport probe failed: %s", keel_strerror(rc));
            return;
        }
        vblk_attach(d, v);
        return;
    }
#if KEEL_EX_HAVE_VSCSI
    {
        struct ex_vscsi *s = vscsi_slot(d, &w);

        if (s == NULL)
            return;
        rc = keel_virtio_mmio_probe(&s->vs.vdev, &d->port->hal, m->phys, m->size, m->irq);
        if (rc != KEEL_OK) {
            unserved(d, w.text, "virtio-scsi", "transport probe failed: %s", keel_strerror(rc));
            return;
        }
        vscsi_attach(d, s);
    }
#else
    unserved(d, w.text, "virtio-scsi", "driver not built into this image");
#endif
}

/* ---- Partitions ---------------------------------------------------------------------------- */

static void scan_partitions(struct ex_devices *d, struct keel_blkdev *disk)
{
    int rc;

    if (disk->info.sector_size > PART_SCRATCH) {
        unserved(d, disk->info.name, "part", "sector size %u: partition table not read",
                 disk->info.sector_size);
        return;
    }
    rc = keel_part_scan(disk, 0, part_scratch, sizeof(part_scratch), &part_table);
    if (rc != KEEL_OK) {
        unserved(d, disk->info.name, "part", "partition table unreadable: %s", keel_strerror(rc));
        return;
    }
    if (part_table.scheme == KEEL_PART_NONE)
        return;
    if (part_table.dropped != 0u)
        keel_port_printf("probe: %s: %u partition entries dropped (out of range or overlapping)\n",
                         disk->info.name, part_table.dropped);
    rc = keel_part_register(disk, &part_table, &d->parts[d->nparts], EX_MAX_PARTS - d->nparts,
                            &d->reg);
    if (rc < 0) {
        unserved(d, disk->info.name, "part", "partitions not registered: %s", keel_strerror(rc));
        return;
    }
    d->nparts += (unsigned)rc;
}

static void scan_all_partitions(struct ex_devices *d)
{
    unsigned i, n = keel_registry_count(&d->reg);

    for (i = 0; i < n; i++) {
        struct keel_blkdev *b = keel_registry_at(&d->reg, i);

        if (b != NULL && b->parent == NULL)
            scan_partitions(d, b);
    }
}

/* ---- Entry points -------------------------------------------------------------------------- */

unsigned ex_probe(struct ex_devices *d, const struct keel_port *port,
                  const struct ex_probe_opts *opts)
{
    unsigned h, i;

    d->port = port;
    d->opts = *opts;
    keel_registry_init(&d->reg, &port->hal);
    for (h = 0; h < port->npci; h++) {
        struct pci_visit pv = {d, &port->pci[h]};
        int rc = keel_pci_scan(&port->hal, port->pci[h].segment, port->pci[h].bus_first,
                               port->pci[h].bus_last, pci_visit, &pv);

        if (rc != KEEL_OK)
            unserved(d, "pci", "-", "scan of segment %u failed: %s", port->pci[h].segment,
                     keel_strerror(rc));
    }
    for (i = 0; i < port->nmmio; i++)
        probe_mmio_slot(d, i);
    if (!d->opts.no_parts)
        scan_all_partitions(d);
    return keel_registry_count(&d->reg);
}

enum ex_kind ex_dev_kind(const struct keel_blkdev *dev)
{
    if (dev->parent != NULL)
        return EX_KIND_PART;
    if (dev->info.driver != NULL && keel_streq(dev->info.driver, "nvme"))
        return EX_KIND_NVME;
    if (dev->info.driver != NULL && keel_streq(dev->info.driver, "virtio-blk"))
        return EX_KIND_VBLK;
    return EX_KIND_VSCSI;
}

static const struct keel_blkdev *root_of(const struct keel_blkdev *dev)
{
    unsigned depth = 0;

    while (dev->parent != NULL && depth++ < 8u)
        dev = dev->parent;
    return dev;
}

struct ex_nvme *ex_dev_nvme(struct ex_devices *d, const struct keel_blkdev *dev)
{
    const struct keel_blkdev *root = root_of(dev);
    unsigned i, j;

    for (i = 0; i < d->nnvme; i++) {
        struct ex_nvme *n = &d->nvme[i];

        if (!n->up)
            continue;
        for (j = 0; j < keel_nvme_ns_count(&n->ctrl); j++)
            if (keel_nvme_ns_blkdev(keel_nvme_ns_at(&n->ctrl, j)) == root)
                return n;
    }
    return NULL;
}

struct ex_vblk *ex_dev_vblk(struct ex_devices *d, const struct keel_blkdev *dev)
{
    const struct keel_blkdev *root = root_of(dev);
    unsigned i;

    for (i = 0; i < d->nvblk; i++)
        if (d->vblk[i].up && &d->vblk[i].vb.blk == root)
            return &d->vblk[i];
    return NULL;
}

#if KEEL_EX_HAVE_VSCSI
struct ex_vscsi *ex_dev_vscsi(struct ex_devices *d, const struct keel_blkdev *dev)
{
    const struct keel_blkdev *root = root_of(dev);
    unsigned i, j;

    for (i = 0; i < d->nvscsi; i++) {
        struct keel_vscsi *vs = &d->vscsi[i].vs;

        if (!d->vscsi[i].up)
            continue;
        for (j = 0; j < vs->nluns; j++)
            if (vs->luns[j].has_blk && &vs->luns[j].blk == root)
                return &d->vscsi[i];
    }
    return NULL;
}
#endif

uint64_t ex_dev_interrupts(struct ex_devices *d, const struct keel_blkdev *dev)
{
    struct ex_nvme *n = ex_dev_nvme(d, dev);
    struct ex_vblk *v;
    uint64_t sum = 0;
    unsigned i;

    if (n != NULL) {
        for (i = 0; i < keel_nvme_io_queue_count(&n->ctrl); i++) {
            const struct keel_nvme_qstats *q = keel_nvme_queue_stats(&n->ctrl, i);
            if (q != NULL)
                sum += q->interrupts;
        }
        return sum;
    }
    v = ex_dev_vblk(d, dev);
    if (v != NULL)
        return v->vb.vdev.stats.interrupts;
#if KEEL_EX_HAVE_VSCSI
    {
        struct ex_vscsi *h = ex_dev_vscsi(d, dev);
        if (h != NULL)
            return h->vs.vdev.stats.interrupts;
    }
#endif
    return 0;
}

uint64_t ex_dev_spurious(struct ex_devices *d, const struct keel_blkdev *dev)
{
    struct ex_vblk *v = ex_dev_vblk(d, dev);

    if (v != NULL)
        return v->vb.vdev.stats.spurious;
#if KEEL_EX_HAVE_VSCSI
    {
        struct ex_vscsi *h = ex_dev_vscsi(d, dev);
        if (h != NULL)
            return h->vs.vdev.stats.spurious;
    }
#endif
    return 0;
}

void ex_service(struct ex_devices *d)
{
    unsigned i;

    for (i = 0; i < d->nnvme; i++)
        if (d->nvme[i].up)
            (void)keel_nvme_service(&d->nvme[i].ctrl);
    for (i = 0; i < d->nvblk; i++)
        if (d->vblk[i].up)
            (void)keel_vblk_service(&d->vblk[i].vb);
#if KEEL_EX_HAVE_VSCSI
    for (i = 0; i < d->nvscsi; i++)
        if (d->vscsi[i].up)
            (void)keel_vscsi_service(&d->vscsi[i].vs);
#endif
}
