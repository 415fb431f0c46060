/* SPDX-License-Identifier: MIT */
/*
 * Shutdown and detach: drain, flush when a volatile write cache is present, delete I/O queues,
 * CC.SHN normal shutdown and a CSTS.SHST wait bounded by RTD3E within [floor, ceiling], then bus
 * mastering off and every DMA buffer returned. Requests still in flight end with KEEL_ECANCELED
 * only once the device can no longer touch them.
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

static uint8_t *buf_for(struct nvt *t, uint32_t count)
{
    uint8_t *b = aligned_alloc(4096, ((size_t)count * nvt_bs(t) + 4095u) & ~(size_t)4095u);

    assert_non_null(b);
    return b;
}

static uint16_t pci_command(struct nvt *t)
{
    uint32_t v = 0;

    assert_int_equal(t->s->hal.ops->pci_cfg_read(t->s->hal.ctx, t->mc.pci, 4, 2, &v), 0);
    return (uint16_t)v;
}

static void test_detach_flushes_deletes_queues_and_shuts_down(void **state)
{
    struct nvt t;
    const struct nvme_model_stats *st;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 4);
    nvt_pattern(b, 4u * nvt_bs(&t), 1);
    assert_int_equal(keel_blk_write(t.bd, 0, 0, 4, b, 0), KEEL_OK);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_OK);
    t.attached = false;
    st = nvme_model_stats(t.m);
    assert_int_equal(st->flushes, 1);
    assert_int_equal(st->writes_since_flush, 0);
    assert_int_equal(st->sq_deleted, 2);
    assert_int_equal(st->cq_deleted, 2);
    assert_int_equal(st->shutdowns_normal, 1);
    assert_int_equal(st->shutdowns_complete, 1);
    assert_int_equal(st->shutdowns_abrupt, 0);
    assert_int_equal(nvme_model_csts(t.m) & KEEL_NVME_CSTS_SHST_MASK, KEEL_NVME_CSTS_SHST_COMPLETE);
    assert_false(pci_command(&t) & KEEL_PCI_CMD_MASTER);
    assert_int_equal(t.s->dma_allocs, t.s->dma_frees);
    assert_true(t.bd->gone);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_DOWN);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_ENODEV);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_OK); /* a second detach is harmless */
    free(b);
    nvt_done(&t);
}

static void test_detach_without_a_write_cache_does_not_flush(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.vwc = false;
    nvt_up(&t);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_OK);
    t.attached = false;
    assert_int_equal(nvme_model_stats(t.m)->flushes, 0);
    assert_int_equal(nvme_model_stats(t.m)->shutdowns_complete, 1);
    nvt_done(&t);
}

static void test_detach_drains_requests_in_flight(void **state)
{
    struct nvt t;
    struct nvt_req q[4];
    uint8_t *b;
    unsigned i;

    nvt_init_state(&t, state);
    nvt_up(&t);
    nvme_model_set_mode(t.m, NVME_MODEL_DEFERRED, 2000);
    b = buf_for(&t, 4);
    nvt_pattern(b, 4u * nvt_bs(&t), 2);
    for (i = 0; i < 4; i++) {
        nvt_req_init(&t, &q[i], KEEL_BLK_OP_WRITE, 40 + i, 1, b + (size_t)i * nvt_bs(&t));
        assert_int_equal(keel_blk_submit(t.bd, &q[i].r), KEEL_OK);
    }
    assert_int_equal(keel_nvme_detach(t.c), KEEL_OK);
    t.attached = false;
    for (i = 0; i < 4; i++) {
        assert_int_equal(q[i].done_count, 1);
        assert_int_equal(q[i].status, KEEL_OK);
    }
    assert_memory_equal(nvt_media(&t, 1, 40), b, 4u * nvt_bs(&t));
    free(b);
    nvt_done(&t);
}

static void test_request_stuck_at_detach_is_cancelled_once_the_device_is_quiet(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    q.r.timeout_us = 30000000u; /* longer than the drain: still in flight at shutdown */
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_OK);
    t.attached = false;
    assert_int_equal(q.done_count, 1);
    assert_int_equal(q.status, KEEL_ECANCELED);
    assert_false(q.pci_cmd_at_done & KEEL_PCI_CMD_MASTER);
    free(b);
    nvt_done(&t);
}

static uint64_t stuck_shutdown(void **state, uint32_t rtd3e_us)
{
    struct nvt t;
    uint64_t t0, spent;

    nvt_init_state(&t, state);
    t.mc.rtd3e_us = rtd3e_us;
    nvt_up(&t);
    assert_int_equal(t.c->rtd3e_us, rtd3e_us);
    sim_fault_arm(t.s, NVME_MODEL_F_SHUTDOWN_STUCK, 0, UINT32_MAX, 0);
    t0 = t.s->now_us;
    assert_int_equal(keel_nvme_detach(t.c), KEEL_ETIMEDOUT);
    spent = t.s->now_us - t0;
    t.attached = false;
    /* It gave up on the shutdown and disabled the controller instead. */
    assert_false(nvme_model_cc(t.m) & 1u);
    assert_false(pci_command(&t) & KEEL_PCI_CMD_MASTER);
    assert_int_equal(t.s->dma_allocs, t.s->dma_frees);
    nvt_done(&t);
    return spent;
}

static void test_stuck_shutdown_waits_at_least_the_floor(void **state)
{
    uint64_t spent = stuck_shutdown(state, 0); /* RTD3E 0, like QEMU */

    assert_true(spent >= KEEL_CONFIG_NVME_SHUTDOWN_MIN_US);
    assert_true(spent < KEEL_CONFIG_NVME_SHUTDOWN_MIN_US + 1000000u);
}

static void test_shutdown_wait_follows_rtd3e(void **state)
{
    uint64_t spent = stuck_shutdown(state, 8000000u);

    assert_true(spent >= 8000000u);
    assert_true(spent < 9000000u);
}

static void test_shutdown_wait_has_a_ceiling(void **state)
{
    uint64_t spent = stuck_shutdown(state, 600000000u); /* 10 minutes claimed */

    assert_true(spent >= KEEL_CONFIG_NVME_SHUTDOWN_MAX_US);
    assert_true(spent < KEEL_CONFIG_NVME_SHUTDOWN_MAX_US + 1000000u);
}

static void test_next_owner_finds_a_clean_controller(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_OK);
    /* The "next OS": enables again from the shut-down state and sees the data. */
    nvt_up(&t);
    b = buf_for(&t, 1);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_OK);
    assert_int_equal(nvme_model_stats(t.m)->enables, 2);
    free(b);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_MATRIX(test_detach_flushes_deletes_queues_and_shuts_down),
        NVT_DEFAULT(test_detach_without_a_write_cache_does_not_flush),
        NVT_MATRIX(test_detach_drains_requests_in_flight),
        NVT_MATRIX(test_request_stuck_at_detach_is_cancelled_once_the_device_is_quiet),
        NVT_DEFAULT(test_stuck_shutdown_waits_at_least_the_floor),
        NVT_DEFAULT(test_shutdown_wait_follows_rtd3e),
        NVT_DEFAULT(test_shutdown_wait_has_a_ceiling),
        NVT_DEFAULT(test_next_owner_finds_a_clean_controller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
