/* SPDX-License-Identifier: MIT */
/* result.c - pass/fail bookkeeping and the RESULT line. */
#include <stdarg.h>

#include <keel/fmt.h>
#include <keel/str.h>

#include "example.h"

static unsigned failures;
static char first_reason[96];

void ex_fail(const char *fmt, ...)
{
    char line[160];
    va_list ap;

    va_start(ap, fmt);
    (void)keel_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (failures++ == 0u)
        (void)keel_strlcpy(first_reason, line, sizeof(first_reason));
    keel_port_printf("FAIL: %s\n", line);
}

unsigned ex_failures(void)
{
    return failures;
}

int ex_finish(void)
{
    if (failures == 0u) {
        keel_port_puts("RESULT: PASS\n");
        return 0;
    }
    keel_port_printf("RESULT: FAIL %s\n", first_reason);
    return 1;
}
