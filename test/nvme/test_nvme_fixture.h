/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the NVMe driver tests: a simulated platform, the controller model and a
 * caller-owned keel_nvme_ctrl, parameterised over LBA size, queue depth and DMA map mode.
 */
#ifndef TEST_NVME_FIXTURE_H
#define TEST_NVME_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <keel/error.h>
#include <keel/nvme.h>
#include <sim/sim.h>

#include "nvme_model.h"

#define NVT_BAR0       0xfe000000ull
#define NVT_TIMEOUT_US 500000u /* per-request timeout the tests use */

/** One point of the geometry matrix. */
struct nvt_param {
    uint8_t lba_shift; /* 9 (512) or 12 (4096) */
    uint16_t depth;    /* I/O queue entries */
    uint8_t map_mode;  /* enum sim_map_mode */
};

extern const struct nvt_param nvt_p512_d8_translate;
extern const struct nvt_param nvt_p512_d64_bounce;
extern const struct nvt_param nvt_p4k_d8_bounce;
extern const struct nvt_param nvt_p4k_d64_translate;
extern const struct nvt_param nvt_p512_d2_translate;

/* A cmocka test entry for `fn` at geometry `p` (named fn[p]). */
#define NVT_CASE(fn, p)                                                                            \
    {                                                                                              \
#fn "[" #p "]", fn, NULL, NULL, (void *)&nvt_##p                                           \
    }
/* The four-point matrix: 512/4096 x depth 8/64 x TRANSLATE/BOUNCE. */
#define NVT_MATRIX(fn)                                                                             \
    NVT_CASE(fn, p512_d8_translate), NVT_CASE(fn, p512_d64_bounce), NVT_CASE(fn, p4k_d8_bounce),   \
        NVT_CASE(fn, p4k_d64_translate)
#define NVT_DEFAULT(fn) NVT_CASE(fn, p512_d64_bounce)

struct nvt {
    struct sim *s;
    struct nvme_model *m;
    struct nvme_model_cfg mc;
    struct keel_nvme_config cfg;
    struct keel_nvme_ctrl *c;
    struct keel_blkdev *bd; /* namespace 1 after a successful start */
    const struct nvt_param *p;
    bool attached;
};

/** Sim + default model and driver configuration for geometry `p` (NULL: 512, depth 64, bounce). */
void nvt_init(struct nvt *t, const struct nvt_param *p);
/** nvt_init with the parameter cmocka passed in *state. */
void nvt_init_state(struct nvt *t, void **state);
/** Create the model (only). */
void nvt_model(struct nvt *t);
/** Create the model if needed and attach; returns keel_nvme_attach's result. */
int nvt_attach(struct nvt *t);
/** nvt_attach that must succeed. */
void nvt_up(struct nvt *t);
/** Detach (when attached), check the sim is clean, free everything. */
void nvt_done(struct nvt *t);
/** Free without detaching or checking (tests that left the controller in a broken state). */
void nvt_free(struct nvt *t);

/** Fill with a pattern that differs per byte, per offset and per seed. */
void nvt_pattern(void *buf, size_t len, uint32_t seed);
/** Namespace media bytes at `lba` (model's view). */
uint8_t *nvt_media(struct nvt *t, uint32_t nsid, uint64_t lba);
/** Block size of namespace 1. */
uint32_t nvt_bs(const struct nvt *t);

/** An asynchronous request the test drives by hand. */
struct nvt_req {
    struct keel_blk_req r;
    int done_count;
    int status;
    uint32_t cc_at_done; /* model CC when done ran (reset ordering checks) */
    uint16_t pci_cmd_at_done;
    struct nvt *t;
};
void nvt_req_init(struct nvt *t, struct nvt_req *q, uint8_t op, uint64_t lba, uint32_t count,
                  void *buf);
/** Poll queue `queue` until every request in `reqs` is done, bounded by virtual time. */
void nvt_poll_until(struct nvt *t, unsigned queue, struct nvt_req *reqs, unsigned n,
                    uint64_t max_us);

#endif
