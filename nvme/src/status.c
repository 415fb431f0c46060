/* SPDX-License-Identifier: MIT */
/*
 * Completion status (spec 4.6.1): decoding into SCT/SC/CRD/More/DNR, mapping to KEEL_E* codes, and
 * the retry policy. Names live in status_names.c so a build that never prints them can leave the
 * table out.
 */
#include "nvme_priv.h"

struct keel_nvme_status keel_nvme_status_decode(uint16_t status)
{
    struct keel_nvme_status st;

    st.sc = (uint8_t)KEEL_NVME_STATUS_SC(status);
    st.sct = (uint8_t)KEEL_NVME_STATUS_SCT(status);
    st.crd = (uint8_t)KEEL_NVME_STATUS_CRD(status);
    st.more = KEEL_NVME_STATUS_MORE(status) != 0u;
    st.dnr = KEEL_NVME_STATUS_DNR(status) != 0u;
    return st;
}

static int generic_to_err(uint32_t sc)
{
    switch (sc) {
    case KEEL_NVME_SC_SUCCESS:
        return KEEL_OK;
    case KEEL_NVME_SC_INVALID_OPCODE:
        return KEEL_ENOTSUP;
    case KEEL_NVME_SC_INVALID_FIELD:
    case KEEL_NVME_SC_INVALID_NS:
    case KEEL_NVME_SC_PRP_OFFSET_INVALID:
        return KEEL_EINVAL;
    case KEEL_NVME_SC_ABORT_REQUESTED:
        return KEEL_ETIMEDOUT; /* Keel only aborts commands that timed out */
    case KEEL_NVME_SC_ABORT_SQ_DELETED:
    case KEEL_NVME_SC_POWER_LOSS:
        return KEEL_ECANCELED;
    case KEEL_NVME_SC_NS_WRITE_PROTECTED:
        return KEEL_EROFS;
    case KEEL_NVME_SC_LBA_OUT_OF_RANGE:
    case KEEL_NVME_SC_CAPACITY_EXCEEDED:
        return KEEL_ERANGE;
    case KEEL_NVME_SC_NS_NOT_READY:
        return KEEL_EBUSY;
    default:
        return KEEL_EIO;
    }
}

int keel_nvme_status_to_err(uint16_t status)
{
    uint32_t sct = KEEL_NVME_STATUS_SCT(status), sc = KEEL_NVME_STATUS_SC(status);

    if (sct == KEEL_NVME_SCT_GENERIC)
        return generic_to_err(sc);
    if (sct == KEEL_NVME_SCT_MEDIA && sc == KEEL_NVME_SC_COMPARE_FAILURE)
        return KEEL_EBADMSG;
    if (sct == KEEL_NVME_SCT_CMD_SPECIFIC && sc != KEEL_NVME_SC_ABORT_LIMIT)
        return KEEL_EINVAL;
    return KEEL_EIO;
}

/*
 * DNR clear means "the same command may succeed if resubmitted". Not retried even then: commands we
 * aborted or whose queue was deleted (they were meant to end), host-aborted path errors, and a
 * Compare miscompare (an answer, not a failure).
 */
bool keel_nvme_status_retriable(uint16_t status)
{
    uint32_t sct = KEEL_NVME_STATUS_SCT(status), sc = KEEL_NVME_STATUS_SC(status);

    if (status == 0u || KEEL_NVME_STATUS_DNR(status))
        return false;
    if (sct == KEEL_NVME_SCT_GENERIC &&
        (sc == KEEL_NVME_SC_ABORT_REQUESTED || sc == KEEL_NVME_SC_ABORT_SQ_DELETED))
        return false;
    if (sct == KEEL_NVME_SCT_MEDIA && sc == KEEL_NVME_SC_COMPARE_FAILURE)
        return false;
    if (sct == KEEL_NVME_SCT_PATH && sc == KEEL_NVME_SC_HOST_ABORTED)
        return false;
    return true;
}

uint16_t keel_nvme_last_status(const struct keel_nvme_ctrl *ctrl, unsigned queue)
{
    if (ctrl == NULL || queue >= ctrl->nr_io)
        return 0;
    return ctrl->io[queue].last_status;
}
