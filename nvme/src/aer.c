/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous events (spec 5.2): Asynchronous Event Request commands are kept outstanding (at most
 * AERL + 1, and KEEL_CONFIG_NVME_AER_MAX). A completion names an event and a log page; the page is
 * read with RAE clear, which clears the event so the controller may report the next one, and only
 * then is the request re-armed. Events are queued and delivered to the integrator's callback
 * outside the admin lock (from keel_nvme_service() or the admin interrupt).
 */
#include "nvme_priv.h"

#include <keel/endian.h>

void keel_nvme_aer_arm(struct keel_nvme_ctrl *c)
{
    uint32_t limit = (uint32_t)c->aerl + 1u;
    struct keel_nvme_sqe cmd = {0};

    if (c->cfg.flags & KEEL_NVME_F_NO_AER)
        return;
    if (limit > KEEL_CONFIG_NVME_AER_MAX)
        limit = KEEL_CONFIG_NVME_AER_MAX;
    cmd.opc = KEEL_NVME_ADM_ASYNC_EVENT;
    while (c->aer_outstanding < limit) {
        /* No timeout: an AER is answered only when something happens. */
        if (keel_nvme_admin_submit(c, &cmd, NULL, NVME_KIND_AER, NULL, 0, NULL) != KEEL_OK)
            break;
        c->aer_outstanding++;
    }
}

static void queue_event(struct keel_nvme_ctrl *c, const struct keel_nvme_event *ev)
{
    unsigned tail = c->ev_head + c->ev_count;

    if (c->ev_count >= KEEL_CONFIG_NVME_EVENT_QUEUE) {
        c->events_dropped++;
        return;
    }
    if (tail >= KEEL_CONFIG_NVME_EVENT_QUEUE)
        tail -= KEEL_CONFIG_NVME_EVENT_QUEUE;
    c->events[tail] = *ev;
    c->ev_count++;
}

static uint32_t log_len(const struct keel_nvme_ctrl *c, uint8_t lid)
{
    uint32_t n;

    switch (lid) {
    case KEEL_NVME_LOG_ERROR:
        n = ((uint32_t)c->elpe + 1u) * KEEL_NVME_LOG_ERROR_ENTRY_SIZE;
        return n > KEEL_NVME_IDENTIFY_SIZE ? KEEL_NVME_IDENTIFY_SIZE : n;
    case KEEL_NVME_LOG_CHANGED_NS:
        return KEEL_NVME_IDENTIFY_SIZE;
    default:
        return KEEL_NVME_LOG_SMART_SIZE;
    }
}

static void event_from_dw0(struct keel_nvme_event *ev, uint32_t dw0)
{
    keel_memset(ev, 0, sizeof(*ev));
    ev->type = KEEL_NVME_AER_TYPE(dw0);
    ev->info = KEEL_NVME_AER_INFO(dw0);
    ev->log_page = KEEL_NVME_AER_LOG(dw0);
    ev->dw0 = dw0;
}

void keel_nvme_aer_complete(struct keel_nvme_ctrl *c, struct keel_nvme_slot *s, uint16_t status,
                            uint32_t dw0)
{
    struct keel_nvme_sqe cmd;
    struct keel_nvme_event ev;
    struct nvme_xfer x = {0};
    uint8_t lid = KEEL_NVME_AER_LOG(dw0);
    int rc = KEEL_EBUSY;

    keel_nvme_slot_release(&c->admin, s);
    if (c->aer_outstanding > 0u)
        c->aer_outstanding--;
    if (status != 0u) {
        /* Limit exceeded, aborted by a reset or queue deletion: do not re-arm in a loop. */
        KEEL_LOGW(c->hal, "nvme%u: AER failed (0x%x)", (unsigned)c->cfg.index, (unsigned)status);
        return;
    }
    c->stats.aer_events++;
    if (!c->aer_log_busy) {
        keel_nvme_cmd_log(&cmd, lid, 0xffffffffu, 0, log_len(c, lid), false);
        x.bus = c->aer_mem.bus;
        x.len = log_len(c, lid);
        rc = keel_nvme_admin_submit(c, &cmd, &x, NVME_KIND_AER_LOG, (void *)(uintptr_t)dw0,
                                    c->admin_timeout_us, NULL);
        if (rc == KEEL_OK) {
            c->aer_log_busy = true;
            return; /* the event is queued and the AER re-armed when the log arrives */
        }
    }
    event_from_dw0(&ev, dw0);
    ev.log_status = rc;
    queue_event(c, &ev);
    keel_nvme_aer_arm(c);
}

void keel_nvme_aer_log_complete(struct keel_nvme_ctrl *c, struct keel_nvme_slot *s, uint16_t status)
{
    uint32_t dw0 = (uint32_t)(uintptr_t)s->owner;
    const uint8_t *log = c->aer_mem.cpu;
    struct keel_nvme_event ev;

    keel_nvme_slot_release(&c->admin, s);
    c->aer_log_busy = false;
    event_from_dw0(&ev, dw0);
    ev.log_status = keel_nvme_status_to_err(status);
    if (status == 0u && ev.log_page == KEEL_NVME_LOG_SMART) {
        ev.critical_warning = log[0];
        ev.temperature_k = keel_ld_le16(log + 1);
    }
    queue_event(c, &ev);
    keel_nvme_aer_arm(c);
}

void keel_nvme_events_deliver(struct keel_nvme_ctrl *c)
{
    for (;;) {
        struct keel_nvme_event ev;
        uintptr_t st = keel_nvme_admin_lock(c);

        if (c->ev_count == 0u) {
            keel_nvme_admin_unlock(c, st);
            return;
        }
        ev = c->events[c->ev_head];
        if (++c->ev_head == KEEL_CONFIG_NVME_EVENT_QUEUE)
            c->ev_head = 0;
        c->ev_count--;
        keel_nvme_admin_unlock(c, st);
        if (c->cfg.event != NULL)
            c->cfg.event(c->cfg.event_arg, c, &ev);
    }
}

int keel_nvme_service(struct keel_nvme_ctrl *ctrl)
{
    if (ctrl == NULL)
        return KEEL_EINVAL;
    if (nvme_live(ctrl)) {
        keel_nvme_admin_reap(ctrl);
        keel_nvme_admin_check_timeouts(ctrl);
    }
    if (ctrl->reset_pending && nvme_live(ctrl))
        (void)keel_nvme_reset_now(ctrl, true);
    keel_nvme_events_deliver(ctrl);
    return nvme_live(ctrl) ? KEEL_OK : KEEL_ENODEV;
}
