/* SPDX-License-Identifier: MIT */
/*
 * Physical Region Page entries (spec 4.3): PRP1, PRP2 and PRP lists chained across pages, built
 * from the bus segments the HAL returns for a mapped buffer. List pages come from a per-queue pool
 * allocated at attach; a command that cannot get its pages waits (KEEL_EBUSY), it never allocates.
 *
 * The rules a segment list must meet for PRPs with memory page size P:
 *  - the first entry may have an offset, but it must be dword aligned (bits 1:0 clear);
 *  - every later entry starts on a page boundary (offset 0);
 *  - so every segment but the last must end on a page boundary.
 * Anything else (a byte-aligned buffer, a hole inside a page) cannot be described by PRPs:
 * KEEL_EFAULT, and the I/O path bounces the data instead.
 */
#include "nvme_priv.h"

#include <keel/endian.h>

/*
 * Walks the page entries of a segment list seg_rules() accepted: the first segment's start, then
 * every page boundary inside a segment, then the next segment's start. seg_rules() counted exactly
 * that many entries, so build() never asks for more than the list holds; the iterator still knows
 * the segment count and reports a walk past the last segment (`overrun`) instead of reading
 * beyond the list, so that invariant is checked rather than trusted.
 */
struct prp_iter {
    const struct keel_dma_seg *sg;
    unsigned i, n;
    bool overrun;
    uint64_t addr, end, page;
};

static uint64_t iter_first(struct prp_iter *it, const struct keel_dma_seg *sg, unsigned n,
                           uint64_t page)
{
    it->sg = sg;
    it->i = 0;
    it->n = n;
    it->overrun = false;
    it->page = page;
    it->addr = sg[0].bus;
    it->end = sg[0].bus + sg[0].len;
    return it->addr;
}

/* The next page entry: the next page boundary in this segment, else the next segment's start. */
static uint64_t iter_next(struct prp_iter *it)
{
    it->addr = (it->addr & ~(it->page - 1u)) + it->page;
    if (it->addr >= it->end) {
        if (it->i + 1u >= it->n) {
            it->overrun = true; /* more entries than pages: never hand the device an address */
            return 0;
        }
        it->i++;
        it->addr = it->sg[it->i].bus;
        it->end = it->addr + it->sg[it->i].len;
    }
    return it->addr;
}

static int seg_rules(const struct keel_dma_seg *sg, unsigned n, unsigned shift, uint32_t *pages)
{
    uint64_t mask = (1ull << shift) - 1u;
    uint64_t total = 0;
    unsigned i;

    if (n == 0u || (sg[0].bus & 3u) != 0u)
        return KEEL_EFAULT;
    for (i = 0; i < n; i++) {
        uint64_t end = sg[i].bus + sg[i].len;

        if (sg[i].len == 0u || end < sg[i].bus)
            return KEEL_EFAULT;
        if (i > 0u && (sg[i].bus & mask) != 0u)
            return KEEL_EFAULT;
        if (i + 1u < n && (end & mask) != 0u)
            return KEEL_EFAULT;
        total += ((end - 1u) >> shift) - (sg[i].bus >> shift) + 1u;
    }
    if (total > KEEL_CONFIG_NVME_MAX_CMD_PAGES)
        return KEEL_ENOSPC;
    *pages = (uint32_t)total;
    return KEEL_OK;
}

static unsigned lists_needed(uint32_t entries, uint32_t per_page)
{
    unsigned n = 1;

    while (entries > per_page) {
        entries -= per_page - 1u; /* the last entry of a full page points to the next page */
        n++;
    }
    return n;
}

static void fill_lists(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, struct prp_iter *it,
                       uint32_t entries, uint32_t per_page)
{
    unsigned shift = q->ctrl->page_shift;
    unsigned l;

    for (l = 0; l < s->nlist; l++) {
        uint8_t *page = (uint8_t *)q->prp_mem.cpu + ((size_t)s->list[l] << shift);
        bool last = l + 1u == s->nlist;
        uint32_t k, here = last ? entries : per_page - 1u;

        for (k = 0; k < here; k++)
            keel_st_le64(page + (size_t)8u * k, iter_next(it));
        entries -= here;
        if (!last)
            keel_st_le64(page + (size_t)8u * (per_page - 1u),
                         q->prp_mem.bus + ((uint64_t)s->list[l + 1u] << shift));
    }
}

static int build(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, const struct keel_dma_seg *sg,
                 unsigned nseg, uint32_t pages)
{
    unsigned shift = q->ctrl->page_shift;
    uint32_t per_page = 1u << (shift - 3u);
    struct prp_iter it;
    unsigned nlist, l;

    s->sqe.prp1 = keel_cpu_to_le64(iter_first(&it, sg, nseg, 1ull << shift));
    s->sqe.prp2 = 0;
    if (pages == 1u)
        return KEEL_OK;
    if (pages == 2u) {
        s->sqe.prp2 = keel_cpu_to_le64(iter_next(&it));
        return it.overrun ? KEEL_EFAULT : KEEL_OK;
    }
    nlist = lists_needed(pages - 1u, per_page);
    if (nlist > KEEL_CONFIG_NVME_PRP_PAGES_PER_CMD)
        return KEEL_ENOSPC;
    if (nlist > q->prp_nfree)
        return KEEL_EBUSY;
    for (l = 0; l < nlist; l++)
        s->list[l] = q->prp_free[--q->prp_nfree];
    s->nlist = (uint8_t)nlist;
    s->sqe.prp2 = keel_cpu_to_le64(q->prp_mem.bus + ((uint64_t)s->list[0] << shift));
    fill_lists(q, s, &it, pages - 1u, per_page);
    if (it.overrun) {
        keel_nvme_prp_free(q, s);
        return KEEL_EFAULT;
    }
    return KEEL_OK;
}

/*
 * The common case without the general walk: one segment, dword aligned, touching at most two
 * memory pages (any block of up to a page), so PRP1 and PRP2 are all the command needs. The rules
 * are seg_rules()' for n = 1; anything else takes the general path.
 */
static bool one_segment(struct keel_nvme_slot *s, const struct keel_dma_seg *sg, unsigned shift)
{
    uint64_t end = sg->bus + sg->len;
    uint64_t span;

    if ((sg->bus & 3u) != 0u || sg->len == 0u || end < sg->bus)
        return false;
    span = ((end - 1u) >> shift) - (sg->bus >> shift); /* pages after the first */
    if (span > 1u || span + 1u > KEEL_CONFIG_NVME_MAX_CMD_PAGES)
        return false;
    s->sqe.prp1 = keel_cpu_to_le64(sg->bus);
    s->sqe.prp2 = span != 0u ? keel_cpu_to_le64((sg->bus | ((1ull << shift) - 1u)) + 1u) : 0u;
    return true;
}

int keel_nvme_prp_map(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, void *buf, uint32_t len,
                      enum keel_dma_dir dir)
{
    const struct keel_hal *hal = q->ctrl->hal;
    unsigned nseg = 0;
    void *cookie = NULL;
    uint32_t pages = 0;
    int rc;

    rc = hal->ops->dma_map(hal->ctx, buf, len, dir, q->segs, KEEL_CONFIG_NVME_MAX_CMD_PAGES + 1u,
                           &nseg, &cookie);
    if (rc != KEEL_OK)
        return rc;
    /* A HAL that reports more segments than it may fill broke its contract: read none of them. */
    rc = nseg <= KEEL_CONFIG_NVME_MAX_CMD_PAGES + 1u ? KEEL_OK : KEEL_EHAL;
    if (rc == KEEL_OK && !(nseg == 1u && one_segment(s, &q->segs[0], q->ctrl->page_shift))) {
        rc = seg_rules(q->segs, nseg, q->ctrl->page_shift, &pages);
        if (rc == KEEL_OK)
            rc = build(q, s, q->segs, nseg, pages);
    }
    if (rc != KEEL_OK) {
        hal->ops->dma_unmap(hal->ctx, cookie, buf, len, dir);
        return rc;
    }
    s->map_cookie = cookie;
    s->buf = buf;
    s->len = len;
    s->dir = (uint8_t)dir;
    return KEEL_OK;
}

int keel_nvme_prp_contig(struct keel_nvme_qpair *q, struct keel_nvme_slot *s, keel_bus_addr_t bus,
                         uint32_t len)
{
    struct keel_dma_seg sg;
    uint32_t pages = 0;
    int rc;

    sg.bus = bus;
    sg.len = len;
    rc = seg_rules(&sg, 1, q->ctrl->page_shift, &pages);
    if (rc != KEEL_OK)
        return rc;
    return build(q, s, &sg, 1, pages);
}

void keel_nvme_prp_free(struct keel_nvme_qpair *q, struct keel_nvme_slot *s)
{
    while (s->nlist > 0u)
        q->prp_free[q->prp_nfree++] = s->list[--s->nlist];
}
