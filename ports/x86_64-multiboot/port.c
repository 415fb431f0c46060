/* SPDX-License-Identifier: MIT */
/*
 * port.c - x86-64 multiboot port: boot sequence, multiboot information, PCI host discovery and the
 * keel_port description, exit through isa-debug-exit.
 */
#include <keel/error.h>
#include <keel/str.h>

#include "../common/dma_pool.h"
#include "../common/pci_setup.h"
#include "../common/port_internal.h"
#include "x86.h"

#define MB_BOOT_MAGIC     0x2badb002u
#define MB_INFO_MEM       0x001u
#define MB_INFO_CMDLINE   0x004u
#define MB_INFO_MMAP      0x040u
#define MB_MMAP_AVAILABLE 1u

#define DEBUG_EXIT_PORT 0xf4
/* isa-debug-exit: QEMU exits with (v << 1) | 1, so 0x10/0x11/0x12 give 33/35/37. */
#define DEBUG_EXIT_PASS  0x10
#define DEBUG_EXIT_FAIL  0x11
#define DEBUG_EXIT_PANIC 0x12

#define Q35_PCIEXBAR     0x60
#define Q35_ECAM_DEFAULT 0xb0000000u
#define X86_MEM32_BASE   0xc0000000ull /* below the IOAPIC/LAPIC, above q35's ECAM */
#define X86_MEM32_END    0xfec00000ull
#define X86_MEM64_BASE   0x8000000000ull /* 512 GiB: above any RAM QEMU gives these tests */
#define X86_MEM64_SIZE   0x1000000000ull
#define X86_IO_BASE      0xc000u
#define X86_IO_SIZE      0x4000u

#define CMDLINE_MAX 1024

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
};

extern char __dma_start[], __dma_end[];

static char cmdline[CMDLINE_MAX];
static struct keel_port self;
static bool self_ready;

static void add_ram(uint64_t base, uint64_t size)
{
    if (x86_nram < X86_MAX_RAM_RANGES && size != 0u)
        x86_ram[x86_nram++] = (struct x86_ram_range){base, size};
}

static void parse_mmap(const struct mb_info *mbi)
{
    uint64_t off = 0;

    /* Entries are {u32 size; u64 base; u64 len; u32 type}; `size` excludes itself. */
    while (off + 24u <= mbi->mmap_length) {
        const uint8_t *e = (const uint8_t *)(uintptr_t)(mbi->mmap_addr + off);
        uint32_t esize, type;
        uint64_t base, len;

        keel_memcpy(&esize, e, 4);
        keel_memcpy(&base, e + 4, 8);
        keel_memcpy(&len, e + 12, 8);
        keel_memcpy(&type, e + 20, 4);
        if (esize < 20u)
            break;
        if (type == MB_MMAP_AVAILABLE)
            add_ram(base, len);
        off += (uint64_t)esize + 4u;
    }
}

/* QEMU passes "<kernel file> <-append text>"; keep only what -append said. */
static void copy_cmdline(uint32_t addr)
{
    const char *s = (const char *)(uintptr_t)addr;
    size_t i = 0;

    while (*s != '\0' && *s != ' ')
        s++;
    while (*s == ' ')
        s++;
    while (s[i] != '\0' && i + 1u < sizeof(cmdline)) {
        cmdline[i] = s[i];
        i++;
    }
    cmdline[i] = '\0';
}

static void parse_multiboot(uint32_t magic, uint32_t info)
{
    const struct mb_info *mbi = (const struct mb_info *)(uintptr_t)info;

    if (magic != MB_BOOT_MAGIC)
        port_panic("not started by a multiboot loader (eax=0x%x)", magic);
    if (mbi->flags & MB_INFO_MMAP)
        parse_mmap(mbi);
    if (x86_nram == 0u && (mbi->flags & MB_INFO_MEM))
        add_ram(0x100000u, (uint64_t)mbi->mem_upper * 1024u);
    if (mbi->flags & MB_INFO_CMDLINE)
        copy_cmdline(mbi->cmdline);
}

void x86_boot(uint32_t magic, uint32_t info)
{
    int rc;

    x86_serial_init();
    x86_cpu_tables_init();
    parse_multiboot(magic, info);
    x86_paging_init();
    x86_apic_init();
    x86_clock_init();
    port_dma_pool_init(__dma_start, (keel_bus_addr_t)(uintptr_t)__dma_start,
                       (size_t)(__dma_end - __dma_start));
    __asm__ volatile("sti" ::: "memory");
    rc = main();
    keel_port_exit(rc == 0 ? KEEL_PORT_EXIT_PASS : KEEL_PORT_EXIT_FAIL);
}

void port_arch_exit(int status)
{
    uint8_t v = status == KEEL_PORT_EXIT_PASS   ? DEBUG_EXIT_PASS
                : status == KEEL_PORT_EXIT_FAIL ? DEBUG_EXIT_FAIL
                                                : DEBUG_EXIT_PANIC;

    __asm__ volatile("cli" ::: "memory");
    outb(DEBUG_EXIT_PORT, v);
    /* Without -device isa-debug-exit the write is ignored: stop here, a hang the runner times out.
     */
    for (;;)
        __asm__ volatile("hlt");
}

/* Which chipset: the host bridge's identity. */
static void detect_chipset(void)
{
    struct keel_pci_addr hb = {0, 0, 0, 0};
    uint32_t id = 0xffffffffu;

    (void)x86_pci_cfg_read(NULL, hb, 0, 4, &id);
    if (id == 0x29c08086u)
        x86_chipset = X86_CHIPSET_Q35;
    else if (id == 0x12378086u)
        x86_chipset = X86_CHIPSET_I440FX;
}

/* q35: ECAM from PCIEXBAR (00:00.0 0x60); firmware that left it off gets it at 0xB0000000. */
static uint64_t q35_ecam(uint8_t *bus_last)
{
    struct keel_pci_addr hb = {0, 0, 0, 0};
    uint32_t lo = 0, hi = 0;

    (void)x86_pci_cfg_read(NULL, hb, Q35_PCIEXBAR, 4, &lo);
    (void)x86_pci_cfg_read(NULL, hb, Q35_PCIEXBAR + 4, 4, &hi);
    if (!(lo & 1u)) {
        lo = Q35_ECAM_DEFAULT | 1u; /* length field 0: 256 MiB, buses 0-255 */
        hi = 0;
        (void)x86_pci_cfg_write(NULL, hb, Q35_PCIEXBAR + 4, 4, hi);
        (void)x86_pci_cfg_write(NULL, hb, Q35_PCIEXBAR, 4, lo);
    }
    switch ((lo >> 1) & 3u) {
    case 1:
        *bus_last = 127;
        return (((uint64_t)hi << 32) | lo) & 0xff8000000ull;
    case 2:
        *bus_last = 63;
        return (((uint64_t)hi << 32) | lo) & 0xffc000000ull;
    default:
        *bus_last = 255;
        return (((uint64_t)hi << 32) | lo) & 0xff0000000ull;
    }
}

/* Firmware identity, for the report only: SeaBIOS leaves its name in the BIOS segment. */
static const char *detect_firmware(const struct keel_port_pci_host *h)
{
    static const char tag[] = "SeaBIOS";
    const char *p = (const char *)(uintptr_t)0xf0000u;
    size_t i;

    for (i = 0; i + sizeof(tag) - 1u <= 0x10000u; i++)
        if (keel_memcmp(p + i, tag, sizeof(tag) - 1u) == 0)
            return "seabios";
    return h->bars_by_firmware == 0u ? "qboot" : "unknown";
}

static uint64_t ram_total(void)
{
    uint64_t t = 0;
    unsigned i;

    for (i = 0; i < x86_nram; i++)
        t += x86_ram[i].size;
    return t;
}

static int describe(struct keel_port *p)
{
    struct keel_port_pci_host *h = &p->pci[0];
    uint8_t bus_last = 255;
    int rc;

    p->hal.ops = &x86_hal_ops;
    p->hal.ctx = NULL;
    p->name = "x86_64-multiboot";
    p->arch = "x86_64";
    p->cmdline = cmdline;
    p->ram_bytes = ram_total();
    p->clock_hz = x86_tsc_hz();
    p->irqchip = "ioapic+lapic";
    p->msi = true;
    p->dma_bus = (keel_bus_addr_t)(uintptr_t)__dma_start;
    p->dma_size = (uint64_t)(__dma_end - __dma_start);
    detect_chipset();
    p->machine = x86_chipset == X86_CHIPSET_Q35      ? "q35"
                 : x86_chipset == X86_CHIPSET_I440FX ? "pc"
                                                     : "unknown";
    h->segment = 0;
    h->bus_first = 0;
    h->bus_last = 255;
    if (x86_chipset == X86_CHIPSET_Q35) {
        h->ecam_phys = q35_ecam(&bus_last);
        h->bus_last = bus_last;
        x86_pci_set_ecam(h->ecam_phys, bus_last);
    }
    h->windows.mem32 =
        (struct keel_pci_window){X86_MEM32_BASE, X86_MEM32_END - X86_MEM32_BASE, X86_MEM32_BASE, 0};
    h->windows.mem64 = (struct keel_pci_window){X86_MEM64_BASE, X86_MEM64_SIZE, X86_MEM64_BASE, 0};
    h->windows.io = (struct keel_pci_window){X86_IO_BASE, X86_IO_SIZE, X86_IO_BASE, 0};
    p->npci = 1;
    rc = port_pci_setup(&p->hal, h, 0);
    if (rc != KEEL_OK) {
        keel_port_printf("port: PCI setup failed (%d)\n", rc);
        return rc;
    }
    p->firmware = detect_firmware(h);
    p->nmmio = 0; /* no virtio-mmio on QEMU's x86 PC machines */
    return KEEL_OK;
}

int keel_port_init(struct keel_port *port)
{
    int rc;

    if (port == NULL)
        return KEEL_EINVAL;
    if (!self_ready) {
        rc = describe(&self);
        if (rc != KEEL_OK)
            return rc;
        self_ready = true;
    }
    *port = self;
    return KEEL_OK;
}
