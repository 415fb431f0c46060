/* SPDX-License-Identifier: MIT */
/*
 * The admin queue: submission under the admin lock, completion dispatch by slot kind, blocking
 * waits with a deadline (a timeout resets the controller before returning, so no buffer is left
 * with a device that may still write it), command builders and the Identify Controller parser.
 *
 * The admin queue is shared (AERs, aborts from every I/O queue, integrator calls), so it is the one
 * place Keel locks. `admin_busy` marks the lock as held by this CPU: the admin interrupt handler
 * defers to the holder instead of taking the lock again (which would deadlock on one CPU).
 */
#include "nvme_priv.h"

#include <keel/endian.h>

uintptr_t keel_nvme_admin_lock(struct keel_nvme_ctrl *c)
{
    uintptr_t st = keel_lock(c->hal, &c->admin_lock);

    c->admin_busy++;
    return st;
}

/*
 * Passes over the admin CQ for interrupts deferred to the lock holder. Handlers submit (an AER
 * re-armed, its log page read), so a controller that answers each at once keeps raising the
 * interrupt: without a bound, unlock would never return. What is left stays pending for the next
 * holder, poll or interrupt.
 */
#define NVME_ADMIN_DRAIN_PASSES 4u

void keel_nvme_admin_unlock(struct keel_nvme_ctrl *c, uintptr_t st)
{
    unsigned pass;

    for (pass = 0; pass < NVME_ADMIN_DRAIN_PASSES && c->admin_irq_pending && nvme_dev_ok(c);
         pass++) {
        c->admin_irq_pending = 0;
        (void)keel_nvme_cq_reap(&c->admin, 0);
    }
    if (c->admin_busy == 1u && c->intx_deferred && nvme_dev_ok(c)) {
        c->intx_deferred = 0; /* an INTx handler left the pin masked for us */
        keel_nvme_wr32(c, KEEL_NVME_REG_INTMC, 1u);
    }
    c->admin_busy--;
    keel_unlock(c->hal, &c->admin_lock, st);
}

int keel_nvme_admin_submit(struct keel_nvme_ctrl *c, const struct keel_nvme_sqe *cmd,
                           const struct nvme_xfer *x, uint8_t kind, void *owner,
                           uint32_t timeout_us, struct keel_nvme_slot **out)
{
    struct keel_nvme_qpair *q = &c->admin;
    struct keel_nvme_slot *s;
    int rc = KEEL_OK;

    if (!nvme_dev_ok(c))
        return KEEL_ENODEV;
    if (keel_nvme_sq_full(q))
        return KEEL_ENOSPC;
    s = keel_nvme_slot_get(q);
    if (s == NULL)
        return KEEL_ENOSPC;
    s->sqe = *cmd;
    s->sqe.flags = 0; /* PRPs, not fused */
    s->sqe.mptr = 0;  /* never a bus address we did not map */
    if (x != NULL && x->len != 0u) {
        /* Without data, PRP1 is the caller's (queue creation passes the queue's base there). */
        if (x->buf != NULL)
            rc = keel_nvme_prp_map(q, s, x->buf, x->len, x->dir);
        else
            rc = keel_nvme_prp_contig(q, s, x->bus, x->len);
    }
    if (rc != KEEL_OK) {
        keel_nvme_slot_release(q, s);
        return rc == KEEL_EBUSY ? KEEL_ENOSPC : rc;
    }
    s->kind = kind;
    s->owner = owner;
    s->flags |= NVME_SF_NO_RETRY;
    s->timeout_us = timeout_us;
    s->deadline_us = timeout_us != 0u ? nvme_deadline_after(c, timeout_us) : UINT64_MAX;
    keel_nvme_track_deadline(q, s->deadline_us);
    keel_nvme_sq_push(q, s);
    c->stats.admin_cmds++;
    if (out != NULL)
        *out = s;
    keel_nvme_sq_ring(q);
    return KEEL_OK;
}

void keel_nvme_admin_complete(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, uint16_t status,
                              uint32_t dw0)
{
    struct keel_nvme_ctrl *c = q->ctrl;
    struct keel_nvme_admin_wait *w;

    switch (s->kind) {
    case NVME_KIND_WAIT:
        w = s->owner;
        keel_nvme_slot_release(q, s);
        w->status = status;
        w->dw0 = dw0;
        w->err = KEEL_OK;
        w->done = true;
        break;
    case NVME_KIND_AER:
        keel_nvme_aer_complete(c, s, status, dw0);
        break;
    case NVME_KIND_AER_LOG:
        keel_nvme_aer_log_complete(c, s, status);
        break;
    case NVME_KIND_ABORT:
        keel_nvme_abort_complete(c, s, status, dw0);
        break;
    default:
        keel_nvme_slot_release(q, s);
        break;
    }
}

void keel_nvme_admin_reap(struct keel_nvme_ctrl *c)
{
    uintptr_t st = keel_nvme_admin_lock(c);

    if (nvme_dev_ok(c))
        (void)keel_nvme_cq_reap(&c->admin, 0);
    keel_nvme_admin_unlock(c, st);
}

int keel_nvme_admin_sync(struct keel_nvme_ctrl *c, const struct keel_nvme_sqe *cmd,
                         const struct nvme_xfer *x, uint32_t *dw0, uint16_t *status,
                         uint32_t timeout_us)
{
    struct keel_nvme_admin_wait w = {0};
    struct keel_deadline d;
    uintptr_t st;
    int rc;

    if (c->life != KEEL_NVME_LIFE_LIVE)
        return c->life == KEEL_NVME_LIFE_RESETTING ? KEEL_EBUSY : KEEL_ENODEV;
    if (timeout_us == 0u)
        timeout_us = c->admin_timeout_us;
    st = keel_nvme_admin_lock(c);
    rc = keel_nvme_admin_submit(c, cmd, x, NVME_KIND_WAIT, &w, timeout_us, NULL);
    keel_nvme_admin_unlock(c, st);
    if (rc != KEEL_OK)
        return rc;
    d = keel_deadline_in(c->hal, timeout_us);
    for (;;) {
        keel_nvme_admin_reap(c);
        if (w.done)
            break;
        if (keel_deadline_passed(c->hal, d)) {
            keel_nvme_admin_reap(c);
            if (w.done)
                break;
            /* The device may still write the buffer: only a reset makes returning safe. */
            c->stats.timeouts++;
            KEEL_LOGW(c->hal, "nvme%u: admin opcode 0x%x timed out, resetting",
                      (unsigned)c->cfg.index, (unsigned)cmd->opc);
            (void)keel_nvme_reset_now(c, true);
            return c->life == KEEL_NVME_LIFE_GONE ? KEEL_ENODEV : KEEL_ETIMEDOUT;
        }
        keel_delay_us(c->hal, KEEL_CONFIG_NVME_POLL_INTERVAL_US);
    }
    if (dw0 != NULL)
        *dw0 = w.dw0;
    if (status != NULL)
        *status = w.status;
    if (w.err != KEEL_OK)
        return w.err;
    return keel_nvme_status_to_err(w.status);
}

int keel_nvme_buf_take(struct keel_nvme_ctrl *c)
{
    uintptr_t st = keel_nvme_admin_lock(c);
    int rc = c->buf_busy ? KEEL_EBUSY : KEEL_OK;

    c->buf_busy = true;
    keel_nvme_admin_unlock(c, st);
    return rc;
}

void keel_nvme_buf_give(struct keel_nvme_ctrl *c)
{
    uintptr_t st = keel_nvme_admin_lock(c);

    c->buf_busy = false;
    keel_nvme_admin_unlock(c, st);
}

void keel_nvme_cmd_identify(struct keel_nvme_sqe *cmd, uint8_t cns, uint32_t nsid)
{
    keel_memset(cmd, 0, sizeof(*cmd));
    cmd->opc = KEEL_NVME_ADM_IDENTIFY;
    cmd->nsid = keel_cpu_to_le32(nsid);
    cmd->cdw10 = keel_cpu_to_le32(cns);
}

void keel_nvme_cmd_features(struct keel_nvme_sqe *cmd, bool set, uint8_t fid, uint32_t nsid,
                            uint32_t cdw11)
{
    keel_memset(cmd, 0, sizeof(*cmd));
    cmd->opc = set ? KEEL_NVME_ADM_SET_FEATURES : KEEL_NVME_ADM_GET_FEATURES;
    cmd->nsid = keel_cpu_to_le32(nsid);
    cmd->cdw10 = keel_cpu_to_le32(fid); /* Get: SEL 000b = current */
    cmd->cdw11 = keel_cpu_to_le32(cdw11);
}

void keel_nvme_cmd_log(struct keel_nvme_sqe *cmd, uint8_t lid, uint32_t nsid, uint64_t off,
                       uint32_t len, bool rae)
{
    uint32_t numd = (len >> 2) - 1u; /* 0-based dword count */

    keel_memset(cmd, 0, sizeof(*cmd));
    cmd->opc = KEEL_NVME_ADM_GET_LOG_PAGE;
    cmd->nsid = keel_cpu_to_le32(nsid);
    cmd->cdw10 = keel_cpu_to_le32(lid | (rae ? KEEL_NVME_LOG_RAE : 0u) | ((numd & 0xffffu) << 16));
    cmd->cdw11 = keel_cpu_to_le32(numd >> 16);
    cmd->cdw12 = keel_cpu_to_le32((uint32_t)off);
    cmd->cdw13 = keel_cpu_to_le32((uint32_t)(off >> 32));
}

/* ASCII field: printable characters only, trailing spaces dropped, always terminated. */
static void copy_ascii(char *dst, const uint8_t *src, unsigned n)
{
    unsigned i, end = 0;

    for (i = 0; i < n; i++) {
        char ch = '?';

        if (src[i] >= 0x20u && src[i] < 0x7fu)
            ch = (char)src[i]; /* printable ASCII: the same value in any char */
        dst[i] = ch;
        if (ch != ' ')
            end = i + 1u;
    }
    dst[end] = '\0';
}

/* Power scale fields (IPS/APS): 01b = 0.0001 W, 10b = 0.01 W, else not reported. */
static uint32_t scaled_uw(uint16_t v, uint8_t scale)
{
    if (scale == 1u)
        return (uint32_t)v * 100u;
    if (scale == 2u)
        return (uint32_t)v * 10000u;
    return 0;
}

/* Power state descriptors (Identify Controller 2048+), kept so power.c stays optional. */
void keel_nvme_parse_power_states(struct keel_nvme_ctrl *c, const uint8_t *id)
{
    unsigned i, n = (unsigned)c->npss + 1u;

    if (n > KEEL_CONFIG_NVME_MAX_POWER_STATES)
        n = KEEL_CONFIG_NVME_MAX_POWER_STATES;
    for (i = 0; i < n; i++) {
        const uint8_t *p = id + KEEL_NVME_IDC_PSD0 + (size_t)KEEL_NVME_PSD_SIZE * i;
        struct keel_nvme_power_state *ps = &c->ps[i];
        uint16_t mp = keel_ld_le16(p);

        ps->max_power_uw = (p[3] & 1u) ? (uint32_t)mp * 100u : (uint32_t)mp * 10000u; /* MXPS */
        ps->non_operational = (p[3] & 2u) != 0u;
        ps->entry_lat_us = keel_ld_le32(p + 4);
        ps->exit_lat_us = keel_ld_le32(p + 8);
        ps->rrt = p[12] & 0x1fu;
        ps->rrl = p[13] & 0x1fu;
        ps->rwt = p[14] & 0x1fu;
        ps->rwl = p[15] & 0x1fu;
        ps->idle_power_uw = scaled_uw(keel_ld_le16(p + 16), (uint8_t)(p[18] >> 6));
        ps->active_power_uw = scaled_uw(keel_ld_le16(p + 20), (uint8_t)(p[22] >> 6));
    }
}

void keel_nvme_parse_identify_ctrl(struct keel_nvme_ctrl *c, const uint8_t *id)
{
    unsigned i;

    c->vid = keel_ld_le16(id + KEEL_NVME_IDC_VID);
    copy_ascii(c->sn, id + KEEL_NVME_IDC_SN, 20);
    copy_ascii(c->mn, id + KEEL_NVME_IDC_MN, 40);
    copy_ascii(c->fr, id + KEEL_NVME_IDC_FR, 8);
    c->mdts = id[KEEL_NVME_IDC_MDTS];
    c->ver = keel_ld_le32(id + KEEL_NVME_IDC_VER);
    c->rtd3e_us = keel_ld_le32(id + KEEL_NVME_IDC_RTD3E);
    c->oaes = keel_ld_le32(id + KEEL_NVME_IDC_OAES);
    for (i = 0; i < 3u; i++)
        c->crdt[i] = keel_ld_le16(id + KEEL_NVME_IDC_CRDT1 + (size_t)2u * i);
    c->oacs = keel_ld_le16(id + KEEL_NVME_IDC_OACS);
    c->acl = id[KEEL_NVME_IDC_ACL];
    c->aerl = id[KEEL_NVME_IDC_AERL];
    c->frmw = id[KEEL_NVME_IDC_FRMW];
    c->lpa = id[KEEL_NVME_IDC_LPA];
    c->elpe = id[KEEL_NVME_IDC_ELPE];
    c->npss = id[KEEL_NVME_IDC_NPSS];
    c->apsta = id[KEEL_NVME_IDC_APSTA];
    c->wctemp = keel_ld_le16(id + KEEL_NVME_IDC_WCTEMP);
    c->cctemp = keel_ld_le16(id + KEEL_NVME_IDC_CCTEMP);
    c->nn = keel_ld_le32(id + KEEL_NVME_IDC_NN);
    c->oncs = keel_ld_le16(id + KEEL_NVME_IDC_ONCS);
    c->vwc = id[KEEL_NVME_IDC_VWC];
    keel_nvme_parse_power_states(c, id);
}

/* ---- public admin commands ---------------------------------------------------------------- */

int keel_nvme_identify(struct keel_nvme_ctrl *ctrl, uint8_t cns, uint32_t nsid, void *buf4k)
{
    struct keel_nvme_sqe cmd;
    struct nvme_xfer x = {0};
    int rc;

    if (ctrl == NULL || buf4k == NULL)
        return KEEL_EINVAL;
    rc = keel_nvme_buf_take(ctrl);
    if (rc != KEEL_OK)
        return rc;
    keel_nvme_cmd_identify(&cmd, cns, nsid);
    x.bus = ctrl->buf_mem.bus;
    x.len = KEEL_NVME_IDENTIFY_SIZE;
    rc = keel_nvme_admin_sync(ctrl, &cmd, &x, NULL, NULL, 0);
    if (rc == KEEL_OK)
        keel_memcpy(buf4k, ctrl->buf_mem.cpu, KEEL_NVME_IDENTIFY_SIZE);
    keel_nvme_buf_give(ctrl);
    return rc;
}
