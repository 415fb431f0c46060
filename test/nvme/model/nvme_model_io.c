/* SPDX-License-Identifier: MIT */
/* NVM command set I/O (NVM command set spec / base 1.4 section 6): data moves over PRPs. */
#include <stdlib.h>
#include <string.h>

#include "nvme_model_int.h"

#define ST_INVALID_FIELD NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_INVALID_FIELD)
#define ST_INVALID_NS    NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_INVALID_NS)
#define ST_LBA_RANGE     NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_LBA_OUT_OF_RANGE)
#define ST_WP            NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_NS_WRITE_PROTECTED)
#define ST_XFER          NM_ST(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_DATA_XFER_ERROR)
#define ST_NOMEM         NM_ST(NVME_MODEL_SCT_GENERIC, 0x06) /* internal error */

struct nm_rw {
    struct nm_ns *ns;
    uint64_t slba;
    uint32_t nlb;
    size_t bs;  /* bytes per block in the data buffer */
    size_t len; /* data buffer bytes */
};

struct nm_ns *nm_ns_find(struct nvme_model *m, uint32_t nsid)
{
    unsigned i;

    for (i = 0; i < NVME_MODEL_MAX_NS; i++)
        if (m->ns[i].present && m->ns[i].nsid == nsid)
            return &m->ns[i];
    return NULL;
}

static struct nm_ns *get_ns(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    struct nm_ns *ns = c->nsid == 0 || c->nsid > m->cfg.nn ? NULL : nm_ns_find(m, c->nsid);

    if (ns == NULL || !ns->active) {
        r->status = ST_INVALID_NS;
        return NULL;
    }
    return ns;
}

static bool range_ok(const struct nm_ns *ns, uint64_t slba, uint64_t nlb)
{
    return slba < ns->nsze && nlb <= ns->nsze - slba;
}

static uint64_t mdts_bytes(const struct nvme_model *m)
{
    return m->cfg.mdts ? (4096ull << m->cfg.mpsmin) << m->cfg.mdts : 0;
}

/* Decode and validate SLBA/NLB (CDW10-12) for Read, Write and Compare. */
static bool rw_setup(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r,
                     struct nm_rw *rw)
{
    uint64_t lim = mdts_bytes(m);

    rw->ns = get_ns(m, c, r);
    if (rw->ns == NULL)
        return false;
    rw->slba = c->cdw[10] | ((uint64_t)c->cdw[11] << 32);
    rw->nlb = (c->cdw[12] & 0xffffu) + 1u;
    rw->bs = rw->ns->lbasize + (rw->ns->extended ? rw->ns->ms : 0u);
    rw->len = rw->bs * rw->nlb;
    if (!range_ok(rw->ns, rw->slba, rw->nlb)) {
        r->status = ST_LBA_RANGE;
        r->err_lba = rw->slba;
        return false;
    }
    if (lim != 0 && rw->len > lim) {
        r->status = ST_INVALID_FIELD;
        return false;
    }
    if (rw->ns->ms && !rw->ns->extended && (c->mptr & 3u)) {
        r->status = ST_INVALID_FIELD; /* MPTR must be dword aligned */
        return false;
    }
    return true;
}

static bool separate_meta(const struct nm_rw *rw)
{
    return rw->ns->ms && !rw->ns->extended;
}

/* Media -> host layout (extended LBAs interleave data and metadata per block). */
static void gather(const struct nm_rw *rw, uint8_t *buf)
{
    const struct nm_ns *ns = rw->ns;
    uint32_t i;

    if (!ns->extended) {
        memcpy(buf, ns->data + rw->slba * ns->lbasize, (size_t)rw->nlb * ns->lbasize);
        return;
    }
    for (i = 0; i < rw->nlb; i++) {
        memcpy(buf + i * rw->bs, ns->data + (rw->slba + i) * ns->lbasize, ns->lbasize);
        memcpy(buf + i * rw->bs + ns->lbasize, ns->meta + (rw->slba + i) * ns->ms, ns->ms);
    }
}

static void scatter(const struct nm_rw *rw, const uint8_t *buf)
{
    struct nm_ns *ns = rw->ns;
    uint32_t i;

    if (!ns->extended) {
        memcpy(ns->data + rw->slba * ns->lbasize, buf, (size_t)rw->nlb * ns->lbasize);
        return;
    }
    for (i = 0; i < rw->nlb; i++) {
        memcpy(ns->data + (rw->slba + i) * ns->lbasize, buf + i * rw->bs, ns->lbasize);
        memcpy(ns->meta + (rw->slba + i) * ns->ms, buf + i * rw->bs + ns->lbasize, ns->ms);
    }
}

static void do_read(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    struct nm_rw rw;
    uint8_t *buf;

    if (!rw_setup(m, c, r, &rw))
        return;
    buf = malloc(rw.len);
    if (buf == NULL) {
        r->status = ST_NOMEM;
        return;
    }
    gather(&rw, buf);
    r->status = nm_xfer_to_host(m, c, buf, rw.len);
    free(buf);
    if (r->status == NM_OK && separate_meta(&rw) &&
        !sim_dma_write(m->s, c->mptr, rw.ns->meta + rw.slba * rw.ns->ms,
                       (size_t)rw.nlb * rw.ns->ms))
        r->status = ST_XFER;
    m->units_read_512 += ((uint64_t)rw.nlb * rw.ns->lbasize) >> 9;
    m->host_reads++;
    m->st.blocks_read += rw.nlb;
}

/* Host data (and separate metadata) into a staging buffer; metadata lands in *meta. */
static uint16_t fetch_host(struct nvme_model *m, const struct nm_cmd *c, const struct nm_rw *rw,
                           uint8_t *buf, uint8_t *meta)
{
    uint16_t st = nm_xfer_from_host(m, c, buf, rw->len);

    if (st == NM_OK && separate_meta(rw) &&
        !sim_dma_read(m->s, c->mptr, meta, (size_t)rw->nlb * rw->ns->ms))
        st = ST_XFER;
    return st;
}

static void do_write(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    struct nm_rw rw;
    uint8_t *buf, *meta;

    if (!rw_setup(m, c, r, &rw))
        return;
    if (rw.ns->wp) {
        r->status = ST_WP;
        return;
    }
    buf = malloc(rw.len);
    meta = malloc((size_t)rw.nlb * rw.ns->ms + 1u);
    r->status = buf && meta ? fetch_host(m, c, &rw, buf, meta) : ST_NOMEM;
    if (r->status == NM_OK) {
        scatter(&rw, buf);
        if (separate_meta(&rw))
            memcpy(rw.ns->meta + rw.slba * rw.ns->ms, meta, (size_t)rw.nlb * rw.ns->ms);
        m->units_written_512 += ((uint64_t)rw.nlb * rw.ns->lbasize) >> 9;
        m->host_writes++;
        m->st.blocks_written += rw.nlb;
        m->st.writes_since_flush++;
    }
    free(buf);
    free(meta);
}

static bool media_equal(const struct nm_rw *rw, const uint8_t *buf, const uint8_t *meta)
{
    const struct nm_ns *ns = rw->ns;
    uint8_t *mine = malloc(rw->len);
    bool eq;

    if (mine == NULL)
        return false;
    gather(rw, mine);
    eq = memcmp(mine, buf, rw->len) == 0;
    if (eq && separate_meta(rw))
        eq = memcmp(ns->meta + rw->slba * ns->ms, meta, (size_t)rw->nlb * ns->ms) == 0;
    free(mine);
    return eq;
}

static void do_compare(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    struct nm_rw rw;
    uint8_t *buf, *meta;

    if (!rw_setup(m, c, r, &rw))
        return;
    buf = malloc(rw.len);
    meta = malloc((size_t)rw.nlb * rw.ns->ms + 1u);
    r->status = buf && meta ? fetch_host(m, c, &rw, buf, meta) : ST_NOMEM;
    if (r->status == NM_OK && !media_equal(&rw, buf, meta)) {
        r->status = NM_ST_DNR(NVME_MODEL_SCT_MEDIA, NVME_MODEL_SC_COMPARE_FAILURE);
        r->err_lba = rw.slba;
    }
    free(buf);
    free(meta);
}

static void zero_blocks(struct nm_ns *ns, uint64_t slba, uint64_t nlb)
{
    memset(ns->data + slba * ns->lbasize, 0, (size_t)(nlb * ns->lbasize));
    if (ns->ms)
        memset(ns->meta + slba * ns->ms, 0, (size_t)(nlb * ns->ms));
}

static void do_write_zeroes(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    struct nm_ns *ns = get_ns(m, c, r);
    uint64_t slba = c->cdw[10] | ((uint64_t)c->cdw[11] << 32);
    uint32_t nlb = (c->cdw[12] & 0xffffu) + 1u;

    if (ns == NULL)
        return;
    if (!range_ok(ns, slba, nlb)) {
        r->status = ST_LBA_RANGE;
        r->err_lba = slba;
        return;
    }
    if (ns->wp) {
        r->status = ST_WP;
        return;
    }
    zero_blocks(ns, slba, nlb);
    m->st.blocks_written += nlb;
    m->st.writes_since_flush++;
}

/* Dataset Management (NVM 6.7): ranges of 16 bytes {attributes, NLB, SLBA}; AD deallocates. */
static void do_dsm(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    struct nm_ns *ns = get_ns(m, c, r);
    unsigned nr = (c->cdw[10] & 0xffu) + 1u, i;
    uint8_t d[256 * 16];

    if (ns == NULL)
        return;
    r->status = nm_xfer_from_host(m, c, d, nr * 16u);
    if (r->status != NM_OK || !(c->cdw[11] & 0x4u))
        return;
    if (ns->wp) {
        r->status = ST_WP;
        return;
    }
    for (i = 0; i < nr; i++) {
        if (!range_ok(ns, nm_get64(d + 16u * i + 8u), nm_get32(d + 16u * i + 4u))) {
            r->status = ST_LBA_RANGE;
            r->err_lba = nm_get64(d + 16u * i + 8u);
            return;
        }
    }
    for (i = 0; i < nr; i++)
        zero_blocks(ns, nm_get64(d + 16u * i + 8u), nm_get32(d + 16u * i + 4u));
    m->st.writes_since_flush++;
}

static void do_flush(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    if (c->nsid != 0xffffffffu && get_ns(m, c, r) == NULL)
        return;
    m->st.flushes++;
    m->st.writes_since_flush = 0;
}

static bool oncs(const struct nvme_model *m, uint16_t bit)
{
    return (m->cfg.oncs & bit) != 0;
}

void nm_io(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    if (c->psdt != 0 || c->fuse != 0) {
        r->status = ST_INVALID_FIELD;
        return;
    }
    if (c->opc == NM_IO_FLUSH)
        do_flush(m, c, r);
    else if (c->opc == NM_IO_WRITE)
        do_write(m, c, r);
    else if (c->opc == NM_IO_READ)
        do_read(m, c, r);
    else if (c->opc == NM_IO_COMPARE && oncs(m, NVME_MODEL_ONCS_COMPARE))
        do_compare(m, c, r);
    else if (c->opc == NM_IO_WRITE_ZEROES && oncs(m, NVME_MODEL_ONCS_WRITE_ZEROES))
        do_write_zeroes(m, c, r);
    else if (c->opc == NM_IO_DSM && oncs(m, NVME_MODEL_ONCS_DSM))
        do_dsm(m, c, r);
    else
        r->status = NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_INVALID_OPCODE);
}

/* ---- test-facing ---- */

uint8_t *nvme_model_media(struct nvme_model *m, uint32_t nsid, uint64_t *bytes)
{
    struct nm_ns *ns = nm_ns_find(m, nsid);

    if (ns == NULL)
        return NULL;
    if (bytes)
        *bytes = ns->nsze * ns->lbasize;
    return ns->data;
}

uint8_t *nvme_model_metadata(struct nvme_model *m, uint32_t nsid, uint64_t *bytes)
{
    struct nm_ns *ns = nm_ns_find(m, nsid);

    if (ns == NULL || ns->ms == 0)
        return NULL;
    if (bytes)
        *bytes = ns->nsze * ns->ms;
    return ns->meta;
}

void nvme_model_set_write_protect(struct nvme_model *m, uint32_t nsid, bool wp)
{
    struct nm_ns *ns = nm_ns_find(m, nsid);

    if (ns != NULL)
        ns->wp = wp;
}
