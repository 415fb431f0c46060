/* SPDX-License-Identifier: MIT */
/*
 * Self-test of the virtio device model, driven through the sim's HAL hooks by a tiny raw-register
 * "driver" written here (not Keel's): every transport's bring-up, blk I/O through split and packed
 * rings, indirect descriptors, event index, deferred processing, strict-mode checks and faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio_model.h"

/* ------------------------------------------------------------------------------------------------
 * Raw register access through the HAL the driver would use
 */
struct tdev {
    struct sim *s;
    struct vmodel *m;
    struct vmodel_blk *b;
    struct vmodel_cfg cfg;
    uint64_t common, isr, device, notify; /* PCI modern windows (absolute) */
    uint32_t notify_mult;
    uint64_t mmio;
    uint32_t io;
    bool msix_on;
};

static uint32_t rd(struct tdev *d, uint64_t a, unsigned w)
{
    struct sim *s = d->s;
    if (w == 1)
        return s->ops.mmio_read8(s, (keel_io_addr_t)a);
    if (w == 2)
        return s->ops.mmio_read16(s, (keel_io_addr_t)a);
    return s->ops.mmio_read32(s, (keel_io_addr_t)a);
}

static void wr(struct tdev *d, uint64_t a, unsigned w, uint32_t v)
{
    struct sim *s = d->s;
    if (w == 1)
        s->ops.mmio_write8(s, (keel_io_addr_t)a, (uint8_t)v);
    else if (w == 2)
        s->ops.mmio_write16(s, (keel_io_addr_t)a, (uint16_t)v);
    else
        s->ops.mmio_write32(s, (keel_io_addr_t)a, v);
}

static uint32_t prd(struct tdev *d, uint32_t off, unsigned w)
{
    struct sim *s = d->s;
    if (w == 1)
        return s->ops.pio_read8(s, d->io + off);
    if (w == 2)
        return s->ops.pio_read16(s, d->io + off);
    return s->ops.pio_read32(s, d->io + off);
}

static void pwr(struct tdev *d, uint32_t off, unsigned w, uint32_t v)
{
    struct sim *s = d->s;
    if (w == 1)
        s->ops.pio_write8(s, d->io + off, (uint8_t)v);
    else if (w == 2)
        s->ops.pio_write16(s, d->io + off, (uint16_t)v);
    else
        s->ops.pio_write32(s, d->io + off, v);
}

static uint32_t cfgrd(struct tdev *d, uint16_t off, uint8_t w)
{
    uint32_t v = 0;
    d->s->ops.pci_cfg_read(d->s, d->cfg.pci_addr, off, w, &v);
    return v;
}

static void cfgwr(struct tdev *d, uint16_t off, uint8_t w, uint32_t v)
{
    d->s->ops.pci_cfg_write(d->s, d->cfg.pci_addr, off, w, v);
}

static struct keel_dma_mem dma(struct tdev *d, size_t size, size_t align)
{
    struct keel_dma_mem mem;
    assert_int_equal(d->s->ops.dma_alloc(d->s, size, align, &mem), 0);
    return mem;
}

/* Ring fields and request headers are little-endian on the modern interface and in the guest's
 * order on the legacy one; the guest is the host, so the test driver writes host order while it
 * speaks legacy (set by tdev_open): the self-test then passes on big-endian hosts too, where the
 * two orders differ. */
static bool g_host_order;

static void put16(void *p, uint16_t v)
{
    uint8_t *b = p;
    if (g_host_order) {
        memcpy(p, &v, sizeof(v));
        return;
    }
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}
static void put32(void *p, uint32_t v)
{
    if (g_host_order) {
        memcpy(p, &v, sizeof(v));
        return;
    }
    put16(p, (uint16_t)v);
    put16((uint8_t *)p + 2, (uint16_t)(v >> 16));
}
static void put64(void *p, uint64_t v)
{
    if (g_host_order) {
        memcpy(p, &v, sizeof(v));
        return;
    }
    put32(p, (uint32_t)v);
    put32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}
static uint16_t get16(const void *p)
{
    const uint8_t *b = p;
    uint16_t v;
    if (g_host_order) {
        memcpy(&v, p, sizeof(v));
        return v;
    }
    return (uint16_t)(b[0] | (b[1] << 8));
}
static uint32_t get32(const void *p)
{
    uint32_t v;
    if (g_host_order) {
        memcpy(&v, p, sizeof(v));
        return v;
    }
    return (uint32_t)get16(p) | ((uint32_t)get16((const uint8_t *)p + 2) << 16);
}

/* ------------------------------------------------------------------------------------------------
 * Transport-neutral register verbs of the test driver
 */
#define MMIO_STATUS 0x70u
#define CC_STATUS   0x14u

static bool is_mmio(const struct tdev *d)
{
    return d->cfg.transport == VMODEL_MMIO_V1 || d->cfg.transport == VMODEL_MMIO_V2;
}

static bool is_legacy_io(const struct tdev *d)
{
    return d->cfg.transport == VMODEL_PCI_LEGACY;
}

static void set_status(struct tdev *d, uint8_t v)
{
    if (is_mmio(d))
        wr(d, d->mmio + MMIO_STATUS, 4, v);
    else if (is_legacy_io(d))
        pwr(d, 0x12, 1, v);
    else
        wr(d, d->common + CC_STATUS, 1, v);
}

static uint8_t get_status(struct tdev *d)
{
    if (is_mmio(d))
        return (uint8_t)rd(d, d->mmio + MMIO_STATUS, 4);
    if (is_legacy_io(d))
        return (uint8_t)prd(d, 0x12, 1);
    return (uint8_t)rd(d, d->common + CC_STATUS, 1);
}

static uint64_t get_features(struct tdev *d)
{
    if (is_mmio(d)) {
        wr(d, d->mmio + 0x14, 4, 0);
        uint64_t lo = rd(d, d->mmio + 0x10, 4);
        wr(d, d->mmio + 0x14, 4, 1);
        return lo | ((uint64_t)rd(d, d->mmio + 0x10, 4) << 32);
    }
    if (is_legacy_io(d))
        return prd(d, 0x00, 4);
    wr(d, d->common + 0x00, 4, 0);
    uint64_t lo = rd(d, d->common + 0x04, 4);
    wr(d, d->common + 0x00, 4, 1);
    return lo | ((uint64_t)rd(d, d->common + 0x04, 4) << 32);
}

static void set_features(struct tdev *d, uint64_t f)
{
    if (is_mmio(d)) {
        wr(d, d->mmio + 0x24, 4, 0);
        wr(d, d->mmio + 0x20, 4, (uint32_t)f);
        wr(d, d->mmio + 0x24, 4, 1);
        wr(d, d->mmio + 0x20, 4, (uint32_t)(f >> 32));
    } else if (is_legacy_io(d)) {
        pwr(d, 0x04, 4, (uint32_t)f);
    } else {
        wr(d, d->common + 0x08, 4, 0);
        wr(d, d->common + 0x0c, 4, (uint32_t)f);
        wr(d, d->common + 0x08, 4, 1);
        wr(d, d->common + 0x0c, 4, (uint32_t)(f >> 32));
    }
}

/* Raw device config read: the value the little-endian bus presents. */
static uint32_t dev_cfg_raw(struct tdev *d, uint32_t off, unsigned w)
{
    if (is_mmio(d))
        return rd(d, d->mmio + 0x100 + off, w);
    if (is_legacy_io(d))
        return prd(d, (d->msix_on ? 0x18u : 0x14u) + off, w);
    return rd(d, d->device + off, w);
}

/* A device config field of `w` bytes in CPU order: legacy fields are in the guest's order, so a
 * big-endian guest swaps what the little-endian bus gave it. */
static uint32_t dev_cfg_read(struct tdev *d, uint32_t off, unsigned w)
{
    uint32_t v = dev_cfg_raw(d, off, w);
    uint8_t b[4];

    if (!g_host_order || w == 1)
        return v;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
    if (w == 2) {
        uint16_t h;
        memcpy(&h, b, sizeof(h));
        return h;
    }
    memcpy(&v, b, sizeof(v));
    return v;
}

/* The 64-bit capacity (two 32-bit accesses, lower address first), in CPU order. */
static uint64_t dev_cfg_capacity(struct tdev *d)
{
    uint32_t lo = dev_cfg_raw(d, 0, 4), hi = dev_cfg_raw(d, 4, 4);
    uint8_t b[8];
    uint64_t v;
    unsigned i;

    for (i = 0; i < 4; i++) {
        b[i] = (uint8_t)(lo >> (8u * i));
        b[4 + i] = (uint8_t)(hi >> (8u * i));
    }
    if (g_host_order) {
        memcpy(&v, b, sizeof(v));
        return v;
    }
    return (uint64_t)lo | ((uint64_t)hi << 32);
}

static void notify(struct tdev *d, unsigned q)
{
    if (is_mmio(d))
        wr(d, d->mmio + 0x50, 4, q);
    else if (is_legacy_io(d))
        pwr(d, 0x10, 2, q);
    else
        wr(d, d->notify + (uint64_t)q * d->notify_mult, 2, q);
}

/* Walk the vendor capabilities like a driver would (4.1.4). */
static void pci_find_caps(struct tdev *d)
{
    uint8_t p = (uint8_t)cfgrd(d, 0x34, 1);
    uint64_t bar4 = (cfgrd(d, 0x20, 4) & ~0xfu) | ((uint64_t)cfgrd(d, 0x24, 4) << 32);
    unsigned found = 0;

    d->io = cfgrd(d, 0x10, 4) & ~3u;
    while (p) {
        if (cfgrd(d, p, 1) == 0x09) {
            uint8_t type = (uint8_t)cfgrd(d, p + 3u, 1), bar = (uint8_t)cfgrd(d, p + 4u, 1);
            uint64_t at = bar4 + cfgrd(d, p + 8u, 4);
            if (bar == 4) {
                if (type == 1 && !d->common)
                    d->common = at;
                else if (type == 2 && !d->notify) {
                    d->notify = at;
                    d->notify_mult = cfgrd(d, p + 16u, 4);
                } else if (type == 3 && !d->isr)
                    d->isr = at;
                else if (type == 4 && !d->device)
                    d->device = at;
                found++;
            }
        }
        p = (uint8_t)cfgrd(d, p + 1u, 1);
    }
    if (d->cfg.transport != VMODEL_PCI_LEGACY)
        assert_int_equal(found, 4);
}

static void tdev_open(struct tdev *d, enum vmodel_transport t, const struct vmodel_blk_cfg *bcfg,
                      void (*tweak)(struct vmodel_cfg *))
{
    struct vmodel_blk_cfg bc;

    memset(d, 0, sizeof(*d));
    g_host_order = t == VMODEL_MMIO_V1 || t == VMODEL_PCI_LEGACY;
    d->s = sim_create(4u << 20);
    assert_non_null(d->s);
    vmodel_cfg_default(&d->cfg, t);
    if (tweak)
        tweak(&d->cfg);
    if (bcfg == NULL) {
        vmodel_blk_cfg_default(&bc);
        bcfg = &bc;
    }
    d->m = vmodel_blk_pair_create(d->s, &d->cfg, bcfg, &d->b);
    assert_non_null(d->m);
    d->mmio = d->cfg.mmio_base;
    if (!is_mmio(d))
        pci_find_caps(d);
}

static void tdev_close(struct tdev *d)
{
    vmodel_blk_pair_destroy(d->m, d->b);
    sim_destroy(d->s);
}

/* ------------------------------------------------------------------------------------------------
 * A minimal driver-side virtqueue (split or packed)
 */
struct tq {
    struct tdev *d;
    unsigned idx;
    bool packed, legacy;
    uint16_t size;
    struct keel_dma_mem mem;
    uint8_t *desc, *avail, *used; /* split: desc / avail / used; packed: desc / driver / device */
    uint64_t desc_bus, avail_bus, used_bus;
    uint16_t next_desc;
    uint16_t avail_idx, used_seen;
    uint16_t next_avail, next_used;
    bool avail_wrap, used_wrap;
    uint16_t chain_len[64];
};

struct tbuf {
    uint64_t bus;
    uint32_t len;
    bool write;
};

static void tq_alloc(struct tdev *d, struct tq *q, unsigned idx, uint16_t size, bool packed)
{
    memset(q, 0, sizeof(*q));
    q->d = d;
    q->idx = idx;
    q->size = size;
    q->packed = packed;
    q->legacy = d->cfg.transport == VMODEL_MMIO_V1 || d->cfg.transport == VMODEL_PCI_LEGACY;
    q->avail_wrap = q->used_wrap = true;
    q->mem = dma(d, 3u * 4096u + 16u * size + 8u * size, 4096);
    q->desc = q->mem.cpu;
    q->desc_bus = q->mem.bus;
    if (q->legacy) {
        size_t used_off = (16u * size + 6u + 2u * size + 4095u) & ~(size_t)4095u;
        q->avail = q->desc + 16u * size;
        q->avail_bus = q->desc_bus + 16u * size;
        q->used = q->desc + used_off;
        q->used_bus = q->desc_bus + used_off;
    } else {
        q->avail = q->desc + 16u * size + 64u;
        q->avail_bus = q->desc_bus + 16u * size + 64u;
        q->used = q->desc + 2u * 4096u;
        q->used_bus = q->desc_bus + 2u * 4096u;
    }
}

static void tq_setup(struct tq *q)
{
    struct tdev *d = q->d;

    if (is_mmio(d)) {
        wr(d, d->mmio + 0x30, 4, q->idx);
        assert_true(rd(d, d->mmio + 0x34, 4) >= q->size);
        wr(d, d->mmio + 0x38, 4, q->size);
        if (d->cfg.transport == VMODEL_MMIO_V1) {
            wr(d, d->mmio + 0x3c, 4, 4096);
            wr(d, d->mmio + 0x40, 4, (uint32_t)(q->desc_bus >> 12));
            return;
        }
        wr(d, d->mmio + 0x80, 4, (uint32_t)q->desc_bus);
        wr(d, d->mmio + 0x84, 4, (uint32_t)(q->desc_bus >> 32));
        wr(d, d->mmio + 0x90, 4, (uint32_t)q->avail_bus);
        wr(d, d->mmio + 0x94, 4, (uint32_t)(q->avail_bus >> 32));
        wr(d, d->mmio + 0xa0, 4, (uint32_t)q->used_bus);
        wr(d, d->mmio + 0xa4, 4, (uint32_t)(q->used_bus >> 32));
        wr(d, d->mmio + 0x44, 4, 1);
        return;
    }
    if (is_legacy_io(d)) {
        pwr(d, 0x0e, 2, q->idx);
        assert_int_equal(prd(d, 0x0c, 2), q->size);
        pwr(d, 0x08, 4, (uint32_t)(q->desc_bus >> 12));
        return;
    }
    wr(d, d->common + 0x16, 2, q->idx);
    assert_true(rd(d, d->common + 0x18, 2) >= q->size);
    wr(d, d->common + 0x18, 2, q->size);
    wr(d, d->common + 0x20, 4, (uint32_t)q->desc_bus);
    wr(d, d->common + 0x24, 4, (uint32_t)(q->desc_bus >> 32));
    wr(d, d->common + 0x28, 4, (uint32_t)q->avail_bus);
    wr(d, d->common + 0x2c, 4, (uint32_t)(q->avail_bus >> 32));
    wr(d, d->common + 0x30, 4, (uint32_t)q->used_bus);
    wr(d, d->common + 0x34, 4, (uint32_t)(q->used_bus >> 32));
    wr(d, d->common + 0x1c, 2, 1);
}

/* Bring-up as 3.1.1 says; returns the negotiated features. */
static uint64_t tdev_init(struct tdev *d, struct tq *q, uint16_t qsize, uint64_t want)
{
    uint64_t offered;
    bool legacy = d->cfg.transport == VMODEL_MMIO_V1 || d->cfg.transport == VMODEL_PCI_LEGACY;

    set_status(d, 0);
    assert_int_equal(get_status(d), 0);
    set_status(d, VMODEL_S_ACKNOWLEDGE);
    set_status(d, VMODEL_S_ACKNOWLEDGE | VMODEL_S_DRIVER);
    offered = get_features(d);
    want &= offered;
    set_features(d, want);
    if (!legacy) {
        set_status(d, VMODEL_S_ACKNOWLEDGE | VMODEL_S_DRIVER | VMODEL_S_FEATURES_OK);
        if (!(get_status(d) & VMODEL_S_FEATURES_OK))
            return 0;
    }
    tq_alloc(d, q, 0, qsize, (want & VMODEL_F_RING_PACKED) != 0);
    tq_setup(q);
    set_status(d, (uint8_t)(get_status(d) | VMODEL_S_DRIVER_OK));
    return want;
}

/* Place a chain; returns its id (split: head index; packed: the buffer id given). */
static uint16_t tq_add(struct tq *q, const struct tbuf *b, unsigned n, uint16_t id)
{
    unsigned i;

    if (!q->packed) {
        uint16_t head = q->next_desc;
        for (i = 0; i < n; i++) {
            uint16_t at = (uint16_t)((q->next_desc + i) % q->size);
            uint8_t *e = q->desc + 16u * at;
            put64(e, b[i].bus);
            put32(e + 8, b[i].len);
            put16(e + 12, (uint16_t)((b[i].write ? 2u : 0u) | (i + 1 < n ? 1u : 0u)));
            put16(e + 14, (uint16_t)((at + 1u) % q->size));
        }
        q->next_desc = (uint16_t)((q->next_desc + n) % q->size);
        put16(q->avail + 4 + 2u * (q->avail_idx % q->size), head);
        q->avail_idx++;
        put16(q->avail + 2, q->avail_idx);
        return head;
    }
    {
        uint16_t first = q->next_avail, first_flags = 0;
        for (i = 0; i < n; i++) {
            uint8_t *e = q->desc + 16u * q->next_avail;
            uint16_t f = (uint16_t)((b[i].write ? 2u : 0u) | (i + 1 < n ? 1u : 0u) |
                                    (q->avail_wrap ? 0x80u : 0x8000u));
            put64(e, b[i].bus);
            put32(e + 8, b[i].len);
            put16(e + 12, id);
            if (q->next_avail == first && i == 0)
                first_flags = f;
            else
                put16(e + 14, f);
            if (++q->next_avail == q->size) {
                q->next_avail = 0;
                q->avail_wrap = !q->avail_wrap;
            }
        }
        q->chain_len[id] = (uint16_t)n;
        put16(q->desc + 16u * first + 14, first_flags);
        return id;
    }
}

static bool tq_used(struct tq *q, uint16_t *id, uint32_t *len)
{
    if (!q->packed) {
        if (get16(q->used + 2) == q->used_seen)
            return false;
        uint8_t *e = q->used + 4 + 8u * (q->used_seen % q->size);
        *id = (uint16_t)get32(e);
        *len = get32(e + 4);
        q->used_seen++;
        /* like a driver that wants the next completion interrupted (2.7.10) */
        put16(q->avail + 4 + 2u * q->size, q->used_seen);
        return true;
    }
    {
        uint8_t *e = q->desc + 16u * q->next_used;
        uint16_t f = get16(e + 14);
        bool avail = (f & 0x80u) != 0, used = (f & 0x8000u) != 0;
        if (avail != used || used != q->used_wrap)
            return false;
        *id = get16(e + 12);
        *len = get32(e + 8);
        assert_true(*id < 64);
        q->next_used = (uint16_t)(q->next_used + q->chain_len[*id]);
        if (q->next_used >= q->size) {
            q->next_used = (uint16_t)(q->next_used - q->size);
            q->used_wrap = !q->used_wrap;
        }
        return true;
    }
}

/* ------------------------------------------------------------------------------------------------
 * blk request helpers
 */
struct treq {
    struct keel_dma_mem hdr, data, status;
};

static void treq_alloc(struct tdev *d, struct treq *r, size_t data)
{
    r->hdr = dma(d, 64, 16);
    r->data = dma(d, data, 4096);
    r->status = dma(d, 16, 16);
}

static uint16_t blk_submit(struct tq *q, struct treq *r, uint32_t type, uint64_t sector,
                           uint32_t len, uint16_t id)
{
    struct tbuf b[3];
    unsigned n = 0;

    put32(r->hdr.cpu, type);
    put32((uint8_t *)r->hdr.cpu + 4, 0);
    put64((uint8_t *)r->hdr.cpu + 8, sector);
    *(uint8_t *)r->status.cpu = 0xff;
    b[n++] = (struct tbuf){r->hdr.bus, 16, false};
    if (len)
        b[n++] = (struct tbuf){r->data.bus, len, type != VMODEL_BLK_T_OUT};
    b[n++] = (struct tbuf){r->status.bus, 1, true};
    return tq_add(q, b, n, id);
}

static uint8_t status_of(const struct treq *r)
{
    return *(const uint8_t *)r->status.cpu;
}

/* ------------------------------------------------------------------------------------------------
 * Tests: bring-up and I/O per transport and ring format
 */
static const uint64_t WANT = VMODEL_F_VERSION_1 | VMODEL_F_INDIRECT_DESC | VMODEL_F_EVENT_IDX |
                             VMODEL_F_RING_RESET | VMODEL_BLK_F_FLUSH | VMODEL_BLK_F_SEG_MAX |
                             VMODEL_BLK_F_BLK_SIZE | VMODEL_BLK_F_DISCARD |
                             VMODEL_BLK_F_WRITE_ZEROES | VMODEL_BLK_F_CONFIG_WCE;

/* Write two sectors, read them back, compare with the model's media. */
static void roundtrip(struct tdev *d, struct tq *q, uint64_t sector)
{
    struct treq w, r;
    uint16_t id;
    uint32_t len;
    size_t mlen;
    uint8_t *media = vmodel_blk_media(d->b, &mlen);
    unsigned i;

    treq_alloc(d, &w, 1024);
    treq_alloc(d, &r, 1024);
    for (i = 0; i < 1024; i++)
        ((uint8_t *)w.data.cpu)[i] = (uint8_t)(i * 7u + sector);
    blk_submit(q, &w, VMODEL_BLK_T_OUT, sector, 1024, 1);
    notify(d, q->idx);
    assert_true(tq_used(q, &id, &len));
    assert_int_equal(status_of(&w), VMODEL_BLK_S_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(media + sector * 512u, w.data.cpu, 1024);

    blk_submit(q, &r, VMODEL_BLK_T_IN, sector, 1024, 2);
    notify(d, q->idx);
    assert_true(tq_used(q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    assert_int_equal(len, 1025);
    assert_memory_equal(r.data.cpu, w.data.cpu, 1024);
}

static void test_mmio_v2_split_blk_roundtrip(void **state)
{
    struct tdev d;
    struct tq q;
    uint64_t f;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    assert_int_equal(rd(&d, d.mmio, 4), 0x74726976u);
    assert_int_equal(rd(&d, d.mmio + 4, 4), 2);
    assert_int_equal(rd(&d, d.mmio + 8, 4), VMODEL_ID_BLOCK);
    f = tdev_init(&d, &q, 8, WANT);
    assert_true(f & VMODEL_F_VERSION_1);
    assert_int_equal(vmodel_status(d.m), 0x0f);
    assert_int_equal(vmodel_features(d.m), f);
    assert_int_equal(dev_cfg_read(&d, 0, 4), 2048); /* capacity low half */
    assert_int_equal(dev_cfg_read(&d, 4, 4), 0);
    roundtrip(&d, &q, 5);
    assert_int_equal(vmodel_stats(d.m)->vq[0].notifies, 2);
    assert_int_equal(vmodel_stats(d.m)->vq[0].consumed, 2);
    assert_int_equal(vmodel_stats(d.m)->vq[0].completed, 2);
    assert_int_equal(vmodel_blk_stats(d.b)->writes, 1);
    assert_int_equal(vmodel_blk_stats(d.b)->reads, 1);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_pci_modern_packed_blk_roundtrip_with_msix(void **state);

static unsigned g_irqs;
static void count_irq(void *arg)
{
    (void)arg;
    g_irqs++;
}

static void msix_enable_vector(struct tdev *d, unsigned vec, unsigned idx_in_table)
{
    struct keel_irq_src src = {KEEL_IRQ_PCI_MSIX, d->cfg.pci_addr, idx_in_table, 0};
    uint32_t h, data;
    uint64_t addr;
    uint64_t table = d->cfg.pci_bar1_addr + 16u * vec;
    uint8_t p = (uint8_t)cfgrd(d, 0x34, 1);

    assert_int_equal(d->s->ops.irq_attach(d->s, &src, count_irq, NULL, &h), 0);
    d->s->ops.irq_mask(d->s, h, false);
    assert_int_equal(d->s->ops.msi_compose(d->s, h, &addr, &data), 0);
    wr(d, table, 4, (uint32_t)addr);
    wr(d, table + 4, 4, (uint32_t)(addr >> 32));
    wr(d, table + 8, 4, data);
    wr(d, table + 12, 4, 0);
    while (p && cfgrd(d, p, 1) != 0x11)
        p = (uint8_t)cfgrd(d, p + 1u, 1);
    assert_true(p != 0);
    cfgwr(d, (uint16_t)(p + 2u), 2, 0x8000u);
    d->msix_on = true;
}

static void packed_tweak(struct vmodel_cfg *c)
{
    c->features |= VMODEL_F_RING_PACKED;
    c->queue_size_max = 6; /* packed: not a power of two */
}

static void test_pci_modern_packed_blk_roundtrip_with_msix(void **state)
{
    struct tdev d;
    struct tq q;
    uint64_t f;
    unsigned i;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, packed_tweak);
    assert_int_equal(cfgrd(&d, 0, 2), 0x1af4);
    assert_int_equal(cfgrd(&d, 2, 2), 0x1042);
    assert_int_equal(cfgrd(&d, 0x2e, 2), VMODEL_ID_BLOCK);
    assert_int_equal(d.notify_mult, 4);
    g_irqs = 0;
    msix_enable_vector(&d, 1, 1);
    set_status(&d, 0);
    set_status(&d, VMODEL_S_ACKNOWLEDGE);
    set_status(&d, VMODEL_S_ACKNOWLEDGE | VMODEL_S_DRIVER);
    f = get_features(&d) & (WANT | VMODEL_F_RING_PACKED);
    set_features(&d, f);
    set_status(&d, VMODEL_S_ACKNOWLEDGE | VMODEL_S_DRIVER | VMODEL_S_FEATURES_OK);
    assert_true(get_status(&d) & VMODEL_S_FEATURES_OK);
    tq_alloc(&d, &q, 0, 6, true);
    wr(&d, d.common + 0x16, 2, 0);
    wr(&d, d.common + 0x1a, 2, 1); /* queue vector 1 */
    assert_int_equal(rd(&d, d.common + 0x1a, 2), 1);
    wr(&d, d.common + 0x1a, 2, 40); /* beyond the table: reads back NO_VECTOR */
    assert_int_equal(rd(&d, d.common + 0x1a, 2), VMODEL_NO_VECTOR);
    wr(&d, d.common + 0x1a, 2, 1);
    tq_setup(&q);
    set_status(&d, (uint8_t)(get_status(&d) | VMODEL_S_DRIVER_OK));
    assert_true(vmodel_queue_packed(d.m, 0));
    /* Several laps of a 6-entry ring with 3-descriptor chains exercise both wrap counters. */
    for (i = 0; i < 5; i++)
        roundtrip(&d, &q, 10u + 2u * i);
    assert_int_equal(g_irqs, 10);
    assert_int_equal(vmodel_stats(d.m)->vq[0].irqs, 10);
    assert_int_equal(vmodel_blk_stats(d.b)->ok, 10);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_mmio_v1_legacy_layout_roundtrip(void **state)
{
    struct tdev d;
    struct tq q;
    uint64_t f;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V1, NULL, NULL);
    assert_int_equal(rd(&d, d.mmio + 4, 4), 1);
    assert_int_equal(rd(&d, d.mmio + 0x34, 4), 1024); /* QueueNumMax before any setup */
    wr(&d, d.mmio + 0x28, 4, 4096);                   /* GuestPageSize */
    f = tdev_init(&d, &q, 16, WANT);
    assert_false(f & VMODEL_F_VERSION_1); /* legacy: only bits 0..31 */
    assert_true(vmodel_queue_enabled(d.m, 0));
    assert_int_equal(rd(&d, d.mmio + 0x40, 4), (uint32_t)(q.desc_bus >> 12));
    roundtrip(&d, &q, 100);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_pci_legacy_intx_isr_read_clears(void **state)
{
    struct tdev d;
    struct tq q;
    struct keel_irq_src src;
    uint32_t h;

    (void)state;
    tdev_open(&d, VMODEL_PCI_LEGACY, NULL, NULL);
    assert_int_equal(cfgrd(&d, 2, 2), 0x1001);
    assert_true(cfgrd(&d, 0x10, 4) & 1u); /* I/O BAR */
    src = (struct keel_irq_src){KEEL_IRQ_PCI_INTX, d.cfg.pci_addr, 1, KEEL_IRQ_F_LEVEL};
    assert_int_equal(d.s->ops.irq_attach(d.s, &src, count_irq, NULL, &h), 0);
    d.s->ops.irq_mask(d.s, h, false);
    g_irqs = 0;
    tdev_init(&d, &q, 256, WANT);
    assert_int_equal(dev_cfg_capacity(&d), 2048); /* config at 0x14 without MSI-X */
    roundtrip(&d, &q, 3);
    assert_int_equal(g_irqs, 2);
    assert_int_equal(prd(&d, 0x13, 1), 1); /* queue interrupt bit */
    assert_int_equal(prd(&d, 0x13, 1), 0); /* read cleared it */
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_pci_transitional_modern_interface(void **state)
{
    struct tdev d;
    struct tq q;

    (void)state;
    tdev_open(&d, VMODEL_PCI_TRANSITIONAL, NULL, NULL);
    assert_int_equal(cfgrd(&d, 2, 2), 0x1001);
    assert_int_equal(cfgrd(&d, 8, 1), 0); /* revision 0 */
    assert_true(tdev_init(&d, &q, 64, WANT) & VMODEL_F_VERSION_1);
    roundtrip(&d, &q, 7);
    /* The legacy window must not be mixed in before a reset. */
    pwr(&d, 0x12, 1, 0x0f);
    assert_int_equal(d.s->violations, 1);
    d.s->violations = 0;
    tdev_close(&d);
}

/* ------------------------------------------------------------------------------------------------
 * Ring features
 */
static void test_split_indirect_chain_and_event_idx_suppression(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    struct keel_dma_mem tab;
    uint8_t *t;
    uint16_t id;
    uint32_t len;
    unsigned i;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    assert_true(tdev_init(&d, &q, 8, WANT) & VMODEL_F_EVENT_IDX);
    treq_alloc(&d, &r, 4096);
    tab = dma(&d, 16u * 6u, 16);
    t = tab.cpu;
    /* header | 4 x 1024 data | status through one indirect table */
    put32(r.hdr.cpu, VMODEL_BLK_T_IN);
    put64((uint8_t *)r.hdr.cpu + 8, 0);
    put64(t, r.hdr.bus);
    put32(t + 8, 16);
    put16(t + 12, 1);
    put16(t + 14, 1);
    for (i = 0; i < 4; i++) {
        uint8_t *e = t + 16u * (i + 1u);
        put64(e, r.data.bus + 1024u * i);
        put32(e + 8, 1024);
        put16(e + 12, 3); /* WRITE | NEXT */
        put16(e + 14, (uint16_t)(i + 2u));
    }
    put64(t + 80, r.status.bus);
    put32(t + 88, 1);
    put16(t + 92, 2);
    g_irqs = 0;
    {
        struct tbuf b = {tab.bus, 96, false};
        /* an INDIRECT descriptor: patch flags after tq_add */
        id = tq_add(&q, &b, 1, 0);
        put16(q.desc + 16u * id + 12, 4);
    }
    /* used_event = 5: the first completion (used idx 0 -> 1) must not interrupt */
    put16(q.avail + 4 + 2u * q.size, 5);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(len, 4097);
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    assert_int_equal(vmodel_stats(d.m)->vq[0].indirect, 1);
    assert_int_equal(vmodel_stats(d.m)->vq[0].max_chain_descs, 6);
    assert_memory_equal(r.data.cpu, vmodel_blk_media(d.b, NULL), 4096);
    /* the device published avail_event = 1 (the next index it wants to hear about) */
    assert_int_equal(get16(q.used + 4 + 8u * q.size), 1);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_event_idx_interrupt_only_when_used_event_crossed(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r[4];
    struct keel_irq_src src = {KEEL_IRQ_LINE, {0, 0, 0, 0}, 48, 0};
    uint32_t h, len;
    uint16_t id;
    unsigned i;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    assert_int_equal(d.s->ops.irq_attach(d.s, &src, count_irq, NULL, &h), 0);
    d.s->ops.irq_mask(d.s, h, false);
    tdev_init(&d, &q, 16, WANT);
    g_irqs = 0;
    put16(q.avail + 4 + 2u * q.size, 2); /* interrupt once used idx passes 2 */
    for (i = 0; i < 4; i++) {
        treq_alloc(&d, &r[i], 512);
        blk_submit(&q, &r[i], VMODEL_BLK_T_IN, i, 512, 0);
        notify(&d, 0);
    }
    /* idx 0->1: first decision always signals; 1->2: no; 2->3: yes (event 2); 3->4: no */
    assert_int_equal(g_irqs, 2);
    assert_int_equal(vmodel_stats(d.m)->vq[0].irqs_suppressed, 2);
    assert_int_equal(rd(&d, d.mmio + 0x60, 4) & 1u, 1u);
    wr(&d, d.mmio + 0x64, 4, 1);
    assert_int_equal(rd(&d, d.mmio + 0x60, 4), 0);
    for (i = 0; i < 4; i++)
        assert_true(tq_used(&q, &id, &len));
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void deferred_flags_tweak(struct vmodel_cfg *c)
{
    c->mode = VMODEL_DEFERRED;
    c->latency_us = 50;
    c->features &= ~VMODEL_F_EVENT_IDX;
}

static void test_deferred_mode_batches_and_suppresses_notifications(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r[3];
    uint32_t len;
    uint16_t id;
    unsigned i;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, deferred_flags_tweak);
    assert_false(tdev_init(&d, &q, 16, WANT) & VMODEL_F_EVENT_IDX);
    treq_alloc(&d, &r[0], 512);
    blk_submit(&q, &r[0], VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_false(tq_used(&q, &id, &len));
    assert_int_equal(get16(q.used) & 1u, 1u); /* VIRTQ_USED_F_NO_NOTIFY published */
    for (i = 1; i < 3; i++) {
        treq_alloc(&d, &r[i], 512);
        blk_submit(&q, &r[i], VMODEL_BLK_T_IN, i, 512, 0);
    }
    assert_false(vmodel_notify_owed(d.m, 0)); /* suppressed: the driver need not kick */
    notify(&d, 0);                            /* allowed, but unneeded */
    assert_int_equal(vmodel_stats(d.m)->vq[0].notifies_unneeded, 1);
    sim_advance(d.s, 60);
    for (i = 0; i < 3; i++)
        assert_true(tq_used(&q, &id, &len));
    assert_int_equal(vmodel_stats(d.m)->vq[0].max_batch, 3);
    assert_int_equal(get16(q.used) & 1u, 0u); /* notifications enabled again */
    /* a buffer added now must be kicked */
    blk_submit(&q, &r[0], VMODEL_BLK_T_IN, 0, 512, 0);
    assert_true(vmodel_notify_owed(d.m, 0));
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void manual_tweak(struct vmodel_cfg *c)
{
    c->mode = VMODEL_MANUAL;
    c->order = VMODEL_ORDER_REVERSE;
}

static void test_manual_mode_reverse_completion_order(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r[3];
    uint16_t heads[3], id;
    uint32_t len;
    unsigned i;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, manual_tweak);
    tdev_init(&d, &q, 16, WANT);
    for (i = 0; i < 3; i++) {
        treq_alloc(&d, &r[i], 512);
        heads[i] = blk_submit(&q, &r[i], VMODEL_BLK_T_IN, i, 512, 0);
    }
    notify(&d, 0);
    assert_int_equal(vmodel_avail_pending(d.m, 0), 3);
    assert_int_equal(vmodel_process(d.m, 0), 3);
    for (i = 0; i < 3; i++) {
        assert_true(tq_used(&q, &id, &len));
        assert_int_equal(id, heads[2 - i]);
    }
    sim_assert_clean(d.s);
    tdev_close(&d);
}

/* ------------------------------------------------------------------------------------------------
 * Strict checks of the driver
 */
static void test_notify_before_driver_ok_is_a_violation(void **state)
{
    struct tdev d;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    set_status(&d, 0);
    set_status(&d, VMODEL_S_ACKNOWLEDGE);
    notify(&d, 0);
    assert_int_equal(d.s->violations, 1);
    assert_int_equal(vmodel_stats(d.m)->vq[0].notifies_before_ok, 1);
    set_status(&d, VMODEL_S_DRIVER); /* clears ACKNOWLEDGE, and DRIVER needs it */
    assert_int_equal(d.s->violations, 3);
    d.s->violations = 0;
    tdev_close(&d);
}

static void test_pci_common_cfg_wrong_width_is_a_violation(void **state)
{
    struct tdev d;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, NULL);
    (void)rd(&d, d.common + 0x10, 4); /* msix_config is 16-bit */
    assert_int_equal(d.s->violations, 1);
    assert_int_equal(rd(&d, d.common + 0x12, 2), 1);
    (void)dev_cfg_read(&d, 0x14, 2); /* blk_size is 32-bit */
    assert_int_equal(d.s->violations, 2);
    d.s->violations = 0;
    tdev_close(&d);
}

static void seg_tweak_blk(struct vmodel_blk_cfg *b)
{
    b->seg_max = 1;
}

static void test_blk_seg_max_exceeded_is_ioerr_and_violation(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    struct tbuf b[4];
    struct vmodel_blk_cfg bc;
    uint16_t id;
    uint32_t len;

    (void)state;
    vmodel_blk_cfg_default(&bc);
    seg_tweak_blk(&bc);
    tdev_open(&d, VMODEL_MMIO_V2, &bc, NULL);
    tdev_init(&d, &q, 8, WANT);
    treq_alloc(&d, &r, 1024);
    put32(r.hdr.cpu, VMODEL_BLK_T_IN);
    put64((uint8_t *)r.hdr.cpu + 8, 0);
    *(uint8_t *)r.status.cpu = 0xff;
    b[0] = (struct tbuf){r.hdr.bus, 16, false};
    b[1] = (struct tbuf){r.data.bus, 512, true};
    b[2] = (struct tbuf){r.data.bus + 512, 512, true};
    b[3] = (struct tbuf){r.status.bus, 1, true};
    tq_add(&q, b, 4, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_IOERR);
    assert_int_equal(d.s->violations, 1);
    assert_int_equal(vmodel_blk_last(d.b, 0)->data_segs, 2);
    d.s->violations = 0;
    tdev_close(&d);
}

static void test_blk_get_id_flush_discard_write_zeroes(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id;
    uint32_t len;
    uint8_t *media;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    media = vmodel_blk_media(d.b, NULL);
    treq_alloc(&d, &r, 512);
    blk_submit(&q, &r, VMODEL_BLK_T_GET_ID, 0, 20, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    assert_memory_equal(r.data.cpu, "KEEL-VMODEL-0001", 16);
    blk_submit(&q, &r, VMODEL_BLK_T_FLUSH, 0, 0, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    /* write zeroes with UNMAP over sectors 8..15 */
    put64(r.data.cpu, 8);
    put32((uint8_t *)r.data.cpu + 8, 8);
    put32((uint8_t *)r.data.cpu + 12, VMODEL_BLK_WZ_F_UNMAP);
    blk_submit(&q, &r, VMODEL_BLK_T_WRITE_ZEROES, 0, 16, 0);
    put16(q.desc + 16u * ((q.next_desc + q.size - 2u) % q.size) + 12, 1); /* data: readable */
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    for (unsigned i = 0; i < 8u * 512u; i++)
        assert_int_equal(media[8u * 512u + i], 0);
    assert_int_equal(media[16u * 512u], vmodel_blk_pattern(16u * 512u));
    assert_int_equal(vmodel_blk_stats(d.b)->write_zeroes_unmap, 1);
    /* discard with UNMAP is UNSUPP (5.2.6.2) */
    blk_submit(&q, &r, VMODEL_BLK_T_DISCARD, 0, 16, 0);
    put16(q.desc + 16u * ((q.next_desc + q.size - 2u) % q.size) + 12, 1);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_UNSUPP);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_resize_bumps_generation_and_raises_config_irq(void **state)
{
    struct tdev d;
    struct tq q;
    uint32_t gen;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    gen = rd(&d, d.common + 0x15, 1);
    vmodel_blk_resize(d.b, 4096);
    assert_int_equal(rd(&d, d.common + 0x15, 1), (gen + 1u) & 0xffu);
    assert_int_equal(dev_cfg_read(&d, 0, 4), 4096);
    assert_int_equal(rd(&d, d.isr, 1), 2); /* configuration-change bit */
    assert_int_equal(vmodel_stats(d.m)->config_irqs, 1);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_pci_queue_reset_with_ring_reset(void **state)
{
    struct tdev d;
    struct tq q;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, NULL);
    assert_true(tdev_init(&d, &q, 8, WANT) & VMODEL_F_RING_RESET);
    roundtrip(&d, &q, 1);
    wr(&d, d.common + 0x16, 2, 0);
    wr(&d, d.common + 0x3a, 2, 1);
    assert_int_equal(rd(&d, d.common + 0x3a, 2), 1);
    assert_int_equal(rd(&d, d.common + 0x1c, 2), 0);
    /* re-enable with a fresh ring after DRIVER_OK: allowed while in reset */
    tq_alloc(&d, &q, 0, 8, false);
    tq_setup(&q);
    assert_int_equal(rd(&d, d.common + 0x3a, 2), 0);
    roundtrip(&d, &q, 2);
    assert_int_equal(vmodel_stats(d.m)->vq[0].resets, 1);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

/* ------------------------------------------------------------------------------------------------
 * Faults
 */
static void test_fault_used_id_out_of_range(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_USED_ID_OUT_OF_RANGE, 0, 1, 3);
    treq_alloc(&d, &r, 512);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(id, 8 + 3);
    assert_int_equal(vmodel_inflight(d.m, 0), 1);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_used_id_not_head_points_into_chain(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id, head;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_USED_ID_NOT_HEAD, 0, 1, 0);
    treq_alloc(&d, &r, 512);
    head = blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(id, (head + 1u) % 8u); /* the chain's second descriptor */
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_used_id_reused_and_len_too_long(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id, id2, head;
    uint32_t len, len2;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_USED_ID_REUSED, 0, 1, 0);
    sim_fault_arm(d.s, VMODEL_FAULT_USED_LEN_TOO_LONG, 0, 1, 100);
    treq_alloc(&d, &r, 512);
    head = blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_true(tq_used(&q, &id2, &len2));
    assert_int_equal(id, head);
    assert_int_equal(id2, head);
    assert_int_equal(len, 513 + 100);
    assert_int_equal(vmodel_inflight(d.m, 0), 0);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_desc_rewrite_after_consumption(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id, head;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_DESC_REWRITE, 0, 1, 0);
    treq_alloc(&d, &r, 512);
    head = blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);   /* processed from what was read */
    assert_true(get32(q.desc + 16u * head + 8) != 16u); /* but the table is garbage now */
    assert_int_equal(sim_fault_fired(d.s, VMODEL_FAULT_DESC_REWRITE), 1);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_needs_reset_mid_io_and_recovery(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r[2];
    uint16_t id;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_NEEDS_RESET_MID_IO, 1, 1, 0);
    treq_alloc(&d, &r[0], 512);
    treq_alloc(&d, &r[1], 512);
    blk_submit(&q, &r[0], VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    blk_submit(&q, &r[1], VMODEL_BLK_T_IN, 1, 512, 0);
    notify(&d, 0);
    assert_false(tq_used(&q, &id, &len));
    assert_true(get_status(&d) & VMODEL_S_NEEDS_RESET);
    assert_true(vmodel_broken(d.m));
    assert_int_equal(rd(&d, d.isr, 1), 3); /* the first completion's bit, and the config bit */
    assert_int_equal(vmodel_inflight(d.m, 0), 1);
    notify(&d, 0); /* a broken device ignores the queue */
    assert_int_equal(vmodel_stats(d.m)->vq[0].consumed, 2);
    /* recovery: reset and re-initialise */
    tdev_init(&d, &q, 8, WANT);
    assert_false(get_status(&d) & VMODEL_S_NEEDS_RESET);
    assert_int_equal(vmodel_inflight(d.m, 0), 0);
    roundtrip(&d, &q, 4);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_status_unwritten(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_BLK_STATUS_UNWRITTEN, 0, 1, 0);
    treq_alloc(&d, &r, 512);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), 0xff);
    assert_int_equal(len, 512);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_features_ok_refused_and_config_generation(void **state)
{
    struct tdev d;
    struct tq q;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, NULL);
    sim_fault_arm(d.s, VMODEL_FAULT_FEATURES_OK_REFUSED, 0, 1, 0);
    assert_int_equal(tdev_init(&d, &q, 8, WANT), 0);
    assert_false(get_status(&d) & VMODEL_S_FEATURES_OK);
    /* every 2nd config read bumps the generation */
    sim_fault_arm(d.s, VMODEL_FAULT_CONFIG_GEN_MIDREAD, 0, UINT32_MAX, 2);
    {
        uint32_t g0 = rd(&d, d.common + 0x15, 1);
        (void)dev_cfg_read(&d, 0, 4);
        assert_int_equal(rd(&d, d.common + 0x15, 1), g0);
        (void)dev_cfg_read(&d, 4, 4);
        assert_int_equal(rd(&d, d.common + 0x15, 1), (g0 + 1u) & 0xffu);
    }
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_packed_bad_used_flags_hides_completion(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, packed_tweak);
    assert_true(tdev_init(&d, &q, 6, WANT | VMODEL_F_RING_PACKED) & VMODEL_F_RING_PACKED);
    sim_fault_arm(d.s, VMODEL_FAULT_PACKED_BAD_USED_FLAGS, 0, 1, 0);
    treq_alloc(&d, &r, 512);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 3);
    notify(&d, 0);
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    assert_false(tq_used(&q, &id, &len)); /* AVAIL != USED: not a used descriptor */
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_queue_stall_and_reset_stuck(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_QUEUE_STALL, 0, UINT32_MAX, 0);
    treq_alloc(&d, &r, 512);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_false(tq_used(&q, &id, &len));
    assert_int_equal(vmodel_inflight(d.m, 0), 1);
    sim_fault_arm(d.s, VMODEL_FAULT_RESET_STUCK, 0, 1, 0);
    set_status(&d, 0);
    assert_int_equal(get_status(&d), 0x0f); /* reset ignored once */
    set_status(&d, 0);
    assert_int_equal(get_status(&d), 0);
    assert_int_equal(vmodel_inflight(d.m, 0), 0);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

/* A caller buffer mapped through the HAL arrives as scattered pages: the blk backend gathers it. */
static void test_blk_write_from_scattered_mapping(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    struct keel_dma_seg segs[8];
    struct tbuf b[10];
    static uint8_t buf[8 * 4096] __attribute__((aligned(4096)));
    unsigned nsegs = 0, i, n = 0;
    void *cookie;
    uint16_t id;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 16, WANT);
    treq_alloc(&d, &r, 512);
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i ^ (i >> 8));
    assert_int_equal(
        d.s->ops.dma_map(d.s, buf + 512, 7 * 4096, KEEL_DMA_TO_DEVICE, segs, 8, &nsegs, &cookie),
        0);
    assert_true(nsegs >= 2);
    put32(r.hdr.cpu, VMODEL_BLK_T_OUT);
    put64((uint8_t *)r.hdr.cpu + 8, 40);
    *(uint8_t *)r.status.cpu = 0xff;
    b[n++] = (struct tbuf){r.hdr.bus, 16, false};
    for (i = 0; i < nsegs; i++)
        b[n++] = (struct tbuf){segs[i].bus, segs[i].len, false};
    b[n++] = (struct tbuf){r.status.bus, 1, true};
    tq_add(&q, b, n, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    d.s->ops.dma_unmap(d.s, cookie, buf + 512, 7 * 4096, KEEL_DMA_TO_DEVICE);
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    assert_memory_equal(vmodel_blk_media(d.b, NULL) + 40u * 512u, buf + 512, 7 * 4096);
    assert_int_equal(vmodel_blk_last(d.b, 0)->data_segs, nsegs);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

/* A transitional device driven through its legacy window with MSI-X on: config moves to 0x18. */
static void test_pci_transitional_legacy_interface_msix_config_offset(void **state)
{
    struct tdev d;
    struct tq q;

    (void)state;
    tdev_open(&d, VMODEL_PCI_TRANSITIONAL, NULL, NULL);
    d.cfg.transport = VMODEL_PCI_LEGACY; /* the test driver speaks legacy from here on */
    g_host_order = true;
    g_irqs = 0;
    msix_enable_vector(&d, 0, 0);
    set_status(&d, 0);
    assert_int_equal(dev_cfg_capacity(&d), 2048); /* at 0x18 now */
    pwr(&d, 0x14, 2, 0);                          /* config vector 0 */
    assert_int_equal(prd(&d, 0x14, 2), 0);
    set_status(&d, VMODEL_S_ACKNOWLEDGE | VMODEL_S_DRIVER);
    set_features(&d, get_features(&d) & WANT);
    tq_alloc(&d, &q, 0, 256, false);
    pwr(&d, 0x0e, 2, 0);
    pwr(&d, 0x16, 2, 0); /* queue vector 0 */
    tq_setup(&q);
    set_status(&d, VMODEL_S_ACKNOWLEDGE | VMODEL_S_DRIVER | VMODEL_S_DRIVER_OK);
    assert_false(vmodel_features(d.m) & VMODEL_F_VERSION_1);
    roundtrip(&d, &q, 9);
    assert_int_equal(g_irqs, 2);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

/* Packed ring with EVENT_IDX: the driver asks for an interrupt at one descriptor (2.8.10). */
static void test_packed_event_desc_suppression_across_wrap(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id;
    uint32_t len;
    unsigned i;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, packed_tweak);
    assert_true(tdev_init(&d, &q, 6, WANT | VMODEL_F_RING_PACKED) & VMODEL_F_EVENT_IDX);
    /* the device asks to hear about the next descriptor: DESC at offset 0, wrap 1 */
    assert_int_equal(get16(q.used + 2), 2);
    assert_int_equal(get16(q.used), 0x8000);
    put16(q.avail, (uint16_t)(3u | 0x8000u)); /* driver: interrupt at slot 3, wrap 1 */
    put16(q.avail + 2, 2);
    treq_alloc(&d, &r, 512);
    for (i = 0; i < 3; i++) {
        blk_submit(&q, &r, VMODEL_BLK_T_IN, i, 512, (uint16_t)i);
        notify(&d, 0);
        assert_true(tq_used(&q, &id, &len));
        assert_int_equal(id, i);
    }
    /* slot 0 (first decision), slot 3 (the event): interrupt; slot 0 of lap 2: suppressed */
    assert_int_equal(vmodel_stats(d.m)->vq[0].irqs, 2);
    assert_int_equal(vmodel_stats(d.m)->vq[0].irqs_suppressed, 1);
    assert_int_equal(get16(q.used), 3u); /* next_avail 3 in lap wrap 0 */
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_irq_lost_and_used_idx_jump(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    struct keel_irq_src src = {KEEL_IRQ_LINE, {0, 0, 0, 0}, 48, 0};
    uint32_t h, len;
    uint16_t id;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    assert_int_equal(d.s->ops.irq_attach(d.s, &src, count_irq, NULL, &h), 0);
    d.s->ops.irq_mask(d.s, h, false);
    tdev_init(&d, &q, 8, WANT);
    g_irqs = 0;
    sim_fault_arm(d.s, VMODEL_FAULT_IRQ_LOST, 0, 1, 0);
    treq_alloc(&d, &r, 512);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_int_equal(g_irqs, 0);
    assert_int_equal(vmodel_stats(d.m)->vq[0].irqs_lost, 1);
    assert_true(tq_used(&q, &id, &len)); /* polling still finds it */
    sim_fault_arm(d.s, VMODEL_FAULT_USED_IDX_JUMP, 0, 1, 0);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 0);
    notify(&d, 0);
    assert_int_equal(get16(q.used + 2), (uint16_t)(2u + 9u));
    assert_true(vmodel_broken(d.m));
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_queue_reset_stuck(void **state)
{
    struct tdev d;
    struct tq q;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_QUEUE_RESET_STUCK, 0, 1, 0);
    wr(&d, d.common + 0x16, 2, 0);
    wr(&d, d.common + 0x3a, 2, 1);
    assert_int_equal(rd(&d, d.common + 0x3a, 2), 0);
    assert_int_equal(rd(&d, d.common + 0x1c, 2), 1);
    roundtrip(&d, &q, 3); /* the queue kept running */
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_blk_ioerr_on_sector_and_garbage_status(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    sim_fault_arm(d.s, VMODEL_FAULT_BLK_IOERR, 0, UINT32_MAX, 5);
    treq_alloc(&d, &r, 1024);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 1024, 0); /* sectors 0-1: untouched */
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 4, 1024, 0); /* sectors 4-5: hits 5 */
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), VMODEL_BLK_S_IOERR);
    assert_int_equal(len, 1);
    sim_fault_clear(d.s, VMODEL_FAULT_BLK_IOERR);
    sim_fault_arm(d.s, VMODEL_FAULT_BLK_STATUS_GARBAGE, 0, 1, 0);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 4, 1024, 0);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(status_of(&r), 0x7f);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_fault_packed_not_head_and_desc_rewrite(void **state)
{
    struct tdev d;
    struct tq q;
    struct treq r;
    uint16_t id;
    uint32_t len;

    (void)state;
    tdev_open(&d, VMODEL_MMIO_V2, NULL, packed_tweak);
    tdev_init(&d, &q, 6, WANT | VMODEL_F_RING_PACKED);
    sim_fault_arm(d.s, VMODEL_FAULT_DESC_REWRITE, 0, 1, 0);
    treq_alloc(&d, &r, 512);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 2);
    notify(&d, 0);
    assert_int_equal(get32(q.desc + 16u * 1u + 8u), 0xfffffff1u); /* slot 1 rewritten */
    assert_true(tq_used(&q, &id, &len));
    assert_int_equal(id, 2);
    assert_int_equal(status_of(&r), VMODEL_BLK_S_OK);
    sim_fault_arm(d.s, VMODEL_FAULT_USED_ID_NOT_HEAD, 0, 1, 0);
    blk_submit(&q, &r, VMODEL_BLK_T_IN, 0, 512, 4);
    notify(&d, 0);
    assert_true(tq_used(&q, &id, &len));
    assert_true(id != 4 && id < 6);
    assert_int_equal(vmodel_inflight(d.m, 0), 1);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void test_surprise_removal_reads_all_ones(void **state)
{
    struct tdev d;
    struct tq q;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, NULL);
    tdev_init(&d, &q, 8, WANT);
    vmodel_set_gone(d.m, true);
    assert_int_equal(rd(&d, d.common + 0x14, 1), 0xff);
    assert_int_equal(cfgrd(&d, 0, 4), 0xffffffffu);
    notify(&d, 0);
    vmodel_set_gone(d.m, false);
    assert_int_equal(cfgrd(&d, 0, 2), 0x1af4);
    roundtrip(&d, &q, 1);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void decoy_tweak(struct vmodel_cfg *c)
{
    c->pci_decoy_caps = true;
}

/* The first common-cfg capability names reserved BAR 7: a driver must skip it (4.1.4.1). */
static void test_pci_decoy_caps_precede_the_real_ones(void **state)
{
    struct tdev d;
    struct tq q;
    uint8_t p, first_common_bar = 0xff;
    unsigned types5 = 0;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, decoy_tweak);
    for (p = (uint8_t)cfgrd(&d, 0x34, 1); p; p = (uint8_t)cfgrd(&d, p + 1u, 1)) {
        if (cfgrd(&d, p, 1) != 0x09)
            continue;
        if (cfgrd(&d, p + 3u, 1) == 1 && first_common_bar == 0xff)
            first_common_bar = (uint8_t)cfgrd(&d, p + 4u, 1);
        if (cfgrd(&d, p + 3u, 1) == 5)
            types5++;
    }
    assert_int_equal(first_common_bar, 7);
    assert_int_equal(types5, 1);
    tdev_init(&d, &q, 8, WANT); /* pci_find_caps took the BAR 4 ones */
    roundtrip(&d, &q, 2);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

static void unassigned_tweak(struct vmodel_cfg *c)
{
    c->pci_bars_preassigned = false;
}

/* Without firmware the driver sizes and places BAR4 itself and turns on decode and mastering. */
static void test_pci_unassigned_bars_sized_and_placed_by_driver(void **state)
{
    struct tdev d;
    struct tq q;
    uint64_t size;

    (void)state;
    tdev_open(&d, VMODEL_PCI_MODERN, NULL, unassigned_tweak);
    assert_int_equal(cfgrd(&d, 0x04, 2), 0);
    assert_int_equal(cfgrd(&d, 0x20, 4) & ~0xfu, 0);
    cfgwr(&d, 0x20, 4, 0xffffffffu);
    cfgwr(&d, 0x24, 4, 0xffffffffu);
    size = ~(((uint64_t)cfgrd(&d, 0x24, 4) << 32) | (cfgrd(&d, 0x20, 4) & ~0xfu)) + 1u;
    assert_int_equal(size, 0x4000);
    cfgwr(&d, 0x20, 4, 0xe0000000u);
    cfgwr(&d, 0x24, 4, 0);
    cfgwr(&d, 0x04, 2, 0x6); /* memory decode + bus master */
    d.common = d.isr = d.device = d.notify = 0;
    pci_find_caps(&d);
    assert_int_equal(d.common, 0xe0000000u);
    tdev_init(&d, &q, 8, WANT);
    roundtrip(&d, &q, 6);
    sim_assert_clean(d.s);
    tdev_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mmio_v2_split_blk_roundtrip),
        cmocka_unit_test(test_pci_modern_packed_blk_roundtrip_with_msix),
        cmocka_unit_test(test_mmio_v1_legacy_layout_roundtrip),
        cmocka_unit_test(test_pci_legacy_intx_isr_read_clears),
        cmocka_unit_test(test_pci_transitional_modern_interface),
        cmocka_unit_test(test_split_indirect_chain_and_event_idx_suppression),
        cmocka_unit_test(test_event_idx_interrupt_only_when_used_event_crossed),
        cmocka_unit_test(test_deferred_mode_batches_and_suppresses_notifications),
        cmocka_unit_test(test_manual_mode_reverse_completion_order),
        cmocka_unit_test(test_notify_before_driver_ok_is_a_violation),
        cmocka_unit_test(test_pci_common_cfg_wrong_width_is_a_violation),
        cmocka_unit_test(test_blk_seg_max_exceeded_is_ioerr_and_violation),
        cmocka_unit_test(test_blk_get_id_flush_discard_write_zeroes),
        cmocka_unit_test(test_resize_bumps_generation_and_raises_config_irq),
        cmocka_unit_test(test_pci_queue_reset_with_ring_reset),
        cmocka_unit_test(test_fault_used_id_out_of_range),
        cmocka_unit_test(test_fault_used_id_not_head_points_into_chain),
        cmocka_unit_test(test_fault_used_id_reused_and_len_too_long),
        cmocka_unit_test(test_fault_desc_rewrite_after_consumption),
        cmocka_unit_test(test_fault_needs_reset_mid_io_and_recovery),
        cmocka_unit_test(test_fault_status_unwritten),
        cmocka_unit_test(test_fault_features_ok_refused_and_config_generation),
        cmocka_unit_test(test_fault_packed_bad_used_flags_hides_completion),
        cmocka_unit_test(test_fault_queue_stall_and_reset_stuck),
        cmocka_unit_test(test_blk_write_from_scattered_mapping),
        cmocka_unit_test(test_pci_transitional_legacy_interface_msix_config_offset),
        cmocka_unit_test(test_packed_event_desc_suppression_across_wrap),
        cmocka_unit_test(test_fault_irq_lost_and_used_idx_jump),
        cmocka_unit_test(test_fault_queue_reset_stuck),
        cmocka_unit_test(test_fault_blk_ioerr_on_sector_and_garbage_status),
        cmocka_unit_test(test_fault_packed_not_head_and_desc_rewrite),
        cmocka_unit_test(test_surprise_removal_reads_all_ones),
        cmocka_unit_test(test_pci_decoy_caps_precede_the_real_ones),
        cmocka_unit_test(test_pci_unassigned_bars_sized_and_placed_by_driver),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
