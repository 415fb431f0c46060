/* SPDX-License-Identifier: MIT */
/*
 * The virtio-blk row of the fault matrix in docs/reliability.md: every fault the virtio device
 * model and its blk backend can inject (enum vmodel_fault, 2000..2014 and 2050..2052), one test
 * each, run on every transport and ring format (PCI modern split and packed, PCI transitional
 * through its legacy interface, PCI legacy, MMIO v2 split and packed, MMIO v1), and inside each of
 * those at four geometries: 512 / 4096-byte logical blocks x queue size 8 / the device maximum,
 * with translated and bounced DMA mappings. Two request queues everywhere.
 *
 * Each test checks the documented outcome (error code, recovery: none, queue reset, device reset,
 * dead device; data state; the disk usable afterwards) and ends with vt_finish(), which fails on
 * any sim violation: DMA to an unmapped bus address, a leaked mapping, a driver-requirement breach.
 * A fault whose trigger cannot exist on a column (packed-ring flags on a split ring, FEATURES_OK on
 * a legacy interface, a queue reset without RING_RESET) is run there too and must never fire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

#define SHORT_TIMEOUT 2000u /* us */

/* ---- the matrix axes ---- */

struct col {
    enum vmodel_transport t;
    bool packed;
};

static const struct col col_pci_modern_split = {VMODEL_PCI_MODERN, false};
static const struct col col_pci_modern_packed = {VMODEL_PCI_MODERN, true};
static const struct col col_pci_transitional = {VMODEL_PCI_TRANSITIONAL, false};
static const struct col col_pci_legacy = {VMODEL_PCI_LEGACY, false};
static const struct col col_mmio_v2_split = {VMODEL_MMIO_V2, false};
static const struct col col_mmio_v2_packed = {VMODEL_MMIO_V2, true};
static const struct col col_mmio_v1 = {VMODEL_MMIO_V1, false};

#define VBM_CASE(fn, c)                                                                            \
    {                                                                                              \
#fn "[" #c "]", fn, NULL, NULL, (void *)&col_##c                                           \
    }
#define VBM_ROW(fn)                                                                                \
    VBM_CASE(fn, pci_modern_split), VBM_CASE(fn, pci_modern_packed),                               \
        VBM_CASE(fn, pci_transitional), VBM_CASE(fn, pci_legacy), VBM_CASE(fn, mmio_v2_split),     \
        VBM_CASE(fn, mmio_v2_packed), VBM_CASE(fn, mmio_v1)

struct geo {
    uint32_t bs;
    bool small; /* queue size 8, else the device's maximum */
    enum sim_map_mode map;
};

static const struct geo geos[4] = {
    {512, true, SIM_MAP_TRANSLATE},
    {512, false, SIM_MAP_BOUNCE},
    {4096, true, SIM_MAP_BOUNCE},
    {4096, false, SIM_MAP_TRANSLATE},
};

#define EACH_GEO(g) for (const struct geo *g = geos; g < geos + 4; g++)

/* Legacy interface: no VERSION_1, no FEATURES_OK, no NEEDS_RESET, advisory used lengths. */
static bool is_legacy(const struct col *c)
{
    return c->t == VMODEL_PCI_LEGACY || c->t == VMODEL_PCI_TRANSITIONAL || c->t == VMODEL_MMIO_V1;
}

static void setup(struct vt *v, const struct col *c, const struct geo *g, bool irq)
{
    struct vt_params p = {c->t, c->packed, irq, g->map};

    vt_init(v, &p);
    v->bc.blk_size = g->bs;
    v->bc.num_queues = 2;
    if (g->small) {
        v->mc.queue_size_max = 8;
        v->opts.queue_size = 8;
    }
}

static void up(struct vt *v, const struct col *c, const struct geo *g, bool irq)
{
    setup(v, c, g, irq);
    assert_int_equal(vt_start(v), KEEL_OK);
    assert_int_equal(v->vb->blk.info.sector_size, g->bs);
    assert_int_equal(vmodel_queue_packed(v->m, 0), c->packed);
    if (g->small)
        assert_int_equal(vmodel_queue_size(v->m, 0), 8);
}

static uint32_t bsz(const struct vt *v)
{
    return v->vb->blk.info.sector_size;
}

static uint8_t *blocks(const struct vt *v, uint32_t n, uint32_t seed)
{
    uint8_t *b = malloc((size_t)n * bsz(v));

    assert_non_null(b);
    vt_fill(b, (size_t)n * bsz(v), seed);
    return b;
}

static bool media_is(struct vt *v, uint64_t lba, const void *buf, uint32_t n)
{
    return vt_media_equals(v, lba * bsz(v), buf, (size_t)n * bsz(v));
}

static int rd(struct vt *v, unsigned q, uint64_t lba, uint32_t n, uint32_t timeout)
{
    uint8_t *b = blocks(v, n, 0);
    int rc = keel_blk_read(&v->vb->blk, q, lba, n, b, timeout);

    if (rc == KEEL_OK)
        assert_true(media_is(v, lba, b, n));
    free(b);
    return rc;
}

/* After any recovery the disk works on every queue: write, read back, compare with the media. */
static void still_works(struct vt *v)
{
    unsigned q;

    assert_false(v->vb->dead);
    for (q = 0; q < v->vb->nq; q++) {
        uint8_t *w = blocks(v, 3, 100 + q);
        assert_int_equal(keel_blk_write(&v->vb->blk, q, 40 + 8u * q, 3, w, 0), KEEL_OK);
        assert_true(media_is(v, 40 + 8u * q, w, 3));
        assert_int_equal(rd(v, q, 40 + 8u * q, 3, 0), KEEL_OK);
        free(w);
    }
}

/* A used-ring protocol violation on a read: EPROTO, one device reset, I/O resumes. */
static void protocol_violation(struct vt *v, int fault, uint64_t param)
{
    sim_fault_arm(v->s, fault, 0, 1, param);
    assert_int_equal(rd(v, 0, 10, 2, 0), KEEL_EPROTO);
    assert_int_equal(sim_fault_fired(v->s, fault), 1);
    assert_true(keel_vblk_vq_stats(v->vb, 0)->violations >= 1);
    assert_int_equal(v->vb->stats.device_resets, 1);
    assert_int_equal(v->vb->stats.protocol_errors, 1);
    assert_int_equal(v->vb->blk.stats[0].errors, 1);
    still_works(v);
}

/* The fault cannot happen on this column: armed forever, it never fires and I/O is unaffected. */
static void never_fires(struct vt *v, int fault)
{
    uint8_t *w = blocks(v, 4, 77);

    sim_fault_arm(v->s, fault, 0, UINT32_MAX, 0);
    assert_int_equal(keel_blk_write(&v->vb->blk, 0, 12, 4, w, 0), KEEL_OK);
    assert_int_equal(rd(v, 1, 12, 4, 0), KEEL_OK);
    assert_true(media_is(v, 12, w, 4));
    assert_int_equal(sim_fault_fired(v->s, fault), 0);
    sim_fault_clear(v->s, fault);
    assert_int_equal(v->vb->stats.device_resets + v->vb->stats.queue_resets, 0);
    free(w);
}

/* ---- 2000..2013: virtio core ---- */

static void test_f2000_used_id_out_of_range_breaks_the_queue(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        up(&v, c, g, false);
        protocol_violation(&v, VMODEL_FAULT_USED_ID_OUT_OF_RANGE, 0);
        vt_finish(&v);
    }
}

static void test_f2001_used_id_not_a_head_breaks_the_queue(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        up(&v, c, g, false);
        protocol_violation(&v, VMODEL_FAULT_USED_ID_NOT_HEAD, 0);
        vt_finish(&v);
    }
}

/* A used id completed twice: split rings see the used index run ahead at once (EPROTO); on packed
 * rings the first completion is good and the duplicate breaks the queue at the next look. */
static void test_f2002_used_id_reused_is_caught_and_recovered(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        up(&v, c, g, false);
        sim_fault_arm(v.s, VMODEL_FAULT_USED_ID_REUSED, 0, 1, 0);
        assert_int_equal(rd(&v, 0, 1, 1, 0), c->packed ? KEEL_OK : KEEL_EPROTO);
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_USED_ID_REUSED), 1);
        (void)keel_blk_poll(&v.vb->blk, 0, 0);
        assert_true(keel_vblk_vq_stats(v.vb, 0)->violations >= 1);
        assert_int_equal(v.vb->stats.device_resets, 1);
        still_works(&v);
        vt_finish(&v);
    }
}

/* Used length beyond the writable bytes: a violation on modern devices; advisory (clamped) on
 * legacy interfaces (5.2.6.4), where the request succeeds with correct data. */
static void test_f2003_used_len_too_long_breaks_modern_and_is_clamped_on_legacy(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        up(&v, c, g, false);
        if (!is_legacy(c)) {
            protocol_violation(&v, VMODEL_FAULT_USED_LEN_TOO_LONG, 0);
        } else {
            sim_fault_arm(v.s, VMODEL_FAULT_USED_LEN_TOO_LONG, 0, 1, 0);
            assert_int_equal(rd(&v, 0, 10, 2, 0), KEEL_OK);
            assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_USED_LEN_TOO_LONG), 1);
            assert_int_equal(keel_vblk_vq_stats(v.vb, 0)->violations, 0);
            assert_int_equal(v.vb->stats.device_resets, 0);
            still_works(&v);
        }
        vt_finish(&v);
    }
}

/* Descriptors rewritten by the device: on split rings (where the device must not write them) the
 * rewrite is detected and the request fails EPROTO; on packed rings the completion comes from the
 * used element alone and the write lands. Either way later requests reusing the slots are fine. */
static void test_f2004_rewritten_descriptors_never_corrupt_the_driver(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        uint8_t *w;
        unsigned i;

        up(&v, c, g, false);
        w = blocks(&v, 8, 4);
        sim_fault_arm(v.s, VMODEL_FAULT_DESC_REWRITE, 0, 1, 0);
        if (c->packed) {
            assert_int_equal(keel_blk_write(&v.vb->blk, 0, 64, 8, w, 0), KEEL_OK);
            assert_true(media_is(&v, 64, w, 8));
        } else {
            assert_int_equal(keel_blk_write(&v.vb->blk, 0, 64, 8, w, 0), KEEL_EPROTO);
            assert_int_equal(keel_vblk_vq_stats(v.vb, 0)->violations, 1);
        }
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_DESC_REWRITE), 1);
        for (i = 0; i < 20; i++) {
            assert_int_equal(keel_blk_write(&v.vb->blk, 0, 100 + i, 1, w + bsz(&v) * (i % 8), 0),
                             KEEL_OK);
            assert_int_equal(rd(&v, 0, 100 + i, 1, 0), KEEL_OK);
        }
        free(w);
        vt_finish(&v);
    }
}

/* Generation moving during config reads: retried until consistent; never settling: attach fails
 * bounded with EAGAIN. Legacy interfaces have no generation: nothing to see, attach succeeds. */
static void test_f2005_config_generation_changes_are_retried_and_bounded(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;

        setup(&v, c, g, false);
        v.bc.capacity = 4000;
        sim_fault_arm(v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD, 0, 3, 1);
        assert_int_equal(vt_start(&v), KEEL_OK);
        assert_int_equal(v.vb->blk.info.sector_count, 4000u / (g->bs / 512u));
        if (!is_legacy(c))
            assert_true(v.vb->vdev.stats.config_retries >= 1);
        still_works(&v);
        vt_finish(&v);

        setup(&v, c, g, false);
        sim_fault_arm(v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD, 0, UINT32_MAX, 1);
        if (is_legacy(c)) {
            assert_int_equal(vt_start(&v), KEEL_OK);
            sim_fault_clear(v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD);
            still_works(&v);
        } else {
            assert_int_equal(vt_start(&v), KEEL_EAGAIN);
            assert_int_equal(v.vb->vdev.stats.config_retries, KEEL_CONFIG_VIRTIO_CONFIG_RETRIES);
            assert_false(v.vb->attached);
            sim_fault_clear(v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD);
        }
        vt_finish(&v);
    }
}

/* FEATURES_OK refused: attach fails ENOTSUP with FAILED set, and a retry works. Legacy interfaces
 * have no FEATURES_OK step: the fault never fires. */
static void test_f2006_features_ok_refused_fails_attach_cleanly(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;

        if (is_legacy(c)) {
            up(&v, c, g, false);
            never_fires(&v, VMODEL_FAULT_FEATURES_OK_REFUSED);
            vt_finish(&v);
            continue;
        }
        setup(&v, c, g, false);
        sim_fault_arm(v.s, VMODEL_FAULT_FEATURES_OK_REFUSED, 0, 1, 0);
        assert_int_equal(vt_start(&v), KEEL_ENOTSUP);
        assert_false(v.vb->attached);
        assert_true(vmodel_status(v.m) & VMODEL_S_FAILED);
        assert_false(vmodel_status(v.m) & VMODEL_S_DRIVER_OK);
        assert_int_equal(v.s->maps_live, 0);
        assert_int_equal(keel_vblk_attach(v.vb, &v.opts), KEEL_OK);
        still_works(&v);
        vt_finish(&v);
    }
}

/* NEEDS_RESET mid-I/O: modern devices are reset and the request resubmitted (the write lands);
 * legacy devices just stop, and the request's timeout finds it (ETIMEDOUT, device reset). */
static void test_f2007_needs_reset_mid_io_recovers(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        uint8_t *w;

        up(&v, c, g, false);
        w = blocks(&v, 4, 21);
        sim_fault_arm(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO, 0, 1, 0);
        if (!is_legacy(c)) {
            assert_int_equal(keel_blk_write(&v.vb->blk, 0, 8, 4, w, 0), KEEL_OK);
            assert_true(media_is(&v, 8, w, 4));
            assert_int_equal(v.vb->stats.resubmits, 1);
            assert_true(v.vb->vdev.stats.needs_reset >= 1);
        } else {
            assert_int_equal(keel_blk_write(&v.vb->blk, 0, 8, 4, w, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
            assert_int_equal(v.vb->stats.timeouts, 1);
        }
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO), 1);
        assert_int_equal(v.vb->stats.device_resets, 1);
        assert_true(vmodel_status(v.m) & VMODEL_S_DRIVER_OK);
        still_works(&v);
        free(w);
        vt_finish(&v);
    }
}

/* A stalled queue: the overdue request fails ETIMEDOUT, the other one is resubmitted and
 * succeeds; the recovery is a queue reset where RING_RESET exists, else a device reset. */
static void test_f2008_stalled_queue_times_out_and_resubmits_the_rest(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        struct vt_req stuck, late;
        uint8_t *b;

        up(&v, c, g, false);
        b = blocks(&v, 2, 0);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 2, 1u << 0);
        vt_req_init(&stuck, KEEL_BLK_OP_READ, 0, 1, 1, b);
        stuck.r.timeout_us = SHORT_TIMEOUT;
        vt_req_init(&late, KEEL_BLK_OP_READ, 0, 2, 1, b + bsz(&v));
        assert_int_equal(keel_blk_submit(&v.vb->blk, &stuck.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &late.r), KEEL_OK);
        assert_int_equal(vt_wait(&v, &stuck, 100000), KEEL_ETIMEDOUT);
        assert_int_equal(vt_wait(&v, &late, 1000), KEEL_OK);
        assert_true(media_is(&v, 2, b + bsz(&v), 1));
        assert_int_equal(v.vb->stats.resubmits, 1);
        assert_int_equal(v.vb->blk.stats[0].timeouts, 1);
        if (is_legacy(c)) {
            assert_int_equal(v.vb->stats.queue_resets, 0);
            assert_int_equal(v.vb->stats.device_resets, 1);
        } else {
            assert_int_equal(v.vb->stats.queue_resets, 1);
            assert_int_equal(v.vb->stats.device_resets, 0);
        }
        still_works(&v);
        free(b);
        vt_finish(&v);
    }
}

/* A device that hangs silently (every queue, no NEEDS_RESET): with RING_RESET the first timeout
 * resets the queue, which brings nothing back, and the next one on that queue resets the device;
 * without it the first timeout resets the device. Overdue requests fail ETIMEDOUT, the others
 * (the one on the other queue included) are resubmitted and succeed after the device reset. */
static void test_f2014_silent_device_hang_is_ended_by_a_device_reset(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        struct vt_req a, b, w;
        uint8_t *ra, *data;

        up(&v, c, g, false);
        ra = blocks(&v, 2, 0);
        data = blocks(&v, 4, 14);
        sim_fault_arm(v.s, VMODEL_FAULT_DEVICE_HANG, 0, 1, 0);
        vt_req_init(&a, KEEL_BLK_OP_READ, 0, 1, 1, ra);
        a.r.timeout_us = SHORT_TIMEOUT;
        vt_req_init(&b, KEEL_BLK_OP_READ, 0, 2, 1, ra + bsz(&v));
        b.r.timeout_us = 3 * SHORT_TIMEOUT;
        vt_req_init(&w, KEEL_BLK_OP_WRITE, 1, 16, 4, data);
        w.r.timeout_us = 100 * SHORT_TIMEOUT;
        assert_int_equal(keel_blk_submit(&v.vb->blk, &a.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &b.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &w.r), KEEL_OK);
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_DEVICE_HANG), 1);
        assert_int_equal(vt_wait(&v, &a, 100000), KEEL_ETIMEDOUT);
        if (is_legacy(c)) {
            assert_int_equal(v.vb->stats.queue_resets, 0);
            assert_int_equal(v.vb->stats.device_resets, 1);
            assert_int_equal(vt_wait(&v, &b, 1000), KEEL_OK);
            assert_true(media_is(&v, 2, ra + bsz(&v), 1));
            assert_int_equal(v.vb->stats.timeouts, 1);
        } else {
            assert_int_equal(v.vb->stats.queue_resets, 1);
            assert_int_equal(v.vb->stats.device_resets, 0);
            assert_int_equal(vt_wait(&v, &b, 100000), KEEL_ETIMEDOUT);
            assert_int_equal(v.vb->stats.queue_resets, 1);
            assert_int_equal(v.vb->stats.device_resets, 1);
            assert_int_equal(v.vb->stats.escalations, 1);
            assert_int_equal(v.vb->stats.timeouts, 2);
        }
        assert_int_equal(vt_wait(&v, &w, 1000), KEEL_OK);
        assert_true(media_is(&v, 16, data, 4));
        assert_int_equal(v.vb->stats.resubmits, 2);
        assert_false(vmodel_broken(v.m));
        still_works(&v);
        assert_int_equal(v.vb->stats.device_resets, 1);
        free(data);
        free(ra);
        vt_finish(&v);
    }
}

/* Packed used flags written wrong: the completion is invisible, the timeout ends the request. */
static void test_f2009_bad_packed_used_flags_end_in_timeout(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        unsigned param;

        up(&v, c, g, false);
        if (!c->packed) {
            never_fires(&v, VMODEL_FAULT_PACKED_BAD_USED_FLAGS);
            vt_finish(&v);
            continue;
        }
        for (param = 0; param < 2; param++) {
            sim_fault_arm(v.s, VMODEL_FAULT_PACKED_BAD_USED_FLAGS, 0, 1, param);
            assert_int_equal(rd(&v, 0, 1, 1, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
            assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_PACKED_BAD_USED_FLAGS), 1);
            still_works(&v);
        }
        vt_finish(&v);
    }
}

/* A lost used-buffer interrupt: polling finds the completion, no timeout action. */
static void test_f2010_lost_interrupt_is_found_by_polling(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        struct vt_req r;
        uint8_t *b;

        up(&v, c, g, true);
        b = blocks(&v, 2, 0);
        vmodel_set_mode(v.m, VMODEL_DEFERRED, 10);
        sim_fault_arm(v.s, VMODEL_FAULT_IRQ_LOST, 0, 1, 0);
        vt_req_init(&r, KEEL_BLK_OP_READ, 0, 3, 2, b);
        r.r.timeout_us = SHORT_TIMEOUT;
        assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
        sim_advance(v.s, 3 * SHORT_TIMEOUT);
        assert_false(r.done);
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_IRQ_LOST), 1);
        assert_int_equal(vt_wait(&v, &r, 10), KEEL_OK);
        assert_true(media_is(&v, 3, b, 2));
        assert_int_equal(v.vb->stats.queue_resets + v.vb->stats.device_resets, 0);
        vmodel_set_mode(v.m, VMODEL_IMMEDIATE, 0);
        still_works(&v);
        free(b);
        vt_finish(&v);
    }
}

/* A device that ignores resets while a request is stuck: bounded ETIMEDOUT, the disk is dead
 * (ENODEV from then on) and, on PCI, bus mastering is off. */
static void test_f2011_ignored_reset_kills_the_device_bounded(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        uint64_t t0;

        up(&v, c, g, false);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, UINT32_MAX, 0);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_RESET_STUCK, 0, UINT32_MAX, 0);
        sim_fault_arm(v.s, VMODEL_FAULT_RESET_STUCK, 0, UINT32_MAX, 0);
        t0 = v.s->now_us;
        assert_int_equal(rd(&v, 0, 1, 1, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_true(v.s->now_us - t0 < 4ull * KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US);
        assert_true(sim_fault_fired(v.s, VMODEL_FAULT_RESET_STUCK) >= 1);
        assert_true(v.vb->dead);
        assert_int_equal(rd(&v, 1, 1, 1, SHORT_TIMEOUT), KEEL_ENODEV);
        assert_int_equal(keel_blk_flush(&v.vb->blk, 0, SHORT_TIMEOUT), KEEL_ENODEV);
        if (c->t != VMODEL_MMIO_V2 && c->t != VMODEL_MMIO_V1)
            assert_false(sim_pci_cfg_get(vmodel_pci_fn(v.m), KEEL_PCI_COMMAND, 2) &
                         KEEL_PCI_CMD_MASTER);
        assert_int_equal(v.s->maps_live, 0);
        sim_fault_clear(v.s, VMODEL_FAULT_RESET_STUCK);
        vt_finish(&v);
    }
}

/* A queue reset the device does not perform: escalation to the device reset. Without RING_RESET
 * (legacy) there is no queue reset to ignore: the device reset comes directly. */
static void test_f2012_ignored_queue_reset_escalates_to_device_reset(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;

        up(&v, c, g, false);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 0);
        sim_fault_arm(v.s, VMODEL_FAULT_QUEUE_RESET_STUCK, 0, 1, 0);
        assert_int_equal(rd(&v, 0, 1, 1, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_QUEUE_RESET_STUCK),
                         is_legacy(c) ? 0 : 1);
        assert_int_equal(v.vb->stats.device_resets, 1);
        assert_int_equal(v.vb->stats.queue_resets, 0);
        sim_fault_clear(v.s, VMODEL_FAULT_QUEUE_RESET_STUCK);
        still_works(&v);
        vt_finish(&v);
    }
}

/* Split used index running ahead of what is in flight: EPROTO and a device reset. Packed rings
 * have no used index. */
static void test_f2013_used_index_running_ahead_breaks_the_queue(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;

        up(&v, c, g, false);
        if (c->packed)
            never_fires(&v, VMODEL_FAULT_USED_IDX_JUMP);
        else
            protocol_violation(&v, VMODEL_FAULT_USED_IDX_JUMP, 0);
        vt_finish(&v);
    }
}

/* ---- 2050..2052: blk backend ---- */

/* Status byte never written: the request fails EIO (status preset to 0xff), no reset. */
static void test_f2050_unwritten_status_fails_the_request_with_eio(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;

        up(&v, c, g, false);
        sim_fault_arm(v.s, VMODEL_FAULT_BLK_STATUS_UNWRITTEN, 0, 1, 0);
        assert_int_equal(rd(&v, 0, 1, 1, 0), KEEL_EIO);
        assert_int_equal(v.vb->stats.status_unwritten, 1);
        assert_int_equal(v.vb->stats.device_resets + v.vb->stats.queue_resets, 0);
        still_works(&v);
        vt_finish(&v);
    }
}

/* IOERR on one sector: the write covering it fails EIO and the media there is unchanged; another
 * request in flight at the same time is unaffected. */
static void test_f2051_io_error_fails_only_the_request_it_hits(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        struct vt_req a, b;
        uint8_t *w, *before;
        uint64_t sector;

        up(&v, c, g, false);
        w = blocks(&v, 8, 51);
        before = malloc((size_t)8 * bsz(&v));
        assert_non_null(before);
        {
            size_t mlen = 0;
            memcpy(before, vmodel_blk_media(v.b, &mlen) + (size_t)64 * bsz(&v),
                   (size_t)8 * bsz(&v));
        }
        sector = (uint64_t)(64 + 5) * (bsz(&v) / 512u);
        sim_fault_arm(v.s, VMODEL_FAULT_BLK_IOERR, 0, UINT32_MAX, sector);
        vt_req_init(&a, KEEL_BLK_OP_WRITE, 0, 64, 8, w);
        vt_req_init(&b, KEEL_BLK_OP_WRITE, 1, 120, 1, w);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &a.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(&v.vb->blk, &b.r), KEEL_OK);
        assert_int_equal(vt_wait(&v, &a, 1000), KEEL_EIO);
        assert_int_equal(vt_wait(&v, &b, 1000), KEEL_OK);
        assert_true(media_is(&v, 120, w, 1));
        /* the piece that hit the error moved no data */
        assert_true(
            vt_media_equals(&v, (uint64_t)sector * 512u, before + (size_t)5 * bsz(&v), bsz(&v)));
        sim_fault_clear(v.s, VMODEL_FAULT_BLK_IOERR);
        assert_int_equal(v.vb->stats.device_resets + v.vb->stats.queue_resets, 0);
        still_works(&v);
        free(before);
        free(w);
        vt_finish(&v);
    }
}

/* A status value the spec does not define: EIO, no reset. */
static void test_f2052_undefined_status_fails_the_request_with_eio(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct vt v;
        uint8_t *w;

        up(&v, c, g, false);
        w = blocks(&v, 2, 52);
        sim_fault_arm(v.s, VMODEL_FAULT_BLK_STATUS_GARBAGE, 0, 1, 0);
        assert_int_equal(rd(&v, 0, 1, 1, 0), KEEL_EIO);
        sim_fault_arm(v.s, VMODEL_FAULT_BLK_STATUS_GARBAGE, 0, 1, 0x33);
        assert_int_equal(keel_blk_write(&v.vb->blk, 1, 3, 2, w, 0), KEEL_EIO);
        assert_int_equal(v.vb->stats.device_resets + v.vb->stats.queue_resets, 0);
        still_works(&v);
        free(w);
        vt_finish(&v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        VBM_ROW(test_f2000_used_id_out_of_range_breaks_the_queue),
        VBM_ROW(test_f2001_used_id_not_a_head_breaks_the_queue),
        VBM_ROW(test_f2002_used_id_reused_is_caught_and_recovered),
        VBM_ROW(test_f2003_used_len_too_long_breaks_modern_and_is_clamped_on_legacy),
        VBM_ROW(test_f2004_rewritten_descriptors_never_corrupt_the_driver),
        VBM_ROW(test_f2005_config_generation_changes_are_retried_and_bounded),
        VBM_ROW(test_f2006_features_ok_refused_fails_attach_cleanly),
        VBM_ROW(test_f2007_needs_reset_mid_io_recovers),
        VBM_ROW(test_f2008_stalled_queue_times_out_and_resubmits_the_rest),
        VBM_ROW(test_f2009_bad_packed_used_flags_end_in_timeout),
        VBM_ROW(test_f2010_lost_interrupt_is_found_by_polling),
        VBM_ROW(test_f2011_ignored_reset_kills_the_device_bounded),
        VBM_ROW(test_f2012_ignored_queue_reset_escalates_to_device_reset),
        VBM_ROW(test_f2013_used_index_running_ahead_breaks_the_queue),
        VBM_ROW(test_f2014_silent_device_hang_is_ended_by_a_device_reset),
        VBM_ROW(test_f2050_unwritten_status_fails_the_request_with_eio),
        VBM_ROW(test_f2051_io_error_fails_only_the_request_it_hits),
        VBM_ROW(test_f2052_undefined_status_fails_the_request_with_eio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
