/* SPDX-License-Identifier: MIT */
/*
 * vscsi_dev.c - the virtio-scsi device backend for host tests (see vscsi_dev.h): configuration,
 * request queue framing around the SCSI target model, the control queue (task management,
 * asynchronous notification), the event queue (buffers kept until an event is posted), reset.
 */
#include <stdlib.h>
#include <string.h>

#include "vscsi_dev.h"

#define CFG_SIZE      36u
#define REQ_HDR       19u
#define RESP_HDR      12u
#define EVENT_BYTES   16u
#define MAX_EV_CHAINS 1024u
#define RAW_EV_MAX    32u

#define T_TMF          0u
#define T_AN_QUERY     1u
#define T_AN_SUBSCRIBE 2u

#define S_OK                 0u
#define S_BAD_TARGET         3u
#define S_FAILURE            9u
#define S_FUNCTION_SUCCEEDED 10u
#define S_FUNCTION_REJECTED  11u
#define S_INCORRECT_LUN      12u

#define EVT_TRANSPORT_RESET 1u
#define EVT_PARAM_CHANGE    3u
#define EVT_MISSED          0x80000000u

/* One request-queue command the SCSI model holds (its buffers must stay until it completes). */
struct held {
    struct held *next;
    struct vmodel_chain *c;
    uint64_t tag;
    uint8_t target;
    uint32_t lun;
    uint32_t hdr, resp, out_len, in_len, sense_size;
    uint64_t log_idx;
    bool dead;
    uint8_t cdb[REQ_HDR + 256]; /* the request header: 19 bytes, then cdb_size (< 256) */
    uint8_t *out, *in, *sense;
};

struct raw_event {
    uint32_t event, reason;
    uint8_t lun[8];
};

struct vscsi_dev {
    struct vscsi_dev_cfg cfg;
    struct sim *s;
    struct scsi_model *sm;
    struct vmodel *m;
    int poller;
    uint64_t neg;
    uint32_t sense_size, cdb_size;
    struct held *held;
    unsigned nheld;
    struct vmodel_chain *ev[MAX_EV_CHAINS];
    unsigned nev;
    struct vmodel_chain *tmf_hung[64];
    unsigned ntmf_hung;
    struct raw_event raw[RAW_EV_MAX];
    unsigned nraw;
    struct vscsi_dev_stats st;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

/*
 * Fields the driver and device share (request header id, response sense_len / residual, control
 * requests, events, device config) are little-endian on the modern interface and guest-endian on
 * the legacy one (VIRTIO 1.2 5.6.6 legacy notes, 4.1.4.8 / 4.2.4). The guest is the host here, so
 * legacy fields are plain host-order stores (big-endian under tools/test-bigendian), as the virtio
 * model does for its rings (vmodel_is_legacy).
 */
static bool guest_native(const struct vscsi_dev *d)
{
    return d->m != NULL && vmodel_is_legacy(d->m);
}
static void gput16(const struct vscsi_dev *d, uint8_t *p, uint16_t v)
{
    if (guest_native(d))
        memcpy(p, &v, sizeof(v));
    else
        put16(p, v);
}
static void gput32(const struct vscsi_dev *d, uint8_t *p, uint32_t v)
{
    if (guest_native(d))
        memcpy(p, &v, sizeof(v));
    else
        put32(p, v);
}
static uint32_t gget32(const struct vscsi_dev *d, const uint8_t *p)
{
    uint32_t v;

    if (!guest_native(d))
        return get32(p);
    memcpy(&v, p, sizeof(v));
    return v;
}
static uint64_t gget64(const struct vscsi_dev *d, const uint8_t *p)
{
    uint64_t v;

    if (!guest_native(d))
        return get64(p);
    memcpy(&v, p, sizeof(v));
    return v;
}

static void shape_error(struct vscsi_dev *d, const char *what, unsigned q)
{
    d->st.shape_errors++;
    sim_violation(d->s, "virtio-scsi model: queue %u: %s", q, what);
}

/* ---- configuration (5.6.4) ------------------------------------------------------------------- */

static uint64_t dev_features(void *ctx)
{
    struct vscsi_dev *d = ctx;
    return d->cfg.features;
}

static unsigned dev_num_queues(void *ctx)
{
    struct vscsi_dev *d = ctx;
    return 2u + (d->cfg.num_queues ? d->cfg.num_queues : 1u);
}

static uint32_t dev_config_size(void *ctx)
{
    (void)ctx;
    return CFG_SIZE;
}

static unsigned dev_config_width(void *ctx, uint32_t off)
{
    (void)ctx;
    return (off == 28u || off == 30u || off == 29u || off == 31u) ? 2u : 4u;
}

static void build_config(const struct vscsi_dev *d, uint8_t *c)
{
    memset(c, 0, CFG_SIZE);
    gput32(d, c + 0, d->cfg.num_queues ? d->cfg.num_queues : 1u);
    gput32(d, c + 4, d->cfg.seg_max);
    gput32(d, c + 8, d->cfg.max_sectors);
    gput32(d, c + 12, d->cfg.cmd_per_lun);
    gput32(d, c + 16, d->cfg.event_info_size);
    gput32(d, c + 20, d->sense_size);
    gput32(d, c + 24, d->cdb_size);
    gput16(d, c + 28, d->cfg.max_channel);
    gput16(d, c + 30, d->cfg.max_target);
    gput32(d, c + 32, d->cfg.max_lun);
}

static uint32_t dev_config_read(void *ctx, uint32_t off, unsigned width)
{
    uint8_t c[CFG_SIZE];
    uint32_t v = 0;
    unsigned i;

    build_config(ctx, c);
    for (i = 0; i < width && off + i < CFG_SIZE; i++)
        v |= (uint32_t)c[off + i] << (8u * i);
    return v;
}

static void dev_config_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
    struct vscsi_dev *d = ctx;
    uint8_t b[4];

    if ((off == 20u || off == 24u) && width == 4u) {
        /* The transports hand over the bytes as the little-endian bus carries them; the field
         * itself is in guest order. */
        put32(b, val);
        val = gget32(d, b);
        d->st.size_writes++;
        /* QEMU refuses these as a device error; the spec leaves them undefined. */
        if ((off == 20u && val >= 65536u) || (off == 24u && val >= 256u)) {
            shape_error(d, "sense_size / cdb_size out of range", 0);
            return;
        }
        if (d->cfg.ignore_size_writes)
            return;
        if (off == 20u)
            d->sense_size = val;
        else
            d->cdb_size = val;
        return;
    }
    shape_error(d, "write to a read-only configuration field", 0);
}

static bool dev_features_ok(void *ctx, uint64_t negotiated)
{
    struct vscsi_dev *d = ctx;
    d->neg = negotiated;
    return true;
}

/* ---- held commands ----------------------------------------------------------------------------
 */

static void held_unlink(struct vscsi_dev *d, struct held *h)
{
    struct held **pp;

    for (pp = &d->held; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            d->nheld--;
            return;
        }
    }
}

static struct held *held_find(struct vscsi_dev *d, uint64_t tag)
{
    struct held *h;

    for (h = d->held; h != NULL; h = h->next)
        if (h->tag == tag && !h->dead)
            return h;
    return NULL;
}

static unsigned held_on_lun(const struct vscsi_dev *d, uint8_t target, uint32_t lun)
{
    const struct held *h;
    unsigned n = 0;

    for (h = d->held; h != NULL; h = h->next)
        if (!h->dead && h->target == target && h->lun == lun)
            n++;
    return n;
}

static struct held *held_new(uint32_t out_len, uint32_t in_len, uint32_t sense_size)
{
    struct held *h = calloc(1, sizeof(*h) + out_len + in_len + sense_size + 1u);

    if (h == NULL)
        abort();
    h->out = (uint8_t *)(h + 1);
    h->in = h->out + out_len;
    h->sense = h->in + in_len;
    h->out_len = out_len;
    h->in_len = in_len;
    h->sense_size = sense_size;
    return h;
}

static struct vscsi_cmd_log *log_at(struct vscsi_dev *d, uint64_t idx)
{
    if (idx >= d->st.log_total || d->st.log_total - idx > VSCSI_DEV_LOG)
        return NULL;
    return &d->st.log[idx % VSCSI_DEV_LOG];
}

/* Write the response (and data-in) of a command into its chain; returns the used length. */
static uint32_t finish(struct vscsi_dev *d, struct held *h, const struct scsi_model_result *r)
{
    struct vmodel_chain *c = h->c;
    uint8_t resp[RESP_HDR + 256];
    uint32_t sense_len = 0, residual, in_done = 0, used;
    uint64_t p;
    uint8_t response = (uint8_t)r->response, status = 0;
    struct vscsi_cmd_log *lg = log_at(d, h->log_idx);

    memset(resp, 0, sizeof(resp));
    residual = h->in_len + h->out_len;
    if (r->response == SCSI_MODEL_RESP_OK) {
        status = r->status;
        sense_len = r->sense_len < h->sense_size ? r->sense_len : h->sense_size;
        in_done = r->in_len < h->in_len ? r->in_len : h->in_len;
        if (h->in_len != 0u)
            residual = h->in_len - in_done;
        else
            residual = status == 0u ? 0u : h->out_len;
        memcpy(resp + RESP_HDR, h->sense, sense_len);
        if (status == 2u && sim_fault_hit(d->s, VSCSI_FAULT_SENSE_LEN_LIE, &p))
            sense_len = h->sense_size + (uint32_t)(p ? p : 1u);
        if (h->in_len + h->out_len != 0u && sim_fault_hit(d->s, VSCSI_FAULT_RESIDUAL_LIE, &p))
            residual = h->in_len + h->out_len + (uint32_t)(p ? p : 1u);
    }
    if (sim_fault_hit(d->s, VSCSI_FAULT_RESP_GARBAGE, &p))
        response = (uint8_t)(p ? p : 0x7eu);
    gput32(d, resp, sense_len);
    gput32(d, resp + 4, residual);
    resp[10] = status;
    resp[11] = response;
    if (in_done != 0u)
        vmodel_chain_write(d->m, c, h->resp, h->in, in_done);
    used = h->resp + in_done;
    if (lg != NULL) {
        lg->response = response;
        lg->status = status;
    }
    d->st.responses[response & 15u]++;
    if (sim_fault_hit(d->s, VSCSI_FAULT_RESP_UNWRITTEN, NULL))
        return in_done;
    vmodel_chain_write(d->m, c, 0, resp, h->resp);
    return used;
}

/* The SCSI model completes a held command (abort, reset, release, unplug). */
static void model_complete(void *ctx, uint64_t tag, const struct scsi_model_result *r)
{
    struct vscsi_dev *d = ctx;
    struct held *h;
    uint32_t used;

    for (h = d->held; h != NULL; h = h->next)
        if (h->tag == tag)
            break;
    if (h == NULL)
        return;
    held_unlink(d, h);
    if (!h->dead) {
        used = finish(d, h, r);
        vmodel_complete(d->m, h->c, used);
    }
    free(h);
}

/* ---- request queues (5.6.6.1) ------------------------------------------------------------------
 */

static unsigned count_segs(const struct vmodel_seg *s, unsigned n, uint64_t start, uint64_t len)
{
    uint64_t pos = 0, end = start + len;
    unsigned i, cnt = 0;

    for (i = 0; i < n; i++) {
        uint64_t lo = pos > start ? pos : start;
        uint64_t hi = pos + s[i].len < end ? pos + s[i].len : end;
        if (hi > lo)
            cnt++;
        pos += s[i].len;
    }
    return cnt;
}

/* lun[8] -> target/LUN; false when the address has a shape the device does not serve. */
static bool decode_lun(struct vscsi_dev *d, const uint8_t *l, uint8_t *target, uint32_t *lun,
                       bool *flat)
{
    if (l[0] != 1u || l[4] != 0u || l[5] != 0u || l[6] != 0u || l[7] != 0u)
        return false;
    if (l[1] > d->cfg.max_target)
        return false;
    *target = l[1];
    switch (l[2] >> 6) {
    case 0: /* peripheral device addressing, bus 0 */
        if (l[2] != 0u)
            return false;
        *lun = l[3];
        *flat = false;
        return true;
    case 1: /* flat space addressing */
        *lun = ((uint32_t)(l[2] & 0x3fu) << 8) | l[3];
        *flat = true;
        return true;
    default:
        return false;
    }
}

static void check_limits(struct vscsi_dev *d, struct vmodel_chain *c, struct held *h,
                         struct vscsi_cmd_log *lg)
{
    uint32_t bytes = h->out_len > h->in_len ? h->out_len : h->in_len;

    lg->out_segs = count_segs(c->rd, c->nrd, h->hdr, h->out_len);
    lg->in_segs = count_segs(c->wr, c->nwr, h->resp, h->in_len);
    if (lg->out_segs > d->st.max_data_segs)
        d->st.max_data_segs = lg->out_segs;
    if (lg->in_segs > d->st.max_data_segs)
        d->st.max_data_segs = lg->in_segs;
    if (bytes > d->st.max_data_bytes)
        d->st.max_data_bytes = bytes;
    if (d->cfg.seg_max != 0u && (lg->out_segs > d->cfg.seg_max || lg->in_segs > d->cfg.seg_max))
        shape_error(d, "command with more data segments than seg_max", c->queue);
    if (d->cfg.max_sectors != 0u && (uint64_t)bytes > (uint64_t)d->cfg.max_sectors * 512u)
        shape_error(d, "command with more data than max_sectors", c->queue);
}

static struct vscsi_cmd_log *log_new(struct vscsi_dev *d)
{
    struct vscsi_cmd_log *lg = &d->st.log[d->st.log_total % VSCSI_DEV_LOG];

    memset(lg, 0, sizeof(*lg));
    d->st.log_total++;
    return lg;
}

/* A command the device answers at once without running it. */
static int64_t answer_now(struct vscsi_dev *d, struct held *h, enum scsi_model_response resp)
{
    struct scsi_model_result r;
    uint32_t used;

    memset(&r, 0, sizeof(r));
    r.response = resp;
    used = finish(d, h, &r);
    free(h);
    return used;
}

/*
 * Every header byte the driver does not mean to set must be zero: task attribute SIMPLE, priority
 * and CRN 0 (5.6.6.1.2), and the CDB field past the 16 bytes a Keel CDB ever takes (the driver
 * zeroes that part once, when it allocates the slots, and never writes it again).
 */
static void check_header_zeroes(struct vscsi_dev *d, const uint8_t *h, uint32_t hdr, unsigned queue)
{
    uint32_t i;

    for (i = 16u; i < REQ_HDR; i++)
        if (h[i] != 0u) {
            shape_error(d, "task attribute, priority or CRN not zero", queue);
            break;
        }
    for (i = REQ_HDR + 16u; i < hdr; i++)
        if (h[i] != 0u) {
            shape_error(d, "CDB field beyond 16 bytes not zero", queue);
            break;
        }
}

static int64_t handle_req(struct vscsi_dev *d, struct vmodel_chain *c)
{
    uint32_t hdr = REQ_HDR + d->cdb_size, resp = RESP_HDR + d->sense_size;
    struct scsi_model_result res;
    struct scsi_model_cmd cmd;
    struct vscsi_cmd_log *lg;
    uint8_t target = 0;
    uint32_t lun = 0;
    bool flat = false;
    struct held *h;

    d->st.cmds++;
    d->st.cmds_per_queue[c->queue]++;
    if (c->rd_len < hdr || c->wr_len < resp) {
        shape_error(d, "request without a full header or response area", c->queue);
        return 0;
    }
    h = held_new((uint32_t)(c->rd_len - hdr), (uint32_t)(c->wr_len - resp), d->sense_size);
    h->c = c;
    h->hdr = hdr;
    h->resp = resp;
    if (!vmodel_chain_read(d->m, c, 0, h->cdb, hdr) ||
        (h->out_len != 0u && !vmodel_chain_read(d->m, c, hdr, h->out, h->out_len))) {
        free(h);
        return 0;
    }
    check_header_zeroes(d, h->cdb, hdr, c->queue);
    h->tag = gget64(d, h->cdb + 8);
    h->log_idx = d->st.log_total;
    lg = log_new(d);
    lg->queue = c->queue;
    lg->tag = h->tag;
    lg->out_len = h->out_len;
    lg->in_len = h->in_len;
    memcpy(lg->cdb, h->cdb + REQ_HDR, d->cdb_size < 16u ? d->cdb_size : 16u);
    check_limits(d, c, h, lg);
    if (!decode_lun(d, h->cdb, &target, &lun, &flat))
        return answer_now(d, h, SCSI_MODEL_RESP_BAD_TARGET);
    lg->target = h->target = target;
    lg->lun = h->lun = lun;
    lg->flat = flat;
    if (flat)
        d->st.flat_luns++;
    else
        d->st.peripheral_luns++;
    if (h->out_len != 0u && h->in_len != 0u && !(d->neg & VSCSI_F_INOUT))
        return answer_now(d, h, SCSI_MODEL_RESP_FAILURE); /* 5.6.6.1.1 */
    if (held_find(d, h->tag) != NULL)
        shape_error(d, "command id reused while the previous one is in flight", c->queue);
    memset(&cmd, 0, sizeof(cmd));
    cmd.tag = h->tag;
    cmd.target = target;
    cmd.lun = lun;
    cmd.cdb = h->cdb + REQ_HDR;
    cmd.cdb_len = d->cdb_size;
    cmd.data_out = h->out;
    cmd.out_len = h->out_len;
    cmd.data_in = h->in;
    cmd.in_cap = h->in_len;
    cmd.sense = h->sense;
    cmd.sense_cap = h->sense_size;
    h->next = d->held; /* listed first: a completion from inside submit must find it */
    d->held = h;
    d->nheld++;
    if (scsi_model_submit(d->sm, &cmd, &res) == SCSI_MODEL_RESP_PENDING) {
        unsigned n = held_on_lun(d, target, lun);
        if (n > d->st.max_held_on_lun)
            d->st.max_held_on_lun = n;
        if (d->cfg.cmd_per_lun != 0u && n > d->cfg.cmd_per_lun)
            shape_error(d, "more commands on one LUN than cmd_per_lun", c->queue);
        return VMODEL_DEFER;
    }
    held_unlink(d, h);
    {
        uint32_t used = finish(d, h, &res);
        free(h);
        return used;
    }
}

/* ---- control queue (5.6.6.2) ------------------------------------------------------------------
 */

static enum scsi_model_tmf_result abort_set(struct vscsi_dev *d, uint8_t target, uint32_t lun)
{
    uint64_t tags[256];
    unsigned n = 0, i;
    struct held *h;

    if (!scsi_model_target_present(d->sm, target))
        return SCSI_MODEL_TMF_BAD_TARGET;
    if (!scsi_model_lun_present(d->sm, target, lun))
        return SCSI_MODEL_TMF_INCORRECT_LUN;
    for (h = d->held; h != NULL && n < 256u; h = h->next)
        if (!h->dead && h->target == target && h->lun == lun)
            tags[n++] = h->tag;
    for (i = 0; i < n; i++)
        (void)scsi_model_abort_task(d->sm, target, lun, tags[i]);
    return SCSI_MODEL_TMF_COMPLETE;
}

static uint8_t run_tmf(struct vscsi_dev *d, uint32_t subtype, const uint8_t *l, uint64_t id)
{
    uint8_t target = 0;
    uint32_t lun = 0;
    bool flat;
    struct held *h;

    if (!decode_lun(d, l, &target, &lun, &flat))
        return S_BAD_TARGET;
    switch (subtype) {
    case 0: /* ABORT TASK */
        return (uint8_t)scsi_model_abort_task(d->sm, target, lun, id);
    case 1: /* ABORT TASK SET */
    case 3: /* CLEAR TASK SET */
        return (uint8_t)abort_set(d, target, lun);
    case 2: /* CLEAR ACA */
        return S_OK;
    case 4: /* I_T NEXUS RESET */
        return (uint8_t)scsi_model_it_nexus_reset(d->sm, target);
    case 5: /* LOGICAL UNIT RESET */
        return (uint8_t)scsi_model_lun_reset(d->sm, target, lun);
    case 6: /* QUERY TASK */
        h = held_find(d, id);
        return (h != NULL && h->target == target && h->lun == lun) ? S_FUNCTION_SUCCEEDED : S_OK;
    case 7: /* QUERY TASK SET */
        return held_on_lun(d, target, lun) != 0u ? S_FUNCTION_SUCCEEDED : S_OK;
    default:
        return S_FUNCTION_REJECTED;
    }
}

static int64_t handle_tmf(struct vscsi_dev *d, struct vmodel_chain *c, const uint8_t *req)
{
    uint32_t subtype = gget32(d, req + 4);
    uint8_t r;

    if (c->rd_len < 24u || c->wr_len < 1u) {
        shape_error(d, "TMF request shorter than struct virtio_scsi_ctrl_tmf", c->queue);
        return 0;
    }
    d->st.tmfs[subtype & 7u]++;
    if (sim_fault_hit(d->s, VSCSI_FAULT_TMF_HANG, NULL) && d->ntmf_hung < 64u) {
        d->tmf_hung[d->ntmf_hung++] = c;
        return VMODEL_DEFER;
    }
    if (sim_fault_hit(d->s, VSCSI_FAULT_TMF_IGNORE, NULL))
        r = S_OK;
    else
        r = run_tmf(d, subtype, req + 8, gget64(d, req + 16));
    d->st.tmf_results[r & 15u]++;
    vmodel_chain_write(d->m, c, 0, &r, 1);
    return 1;
}

static int64_t handle_ctrl(struct vscsi_dev *d, struct vmodel_chain *c)
{
    uint8_t req[24] = {0}, resp[5] = {0};
    uint32_t type;

    size_t n = c->rd_len >= 24u ? 24u : (c->rd_len >= 16u ? 16u : 4u);

    if (c->rd_len < 4u || !vmodel_chain_read(d->m, c, 0, req, n)) {
        shape_error(d, "control request without a type", c->queue);
        return 0;
    }
    type = gget32(d, req);
    if (type == T_TMF)
        return handle_tmf(d, c, req);
    if (type == T_AN_QUERY || type == T_AN_SUBSCRIBE) {
        if (c->rd_len < 16u || c->wr_len < 5u) {
            shape_error(d, "AN request shorter than struct virtio_scsi_ctrl_an", c->queue);
            return 0;
        }
        if (type == T_AN_QUERY)
            d->st.an_queries++;
        else
            d->st.an_subscribes++;
        gput32(d, resp, 0); /* event_actual: none supported (QEMU) */
        resp[4] = S_OK;
        vmodel_chain_write(d->m, c, 0, resp, 5);
        return 5;
    }
    shape_error(d, "unknown control request type", c->queue);
    if (c->wr_len >= 1u) {
        resp[0] = S_FAILURE;
        vmodel_chain_write(d->m, c, 0, resp, 1);
        return 1;
    }
    return 0;
}

/* ---- event queue (5.6.6.3) ---------------------------------------------------------------------
 */

static bool device_live(const struct vscsi_dev *d)
{
    return d->m != NULL && (vmodel_status(d->m) & VMODEL_S_DRIVER_OK) && !vmodel_broken(d->m);
}

static void ev_post(struct vscsi_dev *d, uint32_t event, const uint8_t *lun, uint32_t reason)
{
    struct vmodel_chain *c = d->ev[0];
    uint8_t b[EVENT_BYTES];
    uint32_t used = EVENT_BYTES;
    uint64_t p;

    memmove(&d->ev[0], &d->ev[1], (d->nev - 1u) * sizeof(d->ev[0]));
    d->nev--;
    memset(b, 0, sizeof(b));
    gput32(d, b, event);
    memcpy(b + 4, lun, 8);
    gput32(d, b + 12, reason);
    if (sim_fault_hit(d->s, VSCSI_FAULT_EVENT_BAD_LUN, &p))
        b[4] = (uint8_t)(p ? p : 2u);
    if (sim_fault_hit(d->s, VSCSI_FAULT_EVENT_SHORT, &p))
        used = (uint32_t)p < EVENT_BYTES ? (uint32_t)p : EVENT_BYTES - 1u;
    vmodel_chain_write(d->m, c, 0, b, EVENT_BYTES);
    d->st.events_posted++;
    vmodel_complete(d->m, c, used);
}

static void lun_bytes(uint8_t *l, uint8_t target, uint32_t lun)
{
    memset(l, 0, 8);
    l[0] = 1;
    l[1] = target;
    if (lun >= 256u)
        l[2] = (uint8_t)(0x40u | (lun >> 8));
    l[3] = (uint8_t)lun;
}

/* Whether the negotiated features let the device report `ev` (5.6.6.3.2). */
static bool reportable(const struct vscsi_dev *d, const struct scsi_model_event *ev)
{
    if (ev->type == SCSI_MODEL_EV_TRANSPORT_RESET)
        return ev->reason == SCSI_MODEL_RESET_HARD || (d->neg & VSCSI_F_HOTPLUG);
    if (ev->type == SCSI_MODEL_EV_PARAM_CHANGE) {
        const struct scsi_model_lun_cfg *cfg = scsi_model_lun_get_cfg(d->sm, ev->target, ev->lun);
        return (d->neg & VSCSI_F_CHANGE) && (cfg == NULL || cfg->type != SCSI_MODEL_TYPE_CDROM);
    }
    return true;
}

unsigned vscsi_dev_post_events(struct vscsi_dev *d)
{
    unsigned n = 0;

    if (!device_live(d))
        return 0;
    while (d->nraw > 0u && d->nev > 0u) {
        struct raw_event r = d->raw[0];
        memmove(&d->raw[0], &d->raw[1], (d->nraw - 1u) * sizeof(d->raw[0]));
        d->nraw--;
        ev_post(d, r.event, r.lun, r.reason);
        n++;
    }
    for (;;) {
        struct scsi_model_event ev;
        uint8_t l[8];
        uint32_t event, reason = 0;

        if (d->nev == 0u) {
            /* No buffer: a real device drops the event and says so with the next one. */
            if (d->cfg.queue_events)
                break;
            while (scsi_model_event_count(d->sm) > 0u && scsi_model_event_pop(d->sm, &ev)) {
                d->st.events_dropped++;
                scsi_model_event_note_missed(d->sm);
            }
            break;
        }
        if (!scsi_model_event_pop(d->sm, &ev))
            break;
        if (!reportable(d, &ev)) {
            d->st.events_filtered++;
            if (!ev.missed)
                continue;
            ev.type = SCSI_MODEL_EV_NONE; /* still say that events were missed */
        }
        event = (uint32_t)ev.type | (ev.missed ? EVT_MISSED : 0u);
        if (ev.type == SCSI_MODEL_EV_TRANSPORT_RESET)
            reason = ev.reason;
        else if (ev.type == SCSI_MODEL_EV_PARAM_CHANGE)
            reason = (uint32_t)ev.asc | ((uint32_t)ev.ascq << 8);
        if (ev.type == SCSI_MODEL_EV_NONE)
            memset(l, 0, sizeof(l));
        else
            lun_bytes(l, ev.target, ev.lun);
        ev_post(d, event, l, reason);
        n++;
    }
    return n;
}

void vscsi_dev_push_raw_event(struct vscsi_dev *d, uint32_t event, const uint8_t lun[8],
                              uint32_t reason)
{
    if (d->nraw == RAW_EV_MAX)
        return;
    d->raw[d->nraw].event = event;
    d->raw[d->nraw].reason = reason;
    memcpy(d->raw[d->nraw].lun, lun, 8);
    d->nraw++;
}

static int64_t handle_event(struct vscsi_dev *d, struct vmodel_chain *c)
{
    if (c->nrd != 0u || c->wr_len < EVENT_BYTES) {
        shape_error(d, "event buffer not writable or shorter than struct virtio_scsi_event",
                    c->queue);
        return 0;
    }
    if (d->nev == MAX_EV_CHAINS) {
        shape_error(d, "too many event buffers", c->queue);
        return 0;
    }
    d->ev[d->nev++] = c;
    /* Post from a timer-free context later too; an event waiting for a buffer goes out now. */
    (void)vscsi_dev_post_events(d);
    return VMODEL_DEFER;
}

static void poll_events(void *arg)
{
    struct vscsi_dev *d = arg;

    /* With a buffer: post whatever is waiting (a pending "missed" included); without one: drop
       what happened, as the device has nowhere to put it. */
    if (d->nev != 0u || (!d->cfg.queue_events && scsi_model_event_count(d->sm) != 0u))
        (void)vscsi_dev_post_events(d);
}

/* ---- dispatch, reset
 * ----------------------------------------------------------------------------- */

static int64_t dev_handle(void *ctx, struct vmodel *m, struct vmodel_chain *c)
{
    struct vscsi_dev *d = ctx;

    d->m = m;
    if (c->queue == 0u)
        return handle_ctrl(d, c);
    if (c->queue == 1u)
        return handle_event(d, c);
    return handle_req(d, c);
}

/* Held commands of queue `q` (or all, q < 0) go: their chains belong to a reset ring now. */
static void drop_held(struct vscsi_dev *d, int q)
{
    struct held *h;
    uint64_t tags[1024];
    unsigned n = 0, i;

    for (h = d->held; h != NULL; h = h->next) {
        if (q < 0 || h->c->queue == (unsigned)q) {
            h->dead = true;
            if (n < 1024u)
                tags[n++] = h->tag;
        }
    }
    for (i = 0; i < n; i++) {
        for (h = d->held; h != NULL; h = h->next)
            if (h->tag == tags[i] && h->dead)
                break;
        if (h != NULL)
            (void)scsi_model_abort_task(d->sm, h->target, h->lun, h->tag); /* frees h */
    }
    /* What the model could not abort stays listed (dead) until it completes or the backend is
       destroyed: the model may still write its buffers. */
}

static void dev_reset(void *ctx)
{
    struct vscsi_dev *d = ctx;
    struct held *h;

    for (h = d->held; h != NULL; h = h->next)
        h->dead = true;
    scsi_model_reset(d->sm); /* held commands end (ignored: dead), 29/00 on every LUN */
    drop_held(d, -1);
    d->nev = 0;
    d->ntmf_hung = 0;
    d->neg = 0;
    d->sense_size = 96;
    d->cdb_size = 32;
}

static void dev_queue_reset(void *ctx, unsigned q)
{
    struct vscsi_dev *d = ctx;

    if (q == 0u)
        d->ntmf_hung = 0;
    else if (q == 1u)
        d->nev = 0;
    else
        drop_held(d, (int)q);
}

static void dev_attach(void *ctx, struct vmodel *m)
{
    struct vscsi_dev *d = ctx;
    d->m = m;
}

const struct vmodel_device_ops vscsi_dev_ops = {
    .name = "virtio-scsi",
    .device_id = VMODEL_ID_SCSI,
    .pci_class = 0x010000u,
    .attach = dev_attach,
    .features = dev_features,
    .num_queues = dev_num_queues,
    .config_size = dev_config_size,
    .config_width = dev_config_width,
    .config_read = dev_config_read,
    .config_write = dev_config_write,
    .features_ok = dev_features_ok,
    .handle = dev_handle,
    .reset = dev_reset,
    .queue_reset = dev_queue_reset,
};

/* ---- public API
 * ---------------------------------------------------------------------------------- */

void vscsi_dev_cfg_default(struct vscsi_dev_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->num_queues = 1;
    cfg->seg_max = 126;
    cfg->max_sectors = 0xffff;
    cfg->cmd_per_lun = 128;
    cfg->event_info_size = EVENT_BYTES;
    cfg->max_target = 255;
    cfg->max_lun = 16383;
    cfg->features = VSCSI_F_HOTPLUG | VSCSI_F_CHANGE;
}

struct vscsi_dev *vscsi_dev_create(struct sim *s, struct scsi_model *sm,
                                   const struct vscsi_dev_cfg *cfg)
{
    struct vscsi_dev *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->cfg = *cfg;
    d->s = s;
    d->sm = sm;
    d->sense_size = 96;
    d->cdb_size = 32;
    d->poller = sim_poller_add(s, poll_events, d);
    scsi_model_set_complete_cb(sm, model_complete, d);
    return d;
}

void vscsi_dev_destroy(struct vscsi_dev *d)
{
    struct held *h;

    if (d == NULL)
        return;
    if (d->poller >= 0)
        sim_poller_remove(d->s, d->poller);
    scsi_model_set_complete_cb(d->sm, NULL, NULL);
    scsi_model_drop_held(d->sm);
    while ((h = d->held) != NULL) {
        d->held = h->next;
        free(h);
    }
    free(d);
}

struct vmodel *vscsi_dev_pair_create(struct sim *s, const struct vmodel_cfg *mcfg,
                                     const struct vscsi_dev_cfg *dcfg, struct scsi_model *sm,
                                     struct vscsi_dev **out)
{
    struct vscsi_dev *d = vscsi_dev_create(s, sm, dcfg);
    struct vmodel *m;

    *out = NULL;
    if (d == NULL)
        return NULL;
    m = vmodel_create(s, mcfg, &vscsi_dev_ops, d);
    if (m == NULL) {
        vscsi_dev_destroy(d);
        return NULL;
    }
    d->m = m;
    *out = d;
    return m;
}

void vscsi_dev_pair_destroy(struct vmodel *m, struct vscsi_dev *d)
{
    if (d != NULL)
        d->m = NULL;
    vmodel_destroy(m);
    vscsi_dev_destroy(d);
}

unsigned vscsi_dev_event_bufs(const struct vscsi_dev *d)
{
    return d->nev;
}

unsigned vscsi_dev_held(const struct vscsi_dev *d)
{
    const struct held *h;
    unsigned n = 0;

    for (h = d->held; h != NULL; h = h->next)
        if (!h->dead)
            n++;
    return n;
}

uint32_t vscsi_dev_sense_size(const struct vscsi_dev *d)
{
    return d->sense_size;
}

uint32_t vscsi_dev_cdb_size(const struct vscsi_dev *d)
{
    return d->cdb_size;
}

uint64_t vscsi_dev_features(const struct vscsi_dev *d)
{
    return d->neg;
}

struct vscsi_dev_cfg *vscsi_dev_config(struct vscsi_dev *d)
{
    return &d->cfg;
}

const struct vscsi_dev_stats *vscsi_dev_stats(const struct vscsi_dev *d)
{
    return &d->st;
}

const struct vscsi_cmd_log *vscsi_dev_last(const struct vscsi_dev *d, unsigned i)
{
    if (i >= d->st.log_total || i >= VSCSI_DEV_LOG)
        return NULL;
    return &d->st.log[(d->st.log_total - 1u - i) % VSCSI_DEV_LOG];
}

const struct vscsi_cmd_log *vscsi_dev_find(const struct vscsi_dev *d, uint8_t op, uint8_t target,
                                           uint32_t lun)
{
    unsigned i;

    for (i = 0; i < VSCSI_DEV_LOG && i < d->st.log_total; i++) {
        const struct vscsi_cmd_log *l = vscsi_dev_last(d, i);
        if (l->cdb[0] == op && l->target == target && l->lun == lun)
            return l;
    }
    return NULL;
}
