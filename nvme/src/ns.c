/* SPDX-License-Identifier: MIT */
/*
 * Namespaces: Identify Namespace parsing (spec 5.15.2.1 / NVM 6.1.5) and the keel_blkdev glue. The
 * in-use LBA format comes from FLBAS; it must name one of the NLBAF+1 formats, have a data size
 * from 512 bytes to 2^KEEL_CONFIG_NVME_MAX_LBA_SHIFT, and no metadata or protection information
 * (those formats are refused with a reason rather than risk a mis-sized transfer).
 */
#include "nvme_priv.h"

#include <keel/endian.h>
#include <keel/fmt.h>

static uint8_t refuse(const struct keel_nvme_ctrl *c, uint32_t nsid, uint8_t why, const char *what)
{
    KEEL_LOGW(c->hal, "nvme%un%u: not exposed: %s", (unsigned)c->cfg.index, (unsigned)nsid, what);
    return why;
}

static uint8_t check_format(const struct keel_nvme_ctrl *c, struct keel_nvme_ns *ns,
                            const uint8_t *id)
{
    uint8_t nlbaf = id[KEEL_NVME_IDNS_NLBAF], flbas = id[KEEL_NVME_IDNS_FLBAS];
    /* FLBAS bits 3:0, and bits 6:5 as the upper bits when more than 16 formats exist (2.0). */
    uint32_t idx = (flbas & 0xfu) | ((((uint32_t)flbas >> 5) & 3u) << 4);
    uint32_t lbaf, lbads;

    if (idx > nlbaf || idx >= KEEL_NVME_IDNS_MAX_LBAF)
        return refuse(c, ns->nsid, KEEL_NVME_NS_REFUSED_FORMAT, "FLBAS beyond NLBAF");
    lbaf = keel_ld_le32(id + KEEL_NVME_IDNS_LBAF0 + (size_t)4u * idx);
    lbads = (lbaf >> 16) & 0xffu;
    ns->ms = (uint16_t)(lbaf & 0xffffu);
    if (lbads < 9u || lbads > KEEL_CONFIG_NVME_MAX_LBA_SHIFT)
        return refuse(c, ns->nsid, KEEL_NVME_NS_REFUSED_LBA_SIZE, "LBA data size out of range");
    ns->lba_shift = (uint8_t)lbads;
    if ((id[KEEL_NVME_IDNS_DPS] & 7u) != 0u)
        return refuse(c, ns->nsid, KEEL_NVME_NS_REFUSED_PROTECTION, "protection information");
    if (ns->ms != 0u)
        return refuse(c, ns->nsid, KEEL_NVME_NS_REFUSED_METADATA,
                      (flbas & KEEL_NVME_FLBAS_EXTENDED) ? "extended-LBA metadata"
                                                         : "separate metadata");
    ns->child_max_lbas = c->cmd_max_bytes >> lbads;
    if (ns->child_max_lbas > 65536u)
        ns->child_max_lbas = 65536u; /* NLB is 16 bits, 0-based */
    if (ns->child_max_lbas == 0u)
        return refuse(c, ns->nsid, KEEL_NVME_NS_REFUSED_TRANSFER, "block larger than a command");
    return KEEL_NVME_NS_OK;
}

void keel_nvme_ns_parse(struct keel_nvme_ctrl *c, struct keel_nvme_ns *ns, uint32_t nsid,
                        const uint8_t *id)
{
    keel_memset(ns, 0, sizeof(*ns));
    ns->ctrl = c;
    ns->nsid = nsid;
    ns->nsze = keel_ld_le64(id + KEEL_NVME_IDNS_NSZE);
    ns->write_protected = (id[KEEL_NVME_IDNS_NSATTR] & 1u) != 0u;
    ns->refusal = check_format(c, ns, id);
}

static int ns_submit(struct keel_blkdev *dev, struct keel_blk_req *req)
{
    return keel_nvme_io_submit(dev->drv, req);
}

static int ns_poll(struct keel_blkdev *dev, unsigned queue, unsigned budget)
{
    struct keel_nvme_ns *ns = dev->drv;

    if (queue >= ns->ctrl->nr_io)
        return KEEL_EINVAL;
    return keel_nvme_io_poll(&ns->ctrl->io[queue], budget);
}

static int ns_recover(struct keel_blkdev *dev)
{
    struct keel_nvme_ns *ns = dev->drv;
    struct keel_nvme_ctrl *c = ns->ctrl;

    if (c->life != KEEL_NVME_LIFE_LIVE)
        return c->life == KEEL_NVME_LIFE_RESETTING ? KEEL_EBUSY : KEEL_OK;
    return keel_nvme_reset_now(c, false);
}

static const struct keel_blkdev_ops ns_ops = {ns_submit, ns_poll, ns_recover};

/* keel_blk_plug / keel_blk_unplug: NVMe's own submission batch (one SQ tail doorbell). */
static void ns_plug(struct keel_blkdev *dev, unsigned queue)
{
    struct keel_nvme_ns *ns = dev->drv;
    keel_nvme_batch_begin(ns->ctrl, queue);
}

static void ns_unplug(struct keel_blkdev *dev, unsigned queue)
{
    struct keel_nvme_ns *ns = dev->drv;
    keel_nvme_batch_end(ns->ctrl, queue);
}

static const struct keel_blkdev_batch_ops ns_batch = {ns_plug, ns_unplug};

void keel_nvme_ns_register(struct keel_nvme_ctrl *c, struct keel_nvme_ns *ns)
{
    struct keel_blkdev_info info;

    if (ns->refusal != KEEL_NVME_NS_OK)
        return;
    keel_memset(&info, 0, sizeof(info));
    (void)keel_snprintf(info.name, sizeof(info.name), "nvme%un%u", (unsigned)c->cfg.index,
                        (unsigned)ns->nsid);
    info.driver = "nvme";
    info.sector_size = 1u << ns->lba_shift;
    info.sector_count = ns->nsze;
    /* At least one block: nvme_priv.h requires MAX_TRANSFER_BYTES >= 2^MAX_LBA_SHIFT. */
    info.max_transfer = KEEL_CONFIG_NVME_MAX_TRANSFER_BYTES >> ns->lba_shift;
    info.max_discard = UINT32_MAX; /* one DSM range or Write Zeroes children */
    info.queue_count = c->nr_io;
    info.flags = KEEL_BLK_F_FUA;
    if (ns->write_protected)
        info.flags |= KEEL_BLK_F_READ_ONLY;
    if (c->vwc & 1u)
        info.flags |= KEEL_BLK_F_FLUSH;
    if (c->oncs & KEEL_NVME_ONCS_DSM)
        info.flags |= KEEL_BLK_F_TRIM;
    if (c->oncs & KEEL_NVME_ONCS_WRITE_ZEROES)
        info.flags |= KEEL_BLK_F_WRITE_ZEROES;
    keel_blkdev_init(&ns->blk, c->hal, &ns_ops, ns, &info);
    ns->blk.batch = &ns_batch;
}

void keel_nvme_mark_namespaces_gone(struct keel_nvme_ctrl *c)
{
    unsigned i;

    for (i = 0; i < c->ns_count; i++)
        if (c->ns[i].refusal == KEEL_NVME_NS_OK)
            keel_blkdev_mark_gone(&c->ns[i].blk);
}

unsigned keel_nvme_ns_count(const struct keel_nvme_ctrl *ctrl)
{
    return ctrl != NULL ? ctrl->ns_count : 0u;
}

struct keel_nvme_ns *keel_nvme_ns_at(struct keel_nvme_ctrl *ctrl, unsigned i)
{
    if (ctrl == NULL || i >= ctrl->ns_count)
        return NULL;
    return &ctrl->ns[i];
}

struct keel_nvme_ns *keel_nvme_ns_find(struct keel_nvme_ctrl *ctrl, uint32_t nsid)
{
    unsigned i;

    for (i = 0; ctrl != NULL && i < ctrl->ns_count; i++)
        if (ctrl->ns[i].nsid == nsid)
            return &ctrl->ns[i];
    return NULL;
}

struct keel_blkdev *keel_nvme_ns_blkdev(struct keel_nvme_ns *ns)
{
    if (ns == NULL || ns->refusal != KEEL_NVME_NS_OK)
        return NULL;
    return &ns->blk;
}
