/* SPDX-License-Identifier: MIT */
/*
 * Admin passthrough behind an allow-list. The driver owns queue management, aborts, asynchronous
 * events and the queue count, so those are never passed through; opcodes that destroy data or
 * change what the controller runs (format, sanitize, firmware, namespace management, security
 * send, vendor specific) need an explicit KEEL_NVME_PT_* grant. A separate object: integrations
 * that never call it do not link it.
 */
#include "nvme_priv.h"

#include <keel/endian.h>

bool keel_nvme_passthru_allowed(const struct keel_nvme_sqe *cmd, uint32_t allow)
{
    if (cmd == NULL)
        return false;
    switch (cmd->opc) {
    case KEEL_NVME_ADM_IDENTIFY:
    case KEEL_NVME_ADM_GET_LOG_PAGE:
    case KEEL_NVME_ADM_GET_FEATURES:
    case KEEL_NVME_ADM_SELF_TEST:
    case KEEL_NVME_ADM_KEEP_ALIVE:
    case KEEL_NVME_ADM_DIRECTIVE_RECV:
    case KEEL_NVME_ADM_NVME_MI_RECV:
    case KEEL_NVME_ADM_SECURITY_RECV:
    case KEEL_NVME_ADM_GET_LBA_STATUS:
        return true;
    case KEEL_NVME_ADM_SET_FEATURES:
        return (keel_le32_to_cpu(cmd->cdw10) & 0xffu) != KEEL_NVME_FEAT_NUM_QUEUES;
    case KEEL_NVME_ADM_FORMAT_NVM:
        return (allow & KEEL_NVME_PT_ALLOW_FORMAT) != 0u;
    case KEEL_NVME_ADM_SANITIZE:
        return (allow & KEEL_NVME_PT_ALLOW_SANITIZE) != 0u;
    case KEEL_NVME_ADM_FW_COMMIT:
        return (allow & KEEL_NVME_PT_ALLOW_FW_COMMIT) != 0u;
    case KEEL_NVME_ADM_FW_DOWNLOAD:
        return (allow & KEEL_NVME_PT_ALLOW_FW_DOWNLOAD) != 0u;
    case KEEL_NVME_ADM_NS_MGMT:
    case KEEL_NVME_ADM_NS_ATTACH:
        return (allow & KEEL_NVME_PT_ALLOW_NS_MGMT) != 0u;
    case KEEL_NVME_ADM_SECURITY_SEND:
        return (allow & KEEL_NVME_PT_ALLOW_SECURITY) != 0u;
    default:
        /* Queue management, Abort, AER, doorbell buffer, virtualization, directive/MI send and
         * unknown opcodes stay with the driver; C0h..FFh are vendor specific. */
        return cmd->opc >= 0xc0u && (allow & KEEL_NVME_PT_ALLOW_VENDOR) != 0u;
    }
}

void keel_nvme_passthru_allow(struct keel_nvme_ctrl *ctrl, uint32_t allow)
{
    if (ctrl != NULL)
        ctrl->cfg.passthru_allow = allow;
}

int keel_nvme_admin_passthru(struct keel_nvme_ctrl *ctrl, const struct keel_nvme_sqe *cmd,
                             void *buf, uint32_t len, uint32_t *dw0, uint16_t *status,
                             uint32_t timeout_us)
{
    static const enum keel_dma_dir dirs[4] = {KEEL_DMA_TO_DEVICE, KEEL_DMA_TO_DEVICE,
                                              KEEL_DMA_FROM_DEVICE, KEEL_DMA_BIDIRECTIONAL};
    struct keel_nvme_sqe own;
    struct nvme_xfer x = {0};
    unsigned xfer;

    if (ctrl == NULL || cmd == NULL)
        return KEEL_EINVAL;
    if (status != NULL)
        *status = 0;
    if (!keel_nvme_passthru_allowed(cmd, ctrl->cfg.passthru_allow))
        return KEEL_ENOTSUP;
    /* 5.1 figure 138: opcode bits 1:0 give the data direction (00b: none). */
    xfer = cmd->opc & 3u;
    if ((xfer == 0u) != (buf == NULL || len == 0u))
        return KEEL_EINVAL;
    if (len > ctrl->cmd_max_bytes)
        return KEEL_EINVAL;
    /* Never hand the device an address the integrator wrote: PRPs and MPTR are ours. */
    own = *cmd;
    own.prp1 = 0;
    own.prp2 = 0;
    own.mptr = 0;
    x.buf = buf;
    x.len = len;
    x.dir = dirs[xfer];
    return keel_nvme_admin_sync(ctrl, &own, len != 0u ? &x : NULL, dw0, status, timeout_us);
}
