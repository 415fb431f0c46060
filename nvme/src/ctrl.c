/* SPDX-License-Identifier: MIT */
/*
 * Controller bring-up as a steppable state machine (spec 7.6.1 "Initialization"), register access,
 * the disable handshake and DMA memory. Every step either advances, asks to be called again
 * (KEEL_EAGAIN) or fails; nothing in a step blocks, so a caller can interleave other work, and a
 * test can stop between any two steps. keel_nvme_attach() and the reset path drive the same steps
 * with a short delay when a step is waiting.
 *
 * Deadlines: CSTS.RDY transitions wait CAP.TO x 500 ms, never less than
 * KEEL_CONFIG_NVME_READY_TIMEOUT_MIN_US (CAP.TO = 0 is not "no wait"); admin commands wait the
 * admin timeout. All times are microseconds from the HAL clock.
 */
#include "nvme_priv.h"

#include <keel/endian.h>

/* ---- registers ----------------------------------------------------------------------------- */

uint32_t keel_nvme_rd32(const struct keel_nvme_ctrl *c, uint32_t off)
{
    return keel_mmio_read32(c->hal, c->regs + off);
}

void keel_nvme_wr32(const struct keel_nvme_ctrl *c, uint32_t off, uint32_t v)
{
    keel_mmio_write32(c->hal, c->regs + off, v);
}

bool keel_nvme_csts_gone(uint32_t csts)
{
    return csts == 0xffffffffu;
}

/* CSTS, read again once when it reads all-ones: a single glitch is not a removal. */
uint32_t keel_nvme_csts(struct keel_nvme_ctrl *c)
{
    uint32_t v = keel_nvme_rd32(c, KEEL_NVME_REG_CSTS);

    if (keel_nvme_csts_gone(v))
        v = keel_nvme_rd32(c, KEEL_NVME_REG_CSTS);
    return v;
}

void keel_nvme_bus_master(struct keel_nvme_ctrl *c, bool on)
{
    (void)keel_pci_enable(c->hal, c->cfg.pci, on ? KEEL_PCI_CMD_MASTER : 0u,
                          on ? 0u : KEEL_PCI_CMD_MASTER);
    c->bme_on = on;
}

int keel_nvme_disable(struct keel_nvme_ctrl *c)
{
    struct keel_deadline d;
    uint32_t cc = keel_nvme_rd32(c, KEEL_NVME_REG_CC), csts;

    if (keel_nvme_csts_gone(cc) && keel_nvme_csts_gone(keel_nvme_csts(c)))
        return KEEL_ENODEV;
    if (cc & KEEL_NVME_CC_EN)
        keel_nvme_wr32(c, KEEL_NVME_REG_CC, cc & ~(KEEL_NVME_CC_EN | KEEL_NVME_CC_SHN_MASK));
    d = keel_deadline_in(c->hal, c->ready_timeout_us);
    for (;;) {
        csts = keel_nvme_csts(c);
        if (keel_nvme_csts_gone(csts))
            return KEEL_ENODEV;
        if (!(csts & KEEL_NVME_CSTS_RDY))
            return KEEL_OK;
        if (keel_deadline_passed(c->hal, d))
            break;
        keel_delay_us(c->hal, KEEL_CONFIG_NVME_POLL_INTERVAL_US);
    }
    /* It will not stop: cut its access to memory before anything is freed or completed. */
    KEEL_LOGE(c->hal, "nvme%u: controller did not disable; bus mastering off",
              (unsigned)c->cfg.index);
    keel_nvme_bus_master(c, false);
    return KEEL_ETIMEDOUT;
}

/* ---- DMA memory ---------------------------------------------------------------------------- */

int keel_nvme_dma_alloc(struct keel_nvme_ctrl *c, size_t size, struct keel_dma_mem *out)
{
    size_t align = (size_t)1 << c->page_shift;
    int rc = c->hal->ops->dma_alloc(c->hal->ctx, size, align, out);

    if (rc != KEEL_OK)
        return rc;
    if ((out->bus & (align - 1u)) != 0u) {
        /* Queues and PRP list pages must be page aligned; this HAL cannot give that. */
        c->hal->ops->dma_free(c->hal->ctx, out);
        keel_memset(out, 0, sizeof(*out));
        return KEEL_ENOTSUP;
    }
    return KEEL_OK;
}

static void dma_free(struct keel_nvme_ctrl *c, struct keel_dma_mem *m)
{
    if (m->cpu != NULL)
        c->hal->ops->dma_free(c->hal->ctx, m);
    keel_memset(m, 0, sizeof(*m));
}

void keel_nvme_free_dma(struct keel_nvme_ctrl *c)
{
    unsigned i;

    for (i = 0; i < KEEL_CONFIG_NVME_MAX_IO_QUEUES; i++) {
        dma_free(c, &c->io[i].sq_mem);
        dma_free(c, &c->io[i].cq_mem);
        dma_free(c, &c->io[i].prp_mem);
        dma_free(c, &c->io[i].bounce_mem);
        c->io[i].created = false;
    }
    dma_free(c, &c->admin.sq_mem);
    dma_free(c, &c->admin.cq_mem);
    dma_free(c, &c->admin.prp_mem);
    dma_free(c, &c->buf_mem);
    dma_free(c, &c->aer_mem);
    c->alloc_done = false;
}

static int alloc_qpair_mem(struct keel_nvme_ctrl *c, struct keel_nvme_qpair *q, uint16_t entries,
                           uint16_t prp_pages, uint32_t bounce)
{
    int rc = keel_nvme_dma_alloc(c, (size_t)entries << KEEL_NVME_SQES_SHIFT, &q->sq_mem);

    if (rc == KEEL_OK)
        rc = keel_nvme_dma_alloc(c, (size_t)entries << KEEL_NVME_CQES_SHIFT, &q->cq_mem);
    if (rc == KEEL_OK && prp_pages != 0u)
        rc = keel_nvme_dma_alloc(c, (size_t)prp_pages << c->page_shift, &q->prp_mem);
    if (rc == KEEL_OK && bounce != 0u)
        rc = keel_nvme_dma_alloc(c, bounce, &q->bounce_mem);
    q->bounce_bytes = rc == KEEL_OK ? bounce : 0u;
    return rc;
}

/* ---- steps --------------------------------------------------------------------------------- */

static void goto_state(struct keel_nvme_ctrl *c, enum keel_nvme_init_state s)
{
    c->init.state = (uint8_t)s;
    c->init.issued = false;
}

/* Run an admin command for a step: KEEL_EAGAIN while in flight, then its completion's error. */
static int init_admin(struct keel_nvme_ctrl *c, const struct keel_nvme_sqe *cmd,
                      const struct nvme_xfer *x)
{
    struct keel_nvme_init *in = &c->init;
    uintptr_t st;
    int rc;

    if (!in->issued) {
        if (++in->cmds > NVME_INIT_CMD_BUDGET) {
            KEEL_LOGE(c->hal, "nvme%u: bring-up exceeded its budget of %u admin commands",
                      (unsigned)c->cfg.index, (unsigned)NVME_INIT_CMD_BUDGET);
            return KEEL_EPROTO;
        }
        keel_memset((void *)&in->wait, 0, sizeof(in->wait));
        st = keel_nvme_admin_lock(c);
        rc =
            keel_nvme_admin_submit(c, cmd, x, NVME_KIND_WAIT, &in->wait, c->admin_timeout_us, NULL);
        keel_nvme_admin_unlock(c, st);
        if (rc != KEEL_OK)
            return rc;
        in->issued = true;
        in->deadline = keel_deadline_in(c->hal, c->admin_timeout_us);
    }
    keel_nvme_admin_reap(c);
    if (in->wait.done) {
        in->issued = false;
        return in->wait.err;
    }
    if (keel_deadline_passed(c->hal, in->deadline)) {
        uint32_t csts = keel_nvme_csts(c);
        if (keel_nvme_csts_gone(csts))
            return KEEL_ENODEV;
        return (csts & KEEL_NVME_CSTS_CFS) ? KEEL_EIO : KEEL_ETIMEDOUT;
    }
    return KEEL_EAGAIN;
}

/*
 * The error of a step's completed command. Success is SCT 0 / SC 0 whatever CRD, More and DNR say
 * (CQE Status Field): testing the whole status field for zero and then mapping it let a success
 * carrying those bits return KEEL_OK without the step advancing, and the step reissued its command
 * forever.
 */
static int init_status(const struct keel_nvme_ctrl *c)
{
    return keel_nvme_status_to_err(c->init.wait.status);
}

static int choose_page_shift(struct keel_nvme_ctrl *c)
{
    uint32_t min = 12u + KEEL_NVME_CAP_MPSMIN(c->cap), max = 12u + KEEL_NVME_CAP_MPSMAX(c->cap);
    uint32_t shift = 12u; /* 4 KiB: what every host page and every HAL alignment supports */

    if (shift < min)
        shift = min;
    if (shift > max || shift > 16u)
        return KEEL_ENOTSUP;
    c->page_shift = (uint8_t)shift;
    return KEEL_OK;
}

static int step_read_cap(struct keel_nvme_ctrl *c)
{
    uint32_t cc, csts, to_us;
    int rc;

    /* An all-ones half cannot be valid (reserved bits are zero): read again once, then give up. */
    c->cap = keel_mmio_read64_lohi(c->hal, c->regs + KEEL_NVME_REG_CAP);
    if ((uint32_t)c->cap == UINT32_MAX || (uint32_t)(c->cap >> 32) == UINT32_MAX)
        c->cap = keel_mmio_read64_lohi(c->hal, c->regs + KEEL_NVME_REG_CAP);
    if ((uint32_t)c->cap == UINT32_MAX || (uint32_t)(c->cap >> 32) == UINT32_MAX)
        return KEEL_ENODEV;
    c->vs = keel_nvme_rd32(c, KEEL_NVME_REG_VS);
    if (KEEL_NVME_CAP_MQES(c->cap) == 0u)
        return KEEL_EPROTO; /* 3.1.1: MQES 0 (one entry) is invalid */
    if (!(KEEL_NVME_CAP_CSS(c->cap) & KEEL_NVME_CAP_CSS_NVM))
        return KEEL_ENOTSUP;
    rc = choose_page_shift(c);
    if (rc != KEEL_OK)
        return rc;
    to_us = KEEL_NVME_CAP_TO(c->cap) * 500000u;
    c->ready_timeout_us = to_us > KEEL_CONFIG_NVME_READY_TIMEOUT_MIN_US
                              ? to_us
                              : KEEL_CONFIG_NVME_READY_TIMEOUT_MIN_US;
    c->db_stride = 4u << KEEL_NVME_CAP_DSTRD(c->cap);
    if (c->regs_size < KEEL_NVME_REG_DBS + 2u * c->db_stride)
        return KEEL_ENODEV; /* BAR too small for even the admin doorbells */
    cc = keel_nvme_rd32(c, KEEL_NVME_REG_CC);
    csts = keel_nvme_csts(c);
    if (keel_nvme_csts_gone(csts))
        return KEEL_ENODEV;
    if (cc & KEEL_NVME_CC_EN) /* firmware left it running: disable first (7.6.1 step 1) */
        keel_nvme_wr32(c, KEEL_NVME_REG_CC, cc & ~(KEEL_NVME_CC_EN | KEEL_NVME_CC_SHN_MASK));
    c->init.deadline = keel_deadline_in(c->hal, c->ready_timeout_us);
    goto_state(c, KEEL_NVME_INIT_WAIT_DISABLE);
    return KEEL_OK;
}

static int step_wait_disable(struct keel_nvme_ctrl *c)
{
    uint32_t csts = keel_nvme_csts(c);

    if (keel_nvme_csts_gone(csts))
        return KEEL_ENODEV;
    if (!(csts & KEEL_NVME_CSTS_RDY)) {
        goto_state(c, c->alloc_done ? KEEL_NVME_INIT_ENABLE : KEEL_NVME_INIT_ALLOC);
        return KEEL_OK;
    }
    return keel_deadline_passed(c->hal, c->init.deadline) ? KEEL_ETIMEDOUT : KEEL_EAGAIN;
}

static int step_alloc(struct keel_nvme_ctrl *c)
{
    uint32_t entries = KEEL_CONFIG_NVME_ADMIN_QUEUE_DEPTH; /* AQA allows 2..4096, MQES is I/O */
    int rc;

    c->admin.entries = (uint16_t)entries;
    rc = alloc_qpair_mem(c, &c->admin, (uint16_t)entries, KEEL_CONFIG_NVME_ADMIN_PRP_POOL_PAGES, 0);
    if (rc == KEEL_OK)
        rc = keel_nvme_dma_alloc(c, KEEL_NVME_IDENTIFY_SIZE, &c->buf_mem);
    if (rc == KEEL_OK)
        rc = keel_nvme_dma_alloc(c, KEEL_NVME_IDENTIFY_SIZE, &c->aer_mem);
    if (rc != KEEL_OK)
        return rc;
    c->alloc_done = true;
    goto_state(c, KEEL_NVME_INIT_ENABLE);
    return KEEL_OK;
}

static int step_enable(struct keel_nvme_ctrl *c)
{
    struct keel_nvme_qpair *q = &c->admin;
    uint32_t cc;

    keel_nvme_qpair_setup(c, q, 0, q->entries, c->admin_slots, c->admin_free,
                          KEEL_CONFIG_NVME_ADMIN_PRP_POOL_PAGES);
    keel_nvme_wr32(c, KEEL_NVME_REG_AQA,
                   ((uint32_t)(q->entries - 1u) << 16) | (uint32_t)(q->entries - 1u));
    keel_mmio_write64_lohi(c->hal, c->regs + KEEL_NVME_REG_ASQ, q->sq_mem.bus);
    keel_mmio_write64_lohi(c->hal, c->regs + KEEL_NVME_REG_ACQ, q->cq_mem.bus);
    cc = KEEL_NVME_CC_CSS_NVM | KEEL_NVME_CC_MPS(c->page_shift) | KEEL_NVME_CC_AMS_RR |
         KEEL_NVME_CC_IOSQES(KEEL_NVME_SQES_SHIFT) | KEEL_NVME_CC_IOCQES(KEEL_NVME_CQES_SHIFT);
    keel_nvme_wr32(c, KEEL_NVME_REG_CC, cc);
    keel_wmb(c->hal);
    keel_nvme_wr32(c, KEEL_NVME_REG_CC, cc | KEEL_NVME_CC_EN);
    c->init.deadline = keel_deadline_in(c->hal, c->ready_timeout_us);
    goto_state(c, KEEL_NVME_INIT_WAIT_READY);
    return KEEL_OK;
}

static int step_wait_ready(struct keel_nvme_ctrl *c)
{
    uint32_t csts = keel_nvme_csts(c);

    if (keel_nvme_csts_gone(csts))
        return KEEL_ENODEV;
    if (csts & KEEL_NVME_CSTS_CFS)
        return KEEL_EIO; /* fatal status while enabling */
    if (csts & KEEL_NVME_CSTS_RDY) {
        goto_state(c, c->init.reset ? KEEL_NVME_INIT_SET_QUEUES : KEEL_NVME_INIT_IDENTIFY_CTRL);
        return KEEL_OK;
    }
    return keel_deadline_passed(c->hal, c->init.deadline) ? KEEL_ETIMEDOUT : KEEL_EAGAIN;
}

/* Bytes one command may carry: MDTS (units of CAP.MPSMIN), PRP lists, HAL segments, NLB. */
static void compute_cmd_max(struct keel_nvme_ctrl *c)
{
    uint32_t shift = 12u + KEEL_NVME_CAP_MPSMIN(c->cap) + c->mdts;
    uint64_t per_list = (1u << (c->page_shift - 3u)) - 1u;
    uint64_t prp_pages = per_list * KEEL_CONFIG_NVME_PRP_PAGES_PER_CMD + 2u;
    uint64_t max = (uint64_t)(KEEL_CONFIG_NVME_MAX_CMD_PAGES - 1u) << c->page_shift;

    /* One page is lost to a buffer's offset in its first page. */
    if (((prp_pages - 1u) << c->page_shift) < max)
        max = (prp_pages - 1u) << c->page_shift;
    if (c->mdts != 0u && shift < 32u && (1ull << shift) < max)
        max = 1ull << shift;
    if (max > 0x80000000u)
        max = 0x80000000u;
    c->cmd_max_bytes = (uint32_t)max;
}

static int step_identify_ctrl(struct keel_nvme_ctrl *c)
{
    const uint8_t *id = c->buf_mem.cpu;
    struct keel_nvme_sqe cmd;
    struct nvme_xfer x = {0};
    uint8_t sqes, cqes;
    int rc;

    keel_nvme_cmd_identify(&cmd, KEEL_NVME_CNS_CTRL, 0);
    x.bus = c->buf_mem.bus;
    x.len = KEEL_NVME_IDENTIFY_SIZE;
    rc = init_admin(c, &cmd, &x);
    if (rc != KEEL_OK)
        return rc;
    rc = init_status(c);
    if (rc != KEEL_OK)
        return rc;
    keel_nvme_parse_identify_ctrl(c, id);
    sqes = id[KEEL_NVME_IDC_SQES];
    cqes = id[KEEL_NVME_IDC_CQES];
    /* 64/16-byte entries must be within the reported ranges (0 fields: pre-1.0 leniency). */
    if ((sqes & 0xfu) > KEEL_NVME_SQES_SHIFT || (cqes & 0xfu) > KEEL_NVME_CQES_SHIFT ||
        ((sqes >> 4) != 0u && (sqes >> 4) < KEEL_NVME_SQES_SHIFT) ||
        ((cqes >> 4) != 0u && (cqes >> 4) < KEEL_NVME_CQES_SHIFT))
        return KEEL_ENOTSUP;
    compute_cmd_max(c);
    goto_state(c, KEEL_NVME_INIT_SET_QUEUES);
    return KEEL_OK;
}

static uint16_t wanted_queues(const struct keel_nvme_ctrl *c)
{
    uint32_t n = c->cfg.io_queues != 0u ? c->cfg.io_queues : KEEL_CONFIG_NVME_MAX_IO_QUEUES;
    uint32_t fit =
        (uint32_t)((c->regs_size - KEEL_NVME_REG_DBS) >> (KEEL_NVME_CAP_DSTRD(c->cap) + 3u));

    if (n > KEEL_CONFIG_NVME_MAX_IO_QUEUES)
        n = KEEL_CONFIG_NVME_MAX_IO_QUEUES;
    if (n > KEEL_CONFIG_BLK_MAX_QUEUES)
        n = KEEL_CONFIG_BLK_MAX_QUEUES;
    if (fit != 0u && n > fit - 1u) /* doorbell pairs the BAR has room for, minus admin */
        n = fit - 1u;
    return (uint16_t)n;
}

static int step_set_queues(struct keel_nvme_ctrl *c)
{
    uint16_t want = c->init.reset ? c->nr_io : wanted_queues(c);
    uint32_t granted;
    struct keel_nvme_sqe cmd;
    int rc;

    if (want == 0u)
        return KEEL_ENODEV;
    /* 5.21.1.7: must precede queue creation; NSQR/NCQR are 0-based. */
    keel_nvme_cmd_features(&cmd, true, KEEL_NVME_FEAT_NUM_QUEUES, 0,
                           (uint32_t)(want - 1u) | ((uint32_t)(want - 1u) << 16));
    rc = init_admin(c, &cmd, NULL);
    if (rc != KEEL_OK)
        return rc;
    rc = init_status(c);
    if (rc != KEEL_OK)
        return rc;
    granted = (c->init.wait.dw0 & 0xffffu) + 1u;
    if ((c->init.wait.dw0 >> 16) + 1u < granted)
        granted = (c->init.wait.dw0 >> 16) + 1u;
    if (c->init.reset && granted < c->nr_io)
        return KEEL_EIO; /* the block devices were promised nr_io queues */
    c->nr_io = (uint16_t)(granted < want ? granted : want);
    c->init.idx = 0;
    goto_state(c, c->init.reset ? KEEL_NVME_INIT_CREATE_CQ : KEEL_NVME_INIT_SETUP_IRQ);
    return KEEL_OK;
}

static int step_setup_irq(struct keel_nvme_ctrl *c)
{
    uint32_t depth =
        c->cfg.queue_depth != 0u ? c->cfg.queue_depth : KEEL_CONFIG_NVME_IO_QUEUE_DEPTH;
    int rc = keel_nvme_irq_setup(c);

    if (rc != KEEL_OK)
        return rc;
    if (depth > KEEL_NVME_CAP_MQES(c->cap) + 1u)
        depth = KEEL_NVME_CAP_MQES(c->cap) + 1u;
    c->io_entries = (uint16_t)depth;
    goto_state(c, KEEL_NVME_INIT_CREATE_CQ);
    return KEEL_OK;
}

static int prepare_io_queue(struct keel_nvme_ctrl *c, unsigned i)
{
    struct keel_nvme_qpair *q = &c->io[i];
    int rc;

    if (q->sq_mem.cpu == NULL) {
        rc = alloc_qpair_mem(c, q, c->io_entries, KEEL_CONFIG_NVME_PRP_POOL_PAGES,
                             KEEL_CONFIG_NVME_BOUNCE_BYTES);
        if (rc != KEEL_OK)
            return rc;
    }
    if (!q->created) {
        keel_nvme_qpair_setup(c, q, (uint16_t)(i + 1u), c->io_entries, c->io_slots[i],
                              c->io_free[i], KEEL_CONFIG_NVME_PRP_POOL_PAGES);
        q->created = true;
    } else {
        keel_nvme_qpair_restart(q);
    }
    return KEEL_OK;
}

static int step_create_cq(struct keel_nvme_ctrl *c)
{
    unsigned i = c->init.idx;
    struct keel_nvme_qpair *q = &c->io[i];
    struct keel_nvme_sqe cmd = {0};
    int rc;

    if (!c->init.issued) {
        rc = prepare_io_queue(c, i);
        if (rc != KEEL_OK)
            return rc;
    }
    cmd.opc = KEEL_NVME_ADM_CREATE_CQ;
    cmd.prp1 = keel_cpu_to_le64(q->cq_mem.bus);
    cmd.cdw10 = keel_cpu_to_le32(((uint32_t)(q->entries - 1u) << 16) | q->qid);
    cmd.cdw11 = keel_cpu_to_le32(KEEL_NVME_QUEUE_PC | keel_nvme_irq_cq_flags(c, i));
    rc = init_admin(c, &cmd, NULL);
    if (rc != KEEL_OK)
        return rc;
    rc = init_status(c);
    if (rc != KEEL_OK)
        return rc;
    goto_state(c, KEEL_NVME_INIT_CREATE_SQ);
    return KEEL_OK;
}

static int step_create_sq(struct keel_nvme_ctrl *c)
{
    struct keel_nvme_qpair *q = &c->io[c->init.idx];
    struct keel_nvme_sqe cmd = {0};
    int rc;

    cmd.opc = KEEL_NVME_ADM_CREATE_SQ;
    cmd.prp1 = keel_cpu_to_le64(q->sq_mem.bus);
    cmd.cdw10 = keel_cpu_to_le32(((uint32_t)(q->entries - 1u) << 16) | q->qid);
    cmd.cdw11 = keel_cpu_to_le32(((uint32_t)q->qid << 16) | KEEL_NVME_QUEUE_PC);
    rc = init_admin(c, &cmd, NULL);
    if (rc != KEEL_OK)
        return rc;
    rc = init_status(c);
    if (rc != KEEL_OK)
        return rc;
    if (++c->init.idx < c->nr_io)
        goto_state(c, KEEL_NVME_INIT_CREATE_CQ);
    else if (c->init.reset)
        goto_state(c, KEEL_NVME_INIT_ASYNC_EVENTS);
    else
        goto_state(c, KEEL_NVME_INIT_NS_LIST);
    return KEEL_OK;
}

/* Active Namespace List (CNS 02h): ascending IDs, zero-terminated; keep the first few. */
static void take_ns_list(struct keel_nvme_ctrl *c)
{
    const uint8_t *p = c->buf_mem.cpu;
    uint32_t prev = 0, i;

    c->init.ncandidates = 0;
    for (i = 0; i < KEEL_NVME_IDENTIFY_SIZE / 4u; i++) {
        uint32_t nsid = keel_ld_le32(p + (size_t)4u * i);

        if (nsid == 0u || c->init.ncandidates == KEEL_CONFIG_NVME_MAX_NAMESPACES)
            break;
        if (nsid <= prev || nsid == 0xffffffffu)
            continue; /* not ascending: ignore rather than trust */
        c->init.candidates[c->init.ncandidates++] = nsid;
        prev = nsid;
    }
}

static int step_ns_list(struct keel_nvme_ctrl *c)
{
    struct keel_nvme_sqe cmd;
    struct nvme_xfer x = {0};
    int rc;

    c->ns_count = 0;
    c->init.idx = 0;
    c->init.scanned = 0;
    if (c->nn == 0u) {
        goto_state(c, KEEL_NVME_INIT_ASYNC_EVENTS);
        return KEEL_OK;
    }
    keel_nvme_cmd_identify(&cmd, KEEL_NVME_CNS_ACTIVE_NS_LIST, 0);
    x.bus = c->buf_mem.bus;
    x.len = KEEL_NVME_IDENTIFY_SIZE;
    rc = init_admin(c, &cmd, &x);
    if (rc != KEEL_OK)
        return rc;
    if (c->init.wait.status == 0u) {
        take_ns_list(c);
        c->init.ns_fallback = false;
    } else {
        /* Pre-1.1 controllers: probe 1..NN, bounded by KEEL_CONFIG_NVME_NS_SCAN_MAX. */
        c->init.ns_fallback = true;
        c->init.nsid = 1;
    }
    goto_state(c, KEEL_NVME_INIT_IDENTIFY_NS);
    return KEEL_OK;
}

static bool ns_scan_next(struct keel_nvme_ctrl *c, uint32_t *nsid)
{
    struct keel_nvme_init *in = &c->init;

    if (c->ns_count >= KEEL_CONFIG_NVME_MAX_NAMESPACES)
        return false;
    if (!in->ns_fallback) {
        if (in->idx >= in->ncandidates)
            return false;
        *nsid = in->candidates[in->idx];
        return true;
    }
    if (in->scanned >= KEEL_CONFIG_NVME_NS_SCAN_MAX || in->nsid > c->nn || in->nsid == 0xffffffffu)
        return false;
    *nsid = in->nsid;
    return true;
}

static int step_identify_ns(struct keel_nvme_ctrl *c)
{
    struct keel_nvme_sqe cmd;
    struct nvme_xfer x = {0};
    uint32_t nsid;
    int rc;

    if (!ns_scan_next(c, &nsid)) {
        goto_state(c, KEEL_NVME_INIT_ASYNC_EVENTS);
        return KEEL_OK;
    }
    keel_nvme_cmd_identify(&cmd, KEEL_NVME_CNS_NS, nsid);
    x.bus = c->buf_mem.bus;
    x.len = KEEL_NVME_IDENTIFY_SIZE;
    rc = init_admin(c, &cmd, &x);
    if (rc != KEEL_OK)
        return rc;
    c->init.idx++;
    c->init.nsid++;
    c->init.scanned++;
    /* An inactive namespace identifies as zeroes (NSZE 0); a failing one is skipped. */
    if (c->init.wait.status == 0u && keel_ld_le64((uint8_t *)c->buf_mem.cpu) != 0u) {
        keel_nvme_ns_parse(c, &c->ns[c->ns_count], nsid, c->buf_mem.cpu);
        c->ns_count++;
    }
    return KEEL_OK;
}

static int step_async_events(struct keel_nvme_ctrl *c)
{
    struct keel_nvme_sqe cmd;
    uintptr_t st;
    int rc;

    if (!(c->cfg.flags & KEEL_NVME_F_NO_AER)) {
        uint32_t aec = 0x1fu | (c->oaes & (KEEL_NVME_AEC_NS_ATTR | KEEL_NVME_AEC_FW_ACTIVATION));

        keel_nvme_cmd_features(&cmd, true, KEEL_NVME_FEAT_ASYNC_EVENT, 0, aec);
        rc = init_admin(c, &cmd, NULL);
        if (rc != KEEL_OK)
            return rc;
        if (c->init.wait.status != 0u)
            KEEL_LOGW(c->hal, "nvme%u: async event configuration refused (0x%x)",
                      (unsigned)c->cfg.index, (unsigned)c->init.wait.status);
        st = keel_nvme_admin_lock(c);
        c->aer_outstanding = 0;
        keel_nvme_aer_arm(c);
        keel_nvme_admin_unlock(c, st);
    }
    goto_state(c, KEEL_NVME_INIT_DONE);
    return KEEL_OK;
}

static int run_step(struct keel_nvme_ctrl *c)
{
    switch (c->init.state) {
    case KEEL_NVME_INIT_PROBE: {
        int rc = keel_nvme_pci_probe(c);
        if (rc == KEEL_OK)
            goto_state(c, KEEL_NVME_INIT_READ_CAP);
        return rc;
    }
    case KEEL_NVME_INIT_READ_CAP:
        return step_read_cap(c);
    case KEEL_NVME_INIT_WAIT_DISABLE:
        return step_wait_disable(c);
    case KEEL_NVME_INIT_ALLOC:
        return step_alloc(c);
    case KEEL_NVME_INIT_ENABLE:
        return step_enable(c);
    case KEEL_NVME_INIT_WAIT_READY:
        return step_wait_ready(c);
    case KEEL_NVME_INIT_IDENTIFY_CTRL:
        return step_identify_ctrl(c);
    case KEEL_NVME_INIT_SET_QUEUES:
        return step_set_queues(c);
    case KEEL_NVME_INIT_SETUP_IRQ:
        return step_setup_irq(c);
    case KEEL_NVME_INIT_CREATE_CQ:
        return step_create_cq(c);
    case KEEL_NVME_INIT_CREATE_SQ:
        return step_create_sq(c);
    case KEEL_NVME_INIT_NS_LIST:
        return step_ns_list(c);
    case KEEL_NVME_INIT_IDENTIFY_NS:
        return step_identify_ns(c);
    case KEEL_NVME_INIT_ASYNC_EVENTS:
        return step_async_events(c);
    default:
        return KEEL_EINVAL;
    }
}

/* First bring-up failed: leave the device disabled, return every resource. */
static void init_fail(struct keel_nvme_ctrl *c, int rc)
{
    KEEL_LOGE(c->hal, "nvme%u: bring-up failed in state %u: %d", (unsigned)c->cfg.index,
              (unsigned)c->init.state, rc);
    if (c->regs != 0u && c->bme_on && rc != KEEL_ENODEV && c->init.state > KEEL_NVME_INIT_READ_CAP)
        (void)keel_nvme_disable(c);
    c->life = KEEL_NVME_LIFE_DOWN;
    keel_nvme_reclaim_all(c, false, rc);
    keel_nvme_irq_teardown(c);
    if (c->bme_on)
        keel_nvme_bus_master(c, false);
    keel_nvme_free_dma(c);
    c->nr_io = 0;
    c->ns_count = 0;
    c->init.rc = rc;
    c->init.state = KEEL_NVME_INIT_FAILED;
}

static int step_once(struct keel_nvme_ctrl *c)
{
    int rc;

    if (c->init.state == KEEL_NVME_INIT_DONE)
        return KEEL_OK;
    if (c->init.state == KEEL_NVME_INIT_FAILED || c->init.state == KEEL_NVME_INIT_NONE)
        return c->init.state == KEEL_NVME_INIT_NONE ? KEEL_EINVAL : c->init.rc;
    rc = run_step(c);
    if (rc == KEEL_OK)
        return c->init.state == KEEL_NVME_INIT_DONE ? KEEL_OK : KEEL_EAGAIN;
    if (rc == KEEL_EAGAIN)
        return KEEL_EAGAIN;
    if (!c->init.reset)
        init_fail(c, rc);
    else
        c->init.rc = rc;
    return rc;
}

/* Drive the steps to the end: used by attach and by the reset path. */
int keel_nvme_init_run(struct keel_nvme_ctrl *c)
{
    int rc;

    for (;;) {
        uint8_t before = c->init.state;

        rc = step_once(c);
        if (rc != KEEL_EAGAIN)
            return rc;
        if (c->init.state == before)
            keel_delay_us(c->hal, KEEL_CONFIG_NVME_POLL_INTERVAL_US);
    }
}

/* ---- public -------------------------------------------------------------------------------- */

int keel_nvme_init_start(struct keel_nvme_ctrl *ctrl, const struct keel_hal *hal,
                         const struct keel_nvme_config *cfg)
{
    int rc;

    if (ctrl == NULL || hal == NULL || cfg == NULL)
        return KEEL_EINVAL;
    rc = keel_hal_check(hal);
    if (rc != KEEL_OK)
        return rc;
    if (hal->ops->pci_cfg_read == NULL || hal->ops->pci_cfg_write == NULL)
        return KEEL_ENOTSUP;
    if (cfg->irq_mode > KEEL_NVME_IRQ_INTX || cfg->io_queues > KEEL_CONFIG_NVME_MAX_IO_QUEUES ||
        cfg->queue_depth > KEEL_CONFIG_NVME_IO_QUEUE_DEPTH ||
        (cfg->queue_depth != 0u && cfg->queue_depth < 2u))
        return KEEL_EINVAL;
    keel_memset(ctrl, 0, sizeof(*ctrl));
    ctrl->hal = hal;
    ctrl->cfg = *cfg;
    ctrl->admin_timeout_us =
        cfg->admin_timeout_us != 0u ? cfg->admin_timeout_us : KEEL_CONFIG_NVME_ADMIN_TIMEOUT_US;
    ctrl->life = KEEL_NVME_LIFE_INIT;
    ctrl->init.state = KEEL_NVME_INIT_PROBE;
    return KEEL_OK;
}

int keel_nvme_init_step(struct keel_nvme_ctrl *ctrl)
{
    int rc;

    if (ctrl == NULL)
        return KEEL_EINVAL;
    rc = step_once(ctrl);
    if (rc == KEEL_OK && ctrl->life == KEEL_NVME_LIFE_INIT) {
        unsigned i;

        for (i = 0; i < ctrl->ns_count; i++)
            keel_nvme_ns_register(ctrl, &ctrl->ns[i]);
        ctrl->life = KEEL_NVME_LIFE_LIVE;
        KEEL_LOGI(ctrl->hal, "nvme%u: %s, %u I/O queue(s) x %u, %u namespace(s)",
                  (unsigned)ctrl->cfg.index, ctrl->mn, (unsigned)ctrl->nr_io,
                  (unsigned)ctrl->io_entries, (unsigned)ctrl->ns_count);
    }
    return rc;
}

enum keel_nvme_init_state keel_nvme_init_state(const struct keel_nvme_ctrl *ctrl)
{
    return ctrl != NULL ? (enum keel_nvme_init_state)ctrl->init.state : KEEL_NVME_INIT_NONE;
}

int keel_nvme_attach(struct keel_nvme_ctrl *ctrl, const struct keel_hal *hal,
                     const struct keel_nvme_config *cfg)
{
    int rc = keel_nvme_init_start(ctrl, hal, cfg);

    if (rc != KEEL_OK)
        return rc;
    for (;;) {
        uint8_t before = ctrl->init.state;

        rc = keel_nvme_init_step(ctrl);
        if (rc != KEEL_EAGAIN)
            return rc;
        if (ctrl->init.state == before)
            keel_delay_us(hal, KEEL_CONFIG_NVME_POLL_INTERVAL_US);
    }
}

enum keel_nvme_life keel_nvme_life(const struct keel_nvme_ctrl *ctrl)
{
    return ctrl != NULL ? (enum keel_nvme_life)ctrl->life : KEEL_NVME_LIFE_DOWN;
}

const struct keel_nvme_stats *keel_nvme_stats(const struct keel_nvme_ctrl *ctrl)
{
    return ctrl != NULL ? &ctrl->stats : NULL;
}

const struct keel_nvme_qstats *keel_nvme_queue_stats(const struct keel_nvme_ctrl *ctrl,
                                                     unsigned queue)
{
    if (ctrl == NULL || queue >= ctrl->nr_io)
        return NULL;
    return &ctrl->io[queue].stats;
}

unsigned keel_nvme_io_queue_count(const struct keel_nvme_ctrl *ctrl)
{
    return ctrl != NULL ? ctrl->nr_io : 0u;
}

unsigned keel_nvme_io_queue_entries(const struct keel_nvme_ctrl *ctrl)
{
    return ctrl != NULL ? ctrl->io_entries : 0u;
}
