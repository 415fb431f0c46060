/* SPDX-License-Identifier: MIT */
/*
 * soak.h - the long soak (issue 7, point 7; run by tools/soak, not part of CTest): mixed random
 * I/O against the device models with random fault injection, verified against a shadow copy.
 *
 * A run is a sequence of rounds per driver. A round draws a configuration (transport, ring format,
 * block size, queue count and depth, interrupt mode, DMA mapping mode, device timing), brings the
 * driver up on a fresh simulated platform, runs a few thousand random requests (reads, writes with
 * and without FUA, flushes, trims, write-zeroes; random sizes, alignments, queues and depths) while
 * faults from the model's list are armed at random, then drains, verifies every block through the
 * driver and directly in the model's media, detaches and checks the platform (violations, leaked
 * mappings, DMA memory). Everything a round does follows from (seed, driver, round number), so any
 * round can be replayed alone with --round.
 *
 * The shadow holds what each block must contain. A request that fails leaves its range "unknown"
 * until it is rewritten (a failed write may have landed in part); a successful trim too (the
 * content of deallocated blocks is the device's choice). Reads of known blocks must match exactly.
 */
#ifndef KEEL_SOAK_H
#define KEEL_SOAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/blkdev.h>
#include <sim/sim.h>

#define SOAK_MAX_REC    8   /* recovery counters a driver reports */
#define SOAK_MAX_FAULTS 48  /* entries of a driver's fault table */
#define SOAK_HOT_BLOCKS 256 /* half the requests fall in blocks [0, 256) */

/* Deterministic random numbers (splitmix64). */
struct soak_rng {
    uint64_t s;
};

uint64_t soak_rnd(struct soak_rng *r);
/** Uniform in [0, n) (n > 0). */
uint32_t soak_below(struct soak_rng *r, uint32_t n);
/** True with probability num / den. */
bool soak_chance(struct soak_rng *r, uint32_t num, uint32_t den);

struct soak_target;

/** One injectable fault: the model's id and how to draw its parameter for this target. */
struct soak_fault {
    int id;
    const char *name;
    uint32_t max_count; /* fire 1..max_count times once armed */
    uint64_t (*param)(struct soak_target *t, struct soak_rng *r);
    int also; /* armed (once, param 0) and cleared together with it; 0: none */
};

/** Per fault id: how often it was armed and how often it fired. */
struct soak_fault_stat {
    int id;
    const char *name;
    uint64_t armed, fired;
};

/** What a driver adapter provides to the common engine. */
struct soak_target {
    const char *driver;     /* "nvme", "virtio-blk", "virtio-scsi" */
    char config[160];       /* the round's configuration, for messages */
    struct sim *s;          /* the simulated platform of this round */
    struct keel_blkdev *bd; /* the disk under test */
    void *priv;             /* adapter state */
    unsigned nfaults;       /* usable entries of faults[] for this round */
    struct soak_fault faults[SOAK_MAX_FAULTS];
    const char *rec_names[SOAK_MAX_REC]; /* recovery counters, NULL-terminated */

    /** Copy `len` bytes at byte `off` of the disk as the model holds them. */
    void (*media_read)(struct soak_target *t, uint64_t off, void *out, size_t len);
    /** Periodic housekeeping (events, deferred work). */
    void (*service)(struct soak_target *t);
    /** False once the driver gave the device up (dead, failed, gone). */
    bool (*alive)(struct soak_target *t);
    /** Current values of the recovery counters (same order as rec_names). */
    void (*recoveries)(struct soak_target *t, uint64_t out[SOAK_MAX_REC]);
    /** Stop any deferred or delayed device processing (drain phase). */
    void (*quiesce)(struct soak_target *t);
    /** Print the device model's state (diagnostics after a failure). Optional. */
    void (*dump)(struct soak_target *t);
    /** Detach and free everything but the sim; returns false when the detach misbehaved. */
    bool (*teardown)(struct soak_target *t);
};

/** Adapters: draw a configuration from `r`, bring the driver up. False: attach failed (t->config
 *  says with what). */
bool soak_nvme_setup(struct soak_target *t, struct soak_rng *r);
bool soak_vblk_setup(struct soak_target *t, struct soak_rng *r);
bool soak_vscsi_setup(struct soak_target *t, struct soak_rng *r);

/** True when the command line excluded fault `id` (adapters check it for bring-up faults). */
bool soak_excluded(int id);

/** Append to t->config. */
void soak_cfg(struct soak_target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Add a fault to the target's table. */
void soak_add_fault(struct soak_target *t, int id, const char *name, uint32_t max_count,
                    uint64_t (*param)(struct soak_target *t, struct soak_rng *r));
/** The same, with a second fault armed and cleared together with it. */
void soak_add_fault2(struct soak_target *t, int id, int also, const char *name,
                     uint64_t (*param)(struct soak_target *t, struct soak_rng *r));

/** One of the sim's map modes. */
enum sim_map_mode soak_map_mode(struct soak_rng *r);

#endif
