/* SPDX-License-Identifier: MIT */
/*
 * Test points (keel/testpoint.h): compiled only into KEEL_TEST_POINTS builds, never into a port.
 * The hook is the one global in Keel, and it exists only in those builds.
 */
#include <stddef.h>

#include <keel/testpoint.h>

static keel_test_point_fn hook_fn;
static void *hook_arg;

void keel_test_point_set(keel_test_point_fn fn, void *arg)
{
    hook_fn = fn;
    hook_arg = arg;
}

void keel_test_point(enum keel_test_point tp)
{
    if (hook_fn != NULL)
        hook_fn(tp, hook_arg);
}
