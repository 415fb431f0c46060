/* SPDX-License-Identifier: MIT */
/*
 * GUID Partition Tables (UEFI 2.10, 5.3): header and entry array, both CRC32-protected, with a
 * backup copy at the end of the disk that is used when the primary is corrupt (5.3.2).
 */
#include <keel/crc32.h>
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/part.h>
#include <keel/str.h>

#include "part_internal.h"

/* GPT header fields (5.3.2, table 5.5). */
#define GPT_SIGNATURE         0x5452415020494645ull /* "EFI PART" */
#define GPT_HDR_SIGNATURE     0u
#define GPT_HDR_REVISION      8u
#define GPT_HDR_SIZE          12u
#define GPT_HDR_CRC           16u
#define GPT_HDR_MY_LBA        24u
#define GPT_HDR_ALTERNATE_LBA 32u
#define GPT_HDR_FIRST_USABLE  40u
#define GPT_HDR_LAST_USABLE   48u
#define GPT_HDR_DISK_GUID     56u
#define GPT_HDR_ENTRIES_LBA   72u
#define GPT_HDR_NUM_ENTRIES   80u
#define GPT_HDR_ENTRY_SIZE    84u
#define GPT_HDR_ENTRIES_CRC   88u
#define GPT_HDR_MIN_SIZE      92u
#define GPT_REVISION_MAJOR    1u /* revision 1.0 = 0x00010000; minor revisions stay compatible */

/* GPT partition entry fields (5.3.3, table 5.6). */
#define GPT_ENT_TYPE       0u
#define GPT_ENT_GUID       16u
#define GPT_ENT_FIRST      32u
#define GPT_ENT_LAST       40u
#define GPT_ENT_ATTRS      48u
#define GPT_ENT_NAME       56u
#define GPT_ENT_NAME_UNITS 36u /* UTF-16LE code units */
#define GPT_ENT_MIN_SIZE   128u

static bool is_pow2(uint32_t v)
{
    return v != 0u && (v & (v - 1u)) == 0u;
}

static unsigned log2_u32(uint32_t v)
{
    unsigned s = 0;
    while ((1u << s) < v)
        s++;
    return s;
}

/* CRC32 of the header with its own CRC field taken as zero, without writing the sector. */
static uint32_t header_crc(const uint8_t *sector, uint32_t size)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    uint32_t crc = keel_crc32(0, sector, GPT_HDR_CRC);

    crc = keel_crc32(crc, zero, sizeof(zero));
    return keel_crc32(crc, sector + GPT_HDR_CRC + 4u, size - GPT_HDR_CRC - 4u);
}

/* Does [a, a + an) intersect [b, b + bn)? (ends computed without overflow by the callers' checks)
 */
static bool ranges_meet(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return a < b + bn && b < a + an;
}

/* The entry array: sane entry size and count, on the disk, clear of the headers and usable area. */
static bool entries_ok(const struct keel_gpt_header *h, uint32_t ss, uint64_t lba,
                       uint64_t disk_sectors)
{
    uint64_t bytes = (uint64_t)h->num_entries * h->entry_size, n;

    /* 128 x 2^n bytes (5.3.2); Keel also wants whole entries per sector (sector-by-sector CRC). */
    if (!is_pow2(h->entry_size) || h->entry_size < GPT_ENT_MIN_SIZE || h->entry_size > ss)
        return false;
    if (h->num_entries == 0u || bytes > KEEL_CONFIG_PART_GPT_MAX_ARRAY_BYTES)
        return false;
    n = (bytes + ss - 1u) >> log2_u32(ss);
    if (h->entries_lba < 1u || h->entries_lba >= disk_sectors || n > disk_sectors - h->entries_lba)
        return false;
    if (ranges_meet(h->entries_lba, n, lba, 1u))
        return false;
    return !ranges_meet(h->entries_lba, n, h->first_usable, h->last_usable - h->first_usable + 1u);
}

static void header_fields(const uint8_t *s, struct keel_gpt_header *h)
{
    h->my_lba = keel_ld_le64(s + GPT_HDR_MY_LBA);
    h->alternate_lba = keel_ld_le64(s + GPT_HDR_ALTERNATE_LBA);
    h->first_usable = keel_ld_le64(s + GPT_HDR_FIRST_USABLE);
    h->last_usable = keel_ld_le64(s + GPT_HDR_LAST_USABLE);
    h->entries_lba = keel_ld_le64(s + GPT_HDR_ENTRIES_LBA);
    h->num_entries = keel_ld_le32(s + GPT_HDR_NUM_ENTRIES);
    h->entry_size = keel_ld_le32(s + GPT_HDR_ENTRY_SIZE);
    h->entries_crc = keel_ld_le32(s + GPT_HDR_ENTRIES_CRC);
    keel_memcpy(h->disk_guid, s + GPT_HDR_DISK_GUID, 16);
}

int keel_gpt_parse_header(const uint8_t *sector, uint32_t sector_size, uint64_t lba,
                          uint64_t disk_sectors, struct keel_gpt_header *out)
{
    struct keel_gpt_header h;
    uint32_t hsize;

    if (sector == NULL || out == NULL || sector_size < 512u || !is_pow2(sector_size))
        return KEEL_EINVAL;
    if (keel_ld_le64(sector + GPT_HDR_SIGNATURE) != GPT_SIGNATURE ||
        keel_ld_le32(sector + GPT_HDR_REVISION) >> 16 != GPT_REVISION_MAJOR)
        return KEEL_EBADMSG;
    hsize = keel_ld_le32(sector + GPT_HDR_SIZE);
    if (hsize < GPT_HDR_MIN_SIZE || hsize > sector_size ||
        header_crc(sector, hsize) != keel_ld_le32(sector + GPT_HDR_CRC))
        return KEEL_EBADMSG;
    header_fields(sector, &h);
    /* A header only describes the disk it was found at: its own LBA and a usable range on it. */
    if (h.my_lba != lba || lba < 1u || lba >= disk_sectors)
        return KEEL_EBADMSG;
    if (h.first_usable < 2u || h.first_usable > h.last_usable || h.last_usable >= disk_sectors)
        return KEEL_EBADMSG;
    if (lba >= h.first_usable && lba <= h.last_usable)
        return KEEL_EBADMSG;
    if (!entries_ok(&h, sector_size, lba, disk_sectors))
        return KEEL_EBADMSG;
    *out = h;
    return KEEL_OK;
}

/* UTF-16LE to ASCII: other characters (a surrogate pair counts as one) become '?'. */
static void gpt_name(char out[GPT_ENT_NAME_UNITS + 1u], const uint8_t *raw)
{
    bool after_high = false;
    unsigned i, n = 0;

    for (i = 0; i < GPT_ENT_NAME_UNITS; i++) {
        uint16_t c = keel_ld_le16(raw + (size_t)i * 2u);

        if (c == 0u)
            break;
        if (after_high && c >= 0xdc00u && c <= 0xdfffu) {
            after_high = false;
            continue; /* the low half of a pair already printed as '?' */
        }
        after_high = c >= 0xd800u && c <= 0xdbffu;
        out[n++] = (char)((c >= 0x20u && c < 0x7fu) ? c : '?');
    }
    out[n] = '\0';
}

static bool guid_is_zero(const uint8_t *g)
{
    unsigned i;

    for (i = 0; i < 16u; i++)
        if (g[i] != 0u)
            return false;
    return true;
}

/* One entry of the array: unused (zero type) entries are skipped, bad ranges dropped. */
static void gpt_entry(const struct keel_gpt_header *h, const uint8_t *e, uint32_t idx,
                      struct keel_part_table *t)
{
    uint64_t first = keel_ld_le64(e + GPT_ENT_FIRST), last = keel_ld_le64(e + GPT_ENT_LAST);
    struct keel_part p;

    if (guid_is_zero(e + GPT_ENT_TYPE))
        return;
    if (first > last || first < h->first_usable || last > h->last_usable || idx >= UINT16_MAX) {
        t->dropped++;
        return;
    }
    keel_memset(&p, 0, sizeof(p));
    p.number = (uint16_t)(idx + 1u);
    p.start_lba = first;
    p.sector_count = last - first + 1u;
    keel_memcpy(p.type_guid, e + GPT_ENT_TYPE, 16);
    keel_memcpy(p.part_guid, e + GPT_ENT_GUID, 16);
    p.attributes = keel_ld_le64(e + GPT_ENT_ATTRS);
    gpt_name(p.name, e + GPT_ENT_NAME);
    (void)keel_part_table_add(t, &p, false);
}

static void table_reset(struct keel_part_table *t)
{
    keel_memset(t->part, 0, sizeof(t->part));
    t->count = 0;
    t->dropped = 0;
}

/*
 * Read the entry array one sector at a time into the caller's one-sector buffer, computing the
 * array CRC over exactly num_entries * entry_size bytes and parsing entries as they pass. The
 * table is only kept when the CRC matches.
 */
static int gpt_entries(struct keel_part_io *io, const struct keel_gpt_header *h,
                       struct keel_part_table *t)
{
    uint64_t left = (uint64_t)h->num_entries * h->entry_size, lba = h->entries_lba;
    uint32_t crc = 0, idx = 0;

    table_reset(t);
    while (left > 0u) {
        uint32_t chunk = left < io->ss ? (uint32_t)left : io->ss, off;
        int rc = keel_part_io_read(io, lba++);

        if (rc != KEEL_OK) {
            table_reset(t);
            return rc;
        }
        crc = keel_crc32(crc, io->buf, chunk);
        for (off = 0; off < chunk; off += h->entry_size)
            gpt_entry(h, io->buf + off, idx++, t);
        left -= chunk;
    }
    if (crc != h->entries_crc) {
        table_reset(t);
        return KEEL_EBADMSG;
    }
    return KEEL_OK;
}

/* Try the header at `lba` and its entry array. *hdr_ok tells whether the header itself was valid.
 */
static int gpt_try(struct keel_part_io *io, uint64_t lba, struct keel_gpt_header *h, bool *hdr_ok,
                   struct keel_part_table *t)
{
    int rc = keel_part_io_read(io, lba);

    *hdr_ok = false;
    if (rc != KEEL_OK)
        return rc;
    rc = keel_gpt_parse_header(io->buf, io->ss, lba, io->sectors, h);
    if (rc != KEEL_OK)
        return rc;
    *hdr_ok = true;
    rc = gpt_entries(io, h, t);
    if (rc == KEEL_OK)
        keel_memcpy(t->disk_guid, h->disk_guid, 16);
    return rc;
}

/* A media error on one copy is a reason to try the other; a dead device or timeout is not. */
static bool try_other_copy(int rc)
{
    return rc == KEEL_EBADMSG || rc == KEEL_EIO;
}

int keel_part_gpt_scan(struct keel_part_io *io, struct keel_part_table *out)
{
    uint64_t last = io->sectors - 1u, alt = last;
    struct keel_gpt_header h;
    bool hdr_ok;
    int rc;

    if (io->sectors < 3u)
        return KEEL_EBADMSG; /* no room for a protective MBR, a header and an entry array */
    rc = gpt_try(io, 1, &h, &hdr_ok, out);
    if (!try_other_copy(rc))
        return rc;
    /* The primary's pointer to its backup is only trusted when the primary header was valid. */
    if (hdr_ok && h.alternate_lba > 1u && h.alternate_lba < io->sectors)
        alt = h.alternate_lba;
    rc = gpt_try(io, alt, &h, &hdr_ok, out);
    if (try_other_copy(rc) && alt != last)
        rc = gpt_try(io, last, &h, &hdr_ok, out);
    if (rc == KEEL_OK)
        out->used_backup = true;
    return rc;
}
