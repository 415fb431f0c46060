/* SPDX-License-Identifier: MIT */
/* a64.h - system register access and the pieces of the AArch64 port that talk to each other. */
#ifndef KEEL_PORT_A64_H
#define KEEL_PORT_A64_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/port.h>

#include "../common/fdt.h"

#define A64_READ_SYSREG(reg)                                                                       \
    __extension__({                                                                                \
        uint64_t v_;                                                                               \
        __asm__ volatile("mrs %0, " #reg : "=r"(v_));                                              \
        v_;                                                                                        \
    })
#define A64_WRITE_SYSREG(reg, v)                                                                   \
    __asm__ volatile("msr " #reg ", %0" ::"r"((uint64_t)(v)) : "memory")

static inline void isb(void)
{
    __asm__ volatile("isb" ::: "memory");
}
static inline void dsb_sy(void)
{
    __asm__ volatile("dsb sy" ::: "memory");
}
static inline void dsb_ish(void)
{
    __asm__ volatile("dsb ish" ::: "memory");
}

/* Device register access with plain [Xn] addressing: one access, no writeback forms, so a
 * hypervisor trapping MMIO always gets a decodable syndrome. */
static inline uint8_t a64_rd8(uint64_t a)
{
    uint32_t v;
    __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return (uint8_t)v;
}
static inline uint16_t a64_rd16(uint64_t a)
{
    uint32_t v;
    __asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return (uint16_t)v;
}
static inline uint32_t a64_rd32(uint64_t a)
{
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline uint64_t a64_rd64(uint64_t a)
{
    uint64_t v;
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline void a64_wr8(uint64_t a, uint8_t v)
{
    __asm__ volatile("strb %w0, [%1]" ::"r"((uint32_t)v), "r"(a) : "memory");
}
static inline void a64_wr16(uint64_t a, uint16_t v)
{
    __asm__ volatile("strh %w0, [%1]" ::"r"((uint32_t)v), "r"(a) : "memory");
}
static inline void a64_wr32(uint64_t a, uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" ::"r"(v), "r"(a) : "memory");
}
static inline void a64_wr64(uint64_t a, uint64_t v)
{
    __asm__ volatile("str %0, [%1]" ::"r"(v), "r"(a) : "memory");
}

/* Saved by vec_common (start.S). */
struct a64_frame {
    uint64_t x[31];
    uint64_t elr, spsr, esr, far, pad;
};

/* What the device tree told us (port.c fills it before anything else runs). */
#define A64_MAX_RAM 4
struct a64_platform {
    struct fdt fdt;
    uint64_t ram_base[A64_MAX_RAM], ram_size[A64_MAX_RAM];
    unsigned nram;
    uint64_t uart;
    unsigned gic_version;      /* 2 or 3 */
    uint64_t gicd, gicc, gicr; /* GICv2: distributor + CPU interface; GICv3: + redistributors */
    uint64_t v2m;              /* GICv2m MSI frame, 0 when none */
    uint32_t gic_phandle;
    uint32_t msi_phandle;
    uint32_t pcie_node; /* FDT node of the PCIe host, UINT32_MAX when none */
    char bootargs[1024];
};
extern struct a64_platform a64_plat;

void a64_boot(uint64_t dtb);
void a64_trap(struct a64_frame *f, uint64_t entry);
void a64_uart_set_base(uint64_t base);
void a64_mmu_init(void);
int a64_map_device(uint64_t phys, uint64_t size);
bool a64_is_ram(uint64_t phys, uint64_t size);
void a64_timer_init(void);
uint64_t a64_time_us(void *ctx);
void a64_delay_us(void *ctx, uint32_t us);
uint64_t a64_timer_hz(void);
int a64_gic_init(void);
void a64_gic_handle_irq(void);
bool a64_gic_has_msi(void);
const char *a64_gic_name(void);
__attribute__((noreturn)) void a64_semihost_exit(uint32_t code);

/* PCI (pci_ecam.c). */
void a64_pci_set_ecam(uint64_t phys, uint8_t bus_first, uint8_t bus_last);
int a64_pci_cfg_read(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t *v);
int a64_pci_cfg_write(void *ctx, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t v);
int a64_pci_intx_spi(struct keel_pci_addr a, uint8_t pin, uint32_t *intid, uint32_t *flags);

/* Interrupt hooks (gic.c). */
int a64_irq_attach(void *ctx, const struct keel_irq_src *src, keel_irq_fn fn, void *arg,
                   uint32_t *handle);
void a64_irq_detach(void *ctx, uint32_t handle);
void a64_irq_mask(void *ctx, uint32_t handle, bool masked);
void a64_irq_eoi(void *ctx, uint32_t handle);
int a64_msi_compose(void *ctx, uint32_t handle, uint64_t *addr, uint32_t *data);

/* Streaming DMA with cache maintenance (dma.c). */
int a64_dma_map(void *ctx, void *buf, size_t len, enum keel_dma_dir dir, struct keel_dma_seg *segs,
                unsigned max_segs, unsigned *nsegs, void **cookie);
void a64_dma_unmap(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_dir dir);
void a64_dma_sync(void *ctx, void *cookie, void *buf, size_t len, enum keel_dma_sync_for who);

extern const struct keel_hal_ops a64_hal_ops;

#endif
