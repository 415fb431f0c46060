/* SPDX-License-Identifier: MIT */
/*
 * scsi_model.c - the SCSI target model's topology, command entry point (transport checks, unit
 * attention, not-ready conditions, held commands), sense building, task management, events and
 * run-time changes (hot-plug, capacity, medium). Command bodies live in scsi_model_cmds.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_model_internal.h"

/* ---- topology ---- */

static struct sm_target *target_get(struct scsi_model *m, uint8_t target, bool create)
{
    if (m->targets[target] == NULL && create) {
        m->targets[target] = calloc(1, sizeof(struct sm_target));
        if (m->targets[target] == NULL)
            abort();
    }
    return m->targets[target];
}

/* Index of the first LU with lun >= key. */
static size_t lu_lower(const struct sm_target *t, uint32_t key)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->lus[mid]->lun < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct sm_lu *sm_lu_find(const struct scsi_model *m, uint8_t target, uint32_t lun)
{
    const struct sm_target *t = m->targets[target];
    size_t i;
    if (t == NULL)
        return NULL;
    i = lu_lower(t, lun);
    return (i < t->n && t->lus[i]->lun == lun) ? t->lus[i] : NULL;
}

static bool cfg_valid(const struct scsi_model_lun_cfg *c)
{
    uint32_t bs = c->block_size;
    if (c->type != SCSI_MODEL_TYPE_DISK && c->type != SCSI_MODEL_TYPE_CDROM)
        return false;
    if (bs < 512u || bs > 65536u || (bs & (bs - 1u)) != 0u)
        return false;
    if (c->nblocks > (UINT64_MAX >> 17))
        return false;
    if (!c->removable && c->nblocks == 0)
        return false;
    return true;
}

static void ua_push(struct sm_lu *lu, uint8_t asc, uint8_t ascq)
{
    unsigned i;
    for (i = 0; i < lu->n_ua; i++) {
        if (lu->ua[i].asc == asc && lu->ua[i].ascq == ascq)
            return;
    }
    if (lu->n_ua < SM_UA_MAX) {
        lu->ua[lu->n_ua].asc = asc;
        lu->ua[lu->n_ua].ascq = ascq;
        lu->n_ua++;
    }
}

static struct sm_ua ua_pop(struct sm_lu *lu)
{
    struct sm_ua u = lu->ua[0];
    lu->n_ua--;
    memmove(&lu->ua[0], &lu->ua[1], lu->n_ua * sizeof(lu->ua[0]));
    return u;
}

static void pad_default(char *dst, size_t cap, const char *dflt)
{
    if (dst[0] == '\0')
        snprintf(dst, cap, "%s", dflt);
}

int scsi_model_add_lun(struct scsi_model *m, uint8_t target, uint32_t lun,
                       const struct scsi_model_lun_cfg *cfg)
{
    struct sm_target *t;
    struct sm_lu *lu;
    size_t i;

    if (lun > SCSI_MODEL_MAX_LUN || !cfg_valid(cfg) || sm_lu_find(m, target, lun) != NULL)
        return -1;
    t = target_get(m, target, true);
    lu = calloc(1, sizeof(*lu));
    if (lu == NULL)
        abort();
    lu->lun = lun;
    lu->cfg = *cfg;
    if (!lu->cfg.removable)
        lu->cfg.medium_present = true;
    if (lu->cfg.removable && lu->cfg.nblocks == 0)
        lu->cfg.medium_present = false;
    pad_default(lu->cfg.vendor, sizeof(lu->cfg.vendor), "KEEL");
    pad_default(lu->cfg.product, sizeof(lu->cfg.product), "SIM DISK");
    pad_default(lu->cfg.revision, sizeof(lu->cfg.revision), "1.0");
    if (lu->cfg.serial[0] == '\0')
        snprintf(lu->cfg.serial, sizeof(lu->cfg.serial), "KS%u-%u", (unsigned)target,
                 (unsigned)lun);
    if (lu->cfg.power_on_ua)
        ua_push(lu, 0x29, 0x00);
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 8;
        struct sm_lu **nl = realloc(t->lus, ncap * sizeof(*nl));
        if (nl == NULL)
            abort();
        t->lus = nl;
        t->cap = ncap;
    }
    i = lu_lower(t, lun);
    memmove(&t->lus[i + 1], &t->lus[i], (t->n - i) * sizeof(t->lus[0]));
    t->lus[i] = lu;
    t->n++;
    return 0;
}

void scsi_model_set_target_flags(struct scsi_model *m, uint8_t target, unsigned flags)
{
    target_get(m, target, true)->flags = flags;
}

void scsi_model_lun_cfg_disk(struct scsi_model_lun_cfg *c, uint32_t block_size, uint64_t nblocks)
{
    memset(c, 0, sizeof(*c));
    c->type = SCSI_MODEL_TYPE_DISK;
    c->block_size = block_size;
    c->nblocks = nblocks;
    c->medium_present = true;
    c->dpofua = true;
    c->wce = true;
    c->power_on_ua = true;
    c->block_limits = true;
    c->max_xfer_blocks = 65535;
    snprintf(c->vendor, sizeof(c->vendor), "KEEL");
    snprintf(c->product, sizeof(c->product), "SIM DISK");
    snprintf(c->revision, sizeof(c->revision), "1.0");
}

void scsi_model_lun_cfg_cdrom(struct scsi_model_lun_cfg *c, uint64_t nblocks)
{
    memset(c, 0, sizeof(*c));
    c->type = SCSI_MODEL_TYPE_CDROM;
    c->block_size = 2048;
    c->nblocks = nblocks;
    c->removable = true;
    c->medium_present = nblocks != 0;
    c->write_protect = true;
    c->power_on_ua = true;
    snprintf(c->vendor, sizeof(c->vendor), "KEEL");
    snprintf(c->product, sizeof(c->product), "SIM CD-ROM");
    snprintf(c->revision, sizeof(c->revision), "1.0");
}

void scsi_model_add_standard_topology(struct scsi_model *m)
{
    struct scsi_model_lun_cfg c;
    uint32_t l;

    scsi_model_lun_cfg_disk(&c, 512, 8192);
    c.provisioning = true;
    c.max_unmap_lba_count = 1024;
    c.max_unmap_desc_count = 4;
    c.unmap_granularity = 8;
    c.max_xfer_blocks = 256;
    c.opt_xfer_blocks = 64;
    c.naa = 0x5000c50012345670ull;
    scsi_model_add_lun(m, 0, 0, &c);
    scsi_model_lun_cfg_disk(&c, 4096, 1024);
    c.write_protect = true;
    c.eui64 = 0x0011223344556677ull;
    scsi_model_add_lun(m, 0, 3, &c);
    scsi_model_lun_cfg_disk(&c, 512, 1ull << 33);
    c.dpofua = false;
    scsi_model_add_lun(m, 0, 7, &c);
    scsi_model_lun_cfg_cdrom(&c, 0);
    scsi_model_add_lun(m, 1, 0, &c);
    scsi_model_lun_cfg_disk(&c, 4096, 2048);
    c.desc_sense = true;
    scsi_model_add_lun(m, 2, 0, &c);
    scsi_model_lun_cfg_disk(&c, 512, 1024);
    scsi_model_add_lun(m, 3, 0, &c);
    scsi_model_add_lun(m, 3, 1, &c);
    scsi_model_set_target_flags(m, 3, SCSI_MODEL_TGT_NO_REPORT_LUNS);
    scsi_model_add_lun(m, 4, 2, &c);
    scsi_model_lun_cfg_disk(&c, 512, 64);
    for (l = 0; l < 300; l++)
        scsi_model_add_lun(m, 5, l, &c);
    scsi_model_clear_all_ua(m);
}

struct scsi_model *scsi_model_create(struct sim *s)
{
    struct scsi_model *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->sim = s;
    return m;
}

static void lu_free(struct sm_lu *lu)
{
    sm_media_free(&lu->media);
    free(lu);
}

void scsi_model_destroy(struct scsi_model *m)
{
    unsigned t;
    size_t i;
    if (m == NULL)
        return;
    for (t = 0; t <= SCSI_MODEL_MAX_TARGET; t++) {
        struct sm_target *tg = m->targets[t];
        if (tg == NULL)
            continue;
        for (i = 0; i < tg->n; i++)
            lu_free(tg->lus[i]);
        free(tg->lus);
        free(tg);
    }
    free(m->held);
    free(m);
}

bool scsi_model_target_present(const struct scsi_model *m, uint8_t target)
{
    return m->targets[target] != NULL && m->targets[target]->n > 0;
}

bool scsi_model_lun_present(const struct scsi_model *m, uint8_t target, uint32_t lun)
{
    return sm_lu_find(m, target, lun) != NULL;
}

unsigned scsi_model_lun_count(const struct scsi_model *m, uint8_t target)
{
    return m->targets[target] ? (unsigned)m->targets[target]->n : 0u;
}

const struct scsi_model_lun_cfg *scsi_model_lun_get_cfg(const struct scsi_model *m, uint8_t target,
                                                        uint32_t lun)
{
    const struct sm_lu *lu = sm_lu_find(m, target, lun);
    return lu ? &lu->cfg : NULL;
}

const struct scsi_model_lun_stats *scsi_model_lun_stats(const struct scsi_model *m, uint8_t target,
                                                        uint32_t lun)
{
    const struct sm_lu *lu = sm_lu_find(m, target, lun);
    return lu ? &lu->stats : NULL;
}

/* ---- faults, sense, data ---- */

static bool filter_match(uint32_t filter, const struct sm_ctx *c)
{
    if ((filter & (1u << 14)) != 0u &&
        (((filter >> 16) & 0xffu) != c->cmd->target || (filter & 0x3fffu) != c->cmd->lun))
        return false;
    if ((filter & (1u << 15)) != 0u && (filter >> 24) != c->op)
        return false;
    return true;
}

bool sm_fault_peek(const struct sm_ctx *c, int id, uint32_t *value)
{
    uint64_t p;
    if (c->m->sim == NULL || !sim_fault_peek(c->m->sim, id, &p) || !filter_match((uint32_t)p, c))
        return false;
    if (value != NULL)
        *value = (uint32_t)(p >> 32);
    return true;
}

bool sm_fault(struct sm_ctx *c, int id, uint32_t *value)
{
    uint64_t p;
    if (!sm_fault_peek(c, id, NULL) || !sim_fault_hit(c->m->sim, id, &p))
        return false;
    if (value != NULL)
        *value = (uint32_t)(p >> 32);
    return true;
}

uint32_t sm_build_sense(uint8_t *buf, bool desc, uint8_t key, uint8_t asc, uint8_t ascq,
                        bool info_valid, uint64_t info)
{
    if (!desc) {
        /* SPC-5 4.4.3 fixed format: VALID only when INFORMATION holds the whole value. */
        memset(buf, 0, SCSI_MODEL_SENSE_LEN);
        buf[0] = 0x70;
        if (info_valid && info <= 0xffffffffull) {
            buf[0] |= 0x80;
            sm_be32(buf + 3, (uint32_t)info);
        }
        buf[2] = key;
        buf[7] = SCSI_MODEL_SENSE_LEN - 8u;
        buf[12] = asc;
        buf[13] = ascq;
        return SCSI_MODEL_SENSE_LEN;
    }
    /* SPC-5 4.4.2 descriptor format, with an information descriptor (type 00h). */
    memset(buf, 0, 20);
    buf[0] = 0x72;
    buf[1] = key;
    buf[2] = asc;
    buf[3] = ascq;
    if (!info_valid)
        return 8;
    buf[7] = 12;
    buf[8] = 0x00;
    buf[9] = 0x0a;
    buf[10] = 0x80;
    sm_be64(buf + 12, info);
    return 20;
}

void sm_check_info(struct sm_ctx *c, uint8_t key, uint8_t asc, uint8_t ascq, uint64_t info)
{
    uint8_t buf[32];
    bool desc = c->lu != NULL && c->lu->cfg.desc_sense;
    uint32_t n = sm_build_sense(buf, desc, key, asc, ascq, info != UINT64_MAX, info);

    c->res->status = SM_CHECK_CONDITION;
    if (n > c->cmd->sense_cap)
        n = c->cmd->sense_cap;
    if (n > 0)
        memcpy(c->cmd->sense, buf, n);
    c->res->sense_len = n;
    if (c->lu == NULL)
        return;
    if (key == SK_UNIT_ATTENTION)
        c->lu->stats.unit_attentions++;
    else if (key == SK_NOT_READY)
        c->lu->stats.not_ready++;
    else if (key == SK_MEDIUM_ERROR)
        c->lu->stats.medium_errors++;
}

void sm_check(struct sm_ctx *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
    sm_check_info(c, key, asc, ascq, UINT64_MAX);
}

void sm_data_in(struct sm_ctx *c, const void *buf, uint32_t len, uint32_t alloc)
{
    uint32_t n = len < alloc ? len : alloc;
    if (n > c->cmd->in_cap)
        n = c->cmd->in_cap;
    if (n > 0)
        memcpy(c->cmd->data_in, buf, n);
    c->res->in_len = n;
}

/* ---- command entry ---- */

static bool ua_applies(uint8_t op)
{
    return op != 0x12 && op != 0xa0 && op != 0x03; /* INQUIRY, REPORT LUNS, REQUEST SENSE */
}

/* Conditions checked before a command runs; true when one ended it. */
static bool pre_checks(struct sm_ctx *c)
{
    struct sm_lu *lu = c->lu;
    uint32_t v;

    if (sm_fault(c, SCSI_MODEL_F_STATUS, &v)) {
        c->res->status = v ? (uint8_t)v : SM_BUSY;
        return true;
    }
    if (lu->busy_cmds > 0) {
        lu->busy_cmds--;
        c->res->status = lu->busy_status;
        return true;
    }
    if (ua_applies(c->op)) {
        if (lu->n_ua > 0) {
            struct sm_ua u = ua_pop(lu);
            sm_check(c, SK_UNIT_ATTENTION, u.asc, u.ascq);
            return true;
        }
        if (sm_fault(c, SCSI_MODEL_F_UNIT_ATTENTION, &v)) {
            if (v == 0)
                v = 0x2900;
            sm_check(c, SK_UNIT_ATTENTION, (uint8_t)(v >> 8), (uint8_t)v);
            return true;
        }
    }
    if (!sm_op_needs_medium(c->op))
        return false;
    if (lu->cfg.removable && !lu->cfg.medium_present) {
        sm_check(c, SK_NOT_READY, 0x3a, 0x00);
        return true;
    }
    if (lu->stopped) {
        sm_check(c, SK_NOT_READY, 0x04, 0x02);
        return true;
    }
    if (lu->becoming_ready > 0) {
        lu->becoming_ready--;
        sm_check(c, SK_NOT_READY, 0x04, 0x01);
        return true;
    }
    if (sm_fault(c, SCSI_MODEL_F_NOT_READY, &v)) {
        if (v == 0)
            v = 0x0401;
        sm_check(c, SK_NOT_READY, (uint8_t)(v >> 8), (uint8_t)v);
        return true;
    }
    return false;
}

/* Faults that damage what the command returns. */
static void post_faults(struct sm_ctx *c)
{
    uint32_t v;
    if (c->res->in_len > 0 && sm_fault(c, SCSI_MODEL_F_DATA_SHORT, &v) && v < c->res->in_len)
        c->res->in_len = v;
    if (c->res->sense_len > 7 && sm_fault(c, SCSI_MODEL_F_SENSE_LEN_LIE, &v))
        c->cmd->sense[7] = v ? (uint8_t)v : 0xf4;
    if (c->res->status == SM_CHECK_CONDITION && sm_fault(c, SCSI_MODEL_F_SENSE_SHORT, &v) &&
        v < c->res->sense_len)
        c->res->sense_len = v;
}

/* Run a command that passed the transport checks. */
static void run(struct sm_ctx *c)
{
    c->res->response = SCSI_MODEL_RESP_OK;
    c->res->status = SM_GOOD;
    if (c->lu == NULL)
        sm_absent_lun(c);
    else if (!pre_checks(c))
        sm_dispatch(c);
    post_faults(c);
}

static void hold(struct scsi_model *m, const struct scsi_model_cmd *cmd)
{
    struct sm_held *h;
    if (m->n_held == m->cap_held) {
        size_t ncap = m->cap_held ? m->cap_held * 2 : 8;
        struct sm_held *nh = realloc(m->held, ncap * sizeof(*nh));
        if (nh == NULL)
            abort();
        m->held = nh;
        m->cap_held = ncap;
    }
    h = &m->held[m->n_held++];
    h->cmd = *cmd;
    memset(h->cdb, 0, sizeof(h->cdb));
    h->cmd.cdb_len = cmd->cdb_len < SCSI_MODEL_CDB_MAX ? cmd->cdb_len : SCSI_MODEL_CDB_MAX;
    memcpy(h->cdb, cmd->cdb, h->cmd.cdb_len);
    h->cmd.cdb = NULL; /* the array may move: point at h->cdb when it runs */
}

enum scsi_model_response scsi_model_submit(struct scsi_model *m, const struct scsi_model_cmd *cmd,
                                           struct scsi_model_result *res)
{
    struct sm_ctx c;
    bool out, held;
    uint64_t xfer;
    uint32_t v;

    memset(res, 0, sizeof(*res));
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.cmd = cmd;
    c.res = res;
    c.t = m->targets[cmd->target];
    if (c.t == NULL || c.t->n == 0) {
        res->response = SCSI_MODEL_RESP_BAD_TARGET;
        return res->response;
    }
    if (cmd->cdb == NULL || cmd->cdb_len == 0) {
        res->response = SCSI_MODEL_RESP_FAILURE;
        return res->response;
    }
    c.op = cmd->cdb[0];
    c.lu = sm_lu_find(m, cmd->target, cmd->lun);
    if (c.lu != NULL) {
        c.lu->stats.cmds++;
        c.lu->stats.last_opcode = c.op;
    }
    if (sm_fault(&c, SCSI_MODEL_F_RESPONSE, &v)) {
        res->response = (v == 0 || v >= SCSI_MODEL_RESP_PENDING) ? SCSI_MODEL_RESP_FAILURE
                                                                 : (enum scsi_model_response)v;
        return res->response;
    }
    xfer = sm_xfer_len(&c, &out);
    if (xfer > (out ? cmd->out_len : cmd->in_cap)) {
        res->response = SCSI_MODEL_RESP_OVERRUN;
        return res->response;
    }
    held = sm_fault(&c, SCSI_MODEL_F_HANG, NULL);
    if (!held && c.lu != NULL && c.lu->hold_cmds > 0) {
        c.lu->hold_cmds--;
        held = true;
    }
    if (held) {
        hold(m, cmd);
        res->response = SCSI_MODEL_RESP_PENDING;
        return res->response;
    }
    run(&c);
    return res->response;
}

uint8_t scsi_model_execute(struct scsi_model *m, uint8_t target, uint32_t lun, const uint8_t *cdb,
                           uint32_t cdb_len, const void *data_out, uint32_t out_len, void *data_in,
                           uint32_t in_cap, uint32_t *in_len, uint8_t *sense, uint32_t sense_cap,
                           uint32_t *sense_len, enum scsi_model_response *resp)
{
    struct scsi_model_cmd cmd;
    struct scsi_model_result res;

    memset(&cmd, 0, sizeof(cmd));
    cmd.target = target;
    cmd.lun = lun;
    cmd.cdb = cdb;
    cmd.cdb_len = cdb_len;
    cmd.data_out = data_out;
    cmd.out_len = out_len;
    cmd.data_in = data_in;
    cmd.in_cap = in_cap;
    cmd.sense = sense;
    cmd.sense_cap = sense_cap;
    scsi_model_submit(m, &cmd, &res);
    if (in_len != NULL)
        *in_len = res.in_len;
    if (sense_len != NULL)
        *sense_len = res.sense_len;
    if (resp != NULL)
        *resp = res.response;
    return res.status;
}

/* ---- held commands ---- */

unsigned scsi_model_held_count(const struct scsi_model *m)
{
    return (unsigned)m->n_held;
}

static void complete(struct scsi_model *m, uint64_t tag, const struct scsi_model_result *r)
{
    if (m->complete != NULL)
        m->complete(m->complete_ctx, tag, r);
}

void scsi_model_set_complete_cb(struct scsi_model *m, scsi_model_complete_fn fn, void *ctx)
{
    m->complete = fn;
    m->complete_ctx = ctx;
}

#define MATCH_ALL    0
#define MATCH_TARGET 1
#define MATCH_LUN    2
#define MATCH_TAG    3

/* Take every held command matching out of the list, then complete each with `resp`: callbacks
 * may submit new commands, which must not be swept up by this reset. */
static unsigned end_held(struct scsi_model *m, int how, uint8_t target, uint32_t lun, uint64_t tag,
                         enum scsi_model_response resp)
{
    struct sm_held *taken;
    size_t i = 0, n = 0;

    if (m->n_held == 0)
        return 0;
    taken = malloc(m->n_held * sizeof(*taken));
    if (taken == NULL)
        abort();
    while (i < m->n_held) {
        const struct scsi_model_cmd *c = &m->held[i].cmd;
        bool match =
            how == MATCH_ALL ||
            (c->target == target &&
             (how == MATCH_TARGET || (c->lun == lun && (how == MATCH_LUN || c->tag == tag))));
        if (!match) {
            i++;
            continue;
        }
        taken[n++] = m->held[i];
        memmove(&m->held[i], &m->held[i + 1], (m->n_held - i - 1) * sizeof(m->held[0]));
        m->n_held--;
    }
    for (i = 0; i < n; i++) {
        struct scsi_model_result r;
        memset(&r, 0, sizeof(r));
        r.response = resp;
        complete(m, taken[i].cmd.tag, &r);
    }
    free(taken);
    return (unsigned)n;
}

int scsi_model_release(struct scsi_model *m, uint64_t tag)
{
    struct sm_held h;
    struct scsi_model_result res;
    struct sm_ctx c;
    size_t i;

    for (i = 0; i < m->n_held; i++) {
        if (m->held[i].cmd.tag == tag)
            break;
    }
    if (i == m->n_held)
        return -1;
    h = m->held[i];
    memmove(&m->held[i], &m->held[i + 1], (m->n_held - i - 1) * sizeof(m->held[0]));
    m->n_held--;
    h.cmd.cdb = h.cdb;
    memset(&res, 0, sizeof(res));
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.cmd = &h.cmd;
    c.res = &res;
    c.op = h.cdb[0];
    c.t = m->targets[h.cmd.target];
    if (c.t == NULL || c.t->n == 0) {
        res.response = SCSI_MODEL_RESP_BAD_TARGET;
    } else {
        c.lu = sm_lu_find(m, h.cmd.target, h.cmd.lun);
        run(&c);
    }
    complete(m, tag, &res);
    return 0;
}

void scsi_model_drop_held(struct scsi_model *m)
{
    m->n_held = 0;
}

/* ---- task management ---- */

static bool tmf_fault(struct scsi_model *m, enum scsi_model_tmf_result *r)
{
    uint64_t p;
    if (m->sim == NULL || !sim_fault_hit(m->sim, SCSI_MODEL_F_TMF_FAIL, &p))
        return false;
    *r = (p >> 32) != 0 ? (enum scsi_model_tmf_result)(p >> 32) : SCSI_MODEL_TMF_REJECTED;
    return true;
}

static bool tmf_lun_checks(struct scsi_model *m, uint8_t target, uint32_t lun,
                           enum scsi_model_tmf_result *r)
{
    if (!scsi_model_target_present(m, target)) {
        *r = SCSI_MODEL_TMF_BAD_TARGET;
        return true;
    }
    if (sm_lu_find(m, target, lun) == NULL) {
        *r = SCSI_MODEL_TMF_INCORRECT_LUN;
        return true;
    }
    return tmf_fault(m, r);
}

enum scsi_model_tmf_result scsi_model_abort_task(struct scsi_model *m, uint8_t target, uint32_t lun,
                                                 uint64_t tag)
{
    enum scsi_model_tmf_result r;
    if (tmf_lun_checks(m, target, lun, &r))
        return r;
    end_held(m, MATCH_TAG, target, lun, tag, SCSI_MODEL_RESP_ABORTED);
    return SCSI_MODEL_TMF_COMPLETE;
}

enum scsi_model_tmf_result scsi_model_lun_reset(struct scsi_model *m, uint8_t target, uint32_t lun)
{
    enum scsi_model_tmf_result r;
    if (tmf_lun_checks(m, target, lun, &r))
        return r;
    end_held(m, MATCH_LUN, target, lun, 0, SCSI_MODEL_RESP_RESET);
    ua_push(sm_lu_find(m, target, lun), 0x29, 0x03);
    return SCSI_MODEL_TMF_COMPLETE;
}

enum scsi_model_tmf_result scsi_model_it_nexus_reset(struct scsi_model *m, uint8_t target)
{
    enum scsi_model_tmf_result r;
    struct sm_target *t = m->targets[target];
    size_t i;
    if (!scsi_model_target_present(m, target))
        return SCSI_MODEL_TMF_BAD_TARGET;
    if (tmf_fault(m, &r))
        return r;
    end_held(m, MATCH_TARGET, target, 0, 0, SCSI_MODEL_RESP_RESET);
    for (i = 0; i < t->n; i++)
        ua_push(t->lus[i], 0x29, 0x07);
    return SCSI_MODEL_TMF_COMPLETE;
}

static void ua_all(struct scsi_model *m, const struct sm_lu *except, uint8_t asc, uint8_t ascq)
{
    unsigned t;
    size_t i;
    for (t = 0; t <= SCSI_MODEL_MAX_TARGET; t++) {
        struct sm_target *tg = m->targets[t];
        for (i = 0; tg != NULL && i < tg->n; i++) {
            if (tg->lus[i] != except)
                ua_push(tg->lus[i], asc, ascq);
        }
    }
}

void scsi_model_reset(struct scsi_model *m)
{
    end_held(m, MATCH_ALL, 0, 0, 0, SCSI_MODEL_RESP_RESET);
    ua_all(m, NULL, 0x29, 0x00);
}

/* ---- events ---- */

void scsi_model_event_note_missed(struct scsi_model *m)
{
    m->ev_missed = true;
}

void scsi_model_event_push(struct scsi_model *m, const struct scsi_model_event *ev)
{
    if ((m->sim != NULL && sim_fault_hit(m->sim, SCSI_MODEL_F_EVENT_DROP, NULL)) ||
        m->ev_count == SCSI_MODEL_EVENT_MAX) {
        m->ev_missed = true;
        return;
    }
    m->events[(m->ev_head + m->ev_count) % SCSI_MODEL_EVENT_MAX] = *ev;
    m->events[(m->ev_head + m->ev_count) % SCSI_MODEL_EVENT_MAX].missed = false;
    m->ev_count++;
}

bool scsi_model_event_pop(struct scsi_model *m, struct scsi_model_event *ev)
{
    if (m->ev_count > 0) {
        *ev = m->events[m->ev_head];
        m->ev_head = (m->ev_head + 1) % SCSI_MODEL_EVENT_MAX;
        m->ev_count--;
    } else if (m->ev_missed) {
        memset(ev, 0, sizeof(*ev));
        ev->type = SCSI_MODEL_EV_NONE;
    } else {
        return false;
    }
    ev->missed = m->ev_missed;
    m->ev_missed = false;
    return true;
}

unsigned scsi_model_event_count(const struct scsi_model *m)
{
    return m->ev_count;
}

static void push_event(struct scsi_model *m, enum scsi_model_event_type type, uint8_t target,
                       uint32_t lun, uint32_t reason, uint8_t asc, uint8_t ascq)
{
    struct scsi_model_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.target = target;
    ev.lun = lun;
    ev.reason = reason;
    ev.asc = asc;
    ev.ascq = ascq;
    scsi_model_event_push(m, &ev);
}

/* ---- run-time changes ---- */

void scsi_model_set_ua(struct scsi_model *m, uint8_t target, uint32_t lun, uint8_t asc,
                       uint8_t ascq)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu != NULL)
        ua_push(lu, asc, ascq);
}

void scsi_model_clear_all_ua(struct scsi_model *m)
{
    unsigned t;
    size_t i;
    for (t = 0; t <= SCSI_MODEL_MAX_TARGET; t++) {
        struct sm_target *tg = m->targets[t];
        for (i = 0; tg != NULL && i < tg->n; i++)
            tg->lus[i]->n_ua = 0;
    }
}

void scsi_model_set_becoming_ready(struct scsi_model *m, uint8_t target, uint32_t lun,
                                   uint32_t ncmds)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu != NULL)
        lu->becoming_ready = ncmds;
}

void scsi_model_set_stopped(struct scsi_model *m, uint8_t target, uint32_t lun, bool stopped)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu != NULL)
        lu->stopped = stopped;
}

void scsi_model_add_bad_block(struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t lba,
                              bool on_read, bool on_write)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu == NULL || lu->n_bad == SM_BAD_MAX)
        return;
    lu->bad[lu->n_bad].lba = lba;
    lu->bad[lu->n_bad].on_read = on_read;
    lu->bad[lu->n_bad].on_write = on_write;
    lu->n_bad++;
}

void scsi_model_clear_bad_blocks(struct scsi_model *m, uint8_t target, uint32_t lun)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu != NULL)
        lu->n_bad = 0;
}

void scsi_model_set_busy(struct scsi_model *m, uint8_t target, uint32_t lun, uint32_t ncmds,
                         uint8_t status)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu != NULL) {
        lu->busy_cmds = ncmds;
        lu->busy_status = status;
    }
}

void scsi_model_hold_next(struct scsi_model *m, uint8_t target, uint32_t lun, uint32_t ncmds)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu != NULL)
        lu->hold_cmds = ncmds;
}

void scsi_model_set_write_protect(struct scsi_model *m, uint8_t target, uint32_t lun, bool wp)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu != NULL)
        lu->cfg.write_protect = wp;
}

void scsi_model_set_capacity(struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t nblocks)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    uint64_t old_bytes;
    if (lu == NULL || nblocks > (UINT64_MAX >> 17))
        return;
    old_bytes = lu->cfg.nblocks * lu->cfg.block_size;
    if (nblocks < lu->cfg.nblocks)
        sm_media_discard(&lu->media, nblocks * lu->cfg.block_size,
                         old_bytes - nblocks * lu->cfg.block_size);
    lu->cfg.nblocks = nblocks;
    ua_push(lu, 0x2a, 0x09);
    push_event(m, SCSI_MODEL_EV_PARAM_CHANGE, target, lun, 0, 0x2a, 0x09);
}

void scsi_model_set_medium(struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t nblocks)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (lu == NULL || !lu->cfg.removable)
        return;
    sm_media_free(&lu->media);
    lu->cfg.nblocks = nblocks;
    lu->cfg.medium_present = nblocks != 0;
    if (nblocks != 0)
        ua_push(lu, 0x28, 0x00);
}

int scsi_model_hotplug_lun(struct scsi_model *m, uint8_t target, uint32_t lun,
                           const struct scsi_model_lun_cfg *cfg)
{
    if (scsi_model_add_lun(m, target, lun, cfg) != 0)
        return -1;
    ua_all(m, sm_lu_find(m, target, lun), 0x3f, 0x0e);
    push_event(m, SCSI_MODEL_EV_TRANSPORT_RESET, target, lun, SCSI_MODEL_RESET_RESCAN, 0, 0);
    return 0;
}

int scsi_model_unplug_lun(struct scsi_model *m, uint8_t target, uint32_t lun)
{
    struct sm_target *t = m->targets[target];
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    size_t i;
    if (lu == NULL)
        return -1;
    end_held(m, MATCH_LUN, target, lun, 0, SCSI_MODEL_RESP_ABORTED);
    i = lu_lower(t, lun);
    memmove(&t->lus[i], &t->lus[i + 1], (t->n - i - 1) * sizeof(t->lus[0]));
    t->n--;
    lu_free(lu);
    ua_all(m, NULL, 0x3f, 0x0e);
    push_event(m, SCSI_MODEL_EV_TRANSPORT_RESET, target, lun, SCSI_MODEL_RESET_REMOVED, 0, 0);
    return 0;
}

/* ---- media access for tests ---- */

static bool media_range(const struct sm_lu *lu, uint64_t off, size_t len)
{
    uint64_t size;
    if (lu == NULL || !lu->cfg.medium_present)
        return false;
    size = lu->cfg.nblocks * lu->cfg.block_size;
    return off <= size && len <= size - off;
}

int scsi_model_media_read(const struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t offset,
                          void *buf, size_t len)
{
    const struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (!media_range(lu, offset, len))
        return -1;
    sm_media_read(&lu->media, offset, buf, len);
    return 0;
}

int scsi_model_media_write(struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t offset,
                           const void *buf, size_t len)
{
    struct sm_lu *lu = sm_lu_find(m, target, lun);
    if (!media_range(lu, offset, len))
        return -1;
    sm_media_write(&lu->media, offset, buf, len);
    return 0;
}

size_t scsi_model_media_footprint(const struct scsi_model *m, uint8_t target, uint32_t lun)
{
    const struct sm_lu *lu = sm_lu_find(m, target, lun);
    return lu ? sm_media_footprint(&lu->media) : 0;
}
