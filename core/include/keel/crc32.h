/* SPDX-License-Identifier: MIT */
/* keel/crc32.h - CRC-32 (IEEE 802.3, reflected, as zlib's crc32 and GPT use). Pure; any context. */
#ifndef KEEL_CRC32_H
#define KEEL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/** Continue a CRC: start with crc = 0, feed chunks in order; same result as zlib crc32(). */
uint32_t keel_crc32(uint32_t crc, const void *buf, size_t len);

#endif
