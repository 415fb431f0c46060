/* SPDX-License-Identifier: MIT */
/*
 * scsi_names.c - names for SCSI status codes (SAM-5 5.3), sense keys (SPC-5 4.4.8), common
 * additional sense codes (SPC-5 Annex F, the ones storage drivers meet) and the retry actions.
 */
#include <keel/scsi.h>

#include <stddef.h>

const char *keel_scsi_status_name(uint8_t status)
{
    switch (status) {
    case KEEL_SCSI_STATUS_GOOD:
        return "GOOD";
    case KEEL_SCSI_STATUS_CHECK_CONDITION:
        return "CHECK CONDITION";
    case KEEL_SCSI_STATUS_CONDITION_MET:
        return "CONDITION MET";
    case KEEL_SCSI_STATUS_BUSY:
        return "BUSY";
    case KEEL_SCSI_STATUS_RESERVATION_CONFLICT:
        return "RESERVATION CONFLICT";
    case KEEL_SCSI_STATUS_TASK_SET_FULL:
        return "TASK SET FULL";
    case KEEL_SCSI_STATUS_ACA_ACTIVE:
        return "ACA ACTIVE";
    case KEEL_SCSI_STATUS_TASK_ABORTED:
        return "TASK ABORTED";
    default:
        return "UNKNOWN STATUS";
    }
}

static const char *const sense_key_names[16] = {
    "NO SENSE",       "RECOVERED ERROR", "NOT READY",      "MEDIUM ERROR",
    "HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
    "BLANK CHECK",    "VENDOR SPECIFIC", "COPY ABORTED",   "ABORTED COMMAND",
    "RESERVED",       "VOLUME OVERFLOW", "MISCOMPARE",     "COMPLETED",
};

const char *keel_scsi_sense_key_name(uint8_t key)
{
    return sense_key_names[key & 0x0fu];
}

#define ANY_ASCQ 0x100u /* table entry matching every ASCQ of its ASC */

struct asc_entry {
    uint8_t asc;
    uint16_t ascq; /* or ANY_ASCQ */
    const char *name;
};

/* Exact pairs; the ANY_ASCQ family entries at the end are the fallback. */
static const struct asc_entry asc_table[] = {
    {0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION"},
    {0x04, 0x00, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE"},
    {0x04, 0x01, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY"},
    {0x04, 0x02, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED"},
    {0x04, 0x03, "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED"},
    {0x04, 0x04, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS"},
    {0x04, 0x07, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS"},
    {0x04, 0x0a, "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION"},
    {0x04, 0x0b, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE"},
    {0x04, 0x0c, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE"},
    {0x05, 0x00, "LOGICAL UNIT DOES NOT RESPOND TO SELECTION"},
    {0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE"},
    {0x0c, 0x00, "WRITE ERROR"},
    {0x0c, 0x02, "WRITE ERROR - AUTO REALLOCATION FAILED"},
    {0x10, 0x01, "LOGICAL BLOCK GUARD CHECK FAILED"},
    {0x10, 0x02, "LOGICAL BLOCK APPLICATION TAG CHECK FAILED"},
    {0x10, 0x03, "LOGICAL BLOCK REFERENCE TAG CHECK FAILED"},
    {0x11, 0x00, "UNRECOVERED READ ERROR"},
    {0x11, 0x04, "UNRECOVERED READ ERROR - AUTO REALLOCATE FAILED"},
    {0x14, 0x01, "RECORD NOT FOUND"},
    {0x1a, 0x00, "PARAMETER LIST LENGTH ERROR"},
    {0x20, 0x00, "INVALID COMMAND OPERATION CODE"},
    {0x21, 0x00, "LOGICAL BLOCK ADDRESS OUT OF RANGE"},
    {0x24, 0x00, "INVALID FIELD IN CDB"},
    {0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED"},
    {0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"},
    {0x27, 0x00, "WRITE PROTECTED"},
    {0x27, 0x01, "HARDWARE WRITE PROTECTED"},
    {0x27, 0x02, "LOGICAL UNIT SOFTWARE WRITE PROTECTED"},
    {0x27, 0x07, "SPACE ALLOCATION FAILED WRITE PROTECT"},
    {0x28, 0x00, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED"},
    {0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"},
    {0x29, 0x01, "POWER ON OCCURRED"},
    {0x29, 0x02, "SCSI BUS RESET OCCURRED"},
    {0x29, 0x03, "BUS DEVICE RESET FUNCTION OCCURRED"},
    {0x29, 0x04, "DEVICE INTERNAL RESET"},
    {0x29, 0x07, "I_T NEXUS LOSS OCCURRED"},
    {0x2a, 0x00, "PARAMETERS CHANGED"},
    {0x2a, 0x01, "MODE PARAMETERS CHANGED"},
    {0x2a, 0x06, "ASYMMETRIC ACCESS STATE CHANGED"},
    {0x2a, 0x09, "CAPACITY DATA HAS CHANGED"},
    {0x2f, 0x00, "COMMANDS CLEARED BY ANOTHER INITIATOR"},
    {0x31, 0x00, "MEDIUM FORMAT CORRUPTED"},
    {0x38, 0x07, "THIN PROVISIONING SOFT THRESHOLD REACHED"},
    {0x3a, 0x00, "MEDIUM NOT PRESENT"},
    {0x3a, 0x01, "MEDIUM NOT PRESENT - TRAY CLOSED"},
    {0x3a, 0x02, "MEDIUM NOT PRESENT - TRAY OPEN"},
    {0x3e, 0x01, "LOGICAL UNIT FAILURE"},
    {0x3e, 0x02, "TIMEOUT ON LOGICAL UNIT"},
    {0x3f, 0x01, "MICROCODE HAS BEEN CHANGED"},
    {0x3f, 0x03, "INQUIRY DATA HAS CHANGED"},
    {0x3f, 0x0e, "REPORTED LUNS DATA HAS CHANGED"},
    {0x44, 0x00, "INTERNAL TARGET FAILURE"},
    {0x47, 0x00, "SCSI PARITY ERROR"},
    {0x4b, 0x00, "DATA PHASE ERROR"},
    {0x4e, 0x00, "OVERLAPPED COMMANDS ATTEMPTED"},
    {0x55, 0x03, "INSUFFICIENT RESOURCES"},
    {0x5d, 0x00, "FAILURE PREDICTION THRESHOLD EXCEEDED"},
    /* families */
    {0x04, ANY_ASCQ, "LOGICAL UNIT NOT READY"},
    {0x0c, ANY_ASCQ, "WRITE ERROR"},
    {0x10, ANY_ASCQ, "PROTECTION INFORMATION CHECK FAILED"},
    {0x11, ANY_ASCQ, "UNRECOVERED READ ERROR"},
    {0x27, ANY_ASCQ, "WRITE PROTECTED"},
    {0x29, ANY_ASCQ, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"},
    {0x2a, ANY_ASCQ, "PARAMETERS CHANGED"},
    {0x3a, ANY_ASCQ, "MEDIUM NOT PRESENT"},
    {0x5d, ANY_ASCQ, "FAILURE PREDICTION THRESHOLD EXCEEDED"},
};

const char *keel_scsi_asc_name(uint8_t asc, uint8_t ascq)
{
    size_t i;
    for (i = 0; i < sizeof(asc_table) / sizeof(asc_table[0]); i++) {
        const struct asc_entry *e = &asc_table[i];
        if (e->asc == asc && (e->ascq == ascq || e->ascq == ANY_ASCQ))
            return e->name;
    }
    return NULL;
}

const char *keel_scsi_action_name(enum keel_scsi_action action)
{
    switch (action) {
    case KEEL_SCSI_ACT_OK:
        return "OK";
    case KEEL_SCSI_ACT_RETRY:
        return "RETRY";
    case KEEL_SCSI_ACT_WAIT_READY:
        return "WAIT_READY";
    case KEEL_SCSI_ACT_START_UNIT:
        return "START_UNIT";
    case KEEL_SCSI_ACT_NO_MEDIUM:
        return "NO_MEDIUM";
    case KEEL_SCSI_ACT_FAIL_MEDIUM:
        return "FAIL_MEDIUM";
    case KEEL_SCSI_ACT_FAIL:
        return "FAIL";
    case KEEL_SCSI_ACT_CAPACITY_CHANGED:
        return "CAPACITY_CHANGED";
    case KEEL_SCSI_ACT_RESCAN:
        return "RESCAN";
    default:
        return "UNKNOWN";
    }
}
