/* SPDX-License-Identifier: MIT */
/* The benchmark harness: options, the measured region, timing and the result line. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <keel/blkdev.h>
#include <keel/error.h>

#include "bench.h"

void bench_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

__attribute__((noinline)) uint64_t bench_measured_run(bench_fn fn, void *ctx, uint64_t ios)
{
    uint64_t ok = fn(ctx, ios);

    /* Keep the call from being turned into a tail call (callgrind toggles on entry and exit). */
    __asm__ volatile("" ::: "memory");
    return ok;
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    if (*s == '\0' || *end != '\0')
        bench_die("%s wants a number, got '%s'", opt, s);
    return (uint64_t)v;
}

static void usage_exit(const char *prog, const char *usage, int rc)
{
    fprintf(rc ? stderr : stdout,
            "usage: %s WORKLOAD [--ios N] [--warmup N] [--reps N] [--floor] [--model]\n"
            "workloads: %s\n"
            "  --ios N     measured I/Os per repetition (default 100000)\n"
            "  --warmup N  I/Os before measuring (default 2000)\n"
            "  --reps N    measured repetitions, median reported (default 5)\n"
            "  --floor     run the hand-written protocol floor instead of the driver\n"
            "  --model     complete I/O with the full device model instead of the instant one\n",
            prog, usage);
    exit(rc);
}

void bench_parse(struct bench_opts *o, int argc, char **argv, const char *usage)
{
    int i;

    memset(o, 0, sizeof(*o));
    o->ios = 100000;
    o->warmup = 2000;
    o->reps = 5;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--ios") == 0 && i + 1 < argc)
            o->ios = parse_u64(a, argv[++i]);
        else if (strcmp(a, "--warmup") == 0 && i + 1 < argc)
            o->warmup = parse_u64(a, argv[++i]);
        else if (strcmp(a, "--reps") == 0 && i + 1 < argc)
            o->reps = (unsigned)parse_u64(a, argv[++i]);
        else if (strcmp(a, "--floor") == 0)
            o->floor = true;
        else if (strcmp(a, "--model") == 0)
            o->model = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            usage_exit(argv[0], usage, 0);
        else if (a[0] != '-' && o->workload == NULL)
            o->workload = a;
        else
            usage_exit(argv[0], usage, 2);
    }
    if (o->workload == NULL || o->ios == 0 || o->reps == 0)
        usage_exit(argv[0], usage, 2);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_report(const char *program, const struct bench_opts *o, struct bench_hal *bh,
                  bench_fn fn, void *ctx)
{
    double *per_io = calloc(o->reps, sizeof(*per_io));
    uint64_t db0, ok;
    unsigned r;

    if (per_io == NULL)
        bench_die("out of memory");
    if (o->warmup != 0 && fn(ctx, o->warmup) != o->warmup)
        bench_die("%s %s: warm-up I/O failed", program, o->workload);
    db0 = bh->doorbells;
    for (r = 0; r < o->reps; r++) {
        uint64_t t0 = now_ns(), t1;
        ok = bench_measured_run(fn, ctx, o->ios);
        t1 = now_ns();
        if (ok != o->ios)
            bench_die("%s %s: %llu of %llu I/Os failed", program, o->workload,
                      (unsigned long long)(o->ios - ok), (unsigned long long)o->ios);
        per_io[r] = (double)(t1 - t0) / (double)o->ios;
    }
    qsort(per_io, o->reps, sizeof(*per_io), cmp_double);
    printf("RESULT program=%s workload=%s impl=%s device=%s ios=%llu reps=%u ns_per_io=%.1f "
           "ns_min=%.1f doorbells_per_io=%.3f\n",
           program, o->workload, o->floor ? "floor" : "driver", o->model ? "model" : "instant",
           (unsigned long long)o->ios, o->reps, per_io[o->reps / 2u], per_io[0],
           (double)(bh->doorbells - db0) / ((double)o->ios * o->reps));
    free(per_io);
}

/* ---- the driver workload ----------------------------------------------------------------------
 */

struct bench_req {
    struct keel_blk_req r;
    struct bench_io *b;
    uint16_t idx;
};

static void io_done(struct keel_blk_req *r)
{
    struct bench_req *q = (struct bench_req *)r;
    struct bench_io *b = q->b;

    if (r->status == 0)
        b->ok++;
    else
        b->failed++;
    b->free[b->nfree++] = q->idx;
}

void bench_io_init(struct bench_io *b)
{
    unsigned i;

    if (b->qd == 0 || b->qd > BENCH_QD_MAX)
        bench_die("queue depth %u out of range", b->qd);
    b->req = calloc(b->qd, sizeof(*b->req));
    b->bufs = aligned_alloc(4096, (size_t)b->qd * BENCH_BLOCK_BYTES);
    if (b->req == NULL || b->bufs == NULL)
        bench_die("out of memory");
    memset(b->bufs, 0, (size_t)b->qd * BENCH_BLOCK_BYTES);
    for (i = 0; i < b->qd; i++) {
        struct bench_req *q = &b->req[i];
        q->b = b;
        q->idx = (uint16_t)i;
        b->free[i] = (uint16_t)(b->qd - 1u - i);
    }
    b->nfree = b->qd;
}

void bench_io_free(struct bench_io *b)
{
    free(b->req);
    free(b->bufs);
    b->req = NULL;
    b->bufs = NULL;
}

uint64_t bench_io_run(void *ctx, uint64_t ios)
{
    struct bench_io *b = ctx;
    uint64_t ok0 = b->ok, fail0 = b->failed, issued = 0;
    unsigned idle = 0;

    while (b->ok + b->failed - ok0 - fail0 < ios) {
        uint64_t before = b->ok + b->failed;
        if (b->batch)
            (void)keel_blk_plug(b->dev, 0);
        while (b->nfree != 0 && issued < ios) {
            uint16_t i = b->free[--b->nfree];
            struct keel_blk_req *r = &b->req[i].r;
            int rc;
            r->op = KEEL_BLK_OP_READ;
            r->flags = 0;
            r->queue = 0;
            r->count = b->count;
            r->lba = (issued * b->count) & b->lba_mask;
            r->buf = b->bufs + (size_t)i * BENCH_BLOCK_BYTES;
            r->timeout_us = 0;
            r->done = io_done;
            rc = keel_blk_submit(b->dev, r);
            if (rc != 0) {
                b->free[b->nfree++] = i;
                if (rc != KEEL_ENOSPC)
                    bench_die("submit failed: %d", rc);
                break;
            }
            issued++;
        }
        if (b->batch)
            (void)keel_blk_unplug(b->dev, 0);
        (void)keel_blk_poll(b->dev, 0, 0);
        idle = b->ok + b->failed == before ? idle + 1u : 0u;
        if (idle > 1000000u)
            bench_die("no completion in a million polls");
    }
    return b->ok - ok0;
}
