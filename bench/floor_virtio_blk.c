/* SPDX-License-Identifier: MIT */
/*
 * The virtio-blk protocol floor: 4 KiB reads as header (16 bytes, device-readable), data (4 KiB)
 * and status (1 byte) chains, a batch of `qd` per notification, on a split or packed ring. Per
 * request it writes the header, presets the status, fills three descriptors and a ring entry;
 * per completion it checks the id and the status byte.
 */
#include <keel/hal.h>

#include "floor_virtio.h"

#define HDR_BYTES   16u
#define STATUS_OFF  16u
#define SLOT_STRIDE 32u

static void write_header(struct floor_blk *f, uint16_t s, uint64_t sector)
{
    uint8_t *h = f->slot_cpu + (size_t)s * SLOT_STRIDE;

    fv_wr32(h, 0);      /* VIRTIO_BLK_T_IN */
    fv_wr32(h + 4u, 0); /* reserved */
    fv_wr64(h + 8u, sector);
    *(volatile uint8_t *)(h + STATUS_OFF) = 0xffu; /* unwritten status reads as a failure */
}

static inline __attribute__((always_inline)) unsigned
reap(struct floor_blk *f, uint32_t (*used)(struct floor_vq *, uint32_t), unsigned want,
     uint64_t *ok)
{
    unsigned got = 0;

    while (got < want) {
        uint32_t id = used(&f->vq, f->qd);
        if (id == FV_NO_USED)
            continue; /* the device has not answered yet (never with the instant device) */
        got++;
        if (id != FV_BAD_USED &&
            *(volatile uint8_t *)(f->slot_cpu + (size_t)id * SLOT_STRIDE + STATUS_OFF) == 0u)
            (*ok)++;
    }
    return got;
}

uint64_t floor_vblk_split(void *ctx, uint64_t ios)
{
    struct floor_blk *f = ctx;
    uint64_t done = 0, ok = 0;

    while (done < ios) {
        unsigned n = ios - done < f->qd ? (unsigned)(ios - done) : f->qd;
        uint16_t s;
        for (s = 0; s < n; s++) {
            uint64_t bus = f->slot_bus + (uint64_t)s * SLOT_STRIDE;
            write_header(f, s, ((f->seq++) * 8u) & f->lba_mask);
            fv_split_add(&f->vq, s, (uint16_t)f->qd, (struct fv_buf){bus, HDR_BYTES},
                         (struct fv_buf){f->data_bus[s], BENCH_BLOCK_BYTES},
                         (struct fv_buf){bus + STATUS_OFF, 1u});
        }
        fv_split_kick(&f->vq);
        done += reap(f, fv_split_used, n, &ok);
    }
    return ok;
}

uint64_t floor_vblk_packed(void *ctx, uint64_t ios)
{
    struct floor_blk *f = ctx;
    uint64_t done = 0, ok = 0;
    uint16_t heads[BENCH_QD_MAX], flags[BENCH_QD_MAX];

    while (done < ios) {
        unsigned n = ios - done < f->qd ? (unsigned)(ios - done) : f->qd;
        uint16_t s;
        for (s = 0; s < n; s++) {
            uint64_t bus = f->slot_bus + (uint64_t)s * SLOT_STRIDE;
            write_header(f, s, ((f->seq++) * 8u) & f->lba_mask);
            heads[s] = fv_packed_add(&f->vq, s, (struct fv_buf){bus, HDR_BYTES},
                                     (struct fv_buf){f->data_bus[s], BENCH_BLOCK_BYTES},
                                     (struct fv_buf){bus + STATUS_OFF, 1u}, &flags[s]);
        }
        fv_packed_kick(&f->vq, heads, flags, n);
        done += reap(f, fv_packed_used, n, &ok);
    }
    return ok;
}
