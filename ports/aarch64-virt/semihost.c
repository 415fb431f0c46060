/* SPDX-License-Identifier: MIT */
/*
 * semihost.c - leaving QEMU with a status: semihosting SYS_EXIT_EXTENDED (QEMU must run with
 * -semihosting; it then exits with the code). Without semihosting the HLT traps; the trap handler
 * calls back here and the second entry parks the CPU, which the runner's time limit catches.
 */
#include "../common/port_internal.h"
#include "a64.h"

#define SYS_EXIT_EXTENDED            0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* KEEL_PORT_EXIT_* to the QEMU statuses promised in keel/port.h. */
static uint32_t exit_code(int status)
{
    switch (status) {
    case KEEL_PORT_EXIT_PASS:
        return KEEL_PORT_QEMU_STATUS_PASS;
    case KEEL_PORT_EXIT_FAIL:
        return KEEL_PORT_QEMU_STATUS_FAIL;
    default:
        return KEEL_PORT_QEMU_STATUS_PANIC;
    }
}

void a64_semihost_exit(uint32_t code)
{
    static volatile int entered;
    uint64_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
    register uint64_t x0 __asm__("x0") = SYS_EXIT_EXTENDED;
    register uint64_t x1 __asm__("x1") = (uint64_t)(uintptr_t)block;

    if (entered++ == 0)
        __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
    for (;;)
        __asm__ volatile("wfi");
}

void port_arch_exit(int status)
{
    (void)port_arch_irq_save();
    a64_semihost_exit(exit_code(status));
}

uintptr_t port_arch_irq_save(void)
{
    uint64_t daif = A64_READ_SYSREG(daif);
    __asm__ volatile("msr daifset, #3" ::: "memory"); /* IRQ and FIQ */
    return (uintptr_t)daif;
}

void port_arch_irq_restore(uintptr_t state)
{
    A64_WRITE_SYSREG(daif, state);
}
