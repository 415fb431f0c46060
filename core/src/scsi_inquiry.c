/* SPDX-License-Identifier: MIT */
/*
 * scsi_inquiry.c - standard INQUIRY data and the VPD pages Keel reads (SPC-5 6.7, 7.7; SBC-4 6.6):
 * 00h supported pages, 80h unit serial number, 83h device identification, B0h block limits, B2h
 * logical block provisioning. Every read is bounded by the bytes that arrived.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/scsi.h>
#include <keel/str.h>

#define INQ_HDR_LEN 5u /* bytes 0..4: up to ADDITIONAL LENGTH */
#define VPD_HDR_LEN 4u

/* Copy a fixed-width ASCII field, keeping only printable bytes, and drop trailing blanks/NULs. */
static void copy_ascii(char *dst, const uint8_t *src, uint32_t avail, uint32_t width)
{
    uint32_t i, n = avail < width ? avail : width;
    for (i = 0; i < n; i++) {
        uint8_t c = src[i];
        if (c == 0u)
            c = ' ';
        dst[i] = (char)((c >= 0x20u && c <= 0x7eu) ? c : '?');
    }
    while (n > 0u && dst[n - 1u] == ' ')
        n--;
    dst[n] = '\0';
}

/* Bytes of [off, off + width) that lie inside `valid`. */
static uint32_t avail_at(uint32_t valid, uint32_t off, uint32_t width)
{
    if (valid <= off)
        return 0;
    return valid - off < width ? valid - off : width;
}

int keel_scsi_parse_inquiry(const uint8_t *buf, uint32_t len, struct keel_scsi_inquiry *inq)
{
    uint32_t valid;

    if (buf == NULL || inq == NULL)
        return KEEL_EINVAL;
    keel_memset(inq, 0, sizeof(*inq));
    if (len < INQ_HDR_LEN)
        return KEEL_EPROTO;
    valid = INQ_HDR_LEN + (uint32_t)buf[4];
    if (valid > len)
        valid = len;
    inq->valid_len = valid;
    inq->qualifier = (uint8_t)(buf[0] >> 5);
    inq->type = (uint8_t)(buf[0] & 0x1fu);
    inq->removable = (buf[1] & 0x80u) != 0u;
    inq->version = buf[2];
    inq->response_format = (uint8_t)(buf[3] & 0x0fu);
    inq->hisup = (buf[3] & 0x10u) != 0u;
    if (valid > 5u)
        inq->protect = (buf[5] & 0x01u) != 0u;
    if (valid > 7u)
        inq->cmdque = (buf[7] & 0x02u) != 0u;
    copy_ascii(inq->vendor, buf + 8, avail_at(valid, 8, 8), 8);
    copy_ascii(inq->product, buf + 16, avail_at(valid, 16, 16), 16);
    copy_ascii(inq->revision, buf + 32, avail_at(valid, 32, 4), 4);
    return KEEL_OK;
}

bool keel_scsi_inquiry_lun_present(const struct keel_scsi_inquiry *inq)
{
    return inq->qualifier == KEEL_SCSI_PQ_CONNECTED && inq->type != KEEL_SCSI_TYPE_NONE;
}

int keel_scsi_vpd_body(const uint8_t *buf, uint32_t len, uint8_t page, const uint8_t **body,
                       uint32_t *body_len)
{
    uint32_t n;

    if (buf == NULL || body == NULL || body_len == NULL)
        return KEEL_EINVAL;
    *body = NULL;
    *body_len = 0;
    if (len < VPD_HDR_LEN || buf[1] != page)
        return KEEL_EPROTO;
    n = keel_ld_be16(buf + 2);
    if (n > len - VPD_HDR_LEN)
        n = len - VPD_HDR_LEN;
    *body = buf + VPD_HDR_LEN;
    *body_len = n;
    return KEEL_OK;
}

int keel_scsi_parse_vpd_pages(const uint8_t *buf, uint32_t len, struct keel_scsi_vpd_pages *pages)
{
    const uint8_t *b;
    uint32_t n, i;
    int rc;

    if (pages == NULL)
        return KEEL_EINVAL;
    keel_memset(pages, 0, sizeof(*pages));
    rc = keel_scsi_vpd_body(buf, len, KEEL_SCSI_VPD_SUPPORTED, &b, &n);
    if (rc != KEEL_OK)
        return rc;
    for (i = 0; i < n; i++) {
        uint8_t bit = (uint8_t)(1u << (b[i] & 7u));
        if ((pages->map[b[i] >> 3] & bit) == 0u) {
            pages->map[b[i] >> 3] |= bit;
            pages->count++;
        }
    }
    return KEEL_OK;
}

bool keel_scsi_vpd_has_page(const struct keel_scsi_vpd_pages *pages, uint8_t page)
{
    return (pages->map[page >> 3] & (1u << (page & 7u))) != 0u;
}

int keel_scsi_parse_vpd_serial(const uint8_t *buf, uint32_t len, char *out, uint32_t cap)
{
    const uint8_t *b;
    uint32_t n, start = 0;
    int rc;

    if (out == NULL || cap == 0u)
        return KEEL_EINVAL;
    out[0] = '\0';
    rc = keel_scsi_vpd_body(buf, len, KEEL_SCSI_VPD_SERIAL, &b, &n);
    if (rc != KEEL_OK)
        return rc;
    /* Serial numbers are often right-aligned in blanks: drop leading blanks and NULs too. */
    while (start < n && (b[start] == ' ' || b[start] == 0u))
        start++;
    n -= start;
    if (n > cap - 1u)
        n = cap - 1u;
    copy_ascii(out, b + start, n, n);
    return (int)keel_strnlen(out, cap);
}

int keel_scsi_vpd_devid_next(const uint8_t *buf, uint32_t len, uint32_t *cursor,
                             struct keel_scsi_designator *d)
{
    const uint8_t *b, *p;
    uint32_t n;
    int rc = keel_scsi_vpd_body(buf, len, KEEL_SCSI_VPD_DEVICE_ID, &b, &n);

    if (rc != KEEL_OK)
        return rc;
    if (cursor == NULL || d == NULL)
        return KEEL_EINVAL;
    /* Each descriptor: 4-byte header (byte 3 = DESIGNATOR LENGTH), then the designator. */
    if (*cursor > n || n - *cursor < 4u)
        return 0;
    p = b + *cursor;
    if ((uint32_t)p[3] > n - *cursor - 4u)
        return 0; /* crosses the end of the page: stop, never read past it */
    d->protocol = (uint8_t)(p[0] >> 4);
    d->code_set = (uint8_t)(p[0] & 0x0fu);
    d->piv = (p[1] & 0x80u) != 0u;
    d->assoc = (uint8_t)((p[1] >> 4) & 3u);
    d->type = (uint8_t)(p[1] & 0x0fu);
    d->len = p[3];
    d->id = p + 4;
    *cursor += 4u + (uint32_t)p[3];
    return 1;
}

/* Rank of a logical-unit designator (0 = unusable); higher is better. */
static int designator_rank(const struct keel_scsi_designator *d)
{
    if (d->assoc != KEEL_SCSI_ASSOC_LU)
        return 0;
    switch (d->type) {
    case KEEL_SCSI_DESIG_NAA: {
        uint8_t naa;
        if (d->len < 8u)
            return 0;
        naa = (uint8_t)(d->id[0] >> 4);
        if ((naa == 2u || naa == 3u || naa == 5u) && d->len == 8u)
            return 3;
        if (naa == 6u && d->len == 16u)
            return 3;
        return 0;
    }
    case KEEL_SCSI_DESIG_EUI64:
        return (d->len == 8u || d->len == 12u || d->len == 16u) ? 2 : 0;
    case KEEL_SCSI_DESIG_T10:
        return d->len >= 8u ? 1 : 0;
    default:
        return 0;
    }
}

int keel_scsi_vpd_devid_best(const uint8_t *buf, uint32_t len, struct keel_scsi_designator *d)
{
    struct keel_scsi_designator cur;
    uint32_t cursor = 0;
    int best = 0, rc;

    if (d == NULL)
        return KEEL_EINVAL;
    while ((rc = keel_scsi_vpd_devid_next(buf, len, &cursor, &cur)) == 1) {
        int r = designator_rank(&cur);
        if (r > best) {
            best = r;
            *d = cur;
        }
    }
    if (rc < 0)
        return rc;
    return best > 0 ? KEEL_OK : KEEL_ENOENT;
}

/* Big-endian field of the page body at page offset `off` (>= 4), 0 when it did not arrive. */
static uint32_t body_be32(const uint8_t *b, uint32_t n, uint32_t off)
{
    return (off - VPD_HDR_LEN + 4u <= n) ? keel_ld_be32(b + off - VPD_HDR_LEN) : 0u;
}

int keel_scsi_parse_vpd_block_limits(const uint8_t *buf, uint32_t len,
                                     struct keel_scsi_block_limits *bl)
{
    const uint8_t *b;
    uint32_t n, uga;
    int rc;

    if (bl == NULL)
        return KEEL_EINVAL;
    keel_memset(bl, 0, sizeof(*bl));
    rc = keel_scsi_vpd_body(buf, len, KEEL_SCSI_VPD_BLOCK_LIMITS, &b, &n);
    if (rc != KEEL_OK)
        return rc;
    bl->page_len = keel_ld_be16(buf + 2);
    /* Offsets are page offsets (SBC-4 6.6.4); b starts at page offset 4. */
    if (n >= 1u)
        bl->wsnz = (b[0] & 0x01u) != 0u;
    if (n >= 2u)
        bl->max_compare_write_len = b[1];
    if (n >= 4u)
        bl->opt_xfer_granularity = keel_ld_be16(b + 2);
    bl->max_xfer_len = body_be32(b, n, 8);
    bl->opt_xfer_len = body_be32(b, n, 12);
    bl->max_prefetch_len = body_be32(b, n, 16);
    bl->max_unmap_lba_count = body_be32(b, n, 20);
    bl->max_unmap_desc_count = body_be32(b, n, 24);
    bl->opt_unmap_granularity = body_be32(b, n, 28);
    uga = body_be32(b, n, 32);
    bl->ugavalid = (uga & 0x80000000u) != 0u;
    bl->unmap_granularity_align = uga & 0x7fffffffu;
    if (n >= 40u)
        bl->max_write_same_len = keel_ld_be64(b + 32);
    return KEEL_OK;
}

int keel_scsi_parse_vpd_provisioning(const uint8_t *buf, uint32_t len,
                                     struct keel_scsi_provisioning *p)
{
    const uint8_t *b;
    uint32_t n;
    int rc;

    if (p == NULL)
        return KEEL_EINVAL;
    keel_memset(p, 0, sizeof(*p));
    rc = keel_scsi_vpd_body(buf, len, KEEL_SCSI_VPD_PROVISIONING, &b, &n);
    if (rc != KEEL_OK)
        return rc;
    if (n < 2u)
        return KEEL_EPROTO;
    /* SBC-4 6.6.6: byte 4 THRESHOLD EXPONENT; byte 5 LBPU(7) LBPWS(6) LBPWS10(5) LBPRZ(4:2)
     * ANC_SUP(1) DP(0); byte 6 PROVISIONING TYPE (2:0). */
    p->threshold_exp = b[0];
    p->lbpu = (b[1] & 0x80u) != 0u;
    p->lbpws = (b[1] & 0x40u) != 0u;
    p->lbpws10 = (b[1] & 0x20u) != 0u;
    p->lbprz = (uint8_t)((b[1] >> 2) & 7u);
    p->anc_sup = (b[1] & 0x02u) != 0u;
    p->dp = (b[1] & 0x01u) != 0u;
    if (n >= 3u)
        p->prov_type = (uint8_t)(b[2] & 7u);
    return KEEL_OK;
}
