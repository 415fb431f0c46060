/* SPDX-License-Identifier: MIT */
/*
 * keel/scsi.h - transport-independent SCSI helpers (SPC-4/5, SBC-3/4, SAM-5): command descriptor
 * block (CDB) builders, parsers for the data a device returns, sense decoding with names, and the
 * retry policy every SCSI transport driver (virtio-scsi, later others) applies.
 *
 * Byte order: every multi-byte SCSI field is big-endian and is written/read one byte at a time
 * (keel_st_be* / keel_ld_be*), so CDBs and buffers may sit at any alignment.
 *
 * Trust: everything a parser reads came from the device. Every parser takes `len`, the number of
 * bytes the device really transferred (the allocation length minus the transport's residual, see
 * keel_scsi_xfer_len), and never reads beyond it, whatever length fields inside the data claim.
 * A length field larger than what arrived is clamped to what arrived (the data is truncated, not
 * invalid); a structure too short to hold its mandatory fields is KEEL_EPROTO.
 *
 * Every function here is pure (no state, no HAL): thread-safe, any context (including interrupt
 * handlers), unless its comment says otherwise.
 */
#ifndef KEEL_SCSI_H
#define KEEL_SCSI_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants ---------------------------------------------------------------------------------
 */

/** Largest CDB any builder writes: pass builders a buffer of at least this many bytes. */
#define KEEL_SCSI_CDB_MAX 16u

/** Operation codes (SPC-5 / SBC-4). */
enum keel_scsi_opcode {
    KEEL_SCSI_OP_TEST_UNIT_READY = 0x00,
    KEEL_SCSI_OP_REQUEST_SENSE = 0x03,
    KEEL_SCSI_OP_INQUIRY = 0x12,
    KEEL_SCSI_OP_MODE_SENSE6 = 0x1a,
    KEEL_SCSI_OP_START_STOP_UNIT = 0x1b,
    KEEL_SCSI_OP_READ_CAPACITY10 = 0x25,
    KEEL_SCSI_OP_READ10 = 0x28,
    KEEL_SCSI_OP_WRITE10 = 0x2a,
    KEEL_SCSI_OP_SYNCHRONIZE_CACHE10 = 0x35,
    KEEL_SCSI_OP_UNMAP = 0x42,
    KEEL_SCSI_OP_MODE_SENSE10 = 0x5a,
    KEEL_SCSI_OP_READ16 = 0x88,
    KEEL_SCSI_OP_WRITE16 = 0x8a,
    KEEL_SCSI_OP_SYNCHRONIZE_CACHE16 = 0x91,
    KEEL_SCSI_OP_SERVICE_ACTION_IN16 = 0x9e,
    KEEL_SCSI_OP_REPORT_LUNS = 0xa0,
};

/** SERVICE ACTION IN(16) service action for READ CAPACITY(16) (SBC-4 5.20). */
#define KEEL_SCSI_SAI_READ_CAPACITY16 0x10u

/** SCSI status codes (SAM-5 5.3). */
enum keel_scsi_status {
    KEEL_SCSI_STATUS_GOOD = 0x00,
    KEEL_SCSI_STATUS_CHECK_CONDITION = 0x02,
    KEEL_SCSI_STATUS_CONDITION_MET = 0x04,
    KEEL_SCSI_STATUS_BUSY = 0x08,
    KEEL_SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
    KEEL_SCSI_STATUS_TASK_SET_FULL = 0x28,
    KEEL_SCSI_STATUS_ACA_ACTIVE = 0x30,
    KEEL_SCSI_STATUS_TASK_ABORTED = 0x40,
};

/** Sense keys (SPC-5 4.4.8). */
enum keel_scsi_sense_key {
    KEEL_SCSI_SK_NO_SENSE = 0x0,
    KEEL_SCSI_SK_RECOVERED_ERROR = 0x1,
    KEEL_SCSI_SK_NOT_READY = 0x2,
    KEEL_SCSI_SK_MEDIUM_ERROR = 0x3,
    KEEL_SCSI_SK_HARDWARE_ERROR = 0x4,
    KEEL_SCSI_SK_ILLEGAL_REQUEST = 0x5,
    KEEL_SCSI_SK_UNIT_ATTENTION = 0x6,
    KEEL_SCSI_SK_DATA_PROTECT = 0x7,
    KEEL_SCSI_SK_BLANK_CHECK = 0x8,
    KEEL_SCSI_SK_VENDOR_SPECIFIC = 0x9,
    KEEL_SCSI_SK_COPY_ABORTED = 0xa,
    KEEL_SCSI_SK_ABORTED_COMMAND = 0xb,
    KEEL_SCSI_SK_VOLUME_OVERFLOW = 0xd,
    KEEL_SCSI_SK_MISCOMPARE = 0xe,
    KEEL_SCSI_SK_COMPLETED = 0xf,
};

/** Peripheral device types (SPC-5 6.7.2) Keel cares about, and the "no device" value. */
#define KEEL_SCSI_TYPE_DISK  0x00u /* direct access block device (SBC) */
#define KEEL_SCSI_TYPE_CDROM 0x05u /* CD/DVD (MMC) */
#define KEEL_SCSI_TYPE_NONE  0x1fu /* unknown or no device type */
/** Peripheral qualifiers. */
#define KEEL_SCSI_PQ_CONNECTED 0u /* 000b: a device of this type is connected to this LUN */
#define KEEL_SCSI_PQ_NOT_CONN  1u /* 001b: supported, not connected now */
#define KEEL_SCSI_PQ_NO_LUN    3u /* 011b: the target cannot have a device at this LUN */

/** VPD page codes. */
#define KEEL_SCSI_VPD_SUPPORTED    0x00u
#define KEEL_SCSI_VPD_SERIAL       0x80u
#define KEEL_SCSI_VPD_DEVICE_ID    0x83u
#define KEEL_SCSI_VPD_BLOCK_LIMITS 0xb0u
#define KEEL_SCSI_VPD_PROVISIONING 0xb2u

/** Sizes of the fixed-size answers (what to allocate). */
#define KEEL_SCSI_INQUIRY_STD_LEN 36u   /* standard INQUIRY data up to the revision field */
#define KEEL_SCSI_RC10_LEN        8u    /* READ CAPACITY(10) parameter data */
#define KEEL_SCSI_RC16_LEN        32u   /* READ CAPACITY(16) parameter data */
#define KEEL_SCSI_VPD_B0_LEN      64u   /* Block Limits page (page length 003Ch + 4) */
#define KEEL_SCSI_SENSE_FIXED_LEN 18u   /* fixed sense data through the sense-key specific bytes */
#define KEEL_SCSI_SENSE_MAX       252u  /* largest sense data SPC allows */
#define KEEL_SCSI_REPORT_LUNS_MIN 16u   /* smallest allocation length REPORT LUNS accepts */
#define KEEL_SCSI_UNMAP_DESC_MAX  4095u /* descriptors fitting the 16-bit parameter list length */

/* ---- CDB builders ------------------------------------------------------------------------------
 * Each writes a complete CDB (reserved bytes and the CONTROL byte zero) into `cdb`, which must hold
 * KEEL_SCSI_CDB_MAX bytes, and returns the CDB length in bytes (6, 10, 12 or 16).
 * Thread safety: pure; any context.
 */

/** TEST UNIT READY (00h), 6 bytes. */
unsigned keel_scsi_cdb_test_unit_ready(uint8_t *cdb);

/**
 * INQUIRY (12h) for the standard data, 6 bytes. `alloc_len` is 16-bit since SPC-3; keep it <= 255
 * for SPC-2 devices, which read only byte 4. 96 is a common choice, 36 the minimum useful.
 */
unsigned keel_scsi_cdb_inquiry(uint8_t *cdb, uint16_t alloc_len);

/** INQUIRY (12h) with EVPD = 1 for VPD page `page`, 6 bytes. */
unsigned keel_scsi_cdb_inquiry_vpd(uint8_t *cdb, uint8_t page, uint16_t alloc_len);

/**
 * REPORT LUNS (A0h), 12 bytes. `select_report` 00h = LUNs except well-known ones (use this), 02h =
 * all. `alloc_len` must be >= KEEL_SCSI_REPORT_LUNS_MIN or devices may reject it.
 */
unsigned keel_scsi_cdb_report_luns(uint8_t *cdb, uint8_t select_report, uint32_t alloc_len);

/** READ CAPACITY(10) (25h), 10 bytes (LBA 0, PMI 0). */
unsigned keel_scsi_cdb_read_capacity10(uint8_t *cdb);

/** READ CAPACITY(16): SERVICE ACTION IN(16) (9Eh) with service action 10h, 16 bytes. */
unsigned keel_scsi_cdb_read_capacity16(uint8_t *cdb, uint32_t alloc_len);

/** Flags of the READ/WRITE builders. */
#define KEEL_SCSI_RW_FUA     (1u << 0) /* force unit access: complete only once on the medium */
#define KEEL_SCSI_RW_DPO     (1u << 1) /* disable page out: do not keep the data in cache */
#define KEEL_SCSI_RW_FORCE16 (1u << 2) /* keel_scsi_cdb_rw: use (16) even if (10) would do */

/** READ(10) (28h) / WRITE(10) (2Ah), 10 bytes; only FUA and DPO of `flags` are used. */
unsigned keel_scsi_cdb_rw10(uint8_t *cdb, bool write, uint32_t lba, uint16_t nblocks,
                            unsigned flags);

/** READ(16) (88h) / WRITE(16) (8Ah), 16 bytes; only FUA and DPO of `flags` are used. */
unsigned keel_scsi_cdb_rw16(uint8_t *cdb, bool write, uint64_t lba, uint32_t nblocks,
                            unsigned flags);

/**
 * True when a transfer of `nblocks` at `lba` cannot be expressed by READ/WRITE(10): the LBA needs
 * more than 32 bits or the length more than 16 bits.
 */
bool keel_scsi_rw_needs16(uint64_t lba, uint32_t nblocks);

/**
 * READ or WRITE, (10) when it can express the transfer and KEEL_SCSI_RW_FORCE16 is not in
 * `flags`, else (16). Set FORCE16 for devices with more than 2^32 blocks (as READ CAPACITY tells)
 * so every command has the same form. Returns the CDB length, or KEEL_EINVAL for nblocks == 0 (a
 * transfer length of 0 moves no data) and KEEL_ERANGE when lba + nblocks wraps past 2^64.
 */
int keel_scsi_cdb_rw(uint8_t *cdb, bool write, uint64_t lba, uint32_t nblocks, unsigned flags);

/** SYNCHRONIZE CACHE(10) (35h), 10 bytes; nblocks 0 = from `lba` to the end of the medium. */
unsigned keel_scsi_cdb_sync_cache10(uint8_t *cdb, uint32_t lba, uint16_t nblocks, bool immed);

/** SYNCHRONIZE CACHE(16) (91h), 16 bytes; nblocks 0 = from `lba` to the end of the medium. */
unsigned keel_scsi_cdb_sync_cache16(uint8_t *cdb, uint64_t lba, uint32_t nblocks, bool immed);

/** UNMAP (42h), 10 bytes (ANCHOR 0, group 0); `param_len` = the parameter list length in bytes. */
unsigned keel_scsi_cdb_unmap(uint8_t *cdb, uint16_t param_len);

/** Page control values of MODE SENSE. */
#define KEEL_SCSI_MODE_PC_CURRENT    0u
#define KEEL_SCSI_MODE_PC_CHANGEABLE 1u
#define KEEL_SCSI_MODE_PC_DEFAULT    2u
#define KEEL_SCSI_MODE_PC_SAVED      3u
#define KEEL_SCSI_MODE_PAGE_CACHING  0x08u
#define KEEL_SCSI_MODE_PAGE_ALL      0x3fu

/**
 * MODE SENSE(6) (1Ah), 6 bytes. The 4-byte header's device-specific parameter carries WP; ask for
 * page 3Fh (all pages) with dbd = true and alloc_len >= 4 to read it.
 */
unsigned keel_scsi_cdb_mode_sense6(uint8_t *cdb, bool dbd, uint8_t pc, uint8_t page,
                                   uint8_t subpage, uint8_t alloc_len);

/** MODE SENSE(10) (5Ah), 10 bytes (LLBAA 0); header 8 bytes. */
unsigned keel_scsi_cdb_mode_sense10(uint8_t *cdb, bool dbd, uint8_t pc, uint8_t page,
                                    uint8_t subpage, uint16_t alloc_len);

/** REQUEST SENSE (03h), 6 bytes; `desc` asks for descriptor-format sense data. */
unsigned keel_scsi_cdb_request_sense(uint8_t *cdb, bool desc, uint8_t alloc_len);

/** START STOP UNIT (1Bh), 6 bytes (power condition 0: START and LOEJ apply). */
unsigned keel_scsi_cdb_start_stop_unit(uint8_t *cdb, bool immed, bool start, bool loej);

/* ---- UNMAP parameter list ----------------------------------------------------------------------
 */

/**
 * Build an UNMAP parameter list (SBC-4 5.32.2: 8-byte header, then 16-byte block descriptors) into
 * `param` (`cap` bytes) covering as much of [lba, lba + nblocks) as the limits allow:
 * `max_lba_count` blocks in all (Block Limits MAXIMUM UNMAP LBA COUNT; 0 = no limit given),
 * `max_desc` descriptors (MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT; 0 = no limit given), what fits in
 * `cap`, and KEEL_SCSI_UNMAP_DESC_MAX. Each descriptor covers at most 0xFFFFFFFF blocks.
 * Stores the number of blocks covered in *covered (the caller sends this UNMAP, then calls again
 * for the rest). Returns the parameter list length for keel_scsi_cdb_unmap, KEEL_EINVAL for
 * nblocks == 0, KEEL_ERANGE if the range wraps past 2^64, KEEL_ENOSPC if `cap` < 24.
 * Only send UNMAP when the provisioning page (B2h) sets LBPU: a Block Limits page reporting 0 for
 * both counts means the device has no UNMAP, which "no limit given" here does not express.
 * Thread safety: pure; any context.
 */
int keel_scsi_unmap_build(uint8_t *param, uint32_t cap, uint64_t lba, uint64_t nblocks,
                          uint32_t max_lba_count, uint32_t max_desc, uint64_t *covered);

/* ---- lengths and LUNs --------------------------------------------------------------------------
 */

/**
 * Bytes the device really transferred: `alloc_len` minus the transport's `residual`. A residual
 * larger than the allocation is a device lie: KEEL_EPROTO (and *len = 0).
 * Thread safety: pure; any context.
 */
int keel_scsi_xfer_len(uint32_t alloc_len, uint32_t residual, uint32_t *len);

/**
 * Decode one 8-byte REPORT LUNS entry into a LUN number (SAM-5 4.7). Single-level addresses only:
 * peripheral device addressing with bus identifier 0 (00h, LUN; LUN 0..255) and flat space
 * addressing (40h | LUN bits 13:8, LUN bits 7:0; LUN 0..16383, QEMU's form above 255). The
 * second-level bytes 2..7 must be zero. Anything else (multi-level, logical unit addressing,
 * extended, well-known LUNs) is KEEL_ENOTSUP. Thread safety: pure; any context.
 */
int keel_scsi_lun_decode(const uint8_t *entry, uint32_t *lun);

/**
 * Encode `lun` as an 8-byte single-level LUN: peripheral form for 0..255, flat space for
 * 256..16383, KEEL_EINVAL above. Thread safety: pure; any context.
 */
int keel_scsi_lun_encode(uint32_t lun, uint8_t *entry);

/* ---- standard INQUIRY --------------------------------------------------------------------------
 */

/** Standard INQUIRY data, decoded. Strings are printable ASCII, NUL-terminated, trailing blanks
 *  removed; bytes outside 20h..7Eh become '?'; a field the device did not return is empty. */
struct keel_scsi_inquiry {
    uint8_t qualifier;       /* PERIPHERAL QUALIFIER (KEEL_SCSI_PQ_*) */
    uint8_t type;            /* PERIPHERAL DEVICE TYPE (KEEL_SCSI_TYPE_*) */
    bool removable;          /* RMB */
    uint8_t version;         /* VERSION (5 = SPC-3, 6 = SPC-4, 7 = SPC-5, 0 = none claimed) */
    uint8_t response_format; /* RESPONSE DATA FORMAT (2 for every modern device) */
    bool hisup;              /* HISUP: hierarchical LUN addressing in REPORT LUNS */
    bool protect;            /* PROTECT: protection information supported */
    bool cmdque;             /* CMDQUE: command queuing supported */
    uint32_t valid_len; /* bytes of the data that are valid (min(len, ADDITIONAL LENGTH + 5)) */
    char vendor[9];     /* T10 VENDOR IDENTIFICATION */
    char product[17];   /* PRODUCT IDENTIFICATION */
    char revision[5];   /* PRODUCT REVISION LEVEL */
};

/**
 * Parse standard INQUIRY data (`len` bytes transferred). Needs the 5-byte header; fields beyond
 * the valid length are zero / empty. KEEL_EPROTO when shorter than 5 bytes.
 * Thread safety: pure; any context.
 */
int keel_scsi_parse_inquiry(const uint8_t *buf, uint32_t len, struct keel_scsi_inquiry *inq);

/**
 * True when a logical unit is really there: qualifier 000b and a device type other than 1Fh.
 * QEMU and others answer INQUIRY for a missing LUN 0 with qualifier 011b / type 1Fh.
 * Thread safety: pure; any context.
 */
bool keel_scsi_inquiry_lun_present(const struct keel_scsi_inquiry *inq);

/* ---- VPD pages ---------------------------------------------------------------------------------
 */

/**
 * Check a VPD page header (4 bytes: qualifier/type, PAGE CODE, PAGE LENGTH) and return the body
 * (from byte 4) clamped to what arrived. KEEL_EPROTO when `len` < 4 or PAGE CODE != `page`.
 * Thread safety: pure; any context.
 */
int keel_scsi_vpd_body(const uint8_t *buf, uint32_t len, uint8_t page, const uint8_t **body,
                       uint32_t *body_len);

/** The Supported VPD Pages page (00h) as a bitmap. */
struct keel_scsi_vpd_pages {
    uint8_t map[32]; /* bit (page & 7) of map[page >> 3] */
    uint16_t count;  /* distinct pages listed */
};

/** Parse VPD page 00h. Thread safety: pure; any context. */
int keel_scsi_parse_vpd_pages(const uint8_t *buf, uint32_t len, struct keel_scsi_vpd_pages *pages);

/** True when page `page` is listed. Thread safety: pure; any context. */
bool keel_scsi_vpd_has_page(const struct keel_scsi_vpd_pages *pages, uint8_t page);

/**
 * Parse the Unit Serial Number page (80h) into `out` (`cap` bytes, cap >= 1): printable ASCII,
 * leading and trailing blanks removed, truncated to cap - 1. Returns the string length or
 * KEEL_EPROTO / KEEL_EINVAL. Thread safety: pure; any context.
 */
int keel_scsi_parse_vpd_serial(const uint8_t *buf, uint32_t len, char *out, uint32_t cap);

/** Designator types and associations of the Device Identification page (SPC-5 7.7.6). */
#define KEEL_SCSI_DESIG_VENDOR   0x0u
#define KEEL_SCSI_DESIG_T10      0x1u
#define KEEL_SCSI_DESIG_EUI64    0x2u
#define KEEL_SCSI_DESIG_NAA      0x3u
#define KEEL_SCSI_DESIG_NAME     0x8u
#define KEEL_SCSI_DESIG_UUID     0xau
#define KEEL_SCSI_ASSOC_LU       0x0u
#define KEEL_SCSI_ASSOC_PORT     0x1u
#define KEEL_SCSI_ASSOC_TARGET   0x2u
#define KEEL_SCSI_CODESET_BINARY 0x1u
#define KEEL_SCSI_CODESET_ASCII  0x2u
#define KEEL_SCSI_CODESET_UTF8   0x3u

/** One designation descriptor; `id` points into the caller's buffer (valid while it is). */
struct keel_scsi_designator {
    uint8_t protocol; /* PROTOCOL IDENTIFIER (meaningful when piv) */
    uint8_t code_set; /* KEEL_SCSI_CODESET_* */
    bool piv;
    uint8_t assoc; /* KEEL_SCSI_ASSOC_* */
    uint8_t type;  /* KEEL_SCSI_DESIG_* */
    uint8_t len;   /* DESIGNATOR LENGTH, within the page */
    const uint8_t *id;
};

/**
 * Iterate the designation descriptors of a Device Identification page (83h). Start with *cursor
 * = 0; each call returns 1 and the next descriptor, 0 at the end of the page, or KEEL_EPROTO for a
 * bad page header. A descriptor that would cross the page end ends the iteration (0), so a lying
 * DESIGNATOR LENGTH can never make it read past `len`. Thread safety: pure; any context.
 */
int keel_scsi_vpd_devid_next(const uint8_t *buf, uint32_t len, uint32_t *cursor,
                             struct keel_scsi_designator *d);

/**
 * The best logical-unit designator of a page 83h: NAA (8 or 16 bytes, NAA 2/3/5 need 8, 6 needs
 * 16) over EUI-64 (8, 12 or 16 bytes) over T10 vendor ID (>= 8 bytes); malformed ones are skipped.
 * Returns 0 with *d, KEEL_ENOENT when none qualifies, KEEL_EPROTO for a bad page header.
 * Thread safety: pure; any context.
 */
int keel_scsi_vpd_devid_best(const uint8_t *buf, uint32_t len, struct keel_scsi_designator *d);

/** Block Limits page (B0h). A field the device did not return (short page) reads 0 = "not
 *  reported"; for max_xfer_len 0 means "no limit reported". Lengths are in logical blocks. */
struct keel_scsi_block_limits {
    uint16_t page_len;                /* PAGE LENGTH as claimed (3Ch for SBC-3 and later) */
    bool wsnz;                        /* WRITE SAME with 0 blocks not supported */
    uint8_t max_compare_write_len;    /* MAXIMUM COMPARE AND WRITE LENGTH */
    uint16_t opt_xfer_granularity;    /* OPTIMAL TRANSFER LENGTH GRANULARITY */
    uint32_t max_xfer_len;            /* MAXIMUM TRANSFER LENGTH */
    uint32_t opt_xfer_len;            /* OPTIMAL TRANSFER LENGTH */
    uint32_t max_prefetch_len;        /* MAXIMUM PREFETCH LENGTH */
    uint32_t max_unmap_lba_count;     /* MAXIMUM UNMAP LBA COUNT (per command) */
    uint32_t max_unmap_desc_count;    /* MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
    uint32_t opt_unmap_granularity;   /* OPTIMAL UNMAP GRANULARITY */
    bool ugavalid;                    /* UNMAP GRANULARITY ALIGNMENT is valid */
    uint32_t unmap_granularity_align; /* UNMAP GRANULARITY ALIGNMENT (31 bits) */
    uint64_t max_write_same_len;      /* MAXIMUM WRITE SAME LENGTH */
};

/** Parse page B0h. KEEL_EPROTO for a bad header. Thread safety: pure; any context. */
int keel_scsi_parse_vpd_block_limits(const uint8_t *buf, uint32_t len,
                                     struct keel_scsi_block_limits *bl);

/** Provisioning types (B2h byte 6). */
#define KEEL_SCSI_PROV_FULL     0u /* fully provisioned, or not reported */
#define KEEL_SCSI_PROV_RESOURCE 1u
#define KEEL_SCSI_PROV_THIN     2u

/** Logical Block Provisioning page (B2h). */
struct keel_scsi_provisioning {
    uint8_t threshold_exp; /* THRESHOLD EXPONENT */
    bool lbpu;             /* UNMAP supported */
    bool lbpws;            /* WRITE SAME(16) with UNMAP supported */
    bool lbpws10;          /* WRITE SAME(10) with UNMAP supported */
    uint8_t lbprz;         /* LBPRZ field (3 bits, SBC-4); bit 0 set: unmapped blocks read zero */
    bool anc_sup;          /* anchored LBAs supported */
    bool dp;               /* provisioning group descriptor present */
    uint8_t prov_type;     /* KEEL_SCSI_PROV_*; 0 when not returned */
};

/** Parse page B2h; needs bytes 4..5. Thread safety: pure; any context. */
int keel_scsi_parse_vpd_provisioning(const uint8_t *buf, uint32_t len,
                                     struct keel_scsi_provisioning *p);

/* ---- READ CAPACITY -----------------------------------------------------------------------------
 */

/** Capacity, from READ CAPACITY(10) or (16). */
struct keel_scsi_capacity {
    uint64_t last_lba;   /* RETURNED LOGICAL BLOCK ADDRESS */
    uint64_t nblocks;    /* last_lba + 1 */
    uint32_t block_len;  /* LOGICAL BLOCK LENGTH IN BYTES: a power of two in 512..65536 */
    uint8_t block_shift; /* log2(block_len) */
    bool need16;         /* (10) only: the LBA did not fit (FFFFFFFFh): send READ CAPACITY(16) */
    bool prot_en;        /* (16): PROT_EN */
    uint8_t p_type;      /* (16): P_TYPE (protection type - 1 when prot_en) */
    uint8_t lbppbe;      /* (16): logical blocks per physical block exponent */
    bool lbpme;          /* (16): logical block provisioning management enabled */
    bool lbprz;          /* (16): unmapped blocks read as zero */
    uint16_t lowest_aligned; /* (16): LOWEST ALIGNED LOGICAL BLOCK ADDRESS */
};

/**
 * log2 of a logical block length when it is a power of two in 512..65536, else KEEL_EPROTO.
 * Thread safety: pure; any context.
 */
int keel_scsi_block_shift(uint32_t block_len);

/**
 * Parse READ CAPACITY(10) data (8 bytes needed). A RETURNED LOGICAL BLOCK ADDRESS of FFFFFFFFh sets
 * need16 and returns 0 (the block length is still checked). KEEL_EPROTO for short data or a block
 * length that is zero, not a power of two or outside 512..65536. Thread safety: pure; any context.
 */
int keel_scsi_parse_read_capacity10(const uint8_t *buf, uint32_t len,
                                    struct keel_scsi_capacity *cap);

/**
 * Parse READ CAPACITY(16) data: 12 bytes needed (LBA + block length); the protection and
 * provisioning bytes 12..15 are read when present (else zero). KEEL_EPROTO for short data, a bad
 * block length, last LBA FFFFFFFFFFFFFFFFh, or a capacity in bytes that overflows 64 bits.
 * Thread safety: pure; any context.
 */
int keel_scsi_parse_read_capacity16(const uint8_t *buf, uint32_t len,
                                    struct keel_scsi_capacity *cap);

/* ---- REPORT LUNS -------------------------------------------------------------------------------
 */

/** A REPORT LUNS answer. `entries` points into the caller's buffer. */
struct keel_scsi_lun_list {
    const uint8_t *entries; /* first 8-byte entry */
    uint32_t avail;         /* entries that arrived completely (what may be read) */
    uint32_t total;         /* entries the device says exist (LUN LIST LENGTH / 8) */
    uint32_t needed_len;    /* allocation length that holds the whole list (8 + LUN LIST LENGTH) */
    bool truncated;         /* total > avail: grow the buffer to needed_len and ask again */
};

/**
 * Parse REPORT LUNS data (8-byte header, then entries). LUN LIST LENGTH is trusted only to size a
 * retry (needed_len, never beyond 0xFFFFFFF8) and never to read. KEEL_EPROTO for fewer than 8
 * bytes or a LUN LIST LENGTH that is not a multiple of 8. Thread safety: pure; any context.
 */
int keel_scsi_parse_report_luns(const uint8_t *buf, uint32_t len, struct keel_scsi_lun_list *l);

/**
 * Next decodable LUN of a parsed list: start with *cursor = 0; returns 1 with *lun, or 0 at the
 * end. Entries keel_scsi_lun_decode cannot decode are skipped (their count is added to *skipped
 * if non-NULL). Thread safety: pure; any context.
 */
int keel_scsi_lun_list_next(const struct keel_scsi_lun_list *l, uint32_t *cursor, uint32_t *lun,
                            uint32_t *skipped);

/* ---- MODE SENSE --------------------------------------------------------------------------------
 */

/** MODE SENSE parameter header, decoded. For direct-access devices the DEVICE-SPECIFIC PARAMETER
 *  holds WP (bit 7) and DPOFUA (bit 4) (SBC-4 6.5.1). */
struct keel_scsi_mode_header {
    uint32_t data_len; /* bytes of mode data valid in the buffer (clamped to what arrived) */
    uint8_t medium_type;
    uint8_t dev_param; /* DEVICE-SPECIFIC PARAMETER */
    bool wp;           /* write protected */
    bool dpofua;       /* DPO and FUA bits supported */
    bool longlba;      /* (10) only */
    uint16_t bd_len;   /* BLOCK DESCRIPTOR LENGTH as claimed */
};

/** Parse a MODE SENSE(6) header (4 bytes needed). Thread safety: pure; any context. */
int keel_scsi_parse_mode_sense6(const uint8_t *buf, uint32_t len, struct keel_scsi_mode_header *h);

/** Parse a MODE SENSE(10) header (8 bytes needed). Thread safety: pure; any context. */
int keel_scsi_parse_mode_sense10(const uint8_t *buf, uint32_t len, struct keel_scsi_mode_header *h);

/* ---- sense data --------------------------------------------------------------------------------
 */

/** Sense data, decoded from either format. */
struct keel_scsi_sense {
    uint8_t response_code; /* 70h/71h fixed, 72h/73h descriptor */
    bool descriptor;       /* descriptor format */
    bool deferred;         /* 71h/73h: reports an earlier command's error */
    uint8_t key;           /* SENSE KEY */
    uint8_t asc;           /* ADDITIONAL SENSE CODE (0 when not returned) */
    uint8_t ascq;          /* ADDITIONAL SENSE CODE QUALIFIER (0 when not returned) */
    bool asc_valid;        /* asc/ascq were inside the returned data */
    bool info_valid;       /* INFORMATION is valid (VALID bit / information descriptor) */
    uint64_t info;         /* INFORMATION: for medium errors, usually the failing LBA */
    bool sks_valid;        /* SKSV: sense-key specific bytes valid */
    uint8_t sks[3];        /* SENSE KEY SPECIFIC (e.g. field pointer of ILLEGAL REQUEST) */
    bool ili;              /* incorrect length indicator */
};

/**
 * Decode `len` bytes of sense data (the transport's sense length, already clamped to the buffer).
 * Fixed format needs 3 bytes for the sense key and 14 for ASC/ASCQ; descriptor format 4 bytes.
 * The ADDITIONAL SENSE LENGTH only ever shortens what is read. Descriptors are walked bounded;
 * a truncated descriptor ends the walk. KEEL_EPROTO for an unknown response code or fewer bytes
 * than the sense key needs, KEEL_EINVAL for NULL. Thread safety: pure; any context.
 */
int keel_scsi_sense_decode(const uint8_t *buf, uint32_t len, struct keel_scsi_sense *s);

/** "GOOD", "CHECK CONDITION", ...; "UNKNOWN STATUS" otherwise. Thread safety: pure; any context. */
const char *keel_scsi_status_name(uint8_t status);

/** "NOT READY", "MEDIUM ERROR", ...; "RESERVED" for 0Ch. Thread safety: pure; any context. */
const char *keel_scsi_sense_key_name(uint8_t key);

/**
 * Name of an ASC/ASCQ pair from a table of the common ones ("MEDIUM NOT PRESENT", ...): exact
 * pairs first, then a family name for a few ASCs whose every ASCQ shares a meaning (29h, 3Ah,
 * ...). NULL when unknown (print the hex). Thread safety: pure; any context.
 */
const char *keel_scsi_asc_name(uint8_t asc, uint8_t ascq);

/* ---- retry policy ------------------------------------------------------------------------------
 * keel_scsi_classify() turns a command's SCSI status and decoded sense into what the driver does
 * next, plus the Keel error to report if it gives up (or at once, for the FAIL actions). The
 * command was NOT executed in every non-OK case except RECOVERED ERROR (which is OK).
 *
 *   status                                  action            err
 *   GOOD, CONDITION MET                     OK                0
 *   BUSY, TASK SET FULL, ACA ACTIVE         RETRY             KEEL_EBUSY
 *   TASK ABORTED                            RETRY             KEEL_EIO
 *   RESERVATION CONFLICT                    FAIL              KEEL_EBUSY
 *   CHECK CONDITION without usable sense    RETRY             KEEL_EIO
 *   any other status                        FAIL              KEEL_EPROTO
 *
 *   CHECK CONDITION, by sense key / ASC / ASCQ:
 *   RECOVERED ERROR                         OK                0 (data is good)
 *   NO SENSE                                RETRY             KEEL_EIO (false check condition:
 *                                                             how much data moved is unknown)
 *   UNIT ATTENTION 2A/09 capacity changed,  CAPACITY_CHANGED  KEEL_EIO (re-read capacity and
 *     28/xx medium may have changed                             write protection, then retry)
 *   UNIT ATTENTION 3F/0E reported LUNs data RESCAN            KEEL_EIO (REPORT LUNS again,
 *     changed                                                   then retry)
 *   UNIT ATTENTION, anything else (29/xx    RETRY             KEEL_EIO
 *     reset, 2A/xx parameters changed, ...)
 *   NOT READY 04/00, 04/01, 04/04, 04/07,   WAIT_READY        KEEL_ETIMEDOUT (retry after a
 *     04/0A (becoming ready, in progress)                       delay, within a bounded time)
 *   NOT READY 04/02 initializing command    START_UNIT        KEEL_EIO (send START STOP UNIT
 *     required                                                  with START = 1, then retry)
 *   NOT READY 3A/xx medium not present      NO_MEDIUM         KEEL_ENOMEDIUM (not a failure
 *                                                             of the device: it is empty)
 *   NOT READY, anything else (04/03 manual  FAIL              KEEL_EIO
 *     intervention, ...)
 *   MEDIUM ERROR, HARDWARE ERROR            FAIL_MEDIUM       KEEL_EIO (never retried: the
 *                                                             device already did; info = LBA)
 *   ILLEGAL REQUEST 21/xx LBA out of range  FAIL              KEEL_ERANGE
 *   ILLEGAL REQUEST 20/00 invalid opcode,   FAIL              KEEL_ENOTSUP
 *     24/00 invalid field in CDB
 *   ILLEGAL REQUEST 25/00 LUN not supported FAIL              KEEL_ENODEV
 *   ILLEGAL REQUEST 1A/00, 26/xx parameter  FAIL              KEEL_EINVAL
 *     list errors
 *   ILLEGAL REQUEST, anything else          FAIL              KEEL_EIO
 *   DATA PROTECT (27/xx write protected     FAIL              KEEL_EROFS (mark the device
 *     and the rest)                                            read-only)
 *   ABORTED COMMAND 10/xx protection        FAIL              KEEL_EBADMSG (data corrupt in
 *     information check failed                                 flight: do not retry blindly)
 *   ABORTED COMMAND, anything else          RETRY             KEEL_EIO
 *   BLANK CHECK, COPY ABORTED, VOLUME       FAIL              KEEL_EIO
 *     OVERFLOW, MISCOMPARE, VENDOR, others
 *
 * RETRY, WAIT_READY, CAPACITY_CHANGED and RESCAN are bounded by the caller (retry count or
 * deadline); when the bound is reached the caller returns `err`.
 */
enum keel_scsi_action {
    KEEL_SCSI_ACT_OK = 0,
    KEEL_SCSI_ACT_RETRY,
    KEEL_SCSI_ACT_WAIT_READY,
    KEEL_SCSI_ACT_START_UNIT,
    KEEL_SCSI_ACT_NO_MEDIUM,
    KEEL_SCSI_ACT_FAIL_MEDIUM,
    KEEL_SCSI_ACT_FAIL,
    KEEL_SCSI_ACT_CAPACITY_CHANGED,
    KEEL_SCSI_ACT_RESCAN,
    KEEL_SCSI_ACT_COUNT
};

struct keel_scsi_verdict {
    enum keel_scsi_action action;
    int err; /* KEEL_OK for OK, else the KEEL_E* code to report when giving up */
};

/**
 * Apply the policy above. `sense` is the decoded sense, or NULL when none arrived or it did not
 * decode. Thread safety: pure; any context.
 */
struct keel_scsi_verdict keel_scsi_classify(uint8_t status, const struct keel_scsi_sense *sense);

/** "OK", "RETRY", ... Thread safety: pure; any context. */
const char *keel_scsi_action_name(enum keel_scsi_action action);

#ifdef __cplusplus
}
#endif

#endif
