/* SPDX-License-Identifier: MIT */
#include <sim/test_common.h>

#include <keel/error.h>
#include <keel/hal.h>
#include <sim/sim.h>

static void test_complete_hal_passes(void **state)
{
    struct sim *s = sim_create(1 << 16);
    (void)state;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_OK);
    sim_destroy(s);
}

static void test_other_abi_major_is_refused(void **state)
{
    struct sim *s = sim_create(1 << 16);
    (void)state;
    s->ops.abi_version = (KEEL_HAL_ABI_MAJOR + 1u) << 16;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops.abi_version = KEEL_HAL_ABI_VERSION + 1u; /* a newer minor is compatible */
    assert_int_equal(keel_hal_check(&s->hal), KEEL_OK);
    sim_destroy(s);
}

static void test_missing_required_hooks_are_refused(void **state)
{
    struct sim *s = sim_create(1 << 16);
    struct keel_hal_ops saved = s->ops;
    (void)state;

    assert_int_equal(keel_hal_check(NULL), KEEL_EHAL);
    s->ops.mmio_read32 = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops = saved;
    s->ops.dma_map = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops = saved;
    s->ops.time_us = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops = saved;
    s->ops.barrier = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    sim_destroy(s);
}

static void test_optional_groups_may_be_absent_but_not_half_present(void **state)
{
    struct sim *s = sim_create(1 << 16);
    struct keel_hal_ops saved = s->ops;
    (void)state;

    /* A poll-only, lock-free, PCI-less platform (virtio-mmio on an MCU) is valid. */
    s->ops.pio_read8 = NULL;
    s->ops.pio_read16 = NULL;
    s->ops.pio_read32 = NULL;
    s->ops.pio_write8 = NULL;
    s->ops.pio_write16 = NULL;
    s->ops.pio_write32 = NULL;
    s->ops.pci_cfg_read = NULL;
    s->ops.pci_cfg_write = NULL;
    s->ops.irq_attach = NULL;
    s->ops.lock = NULL;
    s->ops.unlock = NULL;
    s->ops.log = NULL;
    s->ops.dma_sync = NULL;
    s->ops.io_map = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_OK);
    s->ops = saved;
    s->ops.unlock = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops = saved;
    s->ops.pci_cfg_write = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops = saved;
    s->ops.irq_mask = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    sim_destroy(s);
}

/* Each half-filled group a driver would call through without a NULL check is refused. */
static void test_half_port_io_group_and_missing_eoi_are_refused(void **state)
{
    struct sim *s = sim_create(1 << 16);
    struct keel_hal_ops saved = s->ops;
    (void)state;

    s->ops.pio_read8 = NULL; /* the other five stay */
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops = saved;
    s->ops.pio_write32 = NULL;
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops = saved;
    s->ops.irq_eoi = NULL; /* INTx handlers end every interrupt through it */
    assert_int_equal(keel_hal_check(&s->hal), KEEL_EHAL);
    s->ops = saved;
    s->ops.msi_compose = NULL; /* INTx-only platforms are fine */
    assert_int_equal(keel_hal_check(&s->hal), KEEL_OK);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_hal_passes),
        cmocka_unit_test(test_other_abi_major_is_refused),
        cmocka_unit_test(test_missing_required_hooks_are_refused),
        cmocka_unit_test(test_optional_groups_may_be_absent_but_not_half_present),
        cmocka_unit_test(test_half_port_io_group_and_missing_eoi_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
