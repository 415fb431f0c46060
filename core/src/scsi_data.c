/* SPDX-License-Identifier: MIT */
/*
 * scsi_data.c - parsers for READ CAPACITY(10)/(16) (SBC-4 5.19, 5.20), REPORT LUNS (SPC-5 6.33),
 * single-level LUN addressing (SAM-5 4.7) and MODE SENSE headers (SPC-5 7.5.5), plus transfer
 * length accounting. Device lengths only ever shorten what is read.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/scsi.h>
#include <keel/str.h>

#define REPORT_LUNS_HDR 8u
#define LUN_ENTRY       8u

int keel_scsi_xfer_len(uint32_t alloc_len, uint32_t residual, uint32_t *len)
{
    if (residual > alloc_len) {
        *len = 0;
        return KEEL_EPROTO;
    }
    *len = alloc_len - residual;
    return KEEL_OK;
}

int keel_scsi_block_shift(uint32_t block_len)
{
    int shift;
    if (block_len < 512u || block_len > 65536u || (block_len & (block_len - 1u)) != 0u)
        return KEEL_EPROTO;
    for (shift = 9; (1u << shift) != block_len; shift++)
        ;
    return shift;
}

static int set_block_len(struct keel_scsi_capacity *cap, uint32_t block_len)
{
    int shift = keel_scsi_block_shift(block_len);
    if (shift < 0)
        return shift;
    cap->block_len = block_len;
    cap->block_shift = (uint8_t)shift;
    return KEEL_OK;
}

int keel_scsi_parse_read_capacity10(const uint8_t *buf, uint32_t len,
                                    struct keel_scsi_capacity *cap)
{
    uint32_t last;
    int rc;

    if (buf == NULL || cap == NULL)
        return KEEL_EINVAL;
    keel_memset(cap, 0, sizeof(*cap));
    if (len < KEEL_SCSI_RC10_LEN)
        return KEEL_EPROTO;
    rc = set_block_len(cap, keel_ld_be32(buf + 4));
    if (rc != KEEL_OK)
        return rc;
    last = keel_ld_be32(buf);
    if (last == 0xffffffffu) {
        /* SBC-4 5.19.2: the capacity does not fit; READ CAPACITY(16) tells it. */
        cap->need16 = true;
        return KEEL_OK;
    }
    cap->last_lba = last;
    cap->nblocks = (uint64_t)last + 1u;
    return KEEL_OK;
}

int keel_scsi_parse_read_capacity16(const uint8_t *buf, uint32_t len,
                                    struct keel_scsi_capacity *cap)
{
    uint64_t last;
    int rc;

    if (buf == NULL || cap == NULL)
        return KEEL_EINVAL;
    keel_memset(cap, 0, sizeof(*cap));
    if (len < 12u)
        return KEEL_EPROTO;
    rc = set_block_len(cap, keel_ld_be32(buf + 8));
    if (rc != KEEL_OK)
        return rc;
    last = keel_ld_be64(buf);
    /* nblocks must exist and nblocks << shift must fit 64 bits. */
    if (last == UINT64_MAX || (last + 1u) > (UINT64_MAX >> cap->block_shift)) {
        keel_memset(cap, 0, sizeof(*cap));
        return KEEL_EPROTO;
    }
    cap->last_lba = last;
    cap->nblocks = last + 1u;
    if (len >= 16u) {
        cap->p_type = (uint8_t)((buf[12] >> 1) & 7u);
        cap->prot_en = (buf[12] & 0x01u) != 0u;
        cap->lbppbe = (uint8_t)(buf[13] & 0x0fu);
        cap->lbpme = (buf[14] & 0x80u) != 0u;
        cap->lbprz = (buf[14] & 0x40u) != 0u;
        cap->lowest_aligned = (uint16_t)(((buf[14] & 0x3fu) << 8) | buf[15]);
    }
    return KEEL_OK;
}

int keel_scsi_lun_decode(const uint8_t *entry, uint32_t *lun)
{
    unsigned i;

    for (i = 2; i < LUN_ENTRY; i++) {
        if (entry[i] != 0u)
            return KEEL_ENOTSUP; /* a second level: hierarchical addressing */
    }
    switch (entry[0] >> 6) {
    case 0: /* peripheral device addressing: bus identifier (bits 5:0) must be 0 */
        if ((entry[0] & 0x3fu) != 0u)
            return KEEL_ENOTSUP;
        *lun = entry[1];
        return KEEL_OK;
    case 1: /* flat space addressing: 14-bit LUN */
        *lun = ((uint32_t)(entry[0] & 0x3fu) << 8) | entry[1];
        return KEEL_OK;
    default: /* logical unit addressing, extended (incl. well-known LUNs) */
        return KEEL_ENOTSUP;
    }
}

int keel_scsi_lun_encode(uint32_t lun, uint8_t *entry)
{
    if (lun > 0x3fffu)
        return KEEL_EINVAL;
    keel_memset(entry, 0, LUN_ENTRY);
    if (lun < 256u) {
        entry[1] = (uint8_t)lun;
    } else {
        entry[0] = (uint8_t)(0x40u | (lun >> 8));
        entry[1] = (uint8_t)lun;
    }
    return KEEL_OK;
}

int keel_scsi_parse_report_luns(const uint8_t *buf, uint32_t len, struct keel_scsi_lun_list *l)
{
    uint32_t list_len;

    if (buf == NULL || l == NULL)
        return KEEL_EINVAL;
    keel_memset(l, 0, sizeof(*l));
    if (len < REPORT_LUNS_HDR)
        return KEEL_EPROTO;
    list_len = keel_ld_be32(buf);
    if ((list_len & (LUN_ENTRY - 1u)) != 0u || list_len > 0xfffffff8u - REPORT_LUNS_HDR)
        return KEEL_EPROTO;
    l->entries = buf + REPORT_LUNS_HDR;
    l->total = list_len >> 3;
    l->avail = (len - REPORT_LUNS_HDR) >> 3;
    if (l->avail > l->total)
        l->avail = l->total; /* bytes past the list are padding, not LUNs */
    l->needed_len = REPORT_LUNS_HDR + list_len;
    l->truncated = l->total > l->avail;
    return KEEL_OK;
}

int keel_scsi_lun_list_next(const struct keel_scsi_lun_list *l, uint32_t *cursor, uint32_t *lun,
                            uint32_t *skipped)
{
    while (*cursor < l->avail) {
        const uint8_t *e = l->entries + ((size_t)*cursor << 3);
        (*cursor)++;
        if (keel_scsi_lun_decode(e, lun) == KEEL_OK)
            return 1;
        if (skipped != NULL)
            (*skipped)++;
    }
    return 0;
}

static void mode_dev_param(struct keel_scsi_mode_header *h, uint8_t medium, uint8_t param)
{
    h->medium_type = medium;
    h->dev_param = param;
    h->wp = (param & 0x80u) != 0u;
    h->dpofua = (param & 0x10u) != 0u;
}

int keel_scsi_parse_mode_sense6(const uint8_t *buf, uint32_t len, struct keel_scsi_mode_header *h)
{
    uint32_t n;

    if (buf == NULL || h == NULL)
        return KEEL_EINVAL;
    keel_memset(h, 0, sizeof(*h));
    if (len < 4u)
        return KEEL_EPROTO;
    /* MODE DATA LENGTH counts the bytes after itself. */
    n = (uint32_t)buf[0] + 1u;
    h->data_len = n < len ? n : len;
    mode_dev_param(h, buf[1], buf[2]);
    h->bd_len = buf[3];
    return KEEL_OK;
}

int keel_scsi_parse_mode_sense10(const uint8_t *buf, uint32_t len, struct keel_scsi_mode_header *h)
{
    uint32_t n;

    if (buf == NULL || h == NULL)
        return KEEL_EINVAL;
    keel_memset(h, 0, sizeof(*h));
    if (len < 8u)
        return KEEL_EPROTO;
    n = (uint32_t)keel_ld_be16(buf) + 2u;
    h->data_len = n < len ? n : len;
    mode_dev_param(h, buf[2], buf[3]);
    h->longlba = (buf[4] & 0x01u) != 0u;
    h->bd_len = keel_ld_be16(buf + 6);
    return KEEL_OK;
}
