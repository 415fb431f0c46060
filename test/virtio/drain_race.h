/* SPDX-License-Identifier: MIT */
/*
 * drain_race.h - the finished-list race scenarios, written once for both virtio drivers that keep
 * a finished list (virtio-blk: test/virtio/test_vblk_drain_race.c, virtio-scsi:
 * test/scsi/test_vscsi_drain_race.c). Each test supplies a struct race_ops for its fixture.
 *
 * The race: an interrupt that arrives while a queue's finished requests are being completed,
 * exactly inside the window where one is half taken off the list (the driver's test point), on
 * every transport and both ring formats, from each of the three places that drain:
 *  - the owner's call (poll): the interrupt's completion must not be lost (the list was corrupted:
 *    a request fell off it, never completed, and no timeout tracked it any more);
 *  - the interrupt handler itself, on platforms that nest interrupts: the nested interrupt's note
 *    must be taken before the handler returns, not left for an owner call that may never come;
 *  - recovery: the same, for the requests recovery finished.
 * Each request completes exactly once, with the right data, and without a timeout.
 */
#ifndef KEEL_TEST_DRAIN_RACE_H
#define KEEL_TEST_DRAIN_RACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/blkdev.h>
#include <keel/testpoint.h>
#include <sim/sim.h>
#include <virtio_model.h>

/** One fixture of the driver under test, started with interrupts on. */
struct race_ops {
    const char *group;       /* cmocka group name */
    enum keel_test_point tp; /* the driver's finished-list window */
    int vq;                  /* the virtqueue of block queue 0 */
    unsigned sector;         /* block size of the disk the fixture exposes */
    /** A started fixture on transport `t` (packed ring when `packed`), device completing normally.
     */
    void *(*start)(enum vmodel_transport t, bool packed);
    struct keel_blkdev *(*disk)(void *fx);
    struct vmodel *(*model)(void *fx);
    struct sim *(*sim)(void *fx);
    /** The driver's recovery entry point (device reset; overdue requests fail, the rest resend). */
    int (*recover)(void *fx);
    /** The medium at byte `off` equals `buf`. */
    bool (*media_equals)(void *fx, uint64_t off, const void *buf, size_t len);
    /** The driver's count of requests that timed out. */
    uint64_t (*timeouts)(void *fx);
    /** Detach, assert the sim saw no violation, free the fixture. */
    void (*finish)(void *fx);
};

/** Run the three scenarios on every transport and ring format; the cmocka result. */
int drain_race_run(const struct race_ops *ops);

#endif
