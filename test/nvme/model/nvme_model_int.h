/* SPDX-License-Identifier: MIT */
/* nvme_model_int.h - the model's internal state, shared by its source files (not for tests). */
#ifndef NVME_MODEL_INT_H
#define NVME_MODEL_INT_H

#include "nvme_model.h"

#define NM_MAX_QID     NVME_MODEL_MAX_IOQ
#define NM_NQ          (NM_MAX_QID + 1)
#define NM_MAX_HELD    64
#define NM_MAX_BACKLOG 256
#define NM_MAX_ABORTS  32
#define NM_LOG_ERR_MAX 64

/* Register offsets, spec 3.1 */
#define NM_REG_CAP   0x00
#define NM_REG_VS    0x08
#define NM_REG_INTMS 0x0c
#define NM_REG_INTMC 0x10
#define NM_REG_CC    0x14
#define NM_REG_CSTS  0x1c
#define NM_REG_NSSR  0x20
#define NM_REG_AQA   0x24
#define NM_REG_ASQ   0x28
#define NM_REG_ACQ   0x30
#define NM_REG_DB    0x1000

/* CC fields */
#define NM_CC_EN         0x1u
#define NM_CC_CSS(cc)    (((cc) >> 4) & 7u)
#define NM_CC_MPS(cc)    (((cc) >> 7) & 0xfu)
#define NM_CC_AMS(cc)    (((cc) >> 11) & 7u)
#define NM_CC_SHN(cc)    (((cc) >> 14) & 3u)
#define NM_CC_IOSQES(cc) (((cc) >> 16) & 0xfu)
#define NM_CC_IOCQES(cc) (((cc) >> 20) & 0xfu)
/* CSTS fields */
#define NM_CSTS_RDY            0x1u
#define NM_CSTS_CFS            0x2u
#define NM_CSTS_SHST_MASK      0xcu
#define NM_CSTS_SHST_OCCURRING 0x4u
#define NM_CSTS_SHST_COMPLETE  0x8u

/* Internal status: the 15-bit CQE status field (DW3 bits 31:17) without the phase tag. */
#define NM_ST(sct, sc)     ((uint16_t)((((unsigned)(sct)&7u) << 8) | ((unsigned)(sc)&0xffu)))
#define NM_DNR             0x4000u
#define NM_ST_DNR(sct, sc) ((uint16_t)(NM_ST(sct, sc) | NM_DNR))
#define NM_OK              0u

/* Admin opcodes (spec 5) */
#define NM_ADM_DELETE_SQ 0x00
#define NM_ADM_CREATE_SQ 0x01
#define NM_ADM_GET_LOG   0x02
#define NM_ADM_DELETE_CQ 0x04
#define NM_ADM_CREATE_CQ 0x05
#define NM_ADM_IDENTIFY  0x06
#define NM_ADM_ABORT     0x08
#define NM_ADM_SET_FEAT  0x09
#define NM_ADM_GET_FEAT  0x0a
#define NM_ADM_AER       0x0c
/* NVM opcodes (NVM command set 6) */
#define NM_IO_FLUSH        0x00
#define NM_IO_WRITE        0x01
#define NM_IO_READ         0x02
#define NM_IO_COMPARE      0x05
#define NM_IO_WRITE_ZEROES 0x08
#define NM_IO_DSM          0x09

enum nm_trans { NM_TRANS_NONE, NM_TRANS_ENABLE, NM_TRANS_DISABLE, NM_TRANS_SHUTDOWN };

/* A submission queue entry, decoded. */
struct nm_cmd {
    uint16_t sqid;
    uint8_t opc, fuse, psdt;
    uint16_t cid;
    uint32_t nsid;
    uint64_t mptr, prp1, prp2;
    uint32_t cdw[16]; /* cdw[10..15] used */
    uint8_t raw[64];
};

/* What a command's execution produced. */
struct nm_result {
    uint16_t status;
    uint32_t dw0, dw1;
    bool no_cqe; /* completion comes later (AER) */
    uint64_t err_lba;
};

/* A completion queue entry before it is written. */
struct nm_cqe {
    uint32_t dw0, dw1;
    uint16_t sqhd, sqid, cid, status;
    bool bad_phase, no_irq;
};

struct nm_sq {
    bool exists;
    uint16_t size, head, tail, cqid;
    uint8_t qprio;
    uint64_t base;
    uint64_t *avail_at; /* DEFERRED: virtual time each slot becomes processable */
};

struct nm_cq {
    bool exists, ien, irq_pending;
    uint16_t size, head, tail, vector;
    uint8_t phase;
    uint64_t base;
};

struct nm_held {
    bool used;
    struct nm_cmd cmd;
};

struct nm_pend {
    bool used;
    uint16_t cqid;
    uint64_t at, seq;
    struct nm_cqe e;
};

struct nm_event {
    uint8_t type, info, lid;
};

struct nm_ns {
    bool present; /* configured */
    bool active;  /* visible: cfg active and nsid <= nn */
    bool wp;
    uint32_t nsid;
    uint64_t nsze, ncap;
    uint32_t lbasize; /* data bytes per block */
    uint16_t ms;      /* metadata bytes per block */
    bool extended;
    uint8_t *data, *meta;
};

struct nvme_model {
    struct sim *s;
    struct nvme_model_cfg cfg;
    struct sim_pci_fn *fn;
    int region, poller;
    bool has_msix;
    struct sim_msix msix;
    bool removed;

    /* registers */
    uint32_t cc, csts, intms, aqa;
    uint64_t asq, acq;
    uint32_t page; /* memory page size latched at enable */
    enum nm_trans trans;
    uint64_t trans_at;
    bool trans_cfs; /* enable ends in CFS */
    bool shut_down; /* SHST complete: no more processing */
    bool halted;    /* CFS mid-I/O: no more processing */

    /* queues */
    struct nm_sq sq[NM_NQ];
    struct nm_cq cq[NM_NQ];
    struct nm_held held[NM_MAX_HELD];
    struct nm_pend backlog[NM_MAX_BACKLOG];
    unsigned backlog_n;
    uint64_t seq;
    struct {
        uint16_t sqid, cid;
    } aborts[NM_MAX_ABORTS];
    unsigned aborts_n;
    bool in_process, rerun, deferred_work, bme_warned, events_deferred;
    bool intx_pending[32];
    uint64_t irq_kick; /* vectors to signal regardless of CQ state (INTMC unmask) */
    bool irq_work;

    /* namespaces */
    struct nm_ns ns[NVME_MODEL_MAX_NS];

    /* features */
    uint32_t feat[256];
    uint16_t tmpth[9][2];
    uint32_t ivc[NVME_MODEL_MAX_VECTORS];
    uint8_t apst[256];
    uint16_t nsq_max, ncq_max; /* 1-based grant */

    /* events */
    uint16_t aer_cid[NVME_MODEL_MAX_AER];
    unsigned aer_n;
    struct nm_event events[NVME_MODEL_MAX_AER];
    unsigned events_n;
    bool aen_masked[8];
    uint8_t aen_lid[8];

    /* SMART and logs */
    uint16_t temperature;
    uint8_t crit_warn;
    uint64_t units_read_512, units_written_512, host_reads, host_writes;
    uint64_t err_count;
    uint8_t errlog[NM_LOG_ERR_MAX][64];
    unsigned errlog_n;

    /* scratch */
    struct {
        uint64_t bus;
        uint32_t len;
    } * segs;
    size_t segs_cap, segs_n;

    struct nvme_model_stats st;
};

/* nvme_model_regs.c */
void nm_reset_state(struct nvme_model *m);
bool nm_running(const struct nvme_model *m);
void nm_poll_transitions(struct nvme_model *m);

/* nvme_model_queue.c */
void nm_sq_doorbell(struct nvme_model *m, uint16_t qid, uint32_t val);
void nm_cq_doorbell(struct nvme_model *m, uint16_t qid, uint32_t val);
unsigned nm_process(struct nvme_model *m, bool deliver_irqs);
void nm_complete(struct nvme_model *m, const struct nm_cmd *c, const struct nm_result *r);
void nm_post(struct nvme_model *m, uint16_t cqid, const struct nm_cqe *e, uint64_t delay_us);
void nm_deliver_irqs(struct nvme_model *m);
void nm_intx_unmasked(struct nvme_model *m, uint32_t bits);
void nm_poller(void *arg);
void nm_execute(struct nvme_model *m, const struct nm_cmd *c);
void nm_run_and_complete(struct nvme_model *m, const struct nm_cmd *c);
void nm_flush_backlog(struct nvme_model *m);
void nm_queue_free(struct nm_sq *sq);

/* nvme_model_faults.c */
bool nm_fault_cmd(struct nvme_model *m, int id, const struct nm_cmd *c, uint32_t *value);
bool nm_fault(struct nvme_model *m, int id, uint32_t *value);
bool nm_fault_cqe(struct nvme_model *m, const struct nm_cmd *c, struct nm_cqe *e, uint16_t *cqid,
                  uint64_t *delay_us);

/* nvme_model_prp.c */
uint16_t nm_prp_map(struct nvme_model *m, uint64_t prp1, uint64_t prp2, size_t len);
uint16_t nm_xfer_to_host(struct nvme_model *m, const struct nm_cmd *c, const void *buf, size_t len);
uint16_t nm_xfer_from_host(struct nvme_model *m, const struct nm_cmd *c, void *buf, size_t len);

/* nvme_model_admin.c */
void nm_admin(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r);
void nm_features_default(struct nvme_model *m);

/* nvme_model_identify.c */
void nm_identify(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r);
void nm_get_log(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r);
void nm_log_error(struct nvme_model *m, const struct nm_cmd *c, const struct nm_result *r);

/* nvme_model_events.c */
void nm_aer_submit(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r);
void nm_event(struct nvme_model *m, uint8_t type, uint8_t info, uint8_t lid);
void nm_events_deliver(struct nvme_model *m);
void nm_events_log_read(struct nvme_model *m, uint8_t lid);
void nm_temperature_check(struct nvme_model *m);
bool nm_aer_abort(struct nvme_model *m, uint16_t cid);

/* nvme_model_io.c */
void nm_io(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r);
struct nm_ns *nm_ns_find(struct nvme_model *m, uint32_t nsid);

/* little-endian helpers */
static inline void nm_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void nm_put32(uint8_t *p, uint32_t v)
{
    nm_put16(p, (uint16_t)v);
    nm_put16(p + 2, (uint16_t)(v >> 16));
}
static inline void nm_put64(uint8_t *p, uint64_t v)
{
    nm_put32(p, (uint32_t)v);
    nm_put32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t nm_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t nm_get32(const uint8_t *p)
{
    return (uint32_t)nm_get16(p) | ((uint32_t)nm_get16(p + 2) << 16);
}
static inline uint64_t nm_get64(const uint8_t *p)
{
    return (uint64_t)nm_get32(p) | ((uint64_t)nm_get32(p + 4) << 32);
}

#endif
