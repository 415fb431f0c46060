/* SPDX-License-Identifier: MIT */
/*
 * Bring-up: PCI probe, BAR0, CAP/CC/CSTS handshakes with deadlines from CAP.TO, the steppable
 * state machine, Set Features Number of Queues, queue creation and depth clamping.
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

static void test_attach_exposes_namespace_as_block_device(void **state)
{
    struct nvt t;
    const struct keel_blkdev_info *info;

    nvt_init_state(&t, state);
    nvt_up(&t);
    info = &t.bd->info;
    assert_string_equal(info->name, "nvme0n1");
    assert_string_equal(info->driver, "nvme");
    assert_int_equal(info->sector_size, nvt_bs(&t));
    assert_int_equal(info->sector_count, 8192);
    assert_int_equal(info->queue_count, 2);
    assert_true(info->flags & KEEL_BLK_F_FLUSH);
    assert_true(info->flags & KEEL_BLK_F_TRIM);
    assert_true(info->flags & KEEL_BLK_F_WRITE_ZEROES);
    assert_true(info->flags & KEEL_BLK_F_FUA);
    assert_false(info->flags & KEEL_BLK_F_READ_ONLY);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_LIVE);
    assert_int_equal(keel_nvme_io_queue_entries(t.c), t.p->depth);
    assert_string_equal(t.c->mn, "Keel NVMe model");
    assert_string_equal(t.c->sn, "KEELMODEL0001");
    nvt_done(&t);
}

static void test_init_steps_through_every_state_in_order(void **state)
{
    static const enum keel_nvme_init_state expect[] = {
        KEEL_NVME_INIT_PROBE,         KEEL_NVME_INIT_READ_CAP,     KEEL_NVME_INIT_WAIT_DISABLE,
        KEEL_NVME_INIT_ALLOC,         KEEL_NVME_INIT_ENABLE,       KEEL_NVME_INIT_WAIT_READY,
        KEEL_NVME_INIT_IDENTIFY_CTRL, KEEL_NVME_INIT_SET_QUEUES,   KEEL_NVME_INIT_SETUP_IRQ,
        KEEL_NVME_INIT_CREATE_CQ,     KEEL_NVME_INIT_CREATE_SQ,    KEEL_NVME_INIT_NS_LIST,
        KEEL_NVME_INIT_IDENTIFY_NS,   KEEL_NVME_INIT_ASYNC_EVENTS, KEEL_NVME_INIT_DONE,
    };
    enum keel_nvme_init_state seen[64];
    unsigned nseen = 0, i, k, steps = 0, eagain = 0;
    struct nvt t;
    int rc;

    nvt_init_state(&t, state);
    t.mc.mode = NVME_MODEL_DEFERRED; /* admin commands complete later: steps must return EAGAIN */
    nvt_model(&t);
    assert_int_equal(keel_nvme_init_state(t.c), KEEL_NVME_INIT_NONE);
    assert_int_equal(keel_nvme_init_start(t.c, &t.s->hal, &t.cfg), KEEL_OK);
    /* Nothing touched the device yet. */
    assert_int_equal(nvme_model_stats(t.m)->enables, 0);
    seen[nseen++] = keel_nvme_init_state(t.c);
    do {
        rc = keel_nvme_init_step(t.c);
        steps++;
        if (rc == KEEL_EAGAIN)
            eagain++;
        if (keel_nvme_init_state(t.c) != seen[nseen - 1] && nseen < 64)
            seen[nseen++] = keel_nvme_init_state(t.c);
        sim_advance(t.s, 50);
    } while (rc == KEEL_EAGAIN && steps < 100000);
    assert_int_equal(rc, KEEL_OK);
    assert_true(eagain > 10);
    /* Every expected state appears, in order (CQ/SQ creation repeats per queue pair). */
    for (i = 0, k = 0; i < nseen && k < sizeof(expect) / sizeof(expect[0]); i++)
        if (seen[i] == expect[k])
            k++;
    assert_int_equal(k, sizeof(expect) / sizeof(expect[0]));
    assert_int_equal(nvme_model_stats(t.m)->cq_created, 2);
    assert_int_equal(nvme_model_stats(t.m)->sq_created, 2);
    /* Finished: stepping again keeps returning the result. */
    assert_int_equal(keel_nvme_init_step(t.c), KEEL_OK);
    t.attached = true;
    t.bd = keel_nvme_ns_blkdev(keel_nvme_ns_find(t.c, 1));
    assert_non_null(t.bd);
    nvt_done(&t);
}

static void test_firmware_left_enabled_controller_is_disabled_first(void **state)
{
    struct nvt t;
    struct keel_nvme_ctrl *second;

    nvt_init_state(&t, state);
    nvt_up(&t);
    /* A second owner (a new boot stage) takes over without a detach: CC.EN is still 1. */
    assert_true(nvme_model_cc(t.m) & 1u);
    second = calloc(1, sizeof(*second));
    assert_non_null(second);
    assert_int_equal(keel_nvme_attach(second, &t.s->hal, &t.cfg), KEEL_OK);
    assert_true(nvme_model_stats(t.m)->resets >= 1);
    assert_int_equal(nvme_model_stats(t.m)->enables, 2);
    assert_int_equal(keel_nvme_detach(second), KEEL_OK);
    free(second);
    t.attached = false; /* the first instance's memory is stale now: only the sim is checked */
    sim_assert_clean(t.s);
    nvt_free(&t);
}

/* How long (virtual us) attach spent before failing. */
static uint64_t attach_fails(struct nvt *t, int expect)
{
    uint64_t t0;

    nvt_model(t);
    t0 = t->s->now_us;
    assert_int_equal(nvt_attach(t), expect);
    return t->s->now_us - t0;
}

static void test_cap_to_zero_waits_for_the_floor_not_zero(void **state)
{
    struct nvt t;
    uint64_t spent;

    /* TO = 0 but the controller needs 200 ms: a zero timeout would fail at once. */
    nvt_init_state(&t, state);
    t.mc.to = 0;
    t.mc.enable_us = 200000;
    nvt_up(&t);
    nvt_done(&t);

    /* TO = 0 and RDY never comes: the wait lasts the floor, not forever and not zero. */
    nvt_init_state(&t, state);
    t.mc.to = 0;
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_SET, 0, UINT32_MAX, 0);
    spent = attach_fails(&t, KEEL_ETIMEDOUT);
    assert_true(spent >= KEEL_CONFIG_NVME_READY_TIMEOUT_MIN_US);
    assert_true(spent < KEEL_CONFIG_NVME_READY_TIMEOUT_MIN_US + 1000000u);
    assert_int_equal(keel_nvme_init_state(t.c), KEEL_NVME_INIT_FAILED);
    assert_int_equal(keel_nvme_init_step(t.c), KEEL_ETIMEDOUT);
    nvt_done(&t);
}

static void test_ready_deadline_follows_cap_to(void **state)
{
    struct nvt t;
    uint64_t spent;

    nvt_init_state(&t, state);
    t.mc.to = 6; /* 3 s */
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_SET, 0, UINT32_MAX, 0);
    spent = attach_fails(&t, KEEL_ETIMEDOUT);
    assert_true(spent >= 3000000u);
    assert_true(spent < 3500000u);
    /* The failed bring-up left the controller disabled and returned every DMA buffer. */
    assert_false(nvme_model_cc(t.m) & 1u);
    assert_int_equal(t.s->dma_allocs, t.s->dma_frees);
    nvt_done(&t);
}

static void test_rdy_that_never_clears_times_out_the_disable(void **state)
{
    struct nvt t;
    struct keel_nvme_ctrl *second;
    uint64_t t0;

    nvt_init_state(&t, state);
    t.mc.to = 2; /* 1 s */
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_CLEARS, 0, UINT32_MAX, 0);
    second = calloc(1, sizeof(*second));
    assert_non_null(second);
    t0 = t.s->now_us;
    assert_int_equal(keel_nvme_attach(second, &t.s->hal, &t.cfg), KEEL_ETIMEDOUT);
    assert_true(t.s->now_us - t0 >= 1000000u);
    assert_int_equal(keel_nvme_init_state(second), KEEL_NVME_INIT_FAILED);
    free(second);
    t.attached = false;
    sim_fault_clear(t.s, NVME_MODEL_F_RDY_NEVER_CLEARS);
    sim_assert_clean(t.s);
    nvt_free(&t);
}

static void test_fatal_status_during_enable_fails_with_eio(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CFS_ON_ENABLE, 0, 1, 0);
    (void)attach_fails(&t, KEEL_EIO);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_DOWN);
    nvt_done(&t);
}

static void test_all_ones_registers_mean_device_gone(void **state)
{
    struct nvt t;
    uint64_t spent;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_READ_ALL_ONES, 0, UINT32_MAX, 0);
    spent = attach_fails(&t, KEEL_ENODEV);
    assert_true(spent < 1000u); /* recognised at once, no timeout spent waiting */
    nvt_done(&t);
}

static void test_single_all_ones_read_is_a_glitch_not_a_removal(void **state)
{
    struct nvt t;
    unsigned skip;

    /* A glitch at each of the first register reads in turn: attach always succeeds. */
    for (skip = 0; skip < 12; skip++) {
        nvt_init_state(&t, state);
        nvt_model(&t);
        sim_fault_arm(t.s, NVME_MODEL_F_READ_ALL_ONES, skip, 1, 0);
        nvt_up(&t);
        assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_READ_ALL_ONES), 1);
        nvt_done(&t);
    }
}

static void test_surprise_removed_device_fails_attach(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    nvme_model_surprise_remove(t.m);
    (void)attach_fails(&t, KEEL_ENODEV);
    nvt_done(&t);
}

static void test_controller_without_nvm_command_set_is_refused(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.css_nvm = false;
    (void)attach_fails(&t, KEEL_ENOTSUP);
    nvt_done(&t);
}

static void test_cap_mqes_zero_is_a_protocol_error(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CAP_MQES, 0, UINT32_MAX, NVME_MODEL_FP_VALUE(0));
    (void)attach_fails(&t, KEEL_EPROTO);
    nvt_done(&t);
}

/* Regression (found by fuzz_nvme_init): Create I/O CQ completed with SCT 0 / SC 0 (success) plus
 * CRD, More and DNR set. The step saw a nonzero status field, mapped it to KEEL_OK without moving
 * on, and reissued Create CQ forever. Success is SCT/SC zero: the bring-up goes on. */
static void test_queue_creation_success_with_status_flags_moves_on(void **state)
{
    struct nvt t;
    const struct nvme_model_stats *st;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS_FLAGS, 0, UINT32_MAX,
                  NVME_MODEL_FP_OPC(KEEL_NVME_ADM_CREATE_CQ) | NVME_MODEL_FP_ADMIN |
                      NVME_MODEL_FP_VALUE((1u << 11) | (1u << 13) | (1u << 14)));
    assert_int_equal(nvt_attach(&t), KEEL_OK);
    st = nvme_model_stats(t.m);
    assert_true(keel_nvme_io_queue_count(t.c) >= 1u);
    /* Each queue's Create CQ was sent once and answered with the flags. */
    assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_STATUS_FLAGS),
                     keel_nvme_io_queue_count(t.c));
    assert_int_equal(st->admin_cmds[KEEL_NVME_ADM_CREATE_CQ], keel_nvme_io_queue_count(t.c));
    assert_int_equal(st->cq_created, keel_nvme_io_queue_count(t.c));
    assert_int_equal(st->sq_created, keel_nvme_io_queue_count(t.c));
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_LIVE);
    nvt_done(&t);
}

static void test_queue_depth_is_clamped_to_cap_mqes(void **state)
{
    struct nvt t;
    struct nvme_model_qinfo qi;

    nvt_init_state(&t, state);
    t.mc.mqes = 3; /* 4 entries */
    t.cfg.queue_depth = 64;
    nvt_up(&t);
    assert_int_equal(keel_nvme_io_queue_entries(t.c), 4);
    assert_true(nvme_model_sq_info(t.m, 1, &qi));
    assert_int_equal(qi.size, 4);
    assert_true(nvme_model_cq_info(t.m, 1, &qi));
    assert_int_equal(qi.size, 4);
    nvt_done(&t);
}

static void test_number_of_queues_set_first_and_grant_respected(void **state)
{
    struct nvt t;
    const struct nvme_model_stats *st;
    struct nvme_model_qinfo qi;

    nvt_init_state(&t, state);
    t.mc.max_io_queues = 3;
    t.cfg.io_queues = 4;
    nvt_up(&t);
    st = nvme_model_stats(t.m);
    assert_true(st->nq_set);
    assert_int_equal(keel_nvme_io_queue_count(t.c), 3);
    assert_int_equal(t.bd->info.queue_count, 3);
    assert_int_equal(st->sq_created, 3);
    assert_int_equal(st->cq_created, 3);
    assert_true(nvme_model_sq_info(t.m, 3, &qi));
    assert_false(nvme_model_sq_info(t.m, 4, &qi) && qi.exists);
    nvt_done(&t);
}

static void test_unassigned_bar0_is_placed_from_windows(void **state)
{
    struct nvt t;
    struct keel_pci_windows w;

    nvt_init_state(&t, state);
    t.mc.bar0_addr = 0;
    memset(&w, 0, sizeof(w));
    w.mem32.base = w.mem32.next = 0xc0000000u;
    w.mem32.size = 0x10000000u;
    w.mem64.base = w.mem64.next = 0x8000000000ull;
    w.mem64.size = 0x100000000ull;
    nvt_model(&t);
    /* Without windows an unassigned BAR cannot be used. */
    assert_int_equal(nvt_attach(&t), KEEL_ENODEV);
    t.cfg.windows = &w;
    nvt_up(&t);
    assert_true(nvme_model_bar0(t.m) >= 0x8000000000ull);
    nvt_done(&t);
}

static void test_function_of_another_class_is_not_driven(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.class_rev = 0x01060100u; /* AHCI */
    (void)attach_fails(&t, KEEL_ENODEV);
    nvt_done(&t);
}

static void test_pci_match_recognises_nvme_class(void **state)
{
    struct keel_pci_fn fn = {0};

    (void)state;
    fn.class_code = 1;
    fn.subclass = 8;
    fn.prog_if = 2;
    assert_true(keel_nvme_pci_match(&fn));
    fn.prog_if = 3;
    assert_false(keel_nvme_pci_match(&fn));
    assert_false(keel_nvme_pci_match(NULL));
}

static void test_page_size_follows_mpsmin(void **state)
{
    struct nvt t;
    uint8_t *buf;
    size_t len;

    nvt_init_state(&t, state);
    t.mc.mpsmin = 1; /* 8 KiB minimum */
    nvt_up(&t);
    assert_int_equal(t.c->page_shift, 13);
    assert_int_equal((nvme_model_cc(t.m) >> 7) & 0xfu, 1);
    len = 8u * nvt_bs(&t);
    buf = malloc(len + 8192);
    nvt_pattern(buf, len, 7);
    assert_int_equal(keel_blk_write(t.bd, 0, 3, 8, buf, 0), KEEL_OK);
    assert_memory_equal(nvt_media(&t, 1, 3), buf, len);
    memset(buf, 0, len);
    assert_int_equal(keel_blk_read(t.bd, 1, 3, 8, buf, 0), KEEL_OK);
    assert_memory_equal(nvt_media(&t, 1, 3), buf, len);
    free(buf);
    nvt_done(&t);
}

static void test_bad_arguments_are_refused(void **state)
{
    struct nvt t;
    struct keel_nvme_config bad;

    nvt_init_state(&t, state);
    nvt_model(&t);
    assert_int_equal(keel_nvme_attach(NULL, &t.s->hal, &t.cfg), KEEL_EINVAL);
    assert_int_equal(keel_nvme_attach(t.c, NULL, &t.cfg), KEEL_EINVAL);
    bad = t.cfg;
    bad.queue_depth = KEEL_CONFIG_NVME_IO_QUEUE_DEPTH + 1;
    assert_int_equal(keel_nvme_attach(t.c, &t.s->hal, &bad), KEEL_EINVAL);
    bad = t.cfg;
    bad.io_queues = KEEL_CONFIG_NVME_MAX_IO_QUEUES + 1;
    assert_int_equal(keel_nvme_attach(t.c, &t.s->hal, &bad), KEEL_EINVAL);
    assert_int_equal(keel_nvme_init_step(t.c), KEEL_EINVAL);
    nvt_done(&t);
}

static void test_detach_then_attach_again(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_OK);
    assert_true(t.bd->gone);
    nvt_up(&t);
    assert_false(t.bd->gone);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_MATRIX(test_attach_exposes_namespace_as_block_device),
        NVT_MATRIX(test_init_steps_through_every_state_in_order),
        NVT_DEFAULT(test_firmware_left_enabled_controller_is_disabled_first),
        NVT_DEFAULT(test_cap_to_zero_waits_for_the_floor_not_zero),
        NVT_DEFAULT(test_ready_deadline_follows_cap_to),
        NVT_DEFAULT(test_rdy_that_never_clears_times_out_the_disable),
        NVT_DEFAULT(test_fatal_status_during_enable_fails_with_eio),
        NVT_DEFAULT(test_all_ones_registers_mean_device_gone),
        NVT_DEFAULT(test_single_all_ones_read_is_a_glitch_not_a_removal),
        NVT_DEFAULT(test_surprise_removed_device_fails_attach),
        NVT_DEFAULT(test_controller_without_nvm_command_set_is_refused),
        NVT_DEFAULT(test_cap_mqes_zero_is_a_protocol_error),
        NVT_DEFAULT(test_queue_creation_success_with_status_flags_moves_on),
        NVT_MATRIX(test_queue_depth_is_clamped_to_cap_mqes),
        NVT_DEFAULT(test_number_of_queues_set_first_and_grant_respected),
        NVT_DEFAULT(test_unassigned_bar0_is_placed_from_windows),
        NVT_DEFAULT(test_function_of_another_class_is_not_driven),
        NVT_DEFAULT(test_pci_match_recognises_nvme_class),
        NVT_CASE(test_page_size_follows_mpsmin, p512_d8_translate),
        NVT_CASE(test_page_size_follows_mpsmin, p4k_d64_translate),
        NVT_DEFAULT(test_bad_arguments_are_refused),
        NVT_DEFAULT(test_detach_then_attach_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
