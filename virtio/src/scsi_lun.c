/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi LUN table: lookup and allocation of entries, the block device of a disk ("sdN",
 * the lowest number no live disk of the adapter uses, plus opts.name_base), registration in the
 * integrator's registry, removal, the integrator's callback, and the listing API.
 */
#include <stddef.h>

#include <keel/error.h>
#include <keel/fmt.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio_scsi.h>

#include "scsi_internal.h"

void keel_vscsi_name(unsigned index, char *out, size_t size)
{
    if (out == NULL || size == 0u)
        return;
    (void)keel_snprintf(out, size, "sd%u", index);
}

struct keel_vscsi_lun *keel_vscsi_lun_lookup(struct keel_vscsi *vs, uint8_t target, uint16_t lun)
{
    uint16_t i;

    for (i = 0; i < vs->nluns; i++) {
        struct keel_vscsi_lun *e = &vs->luns[i];
        if (e->state != KEEL_VSCSI_LUN_FREE && e->target == target && e->lun == lun)
            return e;
    }
    return NULL;
}

struct keel_vscsi_lun *keel_vscsi_find(struct keel_vscsi *vs, uint8_t target, uint16_t lun)
{
    if (vs == NULL || !vs->attached)
        return NULL;
    return keel_vscsi_lun_lookup(vs, target, lun);
}

/* Requests still refer to the entry: commands, or block requests not completed yet (pending,
   finished but not handed back), which the block layer counts per queue. */
bool keel_vscsi_lun_busy(const struct keel_vscsi *vs, const struct keel_vscsi_lun *e)
{
    uint16_t i;

    for (i = 0; i < vs->nrq; i++)
        if (e->inflight[i] != 0u || (e->blk.ops != NULL && e->blk.stats[i].in_flight != 0u))
            return true;
    return false;
}

_Static_assert(offsetof(struct keel_vscsi_lun, blk) == 0, "lun_clear keeps the leading blkdev");

/* Everything but the block device, which keeps answering "gone" until it is set up again. */
static void lun_clear(struct keel_vscsi *vs, struct keel_vscsi_lun *e, uint8_t target, uint16_t lun)
{
    keel_memset((uint8_t *)e + sizeof(e->blk), 0, sizeof(*e) - sizeof(e->blk));
    e->vs = vs;
    e->target = target;
    e->lun = lun;
    keel_vscsi_lun_addr(e->addr, target, lun);
    e->state = KEEL_VSCSI_LUN_OFFLINE; /* while it is probed */
    e->wce = true;                     /* unknown cache mode: flushes are sent */
    e->qdepth = vs->lun_qdepth;
}

/*
 * An entry for a LUN about to be probed: a gone entry of the same address, a free one, or a gone
 * one nothing refers to any more (the integrator's pointer to a removed disk then names another
 * one: removed disks are only good for keel_blkdev's "gone" answer until the next LUN appears).
 */
struct keel_vscsi_lun *keel_vscsi_lun_alloc(struct keel_vscsi *vs, uint8_t target, uint16_t lun)
{
    struct keel_vscsi_lun *e = keel_vscsi_lun_lookup(vs, target, lun), *gone = NULL;
    uint16_t i;

    if (e != NULL) {
        if (e->state != KEEL_VSCSI_LUN_GONE || keel_vscsi_lun_busy(vs, e))
            return NULL;
        lun_clear(vs, e, target, lun);
        return e;
    }
    for (i = 0; i < vs->nluns; i++) {
        e = &vs->luns[i];
        if (e->state == KEEL_VSCSI_LUN_FREE) {
            lun_clear(vs, e, target, lun);
            return e;
        }
        if (gone == NULL && e->state == KEEL_VSCSI_LUN_GONE && !keel_vscsi_lun_busy(vs, e))
            gone = e;
    }
    if (gone != NULL)
        lun_clear(vs, gone, target, lun);
    return gone;
}

void keel_vscsi_lun_release(struct keel_vscsi_lun *e)
{
    e->state = KEEL_VSCSI_LUN_FREE;
    e->has_blk = false;
}

void keel_vscsi_notify(struct keel_vscsi *vs, struct keel_vscsi_lun *e, enum keel_vscsi_event ev)
{
    if (vs->opts.event_cb != NULL)
        vs->opts.event_cb(vs, e, ev, vs->opts.event_arg);
}

/* Per-command limits of a LUN: max_sectors, B0h MAXIMUM TRANSFER LENGTH, 1 GiB; at least 1. */
void keel_vscsi_lun_limits(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    uint32_t m = vs->max_xfer_bytes >> e->block_shift;

    if (e->dev_max_xfer != 0u && e->dev_max_xfer < m)
        m = e->dev_max_xfer;
    if (m == 0u)
        m = 1u; /* max_sectors is a hint: below one block, one block it is */
    e->max_xfer_blocks = m;
    e->qdepth = vs->lun_qdepth;
}

static uint32_t blk_flags(const struct keel_vscsi_lun *e)
{
    uint32_t f = 0;

    if (e->wp)
        f |= KEEL_BLK_F_READ_ONLY;
    if (e->wce)
        f |= KEEL_BLK_F_FLUSH;
    if (e->lbpu)
        f |= KEEL_BLK_F_TRIM;
    if (e->dpofua)
        f |= KEEL_BLK_F_FUA;
    if (e->removable)
        f |= KEEL_BLK_F_REMOVABLE;
    return f;
}

/* The lowest disk number no live disk of this adapter uses. */
static uint16_t free_name(const struct keel_vscsi *vs)
{
    uint16_t n, i;

    for (n = 0; n < vs->nluns; n++) {
        for (i = 0; i < vs->nluns; i++) {
            const struct keel_vscsi_lun *e = &vs->luns[i];
            if (e->has_blk && e->state != KEEL_VSCSI_LUN_GONE && e->name_idx == n)
                break;
        }
        if (i == vs->nluns)
            break;
    }
    return n;
}

static void make_blkdev(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    struct keel_blkdev_info info;
    int rc;

    keel_memset(&info, 0, sizeof(info));
    e->name_idx = free_name(vs);
    keel_vscsi_name((unsigned)vs->opts.name_base + e->name_idx, info.name, sizeof(info.name));
    info.driver = "virtio-scsi";
    info.sector_size = 1u << e->block_shift;
    info.sector_count = e->nblocks;
    info.max_transfer = MAX_CHUNK >> e->block_shift; /* the driver splits below this itself */
    info.max_discard = e->lbpu ? UINT32_MAX : 0u;
    info.queue_count = vs->nrq;
    info.flags = blk_flags(e);
    keel_blkdev_init(&e->blk, vs->vdev.hal, &keel_vscsi_blk_ops, e, &info);
    e->blk.batch = &keel_vscsi_blk_batch_ops;
    e->has_blk = true;
    if (vs->opts.registry != NULL) {
        rc = keel_registry_add(vs->opts.registry, &e->blk);
        e->registered = rc == KEEL_OK;
        if (rc != KEEL_OK)
            KEEL_LOGW(vs->vdev.hal, "virtio-scsi %s: not registered (%d)", info.name, rc);
    }
}

/* A probed LUN joins: disks that are ready get their block device; the integrator hears of it. */
void keel_vscsi_lun_online(struct keel_vscsi *vs, struct keel_vscsi_lun *e, bool announce)
{
    if (e->type == KEEL_SCSI_TYPE_DISK && e->state == KEEL_VSCSI_LUN_READY && e->nblocks != 0u &&
        !e->has_blk)
        make_blkdev(vs, e);
    vs->stats.added++;
    KEEL_LOGI(vs->vdev.hal, "virtio-scsi %u:%u: type 0x%x %s \"%s %s\" %s%s", (unsigned)e->target,
              (unsigned)e->lun, (unsigned)e->type, keel_vscsi_state_name(e->state), e->inq.vendor,
              e->inq.product, e->has_blk ? e->blk.info.name : "", e->wp ? " (read-only)" : "");
    if (announce)
        keel_vscsi_notify(vs, e, KEEL_VSCSI_EV_ADDED);
}

/* Refresh the block device's facts after a revalidation; a disk that became ready gets one. */
void keel_vscsi_lun_update(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    if (!e->has_blk) {
        if (e->type == KEEL_SCSI_TYPE_DISK && e->state == KEEL_VSCSI_LUN_READY && e->nblocks != 0u)
            make_blkdev(vs, e);
        return;
    }
    e->blk.info.sector_count = e->nblocks;
    e->blk.info.flags = blk_flags(e);
    e->blk.info.max_discard = e->lbpu ? UINT32_MAX : 0u;
    if (e->wp)
        e->blk.access = KEEL_BLK_ACCESS_RO;
}

void keel_vscsi_lun_gone(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    if (e->state == KEEL_VSCSI_LUN_GONE || e->state == KEEL_VSCSI_LUN_FREE)
        return;
    e->state = KEEL_VSCSI_LUN_GONE;
    if (e->has_blk)
        keel_blkdev_mark_gone(&e->blk); /* new requests: KEEL_ENODEV */
    if (e->registered && vs->opts.registry != NULL)
        (void)keel_registry_remove(vs->opts.registry, &e->blk);
    e->registered = false;
    vs->stats.removed++;
    KEEL_LOGI(vs->vdev.hal, "virtio-scsi %u:%u: removed", (unsigned)e->target, (unsigned)e->lun);
    /* Queue 0 belongs to this context: its waiting requests for the LUN fail now; the other
       queues' owners fail theirs on their next poll, and commands in flight fail as they end. */
    keel_vscsi_pump(&vs->rq[0]);
    keel_vscsi_notify(vs, e, KEEL_VSCSI_EV_REMOVED);
}

/* ---- listing ------------------------------------------------------------------------------------
 */

unsigned keel_vscsi_lun_count(const struct keel_vscsi *vs)
{
    unsigned n = 0;
    uint16_t i;

    if (vs == NULL || vs->luns == NULL)
        return 0;
    for (i = 0; i < vs->nluns; i++)
        if (vs->luns[i].state != KEEL_VSCSI_LUN_FREE)
            n++;
    return n;
}

int keel_vscsi_lun_info(const struct keel_vscsi *vs, unsigned i, struct keel_vscsi_lun_info *out)
{
    const struct keel_vscsi_lun *e = NULL;
    uint16_t k;

    if (vs == NULL || out == NULL || vs->luns == NULL)
        return KEEL_EINVAL;
    for (k = 0; k < vs->nluns; k++) {
        if (vs->luns[k].state == KEEL_VSCSI_LUN_FREE)
            continue;
        if (i-- == 0u) {
            e = &vs->luns[k];
            break;
        }
    }
    if (e == NULL)
        return KEEL_ENOENT;
    keel_memset(out, 0, sizeof(*out));
    out->target = e->target;
    out->lun = e->lun;
    out->type = e->type;
    out->state = e->state;
    out->removable = e->removable;
    out->write_protected = e->wp;
    if (e->has_blk) {
        keel_strlcpy(out->name, e->blk.info.name, sizeof(out->name));
        out->blk = (struct keel_blkdev *)(uintptr_t)&e->blk;
    }
    keel_strlcpy(out->vendor, e->inq.vendor, sizeof(out->vendor));
    keel_strlcpy(out->product, e->inq.product, sizeof(out->product));
    keel_strlcpy(out->revision, e->inq.revision, sizeof(out->revision));
    keel_strlcpy(out->serial, e->serial, sizeof(out->serial));
    out->nblocks = e->nblocks;
    /* The geometry outlives the medium: a disk whose medium went away (NO_MEDIUM, nblocks 0)
       keeps its block device and so its block length, which a returning medium must match. */
    out->block_size = e->nblocks != 0u || e->has_blk ? 1u << e->block_shift : 0u;
    return KEEL_OK;
}

struct keel_blkdev *keel_vscsi_disk(struct keel_vscsi *vs, const char *name)
{
    uint16_t i;

    if (vs == NULL || name == NULL || vs->luns == NULL)
        return NULL;
    for (i = 0; i < vs->nluns; i++) {
        struct keel_vscsi_lun *e = &vs->luns[i];
        if (e->has_blk && e->state != KEEL_VSCSI_LUN_GONE && keel_streq(e->blk.info.name, name))
            return &e->blk;
    }
    return NULL;
}
