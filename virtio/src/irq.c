/* SPDX-License-Identifier: MIT */
/*
 * Interrupts for every transport: MSI-X with a vector per queue plus one for configuration changes
 * (4.1.4.3, 4.1.5.1.2), one shared MSI-X vector, legacy INTx with the ISR read that finds and
 * acknowledges the cause (4.1.4.5), the virtio-mmio line with InterruptStatus/InterruptACK (4.2.2),
 * or none (polling). Handlers run in interrupt context: they acknowledge, count, flag device events
 * and call the callbacks the device driver registered; they never touch ring state themselves.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/pci.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>

#include "vq_internal.h"

static void run_vq(struct keel_vq *vq)
{
    if (vq == NULL)
        return;
    vq->stats.interrupts++;
    if (vq->callback != NULL)
        vq->callback(vq, vq->cb_arg);
}

static void config_event(struct keel_virtio_dev *dev)
{
    dev->events |= KEEL_VIRTIO_EV_CONFIG;
    if (dev->config_cb != NULL)
        dev->config_cb(dev, dev->config_arg);
}

/* MSI-X per queue: `arg` points at the device's slot for that queue (filled when it is created). */
void keel_virtio_irq_vq_handler(void *arg)
{
    struct keel_vq *const *slot = arg;
    struct keel_vq *vq = *slot;

    if (vq != NULL) {
        vq->dev->stats.interrupts++;
        run_vq(vq);
    }
}

void keel_virtio_irq_config_handler(void *arg)
{
    struct keel_virtio_dev *dev = arg;

    dev->stats.interrupts++;
    config_event(dev);
}

/* INTx / MMIO line / a single shared MSI-X vector. */
void keel_virtio_irq_shared_handler(void *arg)
{
    struct keel_virtio_dev *dev = arg;
    uint32_t cause;
    uint16_t i;

    dev->stats.interrupts++;
    if (dev->irq_mode == KEEL_VIRTIO_IRQ_MSIX_SHARED) {
        /* No ISR with MSI-X: every queue may have work; config changes show in the generation. */
        cause = KEEL_VIRTIO_ISR_QUEUE;
        dev->events |= KEEL_VIRTIO_EV_RECHECK;
    } else {
        cause = dev->tops->isr(dev);
        if (cause == 0u)
            dev->stats.spurious++; /* a shared line raised by someone else */
    }
    if (cause & KEEL_VIRTIO_ISR_QUEUE)
        for (i = 0; i < KEEL_CONFIG_VIRTIO_MAX_QUEUES; i++)
            run_vq(dev->vqs[i]);
    if (cause & KEEL_VIRTIO_ISR_CONFIG)
        config_event(dev);
    if (dev->irq_level && dev->hal->ops->irq_eoi != NULL)
        dev->hal->ops->irq_eoi(dev->hal->ctx, dev->irq_handle[0]);
}

uint16_t keel_virtio_queue_vector(const struct keel_virtio_dev *dev, uint16_t index)
{
    if (dev->irq_mode == KEEL_VIRTIO_IRQ_MSIX_PER_VQ)
        return (uint16_t)(index + 1u);
    if (dev->irq_mode == KEEL_VIRTIO_IRQ_MSIX_SHARED)
        return 0;
    return KEEL_VIRTIO_MSI_NO_VECTOR;
}

static int attach_msix(struct keel_virtio_dev *dev, uint16_t vec, keel_irq_fn fn, void *arg)
{
    int rc = keel_pci_msix_attach(dev->hal, dev->pci_addr, &dev->msix, vec, fn, arg,
                                  &dev->irq_handle[dev->irq_count]);
    if (rc == KEEL_OK)
        dev->irq_count++;
    return rc;
}

static int setup_msix(struct keel_virtio_dev *dev, bool per_vq, uint16_t nvqs)
{
    uint16_t i;
    int rc;

    dev->irq_mode = per_vq ? KEEL_VIRTIO_IRQ_MSIX_PER_VQ : KEEL_VIRTIO_IRQ_MSIX_SHARED;
    if (per_vq) {
        rc = attach_msix(dev, 0, keel_virtio_irq_config_handler, dev);
        for (i = 0; rc == KEEL_OK && i < nvqs; i++)
            rc = attach_msix(dev, (uint16_t)(i + 1u), keel_virtio_irq_vq_handler, &dev->vqs[i]);
    } else {
        rc = attach_msix(dev, 0, keel_virtio_irq_shared_handler, dev);
    }
    if (rc == KEEL_OK)
        rc = keel_pci_msix_enable(dev->hal, dev->pci_addr, &dev->msix, true);
    if (rc == KEEL_OK && dev->tops->set_config_vector(dev, 0) != 0u)
        rc = KEEL_ENOSPC; /* the device could not take the vector (4.1.5.1.2.1) */
    if (rc != KEEL_OK)
        keel_virtio_irq_teardown(dev);
    return rc;
}

static int setup_line(struct keel_virtio_dev *dev)
{
    struct keel_irq_src src = {0};
    int rc;

    if (dev->transport == KEEL_VIRTIO_T_MMIO || dev->transport == KEEL_VIRTIO_T_MMIO_LEGACY) {
        src.kind = KEEL_IRQ_LINE;
        src.index = dev->t.mmio.irq_line;
        dev->irq_mode = KEEL_VIRTIO_IRQ_LINE;
    } else {
        uint8_t pin = keel_pci_read8(dev->hal, dev->pci_addr, KEEL_PCI_INT_PIN);
        if (pin == 0u || pin > 4u)
            return KEEL_ENOTSUP;
        src.kind = KEEL_IRQ_PCI_INTX;
        src.pci = dev->pci_addr;
        src.index = pin;
        src.flags = KEEL_IRQ_F_LEVEL;
        dev->irq_mode = KEEL_VIRTIO_IRQ_INTX;
        (void)keel_pci_enable(dev->hal, dev->pci_addr, 0, KEEL_PCI_CMD_INTX_DISABLE);
    }
    dev->irq_level = (src.flags & KEEL_IRQ_F_LEVEL) != 0u;
    rc = dev->hal->ops->irq_attach(dev->hal->ctx, &src, keel_virtio_irq_shared_handler, dev,
                                   &dev->irq_handle[0]);
    if (rc != KEEL_OK) {
        dev->irq_mode = KEEL_VIRTIO_IRQ_POLL;
        return rc;
    }
    dev->irq_count = 1;
    return KEEL_OK;
}

int keel_virtio_irq_setup(struct keel_virtio_dev *dev, enum keel_virtio_irq_mode mode,
                          uint16_t nvqs, keel_virtio_config_fn config_cb, void *config_arg)
{
    bool pci_msix;
    int rc;

    if (dev == NULL || nvqs > KEEL_CONFIG_VIRTIO_MAX_QUEUES)
        return KEEL_EINVAL;
    dev->config_cb = config_cb;
    dev->config_arg = config_arg;
    dev->irq_mode = KEEL_VIRTIO_IRQ_POLL;
    dev->irq_count = 0;
    if (mode == KEEL_VIRTIO_IRQ_POLL || dev->hal->ops->irq_attach == NULL)
        return KEEL_OK;
    pci_msix = dev->transport == KEEL_VIRTIO_T_PCI_MODERN && dev->has_msix &&
               dev->tops->set_config_vector != NULL;
    if (pci_msix && (mode == KEEL_VIRTIO_IRQ_AUTO || mode == KEEL_VIRTIO_IRQ_MSIX_PER_VQ) &&
        dev->msix.table_size > nvqs) {
        rc = setup_msix(dev, true, nvqs);
        if (rc == KEEL_OK || mode == KEEL_VIRTIO_IRQ_MSIX_PER_VQ)
            return rc;
    }
    if (pci_msix && (mode == KEEL_VIRTIO_IRQ_AUTO || mode == KEEL_VIRTIO_IRQ_MSIX_SHARED)) {
        rc = setup_msix(dev, false, nvqs);
        if (rc == KEEL_OK || mode == KEEL_VIRTIO_IRQ_MSIX_SHARED)
            return rc;
    }
    if (mode == KEEL_VIRTIO_IRQ_MSIX_PER_VQ || mode == KEEL_VIRTIO_IRQ_MSIX_SHARED)
        return KEEL_ENOTSUP;
    rc = setup_line(dev);
    if (rc != KEEL_OK && mode == KEEL_VIRTIO_IRQ_AUTO) {
        KEEL_LOGW(dev->hal, "virtio: no interrupt (%d), polling", rc);
        return KEEL_OK;
    }
    return rc;
}

void keel_virtio_irq_teardown(struct keel_virtio_dev *dev)
{
    uint16_t i;

    if (dev->irq_mode == KEEL_VIRTIO_IRQ_MSIX_PER_VQ ||
        dev->irq_mode == KEEL_VIRTIO_IRQ_MSIX_SHARED) {
        for (i = 0; i < dev->irq_count; i++)
            (void)keel_pci_msix_detach(dev->hal, &dev->msix, i, dev->irq_handle[i]);
        (void)keel_pci_msix_enable(dev->hal, dev->pci_addr, &dev->msix, false);
    } else {
        for (i = 0; i < dev->irq_count; i++)
            dev->hal->ops->irq_detach(dev->hal->ctx, dev->irq_handle[i]);
    }
    dev->irq_count = 0;
    dev->irq_mode = KEEL_VIRTIO_IRQ_POLL;
}
