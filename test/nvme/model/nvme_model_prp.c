/* SPDX-License-Identifier: MIT */
/*
 * PRP walking (spec 4.3): PRP1 may carry a dword-aligned offset; the rest of the transfer is in
 * PRP2 when it fits in one more page (PRP2 then page aligned), else PRP2 points to a PRP list
 * (qword aligned, may start inside a page). Each list page holds entries up to its end; when more
 * entries remain, the page's last entry points to the next list page (page aligned, as QEMU
 * requires). Every data entry after the first must be page aligned. The result is a list of bus
 * segments the transfer then moves through sim_dma_read/sim_dma_write, which flag any address the
 * driver did not map.
 */
#include <stdlib.h>

#include "nvme_model_int.h"

#define ST_PRP_OFFSET NM_ST_DNR(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_PRP_OFFSET_INVALID)
#define ST_XFER       NM_ST(NVME_MODEL_SCT_GENERIC, NVME_MODEL_SC_DATA_XFER_ERROR)

static bool seg_push(struct nvme_model *m, uint64_t bus, uint32_t len)
{
    if (m->segs_n == m->segs_cap) {
        size_t cap = m->segs_cap ? m->segs_cap * 2u : 256u;
        void *p = realloc(m->segs, cap * sizeof(*m->segs));
        if (p == NULL)
            return false;
        m->segs = p;
        m->segs_cap = cap;
    }
    m->segs[m->segs_n].bus = bus;
    m->segs[m->segs_n].len = len;
    m->segs_n++;
    return true;
}

/* Walk the list that starts at `list` for `rem` bytes of page-sized entries. */
static uint16_t walk_list(struct nvme_model *m, uint64_t list, size_t rem)
{
    uint64_t pg = m->page;
    uint32_t chain = 0;

    if (list & 7u)
        return ST_PRP_OFFSET;
    while (rem > 0) {
        uint64_t slots = (pg - (list & (pg - 1u))) / 8u;
        uint64_t need = (rem + pg - 1u) / pg, i, data = need <= slots ? need : slots - 1u;
        uint8_t e[8];

        chain++;
        m->st.prp_lists_walked++;
        for (i = 0; i < data; i++) {
            uint64_t ent;
            uint32_t len = (uint32_t)(rem < pg ? rem : pg);
            if (!sim_dma_read(m->s, list + 8u * i, e, 8))
                return ST_XFER;
            ent = nm_get64(e);
            if (ent & (pg - 1u))
                return ST_PRP_OFFSET;
            if (!seg_push(m, ent, len))
                return ST_XFER;
            rem -= len;
        }
        if (rem == 0)
            break;
        if (!sim_dma_read(m->s, list + 8u * (slots - 1u), e, 8))
            return ST_XFER;
        list = nm_get64(e);
        if (list & (pg - 1u))
            return ST_PRP_OFFSET;
    }
    if (chain > m->st.max_prp_list_chain)
        m->st.max_prp_list_chain = chain;
    return NM_OK;
}

uint16_t nm_prp_map(struct nvme_model *m, uint64_t prp1, uint64_t prp2, size_t len)
{
    uint64_t pg = m->page, first;

    m->segs_n = 0;
    if (len == 0)
        return NM_OK;
    if (prp1 & 3u)
        return ST_PRP_OFFSET;
    first = pg - (prp1 & (pg - 1u));
    if (first > len)
        first = len;
    if (!seg_push(m, prp1, (uint32_t)first))
        return ST_XFER;
    len -= first;
    if (len == 0)
        return NM_OK;
    if (len <= pg) {
        if (prp2 & (pg - 1u))
            return ST_PRP_OFFSET;
        return seg_push(m, prp2, (uint32_t)len) ? NM_OK : ST_XFER;
    }
    return walk_list(m, prp2, len);
}

uint16_t nm_xfer_to_host(struct nvme_model *m, const struct nm_cmd *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint16_t st = nm_prp_map(m, c->prp1, c->prp2, len);
    size_t i;

    if (st != NM_OK)
        return st;
    for (i = 0; i < m->segs_n; i++) {
        if (!sim_dma_write(m->s, m->segs[i].bus, p, m->segs[i].len))
            return ST_XFER;
        p += m->segs[i].len;
    }
    return NM_OK;
}

uint16_t nm_xfer_from_host(struct nvme_model *m, const struct nm_cmd *c, void *buf, size_t len)
{
    uint8_t *p = buf;
    uint16_t st = nm_prp_map(m, c->prp1, c->prp2, len);
    size_t i;

    if (st != NM_OK)
        return st;
    for (i = 0; i < m->segs_n; i++) {
        if (!sim_dma_read(m->s, m->segs[i].bus, p, m->segs[i].len))
            return ST_XFER;
        p += m->segs[i].len;
    }
    return NM_OK;
}
