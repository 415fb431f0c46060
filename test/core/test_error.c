/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <keel/error.h>

static void test_every_code_has_a_distinct_name(void **state)
{
    int i, j;
    (void)state;
    for (i = 0; i < KEEL_ERR_COUNT; i++) {
        const char *n = keel_strerror(-i);
        assert_non_null(n);
        assert_true(strncmp(n, "KEEL_", 5) == 0);
        assert_string_not_equal(n, "KEEL_E?");
        for (j = 0; j < i; j++)
            assert_string_not_equal(n, keel_strerror(-j));
    }
}

static void test_names_match_enum_values(void **state)
{
    (void)state;
    assert_string_equal(keel_strerror(KEEL_OK), "KEEL_OK");
    assert_string_equal(keel_strerror(KEEL_ETIMEDOUT), "KEEL_ETIMEDOUT");
    assert_string_equal(keel_strerror(KEEL_EPROTO), "KEEL_EPROTO");
    assert_string_equal(keel_strerror(KEEL_EFAULT), "KEEL_EFAULT");
    assert_string_equal(keel_strerror(KEEL_EROFS), "KEEL_EROFS");
}

static void test_unknown_codes_get_a_placeholder(void **state)
{
    (void)state;
    assert_string_equal(keel_strerror(1), "KEEL_E?");
    assert_string_equal(keel_strerror(-KEEL_ERR_COUNT), "KEEL_E?");
    assert_string_equal(keel_strerror(-1000), "KEEL_E?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_distinct_name),
        cmocka_unit_test(test_names_match_enum_values),
        cmocka_unit_test(test_unknown_codes_get_a_placeholder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
