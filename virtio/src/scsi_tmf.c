/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi control queue (5.6.6.2): task management functions, and the timeout escalation that
 * uses them. A TMF is one slot of control DMA memory (struct virtio_scsi_ctrl_tmf: type, subtype,
 * lun, id, then the response byte, preset to a value no device writes), sent and waited for with a
 * bound under the adapter's control lock. A TMF the device never answers leaves its slot with the
 * device (CS_STUCK) until the next device reset.
 *
 * Escalation of an overdue command (anchor: Linux and FreeBSD state machines, never free a request
 * the device may still write): ABORT TASK, LOGICAL UNIT RESET, I_T NEXUS RESET, each followed by a
 * look at the command's queue, because the device completes the commands a TMF ends before it
 * completes the TMF itself (5.6.6.2). Only when the command is still with the device after all
 * three does the device get reset, after which nothing it held can be written any more.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio_scsi.h>
#include <keel/wait.h>

#include "scsi_internal.h"

/* Polling for a TMF's answer: the first looks come quickly (a TMF usually completes at once), then
 * the spacing doubles up to TMF_POLL_MAX_US, so a device that never answers is not hammered with
 * ring reads for the whole KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US. */
#define TMF_POLL_US     10u
#define TMF_POLL_MAX_US 1000u

static uint8_t *ctrl_cpu(const struct keel_vscsi *vs, unsigned i)
{
    return (uint8_t *)vs->ctrl_mem.cpu + (size_t)i * CTRL_SLOT_LEN;
}

static keel_bus_addr_t ctrl_bus(const struct keel_vscsi *vs, unsigned i)
{
    return vs->ctrl_mem.bus + (keel_bus_addr_t)i * CTRL_SLOT_LEN;
}

/* The control slot a token names, or -1. */
static int ctrl_index(const struct keel_vscsi *vs, const void *token)
{
    unsigned i;

    for (i = 0; i < KEEL_CONFIG_VSCSI_CTRL_SLOTS; i++)
        if (token == (const void *)&vs->ctrl_state[i])
            return (int)i;
    return -1;
}

/* Reap the control queue: KEEL_EPROTO when it is (or just became) broken. */
static int ctrl_reap(struct keel_vscsi *vs)
{
    for (;;) {
        void *token;
        uint32_t len;
        int rc = keel_vq_get(&vs->ctrl_vq, &token, &len), i;

        if (rc == 0)
            return KEEL_OK;
        if (rc < 0)
            return rc;
        i = ctrl_index(vs, token);
        if (i < 0 || (vs->ctrl_state[i] != CS_BUSY && vs->ctrl_state[i] != CS_STUCK)) {
            keel_vq_mark_broken(&vs->ctrl_vq, KEEL_VQ_NOT_HEAD);
            return KEEL_EPROTO;
        }
        /* A late answer to a TMF nobody waits for any more frees its slot. */
        vs->ctrl_state[i] = vs->ctrl_state[i] == CS_STUCK ? (uint8_t)CS_FREE : (uint8_t)CS_DONE;
    }
}

void keel_vscsi_ctrl_irq(struct keel_vq *vq, void *arg)
{
    /* TMFs are waited for by polling under the control lock; the interrupt only counts. */
    (void)vq;
    (void)arg;
}

/* After a device reset: nothing on the control queue is with the device any more. */
void keel_vscsi_ctrl_forget(struct keel_vscsi *vs)
{
    void *token;
    unsigned i;

    while (keel_vq_detach(&vs->ctrl_vq, &token) == 1)
        ;
    for (i = 0; i < KEEL_CONFIG_VSCSI_CTRL_SLOTS; i++)
        vs->ctrl_state[i] = CS_FREE;
}

static void count_tmf(struct keel_vscsi *vs, uint32_t subtype)
{
    if (subtype == KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK)
        vs->stats.aborts++;
    else if (subtype == KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET)
        vs->stats.lun_resets++;
    else if (subtype == KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET)
        vs->stats.nexus_resets++;
}

static int tmf_locked(struct keel_vscsi *vs, uint32_t subtype, uint8_t target, uint16_t lun,
                      uint64_t tag)
{
    const struct keel_hal *hal = vs->vdev.hal;
    struct keel_vq_sg sg[2];
    struct keel_deadline d;
    uint32_t poll;
    unsigned i;
    uint8_t *p;
    int rc;

    rc = ctrl_reap(vs);
    if (rc != KEEL_OK)
        return rc;
    for (i = 0; i < KEEL_CONFIG_VSCSI_CTRL_SLOTS && vs->ctrl_state[i] != CS_FREE; i++)
        ;
    if (i == KEEL_CONFIG_VSCSI_CTRL_SLOTS)
        return KEEL_EBUSY; /* every slot is held by TMFs the device never answered */
    p = ctrl_cpu(vs, i);
    keel_memset(p, 0, CTRL_SLOT_LEN);
    keel_vscsi_put32(vs, p, KEEL_VIRTIO_SCSI_T_TMF);
    keel_vscsi_put32(vs, p + 4, subtype);
    keel_vscsi_lun_addr(p + 8, target, lun);
    keel_vscsi_put64(vs, p + 16, tag);
    p[KEEL_VIRTIO_SCSI_TMF_REQ_BYTES] = RESP_PRESET;
    sg[0].addr = ctrl_bus(vs, i);
    sg[0].len = KEEL_VIRTIO_SCSI_TMF_REQ_BYTES;
    sg[1].addr = ctrl_bus(vs, i) + KEEL_VIRTIO_SCSI_TMF_REQ_BYTES;
    sg[1].len = 1;
    rc = keel_vq_add(&vs->ctrl_vq, sg, 1, 1, &vs->ctrl_state[i]);
    if (rc != KEEL_OK)
        return rc;
    vs->ctrl_state[i] = CS_BUSY;
    count_tmf(vs, subtype);
    (void)keel_vq_kick(&vs->ctrl_vq);
    d = keel_deadline_in(hal, KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US);
    for (poll = TMF_POLL_US;;) {
        rc = ctrl_reap(vs);
        if (rc != KEEL_OK)
            return rc;
        if (vs->ctrl_state[i] == CS_DONE)
            break;
        if (keel_deadline_passed(hal, d)) {
            vs->ctrl_state[i] = CS_STUCK; /* the device still owns the slot */
            return KEEL_ETIMEDOUT;
        }
        keel_delay_us(hal, poll);
        poll = (poll << 1) < TMF_POLL_MAX_US ? poll << 1 : TMF_POLL_MAX_US;
    }
    vs->ctrl_state[i] = CS_FREE;
    return keel_vscsi_tmf_err(*(volatile uint8_t *)(p + KEEL_VIRTIO_SCSI_TMF_REQ_BYTES));
}

int keel_vscsi_tmf(struct keel_vscsi *vs, uint32_t subtype, uint8_t target, uint16_t lun,
                   uint64_t tag)
{
    uintptr_t state;
    int rc;

    if (vs == NULL || !vs->attached || lun > 0x3fffu ||
        subtype > KEEL_VIRTIO_SCSI_T_TMF_QUERY_TASK_SET)
        return KEEL_EINVAL;
    if (vs->dead || vs->in_recovery)
        return KEEL_ENODEV;
    state = keel_lock(vs->vdev.hal, &vs->ctrl_lock);
    rc = tmf_locked(vs, subtype, target, lun, tag);
    keel_unlock(vs->vdev.hal, &vs->ctrl_lock, state);
    if (rc != KEEL_OK) {
        vs->stats.tmf_failures++;
        KEEL_LOGW(vs->vdev.hal, "virtio-scsi: TMF %u for %u:%u failed (%d)", (unsigned)subtype,
                  (unsigned)target, (unsigned)lun, rc);
    }
    return rc;
}

int keel_vscsi_lun_reset(struct keel_vscsi_lun *lun)
{
    if (lun == NULL || lun->vs == NULL)
        return KEEL_EINVAL;
    return keel_vscsi_tmf(lun->vs, KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, lun->target, lun->lun,
                          0);
}

/* The slot's command came back (or was collected by a reset) since generation `gen`. */
static bool slot_back(const struct keel_vscsi_slot *s, uint16_t gen)
{
    return s->gen != gen || !(s->flags & SF_INFLIGHT);
}

void keel_vscsi_escalate(struct keel_vscsi_rq *q, struct keel_vscsi_slot *s)
{
    static const uint32_t steps[] = {
        KEEL_VIRTIO_SCSI_T_TMF_ABORT_TASK,
        KEEL_VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
        KEEL_VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET,
    };
    struct keel_vscsi *vs = q->vs;
    enum vscsi_reason why;
    uint16_t gen = s->gen;
    unsigned i;

    vs->stats.timeouts++;
    s->flags = (uint8_t)(s->flags | SF_OVERDUE);
    KEEL_LOGW(vs->vdev.hal, "virtio-scsi: command 0x%llx to %u:%u timed out",
              (unsigned long long)s->tag, (unsigned)s->target, (unsigned)s->lun);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        (void)keel_vscsi_tmf(vs, steps[i], s->target, s->lun, s->tag);
        /* Whatever the TMF answered, the commands it ended are in the used ring by now. */
        (void)keel_vscsi_reap(q, 0);
        if (slot_back(s, gen) || vs->dead || vs->in_recovery)
            return;
        if (q->recover != R_NONE)
            break; /* the queue itself broke: only a reset helps */
    }
    why = q->recover != R_NONE ? (enum vscsi_reason)q->recover : R_TIMEOUT;
    q->recover = R_NONE;
    (void)keel_vscsi_device_recover(vs, why, q);
}
