/* SPDX-License-Identifier: MIT */
/*
 * The available-buffer notification decision, brute force. A fake transport and a minimal device
 * written here (on the ring memory itself) let the test move the ring indices anywhere, including
 * across the 16-bit wrap, add batches of buffers, and ask keel_vq_kick_prepare for every possible
 * event value in a window. The answer is compared with a reference written differently from the
 * spec's formula: "notify iff the event index is one of the indices just published".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

struct fake {
    struct keel_virtio_dev dev;
    uint16_t size;
    unsigned notifies;
    unsigned setups;
};

static struct fake *fake_of(struct keel_virtio_dev *d)
{
    return (struct fake *)(void *)d;
}
static uint64_t f_get_features(struct keel_virtio_dev *d)
{
    return d->features;
}
static void f_set_features(struct keel_virtio_dev *d, uint64_t f)
{
    (void)d, (void)f;
}
static uint8_t f_get_status(struct keel_virtio_dev *d)
{
    return d->status;
}
static void f_set_status(struct keel_virtio_dev *d, uint8_t s)
{
    d->status = s;
}
static uint32_t f_cfg_read(struct keel_virtio_dev *d, uint32_t o, unsigned w)
{
    (void)d, (void)o, (void)w;
    return 0;
}
static void f_cfg_write(struct keel_virtio_dev *d, uint32_t o, unsigned w, uint32_t v)
{
    (void)d, (void)o, (void)w, (void)v;
}
static uint16_t f_queue_max(struct keel_virtio_dev *d, uint16_t i)
{
    return i == 0 ? fake_of(d)->size : 0;
}
static int f_queue_setup(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    (void)vq;
    fake_of(d)->setups++;
    return KEEL_OK;
}
static void f_notify(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    (void)vq;
    fake_of(d)->notifies++;
}
static uint32_t f_isr(struct keel_virtio_dev *d)
{
    (void)d;
    return 0;
}

static const struct keel_virtio_transport_ops fake_ops = {
    .name = "fake",
    .get_features = f_get_features,
    .set_features = f_set_features,
    .get_status = f_get_status,
    .set_status = f_set_status,
    .cfg_read = f_cfg_read,
    .cfg_write = f_cfg_write,
    .queue_max = f_queue_max,
    .queue_setup = f_queue_setup,
    .notify = f_notify,
    .isr = f_isr,
};

struct bench {
    struct sim *s;
    struct fake f;
    struct keel_vq vq;
    struct keel_dma_mem buf; /* one page the fake buffers point at */
    uint16_t dev_avail;      /* split: next avail entry the device consumes */
    uint16_t dev_used;       /* split: used idx; packed: used slot */
    bool dev_wrap;           /* packed: device used wrap counter */
    uint64_t linear;         /* packed: descriptors made available since the start */
    uint64_t pending[64];
    unsigned npending;
};

static void bench_init(struct bench *b, uint16_t size, bool packed, bool event_idx)
{
    memset(b, 0, sizeof(*b));
    b->s = sim_create(1u << 20);
    assert_non_null(b->s);
    b->f.size = size;
    b->f.dev.hal = &b->s->hal;
    b->f.dev.tops = &fake_ops;
    b->f.dev.features = KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_VERSION_1);
    if (packed)
        b->f.dev.features |= KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_RING_PACKED);
    if (event_idx)
        b->f.dev.features |= KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_EVENT_IDX);
    b->f.dev.irq_mode = KEEL_VIRTIO_IRQ_POLL;
    assert_int_equal(keel_vq_create(&b->vq, &b->f.dev, 0, 0, NULL, NULL), KEEL_OK);
    assert_int_equal(b->vq.size, size);
    assert_int_equal(b->s->ops.dma_alloc(b->s->hal.ctx, 4096, 4096, &b->buf), KEEL_OK);
    b->dev_wrap = true;
}

static void bench_fini(struct bench *b)
{
    keel_vq_destroy(&b->vq);
    sim_assert_clean(b->s);
    sim_destroy(b->s);
}

static void add_one(struct bench *b, uintptr_t token)
{
    struct keel_vq_sg sg = {b->buf.bus, 512};
    assert_int_equal(keel_vq_add(&b->vq, &sg, 0, 1, (void *)token), KEEL_OK);
    b->linear++;
}

/* The device: use every buffer made available so far, in order. */
static void device_complete_all(struct bench *b)
{
    struct keel_vq *vq = &b->vq;

    if (!vq->packed) {
        uint16_t avail = (uint16_t)(vq->driver[2] | (vq->driver[3] << 8));
        while (b->dev_avail != avail) {
            unsigned slot = b->dev_avail & (vq->size - 1u);
            uint16_t head = (uint16_t)(vq->driver[4 + 2 * slot] | (vq->driver[5 + 2 * slot] << 8));
            uint8_t *e = vq->device + 4 + 8 * (b->dev_used & (vq->size - 1u));
            memset(e, 0, 8);
            e[0] = (uint8_t)head;
            e[1] = (uint8_t)(head >> 8);
            b->dev_avail++;
            b->dev_used++;
            vq->device[2] = (uint8_t)b->dev_used;
            vq->device[3] = (uint8_t)(b->dev_used >> 8);
        }
    } else {
        for (;;) {
            uint8_t *d = vq->desc + 16u * b->dev_used;
            uint16_t fl = (uint16_t)(d[14] | (d[15] << 8));
            bool avail = (fl & KEEL_VIRTQ_DESC_F_AVAIL) != 0,
                 used = (fl & KEEL_VIRTQ_DESC_F_USED) != 0;
            if (avail == used || avail != b->dev_wrap)
                break; /* not available in the device's lap */
            fl = b->dev_wrap ? (uint16_t)(KEEL_VIRTQ_DESC_F_AVAIL | KEEL_VIRTQ_DESC_F_USED) : 0;
            memset(d + 8, 0, 4); /* len 0; id stays */
            d[14] = (uint8_t)fl;
            d[15] = (uint8_t)(fl >> 8);
            if (++b->dev_used == vq->size) {
                b->dev_used = 0;
                b->dev_wrap = !b->dev_wrap;
            }
        }
    }
}

static void driver_reap(struct bench *b, unsigned expect)
{
    void *tok;
    uint32_t len;
    unsigned n = 0;
    int rc;

    while ((rc = keel_vq_get(&b->vq, &tok, &len)) == 1)
        n++;
    assert_int_equal(rc, 0);
    assert_int_equal(n, expect);
}

/* Move both sides forward by `n` buffers, one at a time (adds, kick, device use, reap). */
static void advance(struct bench *b, unsigned n)
{
    unsigned i;
    for (i = 0; i < n; i++) {
        add_one(b, 1);
        (void)keel_vq_kick_prepare(&b->vq);
        device_complete_all(b);
        driver_reap(b, 1);
    }
}

/* ---- split
 * ---------------------------------------------------------------------------------------- */

static bool ref_split(uint16_t event, uint16_t old_idx, unsigned k)
{
    unsigned j;
    for (j = 0; j < k; j++)
        if ((uint16_t)(old_idx + j) == event)
            return true;
    return false;
}

static void set_avail_event(struct bench *b, uint16_t ev)
{
    uint8_t *p = b->vq.device + 4 + 8u * b->vq.size;
    p[0] = (uint8_t)ev;
    p[1] = (uint8_t)(ev >> 8);
}

static unsigned check_split_window(struct bench *b, unsigned k)
{
    uint16_t old_idx = b->vq.kicked_idx, e;
    unsigned i, checked = 0;
    int d;

    for (i = 0; i < k; i++)
        add_one(b, 2);
    for (d = -70; d <= 70 + (int)k; d++) {
        e = (uint16_t)(old_idx + d);
        set_avail_event(b, e);
        b->vq.kicked_idx = old_idx; /* ask again, as if this were the first kick */
        assert_int_equal(keel_vq_kick_prepare(&b->vq), ref_split(e, old_idx, k));
        checked++;
    }
    /* and a few far away */
    for (i = 0; i < 16; i++) {
        e = (uint16_t)(old_idx + 0x8000u + i * 997u);
        set_avail_event(b, e);
        b->vq.kicked_idx = old_idx;
        assert_int_equal(keel_vq_kick_prepare(&b->vq), ref_split(e, old_idx, k));
        checked++;
    }
    assert_int_equal(b->vq.kicked_idx, (uint16_t)(old_idx + k));
    device_complete_all(b);
    driver_reap(b, k);
    return checked;
}

static void test_split_event_idx_matches_reference_across_16bit_wrap(void **state)
{
    struct bench b;
    unsigned k, checked = 0;

    (void)state;
    bench_init(&b, 8, false, true);
    /* Positions before, across and after the wrap, for every batch size that fits the ring. */
    for (k = 1; k <= 8; k++) {
        uint16_t start = (uint16_t)(0x10000u - 64u - k);
        advance(&b, (uint16_t)(start - b.vq.kicked_idx));
        assert_int_equal(b.vq.kicked_idx, start);
        while ((uint16_t)(b.vq.kicked_idx - start) < 256u)
            checked += check_split_window(&b, k);
    }
    assert_true(checked > 100000u);
    bench_fini(&b);
}

static void test_split_no_notify_flag_suppresses_kicks(void **state)
{
    struct bench b;

    (void)state;
    bench_init(&b, 16, false, false);
    add_one(&b, 1);
    assert_true(keel_vq_kick(&b.vq));
    b.vq.device[0] = KEEL_VIRTQ_USED_F_NO_NOTIFY;
    add_one(&b, 2);
    add_one(&b, 3);
    assert_false(keel_vq_kick(&b.vq));
    assert_int_equal(b.f.notifies, 1);
    assert_int_equal(b.vq.stats.suppressed, 1);
    b.vq.device[0] = 0;
    add_one(&b, 4);
    assert_true(keel_vq_kick(&b.vq));
    /* nothing new: no notification at all */
    assert_false(keel_vq_kick(&b.vq));
    assert_int_equal(b.f.notifies, 2);
    device_complete_all(&b);
    driver_reap(&b, 4);
    bench_fini(&b);
}

/* The avail index is written once per kick, after the ring entries (batched publication). */
static void test_split_avail_idx_published_only_by_kick(void **state)
{
    struct bench b;

    (void)state;
    bench_init(&b, 16, false, true);
    add_one(&b, 1);
    add_one(&b, 2);
    assert_int_equal(b.vq.driver[2] | (b.vq.driver[3] << 8), 0);
    (void)keel_vq_kick(&b.vq);
    assert_int_equal(b.vq.driver[2] | (b.vq.driver[3] << 8), 2);
    device_complete_all(&b);
    driver_reap(&b, 2);
    bench_fini(&b);
}

/* ---- packed
 * --------------------------------------------------------------------------------------- */

/* Reference: the device asked to be told when descriptor (off, wrap) becomes available. */
static bool ref_packed(uint16_t size, uint64_t l_old, uint64_t l_new, uint16_t off, bool wrap)
{
    uint64_t l;
    for (l = l_old; l < l_new; l++) {
        bool w = ((l / size) & 1u) == 0; /* wrap counter starts at 1 */
        if (l % size == off && w == wrap)
            return true;
    }
    return false;
}

static void set_device_event(struct bench *b, uint16_t flags, uint16_t off, bool wrap)
{
    uint16_t ow = (uint16_t)(off | (wrap ? 0x8000u : 0u));
    b->vq.device[0] = (uint8_t)ow;
    b->vq.device[1] = (uint8_t)(ow >> 8);
    b->vq.device[2] = (uint8_t)flags;
    b->vq.device[3] = (uint8_t)(flags >> 8);
}

static unsigned check_packed_window(struct bench *b, unsigned k)
{
    uint64_t l_old = b->linear;
    uint16_t off;
    unsigned i, w, checked = 0;

    for (i = 0; i < k; i++)
        add_one(b, 2);
    for (off = 0; off < b->vq.size; off++) {
        for (w = 0; w < 2; w++) {
            set_device_event(b, KEEL_VIRTQ_EVENT_F_DESC, off, w != 0);
            b->vq.added = (uint16_t)k; /* ask again, as if this were the first kick */
            assert_int_equal(keel_vq_kick_prepare(&b->vq),
                             ref_packed(b->vq.size, l_old, b->linear, off, w != 0));
            checked++;
        }
    }
    set_device_event(b, KEEL_VIRTQ_EVENT_F_DISABLE, 0, false);
    b->vq.added = (uint16_t)k;
    assert_false(keel_vq_kick_prepare(&b->vq));
    set_device_event(b, KEEL_VIRTQ_EVENT_F_ENABLE, 0, false);
    b->vq.added = (uint16_t)k;
    assert_true(keel_vq_kick_prepare(&b->vq));
    device_complete_all(b);
    driver_reap(b, k);
    return checked;
}

static void test_packed_event_desc_matches_reference_over_many_laps(void **state)
{
    static const uint16_t sizes[] = {13, 8, 3};
    unsigned si, k, round, checked = 0;

    (void)state;
    for (si = 0; si < 3; si++) {
        struct bench b;
        bench_init(&b, sizes[si], true, true);
        for (round = 0; round < 40; round++)
            for (k = 1; k <= b.vq.size; k++)
                checked += check_packed_window(&b, k);
        assert_true(b.linear > 4u * b.vq.size);
        bench_fini(&b);
    }
    assert_true(checked > 10000u);
}

/* Without EVENT_IDX a device asking for DESC is treated as "notify" (flags other than DISABLE). */
static void test_packed_without_event_idx_uses_flags_only(void **state)
{
    struct bench b;

    (void)state;
    bench_init(&b, 10, true, false);
    add_one(&b, 1);
    set_device_event(&b, KEEL_VIRTQ_EVENT_F_DISABLE, 0, true);
    assert_false(keel_vq_kick(&b.vq));
    add_one(&b, 2);
    set_device_event(&b, KEEL_VIRTQ_EVENT_F_ENABLE, 0, true);
    assert_true(keel_vq_kick(&b.vq));
    device_complete_all(&b);
    driver_reap(&b, 2);
    bench_fini(&b);
}

/* Packed rings of any size wrap correctly: ids and slots come back for thousands of laps. */
static void test_packed_non_power_of_two_ring_wraps(void **state)
{
    struct bench b;
    unsigned i;

    (void)state;
    bench_init(&b, 7, true, true);
    for (i = 0; i < 5000; i++) {
        unsigned n = 1u + i % 7u, j;
        for (j = 0; j < n; j++)
            add_one(&b, 1 + j);
        (void)keel_vq_kick(&b.vq);
        device_complete_all(&b);
        driver_reap(&b, n);
        assert_int_equal(b.vq.num_free, 7);
    }
    bench_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_event_idx_matches_reference_across_16bit_wrap),
        cmocka_unit_test(test_split_no_notify_flag_suppresses_kicks),
        cmocka_unit_test(test_split_avail_idx_published_only_by_kick),
        cmocka_unit_test(test_packed_event_desc_matches_reference_over_many_laps),
        cmocka_unit_test(test_packed_without_event_idx_uses_flags_only),
        cmocka_unit_test(test_packed_non_power_of_two_ring_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
