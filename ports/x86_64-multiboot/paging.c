/* SPDX-License-Identifier: MIT */
/*
 * paging.c - the identity map. start.S maps the first 4 GiB with 2 MiB pages, all write-back;
 * x86_paging_init() then makes every 2 MiB page that is not entirely RAM uncached (PCD|PWT: the
 * ECAM window, BARs, IOAPIC, LAPIC), and x86_map_mmio() maps register windows above 4 GiB (64-bit
 * BARs) on demand, uncached, with page tables from a static pool.
 */
#include <keel/error.h>

#include "../common/port_internal.h"
#include "x86.h"

#define PTE_P            0x001ull
#define PTE_W            0x002ull
#define PTE_PWT          0x008ull
#define PTE_PCD          0x010ull
#define PTE_PS           0x080ull
#define PTE_ADDR         0x000ffffffffff000ull
#define PAGE_2M          0x200000ull
#define FOUR_GIB         0x100000000ull
#define TABLE_POOL_PAGES 32u

extern uint64_t boot_pml4[512];
extern uint64_t boot_pd[4 * 512];

static uint64_t table_pool[TABLE_POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned tables_used;
static uint64_t max_phys = FOUR_GIB; /* from CPUID 0x80000008 */

struct x86_ram_range x86_ram[X86_MAX_RAM_RANGES];
unsigned x86_nram;

static void reload_cr3(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3)::"memory");
}

bool x86_ram_page(uint64_t phys_2m)
{
    unsigned i;

    for (i = 0; i < x86_nram; i++) {
        const struct x86_ram_range *r = &x86_ram[i];
        if (phys_2m >= r->base && phys_2m + PAGE_2M <= r->base + r->size)
            return true;
    }
    return false;
}

void x86_paging_init(void)
{
    uint32_t a, b, c, d;
    unsigned i;

    cpuid(0x80000000u, &a, &b, &c, &d);
    if (a >= 0x80000008u) {
        cpuid(0x80000008u, &a, &b, &c, &d);
        max_phys = 1ull << (a & 0xffu);
    }
    /* Below 1 MiB lives real-mode memory, ROMs and legacy VGA; the image starts at 1 MiB, so the
     * first 2 MiB page stays cached (it holds the image's start and low RAM). */
    for (i = 1; i < 2048u; i++) {
        uint64_t phys = (uint64_t)i * PAGE_2M;
        if (!x86_ram_page(phys))
            boot_pd[i] |= PTE_PCD | PTE_PWT;
    }
    reload_cr3();
}

static uint64_t *table_alloc(void)
{
    if (tables_used >= TABLE_POOL_PAGES)
        return NULL;
    return table_pool[tables_used++]; /* zeroed: .bss */
}

/* The next-level table under `entry`, created when absent. */
static uint64_t *next_table(uint64_t *entry)
{
    uint64_t *t;

    if (*entry & PTE_P)
        return (uint64_t *)(uintptr_t)(*entry & PTE_ADDR);
    t = table_alloc();
    if (t == NULL)
        return NULL;
    *entry = (uint64_t)(uintptr_t)t | PTE_P | PTE_W;
    return t;
}

int x86_map_mmio(uint64_t phys, uint64_t size)
{
    uint64_t p, end;
    uintptr_t st;
    int rc = KEEL_OK;

    if (size == 0u || phys > UINT64_MAX - size || phys + size > max_phys)
        return KEEL_ERANGE;
    end = phys + size;
    st = port_arch_irq_save();
    for (p = phys & ~(PAGE_2M - 1u); p < end; p += PAGE_2M) {
        uint64_t *pdpt, *pd;

        if (p < FOUR_GIB)
            continue; /* mapped at boot; non-RAM there is already uncached */
        pdpt = next_table(&boot_pml4[(p >> 39) & 511u]);
        pd = pdpt != NULL ? next_table(&pdpt[(p >> 30) & 511u]) : NULL;
        if (pd == NULL) {
            rc = KEEL_ENOMEM;
            break;
        }
        if (!(pd[(p >> 21) & 511u] & PTE_P))
            pd[(p >> 21) & 511u] = p | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
    }
    port_arch_irq_restore(st);
    return rc;
}
