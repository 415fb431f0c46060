/* SPDX-License-Identifier: MIT */
/*
 * keel/endian.h - byte order helpers, correct on big- and little-endian CPUs.
 *
 * Devices define their structures as little-endian (NVMe, virtio 1.x) or big-endian (SCSI CDBs and
 * data). Two families:
 *  - keel_ld_leN, keel_st_leN, keel_ld_beN, keel_st_beN: load/store through a byte pointer at
 *    any alignment. Use them for device-written buffers and packed byte layouts (never cast a
 *    byte buffer to a wider type).
 *  - keel_cpu_to_leN, keel_leN_to_cpu: convert a value for a naturally aligned field in a
 *    struct that mirrors a device layout (NVMe SQE, virtq descriptors).
 * All are pure and usable in any context.
 */
#ifndef KEEL_ENDIAN_H
#define KEEL_ENDIAN_H

#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define KEEL_BIG_ENDIAN 1
#else
#define KEEL_BIG_ENDIAN 0
#endif

static inline uint16_t keel_bswap16(uint16_t v)
{
    return (uint16_t)((v >> 8) | (v << 8));
}
static inline uint32_t keel_bswap32(uint32_t v)
{
    return __builtin_bswap32(v);
}
static inline uint64_t keel_bswap64(uint64_t v)
{
    return __builtin_bswap64(v);
}

#if KEEL_BIG_ENDIAN
static inline uint16_t keel_cpu_to_le16(uint16_t v)
{
    return keel_bswap16(v);
}
static inline uint32_t keel_cpu_to_le32(uint32_t v)
{
    return keel_bswap32(v);
}
static inline uint64_t keel_cpu_to_le64(uint64_t v)
{
    return keel_bswap64(v);
}
static inline uint16_t keel_cpu_to_be16(uint16_t v)
{
    return v;
}
static inline uint32_t keel_cpu_to_be32(uint32_t v)
{
    return v;
}
static inline uint64_t keel_cpu_to_be64(uint64_t v)
{
    return v;
}
#else
static inline uint16_t keel_cpu_to_le16(uint16_t v)
{
    return v;
}
static inline uint32_t keel_cpu_to_le32(uint32_t v)
{
    return v;
}
static inline uint64_t keel_cpu_to_le64(uint64_t v)
{
    return v;
}
static inline uint16_t keel_cpu_to_be16(uint16_t v)
{
    return keel_bswap16(v);
}
static inline uint32_t keel_cpu_to_be32(uint32_t v)
{
    return keel_bswap32(v);
}
static inline uint64_t keel_cpu_to_be64(uint64_t v)
{
    return keel_bswap64(v);
}
#endif
/* Conversions are their own inverses. */
#define keel_le16_to_cpu keel_cpu_to_le16
#define keel_le32_to_cpu keel_cpu_to_le32
#define keel_le64_to_cpu keel_cpu_to_le64
#define keel_be16_to_cpu keel_cpu_to_be16
#define keel_be32_to_cpu keel_cpu_to_be32
#define keel_be64_to_cpu keel_cpu_to_be64

static inline uint16_t keel_ld_le16(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint16_t)(b[0] | (b[1] << 8));
}
static inline uint32_t keel_ld_le32(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static inline uint64_t keel_ld_le64(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint64_t)keel_ld_le32(b) | ((uint64_t)keel_ld_le32(b + 4) << 32);
}
static inline uint16_t keel_ld_be16(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint16_t)((b[0] << 8) | b[1]);
}
static inline uint32_t keel_ld_be32(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}
static inline uint64_t keel_ld_be64(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return ((uint64_t)keel_ld_be32(b) << 32) | (uint64_t)keel_ld_be32(b + 4);
}
static inline void keel_st_le16(void *p, uint16_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}
static inline void keel_st_le32(void *p, uint32_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}
static inline void keel_st_le64(void *p, uint64_t v)
{
    keel_st_le32(p, (uint32_t)v);
    keel_st_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}
static inline void keel_st_be16(void *p, uint16_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}
static inline void keel_st_be32(void *p, uint32_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}
static inline void keel_st_be64(void *p, uint64_t v)
{
    keel_st_be32(p, (uint32_t)(v >> 32));
    keel_st_be32((uint8_t *)p + 4, (uint32_t)v);
}

#endif
