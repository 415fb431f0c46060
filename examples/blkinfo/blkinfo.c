/* SPDX-License-Identifier: MIT */
/*
 * blkinfo - finds every NVMe controller, virtio-blk and virtio-scsi device (PCI and virtio-mmio),
 * and prints one stable line per block device, partitions included, then what each controller says
 * about itself.
 *
 * Output lines (one fact per line, stable for tests and diffs):
 *   blkdev name=<n> driver=<nvme|virtio-blk|virtio-scsi|part> sectors=<N> sector_size=<S> ro=<0|1>
 *          [parent=<name> start=<lba>]                                  (partitions)
 *   nvme ctrl=<c> at=<pci> vid=0x<v> mn="<..>" sn="<..>" fr="<..>" ver=<M.m.t> mdts=<n> nn=<n>
 *          oncs=0x<..> vwc=<n> ioq=<pairs> qdepth=<entries> irq=<mode>
 *   nvme-ns ctrl=<c> nsid=<id> name=<n> nsze=<n> ncap=<n> nuse=<n> flbas=<n> nlbaf=<n> lbads=<n>
 *          ms=<n> state=<ok|refused> [ro=1]
 *   nvme-lbaf name=<ns> index=<i> ms=<n> lbads=<n> rp=<n> in_use=<0|1>
 *   virtio-blk name=<n> at=<where> transport=<t> queues=<n> qsize=<n> packed=<0|1> indirect=<0|1>
 *          event_idx=<0|1> irq=<mode> blk_size=<n> wce=<0|1> features=0x<negotiated>
 *          offered=0x<offered> serial="<..>"
 *   scsi-host host=<h> at=<where> transport=<t> queues=<n> max_target=<n> max_lun=<n> irq=<mode>
 *   scsi-lun host=<h> target=<t> lun=<l> type=0x<tt> state=<..> name=<sdN|-> vendor="<..>"
 *          product="<..>" revision="<..>" serial="<..>" blocks=<n> block_size=<n> removable=<0|1>
 *   unserved what=<..> driver=<..> reason="<..>"      (found, not served: listed, not a failure)
 *   blkinfo devices=<N> unserved=<M>
 *
 * Arguments: the probe's (irq=, virtio=, packed=, qsize=, ioq=, qdepth=, parts=; see probe.h), and
 * `min=<n>`: fail unless at least n block devices were found (tools/demo uses min=1).
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/fmt.h>
#include <keel/str.h>

#include "example.h"
#include "probe.h"

static struct ex_devices devs;
static uint8_t idbuf[KEEL_NVME_IDENTIFY_SIZE] __attribute__((aligned(4096)));

static int dev_ro(const struct keel_blkdev *b)
{
    unsigned depth = 0;

    for (; b != NULL && depth < 8u; b = b->parent, depth++)
        if ((b->info.flags & KEEL_BLK_F_READ_ONLY) != 0u || b->access == KEEL_BLK_ACCESS_RO)
            return 1;
    return 0;
}

static void print_blkdevs(void)
{
    struct keel_blkdev *b;
    unsigned i;

    for (i = 0; (b = keel_registry_at(&devs.reg, i)) != NULL; i++) {
        keel_port_printf("blkdev name=%s driver=%s sectors=%llu sector_size=%u ro=%d", b->info.name,
                         b->info.driver != NULL ? b->info.driver : "?",
                         (unsigned long long)b->info.sector_count, b->info.sector_size, dev_ro(b));
        if (b->parent != NULL)
            keel_port_printf(" parent=%s start=%llu", b->parent->info.name,
                             (unsigned long long)b->start_lba);
        keel_port_puts("\n");
    }
}

/* ---- NVMe ---------------------------------------------------------------------------------- */

static const char *nvme_irq(uint8_t mode)
{
    switch (mode) {
    case KEEL_NVME_IRQ_MSIX:
        return "msix";
    case KEEL_NVME_IRQ_INTX:
        return "intx";
    case KEEL_NVME_IRQ_POLL:
        return "poll";
    default:
        return "auto";
    }
}

static void print_nvme_ns(struct ex_nvme *n, struct keel_nvme_ns *ns)
{
    char name[16];
    unsigned nlbaf, flbas, fmt, i;
    int rc;

    (void)keel_snprintf(name, sizeof(name), "%sn%u", n->name, ns->nsid);
    rc = keel_nvme_identify(&n->ctrl, KEEL_NVME_CNS_NS, ns->nsid, idbuf);
    if (!EX_CHECK(rc == KEEL_OK, "%s: Identify Namespace failed: %s", name, keel_strerror(rc)))
        return;
    nlbaf = idbuf[KEEL_NVME_IDNS_NLBAF] + 1u;
    if (nlbaf > KEEL_NVME_IDNS_MAX_LBAF)
        nlbaf = KEEL_NVME_IDNS_MAX_LBAF;
    flbas = idbuf[KEEL_NVME_IDNS_FLBAS];
    fmt = (flbas & 0x0fu) | ((flbas >> 1) & 0x30u); /* FLBAS bits 6:5 extend 3:0 (NVMe 2.0) */
    keel_port_printf("nvme-ns ctrl=%s nsid=%u name=%s nsze=%llu ncap=%llu nuse=%llu flbas=%u "
                     "nlbaf=%u lbads=%u ms=%u state=%s%s\n",
                     n->name, ns->nsid, name,
                     (unsigned long long)keel_ld_le64(idbuf + KEEL_NVME_IDNS_NSZE),
                     (unsigned long long)keel_ld_le64(idbuf + KEEL_NVME_IDNS_NCAP),
                     (unsigned long long)keel_ld_le64(idbuf + KEEL_NVME_IDNS_NUSE), flbas, nlbaf,
                     ns->lba_shift, ns->ms, ns->refusal == KEEL_NVME_NS_OK ? "ok" : "refused",
                     ns->write_protected ? " ro=1" : "");
    for (i = 0; i < nlbaf; i++) {
        const uint8_t *f = idbuf + KEEL_NVME_IDNS_LBAF0 + 4u * i;

        keel_port_printf("nvme-lbaf name=%s index=%u ms=%u lbads=%u rp=%u in_use=%d\n", name, i,
                         keel_ld_le16(f), f[2], f[3] & 0x3u, i == fmt ? 1 : 0);
    }
}

static void print_nvme(struct ex_nvme *n)
{
    struct keel_nvme_ctrl *c = &n->ctrl;
    unsigned i;

    keel_port_printf("nvme ctrl=%s at=%s vid=0x%04x mn=\"%s\" sn=\"%s\" fr=\"%s\" ver=%u.%u.%u "
                     "mdts=%u nn=%u oncs=0x%x vwc=%u ioq=%u qdepth=%u irq=%s admin_cmds=%u\n",
                     n->name, n->where.text, c->vid, c->mn, c->sn, c->fr, c->ver >> 16,
                     (c->ver >> 8) & 0xffu, c->ver & 0xffu, c->mdts, c->nn, c->oncs, c->vwc,
                     keel_nvme_io_queue_count(c), keel_nvme_io_queue_entries(c),
                     nvme_irq(c->irq_mode), keel_nvme_stats(c)->admin_cmds);
    for (i = 0; i < keel_nvme_ns_count(c); i++) {
        struct keel_nvme_ns *ns = keel_nvme_ns_at(c, i);
        if (ns != NULL)
            print_nvme_ns(n, ns);
    }
}

/* ---- virtio -------------------------------------------------------------------------------- */

static const char *virtio_irq(enum keel_virtio_irq_mode m)
{
    switch (m) {
    case KEEL_VIRTIO_IRQ_MSIX_PER_VQ:
        return "msix";
    case KEEL_VIRTIO_IRQ_MSIX_SHARED:
        return "msix-shared";
    case KEEL_VIRTIO_IRQ_INTX:
        return "intx";
    case KEEL_VIRTIO_IRQ_LINE:
        return "line";
    default:
        return "poll";
    }
}

static void print_vblk(struct ex_vblk *v)
{
    struct keel_vblk *vb = &v->vb;
    const struct keel_vq *q = &vb->q[0].vq;
    char serial[KEEL_VIRTIO_BLK_ID_BYTES + 1u] = "";
    int rc = keel_vblk_get_id(vb, serial, sizeof(serial), 0);

    if (rc != KEEL_OK && rc != KEEL_ENOTSUP)
        ex_fail("%s: GET_ID failed: %s", vb->blk.info.name, keel_strerror(rc));
    keel_port_printf(
        "virtio-blk name=%s at=%s transport=%s queues=%u qsize=%u packed=%d "
        "indirect=%d event_idx=%d irq=%s blk_size=%u wce=%u features=0x%llx "
        "offered=0x%llx serial=\"%s\"\n",
        vb->blk.info.name, v->where.text, keel_virtio_transport_name(&vb->vdev), vb->nq, q->size,
        q->packed ? 1 : 0, keel_virtio_has(&vb->vdev, KEEL_VIRTIO_F_INDIRECT_DESC) ? 1 : 0,
        q->event_idx ? 1 : 0, virtio_irq(vb->vdev.irq_mode), vb->cfg.blk_size, vb->cfg.writeback,
        (unsigned long long)vb->vdev.features, (unsigned long long)vb->vdev.offered, serial);
}

#if KEEL_EX_HAVE_VSCSI
static void print_vscsi(struct ex_vscsi *h)
{
    struct keel_vscsi *vs = &h->vs;
    struct keel_vscsi_lun_info li;
    unsigned i;

    keel_port_printf("scsi-host host=%s at=%s transport=%s queues=%u max_target=%u max_lun=%u "
                     "irq=%s features=0x%llx\n",
                     h->name, h->where.text, keel_virtio_transport_name(&vs->vdev), vs->nrq,
                     vs->cfg.max_target, vs->cfg.max_lun, virtio_irq(vs->vdev.irq_mode),
                     (unsigned long long)vs->vdev.features);
    for (i = 0; keel_vscsi_lun_info(vs, i, &li) == KEEL_OK; i++)
        keel_port_printf("scsi-lun host=%s target=%u lun=%u type=0x%02x state=\"%s\" name=%s "
                         "vendor=\"%s\" product=\"%s\" revision=\"%s\" serial=\"%s\" blocks=%llu "
                         "block_size=%u removable=%d wp=%d\n",
                         h->name, li.target, li.lun, li.type, keel_vscsi_state_name(li.state),
                         li.name[0] != '\0' ? li.name : "-", li.vendor, li.product, li.revision,
                         li.serial, (unsigned long long)li.nblocks, li.block_size,
                         li.removable ? 1 : 0, li.write_protected ? 1 : 0);
}
#endif

int main(void)
{
    static struct keel_port port;
    struct ex_probe_opts opts;
    uint64_t min = 0;
    unsigned i, n;
    int rc = keel_port_init(&port);

    if (!EX_CHECK(rc == KEEL_OK, "keel_port_init: %s", keel_strerror(rc)))
        return ex_finish();
    ex_print_platform(&port);
    if (!EX_CHECK(ex_probe_opts_parse(port.cmdline, &opts), "bad arguments"))
        return ex_finish();
    if (ex_arg(port.cmdline, "min", NULL, 0) &&
        !EX_CHECK(ex_arg_u64(port.cmdline, "min", &min), "min= is not a number"))
        return ex_finish();
    n = ex_probe(&devs, &port, &opts);
    print_blkdevs();
    for (i = 0; i < devs.nnvme; i++)
        if (devs.nvme[i].up)
            print_nvme(&devs.nvme[i]);
    for (i = 0; i < devs.nvblk; i++)
        if (devs.vblk[i].up)
            print_vblk(&devs.vblk[i]);
#if KEEL_EX_HAVE_VSCSI
    for (i = 0; i < devs.nvscsi; i++)
        if (devs.vscsi[i].up)
            print_vscsi(&devs.vscsi[i]);
#endif
    ex_print_unserved(&devs);
    keel_port_printf("blkinfo devices=%u unserved=%u irq=%s\n", n, devs.nunserved,
                     ex_irq_name(opts.irq));
    EX_CHECK(n >= min, "found %u block devices, expected at least %llu", n,
             (unsigned long long)min);
    return ex_finish();
}
