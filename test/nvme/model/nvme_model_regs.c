/* SPDX-License-Identifier: MIT */
/* Controller registers (spec 3.1): CAP, VS, INTMS/INTMC, CC/CSTS state machine, AQA/ASQ/ACQ. */
#include <stdlib.h>
#include <string.h>

#include "nvme_model_int.h"

static uint64_t cap_value(const struct nvme_model *m)
{
    const struct nvme_model_cfg *c = &m->cfg;
    uint64_t cap = c->mqes;

    cap |= 1ull << 16; /* CQR: queues must be physically contiguous */
    cap |= (uint64_t)c->to << 24;
    cap |= (uint64_t)(c->dstrd & 0xfu) << 32;
    if (c->css_nvm)
        cap |= 1ull << 37;
    cap |= (uint64_t)(c->mpsmin & 0xfu) << 48;
    cap |= (uint64_t)(c->mpsmax & 0xfu) << 52;
    return cap;
}

bool nm_running(const struct nvme_model *m)
{
    return !m->removed && (m->cc & NM_CC_EN) && (m->csts & NM_CSTS_RDY) &&
           !(m->csts & NM_CSTS_CFS) && !m->shut_down && !m->halted;
}

/* Everything a controller reset (CC.EN 1->0) discards, spec 7.3.2. Media and SMART stay. */
void nm_reset_state(struct nvme_model *m)
{
    unsigned i;

    for (i = 0; i < NM_NQ; i++) {
        nm_queue_free(&m->sq[i]);
        memset(&m->cq[i], 0, sizeof(m->cq[i]));
    }
    memset(m->held, 0, sizeof(m->held));
    memset(m->backlog, 0, sizeof(m->backlog));
    m->backlog_n = 0;
    m->aborts_n = 0;
    m->aer_n = 0;
    memset(m->aen_masked, 0, sizeof(m->aen_masked));
    memset(m->intx_pending, 0, sizeof(m->intx_pending));
    m->halted = false;
    m->shut_down = false;
    m->deferred_work = false;
    m->intms = 0;
    nm_features_default(m);
    m->st.nq_set = false;
}

/* Configuration checks at CC.EN 0->1 (QEMU-like; any failure sets CSTS.CFS). */
static bool enable_config_ok(const struct nvme_model *m)
{
    uint32_t cc = m->cc, mps = NM_CC_MPS(cc);

    if (NM_CC_CSS(cc) != 0 || !m->cfg.css_nvm)
        return false;
    if (mps < m->cfg.mpsmin || mps > m->cfg.mpsmax)
        return false;
    if (NM_CC_AMS(cc) != 0)
        return false;
    if (NM_CC_IOSQES(cc) != 6 || NM_CC_IOCQES(cc) != 4)
        return false;
    if ((m->aqa & 0xfffu) == 0 || ((m->aqa >> 16) & 0xfffu) == 0)
        return false;
    return m->asq != 0 && m->acq != 0 && !(m->asq & 0xfffu) && !(m->acq & 0xfffu);
}

static void start_enable(struct nvme_model *m)
{
    m->st.enables++;
    if (m->csts & NM_CSTS_RDY)
        sim_violation(m->s, "nvme model: CC.EN set while CSTS.RDY still 1 (wait for RDY=0)");
    if (!enable_config_ok(m)) {
        m->csts |= NM_CSTS_CFS;
        m->st.enable_failures++;
        return;
    }
    m->page = 1u << (12 + NM_CC_MPS(m->cc));
    m->shut_down = false; /* an enable starts from the reset state, SHST 00b */
    m->csts &= ~NM_CSTS_SHST_MASK;
    m->trans_cfs = nm_fault(m, NVME_MODEL_F_CFS_ON_ENABLE, NULL);
    if (nm_fault(m, NVME_MODEL_F_RDY_NEVER_SET, NULL)) {
        m->trans = NM_TRANS_NONE;
        return;
    }
    m->trans = NM_TRANS_ENABLE;
    m->trans_at = m->s->now_us + m->cfg.enable_us;
}

/* The admin queues come alive with RDY (registers latched at this point). */
static void finish_enable(struct nvme_model *m)
{
    struct nm_sq *sq = &m->sq[0];
    struct nm_cq *cq = &m->cq[0];

    if (m->trans_cfs) {
        m->csts |= NM_CSTS_CFS;
        m->st.enable_failures++;
        return;
    }
    /*
     * Normally the reset (CC.EN 1->0) discarded the admin queues; a controller whose RDY never
     * cleared (fault) kept them, and a host that saw RDY 0 anyway (a glitched CSTS read) enables
     * again: re-latch from AQA/ASQ/ACQ, releasing the old ones.
     */
    nm_queue_free(sq);
    memset(cq, 0, sizeof(*cq));
    sq->exists = true;
    sq->size = (uint16_t)((m->aqa & 0xfffu) + 1u);
    sq->base = m->asq;
    sq->avail_at = calloc(sq->size, sizeof(uint64_t));
    cq->exists = true;
    cq->size = (uint16_t)(((m->aqa >> 16) & 0xfffu) + 1u);
    cq->base = m->acq;
    cq->phase = 1;
    cq->ien = true;
    m->csts |= NM_CSTS_RDY;
}

static void start_disable(struct nvme_model *m)
{
    m->st.resets++;
    if (nm_fault(m, NVME_MODEL_F_RDY_NEVER_CLEARS, NULL))
        return;
    nm_reset_state(m);
    m->csts &= ~(NM_CSTS_CFS | NM_CSTS_SHST_MASK);
    m->trans = NM_TRANS_DISABLE;
    m->trans_at = m->s->now_us + m->cfg.disable_us;
}

static void start_shutdown(struct nvme_model *m, uint32_t shn)
{
    if (shn == 1u)
        m->st.shutdowns_normal++;
    else
        m->st.shutdowns_abrupt++;
    m->csts = (m->csts & ~NM_CSTS_SHST_MASK) | NM_CSTS_SHST_OCCURRING;
    if (nm_fault(m, NVME_MODEL_F_SHUTDOWN_STUCK, NULL))
        return;
    m->trans = NM_TRANS_SHUTDOWN;
    m->trans_at = m->s->now_us + m->cfg.shutdown_us;
}

void nm_poll_transitions(struct nvme_model *m)
{
    if (m->trans == NM_TRANS_NONE || m->s->now_us < m->trans_at)
        return;
    switch (m->trans) {
    case NM_TRANS_ENABLE:
        m->trans = NM_TRANS_NONE;
        finish_enable(m);
        break;
    case NM_TRANS_DISABLE:
        m->trans = NM_TRANS_NONE;
        m->csts &= ~NM_CSTS_RDY;
        break;
    case NM_TRANS_SHUTDOWN:
        m->trans = NM_TRANS_NONE;
        m->csts = (m->csts & ~NM_CSTS_SHST_MASK) | NM_CSTS_SHST_COMPLETE;
        m->shut_down = true;
        m->st.shutdowns_complete++;
        break;
    default:
        m->trans = NM_TRANS_NONE;
        break;
    }
}

static void write_cc(struct nvme_model *m, uint32_t val)
{
    uint32_t old = m->cc;

    m->cc = val;
    if (!(old & NM_CC_EN) && (val & NM_CC_EN))
        start_enable(m);
    else if ((old & NM_CC_EN) && !(val & NM_CC_EN))
        start_disable(m);
    if (NM_CC_SHN(val) != 0 && NM_CC_SHN(old) == 0)
        start_shutdown(m, NM_CC_SHN(val));
}

static bool is_msix_on(const struct nvme_model *m)
{
    return m->has_msix && sim_msix_enabled(&m->msix);
}

static void write_intm(struct nvme_model *m, bool set, uint32_t val)
{
    if (is_msix_on(m))
        sim_violation(m->s, "nvme model: INTM%c written while MSI-X is enabled", set ? 'S' : 'C');
    if (set) {
        m->st.intms_writes++;
        m->intms |= val;
        return;
    }
    m->st.intmc_writes++;
    m->intms &= ~val;
    nm_intx_unmasked(m, val);
}

/* AQA/ASQ/ACQ are latched at enable; writes while enabled are ignored like real hardware. */
static void write_admin_reg(struct nvme_model *m, uint64_t off, uint32_t val)
{
    if (m->cc & NM_CC_EN)
        return;
    if (off == NM_REG_AQA)
        m->aqa = val & 0x0fff0fffu;
    else if (off == NM_REG_ASQ)
        m->asq = (m->asq & ~0xffffffffull) | val;
    else if (off == NM_REG_ASQ + 4)
        m->asq = (m->asq & 0xffffffffull) | ((uint64_t)val << 32);
    else if (off == NM_REG_ACQ)
        m->acq = (m->acq & ~0xffffffffull) | val;
    else if (off == NM_REG_ACQ + 4)
        m->acq = (m->acq & 0xffffffffull) | ((uint64_t)val << 32);
}

static void doorbell_write(struct nvme_model *m, uint64_t off, uint32_t val)
{
    uint32_t stride = 4u << m->cfg.dstrd;
    uint64_t idx = (off - NM_REG_DB) / stride;

    if ((off - NM_REG_DB) % stride != 0 || idx / 2 > NM_MAX_QID) {
        m->st.bad_doorbells++;
        return;
    }
    if (idx & 1u)
        nm_cq_doorbell(m, (uint16_t)(idx / 2), val);
    else
        nm_sq_doorbell(m, (uint16_t)(idx / 2), val);
}

static bool in_msix(const struct nvme_model *m, uint64_t off, uint64_t *rel, bool *pba)
{
    uint64_t tsz = (uint64_t)m->msix.nvec * 16u, psz = 8u * ((m->msix.nvec + 63u) / 64u);

    if (!m->has_msix)
        return false;
    if (off >= m->cfg.msix_table_off && off < m->cfg.msix_table_off + tsz) {
        *rel = off - m->cfg.msix_table_off;
        *pba = false;
        return true;
    }
    if (off >= m->cfg.msix_pba_off && off < m->cfg.msix_pba_off + psz) {
        *rel = off - m->cfg.msix_pba_off;
        *pba = true;
        return true;
    }
    return false;
}

static uint32_t reg_read32(struct nvme_model *m, uint64_t off)
{
    uint32_t v, mqes;

    switch (off) {
    case NM_REG_CAP:
        v = (uint32_t)cap_value(m);
        if (nm_fault(m, NVME_MODEL_F_CAP_MQES, &mqes))
            v = (v & 0xffff0000u) | (mqes & 0xffffu);
        return v;
    case NM_REG_CAP + 4:
        return (uint32_t)(cap_value(m) >> 32);
    case NM_REG_VS:
        return 0x00010400u;
    case NM_REG_INTMS:
    case NM_REG_INTMC:
        return m->intms;
    case NM_REG_CC:
        return m->cc;
    case NM_REG_CSTS:
        return m->csts;
    case NM_REG_AQA:
        return m->aqa;
    case NM_REG_ASQ:
    case NM_REG_ASQ + 4:
        return (uint32_t)(m->asq >> (off == NM_REG_ASQ ? 0 : 32));
    case NM_REG_ACQ:
    case NM_REG_ACQ + 4:
        return (uint32_t)(m->acq >> (off == NM_REG_ACQ ? 0 : 32));
    default:
        return 0; /* reserved, CMB/PMR absent, doorbells read as 0 */
    }
}

static uint32_t bar_read(void *dev, uint64_t off, unsigned width)
{
    struct nvme_model *m = dev;
    uint64_t rel;
    bool pba;

    if (m->removed)
        return 0xffffffffu;
    if (in_msix(m, off, &rel, &pba))
        return pba ? sim_msix_pba_read(&m->msix, rel, width)
                   : sim_msix_table_read(&m->msix, rel, width);
    if (nm_fault(m, NVME_MODEL_F_READ_ALL_ONES, NULL))
        return 0xffffffffu;
    if (width != 4) {
        sim_violation(m->s, "nvme model: %u-byte register read at 0x%llx", width,
                      (unsigned long long)off);
        return 0xffffffffu;
    }
    return reg_read32(m, off);
}

static void bar_write(void *dev, uint64_t off, unsigned width, uint32_t val)
{
    struct nvme_model *m = dev;
    uint64_t rel;
    bool pba;

    if (m->removed)
        return;
    if (in_msix(m, off, &rel, &pba)) {
        if (!pba)
            sim_msix_table_write(&m->msix, rel, width, val);
        return;
    }
    if (width != 4) {
        sim_violation(m->s, "nvme model: %u-byte register write at 0x%llx", width,
                      (unsigned long long)off);
        return;
    }
    if (off >= NM_REG_DB) {
        doorbell_write(m, off, val);
        return;
    }
    if (off == NM_REG_CC)
        write_cc(m, val);
    else if (off == NM_REG_INTMS || off == NM_REG_INTMC)
        write_intm(m, off == NM_REG_INTMS, val);
    else if (off >= NM_REG_AQA && off < NM_REG_ACQ + 8)
        write_admin_reg(m, off, val);
}

static const struct sim_region_ops bar_ops = {.read = bar_read, .write = bar_write};

/* ------------------------------------------------------------------------------------------ */

static void ns_default(struct nvme_model_ns_cfg *ns)
{
    memset(ns, 0, sizeof(*ns));
    ns->active = true;
    ns->nsid = 1;
    ns->nsze = 8192;
    ns->nlbaf = 4;
    ns->lbaf[0] = (struct nvme_model_lbaf){9, 0, 0};
    ns->lbaf[1] = (struct nvme_model_lbaf){9, 8, 0};
    ns->lbaf[2] = (struct nvme_model_lbaf){12, 0, 0};
    ns->lbaf[3] = (struct nvme_model_lbaf){12, 64, 0};
}

void nvme_model_cfg_default(struct nvme_model_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->pci = (struct keel_pci_addr){0, 0, 3, 0};
    c->vendor = 0x1b36;
    c->device = 0x0010;
    c->class_rev = 0x01080200u;
    c->bar0_size = 16384;
    c->msix_table_off = 0x2000;
    c->msix_pba_off = 0x3000;
    c->msix_vectors = NVME_MODEL_MAX_VECTORS;
    c->mqes = 0x7ff;
    c->to = 0x0f;
    c->mpsmax = 4;
    c->css_nvm = true;
    c->mdts = 7;
    c->max_io_queues = NVME_MODEL_MAX_IOQ;
    c->vwc = true;
    c->oncs = NVME_MODEL_ONCS_COMPARE | NVME_MODEL_ONCS_DSM | NVME_MODEL_ONCS_WRITE_ZEROES;
    c->aerl = 3;
    c->acl = 3;
    c->elpe = 3;
    c->nn = 1;
    strcpy(c->serial, "KEELMODEL0001");
    strcpy(c->model, "Keel NVMe model");
    strcpy(c->firmware, "1.0");
    c->npsd = 1;
    c->psd[0] = (struct nvme_model_psd){2500, false, 16, 4};
    c->wctemp = 343;
    c->cctemp = 373;
    c->temperature_k = 310;
    ns_default(&c->ns[0]);
    c->mode = NVME_MODEL_IMMEDIATE;
    c->latency_us = 10;
    c->enable_us = 1000;
    c->disable_us = 500;
    c->shutdown_us = 1000;
}

static bool cfg_ok(struct sim *s, const struct nvme_model_cfg *c)
{
    uint64_t db_end = NM_REG_DB + 2ull * (NM_MAX_QID + 1) * (4u << c->dstrd);

    if (c->msix_vectors > NVME_MODEL_MAX_VECTORS || c->npsd == 0 || c->npsd > NVME_MODEL_MAX_PSD ||
        c->aerl >= NVME_MODEL_MAX_AER || c->max_io_queues == 0 ||
        c->max_io_queues > NVME_MODEL_MAX_IOQ || c->mqes == 0 || c->elpe >= NM_LOG_ERR_MAX ||
        c->dstrd > 8) {
        sim_violation(s, "nvme model: configuration out of range");
        return false;
    }
    if (c->msix_vectors && (c->msix_table_off < db_end || c->msix_pba_off < db_end ||
                            c->msix_table_off + 16u * c->msix_vectors > c->bar0_size ||
                            c->msix_pba_off + 8u > c->bar0_size)) {
        sim_violation(s, "nvme model: MSI-X table/PBA overlap doorbells or exceed BAR0");
        return false;
    }
    return true;
}

static bool ns_setup(struct nvme_model *m, unsigned i)
{
    const struct nvme_model_ns_cfg *nc = &m->cfg.ns[i];
    struct nm_ns *ns = &m->ns[i];
    const struct nvme_model_lbaf *f;

    if (nc->nsid == 0)
        return true;
    if (nc->nlbaf == 0 || nc->nlbaf > NVME_MODEL_MAX_LBAF || nc->flbas >= nc->nlbaf ||
        nc->nsze == 0 || nvme_model_media(m, nc->nsid, NULL) != NULL)
        return false;
    f = &nc->lbaf[nc->flbas];
    if (f->lbads < 9 || f->lbads > 16)
        return false;
    ns->present = true;
    ns->nsid = nc->nsid;
    ns->active = nc->active && nc->nsid <= m->cfg.nn;
    ns->wp = nc->write_protected;
    ns->nsze = nc->nsze;
    ns->ncap = nc->ncap ? nc->ncap : nc->nsze;
    ns->lbasize = 1u << f->lbads;
    ns->ms = f->ms;
    ns->extended = nc->extended && f->ms != 0;
    ns->data = calloc(ns->nsze, ns->lbasize);
    ns->meta = ns->ms ? calloc(ns->nsze, ns->ms) : NULL;
    return ns->data != NULL && (ns->ms == 0 || ns->meta != NULL);
}

static bool pci_setup(struct nvme_model *m)
{
    const struct nvme_model_cfg *c = &m->cfg;

    m->fn = sim_pci_add(m->s, c->pci, c->vendor, c->device, c->class_rev);
    if (m->fn == NULL)
        return false;
    m->region = sim_pci_bar(m->s, m->fn, 0, c->bar0_size, false, true, &bar_ops, m);
    if (m->region < 0)
        return false;
    if (c->msix_vectors) {
        sim_msix_init(&m->msix, m->s, m->fn, c->msix_vectors, 0, c->msix_table_off,
                      c->msix_pba_off);
        m->has_msix = true;
    }
    if (c->bar0_addr) {
        sim_pci_bar_set(m->s, m->fn, 0, c->bar0_addr);
        m->fn->cfg[0x04] |= 0x02; /* firmware enabled memory decode */
        sim_region_move(m->s, m->region, nvme_model_bar0(m), true);
    }
    return true;
}

struct nvme_model *nvme_model_create(struct sim *s, const struct nvme_model_cfg *cfg)
{
    struct nvme_model *m;
    unsigned i;

    if (!cfg_ok(s, cfg))
        return NULL;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->s = s;
    m->cfg = *cfg;
    m->region = -1;
    m->poller = -1;
    for (i = 0; i < NVME_MODEL_MAX_NS; i++) {
        if (!ns_setup(m, i)) {
            sim_violation(s, "nvme model: namespace config %u invalid (or out of memory)", i);
            nvme_model_destroy(m);
            return NULL;
        }
    }
    m->temperature = cfg->temperature_k;
    m->crit_warn = cfg->critical_warning;
    nm_features_default(m);
    if (!pci_setup(m)) {
        nvme_model_destroy(m);
        return NULL;
    }
    m->poller = sim_poller_add(s, nm_poller, m);
    if (m->poller < 0) {
        sim_violation(s, "nvme model: no sim poller slot");
        nvme_model_destroy(m);
        return NULL;
    }
    return m;
}

void nvme_model_destroy(struct nvme_model *m)
{
    unsigned i;

    if (m == NULL)
        return;
    if (m->poller >= 0)
        sim_poller_remove(m->s, m->poller);
    if (m->region >= 0)
        m->s->regions[m->region].used = false;
    if (m->fn) {
        m->fn->present = false;
        m->fn->bar_region[0] = -1;
    }
    for (i = 0; i < NM_NQ; i++)
        nm_queue_free(&m->sq[i]);
    for (i = 0; i < NVME_MODEL_MAX_NS; i++) {
        free(m->ns[i].data);
        free(m->ns[i].meta);
    }
    free(m->segs);
    free(m);
}

/* ------------------------------------------------------------------------------------------ */

struct sim_pci_fn *nvme_model_pci_fn(struct nvme_model *m)
{
    return m->fn;
}

uint64_t nvme_model_bar0(const struct nvme_model *m)
{
    uint64_t lo = sim_pci_cfg_get(m->fn, 0x10, 4), hi = sim_pci_cfg_get(m->fn, 0x14, 4);

    return (lo & ~0xfull) | (hi << 32);
}

struct sim_msix *nvme_model_msix(struct nvme_model *m)
{
    return m->has_msix ? &m->msix : NULL;
}
uint32_t nvme_model_cc(const struct nvme_model *m)
{
    return m->cc;
}
uint32_t nvme_model_csts(const struct nvme_model *m)
{
    return m->csts;
}
uint32_t nvme_model_intms(const struct nvme_model *m)
{
    return m->intms;
}
const struct nvme_model_stats *nvme_model_stats(const struct nvme_model *m)
{
    return &m->st;
}

void nvme_model_stats_reset(struct nvme_model *m)
{
    bool nq_set = m->st.nq_set;
    uint16_t nsq = m->st.nsq_granted, ncq = m->st.ncq_granted;

    memset(&m->st, 0, sizeof(m->st));
    m->st.nq_set = nq_set;
    m->st.nsq_granted = nsq;
    m->st.ncq_granted = ncq;
}

void nvme_model_surprise_remove(struct nvme_model *m)
{
    m->removed = true;
    m->fn->present = false; /* config reads return all ones too */
}

static bool qinfo_ok(uint16_t qid, struct nvme_model_qinfo *out)
{
    memset(out, 0, sizeof(*out));
    return qid <= NM_MAX_QID;
}

bool nvme_model_sq_info(const struct nvme_model *m, uint16_t qid, struct nvme_model_qinfo *out)
{
    const struct nm_sq *q = &m->sq[qid <= NM_MAX_QID ? qid : 0];

    if (!qinfo_ok(qid, out))
        return false;
    *out = (struct nvme_model_qinfo){.exists = q->exists,
                                     .size = q->size,
                                     .cqid = q->cqid,
                                     .qprio = q->qprio,
                                     .base = q->base,
                                     .head = q->head,
                                     .tail = q->tail};
    return true;
}

bool nvme_model_cq_info(const struct nvme_model *m, uint16_t qid, struct nvme_model_qinfo *out)
{
    const struct nm_cq *q = &m->cq[qid <= NM_MAX_QID ? qid : 0];

    if (!qinfo_ok(qid, out))
        return false;
    *out = (struct nvme_model_qinfo){.exists = q->exists,
                                     .size = q->size,
                                     .vector = q->vector,
                                     .ien = q->ien,
                                     .base = q->base,
                                     .head = q->head,
                                     .tail = q->tail,
                                     .phase = q->phase};
    return true;
}
