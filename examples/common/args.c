/* SPDX-License-Identifier: MIT */
/* args.c - "key=value" words from the boot command line. */
#include <keel/str.h>

#include "example.h"

/* Length of the word at s (up to a space or the end). */
static size_t word_len(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0' && s[n] != ' ' && s[n] != '\t')
        n++;
    return n;
}

bool ex_arg(const char *cmdline, const char *key, char *buf, size_t size)
{
    size_t klen = keel_strnlen(key, 64);
    const char *s = cmdline;
    bool found = false;

    if (cmdline == NULL || klen == 0u)
        return false;
    while (*s != '\0') {
        size_t n;

        while (*s == ' ' || *s == '\t')
            s++;
        n = word_len(s);
        if (n >= klen && keel_memcmp(s, key, klen) == 0 && (n == klen || s[klen] == '=')) {
            const char *v = n == klen ? s + n : s + klen + 1;
            size_t vlen = n == klen ? 0u : n - klen - 1u, i;

            found = true;
            if (buf != NULL && size > 0u) {
                for (i = 0; i < vlen && i + 1u < size; i++)
                    buf[i] = v[i];
                buf[i] = '\0';
            }
        }
        s += n;
    }
    return found;
}

bool ex_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    unsigned digits = 0;

    if (hex)
        s += 2;
    for (; *s != '\0'; s++, digits++) {
        unsigned d;

        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (hex && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (hex && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (hex) {
            if (v >> 60)
                return false;
            v = (v << 4) | d;
        } else {
            if (v > (UINT64_MAX - d) / 10u)
                return false;
            v = v * 10u + d;
        }
    }
    if (digits == 0u)
        return false;
    *out = v;
    return true;
}

bool ex_arg_u64(const char *cmdline, const char *key, uint64_t *out)
{
    char buf[32];

    return ex_arg(cmdline, key, buf, sizeof(buf)) && ex_parse_u64(buf, out);
}
