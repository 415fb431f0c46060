/* SPDX-License-Identifier: MIT */
/*
 * The virtio device model's faults applied to the virtio-scsi device: protocol violations on the
 * request, control and event queues, DEVICE_NEEDS_RESET in the middle of I/O, a reset that never
 * completes, detach with I/O in flight. The device is an adversary: every misbehaviour must end
 * in an error code and a working (or declared dead) adapter, never in a hang or a corrupt buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "vst.h"

static void start(struct vst *v, enum vmodel_transport t, bool packed, bool irq)
{
    struct vst_params p = {t, packed, irq, SIM_MAP_TRANSLATE, 0, 0};
    vst_init(v, &p, false);
    vst_small_topology(v->sm);
    assert_int_equal(vst_start(v), KEEL_OK);
}

static void protocol_fault_on_request_queue(int fault, enum vmodel_transport t, bool packed)
{
    struct vst v;
    uint8_t buf[512];

    start(&v, t, packed, false);
    sim_fault_arm(v.s, fault, 0, 1, 0);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 10, 1, buf, 0), KEEL_EPROTO);
    assert_int_equal(sim_fault_fired(v.s, fault), 1);
    assert_true(keel_vscsi_vq_stats(v.vs, 0)->violations >= 1u);
    assert_int_equal(v.vs->stats.device_resets, 1);
    vst_roundtrip(&v, 0, 0, 10, 2, (uint32_t)fault);
    vst_roundtrip(&v, 2, 0, 1, 1, 1);
    vst_finish(&v);
}

static void test_used_ring_violations_on_a_request_queue_are_recovered(void **state)
{
    (void)state;
    protocol_fault_on_request_queue(VMODEL_FAULT_USED_ID_OUT_OF_RANGE, VMODEL_PCI_MODERN, false);
    protocol_fault_on_request_queue(VMODEL_FAULT_USED_ID_OUT_OF_RANGE, VMODEL_PCI_MODERN, true);
    protocol_fault_on_request_queue(VMODEL_FAULT_USED_ID_NOT_HEAD, VMODEL_MMIO_V2, false);
    protocol_fault_on_request_queue(VMODEL_FAULT_USED_ID_NOT_HEAD, VMODEL_MMIO_V2, true);
    protocol_fault_on_request_queue(VMODEL_FAULT_USED_LEN_TOO_LONG, VMODEL_PCI_MODERN, false);
    protocol_fault_on_request_queue(VMODEL_FAULT_USED_IDX_JUMP, VMODEL_MMIO_V2, false);
}

static void test_needs_reset_mid_io_resends_the_request(void **state)
{
    unsigned irq;

    (void)state;
    for (irq = 0; irq < 2; irq++) {
        struct vst v;
        uint8_t w[4096];

        start(&v, VMODEL_PCI_MODERN, irq != 0, irq != 0);
        vst_fill(w, sizeof(w), 3);
        sim_fault_arm(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO, 0, 1, 0);
        assert_int_equal(keel_blk_write(vst_disk(&v, 0, 0), 0, 8, 8, w, 0), KEEL_OK);
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO), 1);
        assert_true(vst_media_equals(&v, 0, 0, 8 * 512, w, sizeof(w)));
        assert_int_equal(v.vs->stats.device_resets, 1);
        assert_int_equal(v.vs->stats.resubmits, 1);
        assert_int_equal(vst_disk(&v, 0, 0)->stats[0].retries, 1);
        assert_int_equal(vscsi_dev_event_bufs(v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
        vst_roundtrip(&v, 3, 1, 100, 4, 4);
        vst_finish(&v);
    }
}

static void test_violation_on_the_event_queue_resets_the_device(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false);
    sim_fault_arm(v.s, VMODEL_FAULT_USED_ID_OUT_OF_RANGE, 0, 1, 0);
    scsi_model_lun_cfg_disk(&c, 512, 64);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 0, 4, &c), 0); /* its event is the victim */
    vst_service(&v);
    assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_USED_ID_OUT_OF_RANGE), 1);
    assert_int_equal(v.vs->stats.device_resets, 1);
    assert_int_equal(vscsi_dev_event_bufs(v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
    /* The event was lost with the reset; the unit attention of the hot-plug finds the LUN. */
    vst_roundtrip(&v, 0, 0, 1, 1, 5);
    vst_service(&v);
    assert_non_null(keel_vscsi_find(v.vs, 0, 4));
    vst_finish(&v);
}

static void test_violation_on_the_control_queue_resets_the_device(void **state)
{
    struct vst v;

    (void)state;
    start(&v, VMODEL_MMIO_V2, true, false);
    sim_fault_arm(v.s, VMODEL_FAULT_USED_ID_NOT_HEAD, 0, 1, 0);
    assert_int_equal(keel_vscsi_lun_reset(keel_vscsi_find(v.vs, 0, 0)), KEEL_EPROTO);
    vst_service(&v);
    assert_int_equal(v.vs->stats.device_resets, 1);
    assert_int_equal(keel_vscsi_lun_reset(keel_vscsi_find(v.vs, 0, 0)), KEEL_OK);
    vst_roundtrip(&v, 0, 0, 1, 1, 6);
    vst_finish(&v);
}

static void test_device_that_never_finishes_a_reset_is_abandoned(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false);
    sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 1u << KEEL_VIRTIO_SCSI_Q_REQUEST);
    sim_fault_arm(v.s, VMODEL_FAULT_RESET_STUCK, 0, UINT32_MAX, 0);
    vst_req_init(&r, &v, KEEL_BLK_OP_READ, 0, 1, 1, buf);
    r.r.timeout_us = 100000;
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &r.r), KEEL_OK);
    assert_int_equal(vst_wait(&v, vst_disk(&v, 0, 0), &r, 100000), KEEL_ETIMEDOUT);
    assert_true(v.vs->dead);
    /* Bus mastering is off: the device can no longer reach the buffer it was given. */
    assert_int_equal(sim_pci_cfg_get(vmodel_pci_fn(v.m), 0x04, 2) & 0x4u, 0);
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 1, 1, buf, 0), KEEL_ENODEV);
    assert_int_equal(keel_vscsi_service(v.vs), KEEL_ENODEV);
    assert_int_equal(keel_vscsi_recover(v.vs), KEEL_ENODEV);
    sim_fault_clear(v.s, VMODEL_FAULT_RESET_STUCK);
    vst_finish(&v);
}

static void test_detach_cancels_io_after_the_reset(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];
    unsigned disks;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false);
    disks = keel_registry_count(&v.reg);
    assert_true(disks > 0u);
    scsi_model_hold_next(v.sm, 0, 0, 1);
    vst_req_init(&r, &v, KEEL_BLK_OP_READ, 0, 1, 1, buf);
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &r.r), KEEL_OK);
    keel_vscsi_detach(v.vs);
    assert_true(r.done);
    assert_int_equal(r.status, KEEL_ECANCELED);
    assert_int_equal(r.held_at_done, 0);
    assert_int_equal(keel_registry_count(&v.reg), 0);
    vst_finish(&v);
}

static void test_legacy_interfaces_with_interrupts(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_LEGACY, VMODEL_MMIO_V1,
                                               VMODEL_PCI_TRANSITIONAL};
    unsigned i;

    (void)state;
    for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        struct scsi_model_lun_cfg c;
        struct vst v;

        start(&v, ts[i], false, true);
        assert_true(v.vs->vdev.legacy);
        vst_roundtrip(&v, 0, 0, 5, 16, 10u + i);
        scsi_model_lun_cfg_disk(&c, 512, 64);
        assert_int_equal(scsi_model_hotplug_lun(v.sm, 4, 3, &c), 0);
        vst_service(&v);
        vst_roundtrip(&v, 4, 3, 0, 64, 20u + i);
        scsi_model_set_capacity(v.sm, 4, 3, 128);
        vst_service(&v);
        assert_int_equal(vst_disk(&v, 4, 3)->info.sector_count, 128);
        vst_finish(&v);
    }
}

/* DMA memory is taken at attach only: I/O, events, rescans, escalation and resets use it. */
static void test_no_dma_allocation_after_attach(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];
    unsigned allocs, frees;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, true, true);
    allocs = v.s->dma_allocs;
    frees = v.s->dma_frees;
    vst_roundtrip(&v, 0, 0, 0, 300, 1);
    assert_int_equal(keel_blk_trim(vst_disk(&v, 0, 0), 0, 0, 64, 0), KEEL_OK);
    scsi_model_lun_cfg_disk(&c, 512, 64);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 0, 2, &c), 0);
    vst_service(&v);
    assert_int_equal(keel_vscsi_scan(v.vs), KEEL_OK);
    scsi_model_hold_next(v.sm, 0, 0, 1);
    sim_fault_arm(v.s, SCSI_MODEL_F_TMF_FAIL, 0, 3, 0);
    vst_req_init(&r, &v, KEEL_BLK_OP_READ, 0, 1, 1, buf);
    r.r.timeout_us = 100000;
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &r.r), KEEL_OK);
    assert_int_equal(vst_wait(&v, vst_disk(&v, 0, 0), &r, 100000), KEEL_ETIMEDOUT);
    assert_int_equal(v.vs->stats.device_resets, 1);
    vst_roundtrip(&v, 0, 2, 0, 64, 2);
    assert_int_equal(v.s->dma_allocs, allocs);
    assert_int_equal(v.s->dma_frees, frees);
    vst_finish(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_used_ring_violations_on_a_request_queue_are_recovered),
        cmocka_unit_test(test_needs_reset_mid_io_resends_the_request),
        cmocka_unit_test(test_violation_on_the_event_queue_resets_the_device),
        cmocka_unit_test(test_violation_on_the_control_queue_resets_the_device),
        cmocka_unit_test(test_device_that_never_finishes_a_reset_is_abandoned),
        cmocka_unit_test(test_detach_cancels_io_after_the_reset),
        cmocka_unit_test(test_legacy_interfaces_with_interrupts),
        cmocka_unit_test(test_no_dma_allocation_after_attach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
