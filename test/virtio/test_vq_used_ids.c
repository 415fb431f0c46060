/* SPDX-License-Identifier: MIT */
/*
 * Used elements that name a buffer the driver does not have in the device's hands: a free head
 * (never added, or already completed: "completed twice", also when the repeat was written in the
 * same batch and a new buffer was added in between), or a head added but not yet published by a
 * kick. Each must break the queue (violation, KEEL_EPROTO) and complete nothing: no token
 * comes back from keel_vq_get, and keel_vq_detach still returns every buffer in flight. A fake
 * transport and a device written here on the ring memory itself, so the test writes exactly the
 * used element it wants, for split and packed rings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

struct fake {
    struct keel_virtio_dev dev;
    uint16_t size;
};

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
    return i == 0 ? ((struct fake *)(void *)d)->size : 0;
}
static int f_queue_setup(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    (void)d, (void)vq;
    return KEEL_OK;
}
static void f_notify(struct keel_virtio_dev *d, struct keel_vq *vq)
{
    (void)d, (void)vq;
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
    struct keel_dma_mem buf;
    uint16_t used_idx; /* split: the device's used index */
};

#define TOK(n) ((void *)(uintptr_t)(0x1000u + (n)))

static void bench_init(struct bench *b, bool packed)
{
    memset(b, 0, sizeof(*b));
    b->s = sim_create(1u << 20);
    assert_non_null(b->s);
    b->f.size = 8;
    b->f.dev.hal = &b->s->hal;
    b->f.dev.tops = &fake_ops;
    b->f.dev.features = KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_VERSION_1); /* modern: little-endian rings */
    if (packed)
        b->f.dev.features |= KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_RING_PACKED);
    b->f.dev.irq_mode = KEEL_VIRTIO_IRQ_POLL;
    assert_int_equal(keel_vq_create(&b->vq, &b->f.dev, 0, 0, NULL, NULL), KEEL_OK);
    assert_int_equal(b->s->ops.dma_alloc(b->s->hal.ctx, 4096, 4096, &b->buf), KEEL_OK);
}

static void bench_fini(struct bench *b)
{
    keel_vq_destroy(&b->vq);
    sim_assert_clean(b->s);
    sim_destroy(b->s);
}

/* One device-writable buffer of 512 bytes (one descriptor, one ring slot). */
static void add(struct bench *b, void *token)
{
    struct keel_vq_sg sg = {b->buf.bus, 512};

    assert_int_equal(keel_vq_add(&b->vq, &sg, 0, 1, token), KEEL_OK);
}

static void st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void st32(uint8_t *p, uint32_t v)
{
    st16(p, (uint16_t)v);
    st16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

/* Split: the device appends used element (id, len) and publishes the used index. */
static void split_used(struct bench *b, uint32_t id, uint32_t len)
{
    uint8_t *e = b->vq.device + 4u + 8u * (b->used_idx & (b->vq.size - 1u));

    st32(e, id);
    st32(e + 4, len);
    b->used_idx++;
    st16(b->vq.device + 2, b->used_idx);
}

/* The avail ring entry the driver wrote at avail index `i` (the head the device would read). */
static uint16_t split_avail_head(const struct bench *b, uint16_t i)
{
    return ld16(b->vq.driver + 4u + 2u * (i & (b->vq.size - 1u)));
}

/* Packed: the device writes a used descriptor (id, len) at `slot` in the first lap. */
static void packed_used(struct bench *b, uint16_t slot, uint16_t id, uint32_t len)
{
    uint8_t *d = b->vq.desc + 16u * slot;

    st32(d + 8, len);
    st16(d + 12, id);
    st16(d + 14, (uint16_t)(KEEL_VIRTQ_DESC_F_AVAIL | KEEL_VIRTQ_DESC_F_USED));
}

/* Packed: the buffer id the driver gave the descriptor at `slot`. */
static uint16_t packed_slot_id(const struct bench *b, uint16_t slot)
{
    return ld16(b->vq.desc + 16u * slot + 12u);
}

/* The queue is broken with `why`, hands out nothing, and still holds exactly `want` buffers. */
static void assert_broken_and_nothing_completed(struct bench *b, enum keel_vq_violation why,
                                                void *const *want, unsigned nwant,
                                                uint64_t completions)
{
    void *tok = NULL;
    uint32_t len = 0;
    unsigned n = 0, i;
    bool seen[8] = {false};

    assert_int_equal(b->vq.broken, why);
    assert_true(b->vq.stats.violations >= 1);
    assert_int_equal(keel_vq_get(&b->vq, &tok, &len), KEEL_EPROTO);
    assert_int_equal(b->vq.stats.completions, completions);
    assert_int_equal(b->vq.in_flight, nwant);
    while (keel_vq_detach(&b->vq, &tok) == 1) {
        for (i = 0; i < nwant; i++) {
            if (tok == want[i]) {
                assert_false(seen[i]);
                seen[i] = true;
            }
        }
        n++;
    }
    assert_int_equal(n, nwant);
    for (i = 0; i < nwant; i++)
        assert_true(seen[i]);
    assert_int_equal(b->vq.num_free, b->vq.size);
}

/* ---- split ---------------------------------------------------------------------------------- */

static void test_split_used_id_of_a_free_head_breaks_the_queue(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[2] = {TOK(1), TOK(2)};
    uint16_t free_head;

    (void)state;
    bench_init(&b, false);
    add(&b, TOK(1));
    add(&b, TOK(2));
    (void)keel_vq_kick(&b.vq);
    /* a head no chain was ever added at (in range, never submitted) */
    free_head = b.vq.free_head;
    assert_true(free_head != split_avail_head(&b, 0) && free_head != split_avail_head(&b, 1));
    split_used(&b, free_head, 1);
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_NOT_HEAD, want, 2, 0);
    bench_fini(&b);
}

static void test_split_used_id_completed_twice_breaks_the_queue(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[1] = {TOK(2)};
    uint16_t a;

    (void)state;
    bench_init(&b, false);
    add(&b, TOK(1));
    add(&b, TOK(2));
    (void)keel_vq_kick(&b.vq);
    a = split_avail_head(&b, 0);
    split_used(&b, a, 7);
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
    assert_ptr_equal(tok, TOK(1));
    assert_int_equal(len, 7);
    /* the same head again while B is in flight (so the used index alone looks plausible) */
    tok = NULL;
    split_used(&b, a, 7);
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_NOT_HEAD, want, 1, 1);
    bench_fini(&b);
}

/* A chain added but not yet kicked: its ring entry is beyond avail->idx, the device cannot know
 * it. Before the fix it was completed (the head was "in flight"). */
static void test_split_used_id_of_an_unpublished_head_breaks_the_queue(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[2] = {TOK(1), TOK(2)};

    (void)state;
    bench_init(&b, false);
    add(&b, TOK(1));
    (void)keel_vq_kick(&b.vq);
    add(&b, TOK(2)); /* not kicked */
    split_used(&b, split_avail_head(&b, 1), 1);
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_NOT_HEAD, want, 2, 0);
    bench_fini(&b);
}

/* The same through a head that was completed and then reused by a new, not yet kicked chain: the
 * duplicate must not complete the new request. */
static void test_split_duplicate_of_a_reused_head_does_not_complete_the_new_chain(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[2] = {TOK(2), TOK(3)};
    uint16_t a;

    (void)state;
    bench_init(&b, false);
    add(&b, TOK(1));
    add(&b, TOK(2));
    (void)keel_vq_kick(&b.vq);
    a = split_avail_head(&b, 0);
    split_used(&b, a, 1);
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
    assert_ptr_equal(tok, TOK(1));
    add(&b, TOK(3)); /* takes the freed head again */
    assert_int_equal(split_avail_head(&b, 2), a);
    tok = NULL;
    split_used(&b, a, 1); /* the device repeats its old element */
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_NOT_HEAD, want, 2, 1);
    bench_fini(&b);
}

/* The device writes an element twice in one batch (both visible at one read of used->idx). The
 * driver completes the first and adds a new chain before it reads the second: the head must not
 * be reused yet, so the repeat names a free head and breaks the queue instead of completing the
 * new chain (found by fuzz_vscsi on the event queue, whose buffers go back at once). */
static void test_split_repeat_in_one_batch_does_not_complete_a_chain_added_meanwhile(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[2] = {TOK(2), TOK(3)};
    uint16_t a;

    (void)state;
    bench_init(&b, false);
    add(&b, TOK(1));
    add(&b, TOK(2));
    (void)keel_vq_kick(&b.vq);
    a = split_avail_head(&b, 0);
    split_used(&b, a, 1);
    split_used(&b, a, 1); /* the repeat, already written */
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
    assert_ptr_equal(tok, TOK(1));
    add(&b, TOK(3));
    (void)keel_vq_kick(&b.vq);
    assert_true(split_avail_head(&b, 2) != a);
    tok = NULL;
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_NOT_HEAD, want, 2, 1);
    bench_fini(&b);
}

/* Held heads go back once the batch is consumed: a full ring keeps cycling. */
static void test_split_heads_completed_in_a_batch_are_reused_after_it(void **state)
{
    struct bench b;
    void *tok;
    uint32_t len;
    unsigned i, k;

    (void)state;
    bench_init(&b, false);
    for (i = 0; i < 100u; i++) {
        for (k = 0; k < b.vq.size; k++)
            add(&b, TOK(k));
        (void)keel_vq_kick(&b.vq);
        assert_int_equal(b.vq.num_free, 0);
        for (k = 0; k < b.vq.size; k++)
            split_used(&b, split_avail_head(&b, (uint16_t)(b.vq.avail_idx - b.vq.size + k)), 1);
        for (k = 0; k < b.vq.size; k++) {
            assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
            assert_ptr_equal(tok, TOK(k));
            /* nothing is reusable before the last element of the batch is consumed */
            assert_int_equal(b.vq.num_free, k + 1u == b.vq.size ? b.vq.size : 0u);
        }
    }
    assert_int_equal(b.vq.broken, KEEL_VQ_OK);
    bench_fini(&b);
}

/* The used index counts only published buffers: two elements when one buffer was published is
 * the index running ahead, even though two are in flight. */
static void test_split_used_index_beyond_the_published_buffers_breaks_the_queue(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[2] = {TOK(1), TOK(2)};

    (void)state;
    bench_init(&b, false);
    add(&b, TOK(1));
    (void)keel_vq_kick(&b.vq);
    add(&b, TOK(2)); /* not kicked */
    split_used(&b, split_avail_head(&b, 0), 1);
    split_used(&b, split_avail_head(&b, 1), 1);
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_BAD_IDX, want, 2, 0);
    bench_fini(&b);
}

/* Unpublished buffers become legitimate once kicked, across the 16-bit index wrap. */
static void test_split_kicked_buffers_complete_normally_across_the_index_wrap(void **state)
{
    struct bench b;
    void *tok;
    uint32_t len;
    unsigned i;

    (void)state;
    bench_init(&b, false);
    for (i = 0; i < 70000u; i++) {
        add(&b, TOK(1));
        add(&b, TOK(2));
        (void)keel_vq_kick(&b.vq);
        add(&b, TOK(3)); /* published only by the next kick */
        split_used(&b, split_avail_head(&b, (uint16_t)(b.vq.avail_idx - 3u)), 1);
        assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
        assert_ptr_equal(tok, TOK(1));
        (void)keel_vq_kick(&b.vq);
        split_used(&b, split_avail_head(&b, (uint16_t)(b.vq.avail_idx - 1u)), 1);
        split_used(&b, split_avail_head(&b, (uint16_t)(b.vq.avail_idx - 2u)), 1);
        assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
        assert_ptr_equal(tok, TOK(3));
        assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
        assert_ptr_equal(tok, TOK(2));
        assert_int_equal(b.vq.in_flight, 0);
    }
    assert_int_equal(b.vq.broken, KEEL_VQ_OK);
    assert_int_equal(b.vq.stats.violations, 0);
    bench_fini(&b);
}

/* ---- packed --------------------------------------------------------------------------------- */

static void test_packed_used_id_of_a_free_id_breaks_the_queue(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[2] = {TOK(1), TOK(2)};
    uint16_t free_id;

    (void)state;
    bench_init(&b, true);
    add(&b, TOK(1));
    add(&b, TOK(2));
    (void)keel_vq_kick(&b.vq);
    free_id = b.vq.free_id; /* in range, never submitted */
    assert_true(free_id < b.vq.size);
    assert_true(free_id != packed_slot_id(&b, 0) && free_id != packed_slot_id(&b, 1));
    packed_used(&b, 0, free_id, 1);
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_NOT_HEAD, want, 2, 0);
    bench_fini(&b);
}

static void test_packed_used_id_completed_twice_breaks_the_queue(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[1] = {TOK(2)};
    uint16_t a;

    (void)state;
    bench_init(&b, true);
    add(&b, TOK(1));
    add(&b, TOK(2));
    (void)keel_vq_kick(&b.vq);
    a = packed_slot_id(&b, 0);
    packed_used(&b, 0, a, 5);
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
    assert_ptr_equal(tok, TOK(1));
    assert_int_equal(len, 5);
    tok = NULL;
    packed_used(&b, 1, a, 5); /* the same id again, in the next used slot */
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_NOT_HEAD, want, 1, 1);
    bench_fini(&b);
}

/* As for split rings: a repeat written in the same batch must not complete a buffer added after
 * the first completion was taken (the id is held until the batch is consumed). */
static void test_packed_repeat_in_one_batch_does_not_complete_a_buffer_added_meanwhile(void **state)
{
    struct bench b;
    void *tok = NULL;
    uint32_t len;
    void *const want[2] = {TOK(2), TOK(3)};
    uint16_t a;

    (void)state;
    bench_init(&b, true);
    add(&b, TOK(1));
    add(&b, TOK(2));
    (void)keel_vq_kick(&b.vq);
    a = packed_slot_id(&b, 0);
    packed_used(&b, 0, a, 5);
    packed_used(&b, 1, a, 5); /* the repeat, already written */
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), 1);
    assert_ptr_equal(tok, TOK(1));
    add(&b, TOK(3));
    (void)keel_vq_kick(&b.vq);
    assert_true(packed_slot_id(&b, 2) != a);
    tok = NULL;
    assert_int_equal(keel_vq_get(&b.vq, &tok, &len), KEEL_EPROTO);
    assert_null(tok);
    assert_broken_and_nothing_completed(&b, KEEL_VQ_NOT_HEAD, want, 2, 1);
    bench_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_used_id_of_a_free_head_breaks_the_queue),
        cmocka_unit_test(test_split_used_id_completed_twice_breaks_the_queue),
        cmocka_unit_test(test_split_used_id_of_an_unpublished_head_breaks_the_queue),
        cmocka_unit_test(test_split_duplicate_of_a_reused_head_does_not_complete_the_new_chain),
        cmocka_unit_test(test_split_repeat_in_one_batch_does_not_complete_a_chain_added_meanwhile),
        cmocka_unit_test(test_split_heads_completed_in_a_batch_are_reused_after_it),
        cmocka_unit_test(test_split_used_index_beyond_the_published_buffers_breaks_the_queue),
        cmocka_unit_test(test_split_kicked_buffers_complete_normally_across_the_index_wrap),
        cmocka_unit_test(test_packed_used_id_of_a_free_id_breaks_the_queue),
        cmocka_unit_test(test_packed_used_id_completed_twice_breaks_the_queue),
        cmocka_unit_test(
            test_packed_repeat_in_one_batch_does_not_complete_a_buffer_added_meanwhile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
