/* SPDX-License-Identifier: MIT */
/*
 * keel/nvme_spec.h - the parts of the NVM Express Base Specification 1.4 that Keel uses: controller
 * registers, queue entry layouts, opcodes, status codes, Identify and log page offsets.
 *
 * Everything here is a spec fact with the spec's own name; section numbers refer to NVMe 1.4. The
 * structures mirror little-endian device layouts: fill them with keel_cpu_to_le* and read
 * device-written buffers with keel_ld_le* (never cast a device buffer to a wider type).
 */
#ifndef KEEL_NVME_SPEC_H
#define KEEL_NVME_SPEC_H

#include <stdint.h>

/* ---- PCI identity (class code 01h, subclass 08h, programming interface 02h) ---- */
#define KEEL_NVME_PCI_CLASS    0x01u
#define KEEL_NVME_PCI_SUBCLASS 0x08u
#define KEEL_NVME_PCI_PROG_IF  0x02u

/* ---- Controller registers (3.1), offsets within BAR0 ---- */
#define KEEL_NVME_REG_CAP   0x00u   /* 64-bit: Controller Capabilities */
#define KEEL_NVME_REG_VS    0x08u   /* Version */
#define KEEL_NVME_REG_INTMS 0x0cu   /* Interrupt Mask Set (INTx/MSI only) */
#define KEEL_NVME_REG_INTMC 0x10u   /* Interrupt Mask Clear */
#define KEEL_NVME_REG_CC    0x14u   /* Controller Configuration */
#define KEEL_NVME_REG_CSTS  0x1cu   /* Controller Status */
#define KEEL_NVME_REG_AQA   0x24u   /* Admin Queue Attributes */
#define KEEL_NVME_REG_ASQ   0x28u   /* 64-bit: Admin SQ base */
#define KEEL_NVME_REG_ACQ   0x30u   /* 64-bit: Admin CQ base */
#define KEEL_NVME_REG_DBS   0x1000u /* first doorbell; stride 4 << CAP.DSTRD */

/* CAP fields (3.1.1). */
#define KEEL_NVME_CAP_MQES(cap)   ((uint32_t)((cap)&0xffffu))
#define KEEL_NVME_CAP_CQR(cap)    ((uint32_t)(((cap) >> 16) & 0x1u))
#define KEEL_NVME_CAP_TO(cap)     ((uint32_t)(((cap) >> 24) & 0xffu))
#define KEEL_NVME_CAP_DSTRD(cap)  ((uint32_t)(((cap) >> 32) & 0xfu))
#define KEEL_NVME_CAP_NSSRS(cap)  ((uint32_t)(((cap) >> 36) & 0x1u))
#define KEEL_NVME_CAP_CSS(cap)    ((uint32_t)(((cap) >> 37) & 0xffu))
#define KEEL_NVME_CAP_MPSMIN(cap) ((uint32_t)(((cap) >> 48) & 0xfu))
#define KEEL_NVME_CAP_MPSMAX(cap) ((uint32_t)(((cap) >> 52) & 0xfu))
#define KEEL_NVME_CAP_CSS_NVM     0x01u

/* CC fields (3.1.5). */
#define KEEL_NVME_CC_EN         0x1u
#define KEEL_NVME_CC_CSS_NVM    (0u << 4)
#define KEEL_NVME_CC_MPS(shift) ((uint32_t)((shift)-12u) << 7)
#define KEEL_NVME_CC_AMS_RR     (0u << 11)
#define KEEL_NVME_CC_SHN_MASK   (3u << 14)
#define KEEL_NVME_CC_SHN_NORMAL (1u << 14)
#define KEEL_NVME_CC_SHN_ABRUPT (2u << 14)
#define KEEL_NVME_CC_IOSQES(n)  ((uint32_t)(n) << 16)
#define KEEL_NVME_CC_IOCQES(n)  ((uint32_t)(n) << 20)

/* CSTS fields (3.1.6). */
#define KEEL_NVME_CSTS_RDY            0x1u
#define KEEL_NVME_CSTS_CFS            0x2u
#define KEEL_NVME_CSTS_SHST_MASK      (3u << 2)
#define KEEL_NVME_CSTS_SHST_NORMAL    (0u << 2)
#define KEEL_NVME_CSTS_SHST_OCCURRING (1u << 2)
#define KEEL_NVME_CSTS_SHST_COMPLETE  (2u << 2)
#define KEEL_NVME_CSTS_NSSRO          0x10u
#define KEEL_NVME_CSTS_PP             0x20u

/* Queue entry sizes: 64-byte SQE (2^6), 16-byte CQE (2^4). */
#define KEEL_NVME_SQES_SHIFT 6u
#define KEEL_NVME_CQES_SHIFT 4u

/** Submission queue entry (4.2). Fields are little-endian. */
struct keel_nvme_sqe {
    uint8_t opc;
    uint8_t flags; /* FUSE 1:0, PSDT 7:6 (0: PRPs) */
    uint16_t cid;
    uint32_t nsid;
    uint32_t cdw2;
    uint32_t cdw3;
    uint64_t mptr;
    uint64_t prp1;
    uint64_t prp2;
    uint32_t cdw10;
    uint32_t cdw11;
    uint32_t cdw12;
    uint32_t cdw13;
    uint32_t cdw14;
    uint32_t cdw15;
};

/* Completion queue entry (4.6): byte offsets (read with keel_ld_le*). */
#define KEEL_NVME_CQE_DW0    0u
#define KEEL_NVME_CQE_DW1    4u
#define KEEL_NVME_CQE_SQHD   8u  /* 16 bits */
#define KEEL_NVME_CQE_SQID   10u /* 16 bits */
#define KEEL_NVME_CQE_CID    12u /* 16 bits */
#define KEEL_NVME_CQE_STATUS 14u /* 16 bits: P bit 0, SC 8:1, SCT 11:9, CRD 13:12, M 14, DNR 15 */

/* Status field (4.6.1), as the 15-bit value without the phase tag: status = CQE bits 31:17. */
#define KEEL_NVME_STATUS_SC(st)   ((uint32_t)(st)&0xffu)
#define KEEL_NVME_STATUS_SCT(st)  (((uint32_t)(st) >> 8) & 0x7u)
#define KEEL_NVME_STATUS_CRD(st)  (((uint32_t)(st) >> 11) & 0x3u)
#define KEEL_NVME_STATUS_MORE(st) (((uint32_t)(st) >> 13) & 0x1u)
#define KEEL_NVME_STATUS_DNR(st)  (((uint32_t)(st) >> 14) & 0x1u)

/* Status code types (4.6.1.2). */
#define KEEL_NVME_SCT_GENERIC      0x0u
#define KEEL_NVME_SCT_CMD_SPECIFIC 0x1u
#define KEEL_NVME_SCT_MEDIA        0x2u
#define KEEL_NVME_SCT_PATH         0x3u
#define KEEL_NVME_SCT_VENDOR       0x7u

/* Generic command status (4.6.1.2.1). */
#define KEEL_NVME_SC_SUCCESS            0x00u
#define KEEL_NVME_SC_INVALID_OPCODE     0x01u
#define KEEL_NVME_SC_INVALID_FIELD      0x02u
#define KEEL_NVME_SC_CID_CONFLICT       0x03u
#define KEEL_NVME_SC_DATA_XFER_ERROR    0x04u
#define KEEL_NVME_SC_POWER_LOSS         0x05u
#define KEEL_NVME_SC_INTERNAL           0x06u
#define KEEL_NVME_SC_ABORT_REQUESTED    0x07u
#define KEEL_NVME_SC_ABORT_SQ_DELETED   0x08u
#define KEEL_NVME_SC_INVALID_NS         0x0bu
#define KEEL_NVME_SC_CMD_SEQ_ERROR      0x0cu
#define KEEL_NVME_SC_PRP_OFFSET_INVALID 0x13u
#define KEEL_NVME_SC_NS_WRITE_PROTECTED 0x20u
#define KEEL_NVME_SC_CMD_INTERRUPTED    0x21u
#define KEEL_NVME_SC_LBA_OUT_OF_RANGE   0x80u
#define KEEL_NVME_SC_CAPACITY_EXCEEDED  0x81u
#define KEEL_NVME_SC_NS_NOT_READY       0x82u
/* Command specific status (4.6.1.2.2). */
#define KEEL_NVME_SC_INVALID_CQ       0x00u
#define KEEL_NVME_SC_INVALID_QID      0x01u
#define KEEL_NVME_SC_INVALID_QSIZE    0x02u
#define KEEL_NVME_SC_ABORT_LIMIT      0x03u
#define KEEL_NVME_SC_AER_LIMIT        0x05u
#define KEEL_NVME_SC_INVALID_VECTOR   0x08u
#define KEEL_NVME_SC_INVALID_LOG_PAGE 0x09u
/* Media and data integrity errors (4.6.1.2.3). */
#define KEEL_NVME_SC_WRITE_FAULT      0x80u
#define KEEL_NVME_SC_UNRECOVERED_READ 0x81u
#define KEEL_NVME_SC_COMPARE_FAILURE  0x85u
/* Path related (4.6.1.2.4). */
#define KEEL_NVME_SC_HOST_ABORTED 0x71u

/* Admin opcodes (5). */
#define KEEL_NVME_ADM_DELETE_SQ      0x00u
#define KEEL_NVME_ADM_CREATE_SQ      0x01u
#define KEEL_NVME_ADM_GET_LOG_PAGE   0x02u
#define KEEL_NVME_ADM_DELETE_CQ      0x04u
#define KEEL_NVME_ADM_CREATE_CQ      0x05u
#define KEEL_NVME_ADM_IDENTIFY       0x06u
#define KEEL_NVME_ADM_ABORT          0x08u
#define KEEL_NVME_ADM_SET_FEATURES   0x09u
#define KEEL_NVME_ADM_GET_FEATURES   0x0au
#define KEEL_NVME_ADM_ASYNC_EVENT    0x0cu
#define KEEL_NVME_ADM_NS_MGMT        0x0du
#define KEEL_NVME_ADM_FW_COMMIT      0x10u
#define KEEL_NVME_ADM_FW_DOWNLOAD    0x11u
#define KEEL_NVME_ADM_SELF_TEST      0x14u
#define KEEL_NVME_ADM_NS_ATTACH      0x15u
#define KEEL_NVME_ADM_KEEP_ALIVE     0x18u
#define KEEL_NVME_ADM_DIRECTIVE_SEND 0x19u
#define KEEL_NVME_ADM_DIRECTIVE_RECV 0x1au
#define KEEL_NVME_ADM_VIRT_MGMT      0x1cu
#define KEEL_NVME_ADM_NVME_MI_SEND   0x1du
#define KEEL_NVME_ADM_NVME_MI_RECV   0x1eu
#define KEEL_NVME_ADM_DOORBELL_BUF   0x7cu
#define KEEL_NVME_ADM_FORMAT_NVM     0x80u
#define KEEL_NVME_ADM_SECURITY_SEND  0x81u
#define KEEL_NVME_ADM_SECURITY_RECV  0x82u
#define KEEL_NVME_ADM_SANITIZE       0x84u
#define KEEL_NVME_ADM_GET_LBA_STATUS 0x86u

/* NVM command set opcodes (6). */
#define KEEL_NVME_CMD_FLUSH        0x00u
#define KEEL_NVME_CMD_WRITE        0x01u
#define KEEL_NVME_CMD_READ         0x02u
#define KEEL_NVME_CMD_WRITE_UNCOR  0x04u
#define KEEL_NVME_CMD_COMPARE      0x05u
#define KEEL_NVME_CMD_WRITE_ZEROES 0x08u
#define KEEL_NVME_CMD_DSM          0x09u

/* Read/Write CDW12 (6.9, 6.15). */
#define KEEL_NVME_RW_FUA  (1u << 30)
#define KEEL_NVME_RW_LR   (1u << 31)
#define KEEL_NVME_WZ_DEAC (1u << 25)
/* Dataset Management CDW11 (6.7). */
#define KEEL_NVME_DSM_AD         (1u << 2)
#define KEEL_NVME_DSM_RANGE_SIZE 16u
#define KEEL_NVME_DSM_MAX_RANGES 256u

/* Create I/O queue CDW11 bits (5.3, 5.4). */
#define KEEL_NVME_QUEUE_PC 0x1u
#define KEEL_NVME_CQ_IEN   0x2u

/* Identify CNS values (5.15). */
#define KEEL_NVME_CNS_NS             0x00u
#define KEEL_NVME_CNS_CTRL           0x01u
#define KEEL_NVME_CNS_ACTIVE_NS_LIST 0x02u
#define KEEL_NVME_IDENTIFY_SIZE      4096u

/* Feature identifiers (5.21.1). */
#define KEEL_NVME_FEAT_ARBITRATION     0x01u
#define KEEL_NVME_FEAT_POWER_MGMT      0x02u
#define KEEL_NVME_FEAT_TEMP_THRESHOLD  0x04u
#define KEEL_NVME_FEAT_ERROR_RECOVERY  0x05u
#define KEEL_NVME_FEAT_VOLATILE_WC     0x06u
#define KEEL_NVME_FEAT_NUM_QUEUES      0x07u
#define KEEL_NVME_FEAT_IRQ_COALESCING  0x08u
#define KEEL_NVME_FEAT_IRQ_CONFIG      0x09u
#define KEEL_NVME_FEAT_WRITE_ATOMICITY 0x0au
#define KEEL_NVME_FEAT_ASYNC_EVENT     0x0bu
#define KEEL_NVME_FEAT_APST            0x0cu
#define KEEL_NVME_APST_TABLE_SIZE      256u

/* Log page identifiers (5.14.1). */
#define KEEL_NVME_LOG_ERROR            0x01u
#define KEEL_NVME_LOG_SMART            0x02u
#define KEEL_NVME_LOG_FW_SLOT          0x03u
#define KEEL_NVME_LOG_CHANGED_NS       0x04u
#define KEEL_NVME_LOG_ERROR_ENTRY_SIZE 64u
#define KEEL_NVME_LOG_SMART_SIZE       512u
#define KEEL_NVME_LOG_FW_SLOT_SIZE     512u
#define KEEL_NVME_LOG_RAE              (1u << 15)

/* Asynchronous event completion DW0 (5.2.1). */
#define KEEL_NVME_AER_TYPE(dw0)   ((uint8_t)((dw0)&0x7u))
#define KEEL_NVME_AER_INFO(dw0)   ((uint8_t)(((dw0) >> 8) & 0xffu))
#define KEEL_NVME_AER_LOG(dw0)    ((uint8_t)(((dw0) >> 16) & 0xffu))
#define KEEL_NVME_AET_ERROR       0u
#define KEEL_NVME_AET_SMART       1u
#define KEEL_NVME_AET_NOTICE      2u
#define KEEL_NVME_AET_IO_SPECIFIC 6u
#define KEEL_NVME_AET_VENDOR      7u
/* SMART/health event information (5.2.1 figure 147). */
#define KEEL_NVME_AEI_SMART_RELIABILITY 0x00u
#define KEEL_NVME_AEI_SMART_TEMPERATURE 0x01u
#define KEEL_NVME_AEI_SMART_SPARE       0x02u
/* Notice event information. */
#define KEEL_NVME_AEI_NOTICE_NS_CHANGED 0x00u
/* Asynchronous Event Configuration feature (5.21.1.11). */
#define KEEL_NVME_AEC_SMART_MASK    0xffu
#define KEEL_NVME_AEC_NS_ATTR       (1u << 8)
#define KEEL_NVME_AEC_FW_ACTIVATION (1u << 9)

/* SMART critical warning bits (5.14.1.2). */
#define KEEL_NVME_CW_SPARE           0x01u
#define KEEL_NVME_CW_TEMPERATURE     0x02u
#define KEEL_NVME_CW_RELIABILITY     0x04u
#define KEEL_NVME_CW_READ_ONLY       0x08u
#define KEEL_NVME_CW_VOLATILE_BACKUP 0x10u
#define KEEL_NVME_CW_PMR_READ_ONLY   0x20u

/* Identify Controller byte offsets (5.15.2.2). */
#define KEEL_NVME_IDC_VID    0u
#define KEEL_NVME_IDC_SN     4u  /* 20 ASCII bytes */
#define KEEL_NVME_IDC_MN     24u /* 40 ASCII bytes */
#define KEEL_NVME_IDC_FR     64u /* 8 ASCII bytes */
#define KEEL_NVME_IDC_MDTS   77u
#define KEEL_NVME_IDC_CNTLID 78u
#define KEEL_NVME_IDC_VER    80u
#define KEEL_NVME_IDC_RTD3R  84u
#define KEEL_NVME_IDC_RTD3E  88u
#define KEEL_NVME_IDC_OAES   92u
#define KEEL_NVME_IDC_CRDT1  134u
#define KEEL_NVME_IDC_OACS   256u
#define KEEL_NVME_IDC_ACL    258u
#define KEEL_NVME_IDC_AERL   259u
#define KEEL_NVME_IDC_FRMW   260u
#define KEEL_NVME_IDC_LPA    261u
#define KEEL_NVME_IDC_ELPE   262u
#define KEEL_NVME_IDC_NPSS   263u
#define KEEL_NVME_IDC_APSTA  265u
#define KEEL_NVME_IDC_WCTEMP 266u
#define KEEL_NVME_IDC_CCTEMP 268u
#define KEEL_NVME_IDC_SQES   512u
#define KEEL_NVME_IDC_CQES   513u
#define KEEL_NVME_IDC_NN     516u
#define KEEL_NVME_IDC_ONCS   520u
#define KEEL_NVME_IDC_VWC    525u
#define KEEL_NVME_IDC_SGLS   536u
#define KEEL_NVME_IDC_PSD0   2048u
#define KEEL_NVME_PSD_SIZE   32u

/* ONCS bits. */
#define KEEL_NVME_ONCS_COMPARE      0x0001u
#define KEEL_NVME_ONCS_WRITE_UNCOR  0x0002u
#define KEEL_NVME_ONCS_DSM          0x0004u
#define KEEL_NVME_ONCS_WRITE_ZEROES 0x0008u

/* Identify Namespace byte offsets (6.1.5 / 5.15.2.1). */
#define KEEL_NVME_IDNS_NSZE      0u
#define KEEL_NVME_IDNS_NCAP      8u
#define KEEL_NVME_IDNS_NUSE      16u
#define KEEL_NVME_IDNS_NSFEAT    24u
#define KEEL_NVME_IDNS_NLBAF     25u
#define KEEL_NVME_IDNS_FLBAS     26u
#define KEEL_NVME_IDNS_DPS       29u
#define KEEL_NVME_IDNS_DLFEAT    33u
#define KEEL_NVME_IDNS_NSATTR    99u
#define KEEL_NVME_IDNS_LBAF0     128u
#define KEEL_NVME_IDNS_MAX_LBAF  64u /* NVMe 2.0: 64 formats fill bytes 128..383 */
#define KEEL_NVME_FLBAS_EXTENDED 0x10u

#endif
