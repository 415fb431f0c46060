/* SPDX-License-Identifier: MIT */
/* fdt.c - bounded flattened device tree reader. */
#include <stddef.h>

#include <keel/error.h>

#include "fdt.h"

#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE   2u
#define FDT_PROP       3u
#define FDT_NOP        4u
#define FDT_END        9u

#define FDT_HDR_SIZE    40u
#define FDT_MIN_VERSION 16u
#define FDT_MAX_TOKENS  200000u /* bounds a walk over a hostile blob */

uint32_t fdt_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t fdt_cells(const uint8_t *p, unsigned cells)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < cells; i++)
        v = (v << 32) | fdt_be32(p + 4u * i);
    return v;
}

/* [off, off+len) lies inside a block of `size` bytes. */
static bool in_block(uint32_t off, uint32_t len, uint32_t size)
{
    return off <= size && len <= size - off;
}

int fdt_init(struct fdt *f, const void *blob, uint32_t max_size)
{
    const uint8_t *b = blob;
    uint32_t total;

    if (b == NULL || max_size < FDT_HDR_SIZE || fdt_be32(b) != FDT_MAGIC)
        return KEEL_EBADMSG;
    total = fdt_be32(b + 4);
    if (total < FDT_HDR_SIZE || total > max_size || fdt_be32(b + 20) < FDT_MIN_VERSION)
        return KEEL_EBADMSG;
    f->blob = b;
    f->size = total;
    f->struct_off = fdt_be32(b + 8);
    f->strings_off = fdt_be32(b + 12);
    f->strings_size = fdt_be32(b + 32);
    f->struct_size = fdt_be32(b + 36);
    if ((f->struct_off & 3u) != 0u || !in_block(f->struct_off, f->struct_size, total) ||
        !in_block(f->strings_off, f->strings_size, total))
        return KEEL_EBADMSG;
    return KEEL_OK;
}

/* Token at structure offset `off`, or FDT_END when it would run past the block. */
static uint32_t token_at(const struct fdt *f, uint32_t off)
{
    if ((off & 3u) != 0u || !in_block(off, 4, f->struct_size))
        return FDT_END;
    return fdt_be32(f->blob + f->struct_off + off);
}

/* Length of a NUL-terminated string at blob offset `off` within `limit` bytes, or -1. */
static int32_t bounded_strlen(const struct fdt *f, uint32_t off, uint32_t limit)
{
    uint32_t n;

    for (n = 0; n < limit && n < 0x10000u; n++)
        if (f->blob[off + n] == '\0')
            return (int32_t)n;
    return -1;
}

/* Skip a BEGIN_NODE token at `off`: *name gets the node name, returns the next token offset or 0.
 */
static uint32_t skip_begin(const struct fdt *f, uint32_t off, const char **name)
{
    uint32_t start = off + 4u;
    int32_t n;

    if (!in_block(start, 1, f->struct_size))
        return 0;
    n = bounded_strlen(f, f->struct_off + start, f->struct_size - start);
    if (n < 0)
        return 0;
    *name = (const char *)(f->blob + f->struct_off + start);
    return (start + (uint32_t)n + 1u + 3u) & ~3u;
}

/* Skip a PROP token at `off`: fills value/len/nameoff, returns the next token offset or 0. */
static uint32_t skip_prop(const struct fdt *f, uint32_t off, const uint8_t **val, uint32_t *len,
                          uint32_t *nameoff)
{
    uint32_t end;

    if (!in_block(off, 12, f->struct_size))
        return 0;
    *len = fdt_be32(f->blob + f->struct_off + off + 4u);
    *nameoff = fdt_be32(f->blob + f->struct_off + off + 8u);
    if (!in_block(off + 12u, *len, f->struct_size))
        return 0;
    *val = f->blob + f->struct_off + off + 12u;
    end = off + 12u + *len;
    return (end + 3u) & ~3u;
}

int fdt_walk(const struct fdt *f, fdt_node_fn fn, void *arg)
{
    uint32_t stack[FDT_MAX_DEPTH];
    uint32_t off = 0, tokens = 0;
    unsigned depth = 0;

    for (;;) {
        uint32_t tok = token_at(f, off), next;
        const uint8_t *val;
        uint32_t len, nameoff;
        const char *name;
        int rc;

        if (++tokens > FDT_MAX_TOKENS)
            return KEEL_EBADMSG;
        switch (tok) {
        case FDT_BEGIN_NODE:
            next = skip_begin(f, off, &name);
            if (next == 0u || depth >= FDT_MAX_DEPTH)
                return KEEL_EBADMSG;
            rc = fn(arg, f, off, depth > 0u ? stack[depth - 1u] : UINT32_MAX, depth, name);
            if (rc != 0)
                return rc;
            stack[depth++] = off;
            break;
        case FDT_END_NODE:
            if (depth == 0u)
                return KEEL_EBADMSG;
            depth--;
            next = off + 4u;
            if (depth == 0u)
                return KEEL_OK; /* the root closed: the rest is FDT_END */
            break;
        case FDT_PROP:
            next = skip_prop(f, off, &val, &len, &nameoff);
            if (next == 0u || depth == 0u)
                return KEEL_EBADMSG;
            break;
        case FDT_NOP:
            next = off + 4u;
            break;
        default: /* FDT_END before the root closed, or garbage */
            return KEEL_EBADMSG;
        }
        off = next;
    }
}

/* Compare property name at strings offset `nameoff` with `name`, bounded by the strings block. */
static bool name_is(const struct fdt *f, uint32_t nameoff, const char *name)
{
    uint32_t i;

    for (i = 0; nameoff < f->strings_size && i < f->strings_size - nameoff; i++) {
        char c = (char)f->blob[f->strings_off + nameoff + i];
        if (c != name[i])
            return false;
        if (c == '\0')
            return true;
    }
    return false;
}

int fdt_getprop(const struct fdt *f, uint32_t node, const char *name, const uint8_t **val,
                uint32_t *len)
{
    const char *nname;
    uint32_t off, tokens = 0;

    if (token_at(f, node) != FDT_BEGIN_NODE)
        return KEEL_EBADMSG;
    off = skip_begin(f, node, &nname);
    if (off == 0u)
        return KEEL_EBADMSG;
    /* Properties come before the first child node (spec 5.4.1). */
    for (;;) {
        uint32_t tok = token_at(f, off), nameoff, next;
        const uint8_t *v;
        uint32_t l;

        if (++tokens > FDT_MAX_TOKENS)
            return KEEL_EBADMSG;
        if (tok == FDT_NOP) {
            off += 4u;
            continue;
        }
        if (tok != FDT_PROP)
            return KEEL_ENOENT;
        next = skip_prop(f, off, &v, &l, &nameoff);
        if (next == 0u)
            return KEEL_EBADMSG;
        if (name_is(f, nameoff, name)) {
            *val = v;
            *len = l;
            return KEEL_OK;
        }
        off = next;
    }
}

int fdt_getprop_u32(const struct fdt *f, uint32_t node, const char *name, uint32_t *out)
{
    const uint8_t *v;
    uint32_t len;
    int rc = fdt_getprop(f, node, name, &v, &len);

    if (rc != KEEL_OK)
        return rc;
    if (len != 4u)
        return KEEL_EBADMSG;
    *out = fdt_be32(v);
    return KEEL_OK;
}

bool fdt_is_compatible(const struct fdt *f, uint32_t node, const char *compat)
{
    const uint8_t *v;
    uint32_t len, i = 0;

    if (fdt_getprop(f, node, "compatible", &v, &len) != KEEL_OK)
        return false;
    /* A list of NUL-terminated strings; the last one must end inside the value. */
    while (i < len) {
        uint32_t j = 0;
        while (i + j < len && v[i + j] != '\0' && compat[j] != '\0' && v[i + j] == compat[j])
            j++;
        if (i + j < len && v[i + j] == '\0' && compat[j] == '\0')
            return true;
        while (i < len && v[i] != '\0')
            i++;
        i++;
    }
    return false;
}

struct find_ctx {
    uint32_t phandle;
    unsigned depth;
    const char *name;
    uint32_t found;
};

static int match_phandle(void *arg, const struct fdt *f, uint32_t node, uint32_t parent,
                         unsigned depth, const char *name)
{
    struct find_ctx *c = arg;
    uint32_t ph;

    (void)parent;
    (void)depth;
    (void)name;
    if (fdt_getprop_u32(f, node, "phandle", &ph) == KEEL_OK && ph == c->phandle) {
        c->found = node;
        return 1;
    }
    return 0;
}

int fdt_node_by_phandle(const struct fdt *f, uint32_t phandle, uint32_t *node)
{
    struct find_ctx c = {phandle, 0, NULL, 0};

    if (fdt_walk(f, match_phandle, &c) != 1)
        return KEEL_ENOENT;
    *node = c.found;
    return KEEL_OK;
}

/* "name" matches "name" and, when `want` has no unit address, "name@unit". */
static bool node_name_is(const char *have, const char *want)
{
    while (*want != '\0' && *have == *want) {
        have++;
        want++;
    }
    return *want == '\0' && (*have == '\0' || *have == '@');
}

static int match_name(void *arg, const struct fdt *f, uint32_t node, uint32_t parent,
                      unsigned depth, const char *name)
{
    struct find_ctx *c = arg;

    (void)f;
    (void)parent;
    if (depth == c->depth && node_name_is(name, c->name)) {
        c->found = node;
        return 1;
    }
    return 0;
}

int fdt_find_node(const struct fdt *f, unsigned depth, const char *name, uint32_t *node)
{
    struct find_ctx c = {0, depth, name, 0};

    if (fdt_walk(f, match_name, &c) != 1)
        return KEEL_ENOENT;
    *node = c.found;
    return KEEL_OK;
}
