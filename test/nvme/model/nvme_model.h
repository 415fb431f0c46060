/* SPDX-License-Identifier: MIT */
/*
 * nvme_model.h - an NVMe 1.4 PCIe controller model for host tests on the simulated platform.
 *
 * The model is a PCI function (class 010802) with a 64-bit BAR0 holding the controller registers
 * (CAP, VS, INTMS, INTMC, CC, CSTS, AQA, ASQ, ACQ, doorbells), an optional MSI-X table and PBA,
 * and INTx pin A. It fetches commands from host memory through the sim's DMA checks
 * (sim_dma_read / sim_dma_write flag every access to an unmapped bus address as a violation),
 * walks PRP lists as the spec requires, keeps namespace data in memory it owns
 * (nvme_model_media) and posts completions with phase tags. Every misbehaviour a driver must
 * survive can be injected as a fault (enum nvme_model_fault).
 *
 * Threading: like the sim, the model is single-threaded. It runs inside register accesses
 * (doorbell writes in NVME_MODEL_IMMEDIATE mode), inside clock advances (a sim poller: state
 * transitions, deferred processing, delayed completions, interrupt delivery) and inside the
 * test-facing calls below. Spec references are to the NVM Express Base Specification 1.4.
 *
 * Behaviour a driver author should know
 *  - Enable (CC.EN 0->1) validates the configuration like QEMU does; any of these sets CSTS.CFS
 *    at once (RDY stays 0): CSS not NVM (000b), MPS outside CAP.MPSMIN..MPSMAX, AMS not round
 *    robin, IOSQES != 6 or IOCQES != 4, AQA.ASQS or AQA.ACQS zero (one-entry queue), ASQ/ACQ zero
 *    or not 4 KiB aligned. Otherwise CSTS.RDY becomes 1 after cfg.enable_us of virtual time.
 *    Setting EN while RDY is still 1 (not waiting for the disable) is a sim violation.
 *  - Disable (CC.EN 1->0) is a controller reset: I/O queues, outstanding AERs, held commands,
 *    delayed completions, the Number of Queues grant and features return to defaults; media,
 *    SMART counters and queued (undelivered) events stay. RDY becomes 0 after cfg.disable_us.
 *  - CC.SHN 01b/10b: SHST reads 01b (occurring), then 10b (complete) after cfg.shutdown_us.
 *    Commands are processed until SHST is 10b, then nothing runs until the next enable.
 *  - Commands: an SQ tail doorbell makes entries available. IMMEDIATE processes them inside the
 *    doorbell write; DEFERRED processes each entry once cfg.latency_us of virtual time has passed
 *    since its doorbell (from the poller, i.e. whenever the driver reads the clock or delays);
 *    MANUAL only in nvme_model_process(). SQs are served admin first, then by qid. A command is
 *    only fetched when its CQ has room (a full CQ back-pressures its SQs, as real controllers do);
 *    completions that cannot be posted (AER, delayed, released) wait in a backlog until the host
 *    frees CQ slots with a CQ head doorbell.
 *  - Events a command raises or unmasks (Get Log Page with RAE = 0, a threshold change) complete
 *    an AER after that command's own completion is posted.
 *  - Abort (spec 5.1) finds a command still in its SQ (it then completes with 00h/07h when
 *    fetched), a command held by NVME_MODEL_F_CMD_HANG (completed with 00h/07h at once) or an
 *    outstanding AER; DW0 bit 0 = 0 then, else 1 (not aborted). Aborts complete immediately, so
 *    ACL is never exceeded. Delete I/O SQ completes its held commands with 00h/08h and drops
 *    unfetched entries.
 *  - Interrupts: by default an interrupt is delivered on the next clock advance after the CQE was
 *    posted (as if the CPU took it just after the MMIO write returned), not inside the driver's
 *    doorbell write; cfg.irq_in_doorbell delivers synchronously. One interrupt per vector per
 *    processing pass (a doorbell batch of 8 commands gives one interrupt), only for CQs created
 *    with IEN (the admin CQ always). MSI-X when enabled in the capability: vector = CQ IV,
 *    through struct sim_msix (masked vectors stay pending in the PBA). Otherwise INTx pin A
 *    (sim_irq_find(KEEL_IRQ_PCI_INTX, addr, 1)) unless PCI command bit 10 is set; INTMS bit IV
 *    (QEMU-like, IV < 32) holds it back and INTMC clearing that bit raises it then. INTx is
 *    modelled as an event per posting pass, not a level that re-fires after EOI. Interrupt
 *    coalescing (feature 08h) is stored and returned, not applied. Writing INTMS/INTMC while
 *    MSI-X is enabled is a violation (spec 3.1.3: host software shall not).
 *  - Invalid doorbell writes (no such queue, value >= queue size, CQ head beyond what was posted)
 *    are ignored, counted (stats.bad_doorbells) and reported as an asynchronous event (type 0
 *    error, info 00h invalid register / 01h invalid value, log page 01h), spec 4.1. Doorbells
 *    while the controller is not ready are ignored (stats.doorbells_ignored).
 *  - Queue activity while PCI bus mastering is off is a violation (and no DMA happens). Creating a
 *    queue whose memory is not DMA-accessible is a violation.
 *  - Media: data and metadata are kept apart: nvme_model_media() returns the logical data only
 *    (byte-for-byte comparable whatever the format), nvme_model_metadata() the ms bytes per
 *    block. Extended-LBA transfers are split and merged on the fly. The backing store is
 *    calloc(nsze * lbasize) (+ nsze * ms): keep nsze modest.
 *  - Every completion with an error status is logged in the error log (ELPE+1 entries, newest
 *    first) and counted in SMART "number of error log entries".
 *  - Error statuses the model itself returns carry DNR, except Data Transfer Error, Command
 *    Abort Requested and Aborted due to SQ Deletion.
 *
 * Not modelled: SGLs (SGLS = 0, PSDT != 0 is Invalid Field), fused commands, end-to-end
 * protection (DPS = 0, PRINFO ignored), weighted round robin, CMB/PMR/boot partitions, NVM
 * subsystem reset, namespace management/format/sanitize/firmware/self-test/security commands
 * (Invalid Opcode), reservations, Write Uncorrectable, power state transition latencies,
 * volatile-cache data loss (VWC only tracks flushes), MSI (single/multi message), saveable
 * features, namespace attribute change events.
 */
#ifndef NVME_MODEL_H
#define NVME_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NVME_MODEL_MAX_NS      16 /* namespaces in the configuration (nsid need not be dense) */
#define NVME_MODEL_MAX_LBAF    16 /* LBA formats per namespace (NLBAF <= 15 in NVMe 1.4) */
#define NVME_MODEL_MAX_IOQ     64 /* I/O queue ids 1..64 */
#define NVME_MODEL_MAX_VECTORS 64 /* MSI-X vectors (SIM_MSIX_MAX) */
#define NVME_MODEL_MAX_PSD     32 /* power state descriptors */
#define NVME_MODEL_MAX_AER     16 /* AERL + 1 upper bound and queued events */

/* ---- processing modes ---- */
enum nvme_model_mode {
    NVME_MODEL_IMMEDIATE = 0, /* commands processed inside the SQ tail doorbell write */
    NVME_MODEL_DEFERRED = 1,  /* processed by the sim poller once latency_us has passed */
    NVME_MODEL_MANUAL = 2     /* processed only by nvme_model_process() */
};

/* ---- spec constants tests commonly need ---- */
/* Status code types (CQE DW3 SCT) and codes (SC), spec 4.6.1.2. */
#define NVME_MODEL_SCT_GENERIC           0x0
#define NVME_MODEL_SCT_CMD_SPECIFIC      0x1
#define NVME_MODEL_SCT_MEDIA             0x2
#define NVME_MODEL_SC_SUCCESS            0x00
#define NVME_MODEL_SC_INVALID_OPCODE     0x01
#define NVME_MODEL_SC_INVALID_FIELD      0x02
#define NVME_MODEL_SC_DATA_XFER_ERROR    0x04
#define NVME_MODEL_SC_ABORT_REQUESTED    0x07
#define NVME_MODEL_SC_ABORT_SQ_DELETED   0x08
#define NVME_MODEL_SC_INVALID_NS         0x0b
#define NVME_MODEL_SC_CMD_SEQ_ERROR      0x0c
#define NVME_MODEL_SC_PRP_OFFSET_INVALID 0x13
#define NVME_MODEL_SC_NS_WRITE_PROTECTED 0x20
#define NVME_MODEL_SC_LBA_OUT_OF_RANGE   0x80
#define NVME_MODEL_SC_NS_NOT_READY       0x82
/* command specific (SCT 1) */
#define NVME_MODEL_SC_INVALID_CQ       0x00
#define NVME_MODEL_SC_INVALID_QID      0x01
#define NVME_MODEL_SC_INVALID_QSIZE    0x02
#define NVME_MODEL_SC_ABORT_LIMIT      0x03
#define NVME_MODEL_SC_AER_LIMIT        0x05
#define NVME_MODEL_SC_INVALID_VECTOR   0x08
#define NVME_MODEL_SC_INVALID_LOG_PAGE 0x09
#define NVME_MODEL_SC_INVALID_QDELETE  0x0c
#define NVME_MODEL_SC_NOT_SAVEABLE     0x0d
/* media and data integrity (SCT 2) */
#define NVME_MODEL_SC_WRITE_FAULT      0x80
#define NVME_MODEL_SC_UNRECOVERED_READ 0x81
#define NVME_MODEL_SC_COMPARE_FAILURE  0x85

/* ONCS bits (Identify Controller bytes 521:520) */
#define NVME_MODEL_ONCS_COMPARE      0x0001u
#define NVME_MODEL_ONCS_DSM          0x0004u
#define NVME_MODEL_ONCS_WRITE_ZEROES 0x0008u

/* Asynchronous event types (AER completion DW0 bits 2:0) */
#define NVME_MODEL_AET_ERROR  0
#define NVME_MODEL_AET_SMART  1
#define NVME_MODEL_AET_NOTICE 2

/* ---- configuration ---- */
struct nvme_model_lbaf {
    uint8_t lbads; /* log2 of the data size: 9 = 512, 12 = 4096 (any 9..16 accepted) */
    uint16_t ms;   /* metadata bytes per block (0: none) */
    uint8_t rp;    /* relative performance, reported only */
};

struct nvme_model_ns_cfg {
    bool active;   /* listed in CNS 02h and usable; inactive: Identify returns zeroes */
    uint32_t nsid; /* 1..NN */
    uint64_t nsze; /* blocks */
    uint64_t ncap; /* blocks (0: = nsze) */
    uint8_t nlbaf; /* number of formats in lbaf[] (1..16); reported NLBAF is nlbaf - 1 */
    struct nvme_model_lbaf lbaf[NVME_MODEL_MAX_LBAF];
    uint8_t flbas;        /* index of the format in use */
    bool extended;        /* metadata interleaved with data (FLBAS bit 4); else separate (MPTR) */
    bool write_protected; /* NSATTR bit 0: writes fail with 00h/20h */
};

struct nvme_model_psd {
    uint16_t mp_cw; /* maximum power, centiwatts */
    bool nops;      /* non-operational state */
    uint32_t enlat_us, exlat_us;
};

struct nvme_model_cfg {
    /* PCI */
    struct keel_pci_addr pci; /* default 0:0:3.0 */
    uint16_t vendor, device;  /* 1b36:0010 */
    uint32_t class_rev;       /* 0x01080200 (class 01h, subclass 08h, prog-if 02h, rev 0) */
    uint64_t bar0_addr;       /* 0: unassigned (qboot-like, driver sizes and places it);
                                 else pre-assigned (SeaBIOS-like), memory decode enabled */
    uint32_t bar0_size;       /* 16 KiB */
    uint32_t msix_table_off;  /* 0x2000 within BAR0 */
    uint32_t msix_pba_off;    /* 0x3000 within BAR0 */
    unsigned msix_vectors;    /* 64 (at most NVME_MODEL_MAX_VECTORS); 0: no MSI-X capability */

    /* CAP */
    uint16_t mqes;  /* 0-based max queue entries: 0x7ff */
    uint8_t to;     /* 500 ms units: 0x0f */
    uint8_t dstrd;  /* doorbell stride 4 << dstrd: 0 */
    uint8_t mpsmin; /* 2^(12+mpsmin): 0 = 4 KiB */
    uint8_t mpsmax; /* 4 = 64 KiB */
    bool css_nvm;   /* CAP.CSS bit 37 (NVM command set): true */

    /* Identify Controller */
    uint8_t mdts;           /* 2^mdts * MPSMIN units; 0 = no limit. Default 7 (512 KiB) */
    uint16_t max_io_queues; /* most I/O SQ/CQ pairs granted by Number of Queues: 64 */
    bool vwc;               /* volatile write cache present: true */
    uint16_t oncs;          /* DSM | WRITE_ZEROES | COMPARE */
    uint8_t aerl;           /* 0-based outstanding AER limit: 3 */
    uint8_t acl;            /* 0-based abort command limit: 3 */
    uint8_t elpe;           /* 0-based error log entries: 3 */
    uint32_t nn;            /* number of namespaces: 1 (ns[] entries with nsid > nn are hidden) */
    char serial[21];        /* "KEELMODEL0001" */
    char model[41];         /* "Keel NVMe model" */
    char firmware[9];       /* "1.0" */
    uint8_t npsd;           /* power state descriptors (1..32): 1 */
    struct nvme_model_psd psd[NVME_MODEL_MAX_PSD];
    bool apst;                   /* APSTA: false */
    uint32_t rtd3e_us;           /* RTD3 entry latency: 0 (like QEMU) */
    uint16_t wctemp, cctemp;     /* Kelvin: 343, 373 */
    bool reject_cns_active_list; /* CNS 02h fails with Invalid Field (driver falls back to 1..NN) */

    /* SMART */
    uint16_t temperature_k;   /* composite temperature: 310 */
    uint8_t critical_warning; /* initial bits: 0 */

    struct nvme_model_ns_cfg ns[NVME_MODEL_MAX_NS]; /* default: ns[0] nsid 1, 8192 x 512 B,
                                                       formats 512, 512+8, 4096, 4096+64 */

    /* timing (virtual microseconds) */
    enum nvme_model_mode mode; /* IMMEDIATE */
    uint32_t latency_us;       /* DEFERRED: doorbell to processing, default 10 */
    uint32_t enable_us;        /* CC.EN 0->1 until RDY: 1000 */
    uint32_t disable_us;       /* CC.EN 1->0 until !RDY: 500 */
    uint32_t shutdown_us;      /* CC.SHN until SHST 10b: 1000 */
    bool irq_in_doorbell;      /* deliver interrupts synchronously in the doorbell write: false */
};

/** Fill `cfg` with the QEMU-like defaults listed beside each field. */
void nvme_model_cfg_default(struct nvme_model_cfg *cfg);

/* ---- lifetime ---- */
struct nvme_model;

/**
 * Create the controller on `s`: adds the PCI function, BAR0 region, MSI-X capability and a sim
 * poller. Returns NULL (and records a violation) on an inconsistent configuration.
 */
struct nvme_model *nvme_model_create(struct sim *s, const struct nvme_model_cfg *cfg);
/** Remove the poller and free the model (the PCI function stays in the sim, not present). */
void nvme_model_destroy(struct nvme_model *m);
/**
 * Process everything that is ready now (every mode; the only way in MANUAL mode): available SQ
 * entries, backlog completions, pending interrupts. Returns the number of commands processed.
 */
unsigned nvme_model_process(struct nvme_model *m);
/** Switch the processing mode at run time (entries already available keep their arrival time). */
void nvme_model_set_mode(struct nvme_model *m, enum nvme_model_mode mode, uint32_t latency_us);

/* ---- inspection ---- */
struct sim_pci_fn *nvme_model_pci_fn(struct nvme_model *m);
/** BAR0 address as currently programmed in config space (0 if unassigned). */
uint64_t nvme_model_bar0(const struct nvme_model *m);
/** The MSI-X emulation (fired counts per vector live in it), NULL without MSI-X. */
struct sim_msix *nvme_model_msix(struct nvme_model *m);
/** Register values without side effects or faults. */
uint32_t nvme_model_cc(const struct nvme_model *m);
uint32_t nvme_model_csts(const struct nvme_model *m);
uint32_t nvme_model_intms(const struct nvme_model *m);

/** Namespace data (nsze * data size bytes, logical data only), NULL for an unknown nsid. */
uint8_t *nvme_model_media(struct nvme_model *m, uint32_t nsid, uint64_t *bytes);
/** Namespace metadata (nsze * ms bytes), NULL when the format has none. */
uint8_t *nvme_model_metadata(struct nvme_model *m, uint32_t nsid, uint64_t *bytes);

struct nvme_model_qinfo {
    bool exists;
    uint16_t size;   /* entries (1-based) */
    uint16_t cqid;   /* SQ: its CQ */
    uint16_t vector; /* CQ: interrupt vector */
    bool ien;        /* CQ: interrupts enabled */
    uint8_t qprio;   /* SQ: priority field */
    uint64_t base;   /* bus address */
    uint16_t head, tail;
    uint32_t phase; /* CQ: current phase tag the model writes */
};
/** State of SQ / CQ `qid` (0 = admin). False when qid is out of range. */
bool nvme_model_sq_info(const struct nvme_model *m, uint16_t qid, struct nvme_model_qinfo *out);
bool nvme_model_cq_info(const struct nvme_model *m, uint16_t qid, struct nvme_model_qinfo *out);

/** Current value of feature `fid` as Get Features returns it (04h: composite over threshold). */
uint32_t nvme_model_feature(const struct nvme_model *m, uint8_t fid);
/** Temperature threshold for sensor `tmpsel` (0 composite), `under` selects the under threshold. */
uint16_t nvme_model_temp_threshold(const struct nvme_model *m, unsigned tmpsel, bool under);
/** The APST table as last set (32 entries, 8 bytes each). */
const uint8_t *nvme_model_apst_table(const struct nvme_model *m);
/** AER commands currently held by the controller. */
unsigned nvme_model_aers_outstanding(const struct nvme_model *m);
/** Commands fetched but held by NVME_MODEL_F_CMD_HANG (not yet completed). */
unsigned nvme_model_cmds_held(const struct nvme_model *m);

struct nvme_model_stats {
    uint32_t admin_cmds[256];                            /* processed per admin opcode */
    uint32_t io_cmds[256];                               /* processed per I/O opcode */
    uint32_t sq_doorbells[NVME_MODEL_MAX_IOQ + 1];       /* tail doorbell writes per SQ */
    uint32_t cq_doorbells[NVME_MODEL_MAX_IOQ + 1];       /* head doorbell writes per CQ */
    uint32_t sq_db_entries_last[NVME_MODEL_MAX_IOQ + 1]; /* entries made available by the last
                                                            tail write (batch size) */
    uint32_t sq_db_entries_max[NVME_MODEL_MAX_IOQ + 1];  /* largest batch seen */
    uint32_t sqes_fetched[NVME_MODEL_MAX_IOQ + 1];       /* total commands fetched per SQ */
    uint32_t cqes_posted[NVME_MODEL_MAX_IOQ + 1];        /* entries written per CQ */
    uint32_t bad_doorbells;     /* invalid doorbell writes (reported as async events) */
    uint32_t doorbells_ignored; /* doorbell writes while not ready, failed or shut down */
    uint32_t cqes_dropped;      /* completions for a CQ that no longer exists */
    uint32_t aborts;            /* Abort commands received */
    uint32_t aborts_hit;        /* ... that found and aborted their command */
    uint32_t resets;            /* CC.EN 1 -> 0 */
    uint32_t enables;           /* CC.EN 0 -> 1 */
    uint32_t enable_failures;   /* enables that ended in CFS */
    uint32_t shutdowns_normal, shutdowns_abrupt;
    uint32_t shutdowns_complete;           /* SHST reached 10b */
    uint32_t irqs[NVME_MODEL_MAX_VECTORS]; /* interrupts signalled per vector (MSI-X or INTx) */
    uint32_t intx_raised;                  /* INTx deliveries requested */
    uint32_t irqs_masked;                  /* interrupts held back by INTMS */
    uint32_t intms_writes, intmc_writes;
    uint32_t sq_created, sq_deleted, cq_created, cq_deleted;
    uint32_t aers_received, aers_completed, events_posted;
    bool nq_set; /* Set Features Number of Queues received since the last reset */
    uint16_t nsq_granted, ncq_granted; /* 1-based counts currently granted */
    uint32_t writes_since_flush; /* Write/Write Zeroes/DSM since the last Flush (any namespace) */
    uint32_t flushes;
    uint64_t blocks_read, blocks_written;
    uint32_t prp_lists_walked;   /* PRP list pages read */
    uint32_t max_prp_list_chain; /* most list pages in one command */
    uint32_t errors_logged;
    uint32_t backlog_max; /* most completions waiting for CQ room */
};
const struct nvme_model_stats *nvme_model_stats(const struct nvme_model *m);
void nvme_model_stats_reset(struct nvme_model *m);

/* ---- events and environment ---- */
/**
 * Queue an asynchronous event (bypasses feature 0Bh): completes an outstanding AER now (or when one
 * arrives) with DW0 = type | info << 8 | log_page << 16. Further events of the same type are
 * masked until the host reads `log_page` with RAE = 0 (spec 5.2).
 */
void nvme_model_post_aer(struct nvme_model *m, uint8_t type, uint8_t info, uint8_t log_page);
/**
 * Set the composite temperature (Kelvin). Crossing the over (or under) threshold sets critical
 * warning bit 1 and, when feature 0Bh bit 1 is set, posts a SMART event (info 01h, log 02h).
 */
void nvme_model_set_temperature(struct nvme_model *m, uint16_t kelvin);
/**
 * OR `bits` into the SMART critical warning; each newly set bit enabled in feature 0Bh posts a
 * SMART event (bit 0 spare: info 02h; bit 1 temperature: 01h; others: 00h reliability).
 */
void nvme_model_set_critical_warning(struct nvme_model *m, uint8_t bits);
/** Change a namespace's write protection (NSATTR) at run time. */
void nvme_model_set_write_protect(struct nvme_model *m, uint32_t nsid, bool wp);
/** Surprise removal: every register and config read returns all ones, nothing is processed. */
void nvme_model_surprise_remove(struct nvme_model *m);
/** Execute and complete the commands NVME_MODEL_F_CMD_HANG held: a late completion. */
void nvme_model_release_held(struct nvme_model *m);

/* ---- fault injection ----
 * Arm with sim_fault_arm(s, id, skip, count, param). A fault is consulted ("hit") at the point
 * named below; `skip` hits pass, then `count` hits fire (UINT32_MAX: forever).
 *
 * Per-command faults (marked [cmd]) are only hit by commands matching the filter in `param`
 * (bits 27:0); a non-matching command neither fires nor consumes skip/count. The fault's own value
 * sits in bits 63:32 (NVME_MODEL_FP_VALUE). With param 0 every command matches.
 */
#define NVME_MODEL_FP_ADMIN    (1ull << 9)                             /* admin queue only */
#define NVME_MODEL_FP_IO       (2ull << 9)                             /* I/O queues only */
#define NVME_MODEL_FP_OPC(op)  ((1ull << 8) | (uint64_t)(uint8_t)(op)) /* this opcode only */
#define NVME_MODEL_FP_QID(q)   ((1ull << 11) | ((uint64_t)(uint16_t)(q) << 12)) /* this SQ only */
#define NVME_MODEL_FP_VALUE(v) ((uint64_t)(uint32_t)(v) << 32)
/* value of NVME_MODEL_F_STATUS: SCT, SC, DNR (and More) as they appear in the CQE status */
#define NVME_MODEL_FP_STATUS(sct, sc, dnr)                                                         \
    NVME_MODEL_FP_VALUE(((uint32_t)(sc)&0xffu) | (((uint32_t)(sct)&7u) << 8) |                     \
                        ((dnr) ? (1u << 14) : 0u))
#define NVME_MODEL_FP_STATUS_MORE (1ull << (32 + 13))

enum nvme_model_fault {
    /* Hit at CC.EN 0->1: CSTS.RDY never becomes 1 (no CFS either). */
    NVME_MODEL_F_RDY_NEVER_SET = 1000,
    /* Hit at CC.EN 1->0: CSTS.RDY stays 1 and no reset happens (queues stay). */
    NVME_MODEL_F_RDY_NEVER_CLEARS = 1001,
    /* Hit at CC.EN 0->1: after enable_us, CSTS.CFS = 1 and RDY stays 0. */
    NVME_MODEL_F_CFS_ON_ENABLE = 1002,
    /* [cmd] Hit per fetched command: CSTS.CFS = 1, that command and every later one get no CQE,
     * nothing more is processed until a reset (CFS clears on CC.EN 1->0). "After N commands":
     * skip = N. */
    NVME_MODEL_F_CFS_ON_COMMAND = 1003,
    /* Hit per BAR0 register read (not MSI-X): returns all ones (0xff..). count = 1 for a glitch,
     * UINT32_MAX for a dead device (see also nvme_model_surprise_remove). */
    NVME_MODEL_F_READ_ALL_ONES = 1004,
    /* [cmd] Command executed (media changed, data returned) but its CQE is never posted. Abort
     * then reports "not aborted" (DW0 bit 0 = 1). */
    NVME_MODEL_F_CQE_LOST = 1005,
    /* [cmd] Command fetched (SQ head moves) but held, not executed, no CQE. Abort finds it and
     * completes it with 00h/07h; nvme_model_release_held() executes and completes it late;
     * a reset discards it. */
    NVME_MODEL_F_CMD_HANG = 1006,
    /* [cmd] Command executed at once, CQE posted VALUE microseconds later (default 1000 when
     * VALUE is 0). The CQE is not posted if a reset happens first. */
    NVME_MODEL_F_CQE_DELAY = 1007,
    /* [cmd] CQE posted normally but no interrupt is signalled for it (lost interrupt). */
    NVME_MODEL_F_IRQ_LOST = 1008,
    /* [cmd] CQE written with the inverted phase tag: invisible to a correct driver, and the
     * model's tail still advances (the slot is consumed, as if the entry was corrupted). */
    NVME_MODEL_F_CQE_BAD_PHASE = 1009,
    /* [cmd] CQE CID replaced by VALUE (0xffff when VALUE is 0); the real CID never completes. */
    NVME_MODEL_F_CQE_CID_INVALID = 1010,
    /* [cmd] CQE posted twice back to back (same CID, both with a valid phase). */
    NVME_MODEL_F_CQE_CID_DUP = 1011,
    /* [cmd] CQE SQHD replaced by VALUE (SQ size + 7 when VALUE is 0: beyond the queue). */
    NVME_MODEL_F_CQE_BAD_SQHD = 1012,
    /* [cmd] Command not executed (media unchanged, no data), completed with the status in VALUE
     * (NVME_MODEL_FP_STATUS(sct, sc, dnr)). E.g. unrecovered read 2/81h, write fault 2/80h,
     * invalid field 0/02h, namespace not ready 0/82h, each with or without DNR. */
    NVME_MODEL_F_STATUS = 1013,
    /* [cmd] CQE SQID field replaced by VALUE (SQID + 1 when VALUE is 0). */
    NVME_MODEL_F_CQE_WRONG_SQID = 1014,
    /* [cmd] CQE posted on CQ VALUE instead of the SQ's CQ (admin CQ when VALUE is 0 and the
     * command is an I/O command, else CQ 1); dropped if that CQ does not exist. */
    NVME_MODEL_F_CQE_WRONG_CQ = 1015,
    /* Hit per Identify Controller: MDTS = VALUE (0xff when VALUE is 0). */
    NVME_MODEL_F_ID_MDTS_HUGE = 1016,
    /* Hit per Identify Controller: NN = VALUE (0xffffffff when VALUE is 0). */
    NVME_MODEL_F_ID_NN_HUGE = 1017,
    /* Hit per Identify Namespace: the in-use format's LBADS = VALUE (e.g. 3 or 40; 40 when 0). */
    NVME_MODEL_F_ID_LBADS = 1018,
    /* Hit per Identify Namespace: FLBAS format index = NLBAF + 1 (beyond the list; needs NLBAF <
     * 15), or VALUE & 0xf when VALUE is non-zero. */
    NVME_MODEL_F_ID_FLBAS_BEYOND = 1019,
    /* Hit per Identify Namespace: NLBAF = VALUE (0xff when 0): more formats than the structure
     * holds (NVMe 1.4 allows 0..15; 2.0 up to 63). */
    NVME_MODEL_F_ID_NLBAF_HUGE = 1020,
    /* Hit at CC.SHN write: SHST goes to 01b (occurring) and never reaches 10b. */
    NVME_MODEL_F_SHUTDOWN_STUCK = 1021,
    /* Hit when an event would complete an outstanding AER: it is not delivered (the AER stays
     * outstanding, the event stays queued). With count UINT32_MAX, AERs never complete. */
    NVME_MODEL_F_AER_STUCK = 1022,
    /* Hit per Identify Controller: VER (bytes 83:80) = VALUE (the reported version lies). */
    NVME_MODEL_F_ID_VER = 1023,
    /* Hit per read of CAP's low dword: CAP.MQES reads as VALUE (0 is invalid per spec 3.1.1). */
    NVME_MODEL_F_CAP_MQES = 1024,
    /* [cmd] Command executed as usual, then the CRD/More/DNR bits of VALUE (status bits 14:11)
     * ORed into its CQE status: e.g. a success (SCT 0, SC 0) that carries them. */
    NVME_MODEL_F_STATUS_FLAGS = 1025,
    NVME_MODEL_F_LAST
};

#ifdef __cplusplus
}
#endif

#endif
