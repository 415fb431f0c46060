/* SPDX-License-Identifier: MIT */
/*
 * vscsi_dev.h - the virtio-scsi device (VIRTIO 1.2 section 5.6) for host tests: a backend of the
 * virtio device model (struct vmodel_device_ops) in front of the SCSI target model.
 *
 * What it does, as QEMU's virtio-scsi does where that matters to a driver:
 *  - Device id 8 (PCI 1af4:1004 transitional / 1af4:1048 modern, class 010000h), queues: 0 control,
 *    1 event, 2.. cfg.num_queues request queues. Features offered: cfg.features (default HOTPLUG |
 *    CHANGE).
 *  - Configuration (5.6.4): num_queues, seg_max, max_sectors, cmd_per_lun, event_info_size,
 *    sense_size and cdb_size (driver-writable; 96 / 32 again after every reset; a write of a
 *    sense_size >= 65536 or cdb_size >= 256, or of any other field, is a violation), max_channel,
 *    max_target, max_lun.
 *  - Request queues: the chain must start with a readable header of 19 + cdb_size bytes and have a
 *    writable response of 12 + sense_size bytes (else a violation, and nothing is written);
 * data-out follows the header, data-in the response. lun[0] must be 1, lun[1] is the target,
 * lun[2..3] a single-level LUN in peripheral (00h, LUN) or flat (40h | hi, lo) form, lun[4..7]
 * zero: anything else, or a target above max_target, answers BAD_TARGET. Both data-in and data-out
 * without INOUT: FAILURE. Data segments beyond seg_max, data beyond max_sectors, or more commands
 * held on one LUN than cmd_per_lun are violations (the driver broke a configuration limit). The
 * SCSI model runs the command; residual = data length - bytes moved (data-in: what the model wrote;
 *    data-out: 0 on GOOD), sense_len = sense bytes (<= sense_size), and on a response other than
 *    OK the residual is the whole data length. A command the model holds stays with the device
 *    (VMODEL_DEFER) until it completes (abort, reset, release, unplug).
 *  - Control queue: TMFs (ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET,
 *    I_T NEXUS RESET, QUERY TASK, QUERY TASK SET, CLEAR ACA) applied to the model; the commands a
 *    TMF ends are completed on their request queues before the TMF itself (5.6.6.2). AN_QUERY and
 *    AN_SUBSCRIBE answer OK with event_actual 0, as QEMU.
 *  - Event queue: buffers are kept by the device until an event is posted. Model events are posted
 *    when a buffer arrives, on vscsi_dev_post_events() and from a sim poller whenever time moves;
 *    with no buffer posted an event is dropped and the next one carries EVENTS_MISSED (as QEMU;
 *    cfg.queue_events keeps them in the model instead). TRANSPORT_RESET RESCAN/REMOVED only with
 *    HOTPLUG negotiated, PARAM_CHANGE only with CHANGE negotiated (else filtered).
 *  - Device reset: every held command is dropped and the SCSI bus reset (scsi_model_reset: unit
 *    attention 29/00 on every LUN, as QEMU's bus reset does).
 *  - Byte order: the fields driver and device share (request id, sense_len, residual, control
 *    requests, events, configuration) are little-endian on the modern interface and in the guest's
 *    (the host's) order on the legacy one, like the virtio model's rings (vmodel_is_legacy).
 *
 * Faults (sim_fault_arm with the ids below; 2100..2199 are reserved for this backend), on top of
 * the virtio model's (2000+) and the SCSI model's (3000+).
 *
 * Thread-safety: none, like the sim.
 */
#ifndef VSCSI_DEV_H
#define VSCSI_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <scsi_model.h>
#include <virtio_model.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VSCSI_F_INOUT   (1ull << 0)
#define VSCSI_F_HOTPLUG (1ull << 1)
#define VSCSI_F_CHANGE  (1ull << 2)
#define VSCSI_F_T10_PI  (1ull << 3)

#define VSCSI_DEV_LOG 8192u

struct vscsi_dev_cfg {
    uint32_t num_queues;      /* request queues (default 1) */
    uint32_t seg_max;         /* default 126 (QEMU: queue size - 2) */
    uint32_t max_sectors;     /* default 0xffff */
    uint32_t cmd_per_lun;     /* default 128 */
    uint32_t event_info_size; /* default 16 */
    uint16_t max_channel;     /* default 0 */
    uint16_t max_target;      /* default 255 */
    uint32_t max_lun;         /* default 16383 */
    uint64_t features;        /* default HOTPLUG | CHANGE */
    bool ignore_size_writes;  /* sense_size / cdb_size writes are ignored (stay 96 / 32) */
    bool queue_events;        /* events wait in the model while no buffer is posted */
};

/** One command as the device saw it. */
struct vscsi_cmd_log {
    unsigned queue;
    uint8_t target;
    uint32_t lun;
    bool flat; /* LUN in flat-space form */
    uint8_t cdb[16];
    uint64_t tag;
    uint32_t out_len, in_len; /* data-out / data-in buffer bytes */
    unsigned out_segs, in_segs;
    uint8_t response, status;
};

struct vscsi_dev_stats {
    uint64_t cmds;
    uint64_t cmds_per_queue[VMODEL_MAX_QUEUES]; /* index = virtqueue number */
    uint64_t responses[16];                     /* by response code written */
    uint64_t tmfs[8];                           /* by TMF subtype */
    uint64_t tmf_results[16];                   /* by TMF response written */
    uint64_t an_queries, an_subscribes;
    uint64_t events_posted, events_dropped, events_filtered;
    uint64_t shape_errors; /* violations of the driver requirements (also sim violations) */
    uint64_t flat_luns, peripheral_luns;
    uint32_t max_data_segs;   /* most data segments in one command */
    uint32_t max_data_bytes;  /* largest data buffer in one command */
    uint32_t max_held_on_lun; /* most commands held at once on one LUN */
    uint64_t size_writes;     /* sense_size / cdb_size writes */
    uint64_t log_total;
    struct vscsi_cmd_log log[VSCSI_DEV_LOG]; /* log[(log_total - 1) % VSCSI_DEV_LOG] = newest */
};

enum vscsi_dev_fault {
    /* Hit per request-queue command answered. Fires: data-in is written, the response is not. */
    VSCSI_FAULT_RESP_UNWRITTEN = 2100,
    /* Hit per command answered. Fires: the response byte is written as (uint8_t)param (0: 0x7e). */
    VSCSI_FAULT_RESP_GARBAGE = 2101,
    /* Hit per CHECK CONDITION answered. Fires: sense_len = sense_size + max(param, 1). */
    VSCSI_FAULT_SENSE_LEN_LIE = 2102,
    /* Hit per command with data answered. Fires: residual = data length + max(param, 1). */
    VSCSI_FAULT_RESIDUAL_LIE = 2103,
    /* Hit per TMF. Fires: the TMF is never completed (until a device reset). */
    VSCSI_FAULT_TMF_HANG = 2104,
    /* Hit per TMF. Fires: FUNCTION COMPLETE is answered without doing anything. */
    VSCSI_FAULT_TMF_IGNORE = 2105,
    /* Hit per event posted. Fires: lun[0] is written as param (0: 2): an impossible address. */
    VSCSI_FAULT_EVENT_BAD_LUN = 2106,
    /* Hit per event posted. Fires: the used length is param (< 16: a short event). */
    VSCSI_FAULT_EVENT_SHORT = 2107,
};

struct vscsi_dev;

void vscsi_dev_cfg_default(struct vscsi_dev_cfg *cfg);
/** A backend over `sm` (which must outlive it). Pass vscsi_dev_ops + it to vmodel_create(). */
struct vscsi_dev *vscsi_dev_create(struct sim *s, struct scsi_model *sm,
                                   const struct vscsi_dev_cfg *cfg);
void vscsi_dev_destroy(struct vscsi_dev *d);
extern const struct vmodel_device_ops vscsi_dev_ops;

/** Create the backend and a virtio model with it (destroy both with vscsi_dev_pair_destroy). */
struct vmodel *vscsi_dev_pair_create(struct sim *s, const struct vmodel_cfg *mcfg,
                                     const struct vscsi_dev_cfg *dcfg, struct scsi_model *sm,
                                     struct vscsi_dev **out);
void vscsi_dev_pair_destroy(struct vmodel *m, struct vscsi_dev *d);

/** Post queued model events into the buffers the driver gave; returns how many were posted. */
unsigned vscsi_dev_post_events(struct vscsi_dev *d);
/** Queue a raw event (exact wire fields) to post ahead of the model's. */
void vscsi_dev_push_raw_event(struct vscsi_dev *d, uint32_t event, const uint8_t lun[8],
                              uint32_t reason);
/** Event buffers the device holds now. */
unsigned vscsi_dev_event_bufs(const struct vscsi_dev *d);
/** Request-queue commands the device holds (the model holds them). */
unsigned vscsi_dev_held(const struct vscsi_dev *d);
/** Current sense_size / cdb_size. */
uint32_t vscsi_dev_sense_size(const struct vscsi_dev *d);
uint32_t vscsi_dev_cdb_size(const struct vscsi_dev *d);
/** Negotiated features (0 before FEATURES_OK). */
uint64_t vscsi_dev_features(const struct vscsi_dev *d);
/** The live configuration: a test may change the limits (seg_max, max_sectors, cmd_per_lun, ...)
    at run time; the device checks against them at once, the driver sees them when it next reads
    its configuration (after a reset). Changing num_queues or the sizes is not supported. */
struct vscsi_dev_cfg *vscsi_dev_config(struct vscsi_dev *d);
const struct vscsi_dev_stats *vscsi_dev_stats(const struct vscsi_dev *d);
/** The i-th most recent command (0 = newest), or NULL. */
const struct vscsi_cmd_log *vscsi_dev_last(const struct vscsi_dev *d, unsigned i);
/** The most recent command with opcode `op` to target/lun, or NULL. */
const struct vscsi_cmd_log *vscsi_dev_find(const struct vscsi_dev *d, uint8_t op, uint8_t target,
                                           uint32_t lun);

#ifdef __cplusplus
}
#endif

#endif
