/* SPDX-License-Identifier: MIT */
/*
 * port_internal.h - what the architecture half of a port gives the shared half (ports/common) and
 * back. Not part of the port API: examples include only <keel/port.h>.
 */
#ifndef KEEL_PORT_INTERNAL_H
#define KEEL_PORT_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/port.h>

/* ---- Provided by the architecture (ports/<arch>/) ----------------------------------------------
 */

/** Write one byte to the console UART, waiting (bounded) for room. Any context. */
void port_arch_putc(char c);

/** Disable interrupts on this CPU and return the previous state for port_arch_irq_restore. */
uintptr_t port_arch_irq_save(void);
void port_arch_irq_restore(uintptr_t state);

/** Stop the machine with a KEEL_PORT_EXIT_* status (isa-debug-exit, semihosting). */
__attribute__((noreturn)) void port_arch_exit(int status);

/* ---- Provided by ports/common -------------------------------------------------------------------
 */

/** Print "PANIC: <message>" and the FAIL result line, then exit with KEEL_PORT_EXIT_PANIC. */
__attribute__((noreturn)) void port_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/** keel_port_printf with a va_list. */
void port_vprintf(const char *fmt, va_list ap);

/** The HAL log hook both ports install: "[keel E] line". */
void port_hal_log(void *ctx, enum keel_log_level level, const char *line);

/** Round `v` up to a multiple of `a` (a power of two). */
static inline uint64_t port_align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1u) & ~(a - 1u);
}

#endif
