/* SPDX-License-Identifier: MIT */
/*
 * keel-bench-virtio: 4 KiB reads through Keel's virtio-blk (split and packed rings) and
 * virtio-scsi drivers on PCI modern, polled, against the instant virtio device (or the full model
 * with --model), and the matching hand-written floors (--floor). QD32 submits each batch inside
 * keel_blk_plug / keel_blk_unplug (one notification per batch at most). See bench.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/virtio.h>
#include <keel/virtio_blk.h>
#include <keel/virtio_scsi.h>
#include <keel/virtqueue.h>
#include <scsi_model.h>
#include <sim/sim.h>
#include <virtio_model.h>
#include <vscsi_dev.h>

#include "bench.h"
#include "floor_virtio.h"
#include "instant_virtio.h"

#define ARENA_BYTES  (16u << 20)
#define DISK_SECTORS (1u << 15) /* 16 MiB of 512-byte sectors */

static const char usage[] = "blk-split-qd1 blk-split-qd32 blk-packed-qd1 blk-packed-qd32 "
                            "scsi-qd1 scsi-qd32";

struct workload {
    const char *name;
    bool scsi, packed;
    unsigned qd;
};

static const struct workload workloads[] = {
    {"blk-split-qd1", false, false, 1}, {"blk-split-qd32", false, false, 32},
    {"blk-packed-qd1", false, true, 1}, {"blk-packed-qd32", false, true, 32},
    {"scsi-qd1", true, false, 1},       {"scsi-qd32", true, false, 32},
};

struct vbench {
    const struct workload *w;
    struct sim *s;
    struct vmodel *m;
    struct vmodel_blk *mb; /* blk */
    struct keel_vblk *vb;  /* blk */
    struct scsi_model *sm; /* scsi */
    struct vscsi_dev *sd;  /* scsi */
    struct keel_vscsi *vs; /* scsi */
    struct keel_virtio_dev *vdev;
    struct keel_vq *vq; /* the request queue under test */
    struct keel_blkdev *disk;
    struct bench_hal bh;
    struct iv_dev iv;
    struct bench_io io;
    struct floor_blk fblk;
    struct floor_scsi fscsi;
    struct keel_dma_mem floor_mem;
    uint8_t *floor_bufs;
};

static void setup_blk(struct vbench *v)
{
    struct vmodel_cfg mc;
    struct vmodel_blk_cfg bc;
    struct keel_vblk_opts opts;
    int rc;

    vmodel_cfg_default(&mc, VMODEL_PCI_MODERN);
    if (v->w->packed)
        mc.features |= VMODEL_F_RING_PACKED;
    vmodel_blk_cfg_default(&bc);
    bc.capacity = DISK_SECTORS;
    v->m = vmodel_blk_pair_create(v->s, &mc, &bc, &v->mb);
    v->vb = calloc(1, sizeof(*v->vb));
    if (v->m == NULL || v->vb == NULL)
        bench_die("virtio-blk model set-up failed");
    rc = keel_virtio_pci_probe(&v->vb->vdev, &v->s->hal, mc.pci_addr, 0, false);
    if (rc != KEEL_OK)
        bench_die("keel_virtio_pci_probe: %d", rc);
    memset(&opts, 0, sizeof(opts));
    opts.irq = KEEL_VIRTIO_IRQ_POLL;
    opts.no_packed = !v->w->packed;
    rc = keel_vblk_attach(v->vb, &opts);
    if (rc != KEEL_OK)
        bench_die("keel_vblk_attach: %d", rc);
    v->vdev = &v->vb->vdev;
    v->vq = &v->vb->q[0].vq;
    v->disk = &v->vb->blk;
}

static void setup_scsi(struct vbench *v)
{
    struct vmodel_cfg mc;
    struct vscsi_dev_cfg dc;
    struct scsi_model_lun_cfg lc;
    struct keel_vscsi_opts opts;
    struct keel_vscsi_lun_info info;
    int rc;

    v->sm = scsi_model_create(v->s);
    if (v->sm == NULL)
        bench_die("scsi model set-up failed");
    scsi_model_lun_cfg_disk(&lc, 512, DISK_SECTORS);
    scsi_model_add_lun(v->sm, 0, 0, &lc);
    scsi_model_clear_all_ua(v->sm);
    vmodel_cfg_default(&mc, VMODEL_PCI_MODERN);
    vscsi_dev_cfg_default(&dc);
    dc.max_target = 0; /* one target to scan: set-up stays quick */
    v->m = vscsi_dev_pair_create(v->s, &mc, &dc, v->sm, &v->sd);
    v->vs = calloc(1, sizeof(*v->vs));
    if (v->m == NULL || v->vs == NULL)
        bench_die("virtio-scsi model set-up failed");
    rc = keel_virtio_pci_probe(&v->vs->vdev, &v->s->hal, mc.pci_addr, 0, false);
    if (rc != KEEL_OK)
        bench_die("keel_virtio_pci_probe: %d", rc);
    memset(&opts, 0, sizeof(opts));
    opts.irq = KEEL_VIRTIO_IRQ_POLL;
    opts.no_packed = true;
    rc = keel_vscsi_attach(v->vs, &opts);
    if (rc != KEEL_OK)
        bench_die("keel_vscsi_attach: %d", rc);
    rc = keel_vscsi_lun_info(v->vs, 0, &info);
    if (rc != KEEL_OK || info.blk == NULL)
        bench_die("virtio-scsi: no disk at 0:0 (%d)", rc);
    v->vdev = &v->vs->vdev;
    v->vq = &v->vs->rq[0].vq;
    v->disk = info.blk;
}

static void teardown(struct vbench *v)
{
    if (v->vb != NULL) {
        keel_vblk_detach(v->vb);
        vmodel_blk_pair_destroy(v->m, v->mb);
        free(v->vb);
    }
    if (v->vs != NULL) {
        keel_vscsi_detach(v->vs);
        vscsi_dev_pair_destroy(v->m, v->sd);
        scsi_model_destroy(v->sm);
        free(v->vs);
    }
    if (v->s->violations != 0)
        fprintf(stderr, "bench: %u sim violation(s), last: %s\n", v->s->violations,
                v->s->last_violation);
    sim_destroy(v->s);
}

/* The floor's request slots in DMA memory and its data buffers (identity-mapped). */
static void floor_memory(struct vbench *v, size_t slot_bytes, uint64_t *data_bus)
{
    const struct keel_hal *hal = &v->s->hal;
    unsigned i;

    if (hal->ops->dma_alloc(hal->ctx, slot_bytes * v->w->qd, 64, &v->floor_mem) != KEEL_OK)
        bench_die("floor: dma_alloc failed");
    v->floor_bufs = aligned_alloc(4096, (size_t)v->w->qd * BENCH_BLOCK_BYTES);
    if (v->floor_bufs == NULL)
        bench_die("out of memory");
    for (i = 0; i < v->w->qd; i++)
        data_bus[i] = (uint64_t)(uintptr_t)(v->floor_bufs + (size_t)i * BENCH_BLOCK_BYTES);
}

static bench_fn setup_floor(struct vbench *v, void **ctx)
{
    keel_io_addr_t notify = v->vdev->t.pci.notify.base + v->vq->notify_off;

    if (!v->w->scsi) {
        struct floor_blk *f = &v->fblk;
        fv_adopt(&f->vq, v->vq, notify);
        f->qd = v->w->qd;
        floor_memory(v, 32u, f->data_bus);
        f->slot_cpu = v->floor_mem.cpu;
        f->slot_bus = v->floor_mem.bus;
        f->lba_mask = DISK_SECTORS - 1u;
        *ctx = f;
        return v->w->packed ? floor_vblk_packed : floor_vblk_split;
    } else {
        struct floor_scsi *f = &v->fscsi;
        fv_adopt(&f->vq, v->vq, notify);
        f->qd = v->w->qd;
        floor_memory(v, FLOOR_SCSI_SLOT, f->data_bus);
        f->slot_cpu = v->floor_mem.cpu;
        f->slot_bus = v->floor_mem.bus;
        f->req_len = KEEL_VIRTIO_SCSI_REQ_HDR_BYTES + v->vs->cfg.cdb_size;
        f->resp_len = KEEL_VIRTIO_SCSI_RESP_HDR_BYTES + v->vs->cfg.sense_size;
        if (f->req_len > FLOOR_SCSI_RESP_OFF || FLOOR_SCSI_RESP_OFF + f->resp_len > FLOOR_SCSI_SLOT)
            bench_die("floor: cdb_size/sense_size beyond the slot layout");
        f->lun_bytes = 1u; /* lun[0] = 1, target 0, LUN 0 */
        f->blocks = (uint16_t)(BENCH_BLOCK_BYTES / 512u);
        f->lba_mask = DISK_SECTORS - 1u;
        *ctx = f;
        return floor_vscsi_split;
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    struct vbench v;
    bench_fn fn;
    void *ctx;
    size_t i;

    bench_parse(&o, argc, argv, usage);
    memset(&v, 0, sizeof(v));
    for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
        if (strcmp(o.workload, workloads[i].name) == 0)
            v.w = &workloads[i];
    if (v.w == NULL)
        bench_die("unknown workload '%s' (%s)", o.workload, usage);
    if (o.floor && o.model)
        bench_die("--floor runs against the instant device only");
    v.s = sim_create(ARENA_BYTES);
    if (v.s == NULL)
        bench_die("sim_create failed");
    v.s->map_mode = SIM_MAP_CONTIGUOUS;
    if (v.w->scsi)
        setup_scsi(&v);
    else
        setup_blk(&v);
    if (v.vq->packed != v.w->packed)
        bench_die("ring format not negotiated as asked");
    if (v.vdev->transport != KEEL_VIRTIO_T_PCI_MODERN)
        bench_die("expected the PCI modern transport");

    if (o.floor) {
        fn = setup_floor(&v, &ctx);
    } else {
        v.io.dev = v.disk;
        v.io.qd = v.w->qd;
        v.io.count = BENCH_BLOCK_BYTES / v.disk->info.sector_size;
        v.io.lba_mask = v.disk->info.sector_count - 1u;
        if ((v.disk->info.sector_count & v.io.lba_mask) != 0)
            bench_die("disk size is not a power of two");
        v.io.batch = v.w->qd > 1u; /* one notification per batch */
        bench_io_init(&v.io);
        fn = bench_io_run;
        ctx = &v.io;
    }
    if (o.model) {
        bench_hal_install(&v.bh, v.s, v.vdev->t.pci.notify.base, v.vdev->t.pci.notify.size, NULL,
                          NULL);
    } else {
        v.iv.bh = &v.bh;
        iv_queue_adopt(&v.iv, v.vq, v.w->scsi ? IV_SCSI : IV_BLK);
        bench_hal_install(&v.bh, v.s, v.vdev->t.pci.notify.base, v.vdev->t.pci.notify.size,
                          iv_notify, &v.iv);
    }
    bench_report("virtio", &o, &v.bh, fn, ctx);
    bench_hal_remove(&v.bh);
    if (!o.floor)
        bench_io_free(&v.io);
    free(v.floor_bufs);
    teardown(&v);
    return 0;
}
