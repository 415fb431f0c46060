/* SPDX-License-Identifier: MIT */
/*
 * Test points (keel/testpoint.h). CMake compiles this file only into KEEL_TEST_POINTS builds, and
 * only those builds call it: the hook below is the one global in Keel, and a port does not have
 * it (docs/porting.md tells other build systems to leave this file out).
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
