/* SPDX-License-Identifier: MIT */
/*
 * Submission batching through the block layer (keel_blk_plug / keel_blk_unplug) on virtio-blk:
 * a batch of submissions costs one notification (none when the device suppressed it), every
 * request completes with the right data, across ring wraps, on split and packed rings, with event
 * index and with the flags; and a batch left open is bounded (KEEL_CONFIG_VIRTIO_PLUG_MAX, a full
 * ring, a poll).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

#define SECTOR 512u

static void start(struct vt *v, bool packed)
{
    struct vt_params p = {VMODEL_PCI_MODERN, packed, false, SIM_MAP_TRANSLATE};
    vt_init(v, &p);
}

static uint64_t dev_notifies(struct vt *v)
{
    return vmodel_stats(v->m)->vq[0].notifies;
}

static uint64_t drv_notifies(struct vt *v)
{
    return v->vb->q[0].vq.stats.notifications;
}

/* Submit `n` one-sector reads of lba base.. inside one plug/unplug; check one notification at
 * most, agreeing on both sides; poll them all to completion and compare with the media. */
static void read_batch(struct vt *v, struct vt_req *r, uint8_t *buf, unsigned n, uint64_t base)
{
    uint64_t dn = dev_notifies(v), vn = drv_notifies(v);
    unsigned i;

    assert_int_equal(keel_blk_plug(&v->vb->blk, 0), KEEL_OK);
    for (i = 0; i < n; i++) {
        vt_req_init(&r[i], KEEL_BLK_OP_READ, 0, base + i, 1, buf + (size_t)i * SECTOR);
        assert_int_equal(keel_blk_submit(&v->vb->blk, &r[i].r), KEEL_OK);
    }
    /* nothing notified while the batch is open */
    assert_int_equal(dev_notifies(v), dn);
    assert_int_equal(keel_blk_unplug(&v->vb->blk, 0), KEEL_OK);
    assert_true(dev_notifies(v) - dn <= 1u);
    assert_int_equal(drv_notifies(v) - vn, dev_notifies(v) - dn);
    for (i = 0; i < n; i++)
        assert_int_equal(vt_wait(v, &r[i], 1000), KEEL_OK);
    for (i = 0; i < n; i++)
        assert_true(vt_media_equals(v, (base + i) * SECTOR, buf + (size_t)i * SECTOR, SECTOR));
}

static void batches_notify_once(bool packed, bool event_idx)
{
    struct vt v;
    struct vt_req r[7];
    uint8_t *buf = malloc(7 * SECTOR), *w = malloc(64 * SECTOR);
    uint64_t dn;
    unsigned round;

    start(&v, packed);
    v.mc.queue_size_max = 16; /* 40 batches of 7 wrap the ring many times */
    if (!event_idx)
        v.mc.features &= ~VMODEL_F_EVENT_IDX;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(v.vb->q[0].vq.packed, packed);
    assert_int_equal(v.vb->q[0].vq.event_idx, event_idx);
    vt_fill(w, 64 * SECTOR, 11);
    assert_int_equal(keel_blk_write(&v.vb->blk, 0, 0, 64, w, 0), KEEL_OK);
    dn = dev_notifies(&v);
    for (round = 0; round < 40; round++)
        read_batch(&v, r, buf, 7, (round * 7u) & 31u);
    /* the device was idle before every batch: each one asked for exactly one notification */
    assert_int_equal(dev_notifies(&v) - dn, 40);
    assert_int_equal(vmodel_stats(v.m)->vq[0].notifies_unneeded, 0);
    free(buf);
    free(w);
    vt_finish(&v);
}

static void test_batch_notifies_once_split_event_idx(void **state)
{
    (void)state;
    batches_notify_once(false, true);
}

static void test_batch_notifies_once_split_flags(void **state)
{
    (void)state;
    batches_notify_once(false, false);
}

static void test_batch_notifies_once_packed_event_idx(void **state)
{
    (void)state;
    batches_notify_once(true, true);
}

static void test_batch_notifies_once_packed_flags(void **state)
{
    (void)state;
    batches_notify_once(true, false);
}

static void test_unplugged_submits_notify_each(void **state)
{
    struct vt v;
    struct vt_req r[4];
    uint8_t buf[4 * SECTOR];
    uint64_t dn;
    unsigned i;

    (void)state;
    start(&v, false);
    assert_int_equal(vt_start(&v), KEEL_OK);
    dn = dev_notifies(&v);
    for (i = 0; i < 4; i++) {
        vt_req_init(&r[i], KEEL_BLK_OP_READ, 0, i, 1, buf + i * SECTOR);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &r[i].r), KEEL_OK);
        assert_int_equal(vt_wait(&v, &r[i], 1000), KEEL_OK);
    }
    assert_int_equal(dev_notifies(&v) - dn, 4);
    /* unplug without plug, and an empty batch, notify nothing */
    assert_int_equal(keel_blk_unplug(&v.vb->blk, 0), KEEL_OK);
    assert_int_equal(keel_blk_plug(&v.vb->blk, 0), KEEL_OK);
    assert_int_equal(keel_blk_unplug(&v.vb->blk, 0), KEEL_OK);
    assert_int_equal(dev_notifies(&v) - dn, 4);
    /* a queue the device does not have */
    assert_int_equal(keel_blk_plug(&v.vb->blk, v.vb->blk.info.queue_count), KEEL_EINVAL);
    assert_int_equal(keel_blk_unplug(&v.vb->blk, v.vb->blk.info.queue_count), KEEL_EINVAL);
    vt_finish(&v);
}

/* A batch never unplugged publishes itself once it holds KEEL_CONFIG_VIRTIO_PLUG_MAX buffers. */
static void test_open_batch_flushes_at_the_plug_limit(void **state)
{
    struct vt v;
    struct vt_req *r = calloc(KEEL_CONFIG_VIRTIO_PLUG_MAX, sizeof(*r));
    uint8_t *buf = malloc((size_t)KEEL_CONFIG_VIRTIO_PLUG_MAX * SECTOR);
    uint64_t dn;
    unsigned i;

    (void)state;
    start(&v, false);
    v.bc.capacity = 4096;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_true(v.vb->q[0].vq.size >= 2u * KEEL_CONFIG_VIRTIO_PLUG_MAX);
    assert_true(v.vb->q[0].nslots >= KEEL_CONFIG_VIRTIO_PLUG_MAX);
    dn = dev_notifies(&v);
    assert_int_equal(keel_blk_plug(&v.vb->blk, 0), KEEL_OK);
    for (i = 0; i < KEEL_CONFIG_VIRTIO_PLUG_MAX; i++) {
        assert_int_equal(dev_notifies(&v), dn); /* held back so far */
        vt_req_init(&r[i], KEEL_BLK_OP_READ, 0, i, 1, buf + (size_t)i * SECTOR);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &r[i].r), KEEL_OK);
    }
    assert_int_equal(dev_notifies(&v) - dn, 1);
    for (i = 0; i < KEEL_CONFIG_VIRTIO_PLUG_MAX; i++)
        assert_int_equal(vt_wait(&v, &r[i], 1000), KEEL_OK);
    assert_int_equal(keel_blk_unplug(&v.vb->blk, 0), KEEL_OK);
    assert_int_equal(dev_notifies(&v) - dn, 1);
    free(r);
    free(buf);
    vt_finish(&v);
}

/* A poll inside an open batch publishes what it holds (a device cannot complete what it was not
 * shown); the batch stays open for what follows. */
static void test_poll_publishes_an_open_batch(void **state)
{
    struct vt v;
    struct vt_req r[3];
    uint8_t buf[3 * SECTOR];
    uint64_t dn;
    unsigned i;

    (void)state;
    start(&v, true);
    assert_int_equal(vt_start(&v), KEEL_OK);
    dn = dev_notifies(&v);
    assert_int_equal(keel_blk_plug(&v.vb->blk, 0), KEEL_OK);
    for (i = 0; i < 2; i++) {
        vt_req_init(&r[i], KEEL_BLK_OP_READ, 0, i, 1, buf + i * SECTOR);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &r[i].r), KEEL_OK);
    }
    assert_int_equal(dev_notifies(&v), dn);
    for (i = 0; i < 2; i++)
        assert_int_equal(vt_wait(&v, &r[i], 1000), KEEL_OK);
    assert_int_equal(dev_notifies(&v) - dn, 1);
    vt_req_init(&r[2], KEEL_BLK_OP_READ, 0, 2, 1, buf + 2 * SECTOR);
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r[2].r), KEEL_OK);
    assert_int_equal(dev_notifies(&v) - dn, 1); /* still batching */
    assert_int_equal(keel_blk_unplug(&v.vb->blk, 0), KEEL_OK);
    assert_int_equal(vt_wait(&v, &r[2], 1000), KEEL_OK);
    assert_int_equal(dev_notifies(&v) - dn, 2);
    vt_finish(&v);
}

/* A ring too small for the batch: the submit that finds it full publishes what is in it, so the
 * device can make room, and the rest follows. */
static void test_full_ring_publishes_an_open_batch(void **state)
{
    struct vt v;
    struct vt_req r[6];
    uint8_t buf[6 * SECTOR];
    uint64_t dn;
    unsigned i;

    (void)state;
    start(&v, false);
    v.mc.features &= ~VMODEL_F_INDIRECT_DESC;
    v.mc.queue_size_max = 8; /* two 3-descriptor chains fit */
    assert_int_equal(vt_start(&v), KEEL_OK);
    dn = dev_notifies(&v);
    assert_int_equal(keel_blk_plug(&v.vb->blk, 0), KEEL_OK);
    for (i = 0; i < 6; i++) {
        vt_req_init(&r[i], KEEL_BLK_OP_READ, 0, i, 1, buf + i * SECTOR);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &r[i].r), KEEL_OK);
    }
    /* the third submit found the ring full: the first two went to the device */
    assert_true(dev_notifies(&v) - dn >= 1u);
    assert_int_equal(keel_blk_unplug(&v.vb->blk, 0), KEEL_OK);
    for (i = 0; i < 6; i++)
        assert_int_equal(vt_wait(&v, &r[i], 1000), KEEL_OK);
    assert_true(vmodel_stats(v.m)->vq[0].max_chain_descs <= 8);
    vt_finish(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_notifies_once_split_event_idx),
        cmocka_unit_test(test_batch_notifies_once_split_flags),
        cmocka_unit_test(test_batch_notifies_once_packed_event_idx),
        cmocka_unit_test(test_batch_notifies_once_packed_flags),
        cmocka_unit_test(test_unplugged_submits_notify_each),
        cmocka_unit_test(test_open_batch_flushes_at_the_plug_limit),
        cmocka_unit_test(test_poll_publishes_an_open_batch),
        cmocka_unit_test(test_full_ring_publishes_an_open_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
