/* SPDX-License-Identifier: MIT */
/*
 * consumer.c - a program outside Keel that uses it the way an integrator does: Keel's public
 * headers and keel::core, built through find_package, add_subdirectory or pkg-config
 * (test/package).
 */
#include <keel/error.h>
#include <keel/hal.h>
#include <keel/version.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    const char *name = keel_strerror(KEEL_ETIMEDOUT);

    if (strcmp(name, "KEEL_ETIMEDOUT") != 0) {
        fprintf(stderr, "keel_strerror(KEEL_ETIMEDOUT) = %s\n", name);
        return 1;
    }
    /* A HAL without ops is refused: proves the linked core is the real one. */
    if (keel_hal_check(NULL) != KEEL_EHAL) {
        fprintf(stderr, "keel_hal_check(NULL) accepted a missing HAL\n");
        return 1;
    }
    printf("keel consumer ok: version %s\n", KEEL_VERSION_STRING);
    return 0;
}
