/* SPDX-License-Identifier: MIT */
/* console.c - the port's console: strings, formatted lines, log hook, panic. */
#include <keel/fmt.h>

#include "port_internal.h"

#define PORT_LINE_MAX 256

void keel_port_puts(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\n')
            port_arch_putc('\r');
        port_arch_putc(*s);
    }
}

void port_vprintf(const char *fmt, va_list ap)
{
    char line[PORT_LINE_MAX];

    (void)keel_vsnprintf(line, sizeof(line), fmt, ap);
    keel_port_puts(line);
}

void keel_port_printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    port_vprintf(fmt, ap);
    va_end(ap);
}

void port_hal_log(void *ctx, enum keel_log_level level, const char *line)
{
    static const char tags[] = "?EWID";
    unsigned i = (unsigned)level < sizeof(tags) - 1u ? (unsigned)level : 0u;

    (void)ctx;
    keel_port_printf("[keel %c] %s\n", tags[i], line);
}

void port_panic(const char *fmt, ...)
{
    va_list ap;

    (void)port_arch_irq_save();
    keel_port_puts("PANIC: ");
    va_start(ap, fmt);
    port_vprintf(fmt, ap);
    va_end(ap);
    keel_port_puts("\nRESULT: FAIL panic\n");
    port_arch_exit(KEEL_PORT_EXIT_PANIC);
}

void keel_port_exit(int status)
{
    if (status != KEEL_PORT_EXIT_PASS && status != KEEL_PORT_EXIT_PANIC)
        status = KEEL_PORT_EXIT_FAIL;
    port_arch_exit(status);
}
