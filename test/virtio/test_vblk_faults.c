/* SPDX-License-Identifier: MIT */
/*
 * The device as an adversary: every fault the model injects, on split and packed rings, and the
 * driver's answer (request error, broken queue, recovery), plus timeouts and a silent device that
 * must reach every bounded wait and return KEEL_ETIMEDOUT instead of hanging.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

#define SHORT_TIMEOUT 2000u /* us */

static void start(struct vt *v, enum vmodel_transport t, bool packed, bool irq)
{
    struct vt_params p = {t, packed, irq, SIM_MAP_TRANSLATE};
    vt_init(v, &p);
    assert_int_equal(vt_start(v), KEEL_OK);
}

/* After any recovery the disk works again: write, read back, compare with the media. */
static void still_works(struct vt *v, uint64_t lba)
{
    uint8_t w[2048], r[2048];

    vt_fill(w, sizeof(w), (uint32_t)lba);
    assert_int_equal(keel_blk_write(&v->vb->blk, 0, lba, 4, w, 0), KEEL_OK);
    assert_int_equal(keel_blk_read(&v->vb->blk, 0, lba, 4, r, 0), KEEL_OK);
    assert_memory_equal(r, w, sizeof(w));
    assert_true(vt_media_equals(v, lba * 512, w, sizeof(w)));
}

/* A used-ring protocol violation: the request fails with EPROTO, the queue is reset, I/O resumes.
 */
static void protocol_fault(int fault, bool packed, enum vmodel_transport t)
{
    struct vt v;
    uint8_t buf[1024];
    const struct keel_vq_stats *qs;

    start(&v, t, packed, false);
    sim_fault_arm(v.s, fault, 0, 1, 0);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 10, 2, buf, 0), KEEL_EPROTO);
    assert_int_equal(sim_fault_fired(v.s, fault), 1);
    qs = keel_vblk_vq_stats(v.vb, 0);
    assert_true(qs->violations >= 1);
    assert_int_equal(v.vb->stats.device_resets, 1);
    assert_int_equal(v.vb->stats.protocol_errors, 1);
    assert_int_equal(v.vb->blk.stats[0].errors, 1);
    still_works(&v, 20);
    vt_finish(&v);
}

static void test_used_id_out_of_range_breaks_the_queue(void **state)
{
    (void)state;
    protocol_fault(VMODEL_FAULT_USED_ID_OUT_OF_RANGE, false, VMODEL_PCI_MODERN);
    protocol_fault(VMODEL_FAULT_USED_ID_OUT_OF_RANGE, true, VMODEL_PCI_MODERN);
    protocol_fault(VMODEL_FAULT_USED_ID_OUT_OF_RANGE, false, VMODEL_MMIO_V1);
}

static void test_used_id_not_a_head_breaks_the_queue(void **state)
{
    (void)state;
    protocol_fault(VMODEL_FAULT_USED_ID_NOT_HEAD, false, VMODEL_MMIO_V2);
    protocol_fault(VMODEL_FAULT_USED_ID_NOT_HEAD, true, VMODEL_MMIO_V2);
    protocol_fault(VMODEL_FAULT_USED_ID_NOT_HEAD, false, VMODEL_PCI_LEGACY);
}

static void test_used_len_beyond_the_buffer_breaks_the_queue(void **state)
{
    (void)state;
    protocol_fault(VMODEL_FAULT_USED_LEN_TOO_LONG, false, VMODEL_PCI_MODERN);
    protocol_fault(VMODEL_FAULT_USED_LEN_TOO_LONG, true, VMODEL_MMIO_V2);
}

/* 5.2.6.4: legacy devices' used lengths are advisory; an overlong one is clamped, not fatal. */
static void test_legacy_used_len_is_clamped_not_fatal(void **state)
{
    struct vt v;
    uint8_t buf[512];

    (void)state;
    start(&v, VMODEL_MMIO_V1, false, false);
    sim_fault_arm(v.s, VMODEL_FAULT_USED_LEN_TOO_LONG, 0, 1, 0);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 10, 1, buf, 0), KEEL_OK);
    assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_USED_LEN_TOO_LONG), 1);
    assert_int_equal(keel_vblk_vq_stats(v.vb, 0)->violations, 0);
    assert_int_equal(v.vb->stats.device_resets, 0);
    vt_finish(&v);
}

static void test_used_idx_running_ahead_breaks_the_queue(void **state)
{
    (void)state;
    protocol_fault(VMODEL_FAULT_USED_IDX_JUMP, false, VMODEL_PCI_MODERN);
    protocol_fault(VMODEL_FAULT_USED_IDX_JUMP, false, VMODEL_MMIO_V1);
}

/* A used id completed twice: the first completion is good, the duplicate breaks the queue. */
static void test_used_id_reused_is_caught_and_recovered(void **state)
{
    unsigned packed;

    (void)state;
    for (packed = 0; packed < 2; packed++) {
        struct vt v;
        uint8_t buf[512];

        start(&v, VMODEL_PCI_MODERN, packed != 0, false);
        sim_fault_arm(v.s, VMODEL_FAULT_USED_ID_REUSED, 0, 1, 0);
        /* split: the used index runs ahead of what is in flight, seen before any element is
           taken; packed: the first element is good, the duplicate is a free id */
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, 1, buf, 0),
                         packed ? KEEL_OK : KEEL_EPROTO);
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_USED_ID_REUSED), 1);
        /* the duplicate is found on the next look at the ring */
        (void)keel_blk_poll(&v.vb->blk, 0, 0);
        assert_true(keel_vblk_vq_stats(v.vb, 0)->violations >= 1);
        assert_int_equal(v.vb->stats.device_resets, 1);
        still_works(&v, 30);
        vt_finish(&v);
    }
}

/*
 * Descriptors rewritten by the device after submission: the driver never reads them back for its
 * own bookkeeping (shadow), so nothing is corrupted. On split rings, where the device may not write
 * descriptors at all, the rewrite is detected and the request failed; on packed rings the device
 * owns the slots it uses, and the completion is taken from the used element only.
 */
static void test_descriptors_rewritten_by_the_device_do_not_corrupt_the_driver(void **state)
{
    unsigned packed, round;

    (void)state;
    for (packed = 0; packed < 2; packed++) {
        struct vt v;
        uint8_t w[8192], r[8192];

        start(&v, VMODEL_PCI_MODERN, packed != 0, false);
        vt_fill(w, sizeof(w), 4);
        sim_fault_arm(v.s, VMODEL_FAULT_DESC_REWRITE, 0, 1, 0);
        if (packed) {
            assert_int_equal(keel_blk_write(&v.vb->blk, 0, 64, 16, w, 0), KEEL_OK);
            assert_true(vt_media_equals(&v, 64 * 512, w, sizeof(w)));
        } else {
            assert_int_equal(keel_blk_write(&v.vb->blk, 0, 64, 16, w, 0), KEEL_EPROTO);
            assert_int_equal(keel_vblk_vq_stats(v.vb, 0)->violations, 1);
            assert_int_equal(v.vb->q[0].vq.stats.violations, 1);
        }
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_DESC_REWRITE), 1);
        /* many more requests reuse the same descriptors and ids: all fine */
        for (round = 0; round < 50; round++) {
            assert_int_equal(
                keel_blk_write(&v.vb->blk, 0, 100 + round, 1, w + 512 * (round % 16), 0), KEEL_OK);
            assert_int_equal(keel_blk_read(&v.vb->blk, 0, 100 + round, 1, r, 0), KEEL_OK);
            assert_memory_equal(r, w + 512 * (round % 16), 512);
        }
        vt_finish(&v);
    }
}

static void test_unwritten_status_byte_is_an_io_error(void **state)
{
    unsigned packed;

    (void)state;
    for (packed = 0; packed < 2; packed++) {
        struct vt v;
        uint8_t buf[512];

        start(&v, VMODEL_MMIO_V2, packed != 0, false);
        sim_fault_arm(v.s, VMODEL_FAULT_BLK_STATUS_UNWRITTEN, 0, 1, 0);
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, 1, buf, 0), KEEL_EIO);
        assert_int_equal(v.vb->stats.status_unwritten, 1);
        assert_int_equal(v.vb->stats.device_resets, 0); /* a request error, not a protocol one */
        still_works(&v, 2);
        vt_finish(&v);
    }
}

static void test_garbage_status_and_ioerr_fail_the_request(void **state)
{
    struct vt v;
    uint8_t buf[4096];
    struct vt_req a, b;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false);
    sim_fault_arm(v.s, VMODEL_FAULT_BLK_STATUS_GARBAGE, 0, 1, 0x33);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, 1, buf, 0), KEEL_EIO);
    /* IOERR on one sector of a split request fails the whole request, and only it */
    v.vb->vdev.stats.needs_reset = 0;
    sim_fault_arm(v.s, VMODEL_FAULT_BLK_IOERR, 0, UINT32_MAX, 70);
    vt_req_init(&a, KEEL_BLK_OP_READ, 0, 64, 8, buf);
    vt_req_init(&b, KEEL_BLK_OP_READ, 0, 200, 1, buf + 512 * 7);
    assert_int_equal(keel_blk_submit(&v.vb->blk, &a.r), KEEL_OK);
    assert_int_equal(keel_blk_submit(&v.vb->blk, &b.r), KEEL_OK);
    assert_int_equal(vt_wait(&v, &a, 100), KEEL_EIO);
    assert_int_equal(vt_wait(&v, &b, 100), KEEL_OK);
    sim_fault_clear(v.s, VMODEL_FAULT_BLK_IOERR);
    assert_int_equal(v.vb->stats.device_resets, 0);
    still_works(&v, 64);
    vt_finish(&v);
}

/* NEEDS_RESET mid-I/O: the device is reset and re-initialised, the request resubmitted. */
static void test_needs_reset_mid_io_recovers_and_resubmits(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_MMIO_V2};
    unsigned i, packed, irq;

    (void)state;
    for (i = 0; i < 2; i++)
        for (packed = 0; packed < 2; packed++)
            for (irq = 0; irq < 2; irq++) {
                struct vt v;
                uint8_t w[4096];

                start(&v, ts[i], packed != 0, irq != 0);
                vt_fill(w, sizeof(w), 21);
                sim_fault_arm(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO, 0, 1, 0);
                assert_int_equal(keel_blk_write(&v.vb->blk, 0, 8, 8, w, 0), KEEL_OK);
                assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO), 1);
                assert_true(vt_media_equals(&v, 8 * 512, w, sizeof(w)));
                assert_int_equal(v.vb->stats.device_resets, 1);
                assert_int_equal(v.vb->stats.resubmits, 1);
                assert_true(v.vb->vdev.stats.needs_reset >= 1);
                assert_int_equal(v.vb->blk.stats[0].retries, 1);
                assert_true(vmodel_status(v.m) & VMODEL_S_DRIVER_OK);
                still_works(&v, 100);
                vt_finish(&v);
            }
}

/* Legacy devices cannot say NEEDS_RESET: they just stop; the request timeout finds it. */
static void test_legacy_device_that_stops_is_caught_by_the_timeout(void **state)
{
    struct vt v;
    uint8_t buf[512];
    struct vt_req r;

    (void)state;
    start(&v, VMODEL_MMIO_V1, false, false);
    sim_fault_arm(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO, 0, 1, 0);
    vt_req_init(&r, KEEL_BLK_OP_READ, 0, 5, 1, buf);
    r.r.timeout_us = SHORT_TIMEOUT;
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
    assert_int_equal(vt_wait(&v, &r, 100000), KEEL_ETIMEDOUT);
    assert_int_equal(v.vb->stats.device_resets, 1);
    assert_int_equal(v.vb->stats.timeouts, 1);
    still_works(&v, 6);
    vt_finish(&v);
}

/* A stalled queue: overdue requests fail ETIMEDOUT after a queue reset; the rest are resubmitted.
 */
static void test_stalled_request_times_out_after_queue_reset(void **state)
{
    unsigned packed;

    (void)state;
    for (packed = 0; packed < 2; packed++) {
        struct vt v;
        uint8_t buf[4096];
        struct vt_req stuck, late;

        start(&v, packed ? VMODEL_MMIO_V2 : VMODEL_PCI_MODERN, packed != 0, false);
        /* both stall; only the first has a short timeout */
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 2, 0);
        vt_req_init(&stuck, KEEL_BLK_OP_READ, 0, 1, 1, buf);
        stuck.r.timeout_us = SHORT_TIMEOUT;
        assert_int_equal(keel_blk_submit(&v.vb->blk, &stuck.r), KEEL_OK);
        vt_req_init(&late, KEEL_BLK_OP_READ, 0, 2, 1, buf + 512);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &late.r), KEEL_OK);
        assert_int_equal(vt_wait(&v, &stuck, 100000), KEEL_ETIMEDOUT);
        assert_int_equal(vt_wait(&v, &late, 1000), KEEL_OK);
        assert_int_equal(v.vb->stats.queue_resets, 1);
        assert_int_equal(v.vb->stats.device_resets, 0);
        assert_int_equal(v.vb->stats.resubmits, 1);
        assert_int_equal(v.vb->blk.stats[0].timeouts, 1);
        assert_int_equal(vmodel_stats(v.m)->vq[0].resets, 1);
        still_works(&v, 50);
        vt_finish(&v);
    }
}

/* Without RING_RESET the escalation resets the whole device. */
static void test_stalled_request_without_ring_reset_resets_the_device(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_MMIO_V2, false, false, SIM_MAP_BOUNCE};
    uint8_t buf[512];

    (void)state;
    vt_init(&v, &p);
    v.mc.features &= ~VMODEL_F_RING_RESET;
    assert_int_equal(vt_start(&v), KEEL_OK);
    sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 0);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, 1, buf, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
    assert_int_equal(v.vb->stats.queue_resets, 0);
    assert_int_equal(v.vb->stats.device_resets, 1);
    still_works(&v, 60);
    vt_finish(&v);
}

/* Queue reset that does not happen (the device lies): escalate to the device reset. */
static void test_queue_reset_that_does_not_happen_escalates_to_device_reset(void **state)
{
    struct vt v;
    uint8_t buf[512];

    (void)state;
    start(&v, VMODEL_MMIO_V2, true, false);
    sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 0);
    sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_RESET_STUCK, 0, 1, 0);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, 1, buf, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
    assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_QUEUE_RESET_STUCK), 1);
    assert_int_equal(v.vb->stats.device_resets, 1);
    still_works(&v, 70);
    vt_finish(&v);
}

/*
 * A device that silently stops (no DEVICE_NEEDS_RESET, every queue dead) with RING_RESET
 * negotiated: the first timeout resets the queue, which brings nothing back; the next timeout on
 * that queue resets the device, after which I/O works again. Every request ends with a defined
 * result: the overdue ones KEEL_ETIMEDOUT, the patient one resubmitted until it succeeds.
 */
static void
test_silently_stopped_device_is_reset_when_the_queue_reset_brings_nothing_back(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_MMIO_V2};
    unsigned i, packed;

    (void)state;
    for (i = 0; i < 2; i++)
        for (packed = 0; packed < 2; packed++) {
            struct vt v;
            uint8_t ra[512], rb[512], wc[2048];
            struct vt_req a, b, c;
            uint64_t model_resets;

            start(&v, ts[i], packed != 0, false);
            assert_true(keel_virtio_has(&v.vb->vdev, KEEL_VIRTIO_F_RING_RESET));
            model_resets = vmodel_stats(v.m)->device_resets;
            vt_fill(wc, sizeof(wc), 77);
            sim_fault_arm(v.s, VMODEL_FAULT_DEVICE_HANG, 0, 1, 0);
            vt_req_init(&a, KEEL_BLK_OP_READ, 0, 1, 1, ra);
            a.r.timeout_us = SHORT_TIMEOUT;
            vt_req_init(&b, KEEL_BLK_OP_READ, 0, 2, 1, rb);
            b.r.timeout_us = 3 * SHORT_TIMEOUT;
            vt_req_init(&c, KEEL_BLK_OP_WRITE, 0, 40, 4, wc);
            c.r.timeout_us = 100 * SHORT_TIMEOUT;
            assert_int_equal(keel_blk_submit(&v.vb->blk, &a.r), KEEL_OK);
            assert_int_equal(keel_blk_submit(&v.vb->blk, &b.r), KEEL_OK);
            assert_int_equal(keel_blk_submit(&v.vb->blk, &c.r), KEEL_OK);
            assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_DEVICE_HANG), 1);
            assert_true(vmodel_broken(v.m));

            /* first timeout: the queue alone is reset; the others go again */
            assert_int_equal(vt_wait(&v, &a, 100000), KEEL_ETIMEDOUT);
            assert_false(b.done);
            assert_false(c.done);
            assert_int_equal(v.vb->stats.queue_resets, 1);
            assert_int_equal(v.vb->stats.device_resets, 0);
            assert_int_equal(vmodel_stats(v.m)->vq[0].resets, 1);
            assert_true(vmodel_broken(v.m)); /* a queue reset does not revive it */

            /* the same queue times out again with nothing completed since: device reset */
            assert_int_equal(vt_wait(&v, &b, 100000), KEEL_ETIMEDOUT);
            assert_int_equal(v.vb->stats.queue_resets, 1);
            assert_int_equal(v.vb->stats.device_resets, 1);
            assert_int_equal(v.vb->stats.escalations, 1);
            assert_true(vmodel_stats(v.m)->device_resets > model_resets); /* status 0 written */
            assert_false(vmodel_broken(v.m));

            /* the patient request was resubmitted at each reset and now succeeds */
            assert_int_equal(vt_wait(&v, &c, 1000), KEEL_OK);
            assert_true(vt_media_equals(&v, 40 * 512, wc, sizeof(wc)));
            assert_int_equal(v.vb->stats.resubmits, 3);
            assert_int_equal(v.vb->stats.timeouts, 2);
            assert_int_equal(v.vb->blk.stats[0].timeouts, 2);
            assert_int_equal(v.vb->blk.stats[0].errors, 2);
            assert_int_equal(v.vb->q[0].used_slots, 0);
            assert_int_equal(v.vb->q[0].vq.in_flight, 0);
            still_works(&v, 60);
            assert_int_equal(v.vb->stats.device_resets, 1);
            vt_finish(&v);
        }
}

/* A queue reset that does bring the queue back (it completes again) is not escalated later. */
static void test_queue_that_works_after_its_reset_gets_a_queue_reset_again(void **state)
{
    unsigned packed;

    (void)state;
    for (packed = 0; packed < 2; packed++) {
        struct vt v;
        uint8_t buf[512];

        start(&v, VMODEL_PCI_MODERN, packed != 0, false);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 0);
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, 1, buf, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 2, 1, buf, SHORT_TIMEOUT), KEEL_OK);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 0);
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 3, 1, buf, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_int_equal(v.vb->stats.queue_resets, 2);
        assert_int_equal(v.vb->stats.device_resets, 0);
        assert_int_equal(v.vb->stats.escalations, 0);
        still_works(&v, 64);
        vt_finish(&v);
    }
}

/* Packed used flags written wrong: the completion is invisible; the timeout ends it. */
static void test_packed_bad_used_flags_end_in_timeout_not_a_hang(void **state)
{
    unsigned param;

    (void)state;
    for (param = 0; param < 2; param++) {
        struct vt v;
        uint8_t buf[512];

        start(&v, VMODEL_PCI_MODERN, true, false);
        sim_fault_arm(v.s, VMODEL_FAULT_PACKED_BAD_USED_FLAGS, 0, 1, param);
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, 1, buf, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_PACKED_BAD_USED_FLAGS), 1);
        still_works(&v, 80);
        vt_finish(&v);
    }
}

/* A lost interrupt: the completion is found by polling the ring before any timeout action. */
static void test_lost_interrupt_is_found_by_polling_before_timeout(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_MMIO_V2,
                                               VMODEL_PCI_LEGACY};
    unsigned i;

    (void)state;
    for (i = 0; i < 3; i++) {
        struct vt v;
        uint8_t buf[512];
        struct vt_req r;

        start(&v, ts[i], false, true);
        vmodel_set_mode(v.m, VMODEL_DEFERRED, 10);
        sim_fault_arm(v.s, VMODEL_FAULT_IRQ_LOST, 0, 1, 0);
        vt_req_init(&r, KEEL_BLK_OP_READ, 0, 1, 1, buf);
        r.r.timeout_us = SHORT_TIMEOUT;
        assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
        sim_advance(v.s, 3 * SHORT_TIMEOUT); /* past the deadline, no interrupt came */
        assert_false(r.done);
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_IRQ_LOST), 1);
        assert_int_equal(vt_wait(&v, &r, 10), KEEL_OK); /* the poll reaps it: not a timeout */
        assert_int_equal(v.vb->stats.queue_resets + v.vb->stats.device_resets, 0);
        vt_finish(&v);
    }
}

/*
 * A silent device: nothing completes, resets are ignored, queue resets too. Every operation ends
 * with an error in bounded (virtual) time; the disk is then dead and says so.
 */
static void test_silent_device_reaches_every_wait_and_times_out(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_MMIO_V2, VMODEL_MMIO_V1,
                                               VMODEL_PCI_LEGACY};
    unsigned i;

    (void)state;
    for (i = 0; i < 4; i++) {
        struct vt v;
        uint8_t buf[512];
        char id[32];
        uint64_t t0;

        start(&v, ts[i], false, i & 1u);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, UINT32_MAX, 0);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_RESET_STUCK, 0, UINT32_MAX, 0);
        sim_fault_arm(v.s, VMODEL_FAULT_RESET_STUCK, 0, UINT32_MAX, 0);
        t0 = v.s->now_us;
        /* request timeout -> reap -> queue reset (when offered) -> device reset -> dead */
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1, 1, buf, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_true(v.s->now_us - t0 < 4ull * KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US);
        assert_true(v.vb->dead);
        assert_int_equal(keel_blk_write(&v.vb->blk, 0, 1, 1, buf, SHORT_TIMEOUT), KEEL_ENODEV);
        assert_int_equal(keel_blk_flush(&v.vb->blk, 0, SHORT_TIMEOUT), KEEL_ENODEV);
        assert_int_equal(keel_vblk_get_id(v.vb, id, sizeof(id), SHORT_TIMEOUT), KEEL_ENODEV);
        assert_int_equal(keel_vblk_recover(v.vb), KEEL_ENODEV);
        sim_fault_clear(v.s, VMODEL_FAULT_RESET_STUCK);
        vt_finish(&v);
    }
}

/* The same with GET_ID and FLUSH as the requests that hang (the internal synchronous path). */
static void test_stalled_internal_requests_time_out(void **state)
{
    struct vt v;
    char id[32];

    (void)state;
    start(&v, VMODEL_PCI_MODERN, true, true);
    sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 0);
    assert_int_equal(keel_vblk_get_id(v.vb, id, sizeof(id), SHORT_TIMEOUT), KEEL_ETIMEDOUT);
    /* a completion in between shows the queue reset worked: the next stall is a queue reset too
       (without one it would escalate to a device reset) */
    assert_int_equal(keel_vblk_get_id(v.vb, id, sizeof(id), 0), KEEL_OK);
    sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 0);
    assert_int_equal(keel_blk_flush(&v.vb->blk, 0, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
    assert_int_equal(v.vb->stats.queue_resets, 2);
    assert_int_equal(v.vb->stats.device_resets, 0);
    assert_int_equal(keel_vblk_get_id(v.vb, id, sizeof(id), 0), KEEL_OK);
    vt_finish(&v);
}

/* A device that disappears mid-I/O (all-ones reads): bounded failure, no hang, no stray DMA. */
static void test_surprise_removal_mid_io_fails_bounded(void **state)
{
    struct vt v;
    uint8_t buf[512];
    struct vt_req r;
    uint64_t t0;

    (void)state;
    start(&v, VMODEL_PCI_MODERN, false, false);
    vmodel_set_mode(v.m, VMODEL_MANUAL, 0);
    vt_req_init(&r, KEEL_BLK_OP_READ, 0, 1, 1, buf);
    r.r.timeout_us = SHORT_TIMEOUT;
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
    vmodel_set_gone(v.m, true);
    t0 = v.s->now_us;
    assert_int_not_equal(vt_wait(&v, &r, 1000000), KEEL_EAGAIN);
    assert_true(r.status == KEEL_ETIMEDOUT || r.status == KEEL_EIO);
    assert_true(v.s->now_us - t0 < 4ull * KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US);
    assert_true(v.vb->dead);
    vt_finish(&v);
}

/* Spurious interrupts (no used buffer) change nothing. */
static void test_spurious_interrupts_are_harmless(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_MMIO_V2,
                                               VMODEL_PCI_LEGACY};
    unsigned i, k;

    (void)state;
    for (i = 0; i < 3; i++) {
        struct vt v;
        start(&v, ts[i], false, true);
        for (k = 0; k < 5; k++) {
            vmodel_inject_irq(v.m, 0);
            vmodel_inject_irq(v.m, VMODEL_CONFIG_IRQ);
        }
        assert_int_equal(keel_vblk_service(v.vb), KEEL_OK);
        assert_int_equal(v.vb->stats.device_resets, 0);
        still_works(&v, 90);
        vt_finish(&v);
    }
}

/* A device that keeps failing: resubmissions are bounded, then the request fails with EIO. */
static void test_resubmission_is_bounded_when_the_device_keeps_needing_reset(void **state)
{
    struct vt v;
    uint8_t buf[512];

    (void)state;
    start(&v, VMODEL_MMIO_V2, true, true);
    sim_fault_arm(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO, 0, UINT32_MAX, 0);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 3, 1, buf, 0), KEEL_EIO);
    assert_int_equal(v.vb->stats.resubmits, KEEL_CONFIG_VIRTIO_BLK_RETRIES);
    assert_int_equal(v.vb->stats.device_resets, KEEL_CONFIG_VIRTIO_BLK_RETRIES + 1);
    assert_int_equal(v.vb->blk.stats[0].retries, KEEL_CONFIG_VIRTIO_BLK_RETRIES);
    sim_fault_clear(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO);
    still_works(&v, 40);
    vt_finish(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_used_id_out_of_range_breaks_the_queue),
        cmocka_unit_test(test_used_id_not_a_head_breaks_the_queue),
        cmocka_unit_test(test_used_len_beyond_the_buffer_breaks_the_queue),
        cmocka_unit_test(test_legacy_used_len_is_clamped_not_fatal),
        cmocka_unit_test(test_used_idx_running_ahead_breaks_the_queue),
        cmocka_unit_test(test_used_id_reused_is_caught_and_recovered),
        cmocka_unit_test(test_descriptors_rewritten_by_the_device_do_not_corrupt_the_driver),
        cmocka_unit_test(test_unwritten_status_byte_is_an_io_error),
        cmocka_unit_test(test_garbage_status_and_ioerr_fail_the_request),
        cmocka_unit_test(test_needs_reset_mid_io_recovers_and_resubmits),
        cmocka_unit_test(test_legacy_device_that_stops_is_caught_by_the_timeout),
        cmocka_unit_test(test_stalled_request_times_out_after_queue_reset),
        cmocka_unit_test(test_stalled_request_without_ring_reset_resets_the_device),
        cmocka_unit_test(test_queue_reset_that_does_not_happen_escalates_to_device_reset),
        cmocka_unit_test(
            test_silently_stopped_device_is_reset_when_the_queue_reset_brings_nothing_back),
        cmocka_unit_test(test_queue_that_works_after_its_reset_gets_a_queue_reset_again),
        cmocka_unit_test(test_packed_bad_used_flags_end_in_timeout_not_a_hang),
        cmocka_unit_test(test_lost_interrupt_is_found_by_polling_before_timeout),
        cmocka_unit_test(test_silent_device_reaches_every_wait_and_times_out),
        cmocka_unit_test(test_stalled_internal_requests_time_out),
        cmocka_unit_test(test_surprise_removal_mid_io_fails_bounded),
        cmocka_unit_test(test_spurious_interrupts_are_harmless),
        cmocka_unit_test(test_resubmission_is_bounded_when_the_device_keeps_needing_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
