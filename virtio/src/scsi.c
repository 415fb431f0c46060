/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi bring-up (5.6.5) and configuration (5.6.4): features, the validated configuration
 * snapshot, sense_size / cdb_size written and read back, the control, event and request queues,
 * the DMA memory every later operation uses (taken here, never during I/O), DRIVER_OK, the first
 * scan; detach; adapter service (NEEDS_RESET, events, pending rescans) and recovery entry points.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio_scsi.h>

#include "scsi_internal.h"

#define VSCSI_FEATURES                                                                             \
    (KEEL_VIRTIO_BIT(KEEL_VIRTIO_SCSI_F_HOTPLUG) | KEEL_VIRTIO_BIT(KEEL_VIRTIO_SCSI_F_CHANGE))

/* ---- configuration ----------------------------------------------------------------------------
 */

/* Runs inside the generation loop: natural-width reads of every field (all always present). */
static void cfg_reader(struct keel_virtio_dev *d, void *arg)
{
    struct keel_vscsi_config *c = arg;

    c->num_queues = keel_virtio_cfg32(d, KEEL_VIRTIO_SCSI_CFG_NUM_QUEUES);
    c->seg_max = keel_virtio_cfg32(d, KEEL_VIRTIO_SCSI_CFG_SEG_MAX);
    c->max_sectors = keel_virtio_cfg32(d, KEEL_VIRTIO_SCSI_CFG_MAX_SECTORS);
    c->cmd_per_lun = keel_virtio_cfg32(d, KEEL_VIRTIO_SCSI_CFG_CMD_PER_LUN);
    c->event_info_size = keel_virtio_cfg32(d, KEEL_VIRTIO_SCSI_CFG_EVENT_INFO_SIZE);
    c->sense_size = keel_virtio_cfg32(d, KEEL_VIRTIO_SCSI_CFG_SENSE_SIZE);
    c->cdb_size = keel_virtio_cfg32(d, KEEL_VIRTIO_SCSI_CFG_CDB_SIZE);
    c->max_channel = keel_virtio_cfg16(d, KEEL_VIRTIO_SCSI_CFG_MAX_CHANNEL);
    c->max_target = keel_virtio_cfg16(d, KEEL_VIRTIO_SCSI_CFG_MAX_TARGET);
    c->max_lun = keel_virtio_cfg32(d, KEEL_VIRTIO_SCSI_CFG_MAX_LUN);
}

/* Write the sizes the driver uses (restored to 96 / 32 by every reset), then read all back. */
static int read_config(struct keel_vscsi *vs, struct keel_vscsi_config *c)
{
    int rc;

    /* sense_size and cdb_size are the only fields a driver may write (5.6.4.1), both le32. */
    keel_virtio_cfg_write32(&vs->vdev, KEEL_VIRTIO_SCSI_CFG_SENSE_SIZE,
                            KEEL_CONFIG_VSCSI_SENSE_SIZE);
    keel_virtio_cfg_write32(&vs->vdev, KEEL_VIRTIO_SCSI_CFG_CDB_SIZE, KEEL_CONFIG_VSCSI_CDB_SIZE);
    keel_memset(c, 0, sizeof(*c));
    rc = keel_virtio_config_read(&vs->vdev, cfg_reader, c, sizeof(*c));
    if (rc != KEEL_OK)
        return rc;
    /* A device that ignored the writes keeps its own sizes: usable when the buffers still fit. */
    if (c->cdb_size < KEEL_SCSI_CDB_MAX || c->cdb_size > 255u ||
        c->sense_size > KEEL_SCSI_SENSE_MAX) {
        KEEL_LOGE(vs->vdev.hal, "virtio-scsi: unusable cdb_size %u / sense_size %u",
                  (unsigned)c->cdb_size, (unsigned)c->sense_size);
        return KEEL_ENOTSUP;
    }
    if (c->num_queues == 0u)
        c->num_queues = 1u;
    if (c->max_target > KEEL_CONFIG_VSCSI_MAX_TARGET)
        c->max_target = KEEL_CONFIG_VSCSI_MAX_TARGET;
    if (c->max_lun > 0x3fffu)
        c->max_lun = 0x3fffu; /* single-level LUNs stop at 16383 (flat space) */
    if (c->max_channel != 0u)
        KEEL_LOGW(vs->vdev.hal, "virtio-scsi: max_channel %u ignored (channel 0 only)",
                  (unsigned)c->max_channel);
    return KEEL_OK;
}

static uint32_t round_up(uint32_t v, uint32_t a)
{
    return (v + a - 1u) & ~(a - 1u);
}

/* Sizes of the per-command DMA areas: header, response (with sense), UNMAP parameter list. */
static void derive_layout(struct keel_vscsi *vs)
{
    vs->hdr_len = KEEL_VIRTIO_SCSI_REQ_HDR_BYTES + vs->cfg.cdb_size;
    vs->resp_len = KEEL_VIRTIO_SCSI_RESP_HDR_BYTES + vs->cfg.sense_size;
    vs->off_resp = round_up(vs->hdr_len, 16u);
    vs->off_aux = round_up(vs->off_resp + vs->resp_len, 16u);
    vs->aux_cap = 8u + 16u * KEEL_CONFIG_VSCSI_UNMAP_DESC;
    vs->slot_bytes = round_up(vs->off_aux + vs->aux_cap, 64u);
}

/* Limits that depend on the configuration and on the queues' sizes. */
static int derive_limits(struct keel_vscsi *vs)
{
    uint32_t limit = KEEL_CONFIG_VIRTIO_MAX_SEGS - 2u, per_q;
    uint64_t bytes;
    uint16_t i;

    if (vs->cfg.seg_max != 0u && vs->cfg.seg_max < limit)
        limit = vs->cfg.seg_max;
    for (i = 0; i < vs->nrq; i++) {
        /* header + data + response must fit the ring even when no indirect table is free */
        uint32_t ring = vs->rq[i].vq.size >= 3u ? vs->rq[i].vq.size - 2u : 0u;
        if (ring < limit)
            limit = ring;
    }
    if (limit == 0u)
        return KEEL_ENOTSUP;
    vs->seg_limit = (uint16_t)limit;
    bytes = MAX_CHUNK;
    if (vs->cfg.max_sectors != 0u && (uint64_t)vs->cfg.max_sectors * 512u < bytes)
        bytes = (uint64_t)vs->cfg.max_sectors * 512u;
    vs->max_xfer_bytes = (uint32_t)bytes;
    /* cmd_per_lun is shared out among the request queues (attach time: division allowed). */
    per_q = KEEL_CONFIG_VSCSI_SLOTS;
    /* nrq >= 1 after attach_queues; checked again so the division never sees a zero. */
    if (vs->cfg.cmd_per_lun != 0u && vs->nrq != 0u)
        per_q = vs->cfg.cmd_per_lun / vs->nrq;
    if (per_q == 0u)
        per_q = 1u;
    if (per_q > KEEL_CONFIG_VSCSI_SLOTS)
        per_q = KEEL_CONFIG_VSCSI_SLOTS;
    vs->lun_qdepth = (uint16_t)per_q;
    return KEEL_OK;
}

static uint16_t queue_count(const struct keel_vscsi *vs)
{
    uint32_t n = vs->cfg.num_queues;

    if (vs->opts.max_queues != 0u && n > vs->opts.max_queues)
        n = vs->opts.max_queues;
    if (n > KEEL_CONFIG_VSCSI_MAX_QUEUES)
        n = KEEL_CONFIG_VSCSI_MAX_QUEUES;
    if (vs->vdev.num_queues > 2u && n > vs->vdev.num_queues - 2u)
        n = vs->vdev.num_queues - 2u;
    /* Each queue may have one command on a LUN at least, and the device takes cmd_per_lun on a
     * LUN over all queues together (5.6.4): more queues than that would add up past it. */
    if (vs->cfg.cmd_per_lun != 0u && n > vs->cfg.cmd_per_lun)
        n = vs->cfg.cmd_per_lun;
    return (uint16_t)n;
}

/* ---- queues and memory --------------------------------------------------------------------------
 */

static uint16_t pow2_at_least(uint32_t n)
{
    uint16_t p = 2;

    while (p < n && p < 0x8000u)
        p = (uint16_t)(p << 1);
    return p;
}

static int rq_init(struct keel_vscsi *vs, uint16_t i)
{
    const struct keel_hal *hal = vs->vdev.hal;
    struct keel_vscsi_rq *q = &vs->rq[i];
    uint16_t s;
    int rc;

    q->vs = vs;
    q->index = i;
    rc = keel_vq_create(&q->vq, &vs->vdev, (uint16_t)(KEEL_VIRTIO_SCSI_Q_REQUEST + i),
                        vs->opts.queue_size, keel_vscsi_vq_irq, q);
    if (rc != KEEL_OK)
        return rc;
    /* QEMU (hw/scsi/virtio-scsi.c, virtio_scsi_complete_req) reports used length = data size +
     * response size whatever the direction, so a write's used length counts its data-out bytes.
     * Accept exactly that much more; the driver never uses the length beyond this bound (the
     * preset response byte and the residual say what happened). */
    q->vq.len_counts_out = true;
    q->nslots = KEEL_CONFIG_VSCSI_SLOTS;
    if (q->nslots > q->vq.size)
        q->nslots = q->vq.size;
    rc = hal->ops->dma_alloc(hal->ctx, (size_t)q->nslots * vs->slot_bytes, 64, &q->slot_mem);
    if (rc != KEEL_OK) {
        keel_vq_destroy(&q->vq);
        return rc;
    }
    /* Zeroed once: the CDB field beyond KEEL_SCSI_CDB_MAX bytes is never written again. */
    keel_memset(q->slot_mem.cpu, 0, (size_t)q->nslots * vs->slot_bytes);
    for (s = 0; s < q->nslots; s++)
        q->slots[s].next = (uint16_t)(s + 1u < q->nslots ? s + 1u : NO_SLOT);
    q->free_slot = 0;
    q->used_slots = 0;
    q->retry_head = NO_SLOT;
    q->next_deadline = UINT64_MAX;
    return KEEL_OK;
}

static void dma_free(struct keel_vscsi *vs, struct keel_dma_mem *m)
{
    const struct keel_hal *hal = vs->vdev.hal;

    if (m->cpu != NULL)
        hal->ops->dma_free(hal->ctx, m);
    m->cpu = NULL;
}

static void free_all(struct keel_vscsi *vs)
{
    uint16_t i;

    for (i = 0; i < KEEL_CONFIG_VSCSI_MAX_QUEUES; i++) {
        dma_free(vs, &vs->rq[i].slot_mem);
        keel_vq_destroy(&vs->rq[i].vq);
    }
    keel_vq_destroy(&vs->ctrl_vq);
    keel_vq_destroy(&vs->event_vq);
    dma_free(vs, &vs->ctrl_mem);
    dma_free(vs, &vs->event_mem);
    dma_free(vs, &vs->disc_mem);
}

static int alloc_adapter_mem(struct keel_vscsi *vs)
{
    const struct keel_hal *hal = vs->vdev.hal;
    uint32_t evlen = vs->cfg.event_info_size;
    int rc;

    /* 5.6.6.3.1: at least struct virtio_scsi_event, and event_info_size when it is larger. */
    if (evlen < KEEL_VIRTIO_SCSI_EVENT_BYTES)
        evlen = KEEL_VIRTIO_SCSI_EVENT_BYTES;
    if (evlen > KEEL_CONFIG_VSCSI_EVENT_BUF_MAX)
        evlen = KEEL_CONFIG_VSCSI_EVENT_BUF_MAX;
    vs->event_len = round_up(evlen, 8u);
    vs->nevents = KEEL_CONFIG_VSCSI_EVENT_BUFS;
    if (vs->nevents > vs->event_vq.size)
        vs->nevents = vs->event_vq.size;
    rc = hal->ops->dma_alloc(hal->ctx, (size_t)vs->nevents * vs->event_len, 16, &vs->event_mem);
    if (rc == KEEL_OK)
        rc = hal->ops->dma_alloc(hal->ctx, (size_t)KEEL_CONFIG_VSCSI_CTRL_SLOTS * CTRL_SLOT_LEN, 16,
                                 &vs->ctrl_mem);
    if (rc == KEEL_OK)
        rc = hal->ops->dma_alloc(hal->ctx, (size_t)KEEL_CONFIG_VSCSI_DISC_BUF_BYTES + DISC_PROBE,
                                 16, &vs->disc_mem);
    return rc;
}

static int attach_queues(struct keel_vscsi *vs)
{
    uint16_t i;
    int rc;

    rc = keel_virtio_irq_setup(&vs->vdev, vs->opts.irq, (uint16_t)(2u + vs->nrq), NULL, NULL);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_vq_create(&vs->ctrl_vq, &vs->vdev, KEEL_VIRTIO_SCSI_Q_CONTROL,
                        pow2_at_least(2u * KEEL_CONFIG_VSCSI_CTRL_SLOTS), keel_vscsi_ctrl_irq, vs);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_vq_create(&vs->event_vq, &vs->vdev, KEEL_VIRTIO_SCSI_Q_EVENT,
                        pow2_at_least(KEEL_CONFIG_VSCSI_EVENT_BUFS), keel_vscsi_event_irq, vs);
    if (rc != KEEL_OK)
        return rc;
    for (i = 0; i < vs->nrq; i++) {
        rc = rq_init(vs, i);
        if (rc != KEEL_OK) {
            if (i == 0u)
                return rc;
            vs->nrq = i; /* fewer queues than hoped still make a working adapter */
            break;
        }
    }
    rc = alloc_adapter_mem(vs);
    if (rc != KEEL_OK)
        return rc;
    return derive_limits(vs);
}

void keel_vscsi_enable_irqs(struct keel_vscsi *vs)
{
    uint16_t i;

    if (vs->vdev.irq_mode == KEEL_VIRTIO_IRQ_POLL)
        return;
    (void)keel_vq_enable_irq(&vs->ctrl_vq);
    (void)keel_vq_enable_irq(&vs->event_vq);
    for (i = 0; i < vs->nrq; i++)
        (void)keel_vq_enable_irq(&vs->rq[i].vq);
}

static void attach_undo(struct keel_vscsi *vs)
{
    (void)keel_virtio_reset(&vs->vdev);
    keel_virtio_irq_teardown(&vs->vdev);
    free_all(vs);
}

static void reset_state(struct keel_vscsi *vs, const struct keel_vscsi_opts *opts)
{
    static const struct keel_vscsi_opts defaults = {0};

    keel_memset(vs->rq, 0, sizeof(vs->rq));
    keel_memset(&vs->ctrl_vq, 0, sizeof(vs->ctrl_vq));
    keel_memset(&vs->event_vq, 0, sizeof(vs->event_vq));
    keel_memset(&vs->ctrl_mem, 0, sizeof(vs->ctrl_mem));
    keel_memset(&vs->event_mem, 0, sizeof(vs->event_mem));
    keel_memset(&vs->disc_mem, 0, sizeof(vs->disc_mem));
    keel_memset(vs->ctrl_state, 0, sizeof(vs->ctrl_state));
    keel_memset(&vs->ctrl_lock, 0, sizeof(vs->ctrl_lock));
    keel_memset(&vs->stats, 0, sizeof(vs->stats));
    keel_memset(vs->rescan_map, 0, sizeof(vs->rescan_map));
    vs->opts = opts != NULL ? *opts : defaults;
    vs->dead = false;
    vs->in_recovery = false;
    vs->in_service = false;
    vs->work = 0;
    if (vs->opts.lun_table != NULL && vs->opts.lun_table_len != 0u) {
        vs->luns = vs->opts.lun_table;
        vs->nluns = vs->opts.lun_table_len;
    } else {
        vs->luns = vs->lun_store;
        vs->nluns = KEEL_CONFIG_VSCSI_MAX_LUNS;
    }
    keel_memset(vs->luns, 0, (size_t)vs->nluns * sizeof(vs->luns[0]));
}

int keel_vscsi_attach(struct keel_vscsi *vs, const struct keel_vscsi_opts *opts)
{
    int rc;

    if (vs == NULL || vs->vdev.tops == NULL || vs->vdev.hal == NULL)
        return KEEL_EINVAL;
    if (keel_hal_check(vs->vdev.hal) != KEEL_OK)
        return KEEL_EHAL;
    if (vs->vdev.device_id != KEEL_VIRTIO_ID_SCSI)
        return KEEL_ENODEV;
    reset_state(vs, opts);
    vs->wanted = VSCSI_FEATURES & ~vs->opts.refuse;
    rc = keel_virtio_begin(&vs->vdev, vs->wanted, vs->opts.no_packed);
    if (rc != KEEL_OK)
        return rc;
    vs->negotiated = vs->vdev.features;
    rc = read_config(vs, &vs->cfg);
    if (rc != KEEL_OK) {
        attach_undo(vs);
        return rc;
    }
    derive_layout(vs);
    vs->nrq = queue_count(vs);
    rc = attach_queues(vs);
    if (rc == KEEL_OK)
        rc = keel_virtio_driver_ok(&vs->vdev);
    if (rc == KEEL_OK)
        rc = keel_vscsi_events_post(vs);
    if (rc != KEEL_OK) {
        attach_undo(vs);
        return rc;
    }
    keel_vscsi_enable_irqs(vs);
    vs->attached = true;
    KEEL_LOGI(vs->vdev.hal,
              "virtio-scsi: %s, %u request queue(s), %s ring, targets 0..%u, seg_max %u, "
              "max_sectors %u",
              keel_virtio_transport_name(&vs->vdev), (unsigned)vs->nrq,
              keel_virtio_has(&vs->vdev, KEEL_VIRTIO_F_RING_PACKED) ? "packed" : "split",
              (unsigned)vs->cfg.max_target, (unsigned)vs->cfg.seg_max,
              (unsigned)vs->cfg.max_sectors);
    if (!vs->opts.no_scan) {
        rc = keel_vscsi_scan_all(vs);
        if (rc != KEEL_OK)
            KEEL_LOGW(vs->vdev.hal, "virtio-scsi: scan stopped (%d)", rc);
    }
    return KEEL_OK;
}

/*
 * After a reset the device may state other limits (seg_max, max_sectors, cmd_per_lun, max_target,
 * max_lun): from now on the current ones hold, for every LUN too. What was built for the old
 * configuration stays: the request queues (num_queues) and the slot layout (checked by the caller).
 * Requests resent after the reset are split again by the new limits.
 */
static int adopt_limits(struct keel_vscsi *vs, struct keel_vscsi_config *c)
{
    uint16_t i;
    int rc;

    c->num_queues = vs->cfg.num_queues;
    vs->cfg = *c;
    rc = derive_limits(vs);
    if (rc != KEEL_OK)
        return rc;
    for (i = 0; i < vs->nluns; i++)
        keel_vscsi_lun_limits(vs, &vs->luns[i]);
    return KEEL_OK;
}

/* After a device reset: the same features, the sizes again, fresh rings, DRIVER_OK, events. */
int keel_vscsi_reinit(struct keel_vscsi *vs)
{
    struct keel_virtio_dev *d = &vs->vdev;
    struct keel_vscsi_config c;
    uint16_t i;
    int rc;

    rc = keel_virtio_begin(d, vs->wanted, vs->opts.no_packed);
    if (rc != KEEL_OK)
        return rc;
    if (d->features != vs->negotiated)
        return KEEL_EPROTO; /* the rings and limits in use were built for other features */
    rc = read_config(vs, &c);
    if (rc != KEEL_OK)
        return rc;
    if (c.sense_size != vs->cfg.sense_size || c.cdb_size != vs->cfg.cdb_size)
        return KEEL_EPROTO; /* the slots are laid out for the old sizes */
    rc = adopt_limits(vs, &c);
    if (rc != KEEL_OK)
        return rc;
    if ((d->irq_mode == KEEL_VIRTIO_IRQ_MSIX_PER_VQ ||
         d->irq_mode == KEEL_VIRTIO_IRQ_MSIX_SHARED) &&
        d->tops->set_config_vector(d, 0) != 0u)
        return KEEL_ENOSPC;
    rc = keel_vq_restart(&vs->ctrl_vq);
    if (rc == KEEL_OK)
        rc = keel_vq_restart(&vs->event_vq);
    for (i = 0; rc == KEEL_OK && i < vs->nrq; i++)
        rc = keel_vq_restart(&vs->rq[i].vq);
    if (rc == KEEL_OK)
        rc = keel_virtio_driver_ok(d);
    if (rc == KEEL_OK)
        rc = keel_vscsi_events_post(vs);
    if (rc != KEEL_OK)
        return rc;
    keel_vscsi_enable_irqs(vs);
    return KEEL_OK;
}

void keel_vscsi_detach(struct keel_vscsi *vs)
{
    uint16_t i;

    if (vs == NULL || !vs->attached)
        return;
    vs->in_recovery = true;
    /* Only after the reset can the device no longer write the buffers being given back. */
    if (keel_virtio_reset(&vs->vdev) != KEEL_OK)
        keel_vscsi_stop_dma(vs);
    keel_virtio_irq_teardown(&vs->vdev);
    keel_vscsi_cancel_all(vs, R_CANCEL);
    vs->in_recovery = false;
    vs->dead = true;
    for (i = 0; i < vs->nrq; i++)
        (void)keel_vscsi_drain_finished(&vs->rq[i]);
    for (i = 0; i < vs->nluns; i++) {
        struct keel_vscsi_lun *e = &vs->luns[i];
        if (e->has_blk)
            keel_blkdev_mark_gone(&e->blk);
        if (e->registered && vs->opts.registry != NULL)
            (void)keel_registry_remove(vs->opts.registry, &e->blk);
        e->registered = false;
    }
    free_all(vs);
    vs->attached = false;
}

/* ---- adapter work -------------------------------------------------------------------------------
 */

void keel_vscsi_mark_rescan(struct keel_vscsi *vs, uint8_t target)
{
    if (vs->scanning == (uint16_t)(target + 1u))
        return; /* 3F/0E met while scanning that very target: the scan covers it */
    vs->rescan_map[target >> 3] = (uint8_t)(vs->rescan_map[target >> 3] | (1u << (target & 7u)));
    keel_vscsi_set_work(vs, W_RESCAN_SOME);
}

static void run_rescans(struct keel_vscsi *vs)
{
    unsigned t;

    if (vs->work & W_RESCAN_ALL) {
        vs->work &= ~(W_RESCAN_ALL | W_RESCAN_SOME);
        keel_memset(vs->rescan_map, 0, sizeof(vs->rescan_map));
        (void)keel_vscsi_scan_all(vs);
        return;
    }
    if (!(vs->work & W_RESCAN_SOME))
        return;
    vs->work &= ~W_RESCAN_SOME;
    for (t = 0; t <= vs->cfg.max_target && !vs->dead; t++) {
        uint8_t bit = (uint8_t)(1u << (t & 7u));
        if (vs->rescan_map[t >> 3] & bit) {
            vs->rescan_map[t >> 3] = (uint8_t)(vs->rescan_map[t >> 3] & ~bit);
            (void)keel_vscsi_scan_one(vs, (uint8_t)t);
        }
    }
}

static void run_revalidations(struct keel_vscsi *vs)
{
    uint16_t i;

    if (!(vs->work & W_REVALIDATE))
        return;
    vs->work &= ~W_REVALIDATE;
    for (i = 0; i < vs->nluns && !vs->dead; i++) {
        struct keel_vscsi_lun *e = &vs->luns[i];
        if ((e->work & LW_REVALIDATE) && e->state != KEEL_VSCSI_LUN_FREE &&
            e->state != KEEL_VSCSI_LUN_GONE) {
            e->work &= (uint16_t)~LW_REVALIDATE;
            (void)keel_vscsi_revalidate(vs, e);
        }
    }
}

int keel_vscsi_service(struct keel_vscsi *vs)
{
    struct keel_vscsi_rq *q0;
    uint32_t ev;

    if (vs == NULL || !vs->attached)
        return KEEL_EINVAL;
    if (vs->dead)
        return KEEL_ENODEV;
    if (vs->in_service || vs->in_recovery)
        return KEEL_OK;
    vs->in_service = true;
    q0 = &vs->rq[0];
    keel_vscsi_q_enter(q0);
    ev = keel_virtio_check(&vs->vdev, false);
    /* NEEDS_RESET, or a control / event queue that broke the protocol: only a reset helps. */
    if ((ev & KEEL_VIRTIO_EV_NEEDS_RESET) || vs->ctrl_vq.broken != KEEL_VQ_OK ||
        vs->event_vq.broken != KEEL_VQ_OK)
        (void)keel_vscsi_device_recover(vs, R_NEEDS_RESET, NULL);
    if (!vs->dead)
        keel_vscsi_events_service(vs);
    if (!vs->dead)
        run_rescans(vs);
    if (!vs->dead)
        run_revalidations(vs);
    (void)keel_vscsi_q_leave(q0, true);
    vs->in_service = false;
    return vs->dead ? KEEL_ENODEV : KEEL_OK;
}

static void drain_all(struct keel_vscsi *vs)
{
    uint16_t i;

    for (i = 0; i < vs->nrq; i++)
        keel_vscsi_drain_idle(&vs->rq[i]);
}

int keel_vscsi_recover(struct keel_vscsi *vs)
{
    int rc;

    if (vs == NULL || !vs->attached)
        return KEEL_EINVAL;
    if (vs->dead)
        return KEEL_ENODEV;
    rc = keel_vscsi_device_recover(vs, R_TIMEOUT, NULL);
    drain_all(vs);
    return rc;
}

int keel_vscsi_scan(struct keel_vscsi *vs)
{
    struct keel_vscsi_rq *q0;
    int rc;

    if (vs == NULL || !vs->attached)
        return KEEL_EINVAL;
    if (vs->dead)
        return KEEL_ENODEV;
    q0 = &vs->rq[0];
    keel_vscsi_q_enter(q0);
    rc = keel_vscsi_scan_all(vs);
    (void)keel_vscsi_q_leave(q0, true);
    return rc;
}

int keel_vscsi_scan_target(struct keel_vscsi *vs, uint8_t target)
{
    struct keel_vscsi_rq *q0;
    int rc;

    if (vs == NULL || !vs->attached)
        return KEEL_EINVAL;
    if (vs->dead)
        return KEEL_ENODEV;
    if (target > vs->cfg.max_target)
        return KEEL_ERANGE;
    q0 = &vs->rq[0];
    keel_vscsi_q_enter(q0);
    rc = keel_vscsi_scan_one(vs, target);
    (void)keel_vscsi_q_leave(q0, true);
    return rc;
}

const struct keel_vq_stats *keel_vscsi_vq_stats(const struct keel_vscsi *vs, unsigned queue)
{
    if (vs == NULL || queue >= vs->nrq)
        return NULL;
    return &vs->rq[queue].vq.stats;
}
