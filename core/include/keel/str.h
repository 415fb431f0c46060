/* SPDX-License-Identifier: MIT */
/*
 * keel/str.h - the few string and memory helpers Keel needs without libc. Memory helpers map to the
 * compiler builtins, which may emit calls to memcpy/memset/memmove/memcmp: the only four symbols a
 * freestanding Keel library may import (core/src/libc_min.c provides them for naked environments).
 * All pure; any context.
 */
#ifndef KEEL_STR_H
#define KEEL_STR_H

#include <stdbool.h>
#include <stddef.h>

#define keel_memcpy(d, s, n)  __builtin_memcpy((d), (s), (n))
#define keel_memmove(d, s, n) __builtin_memmove((d), (s), (n))
#define keel_memset(d, c, n)  __builtin_memset((d), (c), (n))
#define keel_memcmp(a, b, n)  __builtin_memcmp((a), (b), (n))

static inline size_t keel_strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    return n;
}

static inline bool keel_streq(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/** Copy at most size-1 characters and NUL-terminate (size > 0); returns the length copied. */
static inline size_t keel_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = 0;
    if (size == 0u)
        return 0;
    while (n + 1u < size && src[n] != '\0') {
        dst[n] = src[n];
        n++;
    }
    dst[n] = '\0';
    return n;
}

#endif
