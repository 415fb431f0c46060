/* SPDX-License-Identifier: MIT */
/*
 * Device initialisation (3.1) on every transport: the status sequence, feature negotiation, the
 * FEATURES_OK re-read, the bounded reset wait, the config generation loop, interrupts (MSI-X per
 * queue, shared, INTx, MMIO line), configuration-change handling and capability parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

static const enum vmodel_transport all_transports[] = {
    VMODEL_PCI_MODERN, VMODEL_PCI_TRANSITIONAL, VMODEL_PCI_LEGACY, VMODEL_MMIO_V2, VMODEL_MMIO_V1};
#define NT (sizeof(all_transports) / sizeof(all_transports[0]))

static bool is_legacy(enum vmodel_transport t)
{
    return t == VMODEL_PCI_LEGACY || t == VMODEL_MMIO_V1 || t == VMODEL_PCI_TRANSITIONAL;
}

static void start_ok(struct vt *v, enum vmodel_transport t, bool irq)
{
    struct vt_params p = {t, false, irq, SIM_MAP_TRANSLATE};
    vt_init(v, &p);
    assert_int_equal(vt_start(v), KEEL_OK);
}

static void test_probe_refuses_a_hal_that_breaks_the_contract(void **state)
{
    unsigned i;

    (void)state;
    for (i = 0; i < NT; i++) {
        struct vt v;
        struct vt_params p = {all_transports[i], false, false, SIM_MAP_TRANSLATE};

        vt_init(&v, &p);
        v.s->ops.barrier = NULL; /* a required hook missing: no register may be touched */
        assert_int_equal(vt_probe(&v), KEEL_EHAL);
        assert_int_equal(v.s->mmio_reads + v.s->mmio_writes, 0);
        vt_teardown(&v);
    }
}

static void test_status_bits_follow_the_spec_sequence_and_are_never_cleared(void **state)
{
    unsigned i, j;

    (void)state;
    for (i = 0; i < NT; i++) {
        struct vt v;
        const struct vmodel_stats *st;
        uint8_t prev = 0;

        start_ok(&v, all_transports[i], false);
        st = vmodel_stats(v.m);
        /* reset first, then only supersets of what was written before */
        assert_true(st->status_log_len >= 4);
        assert_int_equal(st->status_log[0], 0);
        assert_int_equal(st->status_log[1], VMODEL_S_ACKNOWLEDGE);
        assert_int_equal(st->status_log[2], VMODEL_S_ACKNOWLEDGE | VMODEL_S_DRIVER);
        for (j = 1; j < st->status_log_len; j++) {
            uint8_t s = st->status_log[j];
            assert_int_equal(s & prev, prev);
            prev = s;
        }
        if (is_legacy(all_transports[i])) {
            assert_false(prev & VMODEL_S_FEATURES_OK); /* no FEATURES_OK on the legacy interface */
        } else {
            assert_int_equal(st->status_log[3],
                             VMODEL_S_ACKNOWLEDGE | VMODEL_S_DRIVER | VMODEL_S_FEATURES_OK);
            assert_true(prev & VMODEL_S_FEATURES_OK);
        }
        assert_true(prev & VMODEL_S_DRIVER_OK);
        assert_int_equal(st->device_resets, 1);
        vt_finish(&v);
    }
}

static void test_features_are_the_offered_subset_keel_implements(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_PCI_MODERN, true, false, SIM_MAP_TRANSLATE};
    uint64_t f;

    (void)state;
    vt_init(&v, &p);
    v.mc.features |= VMODEL_F_ACCESS_PLATFORM | VMODEL_F_IN_ORDER | VMODEL_F_NOTIFICATION_DATA;
    v.bc.features |= VMODEL_BLK_F_SECURE_ERASE | VMODEL_BLK_F_GEOMETRY;
    v.bc.size_max = 65536;
    v.bc.num_queues = 2;
    assert_int_equal(vt_start(&v), KEEL_OK);
    f = v.vb->vdev.features;
    assert_int_equal(f, vmodel_features(v.m));
    assert_true(f & VMODEL_F_VERSION_1);
    assert_true(f & VMODEL_F_RING_PACKED);
    assert_true(f & VMODEL_F_ACCESS_PLATFORM);
    assert_true(f & VMODEL_F_RING_RESET);
    assert_false(f & VMODEL_F_IN_ORDER);          /* not implemented: not taken */
    assert_false(f & VMODEL_F_NOTIFICATION_DATA); /* not implemented: not taken */
    assert_false(f & VMODEL_BLK_F_GEOMETRY);      /* not used */
    assert_true(f & VMODEL_BLK_F_SECURE_ERASE);
    assert_true(f & VMODEL_BLK_F_SIZE_MAX);
    assert_true(f & VMODEL_BLK_F_MQ);
    assert_int_equal(f & ~vmodel_stats(v.m)->features_offered, 0);
    assert_int_equal(v.vb->nq, 2);
    vt_finish(&v);
}

static void test_legacy_interfaces_negotiate_32_bits_and_split_rings(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_LEGACY, VMODEL_MMIO_V1,
                                               VMODEL_PCI_TRANSITIONAL};
    unsigned i;

    (void)state;
    for (i = 0; i < 3; i++) {
        struct vt v;
        struct vt_params p = {ts[i], true, false, SIM_MAP_TRANSLATE};
        vt_init(&v, &p);
        assert_int_equal(vt_start(&v), KEEL_OK);
        assert_true(v.vb->vdev.legacy);
        assert_int_equal(v.vb->vdev.features >> 32, 0);
        assert_false(vmodel_queue_packed(v.m, 0));
        vt_finish(&v);
    }
}

static void test_transitional_device_can_be_driven_through_its_modern_interface(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_PCI_TRANSITIONAL, true, true, SIM_MAP_TRANSLATE};
    uint8_t buf[4096];

    (void)state;
    vt_init(&v, &p);
    v.m = vmodel_blk_pair_create(v.s, &v.mc, &v.bc, &v.b);
    assert_non_null(v.m);
    assert_int_equal(keel_virtio_pci_probe(&v.vb->vdev, &v.s->hal, v.mc.pci_addr, 0, false),
                     KEEL_OK);
    assert_int_equal(v.vb->vdev.transport, KEEL_VIRTIO_T_PCI_MODERN);
    assert_int_equal(keel_vblk_attach(v.vb, &v.opts), KEEL_OK);
    assert_false(v.vb->vdev.legacy);
    assert_true(vmodel_queue_packed(v.m, 0));
    vt_fill(buf, sizeof(buf), 3);
    assert_int_equal(keel_blk_write(&v.vb->blk, 0, 8, 8, buf, 0), KEEL_OK);
    assert_true(vt_media_equals(&v, 8 * 512, buf, sizeof(buf)));
    vt_finish(&v);
}

static void test_features_ok_refused_fails_attach_with_failed_status(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_MMIO_V2, false, false, SIM_MAP_TRANSLATE};

    (void)state;
    vt_init(&v, &p);
    sim_fault_arm(v.s, VMODEL_FAULT_FEATURES_OK_REFUSED, 0, 1, 0);
    assert_int_equal(vt_start(&v), KEEL_ENOTSUP);
    assert_false(v.vb->attached);
    assert_true(vmodel_status(v.m) & VMODEL_S_FAILED);
    assert_false(vmodel_status(v.m) & VMODEL_S_DRIVER_OK);
    assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_FEATURES_OK_REFUSED), 1);
    /* a second attempt (fault spent) succeeds: nothing was left half-initialised */
    assert_int_equal(keel_vblk_attach(v.vb, &v.opts), KEEL_OK);
    vt_finish(&v);
}

static void test_modern_transport_without_version_1_is_refused(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE};

    (void)state;
    vt_init(&v, &p);
    v.mc.features_clear = VMODEL_F_VERSION_1;
    v.mc.strict = false; /* a non-conforming device: the model must not flag the driver */
    assert_int_equal(vt_start(&v), KEEL_ENOTSUP);
    assert_true(vmodel_status(v.m) & VMODEL_S_FAILED);
    vt_teardown(&v);
}

static void test_reset_that_never_completes_times_out_bounded(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_MMIO_V1};
    unsigned i;

    (void)state;
    for (i = 0; i < 2; i++) {
        struct vt v;
        uint8_t buf[512];
        uint64_t t0;

        start_ok(&v, ts[i], false);
        /* the device is live (status non-zero); from now on it ignores resets */
        sim_fault_arm(v.s, VMODEL_FAULT_RESET_STUCK, 0, UINT32_MAX, 0);
        t0 = v.s->now_us;
        assert_int_equal(keel_virtio_reset(&v.vb->vdev), KEEL_ETIMEDOUT);
        assert_true(v.s->now_us - t0 >= KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US);
        assert_true(v.s->now_us - t0 <= 2ull * KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US);
        assert_true(v.vb->vdev.dead);
        /* the block driver's recovery hits the same wall: bounded, and the disk is then dead */
        t0 = v.s->now_us;
        assert_int_not_equal(keel_vblk_recover(v.vb), KEEL_OK);
        assert_true(v.s->now_us - t0 <= 2ull * KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US);
        assert_true(v.vb->dead);
        assert_int_equal(keel_blk_read(&v.vb->blk, 0, 0, 1, buf, 0), KEEL_ENODEV);
        if (ts[i] == VMODEL_PCI_MODERN) /* no reset: bus mastering is the last way to stop DMA */
            assert_false(sim_pci_cfg_get(vmodel_pci_fn(v.m), KEEL_PCI_COMMAND, 2) &
                         KEEL_PCI_CMD_MASTER);
        sim_fault_clear(v.s, VMODEL_FAULT_RESET_STUCK);
        vt_finish(&v);
    }
}

static void test_config_generation_changing_mid_read_is_retried(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE};

    (void)state;
    vt_init(&v, &p);
    v.bc.capacity = 123456;
    /* the first three passes see the generation move: the fourth is consistent */
    sim_fault_arm(v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD, 0, 3, 1);
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(sim_fault_fired(v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD), 3);
    assert_true(v.vb->vdev.stats.config_retries >= 1);
    assert_int_equal(v.vb->blk.info.sector_count, 123456);
    vt_finish(&v);
}

static void test_config_generation_that_never_settles_fails_bounded(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_MMIO_V2, false, false, SIM_MAP_TRANSLATE};

    (void)state;
    vt_init(&v, &p);
    sim_fault_arm(v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD, 0, UINT32_MAX, 1);
    assert_int_equal(vt_start(&v), KEEL_EAGAIN);
    assert_int_equal(v.vb->vdev.stats.config_retries, KEEL_CONFIG_VIRTIO_CONFIG_RETRIES);
    assert_false(v.vb->attached);
    sim_fault_clear(v.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD);
    vt_finish(&v);
}

static void test_surprise_removed_device_is_not_probed(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_MMIO_V2, false, false, SIM_MAP_TRANSLATE};

    (void)state;
    vt_init(&v, &p);
    v.m = vmodel_blk_pair_create(v.s, &v.mc, &v.bc, &v.b);
    vmodel_set_gone(v.m, true);
    assert_int_equal(keel_virtio_mmio_probe(&v.vb->vdev, &v.s->hal, v.mc.mmio_base,
                                            VMODEL_MMIO_SIZE, v.mc.mmio_irq_line),
                     KEEL_ENODEV);
    vt_finish(&v);
}

static void test_msix_per_queue_shared_and_intx_are_chosen_by_what_exists(void **state)
{
    struct {
        unsigned vectors;
        enum keel_virtio_irq_mode expect;
    } cases[] = {{0, KEEL_VIRTIO_IRQ_MSIX_PER_VQ},
                 {2, KEEL_VIRTIO_IRQ_MSIX_SHARED}, /* 2 queues need 3 vectors */
                 {VMODEL_NO_MSIX, KEEL_VIRTIO_IRQ_INTX}};
    unsigned i;

    (void)state;
    for (i = 0; i < 3; i++) {
        struct vt v;
        struct vt_params p = {VMODEL_PCI_MODERN, false, true, SIM_MAP_TRANSLATE};
        uint8_t buf[512];
        unsigned q;

        vt_init(&v, &p);
        v.mc.msix_vectors = cases[i].vectors;
        v.bc.num_queues = 2;
        assert_int_equal(vt_start(&v), KEEL_OK);
        assert_int_equal(v.vb->vdev.irq_mode, cases[i].expect);
        vmodel_set_mode(v.m, VMODEL_DEFERRED, 10);
        for (q = 0; q < 2; q++) {
            struct vt_req r;
            vt_req_init(&r, KEEL_BLK_OP_READ, (uint16_t)q, q, 1, buf);
            assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
            sim_advance(v.s, 100); /* no poll: the interrupt completes it */
            assert_true(r.done);
            assert_int_equal(r.status, KEEL_OK);
            assert_true(keel_vblk_vq_stats(v.vb, q)->interrupts >= 1);
        }
        vt_finish(&v);
    }
}

static void test_mmio_line_interrupt_acknowledges_status(void **state)
{
    struct vt v;
    uint8_t buf[512];
    struct vt_req r;

    (void)state;
    start_ok(&v, VMODEL_MMIO_V1, true);
    assert_int_equal(v.vb->vdev.irq_mode, KEEL_VIRTIO_IRQ_LINE);
    vmodel_set_mode(v.m, VMODEL_DEFERRED, 10);
    vt_req_init(&r, KEEL_BLK_OP_READ, 0, 1, 1, buf);
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r.r), KEEL_OK);
    sim_advance(v.s, 100);
    assert_true(r.done);
    /* a spurious interrupt (no cause) is counted, not mistaken for work */
    vmodel_inject_irq(v.m, 0);
    vt_finish(&v);
}

static void test_resize_updates_capacity_through_config_interrupt(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_MMIO_V2, VMODEL_MMIO_V1,
                                               VMODEL_PCI_LEGACY};
    unsigned i, irq;

    (void)state;
    for (i = 0; i < 4; i++) {
        for (irq = 0; irq < 2; irq++) {
            struct vt v;
            uint8_t buf[512];

            start_ok(&v, ts[i], irq != 0);
            assert_int_equal(v.vb->blk.info.sector_count, 2048);
            assert_int_equal(keel_blk_read(&v.vb->blk, 0, 3000, 1, buf, 0), KEEL_ERANGE);
            vmodel_blk_resize(v.b, 4096);
            /* interrupt mode: the next poll applies it; polled: within the status poll period */
            sim_advance(v.s, KEEL_CONFIG_VIRTIO_STATUS_POLL_US + 1);
            assert_int_equal(keel_vblk_service(v.vb), KEEL_OK);
            assert_int_equal(v.vb->blk.info.sector_count, 4096);
            assert_int_equal(v.vb->stats.resizes, 1);
            assert_int_equal(keel_blk_read(&v.vb->blk, 0, 3000, 1, buf, 0), KEEL_OK);
            /* shrink: requests beyond the new end are refused before the device sees them */
            vmodel_blk_resize(v.b, 1024);
            sim_advance(v.s, KEEL_CONFIG_VIRTIO_STATUS_POLL_US + 1);
            assert_int_equal(keel_vblk_service(v.vb), KEEL_OK);
            assert_int_equal(v.vb->blk.info.sector_count, 1024);
            assert_int_equal(keel_blk_read(&v.vb->blk, 0, 2000, 1, buf, 0), KEEL_ERANGE);
            assert_int_equal(keel_blk_read(&v.vb->blk, 0, 1023, 1, buf, 0), KEEL_OK);
            vt_finish(&v);
        }
    }
}

static void test_decoy_capabilities_are_skipped(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE};
    uint8_t buf[1024];

    (void)state;
    vt_init(&v, &p);
    v.mc.pci_decoy_caps = true;
    v.mc.pci_notify_multiplier = 0; /* every queue notifies at the same address */
    v.bc.num_queues = 3;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(v.vb->nq, 3);
    vt_fill(buf, sizeof(buf), 11);
    assert_int_equal(keel_blk_write(&v.vb->blk, 2, 10, 2, buf, 0), KEEL_OK);
    assert_true(vt_media_equals(&v, 10 * 512, buf, sizeof(buf)));
    vt_finish(&v);
}

static void test_unassigned_bars_are_assigned_by_the_integrator_then_probed(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE};
    struct keel_pci_windows w;

    (void)state;
    vt_init(&v, &p);
    v.mc.pci_bars_preassigned = false;
    v.m = vmodel_blk_pair_create(v.s, &v.mc, &v.bc, &v.b);
    assert_int_not_equal(keel_virtio_pci_probe(&v.vb->vdev, &v.s->hal, v.mc.pci_addr, 0, false),
                         KEEL_OK);
    memset(&w, 0, sizeof(w));
    w.mem32.base = w.mem32.next = 0xc0000000u;
    w.mem32.size = 0x10000000u;
    w.io.base = w.io.next = 0x1000;
    w.io.size = 0x1000;
    assert_int_equal(keel_pci_assign_bars(&v.s->hal, v.mc.pci_addr, &w), KEEL_OK);
    assert_int_equal(keel_virtio_pci_probe(&v.vb->vdev, &v.s->hal, v.mc.pci_addr, 0, false),
                     KEEL_OK);
    assert_int_equal(keel_vblk_attach(v.vb, &v.opts), KEEL_OK);
    vt_finish(&v);
}

static void test_multiqueue_queue_sizes_are_clamped_by_config(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_MMIO_V2, true, false, SIM_MAP_TRANSLATE};
    unsigned q;

    (void)state;
    vt_init(&v, &p);
    v.bc.num_queues = 6; /* more than KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES */
    v.mc.queue_size_max = 1024;
    v.mc.queue_size_max_q[1] = 100; /* packed: any size */
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(v.vb->nq, KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES);
    assert_int_equal(v.vb->blk.info.queue_count, KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES);
    assert_int_equal(vmodel_queue_size(v.m, 0), KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX);
    assert_int_equal(vmodel_queue_size(v.m, 1), 100);
    for (q = 0; q < v.vb->nq; q++) {
        uint8_t buf[2048];
        vt_fill(buf, sizeof(buf), q);
        assert_int_equal(keel_blk_write(&v.vb->blk, q, 64u * q, 4, buf, 0), KEEL_OK);
        assert_true(vt_media_equals(&v, 64ull * q * 512, buf, sizeof(buf)));
        assert_int_equal(vmodel_stats(v.m)->vq[q].completed, 1);
    }
    vt_finish(&v);
}

static void test_opts_limit_queue_size_and_refuse_features(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_PCI_MODERN, false, false, SIM_MAP_TRANSLATE};

    (void)state;
    vt_init(&v, &p);
    v.opts.queue_size = 48; /* split rings round down to a power of two */
    v.opts.refuse = 1ull << KEEL_VIRTIO_BLK_F_DISCARD;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(vmodel_queue_size(v.m, 0), 32);
    assert_false(v.vb->vdev.features & VMODEL_BLK_F_DISCARD);
    assert_false(v.vb->blk.info.flags & KEEL_BLK_F_TRIM);
    vt_finish(&v);
}

static void test_block_device_names_follow_the_documented_scheme(void **state)
{
    char n[16];

    (void)state;
    keel_vblk_name(0, n, sizeof(n));
    assert_string_equal(n, "vda");
    keel_vblk_name(25, n, sizeof(n));
    assert_string_equal(n, "vdz");
    keel_vblk_name(26, n, sizeof(n));
    assert_string_equal(n, "vdaa");
    keel_vblk_name(27, n, sizeof(n));
    assert_string_equal(n, "vdab");
    keel_vblk_name(701, n, sizeof(n));
    assert_string_equal(n, "vdzz");
    keel_vblk_name(702, n, sizeof(n));
    assert_string_equal(n, "vdaaa");
    keel_vblk_name(0, n, 3);
    assert_string_equal(n, "");
}

static void test_probe_rejects_non_virtio_and_empty_slots(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_MMIO_V2, false, false, SIM_MAP_TRANSLATE};
    struct keel_virtio_dev d;

    (void)state;
    vt_init(&v, &p);
    v.m = vmodel_blk_pair_create(v.s, &v.mc, &v.bc, &v.b);
    /* nothing at that PCI address */
    assert_int_equal(
        keel_virtio_pci_probe(&d, &v.s->hal, (struct keel_pci_addr){0, 0, 9, 0}, 0, false),
        KEEL_ENODEV);
    assert_int_equal(keel_virtio_mmio_probe(&d, &v.s->hal, v.mc.mmio_base, 0x100, 1), KEEL_EINVAL);
    vt_finish(&v);
}

/* RING_RESET: one queue is disabled and re-enabled while the other keeps working. */
static void test_one_queue_can_be_reset_and_reenabled_alone(void **state)
{
    static const enum vmodel_transport ts[] = {VMODEL_PCI_MODERN, VMODEL_MMIO_V2};
    unsigned i;

    (void)state;
    for (i = 0; i < 2; i++) {
        struct vt v;
        struct vt_params p = {ts[i], i == 1, false, SIM_MAP_TRANSLATE};
        uint8_t buf[2048];

        vt_init(&v, &p);
        v.bc.num_queues = 2;
        assert_int_equal(vt_start(&v), KEEL_OK);
        assert_true(vmodel_queue_enabled(v.m, 1));
        assert_int_equal(keel_vq_reset(&v.vb->q[1].vq), KEEL_OK);
        assert_false(vmodel_queue_enabled(v.m, 1));
        assert_false(v.vb->q[1].vq.ready);
        vt_fill(buf, sizeof(buf), 1);
        assert_int_equal(keel_blk_write(&v.vb->blk, 0, 0, 4, buf, 0), KEEL_OK);
        assert_int_equal(keel_vq_restart(&v.vb->q[1].vq), KEEL_OK);
        assert_true(vmodel_queue_enabled(v.m, 1));
        assert_int_equal(keel_blk_read(&v.vb->blk, 1, 0, 4, buf + 0, 0), KEEL_OK);
        assert_true(vt_media_equals(&v, 0, buf, sizeof(buf)));
        assert_int_equal(vmodel_stats(v.m)->vq[1].resets, 1);
        vt_finish(&v);
    }
}

static void test_queue_reset_is_refused_without_ring_reset(void **state)
{
    struct vt v;

    (void)state;
    start_ok(&v, VMODEL_MMIO_V1, false);
    assert_int_equal(keel_vq_reset(&v.vb->q[0].vq), KEEL_ENOTSUP);
    assert_true(v.vb->q[0].vq.ready);
    vt_finish(&v);
}

/* A HAL without interrupt hooks: asking for interrupts quietly gives polling. */
static void test_hal_without_interrupts_falls_back_to_polling(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_PCI_MODERN, true, true, SIM_MAP_TRANSLATE};
    uint8_t buf[512];

    (void)state;
    vt_init(&v, &p);
    v.s->ops.irq_attach = NULL;
    assert_int_equal(vt_start(&v), KEEL_OK);
    assert_int_equal(v.vb->vdev.irq_mode, KEEL_VIRTIO_IRQ_POLL);
    assert_int_equal(keel_blk_read(&v.vb->blk, 0, 0, 1, buf, 0), KEEL_OK);
    vt_finish(&v);
}

/* More requests than slots: ENOSPC (back-pressure), and accepted again after a poll. */
static void test_full_queue_pushes_back_with_enospc(void **state)
{
    struct vt v;
    struct vt_params p = {VMODEL_MMIO_V2, false, false, SIM_MAP_TRANSLATE};
    static struct vt_req r[KEEL_CONFIG_VIRTIO_BLK_SLOTS + 8];
    static uint8_t buf[KEEL_CONFIG_VIRTIO_BLK_SLOTS + 8][512];
    unsigned i, accepted = 0;

    (void)state;
    vt_init(&v, &p);
    v.mc.mode = VMODEL_MANUAL;
    assert_int_equal(vt_start(&v), KEEL_OK);
    for (i = 0; i < KEEL_CONFIG_VIRTIO_BLK_SLOTS + 8; i++) {
        vt_req_init(&r[i], KEEL_BLK_OP_READ, 0, i, 1, buf[i]);
        if (keel_blk_submit(&v.vb->blk, &r[i].r) == KEEL_OK)
            accepted++;
        else
            break;
    }
    assert_int_equal(accepted, v.vb->q[0].nslots);
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r[accepted].r), KEEL_ENOSPC);
    assert_int_equal(v.vb->blk.stats[0].in_flight, accepted);
    vmodel_process(v.m, VMODEL_ALL_QUEUES);
    assert_true(keel_blk_poll(&v.vb->blk, 0, 0) > 0);
    assert_int_equal(keel_blk_submit(&v.vb->blk, &r[accepted].r), KEEL_OK);
    vmodel_process(v.m, VMODEL_ALL_QUEUES);
    for (i = 0; i <= accepted; i++)
        assert_int_equal(vt_wait(&v, &r[i], 10), KEEL_OK);
    assert_true(keel_vblk_vq_stats(v.vb, 0)->occupancy_max >= accepted);
    vt_finish(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_refuses_a_hal_that_breaks_the_contract),
        cmocka_unit_test(test_status_bits_follow_the_spec_sequence_and_are_never_cleared),
        cmocka_unit_test(test_features_are_the_offered_subset_keel_implements),
        cmocka_unit_test(test_legacy_interfaces_negotiate_32_bits_and_split_rings),
        cmocka_unit_test(test_transitional_device_can_be_driven_through_its_modern_interface),
        cmocka_unit_test(test_features_ok_refused_fails_attach_with_failed_status),
        cmocka_unit_test(test_modern_transport_without_version_1_is_refused),
        cmocka_unit_test(test_reset_that_never_completes_times_out_bounded),
        cmocka_unit_test(test_config_generation_changing_mid_read_is_retried),
        cmocka_unit_test(test_config_generation_that_never_settles_fails_bounded),
        cmocka_unit_test(test_surprise_removed_device_is_not_probed),
        cmocka_unit_test(test_msix_per_queue_shared_and_intx_are_chosen_by_what_exists),
        cmocka_unit_test(test_mmio_line_interrupt_acknowledges_status),
        cmocka_unit_test(test_resize_updates_capacity_through_config_interrupt),
        cmocka_unit_test(test_decoy_capabilities_are_skipped),
        cmocka_unit_test(test_unassigned_bars_are_assigned_by_the_integrator_then_probed),
        cmocka_unit_test(test_multiqueue_queue_sizes_are_clamped_by_config),
        cmocka_unit_test(test_opts_limit_queue_size_and_refuse_features),
        cmocka_unit_test(test_block_device_names_follow_the_documented_scheme),
        cmocka_unit_test(test_probe_rejects_non_virtio_and_empty_slots),
        cmocka_unit_test(test_one_queue_can_be_reset_and_reenabled_alone),
        cmocka_unit_test(test_queue_reset_is_refused_without_ring_reset),
        cmocka_unit_test(test_hal_without_interrupts_falls_back_to_polling),
        cmocka_unit_test(test_full_queue_pushes_back_with_enospc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
