/* SPDX-License-Identifier: MIT */
/*
 * start.S - multiboot 1 entry for QEMU -kernel: 32-bit protected mode in, long mode out.
 *
 * QEMU's multiboot loader refuses ELF64 images unless the header sets flag bit 16 (address fields
 * valid); it then copies the file bytes [load_addr, load_end_addr) raw and zeroes up to bss_end_addr.
 * The header must sit in the first 8 KiB of the file, hence its own section linked first.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAG_ALIGN 0x00000001 /* modules page aligned */
#define MB_FLAG_MEMINFO 0x00000002 /* memory map wanted */
#define MB_FLAG_ADDRS 0x00010000 /* the address fields below are valid */
#define MB_FLAGS (MB_FLAG_ALIGN | MB_FLAG_MEMINFO | MB_FLAG_ADDRS)

#define CR0_PE 0x00000001
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100
#define EFER_NXE 0x00000800
#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_PS 0x080

#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_PANIC 0x12

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header     /* header_addr */
    .long __load_start  /* load_addr */
    .long __load_end    /* load_end_addr */
    .long __bss_end     /* bss_end_addr */
    .long _start32      /* entry_addr */

    .section .text.boot, "ax"
    .code32
    .globl _start32
_start32:
    cli
    cld
    mov $boot_stack_top, %esp
    mov %eax, boot_magic
    mov %ebx, boot_info

    /* Long mode needs CPUID 0x80000001 EDX bit 29; without it there is nothing to report to. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    bt $29, %edx
    jnc no_long_mode

    /* Identity map the first 4 GiB with 2 MiB pages: PML4[0] -> PDPT[0..3] -> 4 page directories.
     * C code later marks non-RAM ranges uncached and maps more on demand (io_map). */
    mov $boot_pml4, %edi
    xor %eax, %eax
    mov $(4096 * 2 / 4), %ecx      /* PML4 and PDPT, contiguous */
    rep stosl
    mov $boot_pdpt, %eax
    or $(PTE_P | PTE_W), %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    or $(PTE_P | PTE_W), %eax
    xor %ecx, %ecx
1:  mov %eax, boot_pdpt(,%ecx,8)
    movl $0, boot_pdpt+4(,%ecx,8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx                 /* entry index 0..2047, entry i maps i * 2 MiB */
2:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_P | PTE_W | PTE_PS), %eax
    mov %eax, boot_pd(,%ecx,8)
    movl $0, boot_pd+4(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    or $(CR0_PE | CR0_PG | CR0_WP), %eax
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $start64

no_long_mode:
    mov $DEBUG_EXIT_PANIC, %al
    out %al, $DEBUG_EXIT_PORT
3:  hlt
    jmp 3b

    .code64
start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov $boot_stack_top, %rsp
    xor %ebp, %ebp
    mov boot_magic(%rip), %edi
    mov boot_info(%rip), %esi
    call x86_boot
4:  cli
    hlt
    jmp 4b

/* ---- Interrupt and exception entry ------------------------------------------------------------
 * 256 stubs of 16 bytes each (the IDT setup computes stub i at isr_stubs + 16 * i). Each pushes a
 * zero error code when the CPU does not push one, then the vector, and joins isr_common, which saves
 * the general registers (the ports build with -mgeneral-regs-only, so no FP/SSE state exists) and
 * calls x86_trap(frame). 64-bit interrupt delivery aligns RSP to 16 first; 7 + 15 quadwords keep
 * it aligned for the call. */
    .text
    .balign 16
    .globl isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    call x86_trap
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq

    .section .note.GNU-stack, "", @progbits

    .section .rodata
    .balign 8
boot_gdt:
    .quad 0                          /* null */
    .quad 0x00af9a000000ffff         /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff         /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .bss
    .balign 4096
    .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096 * 4
    .balign 16
boot_stack:
    .skip 65536
    .globl boot_stack_top
boot_stack_top:
    .balign 4
boot_magic:
    .skip 4
boot_info:
    .skip 4
