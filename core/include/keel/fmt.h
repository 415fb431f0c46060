/* SPDX-License-Identifier: MIT */
/*
 * keel/fmt.h - a small, freestanding snprintf for log lines and example output.
 * Supports %% %c %s %d %i %u %x %X %p with the hh, h, l, ll, z, j and t length modifiers, a field
 * width and the 0 and - flags; %.Ns limits a string. Any other conversion prints as-is and consumes
 * no argument, so never pass one an argument (%o, %f, %n, ...). Always NUL-terminates when
 * size > 0 and returns the length it wanted (like C99 snprintf). Division-free (shifts only for
 * hex, repeated subtraction of powers of ten for decimal), so it links without libgcc helpers.
 * Thread safety: reentrant; any context.
 */
#ifndef KEEL_FMT_H
#define KEEL_FMT_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

int keel_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int keel_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
