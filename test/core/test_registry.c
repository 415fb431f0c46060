/* SPDX-License-Identifier: MIT */
#include <sim/test_common.h>

#include <keel/error.h>
#include <keel/registry.h>
#include <sim/sim.h>

static struct keel_blkdev make_dev(const char *name)
{
    struct keel_blkdev d;
    struct keel_blkdev_info info = {0};
    snprintf(info.name, sizeof(info.name), "%s", name);
    info.sector_size = 512;
    keel_blkdev_init(&d, NULL, NULL, NULL, &info);
    return d;
}

static void test_add_find_and_iterate_in_order(void **state)
{
    struct keel_registry reg;
    struct keel_blkdev a = make_dev("nvme0n1"), b = make_dev("vda"), c = make_dev("sd0");
    (void)state;

    keel_registry_init(&reg, NULL);
    assert_int_equal(keel_registry_add(&reg, &a), KEEL_OK);
    assert_int_equal(keel_registry_add(&reg, &b), KEEL_OK);
    assert_int_equal(keel_registry_add(&reg, &c), KEEL_OK);
    assert_int_equal(keel_registry_count(&reg), 3);
    assert_ptr_equal(keel_registry_find(&reg, "vda"), &b);
    assert_null(keel_registry_find(&reg, "vdb"));
    assert_null(keel_registry_find(&reg, "vd")); /* exact names only */
    assert_ptr_equal(keel_registry_at(&reg, 0), &a);
    assert_ptr_equal(keel_registry_at(&reg, 2), &c);
    assert_null(keel_registry_at(&reg, 3));
}

static void test_duplicate_names_and_bad_devices_are_refused(void **state)
{
    struct keel_registry reg;
    struct keel_blkdev a = make_dev("vda"), a2 = make_dev("vda"), unnamed = make_dev("");
    (void)state;

    keel_registry_init(&reg, NULL);
    assert_int_equal(keel_registry_add(&reg, &a), KEEL_OK);
    assert_int_equal(keel_registry_add(&reg, &a2), KEEL_EEXIST);
    assert_int_equal(keel_registry_add(&reg, &unnamed), KEEL_EINVAL);
    assert_int_equal(keel_registry_add(&reg, NULL), KEEL_EINVAL);
    assert_int_equal(keel_registry_count(&reg), 1);
}

static void test_remove_keeps_order_of_the_rest(void **state)
{
    struct keel_registry reg;
    struct keel_blkdev a = make_dev("a"), b = make_dev("b"), c = make_dev("c");
    (void)state;

    keel_registry_init(&reg, NULL);
    keel_registry_add(&reg, &a);
    keel_registry_add(&reg, &b);
    keel_registry_add(&reg, &c);
    assert_int_equal(keel_registry_remove(&reg, &b), KEEL_OK);
    assert_int_equal(keel_registry_remove(&reg, &b), KEEL_ENOENT);
    assert_int_equal(keel_registry_count(&reg), 2);
    assert_ptr_equal(keel_registry_at(&reg, 0), &a);
    assert_ptr_equal(keel_registry_at(&reg, 1), &c);
    assert_null(keel_registry_find(&reg, "b"));
    assert_int_equal(keel_registry_add(&reg, &b), KEEL_OK); /* the name is free again */
}

static void test_capacity_is_static_and_full_is_reported(void **state)
{
    static struct keel_blkdev devs[KEEL_CONFIG_REGISTRY_MAX + 1];
    struct keel_registry reg;
    unsigned i;
    (void)state;

    keel_registry_init(&reg, NULL);
    for (i = 0; i <= KEEL_CONFIG_REGISTRY_MAX; i++) {
        char name[16];
        snprintf(name, sizeof(name), "d%u", i);
        devs[i] = make_dev(name);
    }
    for (i = 0; i < KEEL_CONFIG_REGISTRY_MAX; i++)
        assert_int_equal(keel_registry_add(&reg, &devs[i]), KEEL_OK);
    assert_int_equal(keel_registry_add(&reg, &devs[i]), KEEL_ENOSPC);
}

static void test_registry_takes_and_releases_the_hal_lock(void **state)
{
    struct sim *s = sim_create(1 << 16);
    struct keel_registry reg;
    struct keel_blkdev a = make_dev("a");
    (void)state;

    keel_registry_init(&reg, &s->hal);
    assert_int_equal(keel_registry_add(&reg, &a), KEEL_OK);
    assert_non_null(keel_registry_find(&reg, "a"));
    assert_int_equal(keel_registry_remove(&reg, &a), KEEL_OK);
    assert_int_equal(s->locks_held, 0); /* every lock released */
    sim_assert_clean(s);                /* and never taken twice */
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_and_iterate_in_order),
        cmocka_unit_test(test_duplicate_names_and_bad_devices_are_refused),
        cmocka_unit_test(test_remove_keeps_order_of_the_rest),
        cmocka_unit_test(test_capacity_is_static_and_full_is_reported),
        cmocka_unit_test(test_registry_takes_and_releases_the_hal_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
