/* SPDX-License-Identifier: MIT */
/*
 * mmu.c - the identity map, 4 KiB granule, 48-bit VA, four levels, block mappings only:
 *   - the first 1 GiB (GIC, PL011, virtio-mmio, PCIe 32-bit and I/O windows): Device-nGnRE;
 *   - RAM from the device tree: Normal write-back cacheable, 2 MiB blocks;
 *   - the DMA pool (its own 2 MiB-aligned region): Normal non-cacheable, so dma_alloc memory is
 *     coherent with devices without maintenance, as the HAL promises;
 *   - anything else (ECAM, 64-bit BARs) on demand through a64_map_device, Device-nGnRE.
 * With the MMU on, SCTLR_EL1.A = 1 makes every unaligned access fault, as on silicon.
 */
#include <keel/error.h>

#include "../common/port_internal.h"
#include "a64.h"

#define DESC_VALID  0x1ull
#define DESC_TABLE  0x3ull
#define DESC_BLOCK  0x1ull
#define DESC_ADDR   0x0000fffffffff000ull
#define ATTR_IDX(n) ((uint64_t)(n) << 2)
#define SH_INNER    (3ull << 8)
#define AF          (1ull << 10)
#define PXN         (1ull << 53)
#define UXN         (1ull << 54)

/* MAIR_EL1 attribute indexes. */
#define MT_DEVICE_NGNRE 1u
#define MT_NORMAL       2u
#define MT_NORMAL_NC    3u
#define MAIR_VALUE      (0x00ull | (0x04ull << 8) | (0xffull << 16) | (0x44ull << 24))

#define ATTRS_DEVICE    (ATTR_IDX(MT_DEVICE_NGNRE) | AF | PXN | UXN)
#define ATTRS_NORMAL    (ATTR_IDX(MT_NORMAL) | AF | SH_INNER)
#define ATTRS_NORMAL_NC (ATTR_IDX(MT_NORMAL_NC) | AF | SH_INNER | PXN | UXN)

#define SZ_2M      0x200000ull
#define SZ_1G      0x40000000ull
#define TABLE_POOL 48u

#define TCR_T0SZ(n)    ((uint64_t)(n))
#define TCR_IRGN0_WBWA (1ull << 8)
#define TCR_ORGN0_WBWA (1ull << 10)
#define TCR_SH0_INNER  (3ull << 12)
#define TCR_TG0_4K     (0ull << 14)
#define TCR_EPD1       (1ull << 23)
#define TCR_TG1_4K     (2ull << 30)
#define TCR_IPS_SHIFT  32

#define SCTLR_M    (1ull << 0)
#define SCTLR_A    (1ull << 1)
#define SCTLR_C    (1ull << 2)
#define SCTLR_SA   (1ull << 3)
#define SCTLR_SA0  (1ull << 4)
#define SCTLR_I    (1ull << 12)
#define SCTLR_RES1 0x30d00800ull

extern char __dma_start[], __dma_end[];

static uint64_t pool[TABLE_POOL][512] __attribute__((aligned(4096)));
static unsigned pool_used;
static uint64_t *l0;
static uint64_t pa_limit;

static uint64_t *table_alloc(void)
{
    uint64_t *t;
    unsigned i;

    if (pool_used >= TABLE_POOL)
        return NULL;
    t = pool[pool_used++];
    for (i = 0; i < 512u; i++) /* .bss is cleared, but be explicit: a stale entry maps garbage */
        t[i] = 0;
    return t;
}

/* The next-level table under `e`; NULL when the pool is empty or a block already maps it. */
static uint64_t *next_level(uint64_t *e)
{
    uint64_t *t;

    if (*e & DESC_VALID)
        return (*e & 3u) == DESC_TABLE ? (uint64_t *)(uintptr_t)(*e & DESC_ADDR) : NULL;
    t = table_alloc();
    if (t != NULL)
        *e = (uint64_t)(uintptr_t)t | DESC_TABLE;
    return t;
}

/* Map one 2 MiB block unless something already maps it. */
static int map_2m(uint64_t pa, uint64_t attrs)
{
    uint64_t *l1, *l2, *e1;

    l1 = next_level(&l0[(pa >> 39) & 511u]);
    if (l1 == NULL)
        return KEEL_ENOMEM;
    e1 = &l1[(pa >> 30) & 511u];
    if ((*e1 & 3u) == DESC_BLOCK)
        return KEEL_OK; /* inside a 1 GiB block */
    l2 = next_level(e1);
    if (l2 == NULL)
        return KEEL_ENOMEM;
    if (!(l2[(pa >> 21) & 511u] & DESC_VALID))
        l2[(pa >> 21) & 511u] = pa | attrs | DESC_BLOCK;
    return KEEL_OK;
}

static int map_range(uint64_t pa, uint64_t size, uint64_t attrs)
{
    uint64_t p, end;
    int rc = KEEL_OK;

    if (size == 0u || pa > UINT64_MAX - size || pa + size > pa_limit)
        return KEEL_ERANGE;
    end = pa + size;
    for (p = pa & ~(SZ_2M - 1u); p < end && rc == KEEL_OK; p += SZ_2M)
        rc = map_2m(p, attrs);
    return rc;
}

bool a64_is_ram(uint64_t phys, uint64_t size)
{
    unsigned i;

    for (i = 0; i < a64_plat.nram; i++) {
        uint64_t b = a64_plat.ram_base[i], e = b + a64_plat.ram_size[i];
        if (phys < e && phys + size > b)
            return true;
    }
    return false;
}

int a64_map_device(uint64_t phys, uint64_t size)
{
    uintptr_t st;
    int rc;

    if (a64_is_ram(phys, size))
        return KEEL_EINVAL; /* RAM is never mapped as a device */
    st = port_arch_irq_save();
    rc = map_range(phys, size, ATTRS_DEVICE);
    /* New entries only (invalid to valid): make the stores visible to the walker, no TLBI. */
    dsb_ish();
    isb();
    port_arch_irq_restore(st);
    return rc;
}

static uint64_t parange_bits(void)
{
    static const uint8_t bits[] = {32, 36, 40, 42, 44, 48, 52};
    uint64_t pa = A64_READ_SYSREG(id_aa64mmfr0_el1) & 0xfu;

    return pa < sizeof(bits) ? bits[pa] : 48u;
}

void a64_mmu_init(void)
{
    uint64_t dma = (uint64_t)(uintptr_t)__dma_start, dma_end = (uint64_t)(uintptr_t)__dma_end;
    uint64_t pa_bits = parange_bits(), ips, tcr, sctlr, p;
    unsigned i;
    uint64_t *l1;

    if (pa_bits > 48u)
        pa_bits = 48u; /* 4 KiB granule, 4 levels: 48-bit output at most */
    ips = pa_bits == 32u   ? 0u
          : pa_bits == 36u ? 1u
          : pa_bits == 40u ? 2u
          : pa_bits == 42u ? 3u
          : pa_bits == 44u ? 4u
                           : 5u;
    pa_limit = 1ull << pa_bits;
    l0 = table_alloc();
    l1 = next_level(&l0[0]);
    if (l0 == NULL || l1 == NULL)
        port_panic("MMU: no page tables");
    l1[0] = 0 | ATTRS_DEVICE | DESC_BLOCK; /* 0 - 1 GiB: devices */
    /* The DMA pool first, so the RAM loop below leaves its blocks alone. */
    for (p = dma; p < dma_end; p += SZ_2M)
        if (map_2m(p, ATTRS_NORMAL_NC) != KEEL_OK)
            port_panic("MMU: cannot map the DMA pool");
    for (i = 0; i < a64_plat.nram; i++) {
        uint64_t b = port_align_up(a64_plat.ram_base[i], SZ_2M);
        uint64_t e = (a64_plat.ram_base[i] + a64_plat.ram_size[i]) & ~(SZ_2M - 1u);
        if (e > b && map_range(b, e - b, ATTRS_NORMAL) != KEEL_OK)
            port_panic("MMU: cannot map RAM at 0x%llx", (unsigned long long)b);
    }
    tcr = TCR_T0SZ(16) | TCR_IRGN0_WBWA | TCR_ORGN0_WBWA | TCR_SH0_INNER | TCR_TG0_4K | TCR_EPD1 |
          TCR_TG1_4K | (ips << TCR_IPS_SHIFT);
    A64_WRITE_SYSREG(mair_el1, MAIR_VALUE);
    A64_WRITE_SYSREG(tcr_el1, tcr);
    A64_WRITE_SYSREG(ttbr0_el1, (uint64_t)(uintptr_t)l0);
    dsb_sy();
    isb();
    __asm__ volatile("tlbi vmalle1" ::: "memory");
    dsb_sy();
    isb();
    sctlr = SCTLR_RES1 | SCTLR_M | SCTLR_A | SCTLR_C | SCTLR_SA | SCTLR_SA0 | SCTLR_I;
    A64_WRITE_SYSREG(sctlr_el1, sctlr);
    isb();
}
