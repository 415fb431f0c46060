/* SPDX-License-Identifier: MIT */
/*
 * The NVMe row of the fault matrix in docs/reliability.md: every fault the controller model can
 * inject (enum nvme_model_fault, 1000..1024), one test each, run at every geometry of the matrix
 * (512 / 4096-byte LBAs x queue depth 8 / 64, translated and bounced DMA mappings). Each test
 * checks the documented outcome: the error code the caller sees, the recovery the driver performs
 * (abort, reset, bus mastering off, refusal), the state of the data, that the controller is usable
 * again when it can be, and (nvt_done) that the sim saw no contract violation: no DMA to an
 * unmapped address, no leaked mapping, no DMA memory left allocated after detach.
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

static uint8_t *buf_for(struct nvt *t, uint32_t count)
{
    size_t bytes = ((size_t)count * nvt_bs(t) + 4095u) & ~(size_t)4095u;
    uint8_t *b = aligned_alloc(4096, bytes);

    assert_non_null(b);
    memset(b, 0xa5, bytes);
    return b;
}

/* Write then read back `count` blocks on `queue`, comparing with the model's media. */
static void roundtrip(struct nvt *t, unsigned queue, uint64_t lba, uint32_t count, uint32_t seed)
{
    size_t len = (size_t)count * nvt_bs(t);
    uint8_t *w = buf_for(t, count), *r = buf_for(t, count);

    nvt_pattern(w, len, seed);
    assert_int_equal(keel_blk_write(t->bd, queue, lba, count, w, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(nvt_media(t, 1, lba), w, len);
    memset(r, 0, len);
    assert_int_equal(keel_blk_read(t->bd, queue, lba, count, r, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(r, w, len);
    free(w);
    free(r);
}

/* Controller live again and I/O correct on both queues. */
static void still_works(struct nvt *t)
{
    assert_int_equal(keel_nvme_life(t->c), KEEL_NVME_LIFE_LIVE);
    roundtrip(t, 0, 100, 3, 1);
    roundtrip(t, 1, 200, 2, 2);
}

static int read_blocks(struct nvt *t, uint64_t lba, uint32_t count)
{
    uint8_t *b = buf_for(t, count);
    int rc = keel_blk_read(t->bd, 0, lba, count, b, NVT_TIMEOUT_US);

    if (rc == KEEL_OK)
        assert_memory_equal(b, nvt_media(t, 1, lba), (size_t)count * nvt_bs(t));
    free(b);
    return rc;
}

static uint16_t pci_command(struct nvt *t)
{
    uint32_t v = 0;

    assert_int_equal(t->s->hal.ops->pci_cfg_read(t->s->hal.ctx, t->mc.pci, 4, 2, &v), 0);
    return (uint16_t)v;
}

/* Disabled controller or bus mastering off when the callback ran. */
static bool device_quiet(const struct nvt_req *q)
{
    return !(q->cc_at_done & 1u) || !(q->pci_cmd_at_done & KEEL_PCI_CMD_MASTER);
}

/* A failed bring-up returns everything it took and leaves no controller behind. */
static void attach_fails_cleanly(struct nvt *t, int expect, uint64_t max_us)
{
    uint64_t t0;

    nvt_model(t);
    t0 = t->s->now_us;
    assert_int_equal(nvt_attach(t), expect);
    assert_true(t->s->now_us - t0 < max_us);
    assert_int_equal(keel_nvme_init_state(t->c), KEEL_NVME_INIT_FAILED);
    assert_int_equal(keel_nvme_life(t->c), KEEL_NVME_LIFE_DOWN);
    assert_int_equal(t->s->dma_allocs, t->s->dma_frees);
    assert_int_equal(t->s->maps_live, 0);
}

/* 1000: CSTS.RDY never becomes 1. */
static void test_f1000_ready_never_set_fails_bring_up_and_reset_bounded(void **state)
{
    struct nvt t;
    struct nvt_req q[2];
    uint8_t *b;
    unsigned i;

    /* At attach: ETIMEDOUT within CAP.TO (15 x 500 ms). */
    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_RDY_NEVER_SET, 0, UINT32_MAX, 0);
    attach_fails_cleanly(&t, KEEL_ETIMEDOUT, 8000000u);
    nvt_done(&t);

    /* During a reset: the re-enable never finishes, the controller fails, every request ends. */
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
    for (i = 0; i < 2; i++) {
        assert_int_equal(q[i].done_count, 1);
        assert_true(device_quiet(&q[i]));
    }
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_FAILED);
    assert_true(t.bd->gone);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_ENODEV);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_ENODEV);
    t.attached = false;
    assert_int_equal(t.s->dma_allocs, t.s->dma_frees);
    free(b);
    nvt_done(&t);
}

/* 1001: CSTS.RDY stays 1 after CC.EN = 0: the reset cannot stop it, bus mastering goes off. */
static void test_f1001_ready_never_clears_turns_bus_mastering_off(void **state)
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
    assert_int_equal(q.done_count, 1);
    assert_false(q.pci_cmd_at_done & KEEL_PCI_CMD_MASTER);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_FAILED);
    assert_int_equal(keel_nvme_stats(t.c)->reset_failures, 1);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_ENODEV);
    (void)keel_nvme_detach(t.c);
    t.attached = false;
    assert_false(pci_command(&t) & KEEL_PCI_CMD_MASTER);
    assert_int_equal(t.s->dma_allocs, t.s->dma_frees);
    free(b);
    nvt_done(&t);
}

/* 1002: CSTS.CFS at enable. */
static void test_f1002_fatal_status_at_enable_fails_bring_up_with_eio(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CFS_ON_ENABLE, 0, 1, 0);
    attach_fails_cleanly(&t, KEEL_EIO, 8000000u);
    nvt_done(&t);
}

/* 1003: CSTS.CFS mid-I/O: reset, the overdue request fails, the others are resubmitted. */
static void test_f1003_fatal_status_mid_io_resets_and_resubmits(void **state)
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
    nvt_poll_until(&t, 0, q, 3, 20000000);
    assert_int_equal(q[0].status, KEEL_ETIMEDOUT);
    assert_true(device_quiet(&q[0]));
    for (i = 1; i < 3; i++) {
        assert_int_equal(q[i].status, KEEL_OK);
        assert_int_equal(q[i].done_count, 1);
        assert_memory_equal(nvt_media(&t, 1, 20 + i), b + (size_t)i * nvt_bs(&t), nvt_bs(&t));
    }
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(t.bd->stats[0].retries, 2);
    still_works(&t);
    free(b);
    nvt_done(&t);
}

/* 1004: all-ones register reads: one is a glitch; for good, the device is gone. */
static void test_f1004_all_ones_glitch_is_ignored_and_removal_fails_with_enodev(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    /* a glitch on the CSTS read of a timeout escalation */
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    sim_advance(t.s, NVT_TIMEOUT_US + 10);
    sim_fault_arm(t.s, NVME_MODEL_F_READ_ALL_ONES, 0, 1, 0);
    nvt_poll_until(&t, 0, &q, 1, 5u * NVT_TIMEOUT_US);
    assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_READ_ALL_ONES), 1);
    assert_int_equal(q.status, KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_LIVE);
    still_works(&t);

    /* for good, with a request in flight */
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    sim_fault_arm(t.s, NVME_MODEL_F_READ_ALL_ONES, 0, UINT32_MAX, 0);
    nvt_poll_until(&t, 0, &q, 1, 10u * NVT_TIMEOUT_US);
    assert_int_equal(q.status, KEEL_ENODEV);
    assert_int_equal(q.done_count, 1);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_GONE);
    assert_true(t.bd->gone);
    assert_int_equal(keel_blk_write(t.bd, 0, 0, 1, b, 0), KEEL_ENODEV);
    assert_int_equal(keel_nvme_detach(t.c), KEEL_ENODEV);
    t.attached = false;
    sim_fault_clear(t.s, NVME_MODEL_F_READ_ALL_ONES);
    free(b);
    nvt_done(&t);
}

/* 1005: executed, completion never posted: timeout, abort finds nothing, reset. */
static void test_f1005_lost_completion_times_out_and_resets(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    nvt_pattern(b, 2u * nvt_bs(&t), 8);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_LOST, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(keel_blk_write(t.bd, 0, 50, 2, b, NVT_TIMEOUT_US), KEEL_ETIMEDOUT);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(nvme_model_stats(t.m)->aborts_hit, 0);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(t.bd->stats[0].timeouts, 1);
    still_works(&t);
    free(b);
    nvt_done(&t);
}

/* 1006: fetched but held: the Abort finds it; no reset; a held write never reached the media. */
static void test_f1006_hung_command_is_aborted_without_reset(void **state)
{
    struct nvt t;
    uint8_t *b, *before;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    before = malloc(2u * nvt_bs(&t));
    assert_non_null(before);
    memcpy(before, nvt_media(&t, 1, 60), 2u * nvt_bs(&t));
    nvt_pattern(b, 2u * nvt_bs(&t), 9);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(keel_blk_write(t.bd, 0, 60, 2, b, NVT_TIMEOUT_US), KEEL_ETIMEDOUT);
    assert_memory_equal(nvt_media(&t, 1, 60), before, 2u * nvt_bs(&t));
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(nvme_model_stats(t.m)->aborts_hit, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    assert_int_equal(nvme_model_cmds_held(t.m), 0);
    still_works(&t);
    free(before);
    free(b);
    nvt_done(&t);
}

/* 1007: completion delayed: within the timeout it counts; past the abort wait it never does. */
static void test_f1007_delayed_completion_is_used_only_within_the_deadline(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_DELAY, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(NVT_TIMEOUT_US / 2));
    assert_int_equal(read_blocks(&t, 0, 1), KEEL_OK);
    assert_int_equal(keel_nvme_stats(t.c)->timeouts, 0);

    sim_fault_arm(t.s, NVME_MODEL_F_CQE_DELAY, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(10u * NVT_TIMEOUT_US));
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    nvt_poll_until(&t, 0, &q, 1, 5u * NVT_TIMEOUT_US);
    assert_int_equal(q.status, KEEL_ETIMEDOUT);
    assert_true(device_quiet(&q));
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    sim_advance(t.s, 20u * NVT_TIMEOUT_US);
    (void)keel_blk_poll(t.bd, 0, 0);
    assert_int_equal(q.done_count, 1);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_cqes, 0);
    still_works(&t);
    free(b);
    nvt_done(&t);
}

/* 1008: interrupt lost: the watchdog's timeout check finds the entry, no abort. */
static void test_f1008_lost_interrupt_is_found_by_polling_the_cq(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    t.cfg.irq_mode = KEEL_NVME_IRQ_MSIX;
    nvt_up(&t);
    b = buf_for(&t, 2);
    sim_fault_arm(t.s, NVME_MODEL_F_IRQ_LOST, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 3, 2, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    sim_advance(t.s, NVT_TIMEOUT_US + 1000);
    assert_int_equal(q.done_count, 0);
    assert_int_equal(keel_nvme_check_timeouts(t.c, 0), 1);
    assert_int_equal(q.done_count, 1);
    assert_int_equal(q.status, KEEL_OK);
    assert_memory_equal(b, nvt_media(&t, 1, 3), 2u * nvt_bs(&t));
    assert_int_equal(keel_nvme_stats(t.c)->timeouts_polled, 1);
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 0);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    free(b);
    nvt_done(&t);
}

/* A read whose completion entry the device corrupts: rejected, so the request times out and the
 * escalation resets the controller; afterwards I/O is correct again. */
static void corrupt_entry(void **state, int fault, uint64_t value, bool counted_bad)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, fault, 0, 1, NVME_MODEL_FP_IO | value);
    assert_int_equal(read_blocks(&t, 4, 2), KEEL_ETIMEDOUT);
    assert_int_equal(sim_fault_fired(t.s, fault), 1);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->completed, 0);
    if (counted_bad)
        assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_cqes, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    assert_int_equal(t.bd->stats[0].timeouts, 1);
    still_works(&t);
    nvt_done(&t);
}

/* 1009: inverted phase tag: the entry is invisible. */
static void test_f1009_entry_with_the_wrong_phase_is_never_consumed(void **state)
{
    corrupt_entry(state, NVME_MODEL_F_CQE_BAD_PHASE, 0, false);
}

/* 1010: CID beyond the slots, of a stale generation or of an idle slot. */
static void test_f1010_invalid_cid_is_rejected(void **state)
{
    corrupt_entry(state, NVME_MODEL_F_CQE_CID_INVALID, 0, true);
    corrupt_entry(state, NVME_MODEL_F_CQE_CID_INVALID, NVME_MODEL_FP_VALUE(1), true);
    corrupt_entry(state, NVME_MODEL_F_CQE_CID_INVALID, NVME_MODEL_FP_VALUE(0x7ffe), true);
}

/* 1014: SQID of another queue. */
static void test_f1014_entry_naming_another_sq_is_rejected(void **state)
{
    corrupt_entry(state, NVME_MODEL_F_CQE_WRONG_SQID, 0, true);
}

/* 1011: the same entry twice: the first completes, the copy is rejected. */
static void test_f1011_duplicated_completion_completes_once(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_CID_DUP, 0, 1, NVME_MODEL_FP_IO);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 7, 2, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    nvt_poll_until(&t, 0, &q, 1, 1000000);
    (void)keel_blk_poll(t.bd, 0, 0);
    assert_int_equal(q.done_count, 1);
    assert_int_equal(q.status, KEEL_OK);
    assert_memory_equal(b, nvt_media(&t, 1, 7), 2u * nvt_bs(&t));
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_cqes, 1);
    assert_int_equal(t.bd->stats[0].in_flight, 0);
    still_works(&t);
    free(b);
    nvt_done(&t);
}

/* 1012: SQ head beyond the queue or moving backwards: ignored, the request still completes. */
static void test_f1012_bogus_sq_head_is_ignored(void **state)
{
    struct nvt t;
    uint16_t head;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(read_blocks(&t, 0, 1), KEEL_OK);
    head = t.c->io[0].sq_head;
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_BAD_SQHD, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(read_blocks(&t, 1, 1), KEEL_OK);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_BAD_SQHD, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(t.c->io[0].entries - 1u));
    assert_int_equal(read_blocks(&t, 2, 1), KEEL_OK);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_sqhd, 2);
    /* Neither bogus value was used: the head stayed, then resynced to the tail once idle. */
    assert_true(head < t.c->io[0].entries);
    assert_int_equal(t.c->io[0].sq_head, t.c->io[0].sq_tail);
    assert_true(t.c->io[0].sq_head < t.c->io[0].entries);
    still_works(&t);
    nvt_done(&t);
}

/* 1013: error statuses: retriable ones are retried (bounded), DNR fails at once with the mapped
 * code, and a failed write leaves the media as it was. */
static void test_f1013_error_status_is_retried_or_failed_by_dnr(void **state)
{
    struct nvt t;
    uint8_t *b, *before;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    before = malloc(2u * nvt_bs(&t));
    assert_non_null(before);

    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_STATUS(NVME_MODEL_SCT_MEDIA,
                                                          NVME_MODEL_SC_UNRECOVERED_READ, 0));
    assert_int_equal(read_blocks(&t, 10, 2), KEEL_OK);
    assert_int_equal(keel_nvme_stats(t.c)->retries, 1);

    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, UINT32_MAX,
                  NVME_MODEL_FP_IO |
                      NVME_MODEL_FP_STATUS(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_NS_NOT_READY, 0));
    assert_int_equal(read_blocks(&t, 10, 2), KEEL_EBUSY);
    assert_int_equal(keel_nvme_stats(t.c)->retries, 1 + KEEL_CONFIG_NVME_MAX_RETRIES);
    sim_fault_clear(t.s, NVME_MODEL_F_STATUS);

    memcpy(before, nvt_media(&t, 1, 12), 2u * nvt_bs(&t));
    nvt_pattern(b, 2u * nvt_bs(&t), 13);
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                  NVME_MODEL_FP_OPC(KEEL_NVME_CMD_WRITE) |
                      NVME_MODEL_FP_STATUS(NVME_MODEL_SCT_MEDIA, NVME_MODEL_SC_WRITE_FAULT, 1));
    assert_int_equal(keel_blk_write(t.bd, 0, 12, 2, b, NVT_TIMEOUT_US), KEEL_EIO);
    assert_memory_equal(nvt_media(&t, 1, 12), before, 2u * nvt_bs(&t));
    assert_int_equal(keel_nvme_stats(t.c)->retries, 1 + KEEL_CONFIG_NVME_MAX_RETRIES);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    still_works(&t);
    free(before);
    free(b);
    nvt_done(&t);
}

/* 1015: the entry posted on another CQ: the admin CQ, or the other I/O queue's CQ. */
static void test_f1015_entry_on_the_wrong_cq_is_rejected_there(void **state)
{
    struct nvt t;
    struct nvt_req q0, q1;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_WRONG_CQ, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(read_blocks(&t, 0, 1), KEEL_ETIMEDOUT);
    assert_true(t.c->admin.stats.bad_cqes >= 1);
    still_works(&t);

    /* on queue 1's CQ while queue 1 has a request of its own in flight: queue 1 rejects the
       foreign entry and completes its own; queue 0's request ends through its timeout */
    b = buf_for(&t, 2);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    nvt_req_init(&t, &q1, KEEL_BLK_OP_READ, 9, 1, b);
    q1.r.queue = 1;
    nvt_req_init(&t, &q0, KEEL_BLK_OP_READ, 0, 1, b + nvt_bs(&t));
    assert_int_equal(keel_blk_submit(t.bd, &q0.r), KEEL_OK);
    assert_int_equal(keel_blk_submit(t.bd, &q1.r), KEEL_OK);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_WRONG_CQ, 0, 1,
                  NVME_MODEL_FP_QID(1) | NVME_MODEL_FP_VALUE(2));
    assert_int_equal(nvme_model_process(t.m), 2);
    nvme_model_set_mode(t.m, NVME_MODEL_IMMEDIATE, 0);
    (void)keel_blk_poll(t.bd, 1, 0);
    assert_int_equal(q1.done_count, 1);
    assert_int_equal(q1.status, KEEL_OK);
    assert_memory_equal(b, nvt_media(&t, 1, 9), nvt_bs(&t));
    assert_int_equal(keel_nvme_queue_stats(t.c, 1)->bad_cqes, 1);
    assert_int_equal(q0.done_count, 0);
    nvt_poll_until(&t, 0, &q0, 1, 10u * NVT_TIMEOUT_US);
    assert_int_equal(q0.status, KEEL_ETIMEDOUT);
    assert_int_equal(q1.done_count, 1);
    still_works(&t);
    free(b);
    nvt_done(&t);
}

/* 1016: MDTS claims far more than the driver can describe: commands stay within the PRP pool. */
static void test_f1016_huge_mdts_is_bounded_by_the_prp_pool(void **state)
{
    struct nvt t;
    uint32_t count, limit;

    nvt_init_state(&t, state);
    t.mc.mdts = 0;
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_ID_MDTS_HUGE, 0, UINT32_MAX, 0);
    nvt_up(&t);
    assert_int_equal(t.c->mdts, 0xff);
    limit = (KEEL_CONFIG_NVME_MAX_CMD_PAGES - 1u) * 4096u;
    assert_true(t.c->cmd_max_bytes <= limit);
    count = (2u << 20) / nvt_bs(&t);
    nvme_model_stats_reset(t.m);
    roundtrip(&t, 0, 0, count, 2);
    assert_true(nvme_model_stats(t.m)->io_cmds[KEEL_NVME_CMD_WRITE] >=
                (uint32_t)(((uint64_t)count * nvt_bs(&t) + limit - 1u) / limit));
    nvt_done(&t);
}

/* 1017: NN = 0xffffffff: the namespace scan stays bounded (with and without the active list). */
static void test_f1017_huge_namespace_count_scan_is_bounded(void **state)
{
    struct nvt t;
    unsigned with_list;

    for (with_list = 0; with_list < 2; with_list++) {
        nvt_init_state(&t, state);
        t.mc.reject_cns_active_list = with_list == 0;
        nvt_model(&t);
        sim_fault_arm(t.s, NVME_MODEL_F_ID_NN_HUGE, 0, UINT32_MAX, 0);
        nvt_up(&t);
        assert_int_equal(keel_nvme_ns_count(t.c), 1);
        assert_true(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_IDENTIFY] <=
                    2u + KEEL_CONFIG_NVME_NS_SCAN_MAX);
        still_works(&t);
        nvt_done(&t);
    }
}

/* A lying Identify Namespace: attach succeeds, the namespace is refused with `why`, no I/O. */
static void refused_namespace(void **state, int fault, uint64_t param, uint8_t why)
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
    assert_null(keel_nvme_ns_blkdev(ns));
    assert_int_equal(nvme_model_stats(t.m)->blocks_read + nvme_model_stats(t.m)->blocks_written, 0);
    nvt_done(&t);
}

/* 1018: LBADS below 512 bytes or absurdly large. */
static void test_f1018_lba_size_out_of_range_refuses_the_namespace(void **state)
{
    refused_namespace(state, NVME_MODEL_F_ID_LBADS, NVME_MODEL_FP_VALUE(3),
                      KEEL_NVME_NS_REFUSED_LBA_SIZE);
    refused_namespace(state, NVME_MODEL_F_ID_LBADS, 0, KEEL_NVME_NS_REFUSED_LBA_SIZE);
}

/* 1019: FLBAS names a format beyond the list. */
static void test_f1019_format_index_beyond_the_list_refuses_the_namespace(void **state)
{
    refused_namespace(state, NVME_MODEL_F_ID_FLBAS_BEYOND, 0, KEEL_NVME_NS_REFUSED_FORMAT);
    refused_namespace(state, NVME_MODEL_F_ID_FLBAS_BEYOND, NVME_MODEL_FP_VALUE(15),
                      KEEL_NVME_NS_REFUSED_FORMAT);
}

/* 1020: NLBAF larger than the structure: nothing is read past it, the namespace works. */
static void test_f1020_huge_format_count_does_not_overrun(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_ID_NLBAF_HUGE, 0, UINT32_MAX, 0);
    nvt_up(&t);
    assert_int_equal(keel_nvme_ns_find(t.c, 1)->refusal, KEEL_NVME_NS_OK);
    assert_int_equal(t.bd->info.sector_size, nvt_bs(&t));
    still_works(&t);
    nvt_done(&t);
}

/* 1021: shutdown never completes: detach gives up after a bounded wait and disables instead. */
static void test_f1021_stuck_shutdown_is_bounded_and_disables(void **state)
{
    struct nvt t;
    struct keel_nvme_ctrl *second;
    uint64_t t0, spent;

    nvt_init_state(&t, state);
    nvt_up(&t);
    roundtrip(&t, 0, 30, 2, 4);
    sim_fault_arm(t.s, NVME_MODEL_F_SHUTDOWN_STUCK, 0, UINT32_MAX, 0);
    t0 = t.s->now_us;
    assert_int_equal(keel_nvme_detach(t.c), KEEL_ETIMEDOUT);
    spent = t.s->now_us - t0;
    t.attached = false;
    assert_true(spent >= KEEL_CONFIG_NVME_SHUTDOWN_MIN_US);
    assert_true(spent < KEEL_CONFIG_NVME_SHUTDOWN_MAX_US + 1000000u);
    assert_false(nvme_model_cc(t.m) & 1u);
    assert_false(pci_command(&t) & KEEL_PCI_CMD_MASTER);
    assert_int_equal(t.s->dma_allocs, t.s->dma_frees);
    assert_int_equal(t.s->maps_live, 0);
    /* the next owner still finds a usable controller */
    sim_fault_clear(t.s, NVME_MODEL_F_SHUTDOWN_STUCK);
    second = calloc(1, sizeof(*second));
    assert_non_null(second);
    assert_int_equal(keel_nvme_attach(second, &t.s->hal, &t.cfg), KEEL_OK);
    assert_int_equal(keel_nvme_detach(second), KEEL_OK);
    free(second);
    nvt_done(&t);
}

static unsigned events_seen;

static void count_event(void *arg, struct keel_nvme_ctrl *ctrl, const struct keel_nvme_event *ev)
{
    (void)arg;
    (void)ctrl;
    (void)ev;
    events_seen++;
}

/* 1022: AERs never complete: no event, no reset, admin and I/O unaffected. */
static void test_f1022_stuck_aer_blocks_nothing_else(void **state)
{
    struct nvt t;
    uint32_t dw0 = 0;

    nvt_init_state(&t, state);
    events_seen = 0;
    t.cfg.event = count_event;
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_AER_STUCK, 0, UINT32_MAX, 0);
    nvme_model_set_critical_warning(t.m, KEEL_NVME_CW_SPARE);
    sim_advance(t.s, 60000000);
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_int_equal(events_seen, 0);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0), KEEL_OK);
    still_works(&t);
    nvt_done(&t);
}

/* 1023: the reported version lies: nothing depends on it. */
static void test_f1023_lying_version_changes_nothing(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_ID_VER, 0, UINT32_MAX, NVME_MODEL_FP_VALUE(0x00010000));
    nvt_up(&t);
    still_works(&t);
    nvt_done(&t);
}

/* 1024: CAP.MQES 0 is refused; a small one bounds the queue depth, and a deep burst still
 * completes through back-pressure. */
static void test_f1024_cap_mqes_is_validated_and_bounds_the_depth(void **state)
{
    struct nvt t;
    struct nvt_req q[12];
    uint8_t *b;
    unsigned i;

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CAP_MQES, 0, UINT32_MAX, NVME_MODEL_FP_VALUE(0));
    attach_fails_cleanly(&t, KEEL_EPROTO, 1000000u);
    nvt_done(&t);

    nvt_init_state(&t, state);
    nvt_model(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_CAP_MQES, 0, UINT32_MAX, NVME_MODEL_FP_VALUE(3));
    nvt_up(&t);
    assert_int_equal(keel_nvme_io_queue_entries(t.c), 4);
    b = buf_for(&t, 12);
    nvt_pattern(b, 12u * nvt_bs(&t), 6);
    for (i = 0; i < 12; i++) {
        int rc;
        nvt_req_init(&t, &q[i], KEEL_BLK_OP_WRITE, 300 + i, 1, b + (size_t)i * nvt_bs(&t));
        while ((rc = keel_blk_submit(t.bd, &q[i].r)) == KEEL_ENOSPC)
            (void)keel_blk_poll(t.bd, 0, 0);
        assert_int_equal(rc, KEEL_OK);
    }
    nvt_poll_until(&t, 0, q, 12, 10u * NVT_TIMEOUT_US);
    for (i = 0; i < 12; i++)
        assert_int_equal(q[i].status, KEEL_OK);
    assert_memory_equal(nvt_media(&t, 1, 300), b, 12u * nvt_bs(&t));
    free(b);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_MATRIX(test_f1000_ready_never_set_fails_bring_up_and_reset_bounded),
        NVT_MATRIX(test_f1001_ready_never_clears_turns_bus_mastering_off),
        NVT_MATRIX(test_f1002_fatal_status_at_enable_fails_bring_up_with_eio),
        NVT_MATRIX(test_f1003_fatal_status_mid_io_resets_and_resubmits),
        NVT_MATRIX(test_f1004_all_ones_glitch_is_ignored_and_removal_fails_with_enodev),
        NVT_MATRIX(test_f1005_lost_completion_times_out_and_resets),
        NVT_MATRIX(test_f1006_hung_command_is_aborted_without_reset),
        NVT_MATRIX(test_f1007_delayed_completion_is_used_only_within_the_deadline),
        NVT_MATRIX(test_f1008_lost_interrupt_is_found_by_polling_the_cq),
        NVT_MATRIX(test_f1009_entry_with_the_wrong_phase_is_never_consumed),
        NVT_MATRIX(test_f1010_invalid_cid_is_rejected),
        NVT_MATRIX(test_f1011_duplicated_completion_completes_once),
        NVT_MATRIX(test_f1012_bogus_sq_head_is_ignored),
        NVT_MATRIX(test_f1013_error_status_is_retried_or_failed_by_dnr),
        NVT_MATRIX(test_f1014_entry_naming_another_sq_is_rejected),
        NVT_MATRIX(test_f1015_entry_on_the_wrong_cq_is_rejected_there),
        NVT_MATRIX(test_f1016_huge_mdts_is_bounded_by_the_prp_pool),
        NVT_MATRIX(test_f1017_huge_namespace_count_scan_is_bounded),
        NVT_MATRIX(test_f1018_lba_size_out_of_range_refuses_the_namespace),
        NVT_MATRIX(test_f1019_format_index_beyond_the_list_refuses_the_namespace),
        NVT_MATRIX(test_f1020_huge_format_count_does_not_overrun),
        NVT_MATRIX(test_f1021_stuck_shutdown_is_bounded_and_disables),
        NVT_MATRIX(test_f1022_stuck_aer_blocks_nothing_else),
        NVT_MATRIX(test_f1023_lying_version_changes_nothing),
        NVT_MATRIX(test_f1024_cap_mqes_is_validated_and_bounds_the_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
