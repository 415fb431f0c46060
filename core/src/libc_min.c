/* SPDX-License-Identifier: MIT */
/*
 * libc_min.c - opt-in memcpy, memmove, memset and memcmp for naked environments that have no C
 * library. Not part of keel::core: add it to your build (or link keel::libc_min) only if nothing
 * else provides these four. Compilers emit calls to them even under -ffreestanding.
 */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/*
 * The loops below must not be turned back into calls to the functions they implement; volatile
 * byte pointers keep gcc's and clang's idiom recognition away without compiler-specific pragmas.
 */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    volatile uint8_t *d = (volatile uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    while (n-- > 0u)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    volatile uint8_t *d = (volatile uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if ((uintptr_t)d <= (uintptr_t)s || (uintptr_t)d >= (uintptr_t)s + n) {
        while (n-- > 0u)
            *d++ = *s++;
    } else {
        while (n-- > 0u)
            d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    volatile uint8_t *d = (volatile uint8_t *)dst;
    while (n-- > 0u)
        *d++ = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = (const uint8_t *)a;
    const uint8_t *y = (const uint8_t *)b;
    for (; n > 0u; n--, x++, y++)
        if (*x != *y)
            return (int)*x - (int)*y;
    return 0;
}
