/* SPDX-License-Identifier: MIT */
/* edu.c - minimal driver for QEMU's edu device (see edu.h). */
#include <keel/error.h>
#include <keel/pci.h>
#include <keel/wait.h>

#include "edu.h"

#define EDU_ID              0x00
#define EDU_LIVENESS        0x04
#define EDU_IRQ_STATUS      0x24
#define EDU_IRQ_RAISE       0x60
#define EDU_IRQ_ACK         0x64
#define EDU_DMA_SRC         0x80
#define EDU_DMA_DST         0x88
#define EDU_DMA_COUNT       0x90
#define EDU_DMA_CMD         0x98
#define EDU_DMA_START       0x1u
#define EDU_DMA_FROM_DEVICE 0x2u /* edu buffer -> RAM */
#define EDU_BUF             0x40000u
#define EDU_BUF_SIZE        4096u

int edu_open(struct edu *e, const struct keel_hal *hal, struct keel_pci_addr a, uint64_t cpu_offset)
{
    int rc;

    e->hal = hal;
    e->addr = a;
    e->irqs = 0;
    rc = keel_pci_bar_region(hal, a, 0, cpu_offset, &e->regs);
    if (rc != KEEL_OK)
        return rc;
    if (e->regs.size < 0x100u)
        return KEEL_ENODEV;
    return keel_pci_enable(hal, a, KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_MASTER, 0);
}

uint32_t edu_id(const struct edu *e)
{
    return keel_region_read32(&e->regs, EDU_ID);
}

bool edu_alive(const struct edu *e)
{
    keel_region_write32(&e->regs, EDU_LIVENESS, 0x12345678u);
    return keel_region_read32(&e->regs, EDU_LIVENESS) == ~0x12345678u;
}

void edu_irq(void *arg)
{
    struct edu *e = arg;
    uint32_t st = keel_region_read32(&e->regs, EDU_IRQ_STATUS);

    /* Nothing pending: not ours. A level-triggered INTx line may be shared, and an interrupt
     * controller may deliver once more after the line went down (seen under KVM's in-kernel
     * IOAPIC); a handler must tolerate both, so such a run is counted apart. */
    if (st == 0u) {
        e->spurious = e->spurious + 1u;
        return;
    }
    /* Acknowledge before returning: INTx is level-triggered and would fire again. */
    keel_region_write32(&e->regs, EDU_IRQ_ACK, st);
    e->last_status = st;
    e->irqs = e->irqs + 1u;
}

static bool irq_seen(void *arg)
{
    const struct edu *e = arg;
    return e->irqs != 0u;
}

bool edu_raise_and_wait(struct edu *e, uint32_t status, uint64_t timeout_us)
{
    e->irqs = 0;
    keel_region_write32(&e->regs, EDU_IRQ_RAISE, status);
    return keel_wait_until(e->hal, irq_seen, e, timeout_us, 100) == KEEL_OK;
}

struct dma_wait {
    const struct edu *e;
};

static bool dma_done(void *arg)
{
    const struct dma_wait *w = arg;
    return !(keel_region_read32(&w->e->regs, EDU_DMA_CMD) & EDU_DMA_START);
}

int edu_dma(struct edu *e, keel_bus_addr_t bus, uint32_t len, bool to_device, uint64_t timeout_us)
{
    struct dma_wait w = {e};
    const struct keel_region *r = &e->regs;

    /* A 32-bit write sets the whole 64-bit register (upper half 0); the upper dwords are not
     * separately writable, so this driver reaches only the low 4 GiB of bus addresses. */
    if (len == 0u || len > EDU_BUF_SIZE || bus > 0xffffffffu - len)
        return KEEL_EINVAL;
    keel_region_write32(r, to_device ? EDU_DMA_SRC : EDU_DMA_DST, (uint32_t)bus);
    keel_region_write32(r, to_device ? EDU_DMA_DST : EDU_DMA_SRC, EDU_BUF);
    keel_region_write32(r, EDU_DMA_COUNT, len);
    keel_wmb(e->hal);
    keel_region_write32(r, EDU_DMA_CMD, EDU_DMA_START | (to_device ? 0u : EDU_DMA_FROM_DEVICE));
    return keel_wait_until(e->hal, dma_done, &w, timeout_us, 1000);
}
