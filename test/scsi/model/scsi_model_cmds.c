/* SPDX-License-Identifier: MIT */
/*
 * scsi_model_cmds.c - the commands the SCSI target model executes, written from SPC-5 / SBC-4
 * (with QEMU's scsi-disk behaviour where the specs leave a choice): INQUIRY and VPD pages, REPORT
 * LUNS, READ CAPACITY, READ/WRITE, SYNCHRONIZE CACHE, UNMAP, MODE SENSE, REQUEST SENSE, START STOP
 * UNIT, and the answers of a LUN that does not exist.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_model_internal.h"

#define OP_TUR           0x00
#define OP_REQUEST_SENSE 0x03
#define OP_INQUIRY       0x12
#define OP_MODE_SENSE6   0x1a
#define OP_START_STOP    0x1b
#define OP_RC10          0x25
#define OP_READ10        0x28
#define OP_WRITE10       0x2a
#define OP_SYNC10        0x35
#define OP_UNMAP         0x42
#define OP_MODE_SENSE10  0x5a
#define OP_READ16        0x88
#define OP_WRITE16       0x8a
#define OP_SYNC16        0x91
#define OP_SAI16         0x9e
#define OP_REPORT_LUNS   0xa0
#define SA_RC16          0x10

#define INQ_STD_LEN 36u

bool sm_op_needs_medium(uint8_t op)
{
    switch (op) {
    case OP_TUR:
    case OP_RC10:
    case OP_SAI16:
    case OP_READ10:
    case OP_WRITE10:
    case OP_READ16:
    case OP_WRITE16:
    case OP_SYNC10:
    case OP_SYNC16:
    case OP_UNMAP:
        return true;
    default:
        return false;
    }
}

/* CDB length by group code (SPC-5 4.2.5.1). */
static uint32_t cdb_need(uint8_t op)
{
    switch (op >> 5) {
    case 1:
    case 2:
        return 10;
    case 4:
        return 16;
    case 5:
        return 12;
    default:
        return 6;
    }
}

static bool is_rw(uint8_t op)
{
    return op == OP_READ10 || op == OP_WRITE10 || op == OP_READ16 || op == OP_WRITE16;
}

static bool is_write(uint8_t op)
{
    return op == OP_WRITE10 || op == OP_WRITE16;
}

static void rw_fields(const uint8_t *cdb, uint8_t op, uint64_t *lba, uint32_t *n)
{
    if (op == OP_READ16 || op == OP_WRITE16) {
        *lba = sm_get64(cdb + 2);
        *n = sm_get32(cdb + 10);
    } else {
        *lba = sm_get32(cdb + 2);
        *n = sm_get16(cdb + 7);
    }
}

uint64_t sm_xfer_len(const struct sm_ctx *c, bool *data_out)
{
    const uint8_t *cdb = c->cmd->cdb;
    uint8_t op = c->op;

    *data_out = false;
    if (c->cmd->cdb_len < cdb_need(op))
        return 0;
    switch (op) {
    case OP_INQUIRY:
        return sm_get16(cdb + 3);
    case OP_REQUEST_SENSE:
    case OP_MODE_SENSE6:
        return cdb[4];
    case OP_MODE_SENSE10:
        return sm_get16(cdb + 7);
    case OP_REPORT_LUNS:
        return sm_get32(cdb + 6);
    case OP_RC10:
        return 8;
    case OP_SAI16:
        return (cdb[1] & 0x1fu) == SA_RC16 ? sm_get32(cdb + 10) : 0;
    case OP_UNMAP:
        *data_out = true;
        return sm_get16(cdb + 7);
    default:
        break;
    }
    if (is_rw(op) && c->lu != NULL) {
        uint64_t lba;
        uint32_t n;
        rw_fields(cdb, op, &lba, &n);
        *data_out = is_write(op);
        return (uint64_t)n * c->lu->cfg.block_size;
    }
    return 0;
}

/* ---- INQUIRY ---- */

static void put_padded(uint8_t *dst, const char *src, size_t width)
{
    size_t n = strlen(src);
    memset(dst, ' ', width);
    memcpy(dst, src, n < width ? n : width);
}

static void std_inquiry(uint8_t *b, uint8_t byte0, bool rmb, bool protect, const char *vendor,
                        const char *product, const char *rev)
{
    memset(b, 0, INQ_STD_LEN);
    b[0] = byte0;
    b[1] = rmb ? 0x80 : 0x00;
    b[2] = 0x05;                  /* SPC-3, as QEMU */
    b[3] = 0x12;                  /* HISUP, response data format 2 */
    b[4] = INQ_STD_LEN - 5u;      /* ADDITIONAL LENGTH */
    b[5] = protect ? 0x01 : 0x00; /* PROTECT */
    b[7] = 0x02;                  /* CMDQUE */
    put_padded(b + 8, vendor, 8);
    put_padded(b + 16, product, 16);
    put_padded(b + 32, rev, 4);
}

static uint32_t vpd_supported(const struct sm_lu *lu, uint8_t *b)
{
    uint32_t n = 4;
    b[n++] = 0x00;
    b[n++] = 0x80;
    b[n++] = 0x83;
    if (lu->cfg.type == SCSI_MODEL_TYPE_DISK && lu->cfg.block_limits)
        b[n++] = 0xb0;
    if (lu->cfg.type == SCSI_MODEL_TYPE_DISK && lu->cfg.provisioning)
        b[n++] = 0xb2;
    return n;
}

static uint32_t designator(uint8_t *b, uint32_t off, uint8_t code_set, uint8_t type,
                           const uint8_t *id, uint8_t len)
{
    b[off] = code_set;
    b[off + 1] = type; /* association 0: the logical unit */
    b[off + 2] = 0;
    b[off + 3] = len;
    memcpy(b + off + 4, id, len);
    return off + 4u + len;
}

static uint32_t vpd_device_id(const struct sm_lu *lu, uint8_t *b)
{
    uint8_t id[40];
    uint32_t n = 4;
    size_t slen = strlen(lu->cfg.serial);

    /* T10 vendor ID: vendor (8, blank padded) followed by the serial number. */
    put_padded(id, lu->cfg.vendor, 8);
    memcpy(id + 8, lu->cfg.serial, slen);
    n = designator(b, n, 0x02, 0x01, id, (uint8_t)(8 + slen));
    if (lu->cfg.naa != 0) {
        sm_be64(id, lu->cfg.naa);
        n = designator(b, n, 0x01, 0x03, id, 8);
    }
    if (lu->cfg.eui64 != 0) {
        sm_be64(id, lu->cfg.eui64);
        n = designator(b, n, 0x01, 0x02, id, 8);
    }
    return n;
}

static uint32_t vpd_block_limits(const struct sm_lu *lu, uint8_t *b)
{
    memset(b + 4, 0, 60);
    sm_be32(b + 8, lu->cfg.max_xfer_blocks);
    sm_be32(b + 12, lu->cfg.opt_xfer_blocks);
    if (lu->cfg.provisioning) {
        sm_be32(b + 20, lu->cfg.max_unmap_lba_count ? lu->cfg.max_unmap_lba_count : 0xffffffffu);
        sm_be32(b + 24, lu->cfg.max_unmap_desc_count ? lu->cfg.max_unmap_desc_count : 0xffffffffu);
        sm_be32(b + 28, lu->cfg.unmap_granularity);
    }
    return 64;
}

static uint32_t vpd_provisioning(uint8_t *b)
{
    memset(b + 4, 0, 4);
    b[5] = 0x80 | 0x04; /* LBPU, LBPRZ = 001b (unmapped blocks read zero) */
    b[6] = 0x02;        /* thin provisioned */
    return 8;
}

static void inquiry_vpd(struct sm_ctx *c, uint8_t page, uint32_t alloc)
{
    const struct sm_lu *lu = c->lu;
    bool disk = lu->cfg.type == SCSI_MODEL_TYPE_DISK;
    uint8_t b[256];
    uint32_t n;

    memset(b, 0, sizeof(b));
    b[0] = lu->cfg.type;
    b[1] = page;
    switch (page) {
    case 0x00:
        n = vpd_supported(lu, b);
        break;
    case 0x80:
        n = 4u + (uint32_t)strlen(lu->cfg.serial);
        memcpy(b + 4, lu->cfg.serial, n - 4u);
        break;
    case 0x83:
        n = vpd_device_id(lu, b);
        break;
    case 0xb0:
        if (!disk || !lu->cfg.block_limits) {
            sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
            return;
        }
        n = vpd_block_limits(lu, b);
        break;
    case 0xb2:
        if (!disk || !lu->cfg.provisioning) {
            sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
            return;
        }
        n = vpd_provisioning(b);
        break;
    default:
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    sm_be16(b + 2, n - 4u);
    sm_data_in(c, b, n, alloc);
}

static void inquiry(struct sm_ctx *c)
{
    const uint8_t *cdb = c->cmd->cdb;
    uint32_t alloc = sm_get16(cdb + 3);
    uint8_t b[INQ_STD_LEN];

    if ((cdb[1] & 0x01) != 0) {
        inquiry_vpd(c, cdb[2], alloc);
        return;
    }
    if (cdb[2] != 0) { /* PAGE CODE without EVPD */
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    std_inquiry(b, c->lu->cfg.type, c->lu->cfg.removable, c->lu->cfg.prot_en, c->lu->cfg.vendor,
                c->lu->cfg.product, c->lu->cfg.revision);
    sm_data_in(c, b, INQ_STD_LEN, alloc);
}

/* ---- REPORT LUNS ---- */

static void put_lun(uint8_t *e, uint32_t lun)
{
    memset(e, 0, 8);
    if (lun < 256) { /* peripheral device addressing, bus 0 */
        e[1] = (uint8_t)lun;
    } else { /* flat space addressing */
        e[0] = (uint8_t)(0x40 | (lun >> 8));
        e[1] = (uint8_t)lun;
    }
}

static void report_luns(struct sm_ctx *c)
{
    const uint8_t *cdb = c->cmd->cdb;
    const struct sm_target *t = c->t;
    uint8_t sr = cdb[2];
    uint32_t alloc = sm_get32(cdb + 6), count = 0, list_len, v, i, k = 0;
    bool phantom0;
    uint8_t *b;

    if ((t->flags & SCSI_MODEL_TGT_NO_REPORT_LUNS) != 0) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x20, 0x00);
        return;
    }
    if (alloc < 16 || (sr != 0x00 && sr != 0x01 && sr != 0x02)) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    phantom0 = (t->flags & SCSI_MODEL_TGT_NO_PHANTOM_LUN0) == 0 && t->lus[0]->lun != 0;
    if (sr != 0x01) /* 01h: well-known LUNs only, the model has none */
        count = (uint32_t)t->n + (phantom0 ? 1u : 0u);
    b = calloc(1, 8u + 8u * count);
    if (b == NULL)
        abort();
    list_len = 8u * count;
    if (sm_fault(c, SCSI_MODEL_F_REPORT_LUNS_LIE, &v))
        list_len = v;
    sm_be32(b, list_len);
    if (count > 0 && phantom0)
        put_lun(b + 8 + 8 * k++, 0);
    for (i = 0; count > 0 && i < t->n; i++)
        put_lun(b + 8 + 8 * k++, t->lus[i]->lun);
    sm_data_in(c, b, 8u + 8u * count, alloc);
    free(b);
}

/* ---- READ CAPACITY ---- */

static uint32_t reported_block_len(struct sm_ctx *c)
{
    uint32_t v;
    return sm_fault(c, SCSI_MODEL_F_CAPACITY_LIE, &v) ? v : c->lu->cfg.block_size;
}

static void read_capacity10(struct sm_ctx *c)
{
    uint64_t last = c->lu->cfg.nblocks - 1u;
    uint8_t b[8];
    /* SBC-4 5.19.2: FFFFFFFFh when the last LBA does not fit. */
    sm_be32(b, last >= 0xffffffffull ? 0xffffffffu : (uint32_t)last);
    sm_be32(b + 4, reported_block_len(c));
    sm_data_in(c, b, 8, 8);
}

static void read_capacity16(struct sm_ctx *c)
{
    const struct scsi_model_lun_cfg *cfg = &c->lu->cfg;
    uint8_t b[32];

    if ((c->cmd->cdb[1] & 0x1fu) != SA_RC16) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    memset(b, 0, sizeof(b));
    sm_be64(b, cfg->nblocks - 1u);
    sm_be32(b + 8, reported_block_len(c));
    b[12] = cfg->prot_en ? 0x01 : 0x00;      /* P_TYPE 0 (type 1), PROT_EN */
    b[13] = (uint8_t)(cfg->lbppbe & 0x0fu);  /* LOGICAL BLOCKS PER PHYSICAL EXP */
    b[14] = cfg->provisioning ? 0xc0 : 0x00; /* LBPME, LBPRZ */
    sm_data_in(c, b, 32, sm_get32(c->cmd->cdb + 10));
}

/* ---- READ / WRITE ---- */

/* First LBA in [lba, lba + n) that fails, or UINT64_MAX. */
static uint64_t bad_lba(struct sm_ctx *c, bool write, uint64_t lba, uint32_t n)
{
    uint64_t first = UINT64_MAX;
    uint32_t v;
    unsigned i;

    for (i = 0; i < c->lu->n_bad; i++) {
        const struct sm_bad *b = &c->lu->bad[i];
        if ((write ? b->on_write : b->on_read) && b->lba >= lba && b->lba - lba < n &&
            b->lba < first)
            first = b->lba;
    }
    /* The fault only fires (and only counts) for a command covering its LBA. */
    if (sm_fault_peek(c, SCSI_MODEL_F_MEDIUM_ERROR, &v) && v >= lba && v - lba < n && v < first &&
        sm_fault(c, SCSI_MODEL_F_MEDIUM_ERROR, NULL))
        first = v;
    return first;
}

static void read_write(struct sm_ctx *c)
{
    struct sm_lu *lu = c->lu;
    const uint8_t *cdb = c->cmd->cdb;
    bool write = is_write(c->op);
    uint64_t lba, bad, good, bs = lu->cfg.block_size;
    uint32_t n;

    rw_fields(cdb, c->op, &lba, &n);
    if (((cdb[1] & 0x18u) != 0 && !lu->cfg.dpofua) || ((cdb[1] & 0xe0u) != 0 && !lu->cfg.prot_en)) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00); /* FUA/DPO or RD/WRPROTECT unsupported */
        return;
    }
    if (write && lu->cfg.write_protect) {
        sm_check(c, SK_DATA_PROTECT, 0x27, 0x00);
        return;
    }
    /* As QEMU: the range must lie within the medium; an empty one may start at its end. */
    if (lba > lu->cfg.nblocks || n > lu->cfg.nblocks - lba) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x21, 0x00);
        return;
    }
    if (n == 0)
        return; /* a transfer length of 0 moves nothing (SBC-4 5.15) */
    if (lu->cfg.max_xfer_blocks != 0 && n > lu->cfg.max_xfer_blocks) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    bad = bad_lba(c, write, lba, n);
    good = bad == UINT64_MAX ? n : bad - lba;
    if (write) {
        sm_media_write(&lu->media, lba * bs, c->cmd->data_out, (size_t)(good * bs));
        lu->stats.writes++;
        lu->stats.blocks_written += good;
        if ((cdb[1] & 0x08u) != 0)
            lu->stats.fua_writes++;
        else if (lu->cfg.wce)
            lu->stats.dirty_writes++;
    } else {
        sm_media_read(&lu->media, lba * bs, c->cmd->data_in, (size_t)(good * bs));
        c->res->in_len = (uint32_t)(good * bs);
        lu->stats.reads++;
        lu->stats.blocks_read += good;
    }
    if (bad != UINT64_MAX)
        sm_check_info(c, SK_MEDIUM_ERROR, write ? 0x0c : 0x11, 0x00, bad);
}

/* ---- SYNCHRONIZE CACHE, UNMAP ---- */

static void sync_cache(struct sm_ctx *c)
{
    const uint8_t *cdb = c->cmd->cdb;
    uint64_t lba;
    uint32_t n;

    if (c->op == OP_SYNC16) {
        lba = sm_get64(cdb + 2);
        n = sm_get32(cdb + 10);
    } else {
        lba = sm_get32(cdb + 2);
        n = sm_get16(cdb + 7);
    }
    if (lba >= c->lu->cfg.nblocks || n > c->lu->cfg.nblocks - lba) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x21, 0x00);
        return;
    }
    c->lu->stats.syncs++;
    c->lu->stats.dirty_writes = 0;
}

static void unmap(struct sm_ctx *c)
{
    struct sm_lu *lu = c->lu;
    const uint8_t *cdb = c->cmd->cdb, *p = c->cmd->data_out;
    uint32_t plen = sm_get16(cdb + 7), ndesc, i;
    uint64_t total = 0;

    if (!lu->cfg.provisioning) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x20, 0x00);
        return;
    }
    if ((cdb[1] & 0x01u) != 0) { /* ANCHOR without ANC_SUP */
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    if (lu->cfg.write_protect) {
        sm_check(c, SK_DATA_PROTECT, 0x27, 0x00);
        return;
    }
    if (plen == 0) {
        lu->stats.unmaps++; /* nothing to do, and not an error (SBC-4 5.32.1) */
        return;
    }
    /* Header checks as QEMU: lengths beyond the list or a partial descriptor: 1A/00. */
    if (plen < 8 || plen < sm_get16(p) + 2u || plen < sm_get16(p + 2) + 8u ||
        (sm_get16(p + 2) & 15u) != 0) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
        return;
    }
    ndesc = sm_get16(p + 2) >> 4;
    if (ndesc > (lu->cfg.max_unmap_desc_count ? lu->cfg.max_unmap_desc_count : 0xffffffffu)) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
        return;
    }
    /* Validate everything before unmapping anything. */
    for (i = 0; i < ndesc; i++) {
        const uint8_t *d = p + 8 + 16 * i;
        uint64_t lba = sm_get64(d);
        uint32_t n = sm_get32(d + 8);
        if (lba > lu->cfg.nblocks || n > lu->cfg.nblocks - lba) {
            sm_check(c, SK_ILLEGAL_REQUEST, 0x21, 0x00);
            return;
        }
        total += n;
    }
    if (total > (lu->cfg.max_unmap_lba_count ? lu->cfg.max_unmap_lba_count : 0xffffffffu)) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
        return;
    }
    for (i = 0; i < ndesc; i++) {
        const uint8_t *d = p + 8 + 16 * i;
        sm_media_discard(&lu->media, sm_get64(d) * lu->cfg.block_size,
                         (uint64_t)sm_get32(d + 8) * lu->cfg.block_size);
    }
    lu->stats.unmaps++;
    lu->stats.blocks_unmapped += total;
}

/* ---- MODE SENSE ---- */

static void mode_sense(struct sm_ctx *c)
{
    const struct scsi_model_lun_cfg *cfg = &c->lu->cfg;
    const uint8_t *cdb = c->cmd->cdb;
    bool is10 = c->op == OP_MODE_SENSE10, dbd = (cdb[1] & 0x08u) != 0;
    uint8_t pc = (uint8_t)(cdb[2] >> 6), page = (uint8_t)(cdb[2] & 0x3fu), sub = cdb[3];
    uint32_t alloc = is10 ? sm_get16(cdb + 7) : cdb[4];
    uint32_t hdr = is10 ? 8u : 4u, off = hdr, bdlen = 0;
    uint8_t b[128], devparam;

    if ((sub != 0x00 && !(sub == 0xff && page == 0x3f)) ||
        (page != 0x08 && page != 0x0a && page != 0x3f)) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    memset(b, 0, sizeof(b));
    if (!dbd && cfg->type == SCSI_MODEL_TYPE_DISK) {
        /* Short block descriptor: NUMBER OF BLOCKS (FFFFFFh if larger), BLOCK LENGTH. */
        uint64_t nb = cfg->nblocks > 0xffffffu ? 0xffffffu : cfg->nblocks;
        b[off + 1] = (uint8_t)(nb >> 16);
        b[off + 2] = (uint8_t)(nb >> 8);
        b[off + 3] = (uint8_t)nb;
        b[off + 5] = (uint8_t)(cfg->block_size >> 16);
        b[off + 6] = (uint8_t)(cfg->block_size >> 8);
        b[off + 7] = (uint8_t)cfg->block_size;
        bdlen = 8;
        off += 8;
    }
    if (page == 0x08 || page == 0x3f) { /* caching page, 20 bytes */
        b[off] = 0x08;
        b[off + 1] = 0x12;
        b[off + 2] = (pc == 1 || cfg->wce) ? 0x04 : 0x00; /* WCE */
        off += 20;
    }
    if (page == 0x0a || page == 0x3f) { /* control page, 12 bytes */
        b[off] = 0x0a;
        b[off + 1] = 0x0a;
        b[off + 2] = (pc != 1 && cfg->desc_sense) ? 0x04 : 0x00; /* D_SENSE */
        off += 12;
    }
    devparam = (uint8_t)((cfg->write_protect ? 0x80u : 0u) | (cfg->dpofua ? 0x10u : 0u));
    if (is10) {
        sm_be16(b, off - 2u);
        b[3] = devparam;
        sm_be16(b + 6, bdlen);
    } else {
        b[0] = (uint8_t)(off - 1u);
        b[2] = devparam;
        b[3] = (uint8_t)bdlen;
    }
    sm_data_in(c, b, off, alloc);
}

/* ---- REQUEST SENSE, START STOP UNIT ---- */

static void request_sense(struct sm_ctx *c)
{
    struct sm_lu *lu = c->lu;
    bool desc = (c->cmd->cdb[1] & 0x01u) != 0;
    uint8_t b[32], key = SK_NO_SENSE, asc = 0, ascq = 0;
    uint32_t n;

    if (lu->n_ua > 0) {
        key = SK_UNIT_ATTENTION;
        asc = lu->ua[0].asc;
        ascq = lu->ua[0].ascq;
        lu->n_ua--;
        memmove(&lu->ua[0], &lu->ua[1], lu->n_ua * sizeof(lu->ua[0]));
        lu->stats.unit_attentions++;
    } else if (lu->cfg.removable && !lu->cfg.medium_present) {
        key = SK_NOT_READY;
        asc = 0x3a;
    } else if (lu->stopped) {
        key = SK_NOT_READY;
        asc = 0x04;
        ascq = 0x02;
    } else if (lu->becoming_ready > 0) {
        key = SK_NOT_READY;
        asc = 0x04;
        ascq = 0x01;
    }
    n = sm_build_sense(b, desc, key, asc, ascq, false, 0);
    sm_data_in(c, b, n, c->cmd->cdb[4]);
}

static void start_stop(struct sm_ctx *c)
{
    struct sm_lu *lu = c->lu;
    uint8_t b4 = c->cmd->cdb[4];
    bool start = (b4 & 0x01u) != 0, loej = (b4 & 0x02u) != 0;

    lu->stats.start_stops++;
    if ((b4 >> 4) != 0)
        return; /* power conditions: accepted, nothing modelled */
    if (start)
        lu->stopped = false;
    if (loej && !start && lu->cfg.removable) {
        sm_media_free(&lu->media);
        lu->cfg.medium_present = false;
        lu->cfg.nblocks = 0;
    }
}

/* ---- dispatch ---- */

void sm_dispatch(struct sm_ctx *c)
{
    if (c->cmd->cdb_len < cdb_need(c->op)) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    switch (c->op) {
    case OP_TUR:
        return;
    case OP_INQUIRY:
        inquiry(c);
        return;
    case OP_REPORT_LUNS:
        report_luns(c);
        return;
    case OP_RC10:
        read_capacity10(c);
        return;
    case OP_SAI16:
        read_capacity16(c);
        return;
    case OP_READ10:
    case OP_WRITE10:
    case OP_READ16:
    case OP_WRITE16:
        read_write(c);
        return;
    case OP_SYNC10:
    case OP_SYNC16:
        sync_cache(c);
        return;
    case OP_UNMAP:
        unmap(c);
        return;
    case OP_MODE_SENSE6:
    case OP_MODE_SENSE10:
        mode_sense(c);
        return;
    case OP_REQUEST_SENSE:
        request_sense(c);
        return;
    case OP_START_STOP:
        start_stop(c);
        return;
    default:
        sm_check(c, SK_ILLEGAL_REQUEST, 0x20, 0x00);
        return;
    }
}

/* A present target without this LUN (QEMU's answers). */
void sm_absent_lun(struct sm_ctx *c)
{
    uint8_t b[INQ_STD_LEN];
    uint32_t n;

    if (c->cmd->cdb_len < cdb_need(c->op)) {
        sm_check(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    switch (c->op) {
    case OP_INQUIRY:
        if ((c->cmd->cdb[1] & 0x01u) != 0 || c->cmd->cdb[2] != 0) {
            sm_check(c, SK_ILLEGAL_REQUEST, 0x25, 0x00);
            return;
        }
        /* Peripheral qualifier 011b, device type 1Fh: no logical unit here. */
        std_inquiry(b, 0x7f, false, false, "KEEL", "SIM TARGET", "1.0");
        sm_data_in(c, b, INQ_STD_LEN, sm_get16(c->cmd->cdb + 3));
        return;
    case OP_REPORT_LUNS:
        report_luns(c);
        return;
    case OP_REQUEST_SENSE:
        n = sm_build_sense(b, (c->cmd->cdb[1] & 0x01u) != 0, SK_ILLEGAL_REQUEST, 0x25, 0x00, false,
                           0);
        sm_data_in(c, b, n, c->cmd->cdb[4]);
        return;
    default:
        sm_check(c, SK_ILLEGAL_REQUEST, 0x25, 0x00);
        return;
    }
}
