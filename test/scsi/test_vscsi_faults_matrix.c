/* SPDX-License-Identifier: MIT */
/*
 * The virtio-scsi row of the fault matrix in docs/reliability.md: every fault the virtio device
 * model (enum vmodel_fault, 2000..2014), the virtio-scsi device (enum vscsi_dev_fault,
 * 2100..2107) and the SCSI target model (enum scsi_model_fault, 3000..3012) can inject, one test
 * each, run on every transport and ring format (PCI modern split and packed, PCI transitional
 * through its legacy interface, PCI legacy, MMIO v2 split and packed, MMIO v1), and inside each of
 * those at two geometries: a 512-byte LUN on queues of 8 entries with translated (page-scrambled)
 * mappings, and a 4096-byte LUN with descriptor-format sense on the device's largest queues with
 * bounced mappings. Two request queues everywhere.
 *
 * Each test checks the documented outcome (error code or recovery, which escalation step or reset
 * ran, the data on the medium byte for byte, nothing written outside the request's blocks, the
 * adapter usable afterwards on both request queues) and ends with vst_finish(), which fails on any
 * sim violation: DMA to an unmapped bus address, a leaked mapping, a driver-requirement breach
 * (request shapes, seg_max, cmd_per_lun). A fault whose trigger cannot exist on a column
 * (packed-ring flags on a split ring, FEATURES_OK on a legacy interface, a per-queue reset the
 * driver never does) is run there too and must never fire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/pci.h>

#include "vst.h"

#define SHORT_TIMEOUT 20000u /* us */
#define MANY_POLLS    200000u
#define RQ0           KEEL_VIRTIO_SCSI_Q_REQUEST /* virtqueue of request queue 0 */

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

#define VSM_CASE(fn, c)                                                                            \
    {                                                                                              \
#fn "[" #c "]", fn, NULL, NULL, (void *)&col_##c                                           \
    }
#define VSM_ROW(fn)                                                                                \
    VSM_CASE(fn, pci_modern_split), VSM_CASE(fn, pci_modern_packed),                               \
        VSM_CASE(fn, pci_transitional), VSM_CASE(fn, pci_legacy), VSM_CASE(fn, mmio_v2_split),     \
        VSM_CASE(fn, mmio_v2_packed), VSM_CASE(fn, mmio_v1)

struct geo {
    uint16_t qsize; /* queue size (0: the device's maximum) */
    enum sim_map_mode map;
    uint8_t target; /* the LUN the test drives (vst_small_topology) */
    uint16_t lun;
    uint32_t bs;
};

static const struct geo geos[2] = {
    {8, SIM_MAP_TRANSLATE, 0, 0, 512}, /* 512-byte blocks, fixed-format sense */
    {0, SIM_MAP_BOUNCE, 2, 0, 4096},   /* 4096-byte blocks, descriptor-format sense */
};

#define EACH_GEO(g) for (const struct geo *g = geos; g < geos + 2; g++)

/* Legacy interface: no VERSION_1, no FEATURES_OK, no NEEDS_RESET, advisory used lengths. */
static bool is_legacy(const struct col *c)
{
    return vmodel_transport_is_legacy(c->t);
}

static bool is_pci(const struct col *c)
{
    return c->t != VMODEL_MMIO_V2 && c->t != VMODEL_MMIO_V1;
}

/* ---- fixture ---- */

struct mx {
    struct vst v;
    const struct col *c;
    const struct geo *g;
};

static void setup(struct mx *m, const struct col *c, const struct geo *g, bool irq)
{
    /* Small arenas: the driver's DMA memory and the biggest bounced transfer fit many times. */
    struct vst_params p = {c->t, c->packed, irq, g->map, 2u << 20, 1u << 20};

    vst_init(&m->v, &p, false);
    vst_small_topology(m->v.sm);
    m->v.dc.num_queues = 2;
    m->v.dc.max_target = 7; /* the small topology uses targets 0..4: keep scans short */
    if (g->qsize != 0u) {
        m->v.mc.queue_size_max = g->qsize;
        m->v.opts.queue_size = g->qsize;
    }
    m->c = c;
    m->g = g;
}

static struct keel_blkdev *disk(struct mx *m)
{
    return vst_disk(&m->v, m->g->target, m->g->lun);
}

static void up(struct mx *m, const struct col *c, const struct geo *g, bool irq)
{
    setup(m, c, g, irq);
    assert_int_equal(vst_start(&m->v), KEEL_OK);
    assert_int_equal(m->v.vs->nrq, 2);
    assert_int_equal(vmodel_queue_packed(m->v.m, RQ0), c->packed);
    if (g->qsize != 0u)
        assert_int_equal(vmodel_queue_size(m->v.m, RQ0), g->qsize);
    assert_int_equal(disk(m)->info.sector_size, g->bs);
}

static uint8_t *blocks(const struct mx *m, uint32_t n, uint32_t seed)
{
    uint8_t *b = malloc((size_t)n * m->g->bs);

    assert_non_null(b);
    vst_fill(b, (size_t)n * m->g->bs, seed);
    return b;
}

static bool media_is(struct mx *m, uint64_t lba, const void *buf, uint32_t n)
{
    return vst_media_equals(&m->v, m->g->target, m->g->lun, lba * m->g->bs, buf,
                            (size_t)n * m->g->bs);
}

static uint8_t *media_copy(struct mx *m, uint64_t lba, uint32_t n)
{
    uint8_t *b = malloc((size_t)n * m->g->bs);

    assert_non_null(b);
    assert_int_equal(scsi_model_media_read(m->v.sm, m->g->target, m->g->lun, lba * m->g->bs, b,
                                           (size_t)n * m->g->bs),
                     0);
    return b;
}

/* Read `n` blocks on queue `q`; on success the data must be the medium's, byte for byte. */
static int rd(struct mx *m, unsigned q, uint64_t lba, uint32_t n, uint32_t timeout)
{
    uint8_t *b = blocks(m, n, 0xbad);
    int rc = keel_blk_read(disk(m), q, lba, n, b, timeout);

    if (rc == KEEL_OK)
        assert_true(media_is(m, lba, b, n));
    free(b);
    return rc;
}

/*
 * After any fault the adapter works on both request queues: write, compare with the medium, read
 * back; the blocks around the writes are unchanged (nothing written out of range).
 */
static void still_works(struct mx *m)
{
    enum { BASE = 30, SPAN = 40 };
    uint8_t *before = media_copy(m, BASE, SPAN), *after;
    uint32_t bs = m->g->bs, i;
    unsigned q;

    assert_false(m->v.vs->dead);
    for (q = 0; q < 2u; q++) {
        uint8_t *w = blocks(m, 3, 100 + q);
        assert_int_equal(keel_blk_write(disk(m), q, 40 + 8u * q, 3, w, 0), KEEL_OK);
        assert_true(media_is(m, 40 + 8u * q, w, 3));
        assert_int_equal(rd(m, q, 40 + 8u * q, 3, 0), KEEL_OK);
        free(w);
    }
    after = media_copy(m, BASE, SPAN);
    for (i = 0; i < SPAN; i++) {
        uint32_t lba = BASE + i;
        bool written = (lba >= 40 && lba < 43) || (lba >= 48 && lba < 51);
        if (!written)
            assert_memory_equal(after + (size_t)i * bs, before + (size_t)i * bs, bs);
    }
    free(before);
    free(after);
}

/* A request on queue 1 to LUN 3/0 that the SCSI model holds: in flight during the fault. */
struct bystander {
    struct vst_req r;
    uint8_t buf[512];
};

static void bystander_start(struct mx *m, struct bystander *b)
{
    scsi_model_hold_next(m->v.sm, 3, 0, 1);
    vst_req_init(&b->r, &m->v, KEEL_BLK_OP_READ, 1, 5, 1, b->buf);
    assert_int_equal(keel_blk_submit(vst_disk(&m->v, 3, 0), &b->r.r), KEEL_OK);
    assert_int_equal(vscsi_dev_held(m->v.d), 1);
}

/* The device reset ended its held command: it was resent and read the right data. */
static void bystander_resent(struct mx *m, struct bystander *b)
{
    assert_int_equal(vst_wait(&m->v, vst_disk(&m->v, 3, 0), &b->r, 1000), KEEL_OK);
    assert_int_equal(b->r.held_at_done, 0);
    assert_true(m->v.vs->stats.resubmits >= 1u);
    assert_true(vst_media_equals(&m->v, 3, 0, 5 * 512, b->buf, 512));
}

/* A used-ring protocol violation on request queue 0: the read fails EPROTO, the device is reset
 * once, the request in flight on queue 1 is resent and succeeds, I/O resumes. */
static void protocol_violation(struct mx *m, int fault, uint64_t param)
{
    struct bystander b;

    bystander_start(m, &b);
    sim_fault_arm(m->v.s, fault, 0, 1, param);
    assert_int_equal(rd(m, 0, 10, 2, 0), KEEL_EPROTO);
    assert_int_equal(sim_fault_fired(m->v.s, fault), 1);
    assert_true(keel_vscsi_vq_stats(m->v.vs, 0)->violations >= 1u);
    assert_int_equal(m->v.vs->stats.device_resets, 1);
    assert_int_equal(disk(m)->stats[0].errors, 1);
    bystander_resent(m, &b);
    still_works(m);
}

/* The fault cannot happen on this column: armed forever, it never fires and I/O is unaffected. */
static void never_fires(struct mx *m, int fault)
{
    uint8_t *w = blocks(m, 4, 77);

    sim_fault_arm(m->v.s, fault, 0, UINT32_MAX, 0);
    assert_int_equal(keel_blk_write(disk(m), 0, 12, 4, w, 0), KEEL_OK);
    assert_int_equal(rd(m, 1, 12, 4, 0), KEEL_OK);
    assert_true(media_is(m, 12, w, 4));
    assert_int_equal(sim_fault_fired(m->v.s, fault), 0);
    sim_fault_clear(m->v.s, fault);
    assert_int_equal(m->v.vs->stats.device_resets, 0);
    free(w);
}

/* A read the SCSI model holds, with a short timeout; ends with `err` only once the device let go
 * of its command. */
static void held_read_ends(struct mx *m, int err)
{
    struct vst_req r;
    uint8_t *b = blocks(m, 1, 0);

    vst_req_init(&r, &m->v, KEEL_BLK_OP_READ, 0, 21, 1, b);
    r.r.timeout_us = SHORT_TIMEOUT;
    assert_int_equal(keel_blk_submit(disk(m), &r.r), KEEL_OK);
    assert_int_equal(vst_wait(&m->v, disk(m), &r, MANY_POLLS), err);
    assert_int_equal(r.held_at_done, 0);
    assert_int_equal(r.vq_at_done, 0);
    free(b);
}

static uint64_t tmfs(const struct mx *m, unsigned subtype)
{
    return vscsi_dev_stats(m->v.d)->tmfs[subtype];
}

static uint64_t lun_cmds(const struct mx *m)
{
    return scsi_model_lun_stats(m->v.sm, m->g->target, m->g->lun)->cmds;
}

/* The per-command filter of the SCSI model's faults: the geometry's LUN (and opcode). */
static uint64_t fp_lun(const struct mx *m)
{
    return SCSI_MODEL_FP_LUN(m->g->target, m->g->lun);
}

static uint64_t fp_read(const struct mx *m)
{
    return fp_lun(m) | SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_READ10);
}

/* ---- 2000..2013: the virtio core ---- */

static void test_f2000_used_id_out_of_range_breaks_the_queue(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        up(&m, c, g, false);
        protocol_violation(&m, VMODEL_FAULT_USED_ID_OUT_OF_RANGE, 0);
        vst_finish(&m.v);
    }
}

static void test_f2001_used_id_not_a_head_breaks_the_queue(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        up(&m, c, g, false);
        protocol_violation(&m, VMODEL_FAULT_USED_ID_NOT_HEAD, 0);
        vst_finish(&m.v);
    }
}

/* A used id completed twice: split rings see the used index run ahead at once (EPROTO); on packed
 * rings the first completion is good and the duplicate breaks the queue at the next look. */
static void test_f2002_used_id_reused_is_caught_and_recovered(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        up(&m, c, g, false);
        sim_fault_arm(m.v.s, VMODEL_FAULT_USED_ID_REUSED, 0, 1, 0);
        assert_int_equal(rd(&m, 0, 1, 1, 0), c->packed ? KEEL_OK : KEEL_EPROTO);
        assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_USED_ID_REUSED), 1);
        (void)keel_blk_poll(disk(&m), 0, 0);
        assert_true(keel_vscsi_vq_stats(m.v.vs, 0)->violations >= 1u);
        assert_int_equal(m.v.vs->stats.device_resets, 1);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* Used length beyond the writable bytes: a violation on modern devices; advisory on legacy
 * interfaces (5.2.6.4: the response byte, not the length, tells), where the read succeeds. */
static void test_f2003_used_len_too_long_breaks_modern_and_is_ignored_on_legacy(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        up(&m, c, g, false);
        if (!is_legacy(c)) {
            protocol_violation(&m, VMODEL_FAULT_USED_LEN_TOO_LONG, 0);
        } else {
            sim_fault_arm(m.v.s, VMODEL_FAULT_USED_LEN_TOO_LONG, 0, 1, 0);
            assert_int_equal(rd(&m, 0, 10, 2, 0), KEEL_OK);
            assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_USED_LEN_TOO_LONG), 1);
            assert_int_equal(keel_vscsi_vq_stats(m.v.vs, 0)->violations, 0);
            assert_int_equal(m.v.vs->stats.device_resets, 0);
            still_works(&m);
        }
        vst_finish(&m.v);
    }
}

/* Descriptors rewritten by the device: on split rings (where the device must not write them) the
 * rewrite is detected against the driver's shadow, the write fails EPROTO and the device is reset;
 * on packed rings the completion comes from the used element alone and the write lands. Either
 * way later commands reusing the slots are correct. */
static void test_f2004_rewritten_descriptors_never_corrupt_the_driver(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint8_t *w;
        unsigned i;

        up(&m, c, g, false);
        w = blocks(&m, 8, 4);
        sim_fault_arm(m.v.s, VMODEL_FAULT_DESC_REWRITE, 0, 1, 0);
        if (c->packed) {
            assert_int_equal(keel_blk_write(disk(&m), 0, 64, 8, w, 0), KEEL_OK);
            assert_true(media_is(&m, 64, w, 8));
            assert_int_equal(m.v.vs->stats.device_resets, 0);
        } else {
            assert_int_equal(keel_blk_write(disk(&m), 0, 64, 8, w, 0), KEEL_EPROTO);
            assert_int_equal(keel_vscsi_vq_stats(m.v.vs, 0)->violations, 1);
            assert_int_equal(m.v.vs->stats.device_resets, 1);
        }
        assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_DESC_REWRITE), 1);
        for (i = 0; i < 20; i++) {
            assert_int_equal(keel_blk_write(disk(&m), i & 1u, 100 + i, 1, w + g->bs * (i % 8), 0),
                             KEEL_OK);
            assert_int_equal(rd(&m, 0, 100 + i, 1, 0), KEEL_OK);
        }
        still_works(&m);
        free(w);
        vst_finish(&m.v);
    }
}

/* Generation moving during config reads: re-read until consistent; never settling: attach fails
 * bounded with EAGAIN. Legacy interfaces have no generation: nothing to see, attach succeeds. */
static void test_f2005_config_generation_changes_are_retried_and_bounded(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        setup(&m, c, g, false);
        m.v.dc.seg_max = 5;
        sim_fault_arm(m.v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD, 0, 3, 1);
        assert_int_equal(vst_start(&m.v), KEEL_OK);
        assert_int_equal(m.v.vs->cfg.seg_max, 5);
        assert_int_equal(m.v.vs->cfg.num_queues, 2);
        if (!is_legacy(c))
            assert_true(m.v.vs->vdev.stats.config_retries >= 1u);
        still_works(&m);
        vst_finish(&m.v);

        setup(&m, c, g, false);
        sim_fault_arm(m.v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD, 0, UINT32_MAX, 1);
        if (is_legacy(c)) {
            assert_int_equal(vst_start(&m.v), KEEL_OK);
            sim_fault_clear(m.v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD);
            still_works(&m);
        } else {
            assert_int_equal(vst_start(&m.v), KEEL_EAGAIN);
            assert_int_equal(m.v.vs->vdev.stats.config_retries, KEEL_CONFIG_VIRTIO_CONFIG_RETRIES);
            assert_false(m.v.vs->attached);
            assert_int_equal(m.v.s->maps_live, 0);
            assert_int_equal(m.v.s->dma_allocs, m.v.s->dma_frees);
            sim_fault_clear(m.v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD);
        }
        vst_finish(&m.v);
    }
}

/* FEATURES_OK refused: attach fails ENOTSUP with FAILED set and nothing left allocated, and a
 * second attach works. Legacy interfaces have no FEATURES_OK step: the fault never fires. */
static void test_f2006_features_ok_refused_fails_attach_cleanly(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        if (is_legacy(c)) {
            up(&m, c, g, false);
            never_fires(&m, VMODEL_FAULT_FEATURES_OK_REFUSED);
            vst_finish(&m.v);
            continue;
        }
        setup(&m, c, g, false);
        sim_fault_arm(m.v.s, VMODEL_FAULT_FEATURES_OK_REFUSED, 0, 1, 0);
        assert_int_equal(vst_start(&m.v), KEEL_ENOTSUP);
        assert_false(m.v.vs->attached);
        assert_true(vmodel_status(m.v.m) & VMODEL_S_FAILED);
        assert_false(vmodel_status(m.v.m) & VMODEL_S_DRIVER_OK);
        assert_int_equal(m.v.s->maps_live, 0);
        assert_int_equal(m.v.s->dma_allocs, m.v.s->dma_frees);
        assert_int_equal(keel_vscsi_attach(m.v.vs, &m.v.opts), KEEL_OK);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* NEEDS_RESET mid-I/O: modern devices are reset and the write resent (it lands, byte for byte);
 * legacy devices just stop, and the timeout escalation finds it: every TMF times out, the device
 * is reset, the write fails ETIMEDOUT. */
static void test_f2007_needs_reset_mid_io_recovers(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint8_t *w;

        up(&m, c, g, false);
        w = blocks(&m, 4, 21);
        sim_fault_arm(m.v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO, 0, 1, 0);
        if (!is_legacy(c)) {
            assert_int_equal(keel_blk_write(disk(&m), 0, 8, 4, w, 0), KEEL_OK);
            assert_true(media_is(&m, 8, w, 4));
            assert_int_equal(m.v.vs->stats.resubmits, 1);
            assert_true(m.v.vs->vdev.stats.needs_reset >= 1u);
            assert_int_equal(m.v.vs->stats.timeouts, 0);
        } else {
            assert_int_equal(keel_blk_write(disk(&m), 0, 8, 4, w, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
            assert_int_equal(m.v.vs->stats.timeouts, 1);
            assert_int_equal(m.v.vs->stats.tmf_failures, 3);
        }
        assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_NEEDS_RESET_MID_IO), 1);
        assert_int_equal(m.v.vs->stats.device_resets, 1);
        assert_true(vmodel_status(m.v.m) & VMODEL_S_DRIVER_OK);
        assert_int_equal(vscsi_dev_event_bufs(m.v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
        still_works(&m);
        free(w);
        vst_finish(&m.v);
    }
}

/* A stalled request queue: the device took two commands and answers neither. The overdue one is
 * escalated (ABORT TASK, LUN reset, I_T nexus reset: none brings it back, the SCSI target never saw
 * it), the device is reset, the overdue request fails ETIMEDOUT and the other one is resent and
 * succeeds. virtio-scsi has no per-queue reset: the same on every column. */
static void test_f2008_stalled_queue_times_out_and_resends_the_rest(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        struct vst_req stuck, late;
        uint8_t *b, *w;

        up(&m, c, g, false);
        b = blocks(&m, 1, 0);
        w = blocks(&m, 2, 8);
        sim_fault_arm(m.v.s, VMODEL_FAULT_QUEUE_STALL, 0, 2, 1u << RQ0);
        vst_req_init(&stuck, &m.v, KEEL_BLK_OP_READ, 0, 1, 1, b);
        stuck.r.timeout_us = SHORT_TIMEOUT;
        vst_req_init(&late, &m.v, KEEL_BLK_OP_WRITE, 0, 2, 2, w);
        assert_int_equal(keel_blk_submit(disk(&m), &stuck.r), KEEL_OK);
        assert_int_equal(keel_blk_submit(disk(&m), &late.r), KEEL_OK);
        assert_int_equal(vmodel_inflight(m.v.m, RQ0), 2);
        assert_int_equal(vst_wait(&m.v, disk(&m), &stuck, MANY_POLLS), KEEL_ETIMEDOUT);
        assert_int_equal(stuck.vq_at_done, 0);
        assert_int_equal(vst_wait(&m.v, disk(&m), &late, 1000), KEEL_OK);
        assert_true(media_is(&m, 2, w, 2));
        assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_QUEUE_STALL), 2);
        assert_int_equal(tmfs(&m, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK), 1);
        assert_int_equal(tmfs(&m, KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET), 1);
        assert_int_equal(m.v.vs->stats.resubmits, 1);
        assert_int_equal(m.v.vs->stats.device_resets, 1);
        assert_int_equal(disk(&m)->stats[0].timeouts, 1);
        still_works(&m);
        free(b);
        free(w);
        vst_finish(&m.v);
    }
}

/* Packed used flags written wrong: the completion is invisible, the timeout escalation ends the
 * request (ETIMEDOUT, after the device reset), both flag forms. Split rings: never fires. */
static void test_f2009_bad_packed_used_flags_end_in_timeout(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        unsigned param;

        up(&m, c, g, false);
        if (!c->packed) {
            never_fires(&m, VMODEL_FAULT_PACKED_BAD_USED_FLAGS);
            vst_finish(&m.v);
            continue;
        }
        for (param = 0; param < 2; param++) {
            uint64_t resets = m.v.vs->stats.device_resets;
            sim_fault_arm(m.v.s, VMODEL_FAULT_PACKED_BAD_USED_FLAGS, 0, 1, param);
            assert_int_equal(rd(&m, 0, 1, 1, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
            assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_PACKED_BAD_USED_FLAGS), 1);
            assert_int_equal(m.v.vs->stats.device_resets, resets + 1u);
            still_works(&m);
        }
        vst_finish(&m.v);
    }
}

/* A lost used-buffer interrupt: the timeout check looks at the ring first and finds the
 * completion: success, no TMF, no reset. */
static void test_f2010_lost_interrupt_is_found_by_polling(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        struct vst_req r;
        uint8_t *b;

        up(&m, c, g, true);
        b = blocks(&m, 2, 0);
        vmodel_set_mode(m.v.m, VMODEL_DEFERRED, 10);
        sim_fault_arm(m.v.s, VMODEL_FAULT_IRQ_LOST, 0, 1, 0);
        vst_req_init(&r, &m.v, KEEL_BLK_OP_READ, 0, 3, 2, b);
        r.r.timeout_us = SHORT_TIMEOUT;
        assert_int_equal(keel_blk_submit(disk(&m), &r.r), KEEL_OK);
        sim_advance(m.v.s, 3u * SHORT_TIMEOUT); /* nobody polls meanwhile */
        assert_false(r.done);
        assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_IRQ_LOST), 1);
        assert_int_equal(vst_wait(&m.v, disk(&m), &r, 10), KEEL_OK);
        assert_true(media_is(&m, 3, b, 2));
        assert_int_equal(m.v.vs->stats.aborts + m.v.vs->stats.timeouts, 0);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        vmodel_set_mode(m.v.m, VMODEL_IMMEDIATE, 0);
        still_works(&m);
        free(b);
        vst_finish(&m.v);
    }
}

/* A device that ignores resets while a command is stuck: bounded ETIMEDOUT, the adapter is dead
 * (ENODEV from then on), nothing left mapped, and on PCI bus mastering is off. */
static void test_f2011_ignored_reset_kills_the_device_bounded(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint64_t t0;

        up(&m, c, g, false);
        sim_fault_arm(m.v.s, VMODEL_FAULT_QUEUE_STALL, 0, UINT32_MAX, 1u << RQ0);
        sim_fault_arm(m.v.s, VMODEL_FAULT_RESET_STUCK, 0, UINT32_MAX, 0);
        t0 = m.v.s->now_us;
        assert_int_equal(rd(&m, 0, 1, 1, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_true(m.v.s->now_us - t0 < SHORT_TIMEOUT + 3ull * KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US +
                                             4ull * KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US);
        assert_true(sim_fault_fired(m.v.s, VMODEL_FAULT_RESET_STUCK) >= 1u);
        assert_true(m.v.vs->dead);
        assert_int_equal(rd(&m, 1, 1, 1, SHORT_TIMEOUT), KEEL_ENODEV);
        assert_int_equal(keel_blk_flush(disk(&m), 0, SHORT_TIMEOUT), KEEL_ENODEV);
        assert_int_equal(keel_vscsi_service(m.v.vs), KEEL_ENODEV);
        if (is_pci(c))
            assert_false(sim_pci_cfg_get(vmodel_pci_fn(m.v.m), KEEL_PCI_COMMAND, 2) &
                         KEEL_PCI_CMD_MASTER);
        assert_int_equal(m.v.s->maps_live, 0);
        sim_fault_clear(m.v.s, VMODEL_FAULT_RESET_STUCK);
        vst_finish(&m.v);
    }
}

/* The driver never resets a single queue (virtio-scsi recovers with TMFs, then a device reset), so
 * a queue reset the device ignores cannot matter: armed forever on every column, it never fires
 * while a stalled command is escalated to the device reset. */
static void test_f2012_queue_reset_is_never_used_so_an_ignored_one_cannot_hurt(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        up(&m, c, g, false);
        sim_fault_arm(m.v.s, VMODEL_FAULT_QUEUE_RESET_STUCK, 0, UINT32_MAX, 0);
        sim_fault_arm(m.v.s, VMODEL_FAULT_QUEUE_STALL, 0, 1, 1u << RQ0);
        assert_int_equal(rd(&m, 0, 1, 1, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_int_equal(m.v.vs->stats.device_resets, 1);
        still_works(&m);
        assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_QUEUE_RESET_STUCK), 0);
        sim_fault_clear(m.v.s, VMODEL_FAULT_QUEUE_RESET_STUCK);
        vst_finish(&m.v);
    }
}

/* Split used index running ahead of what is in flight: EPROTO and a device reset. Packed rings
 * have no used index: never fires. */
static void test_f2013_used_index_running_ahead_breaks_the_queue(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        up(&m, c, g, false);
        if (c->packed)
            never_fires(&m, VMODEL_FAULT_USED_IDX_JUMP);
        else
            protocol_violation(&m, VMODEL_FAULT_USED_IDX_JUMP, 0);
        vst_finish(&m.v);
    }
}

/* A device that stops silently (no NEEDS_RESET, no interrupt, notifies ignored on every queue):
 * the overdue read's escalation finds the control queue dead too (each TMF times out, bounded),
 * the device reset revives it; the read fails ETIMEDOUT, the request in flight on queue 1 is
 * resent and succeeds. virtio-scsi has no per-queue reset: the same on every column. */
static void test_f2014_silent_device_hang_is_ended_by_a_device_reset(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        struct bystander b;
        uint64_t t0;

        up(&m, c, g, false);
        bystander_start(&m, &b);
        sim_fault_arm(m.v.s, VMODEL_FAULT_DEVICE_HANG, 0, 1, 0);
        t0 = m.v.s->now_us;
        assert_int_equal(rd(&m, 0, 1, 1, SHORT_TIMEOUT), KEEL_ETIMEDOUT);
        assert_true(m.v.s->now_us - t0 < SHORT_TIMEOUT + 4ull * KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US);
        assert_int_equal(sim_fault_fired(m.v.s, VMODEL_FAULT_DEVICE_HANG), 1);
        assert_int_equal(m.v.vs->stats.timeouts, 1);
        assert_int_equal(m.v.vs->stats.tmf_failures, 3);
        assert_int_equal(m.v.vs->stats.device_resets, 1);
        bystander_resent(&m, &b);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* ---- 2100..2107: the virtio-scsi device ---- */

/* Response never written (the preset byte survives): the read fails EPROTO, no reset. */
static void test_f2100_unwritten_response_fails_the_command_with_eproto(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        up(&m, c, g, false);
        sim_fault_arm(m.v.s, VSCSI_FAULT_RESP_UNWRITTEN, 0, 1, 0);
        assert_int_equal(rd(&m, 0, 1, 1, 0), KEEL_EPROTO);
        assert_int_equal(sim_fault_fired(m.v.s, VSCSI_FAULT_RESP_UNWRITTEN), 1);
        assert_int_equal(m.v.vs->stats.bad_responses, 1);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* A response code the spec does not define on a request queue: EPROTO (read and write; the write
 * is not retried), no reset. */
static void test_f2101_undefined_response_fails_the_command_with_eproto(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint8_t *w;

        up(&m, c, g, false);
        w = blocks(&m, 2, 5);
        sim_fault_arm(m.v.s, VSCSI_FAULT_RESP_GARBAGE, 0, 1, 0x7e);
        assert_int_equal(rd(&m, 0, 1, 1, 0), KEEL_EPROTO);
        sim_fault_arm(m.v.s, VSCSI_FAULT_RESP_GARBAGE, 0, 1, KEEL_VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
        assert_int_equal(keel_blk_write(disk(&m), 1, 3, 2, w, 0), KEEL_EPROTO);
        assert_int_equal(m.v.vs->stats.bad_responses, 2);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        still_works(&m);
        free(w);
        vst_finish(&m.v);
    }
}

/* sense_len beyond sense_size: clamped, the real sense still decodes (MEDIUM ERROR: EIO at once).
 */
static void test_f2102_lying_sense_length_is_clamped(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint64_t before;

        up(&m, c, g, false);
        scsi_model_add_bad_block(m.v.sm, g->target, g->lun, 7, true, false);
        sim_fault_arm(m.v.s, VSCSI_FAULT_SENSE_LEN_LIE, 0, 1, 1000);
        before = lun_cmds(&m);
        assert_int_equal(rd(&m, 0, 5, 4, 0), KEEL_EIO);
        assert_int_equal(lun_cmds(&m) - before, 1);
        assert_int_equal(sim_fault_fired(m.v.s, VSCSI_FAULT_SENSE_LEN_LIE), 1);
        assert_int_equal(m.v.vs->stats.sense_clamped, 1);
        scsi_model_clear_bad_blocks(m.v.sm, g->target, g->lun);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* A residual larger than the data buffer: EPROTO, no reset. */
static void test_f2103_lying_residual_fails_the_command_with_eproto(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        up(&m, c, g, false);
        sim_fault_arm(m.v.s, VSCSI_FAULT_RESIDUAL_LIE, 0, 1, 7);
        assert_int_equal(rd(&m, 0, 1, 2, 0), KEEL_EPROTO);
        assert_int_equal(m.v.vs->stats.residual_lies, 1);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* An ABORT TASK the device never answers: bounded by KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US, its
 * control slot stays with the device, the escalation goes on and the LUN reset (on another control
 * slot) ends the command; the read fails ETIMEDOUT only once the device let go, without a device
 * reset. (Every TMF hanging, up to the device reset: test_vscsi_tmf.) */
static void test_f2104_tmf_that_never_answers_is_bounded(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint64_t t0;

        up(&m, c, g, false);
        scsi_model_hold_next(m.v.sm, g->target, g->lun, 1);
        sim_fault_arm(m.v.s, VSCSI_FAULT_TMF_HANG, 0, 1, 0);
        t0 = m.v.s->now_us;
        held_read_ends(&m, KEEL_ETIMEDOUT);
        assert_true(m.v.s->now_us - t0 < SHORT_TIMEOUT + 2ull * KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US);
        assert_int_equal(sim_fault_fired(m.v.s, VSCSI_FAULT_TMF_HANG), 1);
        assert_int_equal(m.v.vs->stats.tmf_failures, 1);
        assert_int_equal(tmfs(&m, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 1);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        assert_int_equal(keel_vscsi_lun_reset(keel_vscsi_find(m.v.vs, g->target, g->lun)), KEEL_OK);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* ABORT TASK answered "complete" without aborting: the command is still with the device, so the
 * escalation goes on; the LUN reset ends it. No device reset. */
static void test_f2105_ignored_abort_escalates_to_a_lun_reset(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        up(&m, c, g, false);
        scsi_model_hold_next(m.v.sm, g->target, g->lun, 1);
        sim_fault_arm(m.v.s, VSCSI_FAULT_TMF_IGNORE, 0, 1, 0);
        held_read_ends(&m, KEEL_ETIMEDOUT);
        assert_int_equal(sim_fault_fired(m.v.s, VSCSI_FAULT_TMF_IGNORE), 1);
        assert_int_equal(tmfs(&m, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK), 1);
        assert_int_equal(tmfs(&m, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 1);
        assert_int_equal(tmfs(&m, KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET), 0);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        still_works(&m); /* through the LUN reset's UNIT ATTENTION */
        vst_finish(&m.v);
    }
}

/* A hot-plug event naming an impossible LUN address (or cut short): ignored and counted, the
 * buffer re-posted; the hot-plug's UNIT ATTENTION 3F/0E (REPORTED LUNS DATA HAS CHANGED) on the
 * target's other LUN then finds the new LUN by a rescan of that target. `legacy_ok`: on legacy
 * interfaces the used length is advisory (the event's bytes are all there), so a short one is used
 * as it is. */
static void malformed_event(const struct col *c, int fault, uint64_t param, bool legacy_ok)
{
    EACH_GEO(g)
    {
        struct scsi_model_lun_cfg lc;
        struct mx m;
        bool used = legacy_ok && is_legacy(c);

        up(&m, c, g, false);
        scsi_model_lun_cfg_disk(&lc, 512, 64);
        lc.power_on_ua = false;
        sim_fault_arm(m.v.s, fault, 0, 1, param);
        assert_int_equal(scsi_model_hotplug_lun(m.v.sm, g->target, 4, &lc), 0);
        vst_service(&m.v);
        assert_int_equal(sim_fault_fired(m.v.s, fault), 1);
        assert_int_equal(vscsi_dev_event_bufs(m.v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        if (used) {
            assert_int_equal(m.v.vs->stats.bad_events, 0);
            assert_non_null(keel_vscsi_find(m.v.vs, g->target, 4));
        } else {
            assert_int_equal(m.v.vs->stats.bad_events, 1);
            assert_null(keel_vscsi_find(m.v.vs, g->target, 4));
        }
        still_works(&m);
        vst_service(&m.v);
        assert_non_null(keel_vscsi_find(m.v.vs, g->target, 4));
        vst_roundtrip(&m.v, g->target, 4, 0, 64, 40);
        vst_finish(&m.v);
    }
}

static void test_f2106_event_with_an_impossible_lun_is_ignored(void **state)
{
    malformed_event(*state, VSCSI_FAULT_EVENT_BAD_LUN, 0, false);
}

static void test_f2107_short_event_is_ignored_but_advisory_on_legacy(void **state)
{
    malformed_event(*state, VSCSI_FAULT_EVENT_SHORT, 8, true);
}

/* ---- 3000..3012: the SCSI target ---- */

/* Transport responses: a retriable one (BUSY) is resent and succeeds; a final one
 * (TARGET_FAILURE) fails EIO at once; a write answered TRANSPORT_FAILURE is resent and lands. */
static void test_f3000_response_codes_are_retried_or_failed(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint64_t before;
        uint8_t *w;

        up(&m, c, g, false);
        w = blocks(&m, 5, 30);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_RESPONSE, 0, 1,
                      fp_read(&m) | SCSI_MODEL_FP_VALUE(KEEL_VIRTIO_SCSI_S_BUSY));
        before = lun_cmds(&m);
        assert_int_equal(rd(&m, 0, 12, 1, 0), KEEL_OK);
        assert_int_equal(lun_cmds(&m) - before, 2);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_RESPONSE), 1);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_RESPONSE, 0, 1,
                      fp_read(&m) | SCSI_MODEL_FP_VALUE(KEEL_VIRTIO_SCSI_S_TARGET_FAILURE));
        before = lun_cmds(&m);
        assert_int_equal(rd(&m, 1, 12, 1, 0), KEEL_EIO);
        assert_int_equal(lun_cmds(&m) - before, 1);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_RESPONSE), 1);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_RESPONSE, 0, 1,
                      fp_lun(&m) | SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_WRITE10) |
                          SCSI_MODEL_FP_VALUE(KEEL_VIRTIO_SCSI_S_TRANSPORT_FAILURE));
        assert_int_equal(keel_blk_write(disk(&m), 0, 60, 5, w, 0), KEEL_OK);
        assert_true(media_is(&m, 60, w, 5));
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_RESPONSE), 1);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        still_works(&m);
        free(w);
        vst_finish(&m.v);
    }
}

/* SCSI status without sense: TASK SET FULL resent (succeeds), RESERVATION CONFLICT fails EBUSY at
 * once and the write it hit changed nothing. */
static void test_f3001_status_is_retried_or_failed(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint8_t *w, *old;
        uint64_t before;

        up(&m, c, g, false);
        w = blocks(&m, 3, 31);
        old = media_copy(&m, 70, 3);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_STATUS, 0, 1,
                      fp_read(&m) | SCSI_MODEL_FP_VALUE(KEEL_SCSI_STATUS_TASK_SET_FULL));
        assert_int_equal(rd(&m, 0, 12, 1, 0), KEEL_OK);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_STATUS), 1);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_STATUS, 0, 1,
                      fp_lun(&m) | SCSI_MODEL_FP_VALUE(KEEL_SCSI_STATUS_RESERVATION_CONFLICT));
        before = lun_cmds(&m);
        assert_int_equal(keel_blk_write(disk(&m), 1, 70, 3, w, 0), KEEL_EBUSY);
        assert_int_equal(lun_cmds(&m) - before, 1);
        assert_true(media_is(&m, 70, old, 3));
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_STATUS), 1);
        still_works(&m);
        free(w);
        free(old);
        vst_finish(&m.v);
    }
}

/* Unit attentions on I/O: each is resent, the write lands byte for byte. */
static void test_f3002_unit_attention_is_retried(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint8_t *w;
        uint64_t ua;

        up(&m, c, g, false);
        w = blocks(&m, 6, 32);
        ua = m.v.vs->stats.unit_attentions;
        sim_fault_arm(m.v.s, SCSI_MODEL_F_UNIT_ATTENTION, 0, 3,
                      fp_lun(&m) | SCSI_MODEL_FP_ASC(0x2a, 0x01));
        assert_int_equal(keel_blk_write(disk(&m), 0, 80, 6, w, 0), KEEL_OK);
        assert_true(media_is(&m, 80, w, 6));
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_UNIT_ATTENTION), 3);
        assert_int_equal(m.v.vs->stats.unit_attentions - ua, 3);
        still_works(&m);
        free(w);
        vst_finish(&m.v);
    }
}

/* NOT READY: "becoming ready" is waited for (the read succeeds, no TMF); "manual intervention
 * required" fails EIO at once. */
static void test_f3003_not_ready_is_waited_for_or_failed(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint64_t before;

        up(&m, c, g, false);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_NOT_READY, 0, 2, fp_lun(&m));
        assert_int_equal(rd(&m, 0, 2, 2, 0), KEEL_OK);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_NOT_READY), 2);
        assert_int_equal(m.v.vs->stats.aborts, 0);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_NOT_READY, 0, 1,
                      fp_lun(&m) | SCSI_MODEL_FP_ASC(0x04, 0x03));
        before = lun_cmds(&m);
        assert_int_equal(rd(&m, 1, 2, 2, 0), KEEL_EIO);
        assert_int_equal(lun_cmds(&m) - before, 1);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* MEDIUM ERROR: never retried (EIO); on a write, the blocks before the bad one were written by the
 * device and nothing from the bad one on. */
static void test_f3004_medium_error_fails_without_retry(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint8_t *w, *old;
        uint64_t before;

        up(&m, c, g, false);
        w = blocks(&m, 8, 33);
        old = media_copy(&m, 90, 8);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_MEDIUM_ERROR, 0, 1,
                      fp_read(&m) | SCSI_MODEL_FP_VALUE(93));
        before = lun_cmds(&m);
        assert_int_equal(rd(&m, 0, 90, 8, 0), KEEL_EIO);
        assert_int_equal(lun_cmds(&m) - before, 1);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_MEDIUM_ERROR), 1);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_MEDIUM_ERROR, 0, 1,
                      fp_lun(&m) | SCSI_MODEL_FP_OPC(KEEL_SCSI_OP_WRITE10) |
                          SCSI_MODEL_FP_VALUE(93));
        assert_int_equal(keel_blk_write(disk(&m), 1, 90, 8, w, 0), KEEL_EIO);
        assert_true(media_is(&m, 90, w, 3));
        assert_true(media_is(&m, 93, old + (size_t)3 * g->bs, 5));
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_MEDIUM_ERROR), 1);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        still_works(&m);
        free(w);
        free(old);
        vst_finish(&m.v);
    }
}

/* A command the target holds: ABORT TASK ends it, the read fails ETIMEDOUT only after the device
 * let go, no reset. */
static void test_f3005_held_command_is_aborted(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        up(&m, c, g, false);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_HANG, 0, 1, fp_read(&m));
        held_read_ends(&m, KEEL_ETIMEDOUT);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_HANG), 1);
        assert_int_equal(tmfs(&m, KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK), 1);
        assert_int_equal(tmfs(&m, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), 0);
        assert_int_equal(m.v.vs->stats.device_resets, 0);
        assert_int_equal(disk(&m)->stats[0].timeouts, 1);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* CHECK CONDITION with no sense, or too little for a sense key: resent (what happened is unknown),
 * then good. */
static void test_f3006_missing_or_short_sense_is_resent(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint8_t *w;

        up(&m, c, g, false);
        w = blocks(&m, 2, 34);
        scsi_model_set_ua(m.v.sm, g->target, g->lun, 0x29, 0x00);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_SENSE_SHORT, 0, 1, fp_lun(&m));
        assert_int_equal(rd(&m, 0, 1, 1, 0), KEEL_OK);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_SENSE_SHORT), 1);
        scsi_model_set_ua(m.v.sm, g->target, g->lun, 0x29, 0x00);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_SENSE_SHORT, 0, 1, fp_lun(&m) | SCSI_MODEL_FP_VALUE(2));
        assert_int_equal(keel_blk_write(disk(&m), 1, 20, 2, w, 0), KEEL_OK);
        assert_true(media_is(&m, 20, w, 2));
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_SENSE_SHORT), 1);
        still_works(&m);
        free(w);
        vst_finish(&m.v);
    }
}

/* ADDITIONAL SENSE LENGTH lying inside the sense data: bounded by what arrived; the medium error
 * still decodes (EIO, not retried). */
static void test_f3007_lying_additional_sense_length_is_bounded(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint64_t before;

        up(&m, c, g, false);
        scsi_model_add_bad_block(m.v.sm, g->target, g->lun, 1, true, false);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_SENSE_LEN_LIE, 0, 1, fp_lun(&m));
        before = lun_cmds(&m);
        assert_int_equal(rd(&m, 0, 1, 1, 0), KEEL_EIO);
        assert_int_equal(lun_cmds(&m) - before, 1);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_SENSE_LEN_LIE), 1);
        scsi_model_clear_bad_blocks(m.v.sm, g->target, g->lun);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* Data-in cut short with GOOD status: never success; resent once and whole; always short: EIO
 * after the retries. */
static void test_f3008_short_transfer_is_never_success(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        up(&m, c, g, false);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_DATA_SHORT, 0, 1, fp_read(&m) | SCSI_MODEL_FP_VALUE(512));
        assert_int_equal(rd(&m, 0, 30, 4, 0), KEEL_OK);
        assert_int_equal(m.v.vs->stats.short_transfers, 1);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_DATA_SHORT, 0, UINT32_MAX,
                      fp_read(&m) | SCSI_MODEL_FP_VALUE(512));
        assert_int_equal(rd(&m, 1, 30, 4, 0), KEEL_EIO);
        assert_int_equal(m.v.vs->stats.short_transfers, 2u + KEEL_CONFIG_VSCSI_RETRIES);
        sim_fault_clear(m.v.s, SCSI_MODEL_F_DATA_SHORT);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* REPORT LUNS with a lying LUN LIST LENGTH at attach: not a multiple of 8, the list is refused and
 * the target has no LUN until a rescan once the target behaves; huge, the allocation grows to the
 * discovery buffer and what arrived is used. Other targets are unaffected. */
static void test_f3009_lying_report_luns_length_is_contained(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        uint8_t other = g->target == 0u ? 2u : 0u;

        setup(&m, c, g, false);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_REPORT_LUNS_LIE, 0, UINT32_MAX,
                      SCSI_MODEL_FP_LUN(g->target, 0) | SCSI_MODEL_FP_VALUE(13));
        assert_int_equal(vst_start(&m.v), KEEL_OK);
        assert_true(sim_fault_fired(m.v.s, SCSI_MODEL_F_REPORT_LUNS_LIE) >= 1u);
        assert_null(keel_vscsi_find(m.v.vs, g->target, g->lun));
        assert_non_null(keel_vscsi_find(m.v.vs, other, 0));
        vst_roundtrip(&m.v, other, 0, 3, 2, 41);
        sim_fault_clear(m.v.s, SCSI_MODEL_F_REPORT_LUNS_LIE);
        assert_int_equal(keel_vscsi_scan_target(m.v.vs, g->target), KEEL_OK);
        still_works(&m);
        vst_finish(&m.v);

        setup(&m, c, g, false);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_REPORT_LUNS_LIE, 0, UINT32_MAX,
                      SCSI_MODEL_FP_LUN(g->target, 0) | SCSI_MODEL_FP_VALUE(0x100000));
        assert_int_equal(vst_start(&m.v), KEEL_OK);
        assert_true(m.v.vs->stats.report_luns_grown >= 1u);
        assert_true(m.v.vs->stats.luns_dropped >= 1u);
        sim_fault_clear(m.v.s, SCSI_MODEL_F_REPORT_LUNS_LIE);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* READ CAPACITY with an impossible block length: the LUN is kept offline without a block device;
 * the rest of the adapter works, and a rescan once the LUN behaves brings the disk. */
static void test_f3010_lying_block_length_takes_the_lun_offline(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;
        struct keel_vscsi_lun *e;
        uint8_t other = g->target == 0u ? 2u : 0u;

        setup(&m, c, g, false);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_CAPACITY_LIE, 0, UINT32_MAX,
                      fp_lun(&m) | SCSI_MODEL_FP_VALUE(513));
        assert_int_equal(vst_start(&m.v), KEEL_OK);
        e = keel_vscsi_find(m.v.vs, g->target, g->lun);
        assert_non_null(e);
        assert_int_equal(e->state, KEEL_VSCSI_LUN_OFFLINE);
        assert_false(e->has_blk);
        vst_roundtrip(&m.v, other, 0, 3, 2, 42);
        sim_fault_clear(m.v.s, SCSI_MODEL_F_CAPACITY_LIE);
        assert_int_equal(keel_vscsi_scan_target(m.v.vs, g->target), KEEL_OK);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* Every TMF of the escalation fails (FUNCTION REJECTED): the device reset ends the held command,
 * the read fails ETIMEDOUT after it, and the device comes back (sizes, event buffers, I/O). */
static void test_f3011_failed_task_management_ends_in_a_device_reset(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct mx m;

        up(&m, c, g, false);
        scsi_model_hold_next(m.v.sm, g->target, g->lun, 1);
        sim_fault_arm(m.v.s, SCSI_MODEL_F_TMF_FAIL, 0, 3, 0);
        held_read_ends(&m, KEEL_ETIMEDOUT);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_TMF_FAIL), 3);
        assert_int_equal(m.v.vs->stats.tmf_failures, 3);
        assert_int_equal(m.v.vs->stats.device_resets, 1);
        assert_int_equal(vscsi_dev_event_bufs(m.v.d), KEEL_CONFIG_VSCSI_EVENT_BUFS);
        assert_int_equal(vscsi_dev_sense_size(m.v.d), KEEL_CONFIG_VSCSI_SENSE_SIZE);
        still_works(&m);
        vst_finish(&m.v);
    }
}

/* A hot-plug event the device drops: the next event says EVENTS_MISSED and the driver rescans
 * every target, finding the new LUN. */
static void test_f3012_dropped_event_means_a_full_rescan(void **state)
{
    const struct col *c = *state;

    EACH_GEO(g)
    {
        struct scsi_model_lun_cfg lc;
        struct mx m;
        uint64_t rescans;

        up(&m, c, g, false);
        rescans = m.v.vs->stats.rescans;
        sim_fault_arm(m.v.s, SCSI_MODEL_F_EVENT_DROP, 0, 1, 0);
        scsi_model_lun_cfg_disk(&lc, 512, 64);
        lc.power_on_ua = false;
        assert_int_equal(scsi_model_hotplug_lun(m.v.sm, 4, 6, &lc), 0);
        vst_service(&m.v);
        assert_int_equal(sim_fault_fired(m.v.s, SCSI_MODEL_F_EVENT_DROP), 1);
        assert_int_equal(m.v.vs->stats.events_missed, 1);
        assert_true(m.v.vs->stats.rescans >= rescans + 8u); /* targets 0..max_target */
        assert_non_null(keel_vscsi_find(m.v.vs, 4, 6));
        vst_roundtrip(&m.v, 4, 6, 0, 64, 43);
        still_works(&m);
        vst_finish(&m.v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        VSM_ROW(test_f2000_used_id_out_of_range_breaks_the_queue),
        VSM_ROW(test_f2001_used_id_not_a_head_breaks_the_queue),
        VSM_ROW(test_f2002_used_id_reused_is_caught_and_recovered),
        VSM_ROW(test_f2003_used_len_too_long_breaks_modern_and_is_ignored_on_legacy),
        VSM_ROW(test_f2004_rewritten_descriptors_never_corrupt_the_driver),
        VSM_ROW(test_f2005_config_generation_changes_are_retried_and_bounded),
        VSM_ROW(test_f2006_features_ok_refused_fails_attach_cleanly),
        VSM_ROW(test_f2007_needs_reset_mid_io_recovers),
        VSM_ROW(test_f2008_stalled_queue_times_out_and_resends_the_rest),
        VSM_ROW(test_f2009_bad_packed_used_flags_end_in_timeout),
        VSM_ROW(test_f2010_lost_interrupt_is_found_by_polling),
        VSM_ROW(test_f2011_ignored_reset_kills_the_device_bounded),
        VSM_ROW(test_f2012_queue_reset_is_never_used_so_an_ignored_one_cannot_hurt),
        VSM_ROW(test_f2013_used_index_running_ahead_breaks_the_queue),
        VSM_ROW(test_f2014_silent_device_hang_is_ended_by_a_device_reset),
        VSM_ROW(test_f2100_unwritten_response_fails_the_command_with_eproto),
        VSM_ROW(test_f2101_undefined_response_fails_the_command_with_eproto),
        VSM_ROW(test_f2102_lying_sense_length_is_clamped),
        VSM_ROW(test_f2103_lying_residual_fails_the_command_with_eproto),
        VSM_ROW(test_f2104_tmf_that_never_answers_is_bounded),
        VSM_ROW(test_f2105_ignored_abort_escalates_to_a_lun_reset),
        VSM_ROW(test_f2106_event_with_an_impossible_lun_is_ignored),
        VSM_ROW(test_f2107_short_event_is_ignored_but_advisory_on_legacy),
        VSM_ROW(test_f3000_response_codes_are_retried_or_failed),
        VSM_ROW(test_f3001_status_is_retried_or_failed),
        VSM_ROW(test_f3002_unit_attention_is_retried),
        VSM_ROW(test_f3003_not_ready_is_waited_for_or_failed),
        VSM_ROW(test_f3004_medium_error_fails_without_retry),
        VSM_ROW(test_f3005_held_command_is_aborted),
        VSM_ROW(test_f3006_missing_or_short_sense_is_resent),
        VSM_ROW(test_f3007_lying_additional_sense_length_is_bounded),
        VSM_ROW(test_f3008_short_transfer_is_never_success),
        VSM_ROW(test_f3009_lying_report_luns_length_is_contained),
        VSM_ROW(test_f3010_lying_block_length_takes_the_lun_offline),
        VSM_ROW(test_f3011_failed_task_management_ends_in_a_device_reset),
        VSM_ROW(test_f3012_dropped_event_means_a_full_rescan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
