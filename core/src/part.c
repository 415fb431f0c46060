/* SPDX-License-Identifier: MIT */
/* Partition scanning entry point, the shared table rules, and partitions as child block devices. */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/part.h>
#include <keel/str.h>

#include "part_internal.h"

#define MBR_TYPE_GPT_PROTECTIVE 0xeeu
#define MBR_DISK_ID             440u /* 32-bit disk signature, before the four slots */
#define SECTOR_SIZE_MAX         65536u

int keel_part_io_read(struct keel_part_io *io, uint64_t lba)
{
    return keel_blk_read(io->disk, io->queue, lba, 1, io->buf, 0);
}

static uint64_t part_end(const struct keel_part *p)
{
    return p->start_lba + p->sector_count - 1u;
}

bool keel_part_table_add(struct keel_part_table *t, const struct keel_part *p, bool in_container)
{
    unsigned i;

    for (i = 0; i < t->count; i++) {
        const struct keel_part *q = &t->part[i];

        if (in_container && q->extended)
            continue;
        if (p->start_lba <= part_end(q) && q->start_lba <= part_end(p)) {
            t->dropped++;
            return false;
        }
    }
    if (t->count >= KEEL_CONFIG_PART_MAX) {
        t->dropped++;
        return false;
    }
    t->part[t->count++] = *p;
    return true;
}

/*
 * A boot sector with 55AA is not always a partition table: a FAT volume starts with one too. Linux
 * and every firmware check the slots' status bytes, which are boot code in such a sector.
 */
static bool mbr_status_ok(const struct keel_mbr_entry e[4])
{
    unsigned i;

    for (i = 0; i < 4; i++)
        if (e[i].status != 0x00u && e[i].status != 0x80u)
            return false;
    return true;
}

static bool mbr_is_protective(const struct keel_mbr_entry e[4])
{
    unsigned i;

    for (i = 0; i < 4; i++)
        if (e[i].type == MBR_TYPE_GPT_PROTECTIVE)
            return true;
    return false;
}

static unsigned log2_u32(uint32_t v)
{
    unsigned s = 0;
    while ((1u << s) < v)
        s++;
    return s;
}

int keel_part_scan(struct keel_blkdev *disk, unsigned queue, void *scratch, size_t scratch_size,
                   struct keel_part_table *out)
{
    struct keel_mbr_entry e[4];
    struct keel_part_io io;
    uint32_t ss;
    int rc;

    if (disk == NULL || scratch == NULL || out == NULL)
        return KEEL_EINVAL;
    ss = disk->info.sector_size;
    if (ss < 512u || ss > SECTOR_SIZE_MAX || (ss & (ss - 1u)) != 0u || scratch_size < ss)
        return KEEL_EINVAL;
    keel_memset(out, 0, sizeof(*out));
    io = (struct keel_part_io){disk, queue, scratch, ss, log2_u32(ss), disk->info.sector_count};
    if (io.sectors == 0u)
        return KEEL_OK;
    rc = keel_part_io_read(&io, 0);
    if (rc != KEEL_OK)
        return rc;
    if (keel_mbr_parse(io.buf, e) != KEEL_OK || !mbr_status_ok(e))
        return KEEL_OK; /* no table */
    if (mbr_is_protective(e)) {
        out->scheme = KEEL_PART_GPT;
        return keel_part_gpt_scan(&io, out);
    }
    out->scheme = KEEL_PART_MBR;
    out->mbr_disk_id = keel_ld_le32(io.buf + MBR_DISK_ID);
    return keel_part_mbr_scan(&io, e, out);
}

/* Append `c` at position `n` of `out` while it fits (leaving room for the NUL). */
static void put_char(char *out, size_t size, size_t n, char c)
{
    if (n + 1u < size)
        out[n] = c;
}

/* Returns the length the name needs without its NUL; writes what fits, always NUL-terminated. */
static size_t part_name(char *out, size_t size, const char *disk_name, unsigned number)
{
    static const uint32_t pow10[] = {1000000000u, 100000000u, 10000000u, 1000000u, 100000u,
                                     10000u,      1000u,      100u,      10u,      1u};
    size_t n, len = keel_strnlen(disk_name, KEEL_CONFIG_BLK_NAME_MAX);
    bool started = false;
    unsigned i;

    if (size == 0u)
        return 0;
    for (n = 0; n < len; n++)
        put_char(out, size, n, disk_name[n]);
    /* "nvme0n1" + 1 would read as "nvme0n11": Linux inserts a 'p' after a trailing digit. */
    if (len > 0u && disk_name[len - 1u] >= '0' && disk_name[len - 1u] <= '9')
        put_char(out, size, n++, 'p');
    /* Decimal by subtracting powers of ten: the core links without division helpers. */
    for (i = 0; i < sizeof(pow10) / sizeof(pow10[0]); i++) {
        char d = '0';
        while (number >= pow10[i]) {
            number -= pow10[i];
            d++;
        }
        if (d != '0' || started || pow10[i] == 1u) {
            put_char(out, size, n++, d);
            started = true;
        }
    }
    out[n + 1u < size ? n : size - 1u] = '\0';
    return n;
}

void keel_part_name(char *out, size_t size, const char *disk_name, unsigned number)
{
    if (out != NULL && disk_name != NULL)
        (void)part_name(out, size, disk_name, number);
}

static void unregister(struct keel_registry *reg, struct keel_blkdev *children, unsigned n)
{
    while (reg != NULL && n-- > 0u)
        (void)keel_registry_remove(reg, &children[n]);
}

/* Fill `child` as a window of `disk`; the block layer forwards and bounds-checks (ops NULL). */
static int child_init(struct keel_blkdev *disk, const struct keel_part *p,
                      struct keel_blkdev *child)
{
    struct keel_blkdev_info info = disk->info;
    size_t len;

    if (p->sector_count == 0u || p->start_lba >= disk->info.sector_count ||
        p->sector_count > disk->info.sector_count - p->start_lba)
        return KEEL_ERANGE;
    len = part_name(info.name, sizeof(info.name), disk->info.name, p->number);
    if (len >= sizeof(info.name))
        return KEEL_EINVAL; /* a truncated name could clash with another device's */
    info.driver = "part";
    info.sector_count = p->sector_count;
    keel_blkdev_init(child, disk->hal, NULL, NULL, &info);
    child->parent = disk;
    child->start_lba = p->start_lba;
    return KEEL_OK;
}

int keel_part_register(struct keel_blkdev *disk, const struct keel_part_table *t,
                       struct keel_blkdev *children, unsigned nchildren, struct keel_registry *reg)
{
    unsigned i, n = 0;
    int rc;

    if (disk == NULL || t == NULL || (children == NULL && nchildren != 0u) ||
        t->count > KEEL_CONFIG_PART_MAX)
        return KEEL_EINVAL;
    for (i = 0; i < t->count && n < nchildren; i++) {
        if (t->part[i].extended)
            continue; /* a container, not data: writing it would hit the logicals */
        rc = child_init(disk, &t->part[i], &children[n]);
        if (rc == KEEL_OK && reg != NULL)
            rc = keel_registry_add(reg, &children[n]);
        if (rc != KEEL_OK) {
            unregister(reg, children, n);
            return rc;
        }
        n++;
    }
    return (int)n;
}
