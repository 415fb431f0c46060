/* SPDX-License-Identifier: MIT */
/*
 * blkverify - write a seed-dependent pattern over a range of a block device and read it back, with
 * a mix of request sizes, queue depths, queues and buffer alignments, then print the CRC-32 of the
 * range so the host can compare it with the image file after QEMU exits.
 *
 * Arguments (plus the probe's irq=, virtio=, packed=, qsize=, ioq=, qdepth=, parts=; see probe.h):
 *   dev=<name>      block device, as blkinfo names it ("nvme0n1", "vda", "sd0", "vda1", ...)
 *   lba=<first>     first sector, relative to the device (a partition's own LBA 0 is its start)
 *   count=<n>       sectors
 *   seed=<n>        pattern seed (the same seed writes the same bytes)
 *   mode=rw|read    rw (default): write, flush, read back and verify, then the CRC pass;
 *                   read: only the CRC pass (the range is not written)
 *   qd=<n>          most requests in flight (1..16, default 8)
 *   maxreq=<n>      most sectors per request (default: what 128 KiB holds)
 *   rescue_ms=<n>   idle time before an interrupt-mode wait polls once (default 200; the QEMU
 *                   tests scale it on slow hosts such as a software-nested KVM)
 *
 * Output:
 *   blkverify dev=<n> lba=<first> count=<n> mode=<m> sector_size=<s> queues=<q> irq=<mode>
 *   pass kind=<write|read> requests=<n> bytes=<n> max_inflight=<n> sizes=<min>-<max>
 *        misaligned=<n> queues=<q>
 *   irqstats dev=<n> irq=<mode> interrupts=<n> spurious=<n> rescued=<n>
 *   crc32 dev=<n> lba=<first> count=<n> value=0x<8 hex digits>
 *
 * In an interrupt mode completions are waited for without polling, so they must arrive through
 * interrupts; a wait that sees no progress for rescue_ms polls once and counts a rescue, and any
 * rescue fails the run (a lost interrupt). The CRC is zlib's crc32 of the bytes of the range.
 */
#include <keel/crc32.h>
#include <keel/error.h>
#include <keel/str.h>

#include "example.h"
#include "probe.h"

#define MAX_QD     16u
#define SLOT_BYTES (128u * 1024u)
#define SLOT_PAD   4096u
#define RESCUE_MS  200u
#define STALL_US   40000000u /* no completion at all for this long: give up */
#define CRC_CHUNK  SLOT_BYTES

struct slot {
    struct keel_blk_req req;
    uint8_t *buf;
    volatile bool busy;
    volatile bool done;
};

struct engine {
    struct keel_blkdev *dev;
    const struct keel_hal *hal;
    bool write;
    bool irq;
    uint32_t ss;      /* sector size */
    uint32_t max_req; /* sectors */
    unsigned qd;      /* most in flight */
    unsigned nqueues; /* queues used round-robin */
    uint64_t seed;
    uint64_t rng;
    /* results */
    unsigned requests, inflight, max_inflight, misaligned, min_size, max_size, errors, bad_data;
    unsigned rescued;
    uint64_t rescue_us; /* idle time before an interrupt-mode wait polls once */
    uint64_t bytes;
    unsigned completions;
};

static struct ex_devices devs;
static uint8_t slot_mem[MAX_QD][SLOT_BYTES + SLOT_PAD] __attribute__((aligned(4096)));
static struct slot slots[MAX_QD];

/* ---- Pattern and randomness ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t rnd(struct engine *e, uint32_t n) /* 0 .. n-1, n >= 1; no division */
{
    e->rng = mix64(e->rng);
    return (uint32_t)(((e->rng >> 32) * (uint64_t)n) >> 32);
}

/* The pattern byte at absolute byte offset `off` of the device for `seed`. */
static void pattern_fill(uint8_t *p, uint64_t off, size_t len, uint64_t seed)
{
    size_t i = 0;

    while (i < len) {
        uint64_t w = mix64(seed ^ mix64((off + i) >> 3));
        unsigned b = (unsigned)((off + i) & 7u);

        for (; b < 8u && i < len; b++, i++)
            p[i] = (uint8_t)(w >> (8u * b));
    }
}

static bool pattern_check(const uint8_t *p, uint64_t off, size_t len, uint64_t seed,
                          uint64_t *bad_off)
{
    uint8_t want[64];
    size_t i, n;

    for (i = 0; i < len; i += n) {
        n = len - i < sizeof(want) ? len - i : sizeof(want);
        pattern_fill(want, off + i, n, seed);
        if (keel_memcmp(want, p + i, n) != 0) {
            size_t j = 0;
            while (j < n && want[j] == p[i + j])
                j++;
            *bad_off = off + i + j;
            return false;
        }
    }
    return true;
}

/* ---- The asynchronous engine --------------------------------------------------------------- */

static struct engine *active; /* the pass in progress (completions are counted there) */

/* Completion callback: runs from a poll or from the queue's interrupt handler. */
static void on_done(struct keel_blk_req *req)
{
    struct slot *s = req->user;

    s->done = true;
    if (active != NULL)
        active->completions++;
}

static void poll_all(struct engine *e)
{
    unsigned q;

    for (q = 0; q < e->nqueues; q++)
        (void)keel_blk_poll(e->dev, q, 0);
}

static bool any_done(void)
{
    unsigned i;

    for (i = 0; i < MAX_QD; i++)
        if (slots[i].busy && slots[i].done)
            return true;
    return false;
}

/* Wait until at least one request in flight has completed (bounded). */
static bool wait_one(struct engine *e)
{
    uint64_t start = keel_time_us(e->hal), last = start;

    while (!any_done()) {
        uint64_t now = keel_time_us(e->hal);

        if (!e->irq) {
            poll_all(e);
            continue;
        }
        if (now - last >= e->rescue_us) {
            /* Nothing arrived by interrupt for a long time: a lost interrupt, or a slow host. */
            poll_all(e);
            if (any_done()) {
                e->rescued++;
                break;
            }
            last = now;
        }
        if (now - start >= STALL_US) {
            ex_fail("%s: no completion for %u s", e->dev->info.name, STALL_US / 1000000u);
            return false;
        }
        keel_delay_us(e->hal, 20);
    }
    return true;
}

static void finish_slot(struct engine *e, struct slot *s)
{
    struct keel_blk_req *r = &s->req;
    uint64_t bad;

    s->busy = false;
    s->done = false;
    e->inflight--;
    if (r->status != KEEL_OK) {
        if (e->errors++ == 0u)
            ex_fail("%s: %s of %u sectors at lba %llu failed: %s", e->dev->info.name,
                    e->write ? "write" : "read", r->count, (unsigned long long)r->lba,
                    keel_strerror(r->status));
        return;
    }
    if (!e->write &&
        !pattern_check(r->buf, r->lba * e->ss, (size_t)r->count * e->ss, e->seed, &bad)) {
        if (e->bad_data++ == 0u)
            ex_fail("%s: read-back mismatch at byte %llu (lba %llu), request of %u sectors at "
                    "lba %llu",
                    e->dev->info.name, (unsigned long long)bad, (unsigned long long)(bad / e->ss),
                    r->count, (unsigned long long)r->lba);
    }
}

static void reap(struct engine *e)
{
    unsigned i;

    for (i = 0; i < MAX_QD; i++)
        if (slots[i].busy && slots[i].done)
            finish_slot(e, &slots[i]);
}

/* A buffer offset: mostly aligned, often only sector- or dword-aligned, sometimes odd. */
static uint32_t pick_align(struct engine *e)
{
    static const uint16_t offs[] = {0, 0, 512, 64, 8, 4, 2, 1, 3, 2048, 4092};

    return offs[rnd(e, (uint32_t)(sizeof(offs) / sizeof(offs[0])))];
}

static struct slot *free_slot(void)
{
    unsigned i;

    for (i = 0; i < MAX_QD; i++)
        if (!slots[i].busy)
            return &slots[i];
    return NULL;
}

/* Submit one request for [lba, lba + count); false when refused for lack of room (retry later). */
static bool submit(struct engine *e, struct slot *s, uint64_t lba, uint32_t count, int *err)
{
    uint32_t align = pick_align(e);
    struct keel_blk_req *r = &s->req;
    int rc;

    *r = (struct keel_blk_req){0};
    r->op = e->write ? KEEL_BLK_OP_WRITE : KEEL_BLK_OP_READ;
    r->queue = (uint16_t)rnd(e, e->nqueues);
    r->count = count;
    r->lba = lba;
    r->buf = s->buf + align;
    r->done = on_done;
    r->user = s;
    if (e->write)
        pattern_fill(r->buf, lba * e->ss, (size_t)count * e->ss, e->seed);
    else
        keel_memset(r->buf, 0xa5, (size_t)count * e->ss);
    s->done = false;
    s->busy = true;
    rc = keel_blk_submit(e->dev, r);
    if (rc != KEEL_OK) {
        s->busy = false;
        *err = rc;
        return false;
    }
    e->requests++;
    e->inflight++;
    if (e->inflight > e->max_inflight)
        e->max_inflight = e->inflight;
    if ((align & 3u) != 0u)
        e->misaligned++; /* not even dword aligned */
    if (count < e->min_size || e->min_size == 0u)
        e->min_size = count;
    if (count > e->max_size)
        e->max_size = count;
    e->bytes += (uint64_t)count * e->ss;
    return true;
}

/* One pass over [lba, lba + count): writes (pattern) or reads (verified). */
static bool run_pass(struct engine *e, uint64_t lba, uint64_t count)
{
    uint64_t next = lba, end = lba + count;
    unsigned depth = 1;

    while (next < end || e->inflight > 0u) {
        if (ex_failures() != 0u && e->inflight == 0u)
            return false;
        while (next < end && e->inflight < depth && ex_failures() == 0u) {
            struct slot *s = free_slot();
            uint32_t n = 1u + rnd(e, e->max_req);
            int err = 0;

            if (s == NULL)
                break;
            /* Now and then a full-size request, so driver-side splitting is exercised. */
            if (rnd(e, 4) == 0u)
                n = e->max_req;
            if ((uint64_t)n > end - next)
                n = (uint32_t)(end - next);
            if (!submit(e, s, next, n, &err)) {
                if (err == KEEL_ENOSPC && e->inflight > 0u)
                    break; /* the queue is full: reap, then go on */
                ex_fail("%s: submit of %u sectors at lba %llu refused: %s", e->dev->info.name, n,
                        (unsigned long long)next, keel_strerror(err));
                break;
            }
            next += n;
        }
        if (e->inflight == 0u)
            continue;
        if (!wait_one(e))
            return false;
        reap(e);
        depth = 1u + rnd(e, e->qd); /* vary the depth between 1 and qd */
    }
    return ex_failures() == 0u;
}

static void print_pass(const struct engine *e)
{
    keel_port_printf("pass kind=%s requests=%u bytes=%llu max_inflight=%u sizes=%u-%u "
                     "misaligned=%u queues=%u\n",
                     e->write ? "write" : "read", e->requests, (unsigned long long)e->bytes,
                     e->max_inflight, e->min_size, e->max_size, e->misaligned, e->nqueues);
}

/* ---- The CRC pass -------------------------------------------------------------------------- */

static bool crc_pass(struct keel_blkdev *dev, uint64_t lba, uint64_t count, uint32_t *crc)
{
    uint32_t ss = dev->info.sector_size, per = CRC_CHUNK / ss;
    uint8_t *buf = slot_mem[0];

    *crc = 0;
    while (count > 0u) {
        uint32_t n = count < per ? (uint32_t)count : per;
        int rc = keel_blk_read(dev, 0, lba, n, buf, 0);

        if (!EX_CHECK(rc == KEEL_OK, "%s: read of %u sectors at lba %llu failed: %s",
                      dev->info.name, n, (unsigned long long)lba, keel_strerror(rc)))
            return false;
        *crc = keel_crc32(*crc, buf, (size_t)n * ss);
        lba += n;
        count -= n;
    }
    return true;
}

/* Per-queue driver counters, for reports and for diagnosing interrupt delivery. */
static void print_queue_stats(const struct keel_blkdev *dev)
{
    struct ex_nvme *n = ex_dev_nvme(&devs, dev);
    struct ex_vblk *v = ex_dev_vblk(&devs, dev);
    unsigned q;

    for (q = 0; n != NULL && q < keel_nvme_io_queue_count(&n->ctrl); q++) {
        const struct keel_nvme_qstats *s = keel_nvme_queue_stats(&n->ctrl, q);
        if (s != NULL)
            keel_port_printf("qstats dev=%s queue=%u submitted=%llu completed=%llu "
                             "sq_doorbells=%llu cq_doorbells=%llu interrupts=%u bounces=%u\n",
                             dev->info.name, q, (unsigned long long)s->submitted,
                             (unsigned long long)s->completed, (unsigned long long)s->sq_doorbells,
                             (unsigned long long)s->cq_doorbells, s->interrupts, s->bounces);
    }
    for (q = 0; v != NULL && q < v->vb.nq; q++) {
        const struct keel_vq_stats *s = keel_vblk_vq_stats(&v->vb, q);
        if (s != NULL)
            keel_port_printf("qstats dev=%s queue=%u buffers=%llu completions=%llu kicks=%llu "
                             "notifications=%llu interrupts=%llu indirect=%llu\n",
                             dev->info.name, q, (unsigned long long)s->buffers,
                             (unsigned long long)s->completions, (unsigned long long)s->kicks,
                             (unsigned long long)s->notifications,
                             (unsigned long long)s->interrupts, (unsigned long long)s->indirect);
    }
#if KEEL_EX_HAVE_VSCSI
    {
        struct ex_vscsi *h = ex_dev_vscsi(&devs, dev);

        for (q = 0; h != NULL && q < h->vs.nrq; q++) {
            const struct keel_vq_stats *s = keel_vscsi_vq_stats(&h->vs, q);
            if (s != NULL)
                keel_port_printf("qstats dev=%s queue=%u buffers=%llu completions=%llu "
                                 "kicks=%llu notifications=%llu interrupts=%llu indirect=%llu\n",
                                 dev->info.name, q, (unsigned long long)s->buffers,
                                 (unsigned long long)s->completions, (unsigned long long)s->kicks,
                                 (unsigned long long)s->notifications,
                                 (unsigned long long)s->interrupts,
                                 (unsigned long long)s->indirect);
        }
    }
#endif
}

/* ---- main ---------------------------------------------------------------------------------- */

struct args {
    char dev[KEEL_CONFIG_BLK_NAME_MAX];
    char mode[8];
    uint64_t lba, count, seed, qd, maxreq, rescue_ms;
};

static bool parse_args(const char *cmdline, struct args *a)
{
    *a = (struct args){.qd = 8, .rescue_ms = RESCUE_MS};
    (void)keel_strlcpy(a->mode, "rw", sizeof(a->mode));
    if (!EX_CHECK(ex_arg(cmdline, "dev", a->dev, sizeof(a->dev)) && a->dev[0] != '\0',
                  "dev=<name> is required"))
        return false;
    if (!EX_CHECK(ex_arg_u64(cmdline, "lba", &a->lba) && ex_arg_u64(cmdline, "count", &a->count) &&
                      ex_arg_u64(cmdline, "seed", &a->seed),
                  "lba=, count= and seed= are required numbers"))
        return false;
    (void)ex_arg(cmdline, "mode", a->mode, sizeof(a->mode));
    if (!EX_CHECK(keel_streq(a->mode, "rw") || keel_streq(a->mode, "read"),
                  "mode=%s: expected rw or read", a->mode))
        return false;
    if (ex_arg(cmdline, "qd", NULL, 0) &&
        !EX_CHECK(ex_arg_u64(cmdline, "qd", &a->qd) && a->qd >= 1u && a->qd <= MAX_QD,
                  "qd= must be 1..%u", MAX_QD))
        return false;
    if (ex_arg(cmdline, "maxreq", NULL, 0) &&
        !EX_CHECK(ex_arg_u64(cmdline, "maxreq", &a->maxreq) && a->maxreq >= 1u,
                  "maxreq= must be a positive number"))
        return false;
    if (ex_arg(cmdline, "rescue_ms", NULL, 0) &&
        !EX_CHECK(ex_arg_u64(cmdline, "rescue_ms", &a->rescue_ms) && a->rescue_ms >= 1u &&
                      a->rescue_ms < STALL_US / 1000u,
                  "rescue_ms= must be 1..%u", STALL_US / 1000u - 1u))
        return false;
    return EX_CHECK(a->count >= 1u, "count= must be at least 1");
}

static void setup_engine(struct engine *e, struct keel_blkdev *dev, const struct args *a,
                         const struct ex_probe_opts *o, bool write)
{
    uint32_t per = SLOT_BYTES / dev->info.sector_size;
    unsigned i;

    *e = (struct engine){.dev = dev,
                         .hal = dev->hal,
                         .write = write,
                         .irq = o->irq != EX_IRQ_POLL,
                         .ss = dev->info.sector_size,
                         .qd = (unsigned)a->qd,
                         .rescue_us = a->rescue_ms * 1000u,
                         .seed = a->seed};
    e->rng = mix64(a->seed ^ (write ? 0x57u : 0x52u));
    e->max_req = a->maxreq != 0u && a->maxreq < per ? (uint32_t)a->maxreq : per;
    e->nqueues = dev->info.queue_count < 1u ? 1u : dev->info.queue_count;
    if (e->nqueues > 4u)
        e->nqueues = 4u;
    for (i = 0; i < MAX_QD; i++)
        slots[i] = (struct slot){.buf = slot_mem[i]};
    active = e;
}

static void rw_passes(struct keel_blkdev *dev, const struct args *a, const struct ex_probe_opts *o,
                      unsigned *rescued)
{
    static struct engine e;
    int rc;

    setup_engine(&e, dev, a, o, true);
    if (run_pass(&e, a->lba, a->count))
        print_pass(&e);
    *rescued += e.rescued;
    if (ex_failures() != 0u)
        return;
    if ((dev->info.flags & KEEL_BLK_F_FLUSH) != 0u) {
        rc = keel_blk_flush(dev, 0, 0);
        if (!EX_CHECK(rc == KEEL_OK, "%s: flush failed: %s", dev->info.name, keel_strerror(rc)))
            return;
    }
    setup_engine(&e, dev, a, o, false);
    if (run_pass(&e, a->lba, a->count))
        print_pass(&e);
    *rescued += e.rescued;
}

int main(void)
{
    static struct keel_port port;
    struct ex_probe_opts opts;
    struct args a;
    struct keel_blkdev *dev;
    unsigned rescued = 0;
    uint32_t crc;
    int rc = keel_port_init(&port);

    if (!EX_CHECK(rc == KEEL_OK, "keel_port_init: %s", keel_strerror(rc)))
        return ex_finish();
    ex_print_platform(&port);
    if (!EX_CHECK(ex_probe_opts_parse(port.cmdline, &opts), "bad arguments") ||
        !parse_args(port.cmdline, &a))
        return ex_finish();
    (void)ex_probe(&devs, &port, &opts);
    ex_print_unserved(&devs);
    dev = keel_registry_find(&devs.reg, a.dev);
    if (!EX_CHECK(dev != NULL, "no block device named %s", a.dev))
        return ex_finish();
    if (!EX_CHECK(a.lba < dev->info.sector_count && a.count <= dev->info.sector_count - a.lba,
                  "%s: range %llu+%llu beyond its %llu sectors", a.dev, (unsigned long long)a.lba,
                  (unsigned long long)a.count, (unsigned long long)dev->info.sector_count))
        return ex_finish();
    keel_port_printf("blkverify dev=%s lba=%llu count=%llu mode=%s sector_size=%u queues=%u "
                     "irq=%s seed=%llu\n",
                     a.dev, (unsigned long long)a.lba, (unsigned long long)a.count, a.mode,
                     dev->info.sector_size, dev->info.queue_count, ex_irq_name(opts.irq),
                     (unsigned long long)a.seed);
    if (keel_streq(a.mode, "rw"))
        rw_passes(dev, &a, &opts, &rescued);
    if (ex_failures() == 0u && crc_pass(dev, a.lba, a.count, &crc))
        keel_port_printf("crc32 dev=%s lba=%llu count=%llu value=0x%08x\n", a.dev,
                         (unsigned long long)a.lba, (unsigned long long)a.count, crc);
    keel_port_printf("irqstats dev=%s irq=%s interrupts=%llu spurious=%llu rescued=%u\n", a.dev,
                     ex_irq_name(opts.irq), (unsigned long long)ex_dev_interrupts(&devs, dev),
                     (unsigned long long)ex_dev_spurious(&devs, dev), rescued);
    print_queue_stats(dev);
    if (opts.irq != EX_IRQ_POLL && keel_streq(a.mode, "rw")) {
        EX_CHECK(rescued == 0u, "%s: %u completions only found by polling (lost interrupts)", a.dev,
                 rescued);
        EX_CHECK(ex_dev_interrupts(&devs, dev) != 0u, "%s: irq=%s but no interrupt arrived", a.dev,
                 ex_irq_name(opts.irq));
    }
    return ex_finish();
}
