/* SPDX-License-Identifier: MIT */
/*
 * Keel's partition parser against util-linux on real images: each test writes an image file with
 * `sfdisk` (a script on stdin), then compares what keel_part_scan finds with `sfdisk --json` field
 * by field (numbers, starts, sizes, types, GUIDs, names, attributes, flags, disk id), and reads
 * through each child device to check the LBA mapping. Corrupted primary GPTs must fall back to the
 * backup and still match the intact image.
 *
 * 4096-byte sectors: sfdisk 2.38 has no --sector-size and always uses 512 on a plain file (a
 * `sector-size:` script header is accepted but the sizes are "recalculated to match the device").
 * So the 4096-byte tests use `fdisk -b 4096` to write the image and `fdisk -b 4096 -l` as the
 * reference, unless sfdisk understands --sector-size, which is then preferred.
 *
 * Tests skip (with the reason) when sfdisk (Debian package fdisk) is not installed.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <keel/error.h>
#include <keel/part.h>
#include <sim/ramdisk.h>
#include <sim/sim.h>

#include "part_image.h"

#define MAX_REF_PARTS 64

/* ------------------------------------------------------------------------------------------------
 * A minimal JSON reader: enough for sfdisk's output (objects, arrays, strings, integers, booleans).
 */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    enum jtype t;
    bool b;
    unsigned long long num;
    char *s;
    size_t n;
    char **keys;     /* objects */
    struct jv *kids; /* arrays and objects */
};

struct jp {
    const char *p;
    bool err;
};

static void j_ws(struct jp *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')
        j->p++;
}

static bool j_eat(struct jp *j, char c)
{
    j_ws(j);
    if (*j->p != c)
        return false;
    j->p++;
    return true;
}

static char *j_string(struct jp *j)
{
    size_t cap = 64, n = 0;
    char *out = malloc(cap);

    if (!j_eat(j, '"')) {
        j->err = true;
        return out;
    }
    while (*j->p != '"' && *j->p != '\0') {
        char c = *j->p++;

        if (c == '\\') {
            c = *j->p++;
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c == 'r')
                c = '\r';
            else if (c == 'b')
                c = '\b';
            else if (c == 'f')
                c = '\f';
            else if (c == 'u') {
                unsigned v = 0;
                if (sscanf(j->p, "%4x", &v) != 1)
                    j->err = true;
                j->p += 4;
                c = v < 0x80 ? (char)v : '?';
            } else if (c == '\0') {
                j->err = true;
                break;
            }
        }
        if (n + 2 > cap)
            out = realloc(out, cap *= 2);
        out[n++] = c;
    }
    if (*j->p == '"')
        j->p++;
    else
        j->err = true;
    out[n] = '\0';
    return out;
}

static void j_value(struct jp *j, struct jv *v);

static void j_push(struct jv *v, char *key, struct jp *j)
{
    v->kids = realloc(v->kids, (v->n + 1) * sizeof(*v->kids));
    v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
    v->keys[v->n] = key;
    j_value(j, &v->kids[v->n]);
    v->n++;
}

static void j_value(struct jp *j, struct jv *v)
{
    memset(v, 0, sizeof(*v));
    j_ws(j);
    if (*j->p == '{' || *j->p == '[') {
        bool obj = *j->p++ == '{';
        v->t = obj ? J_OBJ : J_ARR;
        if (j_eat(j, obj ? '}' : ']'))
            return;
        do {
            char *key = NULL;
            if (obj) {
                key = j_string(j);
                if (!j_eat(j, ':'))
                    j->err = true;
            }
            j_push(v, key, j);
        } while (!j->err && j_eat(j, ','));
        if (!j_eat(j, obj ? '}' : ']'))
            j->err = true;
    } else if (*j->p == '"') {
        v->t = J_STR;
        v->s = j_string(j);
    } else if (*j->p >= '0' && *j->p <= '9') {
        char *end;
        v->t = J_NUM;
        v->num = strtoull(j->p, &end, 10);
        j->p = end;
    } else if (strncmp(j->p, "true", 4) == 0 || strncmp(j->p, "false", 5) == 0) {
        v->t = J_BOOL;
        v->b = j->p[0] == 't';
        j->p += v->b ? 4 : 5;
    } else if (strncmp(j->p, "null", 4) == 0) {
        j->p += 4;
    } else {
        j->err = true;
    }
}

static void j_free(struct jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        j_free(&v->kids[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->kids);
    free(v->keys);
    free(v->s);
}

static const struct jv *j_get(const struct jv *obj, const char *key)
{
    if (obj == NULL || obj->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->kids[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------------
 * The reference: what util-linux says is on the image.
 */
struct ref_part {
    unsigned number;
    unsigned long long start, size;
    char type[40]; /* MBR: hex id; GPT: type GUID */
    char uuid[40];
    char name[80];
    char attrs[128];
    bool bootable;
};

struct ref_table {
    char label[8]; /* "dos" or "gpt" */
    char id[40];
    unsigned sector_size;
    unsigned n;
    struct ref_part p[MAX_REF_PARTS];
};

static void copy_str(char *dst, size_t size, const struct jv *v)
{
    snprintf(dst, size, "%s", v && v->t == J_STR ? v->s : "");
}

/* Partition number: the digits at the end of the node name ("/tmp/x/a.img12" -> 12). */
static unsigned node_number(const char *node)
{
    size_t n = strlen(node);

    while (n > 0 && node[n - 1] >= '0' && node[n - 1] <= '9')
        n--;
    return (unsigned)strtoul(node + n, NULL, 10);
}

static bool ref_from_json(const char *text, struct ref_table *r)
{
    struct jp j = {text, false};
    struct jv root;
    const struct jv *pt, *parts;
    bool ok;

    memset(r, 0, sizeof(*r));
    j_value(&j, &root);
    pt = j_get(&root, "partitiontable");
    parts = j_get(pt, "partitions");
    ok = !j.err && pt != NULL;
    if (ok) {
        const struct jv *ss = j_get(pt, "sectorsize");
        copy_str(r->label, sizeof(r->label), j_get(pt, "label"));
        copy_str(r->id, sizeof(r->id), j_get(pt, "id"));
        r->sector_size = ss ? (unsigned)ss->num : 512;
    }
    for (size_t i = 0; ok && parts && i < parts->n && i < MAX_REF_PARTS; i++) {
        const struct jv *e = &parts->kids[i], *v;
        struct ref_part *p = &r->p[r->n++];
        char node[256];

        copy_str(node, sizeof(node), j_get(e, "node"));
        p->number = node_number(node);
        v = j_get(e, "start");
        p->start = v ? v->num : 0;
        v = j_get(e, "size");
        p->size = v ? v->num : 0;
        copy_str(p->type, sizeof(p->type), j_get(e, "type"));
        copy_str(p->uuid, sizeof(p->uuid), j_get(e, "uuid"));
        copy_str(p->name, sizeof(p->name), j_get(e, "name"));
        copy_str(p->attrs, sizeof(p->attrs), j_get(e, "attrs"));
        v = j_get(e, "bootable");
        p->bootable = v && v->t == J_BOOL && v->b;
    }
    j_free(&root);
    return ok;
}

/* GPT attribute text as util-linux prints it, back to the 64-bit field (UEFI 5.3.3 table 5.7). */
static uint64_t attrs_bits(const char *text)
{
    char buf[128], *save = NULL, *tok;
    uint64_t bits = 0;

    snprintf(buf, sizeof(buf), "%s", text);
    for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (strcmp(tok, "RequiredPartition") == 0) {
            bits |= 1ull << 0;
        } else if (strcmp(tok, "NoBlockIOProtocol") == 0) {
            bits |= 1ull << 1;
        } else if (strcmp(tok, "LegacyBIOSBootable") == 0) {
            bits |= 1ull << 2;
        } else if (strncmp(tok, "GUID:", 5) == 0) {
            char *s2 = NULL, *b;
            for (b = strtok_r(tok + 5, ",", &s2); b; b = strtok_r(NULL, ",", &s2))
                bits |= 1ull << strtoul(b, NULL, 10);
        } else {
            fail_msg("unknown GPT attribute text '%s'", tok);
        }
    }
    return bits;
}

static bool is_mbr_extended(unsigned type)
{
    return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Compare Keel's table with util-linux's, field by field. */
static void compare(const struct ref_table *r, const struct keel_part_table *t)
{
    bool gpt = strcmp(r->label, "gpt") == 0;
    unsigned i, kept = r->n < KEEL_CONFIG_PART_MAX ? r->n : KEEL_CONFIG_PART_MAX;
    char guid[37];

    assert_true(gpt || strcmp(r->label, "dos") == 0);
    assert_int_equal(t->scheme, gpt ? KEEL_PART_GPT : KEEL_PART_MBR);
    assert_int_equal(t->count, kept);
    assert_int_equal(t->dropped, r->n - kept);
    if (gpt) {
        img_guid_str(t->disk_guid, guid);
        assert_string_equal(guid, r->id);
    } else {
        assert_int_equal(t->mbr_disk_id, strtoul(r->id, NULL, 16));
    }
    for (i = 0; i < kept; i++) {
        const struct ref_part *rp = &r->p[i];
        const struct keel_part *kp = &t->part[i];

        assert_int_equal(kp->number, rp->number);
        assert_true(kp->start_lba == rp->start);
        assert_true(kp->sector_count == rp->size);
        if (gpt) {
            img_guid_str(kp->type_guid, guid);
            assert_string_equal(guid, rp->type);
            img_guid_str(kp->part_guid, guid);
            assert_string_equal(guid, rp->uuid);
            assert_string_equal(kp->name, rp->name);
            assert_true(kp->attributes == attrs_bits(rp->attrs));
            assert_int_equal(kp->mbr_type, 0);
        } else {
            unsigned type = (unsigned)strtoul(rp->type, NULL, 16);
            assert_int_equal(kp->mbr_type, type);
            assert_int_equal(kp->bootable, rp->bootable);
            assert_int_equal(kp->extended, is_mbr_extended(type));
        }
    }
}

/* ------------------------------------------------------------------------------------------------
 * Running util-linux.
 */
struct ctx {
    char sfdisk[256];
    char fdisk[256];
    bool sfdisk_sector_size; /* sfdisk --sector-size exists (util-linux >= 2.39) */
    char dir[256];
    char img[300];
    char log[300];
    struct sim *s;
};

static bool find_tool(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    char buf[4096];
    char *save = NULL, *d;

    snprintf(buf, sizeof(buf), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
    for (d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, size, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return true;
    }
    out[0] = '\0';
    return false;
}

static void print_log(const struct ctx *c)
{
    FILE *f = fopen(c->log, "r");
    char line[512];

    while (f && fgets(line, sizeof(line), f))
        print_message("  | %s", line);
    if (f)
        fclose(f);
}

/* Run `cmd` with `input` on stdin, output into the log; fail the test on a non-zero exit. */
static void run(const struct ctx *c, const char *cmd, const char *input)
{
    char full[1024];
    FILE *p;
    int st;

    snprintf(full, sizeof(full), "%s >'%s' 2>&1", cmd, c->log);
    p = popen(full, "w");
    assert_non_null(p);
    if (input)
        fputs(input, p);
    st = pclose(p);
    if (st != 0) {
        print_message("command failed (status %d): %s\n", st, cmd);
        print_log(c);
        fail();
    }
}

/* Capture stdout of `cmd` (stderr to the log). */
static char *capture(const struct ctx *c, const char *cmd)
{
    char full[1024];
    size_t cap = 4096, n = 0, got;
    char *out = malloc(cap);
    FILE *p;

    snprintf(full, sizeof(full), "%s 2>'%s'", cmd, c->log);
    p = popen(full, "r");
    assert_non_null(p);
    while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 1024)
            out = realloc(out, cap *= 2);
    }
    out[n] = '\0';
    if (pclose(p) != 0) {
        print_message("command failed: %s\n", cmd);
        print_log(c);
        free(out);
        fail();
    }
    return out;
}

static void make_image(struct ctx *c, const char *name, unsigned mib)
{
    FILE *f;

    snprintf(c->img, sizeof(c->img), "%s/%s.img", c->dir, name);
    f = fopen(c->img, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)mib << 20), 0);
    fclose(f);
}

static void sfdisk_write(struct ctx *c, const char *script)
{
    char cmd[768];

    snprintf(cmd, sizeof(cmd), "'%s' -q --no-reread --no-tell-kernel '%s'", c->sfdisk, c->img);
    run(c, cmd, script);
}

static void sfdisk_delete(struct ctx *c, unsigned number)
{
    char cmd[768];

    snprintf(cmd, sizeof(cmd), "'%s' -q --no-reread --no-tell-kernel --delete '%s' %u", c->sfdisk,
             c->img, number);
    run(c, cmd, NULL);
}

static void sfdisk_ref(struct ctx *c, struct ref_table *r)
{
    char cmd[768], *json;

    snprintf(cmd, sizeof(cmd), "'%s' --json '%s'", c->sfdisk, c->img);
    json = capture(c, cmd);
    if (!ref_from_json(json, r)) {
        print_message("cannot parse sfdisk --json output:\n%s\n", json);
        free(json);
        fail();
    }
    free(json);
}

static void flip_byte(const struct ctx *c, long off)
{
    FILE *f = fopen(c->img, "r+b");
    int b;

    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    b = fgetc(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    fputc(b ^ 0x5a, f);
    fclose(f);
}

/* Scan the image with Keel (through a ramdisk over the file's bytes). */
static struct ramdisk *keel_scan(struct ctx *c, uint32_t ss, struct keel_part_table *t, int *rc)
{
    struct ramdisk *rd = ramdisk_from_file(&c->s->hal, "sda", c->img, ss);
    void *scratch = malloc(ss);

    assert_non_null(rd);
    *rc = keel_part_scan(&rd->dev, 0, scratch, ss, t);
    free(scratch);
    return rd;
}

/*
 * Register the children and read each one's first sector through the block layer: it must be the
 * sector util-linux says the partition starts at (each is stamped with its number first).
 */
static void check_children(struct ramdisk *rd, const struct ref_table *r,
                           const struct keel_part_table *t)
{
    struct keel_blkdev kids[KEEL_CONFIG_PART_MAX];
    uint32_t ss = rd->dev.info.sector_size;
    uint8_t *buf = malloc(ss);
    char name[KEEL_CONFIG_BLK_NAME_MAX];
    unsigned i, k = 0;
    int n;

    for (i = 0; i < t->count; i++)
        if (!t->part[i].extended)
            memset(rd->data + r->p[i].start * ss, (int)(0x40 + r->p[i].number), 16);
    n = keel_part_register(&rd->dev, t, kids, KEEL_CONFIG_PART_MAX, NULL);
    assert_true(n >= 0);
    for (i = 0; i < t->count; i++) {
        if (t->part[i].extended)
            continue;
        assert_true(k < (unsigned)n);
        snprintf(name, sizeof(name), "sda%u", r->p[i].number);
        assert_string_equal(kids[k].info.name, name);
        assert_true(kids[k].info.sector_count == r->p[i].size);
        assert_int_equal(keel_blk_read(&kids[k], 0, 0, 1, buf, 0), KEEL_OK);
        assert_int_equal(buf[0], 0x40 + r->p[i].number);
        assert_int_equal(buf[15], 0x40 + r->p[i].number);
        k++;
    }
    assert_int_equal(k, (unsigned)n);
    free(buf);
}

/* One layout end to end: write with sfdisk, compare with --json, check the children. */
static void check_layout(struct ctx *c, const char *name, unsigned mib, const char *script,
                         const unsigned *del, unsigned ndel, unsigned min_parts)
{
    struct keel_part_table t;
    struct ref_table r;
    struct ramdisk *rd;
    int rc;

    make_image(c, name, mib);
    sfdisk_write(c, script);
    for (unsigned i = 0; i < ndel; i++)
        sfdisk_delete(c, del[i]);
    sfdisk_ref(c, &r);
    assert_true(r.n >= min_parts); /* the layout really is what the test means */
    assert_int_equal(r.sector_size, 512);
    rd = keel_scan(c, 512, &t, &rc);
    assert_int_equal(rc, KEEL_OK);
    compare(&r, &t);
    assert_false(t.used_backup);
    check_children(rd, &r, &t);
    ramdisk_destroy(rd);
    unlink(c->img);
}

/* ------------------------------------------------------------------------------------------------
 * Fixture
 */
static int group_setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    const char *tmp = getenv("TMPDIR");

    const char *forced = getenv("KEEL_TEST_SFDISK"); /* a path, or "" to test the skip */

    setenv("LC_ALL", "C", 1);
    if (forced != NULL)
        snprintf(c->sfdisk, sizeof(c->sfdisk), "%s", forced);
    else
        find_tool("sfdisk", c->sfdisk, sizeof(c->sfdisk));
    if (c->sfdisk[0] != '\0') {
        char cmd[512], *help;
        snprintf(c->dir, sizeof(c->dir), "%s/keel-sfdisk-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(c->dir) == NULL)
            return -1;
        snprintf(c->log, sizeof(c->log), "%s/tool.log", c->dir);
        snprintf(cmd, sizeof(cmd), "'%s' --help", c->sfdisk);
        help = capture(c, cmd);
        c->sfdisk_sector_size = strstr(help, "--sector-size") != NULL;
        free(help);
    }
    find_tool("fdisk", c->fdisk, sizeof(c->fdisk));
    c->s = sim_create(1u << 16);
    *state = c;
    return 0;
}

static int group_teardown(void **state)
{
    struct ctx *c = *state;

    if (c->dir[0] != '\0') {
        /* Everything in it is ours: images of failed tests (which stop before unlinking), log. */
        DIR *d = opendir(c->dir);
        struct dirent *e;
        char path[600];

        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", c->dir, e->d_name);
            unlink(path);
        }
        if (d != NULL)
            closedir(d);
        rmdir(c->dir);
    }
    sim_destroy(c->s);
    free(c);
    return 0;
}

static struct ctx *need_sfdisk(void **state)
{
    struct ctx *c = *state;

    if (c->sfdisk[0] == '\0') {
        print_message("sfdisk not found in PATH, /usr/sbin or /sbin: install util-linux's "
                      "sfdisk (Debian package fdisk) to run this test; skipping\n");
        skip();
    }
    return c;
}

/* ------------------------------------------------------------------------------------------------
 * MBR layouts
 */
static void test_sfdisk_mbr_primaries(void **state)
{
    struct ctx *c = need_sfdisk(state);

    check_layout(c, "mbr_primaries", 64,
                 "label: dos\nlabel-id: 0x1234abcd\n,8M,83,*\n,16M,7\n,4M,c\n,,82\n", NULL, 0, 4);
}

static void test_sfdisk_mbr_extended_with_logicals(void **state)
{
    struct ctx *c = need_sfdisk(state);

    check_layout(c, "mbr_extended", 64,
                 "label: dos\n,4M,83,*\n,,E\n,3M,83\n,5M,82\n,2M,7\n,6M,83\n,,b\n", NULL, 0, 7);
}

static void test_sfdisk_mbr_extended_in_slot_4_after_a_gap(void **state)
{
    struct ctx *c = need_sfdisk(state);
    const unsigned del[] = {2};

    check_layout(c, "mbr_gap", 64,
                 "label: dos\n,4M,83\n,4M,83\n,4M,8e\n,,f\n,4M,83\n,4M,fd\n,,83\n", del, 1, 6);
}

static void test_sfdisk_mbr_many_logicals(void **state)
{
    struct ctx *c = need_sfdisk(state);
    char script[1024] = "label: dos\n,2M,83\n,,5\n";

    for (int i = 0; i < 13; i++)
        strcat(script, ",1M,83\n");
    check_layout(c, "mbr_many", 64, script, NULL, 0, 15);
}

static void test_sfdisk_mbr_more_logicals_than_capacity(void **state)
{
    struct ctx *c = need_sfdisk(state);
    char script[1024] = "label: dos\n,2M,83\n,,5\n";

    for (int i = 0; i < KEEL_CONFIG_PART_MAX + 3; i++)
        strcat(script, ",1M,83\n");
    check_layout(c, "mbr_over", 64, script, NULL, 0, KEEL_CONFIG_PART_MAX + 5);
}

/* ------------------------------------------------------------------------------------------------
 * GPT layouts
 */
#define GPT_NAMED                                                                                  \
    "label: gpt\n"                                                                                 \
    "label-id: 5B2D1A3C-0F4E-4A6B-9C8D-7E6F5A4B3C2D\n"                                             \
    "size=4M, type=U, name=\"EFI System\", attrs=\"RequiredPartition LegacyBIOSBootable\"\n"       \
    "size=8M, type=L, name=\"root fs\", uuid=11111111-2222-3333-4444-555555555555\n"               \
    "size=2M, type=S, name=swap, attrs=\"GUID:60,63\"\n"                                           \
    "size=3M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, "                                         \
    "name=\"the-longest-name-a-gpt-entry-can-hol\"\n"                                              \
    "type=H, name=home\n"

static void test_sfdisk_gpt_named_partitions(void **state)
{
    struct ctx *c = need_sfdisk(state);

    check_layout(c, "gpt_named", 64, GPT_NAMED, NULL, 0, 5);
}

static void test_sfdisk_gpt_many_entries(void **state)
{
    struct ctx *c = need_sfdisk(state);
    char script[2048] = "label: gpt\n";

    for (int i = 0; i < KEEL_CONFIG_PART_MAX; i++) {
        char line[64];
        snprintf(line, sizeof(line), "size=1M, name=part%d\n", i + 1);
        strcat(script, line);
    }
    check_layout(c, "gpt_many", 64, script, NULL, 0, KEEL_CONFIG_PART_MAX);
}

static void test_sfdisk_gpt_more_entries_than_capacity(void **state)
{
    struct ctx *c = need_sfdisk(state);
    char script[2048] = "label: gpt\n";

    for (int i = 0; i < KEEL_CONFIG_PART_MAX + 6; i++)
        strcat(script, "size=1M, type=L\n");
    check_layout(c, "gpt_over", 64, script, NULL, 0, KEEL_CONFIG_PART_MAX + 6);
}

static void test_sfdisk_gpt_deleted_entries_keep_numbers(void **state)
{
    struct ctx *c = need_sfdisk(state);
    const unsigned del[] = {2, 5};

    check_layout(c, "gpt_gaps", 64,
                 "label: gpt\nsize=2M, name=one\nsize=2M, name=two\nsize=2M, name=three\n"
                 "size=2M, name=four\nsize=2M, name=five\nsize=2M, name=six\n",
                 del, 2, 4);
}

static void test_sfdisk_gpt_short_entry_array(void **state)
{
    struct ctx *c = need_sfdisk(state);

    check_layout(c, "gpt_short", 16,
                 "label: gpt\ntable-length: 8\nfirst-lba: 34\nsize=1M\nsize=1M, name=b\n", NULL, 0,
                 2);
}

static void test_sfdisk_gpt_entry_array_ending_mid_sector(void **state)
{
    struct ctx *c = need_sfdisk(state);

    /* 129 entries x 128 bytes = 32 sectors and a quarter. */
    check_layout(c, "gpt_129", 16,
                 "label: gpt\ntable-length: 129\nsize=1M, name=x\nsize=2M, name=y\n", NULL, 0, 2);
}

static void test_sfdisk_gpt_entries_out_of_disk_order(void **state)
{
    struct ctx *c = need_sfdisk(state);

    check_layout(c, "gpt_order", 32,
                 "label: gpt\nstart=20480, size=4096, name=late\nstart=2048, size=2048, "
                 "name=early\nstart=8192, size=8192, type=S\n",
                 NULL, 0, 3);
}

/* ------------------------------------------------------------------------------------------------
 * Corrupted primary GPT: Keel must use the backup and still see what sfdisk saw on the intact
 * image.
 */
static void corrupt_and_compare(struct ctx *c, const char *name, long off)
{
    struct keel_part_table t;
    struct ref_table intact, after;
    struct ramdisk *rd;
    int rc;

    make_image(c, name, 64);
    sfdisk_write(c, GPT_NAMED);
    sfdisk_ref(c, &intact);
    flip_byte(c, off);
    rd = keel_scan(c, 512, &t, &rc);
    assert_int_equal(rc, KEEL_OK);
    assert_true(t.used_backup);
    compare(&intact, &t);
    check_children(rd, &intact, &t);
    ramdisk_destroy(rd);
    /* util-linux also falls back to the backup on this image, and agrees. */
    sfdisk_ref(c, &after);
    compare(&after, &t);
    unlink(c->img);
}

static void test_sfdisk_gpt_corrupt_primary_header_uses_backup(void **state)
{
    struct ctx *c = need_sfdisk(state);

    corrupt_and_compare(c, "gpt_bad_header", 512 + 60); /* inside the disk GUID */
}

static void test_sfdisk_gpt_corrupt_primary_entries_uses_backup(void **state)
{
    struct ctx *c = need_sfdisk(state);

    corrupt_and_compare(c, "gpt_bad_entries", 1024 + 128 + 40); /* entry 2's last LBA */
}

static void test_sfdisk_gpt_both_copies_corrupt_is_ebadmsg(void **state)
{
    struct ctx *c = need_sfdisk(state);
    struct keel_part_table t;
    struct ramdisk *rd;
    int rc;

    make_image(c, "gpt_bad_both", 64);
    sfdisk_write(c, GPT_NAMED);
    flip_byte(c, 512 + 60);
    flip_byte(c, (64L << 20) - 512 + 60);
    rd = keel_scan(c, 512, &t, &rc);
    assert_int_equal(rc, KEEL_EBADMSG);
    assert_int_equal(t.count, 0);
    ramdisk_destroy(rd);
    unlink(c->img);
}

/* ------------------------------------------------------------------------------------------------
 * 4096-byte sectors
 */

/* `fdisk -b 4096 -l -o ...` as a reference table (Name, possibly empty, is the last column). */
static void fdisk_ref_4k(struct ctx *c, bool gpt, struct ref_table *r)
{
    char cmd[768], *out, *line, *save = NULL;
    bool body = false;

    snprintf(cmd, sizeof(cmd), "'%s' -b 4096 -l -o %s '%s'", c->fdisk,
             gpt ? "Device,Start,Sectors,Type-UUID,UUID,Name" : "Device,Start,Sectors,Id,Boot",
             c->img);
    out = capture(c, cmd);
    memset(r, 0, sizeof(*r));
    snprintf(r->label, sizeof(r->label), "%s", gpt ? "gpt" : "dos");
    r->sector_size = 4096;
    for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char dev[300], type[40], uuid[40], boot[4] = "";
        int used = 0;
        if (sscanf(line, "Disk identifier: %39s", r->id) == 1)
            continue;
        if (strncmp(line, "Device", 6) == 0) {
            body = true;
            continue;
        }
        if (!body || r->n >= MAX_REF_PARTS)
            continue;
        struct ref_part *p = &r->p[r->n];
        memset(p, 0, sizeof(*p));
        if (gpt) {
            if (sscanf(line, "%299s %llu %llu %39s %39s %n", dev, &p->start, &p->size, type, uuid,
                       &used) < 5)
                continue;
            snprintf(p->name, sizeof(p->name), "%s", line + used);
            for (size_t e = strlen(p->name); e > 0 && p->name[e - 1] == ' '; e--)
                p->name[e - 1] = '\0';
            snprintf(p->uuid, sizeof(p->uuid), "%s", uuid);
        } else {
            if (sscanf(line, "%299s %llu %llu %39s %3s", dev, &p->start, &p->size, type, boot) < 4)
                continue;
            p->bootable = boot[0] == '*';
        }
        snprintf(p->type, sizeof(p->type), "%s", type);
        p->number = node_number(dev);
        r->n++;
    }
    free(out);
}

static void check_4k(struct ctx *c, const char *name, bool gpt, const char *fdisk_script,
                     const char *sfdisk_script, unsigned min_parts)
{
    char cmd[768];
    struct keel_part_table t;
    struct ref_table r;
    struct ramdisk *rd;
    int rc;

    make_image(c, name, 32);
    if (c->sfdisk_sector_size) {
        snprintf(cmd, sizeof(cmd), "'%s' -q --no-reread --no-tell-kernel --sector-size 4096 '%s'",
                 c->sfdisk, c->img);
        run(c, cmd, sfdisk_script);
        snprintf(cmd, sizeof(cmd), "'%s' --sector-size 4096 --json '%s'", c->sfdisk, c->img);
        char *json = capture(c, cmd);
        assert_true(ref_from_json(json, &r));
        free(json);
    } else {
        if (c->fdisk[0] == '\0') {
            print_message("sfdisk has no --sector-size and fdisk is missing: skipping\n");
            skip();
        }
        snprintf(cmd, sizeof(cmd), "'%s' -b 4096 '%s'", c->fdisk, c->img);
        run(c, cmd, fdisk_script);
        fdisk_ref_4k(c, gpt, &r);
    }
    assert_true(r.n >= min_parts);
    assert_int_equal(r.sector_size, 4096);
    rd = keel_scan(c, 4096, &t, &rc);
    assert_int_equal(rc, KEEL_OK);
    compare(&r, &t);
    check_children(rd, &r, &t);
    ramdisk_destroy(rd);
    unlink(c->img);
}

static void test_4096_byte_sectors_gpt(void **state)
{
    struct ctx *c = need_sfdisk(state);

    check_4k(c, "gpt_4k", true,
             "g\nn\n1\n\n+1M\nn\n2\n\n+2M\nn\n3\n\n+4M\nt\n2\n"
             "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F\nx\nn\n1\nboot\nn\n3\nthe-data\nr\nw\n",
             "label: gpt\nsize=1M, name=boot\nsize=2M, type=S\nsize=4M, name=the-data\n", 3);
}

static void test_4096_byte_sectors_mbr_with_logicals(void **state)
{
    struct ctx *c = need_sfdisk(state);

    check_4k(c, "mbr_4k", false, "o\nn\np\n1\n\n+2M\nn\ne\n2\n\n\nn\n\n+1M\nn\n\n+1M\na\n1\nw\n",
             "label: dos\n,2M,83,*\n,,E\n,1M,83\n,1M,83\n", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sfdisk_mbr_primaries),
        cmocka_unit_test(test_sfdisk_mbr_extended_with_logicals),
        cmocka_unit_test(test_sfdisk_mbr_extended_in_slot_4_after_a_gap),
        cmocka_unit_test(test_sfdisk_mbr_many_logicals),
        cmocka_unit_test(test_sfdisk_mbr_more_logicals_than_capacity),
        cmocka_unit_test(test_sfdisk_gpt_named_partitions),
        cmocka_unit_test(test_sfdisk_gpt_many_entries),
        cmocka_unit_test(test_sfdisk_gpt_more_entries_than_capacity),
        cmocka_unit_test(test_sfdisk_gpt_deleted_entries_keep_numbers),
        cmocka_unit_test(test_sfdisk_gpt_short_entry_array),
        cmocka_unit_test(test_sfdisk_gpt_entry_array_ending_mid_sector),
        cmocka_unit_test(test_sfdisk_gpt_entries_out_of_disk_order),
        cmocka_unit_test(test_sfdisk_gpt_corrupt_primary_header_uses_backup),
        cmocka_unit_test(test_sfdisk_gpt_corrupt_primary_entries_uses_backup),
        cmocka_unit_test(test_sfdisk_gpt_both_copies_corrupt_is_ebadmsg),
        cmocka_unit_test(test_4096_byte_sectors_gpt),
        cmocka_unit_test(test_4096_byte_sectors_mbr_with_logicals),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
