/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/error.h>
#include <keel/str.h>
#include <sim/ramdisk.h>

static int rd_submit(struct keel_blkdev *dev, struct keel_blk_req *req)
{
    struct ramdisk *rd = dev->drv;
    unsigned q = req->queue;

    if (rd->npending[q] >= rd->depth)
        return KEEL_ENOSPC;
    rd->submits[req->op]++;
    rd->pending[q][rd->npending[q]++] = req;
    return KEEL_OK;
}

static int rd_execute(struct ramdisk *rd, struct keel_blk_req *req)
{
    uint32_t ss = rd->dev.info.sector_size;
    uint64_t off = req->dev_lba * ss, len = (uint64_t)req->count * ss;

    if (req->op == KEEL_BLK_OP_FLUSH)
        return KEEL_OK;
    if (off + len > rd->bytes)
        return KEEL_ERANGE; /* the block layer must never let this happen */
    if (rd->fail_enabled && rd->fail_lba >= req->dev_lba &&
        rd->fail_lba < req->dev_lba + req->count)
        return KEEL_EIO;
    switch (req->op) {
    case KEEL_BLK_OP_READ:
        memcpy(req->buf, rd->data + off, len);
        break;
    case KEEL_BLK_OP_WRITE:
        memcpy(rd->data + off, req->buf, len);
        break;
    default: /* TRIM and WRITE_ZEROES both read back as zeroes here */
        memset(rd->data + off, 0, len);
        break;
    }
    return KEEL_OK;
}

static int rd_poll(struct keel_blkdev *dev, unsigned queue, unsigned budget)
{
    struct ramdisk *rd = dev->drv;
    unsigned n = 0;

    if (rd->never_complete)
        return 0;
    while (rd->npending[queue] > 0 && (budget == 0 || n < budget)) {
        struct keel_blk_req *req = rd->pending[queue][0];
        memmove(&rd->pending[queue][0], &rd->pending[queue][1],
                (rd->npending[queue] - 1) * sizeof(req));
        rd->npending[queue]--;
        keel_blk_complete(req, rd_execute(rd, req));
        n++;
    }
    return (int)n;
}

static int rd_recover(struct keel_blkdev *dev)
{
    struct ramdisk *rd = dev->drv;
    unsigned q;

    rd->recovers++;
    for (q = 0; q < KEEL_CONFIG_BLK_MAX_QUEUES; q++) {
        while (rd->npending[q] > 0) {
            struct keel_blk_req *req = rd->pending[q][--rd->npending[q]];
            keel_blk_complete(req, KEEL_ETIMEDOUT);
        }
    }
    return KEEL_OK;
}

static const struct keel_blkdev_ops rd_ops = {rd_submit, rd_poll, rd_recover};

struct ramdisk *ramdisk_create(const struct keel_hal *hal, const char *name, uint32_t sector_size,
                               uint64_t sectors, uint32_t flags, uint16_t queues,
                               uint32_t max_transfer)
{
    struct ramdisk *rd = calloc(1, sizeof(*rd));
    struct keel_blkdev_info info = {0};

    if (rd == NULL)
        return NULL;
    rd->bytes = sectors * sector_size;
    rd->data = calloc(1, rd->bytes ? rd->bytes : 1);
    rd->depth = 8;
    keel_strlcpy(info.name, name, sizeof(info.name));
    info.driver = "ram";
    info.sector_size = sector_size;
    info.sector_count = sectors;
    info.max_transfer = max_transfer;
    info.queue_count = queues;
    info.flags = flags;
    keel_blkdev_init(&rd->dev, hal, &rd_ops, rd, &info);
    return rd;
}

struct ramdisk *ramdisk_from_file(const struct keel_hal *hal, const char *name, const char *path,
                                  uint32_t sector_size)
{
    FILE *f = fopen(path, "rb");
    struct ramdisk *rd;
    long size;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    rd = ramdisk_create(hal, name, sector_size, (uint64_t)size / sector_size, 0, 1, 256);
    if (rd && fread(rd->data, 1, (size_t)size, f) != (size_t)size) {
        ramdisk_destroy(rd);
        rd = NULL;
    }
    fclose(f);
    return rd;
}

void ramdisk_destroy(struct ramdisk *rd)
{
    if (rd == NULL)
        return;
    free(rd->data);
    free(rd);
}
