/* SPDX-License-Identifier: MIT */
/*
 * edu.h - QEMU's "edu" teaching device (1234:11e8), used by portcheck to prove a port's interrupt
 * and DMA plumbing end to end without any storage driver: it raises INTx or MSI on request and
 * copies between RAM and its 4 KiB buffer by bus-master DMA. Register map: QEMU docs/specs/edu.rst.
 */
#ifndef KEEL_EXAMPLE_EDU_H
#define KEEL_EXAMPLE_EDU_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/region.h>

#define EDU_VENDOR 0x1234u
#define EDU_DEVICE 0x11e8u

struct edu {
    const struct keel_hal *hal;
    struct keel_pci_addr addr;
    struct keel_region regs;
    volatile uint32_t irqs;     /* handler runs that found an interrupt of the edu's pending */
    volatile uint32_t spurious; /* handler runs that found none (a shared or stale INTx line) */
    uint32_t last_status;
};

/** Map BAR0 and enable memory decode and bus mastering. */
int edu_open(struct edu *e, const struct keel_hal *hal, struct keel_pci_addr a,
             uint64_t cpu_offset);

/** The identification register (0x010000ed for version 1.0) and the liveness check (~value). */
uint32_t edu_id(const struct edu *e);
bool edu_alive(const struct edu *e);

/** Interrupt handler for keel_irq_fn: reads and acknowledges the status, counts. */
void edu_irq(void *arg);

/** Raise an interrupt with `status` bits, then wait (bounded) for the handler. */
bool edu_raise_and_wait(struct edu *e, uint32_t status, uint64_t timeout_us);

/** DMA `len` (<= 4096) bytes between bus address `bus` and the device buffer; polled, bounded. */
int edu_dma(struct edu *e, keel_bus_addr_t bus, uint32_t len, bool to_device, uint64_t timeout_us);

#endif
