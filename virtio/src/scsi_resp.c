/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi responses (5.6.6.1.1): the response code, then (for OK) the SCSI status, the sense
 * data and the residual, turned into what the driver does next. Everything here was written by
 * the device: the response byte must hold a defined code (it is preset to one no device writes),
 * sense_len is clamped to sense_size, a residual larger than the data buffer is a protocol error,
 * and sense data is decoded only within the bytes that arrived (keel_scsi_sense_decode). The SCSI
 * policy itself (what is retried, waited for or failed) is keel_scsi_classify's.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio_scsi.h>

#include "scsi_internal.h"

static const char *const resp_names[] = {
    "OK",        "OVERRUN",           "ABORTED",        "BAD_TARGET",    "RESET",
    "BUSY",      "TRANSPORT_FAILURE", "TARGET_FAILURE", "NEXUS_FAILURE", "FAILURE",
    "SUCCEEDED", "REJECTED",          "INCORRECT_LUN",
};

const char *keel_vscsi_response_name(uint8_t response)
{
    if (response < sizeof(resp_names) / sizeof(resp_names[0]))
        return resp_names[response];
    return "UNKNOWN";
}

int keel_vscsi_response_err(uint8_t response)
{
    switch (response) {
    case KEEL_VIRTIO_SCSI_S_OK:
        return KEEL_OK;
    case KEEL_VIRTIO_SCSI_S_OVERRUN:
        return KEEL_EPROTO; /* the buffers and the CDB disagree: resending would repeat it */
    case KEEL_VIRTIO_SCSI_S_ABORTED:
    case KEEL_VIRTIO_SCSI_S_RESET:
        return KEEL_ECANCELED;
    case KEEL_VIRTIO_SCSI_S_BAD_TARGET:
        return KEEL_ENODEV;
    case KEEL_VIRTIO_SCSI_S_BUSY:
        return KEEL_EBUSY;
    case KEEL_VIRTIO_SCSI_S_TRANSPORT_FAILURE:
    case KEEL_VIRTIO_SCSI_S_TARGET_FAILURE:
    case KEEL_VIRTIO_SCSI_S_NEXUS_FAILURE:
    case KEEL_VIRTIO_SCSI_S_FAILURE:
        return KEEL_EIO;
    default:
        return KEEL_EPROTO;
    }
}

bool keel_vscsi_response_retriable(uint8_t response)
{
    /* 5.6.6.1.1: BUSY "retrying on the same path is likely to work"; RESET and ABORTED end a
       command that did not fail itself; a transport failure is a severed link that may heal.
       TARGET_FAILURE must not be retried, NEXUS_FAILURE only "on other paths" (there is one). */
    return response == KEEL_VIRTIO_SCSI_S_ABORTED || response == KEEL_VIRTIO_SCSI_S_RESET ||
           response == KEEL_VIRTIO_SCSI_S_BUSY || response == KEEL_VIRTIO_SCSI_S_TRANSPORT_FAILURE;
}

int keel_vscsi_tmf_err(uint8_t response)
{
    switch (response) {
    case KEEL_VIRTIO_SCSI_S_FUNCTION_COMPLETE:
    case KEEL_VIRTIO_SCSI_S_FUNCTION_SUCCEEDED:
        return KEEL_OK;
    case KEEL_VIRTIO_SCSI_S_FUNCTION_REJECTED:
        return KEEL_ENOTSUP;
    case KEEL_VIRTIO_SCSI_S_INCORRECT_LUN:
    case KEEL_VIRTIO_SCSI_S_BAD_TARGET:
        return KEEL_ENODEV;
    case KEEL_VIRTIO_SCSI_S_BUSY:
        return KEEL_EBUSY;
    case RESP_PRESET:
        return KEEL_EPROTO;
    default:
        return KEEL_EIO;
    }
}

const char *keel_vscsi_state_name(uint8_t state)
{
    switch (state) {
    case KEEL_VSCSI_LUN_FREE:
        return "free";
    case KEEL_VSCSI_LUN_READY:
        return "ready";
    case KEEL_VSCSI_LUN_NO_MEDIUM:
        return "no medium";
    case KEEL_VSCSI_LUN_NOT_READY:
        return "not ready";
    case KEEL_VSCSI_LUN_OFFLINE:
        return "offline";
    case KEEL_VSCSI_LUN_GONE:
        return "gone";
    default:
        return "?";
    }
}

/* A response other than OK: the command did not run (or not to its end). */
static void transport_outcome(struct vscsi_outcome *o)
{
    o->err = keel_vscsi_response_err(o->response);
    if (keel_vscsi_response_retriable(o->response)) {
        o->action = A_RETRY;
        if (o->response == KEEL_VIRTIO_SCSI_S_BUSY ||
            o->response == KEEL_VIRTIO_SCSI_S_TRANSPORT_FAILURE)
            o->delay_us = KEEL_CONFIG_VSCSI_RETRY_DELAY_US;
    } else {
        o->action = A_FAIL;
    }
}

/* Copy and decode the `n` sense bytes the device says it wrote, within sense_size. */
static void take_sense(struct keel_vscsi *vs, const volatile uint8_t *r, uint32_t n,
                       struct vscsi_outcome *o, uint8_t *copy)
{
    uint8_t local[KEEL_SCSI_SENSE_MAX];
    uint8_t *buf = copy != NULL ? copy : local;
    uint32_t i;

    if (n > vs->cfg.sense_size) {
        vs->stats.sense_clamped++;
        n = vs->cfg.sense_size;
    }
    for (i = 0; i < n; i++)
        buf[i] = r[KEEL_VIRTIO_SCSI_RESP_HDR_BYTES + i];
    o->sense_len = n;
    o->has_sense = n != 0u && keel_scsi_sense_decode(buf, n, &o->sense) == KEEL_OK;
}

static void scsi_outcome(struct vscsi_outcome *o)
{
    const struct keel_scsi_sense *sense = o->has_sense ? &o->sense : NULL;
    struct keel_scsi_verdict v = keel_scsi_classify(o->status, sense);

    o->err = v.err;
    o->ua = sense != NULL && sense->key == KEEL_SCSI_SK_UNIT_ATTENTION;
    o->scsi_action = (uint8_t)v.action;
    switch (v.action) {
    case KEEL_SCSI_ACT_OK:
        o->action = A_DONE;
        break;
    case KEEL_SCSI_ACT_RETRY:
    case KEEL_SCSI_ACT_CAPACITY_CHANGED:
    case KEEL_SCSI_ACT_RESCAN:
        o->action = A_RETRY;
        if (o->status == KEEL_SCSI_STATUS_BUSY || o->status == KEEL_SCSI_STATUS_TASK_SET_FULL)
            o->delay_us = KEEL_CONFIG_VSCSI_RETRY_DELAY_US;
        break;
    case KEEL_SCSI_ACT_WAIT_READY:
        o->action = A_WAIT;
        break;
    case KEEL_SCSI_ACT_START_UNIT:
        o->action = A_START;
        break;
    default: /* NO_MEDIUM, FAIL_MEDIUM, FAIL */
        o->action = A_FAIL;
        break;
    }
}

void keel_vscsi_decode(struct keel_vscsi *vs, const uint8_t *resp, uint32_t data_len,
                       struct vscsi_outcome *o, uint8_t *sense_copy)
{
    const volatile uint8_t *r = resp;
    uint32_t residual, sense_len;

    keel_memset(o, 0, sizeof(*o));
    o->response = r[11];
    o->status = r[10];
    if (o->response > KEEL_VIRTIO_SCSI_S_FAILURE) {
        /* Unwritten (still the preset) or a TMF-only / undefined code on a request queue. */
        vs->stats.bad_responses++;
        o->action = A_FAIL;
        o->err = KEEL_EPROTO;
        return;
    }
    vs->stats.responses[o->response]++;
    if (o->response != KEEL_VIRTIO_SCSI_S_OK) {
        transport_outcome(o);
        return;
    }
    residual = keel_vscsi_get32_aligned(vs, r + 4); /* slots and responses are 16-byte aligned */
    if (residual > data_len) {
        vs->stats.residual_lies++;
        o->action = A_FAIL;
        o->err = KEEL_EPROTO;
        return;
    }
    o->xfer = data_len - residual;
    sense_len = keel_vscsi_get32_aligned(vs, r); /* read once: the device may still write it */
    if (o->status == KEEL_SCSI_STATUS_GOOD && sense_len == 0u) {
        /* The common case, what take_sense and scsi_outcome make of GOOD without sense data. */
        o->scsi_action = (uint8_t)KEEL_SCSI_ACT_OK;
        o->action = A_DONE;
        return;
    }
    take_sense(vs, r, sense_len, o, sense_copy);
    if (o->status == KEEL_SCSI_STATUS_CHECK_CONDITION)
        vs->stats.check_conditions++;
    scsi_outcome(o);
}

/* Side effects of an outcome on the adapter: rescans, revalidations, write protection. */
/* A failing command, in words: response, or status with the sense key and ASC/ASCQ names. */
static void log_failure(struct keel_vscsi *vs, const struct keel_vscsi_lun *lun,
                        const struct vscsi_outcome *o, bool io)
{
    const char *asc;

    if (o->action != A_FAIL || lun == NULL)
        return;
    if (o->response != KEEL_VIRTIO_SCSI_S_OK) {
        KEEL_LOG_AT(vs->vdev.hal, io ? KEEL_LOG_WARN : KEEL_LOG_DEBUG, "virtio-scsi %u:%u: %s",
                    (unsigned)lun->target, (unsigned)lun->lun,
                    keel_vscsi_response_name(o->response));
        return;
    }
    asc = o->has_sense ? keel_scsi_asc_name(o->sense.asc, o->sense.ascq) : NULL;
    KEEL_LOG_AT(vs->vdev.hal, io ? KEEL_LOG_WARN : KEEL_LOG_DEBUG,
                "virtio-scsi %u:%u: %s, %s, %s (%02x/%02x)", (unsigned)lun->target,
                (unsigned)lun->lun, keel_scsi_status_name(o->status),
                o->has_sense ? keel_scsi_sense_key_name(o->sense.key) : "no sense",
                asc != NULL ? asc : "?", (unsigned)o->sense.asc, (unsigned)o->sense.ascq);
}

/* What keel_vscsi_note_outcome does for anything but a success without a unit attention. */
void keel_vscsi_note_failure(struct keel_vscsi *vs, struct keel_vscsi_lun *lun,
                             const struct vscsi_outcome *o, bool io)
{
    log_failure(vs, lun, o, io);
    if (o->ua)
        vs->stats.unit_attentions++;
    if (o->response == KEEL_VIRTIO_SCSI_S_BAD_TARGET && lun != NULL)
        keel_vscsi_mark_rescan(vs, lun->target);
    /* Discovery and revalidation work their findings out themselves: only I/O asks for more. */
    if (o->response != KEEL_VIRTIO_SCSI_S_OK || lun == NULL || !io)
        return;
    switch (o->scsi_action) {
    case KEEL_SCSI_ACT_RESCAN:
        keel_vscsi_mark_rescan(vs, lun->target); /* 3F/0E: REPORT LUNS data has changed */
        break;
    case KEEL_SCSI_ACT_NO_MEDIUM:
        if (lun->state == KEEL_VSCSI_LUN_NO_MEDIUM)
            break;
        lun->work |= LW_REVALIDATE;
        keel_vscsi_set_work(vs, W_REVALIDATE);
        break;
    case KEEL_SCSI_ACT_CAPACITY_CHANGED:
        lun->work |= LW_REVALIDATE;
        keel_vscsi_set_work(vs, W_REVALIDATE);
        break;
    default:
        if (o->err == KEEL_EROFS && !lun->wp) {
            lun->work |= LW_REVALIDATE; /* DATA PROTECT: read write protection again */
            keel_vscsi_set_work(vs, W_REVALIDATE);
        }
        break;
    }
}
