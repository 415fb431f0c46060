/* SPDX-License-Identifier: MIT */
/* Asynchronous events (spec 5.2) and the SMART / thermal state that raises them. */
#include <string.h>

#include "nvme_model_int.h"

#define FID_AEC 0x0b

void nm_aer_submit(struct nvme_model *m, const struct nm_cmd *c, struct nm_result *r)
{
    m->st.aers_received++;
    if (m->aer_n >= m->cfg.aerl + 1u) {
        r->status = NM_ST_DNR(NVME_MODEL_SCT_CMD_SPECIFIC, NVME_MODEL_SC_AER_LIMIT);
        return;
    }
    m->aer_cid[m->aer_n++] = c->cid;
    r->no_cqe = true;
    nm_events_deliver(m);
}

static void aer_complete(struct nvme_model *m, unsigned slot, uint16_t status, uint32_t dw0)
{
    struct nm_cmd c;
    struct nm_result r = {.status = status, .dw0 = dw0};

    memset(&c, 0, sizeof(c));
    c.sqid = 0;
    c.opc = NM_ADM_AER;
    c.cid = m->aer_cid[slot];
    memmove(&m->aer_cid[slot], &m->aer_cid[slot + 1u],
            (m->aer_n - slot - 1u) * sizeof(m->aer_cid[0]));
    m->aer_n--;
    nm_complete(m, &c, &r);
}

bool nm_aer_abort(struct nvme_model *m, uint16_t cid)
{
    unsigned i;

    for (i = 0; i < m->aer_n; i++) {
        if (m->aer_cid[i] == cid) {
            aer_complete(m, i, NM_ST(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_ABORT_REQUESTED), 0);
            return true;
        }
    }
    return false;
}

static int next_event(const struct nvme_model *m)
{
    unsigned i;

    for (i = 0; i < m->events_n; i++)
        if (!m->aen_masked[m->events[i].type & 7u])
            return (int)i;
    return -1;
}

void nm_events_deliver(struct nvme_model *m)
{
    int i;

    if (m->events_deferred)
        return;
    while (m->aer_n > 0 && nm_running(m) && (i = next_event(m)) >= 0) {
        struct nm_event ev = m->events[i];

        if (nm_fault(m, NVME_MODEL_F_AER_STUCK, NULL))
            return;
        memmove(&m->events[i], &m->events[i + 1], (m->events_n - (unsigned)i - 1u) * sizeof(ev));
        m->events_n--;
        m->aen_masked[ev.type & 7u] = true;
        m->aen_lid[ev.type & 7u] = ev.lid;
        m->st.aers_completed++;
        aer_complete(m, 0, NM_OK,
                     (uint32_t)(ev.type & 7u) | ((uint32_t)ev.info << 8) |
                         ((uint32_t)ev.lid << 16));
    }
}

void nm_event(struct nvme_model *m, uint8_t type, uint8_t info, uint8_t lid)
{
    unsigned i;

    m->st.events_posted++;
    for (i = 0; i < m->events_n; i++)
        if (m->events[i].type == type && m->events[i].info == info && m->events[i].lid == lid)
            break; /* already queued: events of one kind coalesce */
    if (i == m->events_n && m->events_n < NVME_MODEL_MAX_AER)
        m->events[m->events_n++] = (struct nm_event){type, info, lid};
    nm_events_deliver(m);
}

/*
 * Reading the log page with RAE = 0 unmasks the event types it reported (spec 5.2). Queued events
 * are delivered after the Get Log Page completion is posted (nm_run_and_complete).
 */
void nm_events_log_read(struct nvme_model *m, uint8_t lid)
{
    unsigned t;

    for (t = 0; t < 8; t++)
        if (m->aen_masked[t] && m->aen_lid[t] == lid)
            m->aen_masked[t] = false;
}

void nm_temperature_check(struct nvme_model *m)
{
    bool hot = m->temperature > m->tmpth[0][0], cold = m->temperature < m->tmpth[0][1];

    if (!(hot || cold)) {
        m->crit_warn &= (uint8_t)~0x02u;
        return;
    }
    if (m->crit_warn & 0x02u)
        return;
    m->crit_warn |= 0x02u;
    if (m->feat[FID_AEC] & 0x02u)
        nm_event(m, NVME_MODEL_AET_SMART, 0x01, 0x02);
}

/* ---- test-facing ---- */

void nvme_model_post_aer(struct nvme_model *m, uint8_t type, uint8_t info, uint8_t log_page)
{
    nm_event(m, type, info, log_page);
    nm_deliver_irqs(m);
}

void nvme_model_set_temperature(struct nvme_model *m, uint16_t kelvin)
{
    m->temperature = kelvin;
    nm_temperature_check(m);
    nm_deliver_irqs(m);
}

static uint8_t warning_info(unsigned bit)
{
    if (bit == 0)
        return 0x02; /* spare below threshold */
    if (bit == 1)
        return 0x01; /* temperature threshold */
    return 0x00;     /* NVM subsystem reliability */
}

void nvme_model_set_critical_warning(struct nvme_model *m, uint8_t bits)
{
    uint8_t fresh = (uint8_t)(bits & ~m->crit_warn);
    unsigned b;

    m->crit_warn |= bits;
    for (b = 0; b < 8; b++)
        if ((fresh & (1u << b)) && (m->feat[FID_AEC] & (1u << b)))
            nm_event(m, NVME_MODEL_AET_SMART, warning_info(b), 0x02);
    nm_deliver_irqs(m);
}

unsigned nvme_model_aers_outstanding(const struct nvme_model *m)
{
    return m->aer_n;
}
