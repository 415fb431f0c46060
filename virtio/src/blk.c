/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk device bring-up (5.2.5), configuration (5.2.4) and device events: features, the
 * validated configuration snapshot, queues and slots, the struct keel_blkdev it exposes, capacity
 * changes, and the GET_ID / SECURE_ERASE / writeback extras the block layer has no operation for.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio_blk.h>

#include "blk_internal.h"

#define VBLK_MAX_CHUNK_BYTES (1u << 30) /* per virtio request; keeps lengths far from 2^32 */

#define VBLK_FEATURES                                                                              \
    (KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_SIZE_MAX) | KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_SEG_MAX) |    \
     KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_RO) | KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_BLK_SIZE) |         \
     KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_FLUSH) | KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_TOPOLOGY) |      \
     KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_CONFIG_WCE) | KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_MQ) |       \
     KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_DISCARD) |                                                  \
     KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_WRITE_ZEROES) |                                             \
     KEEL_VIRTIO_BIT(KEEL_VIRTIO_BLK_F_SECURE_ERASE))

void keel_vblk_name(unsigned index, char *out, size_t size)
{
    char rev[8];
    unsigned n = index + 1u, k = 0, i;

    if (out == NULL || size == 0u)
        return;
    /* Bijective base 26, like Linux: a..z, aa..zz, aaa... */
    while (n > 0u && k < sizeof(rev)) {
        n--;
        rev[k++] = (char)('a' + (n % 26u));
        n /= 26u;
    }
    if (size < 3u + k) {
        out[0] = '\0';
        return;
    }
    out[0] = 'v';
    out[1] = 'd';
    for (i = 0; i < k; i++)
        out[2u + i] = rev[k - 1u - i];
    out[2u + k] = '\0';
}

/* ---- configuration ----------------------------------------------------------------------------
 */

/* Runs inside the generation loop: natural-width reads, and only of fields that were negotiated. */
static void cfg_reader(struct keel_virtio_dev *d, void *arg)
{
    struct keel_vblk_config *c = arg;

    c->capacity = keel_virtio_cfg64(d, KEEL_VIRTIO_BLK_CFG_CAPACITY);
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_SIZE_MAX))
        c->size_max = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_SIZE_MAX);
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_SEG_MAX))
        c->seg_max = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_SEG_MAX);
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_BLK_SIZE))
        c->blk_size = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_BLK_SIZE);
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_TOPOLOGY)) {
        c->physical_block_exp = keel_virtio_cfg8(d, KEEL_VIRTIO_BLK_CFG_PHYS_EXP);
        c->alignment_offset = keel_virtio_cfg8(d, KEEL_VIRTIO_BLK_CFG_ALIGN_OFF);
        c->min_io_size = keel_virtio_cfg16(d, KEEL_VIRTIO_BLK_CFG_MIN_IO);
        c->opt_io_size = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_OPT_IO);
    }
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_CONFIG_WCE))
        c->writeback = keel_virtio_cfg8(d, KEEL_VIRTIO_BLK_CFG_WRITEBACK);
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_MQ))
        c->num_queues = keel_virtio_cfg16(d, KEEL_VIRTIO_BLK_CFG_NUM_QUEUES);
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_DISCARD)) {
        c->max_discard_sectors = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS);
        c->max_discard_seg = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_MAX_DISCARD_SEG);
        c->discard_sector_alignment = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_DISCARD_ALIGN);
    }
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_WRITE_ZEROES)) {
        c->max_write_zeroes_sectors = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_MAX_WZ_SECTORS);
        c->max_write_zeroes_seg = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_MAX_WZ_SEG);
        c->write_zeroes_may_unmap = keel_virtio_cfg8(d, KEEL_VIRTIO_BLK_CFG_WZ_MAY_UNMAP);
    }
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_SECURE_ERASE)) {
        c->max_secure_erase_sectors = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_MAX_SE_SECTORS);
        c->max_secure_erase_seg = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_MAX_SE_SEG);
        c->secure_erase_sector_alignment = keel_virtio_cfg32(d, KEEL_VIRTIO_BLK_CFG_SE_ALIGN);
    }
}

static bool valid_blk_size(uint32_t v)
{
    return v >= 512u && v <= 65536u && (v & (v - 1u)) == 0u;
}

static unsigned log2_u32(uint32_t v)
{
    unsigned n = 0;
    while (v > 1u) {
        v >>= 1;
        n++;
    }
    return n;
}

/* Read a consistent snapshot and make every value safe to use (the device is untrusted). */
static int read_config(struct keel_vblk *vb, struct keel_vblk_config *c)
{
    int rc;

    keel_memset(c, 0, sizeof(*c));
    rc = keel_virtio_config_read(&vb->vdev, cfg_reader, c, sizeof(*c));
    if (rc != KEEL_OK)
        return rc;
    if (!valid_blk_size(c->blk_size)) {
        if (c->blk_size != 0u)
            KEEL_LOGW(vb->vdev.hal, "virtio-blk: blk_size %u ignored", (unsigned)c->blk_size);
        c->blk_size = 512u;
    }
    if (c->num_queues == 0u)
        c->num_queues = 1u;
    if (c->max_discard_seg == 0u)
        c->max_discard_seg = 1u;
    if (c->max_write_zeroes_seg == 0u)
        c->max_write_zeroes_seg = 1u;
    if (c->max_secure_erase_seg == 0u)
        c->max_secure_erase_seg = 1u;
    return KEEL_OK;
}

/* The cache mode: FLUSH negotiated and write-back (5.2.5.1: assumed without CONFIG_WCE). */
static bool has_cache(const struct keel_vblk *vb)
{
    const struct keel_virtio_dev *d = &vb->vdev;

    if (!keel_virtio_has(d, KEEL_VIRTIO_BLK_F_FLUSH))
        return false;
    return !keel_virtio_has(d, KEEL_VIRTIO_BLK_F_CONFIG_WCE) || vb->cfg.writeback != 0u;
}

static uint32_t info_flags(const struct keel_vblk *vb)
{
    const struct keel_virtio_dev *d = &vb->vdev;
    uint32_t f = 0;

    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_RO))
        f |= KEEL_BLK_F_READ_ONLY;
    if (has_cache(vb))
        f |= KEEL_BLK_F_FLUSH;
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_DISCARD))
        f |= KEEL_BLK_F_TRIM;
    if (keel_virtio_has(d, KEEL_VIRTIO_BLK_F_WRITE_ZEROES))
        f |= KEEL_BLK_F_WRITE_ZEROES;
    return f;
}

/* Limits that depend on the configuration and on the queues' sizes. */
static int derive_limits(struct keel_vblk *vb)
{
    uint32_t limit = KEEL_CONFIG_VIRTIO_MAX_SEGS - 2u, bytes;
    uint16_t i;

    if (vb->cfg.seg_max != 0u && vb->cfg.seg_max < limit)
        limit = vb->cfg.seg_max;
    for (i = 0; i < vb->nq; i++) {
        /* header + data + status must fit the ring even when no indirect table is free */
        uint32_t ring = vb->q[i].vq.size >= 3u ? vb->q[i].vq.size - 2u : 0u;
        if (ring < limit)
            limit = ring;
    }
    if (limit == 0u)
        return KEEL_ENOTSUP;
    vb->seg_limit = (uint16_t)limit;
    bytes = VBLK_MAX_CHUNK_BYTES;
    if (vb->cfg.size_max != 0u && (uint64_t)vb->cfg.size_max * limit < bytes)
        bytes = vb->cfg.size_max * limit;
    vb->max_chunk_blocks = bytes >> vb->lb_bytes_shift;
    if (vb->max_chunk_blocks == 0u)
        vb->max_chunk_blocks = 1u;
    return KEEL_OK;
}

/* ---- queues ------------------------------------------------------------------------------------
 */

static int queue_init(struct keel_vblk *vb, uint16_t i)
{
    const struct keel_hal *hal = vb->vdev.hal;
    struct keel_vblk_queue *q = &vb->q[i];
    uint16_t s;
    int rc;

    q->vb = vb;
    q->index = i;
    rc = keel_vblk_vq_create(q, vb->opts.queue_size);
    if (rc != KEEL_OK)
        return rc;
    q->nslots = KEEL_CONFIG_VIRTIO_BLK_SLOTS;
    if (q->nslots > q->vq.size)
        q->nslots = q->vq.size;
    rc = hal->ops->dma_alloc(hal->ctx, (size_t)q->nslots * KEEL_VBLK_SLOT_BYTES,
                             KEEL_VBLK_SLOT_BYTES, &q->slot_mem);
    if (rc != KEEL_OK) {
        keel_vq_destroy(&q->vq);
        return rc;
    }
    for (s = 0; s < q->nslots; s++) {
        q->slots[s].index = s;
        q->slots[s].next_free = (uint16_t)(s + 1u < q->nslots ? s + 1u : NO_SLOT);
    }
    q->free_slot = 0;
    q->used_slots = 0;
    q->next_deadline = UINT64_MAX;
    return KEEL_OK;
}

static void queue_free(struct keel_vblk *vb, uint16_t i)
{
    const struct keel_hal *hal = vb->vdev.hal;
    struct keel_vblk_queue *q = &vb->q[i];

    if (q->slot_mem.cpu != NULL)
        hal->ops->dma_free(hal->ctx, &q->slot_mem);
    q->slot_mem.cpu = NULL;
    keel_vq_destroy(&q->vq);
}

static void enable_queue_irqs(struct keel_vblk *vb)
{
    uint16_t i;

    if (vb->vdev.irq_mode == KEEL_VIRTIO_IRQ_POLL)
        return;
    for (i = 0; i < vb->nq; i++)
        (void)keel_vq_enable_irq(&vb->q[i].vq);
}

static void fill_info(struct keel_vblk *vb, struct keel_blkdev_info *info)
{
    keel_memset(info, 0, sizeof(*info));
    keel_vblk_name(vb->opts.index, info->name, sizeof(info->name));
    info->driver = "virtio-blk";
    info->sector_size = 1u << vb->lb_bytes_shift;
    info->sector_count = vb->cap_blocks;
    info->max_transfer = VBLK_MAX_CHUNK_BYTES >> vb->lb_bytes_shift;
    info->max_discard = UINT32_MAX; /* the driver splits by the device's limits itself */
    info->queue_count = vb->nq;
    info->flags = info_flags(vb);
}

static uint16_t queue_count(const struct keel_vblk *vb)
{
    uint16_t n = vb->cfg.num_queues;

    if (vb->opts.max_queues != 0u && n > vb->opts.max_queues)
        n = vb->opts.max_queues;
    if (n > KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES)
        n = KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES;
    if (vb->vdev.num_queues != 0u && n > vb->vdev.num_queues)
        n = vb->vdev.num_queues;
    return n;
}

static void attach_undo(struct keel_vblk *vb)
{
    uint16_t i;

    (void)keel_virtio_reset(&vb->vdev);
    keel_virtio_irq_teardown(&vb->vdev);
    for (i = 0; i < KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES; i++)
        queue_free(vb, i);
}

static int attach_queues(struct keel_vblk *vb)
{
    uint16_t i;
    int rc;

    rc = keel_virtio_irq_setup(&vb->vdev, vb->opts.irq, vb->nq, NULL, NULL);
    if (rc != KEEL_OK)
        return rc;
    for (i = 0; i < vb->nq; i++) {
        rc = queue_init(vb, i);
        if (rc != KEEL_OK) {
            if (i == 0u)
                return rc;
            vb->nq = i; /* fewer queues than hoped still make a working disk */
            break;
        }
    }
    return derive_limits(vb);
}

int keel_vblk_attach(struct keel_vblk *vb, const struct keel_vblk_opts *opts)
{
    static const struct keel_vblk_opts defaults = {0};
    struct keel_blkdev_info info;
    int rc;

    if (vb == NULL || vb->vdev.tops == NULL || vb->vdev.hal == NULL)
        return KEEL_EINVAL;
    if (vb->vdev.device_id != KEEL_VIRTIO_ID_BLOCK)
        return KEEL_ENODEV;
    keel_memset(vb->q, 0, sizeof(vb->q));
    keel_memset(&vb->stats, 0, sizeof(vb->stats));
    vb->opts = opts != NULL ? *opts : defaults;
    vb->dead = false;
    vb->in_recovery = false;
    vb->wanted = VBLK_FEATURES & ~vb->opts.refuse;
    rc = keel_virtio_begin(&vb->vdev, vb->wanted, vb->opts.no_packed);
    if (rc != KEEL_OK)
        return rc;
    vb->negotiated = vb->vdev.features;
    rc = read_config(vb, &vb->cfg);
    if (rc != KEEL_OK) {
        attach_undo(vb);
        return rc;
    }
    vb->lb_bytes_shift = (uint8_t)log2_u32(vb->cfg.blk_size);
    vb->lb_shift = (uint8_t)(vb->lb_bytes_shift - 9u);
    vb->cap_blocks = vb->cfg.capacity >> vb->lb_shift;
    vb->nq = queue_count(vb);
    rc = attach_queues(vb);
    if (rc == KEEL_OK)
        rc = keel_virtio_driver_ok(&vb->vdev);
    if (rc != KEEL_OK) {
        attach_undo(vb);
        return rc;
    }
    enable_queue_irqs(vb);
    fill_info(vb, &info);
    keel_blkdev_init(&vb->blk, vb->vdev.hal, &keel_vblk_ops, vb, &info);
    vb->blk.batch = &keel_vblk_batch_ops;
    vb->attached = true;
    KEEL_LOGI(vb->vdev.hal, "virtio-blk %s: %s, %llu x %u, %u queue(s), %s ring", info.name,
              keel_virtio_transport_name(&vb->vdev), (unsigned long long)info.sector_count,
              (unsigned)info.sector_size, (unsigned)vb->nq,
              keel_virtio_has(&vb->vdev, KEEL_VIRTIO_F_RING_PACKED) ? "packed" : "split");
    return KEEL_OK;
}

/* After a device reset: the same features, the same queues (fresh rings), DRIVER_OK. */
int keel_vblk_reinit(struct keel_vblk *vb)
{
    struct keel_virtio_dev *d = &vb->vdev;
    struct keel_vblk_config c;
    uint16_t i;
    int rc;

    rc = keel_virtio_begin(d, vb->wanted, vb->opts.no_packed);
    if (rc != KEEL_OK)
        return rc;
    if (d->features != vb->negotiated)
        return KEEL_EPROTO; /* the rings and limits in use were built for other features */
    if ((d->irq_mode == KEEL_VIRTIO_IRQ_MSIX_PER_VQ ||
         d->irq_mode == KEEL_VIRTIO_IRQ_MSIX_SHARED) &&
        d->tops->set_config_vector(d, 0) != 0u)
        return KEEL_ENOSPC;
    for (i = 0; i < vb->nq; i++) {
        rc = keel_vq_restart(&vb->q[i].vq);
        if (rc != KEEL_OK)
            return rc;
    }
    if (read_config(vb, &c) == KEEL_OK && c.blk_size == vb->cfg.blk_size) {
        vb->cfg = c;
        vb->cap_blocks = c.capacity >> vb->lb_shift;
        vb->blk.info.sector_count = vb->cap_blocks;
        vb->blk.info.flags = info_flags(vb);
    }
    rc = keel_virtio_driver_ok(d);
    if (rc != KEEL_OK)
        return rc;
    enable_queue_irqs(vb);
    return KEEL_OK;
}

/* A configuration change: re-read, and apply what may change at run time (capacity, cache). */
static void config_changed(struct keel_vblk *vb)
{
    struct keel_vblk_config c;
    uint64_t blocks;

    if (read_config(vb, &c) != KEEL_OK) {
        vb->vdev.events |= KEEL_VIRTIO_EV_CONFIG; /* still moving: try again next time */
        return;
    }
    if (c.blk_size != vb->cfg.blk_size)
        KEEL_LOGW(vb->vdev.hal, "virtio-blk %s: block size change ignored", vb->blk.info.name);
    c.blk_size = vb->cfg.blk_size;
    blocks = c.capacity >> vb->lb_shift;
    if (blocks != vb->cap_blocks) {
        KEEL_LOGI(vb->vdev.hal, "virtio-blk %s: resized %llu -> %llu blocks", vb->blk.info.name,
                  (unsigned long long)vb->cap_blocks, (unsigned long long)blocks);
        vb->stats.resizes++;
        vb->cap_blocks = blocks;
        vb->blk.info.sector_count = blocks;
    }
    vb->cfg = c;
    vb->blk.info.flags = info_flags(vb);
}

void keel_vblk_device_events(struct keel_vblk *vb)
{
    uint32_t ev = keel_virtio_check(&vb->vdev, false);

    if (ev & KEEL_VIRTIO_EV_NEEDS_RESET) {
        (void)keel_vblk_device_recover(vb, R_NEEDS_RESET, NULL);
        return;
    }
    if (ev & (KEEL_VIRTIO_EV_CONFIG | KEEL_VIRTIO_EV_RECHECK))
        config_changed(vb);
}

static void drain_all(struct keel_vblk *vb)
{
    uint16_t i;

    for (i = 0; i < vb->nq; i++)
        keel_vblk_drain_idle(&vb->q[i]);
}

int keel_vblk_recover(struct keel_vblk *vb)
{
    int rc;

    if (vb == NULL || !vb->attached)
        return KEEL_EINVAL;
    if (vb->dead)
        return KEEL_ENODEV;
    rc = keel_vblk_device_recover(vb, R_TIMEOUT, NULL);
    drain_all(vb);
    return rc;
}

int keel_vblk_service(struct keel_vblk *vb)
{
    if (vb == NULL || !vb->attached)
        return KEEL_EINVAL;
    if (vb->dead)
        return KEEL_ENODEV;
    keel_vblk_device_events(vb);
    drain_all(vb);
    return vb->dead ? KEEL_ENODEV : KEEL_OK;
}

void keel_vblk_detach(struct keel_vblk *vb)
{
    uint16_t i;

    if (vb == NULL || !vb->attached)
        return;
    vb->in_recovery = true;
    /* Only after the reset can the device no longer write the buffers being given back. */
    if (keel_virtio_reset(&vb->vdev) != KEEL_OK)
        keel_vblk_stop_dma(vb);
    keel_virtio_irq_teardown(&vb->vdev);
    for (i = 0; i < vb->nq; i++)
        keel_vblk_cancel_queue(&vb->q[i], R_CANCEL);
    vb->in_recovery = false;
    vb->dead = true;
    for (i = 0; i < vb->nq; i++) {
        (void)keel_vblk_drain_finished(&vb->q[i]);
        queue_free(vb, i);
    }
    keel_blkdev_mark_gone(&vb->blk);
    vb->attached = false;
}

/* ---- extras -------------------------------------------------------------------------------------
 */

int keel_vblk_get_id(struct keel_vblk *vb, char *out, size_t size, uint32_t timeout_us)
{
    struct keel_blk_req req;
    uint8_t id[KEEL_VIRTIO_BLK_ID_BYTES];
    size_t i;
    int rc;

    if (vb == NULL || out == NULL || size == 0u)
        return KEEL_EINVAL;
    keel_memset(&req, 0, sizeof(req));
    keel_memset(id, 0, sizeof(id));
    req.op = VBLK_OP_GET_ID;
    req.buf = id;
    req.timeout_us = timeout_us;
    rc = keel_vblk_execute_internal(vb, &req);
    out[0] = '\0';
    if (rc != KEEL_OK)
        return rc;
    /* 5.2.6: up to 20 bytes, NUL-terminated only when shorter. */
    for (i = 0; i < sizeof(id) && i + 1u < size && id[i] != 0u; i++)
        out[i] = (char)id[i];
    out[i] = '\0';
    return KEEL_OK;
}

int keel_vblk_secure_erase(struct keel_vblk *vb, unsigned queue, uint64_t lba, uint32_t count,
                           uint32_t timeout_us)
{
    struct keel_blk_req req;

    if (vb == NULL || count == 0u || queue >= vb->nq)
        return KEEL_EINVAL;
    if (!keel_virtio_has(&vb->vdev, KEEL_VIRTIO_BLK_F_SECURE_ERASE))
        return KEEL_ENOTSUP;
    if ((vb->blk.info.flags & KEEL_BLK_F_READ_ONLY) || vb->blk.access == KEEL_BLK_ACCESS_RO)
        return KEEL_EROFS;
    if (lba > vb->cap_blocks || count > vb->cap_blocks - lba)
        return KEEL_ERANGE;
    keel_memset(&req, 0, sizeof(req));
    req.op = VBLK_OP_SECURE_ERASE;
    req.queue = (uint16_t)queue;
    req.lba = lba;
    req.dev_lba = lba;
    req.count = count;
    req.timeout_us = timeout_us;
    return keel_vblk_execute_internal(vb, &req);
}

int keel_vblk_set_writeback(struct keel_vblk *vb, bool writeback)
{
    struct keel_vblk_config c;
    int rc;

    if (vb == NULL || !vb->attached)
        return KEEL_EINVAL;
    if (!keel_virtio_has(&vb->vdev, KEEL_VIRTIO_BLK_F_CONFIG_WCE))
        return KEEL_ENOTSUP;
    keel_virtio_cfg_write8(&vb->vdev, KEEL_VIRTIO_BLK_CFG_WRITEBACK, writeback ? 1u : 0u);
    rc = read_config(vb, &c);
    if (rc != KEEL_OK)
        return rc;
    c.blk_size = vb->cfg.blk_size;
    vb->cfg = c;
    vb->blk.info.flags = info_flags(vb);
    return (c.writeback != 0u) == writeback ? KEEL_OK : KEEL_EIO;
}

const struct keel_vq_stats *keel_vblk_vq_stats(const struct keel_vblk *vb, unsigned queue)
{
    if (vb == NULL || queue >= vb->nq)
        return NULL;
    return &vb->q[queue].vq.stats;
}
