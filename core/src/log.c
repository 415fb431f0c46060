/* SPDX-License-Identifier: MIT */
#include <keel/fmt.h>
#include <keel/log.h>

void keel_log_emit(const struct keel_hal *hal, enum keel_log_level level, const char *fmt, ...)
{
    char line[KEEL_CONFIG_LOG_LINE_MAX];
    va_list ap;

    if (hal == NULL || hal->ops->log == NULL)
        return;
    va_start(ap, fmt);
    (void)keel_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    hal->ops->log(hal->ctx, level, line);
}
