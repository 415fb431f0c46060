/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi discovery: target scans (REPORT LUNS with the allocation grown to the list's size,
 * or LUNs probed one by one when the target rejects REPORT LUNS), probing one LUN (standard
 * INQUIRY, VPD 00h, 80h, 83h, B0h, B2h; TEST UNIT READY through unit attentions and "becoming
 * ready"; READ CAPACITY(10), then (16) when the LBA does not fit or protection is on; MODE SENSE
 * for WP, DPOFUA and the caching page's WCE) and revalidating a known one (capacity, medium, write
 * protection), with the integrator told of each change.
 *
 * All of it runs in queue 0's owner context with internal commands (scsi_cmd.c) whose data lands
 * in the discovery buffer taken at attach: REPORT LUNS in its first
 * KEEL_CONFIG_VSCSI_DISC_BUF_BYTES, every other answer in the DISC_PROBE bytes after them (so LUNs
 * can be probed while the list is being walked). Every parser is told how many bytes really
 * arrived (allocation length minus residual), never what a length field inside claims.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio_scsi.h>

#include "scsi_internal.h"

#define INQ_ALLOC   96u
#define VPD_ALLOC   252u /* <= DISC_PROBE; below 256 for devices reading one length byte */
#define MODE_ALLOC  252u
#define LIST_GROWTH 4u /* REPORT LUNS attempts (the list may grow between them) */

static uint8_t *probe_buf(const struct keel_vscsi *vs)
{
    return (uint8_t *)vs->disc_mem.cpu + KEEL_CONFIG_VSCSI_DISC_BUF_BYTES;
}

/* One command whose data-in lands in the probe area; *len gets the bytes that arrived. */
static int probe_cmd(struct keel_vscsi *vs, uint8_t target, uint16_t lun, const uint8_t *cdb,
                     unsigned cdb_len, uint32_t alloc, uint32_t *len)
{
    struct vscsi_icmd ic;
    int rc;

    keel_vscsi_icmd_init(&ic, target, lun);
    keel_memcpy(ic.cdb, cdb, cdb_len);
    ic.cdb_len = (uint8_t)cdb_len;
    if (alloc != 0u)
        keel_vscsi_icmd_disc(vs, &ic, KEEL_CONFIG_VSCSI_DISC_BUF_BYTES, alloc);
    rc = keel_vscsi_run(vs, &ic, 0);
    *len = rc == KEEL_OK ? ic.out.xfer : 0u;
    return rc;
}

/* ---- INQUIRY and VPD ----------------------------------------------------------------------------
 */

static int do_inquiry(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    uint32_t len;
    unsigned n = keel_scsi_cdb_inquiry(cdb, INQ_ALLOC);
    int rc = probe_cmd(vs, e->target, e->lun, cdb, n, INQ_ALLOC, &len);

    if (rc != KEEL_OK)
        return rc == KEEL_ENODEV ? KEEL_ENOENT : rc; /* 25/00: no LUN here */
    rc = keel_scsi_parse_inquiry(probe_buf(vs), len, &e->inq);
    if (rc != KEEL_OK)
        return rc;
    if (!keel_scsi_inquiry_lun_present(&e->inq))
        return KEEL_ENOENT; /* qualifier 011b / type 1Fh: the target answers for an empty LUN */
    e->type = e->inq.type;
    e->removable = e->inq.removable;
    return KEEL_OK;
}

static int vpd(struct keel_vscsi *vs, const struct keel_vscsi_lun *e, uint8_t page, uint32_t *len)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    unsigned n = keel_scsi_cdb_inquiry_vpd(cdb, page, VPD_ALLOC);

    return probe_cmd(vs, e->target, e->lun, cdb, n, VPD_ALLOC, len);
}

static void vpd_identity(struct keel_vscsi *vs, struct keel_vscsi_lun *e,
                         const struct keel_scsi_vpd_pages *pages)
{
    struct keel_scsi_designator d;
    uint32_t len;

    e->serial[0] = '\0';
    if (keel_scsi_vpd_has_page(pages, KEEL_SCSI_VPD_SERIAL) &&
        vpd(vs, e, KEEL_SCSI_VPD_SERIAL, &len) == KEEL_OK)
        (void)keel_scsi_parse_vpd_serial(probe_buf(vs), len, e->serial, sizeof(e->serial));
    e->id_len = 0;
    if (keel_scsi_vpd_has_page(pages, KEEL_SCSI_VPD_DEVICE_ID) &&
        vpd(vs, e, KEEL_SCSI_VPD_DEVICE_ID, &len) == KEEL_OK &&
        keel_scsi_vpd_devid_best(probe_buf(vs), len, &d) == KEEL_OK) {
        e->id_type = d.type;
        e->id_len = d.len <= sizeof(e->id) ? d.len : (uint8_t)sizeof(e->id);
        keel_memcpy(e->id, d.id, e->id_len);
    }
}

static void vpd_disk(struct keel_vscsi *vs, struct keel_vscsi_lun *e,
                     const struct keel_scsi_vpd_pages *pages)
{
    struct keel_scsi_block_limits bl;
    struct keel_scsi_provisioning pv;
    uint32_t len;

    e->dev_max_xfer = 0;
    e->max_unmap_lba = 0;
    e->max_unmap_desc = 0;
    e->lbpu = false;
    if (keel_scsi_vpd_has_page(pages, KEEL_SCSI_VPD_BLOCK_LIMITS) &&
        vpd(vs, e, KEEL_SCSI_VPD_BLOCK_LIMITS, &len) == KEEL_OK &&
        keel_scsi_parse_vpd_block_limits(probe_buf(vs), len, &bl) == KEEL_OK) {
        e->dev_max_xfer = bl.max_xfer_len;
        e->max_unmap_lba = bl.max_unmap_lba_count;
        e->max_unmap_desc = bl.max_unmap_desc_count;
    }
    /* UNMAP only when the provisioning page says LBPU; otherwise trims are refused. */
    if (keel_scsi_vpd_has_page(pages, KEEL_SCSI_VPD_PROVISIONING) &&
        vpd(vs, e, KEEL_SCSI_VPD_PROVISIONING, &len) == KEEL_OK &&
        keel_scsi_parse_vpd_provisioning(probe_buf(vs), len, &pv) == KEEL_OK)
        e->lbpu = pv.lbpu;
}

static void do_vpd(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    struct keel_scsi_vpd_pages pages;
    uint32_t len;

    keel_memset(&pages, 0, sizeof(pages));
    if (vpd(vs, e, KEEL_SCSI_VPD_SUPPORTED, &len) != KEEL_OK ||
        keel_scsi_parse_vpd_pages(probe_buf(vs), len, &pages) != KEEL_OK)
        keel_memset(&pages, 0, sizeof(pages)); /* no VPD: the LUN works without */
    vpd_identity(vs, e, &pages);
    if (e->type == KEEL_SCSI_TYPE_DISK)
        vpd_disk(vs, e, &pages);
}

/* ---- readiness, capacity, mode ------------------------------------------------------------------
 */

static int test_unit_ready(struct keel_vscsi *vs, const struct keel_vscsi_lun *e)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    unsigned n = keel_scsi_cdb_test_unit_ready(cdb);
    uint32_t len;

    return probe_cmd(vs, e->target, e->lun, cdb, n, 0, &len);
}

static int read_capacity(struct keel_vscsi *vs, const struct keel_vscsi_lun *e,
                         struct keel_scsi_capacity *cap)
{
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    struct keel_scsi_capacity c16;
    uint32_t len;
    unsigned n = keel_scsi_cdb_read_capacity10(cdb);
    int rc = probe_cmd(vs, e->target, e->lun, cdb, n, KEEL_SCSI_RC10_LEN, &len);

    if (rc != KEEL_OK)
        return rc;
    rc = keel_scsi_parse_read_capacity10(probe_buf(vs), len, cap);
    if (rc != KEEL_OK)
        return rc;
    if (!cap->need16 && !e->inq.protect)
        return KEEL_OK;
    n = keel_scsi_cdb_read_capacity16(cdb, KEEL_SCSI_RC16_LEN);
    rc = probe_cmd(vs, e->target, e->lun, cdb, n, KEEL_SCSI_RC16_LEN, &len);
    if (rc == KEEL_OK)
        rc = keel_scsi_parse_read_capacity16(probe_buf(vs), len, &c16);
    if (rc == KEEL_OK) {
        *cap = c16;
        return KEEL_OK;
    }
    /* (10) was complete unless its LBA did not fit: only then is (16) indispensable. */
    return cap->need16 ? rc : KEEL_OK;
}

/* Walk the mode pages after the header and block descriptors for the caching page's WCE. */
static void find_wce(struct keel_vscsi_lun *e, const uint8_t *b, uint32_t len, uint32_t off)
{
    while (off + 2u < len) {
        uint8_t page = (uint8_t)(b[off] & 0x3fu), plen = b[off + 1];
        if (page == KEEL_SCSI_MODE_PAGE_CACHING) {
            e->wce = (b[off + 2] & 0x04u) != 0u;
            return;
        }
        off += 2u + plen;
    }
}

static void mode_sense(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    struct keel_scsi_mode_header h;
    uint8_t cdb[KEEL_SCSI_CDB_MAX];
    uint32_t len, hdr = 4u;
    unsigned n = keel_scsi_cdb_mode_sense6(cdb, true, KEEL_SCSI_MODE_PC_CURRENT,
                                           KEEL_SCSI_MODE_PAGE_ALL, 0, (uint8_t)MODE_ALLOC);
    int rc = probe_cmd(vs, e->target, e->lun, cdb, n, MODE_ALLOC, &len);

    if (rc == KEEL_OK) {
        rc = keel_scsi_parse_mode_sense6(probe_buf(vs), len, &h);
    } else if (rc == KEEL_ENOTSUP) {
        hdr = 8u; /* MODE SENSE(6) refused: SBC devices may only have (10) */
        n = keel_scsi_cdb_mode_sense10(cdb, true, KEEL_SCSI_MODE_PC_CURRENT,
                                       KEEL_SCSI_MODE_PAGE_ALL, 0, MODE_ALLOC);
        rc = probe_cmd(vs, e->target, e->lun, cdb, n, MODE_ALLOC, &len);
        if (rc == KEEL_OK)
            rc = keel_scsi_parse_mode_sense10(probe_buf(vs), len, &h);
    }
    if (rc != KEEL_OK)
        return; /* no mode data: not write protected, no FUA, cache assumed on */
    e->wp = h.wp;
    e->dpofua = h.dpofua;
    if (len > h.data_len)
        len = h.data_len;
    find_wce(e, probe_buf(vs), len, hdr + h.bd_len);
}

/* Readiness, capacity and mode data of a present LUN: sets its state. */
static void refresh(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    struct keel_scsi_capacity cap;
    int rc;

    if (e->type != KEEL_SCSI_TYPE_DISK && e->type != KEEL_SCSI_TYPE_CDROM) {
        e->state = KEEL_VSCSI_LUN_READY; /* listed as INQUIRY describes it */
        return;
    }
    rc = test_unit_ready(vs, e);
    if (rc == KEEL_ENOMEDIUM) {
        e->state = KEEL_VSCSI_LUN_NO_MEDIUM; /* an empty drive is not a failure */
        e->nblocks = 0;
        return;
    }
    if (rc != KEEL_OK) {
        e->state = rc == KEEL_ENODEV ? KEEL_VSCSI_LUN_GONE : KEEL_VSCSI_LUN_NOT_READY;
        return;
    }
    rc = read_capacity(vs, e, &cap);
    if (rc == KEEL_ENOMEDIUM) {
        e->state = KEEL_VSCSI_LUN_NO_MEDIUM;
        e->nblocks = 0;
        return;
    }
    if (rc != KEEL_OK || cap.nblocks == 0u || (e->has_blk && cap.block_shift != e->block_shift)) {
        KEEL_LOGW(vs->vdev.hal, "virtio-scsi %u:%u: capacity unusable (%d)", (unsigned)e->target,
                  (unsigned)e->lun, rc);
        e->state = KEEL_VSCSI_LUN_OFFLINE;
        return;
    }
    e->nblocks = cap.nblocks;
    e->block_shift = cap.block_shift;
    e->prot_en = cap.prot_en;
    e->force16 = cap.last_lba >= 0xffffffffull;
    if (e->type == KEEL_SCSI_TYPE_DISK)
        mode_sense(vs, e);
    else
        e->wp = true; /* read-only medium as far as Keel is concerned */
    keel_vscsi_lun_limits(vs, e);
    e->state = KEEL_VSCSI_LUN_READY;
}

/* Probe a LUN into `e`: KEEL_ENOENT when there is none at that address. */
static int probe_lun(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    int rc = do_inquiry(vs, e);

    if (rc != KEEL_OK)
        return rc;
    do_vpd(vs, e);
    refresh(vs, e);
    if (e->state == KEEL_VSCSI_LUN_GONE)
        return KEEL_ENOENT;
    return KEEL_OK;
}

int keel_vscsi_revalidate(struct keel_vscsi *vs, struct keel_vscsi_lun *e)
{
    uint8_t old_state = e->state;
    uint64_t old_blocks = e->nblocks;
    bool old_wp = e->wp, had_blk = e->has_blk;

    refresh(vs, e);
    if (e->state == KEEL_VSCSI_LUN_GONE) {
        e->state = old_state; /* keel_vscsi_lun_gone does the bookkeeping from the live state */
        keel_vscsi_lun_gone(vs, e);
        return KEEL_ENODEV;
    }
    if (e->has_blk && e->state != KEEL_VSCSI_LUN_READY && e->state != KEEL_VSCSI_LUN_NO_MEDIUM)
        KEEL_LOGW(vs->vdev.hal, "virtio-scsi %s: %s", e->blk.info.name,
                  keel_vscsi_state_name(e->state));
    keel_vscsi_lun_update(vs, e);
    if (!had_blk && e->has_blk) {
        vs->stats.added++;
        keel_vscsi_notify(vs, e, KEEL_VSCSI_EV_ADDED);
        return KEEL_OK;
    }
    if (e->nblocks != old_blocks && e->state == KEEL_VSCSI_LUN_READY &&
        old_state == KEEL_VSCSI_LUN_READY) {
        KEEL_LOGI(vs->vdev.hal, "virtio-scsi %u:%u: resized %llu -> %llu blocks",
                  (unsigned)e->target, (unsigned)e->lun, (unsigned long long)old_blocks,
                  (unsigned long long)e->nblocks);
        vs->stats.resized++;
        keel_vscsi_notify(vs, e, KEEL_VSCSI_EV_RESIZED);
    } else if (e->state != old_state || e->wp != old_wp || e->nblocks != old_blocks) {
        keel_vscsi_notify(vs, e, KEEL_VSCSI_EV_CHANGED);
    }
    return KEEL_OK;
}

/* ---- scans --------------------------------------------------------------------------------------
 */

/* A LUN the target reports: revalidate it when known, else probe and add it. */
static void consider(struct keel_vscsi *vs, uint8_t target, uint16_t lun)
{
    struct keel_vscsi_lun *e = keel_vscsi_lun_lookup(vs, target, lun);
    int rc;

    if (e != NULL && e->state != KEEL_VSCSI_LUN_GONE) {
        e->seen = true;
        (void)keel_vscsi_revalidate(vs, e);
        return;
    }
    e = keel_vscsi_lun_alloc(vs, target, lun);
    if (e == NULL) {
        vs->stats.luns_dropped++;
        KEEL_LOGW(vs->vdev.hal, "virtio-scsi %u:%u: no room in the LUN table", (unsigned)target,
                  (unsigned)lun);
        return;
    }
    rc = probe_lun(vs, e);
    if (rc != KEEL_OK) {
        keel_vscsi_lun_release(e);
        return;
    }
    e->seen = true;
    keel_vscsi_lun_online(vs, e, true);
}

int keel_vscsi_rescan_lun(struct keel_vscsi *vs, uint8_t target, uint16_t lun)
{
    if (target > vs->cfg.max_target || lun > vs->cfg.max_lun)
        return KEEL_ERANGE;
    consider(vs, target, lun);
    return KEEL_OK;
}

/*
 * REPORT LUNS into the list area, growing the allocation until the list fits (or the area ends).
 * The allocation never exceeds what the device accepts in one command (max_sectors).
 */
static int report_luns(struct keel_vscsi *vs, uint8_t target, struct keel_scsi_lun_list *l)
{
    uint32_t cap = KEEL_CONFIG_VSCSI_DISC_BUF_BYTES < vs->max_xfer_bytes
                       ? KEEL_CONFIG_VSCSI_DISC_BUF_BYTES
                       : vs->max_xfer_bytes;
    uint32_t alloc =
        KEEL_CONFIG_VSCSI_REPORT_LUNS_FIRST < cap ? KEEL_CONFIG_VSCSI_REPORT_LUNS_FIRST : cap;
    unsigned tries;
    int rc;

    for (tries = 0; tries < LIST_GROWTH; tries++) {
        struct vscsi_icmd ic;

        keel_vscsi_icmd_init(&ic, target, 0);
        ic.cdb_len = (uint8_t)keel_scsi_cdb_report_luns(ic.cdb, 0x00, alloc);
        keel_vscsi_icmd_disc(vs, &ic, 0, alloc);
        rc = keel_vscsi_run(vs, &ic, 0);
        if (rc != KEEL_OK)
            return rc;
        rc = keel_scsi_parse_report_luns(ic.buf, ic.out.xfer, l);
        if (rc != KEEL_OK)
            return rc;
        if (!l->truncated || l->needed_len <= alloc)
            return KEEL_OK; /* complete (or the device will not give more than this) */
        if (alloc >= cap) {
            vs->stats.luns_dropped += l->total - l->avail;
            KEEL_LOGW(vs->vdev.hal, "virtio-scsi: target %u lists %u LUNs, %u read",
                      (unsigned)target, (unsigned)l->total, (unsigned)l->avail);
            return KEEL_OK;
        }
        alloc = l->needed_len < cap ? l->needed_len : cap;
        vs->stats.report_luns_grown++;
    }
    return KEEL_OK; /* the list kept growing: use the last answer */
}

static void walk_list(struct keel_vscsi *vs, uint8_t target, const struct keel_scsi_lun_list *l)
{
    uint32_t cursor = 0, lun, skipped = 0;

    while (keel_scsi_lun_list_next(l, &cursor, &lun, &skipped) == 1 && !vs->dead) {
        if (lun > vs->cfg.max_lun)
            continue;
        consider(vs, target, (uint16_t)lun);
    }
    if (skipped != 0u)
        KEEL_LOGW(vs->vdev.hal, "virtio-scsi: target %u: %u LUN(s) in unsupported address forms",
                  (unsigned)target, (unsigned)skipped);
}

/* A target without REPORT LUNS: LUNs 0..SEQ_SCAN_LUNS-1 asked one by one (INQUIRY decides). */
static void walk_sequential(struct keel_vscsi *vs, uint8_t target)
{
    uint32_t lun;

    vs->stats.seq_scans++;
    for (lun = 0; lun < KEEL_CONFIG_VSCSI_SEQ_SCAN_LUNS && lun <= vs->cfg.max_lun && !vs->dead;
         lun++)
        consider(vs, target, (uint16_t)lun);
}

static void sweep_unseen(struct keel_vscsi *vs, uint8_t target)
{
    uint16_t i;

    for (i = 0; i < vs->nluns; i++) {
        struct keel_vscsi_lun *e = &vs->luns[i];
        if (e->target == target && !e->seen && e->state != KEEL_VSCSI_LUN_FREE &&
            e->state != KEEL_VSCSI_LUN_GONE)
            keel_vscsi_lun_gone(vs, e);
    }
}

int keel_vscsi_scan_one(struct keel_vscsi *vs, uint8_t target)
{
    struct keel_scsi_lun_list l;
    uint16_t i;
    int rc;

    if (vs->dead)
        return KEEL_ENODEV;
    vs->stats.rescans++;
    vs->scanning = (uint16_t)(target + 1u);
    for (i = 0; i < vs->nluns; i++)
        if (vs->luns[i].target == target)
            vs->luns[i].seen = false;
    rc = report_luns(vs, target, &l);
    if (rc == KEEL_OK) {
        walk_list(vs, target, &l);
    } else if (rc == KEEL_ENOTSUP) {
        walk_sequential(vs, target);
        rc = KEEL_OK;
    } else if (rc == KEEL_ENODEV) {
        rc = KEEL_OK; /* BAD_TARGET: nothing there (any more) */
    }
    if (rc == KEEL_OK && !vs->dead)
        sweep_unseen(vs, target);
    vs->scanning = 0;
    return vs->dead ? KEEL_ENODEV : rc;
}

int keel_vscsi_scan_all(struct keel_vscsi *vs)
{
    unsigned t;
    int first = KEEL_OK;

    for (t = 0; t <= vs->cfg.max_target && !vs->dead; t++) {
        int rc = keel_vscsi_scan_one(vs, (uint8_t)t);
        if (rc != KEEL_OK && first == KEEL_OK)
            first = rc;
    }
    return vs->dead ? KEEL_ENODEV : first;
}
