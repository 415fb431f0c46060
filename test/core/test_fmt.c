/* SPDX-License-Identifier: MIT */
#include <sim/test_common.h>

#include <keel/fmt.h>

/* Compare keel_snprintf with the host's snprintf for the same format and arguments. */
#define CHECK_LIKE_LIBC(fmt, ...)                                                                  \
    do {                                                                                           \
        char a[128], b[128];                                                                       \
        int na = keel_snprintf(a, sizeof(a), fmt, __VA_ARGS__);                                    \
        int nb = snprintf(b, sizeof(b), fmt, __VA_ARGS__);                                         \
        assert_string_equal(a, b);                                                                 \
        assert_int_equal(na, nb);                                                                  \
    } while (0)

static void test_integers_format_like_libc(void **state)
{
    (void)state;
    CHECK_LIKE_LIBC("%d %i %u", -42, 17, 4000000000u);
    CHECK_LIKE_LIBC("%ld %lu", -1234567890123L, 18446744073709551615UL);
    CHECK_LIKE_LIBC("%lld %llu", -9223372036854775807LL - 1, 18446744073709551615ULL);
    CHECK_LIKE_LIBC("%x %X %08x %lx", 0xdeadbeefu, 0xabcu, 0x1fu, 0x123456789abcUL);
    CHECK_LIKE_LIBC("%llx", 0xffffffffffffffffULL);
    CHECK_LIKE_LIBC("%5d|%-5d|%05d|%-3u|", 42, 42, -42, 7u);
    CHECK_LIKE_LIBC("%zu %d", (size_t)123456, 0);
}

static void test_strings_and_chars_format_like_libc(void **state)
{
    (void)state;
    CHECK_LIKE_LIBC("[%s] [%8s] [%-8s] [%.3s] %c%%", "nvme", "vda", "sd0", "abcdef", 'Z');
}

static void test_output_is_truncated_and_terminated(void **state)
{
    char buf[8];
    int n;
    (void)state;
    n = keel_snprintf(buf, sizeof(buf), "%s-%u", "blkdev", 12345u);
    assert_int_equal(n, 12);
    assert_string_equal(buf, "blkdev-");
    n = keel_snprintf(buf, 1, "%d", 99);
    assert_int_equal(n, 2);
    assert_string_equal(buf, "");
    n = keel_snprintf(NULL, 0, "%d", 99);
    assert_int_equal(n, 2);
}

static void test_pointer_and_unknown_conversions(void **state)
{
    char buf[64];
    (void)state;

    keel_snprintf(buf, sizeof(buf), "%p", (void *)(uintptr_t)0x1000);
    assert_string_equal(buf, "0x1000");
    const char *volatile nothing = NULL; /* hidden from the compiler's format checker */
    keel_snprintf(buf, sizeof(buf), "%s", nothing);
    assert_string_equal(buf, "(null)");
}

/*
 * Every length modifier the compiler's printf check accepts consumes its argument with the right
 * type: an h or hh left unparsed used to print "%h" and leave the va_list one step behind, so the
 * next %s dereferenced an integer.
 */
static void test_all_length_modifiers_consume_their_argument(void **state)
{
    (void)state;
    CHECK_LIKE_LIBC("%hhx %s", (unsigned char)0xab, "next");
    CHECK_LIKE_LIBC("%hd %hu %hhd %hhu|%s", (short)-5, (unsigned short)65535, (signed char)-7,
                    (unsigned char)200, "next");
    CHECK_LIKE_LIBC("%hx %hhX", (unsigned short)0xbeef, (unsigned char)0xcd);
    CHECK_LIKE_LIBC("%jd %ju %jx|%s", (intmax_t)-123456789012LL, (uintmax_t)18446744073709551615ULL,
                    (uintmax_t)0xfedcba9876543210ULL, "next");
    CHECK_LIKE_LIBC("%td %tx|%s", (ptrdiff_t)-42, (ptrdiff_t)0x7fff, "next");
    CHECK_LIKE_LIBC("%zd %zu %zx|%s", (ptrdiff_t)-3, (size_t)77, (size_t)0xabc, "next");
    CHECK_LIKE_LIBC("%5hd|%-4hhu|%04hx", (short)-12, (unsigned char)9, (unsigned short)0xa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_format_like_libc),
        cmocka_unit_test(test_strings_and_chars_format_like_libc),
        cmocka_unit_test(test_output_is_truncated_and_terminated),
        cmocka_unit_test(test_pointer_and_unknown_conversions),
        cmocka_unit_test(test_all_length_modifiers_consume_their_argument),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
