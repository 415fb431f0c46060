/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "part_image.h"

const uint8_t img_guid_linux_fs[16] = {0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
                                       0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4};
const uint8_t img_guid_esp[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                  0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};

uint32_t img_crc32(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t crc = 0xffffffffu;
    size_t i;
    int b;

    for (i = 0; i < len; i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void img_mbr_slot(uint8_t *sector, unsigned slot, uint8_t status, uint8_t type, uint32_t start,
                  uint32_t count)
{
    uint8_t *s = sector + 446 + 16 * slot;

    memset(s, 0, 16);
    s[0] = status;
    s[1] = 0xfe; /* CHS fields: "use LBA" values, ignored by every modern reader */
    s[2] = 0xff;
    s[3] = 0xff;
    s[4] = type;
    s[5] = 0xfe;
    s[6] = 0xff;
    s[7] = 0xff;
    put32(s + 8, start);
    put32(s + 12, count);
}

void img_mbr_sign(uint8_t *sector)
{
    sector[510] = 0x55;
    sector[511] = 0xaa;
}

uint64_t img_gpt_array_sectors(const struct img_gpt *g)
{
    uint64_t bytes = (uint64_t)g->num_entries * g->entry_size;
    return (bytes + g->ss - 1) / g->ss;
}

static void layout(struct img_gpt *g)
{
    uint64_t n = img_gpt_array_sectors(g);

    g->first_usable = 2 + n;
    g->last_usable = g->sectors - 2 - n;
    free(g->array);
    g->array = calloc(g->num_entries, g->entry_size);
}

void img_gpt_init(struct img_gpt *g, uint32_t ss, uint64_t sectors)
{
    memset(g, 0, sizeof(*g));
    g->ss = ss;
    g->sectors = sectors;
    g->num_entries = 128;
    g->entry_size = 128;
    for (int i = 0; i < 16; i++)
        g->disk_guid[i] = (uint8_t)(0xd0 + i);
    layout(g);
}

void img_gpt_resize(struct img_gpt *g, uint32_t num_entries, uint32_t entry_size)
{
    g->num_entries = num_entries;
    g->entry_size = entry_size;
    layout(g);
}

void img_gpt_free(struct img_gpt *g)
{
    free(g->array);
    g->array = NULL;
}

void img_gpt_entry(struct img_gpt *g, unsigned idx, const uint8_t type[16], uint64_t first,
                   uint64_t last, uint64_t attrs, const char *name)
{
    uint8_t *e = g->array + (size_t)idx * g->entry_size;
    size_t i;

    memset(e, 0, g->entry_size);
    memcpy(e, type, 16);
    for (i = 0; i < 16; i++)
        e[16 + i] = (uint8_t)(0x10 * (idx & 0xf) + i + 1);
    put64(e + 32, first);
    put64(e + 40, last);
    put64(e + 48, attrs);
    for (i = 0; name != NULL && name[i] != '\0' && i < 36; i++)
        put16(e + 56 + 2 * i, (uint8_t)name[i]);
}

void img_gpt_entry_name16(struct img_gpt *g, unsigned idx, const uint16_t *units, unsigned n)
{
    uint8_t *e = g->array + (size_t)idx * g->entry_size;

    memset(e + 56, 0, 72);
    for (unsigned i = 0; i < n && i < 36; i++)
        put16(e + 56 + 2 * i, units[i]);
}

static void write_header(const struct img_gpt *g, uint8_t *disk, uint64_t my, uint64_t alt,
                         uint64_t entries_lba, uint32_t array_crc)
{
    uint8_t *h = disk + my * g->ss;

    memset(h, 0, g->ss);
    memcpy(h, "EFI PART", 8);
    put32(h + 8, 0x00010000u);
    put32(h + 12, 92);
    put64(h + 24, my);
    put64(h + 32, alt);
    put64(h + 40, g->first_usable);
    put64(h + 48, g->last_usable);
    memcpy(h + 56, g->disk_guid, 16);
    put64(h + 72, entries_lba);
    put32(h + 80, g->num_entries);
    put32(h + 84, g->entry_size);
    put32(h + 88, array_crc);
    put32(h + 16, img_crc32(h, 92));
}

void img_gpt_write(const struct img_gpt *g, uint8_t *disk)
{
    size_t bytes = (size_t)g->num_entries * g->entry_size;
    uint64_t n = img_gpt_array_sectors(g), last = g->sectors - 1;
    uint32_t crc = img_crc32(g->array, bytes);
    uint64_t pm_count = last > 0xffffffffu ? 0xffffffffu : last;

    memset(disk, 0, g->ss);
    img_mbr_slot(disk, 0, 0, 0xee, 1, (uint32_t)pm_count);
    img_mbr_sign(disk);
    memset(disk + 2 * g->ss, 0, n * g->ss);
    memcpy(disk + 2 * g->ss, g->array, bytes);
    write_header(g, disk, 1, last, 2, crc);
    memset(disk + (last - n) * g->ss, 0, n * g->ss);
    memcpy(disk + (last - n) * g->ss, g->array, bytes);
    write_header(g, disk, last, 1, last - n, crc);
}

void img_gpt_fix_header_crc(uint8_t *disk, uint32_t ss, uint64_t lba)
{
    uint8_t *h = disk + lba * ss;
    uint32_t size =
        (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;

    put32(h + 16, 0);
    if (size > ss)
        size = ss;
    put32(h + 16, img_crc32(h, size));
}

void img_guid_str(const uint8_t g[16], char out[37])
{
    snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", g[3],
             g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
             g[14], g[15]);
}
