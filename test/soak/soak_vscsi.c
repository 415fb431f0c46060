/* SPDX-License-Identifier: MIT */
/*
 * soak_vscsi.c - the virtio-scsi driver against the virtio-scsi device backend and the SCSI target
 * model, for the soak. The disk under test is a 512-byte LUN with UNMAP or a 4096-byte LUN
 * without, next to a second LUN on the same target. Faults: the virtio core's (as for virtio-blk),
 * the virtio-scsi device's (unwritten or undefined responses, lying sense lengths and residuals,
 * task management that hangs or does nothing, malformed events) and the SCSI model's, restricted
 * to the I/O opcodes so discovery and revalidation keep working (transport responses, BUSY / TASK
 * SET FULL / RESERVATION CONFLICT / sense-less CHECK CONDITION, unit attentions including capacity
 * changed and "reported LUNs changed" which rescans, becoming ready, medium errors, held commands,
 * short and lying sense, short data-in, failing TMFs, dropped events). Capacity-change events are
 * also posted now and then. USED_ID_NOT_HEAD and USED_ID_REUSED are left out for the reason given
 * in soak_vblk.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/error.h>
#include <keel/scsi.h>
#include <keel/virtio.h>
#include <keel/virtio_scsi.h>

#include "scsi_model.h"
#include "soak.h"
#include "virtio_model.h"
#include "vscsi_dev.h"

struct vs {
    struct vmodel_cfg mc;
    struct vscsi_dev_cfg dc;
    struct scsi_model *sm;
    struct vscsi_dev *d;
    struct vmodel *m;
    struct keel_vscsi *vs;
    uint8_t target;
    uint16_t lun;
    uint64_t nblocks;
    bool packed;
    struct soak_rng rng; /* for the occasional capacity event */
};

static struct vs *vs_of(struct soak_target *t)
{
    return t->priv;
}

static void vs_media_read(struct soak_target *t, uint64_t off, void *out, size_t len)
{
    struct vs *v = vs_of(t);

    if (scsi_model_media_read(v->sm, v->target, v->lun, off, out, len) != 0)
        memset(out, 0, len);
}

static void vs_service(struct soak_target *t)
{
    struct vs *v = vs_of(t);

    if (soak_chance(&v->rng, 1, 200)) /* PARAM_CHANGE + UNIT ATTENTION 2A/09, same size */
        scsi_model_set_capacity(v->sm, v->target, v->lun, v->nblocks);
    (void)keel_vscsi_service(v->vs);
}

static bool vs_alive(struct soak_target *t)
{
    struct vs *v = vs_of(t);
    struct keel_vscsi_lun *l = keel_vscsi_find(v->vs, v->target, v->lun);

    return !v->vs->dead && l != NULL && l->state == KEEL_VSCSI_LUN_READY && !t->bd->gone &&
           &l->blk == t->bd;
}

static void vs_recoveries(struct soak_target *t, uint64_t out[SOAK_MAX_REC])
{
    const struct keel_vscsi_stats *st = &vs_of(t)->vs->stats;

    out[0] = st->device_resets;
    out[1] = st->aborts;
    out[2] = st->lun_resets;
    out[3] = st->nexus_resets;
    out[4] = st->timeouts;
    out[5] = st->retries;
    out[6] = st->bad_responses;
    out[7] = st->rescans;
}

static void vs_quiesce(struct soak_target *t)
{
    vmodel_set_mode(vs_of(t)->m, VMODEL_IMMEDIATE, 0);
    (void)vmodel_process(vs_of(t)->m, VMODEL_ALL_QUEUES);
}

static bool vs_teardown(struct soak_target *t)
{
    struct vs *v = vs_of(t);

    if (v->vs->attached)
        keel_vscsi_detach(v->vs);
    vscsi_dev_pair_destroy(v->m, v->d);
    scsi_model_destroy(v->sm);
    free(v->vs);
    free(v);
    return true;
}

/* ---- fault parameters ---- */

static uint64_t p_none(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    (void)r;
    return 0;
}

static uint64_t p_small(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return soak_below(r, 50);
}

static uint64_t p_len(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return 1u + soak_below(r, 4096);
}

static uint64_t p_request_queue(struct soak_target *t, struct soak_rng *r)
{
    unsigned nq = vs_of(t)->vs->nrq;

    return soak_chance(r, 1, 4) ? 0 : 1ull << (KEEL_VIRTIO_SCSI_Q_REQUEST + soak_below(r, nq));
}

/* Only "both flags from the previous lap": with the other form (AVAIL != USED) the model's slot
 * looks available again to the model itself one lap later, and it would process a descriptor the
 * driver never made available (a violation of the model's own making). */
static uint64_t p_flags(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    (void)r;
    return 1;
}

static uint64_t p_garbage(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return 13u + soak_below(r, 243);
}

/* The LUN under test and one of the opcodes its I/O uses (its LBAs fit READ/WRITE(10)). */
static uint64_t io_filter(struct soak_target *t, struct soak_rng *r)
{
    static const uint8_t ops[4] = {KEEL_SCSI_OP_READ10, KEEL_SCSI_OP_WRITE10,
                                   KEEL_SCSI_OP_SYNCHRONIZE_CACHE10, KEEL_SCSI_OP_UNMAP};
    struct vs *v = vs_of(t);

    return SCSI_MODEL_FP_LUN(v->target, v->lun) | SCSI_MODEL_FP_OPC(ops[soak_below(r, 4)]);
}

static uint64_t p_response(struct soak_target *t, struct soak_rng *r)
{
    static const uint8_t resp[8] = {
        SCSI_MODEL_RESP_OVERRUN,
        SCSI_MODEL_RESP_ABORTED,
        SCSI_MODEL_RESP_RESET,
        SCSI_MODEL_RESP_BUSY,
        SCSI_MODEL_RESP_TRANSPORT_FAILURE,
        SCSI_MODEL_RESP_TARGET_FAILURE,
        SCSI_MODEL_RESP_NEXUS_FAILURE,
        SCSI_MODEL_RESP_FAILURE,
    };
    return io_filter(t, r) | SCSI_MODEL_FP_VALUE(resp[soak_below(r, 8)]);
}

static uint64_t p_status(struct soak_target *t, struct soak_rng *r)
{
    static const uint8_t st[4] = {0x08, 0x28, 0x18, 0x02};
    return io_filter(t, r) | SCSI_MODEL_FP_VALUE(st[soak_below(r, 4)]);
}

static uint64_t p_ua(struct soak_target *t, struct soak_rng *r)
{
    static const uint8_t asc[4][2] = {{0x29, 0x00}, {0x2a, 0x09}, {0x3f, 0x0e}, {0x2a, 0x01}};
    unsigned i = soak_below(r, 4);
    return io_filter(t, r) | SCSI_MODEL_FP_ASC(asc[i][0], asc[i][1]);
}

static uint64_t p_not_ready(struct soak_target *t, struct soak_rng *r)
{
    return io_filter(t, r) | SCSI_MODEL_FP_ASC(0x04, 0x01);
}

static uint64_t p_medium(struct soak_target *t, struct soak_rng *r)
{
    return io_filter(t, r) | SCSI_MODEL_FP_VALUE(soak_below(r, SOAK_HOT_BLOCKS));
}

static uint64_t p_io(struct soak_target *t, struct soak_rng *r)
{
    return io_filter(t, r);
}

static uint64_t p_io_value(struct soak_target *t, struct soak_rng *r)
{
    return io_filter(t, r) | SCSI_MODEL_FP_VALUE(soak_below(r, 4096));
}

static void vs_faults(struct soak_target *t, const struct vs *v)
{
    /* virtio core */
    soak_add_fault(t, VMODEL_FAULT_USED_ID_OUT_OF_RANGE, "used-id-out-of-range", 1, p_small);
    soak_add_fault(t, VMODEL_FAULT_USED_LEN_TOO_LONG, "used-len-too-long", 1, p_len);
    soak_add_fault(t, VMODEL_FAULT_DESC_REWRITE, "desc-rewrite", 2, p_none);
    soak_add_fault(t, VMODEL_FAULT_NEEDS_RESET_MID_IO, "needs-reset-mid-io", 1, p_none);
    soak_add_fault(t, VMODEL_FAULT_QUEUE_STALL, "queue-stall", 1, p_request_queue);
    if (v->packed)
        soak_add_fault(t, VMODEL_FAULT_PACKED_BAD_USED_FLAGS, "packed-bad-used-flags", 1, p_flags);
    else
        soak_add_fault(t, VMODEL_FAULT_USED_IDX_JUMP, "used-idx-jump", 1, p_none);
    soak_add_fault(t, VMODEL_FAULT_IRQ_LOST, "irq-lost", 4, p_none);
    /* virtio-scsi device */
    soak_add_fault(t, VSCSI_FAULT_RESP_UNWRITTEN, "resp-unwritten", 2, p_none);
    soak_add_fault(t, VSCSI_FAULT_RESP_GARBAGE, "resp-garbage", 2, p_garbage);
    soak_add_fault(t, VSCSI_FAULT_SENSE_LEN_LIE, "vscsi-sense-len-lie", 2, p_small);
    soak_add_fault(t, VSCSI_FAULT_RESIDUAL_LIE, "residual-lie", 2, p_len);
    soak_add_fault(t, VSCSI_FAULT_TMF_HANG, "tmf-hang", 1, p_none);
    soak_add_fault(t, VSCSI_FAULT_TMF_IGNORE, "tmf-ignore", 2, p_none);
    soak_add_fault(t, VSCSI_FAULT_EVENT_BAD_LUN, "event-bad-lun", 1, p_none);
    soak_add_fault(t, VSCSI_FAULT_EVENT_SHORT, "event-short", 1, p_small);
    /* SCSI target */
    soak_add_fault(t, SCSI_MODEL_F_RESPONSE, "scsi-response", 3, p_response);
    soak_add_fault(t, SCSI_MODEL_F_STATUS, "scsi-status", 3, p_status);
    soak_add_fault(t, SCSI_MODEL_F_UNIT_ATTENTION, "unit-attention", 2, p_ua);
    soak_add_fault(t, SCSI_MODEL_F_NOT_READY, "not-ready", 3, p_not_ready);
    soak_add_fault(t, SCSI_MODEL_F_MEDIUM_ERROR, "medium-error", 2, p_medium);
    soak_add_fault(t, SCSI_MODEL_F_HANG, "scsi-hang", 2, p_io);
    soak_add_fault(t, SCSI_MODEL_F_SENSE_SHORT, "sense-short", 2, p_io_value);
    soak_add_fault(t, SCSI_MODEL_F_SENSE_LEN_LIE, "sense-len-lie", 2, p_io_value);
    soak_add_fault(t, SCSI_MODEL_F_DATA_SHORT, "data-short", 2, p_io_value);
    soak_add_fault(t, SCSI_MODEL_F_TMF_FAIL, "tmf-fail", 3, p_none);
    soak_add_fault(t, SCSI_MODEL_F_EVENT_DROP, "event-drop", 1, p_none);
}

static int probe(struct vs *v, struct sim *s)
{
    struct keel_virtio_dev *d = &v->vs->vdev;

    switch (v->mc.transport) {
    case VMODEL_PCI_MODERN:
        return keel_virtio_pci_probe(d, &s->hal, v->mc.pci_addr, 0, false);
    case VMODEL_PCI_TRANSITIONAL:
    case VMODEL_PCI_LEGACY:
        return keel_virtio_pci_probe(d, &s->hal, v->mc.pci_addr, 0, true);
    default:
        return keel_virtio_mmio_probe(d, &s->hal, v->mc.mmio_base, VMODEL_MMIO_SIZE,
                                      v->mc.mmio_irq_line);
    }
}

static void topology(struct vs *v, struct soak_rng *r)
{
    struct scsi_model_lun_cfg c;

    scsi_model_lun_cfg_disk(&c, 512, 16384);
    c.provisioning = true;
    c.max_unmap_lba_count = 2048;
    c.max_unmap_desc_count = 4;
    c.max_xfer_blocks = 1024;
    c.dpofua = soak_chance(r, 1, 2);
    c.wce = soak_chance(r, 1, 2);
    (void)scsi_model_add_lun(v->sm, 0, 0, &c);
    scsi_model_lun_cfg_disk(&c, 4096, 2048);
    c.dpofua = soak_chance(r, 1, 2);
    c.desc_sense = soak_chance(r, 1, 2);
    (void)scsi_model_add_lun(v->sm, 0, 1, &c);
    scsi_model_clear_all_ua(v->sm);
    v->target = 0;
    v->lun = (uint16_t)soak_below(r, 2);
    v->nblocks = v->lun == 0 ? 16384u : 2048u;
}

static const char *const tnames[5] = {"pci-modern", "pci-transitional", "pci-legacy", "mmio-v2",
                                      "mmio-v1"};

bool soak_vscsi_setup(struct soak_target *t, struct soak_rng *r)
{
    static const uint16_t qsizes[5] = {0, 16, 32, 64, 128};
    struct vs *v = calloc(1, sizeof(*v));
    struct keel_vscsi_opts o;
    struct keel_vscsi_lun *l;
    enum vmodel_transport tr = (enum vmodel_transport)soak_below(r, 5);
    bool legacy = tr == VMODEL_PCI_LEGACY || tr == VMODEL_PCI_TRANSITIONAL || tr == VMODEL_MMIO_V1;
    int rc;

    if (v == NULL)
        return false;
    t->priv = v;
    v->rng.s = soak_rnd(r);
    t->s = sim_create_sized(32u << 20, 64u << 20);
    if (t->s == NULL)
        return false;
    t->s->map_mode = soak_map_mode(r);
    v->sm = scsi_model_create(t->s);
    if (v->sm == NULL)
        return false;
    topology(v, r);
    vmodel_cfg_default(&v->mc, tr);
    vscsi_dev_cfg_default(&v->dc);
    v->packed = !legacy && soak_chance(r, 1, 2);
    if (v->packed)
        v->mc.features |= VMODEL_F_RING_PACKED;
    if (soak_chance(r, 1, 2)) {
        v->mc.mode = VMODEL_DEFERRED;
        v->mc.latency_us = 1u + soak_below(r, 30);
    }
    v->mc.order = soak_chance(r, 1, 3) ? VMODEL_ORDER_REVERSE : VMODEL_ORDER_FIFO;
    if (tr == VMODEL_PCI_LEGACY || tr == VMODEL_PCI_TRANSITIONAL)
        v->mc.queue_size_max = (uint16_t)(32u << soak_below(r, 3));
    v->dc.num_queues = 1u + soak_below(r, 4);
    memset(&o, 0, sizeof(o));
    o.irq = soak_chance(r, 1, 2) ? KEEL_VIRTIO_IRQ_AUTO : KEEL_VIRTIO_IRQ_POLL;
    o.queue_size = qsizes[soak_below(r, 5)];
    soak_cfg(t, "%s %s, lun %u (%u B), %u queues x %u, irq %s, map %d, %s%s", tnames[tr],
             v->packed ? "packed" : "split", (unsigned)v->lun, v->lun == 0 ? 512u : 4096u,
             (unsigned)v->dc.num_queues, (unsigned)o.queue_size,
             o.irq == KEEL_VIRTIO_IRQ_AUTO ? "auto" : "poll", (int)t->s->map_mode,
             v->mc.mode == VMODEL_DEFERRED ? "deferred" : "immediate",
             v->mc.order == VMODEL_ORDER_REVERSE ? " reverse" : "");
    v->vs = calloc(1, sizeof(*v->vs));
    v->m = vscsi_dev_pair_create(t->s, &v->mc, &v->dc, v->sm, &v->d);
    if (v->vs == NULL || v->m == NULL)
        return false;
    rc = probe(v, t->s);
    if (rc == KEEL_OK)
        rc = keel_vscsi_attach(v->vs, &o);
    l = rc == KEEL_OK ? keel_vscsi_find(v->vs, v->target, v->lun) : NULL;
    if (rc != KEEL_OK || l == NULL || !l->has_blk) {
        soak_cfg(t, ": attach %s", rc != KEEL_OK ? keel_strerror(rc) : "without the LUN");
        if (v->vs->attached)
            keel_vscsi_detach(v->vs);
        vscsi_dev_pair_destroy(v->m, v->d);
        scsi_model_destroy(v->sm);
        free(v->vs);
        free(v);
        return false;
    }
    t->bd = &l->blk;
    t->media_read = vs_media_read;
    t->service = vs_service;
    t->alive = vs_alive;
    t->recoveries = vs_recoveries;
    t->quiesce = vs_quiesce;
    t->teardown = vs_teardown;
    t->rec_names[0] = "device-resets";
    t->rec_names[1] = "aborts";
    t->rec_names[2] = "lun-resets";
    t->rec_names[3] = "nexus-resets";
    t->rec_names[4] = "timeouts";
    t->rec_names[5] = "retries";
    t->rec_names[6] = "bad-responses";
    t->rec_names[7] = "rescans";
    vs_faults(t, v);
    return true;
}
