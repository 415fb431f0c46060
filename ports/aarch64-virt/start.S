/* SPDX-License-Identifier: MIT */
/*
 * start.S - AArch64 entry for QEMU virt (-kernel of an ELF linked at 0x40200000) and the exception
 * vectors.
 *
 * QEMU enters at EL1 (EL2 with virtualization=on) with the MMU and caches off and x0 = the device
 * tree address, or 0 for an ELF image (the tree then sits at the start of RAM, 0x40000000). From EL2
 * we drop to EL1 with the timer opened to EL1. Then: stack, .bss cleared, VBAR_EL1, a64_boot(x0).
 */
#define SPSR_EL1H_MASKED 0x3c5 /* EL1h with D, A, I, F masked */
#define HCR_RW (1 << 31)       /* EL1 is AArch64 */
#define SCTLR_EL1_RES1 0x30d00800
#define FRAME_SIZE 288

    .section .text.boot, "ax"
    .globl _start
_start:
    mov x19, x0
    mrs x1, CurrentEL
    ubfx x1, x1, #2, #2
    cmp x1, #2
    b.ne 1f
    /* EL2: run EL1 in AArch64, let it use the physical and virtual counters, enter EL1h. */
    mov x2, #HCR_RW
    msr hcr_el2, x2
    mrs x2, cnthctl_el2
    orr x2, x2, #3                 /* EL1PCTEN | EL1PCEN */
    msr cnthctl_el2, x2
    msr cntvoff_el2, xzr
    ldr x2, =SCTLR_EL1_RES1
    msr sctlr_el1, x2
    mov x2, #SPSR_EL1H_MASKED
    msr spsr_el2, x2
    adr x2, 1f
    msr elr_el2, x2
    eret
1:
    ldr x1, =boot_stack_top
    mov sp, x1
    ldr x1, =__bss_start
    ldr x2, =__bss_end
2:  cmp x1, x2
    b.hs 3f
    str xzr, [x1], #8
    b 2b
3:
    ldr x1, =a64_vectors
    msr vbar_el1, x1
    isb
    mov x0, x19
    bl a64_boot
4:  wfi
    b 4b

/* ---- Exception vectors ---------------------------------------------------------------------------
 * 16 entries of 0x80 bytes. Each saves x0/x1, loads its entry number and joins vec_common, which saves
 * the remaining registers plus ELR, SPSR, ESR and FAR into a frame (struct a64_frame) and calls
 * a64_trap(frame, entry). Interrupts return through the same path with eret. */
.macro VECTOR n
    .balign 0x80
    sub sp, sp, #FRAME_SIZE
    stp x0, x1, [sp, #0]
    mov x1, #\n
    b vec_common
.endm

    .text
    .balign 0x800
    .globl a64_vectors
a64_vectors:
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    VECTOR 4
    VECTOR 5
    VECTOR 6
    VECTOR 7
    VECTOR 8
    VECTOR 9
    VECTOR 10
    VECTOR 11
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

vec_common:
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    mrs x2, elr_el1
    stp x30, x2, [sp, #240]
    mrs x2, spsr_el1
    mrs x3, esr_el1
    stp x2, x3, [sp, #256]
    mrs x2, far_el1
    str x2, [sp, #272]
    mov x0, sp
    bl a64_trap
    ldp x30, x2, [sp, #240]
    msr elr_el1, x2
    ldr x2, [sp, #256]
    msr spsr_el1, x2
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x19, [sp, #144]
    ldp x20, x21, [sp, #160]
    ldp x22, x23, [sp, #176]
    ldp x24, x25, [sp, #192]
    ldp x26, x27, [sp, #208]
    ldp x28, x29, [sp, #224]
    ldp x0, x1, [sp, #0]
    add sp, sp, #FRAME_SIZE
    eret

    .section .note.GNU-stack, "", %progbits

    .section .bss
    .balign 16
boot_stack:
    .skip 65536
    .globl boot_stack_top
boot_stack_top:
