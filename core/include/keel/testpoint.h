/* SPDX-License-Identifier: MIT */
/*
 * keel/testpoint.h - named places inside the drivers' short critical windows where a host test
 * can run code, typically a device completion and its interrupt.
 *
 * Some windows make no HAL call (two stores to a list), so the simulated platform has no chance
 * to interrupt there, yet real hardware can. A test point gives host tests that chance, making
 * such races deterministic regression tests. Test points exist only in builds configured with
 * KEEL_TEST_POINTS=ON (the default when the host tests are built); everywhere else, including
 * every port, the footprint and benchmark builds, KEEL_TEST_POINT() expands to nothing.
 */
#ifndef KEEL_TESTPOINT_H
#define KEEL_TESTPOINT_H

#ifdef __cplusplus
extern "C" {
#endif

enum keel_test_point {
    /** virtio-blk: a finished request is half taken off its queue's list (head moved, tail not). */
    KEEL_TP_VBLK_FIN_POP = 1,
    /** virtio-scsi: the same window in a request queue's finished list. */
    KEEL_TP_VSCSI_FIN_POP = 2,
};

/** What runs at a test point: `tp` says which, `arg` is what keel_test_point_set was given. */
typedef void (*keel_test_point_fn)(enum keel_test_point tp, void *arg);

/**
 * Run `fn` at every test point from now on (NULL: nothing). One hook per program: test points
 * are a test-build facility, not an integrator interface. Thread safety: call it while no driver
 * call is in progress.
 */
void keel_test_point_set(keel_test_point_fn fn, void *arg);

/** Called by KEEL_TEST_POINT(); runs the hook if one is set. Thread safety: as its caller. */
void keel_test_point(enum keel_test_point tp);

/* A function call where test points are built in; nothing at all elsewhere. */
#if defined(KEEL_TEST_POINTS) && KEEL_TEST_POINTS
#define KEEL_TEST_POINT(tp) keel_test_point(tp)
#else
#define KEEL_TEST_POINT(tp) ((void)0)
#endif

#ifdef __cplusplus
}
#endif

#endif
