/* SPDX-License-Identifier: MIT */
/*
 * PRP paths that need a bigger configuration (built against keel_nvme_bigcmd): commands large
 * enough to chain PRP list pages (two and three list pages), HAL segment limits that force a
 * smaller command, and no bounce buffer, so buffers that break the PRP rules are refused with
 * KEEL_EFAULT instead of bounced.
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

#if KEEL_CONFIG_NVME_BOUNCE_BYTES != 0 || KEEL_CONFIG_NVME_PRP_PAGES_PER_CMD < 3
#error "this test needs the keel_nvme_bigcmd configuration"
#endif

static uint8_t *abuf(size_t len)
{
    uint8_t *p = aligned_alloc(4096, (len + 2 * 4096 + 4095) & ~(size_t)4095);

    assert_non_null(p);
    return p;
}

static void setup(struct nvt *t, void **state)
{
    nvt_init_state(t, state);
    t->mc.mdts = 0;                                    /* no device limit: the pool decides */
    t->mc.ns[0].nsze = (16u << 20) >> t->p->lba_shift; /* 16 MiB */
    nvt_up(t);
}

static void roundtrip(struct nvt *t, uint64_t lba, size_t bytes, size_t offset, uint32_t seed)
{
    uint32_t count = (uint32_t)(bytes / nvt_bs(t));
    uint8_t *w = abuf(bytes + offset), *r = abuf(bytes + offset);

    nvt_pattern(w + offset, bytes, seed);
    assert_int_equal(keel_blk_write(t->bd, 0, lba, count, w + offset, 0), KEEL_OK);
    assert_memory_equal(nvt_media(t, 1, lba), w + offset, bytes);
    memset(r, 0, bytes + offset);
    assert_int_equal(keel_blk_read(t->bd, 1, lba, count, r + offset, 0), KEEL_OK);
    assert_memory_equal(r + offset, w + offset, bytes);
    free(w);
    free(r);
}

static void test_two_chained_list_pages(void **state)
{
    struct nvt t;

    setup(&t, state);
    nvme_model_stats_reset(t.m);
    roundtrip(&t, 0, 4u << 20, 0, 1); /* 1024 pages: 1023 list entries over two pages */
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE], 1);
    assert_int_equal(nvme_model_stats(t.m)->max_prp_list_chain, 2);
    nvt_done(&t);
}

static void test_three_chained_list_pages_with_an_offset(void **state)
{
    struct nvt t;
    size_t bytes = (size_t)(KEEL_CONFIG_NVME_MAX_CMD_PAGES - 1u) * 4096u;

    setup(&t, state);
    assert_int_equal(t.c->cmd_max_bytes, bytes);
    nvme_model_stats_reset(t.m);
    roundtrip(&t, 8, bytes, 512, 2); /* 1100 pages with the offset: three list pages */
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE], 1);
    assert_int_equal(nvme_model_stats(t.m)->max_prp_list_chain, 3);
    nvt_done(&t);
}

static void test_request_beyond_one_command_is_split(void **state)
{
    struct nvt t;

    setup(&t, state);
    nvme_model_stats_reset(t.m);
    roundtrip(&t, 0, 6u << 20, 0, 3);
    assert_true(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE] >= 2);
    nvt_done(&t);
}

static void test_hal_segment_limit_shrinks_the_command(void **state)
{
    struct nvt t;

    /* TRANSLATE maps at most SIM_MAX_MAP_PAGES per mapping: the HAL answers KEEL_ENOSPC and the
     * driver carries less per command. */
    setup(&t, state);
    nvme_model_stats_reset(t.m);
    roundtrip(&t, 0, 4u << 20, 0, 4);
    assert_true(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE] >= 2);
    nvt_done(&t);
}

static void test_buffer_breaking_prp_rules_is_refused_without_bounce(void **state)
{
    struct nvt t;
    uint8_t *b;

    setup(&t, state);
    b = abuf(8192);
    assert_int_equal(keel_blk_write(t.bd, 0, 0, 8192 / nvt_bs(&t), b + 1, 0), KEEL_EFAULT);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b + 2, 0), KEEL_EFAULT);
    assert_int_equal(keel_nvme_stats(t.c)->efault, 2);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE], 0);
    assert_int_equal(t.bd->stats[0].in_flight, 0);
    /* Dword aligned is fine. */
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b + 4, 0), KEEL_OK);
    free(b);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_CASE(test_two_chained_list_pages, p512_d64_bounce),
        NVT_CASE(test_two_chained_list_pages, p4k_d8_bounce),
        NVT_CASE(test_three_chained_list_pages_with_an_offset, p512_d64_bounce),
        NVT_CASE(test_request_beyond_one_command_is_split, p512_d64_bounce),
        NVT_CASE(test_request_beyond_one_command_is_split, p4k_d8_bounce),
        NVT_CASE(test_hal_segment_limit_shrinks_the_command, p512_d8_translate),
        NVT_CASE(test_hal_segment_limit_shrinks_the_command, p4k_d64_translate),
        NVT_CASE(test_buffer_breaking_prp_rules_is_refused_without_bounce, p512_d8_translate),
        NVT_CASE(test_buffer_breaking_prp_rules_is_refused_without_bounce, p4k_d64_translate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
