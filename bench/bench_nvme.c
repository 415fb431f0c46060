/* SPDX-License-Identifier: MIT */
/*
 * keel-bench-nvme: 4 KiB reads through Keel's NVMe driver on one I/O queue pair, polled, against
 * the instant NVMe queue pair (or the full controller model with --model), and the hand-written
 * floor (--floor). QD32 submits each batch inside keel_blk_plug / keel_blk_unplug (NVMe's batch
 * hooks: one SQ tail doorbell per batch). See bench.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/nvme.h>
#include <nvme_model.h>
#include <sim/sim.h>

#include "bench.h"
#include "floor_nvme.h"
#include "instant_nvme.h"

#define ARENA_BYTES (16u << 20)
#define BAR0        0xfe000000ull
#define NS_BLOCKS   (1u << 15) /* 16 MiB of 512-byte blocks */
#define QUEUE_DEPTH 64u

static const char usage[] = "qd1 qd32";

struct nbench {
    unsigned qd;
    struct sim *s;
    struct nvme_model *m;
    struct keel_nvme_ctrl *c;
    struct keel_blkdev *disk;
    struct keel_nvme_qpair *qp;
    struct bench_hal bh;
    struct inv_dev inv;
    struct bench_io io;
    struct floor_nvme fl;
    uint8_t *floor_bufs;
};

static void setup(struct nbench *b)
{
    struct nvme_model_cfg mc;
    struct keel_nvme_config cfg;
    struct keel_nvme_ns *ns;
    int rc;

    nvme_model_cfg_default(&mc);
    mc.bar0_addr = BAR0;
    mc.ns[0].nsze = NS_BLOCKS;
    mc.ns[0].flbas = 0; /* 512-byte blocks, no metadata */
    b->m = nvme_model_create(b->s, &mc);
    b->c = calloc(1, sizeof(*b->c));
    if (b->m == NULL || b->c == NULL)
        bench_die("nvme model set-up failed");
    memset(&cfg, 0, sizeof(cfg));
    cfg.pci = mc.pci;
    cfg.io_queues = 1;
    cfg.queue_depth = QUEUE_DEPTH;
    cfg.irq_mode = KEEL_NVME_IRQ_POLL;
    rc = keel_nvme_attach(b->c, &b->s->hal, &cfg);
    if (rc != KEEL_OK)
        bench_die("keel_nvme_attach: %d", rc);
    ns = keel_nvme_ns_find(b->c, 1);
    if (ns == NULL || (b->disk = keel_nvme_ns_blkdev(ns)) == NULL)
        bench_die("nvme: no namespace 1");
    b->qp = &b->c->io[0];
}

static void setup_floor(struct nbench *b)
{
    struct floor_nvme *f = &b->fl;
    unsigned i;

    f->hal = &b->s->hal;
    f->sq_db = b->qp->sq_db;
    f->cq_db = b->qp->cq_db;
    f->sq = b->qp->sq_mem.cpu;
    f->cq = b->qp->cq_mem.cpu;
    f->entries = b->qp->entries;
    f->sq_tail = b->qp->sq_tail;
    f->cq_head = b->qp->cq_head;
    f->phase = b->qp->phase;
    f->qd = b->qd;
    f->nsid = 1;
    f->nlb0 = (uint16_t)(BENCH_BLOCK_BYTES / b->disk->info.sector_size - 1u);
    f->lba_mask = b->disk->info.sector_count - 1u;
    b->floor_bufs = aligned_alloc(4096, (size_t)b->qd * BENCH_BLOCK_BYTES);
    if (b->floor_bufs == NULL)
        bench_die("out of memory");
    for (i = 0; i < b->qd; i++)
        f->data_bus[i] = (uint64_t)(uintptr_t)(b->floor_bufs + (size_t)i * BENCH_BLOCK_BYTES);
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    struct nbench b;
    bench_fn fn;
    void *ctx;

    bench_parse(&o, argc, argv, usage);
    memset(&b, 0, sizeof(b));
    if (strcmp(o.workload, "qd1") == 0)
        b.qd = 1;
    else if (strcmp(o.workload, "qd32") == 0)
        b.qd = 32;
    else
        bench_die("unknown workload '%s' (%s)", o.workload, usage);
    if (o.floor && o.model)
        bench_die("--floor runs against the instant device only");
    b.s = sim_create(ARENA_BYTES);
    if (b.s == NULL)
        bench_die("sim_create failed");
    b.s->map_mode = SIM_MAP_CONTIGUOUS;
    setup(&b);
    if ((b.disk->info.sector_count & (b.disk->info.sector_count - 1u)) != 0)
        bench_die("namespace size is not a power of two");

    if (o.floor) {
        setup_floor(&b);
        fn = floor_nvme;
        ctx = &b.fl;
    } else {
        b.io.dev = b.disk;
        b.io.qd = b.qd;
        b.io.count = BENCH_BLOCK_BYTES / b.disk->info.sector_size;
        b.io.lba_mask = b.disk->info.sector_count - 1u;
        b.io.batch = b.qd > 1; /* one SQ tail doorbell per batch */
        bench_io_init(&b.io);
        fn = bench_io_run;
        ctx = &b.io;
    }
    /* The window holds this queue pair's two doorbells: SQ tail, then CQ head one stride on. */
    if (o.model) {
        bench_hal_install(&b.bh, b.s, b.qp->sq_db, 2u * (uint64_t)b.c->db_stride, NULL, NULL);
    } else {
        inv_adopt(&b.inv, b.qp, b.c->db_stride);
        bench_hal_install(&b.bh, b.s, b.qp->sq_db, 2u * (uint64_t)b.c->db_stride, inv_doorbell,
                          &b.inv);
    }
    bench_report("nvme", &o, &b.bh, fn, ctx);
    bench_hal_remove(&b.bh);
    if (!o.floor)
        bench_io_free(&b.io);
    free(b.floor_bufs);
    /*
     * No keel_nvme_detach: the model did not see the instant queue pair's doorbells, so its view
     * of the queue positions is stale and an orderly shutdown would only time out. Nothing here
     * outlives the process; the sim and model are freed as they are.
     */
    if (o.model)
        (void)keel_nvme_detach(b.c);
    nvme_model_destroy(b.m);
    free(b.c);
    if (b.s->violations != 0)
        fprintf(stderr, "bench: %u sim violation(s), last: %s\n", b.s->violations,
                b.s->last_violation);
    sim_destroy(b.s);
    return 0;
}
