/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vcfg.h - the driver-side sequence of the "virtio_config" fuzz target, shared with seedgen:
 * seedgen runs it against the virtio device model on the simulated platform and records every
 * register and configuration-space value the driver reads, which makes a seed that replays the same
 * path through the fuzzing HAL's stream mode.
 *
 * Input layout: VCFG_HDR_BYTES of header (what to probe and how to attach), then the values of
 * every MMIO / port / PCI configuration read, in the order the driver makes them.
 */
#ifndef KEEL_FUZZ_VCFG_H
#define KEEL_FUZZ_VCFG_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/virtio_blk.h>

#define VCFG_HDR_BYTES 4u
#define VCFG_MMIO_BASE 0x0a000000u
#define VCFG_MMIO_SIZE 0x200u
#define VCFG_IRQ_LINE  48u

/* header byte 0: how to probe */
enum vcfg_probe {
    VCFG_MMIO = 0,
    VCFG_PCI = 1, /* keel_virtio_pci_probe, modern preferred */
    VCFG_PCI_PREFER_LEGACY = 2,
    VCFG_PCI_MODERN = 3, /* keel_virtio_pci_modern_probe */
    VCFG_PCI_LEGACY = 4, /* keel_virtio_pci_legacy_probe */
    VCFG_PROBE_COUNT = 5
};

/* header byte 1: attach options */
#define VCFG_OPT_IRQ       0x01u /* KEEL_VIRTIO_IRQ_AUTO, else polled */
#define VCFG_OPT_NO_PACKED 0x02u
/* bits 2-3: max_queues; bits 4-7: queue_size cap 1 << n (0: none) */

/* header byte 2: the n-th dma_alloc fails (0: none) */

/* header byte 3: what to do once attached */
#define VCFG_ACT_SERVICE   0x01u /* 200 ms later, keel_vblk_service */
#define VCFG_ACT_WRITEBACK 0x02u /* keel_vblk_set_writeback(bit 2) */
#define VCFG_ACT_WB_ON     0x04u
#define VCFG_ACT_READ      0x08u /* one READ, polled until it finishes */
#define VCFG_ACT_RECOVER   0x10u /* keel_vblk_recover */

struct vcfg_env {
    const struct keel_hal *hal;
    void (*advance)(void *arg, uint64_t us);
    void *arg;
    void *hal_ctx_fh; /* the fuzzing HAL when checking invariants, else NULL */
};

/** The PCI function every PCI variant probes. */
struct keel_pci_addr vcfg_pci_addr(void);

/**
 * Probe, attach, act and detach as `hdr` says. Returns the attach result (or the probe's when it
 * failed). With env->hal_ctx_fh set, breaches of the driver's promises are violations.
 */
int vcfg_run(const struct vcfg_env *env, const uint8_t hdr[VCFG_HDR_BYTES], struct keel_vblk *vb);

#endif
