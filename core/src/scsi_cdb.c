/* SPDX-License-Identifier: MIT */
/*
 * scsi_cdb.c - SCSI command descriptor block builders (SPC-5 6.x, SBC-4 5.x) and the UNMAP
 * parameter list. Every field is stored byte by byte, big-endian, so CDBs can sit anywhere.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/scsi.h>
#include <keel/str.h>

/* READ/WRITE byte 1 (SBC-4 5.15, 5.40): DPO bit 4, FUA bit 3. */
#define RW_BYTE1_DPO 0x10u
#define RW_BYTE1_FUA 0x08u
/* SYNCHRONIZE CACHE byte 1: IMMED bit 1. */
#define SYNC_BYTE1_IMMED 0x02u

static unsigned cdb_start(uint8_t *cdb, uint8_t opcode, unsigned len)
{
    keel_memset(cdb, 0, len);
    cdb[0] = opcode;
    return len;
}

static uint8_t rw_byte1(unsigned flags)
{
    uint8_t b = 0;
    if ((flags & KEEL_SCSI_RW_FUA) != 0u)
        b |= RW_BYTE1_FUA;
    if ((flags & KEEL_SCSI_RW_DPO) != 0u)
        b |= RW_BYTE1_DPO;
    return b;
}

unsigned keel_scsi_cdb_test_unit_ready(uint8_t *cdb)
{
    return cdb_start(cdb, KEEL_SCSI_OP_TEST_UNIT_READY, 6);
}

unsigned keel_scsi_cdb_inquiry(uint8_t *cdb, uint16_t alloc_len)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_INQUIRY, 6);
    keel_st_be16(cdb + 3, alloc_len);
    return n;
}

unsigned keel_scsi_cdb_inquiry_vpd(uint8_t *cdb, uint8_t page, uint16_t alloc_len)
{
    unsigned n = keel_scsi_cdb_inquiry(cdb, alloc_len);
    cdb[1] = 0x01; /* EVPD */
    cdb[2] = page;
    return n;
}

unsigned keel_scsi_cdb_report_luns(uint8_t *cdb, uint8_t select_report, uint32_t alloc_len)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_REPORT_LUNS, 12);
    cdb[2] = select_report;
    keel_st_be32(cdb + 6, alloc_len);
    return n;
}

unsigned keel_scsi_cdb_read_capacity10(uint8_t *cdb)
{
    return cdb_start(cdb, KEEL_SCSI_OP_READ_CAPACITY10, 10);
}

unsigned keel_scsi_cdb_read_capacity16(uint8_t *cdb, uint32_t alloc_len)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_SERVICE_ACTION_IN16, 16);
    cdb[1] = KEEL_SCSI_SAI_READ_CAPACITY16;
    keel_st_be32(cdb + 10, alloc_len);
    return n;
}

unsigned keel_scsi_cdb_rw10(uint8_t *cdb, bool write, uint32_t lba, uint16_t nblocks,
                            unsigned flags)
{
    unsigned n = cdb_start(cdb, write ? KEEL_SCSI_OP_WRITE10 : KEEL_SCSI_OP_READ10, 10);
    cdb[1] = rw_byte1(flags);
    keel_st_be32(cdb + 2, lba);
    keel_st_be16(cdb + 7, nblocks);
    return n;
}

unsigned keel_scsi_cdb_rw16(uint8_t *cdb, bool write, uint64_t lba, uint32_t nblocks,
                            unsigned flags)
{
    unsigned n = cdb_start(cdb, write ? KEEL_SCSI_OP_WRITE16 : KEEL_SCSI_OP_READ16, 16);
    cdb[1] = rw_byte1(flags);
    keel_st_be64(cdb + 2, lba);
    keel_st_be32(cdb + 10, nblocks);
    return n;
}

bool keel_scsi_rw_needs16(uint64_t lba, uint32_t nblocks)
{
    return lba > 0xffffffffull || nblocks > 0xffffu;
}

int keel_scsi_cdb_rw(uint8_t *cdb, bool write, uint64_t lba, uint32_t nblocks, unsigned flags)
{
    if (nblocks == 0u)
        return KEEL_EINVAL;
    if (lba > UINT64_MAX - nblocks + 1u) /* the last block must still have an address */
        return KEEL_ERANGE;
    if ((flags & KEEL_SCSI_RW_FORCE16) != 0u || keel_scsi_rw_needs16(lba, nblocks))
        return (int)keel_scsi_cdb_rw16(cdb, write, lba, nblocks, flags);
    return (int)keel_scsi_cdb_rw10(cdb, write, (uint32_t)lba, (uint16_t)nblocks, flags);
}

unsigned keel_scsi_cdb_sync_cache10(uint8_t *cdb, uint32_t lba, uint16_t nblocks, bool immed)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_SYNCHRONIZE_CACHE10, 10);
    cdb[1] = immed ? SYNC_BYTE1_IMMED : 0u;
    keel_st_be32(cdb + 2, lba);
    keel_st_be16(cdb + 7, nblocks);
    return n;
}

unsigned keel_scsi_cdb_sync_cache16(uint8_t *cdb, uint64_t lba, uint32_t nblocks, bool immed)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_SYNCHRONIZE_CACHE16, 16);
    cdb[1] = immed ? SYNC_BYTE1_IMMED : 0u;
    keel_st_be64(cdb + 2, lba);
    keel_st_be32(cdb + 10, nblocks);
    return n;
}

unsigned keel_scsi_cdb_unmap(uint8_t *cdb, uint16_t param_len)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_UNMAP, 10);
    keel_st_be16(cdb + 7, param_len);
    return n;
}

static uint8_t mode_byte2(uint8_t pc, uint8_t page)
{
    return (uint8_t)(((pc & 3u) << 6) | (page & 0x3fu));
}

unsigned keel_scsi_cdb_mode_sense6(uint8_t *cdb, bool dbd, uint8_t pc, uint8_t page,
                                   uint8_t subpage, uint8_t alloc_len)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_MODE_SENSE6, 6);
    cdb[1] = dbd ? 0x08u : 0u;
    cdb[2] = mode_byte2(pc, page);
    cdb[3] = subpage;
    cdb[4] = alloc_len;
    return n;
}

unsigned keel_scsi_cdb_mode_sense10(uint8_t *cdb, bool dbd, uint8_t pc, uint8_t page,
                                    uint8_t subpage, uint16_t alloc_len)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_MODE_SENSE10, 10);
    cdb[1] = dbd ? 0x08u : 0u;
    cdb[2] = mode_byte2(pc, page);
    cdb[3] = subpage;
    keel_st_be16(cdb + 7, alloc_len);
    return n;
}

unsigned keel_scsi_cdb_request_sense(uint8_t *cdb, bool desc, uint8_t alloc_len)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_REQUEST_SENSE, 6);
    cdb[1] = desc ? 0x01u : 0u;
    cdb[4] = alloc_len;
    return n;
}

unsigned keel_scsi_cdb_start_stop_unit(uint8_t *cdb, bool immed, bool start, bool loej)
{
    unsigned n = cdb_start(cdb, KEEL_SCSI_OP_START_STOP_UNIT, 6);
    cdb[1] = immed ? 0x01u : 0u;
    cdb[4] = (uint8_t)((loej ? 0x02u : 0u) | (start ? 0x01u : 0u));
    return n;
}

/*
 * UNMAP parameter list (SBC-4 5.32.2): UNMAP DATA LENGTH (n - 1, i.e. bytes after itself), UNMAP
 * BLOCK DESCRIPTOR DATA LENGTH (n - 7, bytes of descriptors), 4 reserved, then descriptors of
 * LBA (8 bytes), NUMBER OF LOGICAL BLOCKS (4), reserved (4).
 */
int keel_scsi_unmap_build(uint8_t *param, uint32_t cap, uint64_t lba, uint64_t nblocks,
                          uint32_t max_lba_count, uint32_t max_desc, uint64_t *covered)
{
    uint32_t ndesc_max, ndesc = 0;
    uint64_t budget, done = 0;
    uint32_t len;

    *covered = 0;
    if (nblocks == 0u)
        return KEEL_EINVAL;
    if (lba > UINT64_MAX - nblocks + 1u)
        return KEEL_ERANGE;
    if (cap < 24u)
        return KEEL_ENOSPC;
    ndesc_max = (cap - 8u) >> 4;
    if (ndesc_max > KEEL_SCSI_UNMAP_DESC_MAX)
        ndesc_max = KEEL_SCSI_UNMAP_DESC_MAX;
    if (max_desc != 0u && max_desc < ndesc_max)
        ndesc_max = max_desc;
    budget = nblocks;
    if (max_lba_count != 0u && max_lba_count < budget)
        budget = max_lba_count;

    while (done < budget && ndesc < ndesc_max) {
        uint64_t left = budget - done;
        uint32_t n = left > 0xffffffffull ? 0xffffffffu : (uint32_t)left;
        uint8_t *d = param + 8u + ((uint32_t)ndesc << 4);
        keel_st_be64(d, lba + done);
        keel_st_be32(d + 8, n);
        keel_st_be32(d + 12, 0);
        done += n;
        ndesc++;
    }
    len = 8u + ((uint32_t)ndesc << 4);
    keel_st_be16(param, (uint16_t)(len - 2u));
    keel_st_be16(param + 2, (uint16_t)(len - 8u));
    keel_st_be32(param + 4, 0);
    *covered = done;
    return (int)len;
}
