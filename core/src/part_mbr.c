/* SPDX-License-Identifier: MIT */
/*
 * MBR partition tables: four primary slots, and an extended partition holding a chain of EBRs
 * (extended boot records), each describing one logical partition and linking to the next.
 *
 * Layout as Linux (block/partitions/msdos.c) and util-linux read it: a logical's start is relative
 * to its own EBR; the link to the next EBR is relative to the start of the extended partition.
 * Logicals are numbered 5, 6, ... in chain order.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/part.h>
#include <keel/str.h>

#include "part_internal.h"

#define MBR_SLOTS         446u /* first of the four 16-byte slots */
#define MBR_SLOT_SIZE     16u
#define MBR_SIG           510u /* 0x55, 0xaa */
#define MBR_FIRST_LOGICAL 5u

int keel_mbr_parse(const uint8_t *sector, struct keel_mbr_entry e[4])
{
    unsigned i;

    if (sector == NULL || e == NULL)
        return KEEL_EINVAL;
    if (sector[MBR_SIG] != 0x55u || sector[MBR_SIG + 1u] != 0xaau)
        return KEEL_ENOENT;
    for (i = 0; i < 4; i++) {
        const uint8_t *s = sector + MBR_SLOTS + (size_t)i * MBR_SLOT_SIZE;

        e[i].status = s[0];
        e[i].type = s[4];
        e[i].lba_start = keel_ld_le32(s + 8);
        e[i].lba_count = keel_ld_le32(s + 12);
    }
    return KEEL_OK;
}

/* DOS (0x05), Windows LBA (0x0f) and Linux (0x85) extended partitions. */
static bool is_extended(uint8_t type)
{
    return type == 0x05u || type == 0x0fu || type == 0x85u;
}

static bool slot_used(const struct keel_mbr_entry *e)
{
    return e->type != 0u && e->lba_count != 0u;
}

static void fill(struct keel_part *p, unsigned number, uint64_t start,
                 const struct keel_mbr_entry *e)
{
    keel_memset(p, 0, sizeof(*p));
    p->number = (uint16_t)number;
    p->start_lba = start;
    p->sector_count = e->lba_count;
    p->mbr_type = e->type;
    p->bootable = (e->status & 0x80u) != 0u;
    p->extended = is_extended(e->type);
}

/* Primaries: slot i is partition i + 1. Returns the index in `t` of the kept extended, or -1. */
static int add_primaries(const struct keel_part_io *io, const struct keel_mbr_entry e[4],
                         struct keel_part_table *t)
{
    int ext = -1;
    unsigned i;

    for (i = 0; i < 4; i++) {
        struct keel_part p;

        if (!slot_used(&e[i]))
            continue;
        /* Sector 0 is the MBR itself; the end must lie on the disk (32-bit fields: no overflow). */
        if (e[i].lba_start == 0u || (uint64_t)e[i].lba_start + e[i].lba_count > io->sectors) {
            t->dropped++;
            continue;
        }
        fill(&p, i + 1u, e[i].lba_start, &e[i]);
        if (keel_part_table_add(t, &p, false) && p.extended && ext < 0)
            ext = (int)t->count - 1; /* only the first extended is followed, as util-linux does */
    }
    return ext;
}

/* Add the logical an EBR's data slot describes; count it dropped when it does not fit. */
static void add_logical(const struct keel_part_io *io, const struct keel_mbr_entry *d, uint64_t ebr,
                        uint64_t ext_end, unsigned number, struct keel_part_table *t)
{
    uint64_t start = ebr + d->lba_start;
    struct keel_part p;

    /* Relative start 0 would be the EBR itself; the logical must stay inside its container. */
    if (d->lba_start == 0u || start > ext_end || d->lba_count - 1u > ext_end - start ||
        start + d->lba_count > io->sectors) {
        t->dropped++;
        return;
    }
    fill(&p, number, start, d);
    (void)keel_part_table_add(t, &p, true);
}

static bool seen_before(const uint64_t *seen, unsigned n, uint64_t lba)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (seen[i] == lba)
            return true;
    return false;
}

/* The first slot matching `want_ext` (data or link) that is in use, or NULL. */
static const struct keel_mbr_entry *ebr_slot(const struct keel_mbr_entry e[4], bool want_ext)
{
    unsigned i;

    for (i = 0; i < 4; i++)
        if (slot_used(&e[i]) && is_extended(e[i].type) == want_ext)
            return &e[i];
    return NULL;
}

/*
 * Follow the EBR chain of the extended partition `ext`. The chain is the disk's to describe, so
 * every link is checked: it must stay inside the extended partition, may not revisit an EBR
 * (a loop), and at most KEEL_CONFIG_PART_MAX_LOGICAL EBRs are read.
 */
static int walk_ebrs(struct keel_part_io *io, struct keel_part ext, struct keel_part_table *t)
{
    uint64_t seen[KEEL_CONFIG_PART_MAX_LOGICAL];
    uint64_t ebr = ext.start_lba, ext_end = ext.start_lba + ext.sector_count - 1u;
    unsigned n, number = MBR_FIRST_LOGICAL;

    for (n = 0; n < KEEL_CONFIG_PART_MAX_LOGICAL; n++) {
        struct keel_mbr_entry e[4];
        const struct keel_mbr_entry *data, *link;
        int rc;

        if (ebr < ext.start_lba || ebr > ext_end || seen_before(seen, n, ebr))
            return KEEL_OK; /* out of the container, or a loop: the chain ends here */
        seen[n] = ebr;
        rc = keel_part_io_read(io, ebr);
        if (rc != KEEL_OK)
            return rc;
        if (keel_mbr_parse(io->buf, e) != KEEL_OK)
            return KEEL_OK;
        data = ebr_slot(e, false);
        if (data != NULL)
            add_logical(io, data, ebr, ext_end, number++, t);
        link = ebr_slot(e, true);
        if (link == NULL)
            return KEEL_OK;
        ebr = ext.start_lba + link->lba_start;
    }
    t->dropped++; /* the chain goes on past the bound: at least one logical is not listed */
    return KEEL_OK;
}

int keel_part_mbr_scan(struct keel_part_io *io, const struct keel_mbr_entry e[4],
                       struct keel_part_table *out)
{
    int ext = add_primaries(io, e, out);

    if (ext < 0)
        return KEEL_OK;
    return walk_ebrs(io, out->part[ext], out);
}
