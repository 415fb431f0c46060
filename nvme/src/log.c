/* SPDX-License-Identifier: MIT */
/* Get Log Page (spec 5.14): raw access plus decoders for Error (01h), SMART (02h), FW slot (03h).
 */
#include "nvme_priv.h"

#include <keel/endian.h>

int keel_nvme_get_log_page(struct keel_nvme_ctrl *ctrl, uint8_t lid, uint32_t nsid, uint64_t offset,
                           void *buf, uint32_t len, bool retain)
{
    struct keel_nvme_sqe cmd;
    struct nvme_xfer x = {0};

    if (ctrl == NULL || buf == NULL || len == 0u || (len & 3u) != 0u || (offset & 3u) != 0u)
        return KEEL_EINVAL;
    if (len > ctrl->cmd_max_bytes)
        return KEEL_EINVAL;
    if (offset != 0u && !(ctrl->lpa & 0x4u))
        return KEEL_ENOTSUP; /* LPA bit 2: extended data (offsets) for Get Log Page */
    keel_nvme_cmd_log(&cmd, lid, nsid, offset, len, retain);
    x.buf = buf;
    x.len = len;
    x.dir = KEEL_DMA_FROM_DEVICE;
    return keel_nvme_admin_sync(ctrl, &cmd, &x, NULL, NULL, 0);
}

/* Read a log page into the controller's own buffer (taken by the caller). */
static int read_log(struct keel_nvme_ctrl *c, uint8_t lid, uint32_t len)
{
    struct keel_nvme_sqe cmd;
    struct nvme_xfer x = {0};

    keel_nvme_cmd_log(&cmd, lid, 0xffffffffu, 0, len, true);
    x.bus = c->buf_mem.bus;
    x.len = len;
    return keel_nvme_admin_sync(c, &cmd, &x, NULL, NULL, 0);
}

static void decode_smart(const uint8_t *p, struct keel_nvme_smart *out)
{
    unsigned i;

    keel_memset(out, 0, sizeof(*out));
    out->critical_warning = p[0];
    out->temperature_k = keel_ld_le16(p + 1);
    out->available_spare = p[3];
    out->spare_threshold = p[4];
    out->percent_used = p[5];
    out->data_units_read = keel_ld_le64(p + 32);
    out->data_units_written = keel_ld_le64(p + 48);
    out->host_reads = keel_ld_le64(p + 64);
    out->host_writes = keel_ld_le64(p + 80);
    out->power_cycles = keel_ld_le64(p + 112);
    out->power_on_hours = keel_ld_le64(p + 128);
    out->unsafe_shutdowns = keel_ld_le64(p + 144);
    out->media_errors = keel_ld_le64(p + 160);
    out->error_log_entries = keel_ld_le64(p + 176);
    out->warning_temp_minutes = keel_ld_le32(p + 192);
    out->critical_temp_minutes = keel_ld_le32(p + 196);
    for (i = 0; i < 8u; i++)
        out->sensor_k[i] = keel_ld_le16(p + 200 + (size_t)2u * i);
}

int keel_nvme_smart_log(struct keel_nvme_ctrl *ctrl, struct keel_nvme_smart *out)
{
    int rc;

    if (ctrl == NULL || out == NULL)
        return KEEL_EINVAL;
    rc = keel_nvme_buf_take(ctrl);
    if (rc != KEEL_OK)
        return rc;
    rc = read_log(ctrl, KEEL_NVME_LOG_SMART, KEEL_NVME_LOG_SMART_SIZE);
    if (rc == KEEL_OK)
        decode_smart(ctrl->buf_mem.cpu, out);
    keel_nvme_buf_give(ctrl);
    return rc;
}

int keel_nvme_error_log(struct keel_nvme_ctrl *ctrl, struct keel_nvme_error_entry *out,
                        unsigned max, unsigned *n)
{
    uint32_t entries, i;
    const uint8_t *p;
    int rc;

    if (ctrl == NULL || out == NULL || n == NULL || max == 0u)
        return KEEL_EINVAL;
    entries = (uint32_t)ctrl->elpe + 1u;
    if (entries > max)
        entries = max;
    if (entries > KEEL_NVME_IDENTIFY_SIZE / KEEL_NVME_LOG_ERROR_ENTRY_SIZE)
        entries = KEEL_NVME_IDENTIFY_SIZE / KEEL_NVME_LOG_ERROR_ENTRY_SIZE;
    rc = keel_nvme_buf_take(ctrl);
    if (rc != KEEL_OK)
        return rc;
    rc = read_log(ctrl, KEEL_NVME_LOG_ERROR, entries * KEEL_NVME_LOG_ERROR_ENTRY_SIZE);
    *n = 0;
    for (i = 0; rc == KEEL_OK && i < entries; i++) {
        p = (const uint8_t *)ctrl->buf_mem.cpu + (size_t)i * KEEL_NVME_LOG_ERROR_ENTRY_SIZE;
        out[i].error_count = keel_ld_le64(p);
        out[i].sqid = keel_ld_le16(p + 8);
        out[i].cid = keel_ld_le16(p + 10);
        out[i].status = (uint16_t)(keel_ld_le16(p + 12) >> 1); /* bit 0 is the phase tag */
        out[i].param_location = keel_ld_le16(p + 14);
        out[i].lba = keel_ld_le64(p + 16);
        out[i].nsid = keel_ld_le32(p + 24);
        *n = i + 1u;
    }
    keel_nvme_buf_give(ctrl);
    return rc;
}

int keel_nvme_fw_slot_log(struct keel_nvme_ctrl *ctrl, struct keel_nvme_fw_slots *out)
{
    const uint8_t *p;
    unsigned i, k;
    int rc;

    if (ctrl == NULL || out == NULL)
        return KEEL_EINVAL;
    rc = keel_nvme_buf_take(ctrl);
    if (rc != KEEL_OK)
        return rc;
    rc = read_log(ctrl, KEEL_NVME_LOG_FW_SLOT, KEEL_NVME_LOG_FW_SLOT_SIZE);
    if (rc == KEEL_OK) {
        p = ctrl->buf_mem.cpu;
        keel_memset(out, 0, sizeof(*out));
        out->active_slot = p[0] & 7u;
        out->next_slot = (p[0] >> 4) & 7u;
        for (i = 0; i < 7u; i++) {
            unsigned end = 0;
            /* ASCII, space padded (5.14.1.3): printable bytes only, trailing spaces dropped. */
            for (k = 0; k < 8u; k++) {
                uint8_t ch = p[8u + 8u * i + k];

                out->revision[i][k] = '?';
                if (ch >= 0x20u && ch < 0x7fu)
                    out->revision[i][k] = (char)ch; /* printable ASCII: the same in any char */
                if (ch != ' ' && ch != 0u)
                    end = k + 1u;
            }
            out->revision[i][end] = '\0';
        }
    }
    keel_nvme_buf_give(ctrl);
    return rc;
}
