/* SPDX-License-Identifier: MIT */
/*
 * Safety properties of the NVMe driver (issue 7, point 6), each shown against the controller model
 * at every geometry of the matrix:
 *  - nothing is written beyond the end of a namespace or of a partition on it: the request is
 *    refused before the device (the model sees no command) and every media byte stays as it was;
 *  - writes to a write-protected namespace, a namespace opened read-only or a read-only partition
 *    fail with KEEL_EROFS and reach no device;
 *  - a completion posted on another queue's CQ never completes a request of that queue;
 *  - a timed-out read's buffer is never written after its callback ran, whatever the device does
 *    late (release a held command, post a delayed completion), and no DMA reaches an unmapped
 *    address (the sim counts that as a violation; nvt_done asserts there is none);
 *  - a blocking helper (compare, deallocate) whose request lives on its own stack never returns
 *    while a slot or the device can still reach that request or its buffer;
 *  - admin passthrough refuses every destructive opcode unless its own grant is set.
 */
#include <stdlib.h>

#include <keel/endian.h>
#include <keel/part.h>

#include "test_nvme_fixture.h"

#define SENTINEL 0xa5u

static uint8_t *buf_for(struct nvt *t, uint32_t count)
{
    size_t bytes = ((size_t)count * nvt_bs(t) + 4095u) & ~(size_t)4095u;
    uint8_t *b = aligned_alloc(4096, bytes);

    assert_non_null(b);
    memset(b, SENTINEL, bytes);
    return b;
}

/* A private copy of a namespace's whole media, to prove later that nothing changed. */
static uint8_t *media_copy(struct nvt *t, uint32_t nsid, uint64_t *bytes)
{
    uint8_t *m = nvme_model_media(t->m, nsid, bytes);
    uint8_t *c;

    assert_non_null(m);
    c = malloc((size_t)*bytes);
    assert_non_null(c);
    memcpy(c, m, (size_t)*bytes);
    return c;
}

static void assert_media_unchanged(struct nvt *t, uint32_t nsid, const uint8_t *copy,
                                   uint64_t bytes)
{
    uint64_t now_bytes = 0;
    uint8_t *m = nvme_model_media(t->m, nsid, &now_bytes);

    assert_true(now_bytes == bytes);
    assert_memory_equal(m, copy, (size_t)bytes);
}

/* Commands that modify media, as the model counted them. */
static uint32_t media_cmds(const struct nvt *t)
{
    const struct nvme_model_stats *st = nvme_model_stats(t->m);

    return st->io_cmds[KEEL_NVME_CMD_WRITE] + st->io_cmds[KEEL_NVME_CMD_WRITE_ZEROES] +
           st->io_cmds[KEEL_NVME_CMD_DSM];
}

static uint32_t io_doorbells(const struct nvt *t)
{
    const struct nvme_model_stats *st = nvme_model_stats(t->m);

    return st->sq_doorbells[1] + st->sq_doorbells[2];
}

/* A second namespace right after the first in the model's configuration. */
static void add_second_ns(struct nvt *t)
{
    t->mc.nn = 2;
    t->mc.ns[1] = t->mc.ns[0];
    t->mc.ns[1].nsid = 2;
    t->mc.ns[1].nsze = 512;
}

static void never_called(struct keel_blk_req *r)
{
    *(bool *)r->user = true;
}

/* Every way a write-like request can reach past `dev`'s end: each must be refused with `err`. */
static void refuse_past_end(struct keel_blkdev *dev, uint8_t *buf, int err)
{
    uint64_t n = dev->info.sector_count;
    struct keel_blk_req r;
    bool called = false;

    assert_int_equal(keel_blk_write(dev, 0, n, 1, buf, 0), err);
    assert_int_equal(keel_blk_write(dev, 0, n - 1, 2, buf, 0), err);      /* straddles the end */
    assert_int_equal(keel_blk_write(dev, 1, n + 100, 1, buf, 0), err);    /* other queue */
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX, 1, buf, 0), err); /* lba + count wraps */
    assert_int_equal(keel_blk_write(dev, 0, UINT64_MAX - 1u, 4, buf, 0), err);
    assert_int_equal(keel_blk_write_zeroes(dev, 0, n - 1, 2, 0), err);
    assert_int_equal(keel_blk_trim(dev, 0, n - 2, 3, 0), err);
    /* asynchronous: refused at submit, the callback never runs */
    memset(&r, 0, sizeof(r));
    r.op = KEEL_BLK_OP_WRITE;
    r.flags = KEEL_BLK_REQ_FUA;
    r.lba = n - 1;
    r.count = 2;
    r.buf = buf;
    r.user = &called;
    r.done = never_called;
    assert_int_equal(keel_blk_submit(dev, &r), err);
    assert_false(called);
}

static void test_write_beyond_the_namespace_end_reaches_no_device(void **state)
{
    struct nvt t;
    uint8_t *buf, *c1, *c2;
    uint64_t b1 = 0, b2 = 0, n;
    uint32_t cmds, dbs;

    nvt_init_state(&t, state);
    add_second_ns(&t);
    nvt_up(&t);
    n = t.bd->info.sector_count;
    assert_true(n == 8192);
    buf = buf_for(&t, 4);
    nvt_pattern(buf, 4u * nvt_bs(&t), 7);
    c1 = media_copy(&t, 1, &b1);
    c2 = media_copy(&t, 2, &b2);
    cmds = media_cmds(&t);
    dbs = io_doorbells(&t);

    refuse_past_end(t.bd, buf, KEEL_ERANGE);
    {
        struct keel_nvme_range rg = {n - 1, 2};
        assert_int_equal(keel_nvme_ns_deallocate(keel_nvme_ns_find(t.c, 1), 0, &rg, 1, 0),
                         KEEL_ERANGE);
    }
    assert_int_equal(media_cmds(&t), cmds);
    assert_int_equal(io_doorbells(&t), dbs);
    assert_media_unchanged(&t, 1, c1, b1);
    assert_media_unchanged(&t, 2, c2, b2);

    /* The last block itself is writable, and only it changes. */
    assert_int_equal(keel_blk_write(t.bd, 0, n - 1, 1, buf, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(nvt_media(&t, 1, n - 1), buf, nvt_bs(&t));
    assert_memory_equal(nvme_model_media(t.m, 1, &b1), c1, (size_t)(b1 - nvt_bs(&t)));
    assert_media_unchanged(&t, 2, c2, b2);
    free(c1);
    free(c2);
    free(buf);
    nvt_done(&t);
}

/* An MBR with two adjacent primaries written straight into the model's media. */
static void put_mbr(uint8_t *sector0, const uint32_t start[2], const uint32_t count[2])
{
    unsigned i, k;

    memset(sector0, 0, 512);
    for (i = 0; i < 2; i++) {
        uint8_t *e = sector0 + 446 + 16 * i;
        e[4] = 0x83;
        for (k = 0; k < 4; k++) {
            e[8 + k] = (uint8_t)(start[i] >> (8 * k));
            e[12 + k] = (uint8_t)(count[i] >> (8 * k));
        }
    }
    sector0[510] = 0x55;
    sector0[511] = 0xaa;
}

static void scan_two_partitions(struct nvt *t, struct keel_blkdev kids[2])
{
    static const uint32_t start[2] = {64, 1064}, count[2] = {1000, 1000};
    struct keel_part_table tbl;
    uint8_t *scratch = buf_for(t, 1);

    put_mbr(nvt_media(t, 1, 0), start, count);
    assert_int_equal(keel_part_scan(t->bd, 0, scratch, nvt_bs(t), &tbl), KEEL_OK);
    assert_int_equal(tbl.scheme, KEEL_PART_MBR);
    assert_int_equal(keel_part_register(t->bd, &tbl, kids, 2, NULL), 2);
    assert_true(kids[0].start_lba == 64 && kids[0].info.sector_count == 1000);
    assert_true(kids[1].start_lba == 1064 && kids[1].info.sector_count == 1000);
    free(scratch);
}

static void test_write_beyond_a_partition_end_reaches_no_device(void **state)
{
    struct nvt t;
    struct keel_blkdev kids[2];
    uint8_t *buf, *c1;
    uint64_t b1 = 0;
    uint32_t cmds, dbs;

    nvt_init_state(&t, state);
    nvt_up(&t);
    scan_two_partitions(&t, kids);
    buf = buf_for(&t, 4);
    nvt_pattern(buf, 4u * nvt_bs(&t), 9);
    c1 = media_copy(&t, 1, &b1);
    cmds = media_cmds(&t);
    dbs = io_doorbells(&t);

    /* The first partition ends where the second begins: its neighbour must stay untouched. */
    refuse_past_end(&kids[0], buf, KEEL_ERANGE);
    refuse_past_end(&kids[1], buf, KEEL_ERANGE);
    assert_int_equal(media_cmds(&t), cmds);
    assert_int_equal(io_doorbells(&t), dbs);
    assert_media_unchanged(&t, 1, c1, b1);

    /* Up to the last sector is fine and lands at the right place on the namespace. */
    assert_int_equal(keel_blk_write(&kids[0], 0, 999, 1, buf, NVT_TIMEOUT_US), KEEL_OK);
    assert_memory_equal(nvt_media(&t, 1, 64 + 999), buf, nvt_bs(&t));
    assert_memory_equal(nvt_media(&t, 1, 1064), c1 + (size_t)1064 * nvt_bs(&t), nvt_bs(&t));
    free(c1);
    free(buf);
    nvt_done(&t);
}

/* Every write-like operation, blocking and asynchronous, must fail with EROFS. */
static void refuse_writes(struct keel_blkdev *dev, uint8_t *buf)
{
    struct keel_blk_req r;
    bool called = false;

    assert_int_equal(keel_blk_write(dev, 0, 0, 1, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_write(dev, 1, 5, 3, buf, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_write_zeroes(dev, 0, 0, 8, 0), KEEL_EROFS);
    assert_int_equal(keel_blk_trim(dev, 0, 0, 8, 0), KEEL_EROFS);
    memset(&r, 0, sizeof(r));
    r.op = KEEL_BLK_OP_WRITE;
    r.flags = KEEL_BLK_REQ_FUA;
    r.lba = 1;
    r.count = 1;
    r.buf = buf;
    r.user = &called;
    r.done = never_called;
    assert_int_equal(keel_blk_submit(dev, &r), KEEL_EROFS);
    assert_false(called);
}

static void
test_writes_to_a_write_protected_namespace_fail_with_erofs_and_reach_no_device(void **state)
{
    struct nvt t;
    uint8_t *buf, *c1;
    uint64_t b1 = 0;
    uint32_t dbs;
    struct keel_nvme_range rg = {0, 4};

    nvt_init_state(&t, state);
    t.mc.ns[0].write_protected = true;
    nvt_up(&t);
    assert_true(t.bd->info.flags & KEEL_BLK_F_READ_ONLY);
    assert_int_equal(keel_blkdev_set_access(t.bd, KEEL_BLK_ACCESS_RW), KEEL_EROFS);
    buf = buf_for(&t, 4);
    nvt_pattern(buf, 4u * nvt_bs(&t), 3);
    c1 = media_copy(&t, 1, &b1);
    dbs = io_doorbells(&t);
    refuse_writes(t.bd, buf);
    assert_int_equal(keel_nvme_ns_deallocate(keel_nvme_ns_find(t.c, 1), 0, &rg, 1, 0), KEEL_EROFS);
    assert_int_equal(media_cmds(&t), 0);
    assert_int_equal(io_doorbells(&t), dbs);
    assert_media_unchanged(&t, 1, c1, b1);
    /* reads still work */
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, buf, NVT_TIMEOUT_US), KEEL_OK);
    free(c1);
    free(buf);
    nvt_done(&t);
}

/* A writable namespace opened read-only by the integrator behaves the same. */
static void test_namespace_opened_read_only_refuses_writes_before_the_device(void **state)
{
    struct nvt t;
    uint8_t *buf, *c1;
    uint64_t b1 = 0;
    uint32_t cmds;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_blkdev_set_access(t.bd, KEEL_BLK_ACCESS_RO), KEEL_OK);
    buf = buf_for(&t, 4);
    c1 = media_copy(&t, 1, &b1);
    cmds = media_cmds(&t);
    refuse_writes(t.bd, buf);
    assert_int_equal(media_cmds(&t), cmds);
    assert_media_unchanged(&t, 1, c1, b1);
    assert_int_equal(keel_blkdev_set_access(t.bd, KEEL_BLK_ACCESS_RW), KEEL_OK);
    assert_int_equal(keel_blk_write(t.bd, 0, 0, 1, buf, NVT_TIMEOUT_US), KEEL_OK);
    assert_int_equal(media_cmds(&t), cmds + 1);
    free(c1);
    free(buf);
    nvt_done(&t);
}

/* One partition made read-only: it refuses writes, its sibling and the disk stay writable. */
static void test_read_only_partition_refuses_writes_before_the_device(void **state)
{
    struct nvt t;
    struct keel_blkdev kids[2];
    uint8_t *buf, *c1;
    uint64_t b1 = 0;
    uint32_t cmds;

    nvt_init_state(&t, state);
    nvt_up(&t);
    scan_two_partitions(&t, kids);
    assert_int_equal(keel_blkdev_set_access(&kids[1], KEEL_BLK_ACCESS_RO), KEEL_OK);
    buf = buf_for(&t, 4);
    nvt_pattern(buf, 4u * nvt_bs(&t), 4);
    c1 = media_copy(&t, 1, &b1);
    cmds = media_cmds(&t);
    refuse_writes(&kids[1], buf);
    assert_int_equal(media_cmds(&t), cmds);
    assert_media_unchanged(&t, 1, c1, b1);
    assert_int_equal(keel_blk_write(&kids[0], 0, 0, 1, buf, NVT_TIMEOUT_US), KEEL_OK);
    assert_int_equal(keel_blk_write(t.bd, 0, 4000, 1, buf, NVT_TIMEOUT_US), KEEL_OK);
    assert_int_equal(media_cmds(&t), cmds + 2);
    assert_int_equal(keel_blk_read(&kids[1], 0, 0, 1, buf, NVT_TIMEOUT_US), KEEL_OK);
    free(c1);
    free(buf);
    nvt_done(&t);
}

/* CID of the one command busy on I/O queue `qi`. */
static uint16_t busy_cid(struct nvt *t, unsigned qi)
{
    struct keel_nvme_qpair *q = &t->c->io[qi];
    unsigned i, n = 0;
    uint16_t cid = 0;

    for (i = 0; i < q->nslots; i++) {
        if (q->slots[i].owner != NULL) {
            cid = keel_le16_to_cpu(q->slots[i].sqe.cid); /* the SQE is little-endian */
            n++;
        }
    }
    assert_int_equal(n, 1);
    return cid;
}

/*
 * Queue 0's read fails with a write-fault status whose CQE the device posts on queue 1's CQ, just
 * before queue 1's own completion for a command with the very same CID. Queue 1 must take only
 * its own entry (the SQID tells them apart); queue 0's request ends through its own timeout.
 */
static void test_completion_on_another_queues_cq_never_completes_its_request(void **state)
{
    struct nvt t;
    struct nvt_req q0, q1;
    uint8_t *b0, *b1;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_true(keel_nvme_io_queue_count(t.c) >= 2);
    b0 = buf_for(&t, 2);
    b1 = buf_for(&t, 2);
    nvme_model_set_mode(t.m, NVME_MODEL_MANUAL, 0);
    nvt_req_init(&t, &q0, KEEL_BLK_OP_READ, 10, 2, b0);
    nvt_req_init(&t, &q1, KEEL_BLK_OP_READ, 20, 2, b1);
    q1.r.queue = 1;
    assert_int_equal(keel_blk_submit(t.bd, &q0.r), KEEL_OK);
    assert_int_equal(keel_blk_submit(t.bd, &q1.r), KEEL_OK);
    assert_int_equal(busy_cid(&t, 0), busy_cid(&t, 1)); /* a forged match is possible */
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                  NVME_MODEL_FP_QID(1) |
                      NVME_MODEL_FP_STATUS(NVME_MODEL_SCT_MEDIA, NVME_MODEL_SC_WRITE_FAULT, 1));
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_WRONG_CQ, 0, 1,
                  NVME_MODEL_FP_QID(1) | NVME_MODEL_FP_VALUE(2));
    assert_int_equal(nvme_model_process(t.m), 2);
    assert_int_equal(sim_fault_fired(t.s, NVME_MODEL_F_CQE_WRONG_CQ), 1);
    nvme_model_set_mode(t.m, NVME_MODEL_IMMEDIATE, 0);

    /* Queue 1 sees both entries: the foreign one is rejected, its own completes its request. */
    (void)keel_blk_poll(t.bd, 1, 0);
    assert_int_equal(q1.done_count, 1);
    assert_int_equal(q1.status, KEEL_OK);
    assert_memory_equal(b1, nvt_media(&t, 1, 20), 2u * nvt_bs(&t));
    assert_int_equal(keel_nvme_queue_stats(t.c, 1)->bad_cqes, 1);
    assert_int_equal(q0.done_count, 0);

    /* Queue 0 never got an entry: its request times out and escalates, and only it. */
    nvt_poll_until(&t, 0, &q0, 1, 10u * NVT_TIMEOUT_US);
    assert_int_equal(q0.status, KEEL_ETIMEDOUT);
    assert_int_equal(q0.done_count, 1);
    assert_int_equal(q1.done_count, 1);
    assert_int_equal(t.bd->stats[1].errors, 0);
    assert_int_equal(keel_blk_read(t.bd, 1, 20, 2, b1, NVT_TIMEOUT_US), KEEL_OK);
    free(b0);
    free(b1);
    nvt_done(&t);
}

/* ---- timed-out buffers ---- */

struct late_req {
    struct nvt_req q; /* first: the fixture's callback casts to it */
    uint8_t *snap;    /* the buffer as it was when the callback ran */
    size_t len;
    unsigned held_at_done; /* commands the model still held then */
};

/* Disabled controller or bus mastering off: the device cannot touch the buffer any more. */
static bool device_quiet(const struct nvt_req *q)
{
    return !(q->cc_at_done & 1u) || !(q->pci_cmd_at_done & KEEL_PCI_CMD_MASTER);
}

static void late_done(struct keel_blk_req *r)
{
    struct late_req *l = (struct late_req *)r;
    uint32_t v = 0;

    l->q.done_count++;
    l->q.status = r->status;
    l->q.cc_at_done = nvme_model_cc(l->q.t->m);
    if (l->q.t->s->hal.ops->pci_cfg_read(l->q.t->s->hal.ctx, l->q.t->mc.pci, 4, 2, &v) == 0)
        l->q.pci_cmd_at_done = (uint16_t)v;
    l->held_at_done = nvme_model_cmds_held(l->q.t->m);
    memcpy(l->snap, r->buf, l->len);
}

static void late_init(struct nvt *t, struct late_req *l, uint8_t *buf, uint32_t count)
{
    nvt_req_init(t, &l->q, KEEL_BLK_OP_READ, 40, count, buf);
    l->q.r.done = late_done;
    l->len = (size_t)count * nvt_bs(t);
    l->snap = malloc(l->len);
    assert_non_null(l->snap);
}

/* After the callback: let the device do everything late it can, then compare. */
static void device_acts_late_then_check(struct nvt *t, struct late_req *l)
{
    nvme_model_release_held(t->m);
    (void)nvme_model_process(t->m);
    sim_advance(t->s, 20u * NVT_TIMEOUT_US);
    (void)keel_blk_poll(t->bd, 0, 0);
    (void)keel_nvme_service(t->c);
    assert_int_equal(l->q.done_count, 1);
    assert_memory_equal(l->q.r.buf, l->snap, l->len);
    assert_int_equal(nvme_model_cmds_held(t->m), 0);
    assert_int_equal(t->s->violations, 0);
    free(l->snap);
}

/* Held command, Abort held too: the escalation resets; the device has nothing left afterwards. */
static void test_hung_read_buffer_is_never_written_after_its_timeout_callback(void **state)
{
    struct nvt t;
    struct late_req l;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 4);
    late_init(&t, &l, b, 4);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(keel_blk_submit(t.bd, &l.q.r), KEEL_OK);
    assert_int_equal(nvme_model_cmds_held(t.m), 1);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1,
                  NVME_MODEL_FP_ADMIN | NVME_MODEL_FP_OPC(KEEL_NVME_ADM_ABORT));
    nvt_poll_until(&t, 0, &l.q, 1, 20u * NVT_TIMEOUT_US);
    assert_int_equal(l.q.status, KEEL_ETIMEDOUT);
    assert_int_equal(l.held_at_done, 0); /* the reset took the command from the device first */
    assert_true(device_quiet(&l.q));
    assert_int_equal(keel_nvme_stats(t.c)->resets, 1);
    device_acts_late_then_check(&t, &l);
    free(b);
    nvt_done(&t);
}

/* Held command the Abort finds: it is completed by the device as aborted, never with data. */
static void test_aborted_read_buffer_is_never_written_after_its_timeout_callback(void **state)
{
    struct nvt t;
    struct late_req l;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 2);
    late_init(&t, &l, b, 2);
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 1, NVME_MODEL_FP_IO);
    assert_int_equal(keel_blk_submit(t.bd, &l.q.r), KEEL_OK);
    nvt_poll_until(&t, 0, &l.q, 1, 20u * NVT_TIMEOUT_US);
    assert_int_equal(l.q.status, KEEL_ETIMEDOUT);
    assert_int_equal(l.held_at_done, 0);
    assert_int_equal(nvme_model_stats(t.m)->aborts_hit, 1);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    device_acts_late_then_check(&t, &l);
    free(b);
    nvt_done(&t);
}

/* Completion entry delayed past the abort wait: the reset drops it; nothing lands afterwards. */
static void test_delayed_completion_after_the_timeout_never_touches_the_buffer(void **state)
{
    struct nvt t;
    struct late_req l;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 3);
    late_init(&t, &l, b, 3);
    sim_fault_arm(t.s, NVME_MODEL_F_CQE_DELAY, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_VALUE(8u * NVT_TIMEOUT_US));
    assert_int_equal(keel_blk_submit(t.bd, &l.q.r), KEEL_OK);
    nvt_poll_until(&t, 0, &l.q, 1, 6u * NVT_TIMEOUT_US);
    assert_int_equal(l.q.status, KEEL_ETIMEDOUT);
    assert_true(device_quiet(&l.q));
    device_acts_late_then_check(&t, &l);
    assert_int_equal(keel_nvme_queue_stats(t.c, 0)->bad_cqes, 0);
    free(b);
    nvt_done(&t);
}

/* ---- blocking helpers ---- */

static unsigned slots_in_use(const struct nvt *t, unsigned qi)
{
    const struct keel_nvme_qpair *q = &t->c->io[qi];
    unsigned i, n = 0;

    for (i = 0; i < q->nslots; i++)
        n += q->slots[i].owner != NULL;
    return n;
}

/*
 * keel_nvme_ns_compare() keeps its request on its own stack, so it must not return while a slot
 * still points at that request or the device may still read its buffer. The Compare hangs, the
 * Abort hangs too, and no reset can run (one is under way elsewhere, as far as the driver can
 * tell), so the helper's own deadline passes with the command in flight: it must take the command
 * back anyway (controller disabled, bus mastering off, controller failed) before returning, and
 * its buffer must be unmapped then (nvt_done checks no mapping is left).
 */
static void test_blocking_compare_never_returns_with_its_command_in_flight(void **state)
{
    struct nvt t;
    uint16_t cmd;
    uint32_t v = 0;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = buf_for(&t, 1);
    /* The next two commands the device fetches are held: the Compare, then its Abort. */
    sim_fault_arm(t.s, NVME_MODEL_F_CMD_HANG, 0, 2, 0);
    t.c->in_reset = true; /* keel_nvme_reset_now() refuses: KEEL_EBUSY */
    assert_int_equal(keel_nvme_ns_compare(keel_nvme_ns_find(t.c, 1), 0, 0, 1, b, NVT_TIMEOUT_US),
                     KEEL_ETIMEDOUT);
    t.c->in_reset = false;
    assert_int_equal(keel_nvme_stats(t.c)->aborts, 1);
    assert_int_equal(slots_in_use(&t, 0), 0);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_FAILED);
    assert_int_equal(t.s->hal.ops->pci_cfg_read(t.s->hal.ctx, t.mc.pci, 4, 2, &v), 0);
    cmd = (uint16_t)v;
    /* The device can no longer reach memory: disabled (held commands dropped) or not a master. */
    assert_false(cmd & KEEL_PCI_CMD_MASTER);
    assert_true(!(nvme_model_cc(t.m) & 1u) || nvme_model_cmds_held(t.m) == 0);
    free(b);
    nvt_done(&t);
}

/* ---- passthrough ---- */

struct destructive {
    uint8_t opc;
    uint32_t grant;
};

static const struct destructive destructive_ops[] = {
    {KEEL_NVME_ADM_FORMAT_NVM, KEEL_NVME_PT_ALLOW_FORMAT},
    {KEEL_NVME_ADM_SANITIZE, KEEL_NVME_PT_ALLOW_SANITIZE},
    {KEEL_NVME_ADM_FW_COMMIT, KEEL_NVME_PT_ALLOW_FW_COMMIT},
    {KEEL_NVME_ADM_FW_DOWNLOAD, KEEL_NVME_PT_ALLOW_FW_DOWNLOAD},
    {KEEL_NVME_ADM_NS_MGMT, KEEL_NVME_PT_ALLOW_NS_MGMT},
    {KEEL_NVME_ADM_NS_ATTACH, KEEL_NVME_PT_ALLOW_NS_MGMT},
    {KEEL_NVME_ADM_SECURITY_SEND, KEEL_NVME_PT_ALLOW_SECURITY},
    {0xc0, KEEL_NVME_PT_ALLOW_VENDOR},
    {0xc1, KEEL_NVME_PT_ALLOW_VENDOR},
    {0xc2, KEEL_NVME_PT_ALLOW_VENDOR},
    {0xff, KEEL_NVME_PT_ALLOW_VENDOR},
};

static int send_passthru(struct nvt *t, uint8_t opc, uint8_t *buf)
{
    struct keel_nvme_sqe c;
    bool data = (opc & 3u) != 0u;

    memset(&c, 0, sizeof(c));
    c.opc = opc;
    c.nsid = keel_cpu_to_le32(1);
    return keel_nvme_admin_passthru(t->c, &c, data ? buf : NULL, data ? 4096u : 0u, NULL, NULL,
                                    NVT_TIMEOUT_US);
}

static void test_destructive_passthrough_reaches_the_device_only_with_its_own_grant(void **state)
{
    struct nvt t;
    uint8_t *buf;
    unsigned i;

    nvt_init_state(&t, state);
    nvt_up(&t);
    buf = buf_for(&t, 8);
    for (i = 0; i < sizeof(destructive_ops) / sizeof(destructive_ops[0]); i++) {
        const struct destructive *d = &destructive_ops[i];
        uint32_t before = nvme_model_stats(t.m)->admin_cmds[d->opc];

        /* Nothing granted, then every grant but its own: refused before the device. */
        keel_nvme_passthru_allow(t.c, 0);
        assert_int_equal(send_passthru(&t, d->opc, buf), KEEL_ENOTSUP);
        keel_nvme_passthru_allow(t.c, ~d->grant);
        assert_int_equal(send_passthru(&t, d->opc, buf), KEEL_ENOTSUP);
        assert_int_equal(nvme_model_stats(t.m)->admin_cmds[d->opc], before);
        /* Its own grant: it reaches the device (which may then refuse it itself). */
        keel_nvme_passthru_allow(t.c, d->grant);
        (void)send_passthru(&t, d->opc, buf);
        assert_int_equal(nvme_model_stats(t.m)->admin_cmds[d->opc], before + 1u);
    }
    keel_nvme_passthru_allow(t.c, 0);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, buf, NVT_TIMEOUT_US), KEEL_OK);
    free(buf);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_MATRIX(test_write_beyond_the_namespace_end_reaches_no_device),
        NVT_MATRIX(test_write_beyond_a_partition_end_reaches_no_device),
        NVT_MATRIX(test_writes_to_a_write_protected_namespace_fail_with_erofs_and_reach_no_device),
        NVT_MATRIX(test_namespace_opened_read_only_refuses_writes_before_the_device),
        NVT_MATRIX(test_read_only_partition_refuses_writes_before_the_device),
        NVT_MATRIX(test_completion_on_another_queues_cq_never_completes_its_request),
        NVT_MATRIX(test_hung_read_buffer_is_never_written_after_its_timeout_callback),
        NVT_MATRIX(test_aborted_read_buffer_is_never_written_after_its_timeout_callback),
        NVT_MATRIX(test_delayed_completion_after_the_timeout_never_touches_the_buffer),
        NVT_MATRIX(test_blocking_compare_never_returns_with_its_command_in_flight),
        NVT_DEFAULT(test_destructive_passthrough_reaches_the_device_only_with_its_own_grant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
