/* SPDX-License-Identifier: MIT */
/* pl011.c - PL011 UART console (QEMU virt: 0x09000000, usable without setup), polled. */
#include "../common/port_internal.h"
#include "a64.h"

#define UART_DR 0x00
#define UART_FR 0x18
#define FR_TXFF 0x20 /* transmit FIFO full */

static uint64_t uart_base = 0x09000000u;

void a64_uart_set_base(uint64_t base)
{
    uart_base = base;
}

void port_arch_putc(char c)
{
    unsigned spins;

    /* Bounded: a wedged UART drops bytes instead of hanging the machine. */
    for (spins = 0; spins < 100000u && (a64_rd32(uart_base + UART_FR) & FR_TXFF); spins++)
        ;
    a64_wr32(uart_base + UART_DR, (uint8_t)c);
}
