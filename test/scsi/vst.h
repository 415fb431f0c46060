/* SPDX-License-Identifier: MIT */
/*
 * vst.h - shared fixture for the virtio-scsi host tests: a sim, the SCSI target model (standard
 * topology unless told otherwise), the virtio-scsi device backend on one of the virtio model's
 * transports, and Keel's virtio-scsi driver attached to it.
 */
#ifndef KEEL_TEST_VST_H
#define KEEL_TEST_VST_H

#include <sim/test_common.h>

#include <keel/blkdev.h>
#include <keel/error.h>
#include <keel/registry.h>
#include <keel/scsi.h>
#include <keel/virtio.h>
#include <keel/virtio_scsi.h>
#include <scsi_model.h>
#include <sim/sim.h>
#include <virtio_model.h>

#include "vscsi_dev.h"

struct vst_params {
    enum vmodel_transport transport;
    bool packed;           /* offer RING_PACKED (modern transports only) */
    bool irq;              /* KEEL_VIRTIO_IRQ_AUTO, else polling */
    enum sim_map_mode map; /* how the sim maps caller buffers */
    size_t arena;          /* DMA arena bytes (0: 16 MiB) */
    size_t bounce;         /* bounce arena bytes (0: 8 MiB) */
};

#define VST_EV_LOG 128u

struct vst_event {
    enum keel_vscsi_event ev;
    uint8_t target;
    uint16_t lun;
    char name[KEEL_CONFIG_BLK_NAME_MAX];
};

struct vst {
    struct vst_params p;
    struct sim *s;
    struct scsi_model *sm;
    struct vscsi_dev *d;
    struct vmodel *m;
    struct keel_vscsi *vs;
    struct vmodel_cfg mc;        /* tweak before vst_start */
    struct vscsi_dev_cfg dc;     /* tweak before vst_start */
    struct keel_vscsi_opts opts; /* tweak before vst_start */
    struct keel_registry reg;
    struct keel_vscsi_lun *table; /* caller LUN table (vst_big_table) */
    unsigned nev;
    struct vst_event evlog[VST_EV_LOG];
};

/** Sim + SCSI model (standard topology when `standard`) + default configuration (nothing started).
 */
void vst_init(struct vst *v, const struct vst_params *p, bool standard);
/** The standard topology without target 5 (its 300 LUNs): room left in tables and registries. */
void vst_small_topology(struct scsi_model *sm);
/** Shorthand: vst_init on PCI modern, split ring, polling, translated mappings. */
void vst_init_default(struct vst *v, bool standard);
/** Give the driver a caller LUN table of `n` entries. */
void vst_big_table(struct vst *v, unsigned n);
/** Create the device, probe the transport and attach the driver: returns the attach result. */
int vst_start(struct vst *v);
/** Detach (if attached), assert the sim saw no violation, destroy everything. */
void vst_finish(struct vst *v);
/** The same without the cleanliness assertion. */
void vst_teardown(struct vst *v);

/** The block device of target/lun (asserts it exists). */
struct keel_blkdev *vst_disk(struct vst *v, uint8_t target, uint16_t lun);
/** Compare `len` bytes of the LUN's medium at byte `off` with `buf`. */
bool vst_media_equals(struct vst *v, uint8_t target, uint16_t lun, uint64_t off, const void *buf,
                      size_t len);
/** Deterministic fill. */
void vst_fill(void *buf, size_t len, uint32_t seed);
/** Events of one kind the callback saw. */
unsigned vst_events(const struct vst *v, enum keel_vscsi_event ev);
/** Run keel_vscsi_service a few times, advancing the clock (events are asynchronous). */
void vst_service(struct vst *v);
/** Write then read back `n` blocks at `lba` and compare with the medium; asserts success. */
void vst_roundtrip(struct vst *v, uint8_t target, uint16_t lun, uint64_t lba, uint32_t n,
                   uint32_t seed);

/** Asynchronous request bookkeeping. */
struct vst_req {
    struct keel_blk_req r;
    bool done;
    int status;
    unsigned held_at_done; /* commands the device still held when done() ran */
    unsigned vq_at_done;   /* chains the device still had on the queue when done() ran */
    struct vst *v;
};
void vst_req_init(struct vst_req *q, struct vst *v, uint8_t op, uint16_t queue, uint64_t lba,
                  uint32_t count, void *buf);
/** Poll until `q` completes or `max_polls` polls (each 100 us apart) passed; q->status or
    KEEL_EAGAIN. */
int vst_wait(struct vst *v, struct keel_blkdev *dev, struct vst_req *q, unsigned max_polls);

#endif
