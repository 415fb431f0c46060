/* SPDX-License-Identifier: MIT */
/* The simulated platform: a HAL over device models, a scrambled DMA space and a virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keel/error.h>
#include <sim/sim.h>

#define MAX_IRQ_REDELIVER 64

void sim_violation(struct sim *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->last_violation, sizeof(s->last_violation), fmt, ap);
    va_end(ap);
    s->violations++;
    if (getenv("KEEL_SIM_VERBOSE"))
        fprintf(stderr, "sim violation: %s\n", s->last_violation);
}

void sim_assert_clean_impl(struct sim *s, const char *file, int line)
{
    if (s->maps_live != 0u)
        sim_violation(s, "%u DMA mapping(s) never unmapped", s->maps_live);
    if (s->violations != 0u) {
        print_error("%u simulated-platform violation(s); last: %s\n", s->violations,
                    s->last_violation);
        _fail(file, line);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Time: every read of the clock moves it, so a driver spinning on time_us() always reaches its
 * deadline; timers and background pollers run whenever time moves.
 */
static void run_time(struct sim *s)
{
    unsigned i;

    if (s->in_poll)
        return;
    s->in_poll = true;
    for (i = 0; i < SIM_MAX_TIMERS; i++) {
        struct sim_timer *t = &s->timers[i];
        if (t->used && t->at_us <= s->now_us) {
            t->used = false;
            t->fn(t->arg);
        }
    }
    for (i = 0; i < SIM_MAX_POLLERS; i++)
        if (s->pollers[i].fn)
            s->pollers[i].fn(s->pollers[i].arg);
    s->in_poll = false;
}

void sim_advance(struct sim *s, uint64_t us)
{
    s->now_us += us;
    run_time(s);
}

int sim_timer_add(struct sim *s, uint64_t delay_us, void (*fn)(void *arg), void *arg)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_TIMERS; i++) {
        if (!s->timers[i].used) {
            s->timers[i] = (struct sim_timer){true, s->now_us + delay_us, fn, arg};
            return (int)i;
        }
    }
    sim_violation(s, "sim: out of timers");
    return -1;
}

void sim_timer_cancel(struct sim *s, int id)
{
    if (id >= 0 && id < SIM_MAX_TIMERS)
        s->timers[id].used = false;
}

int sim_poller_add(struct sim *s, void (*fn)(void *arg), void *arg)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_POLLERS; i++) {
        if (s->pollers[i].fn == NULL) {
            s->pollers[i].fn = fn;
            s->pollers[i].arg = arg;
            return (int)i;
        }
    }
    return -1;
}

bool sim_set_arena_bus_base(struct sim *s, uint64_t bus)
{
    if (s->arena_next != 0 || (bus & (SIM_PAGE - 1u)) != 0)
        return false;
    s->arena_bus = bus;
    return true;
}

void sim_poller_remove(struct sim *s, int id)
{
    if (id >= 0 && id < SIM_MAX_POLLERS) {
        s->pollers[id].fn = NULL;
        s->pollers[id].arg = NULL;
    }
}

static uint64_t hal_time_us(void *ctx)
{
    struct sim *s = ctx;
    s->now_us += s->tick_us;
    run_time(s);
    return s->now_us;
}

static void hal_delay_us(void *ctx, uint32_t us)
{
    sim_advance(ctx, us ? us : 1u);
}

/* ------------------------------------------------------------------------------------------------
 * Registers
 */
int sim_region_add(struct sim *s, bool is_pio, uint64_t base, uint64_t size,
                   const struct sim_region_ops *ops, void *dev)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_REGIONS; i++) {
        struct sim_region *r = &s->regions[i];
        if (!r->used) {
            *r = (struct sim_region){true, is_pio, base != 0, base, size, ops, dev};
            return (int)i;
        }
    }
    sim_violation(s, "sim: out of regions");
    return -1;
}

void sim_region_move(struct sim *s, int region, uint64_t base, bool enabled)
{
    if (region < 0 || region >= SIM_MAX_REGIONS)
        return;
    s->regions[region].base = base;
    s->regions[region].enabled = enabled && base != 0;
}

static struct sim_region *find_region(struct sim *s, bool is_pio, uint64_t addr, unsigned width)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_REGIONS; i++) {
        struct sim_region *r = &s->regions[i];
        if (r->used && r->enabled && r->is_pio == is_pio && addr >= r->base &&
            addr + width <= r->base + r->size)
            return r;
    }
    return NULL;
}

static uint32_t reg_read(struct sim *s, bool is_pio, uint64_t addr, unsigned width)
{
    struct sim_region *r;

    s->mmio_reads++;
    if (addr & (width - 1u)) {
        sim_violation(s, "misaligned %u-byte %s read at 0x%llx", width, is_pio ? "pio" : "mmio",
                      (unsigned long long)addr);
        return 0xffffffffu;
    }
    r = find_region(s, is_pio, addr, width);
    if (r == NULL) {
        sim_violation(s, "%s read of unmapped 0x%llx", is_pio ? "pio" : "mmio",
                      (unsigned long long)addr);
        return 0xffffffffu;
    }
    return r->ops->read(r->dev, addr - r->base, width);
}

static void reg_write(struct sim *s, bool is_pio, uint64_t addr, unsigned width, uint32_t v)
{
    struct sim_region *r;

    s->mmio_writes++;
    if (addr & (width - 1u)) {
        sim_violation(s, "misaligned %u-byte %s write at 0x%llx", width, is_pio ? "pio" : "mmio",
                      (unsigned long long)addr);
        return;
    }
    r = find_region(s, is_pio, addr, width);
    if (r == NULL) {
        sim_violation(s, "%s write of unmapped 0x%llx", is_pio ? "pio" : "mmio",
                      (unsigned long long)addr);
        return;
    }
    r->ops->write(r->dev, addr - r->base, width, v);
}

static uint8_t mmio_r8(void *c, keel_io_addr_t a)
{
    return (uint8_t)reg_read(c, false, a, 1);
}
static uint16_t mmio_r16(void *c, keel_io_addr_t a)
{
    return (uint16_t)reg_read(c, false, a, 2);
}
static uint32_t mmio_r32(void *c, keel_io_addr_t a)
{
    return reg_read(c, false, a, 4);
}
static void mmio_w8(void *c, keel_io_addr_t a, uint8_t v)
{
    reg_write(c, false, a, 1, v);
}
static void mmio_w16(void *c, keel_io_addr_t a, uint16_t v)
{
    reg_write(c, false, a, 2, v);
}
static void mmio_w32(void *c, keel_io_addr_t a, uint32_t v)
{
    reg_write(c, false, a, 4, v);
}
static uint8_t pio_r8(void *c, keel_io_addr_t a)
{
    return (uint8_t)reg_read(c, true, a, 1);
}
static uint16_t pio_r16(void *c, keel_io_addr_t a)
{
    return (uint16_t)reg_read(c, true, a, 2);
}
static uint32_t pio_r32(void *c, keel_io_addr_t a)
{
    return reg_read(c, true, a, 4);
}
static void pio_w8(void *c, keel_io_addr_t a, uint8_t v)
{
    reg_write(c, true, a, 1, v);
}
static void pio_w16(void *c, keel_io_addr_t a, uint16_t v)
{
    reg_write(c, true, a, 2, v);
}
static void pio_w32(void *c, keel_io_addr_t a, uint32_t v)
{
    reg_write(c, true, a, 4, v);
}

static int hal_io_map(void *ctx, uint64_t phys, uint64_t size, bool is_pio, keel_io_addr_t *out,
                      bool *is_mmio_out)
{
    (void)ctx;
    (void)size;
    *out = (keel_io_addr_t)phys;
    *is_mmio_out = !is_pio;
    return KEEL_OK;
}

/* ------------------------------------------------------------------------------------------------
 * PCI configuration space
 */
static struct sim_pci_fn *find_fn(struct sim *s, struct keel_pci_addr a)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_PCI_FNS; i++) {
        struct sim_pci_fn *f = &s->pci[i];
        if (f->present && f->addr.segment == a.segment && f->addr.bus == a.bus &&
            f->addr.dev == a.dev && f->addr.fn == a.fn)
            return f;
    }
    return NULL;
}

uint32_t sim_pci_cfg_get(const struct sim_pci_fn *fn, uint16_t off, unsigned width)
{
    uint32_t v = 0;
    unsigned i;

    for (i = 0; i < width; i++)
        v |= (uint32_t)fn->cfg[off + i] << (8u * i);
    return v;
}

void sim_pci_cfg_put(struct sim_pci_fn *fn, uint16_t off, unsigned width, uint32_t val)
{
    unsigned i;

    for (i = 0; i < width; i++)
        fn->cfg[off + i] = (uint8_t)(val >> (8u * i));
}

struct sim_pci_fn *sim_pci_add(struct sim *s, struct keel_pci_addr a, uint16_t vendor,
                               uint16_t device, uint32_t class_rev)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_PCI_FNS; i++) {
        struct sim_pci_fn *f = &s->pci[i];
        if (f->present)
            continue;
        memset(f, 0, sizeof(*f));
        f->present = true;
        f->addr = a;
        sim_pci_cfg_put(f, 0x00, 2, vendor);
        sim_pci_cfg_put(f, 0x02, 2, device);
        sim_pci_cfg_put(f, 0x08, 4, class_rev);
        sim_pci_cfg_put(f, 0x3d, 1, 1); /* INTA */
        sim_pci_cfg_put(f, 0x04, 2, 0);
        f->cfg_wmask[0x04] = 0x07; /* I/O, memory, bus master */
        f->cfg_wmask[0x05] = 0x04; /* INTx disable */
        f->cfg_wmask[0x3c] = 0xff; /* interrupt line */
        f->cap_next_free = 0x40;
        for (unsigned b = 0; b < 6; b++)
            f->bar_region[b] = -1;
        return f;
    }
    sim_violation(s, "sim: out of PCI functions");
    return NULL;
}

static uint64_t bar_addr(const struct sim_pci_fn *fn, unsigned idx, bool *is_io)
{
    uint32_t lo = sim_pci_cfg_get(fn, (uint16_t)(0x10 + 4 * idx), 4);

    *is_io = (lo & 1u) != 0;
    if (*is_io)
        return lo & ~3u;
    if ((lo & 6u) == 4u && idx < 5)
        return (lo & ~0xfull) |
               ((uint64_t)sim_pci_cfg_get(fn, (uint16_t)(0x14 + 4 * idx), 4) << 32);
    return lo & ~0xfull;
}

/* Make every BAR-backed region follow its BAR and the command register's decode bits. */
static void pci_update_regions(struct sim *s, struct sim_pci_fn *fn)
{
    uint16_t cmd = (uint16_t)sim_pci_cfg_get(fn, 0x04, 2);
    unsigned i;

    for (i = 0; i < 6; i++) {
        bool is_io;
        uint64_t a;

        if (fn->bar_region[i] < 0)
            continue;
        a = bar_addr(fn, i, &is_io);
        sim_region_move(s, fn->bar_region[i], a, is_io ? (cmd & 1u) : (cmd & 2u));
    }
}

static int bar_index_of(const struct sim_pci_fn *fn, uint16_t off, bool *upper)
{
    int idx;

    if (off < 0x10 || off >= 0x28)
        return -1;
    idx = (off - 0x10) / 4;
    *upper = false;
    if (fn->bar_size[idx] == 0 && idx > 0 && fn->bar_size[idx - 1] != 0 &&
        (fn->cfg[0x10 + 4 * (idx - 1)] & 7u) == 4u) {
        *upper = true;
        return idx - 1;
    }
    return idx;
}

static void bar_write(struct sim_pci_fn *fn, uint16_t off, uint32_t val)
{
    bool upper;
    int idx = bar_index_of(fn, off, &upper);
    uint64_t size;
    uint32_t type;

    if (idx < 0)
        return;
    size = fn->bar_size[idx];
    if (size == 0) {
        return; /* unimplemented: reads as 0 */
    }
    if (upper) {
        sim_pci_cfg_put(fn, off, 4, val & (uint32_t)(~(size - 1u) >> 32));
        return;
    }
    type = sim_pci_cfg_get(fn, off, 4) & ((fn->cfg[off] & 1u) ? 3u : 0xfu);
    sim_pci_cfg_put(fn, off, 4, (val & (uint32_t) ~(size - 1u)) | type);
}

static int hal_pci_read(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width,
                        uint32_t *val)
{
    struct sim *s = ctx;
    struct sim_pci_fn *fn;

    if ((width != 1 && width != 2 && width != 4) || (off & (width - 1u)) || off >= 4096) {
        sim_violation(s, "bad pci config read width %u off 0x%x", width, off);
        return KEEL_EINVAL;
    }
    fn = find_fn(s, a);
    if (fn == NULL) {
        *val = width == 4 ? 0xffffffffu : (width == 2 ? 0xffffu : 0xffu);
        return KEEL_OK;
    }
    *val = sim_pci_cfg_get(fn, off, width);
    return KEEL_OK;
}

static int hal_pci_write(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width,
                         uint32_t val)
{
    struct sim *s = ctx;
    struct sim_pci_fn *fn;
    unsigned i;

    if ((width != 1 && width != 2 && width != 4) || (off & (width - 1u)) || off >= 4096) {
        sim_violation(s, "bad pci config write width %u off 0x%x", width, off);
        return KEEL_EINVAL;
    }
    fn = find_fn(s, a);
    if (fn == NULL)
        return KEEL_OK;
    if (off >= 0x10 && off < 0x28) {
        if (width != 4)
            sim_violation(s, "BAR written with width %u", width);
        else
            bar_write(fn, off, val);
    } else {
        for (i = 0; i < width; i++) {
            uint8_t m = fn->cfg_wmask[off + i];
            uint8_t b = (uint8_t)(val >> (8u * i));
            fn->cfg[off + i] = (uint8_t)((fn->cfg[off + i] & ~m) | (b & m));
        }
    }
    pci_update_regions(s, fn);
    if (fn->cfg_write_hook)
        fn->cfg_write_hook(fn->dev, off, width, val);
    return KEEL_OK;
}

int sim_pci_bar(struct sim *s, struct sim_pci_fn *fn, unsigned idx, uint64_t size, bool is_io,
                bool is_64, const struct sim_region_ops *ops, void *dev)
{
    uint32_t type = is_io ? 1u : (is_64 ? 4u : 0u);

    if (idx > 5 || (is_64 && idx > 4) || (size & (size - 1u)) != 0 || size < 16)
        return -1;
    fn->bar_size[idx] = size;
    sim_pci_cfg_put(fn, (uint16_t)(0x10 + 4 * idx), 4, type);
    if (is_64)
        sim_pci_cfg_put(fn, (uint16_t)(0x14 + 4 * idx), 4, 0);
    fn->bar_region[idx] = sim_region_add(s, is_io, 0, size, ops, dev);
    return fn->bar_region[idx];
}

void sim_pci_bar_set(struct sim *s, struct sim_pci_fn *fn, unsigned idx, uint64_t addr)
{
    uint16_t off = (uint16_t)(0x10 + 4 * idx);
    bool is64 = (fn->cfg[off] & 7u) == 4u;

    bar_write(fn, off, (uint32_t)addr);
    if (is64)
        bar_write(fn, (uint16_t)(off + 4), (uint32_t)(addr >> 32));
    pci_update_regions(s, fn);
}

uint16_t sim_pci_cap_add(struct sim_pci_fn *fn, uint8_t id, const uint8_t *body, unsigned len)
{
    uint16_t off = fn->cap_next_free;
    uint16_t p;

    if (len < 2 || off + len > 256)
        return 0;
    if (body)
        memcpy(&fn->cfg[off], body, len);
    fn->cfg[off] = id;
    fn->cfg[off + 1] = 0;
    /* link it at the end of the list */
    if (fn->cfg[0x34] == 0) {
        fn->cfg[0x34] = (uint8_t)off;
    } else {
        for (p = fn->cfg[0x34]; fn->cfg[p + 1] != 0; p = fn->cfg[p + 1])
            ;
        fn->cfg[p + 1] = (uint8_t)off;
    }
    fn->cfg[0x06] |= 0x10; /* status: capability list */
    fn->cap_next_free = (uint16_t)((off + len + 3u) & ~3u);
    return off;
}

/* ------------------------------------------------------------------------------------------------
 * DMA: coherent arena, streaming maps (translated, bounced or contiguous)
 */
static int hal_dma_alloc(void *ctx, size_t size, size_t align, struct keel_dma_mem *out)
{
    struct sim *s = ctx;
    size_t off;

    if (align == 0 || (align & (align - 1u)) != 0 || size == 0) {
        sim_violation(s, "dma_alloc with size %zu align %zu", size, align);
        return KEEL_EINVAL;
    }
    off = (s->arena_next + align - 1u) & ~(align - 1u);
    if (off + size > s->arena_size)
        return KEEL_ENOMEM;
    s->arena_next = off + size;
    memset(s->arena + off, 0, size);
    out->cpu = s->arena + off;
    out->bus = s->arena_bus + off;
    out->size = size;
    out->cookie = (void *)(uintptr_t)(off + 1u);
    s->dma_allocs++;
    return KEEL_OK;
}

static void hal_dma_free(void *ctx, struct keel_dma_mem *mem)
{
    struct sim *s = ctx;
    uint8_t *p = mem->cpu;

    if (p < s->arena || p >= s->arena + s->arena_size ||
        mem->bus != s->arena_bus + (uint64_t)(p - s->arena)) {
        sim_violation(s, "dma_free of memory the sim did not allocate");
        return;
    }
    /* Poison so a driver that keeps using freed memory reads garbage. */
    memset(p, 0xa5, mem->size);
    s->dma_frees++;
}

static uint32_t next_rand(struct sim *s)
{
    s->scramble = s->scramble * 1103515245u + 12345u;
    return s->scramble >> 8;
}

static struct sim_map *map_slot(struct sim *s)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_MAPS; i++)
        if (!s->maps[i].used)
            return &s->maps[i];
    return NULL;
}

static uint64_t map_page_bus(const struct sim_map *m, unsigned i)
{
    return SIM_MAP_BUS_BASE + (m->bus_first_page + m->page_perm[i]) * SIM_PAGE;
}

/* Fill segments for a translated map, merging pages that happen to be bus-contiguous. */
static int fill_segments(const struct sim_map *m, struct keel_dma_seg *segs, unsigned max_segs,
                         unsigned *nsegs)
{
    uintptr_t start = (uintptr_t)m->buf;
    size_t left = m->len;
    unsigned n = 0, i;

    for (i = 0; i < m->npages; i++) {
        uint64_t in_page = (i == 0) ? (start & (SIM_PAGE - 1u)) : 0u;
        uint32_t chunk = (uint32_t)((SIM_PAGE - in_page) < left ? (SIM_PAGE - in_page) : left);
        uint64_t bus = map_page_bus(m, i) + in_page;

        if (n > 0 && segs[n - 1].bus + segs[n - 1].len == bus) {
            segs[n - 1].len += chunk;
        } else {
            if (n == max_segs)
                return KEEL_ENOSPC;
            segs[n].bus = bus;
            segs[n].len = chunk;
            n++;
        }
        left -= chunk;
    }
    *nsegs = n;
    return KEEL_OK;
}

static void bounce_copy(struct sim *s, struct sim_map *m, bool to_bounce)
{
    if (to_bounce)
        memcpy(s->bounce + m->bounce_off, m->buf, m->len);
    else
        memcpy(m->buf, s->bounce + m->bounce_off, m->len);
}

static int map_bounce(struct sim *s, struct sim_map *m, struct keel_dma_seg *segs, unsigned *nsegs)
{
    size_t off = (s->bounce_next + 63u) & ~(size_t)63u;

    if (s->maps_live == 0)
        off = 0; /* everything returned: start over */
    if (off + m->len > s->bounce_size)
        return KEEL_ENOMEM;
    if (m->len > UINT32_MAX)
        return KEEL_ENOSPC;
    s->bounce_next = off + m->len;
    m->bounce_off = off;
    /* Fill with garbage first so reading an unwritten bounce never looks like success. */
    memset(s->bounce + off, 0xcd, m->len);
    if (m->dir & KEEL_DMA_TO_DEVICE)
        bounce_copy(s, m, true);
    segs[0].bus = SIM_BOUNCE_BUS_BASE + off;
    segs[0].len = (uint32_t)m->len;
    *nsegs = 1;
    return KEEL_OK;
}

static void permute_pages(struct sim *s, struct sim_map *m)
{
    unsigned i;

    for (i = 0; i < m->npages; i++)
        m->page_perm[i] = i;
    if (s->map_mode != SIM_MAP_TRANSLATE)
        return;
    for (i = m->npages; i > 1; i--) { /* Fisher-Yates */
        unsigned j = next_rand(s) % i;
        uint32_t t = m->page_perm[i - 1];
        m->page_perm[i - 1] = m->page_perm[j];
        m->page_perm[j] = t;
    }
}

static int hal_dma_map(void *ctx, void *buf, size_t len, enum keel_dma_dir dir,
                       struct keel_dma_seg *segs, unsigned max_segs, unsigned *nsegs, void **cookie)
{
    struct sim *s = ctx;
    struct sim_map *m;
    uintptr_t start = (uintptr_t)buf;
    int rc;

    if (buf == NULL || len == 0 || max_segs == 0 || dir < KEEL_DMA_TO_DEVICE ||
        dir > KEEL_DMA_BIDIRECTIONAL) {
        sim_violation(s, "dma_map(buf=%p, len=%zu, max_segs=%u, dir=%d)", buf, len, max_segs,
                      (int)dir);
        return KEEL_EINVAL;
    }
    m = map_slot(s);
    if (m == NULL)
        return KEEL_ENOMEM;
    memset(m, 0, offsetof(struct sim_map, page_perm));
    m->buf = buf;
    m->len = len;
    m->dir = dir;
    m->npages = (unsigned)(((start & (SIM_PAGE - 1u)) + len + SIM_PAGE - 1u) / SIM_PAGE);
    if (s->map_mode == SIM_MAP_BOUNCE) {
        rc = map_bounce(s, m, segs, nsegs);
    } else {
        if (m->npages > SIM_MAX_MAP_PAGES)
            return KEEL_ENOSPC;
        m->bus_first_page = s->map_bus_next_page;
        permute_pages(s, m);
        rc = fill_segments(m, segs, max_segs, nsegs);
        if (rc == KEEL_OK)
            s->map_bus_next_page += m->npages + 1u; /* a hole between maps catches overruns */
    }
    if (rc != KEEL_OK)
        return rc;
    m->used = true;
    s->maps_live++;
    s->maps_total++;
    *cookie = m;
    return KEEL_OK;
}

static struct sim_map *check_cookie(struct sim *s, void *cookie, void *buf, size_t len,
                                    const char *what)
{
    struct sim_map *m = cookie;

    if (m < &s->maps[0] || m >= &s->maps[SIM_MAX_MAPS] || !m->used) {
        sim_violation(s, "%s of an unknown or unmapped cookie", what);
        return NULL;
    }
    if (m->buf != buf || m->len != len) {
        sim_violation(s, "%s with buf/len different from the mapping", what);
        return NULL;
    }
    return m;
}

static void hal_dma_unmap(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_dir dir)
{
    struct sim *s = ctx;
    struct sim_map *m = check_cookie(s, cookie, buf, len, "dma_unmap");

    if (m == NULL)
        return;
    if (dir != m->dir)
        sim_violation(s, "dma_unmap direction %d differs from map direction %d", (int)dir,
                      (int)m->dir);
    if (s->map_mode == SIM_MAP_BOUNCE && (m->dir & KEEL_DMA_FROM_DEVICE))
        bounce_copy(s, m, false);
    m->used = false;
    s->maps_live--;
}

static void hal_dma_sync(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_sync_for who)
{
    struct sim *s = ctx;
    struct sim_map *m = check_cookie(s, cookie, buf, len, "dma_sync");

    if (m == NULL || s->map_mode != SIM_MAP_BOUNCE)
        return;
    bounce_copy(s, m, who == KEEL_DMA_SYNC_FOR_DEVICE);
}

/* Resolve one bus byte range that lies within a single page or arena: CPU pointer or NULL. */
static uint8_t *resolve(struct sim *s, uint64_t bus, size_t len)
{
    unsigned i;

    if (bus >= s->arena_bus && bus - s->arena_bus + len <= s->arena_next)
        return s->arena + (bus - s->arena_bus);
    if (bus >= SIM_BOUNCE_BUS_BASE && bus - SIM_BOUNCE_BUS_BASE + len <= s->bounce_size) {
        uint64_t off = bus - SIM_BOUNCE_BUS_BASE;
        for (i = 0; i < SIM_MAX_MAPS; i++) {
            struct sim_map *m = &s->maps[i];
            if (m->used && s->map_mode == SIM_MAP_BOUNCE && off >= m->bounce_off &&
                off + len <= m->bounce_off + m->len)
                return s->bounce + off;
        }
        return NULL;
    }
    if (bus >= SIM_MAP_BUS_BASE) {
        uint64_t page = (bus - SIM_MAP_BUS_BASE) / SIM_PAGE;
        for (i = 0; i < SIM_MAX_MAPS; i++) {
            struct sim_map *m = &s->maps[i];
            unsigned p;
            uintptr_t cpu, lo, hi;
            if (!m->used || s->map_mode == SIM_MAP_BOUNCE || page < m->bus_first_page ||
                page >= m->bus_first_page + m->npages)
                continue;
            for (p = 0; p < m->npages; p++)
                if (m->bus_first_page + m->page_perm[p] == page)
                    break;
            cpu = ((uintptr_t)m->buf & ~(uintptr_t)(SIM_PAGE - 1u)) + (uintptr_t)p * SIM_PAGE +
                  (uintptr_t)(bus & (SIM_PAGE - 1u));
            lo = (uintptr_t)m->buf;
            hi = lo + m->len;
            /* Page-granular IOMMUs allow more; the sim is strict: only the buffer's own bytes. */
            if (cpu < lo || cpu + len > hi)
                return NULL;
            return (uint8_t *)cpu;
        }
    }
    return NULL;
}

/* Walk a bus range in page-sized pieces (mapped pages are scattered on the CPU side). */
static bool dma_walk(struct sim *s, uint64_t bus, uint8_t *cpu_buf, size_t len, bool to_mem)
{
    while (len > 0) {
        size_t chunk = SIM_PAGE - (size_t)(bus & (SIM_PAGE - 1u));
        uint8_t *p;

        if (chunk > len)
            chunk = len;
        p = resolve(s, bus, chunk);
        if (p == NULL) {
            sim_violation(s, "device %s of %zu bytes at unmapped bus address 0x%llx",
                          to_mem ? "write" : "read", chunk, (unsigned long long)bus);
            return false;
        }
        if (to_mem)
            memcpy(p, cpu_buf, chunk);
        else
            memcpy(cpu_buf, p, chunk);
        bus += chunk;
        cpu_buf += chunk;
        len -= chunk;
    }
    return true;
}

bool sim_dma_read(struct sim *s, uint64_t bus, void *out, size_t len)
{
    if (!dma_walk(s, bus, out, len, false)) {
        memset(out, 0, len);
        return false;
    }
    return true;
}

bool sim_dma_write(struct sim *s, uint64_t bus, const void *in, size_t len)
{
    uint8_t small[256], *copy;
    bool ok;

    if (s->dma_write_hook == NULL || len == 0)
        return dma_walk(s, bus, (uint8_t *)(uintptr_t)in, len, true);
    /* The hook may rewrite what the device writes: hand it a copy, never the model's buffer. */
    copy = len <= sizeof(small) ? small : malloc(len);
    if (copy == NULL) {
        sim_violation(s, "out of memory copying a device write of %zu bytes", len);
        return false;
    }
    memcpy(copy, in, len);
    s->dma_write_hook(s->dma_write_hook_arg, bus, copy, len);
    ok = dma_walk(s, bus, copy, len, true);
    if (copy != small)
        free(copy);
    return ok;
}

void *sim_dma_ptr(struct sim *s, uint64_t bus, size_t len)
{
    if (bus >= s->arena_bus && bus - s->arena_bus + len <= s->arena_next)
        return s->arena + (bus - s->arena_bus);
    return NULL;
}

bool sim_dma_valid(struct sim *s, uint64_t bus, size_t len)
{
    while (len > 0) {
        size_t chunk = SIM_PAGE - (size_t)(bus & (SIM_PAGE - 1u));
        if (chunk > len)
            chunk = len;
        if (resolve(s, bus, chunk) == NULL)
            return false;
        bus += chunk;
        len -= chunk;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------------
 * Barriers, locks, log
 */
static void hal_barrier(void *ctx, enum keel_barrier kind)
{
    struct sim *s = ctx;
    (void)kind;
    s->barriers++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static uintptr_t hal_lock(void *ctx, keel_lock_t *l)
{
    struct sim *s = ctx;
    if (l->word[0] != 0)
        sim_violation(s, "lock taken twice (would deadlock)");
    l->word[0] = 1;
    s->locks_held++;
    return 0x5a;
}

static void hal_unlock(void *ctx, keel_lock_t *l, uintptr_t state)
{
    struct sim *s = ctx;
    if (l->word[0] != 1 || state != 0x5a)
        sim_violation(s, "unlock of a lock not held, or with a foreign state");
    l->word[0] = 0;
    s->locks_held--;
}

static void hal_log(void *ctx, enum keel_log_level level, const char *line)
{
    struct sim *s = ctx;
    s->log_lines++;
    snprintf(s->last_log, sizeof(s->last_log), "%s", line);
    if (s->log_to_stderr)
        fprintf(stderr, "keel[%d]: %s\n", (int)level, line);
}

/* ------------------------------------------------------------------------------------------------
 * Interrupts
 */
static void deliver(struct sim *s, int h)
{
    struct sim_irq *q = &s->irqs[h];
    unsigned rounds = 0;

    while (q->pending && !q->masked && rounds++ < MAX_IRQ_REDELIVER) {
        q->pending = false;
        q->raised++;
        q->fn(q->arg);
    }
    (void)s;
}

static int hal_irq_attach(void *ctx, const struct keel_irq_src *src, keel_irq_fn fn, void *arg,
                          uint32_t *handle)
{
    struct sim *s = ctx;
    unsigned i;

    for (i = 0; i < SIM_MAX_IRQS; i++) {
        if (!s->irqs[i].used) {
            s->irqs[i] = (struct sim_irq){true, true, false, *src, fn, arg, 0, 0};
            *handle = i;
            return KEEL_OK;
        }
    }
    return KEEL_ENOSPC;
}

static bool valid_handle(struct sim *s, uint32_t h, const char *what)
{
    if (h >= SIM_MAX_IRQS || !s->irqs[h].used) {
        sim_violation(s, "%s of unknown irq handle %u", what, h);
        return false;
    }
    return true;
}

static void hal_irq_detach(void *ctx, uint32_t h)
{
    struct sim *s = ctx;
    if (valid_handle(s, h, "irq_detach"))
        s->irqs[h].used = false;
}

static void hal_irq_mask(void *ctx, uint32_t h, bool masked)
{
    struct sim *s = ctx;
    if (!valid_handle(s, h, "irq_mask"))
        return;
    s->irqs[h].masked = masked;
    if (!masked)
        deliver(s, (int)h);
}

static void hal_irq_eoi(void *ctx, uint32_t h)
{
    struct sim *s = ctx;
    if (valid_handle(s, h, "irq_eoi"))
        s->irqs[h].eois++;
}

static int hal_msi_compose(void *ctx, uint32_t h, uint64_t *addr, uint32_t *data)
{
    struct sim *s = ctx;
    if (!valid_handle(s, h, "msi_compose"))
        return KEEL_EINVAL;
    *addr = s->msi_base;
    *data = 0x4000u | h;
    return KEEL_OK;
}

int sim_irq_find(struct sim *s, enum keel_irq_kind kind, struct keel_pci_addr a, uint32_t index)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_IRQS; i++) {
        struct sim_irq *q = &s->irqs[i];
        if (q->used && q->src.kind == kind && q->src.index == index &&
            (kind == KEEL_IRQ_LINE || (q->src.pci.bus == a.bus && q->src.pci.dev == a.dev &&
                                       q->src.pci.fn == a.fn && q->src.pci.segment == a.segment)))
            return (int)i;
    }
    return -1;
}

void sim_irq_raise(struct sim *s, int h)
{
    if (h < 0 || h >= SIM_MAX_IRQS || !s->irqs[h].used)
        return;
    s->irqs[h].pending = true;
    deliver(s, h);
}

void sim_msi_write(struct sim *s, uint64_t addr, uint32_t data)
{
    if (addr != s->msi_base || (data & 0xffffc000u) != 0x4000u) {
        sim_violation(s, "MSI write to 0x%llx data 0x%x: not a composed message",
                      (unsigned long long)addr, data);
        return;
    }
    sim_irq_raise(s, (int)(data & 0x3fffu));
}

/* ------------------------------------------------------------------------------------------------
 * MSI-X emulation
 */
void sim_msix_init(struct sim_msix *m, struct sim *s, struct sim_pci_fn *fn, unsigned nvec,
                   unsigned bar, uint32_t table_off, uint32_t pba_off)
{
    uint8_t cap[12] = {0};
    unsigned i;

    memset(m, 0, sizeof(*m));
    m->s = s;
    m->fn = fn;
    m->nvec = nvec > SIM_MSIX_MAX ? SIM_MSIX_MAX : nvec;
    cap[2] = (uint8_t)((m->nvec - 1u) & 0xffu);
    cap[3] = (uint8_t)((m->nvec - 1u) >> 8);
    cap[4] = (uint8_t)(table_off | bar);
    cap[5] = (uint8_t)(table_off >> 8);
    cap[6] = (uint8_t)(table_off >> 16);
    cap[7] = (uint8_t)(table_off >> 24);
    cap[8] = (uint8_t)(pba_off | bar);
    cap[9] = (uint8_t)(pba_off >> 8);
    cap[10] = (uint8_t)(pba_off >> 16);
    cap[11] = (uint8_t)(pba_off >> 24);
    m->cap_off = sim_pci_cap_add(fn, 0x11, cap, sizeof(cap));
    fn->cfg_wmask[m->cap_off + 3] = 0xc0; /* enable, function mask */
    for (i = 0; i < m->nvec; i++)
        m->table[i][3] = 1; /* masked */
}

bool sim_msix_enabled(const struct sim_msix *m)
{
    uint8_t ctl = m->fn->cfg[m->cap_off + 3];
    return (ctl & 0x80u) && !(ctl & 0x40u);
}

static void msix_deliver(struct sim_msix *m, unsigned vec)
{
    uint64_t addr = m->table[vec][0] | ((uint64_t)m->table[vec][1] << 32);
    m->pending[vec] = false;
    m->fired[vec]++;
    sim_msi_write(m->s, addr, m->table[vec][2]);
}

void sim_msix_fire(struct sim_msix *m, unsigned vec)
{
    if (vec >= m->nvec) {
        sim_violation(m->s, "model fired MSI-X vector %u of %u", vec, m->nvec);
        return;
    }
    if (!sim_msix_enabled(m) || (m->table[vec][3] & 1u)) {
        m->pending[vec] = true;
        return;
    }
    msix_deliver(m, vec);
}

uint32_t sim_msix_table_read(struct sim_msix *m, uint64_t off, unsigned width)
{
    unsigned e = (unsigned)(off / 16), w = (unsigned)((off % 16) / 4);

    if (width != 4 || e >= m->nvec) {
        sim_violation(m->s, "MSI-X table read width %u at 0x%llx", width, (unsigned long long)off);
        return 0;
    }
    return m->table[e][w];
}

void sim_msix_table_write(struct sim_msix *m, uint64_t off, unsigned width, uint32_t val)
{
    unsigned e = (unsigned)(off / 16), w = (unsigned)((off % 16) / 4);

    if (width != 4 || e >= m->nvec) {
        sim_violation(m->s, "MSI-X table write width %u at 0x%llx", width, (unsigned long long)off);
        return;
    }
    m->table[e][w] = (w == 3) ? (val & 1u) : val;
    if (w == 3 && !(val & 1u) && m->pending[e] && sim_msix_enabled(m))
        msix_deliver(m, e);
}

uint32_t sim_msix_pba_read(struct sim_msix *m, uint64_t off, unsigned width)
{
    uint32_t v = 0;
    unsigned i, base = (unsigned)(off * 8);

    (void)width;
    for (i = 0; i < 32 && base + i < m->nvec; i++)
        if (m->pending[base + i])
            v |= 1u << i;
    return v;
}

/* ------------------------------------------------------------------------------------------------
 * Faults
 */
static struct sim_fault *fault_find(struct sim *s, int id)
{
    unsigned i;
    for (i = 0; i < SIM_MAX_FAULTS; i++)
        if (s->faults[i].armed && s->faults[i].id == id)
            return &s->faults[i];
    return NULL;
}

void sim_fault_arm(struct sim *s, int id, uint32_t skip, uint32_t count, uint64_t param)
{
    struct sim_fault *f = fault_find(s, id);
    unsigned i;

    for (i = 0; f == NULL && i < SIM_MAX_FAULTS; i++)
        if (!s->faults[i].armed)
            f = &s->faults[i];
    if (f == NULL) {
        sim_violation(s, "sim: out of fault slots");
        return;
    }
    *f = (struct sim_fault){true, id, skip, count, param, 0};
}

void sim_fault_clear(struct sim *s, int id)
{
    struct sim_fault *f = fault_find(s, id);
    if (f)
        f->armed = false;
}

bool sim_fault_hit(struct sim *s, int id, uint64_t *param)
{
    struct sim_fault *f = fault_find(s, id);

    if (f == NULL)
        return false;
    if (f->skip > 0) {
        f->skip--;
        return false;
    }
    if (f->count == 0)
        return false;
    if (f->count != UINT32_MAX)
        f->count--;
    f->fired++;
    if (param)
        *param = f->param;
    return true;
}

bool sim_fault_peek(const struct sim *s, int id, uint64_t *param)
{
    unsigned i;

    for (i = 0; i < SIM_MAX_FAULTS; i++) {
        if (s->faults[i].armed && s->faults[i].id == id) {
            if (param)
                *param = s->faults[i].param;
            return true;
        }
    }
    return false;
}

uint32_t sim_fault_fired(const struct sim *s, int id)
{
    unsigned i;
    for (i = 0; i < SIM_MAX_FAULTS; i++)
        if (s->faults[i].id == id && (s->faults[i].armed || s->faults[i].fired))
            return s->faults[i].fired;
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Construction
 */
static const struct keel_hal_ops sim_ops = {
    .abi_version = KEEL_HAL_ABI_VERSION,
    .mmio_read8 = mmio_r8,
    .mmio_read16 = mmio_r16,
    .mmio_read32 = mmio_r32,
    .mmio_write8 = mmio_w8,
    .mmio_write16 = mmio_w16,
    .mmio_write32 = mmio_w32,
    .pio_read8 = pio_r8,
    .pio_read16 = pio_r16,
    .pio_read32 = pio_r32,
    .pio_write8 = pio_w8,
    .pio_write16 = pio_w16,
    .pio_write32 = pio_w32,
    .pci_cfg_read = hal_pci_read,
    .pci_cfg_write = hal_pci_write,
    .io_map = hal_io_map,
    .dma_alloc = hal_dma_alloc,
    .dma_free = hal_dma_free,
    .dma_map = hal_dma_map,
    .dma_unmap = hal_dma_unmap,
    .dma_sync = hal_dma_sync,
    .barrier = hal_barrier,
    .time_us = hal_time_us,
    .delay_us = hal_delay_us,
    .irq_attach = hal_irq_attach,
    .irq_detach = hal_irq_detach,
    .irq_mask = hal_irq_mask,
    .irq_eoi = hal_irq_eoi,
    .msi_compose = hal_msi_compose,
    .lock = hal_lock,
    .unlock = hal_unlock,
    .log = hal_log,
};

struct sim *sim_create(size_t arena_size)
{
    return sim_create_sized(arena_size, 8u << 20);
}

struct sim *sim_create_sized(size_t arena_size, size_t bounce_size)
{
    struct sim *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    arena_size = (arena_size + SIM_PAGE - 1u) & ~(size_t)(SIM_PAGE - 1u);
    bounce_size = (bounce_size + SIM_PAGE - 1u) & ~(size_t)(SIM_PAGE - 1u);
    s->arena = aligned_alloc(SIM_PAGE, arena_size);
    s->bounce_size = bounce_size;
    s->bounce = aligned_alloc(SIM_PAGE, s->bounce_size);
    if (s->arena == NULL || s->bounce == NULL) {
        sim_destroy(s);
        return NULL;
    }
    memset(s->arena, 0xee, arena_size);
    s->arena_size = arena_size;
    s->ops = sim_ops;
    s->hal.ops = &s->ops;
    s->hal.ctx = s;
    s->tick_us = 1;
    s->now_us = 1000000; /* not zero: a driver treating 0 as "unset" must not be lucky */
    s->scramble = 0x1234567u;
    s->msi_base = 0xfee00000u;
    s->arena_bus = SIM_BUS_BASE;
    s->log_to_stderr = getenv("KEEL_SIM_LOG") != NULL;
    return s;
}

void sim_destroy(struct sim *s)
{
    if (s == NULL)
        return;
    free(s->arena);
    free(s->bounce);
    free(s);
}
