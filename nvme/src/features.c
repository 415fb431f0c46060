/* SPDX-License-Identifier: MIT */
/* Get/Set Features (spec 5.9, 5.21) for the integrator: generic access plus named helpers. */
#include "nvme_priv.h"

int keel_nvme_get_features(struct keel_nvme_ctrl *ctrl, uint8_t fid, uint32_t nsid, uint32_t cdw11,
                           uint32_t *dw0)
{
    struct keel_nvme_sqe cmd;

    if (ctrl == NULL)
        return KEEL_EINVAL;
    keel_nvme_cmd_features(&cmd, false, fid, nsid, cdw11);
    return keel_nvme_admin_sync(ctrl, &cmd, NULL, dw0, NULL, 0);
}

int keel_nvme_set_features(struct keel_nvme_ctrl *ctrl, uint8_t fid, uint32_t nsid, uint32_t cdw11,
                           uint32_t *dw0)
{
    struct keel_nvme_sqe cmd;

    if (ctrl == NULL)
        return KEEL_EINVAL;
    if (fid == KEEL_NVME_FEAT_NUM_QUEUES)
        return KEEL_EINVAL; /* fixed at attach: the queues exist */
    keel_nvme_cmd_features(&cmd, true, fid, nsid, cdw11);
    return keel_nvme_admin_sync(ctrl, &cmd, NULL, dw0, NULL, 0);
}

int keel_nvme_set_irq_coalescing(struct keel_nvme_ctrl *ctrl, uint8_t threshold, uint8_t time_100us)
{
    return keel_nvme_set_features(ctrl, KEEL_NVME_FEAT_IRQ_COALESCING, 0,
                                  (uint32_t)threshold | ((uint32_t)time_100us << 8), NULL);
}

int keel_nvme_set_write_cache(struct keel_nvme_ctrl *ctrl, bool enable)
{
    if (ctrl == NULL)
        return KEEL_EINVAL;
    if (!(ctrl->vwc & 1u))
        return KEEL_ENOTSUP;
    return keel_nvme_set_features(ctrl, KEEL_NVME_FEAT_VOLATILE_WC, 0, enable ? 1u : 0u, NULL);
}

int keel_nvme_set_arbitration(struct keel_nvme_ctrl *ctrl, uint8_t burst_log2, uint8_t low,
                              uint8_t medium, uint8_t high)
{
    uint32_t v = (burst_log2 & 7u) | ((uint32_t)low << 8) | ((uint32_t)medium << 16) |
                 ((uint32_t)high << 24);

    return keel_nvme_set_features(ctrl, KEEL_NVME_FEAT_ARBITRATION, 0, v, NULL);
}
