/* SPDX-License-Identifier: MIT */
/*
 * keel/log.h - log macros that compile out. A line is formatted on the stack
 * (KEEL_CONFIG_LOG_LINE_MAX) and handed to the HAL's optional log hook; levels above
 * KEEL_CONFIG_LOG_LEVEL cost nothing, not even their arguments' evaluation.
 */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

#include <keel/hal.h>
#include <keel/keel_config.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Format and emit one line. Thread safety: any context (the hook must not block). */
void keel_log_emit(const struct keel_hal *hal, enum keel_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#define KEEL_LOG_AT(hal, lvl, ...)                                                                 \
    do {                                                                                           \
        if ((lvl) <= KEEL_CONFIG_LOG_LEVEL)                                                        \
            keel_log_emit((hal), (lvl), __VA_ARGS__);                                              \
    } while (0)

#define KEEL_LOGE(hal, ...) KEEL_LOG_AT(hal, KEEL_LOG_ERROR, __VA_ARGS__)
#define KEEL_LOGW(hal, ...) KEEL_LOG_AT(hal, KEEL_LOG_WARN, __VA_ARGS__)
#define KEEL_LOGI(hal, ...) KEEL_LOG_AT(hal, KEEL_LOG_INFO, __VA_ARGS__)
#define KEEL_LOGD(hal, ...) KEEL_LOG_AT(hal, KEEL_LOG_DEBUG, __VA_ARGS__)

#endif
