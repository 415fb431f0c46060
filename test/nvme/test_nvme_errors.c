/* SPDX-License-Identifier: MIT */
/*
 * Errors and recovery: status decoding and names, bounded retries of retriable statuses (DNR
 * clear), per-command timeouts and the escalation CSTS -> poll the CQ -> Abort -> reset, in-flight
 * requests failed or resubmitted only once the controller can no longer write their buffers, reset
 * failure, surprise removal, the block layer's recover hook and deferred resets.
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

#define ST(sct, sc) ((uint16_t)(((sct) << 8) | (sc)))
#define DNR         0x4000u

static uint8_t *buf_for(struct nvt *t, uint32_t count)
{
    uint8_t *b = aligned_alloc(4096, ((size_t)count * nvt_bs(t) + 4095u) & ~(size_t)4095u);

    assert_non_null(b);
    return b;
}

static void test_status_fields_are_decoded(void **state)
{
    struct keel_nvme_status st;

    (void)state;
    st = keel_nvme_status_decode((uint16_t)(ST(2, 0x81) | (2u << 11) | (1u << 13) | DNR));
    assert_int_equal(st.sct, 2);
    assert_int_equal(st.sc, 0x81);
    assert_int_equal(st.crd, 2);
    assert_true(st.more);
    assert_true(st.dnr);
    st = keel_nvme_status_decode(ST(0, 0x82));
    assert_int_equal(st.sct, 0);
    assert_int_equal(st.sc, 0x82);
    assert_int_equal(st.crd, 0);
    assert_false(st.more);
    assert_false(st.dnr);
}

static void test_status_maps_to_keel_errors(void **state)
{
    (void)state;
    assert_int_equal(keel_nvme_status_to_err(0), KEEL_OK);
    assert_int_equal(keel_nvme_status_to_err(ST(0, 0x01)), KEEL_ENOTSUP);
    assert_int_equal(keel_nvme_status_to_err(ST(0, 0x02) | DNR), KEEL_EINVAL);
    assert_int_equal(keel_nvme_status_to_err(ST(0, 0x07)), KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_status_to_err(ST(0, 0x08)), KEEL_ECANCELED);
    assert_int_equal(keel_nvme_status_to_err(ST(0, 0x20)), KEEL_EROFS);
    assert_int_equal(keel_nvme_status_to_err(ST(0, 0x80)), KEEL_ERANGE);
    assert_int_equal(keel_nvme_status_to_err(ST(0, 0x82)), KEEL_EBUSY);
    assert_int_equal(keel_nvme_status_to_err(ST(0, 0x06)), KEEL_EIO);
    assert_int_equal(keel_nvme_status_to_err(ST(1, 0x01)), KEEL_EINVAL);
    assert_int_equal(keel_nvme_status_to_err(ST(2, 0x80)), KEEL_EIO);
    assert_int_equal(keel_nvme_status_to_err(ST(2, 0x81)), KEEL_EIO);
    assert_int_equal(keel_nvme_status_to_err(ST(2, 0x85)), KEEL_EBADMSG);
    assert_int_equal(keel_nvme_status_to_err(ST(3, 0x00)), KEEL_EIO);
    assert_int_equal(keel_nvme_status_to_err(ST(7, 0xc0)), KEEL_EIO);
}

static void test_status_codes_have_names(void **state)
{
    (void)state;
    assert_string_equal(keel_nvme_status_name(0), "Successful Completion");
    assert_string_equal(keel_nvme_status_name(ST(2, 0x81) | DNR), "Unrecovered Read Error");
    assert_string_equal(keel_nvme_status_name(ST(2, 0x80)), "Write Fault");
    assert_string_equal(keel_nvme_status_name(ST(0, 0x02)), "Invalid Field in Command");
    assert_string_equal(keel_nvme_status_name(ST(0, 0x82)), "Namespace Not Ready");
    assert_string_equal(keel_nvme_status_name(ST(1, 0x05)),
                        "Asynchronous Event Request Limit Exceeded");
    assert_string_equal(keel_nvme_status_name(ST(7, 0x12)), "Vendor Specific");
    assert_string_equal(keel_nvme_status_name(ST(0, 0x7f)), "Unknown");
    assert_string_equal(keel_nvme_sct_name(2), "Media and Data Integrity Errors");
    assert_string_equal(keel_nvme_sct_name(5), "Reserved");
}

struct fault_case {
    uint8_t sct, sc, opc;
    int err_with_dnr;
};

static const struct fault_case fault_cases[] = {
    {2, 0x81, KEEL_NVME_CMD_READ, KEEL_EIO},    /* unrecovered read error */
    {2, 0x80, KEEL_NVME_CMD_WRITE, KEEL_EIO},   /* write fault */
    {0, 0x02, KEEL_NVME_CMD_READ, KEEL_EINVAL}, /* invalid field */
    {0, 0x82, KEEL_NVME_CMD_WRITE, KEEL_EBUSY}, /* namespace not ready */
};

static int do_io(struct nvt *t, uint8_t opc, uint8_t *b, uint32_t seed)
{
    if (opc == KEEL_NVME_CMD_WRITE) {
        nvt_pattern(b, 2u * nvt_bs(t), seed);
        return keel_blk_write(t->bd, 0, 6, 2, b, NVT_TIMEOUT_US);
    }
    return keel_blk_read(t->bd, 0, 6, 2, b, NVT_TIMEOUT_US);
}

static void test_retriable_status_is_retried_and_succeeds(void **state)
{
    unsigned i;

    for (i = 0; i < sizeof(fault_cases) / sizeof(fault_cases[0]); i++) {
        const struct fault_case *fc = &fault_cases[i];
        struct nvt t;
        uint8_t *b;

        nvt_init_state(&t, state);
        nvt_up(&t);
        b = buf_for(&t, 2);
        sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                      NVME_MODEL_FP_OPC(fc->opc) | NVME_MODEL_FP_STATUS(fc->sct, fc->sc, 0));
        assert_int_equal(do_io(&t, fc->opc, b, i), KEEL_OK);
        assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_STATUS), 1);
        assert_int_equal(nvme_model_stats(t.m)->io_cmds[fc->opc], 2);
        assert_int_equal(keel_nvme_stats(t.c)->retries, 1);
        assert_int_equal(t.bd->stats[0].retries, 1);
        assert_int_equal(t.bd->stats[0].errors, 0);
        if (fc->opc == KEEL_NVME_CMD_WRITE)
            assert_memory_equal(nvt_media(&t, 1, 6), b, 2u * nvt_bs(&t));
        else
            assert_memory_equal(b, nvt_media(&t, 1, 6), 2u * nvt_bs(&t));
        free(b);
        nvt_done(&t);
    }
}

static void test_status_with_dnr_fails_at_once(void **state)
{
    unsigned i;

    for (i = 0; i < sizeof(fault_cases) / sizeof(fault_cases[0]); i++) {
        const struct fault_case *fc = &fault_cases[i];
        struct keel_nvme_status st;
        struct nvt t;
        uint8_t *b;

        nvt_init_state(&t, state);
        nvt_up(&t);
        b = buf_for(&t, 2);
        sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                      NVME_MODEL_FP_OPC(fc->opc) | NVME_MODEL_FP_STATUS(fc->sct, fc->sc, 1));
        assert_int_equal(do_io(&t, fc->opc, b, i), fc->err_with_dnr);
        assert_int_equal(nvme_model_stats(t.m)->io_cmds[fc->opc], 1);
        assert_int_equal(keel_nvme_stats(t.c)->retries, 0);
        assert_int_equal(t.bd->stats[0].errors, 1);
        st = keel_nvme_status_decode(keel_nvme_last_status(t.c, 0));
        assert_int_equal(st.sct, fc->sct);
        assert_int_equal(st.sc, fc->sc);
        assert_true(st.dnr);
        free(b);
        nvt_done(&t);
    }
}

static void test_retries_are_bounded(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, UINT32_MAX,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_STATUS(2, 0x81, 0));
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 2, b, NVT_TIMEOUT_US), KEEL_EIO);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_READ],
                     1 + KEEL_CONFIG_NVME_MAX_RETRIES);
    assert_int_equal(keel_nvme_stats(t.c)->retries, KEEL_CONFIG_NVME_MAX_RETRIES);
    sim_fault_clear(t.s, NVME_MODEL_F_STATUS);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 2, b, NVT_TIMEOUT_US), KEEL_OK);
    free(b);
    nvt_done(&t);
}

static void test_commands_ended_on_purpose_are_not_retried(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_STATUS(0, 0x08, 0));
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 2, b, NVT_TIMEOUT_US), KEEL_ECANCELED);
    assert_int_equal(keel_nvme_stats(t.c)->retries, 0);
    free(b);
    nvt_done(&t);
}

static void test_command_retry_delay_is_honoured(void **state)
{
    struct nvt t;
    uint8_t *b;
    uint64_t t0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    t.c->crdt[0] = 3; /* CRDT1 = 300 ms */
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(ST(0, 0x82) | (1u << 11)));
    t0 = t.s->now_us;
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 2, b, NVT_TIMEOUT_US), KEEL_OK);
    assert_true(t.s->now_us - t0 >= 300000u);
    assert_int_equal(keel_nvme_stats(t.c)->retries, 1);
    free(b);
    nvt_done(&t);
}

static void test_timeout_polls_the_cq_before_aborting(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    t.cfg.irq_mode = KEEL_NVME_IRQ_MSIX;
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_IRQ_LOST, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    /* Interrupt-driven: nobody polls; the interrupt is lost, so nothing completes. */
    sim_advance(t.s, NVT_TIMEOUT_US + 1000);
    assert_int_equal(q.done_count, 0);
    /* A watchdog checks timeouts: the entry is found in the CQ, no abort needed. */
    assert_int_equal(keel_nvme_check_timeouts(t.c, 0), 1);
    assert_int_equal(q.done_count, 1);
    assert_int_equal(q.status, KEEL_OK);
    assert_int_equal(keel_nvme_stats(t.c)->timeouts, 1);
    assert_int_equal(keel_nvme_stats(t.c)->timeouts_polled, 1);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 0);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    free(b);
    nvt_done(&t);
}

static void test_hung_command_is_aborted(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 2, b, NVT_TIMEOUT_US), KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(nvme_model_stats(t.m)->aborts_hit, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    assert_int_equal(t.bd->stats[0].timeouts, 1);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 2, b, NVT_TIMEOUT_US), KEEL_OK);
    free(b);
    nvt_done(&t);
}

static void test_abort_that_does_not_help_escalates_to_reset(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_LOST, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 2, b, NVT_TIMEOUT_US), KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(nvme_model_stats(t.m)->aborts_hit, 0);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(nvme_model_stats(t.m)->resets, 1);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_LIVE);
    assert_int_equal(keel_blk_read(t.bd, 1, 0, 2, b, NVT_TIMEOUT_US), KEEL_OK);
    free(b);
    nvt_done(&t);
}

/* Disabled controller or bus mastering off: the device cannot touch the buffer any more. */
static bool device_quiet(const struct nvt_req *q)
{
    return !(q->cc_at_done & 1u) || !(q->pci_cmd_at_done & KEEL_PCI_CMD_MASTER);
}

static void test_fatal_status_mid_io_resets_and_resubmits_survivors(void **state)
{
    struct nvt t;
    struct nvt_req q[3];
    uint8_t *b;
    unsigned i;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 3);
    nvt_pattern(b, 3u * nvt_bs(&t), 5);
    keel_nvme_batch_begin(t.c, 0);
    for (i = 0; i < 3; i++) {
        nvt_req_init(&t, &q[i], KEEL_BLK_OP_WRITE, 20 + i, 1, b + (size_t)i * nvt_bs(&t));
        q[i].r.timeout_us = i == 0 ? 1000000u : 5000000u;
        assert_int_equal(keel_blk_submit(t.bd, &q[i].r), KEEL_OK);
    }
    sim_fault_arm(t.s, NVME_MODEL_F_CFS_ON_COMMAND, 0, 1, NVME_MODEL_FP_IO);
    keel_nvme_batch_end(t.c, 0);
    assert_true(nvme_model_csts(t.m) & KEEL_NVME_CSTS_CFS);
    nvt_poll_until(&t, 0, q, 3, 20000000);
    assert_int_equal(q[0].status, KEEL_ETIMEDOUT);
    assert_true(device_quiet(&q[0]));
    for (i = 1; i < 3; i++) {
        assert_int_equal(q[i].status, KEEL_OK);
        assert_int_equal(q[i].done_count, 1);
        assert_memory_equal(nvt_media(&t, 1, 20 + i), b + (size_t)i * nvt_bs(&t), nvt_bs(&t));
    }
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 0); /* CFS: straight to reset */
    assert_int_equal(t.bd->stats[0].retries, 2);
    assert_false(nvme_model_csts(t.m) & KEEL_NVME_CSTS_CFS);
    free(b);
    nvt_done(&t);
}

static void test_failed_reset_fails_everything_with_enodev(void **state)
{
    struct nvt t;
    struct nvt_req q[2];
    uint8_t *b;
    unsigned i;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    keel_nvme_batch_begin(t.c, 0);
    for (i = 0; i < 2; i++) {
        nvt_req_init(&t, &q[i], KEEL_BLK_OP_READ, i, 1, b + (size_t)i * nvt_bs(&t));
        q[i].r.timeout_us = i == 0 ? 1000000u : 5000000u;
        assert_int_equal(keel_blk_submit(t.bd, &q[i].r), KEEL_OK);
    }
    sim_fault_arm(t.s, NVME_MODEL_F_CFS_ON_COMMAND, 0, 1, NVME_MODEL_FP_IO);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_SET, 0, UINT32_MAX, 0);
    keel_nvme_batch_end(t.c, 0);
    nvt_poll_until(&t, 0, q, 2, 60000000);
    assert_int_equal(q[0].status, KEEL_ETIMEDOUT);
    assert_int_equal(q[1].status, KEEL_ENODEV);
    for (i = 0; i < 2; i++)
        assert_true(device_quiet(&q[i]));
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_FAILED);
    assert_int_equal(keel_nvme_stats(t.c)->reset_failures, 1);
    assert_true(t.bd->gone);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_ENODEV);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_ENODEV);
    t.attached = false;
    free(b);
    nvt_done(&t);
}

static void test_controller_that_will_not_disable_loses_bus_mastering(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_LOST, 0, 1, NVME_MODEL_FP_IO);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_CLEARS, 0, UINT32_MAX, 0);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    nvt_poll_until(&t, 0, &q, 1, 60000000);
    assert_int_equal(q.status, KEEL_ETIMEDOUT);
    assert_false(q.pci_cmd_at_done & KEEL_PCI_CMD_MASTER);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_FAILED);
    (void)keel_nvme_detach(t.c);
    t.attached = false;
    free(b);
    nvt_done(&t);
}

static void test_surprise_removal_fails_in_flight_requests_with_enodev(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    nvme_model_surprise_remove(t.m);
    nvt_poll_until(&t, 0, &q, 1, 10000000);
    assert_int_equal(q.status, KEEL_ENODEV);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_GONE);
    assert_true(t.bd->gone);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_ENODEV);
    assert_int_equal(keel_nvme_service(t.c), KEEL_ENODEV);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_ENODEV);
    t.attached = false;
    free(b);
    nvt_done(&t);
}

static void test_recover_hook_fails_everything_once_disabled(void **state)
{
    struct nvt t;
    struct nvt_req q[3];
    uint8_t *b;
    unsigned i;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 3);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    for (i = 0; i < 3; i++) {
        nvt_req_init(&t, &q[i], KEEL_BLK_OP_READ, i, 1, b + (size_t)i * nvt_bs(&t));
        assert_int_equal(keel_blk_submit(t.bd, &q[i].r), KEEL_OK);
    }
    nvme_model_set_mode(t.m, NVME_MODEL_IMMEDIATE, 0);
    assert_int_equal(t.bd->ops->recover(t.bd), KEEL_OK);
    for (i = 0; i < 3; i++) {
        assert_int_equal(q[i].done_count, 1);
        assert_int_equal(q[i].status, KEEL_ECANCELED);
        assert_true(device_quiet(&q[i]));
    }
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_LIVE);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 3, b, 0), KEEL_OK);
    free(b);
    nvt_done(&t);
}

static void test_blocking_helper_recovers_when_the_driver_must_not_reset_itself(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    t.cfg.flags = KEEL_NVME_F_DEFERRED_RESET;
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_LOST, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1); /* through the layer's recover hook */
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_OK);
    free(b);
    nvt_done(&t);
}

static void test_deferred_reset_waits_for_service(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;
    unsigned spins = 0;

    nvt_init_state(&t, state);
    t.cfg.flags = KEEL_NVME_F_DEFERRED_RESET;
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_LOST, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    while (!t.c->reset_pending && spins++ < 100000) {
        (void)keel_blk_poll(t.bd, 0, 0);
        sim_advance(t.s, 1000);
    }
    assert_true(t.c->reset_pending);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    assert_int_equal(q.done_count, 0);
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(q.done_count, 1);
    assert_int_equal(q.status, KEEL_ETIMEDOUT);
    assert_true(device_quiet(&q));
    free(b);
    nvt_done(&t);
}

static void test_admin_timeout_resets_before_returning(void **state)
{
    struct nvt t;
    uint32_t dw0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1,
                  NVME_MODEL_FP_OPC(KEEL_NVME_ADM_GET_FEATURES) | NVME_MODEL_FP_ADMIN);
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0),
                     KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(nvme_model_cmds_held(t.m), 0); /* the reset discarded it */
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0), KEEL_OK);
    nvt_done(&t);
}

static void test_explicit_reset_keeps_the_controller_usable(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 4);
    nvt_pattern(b, 4u * nvt_bs(&t), 3);
    assert_int_equal(keel_nvme_reset(t.c), KEEL_OK);
    assert_int_equal(keel_nvme_reset(t.c), KEEL_OK);
    assert_int_equal(keel_blk_write(t.bd, 1, 30, 4, b, 0), KEEL_OK);
    assert_memory_equal(nvt_media(&t, 1, 30), b, 4u * nvt_bs(&t));
    assert_int_equal(nvme_model_aers_outstanding(t.m), 1); /* re-armed */
    assert_int_equal(keel_nvme_stats(t.c)->resets, 2);
    free(b);
    nvt_done(&t);
}

static void test_completion_delayed_within_the_timeout_is_accepted(void **state)
{
    struct nvt t;
    uint8_t *b;
    uint64_t t0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_DELAY, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(NVT_TIMEOUT_US / 2));
    t0 = t.s->now_us;
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_OK);
    assert_true(t.s->now_us - t0 >= NVT_TIMEOUT_US / 2);
    assert_int_equal(keel_nvme_stats(t.c)->timeouts, 0);
    free(b);
    nvt_done(&t);
}

static void test_completion_arriving_during_the_abort_wait_succeeds(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    /* Late, but before the abort gives up: the data is good, so the request succeeds. */
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_DELAY, 0, 1,
                  NVME_MODEL_FP_IO |
                      NVME_MODEL_FP_VALUE(NVT_TIMEOUT_US + t.cfg.admin_timeout_us / 2));
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_OK);
    assert_int_equal(keel_nvme_stats(t.c)->timeouts, 1);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    assert_memory_equal(b, nvt_media(&t, 1, 0), nvt_bs(&t));
    free(b);
    nvt_done(&t);
}

static void test_completion_later_than_the_abort_wait_is_never_used(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_DELAY, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(10u * NVT_TIMEOUT_US));
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    nvt_poll_until(&t, 0, &q, 1, 5u * NVT_TIMEOUT_US);
    assert_int_equal(q.status, KEEL_ETIMEDOUT);
    assert_true(device_quiet(&q));
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    /* Long after: nothing late shows up (the reset discarded it) and nothing completes twice. */
    sim_advance(t.s, 20u * NVT_TIMEOUT_US);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, NVT_TIMEOUT_US), KEEL_OK);
    assert_int_equal(q.done_count, 1);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_cqes, 0);
    free(b);
    nvt_done(&t);
}

static void test_all_ones_glitch_during_escalation_is_not_a_removal(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    sim_advance(t.s, NVT_TIMEOUT_US + 10);
    sim_fault_arm(t.s, NVME_MODEL_F_READ_ALL_ONES, 0, 1, 0); /* the CSTS read of the escalation */
    nvt_poll_until(&t, 0, &q, 1, 5u * NVT_TIMEOUT_US);
    assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_READ_ALL_ONES), 1);
    assert_int_equal(q.status, KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_LIVE);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    free(b);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_fields_are_decoded),
        cmocka_unit_test(test_status_maps_to_keel_errors),
        cmocka_unit_test(test_status_codes_have_names),
        NVT_MATRIX(test_retriable_status_is_retried_and_succeeds),
        NVT_MATRIX(test_status_with_dnr_fails_at_once),
        NVT_MATRIX(test_retries_are_bounded),
        NVT_DEFAULT(test_commands_ended_on_purpose_are_not_retried),
        NVT_DEFAULT(test_command_retry_delay_is_honoured),
        NVT_MATRIX(test_timeout_polls_the_cq_before_aborting),
        NVT_MATRIX(test_hung_command_is_aborted),
        NVT_MATRIX(test_abort_that_does_not_help_escalates_to_reset),
        NVT_MATRIX(test_fatal_status_mid_io_resets_and_resubmits_survivors),
        NVT_MATRIX(test_failed_reset_fails_everything_with_enodev),
        NVT_DEFAULT(test_controller_that_will_not_disable_loses_bus_mastering),
        NVT_MATRIX(test_surprise_removal_fails_in_flight_requests_with_enodev),
        NVT_MATRIX(test_recover_hook_fails_everything_once_disabled),
        NVT_DEFAULT(test_blocking_helper_recovers_when_the_driver_must_not_reset_itself),
        NVT_DEFAULT(test_deferred_reset_waits_for_service),
        NVT_DEFAULT(test_admin_timeout_resets_before_returning),
        NVT_MATRIX(test_explicit_reset_keeps_the_controller_usable),
        NVT_MATRIX(test_completion_delayed_within_the_timeout_is_accepted),
        NVT_MATRIX(test_completion_arriving_during_the_abort_wait_succeeds),
        NVT_MATRIX(test_completion_later_than_the_abort_wait_is_never_used),
        NVT_DEFAULT(test_all_ones_glitch_during_escalation_is_not_a_removal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
