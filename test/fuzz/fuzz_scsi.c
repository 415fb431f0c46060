/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target "scsi": every SCSI data parser and the sense decoder of core (keel/scsi.h) over the
 * same device-returned bytes, the retry policy over the decoded sense, and the builders whose sizes
 * come from device data (READ/WRITE CDB choice, UNMAP parameter lists).
 *
 * Input:
 *   byte 0       SCSI status for keel_scsi_classify
 *   byte 1       output capacity for the serial number parser (1..64)
 *   bytes 2-5    allocation length, 6-9 residual (keel_scsi_xfer_len)
 *   bytes 10-17  LBA, 18-25 block count (CDB builders, UNMAP), 26-29 / 30-33 UNMAP limits,
 *   bytes 34-35  UNMAP parameter buffer size
 *   the rest     the data the device returned (an exact-size copy, so ASan sees any over-read)
 *
 * Invariants beyond the sanitizers: every pointer a parser returns lies inside the data, every
 * length it reports fits what arrived, strings are terminated and printable, iterations end, and
 * the documented relations hold (capacity = last LBA + 1, power-of-two block sizes, a verdict with
 * action OK exactly when its error is 0, LUN encode/decode round trips).
 */
#include <stdlib.h>
#include <string.h>

#include <keel/error.h>
#include <keel/scsi.h>

#include "fuzz_hal.h"

#define HDR_BYTES 36u

static void in_buf(const uint8_t *buf, uint32_t len, const uint8_t *p, uint32_t n, const char *what)
{
    if (p < buf || p > buf + len || n > (uint32_t)(buf + len - p))
        fh_fail("%s points outside the data", what);
}

static void printable(const char *s, size_t cap, const char *what)
{
    const char *end = memchr(s, '\0', cap);
    size_t i, n;

    if (end == NULL)
        fh_fail("%s not terminated", what);
    n = (size_t)(end - s);
    for (i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            fh_fail("%s has a non-printable byte", what);
    if (n > 0u && s[n - 1u] == ' ')
        fh_fail("%s keeps trailing blanks", what);
}

static void inquiry(const uint8_t *buf, uint32_t len)
{
    struct keel_scsi_inquiry inq;

    if (keel_scsi_parse_inquiry(buf, len, &inq) != KEEL_OK)
        return;
    if (inq.valid_len > len)
        fh_fail("inquiry valid_len %u > %u", inq.valid_len, len);
    printable(inq.vendor, sizeof(inq.vendor), "vendor");
    printable(inq.product, sizeof(inq.product), "product");
    printable(inq.revision, sizeof(inq.revision), "revision");
    (void)keel_scsi_inquiry_lun_present(&inq);
}

static void vpd(const uint8_t *buf, uint32_t len, uint32_t serial_cap)
{
    static const uint8_t pages[] = {0x00, 0x80, 0x83, 0xb0, 0xb2};
    struct keel_scsi_vpd_pages vp;
    struct keel_scsi_block_limits bl;
    struct keel_scsi_provisioning pr;
    struct keel_scsi_designator d;
    char *serial = malloc(serial_cap);
    uint32_t cursor = 0, prev = 0, steps = 0;
    unsigned i;
    int rc;

    if (serial == NULL)
        abort();
    for (i = 0; i < sizeof(pages); i++) {
        const uint8_t *body = NULL;
        uint32_t blen = 0;
        if (keel_scsi_vpd_body(buf, len, pages[i], &body, &blen) == KEEL_OK)
            in_buf(buf, len, body, blen, "VPD body");
    }
    if (keel_scsi_parse_vpd_pages(buf, len, &vp) == KEEL_OK) {
        unsigned n = 0, p;
        for (p = 0; p < 256u; p++)
            n += keel_scsi_vpd_has_page(&vp, (uint8_t)p) ? 1u : 0u;
        if (n != vp.count)
            fh_fail("VPD page count %u, bitmap has %u", vp.count, n);
    }
    rc = keel_scsi_parse_vpd_serial(buf, len, serial, serial_cap);
    if (rc >= 0) {
        if ((uint32_t)rc >= serial_cap || serial[rc] != '\0')
            fh_fail("serial length %d for capacity %u", rc, serial_cap);
        printable(serial, serial_cap, "serial");
        if (rc > 0 && serial[0] == ' ')
            fh_fail("serial keeps leading blanks");
    }
    while ((rc = keel_scsi_vpd_devid_next(buf, len, &cursor, &d)) == 1) {
        in_buf(buf, len, d.id, d.len, "designator");
        if (cursor <= prev || ++steps > len)
            fh_fail("designator iteration does not advance");
        prev = cursor;
    }
    if (keel_scsi_vpd_devid_best(buf, len, &d) == KEEL_OK)
        in_buf(buf, len, d.id, d.len, "best designator");
    (void)keel_scsi_parse_vpd_block_limits(buf, len, &bl);
    (void)keel_scsi_parse_vpd_provisioning(buf, len, &pr);
    free(serial);
}

static void capacity(const uint8_t *buf, uint32_t len)
{
    struct keel_scsi_capacity c;

    if (keel_scsi_parse_read_capacity10(buf, len, &c) == KEEL_OK) {
        if ((1u << c.block_shift) != c.block_len || c.block_len < 512u || c.block_len > 65536u)
            fh_fail("RC10 block length %u shift %u", c.block_len, c.block_shift);
        if (!c.need16 && c.nblocks != c.last_lba + 1u)
            fh_fail("RC10 nblocks != last + 1");
    }
    if (keel_scsi_parse_read_capacity16(buf, len, &c) == KEEL_OK) {
        if ((1u << c.block_shift) != c.block_len || c.block_len < 512u || c.block_len > 65536u)
            fh_fail("RC16 block length %u shift %u", c.block_len, c.block_shift);
        if (c.nblocks != c.last_lba + 1u || c.nblocks == 0u ||
            c.nblocks > (UINT64_MAX >> c.block_shift))
            fh_fail("RC16 capacity %llu blocks of %u overflows", (unsigned long long)c.nblocks,
                    c.block_len);
    }
}

static void luns(const uint8_t *buf, uint32_t len)
{
    struct keel_scsi_lun_list l;
    uint32_t cursor = 0, lun, skipped = 0, n = 0, off;

    for (off = 0; off + 8u <= len; off += 8u) {
        uint8_t e[8];
        uint32_t back;
        if (keel_scsi_lun_decode(buf + off, &lun) != KEEL_OK)
            continue;
        if (lun > 16383u || keel_scsi_lun_encode(lun, e) != KEEL_OK ||
            keel_scsi_lun_decode(e, &back) != KEEL_OK || back != lun)
            fh_fail("LUN %u does not round-trip", lun);
    }
    if (keel_scsi_parse_report_luns(buf, len, &l) != KEEL_OK)
        return;
    if (l.avail > l.total || l.truncated != (l.total > l.avail) || l.needed_len > 0xfffffff8u)
        fh_fail("REPORT LUNS counts avail %u total %u", l.avail, l.total);
    in_buf(buf, len, l.entries, l.avail * 8u, "LUN entries");
    while (keel_scsi_lun_list_next(&l, &cursor, &lun, &skipped) == 1) {
        if (++n > l.avail || lun > 16383u)
            fh_fail("LUN iteration returned %u entries of %u", n, l.avail);
    }
    if (n + skipped > l.avail)
        fh_fail("LUN iteration visited %u + %u skipped of %u", n, skipped, l.avail);
}

static void mode_sense(const uint8_t *buf, uint32_t len)
{
    struct keel_scsi_mode_header h;

    if (keel_scsi_parse_mode_sense6(buf, len, &h) == KEEL_OK && h.data_len > len)
        fh_fail("MODE SENSE(6) data_len %u > %u", h.data_len, len);
    if (keel_scsi_parse_mode_sense10(buf, len, &h) == KEEL_OK && h.data_len > len)
        fh_fail("MODE SENSE(10) data_len %u > %u", h.data_len, len);
}

static void sense(const uint8_t *buf, uint32_t len, uint8_t status)
{
    struct keel_scsi_sense s;
    struct keel_scsi_verdict v;
    const char *name;
    bool ok = keel_scsi_sense_decode(buf, len, &s) == KEEL_OK;

    if (ok) {
        if (s.key > 0xfu)
            fh_fail("sense key %u", s.key);
        if (!s.asc_valid && (s.asc != 0u || s.ascq != 0u))
            fh_fail("asc/ascq set without asc_valid");
        name = keel_scsi_asc_name(s.asc, s.ascq);
        if (name != NULL)
            (void)strlen(name);
        (void)strlen(keel_scsi_sense_key_name(s.key));
    }
    v = keel_scsi_classify(status, ok ? &s : NULL);
    if (v.action >= KEEL_SCSI_ACT_COUNT || v.err > 0 || v.err <= -KEEL_ERR_COUNT ||
        (v.action == KEEL_SCSI_ACT_OK) != (v.err == KEEL_OK))
        fh_fail("verdict action %d err %d", (int)v.action, v.err);
    (void)strlen(keel_scsi_action_name(v.action));
    (void)strlen(keel_scsi_status_name(status));
}

static void builders(struct fz *in)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    uint32_t alloc = fz_u32(in), resid = fz_u32(in), xfer;
    uint64_t lba = fz_u64(in), nblocks = fz_u64(in), covered = 0;
    uint32_t max_lba = fz_u32(in), max_desc = fz_u32(in), cap = fz_u16(in) & 0x7ffu;
    uint8_t *param = malloc(cap ? cap : 1u);
    int rc;

    if (param == NULL)
        abort();
    if (keel_scsi_xfer_len(alloc, resid, &xfer) == KEEL_OK && xfer != alloc - resid)
        fh_fail("xfer_len");
    rc = keel_scsi_cdb_rw(cdb, (lba & 1u) != 0u, lba, (uint32_t)nblocks, (unsigned)(lba >> 61));
    if (rc >= 0 && !((rc == 10 && (cdb[0] == 0x28u || cdb[0] == 0x2au)) ||
                     (rc == 16 && (cdb[0] == 0x88u || cdb[0] == 0x8au))))
        fh_fail("keel_scsi_cdb_rw returned %d with opcode 0x%x", rc, cdb[0]);
    rc = keel_scsi_unmap_build(param, cap, lba, nblocks, max_lba, max_desc, &covered);
    if (rc >= 0 && ((uint32_t)rc > cap || covered == 0u || covered > nblocks ||
                    (max_lba != 0u && covered > max_lba)))
        fh_fail("UNMAP list of %d bytes covering %llu of %llu (cap %u, max %u)", rc,
                (unsigned long long)covered, (unsigned long long)nblocks, cap, max_lba);
    free(param);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in;
    uint8_t status, serial_cap;
    uint8_t *buf;
    uint32_t len;

    if (size < HDR_BYTES || size - HDR_BYTES > 65536u)
        return 0;
    fz_init(&in, data, size);
    status = fz_u8(&in);
    serial_cap = (uint8_t)(1u + fz_u8(&in) % 64u);
    builders(&in);
    len = (uint32_t)(size - HDR_BYTES);
    buf = malloc(len ? len : 1u);
    if (buf == NULL)
        abort();
    memcpy(buf, data + HDR_BYTES, len);
    inquiry(buf, len);
    vpd(buf, len, serial_cap);
    capacity(buf, len);
    luns(buf, len);
    mode_sense(buf, len);
    sense(buf, len, status);
    free(buf);
    return 0;
}
