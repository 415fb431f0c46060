/* SPDX-License-Identifier: MIT */
/*
 * Interrupts: one MSI-X vector per completion queue (vector 0: admin), or the INTx pin masked with
 * INTMS/INTMC while it is serviced (spec 3.1.3/3.1.4, 7.5.1), or none (pure polling; CQs created
 * with IEN = 0). Polling keeps working in every mode.
 *
 * A queue pair has one owner. When an interrupt arrives while its owner is inside submit/poll on
 * the same CPU (`busy`), the handler only marks it pending and the owner reaps on the way out, so a
 * CQ is never walked by two contexts at once.
 */
#include "nvme_priv.h"

static void io_irq(void *arg)
{
    struct keel_nvme_qpair *q = arg;

    q->stats.interrupts++;
    if (!nvme_live(q->ctrl))
        return;
    if (q->busy) {
        q->irq_pending = 1;
        return;
    }
    keel_nvme_q_enter(q);
    (void)keel_nvme_cq_reap(q, 0);
    keel_nvme_io_continue(q);
    keel_nvme_q_leave(q);
}

/* Returns false when the admin queue's holder was busy and will reap it on unlock. */
static bool admin_service_irq(struct keel_nvme_ctrl *c)
{
    if (!nvme_dev_ok(c))
        return true;
    if (c->admin_busy) {
        c->admin_irq_pending = 1;
        return false;
    }
    keel_nvme_admin_reap(c);
    if (nvme_live(c))
        keel_nvme_events_deliver(c);
    return true;
}

static void admin_irq(void *arg)
{
    struct keel_nvme_ctrl *c = arg;

    c->admin.stats.interrupts++;
    (void)admin_service_irq(c);
}

static void intx_irq(void *arg)
{
    struct keel_nvme_ctrl *c = arg;
    bool defer = false;
    unsigned i;

    c->admin.stats.interrupts++;
    if (nvme_dev_ok(c)) {
        keel_nvme_wr32(c, KEEL_NVME_REG_INTMS, 1u); /* quiet the pin while we service */
        if (!admin_service_irq(c))
            c->intx_deferred = 1; /* the lock holder unmasks after reaping */
        for (i = 0; i < c->nr_io && nvme_live(c); i++) {
            struct keel_nvme_qpair *q = &c->io[i];
            if (q->busy) {
                q->irq_pending = 1;
                defer = true;
                continue;
            }
            io_irq(q);
        }
        /* Set only now: io_irq's leave path of another queue would otherwise see the flag and
         * unmask while a busy queue's entries are still unreaped (an interrupt storm). */
        if (defer)
            c->intx_deferred = 1; /* the busy owner unmasks after reaping */
        else if (!c->intx_deferred && nvme_dev_ok(c))
            keel_nvme_wr32(c, KEEL_NVME_REG_INTMC, 1u);
    }
    c->hal->ops->irq_eoi(c->hal->ctx, c->intx_handle);
}

static int setup_msix(struct keel_nvme_ctrl *c)
{
    const struct keel_hal *hal = c->hal;
    uint32_t h;
    unsigned i;
    int rc;

    rc = keel_pci_msix_init(hal, c->cfg.pci, c->cfg.bar_cpu_offset, &c->msix);
    if (rc != KEEL_OK)
        return rc;
    if (c->msix.table_size < 2u)
        return KEEL_ENOTSUP; /* one shared vector: INTx does that as well */
    if (c->nr_io > c->msix.table_size - 1u)
        c->nr_io = (uint16_t)(c->msix.table_size - 1u);
    rc = keel_pci_msix_attach(hal, c->cfg.pci, &c->msix, 0, admin_irq, c, &h);
    if (rc != KEEL_OK)
        return rc;
    c->admin.irq_handle = h;
    c->admin.has_irq = true;
    hal->ops->irq_mask(hal->ctx, h, false);
    for (i = 0; i < c->nr_io; i++) {
        struct keel_nvme_qpair *q = &c->io[i];

        rc = keel_pci_msix_attach(hal, c->cfg.pci, &c->msix, (uint16_t)(i + 1u), io_irq, q, &h);
        if (rc != KEEL_OK)
            return rc;
        q->irq_handle = h;
        q->has_irq = true;
        q->vector = (uint16_t)(i + 1u);
        hal->ops->irq_mask(hal->ctx, h, false);
    }
    rc = keel_pci_msix_enable(hal, c->cfg.pci, &c->msix, true);
    if (rc != KEEL_OK)
        return rc;
    c->msix_on = true;
    return KEEL_OK;
}

static int setup_intx(struct keel_nvme_ctrl *c)
{
    const struct keel_hal *hal = c->hal;
    struct keel_irq_src src = {0};
    int rc;

    if (c->int_pin < 1u || c->int_pin > 4u)
        return KEEL_ENOTSUP;
    src.kind = KEEL_IRQ_PCI_INTX;
    src.pci = c->cfg.pci;
    src.index = c->int_pin;
    src.flags = KEEL_IRQ_F_LEVEL;
    rc = hal->ops->irq_attach(hal->ctx, &src, intx_irq, c, &c->intx_handle);
    if (rc != KEEL_OK)
        return rc;
    c->intx_attached = true;
    (void)keel_pci_enable(hal, c->cfg.pci, 0, KEEL_PCI_CMD_INTX_DISABLE);
    hal->ops->irq_mask(hal->ctx, c->intx_handle, false);
    return KEEL_OK;
}

int keel_nvme_irq_setup(struct keel_nvme_ctrl *c)
{
    uint8_t mode = c->cfg.irq_mode;
    int rc;

    if (c->hal->ops->irq_attach == NULL) {
        if (mode == KEEL_NVME_IRQ_MSIX || mode == KEEL_NVME_IRQ_INTX)
            return KEEL_ENOTSUP;
        mode = KEEL_NVME_IRQ_POLL;
    }
    if (mode == KEEL_NVME_IRQ_AUTO || mode == KEEL_NVME_IRQ_MSIX) {
        rc = setup_msix(c);
        if (rc == KEEL_OK) {
            c->irq_mode = KEEL_NVME_IRQ_MSIX;
            return KEEL_OK;
        }
        keel_nvme_irq_teardown(c);
        if (mode == KEEL_NVME_IRQ_MSIX)
            return rc;
        mode = KEEL_NVME_IRQ_INTX;
    }
    if (mode == KEEL_NVME_IRQ_INTX) {
        rc = setup_intx(c);
        if (rc == KEEL_OK) {
            c->irq_mode = KEEL_NVME_IRQ_INTX;
            return KEEL_OK;
        }
        if (c->cfg.irq_mode == KEEL_NVME_IRQ_INTX)
            return rc;
    }
    c->irq_mode = KEEL_NVME_IRQ_POLL;
    return KEEL_OK;
}

void keel_nvme_irq_teardown(struct keel_nvme_ctrl *c)
{
    const struct keel_hal *hal = c->hal;
    unsigned i;

    if (c->msix_on) {
        (void)keel_pci_msix_enable(hal, c->cfg.pci, &c->msix, false);
        c->msix_on = false;
    }
    if (c->admin.has_irq) {
        hal->ops->irq_detach(hal->ctx, c->admin.irq_handle);
        c->admin.has_irq = false;
    }
    for (i = 0; i < KEEL_CONFIG_NVME_MAX_IO_QUEUES; i++) {
        if (c->io[i].has_irq) {
            hal->ops->irq_detach(hal->ctx, c->io[i].irq_handle);
            c->io[i].has_irq = false;
        }
    }
    if (c->intx_attached) {
        hal->ops->irq_detach(hal->ctx, c->intx_handle);
        c->intx_attached = false;
    }
}

uint32_t keel_nvme_irq_cq_flags(const struct keel_nvme_ctrl *c, unsigned i)
{
    switch (c->irq_mode) {
    case KEEL_NVME_IRQ_MSIX:
        return ((uint32_t)(i + 1u) << 16) | KEEL_NVME_CQ_IEN;
    case KEEL_NVME_IRQ_INTX:
        return KEEL_NVME_CQ_IEN; /* vector 0: the pin */
    default:
        return 0;
    }
}
