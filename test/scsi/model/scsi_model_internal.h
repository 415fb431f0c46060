/* SPDX-License-Identifier: MIT */
/* scsi_model_internal.h - state shared by the SCSI target model's files (not for tests). */
#ifndef SCSI_MODEL_INTERNAL_H
#define SCSI_MODEL_INTERNAL_H

#include "scsi_model.h"

#define SM_UA_MAX      8u
#define SM_BAD_MAX     8u
#define SM_CHUNK_SHIFT 16u /* 64 KiB media chunks */
#define SM_CHUNK_SIZE  (1u << SM_CHUNK_SHIFT)

/* SCSI constants the model needs (written from the specs, independent of core/keel/scsi.h so a
 * mistake there cannot hide in both). */
#define SM_GOOD            0x00u
#define SM_CHECK_CONDITION 0x02u
#define SM_BUSY            0x08u
#define SK_NO_SENSE        0x0u
#define SK_NOT_READY       0x2u
#define SK_MEDIUM_ERROR    0x3u
#define SK_ILLEGAL_REQUEST 0x5u
#define SK_UNIT_ATTENTION  0x6u
#define SK_DATA_PROTECT    0x7u

struct sm_chunk {
    uint64_t idx; /* byte offset >> SM_CHUNK_SHIFT */
    uint8_t *data;
};

/* Sparse medium: chunks sorted by idx. */
struct sm_media {
    struct sm_chunk *chunks;
    size_t n, cap;
};

struct sm_ua {
    uint8_t asc, ascq;
};

struct sm_bad {
    uint64_t lba;
    bool on_read, on_write;
};

struct sm_lu {
    uint32_t lun;
    struct scsi_model_lun_cfg cfg;
    struct sm_media media;
    struct sm_ua ua[SM_UA_MAX];
    unsigned n_ua;
    uint32_t becoming_ready; /* commands left answering 04/01 */
    bool stopped;            /* 04/02 until START STOP UNIT */
    uint32_t busy_cmds;
    uint8_t busy_status;
    uint32_t hold_cmds;
    struct sm_bad bad[SM_BAD_MAX];
    unsigned n_bad;
    struct scsi_model_lun_stats stats;
};

struct sm_target {
    unsigned flags;
    struct sm_lu **lus; /* sorted by LUN */
    size_t n, cap;
};

struct sm_held {
    struct scsi_model_cmd cmd;
    uint8_t cdb[SCSI_MODEL_CDB_MAX];
};

struct scsi_model {
    struct sim *sim;
    struct sm_target *targets[SCSI_MODEL_MAX_TARGET + 1u];
    struct sm_held *held;
    size_t n_held, cap_held;
    struct scsi_model_event events[SCSI_MODEL_EVENT_MAX];
    unsigned ev_head, ev_count;
    bool ev_missed;
    scsi_model_complete_fn complete;
    void *complete_ctx;
};

/* One command in flight inside the model. */
struct sm_ctx {
    struct scsi_model *m;
    struct sm_target *t;
    struct sm_lu *lu; /* NULL: LUN absent on a present target */
    const struct scsi_model_cmd *cmd;
    struct scsi_model_result *res;
    uint8_t op;
};

/* scsi_model.c */
struct sm_lu *sm_lu_find(const struct scsi_model *m, uint8_t target, uint32_t lun);
/* Consult fault `id` for this command (filter in param bits 31:0); VALUE in *value. */
bool sm_fault(struct sm_ctx *c, int id, uint32_t *value);
/* The same without consuming a hit (is it armed and does this command match?). */
bool sm_fault_peek(const struct sm_ctx *c, int id, uint32_t *value);
void sm_check(struct sm_ctx *c, uint8_t key, uint8_t asc, uint8_t ascq);
void sm_check_info(struct sm_ctx *c, uint8_t key, uint8_t asc, uint8_t ascq, uint64_t info);
/* Build sense data into buf (>= 32 bytes); returns its length. */
uint32_t sm_build_sense(uint8_t *buf, bool desc, uint8_t key, uint8_t asc, uint8_t ascq,
                        bool info_valid, uint64_t info);
void sm_data_in(struct sm_ctx *c, const void *buf, uint32_t len, uint32_t alloc);

/* scsi_model_cmds.c */
/* Transfer length the CDB asks for (0 when none or unknown), and its direction. */
uint64_t sm_xfer_len(const struct sm_ctx *c, bool *data_out);
void sm_dispatch(struct sm_ctx *c);
void sm_absent_lun(struct sm_ctx *c);
bool sm_op_needs_medium(uint8_t op);

/* scsi_model_media.c */
void sm_media_read(const struct sm_media *md, uint64_t off, uint8_t *buf, size_t len);
void sm_media_write(struct sm_media *md, uint64_t off, const uint8_t *buf, size_t len);
void sm_media_discard(struct sm_media *md, uint64_t off, uint64_t len);
void sm_media_free(struct sm_media *md);
size_t sm_media_footprint(const struct sm_media *md);

/* Big-endian helpers (the model writes device data byte by byte). */
static inline void sm_be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void sm_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void sm_be64(uint8_t *p, uint64_t v)
{
    sm_be32(p, (uint32_t)(v >> 32));
    sm_be32(p + 4, (uint32_t)v);
}
static inline uint32_t sm_get16(const uint8_t *p)
{
    return ((uint32_t)p[0] << 8) | p[1];
}
static inline uint32_t sm_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t sm_get64(const uint8_t *p)
{
    return ((uint64_t)sm_get32(p) << 32) | sm_get32(p + 4);
}

#endif
