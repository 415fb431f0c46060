/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi task management and timeout escalation: a command the model holds times out; the
 * driver looks at the ring first (lost interrupt), then sends ABORT TASK, LOGICAL UNIT RESET,
 * I_T NEXUS RESET, and finally resets the device, each step only when the previous one did not
 * bring the command back. In every case the request completes only once the device no longer has
 * its command (checked inside the done callback), innocent commands ended by a reset are resent,
 * and the disk works afterwards.
 */
#include <stdlib.h>

#include "vst.h"

#define SHORT_TIMEOUT 200000u /* us */
#define MANY_POLLS    200000u

static void start(struct vst *v, bool irq)
{
    struct vst_params p = {VMODEL_PCI_MODERN, false, irq, SIM_MAP_TRANSLATE, 0, 0};
    vst_init(v, &p, true);
    assert_int_equal(vst_start(v), KEEL_OK);
}

static uint64_t tmfs(struct vst *v, unsigned subtype)
{
    return vscsi_dev_stats(v->d)->tmfs[subtype];
}

/* Submit a one-block read of (0,0) with a short timeout; the model holds it. */
static void submit_held(struct vst *v, struct vst_req *r, uint8_t *buf, uint32_t timeout_us)
{
    vst_req_init(r, v, KEEL_BLK_OP_READ, 0, 21, 1, buf);
    r->r.timeout_us = timeout_us;
    assert_int_equal(keel_blk_submit(vst_disk(v, 0, 0), &r->r), KEEL_OK);
}

/* The request ended with `err`, only after the device had let go of its command. */
static void ended_safely(struct vst *v, struct vst_req *r, int err)
{
    assert_int_equal(vst_wait(v, vst_disk(v, 0, 0), r, MANY_POLLS), err);
    assert_int_equal(r->held_at_done, 0);
    assert_int_equal(r->vq_at_done, 0);
}

static void test_timeout_sends_abort_task(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];

    (void)state;
    start(&v, false);
    scsi_model_hold_next(v.sm, 0, 0, 1);
    submit_held(&v, &r, buf, SHORT_TIMEOUT);
    assert_int_equal(vscsi_dev_held(v.d), 1);
    ended_safely(&v, &r, KEEL_ETIMEDOUT);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK), 1);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 0);
    assert_int_equal(v.vs->stats.aborts, 1);
    assert_int_equal(v.vs->stats.timeouts, 1);
    assert_int_equal(v.vs->stats.device_resets, 0);
    assert_int_equal(vst_disk(&v, 0, 0)->stats[0].timeouts, 1);
    vst_roundtrip(&v, 0, 0, 21, 1, 1);
    vst_finish(&v);
}

static void test_rejected_abort_escalates_to_lun_reset(void **state)
{
    struct vst v;
    struct vst_req r, other;
    uint8_t buf[512], buf2[512];

    (void)state;
    start(&v, false);
    scsi_model_hold_next(v.sm, 0, 0, 2);
    submit_held(&v, &r, buf, SHORT_TIMEOUT);
    /* A second command held on the same LUN, not overdue: the LUN reset ends it, it is resent. */
    vst_req_init(&other, &v, KEEL_BLK_OP_READ, 0, 22, 1, buf2);
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &other.r), KEEL_OK);
    assert_int_equal(vscsi_dev_held(v.d), 2);
    sim_fault_arm(v.s, SCSI_MODEL_F_TMF_FAIL, 0, 1, 0); /* ABORT TASK: FUNCTION REJECTED */
    ended_safely(&v, &r, KEEL_ETIMEDOUT);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK), 1);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 1);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET), 0);
    assert_int_equal(v.vs->stats.tmf_failures, 1);
    assert_int_equal(vst_wait(&v, vst_disk(&v, 0, 0), &other, MANY_POLLS), KEEL_OK);
    assert_true(v.vs->stats.responses[KEEL_VIRTIO_SCSI_S_RESET] >= 2u);
    vst_roundtrip(&v, 0, 0, 21, 2, 2); /* UNIT ATTENTION 29/03 on the way: retried */
    vst_finish(&v);
}

static void test_failed_lun_reset_escalates_to_nexus_reset(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];

    (void)state;
    start(&v, false);
    scsi_model_hold_next(v.sm, 0, 0, 1);
    submit_held(&v, &r, buf, SHORT_TIMEOUT);
    sim_fault_arm(v.s, SCSI_MODEL_F_TMF_FAIL, 0, 2, 0);
    ended_safely(&v, &r, KEEL_ETIMEDOUT);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK), 1);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 1);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET), 1);
    assert_int_equal(v.vs->stats.nexus_resets, 1);
    assert_int_equal(v.vs->stats.device_resets, 0);
    vst_roundtrip(&v, 0, 0, 21, 1, 3);
    vst_finish(&v);
}

static void test_failed_task_management_ends_in_a_device_reset(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];
    uint64_t resets;

    (void)state;
    start(&v, false);
    resets = vmodel_stats(v.m)->device_resets;
    scsi_model_hold_next(v.sm, 0, 0, 1);
    submit_held(&v, &r, buf, SHORT_TIMEOUT);
    sim_fault_arm(v.s, SCSI_MODEL_F_TMF_FAIL, 0, 3, 0);
    ended_safely(&v, &r, KEEL_ETIMEDOUT);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET), 1);
    assert_int_equal(v.vs->stats.device_resets, 1);
    assert_true(vmodel_stats(v.m)->device_resets > resets); /* recovery, then re-initialisation */
    /* The device came back: sizes written again, event buffers posted again, I/O works. */
    assert_int_equal(vscsi_dev_event_bufs(v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
    assert_int_equal(vscsi_dev_sense_size(v.d), KEEL_CONFIG_VSCSI_SENSE_SIZE);
    vst_roundtrip(&v, 0, 0, 21, 1, 4);
    vst_roundtrip(&v, 2, 0, 5, 1, 5);
    vst_finish(&v);
}

static void test_command_never_returned_is_completed_only_after_a_reset(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];

    (void)state;
    start(&v, false);
    /* The device takes the chain and never answers it; it never reaches the SCSI model, so every
       TMF "succeeds" without bringing it back. */
    sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 1u << KEEL_VIRTIO_SCSI_Q_REQUEST);
    submit_held(&v, &r, buf, SHORT_TIMEOUT);
    assert_int_equal(vmodel_inflight(v.m, KEEL_VIRTIO_SCSI_Q_REQUEST), 1);
    ended_safely(&v, &r, KEEL_ETIMEDOUT);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK), 1);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 1);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET), 1);
    assert_int_equal(v.vs->stats.tmf_failures, 0);
    assert_int_equal(v.vs->stats.device_resets, 1);
    vst_roundtrip(&v, 0, 0, 21, 1, 6);
    vst_finish(&v);
}

static void test_tmf_ignored_by_the_device_escalates(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];

    (void)state;
    start(&v, false);
    scsi_model_hold_next(v.sm, 0, 0, 1);
    submit_held(&v, &r, buf, SHORT_TIMEOUT);
    sim_fault_arm(v.s, VSCSI_FAULT_TMF_IGNORE, 0, 1, 0); /* "complete", but nothing aborted */
    ended_safely(&v, &r, KEEL_ETIMEDOUT);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK), 1);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 1);
    assert_int_equal(v.vs->stats.device_resets, 0);
    vst_finish(&v);
}

static void test_tmf_that_never_answers_is_bounded(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];

    (void)state;
    start(&v, false);
    scsi_model_hold_next(v.sm, 0, 0, 1);
    submit_held(&v, &r, buf, SHORT_TIMEOUT);
    sim_fault_arm(v.s, VSCSI_FAULT_TMF_HANG, 0, UINT32_MAX, 0);
    ended_safely(&v, &r, KEEL_ETIMEDOUT);
    assert_int_equal(v.vs->stats.tmf_failures, 3);
    assert_int_equal(v.vs->stats.device_resets, 1);
    sim_fault_clear(v.s, VSCSI_FAULT_TMF_HANG);
    /* The control queue is usable again after the reset. */
    assert_int_equal(keel_vscsi_lun_reset(keel_vscsi_find(v.vs, 0, 0)), KEEL_OK);
    vst_roundtrip(&v, 0, 0, 21, 1, 7);
    vst_finish(&v);
}

static void test_lost_interrupt_is_found_before_any_abort(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];

    (void)state;
    start(&v, true);
    sim_fault_arm(v.s, VMODEL_FAULT_IRQ_LOST, 0, 1, 0);
    vst_req_init(&r, &v, KEEL_BLK_OP_READ, 0, 4, 1, buf);
    r.r.timeout_us = SHORT_TIMEOUT;
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &r.r), KEEL_OK);
    sim_advance(v.s, 2u * SHORT_TIMEOUT); /* nobody polls meanwhile */
    assert_false(r.done);
    assert_int_equal(vst_wait(&v, vst_disk(&v, 0, 0), &r, 10), KEEL_OK);
    assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_IRQ_LOST), 1);
    assert_int_equal(v.vs->stats.aborts, 0);
    assert_int_equal(v.vs->stats.timeouts, 0);
    vst_finish(&v);
}

static void test_task_management_api(void **state)
{
    struct vst v;

    (void)state;
    start(&v, false);
    assert_int_equal(keel_vscsi_lun_reset(keel_vscsi_find(v.vs, 2, 0)), KEEL_OK);
    assert_int_equal(tmfs(&v, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 1);
    assert_int_equal(keel_vscsi_tmf(v.vs, KEEL_VIRTIO_SCSI_T_TMF_QUERY_TASK, 2, 0, 12345), KEEL_OK);
    assert_int_equal(keel_vscsi_tmf(v.vs, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 9, 1),
                     KEEL_ENODEV); /* INCORRECT LUN */
    assert_int_equal(keel_vscsi_tmf(v.vs, KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 9, 0, 0),
                     KEEL_ENODEV); /* BAD TARGET */
    assert_int_equal(keel_vscsi_tmf(v.vs, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 2, 0, 0), KEEL_OK);
    sim_fault_arm(v.s, SCSI_MODEL_F_TMF_FAIL, 0, 1, 0);
    assert_int_equal(keel_vscsi_tmf(v.vs, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK, 2, 0, 77),
                     KEEL_ENOTSUP); /* FUNCTION REJECTED */
    assert_int_equal(keel_vscsi_tmf(v.vs, 99, 2, 0, 0), KEEL_EINVAL);
    assert_int_equal(keel_vscsi_tmf_err(KEEL_VIRTIO_SCSI_S_FUNCTION_SUCCEEDED), KEEL_OK);
    assert_int_equal(keel_vscsi_tmf_err(KEEL_VIRTIO_SCSI_S_BUSY), KEEL_EBUSY);
    assert_int_equal(keel_vscsi_tmf_err(KEEL_VIRTIO_SCSI_S_FAILURE), KEEL_EIO);
    /* The reset's UNIT ATTENTION 29/03 is absorbed by the next command. */
    vst_roundtrip(&v, 2, 0, 1, 1, 8);
    vst_finish(&v);
}

static void test_discovery_command_timeout_is_escalated(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    vst_big_table(&v, 320);
    scsi_model_hold_next(v.sm, 2, 0, 1); /* its INQUIRY hangs */
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(v.vs->stats.aborts, 1);
    assert_null(keel_vscsi_find(v.vs, 2, 0));
    assert_non_null(keel_vscsi_find(v.vs, 3, 0));
    assert_int_equal(vscsi_dev_held(v.d), 0);
    assert_int_equal(keel_vscsi_scan_target(v.vs, 2), KEEL_OK);
    assert_non_null(keel_vscsi_find(v.vs, 2, 0));
    vst_roundtrip(&v, 2, 0, 1, 1, 9);
    vst_finish(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_sends_abort_task),
        cmocka_unit_test(test_rejected_abort_escalates_to_lun_reset),
        cmocka_unit_test(test_failed_lun_reset_escalates_to_nexus_reset),
        cmocka_unit_test(test_failed_task_management_ends_in_a_device_reset),
        cmocka_unit_test(test_command_never_returned_is_completed_only_after_a_reset),
        cmocka_unit_test(test_tmf_ignored_by_the_device_escalates),
        cmocka_unit_test(test_tmf_that_never_answers_is_bounded),
        cmocka_unit_test(test_lost_interrupt_is_found_before_any_abort),
        cmocka_unit_test(test_task_management_api),
        cmocka_unit_test(test_discovery_command_timeout_is_escalated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
