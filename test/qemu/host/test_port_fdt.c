/* SPDX-License-Identifier: MIT */
/*
 * Host tests of the ports' device tree reader (ports/common/fdt.c): it reads what the AArch64 port
 * boots from, so it must find what a well-formed tree says and must never read outside a
 * malformed one (ASan watches every access: each blob lives in an exactly sized heap copy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <keel/error.h>

#include "fdt.h"

/* ---- A tiny FDT writer: enough to build the trees the tests need. ---- */

struct builder {
    uint8_t st[4096];
    uint32_t st_len;
    char strings[512];
    uint32_t str_len;
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void tok(struct builder *b, uint32_t v)
{
    put32(b->st + b->st_len, v);
    b->st_len += 4;
}

static void begin(struct builder *b, const char *name)
{
    size_t n = strlen(name) + 1;
    tok(b, 1);
    memcpy(b->st + b->st_len, name, n);
    b->st_len += (uint32_t)((n + 3) & ~(size_t)3);
}

static void end(struct builder *b)
{
    tok(b, 2);
}

static uint32_t str_off(struct builder *b, const char *name)
{
    uint32_t off = 0;
    while (off < b->str_len) {
        if (strcmp(b->strings + off, name) == 0)
            return off;
        off += (uint32_t)strlen(b->strings + off) + 1;
    }
    memcpy(b->strings + b->str_len, name, strlen(name) + 1);
    b->str_len += (uint32_t)strlen(name) + 1;
    return off;
}

static void prop(struct builder *b, const char *name, const void *val, uint32_t len)
{
    tok(b, 3);
    tok(b, len);
    tok(b, str_off(b, name));
    memcpy(b->st + b->st_len, val, len);
    b->st_len += (len + 3) & ~3u;
}

static void prop_u32(struct builder *b, const char *name, uint32_t v)
{
    uint8_t be[4];
    put32(be, v);
    prop(b, name, be, 4);
}

/* Header + structure + strings in one exactly sized heap block. */
static uint8_t *finish(struct builder *b, uint32_t *size)
{
    uint32_t st_off = 40, str_off_ = st_off + b->st_len + 4, total = str_off_ + b->str_len;
    uint8_t *blob = calloc(1, total);

    tok(b, 9); /* FDT_END */
    memcpy(blob + st_off, b->st, b->st_len);
    memcpy(blob + str_off_, b->strings, b->str_len);
    put32(blob + 0, FDT_MAGIC);
    put32(blob + 4, total);
    put32(blob + 8, st_off);
    put32(blob + 12, str_off_);
    put32(blob + 16, 0);
    put32(blob + 20, 17);
    put32(blob + 24, 16);
    put32(blob + 28, 0);
    put32(blob + 32, b->str_len);
    put32(blob + 36, b->st_len);
    *size = total;
    return blob;
}

/* The shape of QEMU's virt tree that the port reads. */
static uint8_t *virt_like(uint32_t *size)
{
    static struct builder b;
    uint8_t reg[16];

    memset(&b, 0, sizeof(b));
    begin(&b, "");
    prop_u32(&b, "#address-cells", 2);
    prop_u32(&b, "#size-cells", 2);
    begin(&b, "chosen");
    prop(&b, "bootargs", "dev=nvme0n1", 12);
    end(&b);
    begin(&b, "memory@40000000");
    prop(&b, "device_type", "memory", 7);
    put32(reg, 0);
    put32(reg + 4, 0x40000000);
    put32(reg + 8, 0);
    put32(reg + 12, 0x8000000);
    prop(&b, "reg", reg, 16);
    end(&b);
    begin(&b, "intc@8000000");
    prop(&b, "compatible", "arm,cortex-a15-gic\0arm,gic-400", 31);
    prop_u32(&b, "phandle", 0x8001);
    prop_u32(&b, "#interrupt-cells", 3);
    begin(&b, "v2m@8020000");
    prop(&b, "compatible", "arm,gic-v2m-frame", 18);
    end(&b);
    end(&b);
    begin(&b, "virtio_mmio@a000000");
    prop(&b, "compatible", "virtio,mmio", 12);
    end(&b);
    end(&b);
    return finish(&b, size);
}

struct count {
    unsigned nodes, max_depth;
};

static int count_node(void *arg, const struct fdt *f, uint32_t node, uint32_t parent,
                      unsigned depth, const char *name)
{
    struct count *c = arg;
    (void)f;
    (void)node;
    (void)parent;
    (void)name;
    c->nodes++;
    if (depth > c->max_depth)
        c->max_depth = depth;
    return 0;
}

static void test_fdt_reads_nodes_properties_and_phandles(void **state)
{
    uint32_t size, node, v, len;
    uint8_t *blob = virt_like(&size);
    const uint8_t *val;
    struct count c = {0, 0};
    struct fdt f;

    (void)state;
    assert_int_equal(fdt_init(&f, blob, size), KEEL_OK);
    assert_int_equal(fdt_walk(&f, count_node, &c), KEEL_OK);
    assert_int_equal(c.nodes, 6);
    assert_int_equal(c.max_depth, 2);
    assert_int_equal(fdt_find_node(&f, 1, "chosen", &node), KEEL_OK);
    assert_int_equal(fdt_getprop(&f, node, "bootargs", &val, &len), KEEL_OK);
    assert_string_equal((const char *)val, "dev=nvme0n1");
    assert_int_equal(fdt_find_node(&f, 1, "memory", &node), KEEL_OK);
    assert_int_equal(fdt_getprop(&f, node, "reg", &val, &len), KEEL_OK);
    assert_int_equal(len, 16);
    assert_int_equal(fdt_cells(val, 2), 0x40000000u);
    assert_int_equal(fdt_cells(val + 8, 2), 0x8000000u);
    assert_int_equal(fdt_node_by_phandle(&f, 0x8001, &node), KEEL_OK);
    assert_true(fdt_is_compatible(&f, node, "arm,gic-400"));
    assert_true(fdt_is_compatible(&f, node, "arm,cortex-a15-gic"));
    assert_false(fdt_is_compatible(&f, node, "arm,gic"));
    assert_int_equal(fdt_getprop_u32(&f, node, "#interrupt-cells", &v), KEEL_OK);
    assert_int_equal(v, 3);
    assert_int_equal(fdt_getprop(&f, node, "nope", &val, &len), KEEL_ENOENT);
    assert_int_equal(fdt_node_by_phandle(&f, 0x1234, &node), KEEL_ENOENT);
    free(blob);
}

static void test_fdt_rejects_bad_headers(void **state)
{
    uint32_t size;
    uint8_t *blob = virt_like(&size);
    struct fdt f;

    (void)state;
    assert_int_equal(fdt_init(&f, blob, size - 1), KEEL_EBADMSG); /* totalsize beyond the limit */
    put32(blob + 36, size);                                       /* struct block past the end */
    assert_int_equal(fdt_init(&f, blob, size), KEEL_EBADMSG);
    free(blob);
    blob = virt_like(&size);
    put32(blob + 12, 0xfffffff0u); /* strings offset overflowing */
    assert_int_equal(fdt_init(&f, blob, size), KEEL_EBADMSG);
    put32(blob + 0, 0xd00dfeee);
    assert_int_equal(fdt_init(&f, blob, size), KEEL_EBADMSG);
    free(blob);
}

static void test_fdt_rejects_nesting_deeper_than_its_bound(void **state)
{
    static struct builder b;
    uint32_t size, i;
    uint8_t *blob;
    struct count c = {0, 0};
    struct fdt f;

    (void)state;
    memset(&b, 0, sizeof(b));
    for (i = 0; i < FDT_MAX_DEPTH + 4u; i++)
        begin(&b, "n");
    for (i = 0; i < FDT_MAX_DEPTH + 4u; i++)
        end(&b);
    blob = finish(&b, &size);
    assert_int_equal(fdt_init(&f, blob, size), KEEL_OK);
    assert_int_equal(fdt_walk(&f, count_node, &c), KEEL_EBADMSG);
    free(blob);
}

static void test_fdt_rejects_a_property_longer_than_the_block(void **state)
{
    static struct builder b;
    uint32_t size, node;
    const uint8_t *val;
    uint32_t len;
    uint8_t *blob;
    struct count c = {0, 0};
    struct fdt f;

    (void)state;
    memset(&b, 0, sizeof(b));
    begin(&b, "");
    prop_u32(&b, "x", 1);
    end(&b);
    blob = finish(&b, &size);
    put32(blob + 40 + 12, 0x7ffffff0u); /* the property's length */
    assert_int_equal(fdt_init(&f, blob, size), KEEL_OK);
    assert_int_equal(fdt_walk(&f, count_node, &c), KEEL_EBADMSG);
    node = 0;
    assert_int_equal(fdt_getprop(&f, node, "x", &val, &len), KEEL_EBADMSG);
    free(blob);
}

/* Every truncation and every single-byte corruption: any answer but an out-of-bounds read. */
static void test_fdt_survives_every_truncation_and_byte_flip(void **state)
{
    uint32_t size, cut, i, node, len;
    uint8_t *orig = virt_like(&size);
    const uint8_t *val;
    struct fdt f;

    (void)state;
    for (cut = 0; cut <= size; cut++) {
        uint8_t *blob = malloc(cut ? cut : 1);
        struct count c = {0, 0};

        memcpy(blob, orig, cut);
        if (fdt_init(&f, blob, cut) == KEEL_OK) {
            (void)fdt_walk(&f, count_node, &c);
            (void)fdt_find_node(&f, 1, "chosen", &node);
        }
        free(blob);
    }
    for (i = 0; i < size; i++) {
        static const uint8_t flips[] = {0x01, 0x80, 0xff};
        unsigned k;

        for (k = 0; k < sizeof(flips); k++) {
            uint8_t *blob = malloc(size);
            struct count c = {0, 0};

            memcpy(blob, orig, size);
            blob[i] ^= flips[k];
            if (fdt_init(&f, blob, size) == KEEL_OK) {
                (void)fdt_walk(&f, count_node, &c);
                if (fdt_find_node(&f, 1, "chosen", &node) == KEEL_OK)
                    (void)fdt_getprop(&f, node, "bootargs", &val, &len);
                if (fdt_node_by_phandle(&f, 0x8001, &node) == KEEL_OK)
                    (void)fdt_is_compatible(&f, node, "arm,gic-400");
            }
            free(blob);
        }
    }
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fdt_reads_nodes_properties_and_phandles),
        cmocka_unit_test(test_fdt_rejects_bad_headers),
        cmocka_unit_test(test_fdt_rejects_nesting_deeper_than_its_bound),
        cmocka_unit_test(test_fdt_rejects_a_property_longer_than_the_block),
        cmocka_unit_test(test_fdt_survives_every_truncation_and_byte_flip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
