/* SPDX-License-Identifier: MIT */
/*
 * Building and corrupting MBR/GPT disk images in memory for partition tests. Independent of the
 * code under test: its own CRC32 and its own byte layout, written from the UEFI and MBR specs.
 */
#ifndef PART_IMAGE_H
#define PART_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC-32/ISO-HDLC, bit by bit (what zlib and GPT use). */
uint32_t img_crc32(const void *buf, size_t len);

/* ---- MBR ---- */
void img_mbr_slot(uint8_t *sector, unsigned slot, uint8_t status, uint8_t type, uint32_t start,
                  uint32_t count);
void img_mbr_sign(uint8_t *sector);

/* ---- GPT ---- */
struct img_gpt {
    uint32_t ss;
    uint64_t sectors;      /* where the backup goes: last LBA = sectors - 1 */
    uint32_t num_entries;  /* default 128 */
    uint32_t entry_size;   /* default 128 */
    uint64_t first_usable; /* defaults from the array size */
    uint64_t last_usable;
    uint8_t disk_guid[16];
    uint8_t *array; /* num_entries * entry_size bytes (malloc'ed by img_gpt_init) */
};

extern const uint8_t img_guid_linux_fs[16]; /* 0FC63DAF-8483-4772-8E79-3D69D8477DE4 */
extern const uint8_t img_guid_esp[16];      /* C12A7328-F81F-11D2-BA4B-00A0C93EC93B */

/* Defaults for a disk of `sectors` sectors of `ss` bytes: 128 entries of 128 bytes. */
void img_gpt_init(struct img_gpt *g, uint32_t ss, uint64_t sectors);
/* Re-layout after changing num_entries/entry_size (reallocates the array, keeps nothing). */
void img_gpt_resize(struct img_gpt *g, uint32_t num_entries, uint32_t entry_size);
void img_gpt_free(struct img_gpt *g);
/* Array sectors for the current layout. */
uint64_t img_gpt_array_sectors(const struct img_gpt *g);
/* Fill entry `idx` (name is ASCII, stored as UTF-16LE). Part GUID is derived from idx. */
void img_gpt_entry(struct img_gpt *g, unsigned idx, const uint8_t type[16], uint64_t first,
                   uint64_t last, uint64_t attrs, const char *name);
/* Store raw UTF-16 code units as the name of entry `idx`. */
void img_gpt_entry_name16(struct img_gpt *g, unsigned idx, const uint16_t *units, unsigned n);
/* Write protective MBR, primary header + array at 1/2, backup array + header at the end. */
void img_gpt_write(const struct img_gpt *g, uint8_t *disk);
/* Recompute the CRC of the header at `lba` after a test edited it. */
void img_gpt_fix_header_crc(uint8_t *disk, uint32_t ss, uint64_t lba);

/* ---- GUID text, as sfdisk prints it ---- */
void img_guid_str(const uint8_t g[16], char out[37]);

#endif
