/* SPDX-License-Identifier: MIT */
/* scsi_model_media.c - sparse media: 64 KiB chunks allocated on first write, zero elsewhere. */
#include <stdlib.h>
#include <string.h>

#include "scsi_model_internal.h"

/* Index of the first chunk with idx >= key (binary search). */
static size_t chunk_lower(const struct sm_media *md, uint64_t key)
{
    size_t lo = 0, hi = md->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (md->chunks[mid].idx < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint8_t *chunk_get(const struct sm_media *md, uint64_t idx)
{
    size_t i = chunk_lower(md, idx);
    return (i < md->n && md->chunks[i].idx == idx) ? md->chunks[i].data : NULL;
}

static uint8_t *chunk_make(struct sm_media *md, uint64_t idx)
{
    size_t i = chunk_lower(md, idx);
    if (i < md->n && md->chunks[i].idx == idx)
        return md->chunks[i].data;
    if (md->n == md->cap) {
        size_t ncap = md->cap ? md->cap * 2 : 16;
        struct sm_chunk *nc = realloc(md->chunks, ncap * sizeof(*nc));
        if (nc == NULL)
            abort();
        md->chunks = nc;
        md->cap = ncap;
    }
    memmove(&md->chunks[i + 1], &md->chunks[i], (md->n - i) * sizeof(md->chunks[0]));
    md->chunks[i].idx = idx;
    md->chunks[i].data = calloc(1, SM_CHUNK_SIZE);
    if (md->chunks[i].data == NULL)
        abort();
    md->n++;
    return md->chunks[i].data;
}

void sm_media_read(const struct sm_media *md, uint64_t off, uint8_t *buf, size_t len)
{
    while (len > 0) {
        uint64_t idx = off >> SM_CHUNK_SHIFT;
        size_t in = (size_t)(off & (SM_CHUNK_SIZE - 1u));
        size_t n = SM_CHUNK_SIZE - in < len ? SM_CHUNK_SIZE - in : len;
        const uint8_t *d = chunk_get(md, idx);
        if (d != NULL)
            memcpy(buf, d + in, n);
        else
            memset(buf, 0, n);
        buf += n;
        off += n;
        len -= n;
    }
}

void sm_media_write(struct sm_media *md, uint64_t off, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        uint64_t idx = off >> SM_CHUNK_SHIFT;
        size_t in = (size_t)(off & (SM_CHUNK_SIZE - 1u));
        size_t n = SM_CHUNK_SIZE - in < len ? SM_CHUNK_SIZE - in : len;
        memcpy(chunk_make(md, idx) + in, buf, n);
        buf += n;
        off += n;
        len -= n;
    }
}

/* Zero [off, off + len): free fully covered chunks, clear partial ones. Only allocated chunks are
 * visited, so discarding a huge range is cheap. */
void sm_media_discard(struct sm_media *md, uint64_t off, uint64_t len)
{
    uint64_t end = off + len;
    size_t i = chunk_lower(md, off >> SM_CHUNK_SHIFT);

    while (i < md->n) {
        struct sm_chunk *ch = &md->chunks[i];
        uint64_t cs = ch->idx << SM_CHUNK_SHIFT, ce = cs + SM_CHUNK_SIZE;
        uint64_t s = off > cs ? off : cs, e = end < ce ? end : ce;
        if (cs >= end)
            break;
        if (s == cs && e == ce) {
            free(ch->data);
            memmove(ch, ch + 1, (md->n - i - 1) * sizeof(*ch));
            md->n--;
            continue;
        }
        if (s < e)
            memset(ch->data + (s - cs), 0, (size_t)(e - s));
        i++;
    }
}

void sm_media_free(struct sm_media *md)
{
    size_t i;
    for (i = 0; i < md->n; i++)
        free(md->chunks[i].data);
    free(md->chunks);
    memset(md, 0, sizeof(*md));
}

size_t sm_media_footprint(const struct sm_media *md)
{
    return md->n * SM_CHUNK_SIZE + md->cap * sizeof(struct sm_chunk);
}
