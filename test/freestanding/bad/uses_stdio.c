/* SPDX-License-Identifier: MIT */
/*
 * Deliberately bad driver source: includes a hosted libc header. The freestanding header check
 * must reject it (test freestanding_headers_reject_stdio_in_driver_source).
 */
#include <stdio.h>

#include <keel/error.h>

int keel_fs_bad_report(int err);

int keel_fs_bad_report(int err)
{
    return printf("error %s\n", keel_strerror(err));
}
