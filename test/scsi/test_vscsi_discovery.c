/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi discovery against the SCSI target model: the standard topology's shapes (sparse LUNs,
 * a target without REPORT LUNS, a target without LUN 0, an empty CD-ROM, > 256 LUNs in flat
 * space), INQUIRY / VPD / READ CAPACITY / MODE SENSE results, readiness waits, configuration
 * limits honoured, the LUN listing API, disk naming, and every transport and ring format.
 */
#include <stdlib.h>

#include "vst.h"

/* The (target, LUN) -> expected disk name of the standard topology, first scan, built-in table. */
static const struct {
    uint8_t target;
    uint16_t lun;
    const char *name;
} standard_disks[] = {
    {0, 0, "sd0"}, {0, 3, "sd1"}, {0, 7, "sd2"}, {2, 0, "sd3"},
    {3, 0, "sd4"}, {3, 1, "sd5"}, {4, 2, "sd6"}, {5, 0, "sd7"},
};

static void start_standard(struct vst *v)
{
    vst_init_default(v, true);
    assert_int_equal(vst_start(v), KEEL_OK);
}

static struct keel_vscsi_lun *lun_of(struct vst *v, uint8_t target, uint16_t lun)
{
    struct keel_vscsi_lun *e = keel_vscsi_find(v->vs, target, lun);
    assert_non_null(e);
    return e;
}

static void test_scan_finds_the_standard_topology(void **state)
{
    struct vst v;
    unsigned i;

    (void)state;
    start_standard(&v);
    for (i = 0; i < sizeof(standard_disks) / sizeof(standard_disks[0]); i++) {
        struct keel_blkdev *b = vst_disk(&v, standard_disks[i].target, standard_disks[i].lun);
        assert_string_equal(b->info.name, standard_disks[i].name);
        assert_string_equal(b->info.driver, "virtio-scsi");
        assert_ptr_equal(keel_registry_find(&v.reg, standard_disks[i].name), b);
        assert_ptr_equal(keel_vscsi_disk(v.vs, standard_disks[i].name), b);
        assert_int_equal(lun_of(&v, standard_disks[i].target, standard_disks[i].lun)->state,
                         KEEL_VSCSI_LUN_READY);
    }
    /* 8 LUNs before target 5, then target 5 fills the built-in table: 8 of its 300 kept. */
    assert_int_equal(keel_vscsi_lun_count(v.vs), KEEL_CONFIG_VSCSI_MAX_LUNS);
    assert_int_equal(v.vs->stats.luns_dropped, 300u - (KEEL_CONFIG_VSCSI_MAX_LUNS - 8u));
    assert_int_equal(vst_events(&v, KEEL_VSCSI_EV_ADDED), KEEL_CONFIG_VSCSI_MAX_LUNS);
    /* Targets 6..255 answered BAD_TARGET and have nothing in the table. */
    assert_null(keel_vscsi_find(v.vs, 6, 0));
    assert_non_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_REPORT_LUNS, 255, 0));
    assert_int_equal(v.vs->stats.responses[KEEL_VIRTIO_SCSI_S_BAD_TARGET], 250);
    vst_roundtrip(&v, 0, 0, 100, 8, 1);
    vst_finish(&v);
}

static void test_sparse_luns_are_found_with_gaps(void **state)
{
    struct vst v;
    unsigned l;

    (void)state;
    start_standard(&v);
    for (l = 0; l < 8; l++) {
        bool present = l == 0 || l == 3 || l == 7;
        assert_true((keel_vscsi_find(v.vs, 0, (uint16_t)l) != NULL) == present);
    }
    /* Only REPORT LUNS was needed: no INQUIRY went to the gaps. */
    assert_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_INQUIRY, 0, 1));
    assert_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_INQUIRY, 0, 5));
    vst_finish(&v);
}

static void test_more_than_256_luns_use_flat_space_and_a_grown_list(void **state)
{
    struct vst v;
    const struct vscsi_cmd_log *lg;
    struct keel_blkdev *b;

    (void)state;
    vst_init_default(&v, true);
    vst_big_table(&v, 320);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(keel_vscsi_lun_count(v.vs), 308);
    assert_int_equal(v.vs->stats.luns_dropped, 0);
    /* The first allocation holds 31 LUNs; target 5's 300 needed a second REPORT LUNS. */
    assert_true(v.vs->stats.report_luns_grown >= 1);
    b = vst_disk(&v, 5, 299);
    assert_string_equal(b->info.name, "sd306");
    vst_roundtrip(&v, 5, 299, 3, 4, 299);
    lg = vscsi_dev_find(v.d, KEEL_SCSI_OP_WRITE10, 5, 299);
    assert_non_null(lg);
    assert_true(lg->flat);
    vst_roundtrip(&v, 5, 256, 60, 4, 256);
    vst_roundtrip(&v, 5, 255, 0, 1, 255);
    lg = vscsi_dev_find(v.d, KEEL_SCSI_OP_WRITE10, 5, 255);
    assert_non_null(lg);
    assert_false(lg->flat); /* peripheral form below 256 */
    vst_finish(&v);
}

static void test_target_without_report_luns_is_scanned_lun_by_lun(void **state)
{
    struct vst v;

    (void)state;
    start_standard(&v);
    assert_int_equal(v.vs->stats.seq_scans, 1);
    assert_non_null(keel_vscsi_find(v.vs, 3, 0));
    assert_non_null(keel_vscsi_find(v.vs, 3, 1));
    assert_null(keel_vscsi_find(v.vs, 3, 2));
    /* Every LUN of the sequential range was asked, none beyond it. */
    assert_non_null(
        vscsi_dev_find(v.d, KEEL_SCSI_OP_INQUIRY, 3, KEEL_CONFIG_VSCSI_SEQ_SCAN_LUNS - 1));
    assert_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_INQUIRY, 3, KEEL_CONFIG_VSCSI_SEQ_SCAN_LUNS));
    vst_roundtrip(&v, 3, 1, 10, 2, 31);
    vst_finish(&v);
}

static void test_target_without_lun0_keeps_its_other_lun(void **state)
{
    struct vst v;

    (void)state;
    start_standard(&v);
    /* REPORT LUNS lists a phantom LUN 0 (as QEMU); its INQUIRY says "no LUN here". */
    assert_non_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_INQUIRY, 4, 0));
    assert_null(keel_vscsi_find(v.vs, 4, 0));
    assert_string_equal(vst_disk(&v, 4, 2)->info.name, "sd6");
    vst_roundtrip(&v, 4, 2, 1000, 24, 42);
    vst_finish(&v);
}

static void test_empty_cdrom_is_listed_as_no_medium(void **state)
{
    struct keel_vscsi_lun_info info;
    struct vst v;
    unsigned i;
    bool found = false;

    (void)state;
    start_standard(&v);
    for (i = 0; keel_vscsi_lun_info(v.vs, i, &info) == KEEL_OK; i++) {
        if (info.target != 1 || info.lun != 0)
            continue;
        found = true;
        assert_int_equal(info.type, KEEL_SCSI_TYPE_CDROM);
        assert_int_equal(info.state, KEEL_VSCSI_LUN_NO_MEDIUM);
        assert_true(info.removable);
        assert_null(info.blk);
        assert_string_equal(info.name, "");
        assert_string_equal(info.product, "SIM CD-ROM");
        assert_int_equal(info.nblocks, 0);
    }
    assert_true(found);
    assert_string_equal(keel_vscsi_state_name(KEEL_VSCSI_LUN_NO_MEDIUM), "no medium");
    /* A medium arrives: a revalidation finds it ready, listed with its capacity. */
    scsi_model_set_medium(v.sm, 1, 0, 1000);
    assert_int_equal(keel_vscsi_scan_target(v.vs, 1), KEEL_OK);
    assert_int_equal(lun_of(&v, 1, 0)->state, KEEL_VSCSI_LUN_READY);
    assert_int_equal(lun_of(&v, 1, 0)->nblocks, 1000);
    assert_int_equal(lun_of(&v, 1, 0)->block_shift, 11);
    assert_false(lun_of(&v, 1, 0)->has_blk);
    assert_int_equal(vst_events(&v, KEEL_VSCSI_EV_CHANGED), 1);
    vst_finish(&v);
}

static void test_inquiry_and_vpd_data_are_kept(void **state)
{
    static const uint8_t naa[8] = {0x50, 0x00, 0xc5, 0x00, 0x12, 0x34, 0x56, 0x70};
    struct keel_vscsi_lun_info info;
    struct keel_vscsi_lun *e;
    struct vst v;

    (void)state;
    start_standard(&v);
    assert_int_equal(keel_vscsi_lun_info(v.vs, 0, &info), KEEL_OK);
    assert_int_equal(info.target, 0);
    assert_int_equal(info.lun, 0);
    assert_string_equal(info.vendor, "KEEL");
    assert_string_equal(info.product, "SIM DISK");
    assert_string_equal(info.revision, "1.0");
    assert_string_equal(info.serial, "KS0-0");
    assert_string_equal(info.name, "sd0");
    e = lun_of(&v, 0, 0);
    assert_int_equal(e->id_type, KEEL_SCSI_DESIG_NAA);
    assert_int_equal(e->id_len, 8);
    assert_memory_equal(e->id, naa, 8);
    /* B0h: MAXIMUM TRANSFER LENGTH 256, UNMAP limits; B2h: LBPU -> trims allowed. */
    assert_int_equal(e->max_xfer_blocks, 256);
    assert_int_equal(e->max_unmap_lba, 1024);
    assert_int_equal(e->max_unmap_desc, 4);
    assert_true(e->lbpu);
    assert_true(e->blk.info.flags & KEEL_BLK_F_TRIM);
    assert_true(e->blk.info.flags & KEEL_BLK_F_FUA);
    assert_true(e->blk.info.flags & KEEL_BLK_F_FLUSH);
    /* LUN 3: EUI-64 designator, 4096-byte blocks, write protected by MODE SENSE. */
    e = lun_of(&v, 0, 3);
    assert_int_equal(e->id_type, KEEL_SCSI_DESIG_EUI64);
    assert_int_equal(e->blk.info.sector_size, 4096);
    assert_int_equal(e->blk.info.sector_count, 1024);
    assert_true(e->wp);
    assert_true(e->blk.info.flags & KEEL_BLK_F_READ_ONLY);
    assert_false(e->blk.info.flags & KEEL_BLK_F_TRIM); /* no B2h: never UNMAP */
    assert_int_equal(e->id_len, 8);
    /* LUN 7: no DPOFUA; target 2: 4096-byte blocks. */
    assert_false(lun_of(&v, 0, 7)->blk.info.flags & KEEL_BLK_F_FUA);
    assert_int_equal(vst_disk(&v, 2, 0)->info.sector_size, 4096);
    assert_int_equal(vst_disk(&v, 2, 0)->info.sector_count, 2048);
    vst_finish(&v);
}

static void test_read_capacity16_when_the_lba_does_not_fit(void **state)
{
    struct keel_vscsi_lun *e;
    struct vst v;

    (void)state;
    start_standard(&v);
    e = lun_of(&v, 0, 7);
    assert_int_equal(e->nblocks, 1ull << 33);
    assert_true(e->force16);
    assert_int_equal(e->blk.info.sector_count, 1ull << 33);
    assert_non_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_SERVICE_ACTION_IN16, 0, 7));
    assert_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_SERVICE_ACTION_IN16, 0, 0)); /* (10) sufficed */
    vst_finish(&v);
}

static void test_read_capacity16_when_protection_is_on(void **state)
{
    struct scsi_model_lun_cfg c;
    struct vst v;

    (void)state;
    vst_init_default(&v, false);
    scsi_model_lun_cfg_disk(&c, 512, 1000);
    c.prot_en = true;
    assert_int_equal(scsi_model_add_lun(v.sm, 0, 0, &c), 0);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_non_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_SERVICE_ACTION_IN16, 0, 0));
    assert_true(lun_of(&v, 0, 0)->prot_en);
    assert_int_equal(lun_of(&v, 0, 0)->nblocks, 1000);
    vst_roundtrip(&v, 0, 0, 999, 1, 7);
    vst_finish(&v);
}

static void test_sense_and_cdb_sizes_are_written_and_used(void **state)
{
    struct vst v;

    (void)state;
    start_standard(&v);
    assert_true(vscsi_dev_stats(v.d)->size_writes >= 2);
    assert_int_equal(vscsi_dev_sense_size(v.d), KEEL_CONFIG_VSCSI_SENSE_SIZE);
    assert_int_equal(vscsi_dev_cdb_size(v.d), KEEL_CONFIG_VSCSI_CDB_SIZE);
    assert_int_equal(v.vs->cfg.sense_size, KEEL_CONFIG_VSCSI_SENSE_SIZE);
    assert_int_equal(v.vs->hdr_len, 19u + KEEL_CONFIG_VSCSI_CDB_SIZE);
    assert_int_equal(v.vs->resp_len, 12u + KEEL_CONFIG_VSCSI_SENSE_SIZE);
    vst_finish(&v);

    /* A device that ignores the writes keeps 96 / 32: usable, the driver follows it. */
    vst_init_default(&v, true);
    v.dc.ignore_size_writes = true;
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(v.vs->cfg.sense_size, 96);
    assert_int_equal(v.vs->cfg.cdb_size, 32);
    vst_roundtrip(&v, 2, 0, 5, 2, 5);
    vst_finish(&v);
}

static void test_event_buffers_are_posted_at_attach(void **state)
{
    struct vst v;

    (void)state;
    start_standard(&v);
    assert_int_equal(vscsi_dev_event_bufs(v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
    assert_int_equal(v.vs->event_len, 16);
    assert_true(vscsi_dev_features(v.d) & VSCSI_F_HOTPLUG);
    assert_true(vscsi_dev_features(v.d) & VSCSI_F_CHANGE);
    vst_finish(&v);

    /* event_info_size larger than a struct virtio_scsi_event: buffers follow it. */
    vst_init_default(&v, true);
    v.dc.event_info_size = 40;
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(v.vs->event_len, 40);
    vst_finish(&v);
}

static void test_max_target_and_max_lun_bound_the_scan(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    v.dc.max_target = 3;
    v.dc.max_lun = 2;
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(v.vs->cfg.max_target, 3);
    assert_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_REPORT_LUNS, 4, 0));
    assert_null(keel_vscsi_find(v.vs, 4, 2));
    assert_non_null(keel_vscsi_find(v.vs, 0, 0));
    assert_null(keel_vscsi_find(v.vs, 0, 3)); /* LUN 3 > max_lun 2: not probed */
    assert_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_INQUIRY, 0, 3));
    assert_null(vscsi_dev_find(v.d, KEEL_SCSI_OP_INQUIRY, 3, 3)); /* sequential scan bounded */
    vst_finish(&v);
}

static void test_becoming_ready_is_waited_for(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    scsi_model_set_becoming_ready(v.sm, 2, 0, 3);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(lun_of(&v, 2, 0)->state, KEEL_VSCSI_LUN_READY);
    assert_int_equal(scsi_model_lun_stats(v.sm, 2, 0)->not_ready, 3);
    vst_roundtrip(&v, 2, 0, 0, 1, 3);
    vst_finish(&v);
}

static void test_lun_that_never_becomes_ready_is_listed_not_ready(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    scsi_model_set_becoming_ready(v.sm, 2, 0, UINT32_MAX);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(lun_of(&v, 2, 0)->state, KEEL_VSCSI_LUN_NOT_READY);
    assert_false(lun_of(&v, 2, 0)->has_blk);
    /* The wait was bounded by KEEL_CONFIG_VSCSI_READY_TIMEOUT_US, polled every READY_POLL_US. */
    assert_true(scsi_model_lun_stats(v.sm, 2, 0)->not_ready >=
                KEEL_CONFIG_VSCSI_READY_TIMEOUT_US / KEEL_CONFIG_VSCSI_READY_POLL_US / 2u);
    assert_true(scsi_model_lun_stats(v.sm, 2, 0)->not_ready <=
                KEEL_CONFIG_VSCSI_READY_TIMEOUT_US / KEEL_CONFIG_VSCSI_READY_POLL_US + 2u);
    /* The rest of the bus is fine. */
    vst_roundtrip(&v, 3, 0, 0, 1, 30);
    /* Later it becomes ready: a rescan brings the disk. */
    scsi_model_set_becoming_ready(v.sm, 2, 0, 0);
    assert_int_equal(keel_vscsi_scan_target(v.vs, 2), KEEL_OK);
    assert_int_equal(lun_of(&v, 2, 0)->state, KEEL_VSCSI_LUN_READY);
    assert_true(lun_of(&v, 2, 0)->has_blk);
    vst_roundtrip(&v, 2, 0, 7, 1, 4);
    vst_finish(&v);
}

static void test_unit_attentions_during_probing_are_retried(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    scsi_model_set_ua(v.sm, 0, 0, 0x2a, 0x09);
    scsi_model_set_ua(v.sm, 0, 0, 0x29, 0x03);
    scsi_model_set_ua(v.sm, 0, 0, 0x3f, 0x0e);
    scsi_model_set_ua(v.sm, 0, 0, 0x28, 0x00);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(lun_of(&v, 0, 0)->state, KEEL_VSCSI_LUN_READY);
    /* The device reset at attach added 29/00 on every LUN, this one had four more. */
    assert_true(scsi_model_lun_stats(v.sm, 0, 0)->unit_attentions >= 4);
    assert_true(v.vs->stats.unit_attentions >= 4);
    vst_roundtrip(&v, 0, 0, 0, 1, 9);
    vst_finish(&v);
}

static void test_stopped_lun_gets_start_stop_unit(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    scsi_model_set_stopped(v.sm, 3, 1, true);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(scsi_model_lun_stats(v.sm, 3, 1)->start_stops, 1);
    assert_int_equal(lun_of(&v, 3, 1)->state, KEEL_VSCSI_LUN_READY);
    vst_roundtrip(&v, 3, 1, 5, 3, 11);
    vst_finish(&v);
}

static void test_lying_block_length_takes_the_lun_offline(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    sim_fault_arm(v.s, SCSI_MODEL_F_CAPACITY_LIE, 0, UINT32_MAX,
                  SCSI_MODEL_FP_LUN(0, 3) | SCSI_MODEL_FP_VALUE(513));
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(lun_of(&v, 0, 3)->state, KEEL_VSCSI_LUN_OFFLINE);
    assert_false(lun_of(&v, 0, 3)->has_blk);
    assert_true(sim_fault_fired(v.s, SCSI_MODEL_F_CAPACITY_LIE) >= 1);
    vst_roundtrip(&v, 0, 0, 1, 1, 1);
    vst_finish(&v);
}

static void test_lying_report_luns_length_is_contained(void **state)
{
    struct vst v;

    (void)state;
    /* Not a multiple of 8: the list is refused; the target is rescanned once the fault stops. */
    vst_init_default(&v, true);
    vst_big_table(&v, 320);
    sim_fault_arm(v.s, SCSI_MODEL_F_REPORT_LUNS_LIE, 0, UINT32_MAX,
                  SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_VALUE(13));
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_null(keel_vscsi_find(v.vs, 0, 0));
    assert_non_null(keel_vscsi_find(v.vs, 2, 0));
    sim_fault_clear(v.s, SCSI_MODEL_F_REPORT_LUNS_LIE);
    assert_int_equal(keel_vscsi_scan_target(v.vs, 0), KEEL_OK);
    assert_non_null(keel_vscsi_find(v.vs, 0, 7));
    vst_finish(&v);

    /* Huge: the allocation grows to the discovery buffer, then what arrived is used. */
    vst_init_default(&v, true);
    sim_fault_arm(v.s, SCSI_MODEL_F_REPORT_LUNS_LIE, 0, UINT32_MAX,
                  SCSI_MODEL_FP_LUN(0, 0) | SCSI_MODEL_FP_VALUE(0x100000));
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_non_null(keel_vscsi_find(v.vs, 0, 0));
    assert_non_null(keel_vscsi_find(v.vs, 0, 7));
    assert_true(v.vs->stats.luns_dropped >= (0x100000u >> 3) - 3u);
    assert_true(v.vs->stats.report_luns_grown >= 1);
    vst_finish(&v);
}

static void test_lun_listing_matches_the_registry(void **state)
{
    struct keel_vscsi_lun_info info;
    struct vst v;
    unsigned i, disks = 0;

    (void)state;
    start_standard(&v);
    for (i = 0; keel_vscsi_lun_info(v.vs, i, &info) == KEEL_OK; i++) {
        assert_string_equal(keel_vscsi_state_name(info.state),
                            info.type == KEEL_SCSI_TYPE_CDROM ? "no medium" : "ready");
        if (info.blk != NULL) {
            disks++;
            assert_ptr_equal(keel_registry_find(&v.reg, info.name), info.blk);
            assert_int_equal(info.nblocks, info.blk->info.sector_count);
            assert_int_equal(info.block_size, info.blk->info.sector_size);
        }
    }
    assert_int_equal(i, keel_vscsi_lun_count(v.vs));
    assert_int_equal(keel_vscsi_lun_info(v.vs, i, &info), KEEL_ENOENT);
    assert_int_equal(disks, keel_registry_count(&v.reg));
    assert_int_equal(disks, KEEL_CONFIG_VSCSI_MAX_LUNS - 1u); /* all but the CD-ROM */
    vst_finish(&v);
}

static void test_names_start_at_name_base_and_rescans_keep_them(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    v.opts.name_base = 10;
    v.opts.no_scan = true;
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_int_equal(keel_vscsi_lun_count(v.vs), 0);
    assert_int_equal(keel_vscsi_scan(v.vs), KEEL_OK);
    assert_string_equal(vst_disk(&v, 0, 0)->info.name, "sd10");
    assert_string_equal(vst_disk(&v, 4, 2)->info.name, "sd16");
    v.nev = 0;
    assert_int_equal(keel_vscsi_scan(v.vs), KEEL_OK); /* nothing changed: nothing announced */
    assert_int_equal(v.nev, 0);
    assert_string_equal(vst_disk(&v, 4, 2)->info.name, "sd16");
    vst_finish(&v);
}

static void test_refused_hotplug_is_not_negotiated(void **state)
{
    struct vst v;

    (void)state;
    vst_init_default(&v, true);
    v.opts.refuse = KEEL_VIRTIO_BIT(KEEL_VIRTIO_SCSI_F_HOTPLUG);
    assert_int_equal(vst_start(&v), KEEL_OK);
    assert_false(vscsi_dev_features(v.d) & VSCSI_F_HOTPLUG);
    assert_true(vscsi_dev_features(v.d) & VSCSI_F_CHANGE);
    vst_finish(&v);
}

static void test_not_a_scsi_device_is_refused(void **state)
{
    struct vst v;
    struct vmodel_blk_cfg bc;
    struct vmodel_blk *b;
    struct vmodel *m;

    (void)state;
    vst_init_default(&v, false);
    vmodel_blk_cfg_default(&bc);
    m = vmodel_blk_pair_create(v.s, &v.mc, &bc, &b);
    assert_non_null(m);
    assert_int_equal(keel_virtio_pci_probe(&v.vs->vdev, &v.s->hal, v.mc.pci_addr, 0, false),
                     KEEL_OK);
    assert_int_equal(keel_vscsi_attach(v.vs, &v.opts), KEEL_ENODEV);
    vmodel_blk_pair_destroy(m, b);
    sim_assert_clean(v.s);
    vst_teardown(&v);
}

static void discovery_on(enum vmodel_transport t, bool packed, bool irq)
{
    struct vst_params p = {t, packed, irq, SIM_MAP_TRANSLATE, 0, 0};
    struct vst v;

    vst_init(&v, &p, true);
    assert_int_equal(vst_start(&v), KEEL_OK);
    if (t == VMODEL_PCI_MODERN || t == VMODEL_PCI_TRANSITIONAL) {
        /* 1af4:1048 modern, 1af4:1004 transitional (4.1.2.1) */
        assert_int_equal(sim_pci_cfg_get(vmodel_pci_fn(v.m), 0x02, 2),
                         t == VMODEL_PCI_MODERN ? 0x1048 : 0x1004);
    }
    assert_int_equal(keel_vscsi_lun_count(v.vs), KEEL_CONFIG_VSCSI_MAX_LUNS);
    assert_int_equal(keel_virtio_has(&v.vs->vdev, KEEL_VIRTIO_F_RING_PACKED), packed);
    assert_string_equal(vst_disk(&v, 4, 2)->info.name, "sd6");
    vst_roundtrip(&v, 0, 0, 17, 5, (uint32_t)t);
    vst_roundtrip(&v, 2, 0, 9, 3, (uint32_t)t + 100u);
    vst_finish(&v);
}

static void test_discovery_on_every_transport_and_ring(void **state)
{
    (void)state;
    discovery_on(VMODEL_PCI_MODERN, false, false);
    discovery_on(VMODEL_PCI_MODERN, true, false);
    discovery_on(VMODEL_PCI_MODERN, true, true);
    discovery_on(VMODEL_MMIO_V2, false, true);
    discovery_on(VMODEL_MMIO_V2, true, false);
    discovery_on(VMODEL_MMIO_V1, false, false);
    discovery_on(VMODEL_PCI_LEGACY, false, true);
    discovery_on(VMODEL_PCI_TRANSITIONAL, false, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_finds_the_standard_topology),
        cmocka_unit_test(test_sparse_luns_are_found_with_gaps),
        cmocka_unit_test(test_more_than_256_luns_use_flat_space_and_a_grown_list),
        cmocka_unit_test(test_target_without_report_luns_is_scanned_lun_by_lun),
        cmocka_unit_test(test_target_without_lun0_keeps_its_other_lun),
        cmocka_unit_test(test_empty_cdrom_is_listed_as_no_medium),
        cmocka_unit_test(test_inquiry_and_vpd_data_are_kept),
        cmocka_unit_test(test_read_capacity16_when_the_lba_does_not_fit),
        cmocka_unit_test(test_read_capacity16_when_protection_is_on),
        cmocka_unit_test(test_sense_and_cdb_sizes_are_written_and_used),
        cmocka_unit_test(test_event_buffers_are_posted_at_attach),
        cmocka_unit_test(test_max_target_and_max_lun_bound_the_scan),
        cmocka_unit_test(test_becoming_ready_is_waited_for),
        cmocka_unit_test(test_lun_that_never_becomes_ready_is_listed_not_ready),
        cmocka_unit_test(test_unit_attentions_during_probing_are_retried),
        cmocka_unit_test(test_stopped_lun_gets_start_stop_unit),
        cmocka_unit_test(test_lying_block_length_takes_the_lun_offline),
        cmocka_unit_test(test_lying_report_luns_length_is_contained),
        cmocka_unit_test(test_lun_listing_matches_the_registry),
        cmocka_unit_test(test_names_start_at_name_base_and_rescans_keep_them),
        cmocka_unit_test(test_refused_hotplug_is_not_negotiated),
        cmocka_unit_test(test_not_a_scsi_device_is_refused),
        cmocka_unit_test(test_discovery_on_every_transport_and_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
