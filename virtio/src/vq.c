/* SPDX-License-Identifier: MIT */
/*
 * The format-independent front of a virtqueue: creation, the indirect table pool, argument and
 * state checks, statistics, and dispatch to the split (ring_split.c) or packed (ring_packed.c)
 * halves, whose per-buffer add and reap (ring_split.h, ring_packed.h) compile in here. Nothing in
 * this file itself reads memory the device writes.
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>

#include "ring_packed.h"
#include "ring_split.h"
#include "vq_internal.h"

size_t keel_vq_ring_bytes(uint16_t size, bool packed)
{
    return packed ? keel_vq_packed_bytes(size) : keel_vq_split_bytes(size);
}

void keel_vq_violation(struct keel_vq *vq, enum keel_vq_violation why, uint32_t a, uint32_t b)
{
    vq->stats.violations++;
    if (vq->broken == KEEL_VQ_OK) {
        vq->broken = (uint8_t)why;
        KEEL_LOGE(vq->hal, "virtio: queue %u broken (violation %d: %u/%u)", (unsigned)vq->index,
                  (int)why, (unsigned)a, (unsigned)b);
    }
}

void keel_vq_mark_broken(struct keel_vq *vq, enum keel_vq_violation why)
{
    if (vq->broken == KEEL_VQ_OK)
        vq->broken = (uint8_t)why;
}

static uint16_t ind_take(struct keel_vq *vq)
{
#if KEEL_CONFIG_VIRTIO_INDIRECT_POOL > 0
    if (vq->use_indirect && vq->ind_top > 0u)
        return vq->ind_free[--vq->ind_top];
#else
    (void)vq;
#endif
    return KEEL_VQ_NO_IND;
}

/* Reset the software state and ring memory to "nothing in flight". */
static void vq_state_init(struct keel_vq *vq)
{
    uint16_t i;

    keel_memset(vq->ring.cpu, 0, vq->ring.size);
    keel_memset(vq->inflight, 0, sizeof(vq->inflight));
    keel_memset(vq->shadow, 0, sizeof(vq->shadow));
    vq->num_free = vq->size;
    vq->in_flight = 0;
    vq->unkicked = 0;
    vq->broken = KEEL_VQ_OK;
    vq->ind_top = 0;
#if KEEL_CONFIG_VIRTIO_INDIRECT_POOL > 0
    for (i = 0; i < vq->ind_count; i++)
        vq->ind_free[vq->ind_top++] = (uint16_t)(vq->ind_count - 1u - i);
#endif
    for (i = 0; i < vq->size; i++)
        vq->inflight[i].ind = KEEL_VQ_NO_IND;
    vq->stats.occupancy = 0;
    if (vq->packed)
        keel_vq_packed_init(vq);
    else
        keel_vq_split_init(vq);
}

static uint16_t clamp_size(uint16_t max, uint16_t cap, bool packed)
{
    uint16_t s = max;

    if (cap != 0u && s > cap)
        s = cap;
    if (s > KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX)
        s = KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX;
    if (!packed) {
        /* Split rings need a power of two (2.7): round down. */
        uint16_t p = 1;
        while ((uint16_t)(p << 1) != 0u && (uint16_t)(p << 1) <= s)
            p = (uint16_t)(p << 1);
        s = p;
    }
    return s;
}

static int vq_alloc(struct keel_vq *vq)
{
    const struct keel_hal *hal = vq->hal;
    size_t bytes = keel_vq_ring_bytes(vq->size, vq->packed);
    int rc;

    /* Page alignment satisfies every format and the legacy PFN layout. */
    rc = hal->ops->dma_alloc(hal->ctx, bytes, KEEL_VIRTQ_LEGACY_ALIGN, &vq->ring);
    if (rc != KEEL_OK)
        return rc;
    vq->ind_count = 0;
#if KEEL_CONFIG_VIRTIO_INDIRECT_POOL > 0
    if (vq->use_indirect) {
        uint16_t n = KEEL_CONFIG_VIRTIO_INDIRECT_POOL;
        if (n > vq->size)
            n = vq->size;
        rc = hal->ops->dma_alloc(hal->ctx, (size_t)n * VQ_IND_TABLE_BYTES, 16, &vq->ind_pool);
        if (rc != KEEL_OK) {
            vq->use_indirect = false; /* work without: chains in the ring */
        } else {
            vq->ind_count = n;
        }
    }
#else
    vq->use_indirect = false;
#endif
    return KEEL_OK;
}

int keel_vq_create(struct keel_vq *vq, struct keel_virtio_dev *dev, uint16_t index,
                   uint16_t size_cap, keel_vq_callback cb, void *cb_arg)
{
    uint16_t max;
    int rc;

    if (vq == NULL || dev == NULL || dev->tops == NULL || index >= KEEL_CONFIG_VIRTIO_MAX_QUEUES)
        return KEEL_EINVAL;
    keel_memset(vq, 0, sizeof(*vq));
    vq->dev = dev;
    vq->hal = dev->hal;
    vq->index = index;
    vq->packed = keel_virtio_has(dev, KEEL_VIRTIO_F_RING_PACKED);
    vq->event_idx = keel_virtio_has(dev, KEEL_VIRTIO_F_EVENT_IDX);
    vq->use_indirect = keel_virtio_has(dev, KEEL_VIRTIO_F_INDIRECT_DESC);
    vq->native_endian = dev->legacy;
    vq->lenient_len = dev->legacy; /* 5.2.6.4: legacy used lengths are unreliable */
    vq->callback = cb;
    vq->cb_arg = cb_arg;
    vq->vector = keel_virtio_queue_vector(dev, index);
    max = dev->tops->queue_max(dev, index);
    if (max == 0u || max == 0xffffu)
        return KEEL_ENOENT;
    if (dev->transport == KEEL_VIRTIO_T_PCI_LEGACY) {
        /* The legacy PCI queue size is read-only: use it as is, or not at all. */
        if (max > KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX || (max & (max - 1u)) != 0u)
            return KEEL_ENOTSUP;
        vq->size = max;
    } else {
        vq->size = clamp_size(max, size_cap, vq->packed);
    }
    if (vq->size < 2u)
        return KEEL_ENOENT;
    rc = vq_alloc(vq);
    if (rc != KEEL_OK)
        return rc;
    dev->vqs[index] = vq;
    rc = keel_vq_restart(vq);
    if (rc != KEEL_OK) {
        keel_vq_destroy(vq);
        return rc;
    }
    return KEEL_OK;
}

void keel_vq_destroy(struct keel_vq *vq)
{
    const struct keel_hal *hal;

    if (vq == NULL || vq->hal == NULL)
        return;
    hal = vq->hal;
    if (vq->ring.cpu != NULL)
        hal->ops->dma_free(hal->ctx, &vq->ring);
    if (vq->ind_count != 0u)
        hal->ops->dma_free(hal->ctx, &vq->ind_pool);
    vq->ring.cpu = NULL;
    vq->ind_count = 0;
    vq->ready = false;
    if (vq->dev != NULL && vq->dev->vqs[vq->index] == vq)
        vq->dev->vqs[vq->index] = NULL;
}

int keel_vq_restart(struct keel_vq *vq)
{
    int rc;

    if (vq == NULL || vq->ring.cpu == NULL)
        return KEEL_EINVAL;
    vq->ready = false;
    vq_state_init(vq);
    /* Polled until a driver asks for interrupts. */
    vq->irq_enabled = true;
    keel_vq_disable_irq(vq);
    keel_wmb(vq->hal); /* ring memory initialised before the device learns where it is */
    rc = vq->dev->tops->queue_setup(vq->dev, vq);
    if (rc != KEEL_OK)
        return rc;
    vq->ready = true;
    return KEEL_OK;
}

/* The device-readable and device-writable bytes of a chain, summed while it is checked. */
struct chain_sums {
    uint64_t r, w;
};

/* Count one buffer of the chain; false for a zero length, which a chain may not hold. */
static inline bool sums_add(struct chain_sums *c, uint32_t len, bool readable)
{
    if (len == 0u)
        return false;
    if (readable)
        c->r += len;
    else
        c->w += len;
    return true;
}

/* The sums as keel_vq_add needs them; KEEL_EINVAL when the writable bytes overflow 32 bits. */
static inline int sums_done(const struct chain_sums *c, uint32_t *wlen, uint64_t *rlen)
{
    if (c->w > UINT32_MAX)
        return KEEL_EINVAL;
    *wlen = (uint32_t)c->w;
    *rlen = c->r;
    return KEEL_OK;
}

/* Sum the device-readable and device-writable bytes of a direct chain; KEEL_EINVAL for a zero
 * length or when the writable bytes overflow 32 bits. */
static int chain_wlen(const struct keel_vq_sg *sg, unsigned n_out, unsigned total, uint32_t *wlen,
                      uint64_t *rlen)
{
    struct chain_sums c = {0, 0};
    unsigned i;

    for (i = 0; i < total; i++)
        if (!sums_add(&c, sg[i].len, i < n_out))
            return KEEL_EINVAL;
    return sums_done(&c, wlen, rlen);
}

/*
 * Fill indirect table `ind` in the queue's format (2.7.5.3 split, 2.8.6 packed), checking and
 * summing the lengths on the way (one pass: the table is private until the ring names it, so a
 * chain refused half-way leaves nothing behind), with chain_wlen's rules (sums_add, sums_done).
 */
static int ind_fill(struct keel_vq *vq, uint16_t ind, const struct keel_vq_sg *sg, unsigned n_out,
                    unsigned total, uint32_t *wlen, uint64_t *rlen)
{
    uint8_t *d = keel_vq_ind_cpu(vq, ind);
    bool packed = vq->packed;
    struct chain_sums c = {0, 0};
    unsigned i;

    for (i = 0; i < total; i++, d += VQ_DESC_BYTES) {
        uint32_t len = sg[i].len;
        uint16_t flags = i < n_out ? 0u : KEEL_VIRTQ_DESC_F_WRITE;

        if (!sums_add(&c, len, i < n_out))
            return KEEL_EINVAL;
        vq_wr64(vq, d, 0, sg[i].addr);
        vq_wr32(vq, d, 8, len);
        if (packed) {
            vq_wr16(vq, d, 12, 0); /* buffer id: reserved in indirect tables */
            vq_wr16(vq, d, 14, flags);
        } else {
            if (i + 1u < total)
                flags = (uint16_t)(flags | KEEL_VIRTQ_DESC_F_NEXT);
            vq_wr16(vq, d, 12, flags);
            vq_wr16(vq, d, 14, (uint16_t)(i + 1u));
        }
    }
    return sums_done(&c, wlen, rlen);
}

int keel_vq_add(struct keel_vq *vq, const struct keel_vq_sg *sg, unsigned n_out, unsigned n_in,
                void *token)
{
    unsigned total = n_out + n_in;
    uint16_t ind = KEEL_VQ_NO_IND, need = 1;
    uint32_t wlen = 0;
    uint64_t rlen = 0;
    int rc;

    if (vq->broken != KEEL_VQ_OK)
        return KEEL_EPROTO;
    if (!vq->ready)
        return KEEL_EBUSY;
    if (token == NULL || sg == NULL || total == 0u || total > KEEL_CONFIG_VIRTIO_MAX_SEGS)
        return KEEL_EINVAL;
    if (total > 1u)
        ind = ind_take(vq);
    if (ind != KEEL_VQ_NO_IND) {
        rc = ind_fill(vq, ind, sg, n_out, total, &wlen, &rlen);
    } else {
        need = (uint16_t)total;
        rc = chain_wlen(sg, n_out, total, &wlen, &rlen);
        if (rc == KEEL_OK && need > vq->size)
            rc = KEEL_EINVAL; /* could never fit */
    }
    if (rc != KEEL_OK) {
        keel_vq_ind_release(vq, ind);
        return rc;
    }
    if (need > vq->num_free) {
        keel_vq_ind_release(vq, ind);
        vq->stats.full++;
        return KEEL_ENOSPC;
    }
    if (vq->len_counts_out && n_out > 1u) {
        /* The bound for the used length grows by the readable bytes after the first segment (the
         * request header), e.g. the data of a SCSI write; anything beyond stays a violation. */
        uint64_t bound = (uint64_t)wlen + (rlen - sg[0].len);
        wlen = bound > UINT32_MAX ? UINT32_MAX : (uint32_t)bound;
    }
    if (vq->packed)
        rc = keel_vq_packed_add(vq, sg, n_out, total, token, ind, wlen);
    else
        rc = keel_vq_split_add(vq, sg, n_out, total, token, ind, wlen);
    if (rc != KEEL_OK) {
        keel_vq_ind_release(vq, ind);
        return rc;
    }
    if (ind != KEEL_VQ_NO_IND)
        vq->stats.indirect++;
    vq->in_flight++;
    vq->unkicked++;
    vq->stats.buffers++;
    vq->stats.bytes_out += rlen;
    vq->stats.occupancy = (uint32_t)(vq->size - vq->num_free);
    if (vq->stats.occupancy > vq->stats.occupancy_max)
        vq->stats.occupancy_max = vq->stats.occupancy;
    return KEEL_OK;
}

bool keel_vq_kick_prepare(struct keel_vq *vq)
{
    bool need;

    if (!vq->ready || vq->broken != KEEL_VQ_OK)
        return false;
    vq->unkicked = 0;
    need = vq->packed ? keel_vq_packed_kick_prepare(vq) : keel_vq_split_kick_prepare(vq);
    return need;
}

void keel_vq_notify(struct keel_vq *vq)
{
    vq->stats.notifications++;
    vq->dev->tops->notify(vq->dev, vq);
}

bool keel_vq_kick(struct keel_vq *vq)
{
    if (!keel_vq_kick_prepare(vq))
        return false;
    keel_vq_notify(vq);
    return true;
}

void keel_vq_plug(struct keel_vq *vq)
{
    vq->plugged = true;
}

bool keel_vq_unplug(struct keel_vq *vq)
{
    vq->plugged = false;
    return keel_vq_kick(vq);
}

int keel_vq_get(struct keel_vq *vq, void **token, uint32_t *len)
{
    int rc;

    if (vq->broken != KEEL_VQ_OK)
        return KEEL_EPROTO;
    if (!vq->ready)
        return 0;
    rc = vq->packed ? keel_vq_packed_get(vq, token, len) : keel_vq_split_get(vq, token, len);
    if (rc == 1) {
        vq->in_flight--;
        vq->stats.completions++;
        vq->stats.bytes_in += *len;
        vq->stats.occupancy = (uint32_t)(vq->size - vq->num_free);
    }
    return rc;
}

bool keel_vq_pending(struct keel_vq *vq)
{
    if (!vq->ready || vq->broken != KEEL_VQ_OK)
        return false;
    return vq->packed ? keel_vq_packed_pending(vq) : keel_vq_split_pending(vq);
}

bool keel_vq_enable_irq(struct keel_vq *vq)
{
    if (!vq->ready)
        return true;
    if (!vq->irq_enabled || vq->event_idx) {
        /* With event index the threshold moves with every reap, so it is rewritten each time. */
        vq->irq_enabled = true;
        if (vq->packed)
            keel_vq_packed_set_irq(vq, true);
        else
            keel_vq_split_set_irq(vq, true);
    }
    /* 2.7.10 / 2.8.10: re-check after enabling, a buffer may have been used in between. */
    keel_mb(vq->hal);
    return !keel_vq_pending(vq);
}

void keel_vq_disable_irq(struct keel_vq *vq)
{
    if (!vq->irq_enabled)
        return;
    vq->irq_enabled = false;
    if (vq->packed)
        keel_vq_packed_set_irq(vq, false);
    else
        keel_vq_split_set_irq(vq, false);
}

int keel_vq_detach(struct keel_vq *vq, void **token)
{
    uint16_t i;

    for (i = 0; i < vq->size; i++) {
        if (vq->inflight[i].token == NULL)
            continue;
        *token = vq->inflight[i].token;
        if (vq->packed)
            keel_vq_packed_free(vq, i);
        else
            keel_vq_split_free(vq, i);
        vq->in_flight--;
        vq->stats.occupancy = (uint32_t)(vq->size - vq->num_free);
        return 1;
    }
    /* The device holds nothing any more (detach follows a reset): nothing held back either. */
    if (vq->packed)
        keel_vq_packed_release_held(vq);
    else
        keel_vq_split_release_held(vq);
    return 0;
}

int keel_vq_reset(struct keel_vq *vq)
{
    struct keel_virtio_dev *dev = vq->dev;
    int rc;

    if (!keel_virtio_has(dev, KEEL_VIRTIO_F_RING_RESET) || dev->tops->queue_reset == NULL)
        return KEEL_ENOTSUP;
    vq->ready = false;
    rc = dev->tops->queue_reset(dev, vq->index);
    if (rc != KEEL_OK)
        KEEL_LOGE(vq->hal, "virtio: queue %u reset failed (%d)", (unsigned)vq->index, rc);
    return rc;
}
