/* SPDX-License-Identifier: MIT */
/* x86.h - instruction wrappers and the pieces of the x86-64 port that talk to each other. */
#ifndef KEEL_PORT_X86_H
#define KEEL_PORT_X86_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/port.h>

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}
static inline uint64_t read_cr2(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}

/* MMIO with exactly one access of the width (the identity map makes phys == virt). */
static inline uint32_t mmio_rd32(uint64_t a)
{
    return *(volatile uint32_t *)(uintptr_t)a;
}
static inline void mmio_wr32(uint64_t a, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)a = v;
}

/* Saved by isr_common, in the order it pushes (last pushed first). */
struct x86_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Boot and per-subsystem entry points (all boot CPU, init unless stated). */
void x86_boot(uint32_t magic, uint32_t info);
void x86_trap(struct x86_frame *f);
void x86_serial_init(void);
void x86_cpu_tables_init(void);
void x86_paging_init(void);
int x86_map_mmio(uint64_t phys, uint64_t size);
bool x86_ram_page(uint64_t phys_2m);
void x86_clock_init(void);
uint64_t x86_time_us(void *ctx);
void x86_delay_us(void *ctx, uint32_t us);
uint64_t x86_tsc_hz(void);
void x86_apic_init(void);
void x86_irq_vector(uint8_t vector);
bool x86_ioapic_present(void);

/* Which chipset the host bridge says this is (decides INTx routing and ECAM). */
enum x86_chipset { X86_CHIPSET_UNKNOWN, X86_CHIPSET_Q35, X86_CHIPSET_I440FX };
extern enum x86_chipset x86_chipset;

/* Memory map from multiboot: available RAM ranges. */
#define X86_MAX_RAM_RANGES 16
struct x86_ram_range {
    uint64_t base, size;
};
extern struct x86_ram_range x86_ram[X86_MAX_RAM_RANGES];
extern unsigned x86_nram;

/* PCI configuration access (pci_cfg.c). */
int x86_pci_cfg_read(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t *v);
int x86_pci_cfg_write(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t v);
void x86_pci_set_ecam(uint64_t phys, uint8_t bus_last);

extern const struct keel_hal_ops x86_hal_ops;

/* Interrupt hooks (apic.c). */
int x86_irq_attach(void *ctx, const struct keel_irq_src *src, keel_irq_fn fn, void *arg,
                   uint32_t *handle);
void x86_irq_detach(void *ctx, uint32_t handle);
void x86_irq_mask(void *ctx, uint32_t handle, bool masked);
void x86_irq_eoi(void *ctx, uint32_t handle);
int x86_msi_compose(void *ctx, uint32_t handle, uint64_t *addr, uint32_t *data);

#endif
