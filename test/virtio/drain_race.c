/* SPDX-License-Identifier: MIT */
/* The finished-list race scenarios (drain_race.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keel/error.h>

#include "drain_race.h"

#define LBA_A 11u
#define LBA_B 12u

struct counted_req {
    struct keel_blk_req r;
    unsigned completions;
    int status;
};

static void counted_done(struct keel_blk_req *r)
{
    struct counted_req *c = (struct counted_req *)r;
    c->completions++;
    c->status = r->status;
}

static void counted_read(struct counted_req *c, uint64_t lba, void *buf)
{
    memset(c, 0, sizeof(*c));
    c->r.op = KEEL_BLK_OP_READ;
    c->r.lba = lba;
    c->r.count = 1;
    c->r.buf = buf;
    c->r.done = counted_done;
    c->status = KEEL_EAGAIN;
}

struct combo {
    const struct race_ops *ops;
    enum vmodel_transport t;
    bool packed;
};

/* One scenario's state: the fixture, requests A and B, their buffer, the window's hits. */
struct race {
    const struct race_ops *ops;
    void *fx;
    struct vmodel *m;
    struct counted_req a, b;
    uint8_t *buf;
    unsigned hits;
};

/*
 * At the first pass through the window: the device completes what it holds and interrupts. From
 * then on it completes at once, so that a command retried after that answer (virtio-scsi: UNIT
 * ATTENTION after a reset) completes inside the same driver call.
 */
static void device_completes_in_window(enum keel_test_point tp, void *arg)
{
    struct race *r = arg;

    if (tp != r->ops->tp || r->hits++ != 0u)
        return;
    assert_true(vmodel_process(r->m, r->ops->vq) > 0u);
    vmodel_set_mode(r->m, VMODEL_IMMEDIATE, 0);
}

/* A started fixture whose device completes only when told; A and B prepared, not submitted. */
static void race_start(struct race *r, const struct combo *c)
{
    memset(r, 0, sizeof(*r));
    r->ops = c->ops;
    r->fx = c->ops->start(c->t, c->packed);
    r->m = c->ops->model(r->fx);
    r->buf = calloc(2, c->ops->sector);
    assert_non_null(r->buf);
    vmodel_set_mode(r->m, VMODEL_MANUAL, 0);
    counted_read(&r->a, LBA_A, r->buf);
    counted_read(&r->b, LBA_B, r->buf + c->ops->sector);
}

static void race_finish(struct race *r)
{
    r->ops->finish(r->fx);
    free(r->buf);
}

/* A completed silently (its interrupt lost), B made available but not yet processed. */
static void a_done_silently_b_waiting(struct race *r)
{
    struct keel_blkdev *d = r->ops->disk(r->fx);

    assert_int_equal(keel_blk_submit(d, &r->a.r), KEEL_OK);
    sim_fault_arm(r->ops->sim(r->fx), VMODEL_FAULT_IRQ_LOST, 0, 1, 0);
    assert_int_equal(vmodel_process(r->m, r->ops->vq), 1);
    assert_int_equal(r->a.completions, 0);
    assert_int_equal(keel_blk_submit(d, &r->b.r), KEEL_OK);
}

static void check_both_once(struct race *r)
{
    assert_true(r->hits > 0u);
    assert_int_equal(r->a.completions, 1);
    assert_int_equal(r->a.status, KEEL_OK);
    assert_int_equal(r->b.completions, 1);
    assert_int_equal(r->b.status, KEEL_OK);
    assert_true(
        r->ops->media_equals(r->fx, (uint64_t)LBA_A * r->ops->sector, r->buf, 2u * r->ops->sector));
    assert_int_equal(r->ops->timeouts(r->fx), 0);
}

static void owner_drain(void **state)
{
    struct race r;
    unsigned i;

    race_start(&r, *state);
    a_done_silently_b_waiting(&r);
    keel_test_point_set(device_completes_in_window, &r);
    /* One poll: it reaps A, and B's interrupt comes while A is half off the list. */
    (void)keel_blk_poll(r.ops->disk(r.fx), 0, 0);
    keel_test_point_set(NULL, NULL);
    check_both_once(&r);
    for (i = 0; i < 10; i++)
        (void)keel_blk_poll(r.ops->disk(r.fx), 0, 0);
    assert_int_equal(r.a.completions + r.b.completions, 2);
    race_finish(&r);
}

static void nested_interrupt(void **state)
{
    struct race r;

    race_start(&r, *state);
    a_done_silently_b_waiting(&r);
    keel_test_point_set(device_completes_in_window, &r);
    /* A's interrupt, late: the handler reaps A; B's interrupt nests inside its drain. No owner
     * call follows: the handler alone must complete both. */
    vmodel_inject_irq(r.m, r.ops->vq);
    keel_test_point_set(NULL, NULL);
    check_both_once(&r);
    race_finish(&r);
}

static void recovery_drain(void **state)
{
    struct keel_blkdev *d;
    struct race r;

    race_start(&r, *state);
    d = r.ops->disk(r.fx);
    r.a.r.timeout_us = 1000;
    r.b.r.timeout_us = 1000000;
    assert_int_equal(keel_blk_submit(d, &r.a.r), KEEL_OK);
    assert_int_equal(keel_blk_submit(d, &r.b.r), KEEL_OK);
    sim_advance(r.ops->sim(r.fx), 2000);
    keel_test_point_set(device_completes_in_window, &r);
    /* Recovery fails A (timed out) and resends B; while A is half off the list, the device
     * completes B and interrupts. No owner call follows. */
    assert_int_equal(r.ops->recover(r.fx), KEEL_OK);
    keel_test_point_set(NULL, NULL);
    assert_true(r.hits > 0u);
    assert_int_equal(r.a.completions, 1);
    assert_int_equal(r.a.status, KEEL_ETIMEDOUT);
    assert_int_equal(r.b.completions, 1);
    assert_int_equal(r.b.status, KEEL_OK);
    assert_true(r.ops->media_equals(r.fx, (uint64_t)LBA_B * r.ops->sector, r.buf + r.ops->sector,
                                    r.ops->sector));
    race_finish(&r);
}

#define MAX_COMBOS 6 /* 4 transports, packed on the 2 modern ones */

int drain_race_run(const struct race_ops *ops)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_PCI_LEGACY, VMODEL_MMIO_V2,
                                               VMODEL_MMIO_V1};
    static const struct {
        const char *name;
        CMUnitTestFunction fn;
    } scenarios[] = {{"owner_drain", owner_drain},
                     {"nested_interrupt", nested_interrupt},
                     {"recovery_drain", recovery_drain}};
    static struct combo combos[MAX_COMBOS];
    static char names[MAX_COMBOS * 3][64];
    struct CMUnitTest tests[MAX_COMBOS * 3];
    unsigned n = 0, k = 0, i, j, s;

    for (i = 0; i < 4u; i++) {
        for (j = 0; j < 2u; j++) {
            bool packed = j == 1u;
            if (packed && (ts[i] == VMODEL_PCI_LEGACY || ts[i] == VMODEL_MMIO_V1))
                continue; /* legacy devices have no packed ring */
            combos[k] = (struct combo){ops, ts[i], packed};
            for (s = 0; s < 3u; s++, n++) {
                snprintf(names[n], sizeof(names[n]), "%s_%s_%s", scenarios[s].name,
                         vmodel_transport_name(ts[i]), packed ? "packed" : "split");
                tests[n] = (struct CMUnitTest){names[n], scenarios[s].fn, NULL, NULL, &combos[k]};
            }
            k++;
        }
    }
    return _cmocka_run_group_tests(ops->group, tests, n, NULL, NULL);
}
