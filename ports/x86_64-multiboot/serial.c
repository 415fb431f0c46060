/* SPDX-License-Identifier: MIT */
/* serial.c - COM1 16550 console at I/O port 0x3f8, 115200 8N1, polled. */
#include "../common/port_internal.h"
#include "x86.h"

#define COM1     0x3f8
#define UART_THR 0 /* transmit holding (DLAB 0) */
#define UART_IER 1
#define UART_DLL 0 /* divisor latch (DLAB 1) */
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20
#define LCR_DLAB 0x80
#define LCR_8N1  0x03

void x86_serial_init(void)
{
    outb(COM1 + UART_IER, 0); /* polled: no UART interrupts */
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1); /* 115200 baud from the 1.8432 MHz clock */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, 0x07); /* FIFOs on and cleared */
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

void port_arch_putc(char c)
{
    unsigned spins;

    /* Bounded: a missing or wedged UART must not hang the machine; drop the byte instead. */
    for (spins = 0; spins < 100000u && !(inb(COM1 + UART_LSR) & LSR_THRE); spins++)
        cpu_relax();
    outb(COM1 + UART_THR, (uint8_t)c);
}
