/* SPDX-License-Identifier: MIT */
/*
 * seedgen - writes the seed corpus of every fuzz target (test/fuzz/corpus/<target>/), so the seeds
 * in the tree can be regenerated and reviewed: `tools/fuzz --seed` runs it.
 *
 *   part          MBR and GPT images built with test/core/part_image.c (independent of the code
 *                 under test), laid out as fuzz_part.c reads them
 *   scsi          well-formed INQUIRY / VPD / READ CAPACITY / REPORT LUNS / MODE SENSE data and
 *                 sense in both formats
 *   virtio_config recorded bring-ups: the virtio device model runs on the simulated platform and
 *                 every register and configuration value the driver reads is written down, for each
 *                 transport, so the stream replays a working attach
 *   vring_split, vring_packed, vblk_status
 *                 operation scripts in fuzz_vblk.c's input format (header + operations)
 *   nvme_init, nvme
 *                 headers (controller shape, faults) and operation scripts of fuzz_nvme.c
 *   vscsi         headers (topology, limits, faults) and operation scripts of fuzz_vscsi.c
 *
 * Usage: seedgen <corpus-dir>
 */
#define _POSIX_C_SOURCE 200809L /* mkdir */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <keel/error.h>
#include <keel/virtio_blk.h>
#include <sim/sim.h>
#include <virtio_model.h>

#include "fuzz_vcfg.h"
#include "part_image.h"

static const char *g_root;
static unsigned g_files;

/* ---- output ------------------------------------------------------------------------------------
 */

struct out {
    uint8_t *b;
    size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2u + 256u;
        o->b = realloc(o->b, o->cap);
        if (o->b == NULL)
            abort();
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void put8(struct out *o, uint8_t v)
{
    put(o, &v, 1);
}

static void putle(struct out *o, uint64_t v, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++)
        put8(o, (uint8_t)(v >> (8u * i)));
}

static void save(const char *target, const char *name, const struct out *o)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", g_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", g_root, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(o->b, 1, o->len, f) != o->len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    g_files++;
}

static void reset(struct out *o)
{
    o->len = 0;
}

/* ---- part
 * ----------------------------------------------------------------------------------------
 */

/* fuzz_part.c header: flags, sectors (u32), shift, nfront, err_lba (u32); then the sectors. */
static void part_header(struct out *o, uint8_t flags, uint32_t sectors, uint8_t nfront)
{
    put8(o, flags);
    putle(o, sectors, 4);
    put8(o, 0);
    put8(o, nfront);
    putle(o, 0, 4);
}

static void seed_part(void)
{
    struct out o = {0};
    uint8_t s[512];
    uint8_t ebr[16 * 512];

    /* Two primaries, one bootable. */
    memset(s, 0, sizeof(s));
    img_mbr_slot(s, 0, 0x80, 0x83, 2048, 4096);
    img_mbr_slot(s, 1, 0x00, 0x0c, 8192, 8192);
    img_mbr_sign(s);
    part_header(&o, 0, 65536, 1);
    put(&o, s, sizeof(s));
    save("part", "mbr-primaries", &o);

    /* An extended partition at LBA 2 holding two logicals (EBR chain 2 -> 13). */
    reset(&o);
    memset(ebr, 0, sizeof(ebr));
    img_mbr_slot(ebr, 0, 0x00, 0x83, 100, 50);
    img_mbr_slot(ebr, 1, 0x00, 0x05, 2, 60);
    img_mbr_sign(ebr);
    img_mbr_slot(ebr + 2 * 512, 0, 0x00, 0x83, 1, 10);
    img_mbr_slot(ebr + 2 * 512, 1, 0x00, 0x05, 11, 20);
    img_mbr_sign(ebr + 2 * 512);
    img_mbr_slot(ebr + 13 * 512, 0, 0x00, 0x82, 1, 15);
    img_mbr_sign(ebr + 13 * 512);
    part_header(&o, 0x10, 4096, 16);
    put(&o, ebr, sizeof(ebr));
    save("part", "mbr-extended", &o);

    /* GPT, 512-byte and 4096-byte sectors, 4 entries: sectors 0-2 and the last two. */
    {
        static const uint32_t sizes[] = {512, 4096};
        unsigned k;
        for (k = 0; k < 2; k++) {
            uint32_t ss = sizes[k];
            uint64_t n = ss == 512u ? 8192u : 2048u;
            uint8_t *disk = calloc(n, ss);
            struct img_gpt g;
            char name[32];
            int corrupt;

            if (disk == NULL)
                abort();
            img_gpt_init(&g, ss, n);
            img_gpt_resize(&g, 4, 128);
            img_gpt_entry(&g, 0, img_guid_esp, g.first_usable, g.first_usable + 63, 0, "EFI");
            img_gpt_entry(&g, 1, img_guid_linux_fs, g.first_usable + 64, g.last_usable, 0, "root");
            for (corrupt = 0; corrupt < 2; corrupt++) {
                img_gpt_write(&g, disk);
                if (corrupt)
                    disk[ss + 20] ^= 0xff; /* primary header CRC: the backup must be used */
                reset(&o);
                part_header(&o, ss == 4096u ? 1u : 0u, (uint32_t)n, 3);
                put(&o, disk, 3u * ss);
                put(&o, disk + (n - 2u) * ss, 2u * ss);
                snprintf(name, sizeof(name), "gpt-%u%s", ss, corrupt ? "-backup" : "");
                save("part", name, &o);
            }
            img_gpt_free(&g);
            free(disk);
        }
    }
    free(o.b);
}

/* ---- scsi
 * ----------------------------------------------------------------------------------------
 */

static void scsi_seed(const char *name, uint8_t status, const uint8_t *data, size_t len)
{
    struct out o = {0};

    put8(&o, status);
    put8(&o, 40);           /* serial capacity */
    putle(&o, 96, 4);       /* allocation length */
    putle(&o, 96 - len, 4); /* residual */
    putle(&o, 0x12345, 8);  /* LBA */
    putle(&o, 4096, 8);     /* blocks */
    putle(&o, 2048, 4);     /* max unmap LBA count */
    putle(&o, 4, 4);        /* max unmap descriptors */
    putle(&o, 256, 2);      /* parameter buffer */
    put(&o, data, len);
    save("scsi", name, &o);
    free(o.b);
}

static void seed_scsi(void)
{
    static const uint8_t inquiry[36] = {0x00, 0x00, 0x05, 0x02, 31,  0,   0,   0x02, 'Q',
                                        'E',  'M',  'U',  ' ',  ' ', ' ', ' ', 'Q',  'E',
                                        'M',  'U',  ' ',  'H',  'A', 'R', 'D', 'D',  'I',
                                        'S',  'K',  ' ',  ' ',  ' ', '2', '.', '5',  '+'};
    static const uint8_t vpd00[] = {0, 0x00, 0, 5, 0x00, 0x80, 0x83, 0xb0, 0xb2};
    static const uint8_t vpd80[] = {0,   0x80, 0,   10,  ' ', 'S', 'E',
                                    'R', '1',  '2', '3', '4', ' ', ' '};
    static const uint8_t vpd83[] = {0,    0x83, 0,    32,   0x01, 0x03, 0x00, 0x08, 0x50,
                                    0x01, 0x40, 0x5a, 0x11, 0x22, 0x33, 0x44, 0x02, 0x01,
                                    0x00, 0x10, 'Q',  'E',  'M',  'U',  ' ',  ' ',  ' ',
                                    ' ',  'd',  'i',  's',  'k',  '0',  '0',  '0',  '1'};
    static const uint8_t vpd_b2[] = {0, 0xb2, 0, 4, 0, 0xe0, 0x07, 0x02};
    static const uint8_t rc10[] = {0x00, 0x01, 0xff, 0xff, 0x00, 0x00, 0x02, 0x00};
    static const uint8_t rc16[32] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x10, 0, 0x01, 0x03, 0xc0, 0};
    static const uint8_t luns[] = {0, 0, 0, 24, 0, 0, 0, 0, 0,    0,    0, 0, 0, 0, 0, 0,
                                   0, 1, 0, 0,  0, 0, 0, 0, 0x41, 0x2c, 0, 0, 0, 0, 0, 0};
    static const uint8_t ms6[] = {0x0b, 0x00, 0x90, 0x08, 0, 0, 0, 0, 0, 0, 0x02, 0};
    static const uint8_t ms10[] = {0x00, 0x0e, 0x00, 0x80, 0x01, 0, 0,    0x08,
                                   0,    0,    0,    0,    0,    0, 0x02, 0};
    static const uint8_t sense_fixed[18] = {0xf0, 0, 0x03, 0,    0,    0x12, 0x34, 10, 0,
                                            0,    0, 0,    0x11, 0x00, 0,    0,    0,  0};
    static const uint8_t sense_ua[18] = {0x70, 0, 0x06, 0,    0,    0, 0, 10, 0,
                                         0,    0, 0,    0x2a, 0x09, 0, 0, 0,  0};
    static const uint8_t sense_desc[] = {0x72, 0x05, 0x24, 0x00, 0,    0,    0,    20, 0x00, 0x0a,
                                         0x80, 0,    0,    0,    0,    0,    0,    0,  0x12, 0x34,
                                         0x02, 0x06, 0,    0,    0xc0, 0x00, 0x05, 0};
    uint8_t b0[64];

    memset(b0, 0, sizeof(b0));
    b0[1] = 0xb0;
    b0[3] = 0x3c;
    b0[5] = 1;     /* MAXIMUM COMPARE AND WRITE LENGTH */
    b0[7] = 8;     /* OPTIMAL TRANSFER LENGTH GRANULARITY */
    b0[10] = 0x40; /* MAXIMUM TRANSFER LENGTH 0x4000 */
    b0[22] = 0x08; /* MAXIMUM UNMAP LBA COUNT 0x800 */
    b0[27] = 4;    /* MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
    b0[31] = 8;    /* OPTIMAL UNMAP GRANULARITY */
    b0[32] = 0x80; /* UGAVALID */
    scsi_seed("inquiry", 0, inquiry, sizeof(inquiry));
    scsi_seed("vpd-00", 0, vpd00, sizeof(vpd00));
    scsi_seed("vpd-80", 0, vpd80, sizeof(vpd80));
    scsi_seed("vpd-83", 0, vpd83, sizeof(vpd83));
    scsi_seed("vpd-b0", 0, b0, sizeof(b0));
    scsi_seed("vpd-b2", 0, vpd_b2, sizeof(vpd_b2));
    scsi_seed("read-capacity-10", 0, rc10, sizeof(rc10));
    scsi_seed("read-capacity-16", 0, rc16, sizeof(rc16));
    scsi_seed("report-luns", 0, luns, sizeof(luns));
    scsi_seed("mode-sense-6", 0, ms6, sizeof(ms6));
    scsi_seed("mode-sense-10", 0, ms10, sizeof(ms10));
    scsi_seed("sense-fixed-medium", 2, sense_fixed, sizeof(sense_fixed));
    scsi_seed("sense-fixed-ua", 2, sense_ua, sizeof(sense_ua));
    scsi_seed("sense-descriptor", 2, sense_desc, sizeof(sense_desc));
}

/* ---- virtio_config: recorded bring-ups
 * -----------------------------------------------------------
 */

static struct out g_rec;
static const struct keel_hal_ops *g_inner;

static void rec(uint32_t v, unsigned width)
{
    putle(&g_rec, v, width);
}
static uint8_t r_m8(void *c, keel_io_addr_t a)
{
    uint8_t v = g_inner->mmio_read8(c, a);
    rec(v, 1);
    return v;
}
static uint16_t r_m16(void *c, keel_io_addr_t a)
{
    uint16_t v = g_inner->mmio_read16(c, a);
    rec(v, 2);
    return v;
}
static uint32_t r_m32(void *c, keel_io_addr_t a)
{
    uint32_t v = g_inner->mmio_read32(c, a);
    rec(v, 4);
    return v;
}
static uint8_t r_p8(void *c, keel_io_addr_t a)
{
    uint8_t v = g_inner->pio_read8(c, a);
    rec(v, 1);
    return v;
}
static uint16_t r_p16(void *c, keel_io_addr_t a)
{
    uint16_t v = g_inner->pio_read16(c, a);
    rec(v, 2);
    return v;
}
static uint32_t r_p32(void *c, keel_io_addr_t a)
{
    uint32_t v = g_inner->pio_read32(c, a);
    rec(v, 4);
    return v;
}
static int r_cfg(void *c, struct keel_pci_addr a, uint16_t off, uint8_t width, uint32_t *val)
{
    int rc = g_inner->pci_cfg_read(c, a, off, width, val);
    rec(*val, width);
    return rc;
}

static void sim_adv(void *arg, uint64_t us)
{
    sim_advance(arg, us);
}

static void record(enum vmodel_transport t, uint8_t probe, uint8_t opts, uint8_t act,
                   const char *name)
{
    struct sim *s = sim_create(8u << 20);
    struct vmodel_cfg mc;
    struct vmodel_blk_cfg bc;
    struct vmodel_blk *b;
    struct vmodel *m;
    struct keel_hal_ops ops;
    struct keel_hal hal;
    struct keel_vblk *vb = calloc(1, sizeof(*vb));
    struct vcfg_env env;
    uint8_t hdr[VCFG_HDR_BYTES] = {probe, opts, 0, act};
    int rc;

    if (s == NULL || vb == NULL)
        abort();
    vmodel_cfg_default(&mc, t);
    if (t == VMODEL_PCI_MODERN || t == VMODEL_MMIO_V2)
        mc.features |= VMODEL_F_RING_PACKED;
    vmodel_blk_cfg_default(&bc);
    bc.features |= VMODEL_BLK_F_SECURE_ERASE;
    m = vmodel_blk_pair_create(s, &mc, &bc, &b);
    if (m == NULL)
        abort();
    g_inner = s->hal.ops;
    ops = *s->hal.ops;
    ops.mmio_read8 = r_m8;
    ops.mmio_read16 = r_m16;
    ops.mmio_read32 = r_m32;
    ops.pio_read8 = r_p8;
    ops.pio_read16 = r_p16;
    ops.pio_read32 = r_p32;
    ops.pci_cfg_read = r_cfg;
    ops.io_map = NULL; /* as the fuzzing HAL: identity */
    hal.ops = &ops;
    hal.ctx = s->hal.ctx;
    env.hal = &hal;
    env.advance = sim_adv;
    env.arg = s;
    env.hal_ctx_fh = NULL;
    reset(&g_rec);
    put(&g_rec, hdr, sizeof(hdr));
    rc = vcfg_run(&env, hdr, vb);
    if (rc != KEEL_OK) {
        fprintf(stderr, "seedgen: %s: attach failed (%d)\n", name, rc);
        exit(1);
    }
    save("virtio_config", name, &g_rec);
    vmodel_blk_pair_destroy(m, b);
    sim_destroy(s);
    free(vb);
}

static void seed_virtio_config(void)
{
    const uint8_t act = VCFG_ACT_SERVICE | VCFG_ACT_WRITEBACK | VCFG_ACT_READ;

    record(VMODEL_MMIO_V2, VCFG_MMIO, 0, act, "mmio-v2");
    record(VMODEL_MMIO_V2, VCFG_MMIO, VCFG_OPT_IRQ, act | VCFG_ACT_RECOVER, "mmio-v2-irq");
    record(VMODEL_MMIO_V1, VCFG_MMIO, VCFG_OPT_IRQ, act, "mmio-v1-irq");
    record(VMODEL_PCI_MODERN, VCFG_PCI, 0, act, "pci-modern");
    record(VMODEL_PCI_MODERN, VCFG_PCI_MODERN, VCFG_OPT_IRQ, act | VCFG_ACT_RECOVER,
           "pci-modern-msix");
    record(VMODEL_PCI_TRANSITIONAL, VCFG_PCI_PREFER_LEGACY, VCFG_OPT_IRQ, act,
           "pci-transitional-legacy-msix");
    record(VMODEL_PCI_LEGACY, VCFG_PCI_LEGACY, 0, act, "pci-legacy");
}

/* ---- vring_split, vring_packed, vblk_status: operation scripts ---------------------------------
 */

/* Operation codes of fuzz_vblk.c (enum op). */
enum {
    SUBMIT,
    POLL,
    ADVANCE,
    COMPLETE,
    COMPLETE_ALL,
    DROP,
    IRQ,
    PROCESS,
    RAW_USED,
    USED_IDX,
    SCRIBBLE,
    NEEDS_RESET,
    CONFIG,
    SERVICE,
    GET_ID,
    RECOVER,
    WRITEBACK,
    RESET_STUCK,
    SECURE_ERASE,
    REFUSE_FEATURES
};

/* Header: h0 ring/transport bits, h1 queue size - 2, h2 blk features, h3 seg/size max, capacity,
 * h6 options, h7 discard limits. */
static void vb_header(struct out *o, uint8_t h0, uint8_t qsize, uint8_t h2, uint8_t h6)
{
    put8(o, h0);
    put8(o, (uint8_t)(qsize - 2u));
    put8(o, h2);
    put8(o, 0x13);
    putle(o, 4000, 2);
    put8(o, h6);
    put8(o, 0x40);
}

static void vb_submit(struct out *o, uint8_t slot, uint8_t op, uint8_t count, uint16_t lba,
                      uint8_t flags, uint8_t q)
{
    put8(o, SUBMIT);
    put8(o, slot);
    put8(o, op);
    put8(o, (uint8_t)(count - 1u));
    put8(o, 0); /* LBA mode: u16 follows */
    put8(o, flags);
    put8(o, q);
    putle(o, 2000, 2); /* timeout 1000 + 8 * 2000 us */
    put8(o, slot & 7u);
    putle(o, lba, 2);
}

static void vb_complete(struct out *o, uint8_t q, uint8_t k, uint8_t status, uint8_t mode)
{
    put8(o, COMPLETE);
    put8(o, q);
    put8(o, k);
    put8(o, status);
    put8(o, mode);
}

static void vb_op_q(struct out *o, uint8_t op, uint8_t q)
{
    put8(o, op);
    put8(o, q);
}

static void vb_poll(struct out *o, uint8_t q)
{
    put8(o, POLL);
    put8(o, q);
    put8(o, 0);
}

/* A common script: reads, writes, a flush, completions in and out of order, polls. */
static void vb_script(struct out *o, bool raw)
{
    vb_submit(o, 0, 0, 8, 0, 0, 0);    /* READ 8 */
    vb_submit(o, 1, 1, 4, 100, 1, 0);  /* WRITE 4, FUA */
    vb_submit(o, 2, 2, 1, 0, 0, 0);    /* FLUSH */
    vb_submit(o, 3, 0, 32, 200, 0, 0); /* READ 32 */
    vb_op_q(o, PROCESS, 0);
    vb_complete(o, 0, 1, 0, 0x40); /* second chain first, with an interrupt */
    vb_poll(o, 0);
    vb_complete(o, 0, 0, 0, 0);
    vb_complete(o, 0, 0, 1, 0); /* IOERR */
    vb_poll(o, 0);
    vb_op_q(o, COMPLETE_ALL, 0);
    vb_poll(o, 0);
    vb_submit(o, 4, 3, 16, 300, 0, 0); /* TRIM */
    vb_submit(o, 5, 4, 16, 400, 2, 0); /* WRITE_ZEROES, UNMAP */
    vb_op_q(o, COMPLETE_ALL, 0);
    vb_poll(o, 0);
    if (raw) {
        vb_submit(o, 6, 0, 1, 7, 0, 0);
        vb_op_q(o, PROCESS, 0);
        put8(o, RAW_USED);
        put8(o, 0);
        putle(o, 0, 2);
        putle(o, 513, 4);
        putle(o, 0x8080, 2);
        vb_poll(o, 0);
    }
    put8(o, GET_ID);
    put8(o, 50);
    put8(o, SERVICE);
}

static void seed_vblk(void)
{
    struct out o = {0};

    /* split: polled, event index + indirect; interrupts; legacy mmio v1; page-split buffers */
    vb_header(&o, 0x06, 16, 0x3c, 0);
    vb_script(&o, true);
    save("vring_split", "polled-event-idx-indirect", &o);
    reset(&o);
    vb_header(&o, 0x10 | 0x08, 8, 0x3c, 0);
    vb_script(&o, true);
    save("vring_split", "irq-ring-reset", &o);
    reset(&o);
    vb_header(&o, 0x01 | 0x10 | 0x20, 4, 0x04, 0);
    vb_script(&o, true);
    save("vring_split", "mmio-v1-pages", &o);
    reset(&o);
    vb_header(&o, 0x80 | 0x40 | 0x10, 32, 0xbe, 0);
    vb_script(&o, false);
    put8(&o, USED_IDX);
    put8(&o, 0);
    putle(&o, 3, 2);
    vb_poll(&o, 0);
    save("vring_split", "mq-immediate-idx-jump", &o);

    /* packed */
    reset(&o);
    vb_header(&o, 0x06, 16, 0x3c, 0);
    vb_script(&o, true);
    save("vring_packed", "polled-event-idx-indirect", &o);
    reset(&o);
    vb_header(&o, 0x10 | 0x08, 5, 0x3c, 0);
    vb_script(&o, true);
    save("vring_packed", "irq-odd-size", &o);
    reset(&o);
    vb_header(&o, 0x80 | 0x40 | 0x10 | 0x20, 32, 0xbe, 0);
    vb_script(&o, false);
    save("vring_packed", "mq-immediate-pages", &o);

    /* status: split and packed, statuses, GET_ID, resets */
    reset(&o);
    vb_header(&o, 0x04, 16, 0x7c, 0);
    vb_script(&o, false);
    save("vblk_status", "split", &o);
    reset(&o);
    vb_header(&o, 0x14, 16, 0x7c, 1);
    vb_script(&o, false);
    vb_op_q(&o, NEEDS_RESET, 0);
    vb_poll(&o, 0);
    save("vblk_status", "packed-needs-reset", &o);
    reset(&o);
    vb_header(&o, 0x18, 8, 0x7c, 0);
    vb_submit(&o, 0, 0, 2, 0, 0, 0);
    vb_op_q(&o, PROCESS, 0);
    vb_op_q(&o, DROP, 0);
    put8(&o, 0);
    put8(&o, ADVANCE);
    put8(&o, 0x85);
    vb_poll(&o, 0);
    vb_op_q(&o, RESET_STUCK, 0);
    vb_submit(&o, 1, 0, 2, 0, 0, 0);
    put8(&o, ADVANCE);
    put8(&o, 0x85);
    vb_poll(&o, 0);
    save("vblk_status", "timeout-stuck-reset", &o);
    free(o.b);
}

/* ---- nvme_init, nvme: header + operation scripts ------------------------------------------------
 */

/* fuzz_nvme.c header: b0 irq/map/flags, b1 queues/depth, b2 formats, b3 MDTS, b4 ONCS, b5 AERL /
 * ACL / power states, b6 write budget while attaching, b7 admin timeout, two faults, CAP XOR, VS.
 */
static void nv_header(struct out *o, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b6,
                      const uint8_t fault[8])
{
    static const uint8_t none[8] = {0xff, 0, 0, 0, 0, 0, 0, 0};

    put8(o, b0);
    put8(o, b1);
    put8(o, b2);
    put8(o, 7);    /* MDTS */
    put8(o, 0x0d); /* ONCS: compare, DSM, write zeroes */
    put8(o, 0x17); /* AERL 3, ACL 1, two power states */
    put8(o, b6);
    put8(o, 100); /* admin timeout 41 ms */
    put(o, fault != NULL ? fault : none, 8);
    put(o, none, 8);
    putle(o, 0, 4); /* CAP XOR */
    putle(o, 0, 4);
    putle(o, 0, 4); /* VS */
}

enum {
    NV_SUBMIT,
    NV_POLL,
    NV_ADVANCE,
    NV_SERVICE,
    NV_CHECK_TIMEOUTS,
    NV_RESET,
    NV_IDENTIFY,
    NV_FEATURES,
    NV_LOGS,
    NV_PASSTHRU,
    NV_POWER,
    NV_TEMPERATURE,
    NV_DEALLOCATE,
    NV_COMPARE,
    NV_BATCH,
    NV_MUTATE,
    NV_POST_AER,
    NV_HEALTH
};

static void nv_submit_args(struct out *o, uint8_t slot, uint8_t op, uint8_t count, uint16_t lba,
                           uint8_t q)
{
    put8(o, 0); /* namespace index */
    put8(o, slot);
    put8(o, op);
    put8(o, 0); /* LBA as given */
    put8(o, (uint8_t)(count - 1u));
    put8(o, 0);
    put8(o, q);
    putle(o, 1000, 2);        /* timeout 21 ms */
    putle(o, slot * 123u, 2); /* misalignment */
    putle(o, lba, 2);
}

static void nv_submit(struct out *o, uint8_t slot, uint8_t op, uint8_t count, uint16_t lba,
                      uint8_t q)
{
    put8(o, NV_SUBMIT);
    nv_submit_args(o, slot, op, count, lba, q);
}

static void nv_poll(struct out *o, uint8_t q)
{
    put8(o, NV_POLL);
    put8(o, 0);
    put8(o, q);
    put8(o, 0);
}

static void nv_script(struct out *o)
{
    nv_submit(o, 0, 0, 8, 0, 0);
    nv_submit(o, 1, 1, 8, 16, 1);
    nv_submit(o, 2, 2, 1, 0, 0);
    nv_submit(o, 3, 4, 4, 40, 1);
    nv_poll(o, 0);
    nv_poll(o, 1);
    put8(o, NV_IDENTIFY);
    put8(o, 1);
    put8(o, 0);
    put8(o, NV_FEATURES);
    put8(o, 0);
    put8(o, 7);
    putle(o, 0, 4);
    put8(o, NV_LOGS);
    put8(o, 0); /* SMART */
    put8(o, NV_LOGS);
    put8(o, 1); /* error log */
    put8(o, 4);
    put8(o, NV_POST_AER);
    put8(o, 1);
    put8(o, 1);
    put8(o, 2);
    put8(o, NV_SERVICE);
    put8(o, NV_DEALLOCATE);
    put8(o, 0);
    put8(o, 0);
    put8(o, 20);
    put8(o, 2);
    putle(o, 10, 2);
    putle(o, 4, 2);
    putle(o, 100, 2);
    putle(o, 8, 2);
    put8(o, NV_COMPARE);
    put8(o, 1);
    put8(o, 0);
    put8(o, 20);
    put8(o, 1);
    put8(o, 64);
    put8(o, NV_BATCH);
    put8(o, 0);
    put8(o, 2);
    nv_submit_args(o, 4, 0, 2, 200, 0);
    nv_submit_args(o, 5, 1, 3, 300, 0);
    nv_poll(o, 0);
    put8(o, NV_MUTATE);
    put8(o, 0);
    nv_submit(o, 6, 0, 1, 7, 1);
    put8(o, 1); /* CID rewritten */
    putle(o, 0x1234, 2);
    nv_poll(o, 1);
    put8(o, NV_HEALTH);
    put8(o, 1);
    put8(o, 120);
    put8(o, NV_SERVICE);
    put8(o, NV_RESET);
    nv_submit(o, 7, 0, 16, 500, 0);
    nv_poll(o, 0);
}

static void seed_nvme(void)
{
    static const uint8_t hang_read[8] = {7, 0, 1, 3, 0, 0, 0, 0};      /* CMD_HANG on a read */
    static const uint8_t delay_id[8] = {8, 1, 1, 5, 0x10, 0x27, 0, 0}; /* CQE_DELAY identify */
    struct out o = {0};

    nv_header(&o, 0x01, 0x02 | (7u << 3), 0x00, 0, NULL);
    save("nvme_init", "polled", &o);
    reset(&o);
    nv_header(&o, 0x00, 0x04, 0x01, 0, NULL);
    save("nvme_init", "msix-4k", &o);
    reset(&o);
    nv_header(&o, 0x03 | 0x04, 0x01 | (3u << 3), 0x70, 0, NULL);
    save("nvme_init", "intx-bounce-three-ns-no-list", &o);
    reset(&o);
    nv_header(&o, 0x01, 0x02, 0x26, 12, delay_id);
    put(&o, "\0\0\0\x05\x01\x00\x10\0\0\0\x02\0", 12); /* a few rewrites while attaching */
    save("nvme_init", "rewrites-metadata-wp", &o);

    reset(&o);
    nv_header(&o, 0x01, 0x02 | (7u << 3), 0x10, 0, NULL);
    nv_script(&o);
    save("nvme", "polled-two-ns", &o);
    reset(&o);
    nv_header(&o, 0x00 | 0x08, 0x02, 0x01, 0, NULL);
    nv_script(&o);
    save("nvme", "msix-4k-contiguous", &o);
    reset(&o);
    nv_header(&o, 0x03 | 0x20, 0x01 | (1u << 3), 0x80, 0, hang_read);
    nv_script(&o);
    save("nvme", "intx-depth2-hung-read", &o);
    free(o.b);
}

/* ---- vscsi: header + operation scripts
 * ------------------------------------------------------------
 */

/* fuzz_vscsi.c header: b0 transport / ring / irq / map, b1 queues / targets, b2 topology, b3
 * configuration limits, b4 write budget while attaching, b5 name base, b6 sizes, b7, two faults. */
static void vs_header(struct out *o, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3, uint8_t b4,
                      const uint8_t fault[8])
{
    static const uint8_t none[8] = {0xff, 0, 0, 0, 0, 0, 0, 0};

    put8(o, b0);
    put8(o, b1);
    put8(o, b2);
    put8(o, b3);
    put8(o, b4);
    put8(o, 0);
    put8(o, 0x4c);
    put8(o, 0);
    put(o, fault != NULL ? fault : none, 8);
    put(o, none, 8);
}

enum {
    VS_SUBMIT,
    VS_POLL,
    VS_ADVANCE,
    VS_SERVICE,
    VS_SCAN,
    VS_RECOVER,
    VS_TMF,
    VS_COMMAND,
    VS_MUTATE,
    VS_HOTPLUG,
    VS_UNPLUG,
    VS_CAPACITY,
    VS_MEDIUM,
    VS_UA
};

static void vs_submit(struct out *o, uint8_t disk, uint8_t slot, uint8_t op, uint8_t count,
                      uint16_t lba, uint8_t q)
{
    put8(o, VS_SUBMIT);
    put8(o, disk);
    put8(o, slot);
    put8(o, op);
    put8(o, 0);
    put8(o, (uint8_t)(count - 1u));
    put8(o, 0);
    put8(o, q);
    putle(o, 2000, 2);
    putle(o, slot * 77u, 2);
    putle(o, lba, 2);
}

static void vs_poll(struct out *o, uint8_t disk, uint8_t q)
{
    put8(o, VS_POLL);
    put8(o, disk);
    put8(o, q);
    put8(o, 0);
}

static void vs_model(struct out *o, uint8_t op, uint8_t t, uint8_t l, uint8_t sel)
{
    put8(o, op);
    put8(o, t);
    put8(o, l);
    put8(o, sel);
}

static void vs_script(struct out *o)
{
    static const uint8_t inquiry[16] = {0x12, 0, 0, 0, 96};
    static const uint8_t rc16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32};

    vs_submit(o, 0, 0, 0, 8, 0, 0);
    vs_submit(o, 0, 1, 1, 8, 64, 0);
    vs_submit(o, 1, 2, 0, 4, 8, 1);
    vs_submit(o, 0, 3, 2, 1, 0, 0);
    vs_submit(o, 1, 4, 3, 16, 32, 0);
    vs_poll(o, 0, 0);
    vs_poll(o, 1, 1);
    put8(o, VS_COMMAND);
    put8(o, 0); /* 10-byte CDB slot */
    put8(o, 0);
    put8(o, 0);
    putle(o, 96, 2);
    put8(o, 0);
    put(o, inquiry, 16);
    put8(o, 10);
    put8(o, VS_COMMAND);
    put8(o, 1);
    put8(o, 1);
    put8(o, 0);
    putle(o, 32, 2);
    put8(o, 0);
    put(o, rc16, 16);
    put8(o, 10);
    put8(o, VS_TMF);
    put8(o, 5); /* LOGICAL UNIT RESET */
    put8(o, 0);
    put8(o, 0);
    putle(o, 0, 8);
    vs_model(o, VS_HOTPLUG, 0, 2, 0x11);
    put8(o, VS_SERVICE);
    vs_model(o, VS_CAPACITY, 0, 0, 40);
    put8(o, VS_SERVICE);
    vs_model(o, VS_UA, 0, 0, 0x2a);
    put8(o, 0x09);
    vs_submit(o, 0, 5, 0, 2, 0, 0);
    vs_poll(o, 0, 0);
    vs_model(o, VS_UNPLUG, 1, 0, 0);
    put8(o, VS_SERVICE);
    put8(o, VS_MUTATE);
    put8(o, 3);
    vs_submit(o, 0, 6, 0, 1, 3, 0);
    put8(o, 0);
    put8(o, 0);
    put8(o, 0x01); /* rewrite one byte of the response */
    put8(o, 10);
    put8(o, 0x02);
    vs_poll(o, 0, 0);
    put8(o, VS_SCAN);
    put8(o, 0x80);
    put8(o, VS_RECOVER);
    vs_submit(o, 0, 7, 0, 8, 100, 0);
    vs_poll(o, 0, 0);
}

static void seed_vscsi(void)
{
    static const uint8_t sense_lie[8] = {17, 2, 1, 0, 0, 0, 0, 0};   /* 2102 sense length lie */
    static const uint8_t hang_read[8] = {28, 3, 1, 6, 0, 0, 0, 0};   /* 3005 hang on READ(10) */
    static const uint8_t luns_lie[8] = {32, 0, 1, 0, 0x33, 0, 0, 0}; /* 3009 LUN list length */
    struct out o = {0};

    vs_header(&o, 0x00, 0x02, 0x2f, 0x00, 0, NULL);
    vs_script(&o);
    save("vscsi", "pci-modern-polled", &o);
    reset(&o);
    vs_header(&o, 0x01 | 0x04 | 0x08, 0x03, 0x6b, 0x89, 0, sense_lie);
    vs_script(&o);
    save("vscsi", "mmio-packed-irq-limits", &o);
    reset(&o);
    vs_header(&o, 0x02 | 0x10, 0x02, 0x0b, 0x00, 0, hang_read);
    vs_script(&o);
    save("vscsi", "mmio-v1-bounce-hang", &o);
    reset(&o);
    vs_header(&o, 0x03 | 0x40, 0x04, 0x29, 0x00, 40, luns_lie);
    put(&o, "\0\0\0\0\0\0\0\0\x01\x05\x00\0\0\0\0\0\0\0\0\0\x21\x0c\x00\0", 24);
    vs_script(&o);
    save("vscsi", "transitional-rewrites-luns-lie", &o);
    free(o.b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seedgen <corpus-dir>\n");
        return 2;
    }
    g_root = argv[1];
    if (mkdir(g_root, 0755) != 0 && errno != EEXIST) {
        perror(g_root);
        return 1;
    }
    seed_part();
    seed_scsi();
    seed_virtio_config();
    seed_vblk();
    seed_nvme();
    seed_vscsi();
    printf("seedgen: %u seed files under %s\n", g_files, g_root);
    free(g_rec.b);
    return 0;
}
