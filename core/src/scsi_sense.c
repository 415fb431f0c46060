/* SPDX-License-Identifier: MIT */
/*
 * scsi_sense.c - sense data decoding (SPC-5 4.4: fixed format 70h/71h, descriptor format
 * 72h/73h) and the retry policy documented in keel/scsi.h. The sense length the transport reports
 * and the ADDITIONAL SENSE LENGTH inside the data can only shorten what is read.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/scsi.h>
#include <keel/str.h>

#define SENSE_HDR 8u /* both formats: ADDITIONAL SENSE LENGTH is byte 7 */

/* Bytes of sense data that are valid: what arrived, cut to 8 + ADDITIONAL SENSE LENGTH. */
static uint32_t sense_valid_len(const uint8_t *buf, uint32_t len)
{
    uint32_t n;
    if (len < SENSE_HDR)
        return len;
    n = SENSE_HDR + (uint32_t)buf[7];
    return n < len ? n : len;
}

static void decode_fixed(const uint8_t *buf, uint32_t n, struct keel_scsi_sense *s)
{
    s->key = (uint8_t)(buf[2] & 0x0fu);
    s->ili = (buf[2] & 0x20u) != 0u;
    if (n >= 7u && (buf[0] & 0x80u) != 0u) {
        s->info_valid = true;
        s->info = keel_ld_be32(buf + 3);
    }
    if (n >= 14u) {
        s->asc = buf[12];
        s->ascq = buf[13];
        s->asc_valid = true;
    }
    if (n >= 18u && (buf[15] & 0x80u) != 0u) {
        s->sks_valid = true;
        s->sks[0] = (uint8_t)(buf[15] & 0x7fu);
        s->sks[1] = buf[16];
        s->sks[2] = buf[17];
    }
}

/* One sense data descriptor (type, ADDITIONAL LENGTH, body). */
static void decode_descriptor(const uint8_t *d, uint32_t body_len, struct keel_scsi_sense *s)
{
    switch (d[0]) {
    case 0x00: /* information: VALID in byte 2 bit 7, INFORMATION in bytes 4..11 */
        if (body_len >= 10u && (d[2] & 0x80u) != 0u) {
            s->info_valid = true;
            s->info = keel_ld_be64(d + 4);
        }
        break;
    case 0x02: /* sense key specific: SKSV in byte 4 bit 7, then 3 bytes */
        if (body_len >= 6u && (d[4] & 0x80u) != 0u) {
            s->sks_valid = true;
            s->sks[0] = (uint8_t)(d[4] & 0x7fu);
            s->sks[1] = d[5];
            s->sks[2] = d[6];
        }
        break;
    case 0x04: /* stream commands: ILI in byte 3 bit 5 */
        if (body_len >= 2u)
            s->ili = (d[3] & 0x20u) != 0u;
        break;
    default:
        break;
    }
}

static void decode_desc_format(const uint8_t *buf, uint32_t n, struct keel_scsi_sense *s)
{
    uint32_t off = SENSE_HDR;

    s->key = (uint8_t)(buf[1] & 0x0fu);
    if (n >= 4u) {
        s->asc = buf[2];
        s->ascq = buf[3];
        s->asc_valid = true;
    }
    /* Walk descriptors; each needs 2 header bytes plus its ADDITIONAL LENGTH inside n. */
    while (off + 2u <= n) {
        uint32_t body = buf[off + 1u];
        if (body > n - off - 2u)
            break;
        decode_descriptor(buf + off, body, s);
        off += 2u + body;
    }
}

int keel_scsi_sense_decode(const uint8_t *buf, uint32_t len, struct keel_scsi_sense *s)
{
    uint8_t code;
    uint32_t n;

    if (s == NULL || (buf == NULL && len != 0u))
        return KEEL_EINVAL;
    keel_memset(s, 0, sizeof(*s));
    if (len == 0u)
        return KEEL_EPROTO;
    code = (uint8_t)(buf[0] & 0x7fu);
    n = sense_valid_len(buf, len);
    s->response_code = code;
    switch (code) {
    case 0x70:
    case 0x71:
        if (n < 3u)
            return KEEL_EPROTO;
        s->deferred = code == 0x71u;
        decode_fixed(buf, n, s);
        return KEEL_OK;
    case 0x72:
    case 0x73:
        if (n < 2u)
            return KEEL_EPROTO;
        s->descriptor = true;
        s->deferred = code == 0x73u;
        decode_desc_format(buf, n, s);
        return KEEL_OK;
    default:
        return KEEL_EPROTO;
    }
}

/* ---- retry policy ---- */

static struct keel_scsi_verdict verdict(enum keel_scsi_action a, int err)
{
    struct keel_scsi_verdict v;
    v.action = a;
    v.err = err;
    return v;
}

static struct keel_scsi_verdict classify_not_ready(const struct keel_scsi_sense *s)
{
    if (s->asc == 0x3au)
        return verdict(KEEL_SCSI_ACT_NO_MEDIUM, KEEL_ENOMEDIUM);
    if (s->asc == 0x04u) {
        switch (s->ascq) {
        case 0x00: /* cause not reportable */
        case 0x01: /* in process of becoming ready */
        case 0x04: /* format in progress */
        case 0x07: /* operation in progress */
        case 0x0a: /* asymmetric access state transition */
            return verdict(KEEL_SCSI_ACT_WAIT_READY, KEEL_ETIMEDOUT);
        case 0x02: /* initializing command required */
            return verdict(KEEL_SCSI_ACT_START_UNIT, KEEL_EIO);
        default:
            break;
        }
    }
    return verdict(KEEL_SCSI_ACT_FAIL, KEEL_EIO);
}

static struct keel_scsi_verdict classify_unit_attention(const struct keel_scsi_sense *s)
{
    if ((s->asc == 0x2au && s->ascq == 0x09u) || s->asc == 0x28u)
        return verdict(KEEL_SCSI_ACT_CAPACITY_CHANGED, KEEL_EIO);
    if (s->asc == 0x3fu && s->ascq == 0x0eu)
        return verdict(KEEL_SCSI_ACT_RESCAN, KEEL_EIO);
    return verdict(KEEL_SCSI_ACT_RETRY, KEEL_EIO);
}

static struct keel_scsi_verdict classify_illegal_request(const struct keel_scsi_sense *s)
{
    switch (s->asc) {
    case 0x21:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_ERANGE);
    case 0x20:
    case 0x24:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_ENOTSUP);
    case 0x25:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_ENODEV);
    case 0x1a:
    case 0x26:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_EINVAL);
    default:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_EIO);
    }
}

static struct keel_scsi_verdict classify_sense(const struct keel_scsi_sense *s)
{
    switch (s->key) {
    case KEEL_SCSI_SK_RECOVERED_ERROR:
        return verdict(KEEL_SCSI_ACT_OK, KEEL_OK);
    case KEEL_SCSI_SK_NO_SENSE:
        return verdict(KEEL_SCSI_ACT_RETRY, KEEL_EIO);
    case KEEL_SCSI_SK_UNIT_ATTENTION:
        return classify_unit_attention(s);
    case KEEL_SCSI_SK_NOT_READY:
        return classify_not_ready(s);
    case KEEL_SCSI_SK_MEDIUM_ERROR:
    case KEEL_SCSI_SK_HARDWARE_ERROR:
        return verdict(KEEL_SCSI_ACT_FAIL_MEDIUM, KEEL_EIO);
    case KEEL_SCSI_SK_ILLEGAL_REQUEST:
        return classify_illegal_request(s);
    case KEEL_SCSI_SK_DATA_PROTECT:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_EROFS);
    case KEEL_SCSI_SK_ABORTED_COMMAND:
        if (s->asc == 0x10u)
            return verdict(KEEL_SCSI_ACT_FAIL, KEEL_EBADMSG);
        return verdict(KEEL_SCSI_ACT_RETRY, KEEL_EIO);
    default:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_EIO);
    }
}

struct keel_scsi_verdict keel_scsi_classify(uint8_t status, const struct keel_scsi_sense *sense)
{
    switch (status) {
    case KEEL_SCSI_STATUS_GOOD:
    case KEEL_SCSI_STATUS_CONDITION_MET:
        return verdict(KEEL_SCSI_ACT_OK, KEEL_OK);
    case KEEL_SCSI_STATUS_BUSY:
    case KEEL_SCSI_STATUS_TASK_SET_FULL:
    case KEEL_SCSI_STATUS_ACA_ACTIVE:
        return verdict(KEEL_SCSI_ACT_RETRY, KEEL_EBUSY);
    case KEEL_SCSI_STATUS_TASK_ABORTED:
        return verdict(KEEL_SCSI_ACT_RETRY, KEEL_EIO);
    case KEEL_SCSI_STATUS_RESERVATION_CONFLICT:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_EBUSY);
    case KEEL_SCSI_STATUS_CHECK_CONDITION:
        if (sense == NULL)
            return verdict(KEEL_SCSI_ACT_RETRY, KEEL_EIO);
        return classify_sense(sense);
    default:
        return verdict(KEEL_SCSI_ACT_FAIL, KEEL_EPROTO);
    }
}
