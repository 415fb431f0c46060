/* SPDX-License-Identifier: MIT */
/* Blocking helpers over the asynchronous block interface: submit, then poll to completion. */
#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/wait.h>

static void sync_done(struct keel_blk_req *req)
{
    *(volatile bool *)req->user = true;
}

/*
 * The disk at the root of `dev`'s chain, or NULL for a chain deeper than keel_blk_check accepts (4
 * parents): a corrupt chain may loop, and this walk runs before any check does.
 */
static struct keel_blkdev *disk_of(struct keel_blkdev *dev)
{
    unsigned depth;

    for (depth = 0; depth <= 4u; depth++) {
        if (dev->parent == NULL)
            return dev;
        dev = dev->parent;
    }
    return NULL;
}

/* Submit, retrying while the queue is full, until the deadline. */
static int submit_with_backpressure(const struct keel_hal *hal, struct keel_blkdev *dev,
                                    struct keel_blk_req *req, struct keel_deadline d)
{
    for (;;) {
        int rc = keel_blk_submit(dev, req);
        if (rc != KEEL_ENOSPC)
            return rc;
        (void)keel_blk_poll(dev, req->queue, 0);
        if (keel_deadline_passed(hal, d))
            return KEEL_ETIMEDOUT;
    }
}

int keel_blk_execute(struct keel_blkdev *dev, struct keel_blk_req *req)
{
    volatile bool finished = false;
    struct keel_blkdev *disk;
    const struct keel_hal *hal;
    uint64_t timeout;
    struct keel_deadline d;
    int rc;

    if (dev == NULL || req == NULL)
        return KEEL_EINVAL;
    disk = disk_of(dev);
    if (disk == NULL)
        return KEEL_EINVAL;
    if (disk->ops == NULL || disk->ops->recover == NULL)
        return KEEL_ENOTSUP; /* could not guarantee the stack request is finished: see blkdev.h */
    hal = disk->hal;
    timeout = req->timeout_us ? req->timeout_us : KEEL_CONFIG_BLK_DEFAULT_TIMEOUT_US;
    req->done = sync_done;
    /* The flag outlives the request: the loop below returns only once done() ran, or after the
     * driver broke the recover contract of keel_blkdev_ops (then nothing can be promised). */
    /* cppcheck-suppress autoVariables */
    req->user = (void *)&finished;
    d = keel_deadline_in(hal, timeout);
    rc = submit_with_backpressure(hal, dev, req, d);
    if (rc != KEEL_OK)
        return rc;
    /* The driver times the request out itself; the grace covers its escalation (abort, reset). */
    d = keel_deadline_in(hal, timeout + KEEL_CONFIG_BLK_RECOVERY_GRACE_US);
    /* At least one poll, even when the request already finished inside submit (an interrupt the
     * driver took there): drivers run work deferred to the queue's owner from their poll. */
    do {
        (void)keel_blk_poll(dev, req->queue, 0);
        if (!finished && keel_deadline_passed(hal, d)) {
            if (disk->ops->recover(disk) != KEEL_OK || !finished)
                return KEEL_ETIMEDOUT; /* driver broke its contract; see keel_blkdev_ops */
        }
    } while (!finished);
    return req->status;
}

static int run_chunked(struct keel_blkdev *dev, uint8_t op, unsigned queue, uint64_t lba,
                       uint32_t count, void *buf, uint32_t timeout_us)
{
    struct keel_blkdev *disk;
    uint32_t limit;

    /* req.queue is 16 bits: a larger queue must not wrap onto another owner's queue. */
    if (dev == NULL || count == 0u || queue > UINT16_MAX)
        return KEEL_EINVAL;
    disk = disk_of(dev);
    if (disk == NULL)
        return KEEL_EINVAL;
    limit = disk->info.max_transfer;
    if ((op == KEEL_BLK_OP_TRIM || op == KEEL_BLK_OP_WRITE_ZEROES) && disk->info.max_discard)
        limit = disk->info.max_discard;
    if (limit == 0u)
        limit = UINT32_MAX;
    while (count > 0u) {
        struct keel_blk_req req = {0};
        int rc;

        req.op = op;
        req.queue = (uint16_t)queue;
        req.lba = lba;
        req.count = count < limit ? count : limit;
        req.buf = buf;
        req.timeout_us = timeout_us;
        rc = keel_blk_execute(dev, &req);
        if (rc != KEEL_OK)
            return rc;
        lba += req.count;
        count -= req.count;
        if (buf != NULL)
            buf = (uint8_t *)buf + (size_t)req.count * dev->info.sector_size;
    }
    return KEEL_OK;
}

int keel_blk_read(struct keel_blkdev *dev, unsigned queue, uint64_t lba, uint32_t count, void *buf,
                  uint32_t timeout_us)
{
    if (buf == NULL)
        return KEEL_EINVAL;
    return run_chunked(dev, KEEL_BLK_OP_READ, queue, lba, count, buf, timeout_us);
}

int keel_blk_write(struct keel_blkdev *dev, unsigned queue, uint64_t lba, uint32_t count,
                   const void *buf, uint32_t timeout_us)
{
    if (buf == NULL)
        return KEEL_EINVAL;
    /* The device only reads the buffer; the request type is shared with reads. */
    return run_chunked(dev, KEEL_BLK_OP_WRITE, queue, lba, count, (void *)(uintptr_t)buf,
                       timeout_us);
}

int keel_blk_trim(struct keel_blkdev *dev, unsigned queue, uint64_t lba, uint32_t count,
                  uint32_t timeout_us)
{
    return run_chunked(dev, KEEL_BLK_OP_TRIM, queue, lba, count, NULL, timeout_us);
}

int keel_blk_write_zeroes(struct keel_blkdev *dev, unsigned queue, uint64_t lba, uint32_t count,
                          uint32_t timeout_us)
{
    return run_chunked(dev, KEEL_BLK_OP_WRITE_ZEROES, queue, lba, count, NULL, timeout_us);
}

int keel_blk_flush(struct keel_blkdev *dev, unsigned queue, uint32_t timeout_us)
{
    struct keel_blk_req req = {0};

    if (queue > UINT16_MAX)
        return KEEL_EINVAL;
    req.op = KEEL_BLK_OP_FLUSH;
    req.queue = (uint16_t)queue;
    req.timeout_us = timeout_us;
    return keel_blk_execute(dev, &req);
}
