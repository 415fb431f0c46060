/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk backend over a memory buffer (VIRTIO 1.2 section 5.2): configuration layout, request
 * execution for IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES and SECURE_ERASE, and validation of
 * every request's shape against the driver requirements (header readable, status byte the last
 * writable byte, data a multiple of 512 bytes, sectors in range, seg_max / size_max and the
 * discard / write-zeroes / secure-erase limits). A malformed request is a sim violation and gets
 * VIRTIO_BLK_S_IOERR (or UNSUPP where 5.2.6.2 says so).
 */
#include <stdlib.h>
#include <string.h>

#include "vmodel_internal.h"

#define SECTOR       512u
#define BLK_CFG_SIZE 0x48u

struct vmodel_blk {
    struct vmodel_blk_cfg cfg;
    struct vmodel *m;
    uint8_t *media;
    bool own_media;
    uint64_t capacity; /* sectors */
    bool wce;
    uint64_t neg; /* negotiated features */
    struct vmodel_blk_stats st;
};

struct req {
    struct vmodel_blk *b;
    struct vmodel *m;
    struct vmodel_chain *c;
    struct vmodel_blk_req log;
    uint32_t used;
};

/* ------------------------------------------------------------------------------------------------
 * Configuration space (5.2.4)
 */
static uint64_t blk_features(void *ctx)
{
    struct vmodel_blk *b = ctx;
    uint64_t f = b->cfg.features;

    if (b->cfg.num_queues > 1)
        f |= VMODEL_BLK_F_MQ;
    if (b->cfg.read_only)
        f |= VMODEL_BLK_F_RO;
    if (b->cfg.size_max)
        f |= VMODEL_BLK_F_SIZE_MAX;
    return f;
}

static unsigned blk_num_queues(void *ctx)
{
    struct vmodel_blk *b = ctx;
    return b->cfg.num_queues ? b->cfg.num_queues : 1u;
}

static uint32_t blk_config_size(void *ctx)
{
    (void)ctx;
    return BLK_CFG_SIZE;
}

static unsigned blk_config_width(void *ctx, uint32_t off)
{
    (void)ctx;
    if (off < 0x08)
        return 8; /* capacity */
    if (off < 0x10 || (off >= 0x14 && off < 0x18) || (off >= 0x1c && off < 0x20) ||
        (off >= 0x24 && off < 0x38) || off >= 0x3c)
        return 4;
    if (off < 0x12 || (off >= 0x1a && off < 0x1c) || (off >= 0x22 && off < 0x24))
        return 2;
    return 1; /* heads, sectors, physical_block_exp, alignment_offset, writeback, unmap, unused */
}

/* Device config fields: little-endian, or host order while the driver uses the legacy interface
 * (a big-endian legacy guest reads them in its own order, VIRTIO 1.2 4.1.4.8 / 4.2.4). The
 * transports still return the bytes as the little-endian bus presents them. */
static void cfg_put16(const struct vmodel_blk *b, uint8_t *p, uint16_t v)
{
    if (b->m != NULL)
        vm_gput16(b->m, p, v);
    else
        vm_put16(p, v);
}
static void cfg_put32(const struct vmodel_blk *b, uint8_t *p, uint32_t v)
{
    if (b->m != NULL)
        vm_gput32(b->m, p, v);
    else
        vm_put32(p, v);
}
static void cfg_put64(const struct vmodel_blk *b, uint8_t *p, uint64_t v)
{
    if (b->m != NULL)
        vm_gput64(b->m, p, v);
    else
        vm_put64(p, v);
}

static void build_config(const struct vmodel_blk *b, uint8_t *c)
{
    const struct vmodel_blk_cfg *k = &b->cfg;

    memset(c, 0, BLK_CFG_SIZE);
    cfg_put64(b, c + 0x00, b->capacity);
    cfg_put32(b, c + 0x08, k->size_max);
    cfg_put32(b, c + 0x0c, k->seg_max);
    cfg_put16(b, c + 0x10, k->cylinders);
    c[0x12] = k->heads;
    c[0x13] = k->sectors;
    cfg_put32(b, c + 0x14, k->blk_size);
    c[0x18] = k->physical_block_exp;
    c[0x19] = k->alignment_offset;
    cfg_put16(b, c + 0x1a, k->min_io_size);
    cfg_put32(b, c + 0x1c, k->opt_io_size);
    c[0x20] = b->wce ? 1u : 0u;
    cfg_put16(b, c + 0x22, (uint16_t)blk_num_queues((void *)(uintptr_t)b));
    cfg_put32(b, c + 0x24, k->max_discard_sectors);
    cfg_put32(b, c + 0x28, k->max_discard_seg);
    cfg_put32(b, c + 0x2c, k->discard_sector_alignment);
    cfg_put32(b, c + 0x30, k->max_write_zeroes_sectors);
    cfg_put32(b, c + 0x34, k->max_write_zeroes_seg);
    c[0x38] = k->write_zeroes_may_unmap ? 1u : 0u;
    cfg_put32(b, c + 0x3c, k->max_secure_erase_sectors);
    cfg_put32(b, c + 0x40, k->max_secure_erase_seg);
    cfg_put32(b, c + 0x44, k->secure_erase_sector_alignment);
}

static uint32_t blk_config_read(void *ctx, uint32_t off, unsigned width)
{
    uint8_t c[BLK_CFG_SIZE];
    uint32_t v = 0;
    unsigned i;

    build_config(ctx, c);
    for (i = 0; i < width; i++)
        v |= (uint32_t)c[off + i] << (8u * i);
    return v;
}

static void blk_config_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
    struct vmodel_blk *b = ctx;

    if (off == 0x20 && width == 1 && (b->neg & VMODEL_BLK_F_CONFIG_WCE)) {
        b->wce = (val & 0xffu) != 0;
        return;
    }
    sim_violation(vmodel_sim(b->m), "virtio-blk model: write of read-only config 0x%x (width %u)",
                  off, width);
}

static bool blk_features_ok(void *ctx, uint64_t negotiated)
{
    struct vmodel_blk *b = ctx;

    b->neg = negotiated;
    /* 5.2.5.1: without CONFIG_WCE the cache is write-back exactly when FLUSH was negotiated. */
    if (!(negotiated & VMODEL_BLK_F_CONFIG_WCE))
        b->wce = (negotiated & VMODEL_BLK_F_FLUSH) != 0;
    return true;
}

static void blk_reset(void *ctx)
{
    struct vmodel_blk *b = ctx;

    b->neg = 0;
    b->wce = b->cfg.writeback;
}

static void blk_attach(void *ctx, struct vmodel *m)
{
    struct vmodel_blk *b = ctx;
    b->m = m;
}

/* ------------------------------------------------------------------------------------------------
 * Request validation helpers
 */
static void shape_error(struct req *r, const char *what)
{
    r->b->st.shape_errors++;
    sim_violation(vmodel_sim(r->m), "virtio-blk model: queue %u %s (type %u sector %llu)",
                  r->c->queue, what, r->log.type, (unsigned long long)r->log.sector);
}

/* Count descriptors overlapping [start, start+len) of a segment list and the longest overlap. */
static unsigned count_segs(const struct vmodel_seg *s, unsigned n, uint64_t start, uint64_t len,
                           uint32_t *max_len)
{
    uint64_t pos = 0, end = start + len;
    unsigned i, cnt = 0;

    *max_len = 0;
    for (i = 0; i < n; i++) {
        uint64_t lo = pos > start ? pos : start;
        uint64_t hi = pos + s[i].len < end ? pos + s[i].len : end;
        if (hi > lo) {
            cnt++;
            if (hi - lo > *max_len)
                *max_len = (uint32_t)(hi - lo);
        }
        pos += s[i].len;
    }
    return cnt;
}

static bool seg_limits_ok(struct req *r, const struct vmodel_seg *s, unsigned n, uint64_t start,
                          uint64_t len)
{
    struct vmodel_blk *b = r->b;

    r->log.data_segs = count_segs(s, n, start, len, &r->log.max_seg_len);
    if ((b->neg & VMODEL_BLK_F_SEG_MAX) && r->log.data_segs > b->cfg.seg_max) {
        shape_error(r, "exceeds seg_max");
        return false;
    }
    if ((b->neg & VMODEL_BLK_F_SIZE_MAX) && r->log.max_seg_len > b->cfg.size_max) {
        shape_error(r, "has a segment beyond size_max");
        return false;
    }
    return true;
}

static bool range_ok(struct req *r, uint64_t sector, uint64_t nsect)
{
    if (sector > r->b->capacity || nsect > r->b->capacity - sector) {
        shape_error(r, "beyond capacity");
        return false;
    }
    return true;
}

static bool ioerr_injected(struct req *r, uint64_t sector, uint64_t nsect)
{
    uint64_t at;
    unsigned i;

    for (i = 0; i < SIM_MAX_FAULTS; i++) {
        const struct sim_fault *f = &vmodel_sim(r->m)->faults[i];
        if (f->armed && f->id == VMODEL_FAULT_BLK_IOERR) {
            at = f->param;
            if (at != UINT64_MAX && (at < sector || at - sector >= nsect))
                return false;
            return sim_fault_hit(vmodel_sim(r->m), VMODEL_FAULT_BLK_IOERR, NULL);
        }
    }
    return false;
}

/* ------------------------------------------------------------------------------------------------
 * Request types (5.2.6)
 */
static uint8_t do_in(struct req *r)
{
    struct vmodel_chain *c = r->c;
    uint64_t len = c->wr_len - 1u;

    r->log.data_len = len;
    if (c->rd_len != 16u) {
        shape_error(r, "IN with readable bytes beyond the header");
        return VMODEL_BLK_S_IOERR;
    }
    if (len % SECTOR) {
        shape_error(r, "IN data not a multiple of 512");
        return VMODEL_BLK_S_IOERR;
    }
    r->log.num_sectors = len / SECTOR;
    if (!range_ok(r, r->log.sector, len / SECTOR) || !seg_limits_ok(r, c->wr, c->nwr, 0, len))
        return VMODEL_BLK_S_IOERR;
    if (ioerr_injected(r, r->log.sector, len / SECTOR))
        return VMODEL_BLK_S_IOERR;
    if (!vmodel_chain_write(r->m, c, 0, r->b->media + r->log.sector * SECTOR, (size_t)len))
        return VMODEL_BLK_S_IOERR;
    r->b->st.bytes_read += len;
    r->used = (uint32_t)len;
    return VMODEL_BLK_S_OK;
}

static uint8_t do_out(struct req *r)
{
    struct vmodel_chain *c = r->c;
    uint64_t len = c->rd_len - 16u;

    r->log.data_len = len;
    if (c->wr_len != 1u) {
        shape_error(r, "OUT with writable bytes besides the status");
        return VMODEL_BLK_S_IOERR;
    }
    if (len % SECTOR) {
        shape_error(r, "OUT data not a multiple of 512");
        return VMODEL_BLK_S_IOERR;
    }
    r->log.num_sectors = len / SECTOR;
    if (r->b->neg & VMODEL_BLK_F_RO) {
        shape_error(r, "OUT to a read-only device");
        return VMODEL_BLK_S_IOERR;
    }
    if (!range_ok(r, r->log.sector, len / SECTOR) || !seg_limits_ok(r, c->rd, c->nrd, 16, len))
        return VMODEL_BLK_S_IOERR;
    if (ioerr_injected(r, r->log.sector, len / SECTOR))
        return VMODEL_BLK_S_IOERR;
    if (!vmodel_chain_read(r->m, c, 16, r->b->media + r->log.sector * SECTOR, (size_t)len))
        return VMODEL_BLK_S_IOERR;
    r->b->st.bytes_written += len;
    r->b->st.writes_since_flush++;
    return VMODEL_BLK_S_OK;
}

static bool no_payload(struct req *r, const char *what)
{
    if (r->c->rd_len != 16u || r->c->wr_len != 1u) {
        shape_error(r, what);
        return false;
    }
    return true;
}

static uint8_t do_flush(struct req *r)
{
    if (!(r->b->neg & VMODEL_BLK_F_FLUSH)) {
        shape_error(r, "FLUSH without VIRTIO_BLK_F_FLUSH");
        return VMODEL_BLK_S_UNSUPP;
    }
    if (!no_payload(r, "FLUSH with a payload"))
        return VMODEL_BLK_S_IOERR;
    r->b->st.writes_since_flush = 0;
    return VMODEL_BLK_S_OK;
}

static uint8_t do_get_id(struct req *r)
{
    struct vmodel_chain *c = r->c;
    uint64_t len = c->wr_len - 1u;
    size_t n = len < VMODEL_BLK_ID_BYTES ? (size_t)len : VMODEL_BLK_ID_BYTES;

    r->log.data_len = len;
    if (r->b->cfg.get_id_unsupported)
        return VMODEL_BLK_S_UNSUPP;
    if (c->rd_len != 16u || len == 0) {
        shape_error(r, "GET_ID without a writable id buffer");
        return VMODEL_BLK_S_IOERR;
    }
    if (!vmodel_chain_write(r->m, c, 0, r->b->cfg.serial, n))
        return VMODEL_BLK_S_IOERR;
    r->used = (uint32_t)n;
    return VMODEL_BLK_S_OK;
}

struct range_limits {
    uint64_t feature;
    uint32_t max_sectors, max_seg;
    bool unmap_ok;
    const char *name;
};

static struct range_limits limits_of(const struct vmodel_blk *b, uint32_t type)
{
    const struct vmodel_blk_cfg *k = &b->cfg;

    if (type == VMODEL_BLK_T_DISCARD)
        return (struct range_limits){VMODEL_BLK_F_DISCARD, k->max_discard_sectors,
                                     k->max_discard_seg, false, "DISCARD"};
    if (type == VMODEL_BLK_T_WRITE_ZEROES)
        return (struct range_limits){VMODEL_BLK_F_WRITE_ZEROES, k->max_write_zeroes_sectors,
                                     k->max_write_zeroes_seg, true, "WRITE_ZEROES"};
    return (struct range_limits){VMODEL_BLK_F_SECURE_ERASE, k->max_secure_erase_sectors,
                                 k->max_secure_erase_seg, false, "SECURE_ERASE"};
}

/* Check one discard / write-zeroes / secure-erase segment (5.2.6.2). */
static uint8_t check_range(struct req *r, const struct range_limits *l, uint64_t sector,
                           uint32_t num, uint32_t flags)
{
    uint32_t lbs = r->b->cfg.blk_size >= SECTOR ? r->b->cfg.blk_size / SECTOR : 1u;

    if (flags & ~VMODEL_BLK_WZ_F_UNMAP)
        return VMODEL_BLK_S_UNSUPP; /* unknown flag */
    if ((flags & VMODEL_BLK_WZ_F_UNMAP) && !l->unmap_ok)
        return VMODEL_BLK_S_UNSUPP; /* unmap is only for write zeroes */
    if (num == 0 || num > l->max_sectors) {
        shape_error(r, "range exceeds the max sectors limit");
        return VMODEL_BLK_S_IOERR;
    }
    if ((r->b->neg & VMODEL_BLK_F_BLK_SIZE) && ((sector % lbs) || (num % lbs))) {
        shape_error(r, "range not aligned to the logical block size");
        return VMODEL_BLK_S_IOERR;
    }
    if (!range_ok(r, sector, num))
        return VMODEL_BLK_S_IOERR;
    return VMODEL_BLK_S_OK;
}

static uint8_t do_ranges(struct req *r, uint32_t type)
{
    struct vmodel_blk *b = r->b;
    struct vmodel_chain *c = r->c;
    struct range_limits l = limits_of(b, type);
    uint64_t len = c->rd_len - 16u, i;
    uint8_t e[16], st;

    r->log.data_len = len;
    if (!(b->neg & l.feature)) {
        shape_error(r, "request type not negotiated");
        return VMODEL_BLK_S_UNSUPP;
    }
    if (c->wr_len != 1u || len == 0 || len % 16u) {
        shape_error(r, "range request with a malformed segment table");
        return VMODEL_BLK_S_IOERR;
    }
    r->log.ranges = (unsigned)(len / 16u);
    if (r->log.ranges > l.max_seg) {
        shape_error(r, "range request with more segments than allowed");
        return VMODEL_BLK_S_IOERR;
    }
    for (i = 0; i < len; i += 16u) { /* validate everything before touching the media */
        if (!vmodel_chain_read(r->m, c, 16u + i, e, sizeof(e)))
            return VMODEL_BLK_S_IOERR;
        r->log.flags |= vm_g32(r->m, e + 12);
        r->log.num_sectors += vm_g32(r->m, e + 8);
        if (i == 0)
            r->log.sector = vm_g64(r->m, e);
        st = check_range(r, &l, vm_g64(r->m, e), vm_g32(r->m, e + 8), vm_g32(r->m, e + 12));
        if (st != VMODEL_BLK_S_OK)
            return st;
        if (ioerr_injected(r, vm_g64(r->m, e), vm_g32(r->m, e + 8)))
            return VMODEL_BLK_S_IOERR;
    }
    for (i = 0; i < len; i += 16u) {
        uint8_t fill = type == VMODEL_BLK_T_WRITE_ZEROES ? 0u : b->cfg.discard_fill;
        vmodel_chain_read(r->m, c, 16u + i, e, sizeof(e));
        memset(b->media + vm_g64(r->m, e) * SECTOR, fill, (size_t)vm_g32(r->m, e + 8) * SECTOR);
    }
    if (type == VMODEL_BLK_T_WRITE_ZEROES && (r->log.flags & VMODEL_BLK_WZ_F_UNMAP))
        b->st.write_zeroes_unmap++;
    return VMODEL_BLK_S_OK;
}

static uint8_t execute(struct req *r)
{
    struct vmodel_blk_stats *st = &r->b->st;

    switch (r->log.type) {
    case VMODEL_BLK_T_IN:
        st->reads++;
        return do_in(r);
    case VMODEL_BLK_T_OUT:
        st->writes++;
        return do_out(r);
    case VMODEL_BLK_T_FLUSH:
        st->flushes++;
        return do_flush(r);
    case VMODEL_BLK_T_GET_ID:
        st->get_ids++;
        return do_get_id(r);
    case VMODEL_BLK_T_DISCARD:
        st->discards++;
        return do_ranges(r, r->log.type);
    case VMODEL_BLK_T_WRITE_ZEROES:
        st->write_zeroes++;
        return do_ranges(r, r->log.type);
    case VMODEL_BLK_T_SECURE_ERASE:
        st->secure_erases++;
        return do_ranges(r, r->log.type);
    default:
        st->unknown++;
        return VMODEL_BLK_S_UNSUPP;
    }
}

static void log_req(struct vmodel_blk *b, const struct vmodel_blk_req *l)
{
    b->st.log[b->st.log_total % VMODEL_BLK_LOG] = *l;
    b->st.log_total++;
}

static int64_t blk_handle(void *ctx, struct vmodel *m, struct vmodel_chain *c)
{
    struct vmodel_blk *b = ctx;
    struct req r = {b, m, c, {0}, 0};
    uint8_t hdr[16], status;
    uint64_t p;

    r.log.queue = c->queue;
    b->st.reqs++;
    if (c->wr_len == 0) {
        r.log.type = UINT32_MAX;
        shape_error(&r, "request without a writable status byte");
        log_req(b, &r.log);
        return 0;
    }
    if (c->rd_len < 16u || !vmodel_chain_read(m, c, 0, hdr, sizeof(hdr))) {
        r.log.type = UINT32_MAX;
        shape_error(&r, "request without a readable 16-byte header");
        status = VMODEL_BLK_S_IOERR;
    } else {
        r.log.type = vm_g32(m, hdr); /* 5.2.6.3: guest-endian on the legacy interface */
        r.log.sector = vm_g64(m, hdr + 8);
        status = execute(&r);
    }
    r.log.status = status;
    if (status == VMODEL_BLK_S_OK)
        b->st.ok++;
    else if (status == VMODEL_BLK_S_IOERR)
        b->st.ioerr++;
    else
        b->st.unsupp++;
    log_req(b, &r.log);
    if (status != VMODEL_BLK_S_OK)
        r.used = 0; /* only the status byte is written on failure */
    if (sim_fault_hit(vmodel_sim(m), VMODEL_FAULT_BLK_STATUS_UNWRITTEN, NULL))
        return r.used;
    if (sim_fault_hit(vmodel_sim(m), VMODEL_FAULT_BLK_STATUS_GARBAGE, &p))
        status = (uint8_t)(p ? p : 0x7fu);
    vmodel_chain_write(m, c, c->wr_len - 1u, &status, 1);
    return (int64_t)r.used + 1;
}

const struct vmodel_device_ops vmodel_blk_ops = {
    .name = "virtio-blk",
    .device_id = VMODEL_ID_BLOCK,
    .pci_class = 0x018000u,
    .attach = blk_attach,
    .features = blk_features,
    .num_queues = blk_num_queues,
    .config_size = blk_config_size,
    .config_width = blk_config_width,
    .config_read = blk_config_read,
    .config_write = blk_config_write,
    .features_ok = blk_features_ok,
    .handle = blk_handle,
    .reset = blk_reset,
    .queue_reset = NULL,
};

/* ------------------------------------------------------------------------------------------------
 * Public API
 */
void vmodel_blk_cfg_default(struct vmodel_blk_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->capacity = 2048;
    cfg->features = VMODEL_BLK_F_SEG_MAX | VMODEL_BLK_F_GEOMETRY | VMODEL_BLK_F_BLK_SIZE |
                    VMODEL_BLK_F_TOPOLOGY | VMODEL_BLK_F_FLUSH | VMODEL_BLK_F_CONFIG_WCE |
                    VMODEL_BLK_F_DISCARD | VMODEL_BLK_F_WRITE_ZEROES;
    cfg->seg_max = 126;
    cfg->cylinders = 2;
    cfg->heads = 16;
    cfg->sectors = 63;
    cfg->blk_size = 512;
    cfg->writeback = true;
    cfg->num_queues = 1;
    cfg->max_discard_sectors = 32768;
    cfg->max_discard_seg = 1;
    cfg->discard_sector_alignment = 8;
    cfg->max_write_zeroes_sectors = 32768;
    cfg->max_write_zeroes_seg = 1;
    cfg->write_zeroes_may_unmap = true;
    cfg->max_secure_erase_sectors = 32768;
    cfg->max_secure_erase_seg = 1;
    cfg->secure_erase_sector_alignment = 8;
    memcpy(cfg->serial, "KEEL-VMODEL-0001", 16);
}

uint8_t vmodel_blk_pattern(uint64_t off)
{
    uint64_t x = (off + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint8_t)(x ^ (x >> 41));
}

static void fill_pattern(uint8_t *p, uint64_t from, uint64_t to)
{
    uint64_t i;

    for (i = from; i < to; i++)
        p[i] = vmodel_blk_pattern(i);
}

struct vmodel_blk *vmodel_blk_create(const struct vmodel_blk_cfg *cfg)
{
    struct vmodel_blk *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->cfg = *cfg;
    b->capacity = cfg->capacity;
    b->wce = cfg->writeback;
    if (cfg->media) {
        b->media = cfg->media;
    } else {
        b->media = malloc(cfg->capacity ? (size_t)cfg->capacity * SECTOR : 1u);
        b->own_media = true;
        if (b->media == NULL) {
            free(b);
            return NULL;
        }
        fill_pattern(b->media, 0, cfg->capacity * SECTOR);
    }
    return b;
}

void vmodel_blk_destroy(struct vmodel_blk *b)
{
    if (b == NULL)
        return;
    if (b->own_media)
        free(b->media);
    free(b);
}

uint8_t *vmodel_blk_media(struct vmodel_blk *b, size_t *len)
{
    if (len)
        *len = (size_t)(b->capacity * SECTOR);
    return b->media;
}

void vmodel_blk_resize(struct vmodel_blk *b, uint64_t new_capacity)
{
    if (new_capacity > b->capacity) {
        uint8_t *p;
        if (!b->own_media) {
            sim_violation(vmodel_sim(b->m), "vmodel_blk_resize: cannot grow caller media");
            return;
        }
        p = realloc(b->media, (size_t)new_capacity * SECTOR);
        if (p == NULL)
            return;
        fill_pattern(p, b->capacity * SECTOR, new_capacity * SECTOR);
        b->media = p;
    }
    b->capacity = new_capacity;
    if (b->m)
        vmodel_config_changed(b->m);
}

bool vmodel_blk_wce(const struct vmodel_blk *b)
{
    return b->wce;
}
const struct vmodel_blk_stats *vmodel_blk_stats(const struct vmodel_blk *b)
{
    return &b->st;
}

const struct vmodel_blk_req *vmodel_blk_last(const struct vmodel_blk *b, unsigned i)
{
    if (i >= b->st.log_total || i >= VMODEL_BLK_LOG)
        return NULL;
    return &b->st.log[(b->st.log_total - 1u - i) % VMODEL_BLK_LOG];
}

struct vmodel *vmodel_blk_pair_create(struct sim *s, const struct vmodel_cfg *cfg,
                                      const struct vmodel_blk_cfg *bcfg, struct vmodel_blk **out)
{
    struct vmodel_blk *b = vmodel_blk_create(bcfg);
    struct vmodel *m;

    *out = NULL;
    if (b == NULL)
        return NULL;
    m = vmodel_create(s, cfg, &vmodel_blk_ops, b);
    if (m == NULL) {
        vmodel_blk_destroy(b);
        return NULL;
    }
    *out = b;
    return m;
}

void vmodel_blk_pair_destroy(struct vmodel *m, struct vmodel_blk *b)
{
    vmodel_destroy(m);
    vmodel_blk_destroy(b);
}
