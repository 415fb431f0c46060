/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi responses, SCSI status and sense: every response code mapped (and retried or not),
 * responses the device never wrote or wrote wrong, BUSY / TASK SET FULL / RESERVATION CONFLICT,
 * every sense path of the retry policy (unit attention, becoming ready, initializing command
 * required, medium error, illegal request, data protect, capacity changed) in fixed and
 * descriptor format, short and lying sense, short transfers and lying residuals.
 */
#include <stdlib.h>
#include <string.h>

#include "vst.h"

static void start(struct vst *v)
{
    vst_init_default(v, true);
    assert_int_equal(vst_start(v), KEEL_OK);
}

static uint64_t read_cmds(struct vst *v, uint8_t target, uint16_t lun)
{
    return scsi_model_lun_stats(v->sm, target, lun)->cmds;
}

/* Read 1 block of (0,0) with the response fault armed `count` times. */
static int read_with_response(struct vst *v, unsigned response, uint32_t count)
{
    uint8_t buf[512];

    sim_fault_arm(v->s, SCSI_MODEL_F_RESPONSE, 0, count,
                  SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_READ10) |
                      SCSI_MODEL_FP_VALUE(response));
    return keel_blk_read(vst_disk(v, 0, 0), 0, 12, 1, buf, 0);
}

static void test_response_codes_map_to_errors(void **state)
{
    static const struct {
        uint8_t response;
        int err;
        bool retried;
    } table[] = {
        {KEEL_VIRTIO_SCSI_S_OVERRUN, KEEL_EPROTO, false},
        {KEEL_VIRTIO_SCSI_S_ABORTED, KEEL_ECANCELED, true},
        {KEEL_VIRTIO_SCSI_S_BAD_TARGET, KEEL_ENODEV, false},
        {KEEL_VIRTIO_SCSI_S_RESET, KEEL_ECANCELED, true},
        {KEEL_VIRTIO_SCSI_S_BUSY, KEEL_EBUSY, true},
        {KEEL_VIRTIO_SCSI_S_TRANSPORT_FAILURE, KEEL_EIO, true},
        {KEEL_VIRTIO_SCSI_S_TARGET_FAILURE, KEEL_EIO, false},
        {KEEL_VIRTIO_SCSI_S_NEXUS_FAILURE, KEEL_EIO, false},
        {KEEL_VIRTIO_SCSI_S_FAILURE, KEEL_EIO, false},
    };
    unsigned i;

    (void)state;
    assert_int_equal(keel_vscsi_response_err(KEEL_VIRTIO_SCSI_S_OK), KEEL_OK);
    assert_int_equal(keel_vscsi_response_err(0x42), KEEL_EPROTO);
    assert_string_equal(keel_vscsi_response_name(KEEL_VIRTIO_SCSI_S_NEXUS_FAILURE),
                        "NEXUS_FAILURE");
    assert_string_equal(keel_vscsi_response_name(0x42), "UNKNOWN");
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct vst v;
        uint64_t before, resp;

        assert_int_equal(keel_vscsi_response_err(table[i].response), table[i].err);
        assert_int_equal(keel_vscsi_response_retriable(table[i].response), table[i].retried);
        /* Once: retriable responses are resent and succeed, the others fail at once. */
        start(&v);
        resp = v.vs->stats.responses[table[i].response];
        before = v.vs->stats.retries;
        assert_int_equal(read_with_response(&v, table[i].response, 1),
                         table[i].retried ? KEEL_OK : table[i].err);
        assert_int_equal(sim_fault_fired(v.s, SCSI_MODEL_F_RESPONSE), 1);
        assert_int_equal(v.vs->stats.retries - before, table[i].retried ? 1u : 0u);
        assert_int_equal(v.vs->stats.responses[table[i].response] - resp, 1);
        if (table[i].response == KEEL_VIRTIO_SCSI_S_BAD_TARGET)
            assert_true(v.vs->stats.rescans > 256u); /* the target was looked at again */
        /* Always: retriable ones give up after KEEL_CONFIG_VSCSI_RETRIES resends. */
        if (table[i].retried) {
            before = read_cmds(&v, 0, 0);
            assert_int_equal(read_with_response(&v, table[i].response, UINT32_MAX), table[i].err);
            assert_int_equal(read_cmds(&v, 0, 0) - before, 1u + KEEL_CONFIG_VSCSI_RETRIES);
            sim_fault_clear(v.s, SCSI_MODEL_F_RESPONSE);
        }
        vst_roundtrip(&v, 0, 0, 40, 2, i); /* the LUN works afterwards */
        vst_finish(&v);
    }
}

static void test_unwritten_or_undefined_response_is_a_protocol_error(void **state)
{
    struct vst v;
    uint8_t buf[512];

    (void)state;
    start(&v);
    sim_fault_arm(v.s, VSCSI_FAULT_RESP_UNWRITTEN, 0, 1, 0);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EPROTO);
    assert_int_equal(v.vs->stats.bad_responses, 1);
    sim_fault_arm(v.s, VSCSI_FAULT_RESP_GARBAGE, 0, 1, 0x7e);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EPROTO);
    /* FUNCTION SUCCEEDED is a control queue answer: on a request queue it is undefined. */
    sim_fault_arm(v.s, VSCSI_FAULT_RESP_GARBAGE, 0, 1, KEEL_VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EPROTO);
    assert_int_equal(v.vs->stats.bad_responses, 3);
    vst_roundtrip(&v, 0, 0, 1, 1, 1);
    vst_finish(&v);
}

static void test_busy_and_task_set_full_are_retried(void **state)
{
    struct vst v;
    uint8_t buf[512];
    uint64_t before;

    (void)state;
    start(&v);
    scsi_model_set_busy(v.sm, 0, 0, 2, KEEL_SCSI_STATUS_BUSY);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_OK);
    scsi_model_set_busy(v.sm, 0, 0, 3, KEEL_SCSI_STATUS_TASK_SET_FULL);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_OK);
    scsi_model_set_busy(v.sm, 0, 0, 1000, KEEL_SCSI_STATUS_BUSY);
    before = read_cmds(&v, 0, 0);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EBUSY);
    assert_int_equal(read_cmds(&v, 0, 0) - before, 1u + KEEL_CONFIG_VSCSI_RETRIES);
    scsi_model_set_busy(v.sm, 0, 0, 0, 0);
    vst_finish(&v);
}

static void test_reservation_conflict_fails_at_once(void **state)
{
    struct vst v;
    uint8_t buf[512];

    (void)state;
    start(&v);
    sim_fault_arm(v.s, SCSI_MODEL_F_STATUS, 0, UINT32_MAX,
                  SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_READ10) |
                      SCSI_MODEL_FP_VALUE(KEEL_SCSI_STATUS_RESERVATION_CONFLICT));
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EBUSY);
    assert_int_equal(sim_fault_fired(v.s, SCSI_MODEL_F_STATUS), 1);
    sim_fault_clear(v.s, SCSI_MODEL_F_STATUS);
    vst_finish(&v);
}

static void test_unit_attention_in_io_is_retried(void **state)
{
    struct vst v;
    uint64_t ua;

    (void)state;
    start(&v);
    ua = v.vs->stats.unit_attentions;
    scsi_model_set_ua(v.sm, 3, 0, 0x29, 0x00);
    scsi_model_set_ua(v.sm, 3, 0, 0x2a, 0x01); /* mode parameters changed */
    vst_roundtrip(&v, 3, 0, 8, 8, 2);
    assert_int_equal(v.vs->stats.unit_attentions - ua, 2);
    assert_int_equal(scsi_model_lun_stats(v.sm, 3, 0)->unit_attentions, 2 + 1); /* + attach */
    vst_finish(&v);
}

static void test_capacity_changed_unit_attention_revalidates(void **state)
{
    struct vst v;
    uint8_t buf[512];

    (void)state;
    vst_init_default(&v, true);
    v.opts.refuse = KEEL_VIRTIO_BIT(KEEL_VIRTIO_SCSI_F_CHANGE); /* no PARAM_CHANGE event */
    assert_int_equal(vst_start(&v), KEEL_OK);
    scsi_model_set_capacity(v.sm, 3, 0, 4096);
    /* The read meets UNIT ATTENTION 2A/09, is resent, and queue 0's poll revalidates. */
    assert_int_equal(keel_blk_read(vst_disk(&v, 3, 0), 0, 0, 1, buf, 0), KEEL_OK);
    vst_service(&v);
    assert_int_equal(vst_disk(&v, 3, 0)->info.sector_count, 4096);
    assert_int_equal(vst_events(&v, KEEL_VSCSI_EV_RESIZED), 1);
    vst_roundtrip(&v, 3, 0, 4000, 96, 3); /* beyond the old end */
    vst_finish(&v);
}

static void test_becoming_ready_is_waited_for_in_io(void **state)
{
    struct vst v;

    (void)state;
    start(&v);
    scsi_model_set_becoming_ready(v.sm, 0, 0, 4);
    vst_roundtrip(&v, 0, 0, 0, 4, 4);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->not_ready, 4);
    assert_int_equal(v.vs->stats.timeouts, 0);
    vst_finish(&v);
}

static void test_not_ready_for_longer_than_the_timeout_fails(void **state)
{
    struct vst v;
    struct keel_blk_req r = {0};
    uint8_t buf[512];

    (void)state;
    start(&v);
    scsi_model_set_becoming_ready(v.sm, 0, 0, UINT32_MAX);
    r.op = KEEL_BLK_OP_READ;
    r.lba = 3;
    r.count = 1;
    r.buf = buf;
    r.timeout_us = 1000000;
    assert_int_equal(keel_blk_execute(vst_disk(&v, 0, 0), &r), KEEL_ETIMEDOUT);
    /* Waiting is not a hang: nothing was with the device, no task management was needed. */
    assert_int_equal(v.vs->stats.aborts, 0);
    assert_int_equal(v.vs->stats.device_resets, 0);
    scsi_model_set_becoming_ready(v.sm, 0, 0, 0);
    vst_roundtrip(&v, 0, 0, 3, 1, 5);
    vst_finish(&v);
}

static void test_manual_intervention_fails_at_once(void **state)
{
    struct vst v;
    uint8_t buf[512];
    uint64_t before;

    (void)state;
    start(&v);
    sim_fault_arm(v.s, SCSI_MODEL_F_NOT_READY, 0, 1,
                  SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_ASC(0x04, 0x03));
    before = read_cmds(&v, 0, 0);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EIO);
    assert_int_equal(read_cmds(&v, 0, 0) - before, 1);
    vst_finish(&v);
}

static void test_initializing_command_required_sends_start_stop_unit(void **state)
{
    struct vst v;

    (void)state;
    start(&v);
    scsi_model_set_stopped(v.sm, 0, 0, true);
    vst_roundtrip(&v, 0, 0, 77, 3, 6);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->start_stops, 1);
    vst_finish(&v);
}

static void test_medium_error_fails_without_retry(void **state)
{
    struct vst v;
    uint8_t buf[20 * 512];
    uint64_t before;

    (void)state;
    start(&v);
    scsi_model_add_bad_block(v.sm, 0, 0, 50, true, true);
    before = read_cmds(&v, 0, 0);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 40, 20, buf, 0), KEEL_EIO);
    assert_int_equal(read_cmds(&v, 0, 0) - before, 1); /* the device already retried */
    /* The failure is logged in words: key and ASC/ASCQ names. */
    assert_non_null(strstr(v.s->last_log, "MEDIUM ERROR"));
    assert_non_null(strstr(v.s->last_log, "(11/00)"));
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->medium_errors, 1);
    vst_fill(buf, sizeof(buf), 7);
    assert_int_equal(keel_blk_write(vst_disk(&v, 0, 0), 0, 45, 10, buf, 0), KEEL_EIO);
    assert_int_equal(scsi_model_lun_stats(v.sm, 0, 0)->medium_errors, 2);
    scsi_model_clear_bad_blocks(v.sm, 0, 0);
    vst_roundtrip(&v, 0, 0, 40, 20, 8);
    vst_finish(&v);
}

static void test_illegal_request_through_pass_through(void **state)
{
    struct vst v;
    uint8_t cdb[KEEL_SCSI_CDB_MAX], buf[4096], status = 0xff;
    uint32_t xfer = 99;
    unsigned n;

    (void)state;
    start(&v);
    /* LBA out of range: 21/00 -> ERANGE */
    n = keel_scsi_cdb_rw10(cdb, false, 9000, 1, 0);
    assert_int_equal(keel_vscsi_command(v.vs, 0, 0, cdb, n, buf, 512, false, 0, &status, &xfer),
                     KEEL_ERANGE);
    assert_int_equal(status, KEEL_SCSI_STATUS_CHECK_CONDITION);
    /* Invalid opcode: 20/00 -> ENOTSUP */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0xc0;
    assert_int_equal(keel_vscsi_command(v.vs, 0, 0, cdb, 6, NULL, 0, false, 0, &status, NULL),
                     KEEL_ENOTSUP);
    /* LUN not supported: 25/00 -> ENODEV */
    n = keel_scsi_cdb_test_unit_ready(cdb);
    assert_int_equal(keel_vscsi_command(v.vs, 0, 1, cdb, n, NULL, 0, false, 0, &status, NULL),
                     KEEL_ENODEV);
    /* Descriptor-format sense (target 2) decodes the same way. */
    n = keel_scsi_cdb_rw10(cdb, false, 5000, 1, 0);
    assert_int_equal(keel_vscsi_command(v.vs, 2, 0, cdb, n, buf, 4096, false, 0, &status, &xfer),
                     KEEL_ERANGE);
    /* A good one: INQUIRY into a caller buffer. */
    n = keel_scsi_cdb_inquiry(cdb, 96);
    assert_int_equal(keel_vscsi_command(v.vs, 0, 0, cdb, n, buf, 96, false, 0, &status, &xfer),
                     KEEL_OK);
    assert_int_equal(status, KEEL_SCSI_STATUS_GOOD);
    assert_int_equal(xfer, 36);
    assert_memory_equal(buf + 8, "KEEL    ", 8);
    vst_finish(&v);
}

static void test_data_protect_makes_the_disk_read_only(void **state)
{
    struct vst v;
    uint8_t buf[512];

    (void)state;
    start(&v);
    scsi_model_set_write_protect(v.sm, 3, 1, true);
    vst_fill(buf, sizeof(buf), 9);
    assert_int_equal(keel_blk_write(vst_disk(&v, 3, 1), 0, 0, 1, buf, 0), KEEL_EROFS);
    vst_service(&v);
    assert_true(vst_disk(&v, 3, 1)->info.flags & KEEL_BLK_F_READ_ONLY);
    assert_int_equal(keel_blk_write(vst_disk(&v, 3, 1), 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(vst_events(&v, KEEL_VSCSI_EV_CHANGED), 1);
    assert_int_equal(keel_blk_read(vst_disk(&v, 3, 1), 0, 0, 1, buf, 0), KEEL_OK);
    vst_finish(&v);
}

static void test_descriptor_sense_drives_the_policy(void **state)
{
    struct vst v;
    uint8_t buf[4096];

    (void)state;
    start(&v);
    /* NOT READY 04/01 in descriptor format must be recognised as "becoming ready" (waited for);
       undecoded it would be a plain retry and run out after KEEL_CONFIG_VSCSI_RETRIES. */
    scsi_model_set_becoming_ready(v.sm, 2, 0, KEEL_CONFIG_VSCSI_RETRIES + 3u);
    assert_int_equal(keel_blk_read(vst_disk(&v, 2, 0), 0, 0, 1, buf, 0), KEEL_OK);
    scsi_model_add_bad_block(v.sm, 2, 0, 7, true, false);
    assert_int_equal(keel_blk_read(vst_disk(&v, 2, 0), 0, 7, 1, buf, 0), KEEL_EIO);
    vst_finish(&v);
}

static void test_missing_short_and_lying_sense_is_bounded(void **state)
{
    struct vst v;
    uint8_t buf[512];

    (void)state;
    start(&v);
    /* CHECK CONDITION without sense: resent (how much moved is unknown), then good. */
    scsi_model_set_ua(v.sm, 0, 0, 0x29, 0x00);
    sim_fault_arm(v.s, SCSI_MODEL_F_SENSE_SHORT, 0, 1, SCSI_MODEL_FP_LUN(0, 0));
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_OK);
    assert_int_equal(sim_fault_fired(v.s, SCSI_MODEL_F_SENSE_SHORT), 1);
    /* Two bytes of sense: too short for a sense key. */
    scsi_model_set_ua(v.sm, 0, 0, 0x29, 0x00);
    sim_fault_arm(v.s, SCSI_MODEL_F_SENSE_SHORT, 0, 1,
                  SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_VALUE(2));
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_OK);
    /* sense_len beyond sense_size: clamped, the real sense still decodes (medium error). */
    scsi_model_add_bad_block(v.sm, 0, 0, 1, true, false);
    sim_fault_arm(v.s, VSCSI_FAULT_SENSE_LEN_LIE, 0, 1, 1000);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EIO);
    assert_int_equal(v.vs->stats.sense_clamped, 1);
    /* ADDITIONAL SENSE LENGTH lying inside the sense data: bounded by what arrived. */
    sim_fault_arm(v.s, SCSI_MODEL_F_SENSE_LEN_LIE, 0, 1, SCSI_MODEL_FP_LUN(0, 0));
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EIO);
    scsi_model_clear_bad_blocks(v.sm, 0, 0);
    vst_finish(&v);
}

static void test_short_transfer_is_never_success(void **state)
{
    struct vst v;
    uint8_t buf[2048];

    (void)state;
    start(&v);
    sim_fault_arm(v.s, SCSI_MODEL_F_DATA_SHORT, 0, 1,
                  SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_READ10) |
                      SCSI_MODEL_FP_VALUE(512));
    vst_roundtrip(&v, 0, 0, 30, 4, 10); /* one short read, resent, then whole */
    assert_int_equal(v.vs->stats.short_transfers, 1);
    sim_fault_arm(v.s, SCSI_MODEL_F_DATA_SHORT, 0, UINT32_MAX,
                  SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_READ10) |
                      SCSI_MODEL_FP_VALUE(512));
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 30, 4, buf, 0), KEEL_EIO);
    assert_int_equal(v.vs->stats.short_transfers, 1u + 1u + KEEL_CONFIG_VSCSI_RETRIES);
    sim_fault_clear(v.s, SCSI_MODEL_F_DATA_SHORT);
    vst_finish(&v);
}

static void test_lying_residual_is_a_protocol_error(void **state)
{
    struct vst v;
    uint8_t buf[512];

    (void)state;
    start(&v);
    sim_fault_arm(v.s, VSCSI_FAULT_RESIDUAL_LIE, 0, 1, 7);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_EPROTO);
    assert_int_equal(v.vs->stats.residual_lies, 1);
    vst_roundtrip(&v, 0, 0, 1, 1, 11);
    vst_finish(&v);
}

static void test_short_inquiry_data_keeps_the_lun_out(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    sim_fault_arm(v.s, SCSI_MODEL_F_DATA_SHORT, 0, UINT32_MAX,
                  SCSI_MODEL_FP_LUN(2, 0) | SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_INQUIRY) |
                      SCSI_MODEL_FP_VALUE(3));
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_null(keel_vscsi_find(v.vs, 2, 0));
    assert_non_null(keel_vscsi_find(v.vs, 3, 0));
    vst_finish(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_codes_map_to_errors),
        cmocka_unit_test(test_unwritten_or_undefined_response_is_a_protocol_error),
        cmocka_unit_test(test_busy_and_task_set_full_are_retried),
        cmocka_unit_test(test_reservation_conflict_fails_at_once),
        cmocka_unit_test(test_unit_attention_in_io_is_retried),
        cmocka_unit_test(test_capacity_changed_unit_attention_revalidates),
        cmocka_unit_test(test_becoming_ready_is_waited_for_in_io),
        cmocka_unit_test(test_not_ready_for_longer_than_the_timeout_fails),
        cmocka_unit_test(test_manual_intervention_fails_at_once),
        cmocka_unit_test(test_initializing_command_required_sends_start_stop_unit),
        cmocka_unit_test(test_medium_error_fails_without_retry),
        cmocka_unit_test(test_illegal_request_through_pass_through),
        cmocka_unit_test(test_data_protect_makes_the_disk_read_only),
        cmocka_unit_test(test_descriptor_sense_drives_the_policy),
        cmocka_unit_test(test_missing_short_and_lying_sense_is_bounded),
        cmocka_unit_test(test_short_transfer_is_never_success),
        cmocka_unit_test(test_lying_residual_is_a_protocol_error),
        cmocka_unit_test(test_short_inquiry_data_keeps_the_lun_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
