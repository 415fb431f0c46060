/* SPDX-License-Identifier: MIT */
/*
 * An interrupt that arrives while a queue's finished requests are being completed, exactly inside
 * the window where one is half taken off the finished list (test point KEEL_TP_VBLK_FIN_POP), on
 * every transport and both ring formats, from each of the three places that drain:
 *  - the owner's call (poll): the interrupt's completion must not be lost (the list was corrupted:
 *    a request fell off it, never completed, and no timeout tracked it any more);
 *  - the interrupt handler itself, on platforms that nest interrupts: the nested interrupt's note
 *    must be taken before the handler returns, not left for an owner call that may never come;
 *  - recovery (keel_vblk_recover): the same, for the requests recovery finished.
 * Each request completes exactly once, with the right data, and without a timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/testpoint.h>

#include "vtest.h"

#define SECTOR 512u

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

/* At the first pass through the window: the device completes what it holds and interrupts. */
struct window {
    struct vmodel *m;
    unsigned hits;
};

static void device_completes_in_window(enum keel_test_point tp, void *arg)
{
    struct window *w = arg;

    if (tp != KEEL_TP_VBLK_FIN_POP || w->hits++ != 0u)
        return;
    assert_true(vmodel_process(w->m, 0) > 0u);
}

struct combo {
    enum vmodel_transport t;
    bool packed;
};

static void start(struct vt *v, const struct combo *c)
{
    struct vt_params p = {c->t, c->packed, true, SIM_MAP_TRANSLATE};

    vt_init(v, &p);
    v->mc.mode = VMODEL_MANUAL;
    assert_int_equal(vt_start(v), KEEL_OK);
}

/* A completed silently (its interrupt lost), B made available but not yet processed. */
static void a_done_silently_b_waiting(struct vt *v, struct counted_req *a, struct counted_req *b,
                                      uint8_t *buf)
{
    counted_read(a, 11, buf);
    counted_read(b, 12, buf + SECTOR);
    assert_int_equal(keel_blk_submit(&v->vb->blk, &a->r), KEEL_OK);
    sim_fault_arm(v->s, VMODEL_FAULT_IRQ_LOST, 0, 1, 0);
    assert_int_equal(vmodel_process(v->m, 0), 1);
    assert_int_equal(a->completions, 0);
    assert_int_equal(keel_blk_submit(&v->vb->blk, &b->r), KEEL_OK);
}

static void check_both_once(struct vt *v, const struct counted_req *a, const struct counted_req *b,
                            const uint8_t *buf, const struct window *w)
{
    assert_int_equal(w->hits > 0u, true);
    assert_int_equal(a->completions, 1);
    assert_int_equal(a->status, KEEL_OK);
    assert_int_equal(b->completions, 1);
    assert_int_equal(b->status, KEEL_OK);
    assert_true(vt_media_equals(v, 11u * SECTOR, buf, 2u * SECTOR));
    assert_int_equal(v->vb->stats.timeouts, 0);
}

static void owner_drain(void **state)
{
    const struct combo *c = *state;
    struct counted_req a, b;
    uint8_t buf[2 * SECTOR];
    struct window w;
    struct vt v;
    unsigned i;

    start(&v, c);
    w = (struct window){v.m, 0};
    a_done_silently_b_waiting(&v, &a, &b, buf);
    keel_test_point_set(device_completes_in_window, &w);
    /* One poll: it reaps A, and B's interrupt comes while A is half off the list. */
    (void)keel_blk_poll(&v.vb->blk, 0, 0);
    keel_test_point_set(NULL, NULL);
    check_both_once(&v, &a, &b, buf, &w);
    for (i = 0; i < 10; i++)
        (void)keel_blk_poll(&v.vb->blk, 0, 0);
    assert_int_equal(a.completions + b.completions, 2);
    vt_finish(&v);
}

static void nested_interrupt(void **state)
{
    const struct combo *c = *state;
    struct counted_req a, b;
    uint8_t buf[2 * SECTOR];
    struct window w;
    struct vt v;

    start(&v, c);
    w = (struct window){v.m, 0};
    a_done_silently_b_waiting(&v, &a, &b, buf);
    keel_test_point_set(device_completes_in_window, &w);
    /* A's interrupt, late: the handler reaps A; B's interrupt nests inside its drain. No owner
     * call follows: the handler alone must complete both. */
    vmodel_inject_irq(v.m, 0);
    keel_test_point_set(NULL, NULL);
    check_both_once(&v, &a, &b, buf, &w);
    vt_finish(&v);
}

static void recovery_drain(void **state)
{
    const struct combo *c = *state;
    struct counted_req a, b;
    uint8_t buf[2 * SECTOR];
    struct window w;
    struct vt v;

    start(&v, c);
    w = (struct window){v.m, 0};
    counted_read(&a, 11, buf);
    counted_read(&b, 12, buf + SECTOR);
    a.r.timeout_us = 1000;
    b.r.timeout_us = 1000000;
    assert_int_equal(keel_blk_submit(&v.vb->blk, &a.r), KEEL_OK);
    assert_int_equal(keel_blk_submit(&v.vb->blk, &b.r), KEEL_OK);
    sim_advance(v.s, 2000);
    keel_test_point_set(device_completes_in_window, &w);
    /* Recovery fails A (timed out) and resubmits B; while A is half off the list, the device
     * completes B and interrupts. No owner call follows. */
    assert_int_equal(keel_vblk_recover(v.vb), KEEL_OK);
    keel_test_point_set(NULL, NULL);
    assert_true(w.hits > 0u);
    assert_int_equal(a.completions, 1);
    assert_int_equal(a.status, KEEL_ETIMEDOUT);
    assert_int_equal(b.completions, 1);
    assert_int_equal(b.status, KEEL_OK);
    assert_true(vt_media_equals(&v, 12u * SECTOR, buf + SECTOR, SECTOR));
    vt_finish(&v);
}

int main(void)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_PCI_LEGACY,
                                               VMODEL_MMIO_V2, VMODEL_MMIO_V1};
    static struct combo combos[8];
    static char names[3][8][64];
    struct CMUnitTest tests[3 * 8];
    unsigned n = 0, k = 0, i, j;

    for (i = 0; i < 4; i++) {
        for (j = 0; j < 2; j++) {
            bool packed = j == 1u;
            if (packed && (ts[i] == VMODEL_PCI_LEGACY || ts[i] == VMODEL_MMIO_V1))
                continue; /* legacy devices have no packed ring */
            combos[k] = (struct combo){ts[i], packed};
            snprintf(names[0][k], sizeof(names[0][k]), "owner_drain_%s_%s",
                     vmodel_transport_name(ts[i]), packed ? "packed" : "split");
            snprintf(names[1][k], sizeof(names[1][k]), "nested_interrupt_%s_%s",
                     vmodel_transport_name(ts[i]), packed ? "packed" : "split");
            snprintf(names[2][k], sizeof(names[2][k]), "recovery_drain_%s_%s",
                     vmodel_transport_name(ts[i]), packed ? "packed" : "split");
            tests[n++] = (struct CMUnitTest){names[0][k], owner_drain, NULL, NULL, &combos[k]};
            tests[n++] = (struct CMUnitTest){names[1][k], nested_interrupt, NULL, NULL, &combos[k]};
            tests[n++] = (struct CMUnitTest){names[2][k], recovery_drain, NULL, NULL, &combos[k]};
            k++;
        }
    }
    return _cmocka_run_group_tests("vblk_drain_race", tests, n, NULL, NULL);
}
