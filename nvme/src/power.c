/* SPDX-License-Identifier: MIT */
/*
 * Power and thermal: power state descriptors (Identify Controller), Power Management (02h),
 * Autonomous Power State Transitions (0Ch), composite temperature (SMART) and Temperature
 * Threshold (04h).
 */
#include "nvme_priv.h"

#include <keel/endian.h>

unsigned keel_nvme_power_state_count(const struct keel_nvme_ctrl *ctrl)
{
    unsigned n;

    if (ctrl == NULL || ctrl->life == KEEL_NVME_LIFE_DOWN)
        return 0;
    n = (unsigned)ctrl->npss + 1u;
    return n > KEEL_CONFIG_NVME_MAX_POWER_STATES ? KEEL_CONFIG_NVME_MAX_POWER_STATES : n;
}

const struct keel_nvme_power_state *keel_nvme_power_state(const struct keel_nvme_ctrl *ctrl,
                                                          unsigned ps)
{
    if (ps >= keel_nvme_power_state_count(ctrl))
        return NULL;
    return &ctrl->ps[ps];
}

int keel_nvme_set_power_state(struct keel_nvme_ctrl *ctrl, unsigned ps)
{
    if (ctrl == NULL || ps >= keel_nvme_power_state_count(ctrl))
        return KEEL_EINVAL;
    return keel_nvme_set_features(ctrl, KEEL_NVME_FEAT_POWER_MGMT, 0, ps & 0x1fu, NULL);
}

int keel_nvme_get_power_state(struct keel_nvme_ctrl *ctrl, unsigned *ps)
{
    uint32_t dw0 = 0;
    int rc;

    if (ps == NULL)
        return KEEL_EINVAL;
    rc = keel_nvme_get_features(ctrl, KEEL_NVME_FEAT_POWER_MGMT, 0, 0, &dw0);
    if (rc == KEEL_OK)
        *ps = dw0 & 0x1fu;
    return rc;
}

/*
 * APST table (5.21.1.12): entry i says where to go after idling in state i. As Linux does it: each
 * state steps to the next deeper non-operational state whose exit and total latency fit the budget,
 * after an idle time of about 50x that state's total latency (us x 51 / 1024 ~ us / 20 in ms,
 * without a division), so the controller descends one qualifying state at a time.
 */
static void build_apst(const struct keel_nvme_ctrl *c, uint8_t *table, uint32_t max_latency_us)
{
    uint64_t target = 0;
    int state;

    keel_memset(table, 0, KEEL_NVME_APST_TABLE_SIZE);
    for (state = (int)keel_nvme_power_state_count(c) - 1; state >= 0; state--) {
        const struct keel_nvme_power_state *ps = &c->ps[state];
        uint64_t total, ms;

        if (target != 0u)
            keel_st_le64(table + (size_t)8u * (unsigned)state, target);
        if (!ps->non_operational || ps->exit_lat_us > max_latency_us)
            continue;
        total = (uint64_t)ps->entry_lat_us + ps->exit_lat_us;
        if (total > max_latency_us)
            continue;
        ms = (total * 51u + 1023u) >> 10;
        if (ms > 0xffffffu)
            ms = 0xffffffu;
        target = ((uint64_t)(unsigned)state << 3) | (ms << 8); /* ITPS 7:3, ITPT 31:8 */
    }
}

static int set_apst(struct keel_nvme_ctrl *c, bool enable, uint32_t max_latency_us)
{
    struct keel_nvme_sqe cmd;
    struct nvme_xfer x = {0};
    int rc;

    if (!(c->apsta & 1u))
        return KEEL_ENOTSUP;
    rc = keel_nvme_buf_take(c);
    if (rc != KEEL_OK)
        return rc;
    if (enable)
        build_apst(c, c->buf_mem.cpu, max_latency_us);
    else
        keel_memset(c->buf_mem.cpu, 0, KEEL_NVME_APST_TABLE_SIZE);
    keel_nvme_cmd_features(&cmd, true, KEEL_NVME_FEAT_APST, 0, enable ? 1u : 0u);
    x.bus = c->buf_mem.bus;
    x.len = KEEL_NVME_APST_TABLE_SIZE;
    rc = keel_nvme_admin_sync(c, &cmd, &x, NULL, NULL, 0);
    keel_nvme_buf_give(c);
    return rc;
}

int keel_nvme_apst_enable(struct keel_nvme_ctrl *ctrl, uint32_t max_latency_us)
{
    if (ctrl == NULL)
        return KEEL_EINVAL;
    return set_apst(ctrl, true, max_latency_us);
}

int keel_nvme_apst_disable(struct keel_nvme_ctrl *ctrl)
{
    if (ctrl == NULL)
        return KEEL_EINVAL;
    return set_apst(ctrl, false, 0);
}

int keel_nvme_temperature(struct keel_nvme_ctrl *ctrl, uint16_t *kelvin)
{
    struct keel_nvme_smart smart;
    int rc;

    if (kelvin == NULL)
        return KEEL_EINVAL;
    rc = keel_nvme_smart_log(ctrl, &smart);
    if (rc == KEEL_OK)
        *kelvin = smart.temperature_k;
    return rc;
}

static uint32_t threshold_select(unsigned sensor, bool under)
{
    return ((uint32_t)sensor << 16) | (under ? (1u << 20) : 0u); /* TMPSEL 19:16, THSEL 21:20 */
}

int keel_nvme_set_temp_threshold(struct keel_nvme_ctrl *ctrl, unsigned sensor, bool under,
                                 uint16_t kelvin)
{
    if (sensor > 8u)
        return KEEL_EINVAL;
    return keel_nvme_set_features(ctrl, KEEL_NVME_FEAT_TEMP_THRESHOLD, 0,
                                  kelvin | threshold_select(sensor, under), NULL);
}

int keel_nvme_get_temp_threshold(struct keel_nvme_ctrl *ctrl, unsigned sensor, bool under,
                                 uint16_t *kelvin)
{
    uint32_t dw0 = 0;
    int rc;

    if (sensor > 8u || kelvin == NULL)
        return KEEL_EINVAL;
    rc = keel_nvme_get_features(ctrl, KEEL_NVME_FEAT_TEMP_THRESHOLD, 0,
                                threshold_select(sensor, under), &dw0);
    if (rc == KEEL_OK)
        *kelvin = (uint16_t)dw0;
    return rc;
}
