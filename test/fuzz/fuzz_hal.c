/* SPDX-License-Identifier: MIT */
/* The fuzzing HAL: see fuzz_hal.h. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include "fuzz_hal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/error.h>

/* ---- input stream ------------------------------------------------------------------------------
 */

void fz_init(struct fz *f, const uint8_t *data, size_t size)
{
    f->data = data;
    f->size = size;
    f->pos = 0;
}

size_t fz_left(const struct fz *f)
{
    return f->size - f->pos;
}

uint8_t fz_u8(struct fz *f)
{
    return f->pos < f->size ? f->data[f->pos++] : 0u;
}

uint16_t fz_u16(struct fz *f)
{
    uint16_t lo = fz_u8(f);
    return (uint16_t)(lo | (uint16_t)(fz_u8(f) << 8));
}

uint32_t fz_u32(struct fz *f)
{
    uint32_t lo = fz_u16(f);
    return lo | ((uint32_t)fz_u16(f) << 16);
}

uint64_t fz_u64(struct fz *f)
{
    uint64_t lo = fz_u32(f);
    return lo | ((uint64_t)fz_u32(f) << 32);
}

uint32_t fz_uN(struct fz *f, unsigned width)
{
    if (width == 1u)
        return fz_u8(f);
    if (width == 2u)
        return fz_u16(f);
    return fz_u32(f);
}

void fz_bytes(struct fz *f, void *out, size_t len)
{
    size_t n = fz_left(f) < len ? fz_left(f) : len;

    if (n != 0u)
        memcpy(out, f->data + f->pos, n);
    if (len > n)
        memset((uint8_t *)out + n, 0, len - n);
    f->pos += n;
}

uint32_t fz_below(struct fz *f, uint32_t n)
{
    if (n == 0u)
        return 0;
    if (n <= 0x100u)
        return fz_u8(f) % n;
    if (n <= 0x10000u)
        return fz_u16(f) % n;
    return fz_u32(f) % n;
}

/* ---- violations --------------------------------------------------------------------------------
 */

void fh_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz_hal violation: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

static struct fuzz_hal *ctx_fh(void *ctx)
{
    return (struct fuzz_hal *)ctx;
}

/* ---- registers ---------------------------------------------------------------------------------
 */

void fh_region_add(struct fuzz_hal *fh, bool pio, uint64_t base, uint64_t size, fh_reg_read_fn rd,
                   fh_reg_write_fn wr, void *dev)
{
    struct fh_region *r;

    if (fh->nregions >= FH_MAX_REGIONS)
        fh_fail("too many regions");
    r = &fh->regions[fh->nregions++];
    r->pio = pio;
    r->base = base;
    r->size = size;
    r->read = rd;
    r->write = wr;
    r->dev = dev;
}

static struct fh_region *find_region(struct fuzz_hal *fh, bool pio, uint64_t addr, unsigned width)
{
    unsigned i;

    for (i = 0; i < fh->nregions; i++) {
        struct fh_region *r = &fh->regions[i];
        if (r->pio == pio && addr >= r->base && addr - r->base < r->size &&
            width <= r->size - (addr - r->base))
            return r;
    }
    return NULL;
}

static uint32_t reg_read(struct fuzz_hal *fh, bool pio, keel_io_addr_t addr, unsigned width)
{
    struct fh_region *r;

    if ((addr & (width - 1u)) != 0u)
        fh_fail("%s read%u at 0x%llx is not naturally aligned", pio ? "port" : "MMIO", width * 8u,
                (unsigned long long)addr);
    r = find_region(fh, pio, addr, width);
    if (r != NULL)
        return r->read(r->dev, addr - r->base, width);
    if (fh->stream_regs)
        return fz_uN(fh->in, width);
    fh_fail("%s read%u at 0x%llx outside every device window", pio ? "port" : "MMIO", width * 8u,
            (unsigned long long)addr);
}

static void reg_write(struct fuzz_hal *fh, bool pio, keel_io_addr_t addr, unsigned width,
                      uint32_t val)
{
    struct fh_region *r;

    fh->idle_reads = 0;
    if ((addr & (width - 1u)) != 0u)
        fh_fail("%s write%u at 0x%llx is not naturally aligned", pio ? "port" : "MMIO", width * 8u,
                (unsigned long long)addr);
    r = find_region(fh, pio, addr, width);
    if (r != NULL) {
        r->write(r->dev, addr - r->base, width, val);
        return;
    }
    if (!fh->stream_regs)
        fh_fail("%s write%u at 0x%llx outside every device window", pio ? "port" : "MMIO",
                width * 8u, (unsigned long long)addr);
}

static uint8_t mmio_r8(void *c, keel_io_addr_t a)
{
    return (uint8_t)reg_read(ctx_fh(c), false, a, 1);
}
static uint16_t mmio_r16(void *c, keel_io_addr_t a)
{
    return (uint16_t)reg_read(ctx_fh(c), false, a, 2);
}
static uint32_t mmio_r32(void *c, keel_io_addr_t a)
{
    return reg_read(ctx_fh(c), false, a, 4);
}
static void mmio_w8(void *c, keel_io_addr_t a, uint8_t v)
{
    reg_write(ctx_fh(c), false, a, 1, v);
}
static void mmio_w16(void *c, keel_io_addr_t a, uint16_t v)
{
    reg_write(ctx_fh(c), false, a, 2, v);
}
static void mmio_w32(void *c, keel_io_addr_t a, uint32_t v)
{
    reg_write(ctx_fh(c), false, a, 4, v);
}
static uint8_t pio_r8(void *c, keel_io_addr_t a)
{
    return (uint8_t)reg_read(ctx_fh(c), true, a, 1);
}
static uint16_t pio_r16(void *c, keel_io_addr_t a)
{
    return (uint16_t)reg_read(ctx_fh(c), true, a, 2);
}
static uint32_t pio_r32(void *c, keel_io_addr_t a)
{
    return reg_read(ctx_fh(c), true, a, 4);
}
static void pio_w8(void *c, keel_io_addr_t a, uint8_t v)
{
    reg_write(ctx_fh(c), true, a, 1, v);
}
static void pio_w16(void *c, keel_io_addr_t a, uint16_t v)
{
    reg_write(ctx_fh(c), true, a, 2, v);
}
static void pio_w32(void *c, keel_io_addr_t a, uint32_t v)
{
    reg_write(ctx_fh(c), true, a, 4, v);
}

/* ---- PCI configuration space -------------------------------------------------------------------
 */

static void pci_check(struct keel_pci_addr a, uint16_t off, uint8_t width)
{
    if ((width != 1u && width != 2u && width != 4u) || (off & (width - 1u)) != 0u ||
        off + width > 4096u || a.dev > 31u || a.fn > 7u)
        fh_fail("PCI config access %04x:%02x:%02x.%u off 0x%x width %u breaks the contract",
                a.segment, a.bus, a.dev, a.fn, off, width);
}

static int pci_read(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t *val)
{
    struct fuzz_hal *fh = ctx_fh(ctx);

    pci_check(a, off, width);
    if (fh->pci_read != NULL)
        *val = fh->pci_read(fh->pci_dev, a, off, width);
    else if (fh->stream_pci)
        *val = fz_uN(fh->in, width);
    else
        *val = width == 4u ? 0xffffffffu : (1u << (width * 8u)) - 1u;
    return KEEL_OK;
}

static int pci_write(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t val)
{
    struct fuzz_hal *fh = ctx_fh(ctx);

    pci_check(a, off, width);
    if (fh->pci_write != NULL)
        fh->pci_write(fh->pci_dev, a, off, width, val);
    return KEEL_OK;
}

/* ---- coherent DMA memory -----------------------------------------------------------------------
 */

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1u) & ~(a - 1u);
}

static int dma_alloc(void *ctx, size_t size, size_t align, struct keel_dma_mem *out)
{
    struct fuzz_hal *fh = ctx_fh(ctx);
    struct fh_alloc *a = NULL;
    void *p = NULL;
    unsigned i;

    if (size == 0u || align == 0u || (align & (align - 1u)) != 0u || align > FH_PAGE)
        fh_fail("dma_alloc(size %zu, align %zu) breaks the contract", size, align);
    fh->alloc_calls++;
    if (fh->alloc_calls == fh->alloc_fail_at)
        return KEEL_ENOMEM;
    for (i = 0; i < FH_MAX_ALLOCS && a == NULL; i++)
        if (!fh->allocs[i].live && fh->allocs[i].cpu == NULL)
            a = &fh->allocs[i];
    if (a == NULL)
        return KEEL_ENOMEM;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) != 0)
        return KEEL_ENOMEM;
    memset(p, 0, size);
    fh->alloc_bus_next = round_up(fh->alloc_bus_next, align < 64u ? 64u : align);
    if ((unsigned)(a - fh->allocs) >= fh->allocs_used)
        fh->allocs_used = (unsigned)(a - fh->allocs) + 1u;
    a->live = true;
    a->cpu = p;
    a->size = size;
    a->bus = fh->alloc_bus_next;
    fh->alloc_bus_next = round_up(fh->alloc_bus_next + size, FH_PAGE) + FH_PAGE; /* guard gap */
    out->cpu = p;
    out->bus = a->bus;
    out->size = size;
    out->cookie = a;
    return KEEL_OK;
}

static void dma_free(void *ctx, struct keel_dma_mem *mem)
{
    struct fuzz_hal *fh = ctx_fh(ctx);
    struct fh_alloc *a = mem != NULL ? mem->cookie : NULL;

    if (a == NULL || a < fh->allocs || a >= fh->allocs + FH_MAX_ALLOCS || !a->live ||
        a->cpu != mem->cpu || a->bus != mem->bus || a->size != mem->size)
        fh_fail("dma_free of memory dma_alloc did not hand out (or freed twice)");
    a->live = false;
    free(a->cpu);
    /* The slot is not reused within this input: a stale cookie stays detectable. */
}

/* ---- streaming mappings ------------------------------------------------------------------------
 */

/* Segment `j` of a mapping: CPU start and length, and its bus address. */
static void map_seg(const struct fh_map *m, unsigned j, uintptr_t *cpu, size_t *len, uint64_t *bus)
{
    uintptr_t b = (uintptr_t)m->buf, e = b + m->len;

    if (!m->pages) {
        *cpu = b;
        *len = m->len;
        *bus = m->bus + (b - m->first);
        return;
    }
    {
        uintptr_t ps = m->first + (uintptr_t)j * FH_PAGE, pe = ps + FH_PAGE;
        uintptr_t s = b > ps ? b : ps, en = e < pe ? e : pe;
        *cpu = s;
        *len = en - s;
        *bus = m->bus + (uint64_t)j * 2u * FH_PAGE + (s - ps);
    }
}

static int dma_map(void *ctx, void *buf, size_t len, enum keel_dma_dir dir,
                   struct keel_dma_seg *segs, unsigned max_segs, unsigned *nsegs, void **cookie)
{
    struct fuzz_hal *fh = ctx_fh(ctx);
    struct fh_map *m = NULL;
    uintptr_t b = (uintptr_t)buf;
    unsigned i, n;

    if (buf == NULL || segs == NULL || nsegs == NULL || cookie == NULL || max_segs == 0u)
        fh_fail("dma_map with NULL arguments or max_segs 0");
    if (dir != KEEL_DMA_TO_DEVICE && dir != KEEL_DMA_FROM_DEVICE && dir != KEEL_DMA_BIDIRECTIONAL)
        fh_fail("dma_map with direction %d", (int)dir);
    if (len == 0u || len > (64u << 20))
        return KEEL_EINVAL;
    fh->map_calls++;
    if (fh->map_calls == fh->map_fail_at)
        return KEEL_ENOMEM;
    for (i = 0; i < FH_MAX_MAPS && m == NULL; i++)
        if (!fh->maps[i].live)
            m = &fh->maps[i]; /* a reused slot gets a fresh bus window: stale addresses miss */
    if (m == NULL)
        return KEEL_ENOMEM;
    if ((unsigned)(m - fh->maps) >= fh->maps_used)
        fh->maps_used = (unsigned)(m - fh->maps) + 1u;
    m->buf = buf;
    m->len = len;
    m->dir = dir;
    m->pages = fh->map_mode == FH_MAP_PAGES;
    m->first = b & ~(uintptr_t)(FH_PAGE - 1u);
    m->npages = (unsigned)(((b + len - 1u) >> 12) - (m->first >> 12) + 1u);
    n = m->pages ? m->npages : 1u;
    if (n > max_segs)
        return KEEL_ENOSPC;
    m->bus = fh->map_bus_next;
    fh->map_bus_next += round_up((uint64_t)m->npages * 2u * FH_PAGE, 1u << 20) + (1u << 20);
    for (i = 0; i < n; i++) {
        uintptr_t cpu;
        size_t l;
        map_seg(m, i, &cpu, &l, &segs[i].bus);
        segs[i].len = (uint32_t)l;
    }
    m->live = true;
    *nsegs = n;
    *cookie = m;
    return KEEL_OK;
}

static struct fh_map *map_of(struct fuzz_hal *fh, void *cookie)
{
    struct fh_map *m = cookie;

    if (m == NULL || m < fh->maps || m >= fh->maps + FH_MAX_MAPS || !m->live)
        return NULL;
    return m;
}

static void dma_unmap(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_dir dir)
{
    struct fuzz_hal *fh = ctx_fh(ctx);
    struct fh_map *m = map_of(fh, cookie);

    if (m == NULL)
        fh_fail("dma_unmap of an unknown or already unmapped cookie");
    if (m->buf != buf || m->len != len || m->dir != dir)
        fh_fail("dma_unmap(%p, %zu, dir %d) of a mapping made as (%p, %zu, dir %d)", buf, len,
                (int)dir, (void *)m->buf, m->len, (int)m->dir);
    m->live = false; /* its bus window is never handed out again within this input */
}

static void dma_sync(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_sync_for who)
{
    struct fuzz_hal *fh = ctx_fh(ctx);
    struct fh_map *m = map_of(fh, cookie);

    (void)who;
    if (m == NULL || (uint8_t *)buf < m->buf || len > m->len ||
        (size_t)((uint8_t *)buf - m->buf) > m->len - len)
        fh_fail("dma_sync outside a live mapping");
}

/* ---- device-side translation -------------------------------------------------------------------
 */

/* Translate one bus address: CPU pointer and bytes contiguous from there; NULL when unmapped. */
static uint8_t *translate(struct fuzz_hal *fh, uint64_t bus, size_t *avail, struct fh_map **mo)
{
    unsigned i;

    *mo = NULL;
    for (i = 0; i < fh->allocs_used; i++) {
        struct fh_alloc *a = &fh->allocs[i];
        if (a->live && bus >= a->bus && bus - a->bus < a->size) {
            *avail = a->size - (size_t)(bus - a->bus);
            return (uint8_t *)a->cpu + (bus - a->bus);
        }
    }
    for (i = 0; i < fh->maps_used; i++) {
        struct fh_map *m = &fh->maps[i];
        uint64_t span =
            m->pages ? (uint64_t)m->npages * 2u * FH_PAGE : (uint64_t)m->npages * FH_PAGE;
        unsigned j = 0;
        uintptr_t cpu;
        size_t len;
        uint64_t sbus;

        if (!m->live || bus < m->bus || bus - m->bus >= span)
            continue;
        if (m->pages)
            j = (unsigned)((bus - m->bus) / (2u * FH_PAGE));
        map_seg(m, j, &cpu, &len, &sbus);
        if (bus < sbus || bus - sbus >= len)
            return NULL;
        *avail = len - (size_t)(bus - sbus);
        *mo = m;
        return (uint8_t *)(cpu + (uintptr_t)(bus - sbus));
    }
    return NULL;
}

static enum fh_dma_result dma_walk(struct fuzz_hal *fh, uint64_t bus, uint8_t *io, size_t len,
                                   int mode /* 0 check-read, 1 check-write, 2 read, 3 write */)
{
    while (len > 0u) {
        struct fh_map *m;
        size_t avail = 0, n;
        uint8_t *p;

        if (bus + len < bus)
            return FH_DMA_UNMAPPED;
        p = translate(fh, bus, &avail, &m);
        if (p == NULL)
            return FH_DMA_UNMAPPED;
        if ((mode == 1 || mode == 3) && m != NULL && m->dir == KEEL_DMA_TO_DEVICE)
            return FH_DMA_READONLY;
        n = avail < len ? avail : len;
        if (mode == 2)
            memcpy(io, p, n);
        else if (mode == 3)
            memcpy(p, io, n);
        if (io != NULL)
            io += n;
        bus += n;
        len -= n;
    }
    return FH_DMA_OK;
}

enum fh_dma_result fh_dma_check(struct fuzz_hal *fh, uint64_t bus, size_t len, bool write)
{
    return dma_walk(fh, bus, NULL, len, write ? 1 : 0);
}

enum fh_dma_result fh_dma_write(struct fuzz_hal *fh, uint64_t bus, const void *src, size_t len)
{
    enum fh_dma_result r = fh_dma_check(fh, bus, len, true);

    if (r != FH_DMA_OK)
        return r;
    return dma_walk(fh, bus, (uint8_t *)(uintptr_t)src, len, 3);
}

enum fh_dma_result fh_dma_read(struct fuzz_hal *fh, uint64_t bus, void *dst, size_t len)
{
    enum fh_dma_result r = fh_dma_check(fh, bus, len, false);

    if (r != FH_DMA_OK)
        return r;
    return dma_walk(fh, bus, dst, len, 2);
}

void *fh_dma_ptr(struct fuzz_hal *fh, uint64_t bus, size_t len)
{
    unsigned i;

    for (i = 0; i < fh->allocs_used; i++) {
        struct fh_alloc *a = &fh->allocs[i];
        if (a->live && bus >= a->bus && bus - a->bus < a->size && len <= a->size - (bus - a->bus))
            return (uint8_t *)a->cpu + (bus - a->bus);
    }
    return NULL;
}

bool fh_buf_mapped(const struct fuzz_hal *fh, const void *buf, size_t len)
{
    uintptr_t b = (uintptr_t)buf;
    unsigned i;

    for (i = 0; i < fh->maps_used; i++) {
        const struct fh_map *m = &fh->maps[i];
        uintptr_t mb = (uintptr_t)m->buf;
        if (m->live && b < mb + m->len && mb < b + len)
            return true;
    }
    return false;
}

unsigned fh_live_allocs(const struct fuzz_hal *fh)
{
    unsigned i, n = 0;

    for (i = 0; i < FH_MAX_ALLOCS; i++)
        n += fh->allocs[i].live ? 1u : 0u;
    return n;
}

unsigned fh_live_maps(const struct fuzz_hal *fh)
{
    unsigned i, n = 0;

    for (i = 0; i < FH_MAX_MAPS; i++)
        n += fh->maps[i].live ? 1u : 0u;
    return n;
}

/* ---- ordering, time ----------------------------------------------------------------------------
 */

static void barrier(void *ctx, enum keel_barrier kind)
{
    (void)ctx;
    if (kind != KEEL_BARRIER_FULL && kind != KEEL_BARRIER_READ && kind != KEEL_BARRIER_WRITE)
        fh_fail("barrier kind %d", (int)kind);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void run_hook(struct fuzz_hal *fh)
{
    if (fh->on_time != NULL && !fh->in_on_time) {
        fh->in_on_time = true;
        fh->on_time(fh->on_time_arg);
        fh->in_on_time = false;
    }
}

/* See fuzz_hal.h: a clock read many times without a register write speeds up. */
#define FH_IDLE_READS    512u
#define FH_IDLE_STEP_MAX 131072u

static uint64_t time_us(void *ctx)
{
    struct fuzz_hal *fh = ctx_fh(ctx);

    fh->now_us += fh->tick_us;
    if (++fh->idle_reads > FH_IDLE_READS) {
        unsigned k = (fh->idle_reads - FH_IDLE_READS) / 128u;
        fh->now_us += k >= 17u ? FH_IDLE_STEP_MAX : (1ull << k);
    }
    run_hook(fh);
    return fh->now_us;
}

static void delay_us(void *ctx, uint32_t us)
{
    struct fuzz_hal *fh = ctx_fh(ctx);

    fh->now_us += us > fh->delay_min_us ? us : fh->delay_min_us;
    run_hook(fh);
}

void fh_advance(struct fuzz_hal *fh, uint64_t us)
{
    fh->now_us += us;
}

/* ---- interrupts --------------------------------------------------------------------------------
 */

static struct fh_irq *irq_of(struct fuzz_hal *fh, uint32_t handle, const char *what)
{
    if (handle >= FH_MAX_IRQS || !fh->irqs[handle].used)
        fh_fail("%s of interrupt handle %u that is not attached", what, handle);
    return &fh->irqs[handle];
}

static int irq_attach(void *ctx, const struct keel_irq_src *src, keel_irq_fn fn, void *arg,
                      uint32_t *handle)
{
    struct fuzz_hal *fh = ctx_fh(ctx);
    unsigned i;

    if (src == NULL || fn == NULL || handle == NULL)
        fh_fail("irq_attach with NULL arguments");
    for (i = 0; i < FH_MAX_IRQS; i++) {
        struct fh_irq *q = &fh->irqs[i];
        if (q->used)
            continue;
        memset(q, 0, sizeof(*q));
        q->used = true;
        q->masked = true;
        q->src = *src;
        q->fn = fn;
        q->arg = arg;
        *handle = i;
        return KEEL_OK;
    }
    return KEEL_ENOSPC;
}

static void irq_detach(void *ctx, uint32_t handle)
{
    struct fh_irq *q = irq_of(ctx_fh(ctx), handle, "irq_detach");

    q->used = false;
    q->pending = false;
}

static void irq_mask(void *ctx, uint32_t handle, bool masked)
{
    struct fh_irq *q = irq_of(ctx_fh(ctx), handle, "irq_mask");

    q->masked = masked;
    if (masked)
        q->pending = false; /* the contract allows losing edges while masked */
}

static void irq_eoi(void *ctx, uint32_t handle)
{
    (void)irq_of(ctx_fh(ctx), handle, "irq_eoi");
}

static int msi_compose(void *ctx, uint32_t handle, uint64_t *addr, uint32_t *data)
{
    (void)irq_of(ctx_fh(ctx), handle, "msi_compose");
    *addr = 0xfee00000u;
    *data = handle;
    return KEEL_OK;
}

int fh_irq_find(const struct fuzz_hal *fh, enum keel_irq_kind kind, uint32_t index)
{
    unsigned i;

    for (i = 0; i < FH_MAX_IRQS; i++)
        if (fh->irqs[i].used && fh->irqs[i].src.kind == kind && fh->irqs[i].src.index == index)
            return (int)i;
    return -1;
}

void fh_irq_raise(struct fuzz_hal *fh, int handle)
{
    struct fh_irq *q;
    unsigned rounds;

    if (handle < 0 || handle >= FH_MAX_IRQS || !fh->irqs[handle].used)
        return;
    q = &fh->irqs[handle];
    if (q->masked)
        return;
    if (fh->irq_depth != 0u) {
        q->pending = true; /* delivered when the running handler returns */
        return;
    }
    q->pending = true;
    for (rounds = 0; rounds < 4u; rounds++) {
        unsigned i;
        bool any = false;
        for (i = 0; i < FH_MAX_IRQS; i++) {
            struct fh_irq *p = &fh->irqs[i];
            if (!p->used || p->masked || !p->pending)
                continue;
            p->pending = false;
            any = true;
            fh->irq_depth++;
            p->fn(p->arg);
            fh->irq_depth--;
        }
        if (!any)
            break;
    }
}

/* ---- lock, log ---------------------------------------------------------------------------------
 */

#define FH_LOCK_TOKEN 0x4b45454cu

static uintptr_t lock(void *ctx, keel_lock_t *l)
{
    struct fuzz_hal *fh = ctx_fh(ctx);

    if (l == NULL)
        fh_fail("lock(NULL)");
    fh->lock_depth++;
    return FH_LOCK_TOKEN;
}

static void unlock(void *ctx, keel_lock_t *l, uintptr_t state)
{
    struct fuzz_hal *fh = ctx_fh(ctx);

    if (l == NULL || state != FH_LOCK_TOKEN || fh->lock_depth <= 0)
        fh_fail("unlock without a matching lock");
    fh->lock_depth--;
}

static void log_line(void *ctx, enum keel_log_level level, const char *line)
{
    struct fuzz_hal *fh = ctx_fh(ctx);
    size_t n = strlen(line); /* ASan checks the line is a terminated string */

    fh->log_lines++;
    if (fh->log_print)
        fprintf(stderr, "[keel %d] %.*s\n", (int)level, (int)n, line);
}

static const struct keel_hal_ops fh_ops = {
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
    .pci_cfg_read = pci_read,
    .pci_cfg_write = pci_write,
    .io_map = NULL,
    .dma_alloc = dma_alloc,
    .dma_free = dma_free,
    .dma_map = dma_map,
    .dma_unmap = dma_unmap,
    .dma_sync = dma_sync,
    .barrier = barrier,
    .time_us = time_us,
    .delay_us = delay_us,
    .irq_attach = irq_attach,
    .irq_detach = irq_detach,
    .irq_mask = irq_mask,
    .irq_eoi = irq_eoi,
    .msi_compose = msi_compose,
    .lock = lock,
    .unlock = unlock,
    .log = log_line,
};

void fh_init(struct fuzz_hal *fh, struct fz *in)
{
    memset(fh, 0, sizeof(*fh));
    fh->ops = fh_ops;
    fh->hal.ops = &fh->ops;
    fh->hal.ctx = fh;
    fh->in = in;
    fh->alloc_bus_next = FH_ALLOC_BUS;
    fh->map_bus_next = FH_MAP_BUS;
    fh->now_us = FH_START_US;
    fh->tick_us = 1;
    fh->delay_min_us = 1;
    fh->log_print = getenv("KEEL_FUZZ_LOG") != NULL;
}

void fh_finish(struct fuzz_hal *fh, bool expect_clean)
{
    unsigned i;

    if (expect_clean) {
        if (fh_live_allocs(fh) != 0u)
            fh_fail("%u DMA allocation(s) leaked", fh_live_allocs(fh));
        if (fh_live_maps(fh) != 0u)
            fh_fail("%u DMA mapping(s) leaked", fh_live_maps(fh));
        if (fh->lock_depth != 0)
            fh_fail("lock held at the end (depth %d)", fh->lock_depth);
        for (i = 0; i < FH_MAX_IRQS; i++)
            if (fh->irqs[i].used)
                fh_fail("interrupt handle %u still attached", i);
    }
    for (i = 0; i < FH_MAX_ALLOCS; i++)
        if (fh->allocs[i].live)
            free(fh->allocs[i].cpu);
    memset(fh->allocs, 0, sizeof(fh->allocs));
    memset(fh->maps, 0, sizeof(fh->maps));
    fh->allocs_used = fh->maps_used = 0;
}
