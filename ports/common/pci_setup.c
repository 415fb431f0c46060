/* SPDX-License-Identifier: MIT */
/*
 * pci_setup.c - enumerate, number bridges, assign BARs (PCI-to-PCI Bridge Architecture 1.2 chapter
 * 3 for the type 1 header fields used below).
 */
#include <keel/error.h>
#include <keel/pci.h>

#include "pci_setup.h"
#include "port_internal.h"

#define BR_PRIMARY_BUS      0x18
#define BR_SECONDARY_BUS    0x19
#define BR_SUBORDINATE_BUS  0x1a
#define BR_IO_BASE          0x1c
#define BR_IO_LIMIT         0x1d
#define BR_MEM_BASE         0x20
#define BR_MEM_LIMIT        0x22
#define BR_PREF_BASE        0x24
#define BR_PREF_LIMIT       0x26
#define BR_PREF_BASE_UPPER  0x28
#define BR_PREF_LIMIT_UPPER 0x2c
#define BR_IO_BASE_UPPER    0x30
#define BR_IO_LIMIT_UPPER   0x32

#define BR_MEM_GRAN 0x100000u /* bridge memory windows are 1 MiB granular */
#define BR_IO_GRAN  0x1000u   /* and I/O windows 4 KiB */
#define MAX_DEPTH   8u        /* bridges deep; bounds the recursion */

struct bus_link {
    uint8_t valid;
    uint8_t parent_bus;
    uint8_t dev;
};

static struct bus_link links[KEEL_PORT_MAX_PCI_HOSTS][256];
static uint8_t root_bus[KEEL_PORT_MAX_PCI_HOSTS];

struct setup {
    const struct keel_hal *hal;
    struct keel_port_pci_host *host;
    unsigned index;
    unsigned next_bus; /* first bus number not yet used by any bridge */
};

typedef int (*fn_visit)(struct setup *s, struct keel_pci_fn *f, struct keel_pci_windows *w,
                        unsigned depth);

/* Visit every function on `bus`, honouring the multi-function bit. */
static int for_each_fn(struct setup *s, uint8_t bus, fn_visit visit, struct keel_pci_windows *w,
                       unsigned depth)
{
    struct keel_pci_addr a = {s->host->segment, bus, 0, 0};
    unsigned dev, fn;
    int rc;

    for (dev = 0; dev < 32u; dev++) {
        for (fn = 0; fn < 8u; fn++) {
            struct keel_pci_fn f;

            a.dev = (uint8_t)dev;
            a.fn = (uint8_t)fn;
            rc = keel_pci_probe_fn(s->hal, a, &f);
            if (rc == KEEL_ENODEV) {
                if (fn == 0u)
                    break;
                continue;
            }
            if (rc != KEEL_OK)
                return rc;
            rc = visit(s, &f, w, depth);
            if (rc != KEEL_OK)
                return rc;
            if (fn == 0u && !f.multifunction)
                break;
        }
    }
    return KEEL_OK;
}

/* Move a window's cursor past a BAR firmware placed inside it, so new BARs never overlap it. */
static void skip_firmware_bar(struct keel_pci_window *win, uint64_t addr, uint64_t size)
{
    if (win->size == 0u || addr < win->base || addr - win->base >= win->size)
        return;
    if (addr + size > win->next)
        win->next = addr + size;
}

static unsigned bar_slots(const struct keel_pci_fn *f)
{
    return f->header_type == 0u ? 6u : f->header_type == 1u ? 2u : 0u;
}

/* Count BARs; with `w`, also push the windows' cursors past assigned ones. */
static void count_bars(struct setup *s, struct keel_pci_addr a, unsigned nslots,
                       struct keel_pci_windows *w, unsigned *assigned, unsigned *unassigned)
{
    unsigned idx = 0;

    *assigned = *unassigned = 0;
    while (idx < nslots) {
        struct keel_pci_bar b;

        if (keel_pci_bar_decode(s->hal, a, idx, &b) != KEEL_OK)
            break;
        if (b.size != 0u && b.addr != 0u) {
            (*assigned)++;
            if (w != NULL) {
                skip_firmware_bar(b.is_io ? &w->io : &w->mem32, b.addr, b.size);
                skip_firmware_bar(&w->mem64, b.addr, b.size);
            }
        } else if (b.size != 0u) {
            (*unassigned)++;
        }
        idx += b.is_64 ? 2u : 1u;
    }
}

/* Pass 1: what firmware did. Follows bridges firmware numbered. */
static int survey_fn(struct setup *s, struct keel_pci_fn *f, struct keel_pci_windows *w,
                     unsigned depth)
{
    unsigned assigned, unassigned;

    s->host->nfuncs++;
    count_bars(s, f->addr, bar_slots(f), w, &assigned, &unassigned);
    s->host->bars_by_firmware += assigned;
    if (f->header_type == 1u) {
        uint8_t sec = keel_pci_read8(s->hal, f->addr, BR_SECONDARY_BUS);
        uint8_t sub = keel_pci_read8(s->hal, f->addr, BR_SUBORDINATE_BUS);

        if (sec > f->addr.bus && sec <= s->host->bus_last && depth < MAX_DEPTH &&
            !links[s->index][sec].valid) {
            links[s->index][sec] = (struct bus_link){1, f->addr.bus, f->addr.dev};
            if (sub + 1u > s->next_bus)
                s->next_bus = sub + 1u;
            if (sec + 1u > s->next_bus)
                s->next_bus = sec + 1u;
            return for_each_fn(s, sec, survey_fn, w, depth + 1u);
        }
    }
    return KEEL_OK;
}

/* A sub-window starting at the parent's cursor aligned to `gran`, to the parent's end. */
static struct keel_pci_window sub_window(const struct keel_pci_window *p, uint64_t gran)
{
    struct keel_pci_window c = {0, 0, 0, p->cpu_offset};
    uint64_t start = port_align_up(p->next > p->base ? p->next : p->base, gran);

    if (p->size != 0u && start - p->base < p->size) {
        c.base = start;
        c.size = p->size - (start - p->base);
        c.next = start;
    }
    return c;
}

/* Close the child's window at `gran`; returns [*base, *limit] or false when nothing was placed. */
static bool close_window(struct keel_pci_window *parent, const struct keel_pci_window *child,
                         uint64_t gran, uint64_t *base, uint64_t *limit)
{
    if (child->size == 0u || child->next <= child->base)
        return false;
    *base = child->base;
    *limit = port_align_up(child->next, gran) - 1u;
    parent->next = *limit + 1u;
    return true;
}

static int write_bridge_windows(struct setup *s, struct keel_pci_addr a, struct keel_pci_windows *w,
                                const struct keel_pci_windows *cw)
{
    const struct keel_hal *h = s->hal;
    uint64_t base, limit;
    uint16_t cmd = KEEL_PCI_CMD_MASTER;
    int rc;

    if (close_window(&w->mem32, &cw->mem32, BR_MEM_GRAN, &base, &limit)) {
        rc = keel_pci_write(h, a, BR_MEM_BASE, 2, (uint32_t)(base >> 16) & 0xfff0u);
        if (rc == KEEL_OK)
            rc = keel_pci_write(h, a, BR_MEM_LIMIT, 2, (uint32_t)(limit >> 16) & 0xfff0u);
        cmd |= KEEL_PCI_CMD_MEM;
    } else {
        rc = keel_pci_write(h, a, BR_MEM_BASE, 2, 0xfff0u); /* base above limit: closed */
        if (rc == KEEL_OK)
            rc = keel_pci_write(h, a, BR_MEM_LIMIT, 2, 0);
    }
    if (rc == KEEL_OK && close_window(&w->io, &cw->io, BR_IO_GRAN, &base, &limit)) {
        rc = keel_pci_write(h, a, BR_IO_BASE, 1, (uint32_t)(base >> 8) & 0xf0u);
        if (rc == KEEL_OK)
            rc = keel_pci_write(h, a, BR_IO_LIMIT, 1, (uint32_t)(limit >> 8) & 0xf0u);
        if (rc == KEEL_OK)
            rc = keel_pci_write(h, a, BR_IO_BASE_UPPER, 4, 0);
        cmd |= KEEL_PCI_CMD_IO;
    } else if (rc == KEEL_OK) {
        rc = keel_pci_write(h, a, BR_IO_BASE, 1, 0xf0u);
        if (rc == KEEL_OK)
            rc = keel_pci_write(h, a, BR_IO_LIMIT, 1, 0);
    }
    /* Everything behind a port-numbered bridge lives in the 32-bit window: prefetchable closed. */
    if (rc == KEEL_OK)
        rc = keel_pci_write(h, a, BR_PREF_BASE, 2, 0xfff0u);
    if (rc == KEEL_OK)
        rc = keel_pci_write(h, a, BR_PREF_LIMIT, 2, 0);
    if (rc == KEEL_OK)
        rc = keel_pci_write(h, a, BR_PREF_BASE_UPPER, 4, 0);
    if (rc == KEEL_OK)
        rc = keel_pci_write(h, a, BR_PREF_LIMIT_UPPER, 4, 0);
    /* Bus master lets the devices behind it reach memory (DMA and MSI writes). */
    return rc == KEEL_OK ? keel_pci_enable(h, a, cmd, 0) : rc;
}

static int assign_fn(struct setup *s, struct keel_pci_fn *f, struct keel_pci_windows *w,
                     unsigned depth);

/*
 * Whether firmware gave the bridge a forwarding window: an open memory, prefetchable or I/O range
 * that does not start at 0 (the reset value 0/0 reads as an open window at address 0).
 */
static bool bridge_has_window(struct setup *s, struct keel_pci_addr a)
{
    uint32_t mb = keel_pci_read16(s->hal, a, BR_MEM_BASE) & 0xfff0u;
    uint32_t ml = keel_pci_read16(s->hal, a, BR_MEM_LIMIT) & 0xfff0u;
    uint32_t pb = keel_pci_read16(s->hal, a, BR_PREF_BASE) & 0xfff0u;
    uint32_t pl = keel_pci_read16(s->hal, a, BR_PREF_LIMIT) & 0xfff0u;
    uint32_t ib = keel_pci_read8(s->hal, a, BR_IO_BASE) & 0xf0u;
    uint32_t il = keel_pci_read8(s->hal, a, BR_IO_LIMIT) & 0xf0u;
    uint32_t pbu = keel_pci_read32(s->hal, a, BR_PREF_BASE_UPPER);

    return (mb != 0u && mb <= ml) || ((pb != 0u || pbu != 0u) && pb <= pl) ||
           (ib != 0u && ib <= il);
}

/*
 * Open a bridge firmware left alone: number it when `sec` is 0 (else keep firmware's numbers, as
 * qboot sets them without opening any window), assign everything behind it from sub-windows of
 * ours, then program its forwarding windows around what was placed.
 */
static int open_bridge(struct setup *s, struct keel_pci_fn *f, struct keel_pci_windows *w,
                       unsigned depth, unsigned sec)
{
    struct keel_pci_windows cw;
    bool number = sec == 0u;
    int rc = KEEL_OK;

    if (number) {
        uint32_t buses;

        sec = s->next_bus;
        if (sec > s->host->bus_last || depth >= MAX_DEPTH) {
            keel_port_printf("pci: bridge %02x:%02x.%x left closed (no bus number or too deep)\n",
                             f->addr.bus, f->addr.dev, f->addr.fn);
            return KEEL_OK;
        }
        s->next_bus++;
        links[s->index][sec] = (struct bus_link){1, f->addr.bus, f->addr.dev};
        /* Subordinate 0xff while scanning below, so every deeper bus is forwarded meanwhile. */
        buses = f->addr.bus | (sec << 8) | (0xffu << 16);
        rc = keel_pci_write(s->hal, f->addr, BR_PRIMARY_BUS, 4,
                            buses |
                                (keel_pci_read32(s->hal, f->addr, BR_PRIMARY_BUS) & 0xff000000u));
    }
    if (rc != KEEL_OK)
        return rc;
    cw.mem32 = sub_window(&w->mem32, BR_MEM_GRAN);
    cw.mem64 = (struct keel_pci_window){0, 0, 0, 0}; /* 64-bit BARs go in the 32-bit window */
    cw.io = sub_window(&w->io, BR_IO_GRAN);
    rc = for_each_fn(s, (uint8_t)sec, assign_fn, &cw, depth + 1u);
    if (rc == KEEL_OK && number)
        rc = keel_pci_write(s->hal, f->addr, BR_SUBORDINATE_BUS, 1, s->next_bus - 1u);
    if (rc == KEEL_OK)
        rc = write_bridge_windows(s, f->addr, w, &cw);
    s->host->bridges_by_port++;
    return rc;
}

/* Pass 2: assign unassigned BARs from the windows and descend into bridges. */
static int assign_fn(struct setup *s, struct keel_pci_fn *f, struct keel_pci_windows *w,
                     unsigned depth)
{
    unsigned nslots = bar_slots(f), before_set, before_unset, after_set, after_unset;
    int rc;

    count_bars(s, f->addr, nslots, NULL, &before_set, &before_unset);
    if (before_unset != 0u) {
        rc = keel_pci_assign_bars(s->hal, f->addr, w);
        if (rc != KEEL_OK)
            keel_port_printf("pci: %02x:%02x.%x: BAR assignment failed (%d)\n", f->addr.bus,
                             f->addr.dev, f->addr.fn, rc);
        count_bars(s, f->addr, nslots, NULL, &after_set, &after_unset);
        s->host->bars_by_port += after_set - before_set;
    }
    if (f->header_type != 1u)
        return KEEL_OK;
    {
        uint8_t sec = keel_pci_read8(s->hal, f->addr, BR_SECONDARY_BUS);
        struct keel_pci_windows none = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};

        if (sec == 0u)
            return open_bridge(s, f, w, depth, 0);
        /* Only descend where the survey did, so a looping topology is walked once. */
        if (!links[s->index][sec].valid || links[s->index][sec].parent_bus != f->addr.bus ||
            links[s->index][sec].dev != f->addr.dev || depth >= MAX_DEPTH)
            return KEEL_OK;
        /* Numbered but without windows (qboot numbers buses and stops there). */
        if (!bridge_has_window(s, f->addr))
            return open_bridge(s, f, w, depth, sec);
        /* Configured by firmware: its windows are firmware's; assign nothing new behind it. */
        return for_each_fn(s, sec, assign_fn, &none, depth + 1u);
    }
    return KEEL_OK;
}

int port_pci_setup(const struct keel_hal *hal, struct keel_port_pci_host *host, unsigned index)
{
    struct setup s = {hal, host, index, host->bus_first + 1u};
    int rc;

    if (index >= KEEL_PORT_MAX_PCI_HOSTS)
        return KEEL_EINVAL;
    host->nfuncs = host->bars_by_firmware = host->bars_by_port = host->bridges_by_port = 0;
    root_bus[index] = host->bus_first;
    rc = for_each_fn(&s, host->bus_first, survey_fn, &host->windows, 0);
    if (rc == KEEL_OK)
        rc = for_each_fn(&s, host->bus_first, assign_fn, &host->windows, 0);
    /* Recount functions: bridges opened in pass 2 revealed new ones. */
    if (rc == KEEL_OK && host->bridges_by_port != 0u) {
        struct keel_pci_windows none = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};
        unsigned fw = host->bars_by_firmware;

        host->nfuncs = 0;
        for (unsigned b = 0; b < 256u; b++)
            links[index][b].valid = 0;
        s.next_bus = host->bus_first + 1u;
        rc = for_each_fn(&s, host->bus_first, survey_fn, &none, 0);
        host->bars_by_firmware = fw;
    }
    return rc;
}

int port_pci_intx_root(unsigned index, uint8_t bus, uint8_t dev, uint8_t pin, uint8_t *root_dev,
                       uint8_t *root_pin)
{
    unsigned hops = 0;

    if (index >= KEEL_PORT_MAX_PCI_HOSTS || pin < 1u || pin > 4u)
        return KEEL_EINVAL;
    while (links[index][bus].valid) {
        const struct bus_link *l = &links[index][bus];

        if (++hops > MAX_DEPTH)
            return KEEL_EINVAL;
        pin = (uint8_t)(((pin - 1u + dev) & 3u) + 1u);
        dev = l->dev;
        bus = l->parent_bus;
    }
    if (bus != root_bus[index])
        return KEEL_EINVAL;
    *root_dev = dev;
    *root_pin = pin;
    return KEEL_OK;
}
