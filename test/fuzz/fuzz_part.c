/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target "part": MBR (with EBR chains) and GPT contents, through keel_part_scan over a block
 * device whose sectors come from the input, then keel_part_register and I/O through the children;
 * plus the pure parsers keel_mbr_parse and keel_gpt_parse_header on the raw sectors.
 *
 * Input:
 *   byte 0      flags: bit 0 4096-byte sectors; bit 1 the disk is read-only; bit 2 one sector
 *               (err_lba) fails with EIO; bit 3 it never completes (timeout and recover); bit 4
 *               name the disk "sd0" (partitions "sd0p1") instead of "vda"
 *   bytes 1-4   disk size, sectors (little-endian), shifted left by byte 5 & 31 (large disks)
 *   byte 6      nfront: how many image sectors sit at LBA 0 .. nfront-1; the rest of the image is
 *               the end of the disk (where the GPT backup lives); every other sector reads as zero
 *   bytes 7-10  err_lba
 *   the rest    the image, sector after sector
 *
 * Invariants beyond the sanitizers: the scan only ever reads, inside the disk; every request
 * completes exactly once; a table the scan accepts has partitions inside the disk that do not
 * overlap; children map LBAs exactly (start + lba), refuse anything past their end with
 * KEEL_ERANGE, and on a read-only disk refuse writes with KEEL_EROFS without reaching the device.
 */
#include <stdlib.h>
#include <string.h>

#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/part.h>

#include "fuzz_hal.h"

#define HDR_BYTES 11u
#define DEPTH     4u

struct fdisk {
    struct keel_blkdev dev;
    struct fuzz_hal *fh;
    const uint8_t *img;
    size_t img_len;
    uint32_t ss;
    uint64_t sectors;
    uint64_t front, back; /* image sectors at the start / the end of the disk */
    bool fail, stall;
    uint64_t err_lba;
    struct keel_blk_req *pending[DEPTH];
    unsigned npending;
    unsigned writes_seen;
    uint64_t last_write_lba;
};

/* Sector `lba` of the disk as the input describes it (zeroes outside the image). */
static void sector_read(const struct fdisk *d, uint64_t lba, uint8_t *out)
{
    uint64_t idx = UINT64_MAX;
    size_t off, n;

    if (lba < d->front)
        idx = lba;
    else if (d->back != 0u && lba >= d->sectors - d->back)
        idx = d->front + (lba - (d->sectors - d->back));
    memset(out, 0, d->ss);
    if (idx == UINT64_MAX)
        return;
    off = (size_t)idx * d->ss;
    if (off >= d->img_len)
        return;
    n = d->img_len - off < d->ss ? d->img_len - off : d->ss;
    memcpy(out, d->img + off, n);
}

static int fd_submit(struct keel_blkdev *dev, struct keel_blk_req *req)
{
    struct fdisk *d = dev->drv;

    if (req->dev_lba > d->sectors || req->count > d->sectors - req->dev_lba)
        fh_fail("block layer let LBA %llu + %u past the disk (%llu sectors)",
                (unsigned long long)req->dev_lba, req->count, (unsigned long long)d->sectors);
    if (d->npending >= DEPTH)
        return KEEL_ENOSPC;
    d->pending[d->npending++] = req;
    return KEEL_OK;
}

static int fd_execute(struct fdisk *d, struct keel_blk_req *req)
{
    uint32_t i;

    if (d->fail && d->err_lba >= req->dev_lba && d->err_lba - req->dev_lba < req->count)
        return KEEL_EIO;
    if (req->op == KEEL_BLK_OP_WRITE) {
        d->writes_seen++;
        d->last_write_lba = req->dev_lba;
        return KEEL_OK;
    }
    if (req->op != KEEL_BLK_OP_READ)
        fh_fail("unexpected operation %u", req->op);
    for (i = 0; i < req->count; i++)
        sector_read(d, req->dev_lba + i, (uint8_t *)req->buf + (size_t)i * d->ss);
    return KEEL_OK;
}

static bool stalled(const struct fdisk *d, const struct keel_blk_req *req)
{
    return d->stall && d->err_lba >= req->dev_lba && d->err_lba - req->dev_lba < req->count;
}

static int fd_poll(struct keel_blkdev *dev, unsigned queue, unsigned budget)
{
    struct fdisk *d = dev->drv;
    unsigned i = 0, n = 0;

    (void)queue;
    fh_advance(d->fh, 100000); /* a slow disk: a stalled request times out in a few hundred polls */
    while (i < d->npending && (budget == 0u || n < budget)) {
        struct keel_blk_req *req = d->pending[i];
        if (stalled(d, req)) {
            i++;
            continue;
        }
        memmove(&d->pending[i], &d->pending[i + 1u], (d->npending - i - 1u) * sizeof(req));
        d->npending--;
        keel_blk_complete(req, fd_execute(d, req));
        n++;
    }
    return (int)n;
}

static int fd_recover(struct keel_blkdev *dev)
{
    struct fdisk *d = dev->drv;

    while (d->npending > 0u) {
        struct keel_blk_req *req = d->pending[--d->npending];
        keel_blk_complete(req, KEEL_ETIMEDOUT);
    }
    return KEEL_OK;
}

static const struct keel_blkdev_ops fd_ops = {
    .submit = fd_submit,
    .poll = fd_poll,
    .recover = fd_recover,
};

static bool overlaps(const struct keel_part *a, const struct keel_part *b)
{
    return a->start_lba < b->start_lba + b->sector_count &&
           b->start_lba < a->start_lba + a->sector_count;
}

static void check_table(const struct fdisk *d, const struct keel_part_table *t)
{
    unsigned i, j;

    if (t->count > KEEL_CONFIG_PART_MAX)
        fh_fail("table count %u", t->count);
    if (t->scheme != KEEL_PART_MBR && t->scheme != KEEL_PART_GPT && t->count != 0u)
        fh_fail("partitions without a scheme");
    for (i = 0; i < t->count; i++) {
        const struct keel_part *p = &t->part[i];
        if (p->sector_count == 0u || p->start_lba >= d->sectors ||
            p->sector_count > d->sectors - p->start_lba)
            fh_fail("partition %u [%llu +%llu] outside the disk of %llu sectors", p->number,
                    (unsigned long long)p->start_lba, (unsigned long long)p->sector_count,
                    (unsigned long long)d->sectors);
        if (memchr(p->name, '\0', sizeof(p->name)) == NULL)
            fh_fail("partition name not terminated");
        for (j = 0; j < i; j++) {
            const struct keel_part *q = &t->part[j];
            if (!p->extended && !q->extended && overlaps(p, q))
                fh_fail("data partitions %u and %u overlap", q->number, p->number);
        }
    }
}

static void done_once(struct keel_blk_req *req)
{
    unsigned *calls = req->user;

    if (++*calls != 1u)
        fh_fail("request completed twice");
}

/* One request through a child, synchronously; returns the status. */
static int child_io(struct fdisk *d, struct keel_blkdev *child, uint8_t op, uint64_t lba,
                    uint8_t *buf)
{
    struct keel_blk_req req;
    unsigned calls = 0;
    int rc, polls;

    memset(&req, 0, sizeof(req));
    req.op = op;
    req.lba = lba;
    req.count = 1;
    req.buf = buf;
    req.done = done_once;
    req.user = &calls;
    rc = keel_blk_submit(child, &req);
    if (rc != KEEL_OK) {
        if (calls != 0u)
            fh_fail("done() ran for a refused request");
        return rc;
    }
    for (polls = 0; polls < 1000 && calls == 0u; polls++)
        (void)keel_blk_poll(child, 0, 0);
    if (calls == 0u) {
        (void)fd_recover(&d->dev);
        if (calls == 0u)
            fh_fail("request never completed");
    }
    return req.status;
}

static void check_children(struct fdisk *d, const struct keel_part_table *t, bool read_only)
{
    struct keel_blkdev children[KEEL_CONFIG_PART_MAX];
    uint8_t *buf = malloc(d->ss);
    int n = keel_part_register(&d->dev, t, children, KEEL_CONFIG_PART_MAX, NULL), i;

    if (buf == NULL)
        abort();
    if (n < 0 && n != KEEL_ERANGE && n != KEEL_EINVAL)
        fh_fail("keel_part_register: %d", n);
    for (i = 0; i < n; i++) {
        struct keel_blkdev *c = &children[i];
        uint64_t end = c->info.sector_count;
        unsigned writes = d->writes_seen;
        int rc;

        if (c->parent != &d->dev || end == 0u || c->start_lba + end > d->sectors)
            fh_fail("child %s maps outside its disk", c->info.name);
        rc = child_io(d, c, KEEL_BLK_OP_READ, end - 1u, buf);
        if (rc != KEEL_OK && !(d->fail || d->stall))
            fh_fail("read of the last sector of %s: %d", c->info.name, rc);
        rc = child_io(d, c, KEEL_BLK_OP_READ, end, buf);
        if (rc != KEEL_ERANGE)
            fh_fail("read past the end of %s: %d, not KEEL_ERANGE", c->info.name, rc);
        rc = child_io(d, c, KEEL_BLK_OP_WRITE, end - 1u, buf);
        if (read_only) {
            if (rc != KEEL_EROFS || d->writes_seen != writes)
                fh_fail("write to read-only %s: %d, %u write(s) reached the disk", c->info.name, rc,
                        d->writes_seen - writes);
        } else if (rc == KEEL_OK && d->last_write_lba != c->start_lba + end - 1u) {
            fh_fail("write to %s lba %llu landed on disk lba %llu", c->info.name,
                    (unsigned long long)(end - 1u), (unsigned long long)d->last_write_lba);
        }
    }
    free(buf);
}

/* The pure parsers on the raw first sectors, with the header checks they promise. */
static void parsers(const struct fdisk *d)
{
    struct keel_mbr_entry e[4];
    struct keel_gpt_header h;
    uint8_t *sec = malloc(d->ss);
    uint64_t lba;

    if (sec == NULL)
        abort();
    sector_read(d, 0, sec);
    (void)keel_mbr_parse(sec, e);
    for (lba = 1; lba < 3u; lba++) {
        sector_read(d, lba, sec);
        if (keel_gpt_parse_header(sec, d->ss, lba, d->sectors, &h) != KEEL_OK)
            continue;
        if (h.my_lba != lba || h.first_usable < 2u || h.first_usable > h.last_usable ||
            h.last_usable >= d->sectors || (lba >= h.first_usable && lba <= h.last_usable) ||
            h.num_entries == 0u || h.entry_size < 128u || h.entry_size > d->ss ||
            (h.entry_size & (h.entry_size - 1u)) != 0u ||
            (uint64_t)h.num_entries * h.entry_size > KEEL_CONFIG_PART_GPT_MAX_ARRAY_BYTES ||
            h.entries_lba >= d->sectors)
            fh_fail("keel_gpt_parse_header accepted a header breaking its own rules");
    }
    free(sec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in;
    struct fuzz_hal fh;
    struct fdisk d;
    struct keel_blkdev_info info;
    struct keel_part_table t;
    uint8_t flags, shift;
    uint64_t nimg;
    uint8_t *scratch;
    int rc;

    if (size < HDR_BYTES)
        return 0;
    fz_init(&in, data, size);
    fh_init(&fh, &in);
    memset(&d, 0, sizeof(d));
    flags = fz_u8(&in);
    d.fh = &fh;
    d.ss = (flags & 1u) ? 4096u : 512u;
    d.sectors = fz_u32(&in);
    shift = (uint8_t)(fz_u8(&in) & 31u);
    d.sectors <<= shift;
    d.front = fz_u8(&in);
    d.err_lba = fz_u32(&in);
    d.fail = (flags & 4u) != 0u;
    d.stall = (flags & 8u) != 0u;
    d.img = data + HDR_BYTES;
    d.img_len = size - HDR_BYTES;
    nimg = (d.img_len + d.ss - 1u) / d.ss;
    if (d.front > nimg)
        d.front = nimg;
    if (d.front > d.sectors)
        d.front = d.sectors;
    d.back = nimg - d.front;
    if (d.back > d.sectors - d.front)
        d.back = d.sectors - d.front;

    memset(&info, 0, sizeof(info));
    memcpy(info.name, (flags & 16u) ? "sd0" : "vda", 4);
    info.driver = "fuzzdisk";
    info.sector_size = d.ss;
    info.sector_count = d.sectors;
    info.max_transfer = 256;
    info.queue_count = 1;
    info.flags = (flags & 2u) ? KEEL_BLK_F_READ_ONLY : 0u;
    keel_blkdev_init(&d.dev, &fh.hal, &fd_ops, &d, &info);

    parsers(&d);
    scratch = malloc(d.ss);
    if (scratch == NULL)
        abort();
    rc = keel_part_scan(&d.dev, 0, scratch, d.ss, &t);
    if (d.npending != 0u)
        fh_fail("keel_part_scan returned with %u request(s) in flight", d.npending);
    if (d.writes_seen != 0u)
        fh_fail("keel_part_scan wrote to the disk");
    if (rc == KEEL_OK) {
        check_table(&d, &t);
        check_children(&d, &t, (flags & 2u) != 0u);
    } else if (rc != KEEL_EBADMSG && rc != KEEL_EIO && rc != KEEL_ETIMEDOUT) {
        fh_fail("keel_part_scan: unexpected %d", rc);
    }
    free(scratch);
    fh_finish(&fh, true);
    return 0;
}
