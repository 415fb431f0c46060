/* SPDX-License-Identifier: MIT */
/*
 * trap.c - the C side of the exception vectors. IRQs from the current EL go to the GIC driver;
 * everything else (synchronous aborts, alignment faults, undefined instructions, SErrors, anything
 * from a lower EL) is reported with ESR, its exception class, ELR and FAR, and ends the machine.
 */
#include "../common/port_internal.h"
#include "a64.h"

#define VEC_CUR_SPX_IRQ 5u

static const char *const vector_names[16] = {
    "sync (SP0)",    "irq (SP0)",    "fiq (SP0)",    "serror (SP0)",
    "sync",          "irq",          "fiq",          "serror",
    "sync (EL0 64)", "irq (EL0 64)", "fiq (EL0 64)", "serror (EL0 64)",
    "sync (EL0 32)", "irq (EL0 32)", "fiq (EL0 32)", "serror (EL0 32)"};

static const char *ec_name(uint32_t ec)
{
    switch (ec) {
    case 0x00:
        return "unknown instruction";
    case 0x07:
        return "FP/SIMD access trapped (CPACR_EL1.FPEN)";
    case 0x0e:
        return "illegal execution state";
    case 0x15:
        return "SVC";
    case 0x18:
        return "system register access";
    case 0x20:
    case 0x21:
        return "instruction abort";
    case 0x22:
        return "PC alignment fault";
    case 0x24:
    case 0x25:
        return "data abort";
    case 0x26:
        return "SP alignment fault";
    case 0x2f:
        return "SError";
    case 0x3c:
        return "BRK";
    default:
        return "other";
    }
}

/* Data abort fault status (ESR.ISS.DFSC) worth naming: alignment is what SCTLR_EL1.A catches. */
static const char *dfsc_name(uint32_t dfsc)
{
    if (dfsc == 0x21)
        return "alignment fault";
    if ((dfsc & 0x3cu) == 0x04u)
        return "translation fault";
    if ((dfsc & 0x3cu) == 0x08u)
        return "access flag fault";
    if ((dfsc & 0x3cu) == 0x0cu)
        return "permission fault";
    if (dfsc == 0x10u)
        return "external abort";
    return "other";
}

void a64_trap(struct a64_frame *f, uint64_t entry)
{
    uint32_t ec = (uint32_t)(f->esr >> 26) & 0x3fu;

    if (entry == VEC_CUR_SPX_IRQ) {
        a64_gic_handle_irq();
        return;
    }
    (void)port_arch_irq_save();
    keel_port_printf("\nEXCEPTION %s: esr=0x%08llx ec=0x%02x (%s) elr=0x%016llx far=0x%016llx "
                     "spsr=0x%llx\n",
                     vector_names[entry & 15u], (unsigned long long)f->esr, ec, ec_name(ec),
                     (unsigned long long)f->elr, (unsigned long long)f->far,
                     (unsigned long long)f->spsr);
    if (ec == 0x24u || ec == 0x25u)
        keel_port_printf("  data abort: %s, %s access\n", dfsc_name((uint32_t)f->esr & 0x3fu),
                         (f->esr & (1u << 6)) ? "write" : "read");
    keel_port_printf("  x0=%016llx x1=%016llx x2=%016llx x3=%016llx\n  x29=%016llx x30=%016llx\n",
                     (unsigned long long)f->x[0], (unsigned long long)f->x[1],
                     (unsigned long long)f->x[2], (unsigned long long)f->x[3],
                     (unsigned long long)f->x[29], (unsigned long long)f->x[30]);
    port_panic("CPU exception (%s) at elr 0x%llx", ec_name(ec), (unsigned long long)f->elr);
}
