/* SPDX-License-Identifier: MIT */
/*
 * Interrupts: an MSI-X vector per completion queue, INTx with INTMS/INTMC, pure polling, polling
 * that keeps working in interrupt mode, interrupts that arrive while the queue's owner is busy,
 * and interrupt coalescing.
 */
#include <stdlib.h>

#include "test_nvme_fixture.h"

static uint8_t *buf_for(struct nvt *t, uint32_t count)
{
    uint8_t *b = aligned_alloc(4096, ((size_t)count * nvt_bs(t) + 4095u) & ~(size_t)4095u);

    assert_non_null(b);
    return b;
}

/* Submit one read on each queue and let time pass without polling. */
static void complete_by_interrupts_only(struct nvt *t, unsigned queues)
{
    struct nvt_req q[4];
    uint8_t *b = buf_for(t, queues);
    unsigned i;

    for (i = 0; i < queues; i++) {
        nvt_req_init(t, &q[i], KEEL_BLK_OP_READ, i, 1, b + (size_t)i * nvt_bs(t));
        q[i].r.queue = (uint16_t)i;
        assert_int_equal(keel_blk_submit(t->bd, &q[i].r), KEEL_OK);
    }
    sim_advance(t->s, 100);
    for (i = 0; i < queues; i++) {
        assert_int_equal(q[i].done_count, 1);
        assert_int_equal(q[i].status, KEEL_OK);
    }
    free(b);
}

static void test_every_completion_queue_gets_its_own_msix_vector(void **state)
{
    struct nvt t;
    struct nvme_model_qinfo qi;
    unsigned i;

    nvt_init_state(&t, state);
    t.cfg.irq_mode = KEEL_NVME_IRQ_AUTO;
    t.cfg.io_queues = 3;
    nvt_up(&t);
    assert_int_equal(t.c->irq_mode, KEEL_NVME_IRQ_MSIX);
    for (i = 1; i <= 3; i++) {
        assert_true(nvme_model_cq_info(t.m, (uint16_t)i, &qi));
        assert_true(qi.ien);
        assert_int_equal(qi.vector, i);
    }
    complete_by_interrupts_only(&t, 3);
    for (i = 1; i <= 3; i++) {
        assert_true(nvme_model_stats(t.m)->irqs[i] >= 1);
        assert_true(keel_nvme_queue_stats(t.c, i - 1)->interrupts >= 1);
    }
    assert_int_equal(nvme_model_stats(t.m)->intms_writes, 0);
    nvt_done(&t);
}

static void test_intx_fallback_masks_the_pin_while_servicing(void **state)
{
    struct nvt t;
    struct nvme_model_qinfo qi;
    int h;

    nvt_init_state(&t, state);
    t.mc.msix_vectors = 0;
    t.cfg.irq_mode = KEEL_NVME_IRQ_AUTO;
    nvt_up(&t);
    assert_int_equal(t.c->irq_mode, KEEL_NVME_IRQ_INTX);
    assert_true(nvme_model_cq_info(t.m, 1, &qi));
    assert_true(qi.ien);
    assert_int_equal(qi.vector, 0);
    complete_by_interrupts_only(&t, 2);
    assert_true(nvme_model_stats(t.m)->intms_writes >= 1);
    assert_true(nvme_model_stats(t.m)->intmc_writes >= 1);
    assert_int_equal(nvme_model_intms(t.m), 0); /* left unmasked */
    h = sim_irq_find(t.s, KEEL_IRQ_PCI_INTX, t.mc.pci, 1);
    assert_true(h >= 0);
    assert_true(t.s->irqs[h].eois >= 1);
    nvt_done(&t);
}

static void test_polling_mode_creates_queues_without_interrupts(void **state)
{
    struct nvt t;
    struct nvme_model_qinfo qi;
    uint8_t *b;

    nvt_init_state(&t, state);
    t.cfg.irq_mode = KEEL_NVME_IRQ_POLL;
    nvt_up(&t);
    b = buf_for(&t, 1);
    assert_true(nvme_model_cq_info(t.m, 1, &qi));
    assert_false(qi.ien);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_OK);
    assert_int_equal(nvme_model_stats(t.m)->irqs[1], 0);
    free(b);
    nvt_done(&t);
}

static void test_hal_without_interrupts_means_polling(void **state)
{
    struct nvt t;
    uint8_t *b;

    nvt_init_state(&t, state);
    t.s->ops.irq_attach = NULL;
    t.cfg.irq_mode = KEEL_NVME_IRQ_AUTO;
    nvt_up(&t);
    b = buf_for(&t, 1);
    assert_int_equal(t.c->irq_mode, KEEL_NVME_IRQ_POLL);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_OK);
    free(b);
    nvt_done(&t);
}

static void test_poll_still_works_in_interrupt_mode(void **state)
{
    struct nvt t;
    struct nvt_req q;
    uint8_t *b;
    int h;

    nvt_init_state(&t, state);
    t.cfg.irq_mode = KEEL_NVME_IRQ_MSIX;
    nvt_up(&t);
    b = buf_for(&t, 1);
    /* Mask the queue's vector at the HAL: the interrupt stays pending, polling must do it. */
    h = (int)t.c->io[0].irq_handle;
    t.s->hal.ops->irq_mask(t.s->hal.ctx, (uint32_t)h, true);
    nvt_req_init(&t, &q, KEEL_BLK_OP_READ, 0, 1, b);
    assert_int_equal(keel_blk_submit(t.bd, &q.r), KEEL_OK);
    sim_advance(t.s, 100);
    assert_int_equal(q.done_count, 0);
    assert_int_equal(keel_blk_poll(t.bd, 0, 0), 1);
    assert_int_equal(q.done_count, 1);
    t.s->hal.ops->irq_mask(t.s->hal.ctx, (uint32_t)h, false); /* the late interrupt finds nothing */
    assert_int_equal(q.done_count, 1);
    assert_int_equal(keel_blk_read(t.bd, 0, 0, 1, b, 0), KEEL_OK);
    free(b);
    nvt_done(&t);
}

static void interrupt_in_doorbell(void **state, uint8_t mode, unsigned vectors)
{
    struct nvt t;
    struct nvt_req q[6];
    uint8_t *b;
    unsigned i;

    nvt_init_state(&t, state);
    t.mc.irq_in_doorbell = true;
    t.mc.msix_vectors = vectors;
    t.cfg.irq_mode = mode;
    nvt_up(&t);
    b = buf_for(&t, 6);
    for (i = 0; i < 6; i++) {
        nvt_req_init(&t, &q[i], KEEL_BLK_OP_READ, i, 1, b + (size_t)i * nvt_bs(&t));
        assert_int_equal(keel_blk_submit(t.bd, &q[i].r), KEEL_OK);
        /* The interrupt fired inside our doorbell write; it was served once submit let go. */
        assert_int_equal(q[i].done_count, 1);
        assert_int_equal(q[i].status, KEEL_OK);
    }
    assert_true(keel_nvme_queue_stats(t.c, 0)->interrupts >= 6 || t.c->admin.stats.interrupts >= 6);
    free(b);
    nvt_done(&t);
}

static void test_msix_interrupt_inside_submit_is_deferred_to_the_owner(void **state)
{
    interrupt_in_doorbell(state, KEEL_NVME_IRQ_MSIX, 64);
}

static void test_intx_interrupt_inside_submit_is_deferred_to_the_owner(void **state)
{
    interrupt_in_doorbell(state, KEEL_NVME_IRQ_INTX, 0);
}

static void test_explicit_msix_without_msix_fails(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.msix_vectors = 0;
    t.cfg.irq_mode = KEEL_NVME_IRQ_MSIX;
    nvt_model(&t);
    assert_int_not_equal(nvt_attach(&t), KEEL_OK);
    assert_int_equal(keel_nvme_life(t.c), KEEL_NVME_LIFE_DOWN);
    nvt_done(&t);
}

static void test_few_msix_vectors_limit_the_queue_count(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.msix_vectors = 2;
    t.cfg.io_queues = 4;
    t.cfg.irq_mode = KEEL_NVME_IRQ_MSIX;
    nvt_up(&t);
    assert_int_equal(keel_nvme_io_queue_count(t.c), 1);
    assert_int_equal(t.bd->info.queue_count, 1);
    complete_by_interrupts_only(&t, 1);
    nvt_done(&t);
}

static void test_interrupt_coalescing_is_configurable(void **state)
{
    struct nvt t;
    uint32_t dw0 = 0;

    nvt_init_state(&t, state);
    t.cfg.irq_mode = KEEL_NVME_IRQ_MSIX;
    nvt_up(&t);
    assert_int_equal(keel_nvme_set_irq_coalescing(t.c, 7, 3), KEEL_OK);
    assert_int_equal(nvme_model_feature(t.m, KEEL_NVME_FEAT_IRQ_COALESCING), 0x0307);
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_IRQ_COALESCING, 0, 0, &dw0),
                     KEEL_OK);
    assert_int_equal(dw0 & 0xffffu, 0x0307);
    nvt_done(&t);
}

static unsigned events_seen;
static struct keel_nvme_event last_event;

static void on_event(void *arg, struct keel_nvme_ctrl *ctrl, const struct keel_nvme_event *ev)
{
    (void)arg;
    (void)ctrl;
    events_seen++;
    last_event = *ev;
}

static void test_admin_interrupt_delivers_events_without_polling(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.cfg.irq_mode = KEEL_NVME_IRQ_MSIX;
    t.cfg.event = on_event;
    events_seen = 0;
    nvt_up(&t);
    nvme_model_set_critical_warning(t.m, KEEL_NVME_CW_RELIABILITY);
    sim_advance(t.s, 100);
    sim_advance(t.s, 100);
    assert_int_equal(events_seen, 1);
    assert_int_equal(last_event.type, KEEL_NVME_AET_SMART);
    assert_true(last_event.critical_warning & KEEL_NVME_CW_RELIABILITY);
    assert_true(nvme_model_stats(t.m)->irqs[0] >= 1);
    assert_int_equal(nvme_model_aers_outstanding(t.m), 1);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_MATRIX(test_every_completion_queue_gets_its_own_msix_vector),
        NVT_MATRIX(test_intx_fallback_masks_the_pin_while_servicing),
        NVT_DEFAULT(test_polling_mode_creates_queues_without_interrupts),
        NVT_DEFAULT(test_hal_without_interrupts_means_polling),
        NVT_MATRIX(test_poll_still_works_in_interrupt_mode),
        NVT_MATRIX(test_msix_interrupt_inside_submit_is_deferred_to_the_owner),
        NVT_MATRIX(test_intx_interrupt_inside_submit_is_deferred_to_the_owner),
        NVT_DEFAULT(test_explicit_msix_without_msix_fails),
        NVT_DEFAULT(test_few_msix_vectors_limit_the_queue_count),
        NVT_DEFAULT(test_interrupt_coalescing_is_configurable),
        NVT_DEFAULT(test_admin_interrupt_delivers_events_without_polling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
