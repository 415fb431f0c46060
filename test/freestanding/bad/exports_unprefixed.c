/* SPDX-License-Identifier: MIT */
/*
 * Deliberately bad driver source: exports a symbol without the keel_ prefix. The export check must
 * reject the library built from it (test exports_keel_prefix_reject_unprefixed_symbol).
 */
#include <stdint.h>

int block_read(uint64_t lba);

int block_read(uint64_t lba)
{
    return lba > 0xffffffffu ? -1 : 0;
}
