/* SPDX-License-Identifier: MIT */
/*
 * Every transport x every ring format x interrupts/polling x DMA mapping mode: attach, negotiate,
 * do real I/O (sync and a deep async batch), compare against the model's media byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

struct combo {
    char name[64];
    struct vt_params p;
};

#define MAX_COMBOS 64
static struct combo combos[MAX_COMBOS];

static bool modern(enum vmodel_transport t)
{
    return t == VMODEL_PCI_MODERN || t == VMODEL_PCI_TRANSITIONAL || t == VMODEL_MMIO_V2;
}

static void check_negotiation(struct vt *v)
{
    struct keel_virtio_dev *d = &v->vb->vdev;
    bool legacy = v->p.transport == VMODEL_PCI_LEGACY || v->p.transport == VMODEL_MMIO_V1 ||
                  v->p.transport == VMODEL_PCI_TRANSITIONAL;

    assert_int_equal(d->legacy, legacy);
    assert_int_equal(keel_virtio_has(d, KEEL_VIRTIO_F_RING_PACKED), v->p.packed && !legacy);
    assert_int_equal(keel_virtio_has(d, KEEL_VIRTIO_F_VERSION_1), !legacy);
    assert_true(keel_virtio_has(d, KEEL_VIRTIO_F_INDIRECT_DESC));
    assert_true(keel_virtio_has(d, KEEL_VIRTIO_F_EVENT_IDX));
    assert_int_equal(vmodel_queue_packed(v->m, 0), v->p.packed && !legacy);
    assert_true(vmodel_status(v->m) & VMODEL_S_DRIVER_OK);
    assert_int_equal(vmodel_features(v->m), d->features);
    if (v->p.irq) {
        enum keel_virtio_irq_mode want = KEEL_VIRTIO_IRQ_LINE;
        if (v->p.transport == VMODEL_PCI_MODERN)
            want = KEEL_VIRTIO_IRQ_MSIX_PER_VQ;
        else if (v->p.transport == VMODEL_PCI_TRANSITIONAL || v->p.transport == VMODEL_PCI_LEGACY)
            want = KEEL_VIRTIO_IRQ_INTX; /* legacy interface: INTx + ISR read */
        assert_int_equal(d->irq_mode, want);
    } else
        assert_int_equal(d->irq_mode, KEEL_VIRTIO_IRQ_POLL);
}

static void sync_io(struct vt *v)
{
    struct keel_blkdev *bd = &v->vb->blk;
    uint8_t *w = malloc(64 * 512), *r = malloc(64 * 512);

    assert_non_null(w);
    assert_non_null(r);
    vt_fill(w, 64 * 512, 7);
    /* unaligned buffer start, so segments straddle pages */
    assert_int_equal(keel_blk_write(bd, 0, 100, 63, w + 1, 0), KEEL_OK);
    assert_true(vt_media_equals(v, 100 * 512, w + 1, 63 * 512));
    memset(r, 0, 64 * 512);
    assert_int_equal(keel_blk_read(bd, 0, 100, 63, r + 3, 0), KEEL_OK);
    assert_memory_equal(r + 3, w + 1, 63 * 512);
    assert_int_equal(keel_blk_flush(bd, 0, 0), KEEL_OK);
    free(w);
    free(r);
}

#define DEPTH 24

static void async_batch(struct vt *v)
{
    struct vt_req q[DEPTH];
    uint8_t *bufs = malloc(DEPTH * 8 * 512);
    unsigned i, submitted = 0;

    assert_non_null(bufs);
    vt_fill(bufs, DEPTH * 8 * 512, 99);
    for (i = 0; i < DEPTH; i++) {
        uint32_t n = 1u + (i % 8u);
        vt_req_init(&q[i], KEEL_BLK_OP_WRITE, 0, 300u + 8u * i, n, bufs + (size_t)i * 8 * 512);
        if (keel_blk_submit(&v->vb->blk, &q[i].r) == KEEL_OK)
            submitted++;
        else
            q[i].done = true, q[i].status = KEEL_ENOSPC;
    }
    assert_true(submitted > 0);
    for (i = 0; i < DEPTH; i++) {
        if (q[i].status == KEEL_ENOSPC)
            continue;
        assert_int_equal(vt_wait(v, &q[i], 10000), KEEL_OK);
        assert_true(vt_media_equals(v, (300u + 8u * i) * 512ull, bufs + (size_t)i * 8 * 512,
                                    (1u + (i % 8u)) * 512u));
    }
    free(bufs);
}

/* With interrupts and a device that completes later, done() runs from the interrupt alone. */
static void irq_completion_without_poll(struct vt *v)
{
    struct vt_req q;
    uint8_t buf[512];
    unsigned i;

    vmodel_set_mode(v->m, VMODEL_DEFERRED, 20);
    vt_req_init(&q, KEEL_BLK_OP_READ, 0, 7, 1, buf);
    assert_int_equal(keel_blk_submit(&v->vb->blk, &q.r), KEEL_OK);
    for (i = 0; i < 1000 && !q.done; i++)
        sim_advance(v->s, 5);
    assert_true(q.done);
    assert_int_equal(q.status, KEEL_OK);
    assert_true(keel_vblk_vq_stats(v->vb, 0)->interrupts > 0);
    vmodel_set_mode(v->m, VMODEL_IMMEDIATE, 0);
}

static void run_combo(void **state)
{
    const struct combo *c = *state;
    struct vt v;

    vt_init(&v, &c->p);
    assert_int_equal(vt_start(&v), KEEL_OK);
    check_negotiation(&v);
    assert_string_equal(v.vb->blk.info.name, "vda");
    assert_int_equal(v.vb->blk.info.sector_size, 512);
    assert_int_equal(v.vb->blk.info.sector_count, v.bc.capacity);
    sync_io(&v);
    async_batch(&v);
    if (c->p.irq)
        irq_completion_without_poll(&v);
    assert_int_equal(vmodel_stats(v.m)->driver_errors, 0);
    vt_finish(&v);
}

int main(void)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_PCI_TRANSITIONAL,
                                               VMODEL_PCI_LEGACY, VMODEL_MMIO_V2, VMODEL_MMIO_V1};
    static const char *maps[] = {"translate", "bounce", "contiguous"};
    struct CMUnitTest tests[MAX_COMBOS];
    unsigned n = 0, t, packed, irq, map;

    for (t = 0; t < sizeof(ts) / sizeof(ts[0]); t++) {
        for (packed = 0; packed < 2; packed++) {
            if (packed && !modern(ts[t]))
                continue;
            for (irq = 0; irq < 2; irq++) {
                for (map = 0; map < 2; map++) {
                    struct combo *c = &combos[n];
                    c->p.transport = ts[t];
                    c->p.packed = packed != 0;
                    c->p.irq = irq != 0;
                    c->p.map = map == 0 ? SIM_MAP_TRANSLATE : SIM_MAP_BOUNCE;
                    snprintf(c->name, sizeof(c->name), "io_over_%s_%s_%s_%s",
                             vmodel_transport_name(ts[t]), packed ? "packed" : "split",
                             irq ? "irq" : "poll", maps[map]);
                    tests[n] = (struct CMUnitTest){c->name, run_combo, NULL, NULL, c};
                    n++;
                }
            }
        }
    }
    return _cmocka_run_group_tests("vblk_transports", tests, n, NULL, NULL);
}
