/* SPDX-License-Identifier: MIT */
/*
 * probe.h - the examples' "driver manager": finds every storage controller the port can reach
 * (PCI functions under every host bridge, virtio-mmio slots), attaches the matching Keel driver,
 * registers every block device in one keel_registry, and scans each disk for partitions, which
 * become child block devices ("nvme0n1p1", "vda2").
 *
 *   NVMe         PCI class 01/08/02                     controllers nvme0, nvme1, ...
 *   virtio-blk   PCI 1af4:1001 / 1af4:1042, MMIO id 2   disks vda, vdb, ... (discovery order)
 *   virtio-scsi  PCI 1af4:1004 / 1af4:1048, MMIO id 8   hosts scsi0, ...; disks sd<N>
 *
 * Discovery order is fixed: PCI in (segment, bus, device, function) order, then the virtio-mmio
 * slots in address order (QEMU puts the first -device it is given in the highest slot). virtio-scsi
 * host k names its disks from sd<16 k>, so hot-plugged disks never collide across hosts.
 *
 * Everything lives in caller-owned storage (struct ex_devices, normally static) sized by the
 * compile-time maxima below; nothing is allocated. A device Keel cannot serve (a namespace with
 * metadata, a LUN without medium, a controller that fails to come up, more devices than the maxima)
 * is recorded as an `unserved` entry with its reason: it is reported, never fatal.
 *
 * Command-line words the probe understands (ex_probe_opts_parse):
 *   irq=poll|msix|intx|auto   completion signalling for every driver (default poll); on virtio-mmio
 *                             msix and intx mean the slot's interrupt line
 *   virtio=modern|legacy      interface of transitional virtio PCI functions (default modern)
 *   packed=0|1                allow virtio packed rings (default 1)
 *   qsize=<n>                 cap virtio queue sizes (default: the device's maximum)
 *   ioq=<n>, qdepth=<n>       NVMe I/O queue pairs and entries (default: the driver's
 * configuration) parts=0|1                 scan partition tables (default 1)
 *
 * Thread safety: thread context on the boot CPU, like the examples; nothing here is reentrant.
 */
#ifndef KEEL_EXAMPLE_PROBE_H
#define KEEL_EXAMPLE_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/blkdev.h>
#include <keel/nvme.h>
#include <keel/part.h>
#include <keel/port.h>
#include <keel/registry.h>
#include <keel/virtio.h>
#include <keel/virtio_blk.h>
#if KEEL_EX_HAVE_VSCSI
#include <keel/virtio_scsi.h>
#endif

#define EX_MAX_NVME          2   /* NVMe controllers */
#define EX_MAX_VBLK          6   /* virtio-blk devices */
#define EX_MAX_VSCSI         2   /* virtio-scsi host adapters */
#define EX_MAX_PARTS         24  /* partition children over all disks */
#define EX_MAX_UNSERVED      24  /* devices, namespaces and LUNs listed as unserved */
#define EX_VSCSI_NAME_STRIDE 16u /* host k names its disks from sd<k * stride> */

/** How the drivers are asked to signal completions (irq= on the command line). */
enum ex_irq {
    EX_IRQ_POLL = 0,
    EX_IRQ_MSIX = 1,
    EX_IRQ_INTX = 2,
    EX_IRQ_AUTO = 3,
};

/** Probe options, normally from the command line. */
struct ex_probe_opts {
    enum ex_irq irq;
    bool virtio_legacy; /* transitional virtio PCI functions through their legacy I/O BAR */
    bool no_packed;
    bool no_parts;
    uint16_t virtio_qsize; /* 0: the device's maximum */
    uint16_t nvme_ioq;     /* 0: the driver's default */
    uint16_t nvme_qdepth;  /* 0: the driver's default */
};

/** What kind of controller a block device or an unserved entry belongs to. */
enum ex_kind {
    EX_KIND_NVME = 0,
    EX_KIND_VBLK = 1,
    EX_KIND_VSCSI = 2,
    EX_KIND_PART = 3,
};

/** Where a controller sits: a PCI function or a virtio-mmio slot. */
struct ex_where {
    bool is_mmio;
    struct keel_pci_addr pci;
    unsigned slot; /* virtio-mmio slot index in port->mmio[] */
    uint64_t phys; /* virtio-mmio register window */
    char text[24]; /* "0000:00:03.0" or "mmio@0xa003e00" */
};

/** One NVMe controller. */
struct ex_nvme {
    struct keel_nvme_ctrl ctrl;
    struct ex_where where;
    char name[8]; /* "nvme0" */
    bool up;
    /* asynchronous events the driver delivered (ring, newest overwrites oldest) */
    struct keel_nvme_event events[8];
    unsigned nevents;
};

/** One virtio-blk device. */
struct ex_vblk {
    struct keel_vblk vb;
    struct ex_where where;
    bool up;
};

#if KEEL_EX_HAVE_VSCSI
/** One virtio-scsi host adapter. */
struct ex_vscsi_event {
    uint8_t target;
    uint16_t lun;
    uint8_t ev; /* enum keel_vscsi_event */
    char name[KEEL_CONFIG_BLK_NAME_MAX];
};

struct ex_vscsi {
    struct keel_vscsi vs;
    struct ex_where where;
    char name[8]; /* "scsi0" */
    bool up;
    struct ex_vscsi_event events[16];
    unsigned nevents;
};
#endif

/** A device, namespace or LUN Keel found but does not serve, and why. */
struct ex_unserved {
    char what[40];   /* "nvme0n2", "0000:00:05.0", "scsi0 target=1 lun=0" */
    char driver[12]; /* "nvme", "virtio-blk", "virtio-scsi" */
    char reason[56];
};

/** Everything the probe found. Caller-owned (static: it is large). */
struct ex_devices {
    const struct keel_port *port;
    struct ex_probe_opts opts;
    struct keel_registry reg;

    struct ex_nvme nvme[EX_MAX_NVME];
    unsigned nnvme;
    struct ex_vblk vblk[EX_MAX_VBLK];
    unsigned nvblk;
#if KEEL_EX_HAVE_VSCSI
    struct ex_vscsi vscsi[EX_MAX_VSCSI];
    unsigned nvscsi;
#endif
    struct keel_blkdev parts[EX_MAX_PARTS];
    unsigned nparts;
    struct ex_unserved unserved[EX_MAX_UNSERVED];
    unsigned nunserved;
    unsigned unserved_dropped; /* entries past EX_MAX_UNSERVED */
};

/**
 * Read the probe's words (see the file comment) from `cmdline` into *o (defaults first). Returns
 * false and prints why when a value is not understood.
 */
bool ex_probe_opts_parse(const char *cmdline, struct ex_probe_opts *o);

/** "poll", "msix", "intx", "auto". */
const char *ex_irq_name(enum ex_irq irq);

/**
 * Find, attach, register and partition-scan everything (see the file comment). Returns the number
 * of block devices registered (partitions included); per-device failures are recorded in
 * d->unserved, not returned.
 */
unsigned ex_probe(struct ex_devices *d, const struct keel_port *port,
                  const struct ex_probe_opts *opts);

/** Driver kind of a registered block device (partitions: EX_KIND_PART). */
enum ex_kind ex_dev_kind(const struct keel_blkdev *dev);

/** The NVMe controller a namespace (or a partition of one) belongs to, else NULL. */
struct ex_nvme *ex_dev_nvme(struct ex_devices *d, const struct keel_blkdev *dev);

/** The virtio-blk device behind `dev` (or a partition of it), else NULL. */
struct ex_vblk *ex_dev_vblk(struct ex_devices *d, const struct keel_blkdev *dev);

#if KEEL_EX_HAVE_VSCSI
/** The virtio-scsi adapter a disk (or a partition of one) belongs to, else NULL. */
struct ex_vscsi *ex_dev_vscsi(struct ex_devices *d, const struct keel_blkdev *dev);
#endif

/**
 * Service every controller without I/O: NVMe admin completions and asynchronous events,
 * virtio-blk configuration changes (resize), virtio-scsi events (hot-plug). Newly appeared disks
 * are registered (and partition-scanned); removed ones are unregistered.
 */
void ex_service(struct ex_devices *d);

/** The interrupts the driver behind `dev` has taken so far (all its queues), for reports. */
uint64_t ex_dev_interrupts(struct ex_devices *d, const struct keel_blkdev *dev);

/** Of those, the ones that found nothing to do (a shared or re-delivered INTx line), where the
 *  driver counts them (virtio's ISR read says so; NVMe has no such count: 0). */
uint64_t ex_dev_spurious(struct ex_devices *d, const struct keel_blkdev *dev);

/** Print one `unserved what=<..> driver=<..> reason="<..>"` line per entry. */
void ex_print_unserved(const struct ex_devices *d);

#endif
