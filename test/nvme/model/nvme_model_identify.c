/* SPDX-License-Identifier: MIT */
/* Identify (spec 5.15) and Get Log Page (spec 5.14): the data structures the host reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme_model_int.h"

#define ST_INVALID_FIELD NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_INVALID_FIELD)
#define ST_INVALID_NS    NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_INVALID_NS)

/* ASCII, space padded, not NUL terminated (spec 1.5 conventions for SN/MN/FR). */
static void put_str(uint8_t *dst, const char *src, size_t n)
{
    size_t l = strlen(src);

    memset(dst, ' ', n);
    memcpy(dst, src, l < n ? l : n);
}

static void put_psd(uint8_t *p, const struct nvme_model_psd *d)
{
    nm_put16(p, d->mp_cw);
    p[3] = d->nops ? 0x02 : 0x00; /* MXPS = 0: centiwatts */
    nm_put32(p + 4, d->enlat_us);
    nm_put32(p + 8, d->exlat_us);
}

static void id_ctrl_lies(struct nvme_model *m, uint8_t *d)
{
    uint32_t v = 0;

    if (nm_fault(m, NVME_MODEL_F_ID_MDTS_HUGE, &v))
        d[77] = v ? (uint8_t)v : 0xff;
    if (nm_fault(m, NVME_MODEL_F_ID_NN_HUGE, &v))
        nm_put32(d + 516, v ? v : 0xffffffffu);
    if (nm_fault(m, NVME_MODEL_F_ID_VER, &v))
        nm_put32(d + 80, v);
}

static void id_ctrl(struct nvme_model *m, uint8_t *d)
{
    const struct nvme_model_cfg *c = &m->cfg;
    char nqn[96];
    unsigned i;

    nm_put16(d + 0, c->vendor);               /* VID */
    nm_put16(d + 2, c->vendor);               /* SSVID */
    put_str(d + 4, c->serial, 20);            /* SN */
    put_str(d + 24, c->model, 40);            /* MN */
    put_str(d + 64, c->firmware, 8);          /* FR */
    d[72] = 6;                                /* RAB */
    d[73] = 0x00, d[74] = 0x54, d[75] = 0x52; /* IEEE OUI (QEMU-like) */
    d[77] = c->mdts;                          /* MDTS */
    nm_put32(d + 80, 0x00010400u);            /* VER 1.4 */
    nm_put32(d + 88, c->rtd3e_us);            /* RTD3E */
    d[111] = 1;                               /* CNTRLTYPE: I/O */
    d[258] = c->acl;                          /* ACL */
    d[259] = c->aerl;                         /* AERL */
    d[260] = 0x03;                            /* FRMW: 1 slot, slot 1 RO */
    d[261] = 0x04;                            /* LPA: extended data */
    d[262] = c->elpe;                         /* ELPE */
    d[263] = (uint8_t)(c->npsd - 1u);         /* NPSS */
    d[265] = c->apst ? 1 : 0;                 /* APSTA */
    nm_put16(d + 266, c->wctemp);             /* WCTEMP */
    nm_put16(d + 268, c->cctemp);             /* CCTEMP */
    d[512] = 0x66;                            /* SQES */
    d[513] = 0x44;                            /* CQES */
    nm_put32(d + 516, c->nn);                 /* NN */
    nm_put16(d + 520, c->oncs);               /* ONCS */
    d[525] = c->vwc ? 0x07 : 0x00;            /* VWC present, flush NSID FFFFFFFFh supported */
    snprintf(nqn, sizeof(nqn), "nqn.2024-01.dev.keel:model:%s", c->serial);
    memcpy(d + 768, nqn, strlen(nqn)); /* SUBNQN */
    for (i = 0; i < c->npsd; i++)
        put_psd(d + 2048 + 32u * i, &c->psd[i]);
    id_ctrl_lies(m, d);
}

static void id_ns_lies(struct nvme_model *m, uint8_t *d)
{
    uint32_t v = 0;
    unsigned fl = d[26] & 0xfu;

    if (nm_fault(m, NVME_MODEL_F_ID_LBADS, &v))
        d[128 + 4u * fl + 2u] = v ? (uint8_t)v : 40;
    if (nm_fault(m, NVME_MODEL_F_ID_FLBAS_BEYOND, &v))
        d[26] = (uint8_t)((d[26] & 0xf0u) | (v ? (v & 0xfu) : ((d[25] + 1u) & 0xfu)));
    if (nm_fault(m, NVME_MODEL_F_ID_NLBAF_HUGE, &v))
        d[25] = v ? (uint8_t)v : 0xff;
}

static void id_ns(struct nvme_model *m, const struct nm_ns *ns, uint8_t *d)
{
    const struct nvme_model_ns_cfg *nc = NULL;
    bool has_ms = false;
    unsigned i;

    for (i = 0; i < NVME_MODEL_MAX_NS; i++)
        if (m->cfg.ns[i].nsid == ns->nsid)
            nc = &m->cfg.ns[i];
    nm_put64(d + 0, ns->nsze);
    nm_put64(d + 8, ns->ncap);
    nm_put64(d + 16, ns->ncap);
    d[25] = (uint8_t)(nc->nlbaf - 1u);
    d[26] = (uint8_t)(nc->flbas | (ns->extended ? 0x10u : 0u));
    d[33] = 0x09; /* DLFEAT: deallocated reads zeroes, Write Zeroes may deallocate */
    d[99] = ns->wp ? 1 : 0;
    nm_put64(d + 120, 0x5254000000000000ull | ns->nsid); /* EUI64 */
    for (i = 0; i < nc->nlbaf; i++) {
        nm_put16(d + 128 + 4u * i, nc->lbaf[i].ms);
        d[128 + 4u * i + 2u] = nc->lbaf[i].lbads;
        d[128 + 4u * i + 3u] = nc->lbaf[i].rp & 3u;
        has_ms = has_ms || nc->lbaf[i].ms != 0;
    }
    d[27] = has_ms ? 0x03 : 0x00; /* MC: extended and separate metadata */
    id_ns_lies(m, d);
}

static void id_active_list(struct nvme_model *m, uint32_t after, uint8_t *d)
{
    uint32_t nsid, last = after, n = 0;
    unsigned i;

    /* ascending order, without relying on the configuration's order */
    for (; n < 1024; n++) {
        nsid = 0;
        for (i = 0; i < NVME_MODEL_MAX_NS; i++) {
            const struct nm_ns *ns = &m->ns[i];
            if (ns->active && ns->nsid > last && (nsid == 0 || ns->nsid < nsid))
                nsid = ns->nsid;
        }
        if (nsid == 0)
            break;
        nm_put32(d + 4u * n, nsid);
        last = nsid;
    }
}

void nm_identify(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    uint8_t d[4096];
    uint8_t cns = (uint8_t)c->cdw[10];
    struct nm_ns *ns;

    memset(d, 0, sizeof(d));
    switch (cns) {
    case 0x00:
        if (c->nsid == 0 || c->nsid > m->cfg.nn) {
            r->status = ST_INVALID_NS;
            return;
        }
        ns = nm_ns_find(m, c->nsid);
        if (ns != NULL && ns->active)
            id_ns(m, ns, d);
        break; /* inactive: all zeroes (spec 5.15.2.1) */
    case 0x01:
        id_ctrl(m, d);
        break;
    case 0x02:
        if (m->cfg.reject_cns_active_list) {
            r->status = ST_INVALID_FIELD;
            return;
        }
        if (c->nsid >= 0xfffffffeu) {
            r->status = ST_INVALID_NS;
            return;
        }
        id_active_list(m, c->nsid, d);
        break;
    case 0x03: /* namespace identification descriptors: none beyond EUI64 */
        ns = nm_ns_find(m, c->nsid);
        if (ns == NULL || !ns->active) {
            r->status = ST_INVALID_NS;
            return;
        }
        break;
    default:
        r->status = ST_INVALID_FIELD;
        return;
    }
    r->status = nm_xfer_to_host(m, c, d, sizeof(d));
}

/* ---- logs ---- */

void nm_log_error(struct nvme_model *m, const struct nm_cmd *c, const struct nm_result *r)
{
    unsigned keep = m->cfg.elpe + 1u;
    uint8_t *e;

    m->err_count++;
    m->st.errors_logged++;
    memmove(m->errlog[1], m->errlog[0], (keep - 1u) * 64u);
    e = m->errlog[0];
    memset(e, 0, 64);
    nm_put64(e + 0, m->err_count);
    nm_put16(e + 8, c->sqid);
    nm_put16(e + 10, c->cid);
    nm_put16(e + 12, (uint16_t)(r->status << 1));
    nm_put16(e + 14, 0xffff);
    nm_put64(e + 16, r->err_lba);
    nm_put32(e + 24, c->nsid);
    if (m->errlog_n < keep)
        m->errlog_n++;
}

static uint64_t data_units(uint64_t u512)
{
    return (u512 + 999u) / 1000u;
}

static void smart_log(const struct nvme_model *m, uint8_t *d)
{
    d[0] = m->crit_warn;
    nm_put16(d + 1, m->temperature);
    d[3] = 100; /* available spare % */
    d[4] = 10;  /* spare threshold % */
    nm_put64(d + 32, data_units(m->units_read_512));
    nm_put64(d + 48, data_units(m->units_written_512));
    nm_put64(d + 64, m->host_reads);
    nm_put64(d + 80, m->host_writes);
    nm_put64(d + 112, 1); /* power cycles */
    nm_put64(d + 176, m->err_count);
    nm_put16(d + 200, m->temperature);
}

static size_t build_log(struct nvme_model *m, uint8_t lid, uint8_t *d)
{
    switch (lid) {
    case 0x01:
        memcpy(d, m->errlog, (m->cfg.elpe + 1u) * 64u);
        return (m->cfg.elpe + 1u) * 64u;
    case 0x02:
        smart_log(m, d);
        return 512;
    case 0x03:
        d[0] = 1; /* AFI: slot 1 active */
        put_str(d + 8, m->cfg.firmware, 8);
        return 512;
    default:
        return 0;
    }
}

static bool log_nsid_ok(struct nvme_model *m, uint32_t nsid)
{
    const struct nm_ns *ns;

    if (nsid == 0 || nsid == 0xffffffffu)
        return true;
    ns = nm_ns_find(m, nsid);
    return ns != NULL && ns->active;
}

static uint64_t mdts_bytes(const struct nvme_model *m)
{
    return m->cfg.mdts ? (4096ull << m->cfg.mpsmin) << m->cfg.mdts : (16ull << 20);
}

void nm_get_log(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    uint8_t log[NM_LOG_ERR_MAX * 64], *out;
    uint8_t lid = (uint8_t)c->cdw[10];
    uint64_t numd = (((uint64_t)(c->cdw[11] & 0xffffu) << 16) | (c->cdw[10] >> 16)) + 1u;
    uint64_t off = c->cdw[12] | ((uint64_t)c->cdw[13] << 32), len = numd * 4u;
    size_t size;

    memset(log, 0, sizeof(log));
    size = build_log(m, lid, log);
    if (size == 0) {
        r->status = NM_ST_DNR(NVME_MODEL_SCT_CMD_SPECIFIC, NVME_MODEL_SC_INVALID_LOG_PAGE);
        return;
    }
    if ((off & 3u) || off >= size || len > mdts_bytes(m)) {
        r->status = ST_INVALID_FIELD;
        return;
    }
    if (lid == 0x02 && !log_nsid_ok(m, c->nsid)) {
        r->status = ST_INVALID_NS;
        return;
    }
    out = calloc(1, (size_t)len);
    if (out == NULL) {
        r->status = NM_ST(NVME_MODEL_SCT_GENERIC, 0x06); /* internal error */
        return;
    }
    memcpy(out, log + off, (size_t)(size - off < len ? size - off : len));
    r->status = nm_xfer_to_host(m, c, out, (size_t)len);
    free(out);
    if (r->status == NM_OK && !(c->cdw[10] & (1u << 15)))
        nm_events_log_read(m, lid); /* RAE = 0 */
}
