/* SPDX-License-Identifier: MIT */
/*
 * blkbench - a block-device benchmark over Keel's asynchronous interface (keel_blk_submit /
 * keel_blk_poll): keeps `qd` requests in flight over one or several queues, polled or interrupt
 * driven, for a number of I/Os or seconds, and prints IOPS, MB/s and latency percentiles measured
 * with the HAL clock (time_us).
 *
 * Arguments (plus the probe's irq=, virtio=, packed=, qsize=, ioq=, qdepth=, parts=; see probe.h):
 *   dev=<name>        block device, as blkinfo names it ("nvme0n1", "vda", "sd0", ...)
 *   mode=<m>          randread (default), randwrite, seqread, seqwrite
 *   bs=<bytes>        request size, a multiple of the sector size (default 4096)
 *   qd=<n>            requests kept in flight, 1..128 (default 1); qd * bs <= 8 MiB
 *   ios=<n>           measured I/Os; secs=<s> measured seconds (default secs=5; with both, the
 *                     first reached ends the run)
 *   warmup=<n>        I/Os completed before the measurement starts (default 2 * qd, at least 32)
 *   queues=<n>        queues used, 1..4 (default 1): request slot i stays on queue i mod n
 *   poll=1|0          1 (default): reap completions with keel_blk_poll, interrupts off;
 *                     0: interrupt driven (irq=msix unless irq= says otherwise), never polled
 *   batch=1|0         NVMe: submissions of one reap round share one SQ doorbell (default 1)
 *   lba=<first>       first sector of the range used (default 0)
 *   span=<sectors>    sectors of the range (default: to the end of the device)
 *   seed=<n>          seed of the offset generator (default 1)
 *   floor=1           the ceiling probe instead of Keel (nvme_floor.c): a hand-written minimal
 *                     NVMe loop on the first controller's namespace 1 (randread/randwrite,
 *                     bs <= 4096, qd <= 32, polled); reports driver=nvme-floor. dev= not needed
 *
 * Output (one line each, key=value, for scripts):
 *   blkbench dev=<n> driver=<d> mode=<m> bs=<b> qd=<n> queues=<n> irq=<mode> batch=<0|1> ...
 *   bench dev=<n> driver=<d> mode=<m> bs=<b> qd=<n> queues=<n> irq=<mode> ios=<n>
 *         elapsed_us=<n> iops=<n> mbps=<n.nn> busy_pct=<n> errors=<n>
 *   benchlat dev=<n> lat_p50_us=<n> lat_p99_us=<n> lat_min_us=<n> lat_avg_us=<n> lat_max_us=<n>
 *         interrupts=<n> rescued=<n>
 *   benchq queue=<q> ios=<n>      measured completions per queue
 *   RESULT: PASS | RESULT: FAIL <reason>
 *
 * Latency is from just before keel_blk_submit to the done callback (submission batches take the
 * batch's start time), in microseconds, recorded in a log-linear histogram (exact below 32 us,
 * then 16 buckets per power of two: percentiles are within about 6%). Offsets of the random modes
 * come from xorshift64 scaled to the range by a multiply (no division per I/O), aligned to bs.
 *
 * busy_pct is the share of the measured time the CPU spent in rounds that found completions (the
 * poll that found them, reaping, and submitting the next requests); the rest was spent waiting for
 * the device (spinning on empty polls or, in interrupt mode, on the slots' done flags; interrupt
 * handlers are not counted there). A low busy_pct means the device, not the driver, sets the pace.
 *
 * In interrupt mode, when nothing has completed for 1 s, one poll looks for completions; one found
 * that way is a "rescue" (a lost interrupt) and fails the run. 1 s, not less: on a loaded shared
 * host QEMU's threads stall for a few hundred milliseconds now and then (a run was seen with a
 * 250 ms completion and a 200 ms rescue time), and a late interrupt is not a lost one.
 */
#include <keel/error.h>
#include <keel/str.h>

#include "example.h"
#include "floor.h"
#include "lat_hist.h"
#include "probe.h"
#include "xorshift.h"

#define MAX_QD      128u
#define ARENA_BYTES (8u * 1024u * 1024u)
#define MAX_QUEUES  4u
#define RESCUE_US   1000000u
#define STALL_US    10000000u /* no completion at all for this long: give up */

enum bench_mode { MODE_RANDREAD, MODE_RANDWRITE, MODE_SEQREAD, MODE_SEQWRITE };

struct slot {
    struct keel_blk_req req;
    uint8_t *buf;
    uint64_t t_submit;
    volatile uint64_t t_done;
    volatile bool done; /* set by the completion callback (poll or interrupt context) */
    uint16_t queue;     /* fixed at set-up: slot i on queue i mod queues */
    bool busy;
    bool pending; /* to be (re)submitted */
};

struct args {
    char dev[KEEL_CONFIG_BLK_NAME_MAX];
    enum bench_mode mode;
    uint64_t bs, qd, ios, secs, warmup, queues, lba, span, seed;
    bool poll, batch, floor;
};

struct bench {
    struct keel_blkdev *dev;
    const struct keel_hal *hal;
    struct keel_nvme_ctrl *nvme; /* batching, when the device is an NVMe namespace */
    struct args a;
    uint32_t ss, per_io; /* sector size, sectors per I/O */
    uint64_t nblocks;    /* bs-sized blocks in the range */
    uint64_t seq_next;   /* next block of the sequential modes */
    uint64_t rng;        /* xorshift64 state */
    unsigned inflight;   /* submitted, callback not yet reaped */
    bool measuring, stopping;
    uint64_t warm_left, t0, t_end, last_progress;
    /* results */
    uint64_t ios, bytes, errors, rescued;
    uint64_t busy_us; /* measured rounds that found completions: poll + reap + resubmit */
    uint64_t qios[MAX_QUEUES];
    struct lat_hist lat;
};

static struct ex_devices devs;
static uint8_t arena[ARENA_BYTES] __attribute__((aligned(4096)));
static struct slot slots[MAX_QD];
static struct bench b;

/* ---- Offsets ------------------------------------------------------------------------------- */

/* The next I/O's first sector: a uniformly random bs-aligned block, or the next one in order. */
static uint64_t next_lba(struct bench *e)
{
    uint64_t blk;

    if (e->a.mode == MODE_RANDREAD || e->a.mode == MODE_RANDWRITE) {
        /* nblocks < 2^32 (clamped at setup): (32 random bits * nblocks) >> 32 is in range. */
        blk = ((xorshift64(&e->rng) >> 32) * e->nblocks) >> 32;
    } else {
        blk = e->seq_next;
        if (++e->seq_next == e->nblocks)
            e->seq_next = 0;
    }
    return e->a.lba + blk * e->per_io;
}

/* ---- The engine ---------------------------------------------------------------------------- */

/* Completion callback: runs from keel_blk_poll or from the queue's interrupt handler. */
static void on_done(struct keel_blk_req *req)
{
    struct slot *s = req->user;

    s->t_done = keel_time_us(b.hal);
    s->done = true;
}

static bool is_write(const struct bench *e)
{
    return e->a.mode == MODE_RANDWRITE || e->a.mode == MODE_SEQWRITE;
}

static void prepare(struct bench *e, struct slot *s)
{
    struct keel_blk_req *r = &s->req;

    *r = (struct keel_blk_req){0};
    r->op = is_write(e) ? KEEL_BLK_OP_WRITE : KEEL_BLK_OP_READ;
    r->queue = s->queue;
    r->count = e->per_io;
    r->lba = next_lba(e);
    r->buf = s->buf;
    r->done = on_done;
    r->user = s;
    s->pending = true;
}

/* Submit every pending slot of queue q (one NVMe doorbell for all when batching). */
static void submit_queue(struct bench *e, unsigned q, uint64_t now)
{
    unsigned i;
    bool batched = e->nvme != NULL && e->a.batch;

    if (batched)
        keel_nvme_batch_begin(e->nvme, q);
    for (i = q; i < (unsigned)e->a.qd; i += (unsigned)e->a.queues) {
        struct slot *s = &slots[i];
        int rc;

        if (!s->pending)
            continue;
        s->done = false;
        s->busy = true;
        s->t_submit = now;
        e->inflight++;
        rc = keel_blk_submit(e->dev, &s->req);
        if (rc == KEEL_OK) {
            s->pending = false;
            continue;
        }
        s->busy = false;
        e->inflight--;
        if (rc == KEEL_ENOSPC && e->inflight > 0u)
            continue; /* queue full: stays pending, retried after the next reap */
        if (e->errors++ == 0u)
            ex_fail("%s: submit of %u sectors at lba %llu refused: %s", e->dev->info.name,
                    s->req.count, (unsigned long long)s->req.lba, keel_strerror(rc));
        s->pending = false;
        e->stopping = true;
    }
    if (batched)
        keel_nvme_batch_end(e->nvme, q);
}

static void submit_pending(struct bench *e)
{
    uint64_t now = keel_time_us(e->hal);
    unsigned q;

    for (q = 0; q < (unsigned)e->a.queues; q++)
        submit_queue(e, q, now);
}

static void record(struct bench *e, struct slot *s)
{
    uint64_t lat = s->t_done - s->t_submit;

    if (!e->measuring) {
        if (--e->warm_left == 0u) {
            e->measuring = true;
            e->t0 = s->t_done;
        }
        return;
    }
    if (s->t_done > e->t0 && !e->stopping) {
        e->ios++;
        e->qios[s->req.queue]++;
        e->bytes += (uint64_t)e->per_io * e->ss;
        lat_hist_add(&e->lat, lat);
    }
}

/* Take every finished slot; queue its next I/O unless the run is ending. Returns how many. */
static unsigned reap(struct bench *e)
{
    unsigned i, n = 0;

    for (i = 0; i < (unsigned)e->a.qd; i++) {
        struct slot *s = &slots[i];

        if (!s->busy || !s->done)
            continue;
        s->busy = false;
        e->inflight--;
        n++;
        if (s->req.status != KEEL_OK) {
            if (e->errors++ == 0u)
                ex_fail("%s: %s of %u sectors at lba %llu failed: %s", e->dev->info.name,
                        is_write(e) ? "write" : "read", s->req.count,
                        (unsigned long long)s->req.lba, keel_strerror(s->req.status));
            e->stopping = true;
            continue;
        }
        record(e, s);
        if (!e->stopping)
            prepare(e, s);
    }
    return n;
}

static bool target_reached(const struct bench *e, uint64_t now)
{
    if (e->a.ios != 0u && e->ios >= e->a.ios)
        return true;
    return e->a.secs != 0u && now - e->t0 >= e->a.secs * 1000000u;
}

static void poll_queues(struct bench *e)
{
    unsigned q;

    for (q = 0; q < (unsigned)e->a.queues; q++) {
        int rc = keel_blk_poll(e->dev, q, 0);

        if (rc < 0 && e->errors++ == 0u) {
            ex_fail("%s: poll of queue %u failed: %s", e->dev->info.name, q, keel_strerror(rc));
            e->stopping = true;
        }
    }
}

/* Nothing completed for a while: in interrupt mode look once by polling (a rescue). */
static bool check_stall(struct bench *e, uint64_t now)
{
    if (!e->a.poll && now - e->last_progress >= RESCUE_US) {
        poll_queues(e);
        if (reap(e) != 0u) {
            e->rescued++;
            e->last_progress = now;
            return true;
        }
    }
    if (now - e->last_progress < STALL_US)
        return true;
    ex_fail("%s: no completion for %u s with %u requests in flight", e->dev->info.name,
            STALL_US / 1000000u, e->inflight);
    return false;
}

static void run(struct bench *e)
{
    unsigned i, spins = 0;

    for (i = 0; i < (unsigned)e->a.qd; i++)
        prepare(e, &slots[i]);
    e->last_progress = keel_time_us(e->hal);
    submit_pending(e);
    while (e->inflight > 0u) {
        uint64_t start = keel_time_us(e->hal), now;
        unsigned n;

        if (e->a.poll)
            poll_queues(e);
        n = reap(e);
        if (n == 0u) {
            if ((++spins & 1023u) == 0u && !check_stall(e, start))
                return;
            continue;
        }
        now = keel_time_us(e->hal); /* not before any completion time just recorded */
        e->last_progress = now;
        if (e->measuring && !e->stopping && target_reached(e, now)) {
            e->t_end = now;
            e->stopping = true;
        }
        if (e->stopping)
            continue;
        submit_pending(e);
        /* CPU time of this round: the poll that found completions, the reap, the resubmits. */
        if (e->measuring)
            e->busy_us += keel_time_us(e->hal) - start;
    }
    if (e->t_end == 0u)
        e->t_end = keel_time_us(e->hal);
}

/* ---- Arguments ----------------------------------------------------------------------------- */

static bool parse_mode(const char *s, enum bench_mode *m)
{
    static const char *const names[] = {"randread", "randwrite", "seqread", "seqwrite"};
    unsigned i;

    for (i = 0; i < 4u; i++)
        if (keel_streq(s, names[i])) {
            *m = (enum bench_mode)i;
            return true;
        }
    return false;
}

static const char *mode_name(enum bench_mode m)
{
    static const char *const names[] = {"randread", "randwrite", "seqread", "seqwrite"};

    return names[m];
}

/* key=<number> within [lo, hi] when present; *out keeps its default otherwise. */
static bool arg_num(const char *cmdline, const char *key, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!ex_arg(cmdline, key, NULL, 0))
        return true;
    return EX_CHECK(ex_arg_u64(cmdline, key, out) && *out >= lo && *out <= hi,
                    "%s= must be a number in %llu..%llu", key, (unsigned long long)lo,
                    (unsigned long long)hi);
}

static bool arg_flag(const char *cmdline, const char *key, bool *out)
{
    uint64_t v = *out ? 1u : 0u;

    if (!arg_num(cmdline, key, 0, 1, &v))
        return false;
    *out = v != 0u;
    return true;
}

static bool parse_args(const char *cmdline, struct args *a)
{
    char mode[16];
    bool ok = true;

    *a = (struct args){.mode = MODE_RANDREAD,
                       .bs = 4096,
                       .qd = 1,
                       .queues = 1,
                       .seed = 1,
                       .poll = true,
                       .batch = true};
    if (!arg_flag(cmdline, "floor", &a->floor))
        return false;
    if (!EX_CHECK((ex_arg(cmdline, "dev", a->dev, sizeof(a->dev)) && a->dev[0] != '\0') || a->floor,
                  "dev=<name> is required"))
        return false;
    if (ex_arg(cmdline, "mode", mode, sizeof(mode)))
        ok = EX_CHECK(parse_mode(mode, &a->mode),
                      "mode=%s: expected randread, randwrite, seqread or seqwrite", mode) &&
             ok;
    ok = arg_num(cmdline, "bs", 512, ARENA_BYTES, &a->bs) && ok;
    ok = arg_num(cmdline, "qd", 1, MAX_QD, &a->qd) && ok;
    ok = arg_num(cmdline, "ios", 1, UINT64_MAX >> 8, &a->ios) && ok;
    ok = arg_num(cmdline, "secs", 1, 3600, &a->secs) && ok;
    ok = arg_num(cmdline, "warmup", 1, UINT32_MAX, &a->warmup) && ok;
    ok = arg_num(cmdline, "queues", 1, MAX_QUEUES, &a->queues) && ok;
    ok = arg_num(cmdline, "lba", 0, UINT64_MAX >> 1, &a->lba) && ok;
    ok = arg_num(cmdline, "span", 1, UINT64_MAX >> 1, &a->span) && ok;
    ok = arg_num(cmdline, "seed", 0, UINT64_MAX, &a->seed) && ok;
    ok = arg_flag(cmdline, "poll", &a->poll) && ok;
    ok = arg_flag(cmdline, "batch", &a->batch) && ok;
    if (!ok)
        return false;
    if (a->ios == 0u && a->secs == 0u)
        a->secs = 5;
    if (a->warmup == 0u)
        a->warmup = a->qd * 2u < 32u ? 32u : a->qd * 2u;
    return EX_CHECK(a->qd * a->bs <= ARENA_BYTES, "qd * bs = %llu bytes: at most %u",
                    (unsigned long long)(a->qd * a->bs), ARENA_BYTES);
}

/* The probe's interrupt mode follows poll= (an explicit irq= other than poll wins for poll=0). */
static bool pick_irq(const char *cmdline, const struct args *a, struct ex_probe_opts *o)
{
    if (a->poll) {
        if (!EX_CHECK(o->irq == EX_IRQ_POLL || !ex_arg(cmdline, "irq", NULL, 0),
                      "poll=1 contradicts irq=%s", ex_irq_name(o->irq)))
            return false;
        o->irq = EX_IRQ_POLL;
        return true;
    }
    if (o->irq == EX_IRQ_POLL) {
        if (!EX_CHECK(!ex_arg(cmdline, "irq", NULL, 0), "poll=0 contradicts irq=poll"))
            return false;
        o->irq = EX_IRQ_MSIX;
    }
    return true;
}

/* ---- Set-up and report --------------------------------------------------------------------- */

static bool setup(struct bench *e, struct keel_blkdev *dev, const struct args *a)
{
    uint64_t avail;
    struct ex_nvme *n;
    unsigned i;

    *e = (struct bench){.dev = dev, .hal = dev->hal, .a = *a, .ss = dev->info.sector_size};
    if (!EX_CHECK(a->bs % e->ss == 0u, "bs=%llu is not a multiple of the %u-byte sector",
                  (unsigned long long)a->bs, e->ss))
        return false;
    e->per_io = (uint32_t)(a->bs / e->ss);
    if (!EX_CHECK(a->queues <= dev->info.queue_count, "%s has %u queue(s), queues=%llu asked",
                  dev->info.name, dev->info.queue_count, (unsigned long long)a->queues))
        return false;
    if (!EX_CHECK(a->lba < dev->info.sector_count, "lba=%llu is beyond the %llu sectors of %s",
                  (unsigned long long)a->lba, (unsigned long long)dev->info.sector_count,
                  dev->info.name))
        return false;
    avail = dev->info.sector_count - a->lba;
    if (e->a.span == 0u || e->a.span > avail)
        e->a.span = avail;
    e->nblocks = e->a.span / e->per_io;
    if (!EX_CHECK(e->nblocks != 0u, "the range holds no %llu-byte block",
                  (unsigned long long)a->bs))
        return false;
    if (e->nblocks > UINT32_MAX)
        e->nblocks = UINT32_MAX;
    if (is_write(e) &&
        !EX_CHECK(dev->access == KEEL_BLK_ACCESS_RW, "%s is read-only", dev->info.name))
        return false;
    e->rng = a->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (e->rng == 0u)
        e->rng = 1;
    e->warm_left = a->warmup;
    n = ex_dev_kind(dev) == EX_KIND_NVME ? ex_dev_nvme(&devs, dev) : NULL;
    e->nvme = n != NULL ? &n->ctrl : NULL;
    for (i = 0; i < (unsigned)a->qd; i++) {
        slots[i] = (struct slot){.buf = arena + (size_t)i * (size_t)a->bs,
                                 .queue = (uint16_t)(i % (unsigned)a->queues)};
        /* Write data: a recognisable pattern, not zeroes a device might shortcut. */
        if (is_write(e))
            keel_memset(slots[i].buf, (int)(0x5a ^ i), (size_t)a->bs);
    }
    return true;
}

static const char *irq_label(const struct ex_devices *d)
{
    return ex_irq_name(d->opts.irq);
}

static void report(const struct bench *e, const char *name, const char *driver, const char *irq,
                   uint64_t interrupts)
{
    uint64_t el = e->t_end - e->t0, iops, mb100;
    unsigned q;

    if (el == 0u)
        el = 1;
    iops = e->ios * 1000000u / el;
    mb100 = e->bytes * 100u / el; /* bytes/us = MB/s (10^6 bytes), two decimals */
    /* Two lines: the console cuts lines over 255 bytes. */
    keel_port_printf("bench dev=%s driver=%s mode=%s bs=%llu qd=%llu queues=%llu irq=%s ios=%llu "
                     "elapsed_us=%llu iops=%llu mbps=%llu.%02llu busy_pct=%llu errors=%llu\n",
                     name, driver, mode_name(e->a.mode), (unsigned long long)e->a.bs,
                     (unsigned long long)e->a.qd, (unsigned long long)e->a.queues, irq,
                     (unsigned long long)e->ios, (unsigned long long)el, (unsigned long long)iops,
                     (unsigned long long)(mb100 / 100u), (unsigned long long)(mb100 % 100u),
                     (unsigned long long)(e->busy_us * 100u / el), (unsigned long long)e->errors);
    keel_port_printf("benchlat dev=%s lat_p50_us=%llu lat_p99_us=%llu lat_min_us=%llu "
                     "lat_avg_us=%llu lat_max_us=%llu interrupts=%llu rescued=%llu\n",
                     name, (unsigned long long)lat_hist_percentile(&e->lat, 50),
                     (unsigned long long)lat_hist_percentile(&e->lat, 99),
                     (unsigned long long)e->lat.min, (unsigned long long)lat_hist_avg(&e->lat),
                     (unsigned long long)e->lat.max, (unsigned long long)interrupts,
                     (unsigned long long)e->rescued);
    for (q = 0; q < (unsigned)e->a.queues; q++)
        keel_port_printf("benchq queue=%u ios=%llu\n", q, (unsigned long long)e->qios[q]);
}

/* ---- The ceiling probe (floor=1) ----------------------------------------------------------- */

static void floor_record(uint64_t lat)
{
    b.ios++;
    b.bytes += b.a.bs;
    lat_hist_add(&b.lat, lat);
}

static int run_floor(const struct keel_port *port, const struct args *a)
{
    struct floor_cfg c = {.port = port,
                          .qd = (unsigned)a->qd,
                          .bs = (uint32_t)a->bs,
                          .write = a->mode == MODE_RANDWRITE,
                          .ios = a->ios,
                          .secs = a->secs,
                          .warmup = a->warmup,
                          .seed = a->seed};
    struct floor_out o;
    int rc;

    if (!EX_CHECK(a->mode == MODE_RANDREAD || a->mode == MODE_RANDWRITE,
                  "floor=1 runs randread or randwrite") ||
        !EX_CHECK(a->qd <= 32u && a->bs <= 4096u && a->queues == 1u && a->poll,
                  "floor=1 needs qd <= 32, bs <= 4096, queues=1, poll=1"))
        return ex_finish();
    b = (struct bench){.a = *a, .hal = &port->hal};
    keel_port_printf("blkbench floor=1 driver=nvme-floor mode=%s bs=%llu qd=%llu warmup=%llu "
                     "ios=%llu secs=%llu clock_hz=%llu\n",
                     mode_name(a->mode), (unsigned long long)a->bs, (unsigned long long)a->qd,
                     (unsigned long long)a->warmup, (unsigned long long)a->ios,
                     (unsigned long long)a->secs, (unsigned long long)port->clock_hz);
    rc = nvme_floor_run(&c, floor_record, &o);
    if (!EX_CHECK(rc == KEEL_OK, "nvme floor probe: %s", keel_strerror(rc)))
        return ex_finish();
    b.t0 = o.t0;
    b.t_end = o.t_end;
    b.qios[0] = b.ios;
    report(&b, "nvme-ctrl0-ns1", "nvme-floor", "poll", 0);
    EX_CHECK(b.ios != 0u, "no I/O completed inside the measurement");
    return ex_finish();
}

int main(void)
{
    static struct keel_port port;
    struct ex_probe_opts opts;
    struct args a;
    struct keel_blkdev *dev;
    int rc = keel_port_init(&port);

    if (!EX_CHECK(rc == KEEL_OK, "keel_port_init: %s", keel_strerror(rc)))
        return ex_finish();
    ex_print_platform(&port);
    if (!EX_CHECK(ex_probe_opts_parse(port.cmdline, &opts), "bad arguments") ||
        !parse_args(port.cmdline, &a) || !pick_irq(port.cmdline, &a, &opts))
        return ex_finish();
    if (a.floor)
        return run_floor(&port, &a);
    if (opts.nvme_ioq != 0u && opts.nvme_ioq < a.queues)
        opts.nvme_ioq = (uint16_t)a.queues;
    opts.no_parts = true; /* the benchmark addresses whole disks; skip the partition scan */
    (void)ex_probe(&devs, &port, &opts);
    ex_print_unserved(&devs);
    dev = keel_registry_find(&devs.reg, a.dev);
    if (!EX_CHECK(dev != NULL, "no block device named %s", a.dev) || !setup(&b, dev, &a))
        return ex_finish();
    keel_port_printf("blkbench dev=%s driver=%s mode=%s bs=%llu qd=%llu queues=%llu irq=%s "
                     "batch=%u sector_size=%u lba=%llu span=%llu warmup=%llu ios=%llu secs=%llu "
                     "clock_hz=%llu\n",
                     a.dev, dev->info.driver, mode_name(a.mode), (unsigned long long)a.bs,
                     (unsigned long long)a.qd, (unsigned long long)a.queues, irq_label(&devs),
                     b.nvme != NULL && a.batch ? 1u : 0u, b.ss, (unsigned long long)a.lba,
                     (unsigned long long)b.a.span, (unsigned long long)a.warmup,
                     (unsigned long long)a.ios, (unsigned long long)a.secs,
                     (unsigned long long)port.clock_hz);
    run(&b);
    if (ex_failures() == 0u) {
        report(&b, a.dev, dev->info.driver, irq_label(&devs), ex_dev_interrupts(&devs, dev));
        EX_CHECK(b.ios != 0u, "%s: no I/O completed inside the measurement", a.dev);
        EX_CHECK(b.rescued == 0u, "%s: %llu completions only found by polling (lost interrupts)",
                 a.dev, (unsigned long long)b.rescued);
        if (!a.poll)
            EX_CHECK(ex_dev_interrupts(&devs, dev) != 0u, "%s: irq=%s but no interrupt arrived",
                     a.dev, irq_label(&devs));
    }
    return ex_finish();
}
