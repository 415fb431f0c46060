/* SPDX-License-Identifier: MIT */
/*
 * vtest.h - shared fixture for the virtio host tests: a sim, a virtio-blk device model on one of
 * the transports, and Keel's virtio-blk driver attached to it.
 */
#ifndef KEEL_TEST_VTEST_H
#define KEEL_TEST_VTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/virtio.h>
#include <keel/virtio_blk.h>
#include <keel/virtqueue.h>
#include <sim/sim.h>
#include <virtio_model.h>

struct vt_params {
    enum vmodel_transport transport;
    bool packed;           /* offer RING_PACKED (modern transports only) */
    bool irq;              /* KEEL_VIRTIO_IRQ_AUTO, else polling */
    enum sim_map_mode map; /* how the sim maps caller buffers */
};

struct vt {
    struct vt_params p;
    struct sim *s;
    struct vmodel *m;
    struct vmodel_blk *b;
    struct keel_vblk *vb;
    struct vmodel_cfg mc;       /* tweak before vt_start */
    struct vmodel_blk_cfg bc;   /* tweak before vt_start */
    struct keel_vblk_opts opts; /* tweak before vt_start */
};

/** Sim + default model/blk/driver configuration for `p` (nothing created yet). */
void vt_init(struct vt *v, const struct vt_params *p);
/** Create the model, probe the transport and attach the driver: returns the attach result. */
int vt_start(struct vt *v);
/** Only create the model and probe the transport into v->vb->vdev (no attach). */
int vt_probe(struct vt *v);
/** Detach (if attached), destroy model and sim; asserts the sim saw no violation first. */
void vt_finish(struct vt *v);
/** The same without the cleanliness assertion (tests that expect violations clear them first). */
void vt_teardown(struct vt *v);

/** Compare `len` bytes of the model's media at byte offset `off` with `buf`. */
bool vt_media_equals(struct vt *v, uint64_t off, const void *buf, size_t len);
/** Pattern helper: fill `buf` with a deterministic sequence derived from `seed`. */
void vt_fill(void *buf, size_t len, uint32_t seed);

/** Asynchronous request bookkeeping. */
struct vt_req {
    struct keel_blk_req r;
    bool done;
    int status;
};
void vt_req_init(struct vt_req *q, uint8_t op, uint16_t queue, uint64_t lba, uint32_t count,
                 void *buf);
/** Poll queue `queue` until `q` completes or `max_polls` polls passed; returns q->status or
    KEEL_EAGAIN when it never completed. */
int vt_wait(struct vt *v, struct vt_req *q, unsigned max_polls);

#endif
