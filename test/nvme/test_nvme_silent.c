/* SPDX-License-Identifier: MIT */
/*
 * A silent device reaches every wait site of the driver, and every one of them ends with
 * KEEL_ETIMEDOUT within its documented bound: CSTS.RDY on enable and disable, every admin command
 * of bring-up, blocking admin commands, I/O (timeout, abort, reset), the synchronous I/O extras,
 * a submit that can never find room, a split request that can never continue, the reset's disable
 * handshake, and shutdown.
 *
 * "Silent" is the model in MANUAL mode (nothing is ever processed) or a hung command/state.
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

static uint8_t *buf_for(struct nvt *t, uint32_t count)
{
    uint8_t *b = aligned_alloc(4096, ((size_t)count * nvt_bs(t) + 4095u) & ~(size_t)4095u);

    assert_non_null(b);
    return b;
}

static void test_silent_ready_bit_times_out_enable(void **state)
{
    struct nvt t;
    uint64_t t0;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_SET, 0, UINT32_MAX, 0);
    t0 = t.s->now_us;
    assert_int_equal(nvt_attach(&t), KEEL_ETIMEDOUT);
    assert_true(t.s->now_us - t0 < 8000000u); /* CAP.TO = 15 x 500 ms */
    nvt_done(&t);
}

static void test_silent_ready_bit_times_out_disable(void **state)
{
    struct nvt t;
    struct keel_nvme_ctrl *c2 = calloc(1, sizeof(*c2));

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_CLEARS, 0, UINT32_MAX, 0);
    assert_int_equal(keel_nvme_attach(c2, &t.s->hal, &t.cfg), KEEL_ETIMEDOUT);
    free(c2);
    t.attached = false;
    sim_assert_clean(t.s);
    nvt_free(&t);
}

struct step_case {
    uint8_t opc;
    uint32_t skip; /* same opcode used earlier in bring-up */
    enum keel_nvme_init_state where;
};

static const struct step_case steps[] = {
    {KEEL_NVME_ADM_IDENTIFY, 0, KEEL_NVME_INIT_IDENTIFY_CTRL},
    {KEEL_NVME_ADM_SET_FEATURES, 0, KEEL_NVME_INIT_SET_QUEUES},
    {KEEL_NVME_ADM_CREATE_CQ, 0, KEEL_NVME_INIT_CREATE_CQ},
    {KEEL_NVME_ADM_CREATE_SQ, 1, KEEL_NVME_INIT_CREATE_SQ},
    {KEEL_NVME_ADM_IDENTIFY, 1, KEEL_NVME_INIT_NS_LIST},
    {KEEL_NVME_ADM_IDENTIFY, 2, KEEL_NVME_INIT_IDENTIFY_NS},
    {KEEL_NVME_ADM_SET_FEATURES, 1, KEEL_NVME_INIT_ASYNC_EVENTS},
};

static void test_every_bring_up_admin_command_times_out(void **state)
{
    unsigned i;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        enum keel_nvme_init_state last = KEEL_NVME_INIT_NONE;
        struct nvt t;
        uint64_t t0;
        int rc;

        nvt_init_state(&t, state);
        nvt_model(&t);
        sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, steps[i].skip, UINT32_MAX,
                      NVME_MODEL_FP_ADMIN | NVME_MODEL_FP_OPC(steps[i].opc));
        assert_int_equal(keel_nvme_init_start(t.c, &t.s->hal, &t.cfg), KEEL_OK);
        t0 = t.s->now_us;
        do {
            last = keel_nvme_init_state(t.c);
            rc = keel_nvme_init_step(t.c);
            sim_advance(t.s, 100);
        } while (rc == KEEL_EAGAIN);
        assert_int_equal(rc, KEEL_ETIMEDOUT);
        assert_int_equal(last, steps[i].where);
        assert_true(t.s->now_us - t0 < t.cfg.admin_timeout_us + 2000000u);
        /* Nothing left mapped or enabled after the failure. */
        assert_false(nvme_model_cc(t.m) & 1u);
        assert_int_equal(t.s->dma_allocs, t.s->dma_frees);
        nvt_done(&t);
    }
}

static void test_silent_device_times_out_io(void **state)
{
    struct nvt t;
    uint8_t *b;
    uint64_t t0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    t0 = t.s->now_us;
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_ETIMEDOUT);
    /* Timeout, unanswered abort, reset whose re-init is unanswered too: the controller failed. */
    assert_true(t.s->now_us - t0 < NVT_TIMEOUT_US + 4u * t.cfg.admin_timeout_us + 2000000u);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_FAILED);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_ENODEV);
    free(b);
    nvt_done(&t);
}

static void test_silent_abort_escalates_to_reset(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    /* The command's completion is lost and the Abort itself is never answered. */
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_LOST, 0, 1, NVME_MODEL_FP_IO);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1,
                  NVME_MODEL_FP_ADMIN | NVME_MODEL_FP_OPC(KEEL_NVME_ADM_ABORT));
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(t.c->aborts_outstanding, 0);
    assert_int_equal(nvme_model_cmds_held(t.m), 0);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_LIVE);
    free(b);
    nvt_done(&t);
}

static void test_lost_abort_completion_is_caught_by_service(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_LOST, 0, 1,
                  NVME_MODEL_FP_ADMIN | NVME_MODEL_FP_OPC(KEEL_NVME_ADM_ABORT));
    /* The abort worked (the command ends) but its own completion never arrives. */
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_ETIMEDOUT);
    assert_int_equal(t.c->aborts_outstanding, 1);
    sim_advance(t.s, 2u * t.cfg.admin_timeout_us);
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(t.c->aborts_outstanding, 0);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_OK);
    free(b);
    nvt_done(&t);
}

static void test_silent_device_times_out_admin_commands(void **state)
{
    struct nvt t;
    uint32_t dw0;
    struct keel_nvme_smart sm;

    nvt_init_state(&t, state);
    nvt_up(&t);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0),
                     KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_smart_log(t.c, &sm), KEEL_ENODEV); /* failed by then */
    nvt_done(&t);
}

static void test_silent_device_times_out_sync_extras(void **state)
{
    struct nvt t;
    struct keel_nvme_range rg = {0, 1};
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_OPC(KEEL_NVME_CMD_COMPARE));
    assert_int_equal(keel_nvme_ns_compare(keel_nvme_ns_find(t.c, 1), 0, 0, 1, b, NVT_TIMEOUT_US),
                     KEEL_ETIMEDOUT);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_OPC(KEEL_NVME_CMD_DSM));
    assert_int_equal(keel_nvme_ns_deallocate(keel_nvme_ns_find(t.c, 1), 0, &rg, 1, NVT_TIMEOUT_US),
                     KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 2);
    free(b);
    nvt_done(&t);
}

static void test_submit_that_never_finds_room_times_out(void **state)
{
    struct nvt t;
    struct nvt_req q[8];
    uint8_t *b;
    unsigned i, slots;

    nvt_init_state(&t, state);
    nvt_up(&t);
    slots = t.p->depth - 1u;
    b = buf_for(&t, slots + 1u);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    for (i = 0; i < slots; i++) {
        nvt_req_init(&t, &q[i], KEEL_BLK_OP_READ, i, 1, b + (size_t)i * nvt_bs(&t));
        q[i].r.timeout_us = 60000000u;
        assert_int_equal(keel_blk_submit(t.bd, &q[i].r), KEEL_OK);
    }
    assert_int_equal(keel_nvme_ns_compare(keel_nvme_ns_find(t.c, 1), 0, 0, 1,
                                          b + (size_t)slots * nvt_bs(&t), 200000),
                     KEEL_ETIMEDOUT);
    nvme_model_set_mode(t.m, NVME_MODEL_IMMEDIATE, 0);
    (void)nvme_model_process(t.m);
    nvt_poll_until(&t, 0, q, slots, 1000000);
    free(b);
    nvt_done(&t);
}

/*
 * The wait in keel_nvme_io_continue(): a split request whose first child completed but whose next
 * child cannot start waits on the queue with nothing in flight, and its own timeout ends that wait.
 * Here the next child cannot be mapped: another request's live mapping (a command the device holds)
 * pins the HAL's bounce space (the sim hands it out bump-wise until every mapping is returned), so
 * dma_map says KEEL_ENOMEM for as long as that request is out. A waiting request always had a child
 * reach the device (submit refuses one that could not start), so exactly that child is expected.
 */
static void test_split_request_that_cannot_continue_times_out(void **state)
{
    const uint32_t timeout = 200000;
    struct nvt t;
    struct nvt_req a, b, extra;
    struct keel_nvme_ns *ns;
    const struct nvme_model_stats *st;
    uint32_t bs, child, n, reads, held_lbas;
    uint64_t blocks, t0;
    size_t room;
    uint8_t *abuf, *bbuf, *fbuf, *want;

    nvt_init_state(&t, state);
    assert_int_equal(t.s->map_mode, SIM_MAP_BOUNCE);
    nvt_up(&t);
    ns = keel_nvme_ns_find(t.c, 1);
    assert_non_null(ns);
    bs = nvt_bs(&t);
    child = ns->child_max_lbas;
    held_lbas = child + 8u; /* two children: a full one and a short one */
    nvt_pattern(nvt_media(&t, 1, 0), (size_t)ns->nsze * bs, 41);
    abuf = buf_for(&t, 1);
    bbuf = buf_for(&t, held_lbas);
    fbuf = buf_for(&t, t.bd->info.max_transfer);
    want = buf_for(&t, held_lbas);

    /* The other request: one block the device fetches and holds, its mapping live. */
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &a, KEEL_BLK_OP_READ, 100, 1, abuf);
    a.r.timeout_us = 60000000u;
    assert_int_equal(keel_blk_submit(t.bd, &a.r), KEEL_OK);
    assert_int_equal(nvme_model_cmds_held(t.m), 1);

    /* Use up the bounce space that mapping pins, leaving room for exactly one full child. */
    room = (size_t)child * bs;
    assert_true(t.s->bounce_size - t.s->bounce_next >= room);
    while (t.s->bounce_size - t.s->bounce_next > room) {
        size_t left = t.s->bounce_size - t.s->bounce_next - room;
        assert_int_equal(left % bs, 0);
        n = left / bs < t.bd->info.max_transfer ? (uint32_t)(left / bs) : t.bd->info.max_transfer;
        assert_int_equal(keel_blk_read(t.bd, 0, 0, n, fbuf, NVT_TIMEOUT_US), KEEL_OK);
    }
    assert_int_equal(t.s->bounce_size - t.s->bounce_next, room);

    /* The split request: its first child runs, its second cannot be mapped, so it waits. */
    st = nvme_model_stats(t.m);
    reads = st->io_cmds[KEEL_NVME_CMD_READ];
    blocks = st->blocks_read;
    memset(bbuf, 0xa5, (size_t)held_lbas * bs);
    nvt_req_init(&t, &b, KEEL_BLK_OP_READ, 200, held_lbas, bbuf);
    b.r.timeout_us = timeout;
    t0 = t.s->now_us;
    assert_int_equal(keel_blk_submit(t.bd, &b.r), KEEL_OK);
    assert_int_equal(b.done_count, 0);
    /* While it waits the queue pushes back. */
    nvt_req_init(&t, &extra, KEEL_BLK_OP_READ, 0, 1, abuf);
    assert_int_equal(keel_blk_submit(t.bd, &extra.r), KEEL_ENOSPC);

    nvt_poll_until(&t, 0, &b, 1, timeout + 100000u);
    assert_int_equal(b.done_count, 1);
    assert_int_equal(b.status, KEEL_ETIMEDOUT);
    assert_true(t.s->now_us - t0 >= timeout);
    /* Only the first child reached the device; the rest of the buffer was never written. */
    assert_int_equal(st->io_cmds[KEEL_NVME_CMD_READ], reads + 1u);
    assert_int_equal(st->blocks_read, blocks + child);
    memcpy(want, nvt_media(&t, 1, 200), room);
    memset(want + room, 0xa5, (size_t)8u * bs);
    assert_memory_equal(bbuf, want, (size_t)held_lbas * bs);
    assert_int_equal(a.done_count, 0);
    assert_int_equal(nvme_model_cmds_held(t.m), 1);

    /* The holder still completes, and afterwards the queue carries the whole request. */
    nvme_model_release_held(t.m);
    nvt_poll_until(&t, 0, &a, 1, 1000000);
    assert_int_equal(a.status, KEEL_OK);
    assert_memory_equal(abuf, nvt_media(&t, 1, 100), bs);
    assert_int_equal(t.s->maps_live, 0);
    memset(bbuf, 0, (size_t)held_lbas * bs);
    assert_int_equal(keel_blk_read(t.bd, 0, 200, held_lbas, bbuf, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(bbuf, nvt_media(&t, 1, 200), (size_t)held_lbas * bs);
    free(want);
    free(fbuf);
    free(bbuf);
    free(abuf);
    nvt_done(&t);
}

static void test_reset_of_a_controller_that_will_not_stop_times_out(void **state)
{
    struct nvt t;
    uint64_t t0;

    nvt_init_state(&t, state);
    t.mc.to = 4; /* 2 s */
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_CLEARS, 0, UINT32_MAX, 0);
    t0 = t.s->now_us;
    assert_int_equal(keel_nvme_reset(t.c), KEEL_ETIMEDOUT);
    assert_true(t.s->now_us - t0 >= 2000000u);
    assert_true(t.s->now_us - t0 < 3000000u);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_FAILED);
    nvt_done(&t);
}

static void test_silent_shutdown_times_out(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_SHUTDOWN_STUCK, 0, UINT32_MAX, 0);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_ETIMEDOUT);
    t.attached = false;
    nvt_done(&t);
}

static void test_silent_device_detach_is_bounded(void **state)
{
    struct nvt t;
    uint64_t t0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    t0 = t.s->now_us;
    assert_int_not_equal(keel_nvme_detach(t.c), KEEL_OK);
    assert_true(t.s->now_us - t0 < 40000000u);
    assert_int_equal(t.s->dma_allocs, t.s->dma_frees);
    t.attached = false;
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_DEFAULT(test_silent_ready_bit_times_out_enable),
        NVT_DEFAULT(test_silent_ready_bit_times_out_disable),
        NVT_DEFAULT(test_every_bring_up_admin_command_times_out),
        NVT_MATRIX(test_silent_device_times_out_io),
        NVT_DEFAULT(test_silent_abort_escalates_to_reset),
        NVT_DEFAULT(test_lost_abort_completion_is_caught_by_service),
        NVT_DEFAULT(test_silent_device_times_out_admin_commands),
        NVT_MATRIX(test_silent_device_times_out_sync_extras),
        NVT_CASE(test_submit_that_never_finds_room_times_out, p512_d8_translate),
        NVT_CASE(test_submit_that_never_finds_room_times_out, p512_d2_translate),
        NVT_CASE(test_split_request_that_cannot_continue_times_out, p512_d64_bounce),
        NVT_CASE(test_split_request_that_cannot_continue_times_out, p4k_d8_bounce),
        NVT_DEFAULT(test_reset_of_a_controller_that_will_not_stop_times_out),
        NVT_DEFAULT(test_silent_shutdown_times_out),
        NVT_DEFAULT(test_silent_device_detach_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
