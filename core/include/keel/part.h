/* SPDX-License-Identifier: MIT */
/*
 * keel/part.h - MBR (with extended partitions) and GPT partition tables, read from any keel_blkdev,
 * and partitions registered as child block devices ("nvme0n1p1") that map and bounds-check LBAs.
 *
 * Everything read from the disk is untrusted: signatures, CRCs, sizes, counts and ranges are
 * checked; entries that fall outside the disk or overlap an earlier entry are dropped (and
 * counted), and an EBR chain is bounded and loop-checked. A corrupt primary GPT falls back to the
 * backup header.
 *
 * Numbering follows Linux and sfdisk: MBR primaries are 1..4 by slot, logical partitions 5, 6, ...
 * in EBR chain order (a dropped logical keeps its number); GPT partitions are the entry index + 1.
 * As sfdisk does, the MBR extended partition itself is listed (extended = true) but never becomes a
 * child device.
 *
 * Thread safety: keel_part_scan performs blocking I/O on `queue`, so it follows that queue's owner
 * rule; the pure parsers are reentrant and usable in any context.
 */
#ifndef KEEL_PART_H
#define KEEL_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/blkdev.h>
#include <keel/registry.h>

#ifdef __cplusplus
extern "C" {
#endif

enum keel_part_scheme {
    KEEL_PART_NONE = 0,
    KEEL_PART_MBR = 1,
    KEEL_PART_GPT = 2,
};

struct keel_part {
    uint16_t number;    /* Linux/sfdisk partition number */
    uint64_t start_lba; /* in the disk's sectors */
    uint64_t sector_count;
    uint8_t mbr_type;      /* MBR system id (0 for GPT) */
    bool bootable;         /* MBR 0x80 flag */
    bool extended;         /* MBR extended partition (a container of logicals, not data) */
    uint8_t type_guid[16]; /* GPT, in on-disk (mixed-endian) byte order */
    uint8_t part_guid[16];
    uint64_t attributes;
    char name[37]; /* GPT name, UTF-16LE reduced to ASCII ('?' for others) */
};

struct keel_part_table {
    enum keel_part_scheme scheme;
    unsigned count;
    struct keel_part part[KEEL_CONFIG_PART_MAX];
    unsigned dropped; /* entries ignored: out of range, overlapping, over the capacity, or an
                         EBR chain longer than KEEL_CONFIG_PART_MAX_LOGICAL */
    bool used_backup; /* GPT: the primary was corrupt and the backup header was used */
    uint32_t mbr_disk_id;
    uint8_t disk_guid[16];
};

/**
 * Read and parse the partition table of `disk` through blocking reads (keel_blk_read) on `queue`.
 * `scratch` is a buffer of at least one sector every read lands in, one sector at a time
 * (DMA-mappable memory as your HAL requires). An MBR whose slots hold a protective (0xEE) entry
 * leads to the GPT; the GPT backup header (at the primary's alternate LBA when the primary header
 * is valid, else the last LBA) is used when the primary header or entry array is corrupt or
 * unreadable (used_backup). Returns 0 with scheme KEEL_PART_NONE when the disk has no table (no
 * 55AA, or status bytes that are not 0x00/0x80: a boot sector, not a table), KEEL_EBADMSG when a
 * table is present but unusable (GPT with both copies corrupt), KEEL_EINVAL when scratch_size is
 * below the sector size, or an I/O error. Thread/init context; follows `queue`'s owner rule.
 */
int keel_part_scan(struct keel_blkdev *disk, unsigned queue, void *scratch, size_t scratch_size,
                   struct keel_part_table *out);

/**
 * Initialise `children[i]` as a block device for each data partition of `t` (at most `nchildren`;
 * extended containers are skipped), named after the disk ("sd0" -> "sd0p1" since the name ends with
 * a digit; "vda" -> "vda1"), and add each to `reg` when it is not NULL. A child has driver "part",
 * no ops (the block layer forwards its requests to `disk`, bounds-checking every level), the disk's
 * sector size, limits, queues and flags, and start_lba/parent set. Returns the number registered,
 * or KEEL_ERANGE (a partition outside the disk), KEEL_EINVAL (a name that does not fit
 * KEEL_CONFIG_BLK_NAME_MAX), or the registry's error; after an error none of this call's children
 * stays in `reg`. Init context; the registry's own locking applies.
 */
int keel_part_register(struct keel_blkdev *disk, const struct keel_part_table *t,
                       struct keel_blkdev *children, unsigned nchildren, struct keel_registry *reg);

/**
 * Build a partition's device name from the disk's name and its number (exposed for tests),
 * truncated to `size` and always NUL-terminated. Pure; any context.
 */
void keel_part_name(char *out, size_t size, const char *disk_name, unsigned number);

/* ---- Pure parsers over sector images (what the fuzzers drive) ------------------------------- */

/** One raw MBR slot. */
struct keel_mbr_entry {
    uint8_t status;
    uint8_t type;
    uint32_t lba_start;
    uint32_t lba_count;
};

/**
 * Parse a 512-byte MBR/EBR sector (the first 512 bytes of a larger sector): KEEL_ENOENT without the
 * 55AA signature, else 0 and the four slots in `e` (not range-checked). Pure; any context.
 */
int keel_mbr_parse(const uint8_t *sector, struct keel_mbr_entry e[4]);

/** A validated GPT header. */
struct keel_gpt_header {
    uint64_t my_lba, alternate_lba;
    uint64_t first_usable, last_usable;
    uint64_t entries_lba;
    uint32_t num_entries, entry_size, entries_crc;
    uint8_t disk_guid[16];
};

/**
 * Validate a GPT header sector read from `lba` of a disk of `disk_sectors` sectors of `sector_size`
 * bytes: signature, revision (major 1), header size (92 .. sector size), header CRC, my_lba ==
 * `lba`, usable range (first >= 2, first <= last < disk_sectors, not covering `lba`), entry size
 * (128 x 2^n, at most one sector), entry count (non-zero, array at most
 * KEEL_CONFIG_PART_GPT_MAX_ARRAY_BYTES), entry array placement (on the disk, clear of `lba` and of
 * the usable range). alternate_lba is returned, not checked. 0, KEEL_EBADMSG, or KEEL_EINVAL for
 * bad arguments. Pure; any context.
 */
int keel_gpt_parse_header(const uint8_t *sector, uint32_t sector_size, uint64_t lba,
                          uint64_t disk_sectors, struct keel_gpt_header *out);

#ifdef __cplusplus
}
#endif

#endif
