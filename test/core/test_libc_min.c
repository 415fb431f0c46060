/* SPDX-License-Identifier: MIT */
/*
 * keel::libc_min against byte-by-byte reference loops, at every alignment of source and
 * destination and every length up to a few words (head, body and tail of the word loops), plus
 * overlapping memmove both ways. The library's functions are compiled in here under other names
 * (the host's C library owns memcpy and friends); built twice, with the x86 string-instruction
 * path and with the portable word loops (KEEL_LIBC_MIN_PORTABLE).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define memcpy  lm_memcpy
#define memmove lm_memmove
#define memset  lm_memset
#define memcmp  lm_memcmp
#include "../../core/src/libc_min.c"
#undef memcpy
#undef memmove
#undef memset
#undef memcmp

#define SPAN 96u /* bytes a case may touch, guards included */
#define MAXN 40u /* lengths 0..MAXN: several words on 64-bit hosts */

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
}

static void ref_move(uint8_t *d, const uint8_t *s, size_t n)
{
    uint8_t tmp[SPAN];
    for (size_t i = 0; i < n; i++)
        tmp[i] = s[i];
    for (size_t i = 0; i < n; i++)
        d[i] = tmp[i];
}

static void assert_same(const uint8_t *got, const uint8_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("byte %zu: 0x%02x, expected 0x%02x", i, got[i], want[i]);
}

static void test_memcpy_copies_exactly_n_bytes_at_every_alignment(void **state)
{
    (void)state;
    for (unsigned da = 0; da < 8u; da++)
        for (unsigned sa = 0; sa < 8u; sa++)
            for (size_t n = 0; n <= MAXN; n++) {
                _Alignas(16) uint8_t src[SPAN], dst[SPAN], want[SPAN];
                fill_pattern(src, SPAN, 1u);
                fill_pattern(dst, SPAN, 2u);
                fill_pattern(want, SPAN, 2u);
                ref_move(want + da + 8, src + sa + 8, n);
                assert_ptr_equal(lm_memcpy(dst + da + 8, src + sa + 8, n), dst + da + 8);
                assert_same(dst, want, SPAN); /* guards on both sides untouched */
            }
}

static void test_memmove_handles_overlap_in_both_directions(void **state)
{
    (void)state;
    for (unsigned from = 0; from < 24u; from++)
        for (unsigned to = 0; to < 24u; to++)
            for (size_t n = 0; n <= MAXN; n++) {
                _Alignas(16) uint8_t buf[SPAN], want[SPAN];
                fill_pattern(buf, SPAN, 3u);
                fill_pattern(want, SPAN, 3u);
                ref_move(want + to + 8, want + from + 8, n);
                assert_ptr_equal(lm_memmove(buf + to + 8, buf + from + 8, n), buf + to + 8);
                assert_same(buf, want, SPAN);
            }
}

static void test_memset_fills_exactly_n_bytes_with_the_low_byte_of_c(void **state)
{
    (void)state;
    for (unsigned da = 0; da < 8u; da++)
        for (size_t n = 0; n <= MAXN; n++) {
            _Alignas(16) uint8_t dst[SPAN], want[SPAN];
            fill_pattern(dst, SPAN, 4u);
            fill_pattern(want, SPAN, 4u);
            for (size_t i = 0; i < n; i++)
                want[da + 8 + i] = 0xa5;
            assert_ptr_equal(lm_memset(dst + da + 8, 0x1a5, n), dst + da + 8);
            assert_same(dst, want, SPAN);
        }
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void test_memcmp_orders_by_the_first_differing_byte_as_unsigned(void **state)
{
    (void)state;
    for (unsigned aa = 0; aa < 8u; aa++)
        for (unsigned ba = 0; ba < 8u; ba++)
            for (size_t n = 0; n <= MAXN; n++) {
                _Alignas(16) uint8_t a[SPAN], b[SPAN];
                fill_pattern(a + aa, n, 5u);
                fill_pattern(b + ba, n, 5u);
                assert_int_equal(lm_memcmp(a + aa, b + ba, n), 0);
                for (size_t k = 0; k < n; k++) {
                    /* 0x80 vs 0x7f: a signed-char comparison would get the order wrong. */
                    a[aa + k] = 0x80;
                    b[ba + k] = 0x7f;
                    assert_int_equal(sign(lm_memcmp(a + aa, b + ba, n)), 1);
                    assert_int_equal(sign(lm_memcmp(b + ba, a + aa, n)), -1);
                    /* A difference after the first one must not matter. */
                    if (k + 1u < n) {
                        b[ba + k + 1u] = 0xff;
                        assert_int_equal(sign(lm_memcmp(a + aa, b + ba, n)), 1);
                    }
                    fill_pattern(a + aa, n, 5u);
                    fill_pattern(b + ba, n, 5u);
                }
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memcpy_copies_exactly_n_bytes_at_every_alignment),
        cmocka_unit_test(test_memmove_handles_overlap_in_both_directions),
        cmocka_unit_test(test_memset_fills_exactly_n_bytes_with_the_low_byte_of_c),
        cmocka_unit_test(test_memcmp_orders_by_the_first_differing_byte_as_unsigned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
