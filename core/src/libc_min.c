/* SPDX-License-Identifier: MIT */
/*
 * libc_min.c - opt-in memcpy, memmove, memset and memcmp for naked environments that have no C
 * library. Not part of keel::core: add it to your build (or link keel::libc_min) only if nothing
 * else provides these four. Compilers emit calls to them even under -ffreestanding.
 *
 * Speed matters here more than it looks: ports zero every DMA allocation and examples fill and
 * compare whole buffers. On x86 the string instructions (`rep movsb` / `rep stosb`) are the fast
 * path on every CPU since Ivy Bridge (ERMS) and, under a software-nested hypervisor, the only
 * one that does not cost a trap per loop iteration. Elsewhere the loops move one machine word
 * at a time once the destination is aligned, and bytes for the head and tail.
 */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* A word that may alias any object, as the byte accesses it replaces may. */
typedef uintptr_t __attribute__((__may_alias__)) lm_word;

/* KEEL_LIBC_MIN_PORTABLE forces the word loops on x86 too (the host test runs both versions). */
#if !defined(KEEL_LIBC_MIN_PORTABLE) && (defined(__x86_64__) || defined(__i386__))
#define LM_X86_STRING 1
#else
#define LM_X86_STRING 0
#endif

#define LM_WORD          sizeof(lm_word)
#define LM_MISALIGNED(p) ((uintptr_t)(p) & (LM_WORD - 1u))

/*
 * The loops below must not be turned back into calls to the functions they implement; volatile
 * pointers keep gcc's and clang's idiom recognition away without compiler-specific pragmas.
 */
/* NOLINTNEXTLINE(readability-non-const-parameter): on x86, rep movsb writes through d. */
static void copy_forward(uint8_t *d, const uint8_t *s, size_t n)
{
#if LM_X86_STRING
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
#else
    while (n > 0u && LM_MISALIGNED(d)) {
        *(volatile uint8_t *)d++ = *s++;
        n--;
    }
    if (!LM_MISALIGNED(s)) {
        for (; n >= LM_WORD; n -= LM_WORD, d += LM_WORD, s += LM_WORD)
            *(volatile lm_word *)(volatile void *)d = *(const lm_word *)(const void *)s;
    }
    while (n-- > 0u)
        *(volatile uint8_t *)d++ = *s++;
#endif
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    copy_forward((uint8_t *)dst, (const uint8_t *)src, n);
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    volatile uint8_t *d = (volatile uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;

    /* A forward copy is safe unless the destination starts inside the source. */
    if ((uintptr_t)d <= (uintptr_t)s || (uintptr_t)d >= (uintptr_t)s + n)
        copy_forward((uint8_t *)dst, s, n);
    else
        while (n-- > 0u)
            d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = (uint8_t *)dst;
#if LM_X86_STRING
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
#else
    lm_word w = (lm_word)(uint8_t)c * (UINTPTR_MAX / 0xffu); /* the byte in every lane */

    while (n > 0u && LM_MISALIGNED(d)) {
        *(volatile uint8_t *)d++ = (uint8_t)c;
        n--;
    }
    for (; n >= LM_WORD; n -= LM_WORD, d += LM_WORD)
        *(volatile lm_word *)(volatile void *)d = w;
    while (n-- > 0u)
        *(volatile uint8_t *)d++ = (uint8_t)c;
#endif
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = (const uint8_t *)a;
    const uint8_t *y = (const uint8_t *)b;

    /* Skip equal words while both sides are aligned, then find the first differing byte. */
    if (LM_MISALIGNED(x) == 0u && LM_MISALIGNED(y) == 0u)
        for (;
             n >= LM_WORD && *(const lm_word *)(const void *)x == *(const lm_word *)(const void *)y;
             n -= LM_WORD, x += LM_WORD, y += LM_WORD)
            ;
    for (; n > 0u; n--, x++, y++)
        if (*x != *y)
            return (int)*x - (int)*y;
    return 0;
}
