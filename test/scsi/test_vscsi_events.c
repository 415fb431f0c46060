/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi events: hot-plug (TRANSPORT_RESET/RESCAN) of a LUN and of a whole target, removal
 * (TRANSPORT_RESET/REMOVED) with I/O in flight, PARAM_CHANGE (capacity grown and shrunk),
 * EVENTS_MISSED (dropped by the device, or no buffer) leading to a full rescan, events the
 * features do not allow (sense codes then do the job), malformed events, buffers re-posted, and
 * events handled from a poll of queue 0 with interrupts.
 */
#include <stdlib.h>
#include <string.h>

#include "vst.h"

static void start(struct vst *v, bool irq)
{
    struct vst_params p = {VMODEL_PCI_MODERN, false, irq, SIM_MAP_TRANSLATE, 0, 0};
    vst_init(v, &p, false);
    vst_small_topology(v->sm);
}

static void disk_cfg(struct scsi_model_lun_cfg *c, uint64_t nblocks)
{
    scsi_model_lun_cfg_disk(c, 512, nblocks);
    c->power_on_ua = false;
}

static const struct vst_event *last_event(const struct vst *v)
{
    return v->nev ? &v->evlog[v->nev - 1u] : NULL;
}

static void test_hotplugged_lun_becomes_a_disk(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;
    unsigned disks;

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    disks = keel_registry_count(&v.reg);
    v.nev = 0;
    disk_cfg(&c, 2048);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 0, 5, &c), 0);
    vst_service(&v);
    assert_int_equal(v.vs->stats.events, 1);
    assert_non_null(keel_vscsi_find(v.vs, 0, 5));
    assert_int_equal(keel_registry_count(&v.reg), disks + 1u);
    assert_int_equal(vst_events(&v, KEEL_VSCSI_EV_ADDED), 1);
    assert_int_equal(last_event(&v)->target, 0);
    assert_int_equal(last_event(&v)->lun, 5);
    assert_string_equal(last_event(&v)->name, vst_disk(&v, 0, 5)->info.name);
    assert_ptr_equal(keel_registry_find(&v.reg, last_event(&v)->name), vst_disk(&v, 0, 5));
    vst_roundtrip(&v, 0, 5, 2000, 48, 1);
    assert_int_equal(vscsi_dev_event_bufs(v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
    vst_finish(&v);
}

/* The info of the LUN at (target, lun); fails the test when it is not listed. */
static void info_of(struct vst *v, uint8_t target, uint16_t lun, struct keel_vscsi_lun_info *out)
{
    unsigned i;

    for (i = 0; keel_vscsi_lun_info(v->vs, i, out) == KEEL_OK; i++)
        if (out->target == target && out->lun == lun)
            return;
    fail_msg("LUN %u:%u not listed", (unsigned)target, (unsigned)lun);
}

/* A removable disk with a block device loses its medium on a revalidation: the disk stays (no
   capacity, I/O refused) but its geometry does not go: lun_info's block length is still the
   block device's sector size, never 0 (the fuzzer found "disk sd0 with block size 0"). */
static void test_disk_without_medium_keeps_its_block_size(void **state)
{
    struct keel_vscsi_lun_info info;
    struct scsi_model_lun_cfg c;
    struct keel_blkdev *b;
    uint8_t buf[4096];
    struct vst v;

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    scsi_model_lun_cfg_disk(&c, 4096, 300);
    c.power_on_ua = false;
    c.removable = true;
    c.medium_present = true;
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 0, 6, &c), 0);
    vst_service(&v);
    b = vst_disk(&v, 0, 6);
    assert_int_equal(b->info.sector_size, 4096);
    info_of(&v, 0, 6, &info);
    assert_ptr_equal(info.blk, b);
    assert_int_equal(info.block_size, 4096);

    scsi_model_set_medium(v.sm, 0, 6, 0);
    assert_int_equal(keel_vscsi_scan_target(v.vs, 0), KEEL_OK);
    info_of(&v, 0, 6, &info);
    assert_int_equal(info.state, KEEL_VSCSI_LUN_NO_MEDIUM);
    assert_ptr_equal(info.blk, b);
    assert_int_equal(info.nblocks, 0);
    assert_int_equal(b->info.sector_count, 0);
    assert_int_equal(info.block_size, 4096);
    assert_int_equal(info.block_size, b->info.sector_size);
    assert_int_equal(keel_blk_read(b, 0, 0, 1, buf, 0), KEEL_ERANGE);

    /* The medium is back with the same geometry: the same disk, usable again. */
    scsi_model_set_medium(v.sm, 0, 6, 200);
    assert_int_equal(keel_vscsi_scan_target(v.vs, 0), KEEL_OK);
    info_of(&v, 0, 6, &info);
    assert_int_equal(info.state, KEEL_VSCSI_LUN_READY);
    assert_ptr_equal(info.blk, b);
    assert_int_equal(info.nblocks, 200);
    assert_int_equal(info.block_size, 4096);
    assert_int_equal(b->info.sector_count, 200);
    vst_roundtrip(&v, 0, 6, 190, 10, 7);
    vst_finish(&v);
}

static void test_hotplugged_targets_are_scanned(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    disk_cfg(&c, 512);
    /* LUN 0 of a new target: the whole target is scanned (5.6.6.3.1). */
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 6, 0, &c), 0);
    assert_int_equal(scsi_model_add_lun(v.sm, 6, 9, &c), 0); /* found by that scan too */
    /* A new target without LUN 0: that LUN is probed directly. */
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 7, 3, &c), 0);
    vst_service(&v);
    assert_non_null(keel_vscsi_find(v.vs, 6, 0));
    assert_non_null(keel_vscsi_find(v.vs, 6, 9));
    assert_non_null(keel_vscsi_find(v.vs, 7, 3));
    vst_roundtrip(&v, 6, 9, 1, 1, 2);
    vst_roundtrip(&v, 7, 3, 511, 1, 3);
    vst_finish(&v);
}

static void test_removed_lun_fails_its_io_and_is_unregistered(void **state)
{
    struct vst v;
    struct vst_req r;
    uint8_t buf[512];
    struct keel_blkdev *b;
    unsigned disks;
    char name[KEEL_CONFIG_BLK_NAME_MAX];

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    b = vst_disk(&v, 3, 0);
    strcpy(name, b->info.name);
    disks = keel_registry_count(&v.reg);
    scsi_model_hold_next(v.sm, 3, 0, 1);
    vst_req_init(&r, &v, KEEL_BLK_OP_READ, 0, 7, 1, buf);
    assert_int_equal(keel_blk_submit(b, &r.r), KEEL_OK);
    assert_int_equal(vscsi_dev_held(v.d), 1);
    v.nev = 0;
    assert_int_equal(scsi_model_unplug_lun(v.sm, 3, 0), 0);
    assert_int_equal(vst_wait(&v, b, &r, 1000), KEEL_ENODEV);
    assert_int_equal(r.held_at_done, 0);
    vst_service(&v);
    assert_int_equal(keel_vscsi_find(v.vs, 3, 0)->state, KEEL_VSCSI_LUN_GONE);
    assert_true(b->gone);
    assert_int_equal(keel_blk_read(b, 0, 7, 1, buf, 0), KEEL_ENODEV);
    assert_int_equal(keel_registry_count(&v.reg), disks - 1u);
    assert_null(keel_registry_find(&v.reg, name));
    assert_int_equal(vst_events(&v, KEEL_VSCSI_EV_REMOVED), 1);
    assert_int_equal(v.vs->stats.removed, 1);
    /* The other LUN of that target still works. */
    vst_roundtrip(&v, 3, 1, 1, 1, 4);
    vst_finish(&v);
}

static void test_replugged_lun_takes_the_lowest_free_name(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_string_equal(vst_disk(&v, 3, 0)->info.name, "sd3");
    assert_int_equal(scsi_model_unplug_lun(v.sm, 3, 0), 0);
    vst_service(&v);
    assert_null(keel_vscsi_disk(v.vs, "sd3"));
    disk_cfg(&c, 100);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 3, 0, &c), 0);
    vst_service(&v);
    assert_string_equal(vst_disk(&v, 3, 0)->info.name, "sd3");
    assert_int_equal(vst_disk(&v, 3, 0)->info.sector_count, 100);
    assert_false(vst_disk(&v, 3, 0)->gone);
    vst_roundtrip(&v, 3, 0, 99, 1, 5);
    vst_finish(&v);
}

static void test_removed_lun0_rescans_its_target(void **state)
{
    struct vst v;
    uint64_t rescans;

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    rescans = v.vs->stats.rescans;
    assert_int_equal(scsi_model_unplug_lun(v.sm, 2, 0), 0); /* the target's only LUN */
    vst_service(&v);
    assert_int_equal(keel_vscsi_find(v.vs, 2, 0)->state, KEEL_VSCSI_LUN_GONE);
    assert_int_equal(v.vs->stats.rescans, rescans + 1u);
    assert_non_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_REPORT_LUNS, 2, 0));
    vst_finish(&v);
}

static void test_param_change_revalidates_the_capacity(void **state)
{
    struct vst v;
    struct keel_blkdev *b;
    uint8_t buf[512];

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    b = vst_disk(&v, 0, 0);
    v.nev = 0;
    scsi_model_set_capacity(v.sm, 0, 0, 16384);
    vst_service(&v);
    assert_int_equal(b->info.sector_count, 16384);
    assert_int_equal(vst_events(&v, KEEL_VSCSI_EV_RESIZED), 1);
    assert_int_equal(v.vs->stats.resized, 1);
    vst_roundtrip(&v, 0, 0, 16000, 100, 6);
    scsi_model_set_capacity(v.sm, 0, 0, 4096);
    vst_service(&v);
    assert_int_equal(b->info.sector_count, 4096);
    assert_int_equal(keel_blk_read(b, 0, 5000, 1, buf, 0), KEEL_ERANGE);
    assert_int_equal(vst_events(&v, KEEL_VSCSI_EV_RESIZED), 2);
    vst_finish(&v);
}

static void test_dropped_event_means_a_full_rescan(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;
    uint64_t rescans;

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    rescans = v.vs->stats.rescans;
    sim_fault_arm(v.s, SCSI_MODEL_F_EVENT_DROP, 0, 1, 0);
    disk_cfg(&c, 64);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 4, 6, &c), 0); /* its event is lost */
    vst_service(&v);
    assert_int_equal(v.vs->stats.events_missed, 1);
    assert_true(v.vs->stats.rescans >= rescans + 256u);
    assert_non_null(keel_vscsi_find(v.vs, 4, 6));
    vst_roundtrip(&v, 4, 6, 0, 64, 7);
    vst_finish(&v);
}

static void test_events_beyond_the_posted_buffers_are_caught_up(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;
    uint16_t l;

    (void)state;
    start(&v, false);
    vst_big_table(&v, 64);
    assert_int_equal(vst_start(&v), KEEL_OK);
    disk_cfg(&c, 32);
    /* More hot-plugs than event buffers before the driver looks: the device drops the rest. */
    for (l = 1; l <= KEEL_CONFIG_VSCSI_EVENT_BUFS + 3u; l++)
        assert_int_equal(scsi_model_hotplug_lun(v.sm, 2, l, &c), 0);
    vst_service(&v);
    assert_true(vscsi_dev_stats(v.d)->events_dropped >= 3u);
    assert_true(v.vs->stats.events_missed >= 1u);
    for (l = 1; l <= KEEL_CONFIG_VSCSI_EVENT_BUFS + 3u; l++)
        assert_non_null(keel_vscsi_find(v.vs, 2, l));
    assert_int_equal(vscsi_dev_event_bufs(v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
    vst_finish(&v);
}

static void test_without_hotplug_sense_codes_find_new_luns(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;
    uint8_t buf[512];

    (void)state;
    start(&v, false);
    v.opts.refuse = KEEL_VIRTIO_BIT(KEEL_VIRTIO_SCSI_F_HOTPLUG);
    assert_int_equal(vst_start(&v), KEEL_OK);
    disk_cfg(&c, 64);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 0, 5, &c), 0);
    vst_service(&v);
    assert_int_equal(v.vs->stats.events, 0); /* the device may not send it */
    assert_true(vscsi_dev_stats(v.d)->events_filtered >= 1u);
    assert_null(keel_vscsi_find(v.vs, 0, 5));
    /* I/O meets UNIT ATTENTION 3F/0E (REPORTED LUNS DATA HAS CHANGED): the target is rescanned. */
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 0, 1, buf, 0), KEEL_OK);
    vst_service(&v);
    assert_non_null(keel_vscsi_find(v.vs, 0, 5));
    vst_finish(&v);
}

static void test_malformed_events_are_ignored(void **state)
{
    static const uint8_t lun_far[8] = {1, 200, 0, 0, 0, 0, 0, 0};
    static const uint8_t lun_ok[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t lun_bad[8] = {1, 0, 0xc0, 0, 0, 0, 0, 0};
    struct scsi_model_lun_cfg c;
    struct vst v;

    (void)state;
    start(&v, false);
    v.dc.max_target = 10;
    assert_int_equal(vst_start(&v), KEEL_OK);
    vscsi_dev_push_raw_event(v.d, KEEL_VIRTIO_SCSI_T_TRANSPORT_RESET, lun_far,
                             KEEL_VIRTIO_SCSI_EVT_RESET_RESCAN);
    vscsi_dev_push_raw_event(v.d, 0x42, lun_ok, 0);
    vscsi_dev_push_raw_event(v.d, KEEL_VIRTIO_SCSI_T_TRANSPORT_RESET, lun_bad,
                             KEEL_VIRTIO_SCSI_EVT_RESET_REMOVED);
    vscsi_dev_push_raw_event(v.d, KEEL_VIRTIO_SCSI_T_TRANSPORT_RESET, lun_ok, 77);
    vst_service(&v);
    assert_int_equal(v.vs->stats.bad_events, 4);
    disk_cfg(&c, 16);
    sim_fault_arm(v.s, VSCSI_FAULT_EVENT_BAD_LUN, 0, 1, 0);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 1, 4, &c), 0);
    vst_service(&v);
    sim_fault_arm(v.s, VSCSI_FAULT_EVENT_SHORT, 0, 1, 8);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 1, 5, &c), 0);
    vst_service(&v);
    assert_int_equal(v.vs->stats.bad_events, 6);
    assert_null(keel_vscsi_find(v.vs, 1, 4));
    assert_int_equal(keel_vscsi_find(v.vs, 0, 0)->state, KEEL_VSCSI_LUN_READY);
    assert_int_equal(vscsi_dev_event_bufs(v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
    vst_finish(&v);
}

static void test_hard_reset_event_revalidates_the_lun(void **state)
{
    static const uint8_t lun00[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    struct vst v;
    uint64_t before;

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    before = scsi_model_lun_stats(v.sm, 0, 0)->cmds;
    vscsi_dev_push_raw_event(v.d, KEEL_VIRTIO_SCSI_T_TRANSPORT_RESET, lun00,
                             KEEL_VIRTIO_SCSI_EVT_RESET_HARD);
    vst_service(&v);
    assert_true(scsi_model_lun_stats(v.sm, 0, 0)->cmds > before);
    assert_int_equal(v.vs->stats.bad_events, 0);
    vst_finish(&v);
}

static void test_events_are_handled_from_a_queue0_poll(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;
    uint8_t buf[512];

    (void)state;
    start(&v, true);
    assert_int_equal(vst_start(&v), KEEL_OK);
    disk_cfg(&c, 128);
    assert_int_equal(scsi_model_hotplug_lun(v.sm, 3, 2, &c), 0);
    sim_advance(v.s, 10);
    /* No keel_vscsi_service: an ordinary blocking read polls queue 0, which runs it. */
    assert_int_equal(keel_blk_read(vst_disk(&v, 0, 0), 0, 0, 1, buf, 0), KEEL_OK);
    assert_non_null(keel_vscsi_find(v.vs, 3, 2));
    assert_true(keel_vscsi_find(v.vs, 3, 2)->has_blk);
    vst_finish(&v);
}

static void test_many_hotplug_cycles_keep_buffers_posted(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;
    unsigned i;

    (void)state;
    start(&v, false);
    assert_int_equal(vst_start(&v), KEEL_OK);
    disk_cfg(&c, 16);
    for (i = 0; i < 12; i++) {
        assert_int_equal(scsi_model_hotplug_lun(v.sm, 4, 9, &c), 0);
        vst_service(&v);
        assert_true(vst_disk(&v, 4, 9)->info.sector_count == 16);
        assert_int_equal(scsi_model_unplug_lun(v.sm, 4, 9), 0);
        vst_service(&v);
        assert_int_equal(keel_vscsi_find(v.vs, 4, 9)->state, KEEL_VSCSI_LUN_GONE);
    }
    assert_int_equal(v.vs->stats.events, 24);
    assert_int_equal(vscsi_dev_event_bufs(v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
    vst_finish(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotplugged_lun_becomes_a_disk),
        cmocka_unit_test(test_hotplugged_targets_are_scanned),
        cmocka_unit_test(test_removed_lun_fails_its_io_and_is_unregistered),
        cmocka_unit_test(test_replugged_lun_takes_the_lowest_free_name),
        cmocka_unit_test(test_removed_lun0_rescans_its_target),
        cmocka_unit_test(test_param_change_revalidates_the_capacity),
        cmocka_unit_test(test_dropped_event_means_a_full_rescan),
        cmocka_unit_test(test_events_beyond_the_posted_buffers_are_caught_up),
        cmocka_unit_test(test_without_hotplug_sense_codes_find_new_luns),
        cmocka_unit_test(test_malformed_events_are_ignored),
        cmocka_unit_test(test_hard_reset_event_revalidates_the_lun),
        cmocka_unit_test(test_events_are_handled_from_a_queue0_poll),
        cmocka_unit_test(test_many_hotplug_cycles_keep_buffers_posted),
        cmocka_unit_test(test_disk_without_medium_keeps_its_block_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
