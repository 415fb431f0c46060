/* SPDX-License-Identifier: MIT */
/*
 * PCI helpers against the simulated configuration space: enumeration, BAR decode and sizing, BAR
 * assignment, capability walks (including corrupt lists) and MSI-X programming end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keel/error.h>
#include <keel/pci.h>
#include <sim/sim.h>

#define CLASS_NVME 0x01080200u /* class 01 (storage), subclass 08 (NVM), prog-if 02 */

static struct keel_pci_addr pci_at(uint8_t bus, uint8_t dev, uint8_t fn)
{
    struct keel_pci_addr a = {0, bus, dev, fn};
    return a;
}

/* ---- a trivial register file behind BARs, and an event log for ordering checks ---- */

enum ev_kind { EV_WRITE = 1, EV_BARRIER = 2 };

struct event {
    enum ev_kind kind;
    uint64_t off;
    uint32_t val;
    uint32_t vctrl; /* MSI-X: the entry's vector control when the write happened */
    enum keel_barrier barrier;
};

struct model {
    struct sim *s;
    struct sim_msix msix;
    bool has_msix;
    uint32_t table_off, pba_off;
    uint32_t regs[64];
    unsigned reads, writes;
    struct event log[64];
    unsigned nlog;
};

static struct model *g_model; /* for the barrier hook, which only gets the sim */
static void (*g_sim_barrier)(void *ctx, enum keel_barrier kind);

static void log_event(struct model *m, struct event e)
{
    if (m->nlog < 64u)
        m->log[m->nlog++] = e;
}

static void barrier_hook(void *ctx, enum keel_barrier kind)
{
    if (g_model != NULL)
        log_event(g_model, (struct event){EV_BARRIER, 0, 0, 0, kind});
    g_sim_barrier(ctx, kind);
}

static bool in_table(const struct model *m, uint64_t off)
{
    return m->has_msix && off >= m->table_off && off < m->table_off + 16u * m->msix.nvec;
}

static uint32_t model_read(void *dev, uint64_t off, unsigned width)
{
    struct model *m = dev;

    m->reads++;
    if (in_table(m, off))
        return sim_msix_table_read(&m->msix, off - m->table_off, width);
    if (m->has_msix && off >= m->pba_off && off < m->pba_off + 8u)
        return sim_msix_pba_read(&m->msix, off - m->pba_off, width);
    return off / 4u < 64u ? m->regs[off / 4u] : 0u;
}

static void model_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct model *m = dev;

    m->writes++;
    if (in_table(m, off)) {
        uint64_t e = (off - m->table_off) / 16u;
        log_event(m, (struct event){EV_WRITE, off - m->table_off, val, m->msix.table[e][3], 0});
        sim_msix_table_write(&m->msix, off - m->table_off, width, val);
        return;
    }
    if (off / 4u < 64u)
        m->regs[off / 4u] = val;
}

static const struct sim_region_ops model_ops = {model_read, model_write};

struct fixture {
    struct sim *s;
    struct model *m;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->s = sim_create(1u << 20);
    f->m = calloc(1, sizeof(*f->m));
    f->m->s = f->s;
    g_model = f->m;
    g_sim_barrier = f->s->ops.barrier;
    f->s->ops.barrier = barrier_hook;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    g_model = NULL;
    sim_destroy(f->s);
    free(f->m);
    free(f);
    return 0;
}

/* ---- configuration access ---- */

static void test_config_access_without_pci_hooks_is_enotsup(void **state)
{
    struct fixture *f = *state;
    uint32_t v;

    f->s->ops.pci_cfg_read = NULL;
    f->s->ops.pci_cfg_write = NULL;
    assert_int_equal(keel_pci_read(&f->s->hal, pci_at(0, 0, 0), 0, 4, &v), KEEL_ENOTSUP);
    assert_int_equal(keel_pci_write(&f->s->hal, pci_at(0, 0, 0), 4, 2, 0), KEEL_ENOTSUP);
    assert_int_equal(keel_pci_read16(&f->s->hal, pci_at(0, 0, 0), 0), 0xffff);
    sim_assert_clean(f->s);
}

static void test_config_access_rejects_bad_width_and_alignment(void **state)
{
    struct fixture *f = *state;
    uint32_t v;

    sim_pci_add(f->s, pci_at(0, 1, 0), 0x1b36, 0x0010, CLASS_NVME);
    assert_int_equal(keel_pci_read(&f->s->hal, pci_at(0, 1, 0), 0, 3, &v), KEEL_EINVAL);
    assert_int_equal(keel_pci_read(&f->s->hal, pci_at(0, 1, 0), 2, 4, &v), KEEL_EINVAL);
    assert_int_equal(keel_pci_read(&f->s->hal, pci_at(0, 1, 0), 4096, 1, &v), KEEL_EINVAL);
    assert_int_equal(keel_pci_read(&f->s->hal, pci_at(0, 1, 0), 0, 4, &v), KEEL_OK);
    assert_int_equal(v, 0x00101b36u);
    sim_assert_clean(f->s); /* nothing invalid reached the HAL */
}

static void test_absent_function_reads_all_ones_and_probes_enodev(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_fn fn;

    assert_int_equal(keel_pci_read8(&f->s->hal, pci_at(0, 5, 0), 0), 0xff);
    assert_int_equal(keel_pci_read32(&f->s->hal, pci_at(0, 5, 0), 0), 0xffffffffu);
    assert_int_equal(keel_pci_probe_fn(&f->s->hal, pci_at(0, 5, 0), &fn), KEEL_ENODEV);
    sim_assert_clean(f->s);
}

static void test_probe_decodes_identity_fields(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = sim_pci_add(f->s, pci_at(0, 3, 0), 0x1af4, 0x1042, 0x01000001u);
    struct keel_pci_fn fn;

    sim_pci_cfg_put(sf, KEEL_PCI_SUBSYS_ID, 2, 0x0002);
    assert_int_equal(keel_pci_probe_fn(&f->s->hal, pci_at(0, 3, 0), &fn), KEEL_OK);
    assert_int_equal(fn.vendor, 0x1af4);
    assert_int_equal(fn.device, 0x1042);
    assert_int_equal(fn.class_code, 0x01);
    assert_int_equal(fn.subclass, 0x00);
    assert_int_equal(fn.prog_if, 0x00);
    assert_int_equal(fn.revision, 0x01);
    assert_int_equal(fn.header_type, 0);
    assert_false(fn.multifunction);
    assert_int_equal(fn.subsys_id, 0x0002);
    assert_int_equal(fn.addr.dev, 3);
}

/* ---- enumeration ---- */

struct visits {
    struct keel_pci_fn seen[16];
    unsigned n;
    unsigned stop_at; /* return non-zero on this visit (1-based); 0: never */
};

static int record_visit(void *arg, const struct keel_pci_fn *fn)
{
    struct visits *v = arg;

    if (v->n < 16u)
        v->seen[v->n] = *fn;
    v->n++;
    return v->n == v->stop_at ? 42 : 0;
}

static void expect_visit(const struct visits *v, unsigned i, uint8_t bus, uint8_t dev, uint8_t fn)
{
    assert_int_equal(v->seen[i].addr.bus, bus);
    assert_int_equal(v->seen[i].addr.dev, dev);
    assert_int_equal(v->seen[i].addr.fn, fn);
}

/* A topology with a single-function device that answers on fn 1 too, and a sparse multi-function.
 */
static void add_topology(struct sim *s)
{
    struct sim_pci_fn *mf;

    sim_pci_add(s, pci_at(0, 0, 0), 0x8086, 0x29c0, 0x06000000u);
    sim_pci_add(s, pci_at(0, 0, 1), 0x8086, 0xdead, 0x06000000u); /* must not be visited */
    mf = sim_pci_add(s, pci_at(0, 2, 0), 0x1b36, 0x0010, CLASS_NVME);
    sim_pci_cfg_put(mf, KEEL_PCI_HEADER_TYPE, 1, 0x80);
    sim_pci_add(s, pci_at(0, 2, 3), 0x1b36, 0x0011, CLASS_NVME);
    sim_pci_add(s, pci_at(0, 2, 7), 0x1b36, 0x0012, CLASS_NVME);
    sim_pci_add(s, pci_at(1, 31, 0), 0x1af4, 0x1001, 0x01000000u);
    sim_pci_add(s, pci_at(255, 4, 0), 0x1af4, 0x1004, 0x01000000u);
}

static void test_scan_honours_multifunction_bit_and_skips_gaps(void **state)
{
    struct fixture *f = *state;
    struct visits v = {0};

    add_topology(f->s);
    assert_int_equal(keel_pci_scan(&f->s->hal, 0, 0, 1, record_visit, &v), 0);
    assert_int_equal(v.n, 5);
    expect_visit(&v, 0, 0, 0, 0);
    expect_visit(&v, 1, 0, 2, 0);
    assert_true(v.seen[1].multifunction);
    expect_visit(&v, 2, 0, 2, 3);
    expect_visit(&v, 3, 0, 2, 7);
    assert_int_equal(v.seen[3].device, 0x0012);
    expect_visit(&v, 4, 1, 31, 0);
    sim_assert_clean(f->s);
}

static void test_scan_reaches_bus_255_and_terminates(void **state)
{
    struct fixture *f = *state;
    struct visits v = {0};

    add_topology(f->s);
    assert_int_equal(keel_pci_scan(&f->s->hal, 0, 254, 255, record_visit, &v), 0);
    assert_int_equal(v.n, 1);
    expect_visit(&v, 0, 255, 4, 0);
}

static void test_scan_stops_with_visitor_result(void **state)
{
    struct fixture *f = *state;
    struct visits v = {.stop_at = 2};

    add_topology(f->s);
    assert_int_equal(keel_pci_scan(&f->s->hal, 0, 0, 255, record_visit, &v), 42);
    assert_int_equal(v.n, 2);
    assert_int_equal(keel_pci_scan(&f->s->hal, 0, 3, 2, record_visit, &v), KEEL_EINVAL);
}

/* ---- BAR decode and sizing ---- */

struct sizing_watch {
    struct sim_pci_fn *fn;
    unsigned ones_writes;
    unsigned ones_with_decode; /* all-ones BAR writes while memory or I/O decode was on */
};

static void watch_cfg_write(void *dev, uint16_t off, unsigned width, uint32_t val)
{
    struct sizing_watch *w = dev;
    uint16_t cmd = (uint16_t)sim_pci_cfg_get(w->fn, KEEL_PCI_COMMAND, 2);

    if (off >= 0x10 && off < 0x28 && width == 4 && val == 0xffffffffu) {
        w->ones_writes++;
        if (cmd & (KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_IO))
            w->ones_with_decode++;
    }
}

/* BAR0 32-bit 16 KiB, BAR1 unimplemented, BAR2/3 64-bit 8 GiB prefetchable, BAR4 I/O 64 bytes. */
static struct sim_pci_fn *add_bar_fn(struct fixture *f, struct keel_pci_addr a)
{
    struct sim_pci_fn *sf = sim_pci_add(f->s, a, 0x1b36, 0x0010, CLASS_NVME);

    assert_true(sim_pci_bar(f->s, sf, 0, 0x4000, false, false, &model_ops, f->m) >= 0);
    assert_true(sim_pci_bar(f->s, sf, 2, 0x200000000ull, false, true, &model_ops, f->m) >= 0);
    sim_pci_cfg_put(sf, 0x18, 4, sim_pci_cfg_get(sf, 0x18, 4) | 0x8u); /* prefetchable */
    assert_true(sim_pci_bar(f->s, sf, 4, 0x40, true, false, &model_ops, f->m) >= 0);
    return sf;
}

static void test_bar_sizing_32bit_memory(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_bar_fn(f, pci_at(0, 1, 0));
    struct keel_pci_bar b;

    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b), KEEL_OK);
    assert_true(b.size == 0x4000u && b.addr == 0u);
    assert_false(b.is_io || b.is_64 || b.prefetchable);
    sim_pci_bar_set(f->s, sf, 0, 0xfebf4000u);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b), KEEL_OK);
    assert_true(b.size == 0x4000u && b.addr == 0xfebf4000u);
    sim_assert_clean(f->s);
}

static void test_bar_sizing_64bit_memory_above_4g(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_bar_fn(f, pci_at(0, 1, 0));
    struct keel_pci_bar b;

    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 2, &b), KEEL_OK);
    assert_true(b.size == 0x200000000ull);
    assert_true(b.is_64 && b.prefetchable && !b.is_io);
    sim_pci_bar_set(f->s, sf, 2, 0x8400000000ull);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 2, &b), KEEL_OK);
    assert_true(b.addr == 0x8400000000ull && b.size == 0x200000000ull);
    /* BAR3 is BAR2's upper half, not a BAR of its own. */
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 3, &b), KEEL_EINVAL);
    sim_assert_clean(f->s);
}

static void test_bar_sizing_io(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_bar_fn(f, pci_at(0, 1, 0));
    struct keel_pci_bar b;

    sim_pci_bar_set(f->s, sf, 4, 0xc040u);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 4, &b), KEEL_OK);
    assert_true(b.is_io && !b.is_64 && !b.prefetchable);
    assert_true(b.size == 0x40u && b.addr == 0xc040u);
    sim_assert_clean(f->s);
}

static void test_bar_unimplemented_has_size_zero(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_bar b;

    add_bar_fn(f, pci_at(0, 1, 0));
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 1, &b), KEEL_OK);
    assert_true(b.size == 0u && b.addr == 0u);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 5, &b), KEEL_OK);
    assert_true(b.size == 0u);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 6, &b), KEEL_EINVAL);
    sim_assert_clean(f->s);
}

static void test_bar_sizing_disables_decode_and_restores_everything(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_bar_fn(f, pci_at(0, 1, 0));
    struct sizing_watch w = {sf, 0, 0};
    struct keel_pci_bar b;
    uint32_t before[6];
    unsigned i;

    sim_pci_bar_set(f->s, sf, 0, 0xfebf0000u);
    sim_pci_bar_set(f->s, sf, 2, 0x8000000000ull);
    sim_pci_bar_set(f->s, sf, 4, 0xc000u);
    assert_int_equal(keel_pci_enable(&f->s->hal, pci_at(0, 1, 0),
                                     KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_IO | KEEL_PCI_CMD_MASTER, 0),
                     KEEL_OK);
    for (i = 0; i < 6; i++)
        before[i] = sim_pci_cfg_get(sf, (uint16_t)(0x10 + 4 * i), 4);
    sf->cfg_write_hook = watch_cfg_write;
    sf->dev = &w;
    for (i = 0; i < 6; i++)
        if (i != 3)
            assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), i, &b), KEEL_OK);
    assert_int_equal(w.ones_writes, 6); /* BAR0, BAR1, BAR2, BAR3 (upper half), BAR4, BAR5 */
    assert_int_equal(w.ones_with_decode, 0);
    for (i = 0; i < 6; i++)
        assert_int_equal(sim_pci_cfg_get(sf, (uint16_t)(0x10 + 4 * i), 4), before[i]);
    assert_int_equal(sim_pci_cfg_get(sf, KEEL_PCI_COMMAND, 2),
                     KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_IO | KEEL_PCI_CMD_MASTER);
    sim_assert_clean(f->s);
}

static void test_bar_decode_of_bridge_has_two_bars(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = sim_pci_add(f->s, pci_at(0, 1, 0), 0x8086, 0x1234, 0x06040000u);
    struct keel_pci_bar b;

    sim_pci_cfg_put(sf, KEEL_PCI_HEADER_TYPE, 1, 0x01);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 1, &b), KEEL_OK);
    /* Offset 0x18 is the bridge's bus numbers, not a BAR. */
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 2, &b), KEEL_EINVAL);
}

/* ---- BAR assignment ---- */

static struct keel_pci_windows windows(void)
{
    struct keel_pci_windows w = {0};

    w.mem32 = (struct keel_pci_window){0xc0000100u, 0x01000000u, 0xc0000100u, 0};
    w.mem64 = (struct keel_pci_window){0x8000000000ull, 0x400000000ull, 0x8000000000ull, 0};
    w.io = (struct keel_pci_window){0xc004u, 0x1000u, 0xc004u, 0};
    return w;
}

static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return a < b + bn && b < a + an;
}

static void test_assign_bars_naturally_aligned_and_decode_enabled(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_windows w = windows();
    struct keel_pci_bar b0, b2, b4;
    struct keel_region r;

    add_bar_fn(f, pci_at(0, 1, 0));
    assert_int_equal(keel_pci_assign_bars(&f->s->hal, pci_at(0, 1, 0), &w), KEEL_OK);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b0), KEEL_OK);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 2, &b2), KEEL_OK);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 4, &b4), KEEL_OK);
    assert_true(b0.addr >= 0xc0000100u && (b0.addr & (b0.size - 1u)) == 0u);
    assert_true(b0.addr + b0.size <= 0xc1000100u);
    assert_true(b2.addr >= 0x8000000000ull && (b2.addr & (b2.size - 1u)) == 0u);
    assert_true(b2.addr + b2.size <= 0x8400000000ull);
    assert_true(b4.addr >= 0xc004u && (b4.addr & 0x3fu) == 0u && b4.addr + 0x40u <= 0xd004u);
    assert_int_equal(keel_pci_read16(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_COMMAND),
                     KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_IO);
    /* The assigned BARs decode: registers answer at their new addresses. */
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 0, 0, &r), KEEL_OK);
    keel_region_write32(&r, 8, 0x1234u);
    assert_int_equal(keel_region_read32(&r, 8), 0x1234u);
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 4, 0, &r), KEEL_OK);
    assert_false(r.is_mmio);
    assert_int_equal(keel_region_read32(&r, 8), 0x1234u); /* same model behind both BARs */
    sim_assert_clean(f->s);
}

static void test_assign_bars_keeps_preassigned_bars(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_windows w = windows();
    struct sim_pci_fn *sf = add_bar_fn(f, pci_at(0, 1, 0));
    struct keel_pci_bar b0, b2;

    sim_pci_bar_set(f->s, sf, 2, 0x7000000000ull); /* outside the windows: firmware's choice */
    assert_int_equal(keel_pci_assign_bars(&f->s->hal, pci_at(0, 1, 0), &w), KEEL_OK);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 2, &b2), KEEL_OK);
    assert_true(b2.addr == 0x7000000000ull);
    assert_true(w.mem64.next == 0x8000000000ull); /* nothing taken from mem64 */
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b0), KEEL_OK);
    assert_true(b0.addr != 0u);
    sim_assert_clean(f->s);
}

static void test_assign_bars_window_exhaustion_is_enomem(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_windows w = {0};
    struct sim_pci_fn *sf = sim_pci_add(f->s, pci_at(0, 1, 0), 0x1b36, 0x0010, CLASS_NVME);
    struct keel_pci_bar b;

    sim_pci_bar(f->s, sf, 0, 0x1000, false, false, &model_ops, f->m);
    sim_pci_bar(f->s, sf, 1, 0x2000, false, false, &model_ops, f->m);
    w.mem32 = (struct keel_pci_window){0xd0000800u, 0x2000u, 0xd0000800u, 0};
    /* BAR0 fits at 0xd0001000; BAR1 would need 0xd0002000..0xd0004000, past the window's end. */
    assert_int_equal(keel_pci_assign_bars(&f->s->hal, pci_at(0, 1, 0), &w), KEEL_ENOMEM);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b), KEEL_OK);
    assert_true(b.addr == 0xd0001000u);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 1, &b), KEEL_OK);
    assert_true(b.addr == 0u);
    assert_true(w.mem32.next == 0xd0002000u);
    assert_int_equal(
        keel_pci_read16(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_COMMAND) & KEEL_PCI_CMD_MEM, 0);
    sim_assert_clean(f->s);
}

static void test_assign_bars_never_puts_a_32bit_bar_above_4g(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_windows w = {0};
    struct sim_pci_fn *sf = sim_pci_add(f->s, pci_at(0, 1, 0), 0x1b36, 0x0010, CLASS_NVME);
    struct keel_pci_bar b;

    sim_pci_bar(f->s, sf, 0, 0x1000, false, false, &model_ops, f->m);
    w.mem32 = (struct keel_pci_window){0xfffff000u, 0x100002000ull, 0xfffff800u, 0};
    /* Natural alignment lands at 4 GiB exactly: a 32-bit BAR cannot hold that address. */
    assert_int_equal(keel_pci_assign_bars(&f->s->hal, pci_at(0, 1, 0), &w), KEEL_ENOMEM);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b), KEEL_OK);
    assert_true(b.addr == 0u);
    w.mem32.next = 0xfffff000u; /* the last page below 4 GiB still fits */
    assert_int_equal(keel_pci_assign_bars(&f->s->hal, pci_at(0, 1, 0), &w), KEEL_OK);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b), KEEL_OK);
    assert_true(b.addr == 0xfffff000u);
    sim_assert_clean(f->s);
}

static void test_assign_bars_64bit_falls_back_to_mem32_and_io_needs_window(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_windows w = {0};
    struct sim_pci_fn *sf = sim_pci_add(f->s, pci_at(0, 1, 0), 0x1b36, 0x0010, CLASS_NVME);
    struct keel_pci_bar b0, b2, b3;

    sim_pci_bar(f->s, sf, 0, 0x100000, false, true, &model_ops, f->m);
    sim_pci_bar(f->s, sf, 2, 0x1000, false, false, &model_ops, f->m);
    sim_pci_bar(f->s, sf, 3, 0x20, true, false, &model_ops, f->m);
    w.mem32 = (struct keel_pci_window){0x80000000u, 0x10000000u, 0x80000000u, 0};
    assert_int_equal(keel_pci_assign_bars(&f->s->hal, pci_at(0, 1, 0), &w), KEEL_OK);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b0), KEEL_OK);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 2, &b2), KEEL_OK);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 3, &b3), KEEL_OK);
    assert_true(b0.is_64 && b0.addr == 0x80000000u);
    assert_true(b2.addr == 0x80100000u);
    assert_true(b3.is_io && b3.addr == 0u); /* no I/O window: left alone, I/O decode stays off */
    assert_int_equal(keel_pci_read16(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_COMMAND),
                     KEEL_PCI_CMD_MEM);
    sim_assert_clean(f->s);
}

static void test_assign_bars_shares_windows_between_functions(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_windows w = windows();
    struct keel_pci_bar a0, a2, b0, b2;

    add_bar_fn(f, pci_at(0, 1, 0));
    add_bar_fn(f, pci_at(0, 2, 0));
    assert_int_equal(keel_pci_assign_bars(&f->s->hal, pci_at(0, 1, 0), &w), KEEL_OK);
    assert_int_equal(keel_pci_assign_bars(&f->s->hal, pci_at(0, 2, 0), &w), KEEL_OK);
    keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &a0);
    keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 2, &a2);
    keel_pci_bar_decode(&f->s->hal, pci_at(0, 2, 0), 0, &b0);
    keel_pci_bar_decode(&f->s->hal, pci_at(0, 2, 0), 2, &b2);
    assert_false(overlaps(a0.addr, a0.size, b0.addr, b0.size));
    assert_false(overlaps(a2.addr, a2.size, b2.addr, b2.size));
    assert_true((b2.addr & (b2.size - 1u)) == 0u);
    sim_assert_clean(f->s);
}

/* ---- BAR mapping ---- */

struct map_call {
    unsigned calls;
    uint64_t phys, size;
    bool is_pio;
};
static struct map_call g_map;

static int recording_io_map(void *ctx, uint64_t phys, uint64_t size, bool is_pio,
                            keel_io_addr_t *out, bool *is_mmio_out)
{
    (void)ctx;
    g_map = (struct map_call){g_map.calls + 1u, phys, size, is_pio};
    *out = (keel_io_addr_t)phys;
    *is_mmio_out = !is_pio;
    return KEEL_OK;
}

static void test_bar_region_goes_through_io_map_with_cpu_offset(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_bar_fn(f, pci_at(0, 1, 0));
    struct keel_region r;

    sim_pci_bar_set(f->s, sf, 2, 0x8000000000ull);
    f->s->ops.io_map = recording_io_map;
    g_map = (struct map_call){0};
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 2, 0x1000, &r), KEEL_OK);
    assert_int_equal(g_map.calls, 1);
    assert_true(g_map.phys == 0x8000001000ull && g_map.size == 0x200000000ull);
    assert_false(g_map.is_pio);
    assert_true(r.is_mmio && r.base == (keel_io_addr_t)0x8000001000ull);
    assert_true(r.hal == &f->s->hal && r.size == 0x200000000ull);
}

/* An io_map that hands back a window too close to the top of the CPU's addresses. */
static int top_of_space_io_map(void *ctx, uint64_t phys, uint64_t size, bool is_pio,
                               keel_io_addr_t *out, bool *is_mmio_out)
{
    (void)ctx;
    (void)phys;
    (void)size;
    *out = UINTPTR_MAX - 0xfffu; /* 4 KiB left: a 16 KiB BAR's registers would wrap */
    *is_mmio_out = !is_pio;
    return KEEL_OK;
}

static void test_bar_region_refuses_a_mapping_whose_offsets_would_wrap(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_bar_fn(f, pci_at(0, 1, 0));
    struct keel_region r;

    sim_pci_bar_set(f->s, sf, 0, 0xfebf4000u);
    f->s->ops.io_map = top_of_space_io_map;
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 0, 0, &r), KEEL_ERANGE);
    sim_assert_clean(f->s);
}

static void test_bar_region_is_identity_without_io_map(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_bar_fn(f, pci_at(0, 1, 0));
    struct keel_region r;

    sim_pci_bar_set(f->s, sf, 0, 0xfe000000u);
    sim_pci_bar_set(f->s, sf, 4, 0xc000u);
    keel_pci_enable(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_IO, 0);
    f->s->ops.io_map = NULL;
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 0, 0, &r), KEEL_OK);
    assert_true(r.is_mmio && r.base == 0xfe000000u && r.size == 0x4000u);
    keel_region_write32(&r, 4, 0xabcdu);
    assert_int_equal(f->m->regs[1], 0xabcdu);
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 4, 0, &r), KEEL_OK);
    assert_true(!r.is_mmio && r.base == 0xc000u);
    assert_int_equal(keel_region_read32(&r, 4), 0xabcdu);
    /* An I/O BAR on a platform with neither io_map nor port I/O cannot be reached. */
    f->s->ops.pio_read8 = NULL;
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 4, 0, &r), KEEL_ENOTSUP);
    sim_assert_clean(f->s);
}

static void test_bar_region_of_unassigned_or_unimplemented_bar_is_enodev(void **state)
{
    struct fixture *f = *state;
    struct keel_region r;

    add_bar_fn(f, pci_at(0, 1, 0));
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 0, 0, &r), KEEL_ENODEV);
    assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 1, 0), 1, 0, &r), KEEL_ENODEV);
}

/* ---- capability walk ---- */

/* Capabilities: VNDR, MSI, VNDR, EXP; returns their offsets in `off`. */
static struct sim_pci_fn *add_cap_fn(struct fixture *f, uint16_t off[4])
{
    struct sim_pci_fn *sf = sim_pci_add(f->s, pci_at(0, 1, 0), 0x1af4, 0x1042, 0x01000000u);
    uint8_t body[16] = {0};

    off[0] = sim_pci_cap_add(sf, KEEL_PCI_CAP_ID_VNDR, body, 16);
    off[1] = sim_pci_cap_add(sf, KEEL_PCI_CAP_ID_MSI, body, 12);
    off[2] = sim_pci_cap_add(sf, KEEL_PCI_CAP_ID_VNDR, body, 16);
    off[3] = sim_pci_cap_add(sf, KEEL_PCI_CAP_ID_EXP, body, 8);
    return sf;
}

static void test_find_cap_walks_list_and_continues_after_start(void **state)
{
    struct fixture *f = *state;
    uint16_t off[4], at;

    add_cap_fn(f, off);
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_VNDR, 0, &at),
                     KEEL_OK);
    assert_int_equal(at, off[0]);
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_VNDR, at, &at),
                     KEEL_OK);
    assert_int_equal(at, off[2]);
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_VNDR, at, &at),
                     KEEL_ENOENT);
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_EXP, 0, &at),
                     KEEL_OK);
    assert_int_equal(at, off[3]);
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_MSIX, 0, &at),
                     KEEL_ENOENT);
    /* `start` must be one of the list's capabilities. */
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_EXP, 0x44, &at),
                     KEEL_EINVAL);
    sim_assert_clean(f->s);
}

static void test_find_cap_without_capability_list_is_enoent(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf;
    uint16_t off[4], at;

    sf = add_cap_fn(f, off);
    sf->cfg[KEEL_PCI_STATUS] &= (uint8_t)~KEEL_PCI_STATUS_CAP_LIST;
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_MSI, 0, &at),
                     KEEL_ENOENT);
}

static void test_find_cap_detects_a_looping_list(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf;
    uint16_t off[4], at;

    sf = add_cap_fn(f, off);
    sf->cfg[off[3] + 1] = (uint8_t)off[1]; /* EXP -> MSI -> VNDR -> EXP -> ... */
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_MSIX, 0, &at),
                     KEEL_EPROTO);
    /* A capability before the loop point is still found. */
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_MSI, 0, &at),
                     KEEL_OK);
    sf->cfg[off[0] + 1] = (uint8_t)off[0]; /* a capability pointing at itself */
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_MSI, 0, &at),
                     KEEL_EPROTO);
}

static void test_find_cap_rejects_pointer_into_header(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf;
    uint16_t off[4], at;

    sf = add_cap_fn(f, off);
    sf->cfg[off[1] + 1] = 0x10; /* MSI's next points at BAR0 */
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_EXP, 0, &at),
                     KEEL_EPROTO);
    sf->cfg[KEEL_PCI_CAP_PTR] = 0x3c; /* the head itself points into the header */
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_VNDR, 0, &at),
                     KEEL_EPROTO);
}

static void test_find_cap_rejects_misaligned_pointer(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf;
    uint16_t off[4], at;

    sf = add_cap_fn(f, off);
    sf->cfg[off[0] + 1] = (uint8_t)(off[1] + 1); /* odd pointer into MSI's body */
    assert_int_equal(keel_pci_find_cap(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CAP_ID_EXP, 0, &at),
                     KEEL_EPROTO);
    sim_assert_clean(f->s); /* and no misaligned config read reached the HAL */
}

/* ---- command register ---- */

struct cmd_watch {
    unsigned writes;
};

static void count_cmd_write(void *dev, uint16_t off, unsigned width, uint32_t val)
{
    struct cmd_watch *w = dev;

    (void)val;
    if (off == KEEL_PCI_COMMAND) {
        assert_int_equal(width, 2); /* never touch the status register's RW1C bits */
        w->writes++;
    }
}

static void test_enable_sets_and_clears_command_bits(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = sim_pci_add(f->s, pci_at(0, 1, 0), 0x1b36, 0x0010, CLASS_NVME);
    struct cmd_watch w = {0};

    sf->cfg_write_hook = count_cmd_write;
    sf->dev = &w;
    sim_pci_cfg_put(sf, KEEL_PCI_STATUS, 2, 0x8000); /* a latched error bit: RW1C */
    assert_int_equal(
        keel_pci_enable(&f->s->hal, pci_at(0, 1, 0),
                        KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_MASTER | KEEL_PCI_CMD_INTX_DISABLE, 0),
        KEEL_OK);
    assert_int_equal(sim_pci_cfg_get(sf, KEEL_PCI_COMMAND, 2),
                     KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_MASTER | KEEL_PCI_CMD_INTX_DISABLE);
    assert_int_equal(keel_pci_enable(&f->s->hal, pci_at(0, 1, 0), 0, KEEL_PCI_CMD_MASTER), KEEL_OK);
    assert_int_equal(sim_pci_cfg_get(sf, KEEL_PCI_COMMAND, 2),
                     KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_INTX_DISABLE);
    assert_int_equal(w.writes, 2);
    assert_int_equal(keel_pci_enable(&f->s->hal, pci_at(0, 1, 0), KEEL_PCI_CMD_MEM, 0), KEEL_OK);
    assert_int_equal(w.writes, 2); /* nothing to change: no write */
    assert_int_equal(sim_pci_cfg_get(sf, KEEL_PCI_STATUS, 2), 0x8000);
    assert_int_equal(keel_pci_enable(&f->s->hal, pci_at(0, 9, 0), KEEL_PCI_CMD_MEM, 0),
                     KEEL_ENODEV);
}

/* ---- MSI-X ---- */

#define MSIX_TABLE_OFF 0x2000u
#define MSIX_PBA_OFF   0x3000u

static struct sim_pci_fn *add_msix_fn(struct fixture *f, unsigned nvec, uint32_t table_off)
{
    struct sim_pci_fn *sf = sim_pci_add(f->s, pci_at(0, 4, 0), 0x1b36, 0x0010, CLASS_NVME);
    uint8_t body[8] = {0};

    sim_pci_cap_add(sf, KEEL_PCI_CAP_ID_VNDR, body, 8);
    sim_pci_bar(f->s, sf, 0, 0x4000, false, true, &model_ops, f->m);
    sim_msix_init(&f->m->msix, f->s, sf, nvec, 0, table_off, MSIX_PBA_OFF);
    f->m->has_msix = true;
    f->m->table_off = table_off;
    f->m->pba_off = MSIX_PBA_OFF;
    sim_pci_bar_set(f->s, sf, 0, 0xfe000000u);
    return sf;
}

static unsigned g_fired[4];
static void on_vector(void *arg)
{
    g_fired[(uintptr_t)arg]++;
}

static void test_msix_init_maps_table_and_masks_every_entry(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_msix mx;
    unsigned i;

    add_msix_fn(f, 8, MSIX_TABLE_OFF);
    for (i = 0; i < 8; i++)
        f->m->msix.table[i][3] = 0; /* left unmasked by a previous owner */
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_OK);
    assert_int_equal(mx.table_size, 8);
    assert_int_equal(mx.cap_off, f->m->msix.cap_off);
    assert_true(mx.table.base == 0xfe000000u + MSIX_TABLE_OFF && mx.table.size == 8u * 16u);
    for (i = 0; i < 8; i++)
        assert_int_equal(f->m->msix.table[i][3], 1);
    assert_false(sim_msix_enabled(&f->m->msix)); /* enabling is a separate step */
    assert_true(keel_pci_read16(&f->s->hal, pci_at(0, 4, 0), KEEL_PCI_COMMAND) & KEEL_PCI_CMD_MEM);
    sim_assert_clean(f->s);
}

static void test_msix_vector_fires_handler_end_to_end(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_msix mx;
    uint32_t h;

    memset(g_fired, 0, sizeof(g_fired));
    add_msix_fn(f, 8, MSIX_TABLE_OFF);
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_OK);
    assert_int_equal(keel_pci_msix_enable(&f->s->hal, pci_at(0, 4, 0), &mx, true), KEEL_OK);
    assert_true(sim_msix_enabled(&f->m->msix));
    assert_int_equal(
        keel_pci_msix_attach(&f->s->hal, pci_at(0, 4, 0), &mx, 3, on_vector, (void *)1, &h),
        KEEL_OK);
    assert_int_equal(sim_irq_find(f->s, KEEL_IRQ_PCI_MSIX, pci_at(0, 4, 0), 3), (int)h);
    assert_true(f->m->msix.table[3][0] == (uint32_t)f->s->msi_base);
    assert_true(f->m->msix.table[3][1] == (uint32_t)(f->s->msi_base >> 32));
    assert_int_equal(f->m->msix.table[3][2], 0x4000u | h);
    assert_int_equal(f->m->msix.table[3][3], 0);
    sim_msix_fire(&f->m->msix, 3);
    sim_msix_fire(&f->m->msix, 3);
    assert_int_equal(g_fired[1], 2);
    /* Other entries stay masked: their messages wait. */
    sim_msix_fire(&f->m->msix, 2);
    assert_true(f->m->msix.pending[2]);
    assert_int_equal(keel_pci_msix_detach(&f->s->hal, &mx, 3, h), KEEL_OK);
    assert_int_equal(sim_irq_find(f->s, KEEL_IRQ_PCI_MSIX, pci_at(0, 4, 0), 3), -1);
    assert_int_equal(f->m->msix.table[3][3], 1);
    sim_msix_fire(&f->m->msix, 3);
    assert_int_equal(g_fired[1], 2);
    assert_int_equal(keel_pci_msix_enable(&f->s->hal, pci_at(0, 4, 0), &mx, false), KEEL_OK);
    assert_false(sim_msix_enabled(&f->m->msix));
    sim_assert_clean(f->s);
}

static void test_msix_masked_entry_stays_pending_until_unmask(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_msix mx;
    uint32_t h;

    memset(g_fired, 0, sizeof(g_fired));
    add_msix_fn(f, 4, MSIX_TABLE_OFF);
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_OK);
    assert_int_equal(keel_pci_msix_enable(&f->s->hal, pci_at(0, 4, 0), &mx, true), KEEL_OK);
    assert_int_equal(
        keel_pci_msix_attach(&f->s->hal, pci_at(0, 4, 0), &mx, 0, on_vector, (void *)2, &h),
        KEEL_OK);
    assert_int_equal(keel_pci_msix_mask(&mx, 0, true), KEEL_OK);
    sim_msix_fire(&f->m->msix, 0);
    assert_int_equal(g_fired[2], 0);
    assert_true(f->m->msix.pending[0]);
    assert_int_equal(sim_msix_pba_read(&f->m->msix, 0, 4) & 1u, 1);
    assert_int_equal(keel_pci_msix_mask(&mx, 0, false), KEEL_OK);
    assert_int_equal(g_fired[2], 1);
    assert_false(f->m->msix.pending[0]);
    assert_int_equal(keel_pci_msix_mask(&mx, 4, true), KEEL_EINVAL);
    sim_assert_clean(f->s);
}

static void test_msix_entry_written_masked_with_barrier_before_unmask(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_msix mx;
    const struct event *lg = f->m->log;
    unsigned i, unmask = 0, last_data = 0, barrier = 0;

    add_msix_fn(f, 4, MSIX_TABLE_OFF);
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_OK);
    f->m->nlog = 0;
    assert_int_equal(keel_pci_msix_set(&mx, 2, 0x00000001fee01000ull, 0x4055u), KEEL_OK);
    for (i = 0; i < f->m->nlog; i++) {
        if (lg[i].kind == EV_BARRIER && lg[i].barrier != KEEL_BARRIER_READ)
            barrier = i + 1u;
        if (lg[i].kind != EV_WRITE)
            continue;
        assert_int_equal(lg[i].off / 16u, 2); /* only entry 2 is touched */
        if (lg[i].off % 16u != 12u) {
            assert_int_equal(lg[i].vctrl & 1u, 1); /* address/data only change while masked */
            last_data = i + 1u;
        } else if ((lg[i].val & 1u) == 0u) {
            unmask = i + 1u;
        }
    }
    assert_true(last_data != 0u && unmask > last_data);
    assert_true(barrier > last_data && barrier < unmask);
    assert_int_equal(f->m->msix.table[2][0], 0xfee01000u);
    assert_int_equal(f->m->msix.table[2][1], 1);
    assert_int_equal(f->m->msix.table[2][2], 0x4055u);
    assert_int_equal(f->m->msix.table[2][3], 0);
    assert_int_equal(keel_pci_msix_set(&mx, 4, 0, 0), KEEL_EINVAL);
    sim_assert_clean(f->s);
}

static void test_msix_table_beyond_bar_is_eproto(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_msix mx;

    add_msix_fn(f, 16, 0x3f80u); /* 16 entries = 256 bytes from 0x3f80: past the 16 KiB BAR */
    f->m->has_msix = false;      /* never touched anyway */
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_EPROTO);
    sim_assert_clean(f->s);
}

static void test_msix_bad_bir_is_rejected(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_msix_fn(f, 4, MSIX_TABLE_OFF);
    uint16_t tbl = (uint16_t)(f->m->msix.cap_off + 4u);
    struct keel_pci_msix mx;

    sim_pci_cfg_put(sf, tbl, 4, MSIX_TABLE_OFF | 7u); /* BIR 7 does not exist */
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_EPROTO);
    sim_pci_cfg_put(sf, tbl, 4, MSIX_TABLE_OFF | 1u); /* BAR1 is BAR0's upper half */
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_EPROTO);
    sim_pci_cfg_put(sf, tbl, 4, MSIX_TABLE_OFF | 2u); /* BAR2 is unimplemented */
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_ENODEV);
    sim_assert_clean(f->s);
}

static void test_msix_absent_capability_is_enoent(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_msix mx;

    sim_pci_add(f->s, pci_at(0, 4, 0), 0x1b36, 0x0010, CLASS_NVME);
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_ENOENT);
}

static void test_msix_attach_without_irq_hooks_is_enotsup(void **state)
{
    struct fixture *f = *state;
    struct keel_pci_msix mx;
    uint32_t h;

    add_msix_fn(f, 4, MSIX_TABLE_OFF);
    assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_OK);
    f->s->ops.msi_compose = NULL;
    assert_int_equal(
        keel_pci_msix_attach(&f->s->hal, pci_at(0, 4, 0), &mx, 0, on_vector, (void *)0, &h),
        KEEL_ENOTSUP);
    assert_int_equal(sim_irq_find(f->s, KEEL_IRQ_PCI_MSIX, pci_at(0, 4, 0), 0), -1);
    assert_int_equal(f->m->msix.table[0][3], 1);
    sim_assert_clean(f->s);
}

/*
 * A BAR whose address bits below its size are not 0 is impossible on real hardware. Taken at face
 * value, a 64-bit one near the top of the address space made BAR + table offset wrap to a low
 * address, and MSI-X init wrote vector-control words there.
 */
static void test_bar_address_not_aligned_to_its_size_is_eproto(void **state)
{
    struct fixture *f = *state;
    struct sim_pci_fn *sf = add_msix_fn(f, 4, MSIX_TABLE_OFF);
    struct keel_pci_msix mx;
    struct keel_pci_bar b;
    struct keel_region r;
    unsigned i;

    for (i = 0; i < 3; i++) {
        /* Raw config contents, as a hostile device answers them: BAR0 = 0xffff_ffff_ffff_f004. */
        sim_pci_cfg_put(sf, KEEL_PCI_BAR0, 4, 0xfffff000u | 0x4u);
        sim_pci_cfg_put(sf, KEEL_PCI_BAR0 + 4, 4, 0xffffffffu);
        if (i == 0)
            assert_int_equal(keel_pci_msix_init(&f->s->hal, pci_at(0, 4, 0), 0, &mx), KEEL_EPROTO);
        else if (i == 1)
            assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 4, 0), 0, &b), KEEL_EPROTO);
        else
            assert_int_equal(keel_pci_bar_region(&f->s->hal, pci_at(0, 4, 0), 0, 0, &r),
                             KEEL_EPROTO);
    }
    /* A 32-bit BAR of 16 KiB claiming 0xfebf4010. */
    sf = add_bar_fn(f, pci_at(0, 1, 0));
    sim_pci_cfg_put(sf, KEEL_PCI_BAR0, 4, 0xfebf4010u);
    assert_int_equal(keel_pci_bar_decode(&f->s->hal, pci_at(0, 1, 0), 0, &b), KEEL_EPROTO);
    sim_assert_clean(f->s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_access_without_pci_hooks_is_enotsup),
        T(test_config_access_rejects_bad_width_and_alignment),
        T(test_absent_function_reads_all_ones_and_probes_enodev),
        T(test_probe_decodes_identity_fields),
        T(test_scan_honours_multifunction_bit_and_skips_gaps),
        T(test_scan_reaches_bus_255_and_terminates),
        T(test_scan_stops_with_visitor_result),
        T(test_bar_sizing_32bit_memory),
        T(test_bar_sizing_64bit_memory_above_4g),
        T(test_bar_sizing_io),
        T(test_bar_unimplemented_has_size_zero),
        T(test_bar_sizing_disables_decode_and_restores_everything),
        T(test_bar_decode_of_bridge_has_two_bars),
        T(test_assign_bars_naturally_aligned_and_decode_enabled),
        T(test_assign_bars_keeps_preassigned_bars),
        T(test_assign_bars_window_exhaustion_is_enomem),
        T(test_assign_bars_never_puts_a_32bit_bar_above_4g),
        T(test_assign_bars_64bit_falls_back_to_mem32_and_io_needs_window),
        T(test_assign_bars_shares_windows_between_functions),
        T(test_bar_region_goes_through_io_map_with_cpu_offset),
        T(test_bar_region_refuses_a_mapping_whose_offsets_would_wrap),
        T(test_bar_region_is_identity_without_io_map),
        T(test_bar_region_of_unassigned_or_unimplemented_bar_is_enodev),
        T(test_find_cap_walks_list_and_continues_after_start),
        T(test_find_cap_without_capability_list_is_enoent),
        T(test_find_cap_detects_a_looping_list),
        T(test_find_cap_rejects_pointer_into_header),
        T(test_find_cap_rejects_misaligned_pointer),
        T(test_enable_sets_and_clears_command_bits),
        T(test_msix_init_maps_table_and_masks_every_entry),
        T(test_msix_vector_fires_handler_end_to_end),
        T(test_msix_masked_entry_stays_pending_until_unmask),
        T(test_msix_entry_written_masked_with_barrier_before_unmask),
        T(test_msix_table_beyond_bar_is_eproto),
        T(test_msix_bad_bir_is_rejected),
        T(test_msix_absent_capability_is_enoent),
        T(test_msix_attach_without_irq_hooks_is_enotsup),
        T(test_bar_address_not_aligned_to_its_size_is_eproto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
