/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "test_nvme_fixture.h"

const struct nvt_param nvt_p512_d8_translate = {9, 8, SIM_MAP_TRANSLATE};
const struct nvt_param nvt_p512_d64_bounce = {9, 64, SIM_MAP_BOUNCE};
const struct nvt_param nvt_p4k_d8_bounce = {12, 8, SIM_MAP_BOUNCE};
const struct nvt_param nvt_p4k_d64_translate = {12, 64, SIM_MAP_TRANSLATE};
const struct nvt_param nvt_p512_d2_translate = {9, 2, SIM_MAP_TRANSLATE};

void nvt_init(struct nvt *t, const struct nvt_param *p)
{
    memset(t, 0, sizeof(*t));
    t->p = p != NULL ? p : &nvt_p512_d64_bounce;
    t->s = sim_create(16u << 20);
    assert_non_null(t->s);
    t->s->map_mode = (enum sim_map_mode)t->p->map_mode;
    t->s->tick_us = 4; /* every clock read moves 4 us: long virtual waits cost fewer spins */
    nvme_model_cfg_default(&t->mc);
    t->mc.bar0_addr = NVT_BAR0;
    t->mc.ns[0].flbas = t->p->lba_shift == 12 ? 2 : 0;
    t->cfg.pci = t->mc.pci;
    t->cfg.index = 0;
    t->cfg.io_queues = 2;
    t->cfg.queue_depth = t->p->depth;
    t->cfg.irq_mode = KEEL_NVME_IRQ_POLL;
    t->cfg.admin_timeout_us = 250000; /* keeps escalation (abort wait) short in virtual time */
    t->c = calloc(1, sizeof(*t->c));
    assert_non_null(t->c);
}

void nvt_init_state(struct nvt *t, void **state)
{
    nvt_init(t, (const struct nvt_param *)*state);
}

void nvt_model(struct nvt *t)
{
    if (t->m == NULL) {
        t->m = nvme_model_create(t->s, &t->mc);
        assert_non_null(t->m);
    }
}

int nvt_attach(struct nvt *t)
{
    int rc;

    nvt_model(t);
    rc = keel_nvme_attach(t->c, &t->s->hal, &t->cfg);
    t->attached = rc == KEEL_OK;
    if (rc == KEEL_OK) {
        struct keel_nvme_ns *ns = keel_nvme_ns_find(t->c, 1);
        t->bd = ns != NULL ? keel_nvme_ns_blkdev(ns) : NULL;
    }
    return rc;
}

void nvt_up(struct nvt *t)
{
    assert_int_equal(nvt_attach(t), KEEL_OK);
    assert_non_null(t->bd);
}

void nvt_free(struct nvt *t)
{
    if (t->m != NULL)
        nvme_model_destroy(t->m);
    sim_destroy(t->s);
    free(t->c);
    memset(t, 0, sizeof(*t));
}

void nvt_done(struct nvt *t)
{
    if (t->m != NULL)
        nvme_model_set_mode(t->m, NVME_MODEL_IMMEDIATE, 0);
    if (t->attached)
        (void)keel_nvme_detach(t->c);
    sim_assert_clean(t->s);
    nvt_free(t);
}

void nvt_pattern(void *buf, size_t len, uint32_t seed)
{
    uint8_t *p = buf;
    uint32_t x = seed * 2654435761u + 12345u;
    size_t i;

    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)((x >> 16) ^ i);
    }
}

uint8_t *nvt_media(struct nvt *t, uint32_t nsid, uint64_t lba)
{
    uint64_t bytes = 0;
    uint8_t *m = nvme_model_media(t->m, nsid, &bytes);

    assert_non_null(m);
    return m + lba * nvt_bs(t);
}

uint32_t nvt_bs(const struct nvt *t)
{
    return 1u << t->p->lba_shift;
}

static void req_done(struct keel_blk_req *r)
{
    struct nvt_req *q = (struct nvt_req *)r;
    uint16_t cmd = 0;
    uint32_t v = 0;

    q->done_count++;
    q->status = r->status;
    q->cc_at_done = nvme_model_cc(q->t->m);
    if (q->t->s->hal.ops->pci_cfg_read(q->t->s->hal.ctx, q->t->mc.pci, 4, 2, &v) == 0)
        cmd = (uint16_t)v;
    q->pci_cmd_at_done = cmd;
}

void nvt_req_init(struct nvt *t, struct nvt_req *q, uint8_t op, uint64_t lba, uint32_t count,
                  void *buf)
{
    memset(q, 0, sizeof(*q));
    q->t = t;
    q->r.op = op;
    q->r.lba = lba;
    q->r.count = count;
    q->r.buf = buf;
    q->r.timeout_us = NVT_TIMEOUT_US;
    q->r.done = req_done;
    q->status = 1; /* not a KEEL code: "not done" */
}

void nvt_poll_until(struct nvt *t, unsigned queue, struct nvt_req *reqs, unsigned n,
                    uint64_t max_us)
{
    uint64_t end = t->s->now_us + max_us;
    unsigned i;

    for (;;) {
        bool all = true;
        for (i = 0; i < n; i++)
            all = all && reqs[i].done_count > 0;
        if (all)
            return;
        assert_true(t->s->now_us < end);
        (void)keel_blk_poll(t->bd, queue, 0);
        sim_advance(t->s, 10);
    }
}
