/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

#define VT_ARENA (8u << 20)

void vt_init(struct vt *v, const struct vt_params *p)
{
    memset(v, 0, sizeof(*v));
    v->p = *p;
    v->s = sim_create(VT_ARENA);
    assert_non_null(v->s);
    v->s->map_mode = p->map;
    vmodel_cfg_default(&v->mc, p->transport);
    if (p->packed)
        v->mc.features |= VMODEL_F_RING_PACKED;
    vmodel_blk_cfg_default(&v->bc);
    v->opts.irq = p->irq ? KEEL_VIRTIO_IRQ_AUTO : KEEL_VIRTIO_IRQ_POLL;
    v->vb = calloc(1, sizeof(*v->vb));
    assert_non_null(v->vb);
}

int vt_probe(struct vt *v)
{
    struct keel_virtio_dev *d = &v->vb->vdev;

    v->m = vmodel_blk_pair_create(v->s, &v->mc, &v->bc, &v->b);
    assert_non_null(v->m);
    switch (v->p.transport) {
    case VMODEL_PCI_MODERN:
        return keel_virtio_pci_probe(d, &v->s->hal, v->mc.pci_addr, 0, false);
    case VMODEL_PCI_TRANSITIONAL:
    case VMODEL_PCI_LEGACY:
        return keel_virtio_pci_probe(d, &v->s->hal, v->mc.pci_addr, 0, true);
    case VMODEL_MMIO_V2:
    case VMODEL_MMIO_V1:
        return keel_virtio_mmio_probe(d, &v->s->hal, v->mc.mmio_base, VMODEL_MMIO_SIZE,
                                      v->mc.mmio_irq_line);
    }
    return KEEL_EINVAL;
}

int vt_start(struct vt *v)
{
    int rc = vt_probe(v);

    if (rc != KEEL_OK)
        return rc;
    return keel_vblk_attach(v->vb, &v->opts);
}

void vt_teardown(struct vt *v)
{
    if (v->vb != NULL && v->vb->attached)
        keel_vblk_detach(v->vb);
    if (v->m != NULL)
        vmodel_blk_pair_destroy(v->m, v->b);
    v->m = NULL;
    free(v->vb);
    v->vb = NULL;
    sim_destroy(v->s);
    v->s = NULL;
}

void vt_finish(struct vt *v)
{
    if (v->vb != NULL && v->vb->attached)
        keel_vblk_detach(v->vb);
    sim_assert_clean(v->s);
    vt_teardown(v);
}

bool vt_media_equals(struct vt *v, uint64_t off, const void *buf, size_t len)
{
    size_t mlen;
    uint8_t *media = vmodel_blk_media(v->b, &mlen);

    if (off > mlen || len > mlen - off)
        return false;
    return memcmp(media + off, buf, len) == 0;
}

void vt_fill(void *buf, size_t len, uint32_t seed)
{
    uint8_t *p = buf;
    uint32_t x = seed * 2654435761u + 1u;
    size_t i;

    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

static void vt_done(struct keel_blk_req *r)
{
    struct vt_req *q = (struct vt_req *)r;
    q->done = true;
    q->status = r->status;
}

void vt_req_init(struct vt_req *q, uint8_t op, uint16_t queue, uint64_t lba, uint32_t count,
                 void *buf)
{
    memset(q, 0, sizeof(*q));
    q->r.op = op;
    q->r.queue = queue;
    q->r.lba = lba;
    q->r.count = count;
    q->r.buf = buf;
    q->r.done = vt_done;
    q->status = KEEL_EAGAIN;
}

int vt_wait(struct vt *v, struct vt_req *q, unsigned max_polls)
{
    unsigned i;

    for (i = 0; i < max_polls && !q->done; i++) {
        (void)keel_blk_poll(&v->vb->blk, q->r.queue, 0);
        sim_advance(v->s, 1);
    }
    return q->done ? q->status : KEEL_EAGAIN;
}
