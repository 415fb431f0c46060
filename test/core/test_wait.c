/* SPDX-License-Identifier: MIT */
#include <sim/test_common.h>

#include <keel/error.h>
#include <keel/wait.h>
#include <sim/sim.h>

struct counter {
    struct sim *s;
    uint64_t true_at_us; /* condition turns true once the clock reaches this */
    unsigned calls;
};

static bool cond_at_time(void *arg)
{
    struct counter *c = arg;
    c->calls++;
    return c->s->now_us >= c->true_at_us;
}

static int setup(void **state)
{
    *state = sim_create(1 << 20);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    sim_destroy(*state);
    return 0;
}

static void test_wait_returns_ok_when_condition_becomes_true_in_time(void **state)
{
    struct sim *s = *state;
    struct counter c = {s, s->now_us + 500, 0};

    assert_int_equal(keel_wait_until(&s->hal, cond_at_time, &c, 1000, 10), KEEL_OK);
    assert_true(s->now_us >= c.true_at_us);
    assert_true(s->now_us < c.true_at_us + 100);
    sim_assert_clean(s);
}

static void test_wait_times_out_and_never_reports_success(void **state)
{
    struct sim *s = *state;
    uint64_t start = s->now_us;
    struct counter c = {s, UINT64_MAX, 0};

    assert_int_equal(keel_wait_until(&s->hal, cond_at_time, &c, 2000, 100), KEEL_ETIMEDOUT);
    assert_true(s->now_us >= start + 2000);
    assert_true(s->now_us < start + 2300); /* bounded: one interval of slack */
    assert_true(c.calls >= 20);
}

static void test_wait_checks_condition_once_more_at_expiry(void **state)
{
    struct sim *s = *state;
    /* True only after the deadline: the final re-check sees it, so it is not a timeout. */
    struct counter c = {s, s->now_us + 1000, 0};

    assert_int_equal(keel_wait_until(&s->hal, cond_at_time, &c, 1000, 1000), KEEL_OK);
}

static void test_zero_interval_spins_on_the_clock_and_still_expires(void **state)
{
    struct sim *s = *state;
    struct counter c = {s, UINT64_MAX, 0};

    assert_int_equal(keel_wait_until(&s->hal, cond_at_time, &c, 50, 0), KEEL_ETIMEDOUT);
}

static void test_zero_timeout_checks_once(void **state)
{
    struct sim *s = *state;
    struct counter c = {s, 0, 0};

    assert_int_equal(keel_wait_until(&s->hal, cond_at_time, &c, 0, 0), KEEL_OK);
    assert_int_equal(c.calls, 1);
}

static void test_deadline_saturates_instead_of_wrapping(void **state)
{
    struct sim *s = *state;
    struct keel_deadline d = keel_deadline_in(&s->hal, UINT64_MAX);

    assert_true(d.at_us == UINT64_MAX);
    assert_false(keel_deadline_passed(&s->hal, d));
    d = keel_deadline_in(&s->hal, 10);
    assert_false(keel_deadline_passed(&s->hal, d));
    sim_advance(s, 10);
    assert_true(keel_deadline_passed(&s->hal, d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wait_returns_ok_when_condition_becomes_true_in_time,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_times_out_and_never_reports_success, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wait_checks_condition_once_more_at_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_zero_interval_spins_on_the_clock_and_still_expires,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_timeout_checks_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_saturates_instead_of_wrapping, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
