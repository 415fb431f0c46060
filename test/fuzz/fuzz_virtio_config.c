/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target "virtio_config": the virtio control plane. Every register, port and PCI
 * configuration-space value the driver reads comes from the input (the fuzzing HAL's stream mode:
 * writes go nowhere), through the real transports (PCI modern, legacy and transitional, MMIO
 * versions 1 and 2), device initialisation (reset waits, feature negotiation, FEATURES_OK),
 * capability parsing, MSI-X set-up, the configuration generation loop and virtio-blk's validation
 * of its configuration; then, once attached, a configuration check, a cache-mode change, a READ
 * that can only time out (no device writes the rings here) and the recovery that follows, and
 * detach. DMA allocations fail on demand (header byte 2) to reach every unwinding path.
 *
 * Input: 4 header bytes (fuzz_vcfg.h), then the register values in read order. seedgen records
 * real sequences from the virtio device model so the fuzzer starts from working bring-ups.
 *
 * Invariants beyond the sanitizers: an attached disk has a power-of-two sector size, at least one
 * queue and a non-zero transfer size; the READ completes exactly once, unmapped, within bounded
 * virtual time; after detach, or after an attach that failed, no DMA memory, mapping, interrupt or
 * lock is left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/virtio_blk.h>

#include "fuzz_hal.h"
#include "fuzz_vcfg.h"

static void advance(void *arg, uint64_t us)
{
    fh_advance(arg, us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in;
    struct fuzz_hal *fh;
    struct keel_vblk *vb;
    struct vcfg_env env;
    uint8_t hdr[VCFG_HDR_BYTES];
    int rc;

    if (size < VCFG_HDR_BYTES)
        return 0;
    fh = calloc(1, sizeof(*fh));
    vb = calloc(1, sizeof(*vb));
    if (fh == NULL || vb == NULL)
        abort();
    fz_init(&in, data, size);
    fz_bytes(&in, hdr, sizeof(hdr));
    fh_init(fh, &in);
    fh->stream_regs = true;
    fh->stream_pci = true;
    fh->delay_min_us = 1000;
    fh->alloc_fail_at = hdr[2];
    env.hal = &fh->hal;
    env.advance = advance;
    env.arg = fh;
    env.hal_ctx_fh = fh;
    rc = vcfg_run(&env, hdr, vb);
    if (fh->log_print)
        fprintf(stderr, "virtio_config: attach %d, %zu of %zu input bytes read\n", rc, in.pos,
                in.size);
    fh_finish(fh, true);
    free(vb);
    free(fh);
    return 0;
}
