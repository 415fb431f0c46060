/* SPDX-License-Identifier: MIT */
/*
 * The virtio-scsi protocol floor: 4 KiB READ(10) commands as request header (device-readable),
 * response and data-in (device-writable, in that order: 5.6.6.1) chains on a split ring, a batch
 * of `qd` per notification. Per request it writes the LUN, tag, task attribute, priority, CRN and
 * the ten CDB bytes, fills three descriptors and a ring entry; per completion it checks the id, the
 * virtio response, the SCSI status and the residual.
 */
#include <keel/hal.h>

#include "floor_virtio.h"

/* Unaligned big-endian stores (CDB fields sit at odd offsets of the request). */
static void be32(uint8_t *p, uint32_t v)
{
    uint32_t x = __builtin_bswap32(v);
    __builtin_memcpy(p, &x, sizeof(x));
}

static void be16(uint8_t *p, uint16_t v)
{
    uint16_t x = __builtin_bswap16(v);
    __builtin_memcpy(p, &x, sizeof(x));
}

static void write_request(struct floor_scsi *f, uint16_t s, uint32_t lba)
{
    uint8_t *r = f->slot_cpu + (size_t)s * FLOOR_SCSI_SLOT;

    fv_wr64(r, f->lun_bytes);
    fv_wr64(r + 8u, f->seq); /* tag */
    fv_wr16(r + 16u, 0);     /* task attribute SIMPLE, priority 0 */
    r[18] = 0;               /* CRN */
    r[19] = 0x28u;           /* READ(10) */
    r[20] = 0;
    be32(r + 21u, lba);       /* LOGICAL BLOCK ADDRESS */
    r[25] = 0;                /* GROUP NUMBER */
    be16(r + 26u, f->blocks); /* TRANSFER LENGTH */
    r[28] = 0;                /* CONTROL */
}

static bool answer_ok(const struct floor_scsi *f, uint32_t id)
{
    const uint8_t *a = f->slot_cpu + (size_t)id * FLOOR_SCSI_SLOT + FLOOR_SCSI_RESP_OFF;

    /* response (byte 11) VIRTIO_SCSI_S_OK, status (byte 10) GOOD, residual (4..7) zero. */
    return fv_rd16(a + 10u) == 0u && fv_rd32(a + 4u) == 0u;
}

uint64_t floor_vscsi_split(void *ctx, uint64_t ios)
{
    struct floor_scsi *f = ctx;
    uint64_t done = 0, ok = 0;

    while (done < ios) {
        unsigned n = ios - done < f->qd ? (unsigned)(ios - done) : f->qd, got = 0;
        uint16_t s;
        for (s = 0; s < n; s++) {
            uint64_t bus = f->slot_bus + (uint64_t)s * FLOOR_SCSI_SLOT;
            write_request(f, s, (uint32_t)((f->seq++ * f->blocks) & f->lba_mask));
            /* 5.6.6.1: request, response, then data-in. */
            fv_split_add(&f->vq, s, (uint16_t)f->qd, (struct fv_buf){bus, f->req_len},
                         (struct fv_buf){bus + FLOOR_SCSI_RESP_OFF, f->resp_len},
                         (struct fv_buf){f->data_bus[s], BENCH_BLOCK_BYTES});
        }
        fv_split_kick(&f->vq);
        while (got < n) {
            uint32_t id = fv_split_used(&f->vq, f->qd);
            if (id == FV_NO_USED)
                continue;
            got++;
            if (id != FV_BAD_USED && answer_ok(f, id))
                ok++;
        }
        done += got;
    }
    return ok;
}
