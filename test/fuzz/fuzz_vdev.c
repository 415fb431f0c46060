/* SPDX-License-Identifier: MIT */
/* The virtio device side of the ring fuzzers: see fuzz_vdev.h. */
#include "fuzz_vdev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* virtio-mmio registers (VIRTIO 1.2 4.2.2) */
#define R_MAGIC        0x000u
#define R_VERSION      0x004u
#define R_DEVICE_ID    0x008u
#define R_VENDOR_ID    0x00cu
#define R_DEV_FEAT     0x010u
#define R_DEV_FEAT_SEL 0x014u
#define R_DRV_FEAT     0x020u
#define R_DRV_FEAT_SEL 0x024u
#define R_GUEST_PAGE   0x028u
#define R_QUEUE_SEL    0x030u
#define R_QUEUE_MAX    0x034u
#define R_QUEUE_NUM    0x038u
#define R_QUEUE_ALIGN  0x03cu
#define R_QUEUE_PFN    0x040u
#define R_QUEUE_READY  0x044u
#define R_NOTIFY       0x050u
#define R_ISR          0x060u
#define R_ISR_ACK      0x064u
#define R_STATUS       0x070u
#define R_DESC_LO      0x080u
#define R_DESC_HI      0x084u
#define R_DRIVER_LO    0x090u
#define R_DRIVER_HI    0x094u
#define R_DEVICE_LO    0x0a0u
#define R_DEVICE_HI    0x0a4u
#define R_QUEUE_RESET  0x0c0u
#define R_GENERATION   0x0fcu
#define R_CONFIG       0x100u

#define MAGIC 0x74726976u

#define S_DRIVER_OK   0x04u
#define S_FEATURES_OK 0x08u
#define S_NEEDS_RESET 0x40u

#define F_VERSION_1   (1ull << 32)
#define F_RING_PACKED (1ull << 34)
#define F_EVENT_IDX   (1ull << 29)

#define D_NEXT     1u
#define D_WRITE    2u
#define D_INDIRECT 4u
#define D_AVAIL    (1u << 7)
#define D_USED     (1u << 15)

/* Ring fields: little-endian for VERSION_1 devices, the guest's own order on the legacy interface
 * (version 1), as the driver writes them (2.7, legacy notes). */
static bool native(const struct fuzz_vdev *v)
{
    return v->version == 1u;
}
static uint16_t ld16(const struct fuzz_vdev *v, const uint8_t *p)
{
    uint16_t x;

    if (native(v)) {
        memcpy(&x, p, 2);
        return x;
    }
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t ld32(const struct fuzz_vdev *v, const uint8_t *p)
{
    uint32_t x;

    if (native(v)) {
        memcpy(&x, p, 4);
        return x;
    }
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t ld64(const struct fuzz_vdev *v, const uint8_t *p)
{
    uint64_t x;

    if (native(v)) {
        memcpy(&x, p, 8);
        return x;
    }
    return (uint64_t)ld32(v, p) | ((uint64_t)ld32(v, p + 4) << 32);
}
static void st16(const struct fuzz_vdev *v, uint8_t *p, uint16_t x)
{
    if (native(v)) {
        memcpy(p, &x, 2);
        return;
    }
    p[0] = (uint8_t)x;
    p[1] = (uint8_t)(x >> 8);
}
static void st32(const struct fuzz_vdev *v, uint8_t *p, uint32_t x)
{
    if (native(v)) {
        memcpy(p, &x, 4);
        return;
    }
    p[0] = (uint8_t)x;
    p[1] = (uint8_t)(x >> 8);
    p[2] = (uint8_t)(x >> 16);
    p[3] = (uint8_t)(x >> 24);
}

uint32_t fv_ld32(const struct fuzz_vdev *v, const uint8_t *p)
{
    return ld32(v, p);
}

bool fv_packed(const struct fuzz_vdev *v)
{
    return (v->driver_features & F_RING_PACKED) != 0u;
}

/* A driver error the device found. After the device lied, it may be the lie's echo: give up on the
 * queue quietly; otherwise it is the driver's bug. */
static bool driver_error(struct fuzz_vdev *v, struct fv_queue *q, const char *what, unsigned a)
{
    if (v->tainted) {
        q->broken = true;
        return false;
    }
    fh_fail("virtio device: %s (%u)", what, a);
}

/* ---- ring layout
 * ---------------------------------------------------------------------------------
 */

static size_t split_used_bytes(const struct fv_queue *q)
{
    return 6u + 8u * (size_t)q->num;
}

static uint8_t *ring_ptr(struct fuzz_vdev *v, struct fv_queue *q, uint64_t bus, size_t len)
{
    uint8_t *p = fh_dma_ptr(v->fh, bus, len);

    if (p == NULL)
        (void)driver_error(v, q, "ring memory is not coherent DMA memory", (unsigned)len);
    return p;
}

/* ---- queue state
 * ---------------------------------------------------------------------------------
 */

static void chain_free_all(struct fv_queue *q)
{
    unsigned i;

    for (i = 0; i < q->nchains; i++)
        free(q->chains[i]);
    q->nchains = 0;
    memset(q->owned, 0, sizeof(q->owned));
}

static void queue_reset(struct fv_queue *q)
{
    uint32_t max = q->num_max;

    chain_free_all(q);
    memset(q, 0, sizeof(*q));
    q->num_max = max;
}

/* The driver enabled the queue: check the ring and start from its beginning. */
static void queue_enable(struct fuzz_vdev *v, struct fv_queue *q)
{
    bool packed = fv_packed(v);

    if (q->num == 0u || q->num > q->num_max || (!packed && (q->num & (q->num - 1u)) != 0u)) {
        (void)driver_error(v, q, "queue enabled with a bad size", q->num);
        return;
    }
    chain_free_all(q);
    q->last_avail = q->used_idx = 0;
    q->next_avail = q->next_used = 0;
    q->avail_wrap = q->used_wrap = true;
    q->broken = false;
    if (ring_ptr(v, q, q->desc, 16u * (size_t)q->num) == NULL ||
        ring_ptr(v, q, q->driver, packed ? 4u : 6u + 2u * (size_t)q->num) == NULL ||
        ring_ptr(v, q, q->device, packed ? 4u : split_used_bytes(q)) == NULL)
        return;
    if (!packed && ((q->desc & 15u) || (q->driver & 1u) || (q->device & 3u)))
        (void)driver_error(v, q, "misaligned split ring", 0);
    if (packed && ((q->desc & 15u) || (q->driver & 3u) || (q->device & 3u)))
        (void)driver_error(v, q, "misaligned packed ring", 0);
    q->ready = true;
}

static void device_reset(struct fuzz_vdev *v)
{
    unsigned i;

    v->status = 0;
    v->driver_features = 0;
    v->isr = 0;
    v->dev_sel = v->drv_sel = 0;
    v->queue_sel = 0;
    for (i = 0; i < v->nq; i++)
        queue_reset(&v->q[i]);
    v->resets++;
    if (v->fh->log_print)
        fprintf(stderr, "vdev: reset\n");
}

/* ---- taking chains
 * -------------------------------------------------------------------------------
 */

static bool add_seg(struct fuzz_vdev *v, struct fv_queue *q, struct fv_chain *c, uint64_t addr,
                    uint32_t len, bool write)
{
    enum fh_dma_result r;

    if (c->nseg >= FV_MAX_SEGS)
        return driver_error(v, q, "chain too long", c->nseg);
    if (len == 0u)
        return driver_error(v, q, "zero-length descriptor", 0);
    if (!write && c->wlen != 0u)
        return driver_error(v, q, "device-readable descriptor after a writable one", 0);
    r = fh_dma_check(v->fh, addr, len, write);
    if (r == FH_DMA_UNMAPPED)
        return driver_error(v, q, "descriptor points at memory that is not mapped", len);
    if (r == FH_DMA_READONLY)
        return driver_error(v, q, "device-writable descriptor over a to-device mapping", len);
    c->seg[c->nseg].bus = addr;
    c->seg[c->nseg].len = len;
    c->seg[c->nseg].write = write;
    c->nseg++;
    if (write)
        c->wlen += len;
    return true;
}

/* An indirect table (2.7.5.3 split, 2.8.6 packed): `n` descriptors at `addr`. */
static bool walk_indirect(struct fuzz_vdev *v, struct fv_queue *q, struct fv_chain *c,
                          uint64_t addr, uint32_t len, bool packed)
{
    uint8_t tab[FV_MAX_SEGS * 16u];
    uint32_t n = len / 16u, i = 0, steps = 0;

    if (len == 0u || (len & 15u) != 0u || n > FV_MAX_SEGS)
        return driver_error(v, q, "bad indirect table length", len);
    if (fh_dma_read(v->fh, addr, tab, len) != FH_DMA_OK)
        return driver_error(v, q, "indirect table not mapped", len);
    for (;;) {
        const uint8_t *d = tab + 16u * i;
        uint16_t fl = packed ? ld16(v, d + 14) : ld16(v, d + 12);

        if (fl & D_INDIRECT)
            return driver_error(v, q, "indirect descriptor inside an indirect table", i);
        if (!add_seg(v, q, c, ld64(v, d), ld32(v, d + 8), (fl & D_WRITE) != 0u))
            return false;
        if (++steps > n)
            return driver_error(v, q, "loop in an indirect table", steps);
        if (packed) {
            if (++i == n)
                return true;
        } else {
            if (!(fl & D_NEXT))
                return true;
            i = ld16(v, d + 14);
            if (i >= n)
                return driver_error(v, q, "indirect next out of range", i);
        }
    }
}

static struct fv_chain *walk_split(struct fuzz_vdev *v, struct fv_queue *q, const uint8_t *desc,
                                   uint16_t head)
{
    struct fv_chain *c = calloc(1, sizeof(*c));
    uint32_t i = head, count = 0;

    if (c == NULL)
        abort();
    c->id = head;
    for (;;) {
        const uint8_t *d;
        uint16_t fl;
        bool ok;

        if (i >= q->num) {
            (void)driver_error(v, q, "descriptor index out of range", i);
            break;
        }
        if (q->owned[i]) {
            (void)driver_error(v, q, "descriptor made available while the device holds it", i);
            break;
        }
        if (++count > q->num || c->nring >= FV_MAX_SEGS) {
            (void)driver_error(v, q, "descriptor chain loops", count);
            break;
        }
        c->ring[c->nring++] = (uint16_t)i;
        d = desc + 16u * i;
        fl = ld16(v, d + 12);
        if (fl & D_INDIRECT) {
            if (fl & D_NEXT) {
                (void)driver_error(v, q, "indirect descriptor with NEXT", i);
                break;
            }
            ok = walk_indirect(v, q, c, ld64(v, d), ld32(v, d + 8), false);
        } else {
            ok = add_seg(v, q, c, ld64(v, d), ld32(v, d + 8), (fl & D_WRITE) != 0u);
        }
        if (!ok)
            break;
        if (!(fl & D_NEXT)) {
            unsigned k;
            c->ring_descs = c->nring;
            for (k = 0; k < c->nring; k++)
                q->owned[c->ring[k]] = true;
            return c;
        }
        i = ld16(v, d + 14);
    }
    free(c);
    return NULL;
}

static unsigned consume_split(struct fuzz_vdev *v, struct fv_queue *q)
{
    uint8_t *desc = ring_ptr(v, q, q->desc, 16u * (size_t)q->num);
    uint8_t *avail = ring_ptr(v, q, q->driver, 6u + 2u * (size_t)q->num);
    uint8_t *used = ring_ptr(v, q, q->device, split_used_bytes(q));
    unsigned n = 0;
    uint16_t idx;

    if (desc == NULL || avail == NULL || used == NULL)
        return 0;
    idx = ld16(v, avail + 2);
    if ((uint16_t)(idx - q->last_avail) > q->num) {
        (void)driver_error(v, q, "available index ran more than the ring ahead",
                           (uint16_t)(idx - q->last_avail));
        return 0;
    }
    while (q->last_avail != idx && !q->broken) {
        uint16_t head = ld16(v, avail + 4u + 2u * (q->last_avail & (q->num - 1u)));
        struct fv_chain *c = walk_split(v, q, desc, head);
        if (c == NULL)
            break;
        q->chains[q->nchains++] = c;
        q->last_avail++;
        n++;
        if (v->fh->log_print)
            fprintf(stderr, "vdev: took chain head %u (%u descriptors, %llu writable)\n", c->id,
                    c->nring, (unsigned long long)c->wlen);
    }
    if (v->driver_features & F_EVENT_IDX)
        st16(v, used + split_used_bytes(q) - 2u, q->last_avail); /* avail_event: notify me next */
    return n;
}

static bool id_in_flight(const struct fv_queue *q, uint16_t id)
{
    unsigned i;

    for (i = 0; i < q->nchains; i++)
        if (q->chains[i]->id == id)
            return true;
    return false;
}

static bool slot_avail(uint16_t fl, bool wrap)
{
    return ((fl & D_AVAIL) != 0u) == wrap && ((fl & D_USED) != 0u) != wrap;
}

static unsigned consume_packed(struct fuzz_vdev *v, struct fv_queue *q)
{
    uint8_t *desc = ring_ptr(v, q, q->desc, 16u * (size_t)q->num);
    unsigned n = 0;

    if (desc == NULL)
        return 0;
    while (!q->broken && q->nchains < q->num &&
           slot_avail(ld16(v, desc + 16u * q->next_avail + 14u), q->avail_wrap)) {
        struct fv_chain *c = calloc(1, sizeof(*c));
        uint16_t s = q->next_avail, id = 0;
        bool wrap = q->avail_wrap, ok = true;
        uint32_t count = 0;

        if (c == NULL)
            abort();
        for (;;) {
            const uint8_t *d = desc + 16u * s;
            uint16_t fl = ld16(v, d + 14);

            if (!slot_avail(fl, wrap)) {
                ok = driver_error(v, q, "chain descriptor not marked available", s);
                break;
            }
            if (fl & D_INDIRECT)
                ok = walk_indirect(v, q, c, ld64(v, d), ld32(v, d + 8), true);
            else
                ok = add_seg(v, q, c, ld64(v, d), ld32(v, d + 8), (fl & D_WRITE) != 0u);
            if (!ok)
                break;
            id = ld16(v, d + 12);
            count++;
            if (++s == q->num) {
                s = 0;
                wrap = !wrap;
            }
            if (!(fl & D_NEXT))
                break;
            if (count >= q->num) {
                ok = driver_error(v, q, "packed chain longer than the ring", count);
                break;
            }
        }
        if (ok && id_in_flight(q, id))
            ok = driver_error(v, q, "buffer id made available while in flight", id);
        if (!ok) {
            free(c);
            break;
        }
        c->id = id;
        c->ring_descs = (uint16_t)count;
        q->chains[q->nchains++] = c;
        q->next_avail = s;
        q->avail_wrap = wrap;
        n++;
    }
    return n;
}

unsigned fv_consume(struct fuzz_vdev *v, unsigned qi)
{
    struct fv_queue *q;

    if (qi >= v->nq)
        return 0;
    q = &v->q[qi];
    if (!q->ready || q->broken || (v->status & S_NEEDS_RESET))
        return 0;
    return fv_packed(v) ? consume_packed(v, q) : consume_split(v, q);
}

/* ---- returning chains
 * ----------------------------------------------------------------------------
 */

bool fv_chain_write(struct fuzz_vdev *v, const struct fv_chain *c, uint64_t off, const void *src,
                    size_t len)
{
    const uint8_t *s = src;
    unsigned i;

    if (off > c->wlen || len > c->wlen - off)
        return false;
    for (i = 0; i < c->nseg && len > 0u; i++) {
        const struct fv_seg *g = &c->seg[i];
        size_t n;
        enum fh_dma_result r;

        if (!g->write)
            continue;
        if (off >= g->len) {
            off -= g->len;
            continue;
        }
        n = g->len - off < len ? (size_t)(g->len - off) : len;
        r = fh_dma_write(v->fh, g->bus + off, s, n);
        if (r != FH_DMA_OK) {
            if (!v->tainted)
                fh_fail("virtio device: write into a buffer it still holds failed (%s): the "
                        "driver gave it back before the device returned it",
                        r == FH_DMA_READONLY ? "read-only" : "unmapped");
            return false;
        }
        s += n;
        len -= n;
        off = 0;
    }
    return true;
}

static void chain_remove(struct fv_queue *q, unsigned k)
{
    struct fv_chain *c = q->chains[k];
    unsigned i;

    for (i = 0; i < c->nring; i++)
        q->owned[c->ring[i]] = false;
    free(c);
    memmove(&q->chains[k], &q->chains[k + 1u], (q->nchains - k - 1u) * sizeof(q->chains[0]));
    q->nchains--;
}

static void put_used(struct fuzz_vdev *v, struct fv_queue *q, uint32_t id, uint32_t len,
                     uint16_t ring_descs, bool raw_flags, uint16_t flags)
{
    if (fv_packed(v)) {
        uint8_t *desc = ring_ptr(v, q, q->desc, 16u * (size_t)q->num), *d;
        if (desc == NULL)
            return;
        d = desc + 16u * q->next_used;
        st32(v, d + 8, len);
        st16(v, d + 12, (uint16_t)id);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        st16(v, d + 14, raw_flags ? flags : (uint16_t)(q->used_wrap ? (D_AVAIL | D_USED) : 0u));
        q->next_used = (uint16_t)(q->next_used + (ring_descs ? ring_descs : 1u));
        if (q->next_used >= q->num) {
            q->next_used = (uint16_t)(q->next_used - q->num);
            q->used_wrap = !q->used_wrap;
        }
        return;
    }
    {
        uint8_t *used = ring_ptr(v, q, q->device, split_used_bytes(q));
        if (used == NULL)
            return;
        st32(v, used + 4u + 8u * (q->used_idx & (q->num - 1u)), id);
        st32(v, used + 8u + 8u * (q->used_idx & (q->num - 1u)), len);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        q->used_idx++;
        st16(v, used + 2, q->used_idx);
    }
}

void fv_complete(struct fuzz_vdev *v, unsigned qi, unsigned k, uint32_t len)
{
    struct fv_queue *q;
    struct fv_chain *c;

    if (qi >= v->nq || k >= v->q[qi].nchains || !v->q[qi].ready)
        return;
    q = &v->q[qi];
    c = q->chains[k];
    if (v->fh->log_print)
        fprintf(stderr, "vdev: used id %u len %u\n", c->id, len);
    put_used(v, q, c->id, len, c->ring_descs, false, 0);
    chain_remove(q, k);
}

void fv_drop(struct fuzz_vdev *v, unsigned qi, unsigned k)
{
    if (qi < v->nq && k < v->q[qi].nchains)
        chain_remove(&v->q[qi], k);
}

void fv_raw_used(struct fuzz_vdev *v, unsigned qi, uint32_t id, uint32_t len, uint16_t flags)
{
    struct fv_queue *q;
    uint16_t descs = 1;
    unsigned i;

    if (qi >= v->nq || !v->q[qi].ready)
        return;
    q = &v->q[qi];
    /* The device now claims it finished `id`: it must not touch that chain's buffers again. An
     * id it does not hold is a lie the driver may only meet later, when it makes that id available
     * again (and then takes the stale element for its completion): taint. */
    for (i = 0; i < q->nchains; i++) {
        if (q->chains[i]->id == id) {
            descs = q->chains[i]->ring_descs;
            chain_remove(q, i);
            break;
        }
    }
    if (i == q->nchains + 1u || i >= q->nchains)
        v->tainted = v->tainted || i >= q->nchains;
    if (v->fh->log_print)
        fprintf(stderr, "vdev: raw used id %u len %u flags 0x%x\n", id, len, flags);
    if (fv_packed(v))
        v->tainted = true; /* a desynchronised used position makes stale slots look used */
    put_used(v, q, id, len, descs, true, flags);
}

void fv_used_idx_add(struct fuzz_vdev *v, unsigned qi, uint16_t delta)
{
    struct fv_queue *q;
    uint8_t *used;

    if (qi >= v->nq || !v->q[qi].ready || fv_packed(v))
        return;
    q = &v->q[qi];
    used = ring_ptr(v, q, q->device, split_used_bytes(q));
    if (used == NULL)
        return;
    v->tainted = true;
    q->used_idx = (uint16_t)(q->used_idx + delta);
    st16(v, used + 2, q->used_idx);
}

void fv_scribble(struct fuzz_vdev *v, unsigned qi, uint32_t off, const uint8_t *bytes, size_t n)
{
    struct fv_queue *q;
    uint64_t end;
    size_t total;
    uint8_t *p;

    if (qi >= v->nq || !v->q[qi].ready || n == 0u)
        return;
    q = &v->q[qi];
    end = fv_packed(v) ? q->device + 4u : q->device + split_used_bytes(q);
    total = (size_t)(end - q->desc);
    p = ring_ptr(v, q, q->desc, total);
    if (p == NULL)
        return;
    v->tainted = true;
    off %= (uint32_t)total;
    if (n > total - off)
        n = total - off;
    memcpy(p + off, bytes, n);
}

/* ---- events
 * --------------------------------------------------------------------------------------
 */

void fv_interrupt(struct fuzz_vdev *v, uint32_t cause)
{
    v->isr |= cause;
    fh_irq_raise(v->fh, fh_irq_find(v->fh, KEEL_IRQ_LINE, v->irq_line));
}

void fv_needs_reset(struct fuzz_vdev *v)
{
    if (v->version == 2u && v->status != 0u)
        v->status |= S_NEEDS_RESET;
    fv_interrupt(v, FV_ISR_CONFIG);
}

void fv_config_change(struct fuzz_vdev *v, uint32_t off, const uint8_t *bytes, size_t n)
{
    off %= FV_CONFIG_BYTES;
    if (n > FV_CONFIG_BYTES - off)
        n = FV_CONFIG_BYTES - off;
    memcpy(v->config + off, bytes, n);
    v->generation++;
    fv_interrupt(v, FV_ISR_CONFIG);
}

/* ---- registers
 * -----------------------------------------------------------------------------------
 */

static struct fv_queue *selq(struct fuzz_vdev *v)
{
    return v->queue_sel < v->nq ? &v->q[v->queue_sel] : NULL;
}

static uint32_t cfg_read(const struct fuzz_vdev *v, uint64_t off, unsigned width)
{
    uint32_t val = 0;
    unsigned i;

    for (i = 0; i < width; i++)
        if (off + i < FV_CONFIG_BYTES)
            val |= (uint32_t)v->config[off + i] << (8u * i);
    return val;
}

static uint32_t reg_read(void *dev, uint64_t off, unsigned width)
{
    struct fuzz_vdev *v = dev;
    struct fv_queue *q = selq(v);

    if (off >= R_CONFIG)
        return cfg_read(v, off - R_CONFIG, width);
    if (width != 4u)
        fh_fail("virtio-mmio register 0x%llx read with width %u", (unsigned long long)off, width);
    switch (off) {
    case R_MAGIC:
        return MAGIC;
    case R_VERSION:
        return v->version;
    case R_DEVICE_ID:
        return v->device_id;
    case R_VENDOR_ID:
        return 0x554d4551u;
    case R_DEV_FEAT:
        if (v->version == 1u)
            return v->dev_sel == 0u ? (uint32_t)v->features : 0u;
        return v->dev_sel == 0u ? (uint32_t)v->features
                                : (v->dev_sel == 1u ? (uint32_t)(v->features >> 32) : 0u);
    case R_QUEUE_MAX:
        return q != NULL ? q->num_max : 0u;
    case R_QUEUE_READY:
        return q != NULL && q->ready ? 1u : 0u;
    case R_QUEUE_PFN:
        return q != NULL ? q->pfn : 0u;
    case R_QUEUE_RESET:
        return 0; /* resets complete at once (VIRTIO 1.3 polarity) */
    case R_ISR:
        return v->isr;
    case R_STATUS:
        return v->status;
    case R_GENERATION:
        return v->version == 2u ? v->generation : 0u;
    default:
        fh_fail("virtio-mmio: read of write-only or unknown register 0x%llx",
                (unsigned long long)off);
    }
}

static void set_status(struct fuzz_vdev *v, uint8_t s)
{
    uint8_t cur = (uint8_t)(v->status & ~S_NEEDS_RESET), added;

    if (s == 0u) {
        if (v->reset_stuck) {
            v->tainted = true; /* a device that ignores reset may DMA forever */
            return;
        }
        device_reset(v);
        return;
    }
    if ((s & cur) != cur)
        fh_fail("virtio driver cleared status bits 0x%x -> 0x%x without a reset", cur, s);
    added = (uint8_t)(s & ~cur);
    /* FEATURES_OK (or DRIVER_OK on the legacy interface) is where features take effect. */
    if ((added & (S_FEATURES_OK | S_DRIVER_OK)) && (v->driver_features & ~v->features) != 0u)
        fh_fail("virtio driver accepted features 0x%llx that were not offered",
                (unsigned long long)(v->driver_features & ~v->features));
    if ((added & S_FEATURES_OK) && v->refuse_features_ok)
        s = (uint8_t)(s & ~S_FEATURES_OK);
    v->status = (uint8_t)(s | (v->status & S_NEEDS_RESET));
}

static void set_addr(uint64_t *a, bool hi, uint32_t val)
{
    if (hi)
        *a = (*a & 0xffffffffull) | ((uint64_t)val << 32);
    else
        *a = (*a & ~0xffffffffull) | val;
}

static void queue_write(struct fuzz_vdev *v, struct fv_queue *q, uint64_t off, uint32_t val)
{
    switch (off) {
    case R_QUEUE_NUM:
        q->num = val;
        break;
    case R_QUEUE_READY:
        if (val == 1u && !q->ready)
            queue_enable(v, q);
        else if (val == 0u)
            queue_reset(q);
        break;
    case R_QUEUE_PFN:
        if (val == 0u) {
            queue_reset(q);
            break;
        }
        q->pfn = val;
        q->desc = (uint64_t)val * (v->guest_page ? v->guest_page : 4096u);
        q->driver = q->desc + 16u * (uint64_t)q->num;
        {
            uint64_t a = v->queue_align ? v->queue_align : 4096u;
            q->device = (q->driver + 6u + 2u * (uint64_t)q->num + a - 1u) & ~(a - 1u);
        }
        queue_enable(v, q);
        break;
    case R_QUEUE_RESET:
        if (val == 1u)
            queue_reset(q);
        break;
    case R_DESC_LO:
    case R_DESC_HI:
        set_addr(&q->desc, off == R_DESC_HI, val);
        break;
    case R_DRIVER_LO:
    case R_DRIVER_HI:
        set_addr(&q->driver, off == R_DRIVER_HI, val);
        break;
    case R_DEVICE_LO:
    case R_DEVICE_HI:
        set_addr(&q->device, off == R_DEVICE_HI, val);
        break;
    default:
        break;
    }
}

static void reg_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct fuzz_vdev *v = dev;
    struct fv_queue *q = selq(v);

    if (off >= R_CONFIG) {
        uint64_t c = off - R_CONFIG;
        unsigned i;
        for (i = 0; i < width; i++)
            if (c + i < FV_CONFIG_BYTES)
                v->config[c + i] = (uint8_t)(val >> (8u * i));
        return;
    }
    if (width != 4u)
        fh_fail("virtio-mmio register 0x%llx written with width %u", (unsigned long long)off,
                width);
    switch (off) {
    case R_DEV_FEAT_SEL:
        v->dev_sel = val;
        return;
    case R_DRV_FEAT_SEL:
        v->drv_sel = val;
        return;
    case R_DRV_FEAT:
        if (v->drv_sel == 0u)
            v->driver_features = (v->driver_features & ~0xffffffffull) | val;
        else if (v->drv_sel == 1u)
            v->driver_features = (v->driver_features & 0xffffffffull) | ((uint64_t)val << 32);
        return;
    case R_GUEST_PAGE:
        v->guest_page = val;
        return;
    case R_QUEUE_ALIGN:
        v->queue_align = val;
        return;
    case R_QUEUE_SEL:
        v->queue_sel = val;
        return;
    case R_NOTIFY:
        if (val < v->nq && v->q[val].ready) {
            (void)fv_consume(v, val);
            if (v->on_notify != NULL)
                v->on_notify(v->notify_arg, val);
        }
        return;
    case R_ISR_ACK:
        v->isr &= ~val;
        return;
    case R_STATUS:
        set_status(v, (uint8_t)val);
        return;
    default:
        break;
    }
    if (q != NULL)
        queue_write(v, q, off, val);
}

void fv_init(struct fuzz_vdev *v, struct fuzz_hal *fh, uint64_t base, uint32_t irq_line,
             uint32_t version, uint32_t device_id, unsigned nq, uint32_t qmax)
{
    unsigned i;

    memset(v, 0, sizeof(*v));
    v->fh = fh;
    v->base = base;
    v->irq_line = irq_line;
    v->version = version;
    v->device_id = device_id;
    v->nq = nq > FV_MAX_QUEUES ? FV_MAX_QUEUES : nq;
    for (i = 0; i < v->nq; i++)
        v->q[i].num_max = qmax > FV_MAX_RING ? FV_MAX_RING : qmax;
    fh_region_add(fh, false, base, FV_MMIO_SIZE, reg_read, reg_write, v);
}

void fv_destroy(struct fuzz_vdev *v)
{
    unsigned i;

    for (i = 0; i < v->nq; i++)
        chain_free_all(&v->q[i]);
}
