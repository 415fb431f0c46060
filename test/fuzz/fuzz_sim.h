/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sim.h - the simulated platform and its device models as a hostile device, for the NVMe and
 * virtio-scsi fuzz targets.
 *
 * The device models of the host tests (test/nvme/model, test/scsi) answer like real devices; this
 * layer lets the fuzzer's input change what they hand the driver, at the points a device would:
 *  - every register read (MMIO) can be rewritten by a harness callback (CAP, VS, CSTS values from
 *    the input);
 *  - every DMA write a model makes (completion entries, Identify and log data, SCSI responses,
 *    sense, data-in, used ring elements, events) passes through sim_dma_write's hook: while the
 *    harness grants a budget of writes, each one consumes a control byte from the input that
 *    leaves it alone or rewrites fields (a harness callback that knows the structure) or bytes;
 *  - delays advance the clock by at least delay_min_us, and a driver spinning on the clock without
 *    touching a register sees time speed up, so long bounded waits stay cheap.
 * The driver runs on the sim's own HAL otherwise (translated or bounced mappings, the virtual
 * clock, interrupts), so the sim's contract checks stay in force: an input that changed nothing
 * the models wrote must end with no sim violation. Once a device answer was rewritten ("tainted")
 * the models may legitimately disagree with the driver (a completion the model still holds, a
 * format the model does not have), so only the driver-side invariants are checked: no leaked
 * mapping or DMA memory, no attached interrupt or held lock after detach, and what the harness
 * asserts itself.
 */
#ifndef KEEL_FUZZ_SIM_H
#define KEEL_FUZZ_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>
#include <sim/sim.h>

#include "fuzz_hal.h"

struct fsim {
    struct sim *s;
    struct fz *in;
    struct keel_hal hal; /* hand &fs->hal to the driver */
    struct keel_hal_ops ops;
    uint32_t delay_min_us;
    unsigned idle_reads; /* clock reads since the last register write */

    /* register reads: the model's value, or what this returns (NULL: the model's) */
    uint32_t (*reg32)(void *arg, keel_io_addr_t addr, uint32_t value);
    void *arg;

    /* device writes */
    unsigned budget; /* writes that still consult the input */
    /* Structured rewrite of a write at `bus`: return true when handled (`ctl` is the non-zero
       control byte). NULL or false: byte patches. */
    bool (*mutate)(void *arg, uint64_t bus, uint8_t *data, size_t len, uint8_t ctl);

    bool tainted; /* a device answer or register was rewritten */
    unsigned mutations;
};

/**
 * A sim with an arena of `arena` bytes, and `fs` over it (one at a time per process: the hooks find
 * it through a static pointer). The sim's clock ticks `tick_us` per read.
 */
void fsim_init(struct fsim *fs, struct fz *in, size_t arena, uint32_t tick_us);

/** Mark the run tainted (a register or device answer was rewritten by the harness itself). */
void fsim_taint(struct fsim *fs);

/** True when some live sim mapping overlaps [buf, buf + len). */
bool fsim_buf_mapped(const struct fsim *fs, const void *buf, size_t len);

/**
 * End of an input: with `detached`, no mapping, DMA memory, interrupt or lock may be left; an
 * untainted run must also have no sim violation. Then destroys the sim (models first: the caller
 * destroys them before).
 */
void fsim_finish(struct fsim *fs, bool detached);

#endif
