/* SPDX-License-Identifier: MIT */
/*
 * scsi_model.h - a host-side model of SCSI targets and logical units for Keel's tests.
 *
 * Transport-independent: a transport model (the virtio-scsi device model wraps it behind
 * struct vmodel_device_ops) hands it a command (target, LUN, CDB, data buffers) and gets back a
 * transport-level response, a SCSI status, data-in and sense data. It behaves like QEMU's
 * scsi-hd/scsi-cd behind a virtio-scsi bus where that matters to a driver:
 *  - Targets 0..255, each with any set of LUNs 0..16383 (sparse). A target with no LUN answers
 *    every command with SCSI_MODEL_RESP_BAD_TARGET. On a present target, a missing LUN answers
 *    INQUIRY with peripheral qualifier 011b / type 1Fh (byte 0 = 7Fh), REQUEST SENSE with LOGICAL
 *    UNIT NOT SUPPORTED sense data, REPORT LUNS normally, and everything else with CHECK CONDITION
 *    ILLEGAL REQUEST 25/00.
 *  - REPORT LUNS lists LUN 0 even when absent (QEMU does; SCSI_MODEL_TGT_NO_PHANTOM_LUN0 turns that
 *    off), LUNs < 256 in peripheral form (00h, LUN), LUNs >= 256 in flat-space form (40h | LUN >>
 * 8, LUN & FFh), ascending. Allocation length < 16: ILLEGAL REQUEST 24/00; smaller than the list:
 *    the list is cut, LUN LIST LENGTH still gives the full length. SCSI_MODEL_TGT_NO_REPORT_LUNS
 *    makes the target answer ILLEGAL REQUEST 20/00 instead.
 *  - Transfer lengths are checked against the buffers first, as QEMU's virtio-scsi does: when the
 *    CDB's transfer length (the allocation length for INQUIRY, MODE SENSE, ...; blocks x block size
 *    for READ/WRITE; the parameter list length for UNMAP) exceeds the buffer in its direction, the
 *    command is not run and the response is SCSI_MODEL_RESP_OVERRUN.
 *  - Commands: TEST UNIT READY, INQUIRY (standard 36 bytes; VPD 00h, 80h, 83h and for disks B0h
 *    when configured, B2h when provisioning), REPORT LUNS, READ CAPACITY(10) (FFFFFFFFh when the
 *    last LBA does not fit) and (16), READ/WRITE(10)/(16) (range check: 21/00; beyond Block Limits
 *    MAXIMUM TRANSFER LENGTH: 24/00; FUA/DPO set while MODE SENSE's DPOFUA is 0: 24/00),
 *    SYNCHRONIZE CACHE(10)/(16), UNMAP (parameter list fully validated before anything is unmapped:
 *    20/00 without provisioning, 1A/00, 26/00, 21/00 as SBC-4 says), MODE SENSE(6)/(10) (pages 08h
 *    caching, 0Ah control, 3Fh all; WP and DPOFUA in the header; a short block descriptor unless
 *    DBD), REQUEST SENSE (pending unit attention or not-ready condition, else NO SENSE), START STOP
 *    UNIT (START clears the "initializing command required" state; LOEJ with START = 0 ejects a
 *    removable medium). Any other opcode: ILLEGAL REQUEST 20/00.
 *  - Unit attention (SAM-5 5.14): reported once per queued condition on the next command other
 *    than INQUIRY, REPORT LUNS and REQUEST SENSE (REQUEST SENSE returns and clears it). Power-on
 *    29/00 when cfg.power_on_ua; LUN reset 29/03; I_T nexus reset 29/07; hot-plug or unplug
 *    3F/0E on every other LUN of the bus (as QEMU); capacity change 2A/09; medium inserted 28/00.
 *  - Not ready: a removable LUN without medium answers medium-access commands (TEST UNIT READY,
 *    READ CAPACITY, READ, WRITE, SYNCHRONIZE CACHE, UNMAP) with NOT READY 3A/00; "becoming ready"
 *    (04/01) for N commands; "initializing command required" (04/02) until START STOP UNIT.
 *  - Sense data in fixed format (70h, 18 bytes), or descriptor format (72h, with an information
 *    descriptor when the INFORMATION field is valid) when cfg.desc_sense or REQUEST SENSE DESC = 1.
 *    Medium errors carry the failing LBA in INFORMATION, and the blocks before it are transferred.
 *  - Media are sparse (allocated in 64 KiB chunks on first write; unwritten and unmapped blocks
 *    read as zero, LBPRZ = 1), so huge capacities and hundreds of LUNs cost almost no memory.
 *  - Held commands (SCSI_MODEL_F_HANG, scsi_model_hold_next): submit returns
 *    SCSI_MODEL_RESP_PENDING and the command stays until ABORT TASK (completes with
 *    SCSI_MODEL_RESP_ABORTED), LOGICAL UNIT RESET / I_T NEXUS RESET / scsi_model_reset (completes
 *    with SCSI_MODEL_RESP_RESET), unplug (ABORTED), or scsi_model_release (executed then: a late
 *    completion). Completions of held commands go to the completion callback. The buffers of a
 *    held command must stay valid until it completes.
 *  - Events (what virtio-scsi's event queue carries) are queued in the model: TRANSPORT_RESET with
 *    reason RESCAN (hot-plug) or REMOVED (unplug), PARAM_CHANGE with ASC/ASCQ (capacity change:
 *    2A/09). A full queue or SCSI_MODEL_F_EVENT_DROP drops the event and flags the next one popped
 *    as "events missed" (an empty queue then yields a NO_EVENT with missed set).
 *
 * Faults: sim_fault_arm(sim, id, skip, count, param) with the ids of enum scsi_model_fault and the
 * param layout of SCSI_MODEL_FP_*; the model must be created with that sim.
 *
 * Thread-safety: none, like the sim: everything runs on the test's thread.
 */
#ifndef SCSI_MODEL_H
#define SCSI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SCSI_MODEL_MAX_TARGET 255u
#define SCSI_MODEL_MAX_LUN    16383u /* flat-space addressing limit */
#define SCSI_MODEL_EVENT_MAX  32u    /* queued events before EVENTS_MISSED */
#define SCSI_MODEL_CDB_MAX    32u    /* longest CDB a held command keeps */
#define SCSI_MODEL_SENSE_LEN  18u    /* fixed-format sense the model builds */

/** Transport-level outcome of a command. Numbered like virtio-scsi's VIRTIO_SCSI_S_* (0..9). */
enum scsi_model_response {
    SCSI_MODEL_RESP_OK = 0,                /* the command ran: status, sense and data valid */
    SCSI_MODEL_RESP_OVERRUN = 1,           /* buffer smaller than the CDB's transfer length */
    SCSI_MODEL_RESP_ABORTED = 2,           /* ended by ABORT TASK or unplug */
    SCSI_MODEL_RESP_BAD_TARGET = 3,        /* no such target */
    SCSI_MODEL_RESP_RESET = 4,             /* ended by a LUN, I_T nexus or device reset */
    SCSI_MODEL_RESP_BUSY = 5,              /* transport busy (injected) */
    SCSI_MODEL_RESP_TRANSPORT_FAILURE = 6, /* (injected) */
    SCSI_MODEL_RESP_TARGET_FAILURE = 7,    /* (injected) */
    SCSI_MODEL_RESP_NEXUS_FAILURE = 8,     /* (injected) */
    SCSI_MODEL_RESP_FAILURE = 9,           /* (injected) */
    SCSI_MODEL_RESP_PENDING = 10,          /* held: completes later through the callback */
    SCSI_MODEL_RESP_COUNT
};

/** Task management outcome. Numbered like virtio-scsi's TMF responses. */
enum scsi_model_tmf_result {
    SCSI_MODEL_TMF_COMPLETE = 0, /* FUNCTION COMPLETE */
    SCSI_MODEL_TMF_BAD_TARGET = 3,
    SCSI_MODEL_TMF_FAILURE = 9,
    SCSI_MODEL_TMF_SUCCEEDED = 10, /* FUNCTION SUCCEEDED */
    SCSI_MODEL_TMF_REJECTED = 11,  /* FUNCTION REJECTED */
    SCSI_MODEL_TMF_INCORRECT_LUN = 12
};

/* Peripheral device types the model emulates. */
#define SCSI_MODEL_TYPE_DISK  0x00u
#define SCSI_MODEL_TYPE_CDROM 0x05u

/** One logical unit. Start from scsi_model_lun_cfg_disk() / _cdrom() and adjust. */
struct scsi_model_lun_cfg {
    uint8_t type;                 /* SCSI_MODEL_TYPE_* */
    uint32_t block_size;          /* 512, 4096, 2048 (CD); a power of two 512..65536 */
    uint64_t nblocks;             /* capacity in blocks (> 0 when a medium is present) */
    bool removable;               /* INQUIRY RMB */
    bool medium_present;          /* removable only: false = NOT READY 3A/00 */
    bool write_protect;           /* MODE SENSE WP; writes and UNMAP: DATA PROTECT 27/00 */
    bool dpofua;                  /* MODE SENSE DPOFUA; when false, FUA/DPO set: 24/00 */
    bool wce;                     /* caching page WCE: non-FUA writes count as dirty until a sync */
    bool desc_sense;              /* descriptor-format sense (control page D_SENSE) */
    bool power_on_ua;             /* first command after creation: UNIT ATTENTION 29/00 */
    bool block_limits;            /* VPD B0h present (disks) */
    uint32_t max_xfer_blocks;     /* B0h MAXIMUM TRANSFER LENGTH (0 = no limit) */
    uint32_t opt_xfer_blocks;     /* B0h OPTIMAL TRANSFER LENGTH */
    bool provisioning;            /* VPD B2h with LBPU, RC16 LBPME/LBPRZ, UNMAP supported */
    uint32_t max_unmap_lba_count; /* B0h (default 0xffffffff when provisioning) */
    uint32_t max_unmap_desc_count; /* B0h (default 0xffffffff when provisioning) */
    uint32_t unmap_granularity;    /* B0h OPTIMAL UNMAP GRANULARITY */
    bool prot_en;                  /* RC16 PROT_EN (type 1) and INQUIRY PROTECT; no PI is moved */
    uint8_t lbppbe;                /* RC16 logical blocks per physical block exponent */
    char vendor[9];                /* INQUIRY strings, blank-padded by the model */
    char product[17];
    char revision[5];
    char serial[33]; /* VPD 80h; "" = generated ("KS" target "-" LUN) */
    uint64_t naa;    /* VPD 83h NAA designator (8 bytes, e.g. 0x5...); 0 = none */
    uint64_t eui64;  /* VPD 83h EUI-64 designator; 0 = none */
};

/** A disk with the given geometry: FUA supported, WCE on, power-on UA, block limits (max transfer
 *  65535 blocks), no provisioning, "KEEL" / "SIM DISK" / "1.0". */
void scsi_model_lun_cfg_disk(struct scsi_model_lun_cfg *c, uint32_t block_size, uint64_t nblocks);
/** A removable CD-ROM (2048-byte blocks), with `nblocks` of medium or none (nblocks = 0). */
void scsi_model_lun_cfg_cdrom(struct scsi_model_lun_cfg *c, uint64_t nblocks);

/* Target flags. */
#define SCSI_MODEL_TGT_NO_REPORT_LUNS  (1u << 0) /* REPORT LUNS: ILLEGAL REQUEST 20/00 */
#define SCSI_MODEL_TGT_NO_PHANTOM_LUN0 (1u << 1) /* REPORT LUNS omits an absent LUN 0 */

/** One command. Buffers belong to the caller (and must outlive a held command). */
struct scsi_model_cmd {
    uint64_t tag; /* for ABORT TASK */
    uint8_t target;
    uint32_t lun;
    const uint8_t *cdb;
    uint32_t cdb_len;
    const void *data_out; /* data-out buffer (WRITE, UNMAP) */
    uint32_t out_len;
    void *data_in; /* data-in buffer */
    uint32_t in_cap;
    uint8_t *sense; /* sense buffer */
    uint32_t sense_cap;
};

struct scsi_model_result {
    enum scsi_model_response response;
    uint8_t status;     /* SCSI status (valid when response is OK) */
    uint32_t in_len;    /* bytes written to data_in */
    uint32_t sense_len; /* bytes written to sense (<= sense_cap) */
};

/** Completion of a held command (abort, reset, unplug, release). */
typedef void (*scsi_model_complete_fn)(void *ctx, uint64_t tag, const struct scsi_model_result *r);

/** Per-LUN counters, for assertions. */
struct scsi_model_lun_stats {
    uint64_t cmds;          /* commands that reached this LUN */
    uint64_t reads, writes; /* READ/WRITE commands executed */
    uint64_t fua_writes;    /* ... of which with FUA */
    uint64_t blocks_read, blocks_written;
    uint64_t dirty_writes; /* non-FUA writes since the last SYNCHRONIZE CACHE (when WCE) */
    uint64_t syncs;        /* SYNCHRONIZE CACHE executed */
    uint64_t unmaps;       /* UNMAP commands executed */
    uint64_t blocks_unmapped;
    uint64_t unit_attentions; /* UNIT ATTENTION reported (CHECK CONDITION or REQUEST SENSE) */
    uint64_t not_ready;       /* NOT READY reported */
    uint64_t medium_errors;
    uint64_t start_stops;
    uint8_t last_opcode;
};

/* ---- lifetime and topology ---- */

/** Create an empty model. `s` may be NULL (no fault injection). Free with scsi_model_destroy. */
struct scsi_model *scsi_model_create(struct sim *s);
void scsi_model_destroy(struct scsi_model *m);

/** Add a LUN at configuration time (no event, no 3F/0E). 0, or -1 if it exists / cfg invalid. */
int scsi_model_add_lun(struct scsi_model *m, uint8_t target, uint32_t lun,
                       const struct scsi_model_lun_cfg *cfg);
/** Set SCSI_MODEL_TGT_* flags of a target (kept even while it has no LUN). */
void scsi_model_set_target_flags(struct scsi_model *m, uint8_t target, unsigned flags);

/**
 * The standard topology the tests share (power-on UAs cleared):
 *  target 0: LUN 0 disk 512 B x 8192, provisioning (UNMAP, max 1024 blocks, 4 descriptors),
 *            max transfer 256 blocks; LUN 3 disk 4096 B x 1024, write-protected;
 *            LUN 7 disk 512 B x 2^33 (4 TiB, sparse: READ CAPACITY(10) says FFFFFFFFh), no FUA
 *  target 1: LUN 0 CD-ROM without medium
 *  target 2: LUN 0 disk 4096 B x 2048, descriptor-format sense
 *  target 3: LUN 0 and 1 disks 512 B x 1024; REPORT LUNS unsupported
 *  target 4: LUN 2 disk 512 B x 1024 only (no LUN 0)
 *  target 5: LUNs 0..299 disks 512 B x 64 (LUNs >= 256 in flat-space form)
 * Targets 6..255 are absent (BAD_TARGET).
 */
void scsi_model_add_standard_topology(struct scsi_model *m);

bool scsi_model_target_present(const struct scsi_model *m, uint8_t target);
bool scsi_model_lun_present(const struct scsi_model *m, uint8_t target, uint32_t lun);
/** Number of LUNs of a target. */
unsigned scsi_model_lun_count(const struct scsi_model *m, uint8_t target);
/** Current configuration of a LUN (capacity, medium and WP follow run-time changes), or NULL. */
const struct scsi_model_lun_cfg *scsi_model_lun_get_cfg(const struct scsi_model *m, uint8_t target,
                                                        uint32_t lun);
const struct scsi_model_lun_stats *scsi_model_lun_stats(const struct scsi_model *m, uint8_t target,
                                                        uint32_t lun);

/* ---- commands ---- */

/** Where completions of held commands go (NULL: dropped). */
void scsi_model_set_complete_cb(struct scsi_model *m, scsi_model_complete_fn fn, void *ctx);

/** Run one command; `res` gets the outcome (response is also returned). */
enum scsi_model_response scsi_model_submit(struct scsi_model *m, const struct scsi_model_cmd *cmd,
                                           struct scsi_model_result *res);

/**
 * The same with plain arguments (tag 0): returns the SCSI status, the transport response in
 * *resp, data-in bytes in *in_len and sense bytes in *sense_len (any out pointer may be NULL).
 */
uint8_t scsi_model_execute(struct scsi_model *m, uint8_t target, uint32_t lun, const uint8_t *cdb,
                           uint32_t cdb_len, const void *data_out, uint32_t out_len, void *data_in,
                           uint32_t in_cap, uint32_t *in_len, uint8_t *sense, uint32_t sense_cap,
                           uint32_t *sense_len, enum scsi_model_response *resp);

/** Commands currently held. */
unsigned scsi_model_held_count(const struct scsi_model *m);
/** Execute a held command now and complete it through the callback. 0, or -1 if not held. */
int scsi_model_release(struct scsi_model *m, uint64_t tag);
/** Forget held commands without completing them (the transport reset its queues). */
void scsi_model_drop_held(struct scsi_model *m);

/* ---- task management ---- */

/** ABORT TASK: a held command with `tag` on target/lun completes ABORTED; FUNCTION COMPLETE
 *  whether or not it was found (SAM-5 7.2). */
enum scsi_model_tmf_result scsi_model_abort_task(struct scsi_model *m, uint8_t target, uint32_t lun,
                                                 uint64_t tag);
/** LOGICAL UNIT RESET: held commands of the LUN complete RESET; UNIT ATTENTION 29/03. */
enum scsi_model_tmf_result scsi_model_lun_reset(struct scsi_model *m, uint8_t target, uint32_t lun);
/** I_T NEXUS RESET: held commands of the target complete RESET; 29/07 on each of its LUNs. */
enum scsi_model_tmf_result scsi_model_it_nexus_reset(struct scsi_model *m, uint8_t target);
/** Device/bus reset: every held command completes RESET; 29/00 on every LUN. */
void scsi_model_reset(struct scsi_model *m);

/* ---- injected conditions (explicit setters; see also the faults) ---- */

/** Queue a unit attention (up to 8 per LUN; more are dropped). */
void scsi_model_set_ua(struct scsi_model *m, uint8_t target, uint32_t lun, uint8_t asc,
                       uint8_t ascq);
/** Drop every pending unit attention of every LUN. */
void scsi_model_clear_all_ua(struct scsi_model *m);
/** The next `ncmds` medium-access commands get NOT READY 04/01, then the LUN is ready. */
void scsi_model_set_becoming_ready(struct scsi_model *m, uint8_t target, uint32_t lun,
                                   uint32_t ncmds);
/** Stopped: NOT READY 04/02 until START STOP UNIT with START = 1. */
void scsi_model_set_stopped(struct scsi_model *m, uint8_t target, uint32_t lun, bool stopped);
/** A bad block: READ (on_read) / WRITE (on_write) covering `lba` fail with MEDIUM ERROR 11/00 /
 *  0C/00, INFORMATION = lba. Up to 8 per LUN. */
void scsi_model_add_bad_block(struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t lba,
                              bool on_read, bool on_write);
void scsi_model_clear_bad_blocks(struct scsi_model *m, uint8_t target, uint32_t lun);
/** The next `ncmds` commands to the LUN get `status` (BUSY, TASK SET FULL, ...) and no sense. */
void scsi_model_set_busy(struct scsi_model *m, uint8_t target, uint32_t lun, uint32_t ncmds,
                         uint8_t status);
/** The next `ncmds` commands to the LUN are held (see "Held commands"). */
void scsi_model_hold_next(struct scsi_model *m, uint8_t target, uint32_t lun, uint32_t ncmds);
void scsi_model_set_write_protect(struct scsi_model *m, uint8_t target, uint32_t lun, bool wp);
/** Change the capacity: PARAM_CHANGE 2A/09 event and UNIT ATTENTION 2A/09. Shrinking discards
 *  the data beyond the new end. */
void scsi_model_set_capacity(struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t nblocks);
/** Removable LUN: insert a medium of `nblocks` (UNIT ATTENTION 28/00) or remove it (0). */
void scsi_model_set_medium(struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t nblocks);
/** Hot-plug: add the LUN, queue TRANSPORT_RESET/RESCAN, UNIT ATTENTION 3F/0E on the other LUNs. */
int scsi_model_hotplug_lun(struct scsi_model *m, uint8_t target, uint32_t lun,
                           const struct scsi_model_lun_cfg *cfg);
/** Unplug: held commands of the LUN complete ABORTED, the LUN goes, TRANSPORT_RESET/REMOVED is
 *  queued, UNIT ATTENTION 3F/0E on the remaining LUNs. 0, or -1 if absent. */
int scsi_model_unplug_lun(struct scsi_model *m, uint8_t target, uint32_t lun);

/* ---- media (byte-for-byte checks) ---- */

/** Copy `len` bytes at byte `offset` of the LUN's medium. 0, or -1 when out of range/absent. */
int scsi_model_media_read(const struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t offset,
                          void *buf, size_t len);
int scsi_model_media_write(struct scsi_model *m, uint8_t target, uint32_t lun, uint64_t offset,
                           const void *buf, size_t len);
/** Bytes of host memory the LUN's medium occupies (sparse chunks). */
size_t scsi_model_media_footprint(const struct scsi_model *m, uint8_t target, uint32_t lun);

/* ---- events ---- */

enum scsi_model_event_type {
    SCSI_MODEL_EV_NONE = 0,            /* only with missed = true */
    SCSI_MODEL_EV_TRANSPORT_RESET = 1, /* reason: SCSI_MODEL_RESET_* */
    SCSI_MODEL_EV_PARAM_CHANGE = 3,    /* asc/ascq */
};
#define SCSI_MODEL_RESET_HARD    0u
#define SCSI_MODEL_RESET_RESCAN  1u
#define SCSI_MODEL_RESET_REMOVED 2u

struct scsi_model_event {
    enum scsi_model_event_type type;
    bool missed; /* events were dropped before this one */
    uint8_t target;
    uint32_t lun;
    uint32_t reason;   /* TRANSPORT_RESET */
    uint8_t asc, ascq; /* PARAM_CHANGE */
};

/** Pop the oldest event; false when none (and nothing was missed). */
bool scsi_model_event_pop(struct scsi_model *m, struct scsi_model_event *ev);
unsigned scsi_model_event_count(const struct scsi_model *m);
/** Queue an arbitrary event (tests). */
void scsi_model_event_push(struct scsi_model *m, const struct scsi_model_event *ev);
/** Note that an event was lost (e.g. the transport had no buffer): the next pop says missed. */
void scsi_model_event_note_missed(struct scsi_model *m);

/* ---- fault injection ----
 * Per-command faults (marked [cmd]) are consulted only by commands matching the filter in `param`
 * bits 31:0 (param 0: every command); a non-matching command neither fires nor consumes skip/count.
 * The fault's own value sits in bits 63:32 (SCSI_MODEL_FP_VALUE).
 */
#define SCSI_MODEL_FP_LUN(t, l)                                                                    \
    ((1ull << 14) | ((uint64_t)(uint8_t)(t) << 16) | ((uint64_t)(l)&0x3fffu))
#define SCSI_MODEL_FP_OPC(op)        ((1ull << 15) | ((uint64_t)(uint8_t)(op) << 24))
#define SCSI_MODEL_FP_VALUE(v)       ((uint64_t)(uint32_t)(v) << 32)
#define SCSI_MODEL_FP_ASC(asc, ascq) SCSI_MODEL_FP_VALUE(((unsigned)(asc) << 8) | (unsigned)(ascq))

enum scsi_model_fault {
    /* [cmd] Not run; transport response = VALUE (enum scsi_model_response; 0 means FAILURE). */
    SCSI_MODEL_F_RESPONSE = 3000,
    /* [cmd] Not run; SCSI status = VALUE (0 means BUSY), no sense. E.g. 28h TASK SET FULL. */
    SCSI_MODEL_F_STATUS = 3001,
    /* [cmd] Commands a unit attention applies to: UNIT ATTENTION with ASC/ASCQ = VALUE
     * (SCSI_MODEL_FP_ASC; 0 means 29/00). */
    SCSI_MODEL_F_UNIT_ATTENTION = 3002,
    /* [cmd] Medium-access commands: NOT READY with ASC/ASCQ = VALUE (0 means 04/01 becoming
     * ready). "Becoming ready for N commands": count = N. */
    SCSI_MODEL_F_NOT_READY = 3003,
    /* [cmd] READ/WRITE covering LBA VALUE: MEDIUM ERROR (11/00 read, 0C/00 write) at that LBA. */
    SCSI_MODEL_F_MEDIUM_ERROR = 3004,
    /* [cmd] The command is held until aborted, reset or released. */
    SCSI_MODEL_F_HANG = 3005,
    /* [cmd] Sense data cut to VALUE bytes (0: CHECK CONDITION without any sense). */
    SCSI_MODEL_F_SENSE_SHORT = 3006,
    /* [cmd] Sense ADDITIONAL SENSE LENGTH (byte 7) replaced by VALUE (0 means F4h): it lies. */
    SCSI_MODEL_F_SENSE_LEN_LIE = 3007,
    /* [cmd] Data-in cut to VALUE bytes with the status unchanged (a short transfer). */
    SCSI_MODEL_F_DATA_SHORT = 3008,
    /* [cmd] REPORT LUNS: LUN LIST LENGTH replaced by VALUE (e.g. not a multiple of 8, huge). */
    SCSI_MODEL_F_REPORT_LUNS_LIE = 3009,
    /* [cmd] READ CAPACITY(10)/(16): block length replaced by VALUE (0, 513, 1 << 20, ...). */
    SCSI_MODEL_F_CAPACITY_LIE = 3010,
    /* Hit per task management function: nothing done, result = VALUE (enum
     * scsi_model_tmf_result; 0 means REJECTED). */
    SCSI_MODEL_F_TMF_FAIL = 3011,
    /* Hit per event queued: the event is dropped and the next one popped says missed. */
    SCSI_MODEL_F_EVENT_DROP = 3012,
    SCSI_MODEL_F_LAST
};

#ifdef __cplusplus
}
#endif

#endif
