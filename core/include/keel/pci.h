/* SPDX-License-Identifier: MIT */
/*
 * keel/pci.h - PCI helpers shared by the NVMe and virtio-pci drivers: configuration access through
 * the HAL, enumeration, BAR decode, BAR sizing and assignment (for platforms where nothing assigned
 * BARs: qboot, AArch64 virt), capability walks, MSI-X table programming and bus-master enable.
 *
 * Thread safety: every function here is init context only (it uses pci_cfg_* hooks) and must not
 * run concurrently with another call on the same function; distinct functions are independent.
 */
#ifndef KEEL_PCI_H
#define KEEL_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>
#include <keel/region.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Configuration space offsets and bits used by Keel (PCI Local Bus 3.0 / PCIe base). */
#define KEEL_PCI_VENDOR_ID   0x00
#define KEEL_PCI_DEVICE_ID   0x02
#define KEEL_PCI_COMMAND     0x04
#define KEEL_PCI_STATUS      0x06
#define KEEL_PCI_REVISION    0x08
#define KEEL_PCI_PROG_IF     0x09
#define KEEL_PCI_SUBCLASS    0x0a
#define KEEL_PCI_CLASS       0x0b
#define KEEL_PCI_HEADER_TYPE 0x0e
#define KEEL_PCI_BAR0        0x10
#define KEEL_PCI_SUBSYS_ID   0x2e
#define KEEL_PCI_CAP_PTR     0x34
#define KEEL_PCI_INT_LINE    0x3c
#define KEEL_PCI_INT_PIN     0x3d

#define KEEL_PCI_CMD_IO           0x0001u
#define KEEL_PCI_CMD_MEM          0x0002u
#define KEEL_PCI_CMD_MASTER       0x0004u
#define KEEL_PCI_CMD_INTX_DISABLE 0x0400u
#define KEEL_PCI_STATUS_CAP_LIST  0x0010u

#define KEEL_PCI_CAP_ID_MSI  0x05
#define KEEL_PCI_CAP_ID_VNDR 0x09
#define KEEL_PCI_CAP_ID_EXP  0x10
#define KEEL_PCI_CAP_ID_MSIX 0x11

#define KEEL_PCI_BAR_COUNT 6

/**
 * Read/write configuration space (width 1, 2 or 4, `off` aligned to it, below 4096). KEEL_EINVAL
 * for a bad width or offset, KEEL_ENOTSUP when the HAL has no PCI hooks. Init context; per function
 * serialised by the caller (see above).
 */
int keel_pci_read(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off, uint8_t width,
                  uint32_t *val);
int keel_pci_write(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off, uint8_t width,
                   uint32_t val);
/** Sized reads that return all-ones on any failure (as an absent function reads). Init context. */
uint8_t keel_pci_read8(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off);
uint16_t keel_pci_read16(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off);
uint32_t keel_pci_read32(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off);

/** Identity of one function, as read by keel_pci_probe_fn. */
struct keel_pci_fn {
    struct keel_pci_addr addr;
    uint16_t vendor, device;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type; /* without the multi-function bit */
    bool multifunction;
    uint16_t subsys_id;
};

/** Read the identity of `a`; KEEL_ENODEV if nothing answers (vendor 0xffff or 0). Init context. */
int keel_pci_probe_fn(const struct keel_hal *hal, struct keel_pci_addr a, struct keel_pci_fn *out);

/**
 * Visit every present function on buses [first_bus, last_bus] of `segment`, honouring the
 * multi-function bit (function 0 only unless set). Stops early and returns the callback's value
 * when it returns non-zero. Returns 0 when the scan completed, or a configuration access error.
 * Init context; the visitor runs on the caller's thread and may itself access configuration space.
 */
typedef int (*keel_pci_visit_fn)(void *arg, const struct keel_pci_fn *fn);
int keel_pci_scan(const struct keel_hal *hal, uint16_t segment, uint8_t first_bus, uint8_t last_bus,
                  keel_pci_visit_fn visit, void *arg);

/** A decoded BAR. */
struct keel_pci_bar {
    uint64_t addr; /* bus/physical base as programmed; 0 when unassigned */
    uint64_t size; /* 0 when the BAR is not implemented */
    bool is_io;
    bool is_64; /* occupies this BAR and the next */
    bool prefetchable;
};

/**
 * Decode BAR `idx` (0..5): address, type and size. Sizing writes all-ones and restores the original
 * value with memory and I/O decode disabled meanwhile, so it is safe on a live function (the
 * command register is restored afterwards). An unimplemented BAR decodes with size 0 and address 0.
 * KEEL_EINVAL for an index inside a 64-bit pair's upper half or beyond the header's BARs (6 for
 * endpoints, 2 for bridges); KEEL_EPROTO for a reserved type, a 64-bit BAR in the last slot, or an
 * address not aligned to the size (bits the spec hardwires to 0: a broken or hostile device).
 * Init context; not concurrently with any other access to this function's BARs.
 */
int keel_pci_bar_decode(const struct keel_hal *hal, struct keel_pci_addr a, unsigned idx,
                        struct keel_pci_bar *out);

/** An address window the platform dedicates to BAR assignment. */
struct keel_pci_window {
    uint64_t base; /* bus address */
    uint64_t size;
    uint64_t next; /* allocation cursor: set to base before first use */
    /* CPU physical = bus + cpu_offset (0 on x86 and on Arm virt memory windows) */
    uint64_t cpu_offset;
};

/** Windows for keel_pci_assign_bars: 32-bit memory, 64-bit memory (optional), I/O (optional). */
struct keel_pci_windows {
    struct keel_pci_window mem32;
    struct keel_pci_window mem64; /* size 0: 64-bit BARs go in mem32 */
    struct keel_pci_window io;    /* size 0: I/O BARs are left unassigned */
};

/**
 * Assign every unassigned (address 0) implemented BAR of `a` from `w`, naturally aligned to its
 * size, then enable memory decode (and I/O decode when an I/O BAR has an address). Already assigned
 * BARs are kept. 64-bit BARs use mem64 when it has a size, else mem32; 32-bit BARs must end below
 * 4 GiB. A window's `next` advances past each allocation (a `next` below `base` counts as `base`),
 * so one set of windows serves many functions. KEEL_ENOMEM when a window is exhausted (decode is
 * then left unchanged). Init context; the windows are the caller's to serialise.
 */
int keel_pci_assign_bars(const struct keel_hal *hal, struct keel_pci_addr a,
                         struct keel_pci_windows *w);

/**
 * Map BAR `idx` of `a` into a register region: CPU physical = BAR address + `cpu_offset`, through
 * the HAL's io_map when present, else identity (memory BARs use the MMIO hooks, I/O BARs the port
 * I/O hooks). KEEL_ENODEV when the BAR is unimplemented or unassigned, KEEL_ENOTSUP when an I/O BAR
 * would need port I/O hooks the HAL lacks. Does not enable decode (keel_pci_enable). Init context.
 */
int keel_pci_bar_region(const struct keel_hal *hal, struct keel_pci_addr a, unsigned idx,
                        uint64_t cpu_offset, struct keel_region *out);

/**
 * Walk the capability list: return in *off the offset of the first capability with `id`; with
 * `start` = 0 from the head of the list, else the first one after the capability at `start` in list
 * order (pass a previous result to continue, e.g. through several vendor capabilities). The walk is
 * bounded (KEEL_CONFIG_PCI_MAX_CAPS), rejects pointers into the header (< 0x40) or misaligned ones,
 * and detects loops. KEEL_ENOENT when absent (or no capability list), KEEL_EPROTO when the list is
 * corrupt, KEEL_EINVAL when `start` is not a capability of the list. Init context.
 */
int keel_pci_find_cap(const struct keel_hal *hal, struct keel_pci_addr a, uint8_t id,
                      uint16_t start, uint16_t *off);

/**
 * Set, then clear, bits in the command register (KEEL_PCI_CMD_*: memory decode, I/O decode, bus
 * master, INTx off) with a 16-bit read-modify-write; no write when nothing changes. KEEL_ENODEV
 * when the function reads all-ones. Init context.
 */
int keel_pci_enable(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t set_bits,
                    uint16_t clear_bits);

/** MSI-X state for one function. */
struct keel_pci_msix {
    struct keel_region table; /* mapped MSI-X table */
    uint16_t cap_off;
    uint16_t table_size; /* number of entries */
};

/**
 * Find the MSI-X capability, map its table (BAR + offset, CPU physical = bus + `cpu_offset`), turn
 * memory decode on (the table is reached through the BAR) and mask every entry. MSI-X itself stays
 * as it was (keel_pci_msix_enable). KEEL_ENOENT when the function has no MSI-X, KEEL_ENODEV when
 * the table's BAR is unassigned, KEEL_EPROTO when the BIR or the table's extent does not fit a
 * memory BAR. Init context.
 */
int keel_pci_msix_init(const struct keel_hal *hal, struct keel_pci_addr a, uint64_t cpu_offset,
                       struct keel_pci_msix *mx);

/**
 * keel_pci_msix_set: mask entry `idx`, write the message address and data, order those writes with
 * a write barrier, then unmask. keel_pci_msix_mask: set or clear the entry's mask bit (a message
 * the device raised while masked stays pending and is sent on unmask). KEEL_EINVAL when idx >=
 * size. Any context (MMIO only), but not concurrently for the same entry.
 */
int keel_pci_msix_set(const struct keel_pci_msix *mx, uint16_t idx, uint64_t addr, uint32_t data);
int keel_pci_msix_mask(const struct keel_pci_msix *mx, uint16_t idx, bool masked);

/**
 * Enable/disable MSI-X in the capability's control word (function mask cleared on enable). Enabling
 * MSI-X turns INTx off in the device. Init context.
 */
int keel_pci_msix_enable(const struct keel_hal *hal, struct keel_pci_addr a,
                         const struct keel_pci_msix *mx, bool on);

/**
 * One call for drivers: attach `fn` to MSI-X vector `idx` through the HAL, compose the message and
 * program + unmask the table entry (the HAL source is unmasked first). Returns the HAL handle in
 * *handle. KEEL_ENOTSUP when the HAL lacks irq_attach/irq_detach/irq_mask/msi_compose; on any
 * failure nothing stays attached. Init context.
 */
int keel_pci_msix_attach(const struct keel_hal *hal, struct keel_pci_addr a,
                         const struct keel_pci_msix *mx, uint16_t idx, keel_irq_fn fn, void *arg,
                         uint32_t *handle);

/** Undo keel_pci_msix_attach: mask entry `idx`, then detach `handle` from the HAL. Init context. */
int keel_pci_msix_detach(const struct keel_hal *hal, const struct keel_pci_msix *mx, uint16_t idx,
                         uint32_t handle);

#ifdef __cplusplus
}
#endif

#endif
