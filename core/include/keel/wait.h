/* SPDX-License-Identifier: MIT */
/*
 * keel/wait.h - bounded waits. Every wait in Keel has a deadline taken from the HAL's monotonic
 * clock; none spins on a device bit alone.
 */
#ifndef KEEL_WAIT_H
#define KEEL_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An absolute point in HAL time, for state machines that check a deadline across calls. */
struct keel_deadline {
    uint64_t at_us;
};

/** A deadline `timeout_us` from now (saturating). Thread safety: any context. */
struct keel_deadline keel_deadline_in(const struct keel_hal *hal, uint64_t timeout_us);

/** True once the deadline has passed. Thread safety: any context. */
bool keel_deadline_passed(const struct keel_hal *hal, struct keel_deadline d);

/** A condition polled by keel_wait_until; returns true when the wait is over. */
typedef bool (*keel_cond_fn)(void *arg);

/**
 * Poll `cond(arg)` every `interval_us` (0: back to back) until it returns true or `timeout_us` have
 * elapsed; the condition is checked once more after the deadline, so a condition that became true
 * exactly at expiry is not reported as a timeout. Returns 0 or KEEL_ETIMEDOUT (never success on
 * timeout). Thread safety: thread or init context (it calls delay_us).
 */
int keel_wait_until(const struct keel_hal *hal, keel_cond_fn cond, void *arg, uint64_t timeout_us,
                    uint32_t interval_us);

#ifdef __cplusplus
}
#endif

#endif
