/* SPDX-License-Identifier: MIT */
/* Internal to core's partition code: shared by part.c, part_mbr.c and part_gpt.c. */
#ifndef KEEL_PART_INTERNAL_H
#define KEEL_PART_INTERNAL_H

#include <keel/part.h>

/* The disk being scanned and the one-sector buffer every read lands in. */
struct keel_part_io {
    struct keel_blkdev *disk;
    unsigned queue;
    uint8_t *buf;      /* exactly one sector is used */
    uint32_t ss;       /* sector size, a power of two >= 512 */
    unsigned ss_shift; /* log2(ss): sector arithmetic without division */
    uint64_t sectors;  /* disk capacity */
};

/* Read sector `lba` into io->buf (blocking). */
int keel_part_io_read(struct keel_part_io *io, uint64_t lba);

/*
 * Append `p` unless it overlaps a partition already in `t` (an MBR logical, `in_container`, is not
 * compared with extended containers, which hold it by design) or `t` is full; else count it in
 * t->dropped. Returns whether it was kept.
 */
bool keel_part_table_add(struct keel_part_table *t, const struct keel_part *p, bool in_container);

/* Scan an MBR whose LBA 0 slots are `e` (io->buf may be reused). */
int keel_part_mbr_scan(struct keel_part_io *io, const struct keel_mbr_entry e[4],
                       struct keel_part_table *out);

/* Scan a GPT (primary, then backup). 0, KEEL_EBADMSG or an I/O error. */
int keel_part_gpt_scan(struct keel_part_io *io, struct keel_part_table *out);

#endif
