/* SPDX-License-Identifier: MIT */
/*
 * Hostile completion entries: CIDs out of range, with a stale generation, for idle slots,
 * duplicated; wrong phase tags; bogus SQ head pointers; wrong SQ ID; entries on the wrong CQ.
 * Nothing the device writes may index outside an array (ASan and the sim watch), a rejected entry
 * is counted, and the request it should have completed ends through the timeout path.
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

static uint8_t *buf_for(struct nvt *t, uint32_t count)
{
    uint8_t *b = aligned_alloc(4096, ((size_t)count * nvt_bs(t) + 4095u) & ~(size_t)4095u);

    assert_non_null(b);
    return b;
}

/* A read that must end with `expect`; returns the virtual time it took. */
static uint64_t read_expect(struct nvt *t, int expect)
{
    uint8_t *b = buf_for(t, 2);
    uint64_t t0 = t->s->now_us;

    assert_int_equal(keel_blk_read(t->bd, 0, 4, 2, b, NVT_TIMEOUT_US), expect);
    free(b);
    return t->s->now_us - t0;
}

/* After an escalation the controller is live again and I/O works. */
static void still_works(struct nvt *t)
{
    uint8_t *b = buf_for(t, 1);

    assert_int_equal(keel_nvme_life(t->c), KEEL_NVME_LIFE_LIVE);
    nvt_pattern(b, nvt_bs(t), 99);
    assert_int_equal(keel_blk_write(t->bd, 1, 100, 1, b, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(nvt_media(t, 1, 100), b, nvt_bs(t));
    free(b);
}

static void hostile_cid(void **state, uint32_t (*value)(struct nvt *t))
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_CID_INVALID, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(value(&t)));
    (void)read_expect(&t, KEEL_ETIMEDOUT);
    assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_CQE_CID_INVALID), 1);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_cqes, 1);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->completed, 0);
    assert_true(keel_nvme_stats(t.c)->timeouts >= 1);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1); /* the abort could not find it */
    still_works(&t);
    nvt_done(&t);
}

static uint32_t cid_ffff(struct nvt *t)
{
    (void)t;
    return 0xffff;
}

/* Slot 0 (the first one used) with a generation it does not have. */
static uint32_t cid_stale(struct nvt *t)
{
    return 0x5u << t->c->io[0].slot_bits;
}

/* Slot 1 with generation 0: a slot never used. */
static uint32_t cid_idle(struct nvt *t)
{
    (void)t;
    return 1;
}

static void test_cid_out_of_range_is_rejected(void **state)
{
    hostile_cid(state, cid_ffff);
}
static void test_completion_with_a_stale_generation_is_rejected(void **state)
{
    hostile_cid(state, cid_stale);
}
static void test_completion_for_an_idle_slot_is_rejected(void **state)
{
    hostile_cid(state, cid_idle);
}

static void test_every_hostile_cid_stays_inside_the_slot_array(void **state)
{
    struct nvt t;
    uint32_t v;

    nvt_init_state(&t, state);
    nvt_up(&t);
    for (v = 0; v <= 0xffffu; v += 0x0fffu) {
        sim_fault_arm(t.s, NVME_MODEL_F_CQE_CID_INVALID, 0, 1,
                      NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(v == 0 ? 0x7fffu : v));
        (void)read_expect(&t, KEEL_ETIMEDOUT);
    }
    still_works(&t);
    nvt_done(&t);
}

static void test_duplicated_completion_is_ignored(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_CID_DUP, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 1, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    nvt_poll_until(&t, 0, &q, 1, 1000000);
    (void)keel_blk_poll(t.bd, 0, 0);
    assert_int_equal(q.done_count, 1);
    assert_int_equal(q.status, KEEL_OK);
    assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_CQE_CID_DUP), 1);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_cqes, 1);
    assert_int_equal(t.bd->stats[0].in_flight, 0);
    still_works(&t);
    free(b);
    nvt_done(&t);
}

static void test_entry_with_the_wrong_phase_is_invisible(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_BAD_PHASE, 0, 1, NVME_MODEL_FP_IO);
    (void)read_expect(&t, KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->completed, 0);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    still_works(&t);
    nvt_done(&t);
}

static void bogus_sqhd(void **state, bool backwards)
{
    struct nvt t;
    uint16_t head_before;

    nvt_init_state(&t, state);
    nvt_up(&t);
    (void)read_expect(&t, KEEL_OK); /* move the head off zero */
    head_before = t.c->io[0].sq_head;
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_BAD_SQHD, 0, 1,
                  NVME_MODEL_FP_IO |
                      (backwards ? NVME_MODEL_FP_VALUE(t.c->io[0].entries - 1u) : 0));
    (void)read_expect(&t, KEEL_OK);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_sqhd, 1);
    /* The bogus value was not used: the head stayed, then resynced to the tail once idle. */
    assert_true(t.c->io[0].sq_head == head_before || t.c->io[0].sq_head == t.c->io[0].sq_tail);
    assert_int_equal(t.c->io[0].sq_head, t.c->io[0].sq_tail);
    assert_true(t.c->io[0].sq_head < t.c->io[0].entries);
    still_works(&t);
    nvt_done(&t);
}

/* Regression (found by tools/soak): on a 2-entry SQ one ignored bogus SQHD left the queue looking
 * full with nothing in flight, so every later submit got KEEL_ENOSPC forever. */
static void test_bogus_sq_head_does_not_wedge_a_tiny_queue(void **state)
{
    struct nvt t;
    unsigned i;

    nvt_init_state(&t, state);
    t.mc.mqes = 1; /* two entries: one command at a time */
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_BAD_SQHD, 0, 1, NVME_MODEL_FP_IO);
    (void)read_expect(&t, KEEL_OK);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_sqhd, 1);
    for (i = 0; i < 4; i++)
        (void)read_expect(&t, KEEL_OK);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    nvt_done(&t);
}

/* Regression (found by fuzz_nvme): on a 2-entry SQ a completion whose SQHD did not move (a valid
 * value) and whose status asks for a retry left the retry waiting for SQ room forever: the queue
 * looked full, nothing was in flight to move the head, and the request never completed. */
static void test_retry_on_a_tiny_queue_whose_sq_head_did_not_move_completes(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.mqes = 1; /* two entries: one command at a time */
    nvt_up(&t);
    (void)read_expect(&t, KEEL_OK); /* head and tail at 1 */
    assert_int_equal(t.c->io[0].sq_head, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_BAD_SQHD, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(t.c->io[0].sq_head));
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_STATUS(0, KEEL_NVME_SC_NS_NOT_READY, 0));
    (void)read_expect(&t, KEEL_OK);
    assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_CQE_BAD_SQHD), 1);
    assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_STATUS), 1);
    assert_int_equal(keel_nvme_stats(t.c)->retries, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_sqhd, 0);
    (void)read_expect(&t, KEEL_OK);
    nvt_done(&t);
}

static void test_sq_head_beyond_the_queue_is_ignored(void **state)
{
    bogus_sqhd(state, false);
}
static void test_sq_head_moving_backwards_is_ignored(void **state)
{
    bogus_sqhd(state, true);
}

static void test_completion_naming_another_sq_is_rejected(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_WRONG_SQID, 0, 1, NVME_MODEL_FP_IO);
    (void)read_expect(&t, KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_cqes, 1);
    still_works(&t);
    nvt_done(&t);
}

static void test_io_completion_posted_on_the_admin_queue_is_rejected(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_WRONG_CQ, 0, 1, NVME_MODEL_FP_IO);
    (void)read_expect(&t, KEEL_ETIMEDOUT);
    assert_true(t.c->admin.stats.bad_cqes >= 1);
    assert_true(keel_nvme_stats(t.c)->protocol_errors >= 1);
    still_works(&t);
    nvt_done(&t);
}

static void test_admin_completion_with_a_bad_cid_is_rejected(void **state)
{
    struct nvt t;
    uint32_t dw0 = 0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_CID_INVALID, 0, 1,
                  NVME_MODEL_FP_ADMIN | NVME_MODEL_FP_OPC(KEEL_NVME_ADM_GET_FEATURES) |
                      NVME_MODEL_FP_VALUE(0xfffe));
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0),
                     KEEL_ETIMEDOUT);
    assert_int_equal(t.c->admin.stats.bad_cqes, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0), KEEL_OK);
    still_works(&t);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_MATRIX(test_cid_out_of_range_is_rejected),
        NVT_MATRIX(test_completion_with_a_stale_generation_is_rejected),
        NVT_MATRIX(test_completion_for_an_idle_slot_is_rejected),
        NVT_CASE(test_every_hostile_cid_stays_inside_the_slot_array, p512_d8_translate),
        NVT_CASE(test_every_hostile_cid_stays_inside_the_slot_array, p512_d2_translate),
        NVT_MATRIX(test_duplicated_completion_is_ignored),
        NVT_MATRIX(test_entry_with_the_wrong_phase_is_invisible),
        NVT_MATRIX(test_bogus_sq_head_does_not_wedge_a_tiny_queue),
        NVT_MATRIX(test_retry_on_a_tiny_queue_whose_sq_head_did_not_move_completes),
        NVT_MATRIX(test_sq_head_beyond_the_queue_is_ignored),
        NVT_MATRIX(test_sq_head_moving_backwards_is_ignored),
        NVT_MATRIX(test_completion_naming_another_sq_is_rejected),
        NVT_MATRIX(test_io_completion_posted_on_the_admin_queue_is_rejected),
        NVT_DEFAULT(test_admin_completion_with_a_bad_cid_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
