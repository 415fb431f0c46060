/* SPDX-License-Identifier: MIT */
/*
 * Fuzz targets "nvme_init" and "nvme": Keel's NVMe driver against the NVMe controller model of the
 * host tests (test/nvme/model) on the simulated platform, with the input playing a hostile
 * controller through fuzz_sim.h:
 *   - CAP and VS as the driver reads them (XOR masks and an override from the header), CSTS
 *     glitches, every fault the model can inject (armed from the header: ready never set or never
 *     cleared, fatal status, lost / delayed / duplicated / misdirected completions, bad phase,
 *     CID, SQHD, SQID, hung commands, stuck shutdown, huge MDTS / NN / LBADS / NLBAF, ...);
 *   - every DMA write the controller makes while a budget is granted: completion entries (CID,
 *     status, SQ head, SQ ID, DW0, phase rewritten field by field), Identify Controller and
 *     Namespace data, the active namespace list, log pages (SMART, error, firmware slots) and the
 *     asynchronous event results, read data.
 * "nvme_init" spends the input on bring-up (the header and the writes made while attaching) and
 * then detaches; "nvme" goes on with operations: I/O on every namespace and queue, admin commands,
 * log pages, passthrough, asynchronous events, resets, timeouts, surprise removal.
 *
 * Input: a 36-byte header (see parse_header), then (nvme) operations until the input ends.
 *
 * Invariants beyond the sanitizers: a request completes exactly once, never while its buffer is
 * still mapped, and within bounded virtual time once polled; a refused request never completes;
 * admin results stay in range; after detach (or a failed attach) no mapping, DMA memory, interrupt
 * or lock is left; with no rewritten answer, the simulated platform saw no contract violation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/nvme.h>
#include <nvme_model.h>

#include "fuzz_hal.h"
#include "fuzz_sim.h"

#ifndef FUZZ_NVME_OPS
#define FUZZ_NVME_OPS 1 /* 0: nvme_init (bring-up only) */
#endif

#define HDR_BYTES  36u
#define BAR0       0xfe000000ull
#define NREQ       24
#define MAX_OPS    2048u
#define SLACK_US   60000000ull
#define FINAL_STEP 10000u
#define ARENA      (512u << 10)

enum op {
    OP_SUBMIT,
    OP_POLL,
    OP_ADVANCE,
    OP_SERVICE,
    OP_CHECK_TIMEOUTS,
    OP_RESET,
    OP_IDENTIFY,
    OP_FEATURES,
    OP_LOGS,
    OP_PASSTHRU,
    OP_POWER,
    OP_TEMPERATURE,
    OP_DEALLOCATE,
    OP_COMPARE,
    OP_BATCH,
    OP_MUTATE,
    OP_POST_AER,
    OP_HEALTH,
    OP_WRITE_PROTECT,
    OP_SURPRISE,
    OP_RELEASE,
    OP_CSTS_GLITCH,
    OP_MODE,
    OP_COUNT
};

struct hreq {
    struct keel_blk_req r;
    int state;
    uint8_t *mem, *buf;
    size_t len;
    uint64_t deadline;
    struct h *h;
};

struct h {
    struct fz in;
    struct fsim fs;
    struct nvme_model_cfg mc;
    struct nvme_model *m;
    struct keel_nvme_config cfg;
    struct keel_nvme_ctrl *c;
    struct hreq req[NREQ];
    uint64_t cap_xor;
    uint32_t vs;
    bool glitch;
    uint32_t glitch_val;
    bool gone;
    unsigned events;
};

/* ---- the hostile controller -------------------------------------------------------------------
 */

static uint32_t reg32(void *arg, keel_io_addr_t a, uint32_t v)
{
    struct h *h = arg;
    uint64_t off = a - BAR0;

    if (a < BAR0 || off >= 0x40u)
        return v;
    if (off == 0u)
        return v ^ (uint32_t)h->cap_xor;
    if (off == 4u)
        return v ^ (uint32_t)(h->cap_xor >> 32);
    if (off == 8u && h->vs != 0u)
        return h->vs;
    if (off == 0x1cu && h->glitch) {
        h->glitch = false;
        return h->glitch_val;
    }
    return v;
}

/* Completion entries get field rewrites; anything else byte patches. */
static bool mutate(void *arg, uint64_t bus, uint8_t *d, size_t len, uint8_t ctl)
{
    struct h *h = arg;
    struct nvme_model_qinfo qi;
    uint16_t q;
    bool cqe = false;

    if (len != 16u)
        return false;
    for (q = 0; q <= KEEL_CONFIG_NVME_MAX_IO_QUEUES && !cqe; q++)
        cqe = nvme_model_cq_info(h->m, q, &qi) && qi.exists && bus >= qi.base &&
              bus < qi.base + 16u * (uint64_t)qi.size;
    if (!cqe)
        return false;
    switch (ctl & 7u) {
    case 1: { /* CID */
        uint16_t v = fz_u16(&h->in);
        memcpy(d + 12, &v, 2);
        return true;
    }
    case 2: { /* status, phase kept */
        uint16_t v = fz_u16(&h->in);
        d[14] = (uint8_t)((d[14] & 1u) | (v & 0xfeu));
        d[15] = (uint8_t)(v >> 8);
        return true;
    }
    case 3: { /* SQ head */
        uint16_t v = fz_u16(&h->in);
        memcpy(d + 8, &v, 2);
        return true;
    }
    case 4: { /* SQ id */
        uint16_t v = fz_u16(&h->in);
        memcpy(d + 10, &v, 2);
        return true;
    }
    case 5: { /* DW0 (AER result, Set Features grant, ...) */
        uint32_t v = fz_u32(&h->in);
        memcpy(d, &v, 4);
        return true;
    }
    case 6: /* phase flipped */
        d[14] ^= 1u;
        return true;
    default:
        return false;
    }
}

static void arm_fault(struct h *h)
{
    static const uint64_t filters[] = {0,
                                       NVME_MODEL_FP_ADMIN,
                                       NVME_MODEL_FP_IO,
                                       NVME_MODEL_FP_OPC(0x02), /* read */
                                       NVME_MODEL_FP_OPC(0x01), /* write */
                                       NVME_MODEL_FP_OPC(0x06), /* identify */
                                       NVME_MODEL_FP_OPC(0x0c), /* AER */
                                       NVME_MODEL_FP_OPC(0x02) | NVME_MODEL_FP_ADMIN /* log */};
    uint8_t id = fz_u8(&h->in), skip = fz_u8(&h->in), count = fz_u8(&h->in), filter = fz_u8(&h->in);
    uint32_t value = fz_u32(&h->in);

    if (id == 0u || id > NVME_MODEL_F_LAST - 1000)
        return; /* 0 (also what a short input reads) and large values: no fault */
    id--;
    /* The model indexes its CQ table with this value before range-checking it
     * (nvme_model_queue.c, nm_post): keep it to queue ids the model has. */
    if (1000 + id == NVME_MODEL_F_CQE_WRONG_CQ)
        value %= NVME_MODEL_MAX_IOQ + 1u;
    sim_fault_arm(h->fs.s, 1000 + id, skip, (count & 0x80u) ? UINT32_MAX : (count & 7u) + 1u,
                  filters[filter & 7u] | NVME_MODEL_FP_VALUE(value));
}

/* ---- requests -----------------------------------------------------------------------------------
 */

static void hdone(struct keel_blk_req *r)
{
    struct hreq *q = r->user;

    if (q == NULL || q->state != 1)
        fh_fail("nvme: request completed twice, or never submitted");
    if (r->status > 0 || r->status <= -KEEL_ERR_COUNT)
        fh_fail("nvme: request completed with status %d", r->status);
    if (q->buf != NULL && fsim_buf_mapped(&q->h->fs, q->buf, q->len))
        fh_fail("nvme: request completed while its buffer is still mapped for DMA");
    if (q->h->fs.s->log_to_stderr)
        fprintf(stderr, "nvme: request op %u lba %llu count %u: status %d\n", r->op,
                (unsigned long long)r->lba, r->count, r->status);
    free(q->mem);
    q->mem = q->buf = NULL;
    q->state = 0;
}

static struct keel_blkdev *pick_disk(struct h *h)
{
    unsigned n = keel_nvme_ns_count(h->c);
    struct keel_nvme_ns *ns = keel_nvme_ns_at(h->c, fz_below(&h->in, n ? n : 1u));

    return ns != NULL ? keel_nvme_ns_blkdev(ns) : NULL;
}

static void op_submit(struct h *h)
{
    struct keel_blkdev *bd = pick_disk(h);
    struct hreq *q = &h->req[fz_below(&h->in, NREQ)];
    uint8_t op = (uint8_t)fz_below(&h->in, 5), lmode = fz_u8(&h->in);
    uint32_t count = 1u + fz_below(&h->in, 64);
    uint8_t flags = (uint8_t)(fz_u8(&h->in) & 3u);
    uint16_t queue = (uint16_t)fz_below(&h->in, 5);
    uint32_t timeout = 1000u + 20u * (uint32_t)fz_u16(&h->in);
    size_t mis = fz_below(&h->in, 4096);
    uint64_t lba = fz_u16(&h->in), cap;
    int rc;

    if (bd == NULL || q->state != 0)
        return;
    cap = bd->info.sector_count;
    if ((lmode & 3u) == 1u)
        lba = cap > count ? cap - count : 0u;
    else if ((lmode & 3u) == 2u)
        lba = cap - count + 1u;
    else if (cap != 0u)
        lba %= cap;
    memset(&q->r, 0, sizeof(q->r));
    q->h = h;
    q->r.op = op;
    q->r.flags = flags;
    q->r.queue = queue;
    q->r.count = op == KEEL_BLK_OP_FLUSH ? 0u : count;
    q->r.lba = lba;
    q->r.timeout_us = timeout;
    q->r.done = hdone;
    q->r.user = q;
    q->len = 0;
    if (op == KEEL_BLK_OP_READ || op == KEEL_BLK_OP_WRITE) {
        q->len = (size_t)count * bd->info.sector_size;
        q->mem = malloc(q->len + mis);
        if (q->mem == NULL)
            abort();
        q->buf = q->mem + mis;
        memset(q->buf, 0x5c, q->len);
        q->r.buf = q->buf;
    }
    q->deadline = h->fs.s->now_us + timeout;
    q->state = 1;
    rc = keel_blk_submit(bd, &q->r);
    if (rc != KEEL_OK) {
        if (q->state != 1)
            fh_fail("nvme: done() ran for a request submit refused (%d)", rc);
        free(q->mem);
        q->mem = q->buf = NULL;
        q->state = 0;
    }
}

static unsigned in_flight(const struct h *h)
{
    unsigned i, n = 0;

    for (i = 0; i < NREQ; i++)
        n += h->req[i].state == 1 ? 1u : 0u;
    return n;
}

static void poll_all(struct h *h)
{
    unsigned i, q;

    for (i = 0; i < keel_nvme_ns_count(h->c); i++) {
        struct keel_blkdev *bd = keel_nvme_ns_blkdev(keel_nvme_ns_at(h->c, i));
        if (bd != NULL)
            for (q = 0; q < bd->info.queue_count; q++)
                (void)keel_blk_poll(bd, q, 0);
    }
}

/* ---- admin and extras ---------------------------------------------------------------------------
 */

static void op_identify(struct h *h)
{
    uint8_t *buf = malloc(4096);
    uint8_t cns = (uint8_t)fz_below(&h->in, 4);
    uint32_t nsid = fz_u8(&h->in);

    if (buf == NULL)
        abort();
    (void)keel_nvme_identify(h->c, cns, nsid == 0xffu ? 0xffffffffu : nsid, buf);
    free(buf);
}

static void op_features(struct h *h)
{
    uint8_t sel = fz_u8(&h->in), fid = fz_u8(&h->in);
    uint32_t v = fz_u32(&h->in), dw0 = 0;
    uint16_t k = 0;

    switch (sel & 7u) {
    case 0:
        (void)keel_nvme_get_features(h->c, fid, 0, v, &dw0);
        break;
    case 1:
        (void)keel_nvme_set_features(h->c, fid, 0, v, &dw0);
        break;
    case 2:
        (void)keel_nvme_set_write_cache(h->c, (v & 1u) != 0u);
        break;
    case 3:
        (void)keel_nvme_set_irq_coalescing(h->c, (uint8_t)v, (uint8_t)(v >> 8));
        break;
    case 4:
        (void)keel_nvme_set_arbitration(h->c, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                                        (uint8_t)(v >> 24));
        break;
    case 5:
        (void)keel_nvme_set_temp_threshold(h->c, v & 15u, (v & 16u) != 0u, (uint16_t)(v >> 16));
        break;
    default:
        (void)keel_nvme_get_temp_threshold(h->c, v & 15u, (v & 16u) != 0u, &k);
        break;
    }
}

static void op_logs(struct h *h)
{
    uint8_t sel = fz_u8(&h->in);

    switch (sel & 3u) {
    case 0: {
        struct keel_nvme_smart sm;
        (void)keel_nvme_smart_log(h->c, &sm);
        break;
    }
    case 1: {
        struct keel_nvme_error_entry e[8];
        unsigned n = 0, max = fz_below(&h->in, 9);
        if (keel_nvme_error_log(h->c, e, max, &n) == KEEL_OK && n > max)
            fh_fail("nvme: error log returned %u of at most %u entries", n, max);
        break;
    }
    case 2: {
        struct keel_nvme_fw_slots fw;
        unsigned i;
        if (keel_nvme_fw_slot_log(h->c, &fw) == KEEL_OK)
            for (i = 0; i < 7u; i++)
                if (memchr(fw.revision[i], '\0', sizeof(fw.revision[i])) == NULL)
                    fh_fail("nvme: firmware revision not terminated");
        break;
    }
    default: {
        uint32_t len = 4u * (1u + fz_below(&h->in, 1024));
        uint8_t lid = fz_u8(&h->in);
        uint64_t off = 4u * (uint64_t)fz_u16(&h->in);
        uint8_t *buf = malloc(len);
        if (buf == NULL)
            abort();
        (void)keel_nvme_get_log_page(h->c, lid, 0xffffffffu, off, buf, len, (sel & 4u) != 0u);
        free(buf);
        break;
    }
    }
}

static void op_passthru(struct h *h)
{
    struct keel_nvme_sqe cmd;
    uint32_t len = 4096u * fz_below(&h->in, 3), dw0 = 0;
    uint16_t status = 0;
    uint8_t *buf = len ? malloc(len) : NULL;

    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = fz_u8(&h->in);
    cmd.nsid = fz_u8(&h->in);
    cmd.cdw10 = fz_u32(&h->in);
    cmd.cdw11 = fz_u32(&h->in);
    keel_nvme_passthru_allow(h->c, fz_u8(&h->in));
    if (len != 0u && buf == NULL)
        abort();
    (void)keel_nvme_admin_passthru(h->c, &cmd, buf, len, &dw0, &status,
                                   1000u + 1000u * fz_u8(&h->in));
    keel_nvme_passthru_allow(h->c, 0);
    free(buf);
}

static void op_power(struct h *h)
{
    uint8_t sel = fz_u8(&h->in);
    unsigned ps = 0;

    switch (sel & 3u) {
    case 0:
        (void)keel_nvme_set_power_state(h->c, fz_below(&h->in, 40));
        break;
    case 1:
        if (keel_nvme_get_power_state(h->c, &ps) == KEEL_OK && ps > 31u)
            fh_fail("nvme: power state %u", ps);
        break;
    case 2:
        (void)keel_nvme_apst_enable(h->c, fz_u32(&h->in));
        break;
    default:
        (void)keel_nvme_apst_disable(h->c);
        break;
    }
}

static void op_dsm_compare(struct h *h, bool compare)
{
    unsigned n = keel_nvme_ns_count(h->c), q = fz_below(&h->in, 4);
    struct keel_nvme_ns *ns = keel_nvme_ns_at(h->c, fz_below(&h->in, n ? n : 1u));
    uint32_t timeout = 1000u + 1000u * fz_u8(&h->in);

    if (ns == NULL)
        return;
    if (compare) {
        uint32_t count = 1u + fz_below(&h->in, 8);
        uint64_t lba = fz_u8(&h->in);
        size_t len = (size_t)count << ns->lba_shift;
        uint8_t *buf = malloc(len);
        if (buf == NULL)
            abort();
        memset(buf, 0, len);
        (void)keel_nvme_ns_compare(ns, q, lba, count, buf, timeout);
        free(buf);
    } else {
        struct keel_nvme_range r[4];
        unsigned i, k = fz_below(&h->in, 5);
        for (i = 0; i < k; i++) {
            r[i].lba = fz_u16(&h->in);
            r[i].count = fz_u16(&h->in);
        }
        (void)keel_nvme_ns_deallocate(ns, q, r, k, timeout);
    }
}

static void on_event(void *arg, struct keel_nvme_ctrl *ctrl, const struct keel_nvme_event *ev)
{
    struct h *h = arg;

    (void)ctrl;
    h->events++;
    if (ev->type > 7u || ev->log_status > 0 || ev->log_status <= -KEEL_ERR_COUNT)
        fh_fail("nvme: event type %u log status %d", ev->type, ev->log_status);
}

static void op(struct h *h, unsigned o)
{
    switch (o) {
    case OP_SUBMIT:
        op_submit(h);
        break;
    case OP_POLL: {
        struct keel_blkdev *bd = pick_disk(h);
        unsigned q = fz_below(&h->in, 5), budget = fz_below(&h->in, 4);
        if (bd != NULL)
            (void)keel_blk_poll(bd, q, budget);
        break;
    }
    case OP_ADVANCE: {
        uint8_t a = fz_u8(&h->in);
        sim_advance(h->fs.s, (a & 0x80u) ? (uint64_t)(a & 0x7fu) * 100000u : (uint64_t)a * 50u);
        break;
    }
    case OP_SERVICE:
        (void)keel_nvme_service(h->c);
        break;
    case OP_CHECK_TIMEOUTS:
        (void)keel_nvme_check_timeouts(h->c, fz_below(&h->in, 5));
        break;
    case OP_RESET:
        (void)keel_nvme_reset(h->c);
        break;
    case OP_IDENTIFY:
        op_identify(h);
        break;
    case OP_FEATURES:
        op_features(h);
        break;
    case OP_LOGS:
        op_logs(h);
        break;
    case OP_PASSTHRU:
        op_passthru(h);
        break;
    case OP_POWER:
        op_power(h);
        break;
    case OP_TEMPERATURE: {
        uint16_t k = 0;
        (void)keel_nvme_temperature(h->c, &k);
        break;
    }
    case OP_DEALLOCATE:
        op_dsm_compare(h, false);
        break;
    case OP_COMPARE:
        op_dsm_compare(h, true);
        break;
    case OP_BATCH: {
        unsigned q = fz_below(&h->in, 4), n = 1u + fz_below(&h->in, 4), i;
        keel_nvme_batch_begin(h->c, q);
        for (i = 0; i < n; i++)
            op_submit(h);
        keel_nvme_batch_end(h->c, q);
        break;
    }
    case OP_MUTATE:
        h->fs.budget += 1u + fz_below(&h->in, 8);
        break;
    case OP_POST_AER: {
        uint8_t t = fz_u8(&h->in), info = fz_u8(&h->in), log = fz_u8(&h->in);
        nvme_model_post_aer(h->m, t & 7u, info, log);
        break;
    }
    case OP_HEALTH: {
        uint8_t sel = fz_u8(&h->in);
        if (sel & 1u)
            nvme_model_set_temperature(h->m, (uint16_t)(250u + fz_u8(&h->in)));
        else
            nvme_model_set_critical_warning(h->m, fz_u8(&h->in));
        break;
    }
    case OP_WRITE_PROTECT:
        nvme_model_set_write_protect(h->m, 1u + fz_below(&h->in, 3), (fz_u8(&h->in) & 1u) != 0u);
        break;
    case OP_SURPRISE:
        if (fz_u8(&h->in) == 0x5au) { /* rare: it ends the controller's life */
            nvme_model_surprise_remove(h->m);
            h->gone = true;
        }
        break;
    case OP_RELEASE:
        nvme_model_release_held(h->m);
        break;
    case OP_CSTS_GLITCH:
        h->glitch = true;
        h->glitch_val = fz_u32(&h->in);
        break;
    case OP_MODE:
        nvme_model_set_mode(h->m, (fz_u8(&h->in) & 1u) ? NVME_MODEL_DEFERRED : NVME_MODEL_IMMEDIATE,
                            1u + fz_u8(&h->in));
        break;
    default:
        break;
    }
}

/* ---- set-up and the end
 * --------------------------------------------------------------------------- */

static void ns_cfg(struct nvme_model_ns_cfg *ns, uint32_t nsid, bool k4, bool meta, bool wp)
{
    ns->active = true;
    ns->nsid = nsid;
    ns->nsze = k4 ? 128u : 1024u;
    ns->ncap = 0;
    ns->nlbaf = 4;
    ns->lbaf[0] = (struct nvme_model_lbaf){9, 0, 0};
    ns->lbaf[1] = (struct nvme_model_lbaf){9, 8, 0};
    ns->lbaf[2] = (struct nvme_model_lbaf){12, 0, 0};
    ns->lbaf[3] = (struct nvme_model_lbaf){12, 64, 0};
    ns->flbas = (uint8_t)((k4 ? 2u : 0u) + (meta ? 1u : 0u));
    ns->extended = false;
    ns->write_protected = wp;
}

static void parse_header(struct h *h)
{
    uint8_t b0 = fz_u8(&h->in), b1 = fz_u8(&h->in), b2 = fz_u8(&h->in), b3 = fz_u8(&h->in);
    uint8_t b4 = fz_u8(&h->in), b5 = fz_u8(&h->in), b6 = fz_u8(&h->in), b7 = fz_u8(&h->in);
    unsigned i, nns = 1u + ((b2 >> 4) & 3u);

    nvme_model_cfg_default(&h->mc);
    h->mc.bar0_addr = BAR0;
    h->mc.mode = (b0 & 0x80u) ? NVME_MODEL_DEFERRED : NVME_MODEL_IMMEDIATE;
    h->mc.msix_vectors = (b0 & 3u) == KEEL_NVME_IRQ_INTX ? 0u : 16u;
    h->mc.mdts = (uint8_t)(b3 & 7u);
    h->mc.oncs = (uint16_t)(b4 & 0x0du);
    h->mc.vwc = (b2 & 0x80u) != 0u;
    h->mc.reject_cns_active_list = (b2 & 0x40u) != 0u;
    h->mc.aerl = (uint8_t)(b5 & 3u);
    h->mc.acl = (uint8_t)((b5 >> 2) & 3u);
    h->mc.npsd = (uint8_t)(1u + ((b5 >> 4) & 3u));
    for (i = 1; i < h->mc.npsd; i++)
        h->mc.psd[i] = (struct nvme_model_psd){(uint16_t)(500u * i), i >= 2u, 100u * i, 50u * i};
    h->mc.apst = (b5 & 0x40u) != 0u;
    h->mc.rtd3e_us = (b5 & 0x80u) ? 2000000u : 0u;
    h->mc.nn = (b4 & 0x80u) ? 8u : nns;
    for (i = 0; i < nns; i++)
        ns_cfg(&h->mc.ns[i], i + 1u, (b2 & 1u) != 0u, i == 0u && (b2 & 2u) != 0u,
               i == 1u && (b2 & 4u) != 0u);
    h->fs.s->map_mode = (enum sim_map_mode)(((b0 >> 2) & 3u) % 3u);
    memset(&h->cfg, 0, sizeof(h->cfg));
    h->cfg.pci = h->mc.pci;
    h->cfg.irq_mode = (uint8_t)(b0 & 3u);
    h->cfg.flags =
        ((b0 & 0x20u) ? KEEL_NVME_F_DEFERRED_RESET : 0u) | ((b0 & 0x40u) ? KEEL_NVME_F_NO_AER : 0u);
    h->cfg.io_queues = (uint16_t)(b1 & 7u) > KEEL_CONFIG_NVME_MAX_IO_QUEUES
                           ? KEEL_CONFIG_NVME_MAX_IO_QUEUES
                           : (uint16_t)(b1 & 7u);
    h->cfg.queue_depth = (b1 >> 3) ? (uint16_t)(1u + (b1 >> 3)) : 0u;
    h->cfg.admin_timeout_us = 1000u + 400u * b7;
    h->cfg.event = on_event;
    h->cfg.event_arg = h;
    h->fs.budget = b6;
    arm_fault(h);
    arm_fault(h);
    /* CAP: MQES, CQR, TO (low nibble); DSTRD, NSSRS, CSS, MPSMIN, MPSMAX. */
    h->cap_xor = (uint64_t)(fz_u32(&h->in) & 0x0f01ffffu);
    h->cap_xor |= (uint64_t)(fz_u32(&h->in) & 0x00ff1fffu) << 32;
    h->vs = fz_u32(&h->in);
}

static void finish_requests(struct h *h)
{
    uint64_t last = h->fs.s->now_us;
    unsigned i;

    for (i = 0; i < NREQ; i++)
        if (h->req[i].state == 1 && h->req[i].deadline > last)
            last = h->req[i].deadline;
    h->fs.budget = 0;
    nvme_model_set_mode(h->m, NVME_MODEL_IMMEDIATE, 0);
    while (in_flight(h) != 0u) {
        poll_all(h);
        (void)keel_nvme_service(h->c);
        sim_advance(h->fs.s, FINAL_STEP);
        if (h->fs.s->now_us > last + SLACK_US)
            fh_fail("nvme: %u request(s) still open %llu us after the last deadline", in_flight(h),
                    (unsigned long long)(h->fs.s->now_us - last));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct h *h = calloc(1, sizeof(*h));
    unsigned i, ops;
    int rc;

    if (h == NULL || (h->c = calloc(1, sizeof(*h->c))) == NULL)
        abort();
    fz_init(&h->in, data, size);
    fsim_init(&h->fs, &h->in, ARENA, 4);
    h->fs.delay_min_us = 2000;
    h->fs.reg32 = reg32;
    h->fs.mutate = mutate;
    h->fs.arg = h;
    parse_header(h);
    h->m = nvme_model_create(h->fs.s, &h->mc);
    if (h->m == NULL)
        fh_fail("nvme model refused its configuration: %s", h->fs.s->last_violation);
    rc = keel_nvme_attach(h->c, &h->fs.hal, &h->cfg);
    if (h->fs.s->log_to_stderr)
        fprintf(stderr, "nvme: attach %d, %u namespace(s), %u I/O queue(s)\n", rc,
                keel_nvme_ns_count(h->c), keel_nvme_io_queue_count(h->c));
    if (rc == KEEL_OK) {
        for (ops = 0; FUZZ_NVME_OPS && ops < MAX_OPS && fz_left(&h->in) > 0u; ops++)
            op(h, fz_below(&h->in, OP_COUNT));
        finish_requests(h);
        (void)keel_nvme_detach(h->c);
        if (in_flight(h) != 0u)
            fh_fail("nvme: %u request(s) never completed after detach", in_flight(h));
    } else if (keel_nvme_life(h->c) != KEEL_NVME_LIFE_DOWN) {
        fh_fail("nvme: attach failed (%d) but the controller is not down", rc);
    }
    nvme_model_destroy(h->m);
    fsim_finish(&h->fs, true);
    for (i = 0; i < NREQ; i++)
        free(h->req[i].mem);
    free(h->c);
    free(h);
    return 0;
}
