/* SPDX-License-Identifier: MIT */
/*
 * Queue processing common to both ring formats: processing passes (pop, hand to the backend,
 * collect completions), completion flushing with one used-index update and one interrupt decision
 * per batch, notification suppression around deferred processing, and chain helpers for backends.
 */
#include <stdlib.h>
#include <string.h>

#include "vmodel_internal.h"

/* ------------------------------------------------------------------------------------------------
 * Chains
 */
struct vmodel_chain *vm_chain_new(struct vm_vq *vq, unsigned nrd, unsigned nwr)
{
    struct vm_chain *vc;
    struct vmodel_chain *c;
    unsigned i, n = nrd + nwr;

    vc = calloc(1, sizeof(*vc) + (n ? n : 1u) * sizeof(struct vmodel_seg));
    if (vc == NULL)
        abort();
    c = &vc->pub;
    c->queue = vq->idx;
    c->rd = (struct vmodel_seg *)(vc + 1);
    c->wr = c->rd + nrd;
    c->nrd = nrd;
    c->nwr = nwr;
    for (i = 0; i < n; i++)
        c->rd[i] = vq->scratch[i];
    for (i = 0; i < nrd; i++)
        c->rd_len += c->rd[i].len;
    for (i = 0; i < nwr; i++)
        c->wr_len += c->wr[i].len;
    return c;
}

void vm_chain_free(struct vmodel_chain *c)
{
    free(vm_chain_of(c));
}

bool vm_seg_add(struct vm_vq *vq, unsigned *n, uint64_t addr, uint32_t len, bool write,
                unsigned *nrd, bool *seen_write)
{
    struct vmodel *m = vq->m;

    if (*n >= vq->size) {
        vm_device_error(m, "queue %u: chain longer than the queue size %u", vq->idx, vq->size);
        return false;
    }
    if (len == 0) {
        vm_device_error(m, "queue %u: zero-length descriptor", vq->idx);
        return false;
    }
    if (write) {
        *seen_write = true;
    } else if (*seen_write) {
        vm_device_error(m, "queue %u: device-readable descriptor after a writable one", vq->idx);
        return false;
    } else {
        (*nrd)++;
    }
    if (!sim_dma_valid(m->s, addr, len)) {
        vm_device_error(m, "queue %u: descriptor 0x%llx+%u is not mapped for DMA", vq->idx,
                        (unsigned long long)addr, len);
        return false;
    }
    vq->scratch[(*n)++] = (struct vmodel_seg){addr, len};
    return true;
}

static bool seg_walk(struct vmodel *m, const struct vmodel_seg *seg, unsigned nseg, uint64_t off,
                     uint8_t *buf, size_t len, bool to_dev)
{
    unsigned i;

    for (i = 0; i < nseg && len > 0; i++) {
        uint64_t chunk;
        bool ok;

        if (off >= seg[i].len) {
            off -= seg[i].len;
            continue;
        }
        chunk = seg[i].len - off;
        if (chunk > len)
            chunk = len;
        ok = to_dev ? sim_dma_write(m->s, seg[i].bus + off, buf, (size_t)chunk)
                    : sim_dma_read(m->s, seg[i].bus + off, buf, (size_t)chunk);
        if (!ok)
            return false;
        buf += chunk;
        len -= (size_t)chunk;
        off = 0;
    }
    return len == 0;
}

bool vmodel_chain_read(struct vmodel *m, const struct vmodel_chain *c, uint64_t off, void *buf,
                       size_t len)
{
    if (off + len > c->rd_len)
        return false;
    if (!seg_walk(m, c->rd, c->nrd, off, buf, len, false))
        return false;
    m->st.vq[c->queue].bytes_read += len;
    return true;
}

bool vmodel_chain_write(struct vmodel *m, const struct vmodel_chain *c, uint64_t off,
                        const void *buf, size_t len)
{
    if (off + len > c->wr_len)
        return false;
    if (!seg_walk(m, c->wr, c->nwr, off, (uint8_t *)(uintptr_t)buf, len, true))
        return false;
    m->st.vq[c->queue].bytes_written += len;
    return true;
}

void vm_free_inflight(struct vm_vq *vq)
{
    unsigned i;

    if (vq->inflight == NULL)
        return;
    for (i = 0; i < vq->size_max; i++) {
        if (vq->inflight[i].c != NULL) {
            vm_chain_free(vq->inflight[i].c);
            vq->inflight[i].c = NULL;
            vq->inflight[i].held = false;
        }
    }
    vq->ndone = 0;
    if (vq->m != NULL)
        vq->m->st.vq[vq->idx].inflight = 0;
}

/* ------------------------------------------------------------------------------------------------
 * Completion
 */
static void publish(struct vm_vq *vq, bool enable)
{
    if (vq->packed)
        vm_packed_publish(vq, enable);
    else
        vm_split_publish(vq, enable);
}

static void flush_done(struct vm_vq *vq)
{
    struct vmodel *m = vq->m;
    struct vmodel_vq_stats *st = &m->st.vq[vq->idx];
    unsigned i, n = vq->ndone;
    uint32_t epoch = vq->epoch;
    bool need = false;

    if (n == 0)
        return;
    if (m->cfg.order == VMODEL_ORDER_REVERSE) {
        for (i = 0; i < n / 2; i++) {
            struct vmodel_chain *t = vq->done[i];
            vq->done[i] = vq->done[n - 1 - i];
            vq->done[n - 1 - i] = t;
        }
    }
    vq->ndone = 0;
    for (i = 0; i < n && !m->gone; i++)
        vm_fault_push_used(vq, vq->done[i]);
    if (vq->packed)
        vm_packed_flush(vq, &need);
    else
        vm_split_flush(vq, &need);
    if (epoch != vq->epoch || m->gone)
        return;
    if (!need) {
        st->irqs_suppressed++;
        return;
    }
    if (vm_fault_irq_lost(vq)) {
        st->irqs_lost++;
        return;
    }
    m->isr |= 1u;
    m->int_status |= 1u;
    vm_raise_irq(m, (int)vq->idx);
}

void vm_complete_chain(struct vm_vq *vq, struct vmodel_chain *c, uint32_t used_len)
{
    c->used_len = used_len;
    vq->done[vq->ndone++] = c;
    if (!vq->in_pass)
        flush_done(vq);
}

/* ------------------------------------------------------------------------------------------------
 * Processing passes
 */
static void note_batch(struct vmodel_vq_stats *st, unsigned n)
{
    unsigned b = 0;

    st->passes++;
    st->last_batch = n;
    if (n > st->max_batch)
        st->max_batch = n;
    while (b + 1u < VMODEL_BATCH_HIST && n > (1u << b))
        b++;
    st->batch_hist[b]++;
}

static void note_consumed(struct vm_vq *vq, const struct vmodel_chain *c)
{
    struct vmodel_vq_stats *st = &vq->m->st.vq[vq->idx];

    st->consumed++;
    st->inflight++;
    if (st->inflight > st->inflight_max)
        st->inflight_max = st->inflight;
    if (c->indirect)
        st->indirect++;
    if (c->ndesc > st->max_chain_descs)
        st->max_chain_descs = c->ndesc;
}

/* Pop and execute every available chain once; returns how many were consumed. */
static unsigned drain(struct vm_vq *vq, uint32_t epoch)
{
    struct vmodel *m = vq->m;
    unsigned n = 0;

    while (!m->broken && !m->gone && vq->epoch == epoch) {
        struct vmodel_chain *c = vq->packed ? vm_packed_pop(vq) : vm_split_pop(vq);
        int64_t r;

        if (c == NULL)
            break;
        n++;
        note_consumed(vq, c);
        if (vm_fault_on_consume(vq, c, vq->pop_slot))
            continue;
        r = m->dev->handle(m->dev_ctx, m, c);
        if (vq->epoch != epoch)
            break; /* the backend reset the queue or device: c is gone */
        if (r == VMODEL_DEFER)
            continue;
        if (r < 0 || r > (int64_t)UINT32_MAX) {
            sim_violation(m->s, "virtio model: backend returned used length %lld", (long long)r);
            r = 0;
        }
        vm_complete_chain(vq, c, (uint32_t)r);
    }
    return n;
}

static bool more_available(struct vm_vq *vq)
{
    if (vq->packed)
        return vm_packed_pending(vq) != 0;
    return vm_split_avail_idx(vq) != vq->last_avail;
}

unsigned vm_process_queue(struct vm_vq *vq)
{
    struct vmodel *m = vq->m;
    uint32_t epoch = vq->epoch;
    unsigned total = 0;

    if (!vq->ready || m->broken || m->gone || vq->in_pass || !(m->status & VMODEL_S_DRIVER_OK))
        return 0;
    if (!vm_dma_allowed(m))
        return 0;
    /* in_pass stays set while the interrupt handler runs (from flush_done): a notification it
       sends only lands in the ring, and the loop below picks it up, so a driver that resubmits
       from its completion path iterates here instead of recursing. */
    vq->in_pass = true;
    vq->notified_pending = 0;
    for (;;) {
        unsigned n = drain(vq, epoch);

        if (vq->epoch != epoch)
            return total + n; /* reset under us: the queue state is already cleared */
        flush_done(vq);       /* may run the driver's interrupt handler */
        if (vq->epoch != epoch)
            return total + n;
        if (n)
            note_batch(&m->st.vq[vq->idx], n);
        total += n;
        if (m->broken || m->gone)
            break;
        /* Re-enable notifications, then look again: buffers added while they were off would
           otherwise wait for a notification the driver was told not to send (2.7.10). */
        publish(vq, true);
        if (!more_available(vq) && vq->ndone == 0)
            break;
    }
    vq->in_pass = false;
    return total;
}

static void deferred_fire(void *arg)
{
    struct vm_vq *vq = arg;

    vq->timer = -1;
    vm_process_queue(vq);
}

void vm_queue_kick(struct vm_vq *vq)
{
    struct vmodel *m = vq->m;

    switch (m->cfg.mode) {
    case VMODEL_IMMEDIATE:
        vm_process_queue(vq);
        break;
    case VMODEL_DEFERRED:
        if (vq->timer < 0) {
            vq->timer = sim_timer_add(m->s, m->cfg.latency_us, deferred_fire, vq);
            /* Until the pass runs, further notifications are useless: say so (2.7.7, 2.8.10). */
            if (!vq->in_pass)
                publish(vq, false);
        }
        break;
    case VMODEL_MANUAL:
    default:
        break;
    }
}
