/* SPDX-License-Identifier: MIT */
/*
 * Deliberately bad driver source: no hosted header, but a call into libc. The import check must
 * reject the library built from it (test freestanding_imports_reject_libc_call).
 */
#include <stddef.h>

size_t strlen(const char *s);
size_t keel_fs_bad_name_length(const char *name);

size_t keel_fs_bad_name_length(const char *name)
{
    return strlen(name);
}
