/* SPDX-License-Identifier: MIT */
/* The simulated platform must catch the mistakes it exists to catch. */
#include <sim/test_common.h>

#include <keel/error.h>
#include <keel/hal.h>
#include <sim/sim.h>

static int setup(void **state)
{
    *state = sim_create(1 << 20);
    return 0;
}

static int teardown(void **state)
{
    sim_destroy(*state);
    return 0;
}

static void test_dma_alloc_gives_distinct_bus_and_cpu_addresses(void **state)
{
    struct sim *s = *state;
    struct keel_dma_mem m;
    uint8_t pattern[64];

    assert_int_equal(s->ops.dma_alloc(s, 4096, 4096, &m), KEEL_OK);
    assert_true(m.bus != (uint64_t)(uintptr_t)m.cpu);
    assert_int_equal(m.bus & 4095, 0);
    assert_int_equal((uintptr_t)m.cpu & 4095, 0);
    assert_int_equal(((uint8_t *)m.cpu)[100], 0); /* zeroed */
    memset(pattern, 0x3c, sizeof(pattern));
    assert_true(sim_dma_write(s, m.bus + 64, pattern, sizeof(pattern)));
    assert_int_equal(((uint8_t *)m.cpu)[64], 0x3c);
    /* A CPU pointer used as a bus address is caught. */
    assert_false(sim_dma_write(s, (uint64_t)(uintptr_t)m.cpu, pattern, 4));
    assert_int_equal(s->violations, 1);
}

static void test_translated_maps_are_scrambled_and_resolve_back(void **state)
{
    struct sim *s = *state;
    static uint8_t buf[5 * 4096];
    struct keel_dma_seg segs[8];
    unsigned n, i;
    void *cookie;
    size_t off = 0;
    uint8_t *start = buf + 100; /* unaligned start */
    size_t len = 4 * 4096;

    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i ^ (i >> 8));
    assert_int_equal(s->ops.dma_map(s, start, len, KEEL_DMA_TO_DEVICE, segs, 8, &n, &cookie),
                     KEEL_OK);
    assert_true(n > 1); /* pages are not bus-contiguous */
    for (i = 0; i < n; i++) {
        uint8_t tmp[4096];
        assert_true(segs[i].len <= sizeof(tmp));
        assert_true(sim_dma_read(s, segs[i].bus, tmp, segs[i].len));
        assert_memory_equal(tmp, start + off, segs[i].len);
        off += segs[i].len;
    }
    assert_int_equal(off, len);
    /* Bytes just before the buffer are not the device's to read. */
    assert_false(sim_dma_valid(s, segs[0].bus - 1, 1));
    s->ops.dma_unmap(s, cookie, start, len, KEEL_DMA_TO_DEVICE);
    /* After unmap the addresses are dead. */
    assert_false(sim_dma_valid(s, segs[0].bus, 1));
    assert_int_equal(s->ops.dma_map(s, start, len, KEEL_DMA_TO_DEVICE, segs, 1, &n, &cookie),
                     KEEL_ENOSPC);
    sim_assert_clean(s);
}

static void test_bounce_maps_need_unmap_to_deliver_data(void **state)
{
    struct sim *s = *state;
    uint8_t buf[600] = {0};
    uint8_t data[600];
    struct keel_dma_seg seg;
    unsigned n;
    void *cookie;

    s->map_mode = SIM_MAP_BOUNCE;
    memset(data, 0x99, sizeof(data));
    assert_int_equal(
        s->ops.dma_map(s, buf, sizeof(buf), KEEL_DMA_FROM_DEVICE, &seg, 1, &n, &cookie), KEEL_OK);
    assert_true(sim_dma_write(s, seg.bus, data, sizeof(data)));
    assert_int_equal(buf[0], 0); /* not visible until unmap */
    s->ops.dma_unmap(s, cookie, buf, sizeof(buf), KEEL_DMA_FROM_DEVICE);
    assert_memory_equal(buf, data, sizeof(data));
    sim_assert_clean(s);
}

static void test_leaked_mapping_and_bad_unmap_are_violations(void **state)
{
    struct sim *s = *state;
    uint8_t buf[64];
    struct keel_dma_seg seg;
    unsigned n;
    void *cookie;

    assert_int_equal(s->ops.dma_map(s, buf, sizeof(buf), KEEL_DMA_TO_DEVICE, &seg, 1, &n, &cookie),
                     KEEL_OK);
    assert_int_equal(s->maps_live, 1);
    s->ops.dma_unmap(s, cookie, buf, 32, KEEL_DMA_TO_DEVICE); /* wrong length */
    assert_int_equal(s->violations, 1);
    s->ops.dma_unmap(s, cookie, buf, sizeof(buf), KEEL_DMA_FROM_DEVICE); /* wrong direction */
    assert_int_equal(s->violations, 2);
    s->ops.dma_unmap(s, cookie, buf, sizeof(buf), KEEL_DMA_TO_DEVICE); /* double unmap */
    assert_int_equal(s->violations, 3);
}

static void record_time(void *arg)
{
    uint64_t *slot = arg;
    *slot = 1;
}

static void test_virtual_clock_runs_timers_when_time_passes(void **state)
{
    struct sim *s = *state;
    uint64_t fired_a = 0, fired_b = 0, t0;

    sim_timer_add(s, 100, record_time, &fired_a);
    sim_timer_add(s, 1000, record_time, &fired_b);
    t0 = s->hal.ops->time_us(s->hal.ctx);
    assert_true(s->hal.ops->time_us(s->hal.ctx) > t0); /* every read moves the clock */
    assert_false(fired_a);
    s->hal.ops->delay_us(s->hal.ctx, 150);
    assert_true(fired_a);
    assert_false(fired_b);
    sim_advance(s, 1000);
    assert_true(fired_b);
}

static unsigned handler_runs;
static void irq_handler(void *arg)
{
    (void)arg;
    handler_runs++;
}

static void test_masked_interrupts_stay_pending_until_unmasked(void **state)
{
    struct sim *s = *state;
    struct keel_irq_src src = {KEEL_IRQ_LINE, {0, 0, 0, 0}, 48, 0};
    uint32_t h;
    uint64_t addr;
    uint32_t data;

    handler_runs = 0;
    assert_int_equal(s->ops.irq_attach(s, &src, irq_handler, NULL, &h), KEEL_OK);
    assert_int_equal(sim_irq_find(s, KEEL_IRQ_LINE, src.pci, 48), (int)h);
    sim_irq_raise(s, (int)h); /* sources start masked */
    assert_int_equal(handler_runs, 0);
    s->ops.irq_mask(s, h, false);
    assert_int_equal(handler_runs, 1);
    sim_irq_raise(s, (int)h);
    assert_int_equal(handler_runs, 2);
    assert_int_equal(s->ops.msi_compose(s, h, &addr, &data), KEEL_OK);
    sim_msi_write(s, addr, data);
    assert_int_equal(handler_runs, 3);
    sim_msi_write(s, addr, 0x12345678u); /* not a message the HAL composed */
    assert_int_equal(s->violations, 1);
}

static void test_faults_fire_after_skip_for_count(void **state)
{
    struct sim *s = *state;
    uint64_t p = 0;
    unsigned i, hits = 0;

    sim_fault_arm(s, 1234, 2, 3, 77);
    for (i = 0; i < 10; i++)
        if (sim_fault_hit(s, 1234, &p)) {
            hits++;
            assert_true(i >= 2 && i < 5);
        }
    assert_int_equal(hits, 3);
    assert_true(p == 77);
    assert_int_equal(sim_fault_fired(s, 1234), 3);
    assert_false(sim_fault_hit(s, 999, NULL));
}

static uint32_t reg_val = 0x11223344u;
static uint32_t reg_read(void *dev, uint64_t off, unsigned width)
{
    (void)dev;
    (void)width;
    return off == 0 ? reg_val : 0;
}
static void reg_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    (void)dev;
    (void)width;
    if (off == 0)
        reg_val = val;
}
static const struct sim_region_ops reg_ops = {reg_read, reg_write};

static void test_pci_bar_sizing_and_region_follow_the_bar(void **state)
{
    struct sim *s = *state;
    struct keel_pci_addr a = {0, 0, 3, 0};
    struct sim_pci_fn *fn = sim_pci_add(s, a, 0x1b36, 0x0010, 0x01080200u);
    uint32_t v;

    sim_pci_bar(s, fn, 0, 0x4000, false, true, &reg_ops, NULL);
    s->ops.pci_cfg_write(s, a, 0x10, 4, 0xffffffffu);
    s->ops.pci_cfg_read(s, a, 0x10, 4, &v);
    assert_int_equal(v, 0xffffc004u); /* 16 KiB, 64-bit memory */
    s->ops.pci_cfg_write(s, a, 0x14, 4, 0xffffffffu);
    s->ops.pci_cfg_read(s, a, 0x14, 4, &v);
    assert_int_equal(v, 0xffffffffu);
    s->ops.pci_cfg_write(s, a, 0x10, 4, 0xfeb00000u);
    s->ops.pci_cfg_write(s, a, 0x14, 4, 0x1u); /* above 4 GiB */
    /* Decode off: the register window is not there yet. */
    assert_int_equal(s->ops.mmio_read32(s, 0x1feb00000ull), 0xffffffffu);
    assert_int_equal(s->violations, 1);
    s->ops.pci_cfg_write(s, a, 0x04, 2, 0x6);
    assert_int_equal(s->ops.mmio_read32(s, 0x1feb00000ull), 0x11223344u);
    s->ops.mmio_write16(s, 0x1feb00001ull, 1); /* misaligned */
    assert_int_equal(s->violations, 2);
    /* An absent function reads as all-ones. */
    s->ops.pci_cfg_read(s, (struct keel_pci_addr){0, 0, 4, 0}, 0, 4, &v);
    assert_int_equal(v, 0xffffffffu);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_dma_alloc_gives_distinct_bus_and_cpu_addresses),
        T(test_translated_maps_are_scrambled_and_resolve_back),
        T(test_bounce_maps_need_unmap_to_deliver_data),
        T(test_leaked_mapping_and_bad_unmap_are_violations),
        T(test_virtual_clock_runs_timers_when_time_passes),
        T(test_masked_interrupts_stay_pending_until_unmasked),
        T(test_faults_fire_after_skip_for_count),
        T(test_pci_bar_sizing_and_region_follow_the_bar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
