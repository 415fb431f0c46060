/* SPDX-License-Identifier: MIT */
/*
 * Namespaces: the active list and its 1..NN fallback, naming, LBA formats from 512 bytes to beyond
 * 4 KiB, metadata and protection formats refused with a reason, write protection, and identify
 * data that lies (NN, MDTS, LBADS, FLBAS, NLBAF, VER).
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

static void add_ns(struct nvt *t, unsigned i, uint32_t nsid, bool active)
{
    t->mc.ns[i] = t->mc.ns[0];
    t->mc.ns[i].nsid = nsid;
    t->mc.ns[i].active = active;
    t->mc.ns[i].nsze = 1024u + nsid;
}

static void test_every_active_namespace_becomes_a_named_block_device(void **state)
{
    struct nvt t;
    struct keel_nvme_ns *ns;

    nvt_init_state(&t, state);
    t.cfg.index = 2;
    t.mc.nn = 5;
    add_ns(&t, 1, 3, true);
    add_ns(&t, 2, 2, false);
    add_ns(&t, 3, 5, true);
    nvt_up(&t);
    assert_int_equal(keel_nvme_ns_count(t.c), 3);
    assert_string_equal(keel_nvme_ns_blkdev(keel_nvme_ns_at(t.c, 0))->info.name, "nvme2n1");
    assert_string_equal(keel_nvme_ns_blkdev(keel_nvme_ns_at(t.c, 1))->info.name, "nvme2n3");
    assert_string_equal(keel_nvme_ns_blkdev(keel_nvme_ns_at(t.c, 2))->info.name, "nvme2n5");
    assert_null(keel_nvme_ns_find(t.c, 2));
    ns = keel_nvme_ns_find(t.c, 5);
    assert_non_null(ns);
    assert_int_equal(ns->blk.info.sector_count, 1029);
    assert_null(keel_nvme_ns_at(t.c, 3));
    nvt_done(&t);
}

static void test_active_list_unsupported_falls_back_to_scanning_1_to_nn(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.nn = 4;
    t.mc.reject_cns_active_list = true;
    add_ns(&t, 1, 3, true);
    add_ns(&t, 2, 2, false);
    nvt_up(&t);
    assert_int_equal(keel_nvme_ns_count(t.c), 2);
    assert_non_null(keel_nvme_ns_find(t.c, 1));
    assert_non_null(keel_nvme_ns_find(t.c, 3));
    /* Identify: controller, the refused list, then nsid 1, 2, 3, 4. */
    assert_int_equal(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_IDENTIFY], 2 + 4);
    nvt_done(&t);
}

static void test_huge_nn_scan_is_bounded(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.reject_cns_active_list = true;
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_ID_NN_HUGE, 0, UINT32_MAX, 0);
    nvt_up(&t);
    assert_int_equal(t.c->nn, 0xffffffffu);
    assert_int_equal(keel_nvme_ns_count(t.c), 1);
    assert_true(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_IDENTIFY] <=
                2 + KEEL_CONFIG_NVME_NS_SCAN_MAX);
    nvt_done(&t);
}

static void test_huge_nn_with_active_list_uses_the_list(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_ID_NN_HUGE, 0, UINT32_MAX, 0);
    nvt_up(&t);
    assert_int_equal(keel_nvme_ns_count(t.c), 1);
    assert_int_equal(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_IDENTIFY], 3);
    nvt_done(&t);
}

static void test_namespaces_beyond_the_configured_maximum_are_ignored(void **state)
{
    struct nvt t;
    unsigned i;

    nvt_init_state(&t, state);
    t.mc.nn = KEEL_CONFIG_NVME_MAX_NAMESPACES + 2;
    for (i = 1; i < KEEL_CONFIG_NVME_MAX_NAMESPACES + 2; i++)
        add_ns(&t, i, i + 1, true);
    nvt_up(&t);
    assert_int_equal(keel_nvme_ns_count(t.c), KEEL_CONFIG_NVME_MAX_NAMESPACES);
    nvt_done(&t);
}

static void expect_refused(void **state, uint8_t flbas, bool extended,
                           enum keel_nvme_ns_refusal why)
{
    struct nvt t;
    struct keel_nvme_ns *ns;

    nvt_init_state(&t, state);
    t.mc.ns[0].flbas = flbas;
    t.mc.ns[0].extended = extended;
    nvt_model(&t);
    assert_int_equal(nvt_attach(&t), KEEL_OK);
    ns = keel_nvme_ns_find(t.c, 1);
    assert_non_null(ns);
    assert_int_equal(ns->refusal, why);
    assert_null(keel_nvme_ns_blkdev(ns));
    assert_int_equal(keel_nvme_ns_compare(ns, 0, 0, 1, "x", 0), KEEL_EINVAL);
    nvt_done(&t);
}

static void test_separate_metadata_format_is_refused_with_reason(void **state)
{
    expect_refused(state, 1, false, KEEL_NVME_NS_REFUSED_METADATA);
    expect_refused(state, 3, false, KEEL_NVME_NS_REFUSED_METADATA);
}

static void test_extended_lba_format_is_refused_with_reason(void **state)
{
    expect_refused(state, 1, true, KEEL_NVME_NS_REFUSED_METADATA);
    expect_refused(state, 3, true, KEEL_NVME_NS_REFUSED_METADATA);
}

static void lying_identify(void **state, int fault, uint64_t param, enum keel_nvme_ns_refusal why)
{
    struct nvt t;
    struct keel_nvme_ns *ns;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, fault, 0, UINT32_MAX, param);
    assert_int_equal(nvt_attach(&t), KEEL_OK);
    ns = keel_nvme_ns_find(t.c, 1);
    assert_non_null(ns);
    assert_int_equal(ns->refusal, why);
    nvt_done(&t);
}

static void test_lbads_out_of_range_is_refused(void **state)
{
    lying_identify(state, NVME_MODEL_F_ID_LBADS, NVME_MODEL_FP_VALUE(3),
                   KEEL_NVME_NS_REFUSED_LBA_SIZE);
    lying_identify(state, NVME_MODEL_F_ID_LBADS, NVME_MODEL_FP_VALUE(40),
                   KEEL_NVME_NS_REFUSED_LBA_SIZE);
    lying_identify(state, NVME_MODEL_F_ID_LBADS, NVME_MODEL_FP_VALUE(8),
                   KEEL_NVME_NS_REFUSED_LBA_SIZE);
}

static void test_flbas_beyond_nlbaf_is_refused(void **state)
{
    lying_identify(state, NVME_MODEL_F_ID_FLBAS_BEYOND, 0, KEEL_NVME_NS_REFUSED_FORMAT);
    lying_identify(state, NVME_MODEL_F_ID_FLBAS_BEYOND, NVME_MODEL_FP_VALUE(15),
                   KEEL_NVME_NS_REFUSED_FORMAT);
}

/* A namespace that must work: write and read back through the block layer, compare the media. */
static void roundtrip(struct nvt *t, struct keel_blkdev *bd, uint32_t nsid, uint64_t lba,
                      uint32_t count, uint32_t seed)
{
    uint32_t bs = bd->info.sector_size;
    size_t len = (size_t)count * bs;
    uint8_t *w = malloc(len), *r = malloc(len);
    uint64_t bytes = 0;
    uint8_t *media = nvme_model_media(t->m, nsid, &bytes);

    assert_non_null(w);
    assert_non_null(r);
    nvt_pattern(w, len, seed);
    assert_int_equal(keel_blk_write(bd, 0, lba, count, w, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(media + lba * bs, w, len);
    memset(r, 0, len);
    assert_int_equal(keel_blk_read(bd, 1 % bd->info.queue_count, lba, count, r, NVT_TIMEOUT_US),
                     KEEL_OK);
    assert_memory_equal(r, w, len);
    free(w);
    free(r);
}

static void test_nlbaf_larger_than_the_structure_does_not_overrun(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_ID_NLBAF_HUGE, 0, UINT32_MAX, 0);
    nvt_up(&t);
    assert_int_equal(keel_nvme_ns_find(t.c, 1)->refusal, KEEL_NVME_NS_OK);
    roundtrip(&t, t.bd, 1, 5, 3, 1);
    nvt_done(&t);
}

static void test_huge_mdts_is_bounded_by_the_prp_pool(void **state)
{
    struct nvt t;
    uint32_t count, children, limit;

    nvt_init_state(&t, state);
    t.mc.mdts = 0; /* the model accepts anything; the driver must still bound each command */
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_ID_MDTS_HUGE, 0, UINT32_MAX, 0);
    nvt_up(&t);
    assert_int_equal(t.c->mdts, 0xff);
    limit = (KEEL_CONFIG_NVME_MAX_CMD_PAGES - 1u) * 4096u;
    assert_true(t.c->cmd_max_bytes <= limit);
    count = (2u << 20) / nvt_bs(&t);
    nvme_model_stats_reset(t.m);
    roundtrip(&t, t.bd, 1, 0, count, 2);
    children = (uint32_t)(((uint64_t)count * nvt_bs(&t) + limit - 1u) / limit);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE], children);
    nvt_done(&t);
}

static void test_block_sizes_beyond_4k_work(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.ns[0].lbaf[4] = (struct nvme_model_lbaf){14, 0, 0}; /* 16 KiB */
    t.mc.ns[0].nlbaf = 5;
    t.mc.ns[0].flbas = 4;
    t.mc.ns[0].nsze = 256;
    nvt_up(&t);
    assert_int_equal(t.bd->info.sector_size, 16384);
    roundtrip(&t, t.bd, 1, 7, 3, 3);
    nvt_done(&t);
}

static void test_write_protected_namespace_is_read_only(void **state)
{
    struct nvt t;
    uint8_t buf[4096];
    struct keel_nvme_range rg = {0, 1};

    nvt_init_state(&t, state);
    t.mc.ns[0].write_protected = true;
    nvt_up(&t);
    assert_true(t.bd->info.flags & KEEL_BLK_F_READ_ONLY);
    assert_int_equal(keel_blkdev_set_access(t.bd, KEEL_BLK_ACCESS_RW), KEEL_EROFS);
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(keel_blk_write(t.bd, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_trim(t.bd, 0, 0, 1, 0), KEEL_EROFS);
    assert_int_equal(keel_nvme_ns_deallocate(keel_nvme_ns_find(t.c, 1), 0, &rg, 1, 0), KEEL_EROFS);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE], 0);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, buf, 0), KEEL_OK);
    nvt_done(&t);
}

static void test_namespace_write_protected_at_run_time_fails_writes_with_erofs(void **state)
{
    struct nvt t;
    uint8_t *buf;

    nvt_init_state(&t, state);
    nvt_up(&t);
    buf = calloc(1, nvt_bs(&t));
    nvme_model_set_write_protect(t.m, 1, true);
    assert_int_equal(keel_blk_write(t.bd, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_nvme_last_status(t.c, 0) & 0xffu, KEEL_NVME_SC_NS_WRITE_PROTECTED);
    free(buf);
    nvt_done(&t);
}

static void test_lying_version_does_not_matter(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_ID_VER, 0, UINT32_MAX, NVME_MODEL_FP_VALUE(0x00010000));
    nvt_up(&t);
    roundtrip(&t, t.bd, 1, 1, 1, 9);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_DEFAULT(test_every_active_namespace_becomes_a_named_block_device),
        NVT_DEFAULT(test_active_list_unsupported_falls_back_to_scanning_1_to_nn),
        NVT_DEFAULT(test_huge_nn_scan_is_bounded),
        NVT_DEFAULT(test_huge_nn_with_active_list_uses_the_list),
        NVT_DEFAULT(test_namespaces_beyond_the_configured_maximum_are_ignored),
        NVT_DEFAULT(test_separate_metadata_format_is_refused_with_reason),
        NVT_DEFAULT(test_extended_lba_format_is_refused_with_reason),
        NVT_DEFAULT(test_lbads_out_of_range_is_refused),
        NVT_DEFAULT(test_flbas_beyond_nlbaf_is_refused),
        NVT_MATRIX(test_nlbaf_larger_than_the_structure_does_not_overrun),
        NVT_MATRIX(test_huge_mdts_is_bounded_by_the_prp_pool),
        NVT_CASE(test_block_sizes_beyond_4k_work, p512_d8_translate),
        NVT_CASE(test_block_sizes_beyond_4k_work, p512_d64_bounce),
        NVT_MATRIX(test_write_protected_namespace_is_read_only),
        NVT_MATRIX(test_namespace_write_protected_at_run_time_fails_writes_with_erofs),
        NVT_DEFAULT(test_lying_version_does_not_matter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
