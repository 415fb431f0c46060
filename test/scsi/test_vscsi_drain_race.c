/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi: an interrupt that arrives while a request queue's finished requests are being
 * completed, exactly inside the window where one is half taken off the finished list (test point
 * KEEL_TP_VSCSI_FIN_POP), on every transport and both ring formats, from each of the three places
 * that drain (the same three as virtio-blk's, test/virtio/test_vblk_drain_race.c):
 *  - the owner's call (poll): the interrupt's completion must not be lost (the list was corrupted:
 *    a request fell off it, never completed, and no timeout tracked it any more);
 *  - the interrupt handler itself, on platforms that nest interrupts: the nested interrupt's note
 *    must be taken before the handler returns, not left for an owner call that may never come;
 *  - recovery (keel_vscsi_recover): the same, for the requests recovery finished.
 * Each request completes exactly once, with the right data, and without a timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/testpoint.h>

#include "vst.h"

#define SECTOR 512u
#define RQ0    KEEL_VIRTIO_SCSI_Q_REQUEST /* virtqueue of request queue 0 */

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

/* At the first pass through the window: the device completes what it holds and interrupts. From
 * then on it completes at once, so that a command retried after that answer (UNIT ATTENTION after
 * a reset) completes inside the same driver call. */
struct window {
    struct vmodel *m;
    unsigned hits;
};

static void device_completes_in_window(enum keel_test_point tp, void *arg)
{
    struct window *w = arg;

    if (tp != KEEL_TP_VSCSI_FIN_POP || w->hits++ != 0u)
        return;
    assert_true(vmodel_process(w->m, RQ0) > 0u);
    vmodel_set_mode(w->m, VMODEL_IMMEDIATE, 0);
}

struct combo {
    enum vmodel_transport t;
    bool packed;
};

/* Discovery needs a working device; the races need one that completes only when told. */
static void start(struct vst *v, const struct combo *c)
{
    struct vst_params p = {c->t, c->packed, true, SIM_MAP_TRANSLATE, 0, 0};

    vst_init(v, &p, true);
    assert_int_equal(vst_start(v), KEEL_OK);
    assert_int_equal(vst_disk(v, 0, 0)->info.sector_size, SECTOR);
    vmodel_set_mode(v->m, VMODEL_MANUAL, 0);
}

/* A completed silently (its interrupt lost), B made available but not yet processed. */
static void a_done_silently_b_waiting(struct vst *v, struct counted_req *a, struct counted_req *b,
                                      uint8_t *buf)
{
    counted_read(a, 11, buf);
    counted_read(b, 12, buf + SECTOR);
    assert_int_equal(keel_blk_submit(vst_disk(v, 0, 0), &a->r), KEEL_OK);
    sim_fault_arm(v->s, VMODEL_FAULT_IRQ_LOST, 0, 1, 0);
    assert_int_equal(vmodel_process(v->m, RQ0), 1);
    assert_int_equal(a->completions, 0);
    assert_int_equal(keel_blk_submit(vst_disk(v, 0, 0), &b->r), KEEL_OK);
}

static void check_both_once(struct vst *v, const struct counted_req *a, const struct counted_req *b,
                            const uint8_t *buf, const struct window *w)
{
    assert_int_equal(w->hits > 0u, true);
    assert_int_equal(a->completions, 1);
    assert_int_equal(a->status, KEEL_OK);
    assert_int_equal(b->completions, 1);
    assert_int_equal(b->status, KEEL_OK);
    assert_true(vst_media_equals(v, 0, 0, 11u * SECTOR, buf, 2u * SECTOR));
    assert_int_equal(v->vs->stats.timeouts, 0);
}

static void owner_drain(void **state)
{
    const struct combo *c = *state;
    struct counted_req a, b;
    uint8_t buf[2 * SECTOR];
    struct window w;
    struct vst v;
    unsigned i;

    start(&v, c);
    w = (struct window){v.m, 0};
    a_done_silently_b_waiting(&v, &a, &b, buf);
    keel_test_point_set(device_completes_in_window, &w);
    /* One poll: it reaps A, and B's interrupt comes while A is half off the list. */
    (void)keel_blk_poll(vst_disk(&v, 0, 0), 0, 0);
    keel_test_point_set(NULL, NULL);
    check_both_once(&v, &a, &b, buf, &w);
    for (i = 0; i < 10; i++)
        (void)keel_blk_poll(vst_disk(&v, 0, 0), 0, 0);
    assert_int_equal(a.completions + b.completions, 2);
    vst_finish(&v);
}

static void nested_interrupt(void **state)
{
    const struct combo *c = *state;
    struct counted_req a, b;
    uint8_t buf[2 * SECTOR];
    struct window w;
    struct vst v;

    start(&v, c);
    w = (struct window){v.m, 0};
    a_done_silently_b_waiting(&v, &a, &b, buf);
    keel_test_point_set(device_completes_in_window, &w);
    /* A's interrupt, late: the handler reaps A; B's interrupt nests inside its drain. No owner
     * call follows: the handler alone must complete both. */
    vmodel_inject_irq(v.m, RQ0);
    keel_test_point_set(NULL, NULL);
    check_both_once(&v, &a, &b, buf, &w);
    vst_finish(&v);
}

static void recovery_drain(void **state)
{
    const struct combo *c = *state;
    struct counted_req a, b;
    uint8_t buf[2 * SECTOR];
    struct window w;
    struct vst v;

    start(&v, c);
    w = (struct window){v.m, 0};
    counted_read(&a, 11, buf);
    counted_read(&b, 12, buf + SECTOR);
    a.r.timeout_us = 1000;
    b.r.timeout_us = 1000000;
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &a.r), KEEL_OK);
    assert_int_equal(keel_blk_submit(vst_disk(&v, 0, 0), &b.r), KEEL_OK);
    sim_advance(v.s, 2000);
    keel_test_point_set(device_completes_in_window, &w);
    /* Recovery fails A (timed out) and resubmits B; while A is half off the list, the device
     * completes B and interrupts. No owner call follows. */
    assert_int_equal(keel_vscsi_recover(v.vs), KEEL_OK);
    keel_test_point_set(NULL, NULL);
    assert_true(w.hits > 0u);
    assert_int_equal(a.completions, 1);
    assert_int_equal(a.status, KEEL_ETIMEDOUT);
    assert_int_equal(b.completions, 1);
    assert_int_equal(b.status, KEEL_OK);
    assert_true(vst_media_equals(&v, 0, 0, 12u * SECTOR, buf + SECTOR, SECTOR));
    vst_finish(&v);
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
    return _cmocka_run_group_tests("vscsi_drain_race", tests, n, NULL, NULL);
}
