/* SPDX-License-Identifier: MIT */
#include <keel/error.h>
#include <keel/wait.h>

struct keel_deadline keel_deadline_in(const struct keel_hal *hal, uint64_t timeout_us)
{
    uint64_t now = keel_time_us(hal);
    struct keel_deadline d;
    d.at_us = (now > UINT64_MAX - timeout_us) ? UINT64_MAX : now + timeout_us;
    return d;
}

bool keel_deadline_passed(const struct keel_hal *hal, struct keel_deadline d)
{
    return keel_time_us(hal) >= d.at_us;
}

int keel_wait_until(const struct keel_hal *hal, keel_cond_fn cond, void *arg, uint64_t timeout_us,
                    uint32_t interval_us)
{
    struct keel_deadline d = keel_deadline_in(hal, timeout_us);
    for (;;) {
        if (cond(arg))
            return KEEL_OK;
        if (keel_deadline_passed(hal, d))
            return cond(arg) ? KEEL_OK : KEEL_ETIMEDOUT;
        if (interval_us != 0u)
            keel_delay_us(hal, interval_us);
    }
}
