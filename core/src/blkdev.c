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

/*
 * What each operation is, looked up once per request: the two request flags it accepts (bits
 * equal to KEEL_BLK_REQ_FUA / KEEL_BLK_REQ_UNMAP), whether it addresses a range, modifies the
 * medium, needs a buffer, is bounded by max_discard, and which capability it needs.
 */
#define OPP_FLAGS   (KEEL_BLK_REQ_FUA | KEEL_BLK_REQ_UNMAP)
#define OPP_RANGE   0x04u
#define OPP_WRITES  0x08u
#define OPP_BUF     0x10u
#define OPP_DISCARD 0x20u

static const uint8_t op_props[KEEL_BLK_OP_COUNT] = {
    [KEEL_BLK_OP_READ] = OPP_RANGE | OPP_BUF,
    [KEEL_BLK_OP_WRITE] = OPP_RANGE | OPP_WRITES | OPP_BUF | KEEL_BLK_REQ_FUA,
    [KEEL_BLK_OP_FLUSH] = 0,
    [KEEL_BLK_OP_TRIM] = OPP_RANGE | OPP_WRITES | OPP_DISCARD,
    [KEEL_BLK_OP_WRITE_ZEROES] = OPP_RANGE | OPP_WRITES | OPP_DISCARD | KEEL_BLK_REQ_UNMAP,
};

static const uint32_t op_needs[KEEL_BLK_OP_COUNT] = {
    [KEEL_BLK_OP_TRIM] = KEEL_BLK_F_TRIM,
    [KEEL_BLK_OP_WRITE_ZEROES] = KEEL_BLK_F_WRITE_ZEROES,
};

/* What the driver at the root offers and allows (`p`: the operation's properties). */
static inline __attribute__((always_inline)) int
check_root(const struct keel_blkdev *root, const struct keel_blk_req *req, unsigned p)
{
    uint32_t limit;

    if (root->ops == NULL || root->ops->submit == NULL)
        return KEEL_ENODEV;
    if (req->queue >= root->info.queue_count || req->queue >= KEEL_CONFIG_BLK_MAX_QUEUES)
        return KEEL_EINVAL;
    if ((p & OPP_WRITES) && (root->info.flags & KEEL_BLK_F_READ_ONLY))
        return KEEL_EROFS;
    if ((root->info.flags & op_needs[req->op]) != op_needs[req->op])
        return KEEL_ENOTSUP;
    if (!(p & OPP_RANGE))
        return KEEL_OK;
    limit = root->info.max_transfer;
    if ((p & OPP_DISCARD) && root->info.max_discard != 0u)
        limit = root->info.max_discard;
    if (limit != 0u && req->count > limit)
        return KEEL_EINVAL;
    return KEEL_OK;
}

static struct keel_blkdev *blk_fail(int *rc_out, int rc)
{
    *rc_out = rc;
    return NULL;
}

/* keel_blk_check, inlined into keel_blk_submit (the hot path): the disk, or NULL with *rc set. */
static inline __attribute__((always_inline)) struct keel_blkdev *
blk_check(struct keel_blkdev *dev, const struct keel_blk_req *req, uint64_t *abs_lba, int *rc_out)
{
    struct keel_blkdev *d;
    uint64_t lba;
    unsigned p;
    int rc, depth = 0;

    if (dev == NULL || req == NULL)
        return blk_fail(rc_out, KEEL_EINVAL);
    /* The shape of the request on its own: operation, buffer, count, flags. */
    if (req->op >= KEEL_BLK_OP_COUNT || req->done == NULL)
        return blk_fail(rc_out, KEEL_EINVAL);
    p = op_props[req->op];
    if (((p & OPP_BUF) && req->buf == NULL) || ((p & OPP_RANGE) && req->count == 0u) ||
        (req->flags & ~p & OPP_FLAGS) != 0u)
        return blk_fail(rc_out, KEEL_EINVAL);
    lba = (p & OPP_RANGE) ? req->lba : 0u;
    /* Walk from the device submitted to up to the disk, bounding the range at every level. */
    for (d = dev;; d = d->parent) {
        if (d->gone)
            return blk_fail(rc_out, KEEL_ENODEV);
        if ((p & OPP_WRITES) && d->access == KEEL_BLK_ACCESS_RO)
            return blk_fail(rc_out, KEEL_EROFS);
        if ((p & OPP_RANGE) &&
            (lba > d->info.sector_count || req->count > d->info.sector_count - lba))
            return blk_fail(rc_out, KEEL_ERANGE);
        if (d->parent == NULL)
            break;
        if (++depth > 4 || d->parent->info.sector_size != d->info.sector_size)
            return blk_fail(rc_out,
                            KEEL_EINVAL); /* a corrupt chain, not a partition of that disk */
        /* A wrapped sum could land back inside the parent and pass its check. */
        if (d->start_lba > UINT64_MAX - lba)
            return blk_fail(rc_out, KEEL_ERANGE);
        lba += d->start_lba;
    }
    rc = check_root(d, req, p);
    if (rc != KEEL_OK)
        return blk_fail(rc_out, rc);
    *abs_lba = lba;
    return d;
}

int keel_blk_check(struct keel_blkdev *dev, const struct keel_blk_req *req,
                   struct keel_blkdev **root, uint64_t *abs_lba)
{
    uint64_t lba;
    int rc;
    struct keel_blkdev *d = blk_check(dev, req, &lba, &rc);

    if (d == NULL)
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
    int rc;

    root = blk_check(dev, req, &lba, &rc);
    if (root == NULL)
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

/* Where count-leading-zeros is one instruction (never a libgcc call: drivers link no runtime). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) ||      \
                          defined(__ARM_FEATURE_CLZ) || defined(__riscv_zbb))
#define BLK_HAVE_CLZ 1
#else
#define BLK_HAVE_CLZ 0
#endif

/* Bits needed to write `v` (0 for 0). */
static unsigned bit_length32(uint32_t v)
{
#if BLK_HAVE_CLZ
    return v != 0u ? 32u - (unsigned)__builtin_clz(v) : 0u;
#else
    unsigned b = 0;
    if (v >> 16) {
        b += 16u;
        v >>= 16;
    }
    if (v >> 8) {
        b += 8u;
        v >>= 8;
    }
    if (v >> 4) {
        b += 4u;
        v >>= 4;
    }
    if (v >> 2) {
        b += 2u;
        v >>= 2;
    }
    if (v >> 1) {
        b += 1u;
        v >>= 1;
    }
    return b + v;
#endif
}

unsigned keel_blk_lat_bucket(uint64_t us)
{
    uint32_t hi = (uint32_t)(us >> 32);
    unsigned b = hi != 0u ? 32u + bit_length32(hi) : bit_length32((uint32_t)us);

    return b < KEEL_CONFIG_BLK_LAT_BUCKETS - 1u ? b : KEEL_CONFIG_BLK_LAT_BUCKETS - 1u;
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

/* The disk serving `dev` when `queue` names one of its queues, else NULL. */
static struct keel_blkdev *queue_root(struct keel_blkdev *dev, unsigned queue)
{
    struct keel_blkdev *root;

    if (dev == NULL)
        return NULL;
    root = root_of(dev);
    if (root->ops == NULL || queue >= root->info.queue_count || queue >= KEEL_CONFIG_BLK_MAX_QUEUES)
        return NULL;
    return root;
}

/* Opens (plug) or closes a submission batch on the queue through the driver's batch hooks. */
static int batch_hook(struct keel_blkdev *dev, unsigned queue, bool plug)
{
    struct keel_blkdev *root = queue_root(dev, queue);
    void (*hook)(struct keel_blkdev *, unsigned);

    if (root == NULL)
        return KEEL_EINVAL;
    if (root->batch == NULL)
        return KEEL_OK;
    hook = plug ? root->batch->plug : root->batch->unplug;
    if (hook != NULL)
        hook(root, queue);
    return KEEL_OK;
}

int keel_blk_plug(struct keel_blkdev *dev, unsigned queue)
{
    return batch_hook(dev, queue, true);
}

int keel_blk_unplug(struct keel_blkdev *dev, unsigned queue)
{
    return batch_hook(dev, queue, false);
}

void keel_blk_note_retry(struct keel_blk_req *req)
{
    struct keel_blk_qstats *st = req_stats(req);

    if (st != NULL)
        st->retries++;
}
