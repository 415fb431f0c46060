/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vst.h"

#define VST_ARENA (16u << 20)

static void on_event(struct keel_vscsi *vs, struct keel_vscsi_lun *lun, enum keel_vscsi_event ev,
                     void *arg)
{
    struct vst *v = arg;
    struct vst_event *e;

    (void)vs;
    if (v->nev >= VST_EV_LOG)
        return;
    e = &v->evlog[v->nev++];
    memset(e, 0, sizeof(*e));
    e->ev = ev;
    e->target = lun->target;
    e->lun = lun->lun;
    if (lun->has_blk)
        snprintf(e->name, sizeof(e->name), "%s", lun->blk.info.name);
}

void vst_init(struct vst *v, const struct vst_params *p, bool standard)
{
    memset(v, 0, sizeof(*v));
    v->p = *p;
    v->s = sim_create_sized(p->arena ? p->arena : VST_ARENA, p->bounce ? p->bounce : 8u << 20);
    assert_non_null(v->s);
    v->s->map_mode = p->map;
    v->sm = scsi_model_create(v->s);
    assert_non_null(v->sm);
    if (standard)
        scsi_model_add_standard_topology(v->sm);
    vmodel_cfg_default(&v->mc, p->transport);
    if (p->packed)
        v->mc.features |= VMODEL_F_RING_PACKED;
    vscsi_dev_cfg_default(&v->dc);
    v->opts.irq = p->irq ? KEEL_VIRTIO_IRQ_AUTO : KEEL_VIRTIO_IRQ_POLL;
    keel_registry_init(&v->reg, &v->s->hal);
    v->opts.registry = &v->reg;
    v->opts.event_cb = on_event;
    v->opts.event_arg = v;
    v->vs = calloc(1, sizeof(*v->vs));
    assert_non_null(v->vs);
}

void vst_small_topology(struct scsi_model *sm)
{
    struct scsi_model_lun_cfg c;

    scsi_model_lun_cfg_disk(&c, 512, 8192);
    c.provisioning = true;
    c.max_unmap_lba_count = 1024;
    c.max_unmap_desc_count = 4;
    c.max_xfer_blocks = 256;
    scsi_model_add_lun(sm, 0, 0, &c);
    scsi_model_lun_cfg_disk(&c, 4096, 1024);
    c.write_protect = true;
    scsi_model_add_lun(sm, 0, 3, &c);
    scsi_model_lun_cfg_cdrom(&c, 0);
    scsi_model_add_lun(sm, 1, 0, &c);
    scsi_model_lun_cfg_disk(&c, 4096, 2048);
    c.desc_sense = true;
    scsi_model_add_lun(sm, 2, 0, &c);
    scsi_model_lun_cfg_disk(&c, 512, 1024);
    scsi_model_add_lun(sm, 3, 0, &c);
    scsi_model_add_lun(sm, 3, 1, &c);
    scsi_model_set_target_flags(sm, 3, SCSI_MODEL_TGT_NO_REPORT_LUNS);
    scsi_model_add_lun(sm, 4, 2, &c);
    scsi_model_clear_all_ua(sm);
}

void vst_init_default(struct vst *v, bool standard)
{
    struct vst_params p = {VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE, 0, 0};
    vst_init(v, &p, standard);
}

void vst_big_table(struct vst *v, unsigned n)
{
    v->table = calloc(n, sizeof(*v->table));
    assert_non_null(v->table);
    v->opts.lun_table = v->table;
    v->opts.lun_table_len = (uint16_t)n;
}

int vst_start(struct vst *v)
{
    struct keel_virtio_dev *d = &v->vs->vdev;
    int rc;

    v->m = vscsi_dev_pair_create(v->s, &v->mc, &v->dc, v->sm, &v->d);
    assert_non_null(v->m);
    switch (v->p.transport) {
    case VMODEL_PCI_MODERN:
        rc = keel_virtio_pci_probe(d, &v->s->hal, v->mc.pci_addr, 0, false);
        break;
    case VMODEL_PCI_TRANSITIONAL:
    case VMODEL_PCI_LEGACY:
        rc = keel_virtio_pci_probe(d, &v->s->hal, v->mc.pci_addr, 0, true);
        break;
    default:
        rc = keel_virtio_mmio_probe(d, &v->s->hal, v->mc.mmio_base, VMODEL_MMIO_SIZE,
                                    v->mc.mmio_irq_line);
        break;
    }
    if (rc != KEEL_OK)
        return rc;
    return keel_vscsi_attach(v->vs, &v->opts);
}

void vst_teardown(struct vst *v)
{
    if (v->vs != NULL && v->vs->attached)
        keel_vscsi_detach(v->vs);
    if (v->m != NULL)
        vscsi_dev_pair_destroy(v->m, v->d);
    v->m = NULL;
    free(v->vs);
    v->vs = NULL;
    free(v->table);
    v->table = NULL;
    scsi_model_destroy(v->sm);
    v->sm = NULL;
    sim_destroy(v->s);
    v->s = NULL;
}

void vst_finish(struct vst *v)
{
    if (v->vs != NULL && v->vs->attached)
        keel_vscsi_detach(v->vs);
    sim_assert_clean(v->s);
    vst_teardown(v);
}

struct keel_blkdev *vst_disk(struct vst *v, uint8_t target, uint16_t lun)
{
    struct keel_vscsi_lun *e = keel_vscsi_find(v->vs, target, lun);

    assert_non_null(e);
    assert_true(e->has_blk);
    return &e->blk;
}

bool vst_media_equals(struct vst *v, uint8_t target, uint16_t lun, uint64_t off, const void *buf,
                      size_t len)
{
    uint8_t *tmp = malloc(len ? len : 1u);
    bool eq;

    assert_non_null(tmp);
    eq =
        scsi_model_media_read(v->sm, target, lun, off, tmp, len) == 0 && memcmp(tmp, buf, len) == 0;
    free(tmp);
    return eq;
}

void vst_fill(void *buf, size_t len, uint32_t seed)
{
    uint8_t *p = buf;
    uint32_t x = seed * 2654435761u + 1u;
    size_t i;

    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

unsigned vst_events(const struct vst *v, enum keel_vscsi_event ev)
{
    unsigned i, n = 0;

    for (i = 0; i < v->nev; i++)
        if (v->evlog[i].ev == ev)
            n++;
    return n;
}

void vst_service(struct vst *v)
{
    unsigned i;

    for (i = 0; i < 4; i++) {
        sim_advance(v->s, 10);
        assert_int_equal(keel_vscsi_service(v->vs), KEEL_OK);
    }
}

void vst_roundtrip(struct vst *v, uint8_t target, uint16_t lun, uint64_t lba, uint32_t n,
                   uint32_t seed)
{
    struct keel_blkdev *b = vst_disk(v, target, lun);
    size_t len = (size_t)n * b->info.sector_size;
    uint8_t *w = malloc(len), *r = malloc(len);

    assert_non_null(w);
    assert_non_null(r);
    vst_fill(w, len, seed);
    memset(r, 0xa5, len);
    assert_int_equal(keel_blk_write(b, 0, lba, n, w, 0), KEEL_OK);
    assert_int_equal(keel_blk_read(b, 0, lba, n, r, 0), KEEL_OK);
    assert_memory_equal(r, w, len);
    assert_true(vst_media_equals(v, target, lun, lba * b->info.sector_size, w, len));
    free(w);
    free(r);
}

static void vst_done(struct keel_blk_req *r)
{
    struct vst_req *q = (struct vst_req *)r;
    q->done = true;
    q->status = r->status;
    if (q->v != NULL && q->v->d != NULL) {
        unsigned i;
        q->held_at_done = vscsi_dev_held(q->v->d);
        q->vq_at_done = 0;
        for (i = 2; i < vmodel_num_queues(q->v->m); i++)
            q->vq_at_done += vmodel_inflight(q->v->m, i);
    }
}

void vst_req_init(struct vst_req *q, struct vst *v, uint8_t op, uint16_t queue, uint64_t lba,
                  uint32_t count, void *buf)
{
    memset(q, 0, sizeof(*q));
    q->r.op = op;
    q->r.queue = queue;
    q->r.lba = lba;
    q->r.count = count;
    q->r.buf = buf;
    q->r.done = vst_done;
    q->status = KEEL_EAGAIN;
    q->v = v;
}

int vst_wait(struct vst *v, struct keel_blkdev *dev, struct vst_req *q, unsigned max_polls)
{
    unsigned i;

    for (i = 0; i < max_polls && !q->done; i++) {
        (void)keel_blk_poll(dev, q->r.queue, 0);
        if (!q->done)
            sim_advance(v->s, 100);
    }
    return q->done ? q->status : KEEL_EAGAIN;
}
