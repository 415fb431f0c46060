/* SPDX-License-Identifier: MIT */
/*
 * soak.c - the soak engine and its command line (see soak.h; usage: soak --help).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <keel/error.h>

#include "soak.h"

#define SLOTS         64                  /* requests in flight at most */
#define MAX_BLOCKS    16384u              /* blocks exercised per round */
#define MAX_REQ_BYTES (1024u * 1024u)     /* largest data request */
#define HANG_US       (300ull * 1000000u) /* a request unfinished this long is a hang */
#define DRAIN_US      (600ull * 1000000u) /* drain bound (virtual) */
#define FAULT_OPS     400u                /* an armed fault that never fires is dropped after */
#define MAX_REPORTS   12u                 /* detailed mismatch reports per run */
#define NDRIVERS      3u

static unsigned reports;
static bool faults_on = true;
static int excluded[16];
static unsigned nexcluded;

static bool is_excluded(int id)
{
    unsigned i;

    for (i = 0; i < nexcluded; i++)
        if (excluded[i] == id)
            return true;
    return false;
}

bool soak_excluded(int id)
{
    return is_excluded(id);
}

/* ---- random numbers ---- */

uint64_t soak_rnd(struct soak_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t soak_below(struct soak_rng *r, uint32_t n)
{
    return (uint32_t)(soak_rnd(r) % n);
}

bool soak_chance(struct soak_rng *r, uint32_t num, uint32_t den)
{
    return soak_below(r, den) < num;
}

enum sim_map_mode soak_map_mode(struct soak_rng *r)
{
    static const enum sim_map_mode modes[3] = {SIM_MAP_TRANSLATE, SIM_MAP_BOUNCE,
                                               SIM_MAP_CONTIGUOUS};
    return modes[soak_below(r, 3)];
}

void soak_cfg(struct soak_target *t, const char *fmt, ...)
{
    size_t used = strlen(t->config);
    va_list ap;

    if (used + 1 >= sizeof(t->config))
        return;
    va_start(ap, fmt);
    (void)vsnprintf(t->config + used, sizeof(t->config) - used, fmt, ap);
    va_end(ap);
}

void soak_add_fault(struct soak_target *t, int id, const char *name, uint32_t max_count,
                    uint64_t (*param)(struct soak_target *t, struct soak_rng *r))
{
    if (t->nfaults >= SOAK_MAX_FAULTS || is_excluded(id))
        return;
    t->faults[t->nfaults] = (struct soak_fault){id, name, max_count, param, 0};
    t->nfaults++;
}

void soak_add_fault2(struct soak_target *t, int id, int also, const char *name,
                     uint64_t (*param)(struct soak_target *t, struct soak_rng *r))
{
    if (t->nfaults >= SOAK_MAX_FAULTS || is_excluded(id) || is_excluded(also))
        return;
    t->faults[t->nfaults] = (struct soak_fault){id, name, 1, param, also};
    t->nfaults++;
}

/* ---- counters ---- */

struct soak_counters {
    uint64_t rounds, ops, by_op[KEEL_BLK_OP_COUNT], failed, by_err[KEEL_ERR_COUNT];
    uint64_t backpressure, refused, bytes, misaligned;
    uint64_t faults_armed, faults_fired;
    uint64_t rec[SOAK_MAX_REC];
    const char *rec_names[SOAK_MAX_REC];
    uint64_t mismatches, violations, hangs, double_done, lost_devices, leaks, attach_failures;
    uint64_t verify_failures, verify_retries, unknown_left;
    struct soak_fault_stat fstat[SOAK_MAX_FAULTS * 2];
    unsigned nfstat;
};

static struct soak_fault_stat *fstat_of(struct soak_counters *c, const struct soak_fault *f)
{
    unsigned i;

    for (i = 0; i < c->nfstat; i++)
        if (c->fstat[i].id == f->id && strcmp(c->fstat[i].name, f->name) == 0)
            return &c->fstat[i];
    if (c->nfstat >= sizeof(c->fstat) / sizeof(c->fstat[0]))
        return NULL;
    c->fstat[c->nfstat] = (struct soak_fault_stat){f->id, f->name, 0, 0};
    return &c->fstat[c->nfstat++];
}

static uint64_t failures(const struct soak_counters *c)
{
    return c->mismatches + c->violations + c->hangs + c->double_done + c->lost_devices + c->leaks +
           c->attach_failures + c->verify_failures + c->refused;
}

/* ---- one round ---- */

struct round;

struct slot {
    struct keel_blk_req r; /* first: the callback gets &r */
    struct round *rd;
    bool busy;     /* submitted, not yet settled */
    bool prepared; /* drawn (range reserved), waiting for queue room */
    unsigned done;
    uint8_t *mem;
    uint8_t *buf;
    uint64_t lba;
    uint32_t count;
    uint64_t since_us;
};

struct round {
    struct soak_target *t;
    struct soak_rng rng;
    struct soak_counters *c;
    unsigned round_no;
    uint32_t bs;
    uint64_t blocks;
    uint8_t *shadow; /* blocks * bs */
    uint8_t *known;  /* per block: shadow holds the content */
    uint8_t *busy;   /* per block: a request in flight covers it */
    unsigned depth;  /* most requests in flight this round */
    unsigned inflight;
    struct slot slots[SLOTS];
    int fault; /* index in t->faults of the armed fault, -1: none */
    uint32_t fault_count;
    unsigned fault_ops;
    bool lost;
    uint64_t data_seed;
    uint64_t progress_us;   /* last submission or completion */
    unsigned violations;    /* sim violations already reported */
    const char *last_fault; /* name of the fault armed last */
    uint64_t last_fault_us;
};

static void report(struct round *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fault_step(struct round *rd);

static void report(struct round *rd, const char *fmt, ...)
{
    va_list ap;

    if (reports >= MAX_REPORTS)
        return;
    reports++;
    fprintf(stderr, "soak: %s round %u [%s]: ", rd->t->driver, rd->round_no, rd->t->config);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void on_done(struct keel_blk_req *r)
{
    struct slot *sl = (struct slot *)r;

    sl->done++;
}

static uint64_t now_us(const struct round *rd)
{
    return rd->t->s->now_us;
}

/* Fill `len` bytes with data unique to this write. */
static void fill(struct round *rd, uint8_t *p, size_t len)
{
    uint64_t x = ++rd->data_seed * 0x2545f4914f6cdd1dull;
    size_t i;

    for (i = 0; i < len; i += 8u) {
        size_t n = len - i < 8u ? len - i : 8u;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, n);
    }
}

static bool range_free(const struct round *rd, uint64_t lba, uint32_t count)
{
    uint32_t i;

    for (i = 0; i < count; i++)
        if (rd->busy[lba + i])
            return false;
    return true;
}

static void range_mark(struct round *rd, uint64_t lba, uint32_t count, uint8_t v)
{
    memset(rd->busy + lba, v, count);
}

static uint8_t pick_op(struct round *rd)
{
    uint32_t flags = rd->t->bd->info.flags, x = soak_below(&rd->rng, 100);

    if (x < 42)
        return KEEL_BLK_OP_READ;
    if (x < 84)
        return KEEL_BLK_OP_WRITE;
    if (x < 89)
        return (flags & KEEL_BLK_F_FLUSH) ? KEEL_BLK_OP_FLUSH : KEEL_BLK_OP_READ;
    if (x < 94)
        return (flags & KEEL_BLK_F_TRIM) ? KEEL_BLK_OP_TRIM : KEEL_BLK_OP_WRITE;
    return (flags & KEEL_BLK_F_WRITE_ZEROES) ? KEEL_BLK_OP_WRITE_ZEROES : KEEL_BLK_OP_READ;
}

static uint32_t pick_count(struct round *rd, uint8_t op)
{
    const struct keel_blkdev_info *in = &rd->t->bd->info;
    uint32_t x = soak_below(&rd->rng, 100), max, n;

    if (op == KEEL_BLK_OP_TRIM || op == KEEL_BLK_OP_WRITE_ZEROES)
        max = in->max_discard != 0 ? in->max_discard : in->max_transfer;
    else
        max = MAX_REQ_BYTES / rd->bs; /* the layer does not split asynchronous requests */
    if (max > in->max_transfer && op != KEEL_BLK_OP_TRIM && op != KEEL_BLK_OP_WRITE_ZEROES)
        max = in->max_transfer;
    if (max > rd->blocks)
        max = (uint32_t)rd->blocks;
    n = x < 70   ? 1u + soak_below(&rd->rng, 8)
        : x < 95 ? 1u + soak_below(&rd->rng, 64)
                 : 1u + soak_below(&rd->rng, max);
    return n > max ? max : n;
}

/* A buffer at a random alignment: mostly page aligned, sometimes dword or sector aligned, and
 * sometimes (small requests) at any byte. */
static uint8_t *place(struct round *rd, struct slot *sl, size_t len)
{
    uint32_t x = soak_below(&rd->rng, 100);
    uintptr_t base, off = 0;

    sl->mem = malloc(len + 2u * 4096u);
    if (sl->mem == NULL) {
        fprintf(stderr, "soak: out of memory\n");
        exit(2);
    }
    base = ((uintptr_t)sl->mem + 4095u) & ~(uintptr_t)4095u;
    if (x >= 70 && x < 85)
        off = 4u * soak_below(&rd->rng, 1024);
    else if (x >= 85 && x < 95)
        off = 512u * soak_below(&rd->rng, 8);
    else if (x >= 95 && len <= 4096u)
        off = soak_below(&rd->rng, 4096);
    if (off % 4u != 0)
        rd->c->misaligned++;
    return (uint8_t *)(base + off);
}

/* Draw a request into a free slot: operation, range (reserved at once), queue, buffer, data. */
static struct slot *prepare(struct round *rd)
{
    struct soak_target *t = rd->t;
    struct slot *sl = NULL;
    uint8_t op = pick_op(rd);
    uint32_t count = 0;
    uint64_t lba = 0;
    unsigned i, tries;

    for (i = 0; i < rd->depth; i++)
        if (!rd->slots[i].busy && !rd->slots[i].prepared) {
            sl = &rd->slots[i];
            break;
        }
    if (sl == NULL)
        return NULL;
    if (op != KEEL_BLK_OP_FLUSH) {
        for (tries = 0; tries < 8; tries++) {
            uint64_t span;
            count = pick_count(rd, op);
            /* half the requests go to a hot spot at the start of the disk (where the fault
               parameters that name an LBA point), the rest anywhere */
            span = rd->blocks - count + 1u;
            if (span > SOAK_HOT_BLOCKS && soak_chance(&rd->rng, 1, 2))
                span = SOAK_HOT_BLOCKS;
            lba = soak_below(&rd->rng, (uint32_t)span);
            if (range_free(rd, lba, count))
                break;
        }
        if (tries == 8)
            return NULL;
        range_mark(rd, lba, count, 1);
    }
    memset(&sl->r, 0, sizeof(sl->r));
    sl->rd = rd;
    sl->done = 0;
    sl->mem = NULL;
    sl->buf = NULL;
    sl->lba = lba;
    sl->count = count;
    sl->prepared = true;
    sl->r.op = op;
    sl->r.queue = (uint16_t)soak_below(&rd->rng, t->bd->info.queue_count);
    sl->r.lba = lba;
    sl->r.count = count;
    sl->r.done = on_done;
    sl->r.timeout_us = 200000u + 100000u * soak_below(&rd->rng, 9);
    if (op == KEEL_BLK_OP_READ || op == KEEL_BLK_OP_WRITE) {
        size_t len = (size_t)count * rd->bs;
        sl->buf = place(rd, sl, len);
        if (op == KEEL_BLK_OP_WRITE)
            fill(rd, sl->buf, len);
        else
            memset(sl->buf, 0xee, len);
        sl->r.buf = sl->buf;
        if (op == KEEL_BLK_OP_WRITE && soak_chance(&rd->rng, 1, 5))
            sl->r.flags = KEEL_BLK_REQ_FUA;
    } else if (op == KEEL_BLK_OP_WRITE_ZEROES && soak_chance(&rd->rng, 1, 2)) {
        sl->r.flags = KEEL_BLK_REQ_UNMAP;
    }
    return sl;
}

static void unprepare(struct round *rd, struct slot *sl)
{
    if (sl->r.op != KEEL_BLK_OP_FLUSH)
        range_mark(rd, sl->lba, sl->count, 0);
    free(sl->mem);
    sl->mem = NULL;
    sl->prepared = false;
}

/* Submit a prepared slot. False when the queue pushed back (the slot stays prepared). */
static bool try_submit(struct round *rd, struct slot *sl)
{
    struct soak_target *t = rd->t;
    int rc = keel_blk_submit(t->bd, &sl->r);

    if (rc == KEEL_OK) {
        sl->prepared = false;
        sl->busy = true;
        sl->since_us = now_us(rd);
        rd->progress_us = sl->since_us;
        rd->inflight++;
        return true;
    }
    if (rc == KEEL_ENOSPC) {
        rd->c->backpressure++;
        return false;
    }
    unprepare(rd, sl);
    if (rc == KEEL_ENODEV && !t->alive(t)) {
        rd->lost = true;
        return true;
    }
    rd->c->refused++;
    report(rd, "valid op %u lba %llu count %u refused with %s", (unsigned)sl->r.op,
           (unsigned long long)sl->lba, sl->count, keel_strerror(rc));
    return true;
}

/* Retry the prepared slots the queues pushed back; then prepare and submit new ones. */
static unsigned submit_some(struct round *rd, unsigned burst)
{
    unsigned i, n = 0;

    for (i = 0; i < rd->depth; i++) {
        struct slot *sl = &rd->slots[i];
        if (sl->prepared) {
            unsigned was = rd->inflight;
            if (!try_submit(rd, sl))
                return n;
            n += rd->inflight - was;
        }
    }
    for (i = 0; i < burst && !rd->lost; i++) {
        struct slot *sl = prepare(rd);
        unsigned was = rd->inflight;
        if (sl == NULL)
            break;
        if (!try_submit(rd, sl))
            break;
        n += rd->inflight - was;
        fault_step(rd);
    }
    return n;
}

static void check_read(struct round *rd, struct slot *sl)
{
    uint32_t i;

    for (i = 0; i < sl->count; i++) {
        uint64_t b = sl->lba + i;
        if (!rd->known[b])
            continue;
        if (memcmp(sl->buf + (size_t)i * rd->bs, rd->shadow + b * rd->bs, rd->bs) != 0) {
            rd->c->mismatches++;
            report(rd, "read of lba %llu (request lba %llu count %u queue %u) returned wrong data",
                   (unsigned long long)b, (unsigned long long)sl->lba, sl->count,
                   (unsigned)sl->r.queue);
        }
    }
}

static void settle(struct round *rd, struct slot *sl)
{
    struct soak_counters *c = rd->c;
    uint8_t op = sl->r.op;
    int st = sl->r.status;

    if (sl->done > 1) {
        c->double_done++;
        report(rd, "request completed %u times", sl->done);
    }
    c->ops++;
    c->by_op[op]++;
    if (st != KEEL_OK) {
        c->failed++;
        if (st < 0 && st > -KEEL_ERR_COUNT)
            c->by_err[-st]++;
        if (op == KEEL_BLK_OP_WRITE || op == KEEL_BLK_OP_TRIM || op == KEEL_BLK_OP_WRITE_ZEROES)
            memset(rd->known + sl->lba, 0, sl->count);
    } else {
        size_t len = (size_t)sl->count * rd->bs;
        switch (op) {
        case KEEL_BLK_OP_READ:
            check_read(rd, sl);
            c->bytes += len;
            break;
        case KEEL_BLK_OP_WRITE:
            memcpy(rd->shadow + sl->lba * rd->bs, sl->buf, len);
            memset(rd->known + sl->lba, 1, sl->count);
            c->bytes += len;
            break;
        case KEEL_BLK_OP_WRITE_ZEROES:
            memset(rd->shadow + sl->lba * rd->bs, 0, len);
            memset(rd->known + sl->lba, 1, sl->count);
            break;
        case KEEL_BLK_OP_TRIM: /* deallocated: the device decides what reads return */
            memset(rd->known + sl->lba, 0, sl->count);
            break;
        default:
            break;
        }
    }
    if (op != KEEL_BLK_OP_FLUSH)
        range_mark(rd, sl->lba, sl->count, 0);
    free(sl->mem);
    sl->mem = NULL;
    sl->busy = false;
    rd->inflight--;
}

/* Poll every queue in a random order, settle what completed. Returns completions. */
static unsigned reap(struct round *rd)
{
    struct soak_target *t = rd->t;
    unsigned nq = t->bd->info.queue_count, first = soak_below(&rd->rng, nq), i, n = 0;

    for (i = 0; i < nq; i++)
        (void)keel_blk_poll(t->bd, (first + i) % nq, 0);
    for (i = 0; i < rd->depth; i++) {
        struct slot *sl = &rd->slots[i];
        if (!sl->busy)
            continue;
        if (sl->done > 0) {
            settle(rd, sl);
            rd->progress_us = now_us(rd);
            n++;
        } else if (now_us(rd) - sl->since_us > HANG_US && !rd->lost) {
            rd->c->hangs++;
            report(rd, "request (op %u lba %llu count %u queue %u) unfinished after %llu s",
                   (unsigned)sl->r.op, (unsigned long long)sl->lba, sl->count,
                   (unsigned)sl->r.queue, (unsigned long long)(HANG_US / 1000000u));
            rd->lost = true;
        }
    }
    return n;
}

static void fault_disarm(struct round *rd)
{
    struct soak_target *t = rd->t;
    const struct soak_fault *f;
    struct soak_fault_stat *fs;
    uint32_t fired;

    if (rd->fault < 0)
        return;
    f = &t->faults[rd->fault];
    fired = sim_fault_fired(t->s, f->id);
    rd->c->faults_fired += fired;
    fs = fstat_of(rd->c, f);
    if (fs != NULL)
        fs->fired += fired;
    sim_fault_clear(t->s, f->id);
    if (f->also != 0)
        sim_fault_clear(t->s, f->also);
    rd->fault = -1;
}

static void fault_step(struct round *rd)
{
    struct soak_target *t = rd->t;

    if (rd->fault >= 0) {
        const struct soak_fault *f = &t->faults[rd->fault];
        if (sim_fault_fired(t->s, f->id) >= rd->fault_count || ++rd->fault_ops > FAULT_OPS)
            fault_disarm(rd);
        return;
    }
    if (faults_on && t->nfaults > 0 && soak_chance(&rd->rng, 1, 24)) {
        int i = (int)soak_below(&rd->rng, t->nfaults);
        const struct soak_fault *f = &t->faults[i];
        struct soak_fault_stat *fs = fstat_of(rd->c, f);
        uint64_t param = f->param != NULL ? f->param(t, &rd->rng) : 0;

        rd->fault = i;
        rd->last_fault = f->name;
        rd->last_fault_us = now_us(rd);
        rd->fault_count = 1u + soak_below(&rd->rng, f->max_count);
        rd->fault_ops = 0;
        sim_fault_arm(t->s, f->id, soak_below(&rd->rng, 4), rd->fault_count, param);
        if (f->also != 0)
            sim_fault_arm(t->s, f->also, 0, 1, 0);
        rd->c->faults_armed++;
        if (fs != NULL)
            fs->armed++;
    }
}

/* Poll with a clock that moves little while requests complete and speeds up while they wait. */
static void run_ops(struct round *rd, unsigned nops)
{
    struct soak_target *t = rd->t;
    uint64_t step = 1, submitted = 0, quiet_at = 100u + soak_below(&rd->rng, 300);
    unsigned iter = 0;

    while (submitted < nops && !rd->lost) {
        unsigned burst = 1u + soak_below(&rd->rng, 4);
        uint64_t before = rd->c->ops;

        /* Now and then let everything complete before going on (as real workloads do): it also
           lets the sim's bounce allocator, which only recycles when no mapping is live, start
           over. */
        if (submitted >= quiet_at) {
            if (rd->inflight == 0)
                quiet_at = submitted + 100u + soak_below(&rd->rng, 300);
            burst = 0;
        }
        submitted += submit_some(rd, burst);
        if (reap(rd) > 0 || rd->c->ops != before)
            step = 1;
        else if (step < 5000)
            step *= 2;
        if (++iter % 64u == 0)
            t->service(t);
        if (rd->inflight == 0 && now_us(rd) - rd->progress_us > HANG_US) {
            /* nothing in flight, and every submission pushed back all that time */
            rd->c->hangs++;
            rd->lost = true;
            report(rd,
                   "queue wedged: every submission refused with KEEL_ENOSPC for %llu s while "
                   "nothing is in flight",
                   (unsigned long long)(HANG_US / 1000000u));
            if (t->dump != NULL)
                t->dump(t);
        }
        if (!t->alive(t))
            rd->lost = true;
        if (t->s->violations != rd->violations) {
            rd->violations = t->s->violations;
            report(rd,
                   "sim violation after %llu submissions (last fault armed: %s, %llu us ago): %s",
                   (unsigned long long)submitted, rd->last_fault ? rd->last_fault : "none",
                   (unsigned long long)(now_us(rd) - rd->last_fault_us), t->s->last_violation);
        }
        sim_advance(t->s, step);
    }
}

static void drain(struct round *rd)
{
    struct soak_target *t = rd->t;
    uint64_t end = now_us(rd) + DRAIN_US, step = 1;
    unsigned i;

    fault_disarm(rd);
    t->quiesce(t);
    for (i = 0; i < rd->depth; i++)
        if (rd->slots[i].prepared)
            unprepare(rd, &rd->slots[i]);
    while (rd->inflight > 0 && now_us(rd) < end) {
        if (reap(rd) > 0)
            step = 1;
        else if (step < 10000)
            step *= 2;
        t->service(t);
        sim_advance(t->s, step);
    }
    if (rd->inflight > 0) {
        rd->c->hangs += rd->inflight;
        report(rd, "%u requests still unfinished after the drain", rd->inflight);
        rd->lost = true;
    }
}

/* One read of the verification pass, asynchronous with a bounded wait of its own. */
static int verify_read(struct round *rd, unsigned q, uint64_t lba, uint32_t n, uint8_t *buf)
{
    struct soak_target *t = rd->t;
    struct slot sl;
    uint64_t start = now_us(rd), step = 1;
    int rc;

    memset(&sl, 0, sizeof(sl));
    sl.rd = rd;
    sl.r.op = KEEL_BLK_OP_READ;
    sl.r.queue = (uint16_t)q;
    sl.r.lba = lba;
    sl.r.count = n;
    sl.r.buf = buf;
    sl.r.done = on_done;
    sl.r.timeout_us = 1000000u;
    while ((rc = keel_blk_submit(t->bd, &sl.r)) == KEEL_ENOSPC) {
        (void)keel_blk_poll(t->bd, q, 0);
        sim_advance(t->s, 10);
        if (now_us(rd) - start > HANG_US)
            return KEEL_ETIMEDOUT;
    }
    if (rc != KEEL_OK)
        return rc;
    while (sl.done == 0 && now_us(rd) - start < DRAIN_US) {
        (void)keel_blk_poll(t->bd, q, 0);
        if (sl.done != 0)
            break;
        if (step < 10000)
            step *= 2;
        sim_advance(t->s, step);
    }
    if (sl.done == 0) {
        rd->c->hangs++;
        rd->lost = true; /* the driver still owns the request: do not touch it again */
        report(rd, "verification read of lba %llu count %u never completed",
               (unsigned long long)lba, n);
        return KEEL_ETIMEDOUT;
    }
    if (sl.done > 1) {
        rd->c->double_done++;
        report(rd, "verification read completed %u times", sl.done);
    }
    return sl.r.status;
}

/* Read everything back through the driver and compare with the model and the shadow. */
static void verify(struct round *rd)
{
    struct soak_target *t = rd->t;
    uint32_t chunk = t->bd->info.max_transfer < 64u ? t->bd->info.max_transfer : 64u;
    uint8_t *got = malloc((size_t)chunk * rd->bs), *media = malloc((size_t)chunk * rd->bs);
    uint64_t lba;

    if (got == NULL || media == NULL) {
        fprintf(stderr, "soak: out of memory\n");
        exit(2);
    }
    for (lba = 0; lba < rd->blocks && !rd->lost; lba += chunk) {
        uint32_t n = rd->blocks - lba < chunk ? (uint32_t)(rd->blocks - lba) : chunk, i;
        unsigned q = soak_below(&rd->rng, t->bd->info.queue_count);
        int rc = verify_read(rd, q, lba, n, got);

        /* A fault can leave a device silently stopped (a split used index run ahead by a few
           stale entries, NEEDS_RESET on a legacy device that cannot say so): the first request
           after it times out and the driver's recovery brings the device back. Only a read that
           still fails after that is a failure. */
        if (rc != KEEL_OK && !rd->lost) {
            rd->c->verify_retries++;
            rc = verify_read(rd, q, lba, n, got);
        }
        if (rc != KEEL_OK) {
            rd->c->verify_failures++;
            report(rd, "verification read of lba %llu count %u failed: %s", (unsigned long long)lba,
                   n, keel_strerror(rc));
            if (t->dump != NULL && reports < MAX_REPORTS)
                t->dump(t);
            if (!t->alive(t))
                rd->lost = true;
            continue;
        }
        t->media_read(t, lba * rd->bs, media, (size_t)n * rd->bs);
        for (i = 0; i < n; i++) {
            const uint8_t *g = got + (size_t)i * rd->bs, *m = media + (size_t)i * rd->bs;
            if (memcmp(g, m, rd->bs) != 0) {
                rd->c->mismatches++;
                report(rd, "lba %llu: the driver reads something else than the medium holds",
                       (unsigned long long)(lba + i));
            } else if (rd->known[lba + i] && memcmp(m, rd->shadow + (lba + i) * rd->bs, rd->bs)) {
                rd->c->mismatches++;
                report(rd, "lba %llu: the medium does not hold what was last written",
                       (unsigned long long)(lba + i));
            } else if (!rd->known[lba + i]) {
                rd->c->unknown_left++;
            }
        }
    }
    free(got);
    free(media);
}

static void account(struct round *rd, const uint64_t rec0[SOAK_MAX_REC])
{
    struct soak_target *t = rd->t;
    uint64_t rec[SOAK_MAX_REC] = {0};
    unsigned i;

    t->recoveries(t, rec);
    for (i = 0; i < SOAK_MAX_REC && t->rec_names[i] != NULL; i++) {
        rd->c->rec_names[i] = t->rec_names[i];
        rd->c->rec[i] += rec[i] - rec0[i];
    }
}

typedef bool (*setup_fn)(struct soak_target *t, struct soak_rng *r);

static void run_round(setup_fn setup, const char *driver, struct soak_counters *c, uint64_t seed,
                      unsigned round_no, unsigned nops)
{
    struct soak_target t;
    struct round *rd = calloc(1, sizeof(*rd));
    uint64_t rec0[SOAK_MAX_REC] = {0};
    struct sim *s;

    if (rd == NULL)
        exit(2);
    memset(&t, 0, sizeof(t));
    t.driver = driver;
    rd->t = &t;
    rd->c = c;
    rd->round_no = round_no;
    rd->fault = -1;
    rd->rng.s = seed ^ (0xd1b54a32d192ed03ull * (round_no + 1u));
    rd->data_seed = rd->rng.s;
    c->rounds++;
    if (!setup(&t, &rd->rng)) {
        c->attach_failures++;
        report(rd, "attach failed");
        if (t.s != NULL)
            sim_destroy(t.s);
        free(rd);
        return;
    }
    s = t.s;
    rd->bs = t.bd->info.sector_size;
    rd->blocks = t.bd->info.sector_count < MAX_BLOCKS ? t.bd->info.sector_count : MAX_BLOCKS;
    rd->depth = 1u + soak_below(&rd->rng, SLOTS);
    rd->shadow = malloc((size_t)(rd->blocks * rd->bs));
    rd->known = malloc((size_t)rd->blocks);
    rd->busy = calloc(1, (size_t)rd->blocks);
    if (rd->shadow == NULL || rd->known == NULL || rd->busy == NULL)
        exit(2);
    t.media_read(&t, 0, rd->shadow, (size_t)(rd->blocks * rd->bs));
    memset(rd->known, 1, (size_t)rd->blocks);
    soak_cfg(&t, " depth %u", rd->depth);
    t.recoveries(&t, rec0);
    rd->progress_us = s->now_us;

    run_ops(rd, nops);
    drain(rd);
    if (!rd->lost && t.alive(&t))
        verify(rd);
    if (!t.alive(&t) || rd->lost) {
        c->lost_devices++;
        report(rd, "the device was lost (driver gave it up or a request hung)");
    }
    account(rd, rec0);
    if (s->violations != 0) {
        c->violations += s->violations;
        report(rd, "%u sim violations, last: %s", s->violations, s->last_violation);
    }
    if (!t.teardown(&t) || s->maps_live != 0 || s->dma_allocs != s->dma_frees) {
        c->leaks++;
        report(rd, "teardown left %u mappings and %u DMA allocations", s->maps_live,
               s->dma_allocs - s->dma_frees);
    }
    if (s->violations != 0 && c->violations == 0)
        c->violations += s->violations;
    sim_destroy(s);
    free(rd->shadow);
    free(rd->known);
    free(rd->busy);
    free(rd);
}

/* ---- reporting and the command line ---- */

static void print_summary(const char *driver, const struct soak_counters *c, double secs)
{
    static const char *const opn[KEEL_BLK_OP_COUNT] = {"read", "write", "flush", "trim", "wz"};
    unsigned i;

    printf("%-11s %.0fs rounds %llu ops %llu (", driver, secs, (unsigned long long)c->rounds,
           (unsigned long long)c->ops);
    for (i = 0; i < KEEL_BLK_OP_COUNT; i++)
        printf("%s%s %llu", i ? " " : "", opn[i], (unsigned long long)c->by_op[i]);
    printf(") %.1f MiB, failed %llu, back-pressure %llu\n", (double)c->bytes / 1048576.0,
           (unsigned long long)c->failed, (unsigned long long)c->backpressure);
    printf("            faults armed %llu fired %llu; recoveries:",
           (unsigned long long)c->faults_armed, (unsigned long long)c->faults_fired);
    for (i = 0; i < SOAK_MAX_REC && c->rec_names[i] != NULL; i++)
        printf(" %s %llu", c->rec_names[i], (unsigned long long)c->rec[i]);
    printf("\n            errors:");
    for (i = 1; i < KEEL_ERR_COUNT; i++)
        if (c->by_err[i] != 0)
            printf(" %s %llu", keel_strerror(-(int)i), (unsigned long long)c->by_err[i]);
    printf("\n            MISMATCHES %llu, violations %llu, hangs %llu, double completions %llu, "
           "lost devices %llu, leaks %llu, attach failures %llu, verify failures %llu, "
           "refused %llu (verification retries %llu, unknown blocks at the end %llu)\n",
           (unsigned long long)c->mismatches, (unsigned long long)c->violations,
           (unsigned long long)c->hangs, (unsigned long long)c->double_done,
           (unsigned long long)c->lost_devices, (unsigned long long)c->leaks,
           (unsigned long long)c->attach_failures, (unsigned long long)c->verify_failures,
           (unsigned long long)c->refused, (unsigned long long)c->verify_retries,
           (unsigned long long)c->unknown_left);
}

static void print_faults(const struct soak_counters *c)
{
    unsigned i;

    printf("            fault fired/armed:");
    for (i = 0; i < c->nfstat; i++)
        printf("%s %d %s %llu/%llu", i % 4u == 0 ? "\n             " : ",", c->fstat[i].id,
               c->fstat[i].name, (unsigned long long)c->fstat[i].fired,
               (unsigned long long)c->fstat[i].armed);
    printf("\n");
}

static double wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    puts(
        "usage: soak [--minutes N] [--seconds N] [--seed S] [--driver "
        "nvme|virtio-blk|virtio-scsi|all]\n"
        "            [--rounds N] [--round R] [--ops N] [--faults-off]\n"
        "Runs random verified I/O with random fault injection against the device models for the\n"
        "given time (default 10 minutes, split evenly between the drivers), or a number of rounds\n"
        "per driver. --round R replays round R of each selected driver alone. --exclude leaves a\n"
        "fault id out of the tables (and out of bring-up). Exit status 0 when\n"
        "no data mismatch, sim violation, hang, double completion, leak or lost device was seen.");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        setup_fn setup;
    } drivers[NDRIVERS] = {
        {"nvme", soak_nvme_setup},
        {"virtio-blk", soak_vblk_setup},
        {"virtio-scsi", soak_vscsi_setup},
    };
    double seconds = 600.0, t0;
    uint64_t seed = 1;
    long rounds = -1, only_round = -1, ops = -1;
    bool want[NDRIVERS] = {true, true, true};
    unsigned nwant = NDRIVERS, d;
    uint64_t bad = 0;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (strcmp(a, "--faults-off") == 0) {
            faults_on = false;
            continue;
        }
        if (v == NULL) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--minutes") == 0)
            seconds = 60.0 * strtod(v, NULL);
        else if (strcmp(a, "--seconds") == 0)
            seconds = strtod(v, NULL);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 0);
        else if (strcmp(a, "--rounds") == 0)
            rounds = strtol(v, NULL, 0);
        else if (strcmp(a, "--round") == 0)
            only_round = strtol(v, NULL, 0);
        else if (strcmp(a, "--ops") == 0)
            ops = strtol(v, NULL, 0);
        else if (strcmp(a, "--exclude") == 0 && nexcluded < 16)
            excluded[nexcluded++] = (int)strtol(v, NULL, 0);
        else if (strcmp(a, "--driver") == 0) {
            nwant = 0;
            for (d = 0; d < NDRIVERS; d++) {
                want[d] = strcmp(v, "all") == 0 || strcmp(v, drivers[d].name) == 0;
                nwant += want[d] ? 1u : 0u;
            }
            if (nwant == 0) {
                usage();
                return 2;
            }
        } else {
            usage();
            return 2;
        }
    }
    printf("soak: seed %llu, %s, drivers:", (unsigned long long)seed,
           only_round >= 0 ? "one round"
           : rounds >= 0   ? "fixed rounds"
                           : "timed");
    for (d = 0; d < NDRIVERS; d++)
        if (want[d])
            printf(" %s", drivers[d].name);
    if (only_round < 0 && rounds < 0)
        printf(", %.0f s (%.0f s each)", seconds, seconds / nwant);
    printf("%s", faults_on ? "" : ", faults off");
    for (d = 0; d < nexcluded; d++)
        printf("%s%d", d == 0 ? ", excluded:" : " ", excluded[d]);
    printf("\n");
    fflush(stdout);

    for (d = 0; d < NDRIVERS; d++) {
        struct soak_counters *c;
        uint64_t dseed = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull * (d + 1u);
        double start = wall(), last = start;
        unsigned r = only_round >= 0 ? (unsigned)only_round : 0;

        if (!want[d])
            continue;
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return 2;
        reports = 0; /* detailed reports: up to MAX_REPORTS per driver */
        t0 = start;
        for (;;) {
            struct soak_rng pr = {dseed ^ r};
            unsigned n = ops > 0 ? (unsigned)ops : 1500u + soak_below(&pr, 2500);
            if (only_round >= 0 && r != (unsigned)only_round)
                break;
            if (only_round < 0 && rounds >= 0 && r >= (unsigned)rounds)
                break;
            if (only_round < 0 && rounds < 0 && wall() - start >= seconds / nwant)
                break;
            run_round(drivers[d].setup, drivers[d].name, c, dseed, r, n);
            r++;
            if (wall() - last >= 30.0) {
                last = wall();
                printf(
                    "  ... %s: %.0fs, rounds %llu, ops %llu, faults fired %llu, mismatches %llu, "
                    "failures %llu\n",
                    drivers[d].name, last - start, (unsigned long long)c->rounds,
                    (unsigned long long)c->ops, (unsigned long long)c->faults_fired,
                    (unsigned long long)c->mismatches, (unsigned long long)failures(c));
                fflush(stdout);
            }
        }
        print_summary(drivers[d].name, c, wall() - t0);
        print_faults(c);
        fflush(stdout);
        bad += failures(c);
        free(c);
    }
    printf("soak: %s\n", bad == 0 ? "PASS" : "FAIL");
    return bad == 0 ? 0 : 1;
}
