/* SPDX-License-Identifier: MIT */
/* The driver-side sequence of the virtio_config target: see fuzz_vcfg.h. */
#include "fuzz_vcfg.h"

#include <stdlib.h>
#include <string.h>

#include <keel/error.h>
#include <keel/virtio.h>

#include "fuzz_hal.h"

#define READ_TIMEOUT_US 1000u
#define READ_SLACK_US   60000000ull
#define POLL_STEP_US    10000u

struct keel_pci_addr vcfg_pci_addr(void)
{
    struct keel_pci_addr a = {0, 0, 4, 0};
    return a;
}

static int probe(const struct vcfg_env *env, uint8_t how, struct keel_virtio_dev *d)
{
    switch (how % VCFG_PROBE_COUNT) {
    case VCFG_MMIO:
        return keel_virtio_mmio_probe(d, env->hal, VCFG_MMIO_BASE, VCFG_MMIO_SIZE, VCFG_IRQ_LINE);
    case VCFG_PCI:
        return keel_virtio_pci_probe(d, env->hal, vcfg_pci_addr(), 0, false);
    case VCFG_PCI_PREFER_LEGACY:
        return keel_virtio_pci_probe(d, env->hal, vcfg_pci_addr(), 0, true);
    case VCFG_PCI_MODERN:
        return keel_virtio_pci_modern_probe(d, env->hal, vcfg_pci_addr(), 0);
    default:
        return keel_virtio_pci_legacy_probe(d, env->hal, vcfg_pci_addr(), 0);
    }
}

struct rd {
    unsigned calls;
    uint8_t *mem;
    size_t len;
    struct fuzz_hal *fh;
};

static void rd_done(struct keel_blk_req *r)
{
    struct rd *x = r->user;

    if (++x->calls != 1u && x->fh != NULL)
        fh_fail("virtio_config: request completed twice");
    if (x->fh != NULL && fh_buf_mapped(x->fh, x->mem, x->len))
        fh_fail("virtio_config: request completed with its buffer still mapped");
}

/* One READ of the first block, polled until it finishes (the device in stream mode never writes
 * the rings: the request must time out and the driver recover through the registers). */
static void one_read(const struct vcfg_env *env, struct keel_vblk *vb)
{
    struct fuzz_hal *fh = env->hal_ctx_fh;
    struct keel_blk_req r;
    struct rd x = {0, NULL, 0, fh};
    uint64_t waited = 0;
    int rc;

    x.len = vb->blk.info.sector_size;
    x.mem = malloc(x.len);
    if (x.mem == NULL)
        abort();
    memset(&r, 0, sizeof(r));
    r.op = KEEL_BLK_OP_READ;
    r.count = 1;
    r.buf = x.mem;
    r.timeout_us = READ_TIMEOUT_US;
    r.done = rd_done;
    r.user = &x;
    rc = keel_blk_submit(&vb->blk, &r);
    if (rc == KEEL_OK) {
        while (x.calls == 0u) {
            (void)keel_blk_poll(&vb->blk, 0, 0);
            env->advance(env->arg, POLL_STEP_US);
            waited += POLL_STEP_US;
            if (waited > READ_SLACK_US) {
                if (fh != NULL)
                    fh_fail("virtio_config: READ still open %llu us after its deadline",
                            (unsigned long long)waited);
                keel_vblk_detach(vb); /* seedgen: finish it anyway */
                break;
            }
        }
    } else if (x.calls != 0u && fh != NULL) {
        fh_fail("virtio_config: done() ran for a refused request");
    }
    free(x.mem);
}

static void check_info(const struct keel_blkdev_info *i)
{
    if (i->sector_size < 512u || i->sector_size > 65536u ||
        (i->sector_size & (i->sector_size - 1u)) != 0u || i->queue_count == 0u ||
        i->queue_count > KEEL_CONFIG_BLK_MAX_QUEUES || i->max_transfer == 0u)
        fh_fail("virtio_config: attached with sector size %u, %u queue(s), max transfer %u",
                i->sector_size, i->queue_count, i->max_transfer);
}

int vcfg_run(const struct vcfg_env *env, const uint8_t hdr[VCFG_HDR_BYTES], struct keel_vblk *vb)
{
    struct keel_vblk_opts o;
    uint8_t act = hdr[3];
    int rc;

    rc = probe(env, hdr[0], &vb->vdev);
    if (rc != KEEL_OK)
        return rc;
    memset(&o, 0, sizeof(o));
    o.irq = (hdr[1] & VCFG_OPT_IRQ) ? KEEL_VIRTIO_IRQ_AUTO : KEEL_VIRTIO_IRQ_POLL;
    o.no_packed = (hdr[1] & VCFG_OPT_NO_PACKED) != 0u;
    o.max_queues = (uint16_t)((hdr[1] >> 2) & 3u);
    o.queue_size = (hdr[1] >> 4) ? (uint16_t)(1u << (hdr[1] >> 4)) : 0u;
    rc = keel_vblk_attach(vb, &o);
    if (rc != KEEL_OK)
        return rc;
    if (env->hal_ctx_fh != NULL)
        check_info(&vb->blk.info);
    if (act & VCFG_ACT_SERVICE) {
        env->advance(env->arg, 200000u);
        (void)keel_vblk_service(vb);
    }
    if (act & VCFG_ACT_WRITEBACK)
        (void)keel_vblk_set_writeback(vb, (act & VCFG_ACT_WB_ON) != 0u);
    if ((act & VCFG_ACT_READ) && vb->attached)
        one_read(env, vb);
    if ((act & VCFG_ACT_RECOVER) && vb->attached)
        (void)keel_vblk_recover(vb);
    keel_vblk_detach(vb);
    return KEEL_OK;
}
