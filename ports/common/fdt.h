/* SPDX-License-Identifier: MIT */
/*
 * fdt.h - a small, bounded flattened device tree reader (Devicetree Specification v0.4, chapter 5).
 * The blob is treated as untrusted input: every offset, length and string is checked against the
 * blob's own bounds before use, walks are bounded in depth and token count, and nothing is written.
 * Nodes are named by the offset of their FDT_BEGIN_NODE token inside the structure block.
 */
#ifndef KEEL_PORT_FDT_H
#define KEEL_PORT_FDT_H

#include <stdbool.h>
#include <stdint.h>

#define FDT_MAGIC     0xd00dfeedu
#define FDT_MAX_DEPTH 16u

struct fdt {
    const uint8_t *blob;
    uint32_t size;       /* totalsize, checked against the caller's limit */
    uint32_t struct_off; /* structure block, relative to blob */
    uint32_t struct_size;
    uint32_t strings_off; /* strings block */
    uint32_t strings_size;
};

/** Check the header of the blob at `blob` (at most `max_size` bytes readable). 0 or KEEL_EBADMSG.
 */
int fdt_init(struct fdt *f, const void *blob, uint32_t max_size);

/**
 * Visit every node in document order: `node`, its `parent` (UINT32_MAX for the root), its depth
 * (root = 0) and its name (unit address included, "" for the root). A non-zero return from `fn`
 * stops the walk and is returned. KEEL_EBADMSG when the structure block is malformed.
 */
typedef int (*fdt_node_fn)(void *arg, const struct fdt *f, uint32_t node, uint32_t parent,
                           unsigned depth, const char *name);
int fdt_walk(const struct fdt *f, fdt_node_fn fn, void *arg);

/** Find property `name` of `node`: its value and length. KEEL_ENOENT, KEEL_EBADMSG. */
int fdt_getprop(const struct fdt *f, uint32_t node, const char *name, const uint8_t **val,
                uint32_t *len);

/** A one-cell property as a number; KEEL_ENOENT when absent, KEEL_EBADMSG when not 4 bytes. */
int fdt_getprop_u32(const struct fdt *f, uint32_t node, const char *name, uint32_t *out);

/** True when the node's "compatible" string list contains `compat`. */
bool fdt_is_compatible(const struct fdt *f, uint32_t node, const char *compat);

/** The node whose "phandle" is `phandle`. KEEL_ENOENT when none. */
int fdt_node_by_phandle(const struct fdt *f, uint32_t phandle, uint32_t *node);

/** The first node at `depth` named `name` (exactly, or up to '@' when name has no '@'). */
int fdt_find_node(const struct fdt *f, unsigned depth, const char *name, uint32_t *node);

/** Big-endian cell readers. `cells` is 1 or 2 for fdt_cells (larger counts keep the low 64 bits).
 */
uint32_t fdt_be32(const uint8_t *p);
uint64_t fdt_cells(const uint8_t *p, unsigned cells);

#endif
