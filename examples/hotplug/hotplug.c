/* SPDX-License-Identifier: MIT */
/*
 * hotplug - waits (bounded) for run-time events and reports each one as it arrives: NVMe
 * asynchronous events (SMART / health warnings, notices), virtio-scsi LUNs appearing and going
 * away, and virtio-blk capacity changes. A new or resized disk is read at its last sector to show
 * it is usable at once; a removed one must refuse I/O.
 *
 * Arguments (plus the probe's irq=, ...; see probe.h):
 *   wait=<seconds>   how long to wait for events (default 10)
 *   expect=<list>    comma-separated events that must all arrive: aer, scsi-add, scsi-remove,
 *                    resize; the program ends as soon as they have. Without it, it waits the whole
 *                    time and passes whatever arrived.
 *
 * Output:
 *   hotplug ready devices=<n> irq=<mode> wait=<s>      (the host may start changing things now)
 *   event kind=aer ctrl=<c> type=<t> info=<i> log=0x<lid> critical_warning=0x<cw>
 *         temperature=<K> log_status=<rc>
 *   event kind=resize dev=<n> sectors=<old> new_sectors=<new>
 *   event kind=scsi-add host=<h> target=<t> lun=<l> name=<sdN|->
 *   event kind=scsi-remove host=<h> target=<t> lun=<l> name=<sdN|->
 *   blkdev ... (as blkinfo prints it) for every disk that appeared or changed size
 *   readable dev=<n> lba=<last>                         (its last sector was read back)
 *   hotplug events=<n> missing=<list|->
 */
#include <keel/error.h>
#include <keel/str.h>

#include "example.h"
#include "probe.h"

#define EV_AER         0x1u
#define EV_SCSI_ADD    0x2u
#define EV_SCSI_REMOVE 0x4u
#define EV_RESIZE      0x8u

static struct ex_devices devs;
static uint8_t sector[4096] __attribute__((aligned(64)));
static uint64_t capacity[EX_MAX_VBLK];
static unsigned nvme_seen[EX_MAX_NVME];
#if KEEL_EX_HAVE_VSCSI
static unsigned vscsi_seen[EX_MAX_VSCSI];
#endif
static unsigned seen_mask, events;

static bool parse_expect(const char *cmdline, unsigned *mask)
{
    char list[64], *p = list;

    *mask = 0;
    if (!ex_arg(cmdline, "expect", list, sizeof(list)))
        return true;
    while (*p != '\0') {
        char *e = p;

        while (*e != '\0' && *e != ',')
            e++;
        if (*e == ',')
            *e++ = '\0';
        if (keel_streq(p, "aer"))
            *mask |= EV_AER;
        else if (keel_streq(p, "scsi-add"))
            *mask |= EV_SCSI_ADD;
        else if (keel_streq(p, "scsi-remove"))
            *mask |= EV_SCSI_REMOVE;
        else if (keel_streq(p, "resize"))
            *mask |= EV_RESIZE;
        else if (*p != '\0')
            return EX_CHECK(false, "expect=%s: unknown event (aer, scsi-add, scsi-remove, resize)",
                            p);
        p = e;
    }
    return true;
}

static void print_blkdev(const struct keel_blkdev *b)
{
    keel_port_printf("blkdev name=%s driver=%s sectors=%llu sector_size=%u ro=%d\n", b->info.name,
                     b->info.driver, (unsigned long long)b->info.sector_count, b->info.sector_size,
                     (b->info.flags & KEEL_BLK_F_READ_ONLY) != 0u ? 1 : 0);
}

/* Read the last sector of a disk that just appeared or grew: it must be usable at once. */
static void read_last(struct keel_blkdev *b)
{
    int rc;

    if (b->info.sector_count == 0u || b->info.sector_size > sizeof(sector))
        return;
    rc = keel_blk_read(b, 0, b->info.sector_count - 1u, 1, sector, 0);
    if (EX_CHECK(rc == KEEL_OK, "%s: read of its last sector (%llu) failed: %s", b->info.name,
                 (unsigned long long)(b->info.sector_count - 1u), keel_strerror(rc)))
        keel_port_printf("readable dev=%s lba=%llu\n", b->info.name,
                         (unsigned long long)(b->info.sector_count - 1u));
}

static void check_nvme(void)
{
    unsigned i;

    for (i = 0; i < devs.nnvme; i++) {
        struct ex_nvme *n = &devs.nvme[i];

        while (nvme_seen[i] < n->nevents) {
            const struct keel_nvme_event *ev = &n->events[nvme_seen[i] % 8u];

            keel_port_printf("event kind=aer ctrl=%s type=%u info=%u log=0x%02x "
                             "critical_warning=0x%02x temperature=%u log_status=%d\n",
                             n->name, ev->type, ev->info, ev->log_page, ev->critical_warning,
                             ev->temperature_k, ev->log_status);
            nvme_seen[i]++;
            seen_mask |= EV_AER;
            events++;
        }
    }
}

static void check_resize(void)
{
    unsigned i;

    for (i = 0; i < devs.nvblk; i++) {
        struct keel_blkdev *b = &devs.vblk[i].vb.blk;

        if (!devs.vblk[i].up || b->info.sector_count == capacity[i])
            continue;
        keel_port_printf("event kind=resize dev=%s sectors=%llu new_sectors=%llu\n", b->info.name,
                         (unsigned long long)capacity[i], (unsigned long long)b->info.sector_count);
        capacity[i] = b->info.sector_count;
        print_blkdev(b);
        read_last(b);
        seen_mask |= EV_RESIZE;
        events++;
    }
}

#if KEEL_EX_HAVE_VSCSI
static void scsi_event(struct ex_vscsi *h, const struct ex_vscsi_event *e)
{
    bool add = e->ev == KEEL_VSCSI_EV_ADDED, rm = e->ev == KEEL_VSCSI_EV_REMOVED;
    struct keel_blkdev *b;

    if (!add && !rm) {
        keel_port_printf("event kind=scsi-change host=%s target=%u lun=%u name=%s ev=%u\n", h->name,
                         e->target, e->lun, e->name[0] != '\0' ? e->name : "-", e->ev);
        return;
    }
    keel_port_printf("event kind=%s host=%s target=%u lun=%u name=%s\n",
                     add ? "scsi-add" : "scsi-remove", h->name, e->target, e->lun,
                     e->name[0] != '\0' ? e->name : "-");
    seen_mask |= add ? EV_SCSI_ADD : EV_SCSI_REMOVE;
    events++;
    if (e->name[0] == '\0')
        return;
    b = keel_registry_find(&devs.reg, e->name);
    if (add) {
        if (EX_CHECK(b != NULL, "%s appeared but is not registered", e->name)) {
            print_blkdev(b);
            read_last(b);
        }
    } else {
        EX_CHECK(b == NULL, "%s went away but is still registered", e->name);
    }
}

static void check_scsi(void)
{
    unsigned i;

    for (i = 0; i < devs.nvscsi; i++) {
        struct ex_vscsi *h = &devs.vscsi[i];

        while (vscsi_seen[i] < h->nevents) {
            scsi_event(h, &h->events[vscsi_seen[i] % 16u]);
            vscsi_seen[i]++;
        }
    }
}
#endif

static void print_missing(unsigned missing)
{
    keel_port_printf("hotplug events=%u missing=%s%s%s%s%s\n", events, missing == 0u ? "-" : "",
                     (missing & EV_AER) ? "aer," : "", (missing & EV_SCSI_ADD) ? "scsi-add," : "",
                     (missing & EV_SCSI_REMOVE) ? "scsi-remove," : "",
                     (missing & EV_RESIZE) ? "resize," : "");
}

int main(void)
{
    static struct keel_port port;
    struct ex_probe_opts opts;
    uint64_t wait_s = 10, deadline;
    unsigned want, i, n;
    const struct keel_hal *hal;
    int rc = keel_port_init(&port);

    if (!EX_CHECK(rc == KEEL_OK, "keel_port_init: %s", keel_strerror(rc)))
        return ex_finish();
    ex_print_platform(&port);
    if (!EX_CHECK(ex_probe_opts_parse(port.cmdline, &opts), "bad arguments") ||
        !parse_expect(port.cmdline, &want))
        return ex_finish();
    if (ex_arg(port.cmdline, "wait", NULL, 0) &&
        !EX_CHECK(ex_arg_u64(port.cmdline, "wait", &wait_s) && wait_s <= 600u,
                  "wait= must be 0..600 seconds"))
        return ex_finish();
    hal = &port.hal;
    n = ex_probe(&devs, &port, &opts);
    for (i = 0; (i < n); i++)
        print_blkdev(keel_registry_at(&devs.reg, i));
    ex_print_unserved(&devs);
    for (i = 0; i < devs.nvblk; i++)
        capacity[i] = devs.vblk[i].vb.blk.info.sector_count;
#if KEEL_EX_HAVE_VSCSI
    for (i = 0; i < devs.nvscsi; i++)
        vscsi_seen[i] = devs.vscsi[i].nevents; /* the scan's own additions are not hot-plug */
#endif
    for (i = 0; i < devs.nnvme; i++)
        nvme_seen[i] = devs.nvme[i].nevents;
    keel_port_printf("hotplug ready devices=%u irq=%s wait=%llu\n", n, ex_irq_name(opts.irq),
                     (unsigned long long)wait_s);
    deadline = keel_time_us(hal) + wait_s * 1000000u;
    while (keel_time_us(hal) < deadline && ex_failures() == 0u) {
        ex_service(&devs);
        check_nvme();
        check_resize();
#if KEEL_EX_HAVE_VSCSI
        check_scsi();
#endif
        if (want != 0u && (seen_mask & want) == want)
            break;
        keel_delay_us(hal, 2000);
    }
    print_missing(want & ~seen_mask);
    EX_CHECK((seen_mask & want) == want, "expected events did not all arrive within %llu s",
             (unsigned long long)wait_s);
    return ex_finish();
}
