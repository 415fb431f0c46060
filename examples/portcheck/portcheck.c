/* SPDX-License-Identifier: MIT */
/*
 * portcheck - proves a port's HAL with no storage driver involved:
 *   - keel_hal_check, the clock (monotonic, delay_us within bounds), dma_alloc alignment/zeroing/
 *     free, dma_map covering a buffer exactly;
 *   - with QEMU's edu device (-device edu[,dma_mask=...]): MMIO through an assigned BAR, INTx
 *     delivery through the port's routing (IOAPIC or GIC interrupt-map, bridges swizzled), MSI
 *     delivery (LAPIC or GICv2m) when the port offers it, and bus-master DMA both ways through
 *     dma_map with the port's cache maintenance (line-aligned and bounced buffers);
 *   - on request, the failure paths tools/qemu-run must catch: fault=trap|unmapped|align|hang|fail.
 * Lines: `check <name> ok|skip <why>`, FAIL lines from ex_fail, and the RESULT line.
 * Arguments: fault=<kind>, edu=0 to skip the edu checks even when the device is present.
 */
#include <keel/error.h>
#include <keel/pci.h>
#include <keel/str.h>

#include "edu.h"
#include "example.h"

#define MSI_CTRL        2
#define MSI_ADDR_LO     4
#define MSI_CTRL_ENABLE 0x0001u
#define MSI_CTRL_64BIT  0x0080u
#define DMA_LEN         2048u /* QEMU 7.2 edu rejects a transfer covering its whole 4 KiB buffer */
#define IRQ_TIMEOUT_US  1000000u
#define DMA_TIMEOUT_US  3000000u

static const struct keel_hal *hal;

static void ok(const char *name)
{
    keel_port_printf("check %s ok\n", name);
}

static void check_clock(void)
{
    uint64_t prev = keel_time_us(hal), t0, t1;
    unsigned i;

    for (i = 0; i < 10000u; i++) {
        uint64_t now = keel_time_us(hal);
        if (!EX_CHECK(now >= prev, "time_us went backwards: %llu then %llu",
                      (unsigned long long)prev, (unsigned long long)now))
            return;
        prev = now;
    }
    t0 = keel_time_us(hal);
    keel_delay_us(hal, 20000);
    t1 = keel_time_us(hal);
    /* At least what was asked; the upper bound only catches a clock running far too slow. */
    if (EX_CHECK(t1 - t0 >= 20000u && t1 - t0 < 2000000u, "delay_us(20000) took %llu us",
                 (unsigned long long)(t1 - t0)))
        ok("clock");
}

static void check_dma_alloc(void)
{
    struct keel_dma_mem m[3];
    static const size_t sizes[3] = {64, 4096, 3 * 4096 + 100};
    static const size_t aligns[3] = {64, 4096, 4096};
    unsigned i, k, round;

    /* 80 rounds allocate 21 MiB in all: more than the pool holds unless dma_free works. */
    for (round = 0; round < 80u; round++) {
        for (i = 0; i < 3u; i++) {
            int rc = hal->ops->dma_alloc(hal->ctx, sizes[i] * 16u, aligns[i], &m[i]);
            if (!EX_CHECK(rc == KEEL_OK, "dma_alloc(%zu) round %u: %s", sizes[i] * 16u, round,
                          keel_strerror(rc)))
                return;
            if (round == 0u) {
                const uint8_t *p = m[i].cpu;
                EX_CHECK(((uintptr_t)m[i].cpu & (aligns[i] - 1u)) == 0u &&
                             (m[i].bus & (aligns[i] - 1u)) == 0u && m[i].size >= sizes[i] * 16u,
                         "dma_alloc alignment or size wrong");
                for (k = 0; k < sizes[i] * 16u; k++)
                    if (!EX_CHECK(p[k] == 0u, "dma_alloc memory not zeroed at %u", k))
                        break;
                keel_memset(m[i].cpu, 0xa5, sizes[i] * 16u); /* dirty it for the next round */
            }
        }
        for (i = 0; i < 3u; i++)
            hal->ops->dma_free(hal->ctx, &m[i]);
    }
    ok("dma_alloc");
}

static void check_dma_map(void)
{
    static uint8_t buf[10000];
    struct keel_dma_seg segs[8];
    unsigned n, i;
    void *cookie;
    uint64_t total = 0;
    int rc =
        hal->ops->dma_map(hal->ctx, buf + 3, 9000, KEEL_DMA_BIDIRECTIONAL, segs, 8, &n, &cookie);

    if (!EX_CHECK(rc == KEEL_OK && n >= 1u && n <= 8u, "dma_map: %s", keel_strerror(rc)))
        return;
    for (i = 0; i < n; i++)
        total += segs[i].len;
    EX_CHECK(total == 9000u, "dma_map segments cover %llu bytes, not 9000",
             (unsigned long long)total);
    hal->ops->dma_unmap(hal->ctx, cookie, buf + 3, 9000, KEEL_DMA_BIDIRECTIONAL);
    ok("dma_map");
}

struct edu_find {
    const struct keel_port *port;
    struct keel_pci_addr addr;
    bool found;
};

static int find_edu(void *arg, const struct keel_pci_fn *f)
{
    struct edu_find *ef = arg;

    if (f->vendor == EDU_VENDOR && f->device == EDU_DEVICE) {
        ef->addr = f->addr;
        ef->found = true;
        return 1;
    }
    return 0;
}

static void check_edu_intx(struct edu *e)
{
    struct keel_irq_src src = {KEEL_IRQ_PCI_INTX, e->addr, 0, KEEL_IRQ_F_LEVEL};
    uint32_t h;
    int rc;

    src.index = keel_pci_read8(hal, e->addr, KEEL_PCI_INT_PIN);
    rc = hal->ops->irq_attach(hal->ctx, &src, edu_irq, e, &h);
    if (!EX_CHECK(rc == KEEL_OK, "edu INTx (pin %u) attach: %s", src.index, keel_strerror(rc)))
        return;
    hal->ops->irq_mask(hal->ctx, h, false);
    if (EX_CHECK(edu_raise_and_wait(e, 0x1, IRQ_TIMEOUT_US), "edu INTx never arrived") &&
        EX_CHECK(e->last_status == 0x1u, "edu INTx status 0x%x", e->last_status))
        ok("edu_intx");
    hal->ops->irq_mask(hal->ctx, h, true);
    hal->ops->irq_detach(hal->ctx, h);
}

static void msi_program(struct edu *e, uint16_t cap, uint64_t addr, uint32_t data, bool on)
{
    uint32_t ctrl = keel_pci_read16(hal, e->addr, (uint16_t)(cap + MSI_CTRL));
    uint16_t data_off = (ctrl & MSI_CTRL_64BIT) ? 12u : 8u;

    (void)keel_pci_write(hal, e->addr, (uint16_t)(cap + MSI_ADDR_LO), 4, (uint32_t)addr);
    if (ctrl & MSI_CTRL_64BIT)
        (void)keel_pci_write(hal, e->addr, (uint16_t)(cap + MSI_ADDR_LO + 4), 4,
                             (uint32_t)(addr >> 32));
    (void)keel_pci_write(hal, e->addr, (uint16_t)(cap + data_off), 2, data & 0xffffu);
    ctrl = on ? (ctrl | MSI_CTRL_ENABLE) & ~0x70u : ctrl & ~MSI_CTRL_ENABLE; /* one vector */
    (void)keel_pci_write(hal, e->addr, (uint16_t)(cap + MSI_CTRL), 2, ctrl);
    (void)keel_pci_enable(hal, e->addr, on ? KEEL_PCI_CMD_INTX_DISABLE : 0,
                          on ? 0 : KEEL_PCI_CMD_INTX_DISABLE);
}

static void check_edu_msi(struct edu *e, bool port_msi)
{
    struct keel_irq_src src = {KEEL_IRQ_PCI_MSI, e->addr, 0, 0};
    uint64_t addr;
    uint32_t data, h;
    uint16_t cap;
    int rc;

    if (keel_pci_find_cap(hal, e->addr, KEEL_PCI_CAP_ID_MSI, 0, &cap) != KEEL_OK) {
        ex_fail("edu has no MSI capability");
        return;
    }
    rc = hal->ops->irq_attach(hal->ctx, &src, edu_irq, e, &h);
    if (!port_msi) {
        EX_CHECK(rc == KEEL_ENOTSUP, "port says no MSI but irq_attach(MSI) gave %s",
                 keel_strerror(rc));
        keel_port_puts("check edu_msi skip port has no MSI\n");
        return;
    }
    if (!EX_CHECK(rc == KEEL_OK, "edu MSI attach: %s", keel_strerror(rc)))
        return;
    rc = hal->ops->msi_compose(hal->ctx, h, &addr, &data);
    if (EX_CHECK(rc == KEEL_OK, "msi_compose: %s", keel_strerror(rc))) {
        msi_program(e, cap, addr, data, true);
        hal->ops->irq_mask(hal->ctx, h, false);
        if (EX_CHECK(edu_raise_and_wait(e, 0x2, IRQ_TIMEOUT_US), "edu MSI never arrived"))
            keel_port_printf("check edu_msi ok addr=0x%llx data=0x%x\n", (unsigned long long)addr,
                             data);
        hal->ops->irq_mask(hal->ctx, h, true);
        msi_program(e, cap, 0, 0, false);
    }
    hal->ops->irq_detach(hal->ctx, h);
}

/* One DMA through dma_map of `buf` (any alignment): RAM -> edu -> RAM and compare. */
static void edu_roundtrip(struct edu *e, uint8_t *src, uint8_t *dst, uint32_t len, const char *name)
{
    struct keel_dma_seg seg;
    unsigned n, i;
    void *cookie;
    int rc;

    for (i = 0; i < len; i++) {
        src[i] = (uint8_t)(i * 7u + 3u);
        dst[i] = 0x5a;
    }
    rc = hal->ops->dma_map(hal->ctx, src, len, KEEL_DMA_TO_DEVICE, &seg, 1, &n, &cookie);
    if (!EX_CHECK(rc == KEEL_OK, "%s: dma_map(src): %s", name, keel_strerror(rc)))
        return;
    rc = edu_dma(e, seg.bus, len, true, DMA_TIMEOUT_US);
    hal->ops->dma_unmap(hal->ctx, cookie, src, len, KEEL_DMA_TO_DEVICE);
    if (!EX_CHECK(rc == KEEL_OK, "%s: DMA to edu: %s", name, keel_strerror(rc)))
        return;
    rc = hal->ops->dma_map(hal->ctx, dst, len, KEEL_DMA_FROM_DEVICE, &seg, 1, &n, &cookie);
    if (!EX_CHECK(rc == KEEL_OK, "%s: dma_map(dst): %s", name, keel_strerror(rc)))
        return;
    rc = edu_dma(e, seg.bus, len, false, DMA_TIMEOUT_US);
    hal->ops->dma_unmap(hal->ctx, cookie, dst, len, KEEL_DMA_FROM_DEVICE);
    if (!EX_CHECK(rc == KEEL_OK, "%s: DMA from edu: %s", name, keel_strerror(rc)))
        return;
    for (i = 0; i < len; i++)
        if (!EX_CHECK(dst[i] == src[i], "%s: byte %u reads 0x%02x, wrote 0x%02x", name, i, dst[i],
                      src[i]))
            return;
    ok(name);
}

static void check_edu_dma(struct edu *e)
{
    static uint8_t a[DMA_LEN + 128] __attribute__((aligned(64)));
    static uint8_t b[DMA_LEN + 128] __attribute__((aligned(64)));

    edu_roundtrip(e, a, b, DMA_LEN, "edu_dma_aligned");
    /* Odd start and length: a port with cache maintenance must bounce or clean carefully. */
    edu_roundtrip(e, a + 5, b + 3, 1001, "edu_dma_unaligned");
}

static void check_edu(const struct keel_port *port)
{
    static struct edu e;
    struct edu_find ef = {port, {0, 0, 0, 0}, false};
    unsigned h;
    int rc;

    for (h = 0; h < port->npci && !ef.found; h++)
        (void)keel_pci_scan(hal, port->pci[h].segment, port->pci[h].bus_first,
                            port->pci[h].bus_last, find_edu, &ef);
    if (!ef.found) {
        keel_port_puts("check edu skip no edu device\n");
        return;
    }
    rc = edu_open(&e, hal, ef.addr, port->pci[0].windows.mem32.cpu_offset);
    if (!EX_CHECK(rc == KEEL_OK, "edu open: %s", keel_strerror(rc)))
        return;
    keel_port_printf("edu %04x:%02x:%02x.%x id=0x%08x\n", ef.addr.segment, ef.addr.bus, ef.addr.dev,
                     ef.addr.fn, edu_id(&e));
    if (!EX_CHECK(edu_alive(&e), "edu liveness register does not invert"))
        return;
    check_edu_intx(&e);
    check_edu_msi(&e, port->msi);
    check_edu_dma(&e);
}

/* The failure paths, on request: each must end the run as a failure, never a pass. */
static void inject_fault(const char *kind)
{
    static uint8_t buf[16] __attribute__((aligned(16)));

    keel_port_printf("fault %s\n", kind);
    if (keel_streq(kind, "trap")) {
        __builtin_trap();
    } else if (keel_streq(kind, "unmapped")) {
        (void)*(volatile uint32_t *)(uintptr_t)0x00007f0000000000ull;
    } else if (keel_streq(kind, "align")) {
        /* A 4-byte load from an odd address: faults where alignment checking is on (AArch64).
         * The offset goes through a volatile so the compiler cannot see the misalignment and
         * split the load into bytes. */
        static volatile uintptr_t odd = 1;
        (void)*(volatile uint32_t *)((uintptr_t)buf + odd);
    } else if (keel_streq(kind, "hang")) {
        for (;;)
            keel_delay_us(hal, 1000);
    } else if (keel_streq(kind, "fail")) {
        ex_fail("failure requested by fault=fail");
        return;
    }
    ex_fail("fault=%s did not stop the machine", kind);
}

int main(void)
{
    struct keel_port port;
    char fault[16];
    uint64_t use_edu = 1;
    int rc = keel_port_init(&port);

    if (!EX_CHECK(rc == KEEL_OK, "keel_port_init: %s", keel_strerror(rc)))
        return ex_finish();
    ex_print_platform(&port);
    hal = &port.hal;
    rc = keel_hal_check(hal);
    if (!EX_CHECK(rc == KEEL_OK, "keel_hal_check: %s", keel_strerror(rc)))
        return ex_finish();
    if (ex_arg(port.cmdline, "fault", fault, sizeof(fault))) {
        inject_fault(fault);
        return ex_finish();
    }
    check_clock();
    check_dma_alloc();
    check_dma_map();
    (void)ex_arg_u64(port.cmdline, "edu", &use_edu);
    if (use_edu != 0u)
        check_edu(&port);
    return ex_finish();
}
