/* SPDX-License-Identifier: MIT */
/*
 * Deliberately bad driver source: a 64-bit division, which 32-bit targets implement with a libgcc
 * or compiler-rt helper. The import check must reject it on armv7m (test
 * freestanding_imports_reject_u64_division).
 */
#include <stdint.h>

uint64_t keel_fs_bad_sectors_per_chunk(uint64_t bytes, uint64_t chunk);

uint64_t keel_fs_bad_sectors_per_chunk(uint64_t bytes, uint64_t chunk)
{
    return bytes / chunk;
}
