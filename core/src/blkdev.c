/* SPDX-License-Identifier: MIT */
/* The block layer: request checks, partition resolution, statistics, completion. */
#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/str.h>

void keel_blkdev_init(struct keel_blkdev *dev, const struct keel_hal *hal,
                      const struct keel_blkdev_ops *ops, void *drv,
                      const struct keel_blkdev_info *info)
{
    keel_memset(dev, 0, sizeof(*dev));
    dev->info = *info;
    dev->ops = ops;
    dev->drv = drv;
    dev->hal = hal;
    dev->access = (info->flags & KEEL_BLK_F_READ_ONLY) ? KEEL_BLK_ACCESS_RO : KEEL_BLK_ACCESS_RW;
}

int keel_blkdev_set_access(struct keel_blkdev *dev, enum keel_blk_access mode)
{
    if (dev == NULL || (mode != KEEL_BLK_ACCESS_RO && mode != KEEL_BLK_ACCESS_RW))
        return KEEL_EINVAL;
    if (mode == KEEL_BLK_ACCESS_RW && (dev->info.flags & KEEL_BLK_F_READ_ONLY))
        return KEEL_EROFS;
    dev->access = (uint8_t)mode;
    return KEEL_OK;
}

void keel_blkdev_mark_gone(struct keel_blkdev *dev)
{
    if (dev != NULL)
        dev->gone = true;
}

static bool op_writes(uint8_t op)
{
    return op == KEEL_BLK_OP_WRITE || op == KEEL_BLK_OP_TRIM || op == KEEL_BLK_OP_WRITE_ZEROES;
}

static bool op_has_range(uint8_t op)
{
    return op != KEEL_BLK_OP_FLUSH;
}

/* The shape of the request on its own: operation, buffer, count, flags. */
static int check_shape(const struct keel_blk_req *req)
{
    if (req->op >= KEEL_BLK_OP_COUNT || req->done == NULL)
        return KEEL_EINVAL;
    if (req->op == KEEL_BLK_OP_READ || req->op == KEEL_BLK_OP_WRITE) {
        if (req->buf == NULL || req->count == 0u)
            return KEEL_EINVAL;
    } else if (op_has_range(req->op) && req->count == 0u) {
        return KEEL_EINVAL;
    }
    if ((req->flags & KEEL_BLK_REQ_FUA) && req->op != KEEL_BLK_OP_WRITE)
        return KEEL_EINVAL;
    if ((req->flags & KEEL_BLK_REQ_UNMAP) && req->op != KEEL_BLK_OP_WRITE_ZEROES)
        return KEEL_EINVAL;
    return KEEL_OK;
}

/* What the driver at the root offers and allows. */
static int check_root(const struct keel_blkdev *root, const struct keel_blk_req *req)
{
    uint32_t limit;

    if (root->ops == NULL || root->ops->submit == NULL)
        return KEEL_ENODEV;
    if (req->queue >= root->info.queue_count || req->queue >= KEEL_CONFIG_BLK_MAX_QUEUES)
        return KEEL_EINVAL;
    if (op_writes(req->op) && (root->info.flags & KEEL_BLK_F_READ_ONLY))
        return KEEL_EROFS;
    if (req->op == KEEL_BLK_OP_TRIM && !(root->info.flags & KEEL_BLK_F_TRIM))
        return KEEL_ENOTSUP;
    if (req->op == KEEL_BLK_OP_WRITE_ZEROES && !(root->info.flags & KEEL_BLK_F_WRITE_ZEROES))
        return KEEL_ENOTSUP;
    if (!op_has_range(req->op))
        return KEEL_OK;
    limit = root->info.max_transfer;
    if ((req->op == KEEL_BLK_OP_TRIM || req->op == KEEL_BLK_OP_WRITE_ZEROES) &&
        root->info.max_discard != 0u)
        limit = root->info.max_discard;
    if (limit != 0u && req->count > limit)
        return KEEL_EINVAL;
    return KEEL_OK;
}

int keel_blk_check(struct keel_blkdev *dev, const struct keel_blk_req *req,
                   struct keel_blkdev **root, uint64_t *abs_lba)
{
    struct keel_blkdev *d;
    uint64_t lba;
    int rc, depth = 0;

    if (dev == NULL || req == NULL)
        return KEEL_EINVAL;
    rc = check_shape(req);
    if (rc != KEEL_OK)
        return rc;
    lba = op_has_range(req->op) ? req->lba : 0u;
    /* Walk from the device submitted to up to the disk, bounding the range at every level. */
    for (d = dev;; d = d->parent) {
        if (d->gone)
            return KEEL_ENODEV;
        if (op_writes(req->op) && d->access == KEEL_BLK_ACCESS_RO)
            return KEEL_EROFS;
        if (op_has_range(req->op) &&
            (lba > d->info.sector_count || req->count > d->info.sector_count - lba))
            return KEEL_ERANGE;
        if (d->parent == NULL)
            break;
        if (++depth > 4 || d->parent->info.sector_size != d->info.sector_size)
            return KEEL_EINVAL; /* a corrupt chain, not a partition of that disk */
        /* A wrapped sum could land back inside the parent and pass its check. */
        if (d->start_lba > UINT64_MAX - lba)
            return KEEL_ERANGE;
        lba += d->start_lba;
    }
    rc = check_root(d, req);
    if (rc != KEEL_OK)
        return rc;
    *root = d;
    *abs_lba = lba;
    return KEEL_OK;
}

int keel_blk_submit(struct keel_blkdev *dev, struct keel_blk_req *req)
{
    struct keel_blkdev *root;
    struct keel_blk_qstats *st;
    uint32_t max_before;
    uint64_t lba;
    int rc = keel_blk_check(dev, req, &root, &lba);

    if (rc != KEEL_OK)
        return rc;
    req->dev = dev;
    req->dev_lba = lba;
    req->status = KEEL_EAGAIN;
    req->next = NULL;
    req->start_us = keel_time_us(root->hal);
    st = &dev->stats[req->queue];
    /*
     * Counted before the driver sees it: an interrupt may complete it before submit returns, so
     * the high-water mark is taken now too (and undone with the count when the driver refuses).
     */
    max_before = st->in_flight_max;
    if (++st->in_flight > st->in_flight_max)
        st->in_flight_max = st->in_flight;
    rc = root->ops->submit(root, req);
    if (rc != KEEL_OK) {
        st->in_flight--; /* refused requests (queue full) never count as in flight */
        st->in_flight_max = max_before;
        return rc;
    }
    return KEEL_OK;
}

static struct keel_blkdev *root_of(struct keel_blkdev *dev)
{
    int depth = 0;
    while (dev->parent != NULL && depth++ < 4)
        dev = dev->parent;
    return dev;
}

int keel_blk_poll(struct keel_blkdev *dev, unsigned queue, unsigned budget)
{
    struct keel_blkdev *root;

    if (dev == NULL)
        return KEEL_EINVAL;
    root = root_of(dev);
    if (root->ops == NULL || root->ops->poll == NULL || queue >= root->info.queue_count)
        return KEEL_EINVAL;
    return root->ops->poll(root, queue, budget);
}

unsigned keel_blk_lat_bucket(uint64_t us)
{
    unsigned b = 0;
    while (us != 0u && b + 1u < KEEL_CONFIG_BLK_LAT_BUCKETS) {
        us >>= 1;
        b++;
    }
    return b;
}

/*
 * The statistics slot of an in-flight request, or NULL when the request does not name a valid one
 * (never submitted through keel_blk_submit, or its queue/op rewritten while in flight): completion
 * then still reaches the caller, but no array is indexed with values the layer did not check.
 */
static struct keel_blk_qstats *req_stats(const struct keel_blk_req *req)
{
    if (req->dev == NULL || req->queue >= KEEL_CONFIG_BLK_MAX_QUEUES ||
        req->op >= KEEL_BLK_OP_COUNT)
        return NULL;
    return &req->dev->stats[req->queue];
}

void keel_blk_complete(struct keel_blk_req *req, int status)
{
    struct keel_blkdev *dev = req->dev;
    struct keel_blk_qstats *st = req_stats(req);
    uint64_t bytes, now;

    if (st == NULL) {
        req->status = status;
        req->done(req);
        return;
    }
    bytes = (uint64_t)req->count * dev->info.sector_size;
    now = keel_time_us(root_of(dev)->hal);
    if (st->in_flight > 0u)
        st->in_flight--;
    st->requests[req->op]++;
    if (status != KEEL_OK) {
        st->errors++;
        if (status == KEEL_ETIMEDOUT)
            st->timeouts++;
    } else if (req->op == KEEL_BLK_OP_READ) {
        st->bytes_read += bytes;
    } else if (req->op == KEEL_BLK_OP_WRITE) {
        st->bytes_written += bytes;
    }
    st->latency_hist[keel_blk_lat_bucket(now >= req->start_us ? now - req->start_us : 0u)]++;
    req->status = status;
    req->done(req);
}

void keel_blk_note_retry(struct keel_blk_req *req)
{
    struct keel_blk_qstats *st = req_stats(req);

    if (st != NULL)
        st->retries++;
}
