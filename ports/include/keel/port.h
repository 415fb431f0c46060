/* SPDX-License-Identifier: MIT */
/*
 * keel/port.h - the tiny API the QEMU reference ports give to portable example programs.
 *
 * A port is the platform half of an integration: boot code, console, clock, interrupt controller,
 * PCI host bridges, DMA memory, and a struct keel_hal implementing hal/include/keel/hal.h over
 * them. An example program is portable C: it defines `int main(void)`, calls keel_port_init() to
 * learn the platform, hands `port->hal` to Keel's drivers, prints with keel_port_printf() and
 * returns 0 (pass) or non-zero (fail); the port then ends the machine with keel_port_exit().
 *
 * Two ports implement it: ports/x86_64-multiboot (QEMU q35 under SeaBIOS or qboot) and
 * ports/aarch64-virt (QEMU virt, GICv2 or GICv3). Both run identity-mapped: a bus address, a
 * physical address and a CPU virtual address have the same value, but the code keeps them apart.
 *
 * Thread safety: every function here runs on the boot CPU in thread context (never from an
 * interrupt handler) unless its comment says otherwise; the ports are single-CPU.
 */
#ifndef KEEL_PORT_H
#define KEEL_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/pci.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KEEL_PORT_MAX_PCI_HOSTS  2
#define KEEL_PORT_MAX_MMIO_SLOTS 32

/* Exit statuses given to keel_port_exit (what the guest reports). */
#define KEEL_PORT_EXIT_PASS  0
#define KEEL_PORT_EXIT_FAIL  1
#define KEEL_PORT_EXIT_PANIC 2 /* exception, port panic: never the program's own verdict */

/*
 * What QEMU's process returns for each, on both architectures (x86: isa-debug-exit writes v and
 * QEMU returns (v << 1) | 1; AArch64: semihosting SYS_EXIT_EXTENDED returns the code itself). None
 * is 0, so a machine that powers off or triple-faults (QEMU status 0) is never mistaken for a pass.
 */
#define KEEL_PORT_QEMU_STATUS_PASS  33
#define KEEL_PORT_QEMU_STATUS_FAIL  35
#define KEEL_PORT_QEMU_STATUS_PANIC 37

/** One PCI host bridge (a segment) and the windows BARs were assigned from. */
struct keel_port_pci_host {
    uint16_t segment;
    uint8_t bus_first, bus_last;
    uint64_t ecam_phys;              /* ECAM base (bus 0), 0 when config goes through 0xCF8/0xCFC */
    struct keel_pci_windows windows; /* cpu_offset: CPU physical = bus address + cpu_offset */
    unsigned nfuncs;                 /* functions found by the port's enumeration */
    unsigned bars_by_firmware;       /* BARs the firmware had assigned before Keel ran */
    unsigned bars_by_port;           /* BARs the port assigned */
    unsigned bridges_by_port;        /* PCI-to-PCI bridges the port numbered and opened */
};

/** One virtio-mmio transport slot (present or not: DeviceID 0 means empty). */
struct keel_port_mmio_slot {
    uint64_t phys;      /* register window, physical */
    uint64_t size;      /* bytes */
    uint32_t irq;       /* platform line for a KEEL_IRQ_LINE source */
    uint32_t irq_flags; /* KEEL_IRQ_F_LEVEL or 0 (edge) */
};

/** Everything a portable program needs to know about the platform it runs on. */
struct keel_port {
    struct keel_hal hal;  /* the HAL instance to hand to drivers */
    const char *name;     /* "x86_64-multiboot", "aarch64-virt" */
    const char *arch;     /* "x86_64", "aarch64" */
    const char *machine;  /* "q35", "pc", "virt" */
    const char *firmware; /* "seabios", "qboot" (BARs left unassigned), "none" */
    const char *irqchip;  /* "ioapic+lapic", "gicv2", "gicv2m", "gicv3" */
    const char *cmdline;  /* boot arguments (-append), "" when none; never NULL */
    uint64_t ram_bytes;   /* usable RAM the port found */
    uint64_t clock_hz;    /* frequency of the counter behind time_us (TSC, CNTVCT) */
    bool msi;             /* MSI/MSI-X can be delivered (irq_attach accepts the PCI MSI kinds) */
    unsigned npci;
    struct keel_port_pci_host pci[KEEL_PORT_MAX_PCI_HOSTS];
    unsigned nmmio;
    struct keel_port_mmio_slot mmio[KEEL_PORT_MAX_MMIO_SLOTS];
    keel_bus_addr_t dma_bus; /* the DMA region dma_alloc carves from */
    uint64_t dma_size;
};

/**
 * Finish platform bring-up that depends on nothing but the machine (PCI enumeration, bridge
 * numbering, BAR assignment where firmware did not do it) and describe the platform in *port.
 * The first call does the work; later calls copy the same description. Returns 0, or a negative
 * KEEL_E* code when the platform cannot be used (the port has printed why).
 */
int keel_port_init(struct keel_port *port);

/** Write a NUL-terminated string to the console ("\n" becomes "\r\n"). Any context. */
void keel_port_puts(const char *s);

/** Format (keel/fmt.h conversions) and write to the console. Lines over 255 bytes are cut. */
void keel_port_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * End the machine: KEEL_PORT_EXIT_PASS, _FAIL or _PANIC (any other value counts as FAIL). QEMU then
 * exits with KEEL_PORT_QEMU_STATUS_*. Programs should print "RESULT: PASS" or "RESULT: FAIL <why>"
 * first; tools/qemu-run requires both. Any context.
 */
__attribute__((noreturn)) void keel_port_exit(int status);

/**
 * The program the port runs once the CPU, console, clock and interrupt controller are up.
 * Returning 0 exits with KEEL_PORT_EXIT_PASS, anything else with KEEL_PORT_EXIT_FAIL.
 */
int main(void);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_PORT_H */
