/* SPDX-License-Identifier: MIT */
/*
 * soak_vblk.c - the virtio-blk driver against the virtio device model, for the soak: every
 * transport (PCI modern, transitional through its legacy interface, legacy; MMIO v2, v1), split and
 * packed rings, with or without event index, indirect descriptors and RING_RESET. Faults: every
 * one of enum vmodel_fault the driver recovers from or fails a request cleanly on (used-ring lies,
 * rewritten descriptors, NEEDS_RESET mid-I/O, stalled queues, ignored queue resets, bad packed
 * flags, lost interrupts, config generation churn, and the blk backend's status faults). Left out:
 * a device that ignores every reset and a refused FEATURES_OK, which end the device for good; and
 * USED_ID_NOT_HEAD / USED_ID_REUSED: with several chains in flight the model may pick an id the
 * driver has made available but the model has not consumed yet, so the driver rightly completes
 * that request, and the model later processes the chain it never took back and DMAs into a buffer
 * that is no longer mapped: a violation of the model's own making (both faults are covered by
 * tests/virtio/test_vblk_faults_matrix.c with one request in flight).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/error.h>
#include <keel/virtio.h>
#include <keel/virtio_blk.h>

#include "soak.h"
#include "virtio_model.h"

struct vb {
    struct vmodel_cfg mc;
    struct vmodel_blk_cfg bc;
    struct vmodel *m;
    struct vmodel_blk *b;
    struct keel_vblk *vb;
    bool packed;
};

static struct vb *vb_of(struct soak_target *t)
{
    return t->priv;
}

static void vb_media_read(struct soak_target *t, uint64_t off, void *out, size_t len)
{
    size_t mlen = 0;
    uint8_t *m = vmodel_blk_media(vb_of(t)->b, &mlen);

    if (m == NULL || off > mlen || len > mlen - off) {
        memset(out, 0, len);
        return;
    }
    memcpy(out, m + off, len);
}

static void vb_service(struct soak_target *t)
{
    (void)keel_vblk_service(vb_of(t)->vb);
}

static bool vb_alive(struct soak_target *t)
{
    return !vb_of(t)->vb->dead;
}

static void vb_recoveries(struct soak_target *t, uint64_t out[SOAK_MAX_REC])
{
    const struct keel_vblk_stats *st = &vb_of(t)->vb->stats;

    out[0] = st->queue_resets;
    out[1] = st->device_resets;
    out[2] = st->resubmits;
    out[3] = st->timeouts;
    out[4] = st->protocol_errors;
    out[5] = st->status_unwritten;
}

static void vb_quiesce(struct soak_target *t)
{
    vmodel_set_mode(vb_of(t)->m, VMODEL_IMMEDIATE, 0);
    (void)vmodel_process(vb_of(t)->m, VMODEL_ALL_QUEUES);
}

static void vb_dump(struct soak_target *t)
{
    struct vb *v = vb_of(t);
    unsigned q;

    fprintf(stderr,
            "  model: status 0x%02x broken %d; driver: queue resets %llu, device resets %llu, "
            "timeouts %llu\n",
            (unsigned)vmodel_status(v->m), (int)vmodel_broken(v->m),
            (unsigned long long)v->vb->stats.queue_resets,
            (unsigned long long)v->vb->stats.device_resets,
            (unsigned long long)v->vb->stats.timeouts);
    for (q = 0; q < v->vb->nq; q++)
        fprintf(stderr,
                "  queue %u: enabled %d avail-pending %u inflight %u notify-owed %d; driver "
                "in-flight %u broken %u\n",
                q, (int)vmodel_queue_enabled(v->m, q), vmodel_avail_pending(v->m, q),
                vmodel_inflight(v->m, q), (int)vmodel_notify_owed(v->m, q),
                (unsigned)v->vb->q[q].vq.in_flight, (unsigned)v->vb->q[q].vq.broken);
}

static bool vb_teardown(struct soak_target *t)
{
    struct vb *v = vb_of(t);

    if (v->vb->attached)
        keel_vblk_detach(v->vb);
    vmodel_blk_pair_destroy(v->m, v->b);
    free(v->vb);
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

static uint64_t p_gen(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return 1u + soak_below(r, 3);
}

static uint64_t p_queue(struct soak_target *t, struct soak_rng *r)
{
    unsigned nq = vb_of(t)->vb->nq;

    return soak_chance(r, 1, 3) ? 0 : 1ull << soak_below(r, nq);
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

static uint64_t p_jump(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return soak_chance(r, 1, 2) ? 0 : 1u + soak_below(r, 5);
}

static uint64_t p_sector(struct soak_target *t, struct soak_rng *r)
{
    if (soak_chance(r, 1, 4))
        return UINT64_MAX;
    /* a sector of the hot spot (in 512-byte sectors) */
    return soak_below(r, SOAK_HOT_BLOCKS * (vb_of(t)->bc.blk_size / 512u));
}

static uint64_t p_garbage(struct soak_target *t, struct soak_rng *r)
{
    (void)t;
    return 3u + soak_below(r, 253);
}

static void vb_faults(struct soak_target *t, const struct vb *v, bool legacy)
{
    soak_add_fault(t, VMODEL_FAULT_USED_ID_OUT_OF_RANGE, "used-id-out-of-range", 1, p_small);
    soak_add_fault(t, VMODEL_FAULT_USED_LEN_TOO_LONG, "used-len-too-long", 1, p_len);
    soak_add_fault(t, VMODEL_FAULT_DESC_REWRITE, "desc-rewrite", 2, p_none);
    soak_add_fault(t, VMODEL_FAULT_CONFIG_GEN_MIDREAD, "config-gen-midread", 3, p_gen);
    soak_add_fault(t, VMODEL_FAULT_NEEDS_RESET_MID_IO, "needs-reset-mid-io", 2, p_none);
    soak_add_fault(t, VMODEL_FAULT_QUEUE_STALL, "queue-stall", 2, p_queue);
    if (!legacy && (v->mc.features & VMODEL_F_RING_RESET))
        soak_add_fault2(t, VMODEL_FAULT_QUEUE_STALL, VMODEL_FAULT_QUEUE_RESET_STUCK,
                        "queue-stall+queue-reset-stuck", p_queue);
    if (v->packed)
        soak_add_fault(t, VMODEL_FAULT_PACKED_BAD_USED_FLAGS, "packed-bad-used-flags", 1, p_flags);
    else
        soak_add_fault(t, VMODEL_FAULT_USED_IDX_JUMP, "used-idx-jump", 1, p_jump);
    soak_add_fault(t, VMODEL_FAULT_IRQ_LOST, "irq-lost", 4, p_none);
    soak_add_fault(t, VMODEL_FAULT_BLK_STATUS_UNWRITTEN, "blk-status-unwritten", 2, p_none);
    soak_add_fault(t, VMODEL_FAULT_BLK_IOERR, "blk-ioerr", 3, p_sector);
    soak_add_fault(t, VMODEL_FAULT_BLK_STATUS_GARBAGE, "blk-status-garbage", 2, p_garbage);
}

static int probe(struct vb *v, struct sim *s)
{
    struct keel_virtio_dev *d = &v->vb->vdev;

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

static const char *const tnames[5] = {"pci-modern", "pci-transitional", "pci-legacy", "mmio-v2",
                                      "mmio-v1"};

static void vb_draw(struct soak_target *t, struct vb *v, struct soak_rng *r,
                    struct keel_vblk_opts *o)
{
    static const uint16_t qsizes[6] = {0, 8, 16, 32, 64, 128};
    enum vmodel_transport tr = (enum vmodel_transport)soak_below(r, 5);
    bool legacy = tr == VMODEL_PCI_LEGACY || tr == VMODEL_PCI_TRANSITIONAL || tr == VMODEL_MMIO_V1;

    vmodel_cfg_default(&v->mc, tr);
    vmodel_blk_cfg_default(&v->bc);
    v->packed = !legacy && soak_chance(r, 1, 2);
    if (v->packed)
        v->mc.features |= VMODEL_F_RING_PACKED;
    if (soak_chance(r, 1, 4))
        v->mc.features &= ~VMODEL_F_EVENT_IDX;
    if (soak_chance(r, 1, 4))
        v->mc.features &= ~VMODEL_F_INDIRECT_DESC;
    if (soak_chance(r, 1, 4))
        v->mc.features &= ~VMODEL_F_RING_RESET;
    if (soak_chance(r, 1, 2)) {
        v->mc.mode = VMODEL_DEFERRED;
        v->mc.latency_us = 1u + soak_below(r, 30);
    }
    v->mc.order = soak_chance(r, 1, 3) ? VMODEL_ORDER_REVERSE : VMODEL_ORDER_FIFO;
    if (tr == VMODEL_PCI_LEGACY || tr == VMODEL_PCI_TRANSITIONAL)
        v->mc.queue_size_max = (uint16_t)(16u << soak_below(r, 5)); /* fixed by the device */
    v->bc.capacity = (8u << 20) / 512u;
    v->bc.blk_size = soak_chance(r, 1, 2) ? 4096u : 512u;
    v->bc.num_queues = (uint16_t)(1u + soak_below(r, 4));
    v->bc.writeback = soak_chance(r, 1, 2);
    o->irq = soak_chance(r, 1, 2) ? KEEL_VIRTIO_IRQ_AUTO : KEEL_VIRTIO_IRQ_POLL;
    o->queue_size = qsizes[soak_below(r, 6)];
    if (v->packed && soak_chance(r, 1, 4))
        o->queue_size = (uint16_t)(5u + soak_below(r, 120)); /* any size on packed rings */
    soak_cfg(t, "%s %s, blk %u, %u queues x %u, irq %s, map %d, %s%s%s%s%s", tnames[tr],
             v->packed ? "packed" : "split", (unsigned)v->bc.blk_size, (unsigned)v->bc.num_queues,
             (unsigned)o->queue_size, o->irq == KEEL_VIRTIO_IRQ_AUTO ? "auto" : "poll",
             (int)t->s->map_mode, v->mc.mode == VMODEL_DEFERRED ? "deferred" : "immediate",
             v->mc.order == VMODEL_ORDER_REVERSE ? " reverse" : "",
             (v->mc.features & VMODEL_F_EVENT_IDX) ? "" : " no-event-idx",
             (v->mc.features & VMODEL_F_INDIRECT_DESC) ? "" : " no-indirect",
             (v->mc.features & VMODEL_F_RING_RESET) ? "" : " no-ring-reset");
}

bool soak_vblk_setup(struct soak_target *t, struct soak_rng *r)
{
    struct vb *v = calloc(1, sizeof(*v));
    struct keel_vblk_opts o;
    bool legacy;
    int rc;

    if (v == NULL)
        return false;
    t->priv = v;
    t->s = sim_create_sized(24u << 20, 64u << 20);
    if (t->s == NULL)
        return false;
    t->s->map_mode = soak_map_mode(r);
    memset(&o, 0, sizeof(o));
    vb_draw(t, v, r, &o);
    legacy = v->mc.transport == VMODEL_PCI_LEGACY || v->mc.transport == VMODEL_PCI_TRANSITIONAL ||
             v->mc.transport == VMODEL_MMIO_V1;
    v->vb = calloc(1, sizeof(*v->vb));
    v->m = vmodel_blk_pair_create(t->s, &v->mc, &v->bc, &v->b);
    if (v->vb == NULL || v->m == NULL)
        return false;
    rc = probe(v, t->s);
    if (rc == KEEL_OK)
        rc = keel_vblk_attach(v->vb, &o);
    if (rc != KEEL_OK) {
        soak_cfg(t, ": attach %s", keel_strerror(rc));
        vmodel_blk_pair_destroy(v->m, v->b);
        free(v->vb);
        free(v);
        return false;
    }
    t->bd = &v->vb->blk;
    t->media_read = vb_media_read;
    t->service = vb_service;
    t->alive = vb_alive;
    t->recoveries = vb_recoveries;
    t->quiesce = vb_quiesce;
    t->teardown = vb_teardown;
    t->dump = vb_dump;
    t->rec_names[0] = "queue-resets";
    t->rec_names[1] = "device-resets";
    t->rec_names[2] = "resubmits";
    t->rec_names[3] = "timeouts";
    t->rec_names[4] = "protocol-errors";
    t->rec_names[5] = "status-unwritten";
    vb_faults(t, v, legacy);
    return true;
}
