/* SPDX-License-Identifier: MIT */
/*
 * The data path: data integrity through every PRP path (PRP1 only, PRP1+PRP2, one list page, MDTS
 * splits, unaligned offsets, bounced buffers) compared byte for byte with the model's media, in
 * both DMA map modes; Flush/FUA/DSM/Write Zeroes/Compare; batched doorbells and back-pressure.
 */
#include <stdlib.h>

#include <keel/endian.h>

#include "test_nvme_fixture.h"

static uint8_t *abuf(size_t len)
{
    uint8_t *p = aligned_alloc(4096, (len + 2 * 4096 + 4095) & ~(size_t)4095);

    assert_non_null(p);
    return p;
}

/*
 * The last SQE written to I/O queue `q`, as the device sees it: 64 bytes, every field
 * little-endian (spec 4.2), so the tests read it with keel_ld_le* and never through the struct.
 */
static const uint8_t *last_sqe(struct nvt *t, unsigned q)
{
    const struct keel_nvme_qpair *qp = &t->c->io[q];
    uint16_t i = qp->sq_tail == 0 ? (uint16_t)(qp->entries - 1u) : (uint16_t)(qp->sq_tail - 1u);

    return (const uint8_t *)qp->sq_mem.cpu + 64u * i;
}

/* Its opcode (byte 0) and command dword `n` (bytes 4n..4n+3). */
static uint8_t last_opc(struct nvt *t, unsigned q)
{
    return last_sqe(t, q)[0];
}

static uint32_t last_cdw(struct nvt *t, unsigned q, unsigned n)
{
    return keel_ld_le32(last_sqe(t, q) + 4u * n);
}

static void write_read_compare(struct nvt *t, uint64_t lba, uint32_t count, size_t offset,
                               uint32_t seed)
{
    size_t len = (size_t)count * nvt_bs(t);
    uint8_t *w = abuf(len + offset), *r = abuf(len + offset);

    nvt_pattern(w + offset, len, seed);
    assert_int_equal(keel_blk_write(t->bd, 0, lba, count, w + offset, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(nvt_media(t, 1, lba), w + offset, len);
    memset(r, 0xee, len + offset);
    assert_int_equal(keel_blk_read(t->bd, 1, lba, count, r + offset, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(r + offset, w + offset, len);
    free(w);
    free(r);
}

static void test_data_integrity_through_every_prp_path(void **state)
{
    struct nvt t;
    struct {
        uint32_t bytes;
        size_t offset;
    } cases[] = {
        {512, 0},          /* PRP1 only, inside one page */
        {512, 4096 - 512}, /* PRP1 only, ending exactly at a page boundary */
        {4096, 0},         /* PRP1 only, one full page */
        {8192, 0},         /* PRP1 + PRP2 */
        {4096, 512},       /* PRP1 + PRP2: offset makes it straddle two pages */
        {65536, 0},        /* one PRP list page */
        {65536, 4},        /* list, dword-aligned offset */
        {65536 + 4096, 2048},
        {1u << 20, 0}, /* MDTS split: two or more commands */
        {(1u << 20) + 8192, 1024},
        {8192, 1}, /* byte aligned: bounced (translate) or HAL-bounced */
        {65536, 3},
    };
    unsigned i;
    uint32_t lists_before;

    nvt_init_state(&t, state);
    t.mc.ns[0].nsze = (4u << 20) >> t.p->lba_shift; /* 4 MiB */
    nvt_up(&t);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t count = cases[i].bytes / nvt_bs(&t);
        if (count == 0)
            continue;
        lists_before = nvme_model_stats(t.m)->prp_lists_walked;
        write_read_compare(&t, 3 + i, count, cases[i].offset, i + 1);
        if (cases[i].bytes >= 65536 && cases[i].offset % 4 == 0)
            assert_true(nvme_model_stats(t.m)->prp_lists_walked > lists_before);
    }
    if (t.p->map_mode == SIM_MAP_TRANSLATE)
        assert_true(keel_nvme_queue_stats(t.c, 0)->bounces > 0);
    nvt_done(&t);
}

static void test_large_request_is_split_into_children_within_mdts(void **state)
{
    struct nvt t;
    uint32_t count, cmds, limit;

    nvt_init_state(&t, state);
    t.mc.mdts = 5; /* 128 KiB: the model rejects anything larger with Invalid Field */
    nvt_up(&t);
    limit = 128u * 1024u;
    assert_int_equal(t.c->cmd_max_bytes, limit);
    count = (1u << 20) / nvt_bs(&t);
    nvme_model_stats_reset(t.m);
    write_read_compare(&t, 0, count, 0, 77);
    cmds = (1u << 20) / limit;
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE], cmds);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_READ], cmds);
    assert_int_equal(t.bd->stats[0].requests[KEEL_BLK_OP_WRITE], 1);
    assert_int_equal(t.bd->stats[0].bytes_written, 1u << 20);
    nvt_done(&t);
}

static void test_mdts_zero_means_no_limit_but_pool_still_bounds(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.mdts = 0;
    nvt_up(&t);
    assert_int_equal(t.c->cmd_max_bytes, (KEEL_CONFIG_NVME_MAX_CMD_PAGES - 1u) * 4096u);
    write_read_compare(&t, 0, (1u << 20) / nvt_bs(&t), 0, 5);
    nvt_done(&t);
}

static void test_byte_aligned_buffer_goes_through_the_bounce_buffer(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    write_read_compare(&t, 10, 24576 / nvt_bs(&t), 1, 3);
    write_read_compare(&t, 50, 1, 3, 4);
    assert_true(keel_nvme_queue_stats(t.c, 0)->bounces >= 3);
    assert_true(keel_nvme_queue_stats(t.c, 1)->bounces >= 3);
    nvt_done(&t);
}

static void test_flush_reaches_the_device_when_it_has_a_write_cache(void **state)
{
    struct nvt t;
    uint8_t *buf;

    nvt_init_state(&t, state);
    nvt_up(&t);
    buf = abuf(nvt_bs(&t));
    nvt_pattern(buf, nvt_bs(&t), 1);
    assert_int_equal(keel_blk_write(t.bd, 0, 0, 1, buf, 0), KEEL_OK);
    assert_true(nvme_model_stats(t.m)->writes_since_flush > 0);
    assert_int_equal(keel_blk_flush(t.bd, 0, 0), KEEL_OK);
    assert_int_equal(nvme_model_stats(t.m)->flushes, 1);
    assert_int_equal(nvme_model_stats(t.m)->writes_since_flush, 0);
    free(buf);
    nvt_done(&t);
}

static void test_fua_write_sets_force_unit_access(void **state)
{
    struct nvt t;
    struct keel_blk_req req = {0};
    uint8_t *buf;

    nvt_init_state(&t, state);
    nvt_up(&t);
    buf = abuf(nvt_bs(&t));
    nvt_pattern(buf, nvt_bs(&t), 2);
    req.op = KEEL_BLK_OP_WRITE;
    req.flags = KEEL_BLK_REQ_FUA;
    req.lba = 9;
    req.count = 1;
    req.buf = buf;
    assert_int_equal(keel_blk_execute(t.bd, &req), KEEL_OK);
    assert_int_equal(last_opc(&t, 0), KEEL_NVME_CMD_WRITE);
    assert_true(last_cdw(&t, 0, 12) & KEEL_NVME_RW_FUA);
    assert_int_equal(keel_blk_write(t.bd, 0, 9, 1, buf, 0), KEEL_OK);
    assert_false(last_cdw(&t, 0, 12) & KEEL_NVME_RW_FUA);
    assert_memory_equal(nvt_media(&t, 1, 9), buf, nvt_bs(&t));
    free(buf);
    nvt_done(&t);
}

static void fill_media(struct nvt *t, uint64_t lba, uint32_t count)
{
    size_t len = (size_t)count * nvt_bs(t);
    uint8_t *buf = abuf(len);

    memset(buf, 0xab, len);
    assert_int_equal(keel_blk_write(t->bd, 0, lba, count, buf, 0), KEEL_OK);
    free(buf);
}

static bool media_is(struct nvt *t, uint64_t lba, uint32_t count, uint8_t v)
{
    const uint8_t *m = nvt_media(t, 1, lba);
    size_t i, len = (size_t)count * nvt_bs(t);

    for (i = 0; i < len; i++)
        if (m[i] != v)
            return false;
    return true;
}

static void test_trim_deallocates_the_range(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    fill_media(&t, 0, 64);
    assert_int_equal(keel_blk_trim(t.bd, 0, 8, 16, 0), KEEL_OK);
    assert_int_equal(last_opc(&t, 0), KEEL_NVME_CMD_DSM);
    assert_true(last_cdw(&t, 0, 11) & KEEL_NVME_DSM_AD);
    assert_true(media_is(&t, 0, 8, 0xab));
    assert_true(media_is(&t, 8, 16, 0));
    assert_true(media_is(&t, 24, 40, 0xab));
    nvt_done(&t);
}

static void test_deallocate_sends_many_ranges_in_one_command(void **state)
{
    struct nvt t;
    struct keel_nvme_range rg[3] = {{2, 3}, {10, 1}, {40, 20}};
    struct keel_nvme_ns *ns;

    nvt_init_state(&t, state);
    nvt_up(&t);
    ns = keel_nvme_ns_find(t.c, 1);
    fill_media(&t, 0, 64);
    nvme_model_stats_reset(t.m);
    assert_int_equal(keel_nvme_ns_deallocate(ns, 1, rg, 3, 0), KEEL_OK);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_DSM], 1);
    assert_int_equal(last_cdw(&t, 1, 10), 2); /* NR is 0-based */
    assert_true(media_is(&t, 0, 2, 0xab));
    assert_true(media_is(&t, 2, 3, 0));
    assert_true(media_is(&t, 5, 5, 0xab));
    assert_true(media_is(&t, 10, 1, 0));
    assert_true(media_is(&t, 11, 29, 0xab));
    assert_true(media_is(&t, 40, 20, 0));
    assert_true(media_is(&t, 60, 4, 0xab));
    nvt_done(&t);
}

static void test_deallocate_refuses_bad_ranges(void **state)
{
    struct nvt t;
    struct keel_nvme_range rg[KEEL_NVME_DSM_MAX_RANGES + 1];
    struct keel_nvme_ns *ns;

    nvt_init_state(&t, state);
    nvt_up(&t);
    ns = keel_nvme_ns_find(t.c, 1);
    memset(rg, 0, sizeof(rg));
    rg[0].count = 0;
    assert_int_equal(keel_nvme_ns_deallocate(ns, 0, rg, 1, 0), KEEL_EINVAL);
    rg[0] = (struct keel_nvme_range){8190, 3};
    assert_int_equal(keel_nvme_ns_deallocate(ns, 0, rg, 1, 0), KEEL_ERANGE);
    rg[0] = (struct keel_nvme_range){UINT64_MAX, 1};
    assert_int_equal(keel_nvme_ns_deallocate(ns, 0, rg, 1, 0), KEEL_ERANGE);
    rg[0] = (struct keel_nvme_range){0, 1};
    assert_int_equal(keel_nvme_ns_deallocate(ns, 0, rg, 0, 0), KEEL_EINVAL);
    assert_int_equal(keel_nvme_ns_deallocate(ns, 0, rg, KEEL_NVME_DSM_MAX_RANGES + 1, 0),
                     KEEL_EINVAL);
    assert_int_equal(keel_nvme_ns_deallocate(ns, 7, rg, 1, 0), KEEL_EINVAL);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_DSM], 0);
    nvt_done(&t);
}

static void test_write_zeroes_zeroes_media_and_splits_past_nlb(void **state)
{
    struct nvt t;
    struct keel_blk_req req = {0};

    nvt_init_state(&t, state);
    t.mc.ns[0].nsze = 70000; /* more than one Write Zeroes command can carry */
    t.mc.ns[0].flbas = 0;
    t.p = &nvt_p512_d8_translate;
    nvt_up(&t);
    fill_media(&t, 0, 128);
    fill_media(&t, 69000, 1000);
    assert_int_equal(keel_blk_write_zeroes(t.bd, 0, 1, 69998, 0), KEEL_OK);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE_ZEROES], 2);
    assert_false(last_cdw(&t, 0, 12) & KEEL_NVME_WZ_DEAC);
    assert_true(media_is(&t, 0, 1, 0xab));
    assert_true(media_is(&t, 1, 127, 0));
    assert_true(media_is(&t, 69000, 999, 0));
    assert_true(media_is(&t, 69999, 1, 0xab));
    req.op = KEEL_BLK_OP_WRITE_ZEROES;
    req.flags = KEEL_BLK_REQ_UNMAP;
    req.lba = 0;
    req.count = 1;
    assert_int_equal(keel_blk_execute(t.bd, &req), KEEL_OK);
    assert_true(last_cdw(&t, 0, 12) & KEEL_NVME_WZ_DEAC);
    assert_true(media_is(&t, 0, 1, 0));
    nvt_done(&t);
}

static void test_compare_reports_equal_and_miscompare(void **state)
{
    struct nvt t;
    struct keel_nvme_ns *ns;
    uint32_t count;
    uint8_t *buf;
    size_t len;

    nvt_init_state(&t, state);
    nvt_up(&t);
    ns = keel_nvme_ns_find(t.c, 1);
    count = 65536 / nvt_bs(&t);
    len = (size_t)count * nvt_bs(&t);
    buf = abuf(len);
    nvt_pattern(buf, len, 11);
    assert_int_equal(keel_blk_write(t.bd, 0, 4, count, buf, 0), KEEL_OK);
    assert_int_equal(keel_nvme_ns_compare(ns, 0, 4, count, buf, 0), KEEL_OK);
    buf[len - 1] ^= 1;
    assert_int_equal(keel_nvme_ns_compare(ns, 1, 4, count, buf, 0), KEEL_EBADMSG);
    assert_int_equal(t.c->stats.retries, 0); /* a miscompare is an answer, not retried */
    assert_int_equal(keel_nvme_ns_compare(ns, 1, 8190, 4, buf, 0), KEEL_ERANGE);
    free(buf);
    nvt_done(&t);
}

static void test_operations_the_controller_lacks_are_refused(void **state)
{
    struct nvt t;
    struct keel_nvme_range rg = {0, 1};
    uint8_t buf[512] = {0};

    nvt_init_state(&t, state);
    t.mc.oncs = 0;
    t.mc.vwc = false;
    nvt_up(&t);
    assert_false(t.bd->info.flags & (KEEL_BLK_F_TRIM | KEEL_BLK_F_WRITE_ZEROES | KEEL_BLK_F_FLUSH));
    assert_int_equal(keel_blk_trim(t.bd, 0, 0, 1, 0), KEEL_ENOTSUP);
    assert_int_equal(keel_blk_write_zeroes(t.bd, 0, 0, 1, 0), KEEL_ENOTSUP);
    assert_int_equal(keel_nvme_ns_deallocate(keel_nvme_ns_find(t.c, 1), 0, &rg, 1, 0),
                     KEEL_ENOTSUP);
    assert_int_equal(keel_nvme_ns_compare(keel_nvme_ns_find(t.c, 1), 0, 0, 1, buf, 0),
                     KEEL_ENOTSUP);
    /* Flush is mandatory in NVMe: without a volatile cache it still succeeds. */
    assert_int_equal(keel_blk_flush(t.bd, 0, 0), KEEL_OK);
    nvt_done(&t);
}

static void test_full_queue_gives_back_pressure_not_a_hang(void **state)
{
    struct nvt t;
    struct nvt_req reqs[64], extra;
    uint8_t *buf;
    unsigned i, slots;

    nvt_init_state(&t, state);
    nvt_up(&t);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    slots = t.p->depth - 1u;
    buf = abuf((size_t)(slots + 1u) * nvt_bs(&t));
    for (i = 0; i < slots; i++) {
        nvt_req_init(&t, &reqs[i], KEEL_BLK_OP_READ, i, 1, buf + (size_t)i * nvt_bs(&t));
        assert_int_equal(keel_blk_submit(t.bd, &reqs[i].r), KEEL_OK);
    }
    nvt_req_init(&t, &extra, KEEL_BLK_OP_READ, 99, 1, buf + (size_t)slots * nvt_bs(&t));
    assert_int_equal(keel_blk_submit(t.bd, &extra.r), KEEL_ENOSPC);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->backpressure, 1);
    assert_int_equal(extra.done_count, 0);
    assert_int_equal(t.bd->stats[0].in_flight, slots);
    (void)nvme_model_process(t.m);
    nvt_poll_until(&t, 0, reqs, slots, 1000000);
    for (i = 0; i < slots; i++) {
        assert_int_equal(reqs[i].done_count, 1);
        assert_int_equal(reqs[i].status, KEEL_OK);
    }
    assert_int_equal(keel_blk_submit(t.bd, &extra.r), KEEL_OK);
    (void)nvme_model_process(t.m);
    nvt_poll_until(&t, 0, &extra, 1, 1000000);
    free(buf);
    nvt_done(&t);
}

static void test_batched_submissions_ring_the_doorbell_once(void **state)
{
    struct nvt t;
    struct nvt_req reqs[5];
    uint8_t *buf;
    uint32_t before;
    unsigned i;

    nvt_init_state(&t, state);
    nvt_up(&t);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    buf = abuf(5u * nvt_bs(&t));
    before = nvme_model_stats(t.m)->sq_doorbells[1];
    keel_nvme_batch_begin(t.c, 0);
    for (i = 0; i < 5; i++) {
        nvt_req_init(&t, &reqs[i], KEEL_BLK_OP_READ, i, 1, buf + (size_t)i * nvt_bs(&t));
        assert_int_equal(keel_blk_submit(t.bd, &reqs[i].r), KEEL_OK);
    }
    assert_int_equal(nvme_model_stats(t.m)->sq_doorbells[1], before);
    keel_nvme_batch_end(t.c, 0);
    assert_int_equal(nvme_model_stats(t.m)->sq_doorbells[1], before + 1);
    assert_int_equal(nvme_model_stats(t.m)->sq_db_entries_last[1], 5);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->max_batch, 5);
    /* Completions are reaped together and acknowledged with one CQ head doorbell. */
    before = nvme_model_stats(t.m)->cq_doorbells[1];
    (void)nvme_model_process(t.m);
    assert_int_equal(keel_blk_poll(t.bd, 0, 0), 5);
    assert_int_equal(nvme_model_stats(t.m)->cq_doorbells[1], before + 1);
    for (i = 0; i < 5; i++)
        assert_int_equal(reqs[i].status, KEEL_OK);
    free(buf);
    nvt_done(&t);
}

/* keel_blk_plug/unplug reach NVMe's batch; a poll publishes an open batch, and a batch left open
 * rings by itself at KEEL_CONFIG_NVME_PLUG_MAX commands or a full SQ. */
static void test_blk_plug_batches_and_an_open_batch_is_bounded(void **state)
{
    enum { N = 40 };
    struct nvt t;
    struct nvt_req reqs[N];
    uint8_t *buf;
    uint32_t before;
    unsigned i, sent = 0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    buf = abuf((size_t)N * nvt_bs(&t));
    for (i = 0; i < N; i++)
        nvt_req_init(&t, &reqs[i], KEEL_BLK_OP_READ, i, 1, buf + (size_t)i * nvt_bs(&t));
    before = nvme_model_stats(t.m)->sq_doorbells[1];
    assert_int_equal(keel_blk_plug(t.bd, 0), KEEL_OK);
    for (; sent < 3; sent++)
        assert_int_equal(keel_blk_submit(t.bd, &reqs[sent].r), KEEL_OK);
    assert_int_equal(nvme_model_stats(t.m)->sq_doorbells[1], before);
    /* A poll inside the batch publishes it so far. */
    assert_int_equal(keel_blk_poll(t.bd, 0, 0), 0);
    assert_int_equal(nvme_model_stats(t.m)->sq_doorbells[1], before + 1);
    assert_int_equal(nvme_model_stats(t.m)->sq_db_entries_last[1], 3);
    /* Left open, the batch rings by itself before it holds more than PLUG_MAX or fills the SQ. */
    before = nvme_model_stats(t.m)->sq_doorbells[1];
    while (sent < N && keel_blk_submit(t.bd, &reqs[sent].r) == KEEL_OK)
        sent++;
    assert_true(sent > 3u + 1u);
    assert_true(nvme_model_stats(t.m)->sq_doorbells[1] > before);
    assert_true(nvme_model_stats(t.m)->sq_db_entries_last[1] <= KEEL_CONFIG_NVME_PLUG_MAX);
    assert_int_equal(keel_blk_unplug(t.bd, 0), KEEL_OK);
    (void)nvme_model_process(t.m);
    nvt_poll_until(&t, 0, reqs, sent, 1000000);
    for (i = 0; i < sent; i++) {
        assert_int_equal(reqs[i].done_count, 1);
        assert_int_equal(reqs[i].status, KEEL_OK);
    }
    free(buf);
    nvt_done(&t);
}

static void test_split_request_waits_for_slots_and_holds_back_others(void **state)
{
    struct nvt t;
    struct nvt_req big, other;
    uint8_t *w, *r;
    uint32_t count;
    size_t len;

    nvt_init_state(&t, state);
    t.mc.mdts = 3; /* 32 KiB per command */
    t.mc.mode = NVME_MODEL_DEFERRED;
    nvt_up(&t);
    count = (256u * 1024u) / nvt_bs(&t); /* 8 children, more than a depth-2 queue holds */
    len = (size_t)count * nvt_bs(&t);
    w = abuf(len);
    r = abuf(nvt_bs(&t));
    nvt_pattern(w, len, 21);
    nvt_req_init(&t, &big, KEEL_BLK_OP_WRITE, 16, count, w);
    assert_int_equal(keel_blk_submit(t.bd, &big.r), KEEL_OK);
    nvt_req_init(&t, &other, KEEL_BLK_OP_READ, 0, 1, r);
    if (t.p->depth - 1u < 8u) {
        assert_int_equal(keel_blk_submit(t.bd, &other.r), KEEL_ENOSPC);
    }
    nvt_poll_until(&t, 0, &big, 1, 10000000);
    assert_int_equal(big.status, KEEL_OK);
    assert_int_equal(big.done_count, 1);
    assert_memory_equal(nvt_media(&t, 1, 16), w, len);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE], 8);
    free(w);
    free(r);
    nvt_done(&t);
}

static void test_queues_complete_independently(void **state)
{
    struct nvt t;
    struct nvt_req a, b;
    uint8_t *buf;

    nvt_init_state(&t, state);
    nvt_up(&t);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    buf = abuf(2u * nvt_bs(&t));
    nvt_req_init(&t, &a, KEEL_BLK_OP_READ, 0, 1, buf);
    nvt_req_init(&t, &b, KEEL_BLK_OP_READ, 1, 1, buf + nvt_bs(&t));
    b.r.queue = 1;
    assert_int_equal(keel_blk_submit(t.bd, &a.r), KEEL_OK);
    assert_int_equal(keel_blk_submit(t.bd, &b.r), KEEL_OK);
    (void)nvme_model_process(t.m);
    assert_int_equal(keel_blk_poll(t.bd, 1, 0), 1);
    assert_int_equal(b.done_count, 1);
    assert_int_equal(a.done_count, 0);
    assert_int_equal(keel_blk_poll(t.bd, 0, 0), 1);
    assert_int_equal(a.done_count, 1);
    free(buf);
    nvt_done(&t);
}

struct chain {
    struct keel_blk_req r;
    struct keel_blkdev *bd;
    unsigned left, done;
    uint8_t *buf;
};

static void chain_done(struct keel_blk_req *r)
{
    struct chain *c = (struct chain *)r;

    assert_int_equal(r->status, KEEL_OK);
    c->done++;
    if (c->left > 0) {
        c->left--;
        r->lba++;
        assert_int_equal(keel_blk_submit(c->bd, r), KEEL_OK); /* from inside the callback */
    }
}

static void test_completion_callback_may_submit_again(void **state)
{
    struct nvt t;
    struct chain c;
    unsigned spins = 0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    memset(&c, 0, sizeof(c));
    c.bd = t.bd;
    c.left = 20;
    c.buf = abuf(nvt_bs(&t));
    c.r.op = KEEL_BLK_OP_READ;
    c.r.count = 1;
    c.r.buf = c.buf;
    c.r.done = chain_done;
    assert_int_equal(keel_blk_submit(t.bd, &c.r), KEEL_OK);
    while (c.done < 21 && spins++ < 1000)
        (void)keel_blk_poll(t.bd, 0, 0);
    assert_int_equal(c.done, 21);
    free(c.buf);
    nvt_done(&t);
}

static void test_requests_beyond_max_transfer_are_refused_by_the_layer(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, t.bd->info.max_transfer + 1u, &b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_EINVAL);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 8192, 1, &b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_ERANGE);
    assert_int_equal(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_READ], 0);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_MATRIX(test_data_integrity_through_every_prp_path),
        NVT_MATRIX(test_large_request_is_split_into_children_within_mdts),
        NVT_MATRIX(test_mdts_zero_means_no_limit_but_pool_still_bounds),
        NVT_CASE(test_byte_aligned_buffer_goes_through_the_bounce_buffer, p512_d8_translate),
        NVT_CASE(test_byte_aligned_buffer_goes_through_the_bounce_buffer, p4k_d64_translate),
        NVT_MATRIX(test_flush_reaches_the_device_when_it_has_a_write_cache),
        NVT_MATRIX(test_fua_write_sets_force_unit_access),
        NVT_MATRIX(test_trim_deallocates_the_range),
        NVT_MATRIX(test_deallocate_sends_many_ranges_in_one_command),
        NVT_DEFAULT(test_deallocate_refuses_bad_ranges),
        NVT_DEFAULT(test_write_zeroes_zeroes_media_and_splits_past_nlb),
        NVT_MATRIX(test_compare_reports_equal_and_miscompare),
        NVT_DEFAULT(test_operations_the_controller_lacks_are_refused),
        NVT_MATRIX(test_full_queue_gives_back_pressure_not_a_hang),
        NVT_CASE(test_full_queue_gives_back_pressure_not_a_hang, p512_d2_translate),
        NVT_MATRIX(test_batched_submissions_ring_the_doorbell_once),
        NVT_MATRIX(test_blk_plug_batches_and_an_open_batch_is_bounded),
        NVT_MATRIX(test_split_request_waits_for_slots_and_holds_back_others),
        NVT_CASE(test_split_request_waits_for_slots_and_holds_back_others, p512_d2_translate),
        NVT_MATRIX(test_queues_complete_independently),
        NVT_MATRIX(test_completion_callback_may_submit_again),
        NVT_DEFAULT(test_requests_beyond_max_transfer_are_refused_by_the_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
