/* SPDX-License-Identifier: MIT */
/*
 * trap.c - GDT with a TSS (so a double fault runs on its own stack and is reported instead of
 * becoming a triple fault), the IDT for all 256 vectors, and the C side of every trap: exceptions
 * are reported with vector, error code, RIP and registers and end the machine with PANIC; device
 * vectors go to the interrupt dispatcher.
 */
#include "../common/port_internal.h"
#include "x86.h"

#define SEL_CODE           0x08
#define SEL_DATA           0x10
#define SEL_TSS            0x18
#define IDT_INTERRUPT_GATE 0x8e /* present, DPL 0, 64-bit interrupt gate: IF cleared on entry */
#define VEC_DOUBLE_FAULT   8
#define VEC_NMI            2
#define VEC_MACHINE_CHECK  18
#define VEC_PAGE_FAULT     14
#define VEC_SPURIOUS       0xff
#define VEC_PIC_FIRST      0x20
#define VEC_PIC_LAST       0x2f
#define IST_STACK_SIZE     16384

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
};

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

extern const char isr_stubs[];

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static uint8_t ist_stack[IST_STACK_SIZE] __attribute__((aligned(16)));

static void gdt_init(void)
{
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1u;

    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffull; /* 64-bit code */
    gdt[2] = 0x00cf92000000ffffull; /* data */
    /* 16-byte available 64-bit TSS descriptor (type 9). */
    gdt[3] = (limit & 0xffffu) | ((base & 0xffffffu) << 16) | (0x89ull << 40) |
             ((limit >> 16) & 0xfu) << 48 | ((base >> 24) & 0xffu) << 56;
    gdt[4] = base >> 32;
    tss.ist[0] = (uint64_t)(uintptr_t)(ist_stack + sizeof(ist_stack));
    tss.iomap_base = sizeof(tss);

    struct desc_ptr p = {sizeof(gdt) - 1u, (uint64_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw %2, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     "ltr %w3"
                     :
                     : "m"(p), "i"(SEL_CODE), "i"(SEL_DATA), "r"((uint16_t)SEL_TSS)
                     : "rax", "memory");
}

static void idt_init(void)
{
    unsigned v;

    for (v = 0; v < 256u; v++) {
        uint64_t a = (uint64_t)(uintptr_t)(isr_stubs + 16u * v);
        idt[v] = (struct idt_gate){
            .off_lo = (uint16_t)a,
            .sel = SEL_CODE,
            /* Faults that may come from a broken stack run on IST1. */
            .ist = (v == VEC_DOUBLE_FAULT || v == VEC_NMI || v == VEC_MACHINE_CHECK) ? 1u : 0u,
            .type = IDT_INTERRUPT_GATE,
            .off_mid = (uint16_t)(a >> 16),
            .off_hi = (uint32_t)(a >> 32),
            .zero = 0,
        };
    }
    struct desc_ptr p = {sizeof(idt) - 1u, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(p) : "memory");
}

void x86_cpu_tables_init(void)
{
    gdt_init();
    idt_init();
}

static const char *const exception_names[32] = {"#DE divide error",
                                                "#DB debug",
                                                "NMI",
                                                "#BP breakpoint",
                                                "#OF overflow",
                                                "#BR bound range",
                                                "#UD invalid opcode",
                                                "#NM no FPU",
                                                "#DF double fault",
                                                "coprocessor overrun",
                                                "#TS invalid TSS",
                                                "#NP segment not present",
                                                "#SS stack fault",
                                                "#GP general protection",
                                                "#PF page fault",
                                                "reserved",
                                                "#MF x87 error",
                                                "#AC alignment check",
                                                "#MC machine check",
                                                "#XM SIMD error",
                                                "#VE virtualization",
                                                "#CP control protection",
                                                "reserved",
                                                "reserved",
                                                "reserved",
                                                "reserved",
                                                "reserved",
                                                "reserved",
                                                "#HV",
                                                "#VC",
                                                "#SX security",
                                                "reserved"};

static void report_exception(const struct x86_frame *f)
{
    (void)port_arch_irq_save();
    keel_port_printf("\nEXCEPTION vector=%llu (%s) error=0x%llx rip=0x%016llx cs=0x%llx "
                     "rflags=0x%llx rsp=0x%016llx\n",
                     (unsigned long long)f->vector, exception_names[f->vector & 31u],
                     (unsigned long long)f->error, (unsigned long long)f->rip,
                     (unsigned long long)f->cs, (unsigned long long)f->rflags,
                     (unsigned long long)f->rsp);
    if (f->vector == VEC_PAGE_FAULT)
        keel_port_printf("  cr2=0x%016llx (faulting address)\n", (unsigned long long)read_cr2());
    keel_port_printf("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
                     "  rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx\n",
                     (unsigned long long)f->rax, (unsigned long long)f->rbx,
                     (unsigned long long)f->rcx, (unsigned long long)f->rdx,
                     (unsigned long long)f->rsi, (unsigned long long)f->rdi,
                     (unsigned long long)f->rbp, (unsigned long long)f->r8);
    port_panic("CPU exception %llu at rip 0x%llx", (unsigned long long)f->vector,
               (unsigned long long)f->rip);
}

void x86_trap(struct x86_frame *f)
{
    if (f->vector < 32u)
        report_exception(f);
    if (f->vector == VEC_SPURIOUS)
        return; /* spurious LAPIC interrupts take no EOI */
    if (f->vector >= VEC_PIC_FIRST && f->vector <= VEC_PIC_LAST)
        return; /* the 8259s are masked; only their spurious IRQ 7/15 can land here */
    x86_irq_vector((uint8_t)f->vector);
}

uintptr_t port_arch_irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
    return (uintptr_t)flags;
}

void port_arch_irq_restore(uintptr_t state)
{
    if (state & 0x200u) /* RFLAGS.IF */
        __asm__ volatile("sti" ::: "memory");
}
