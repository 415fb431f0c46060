/* SPDX-License-Identifier: MIT */
/*
 * nvme_floor.c - blkbench's ceiling probe (floor=1): the least work a guest can do per NVMe read,
 * written by hand, so that what it measures is the emulated device's own limit.
 *
 * It does not use Keel's NVMe driver. It finds the first NVMe function, resets the controller,
 * creates one admin queue pair and one I/O queue pair (64 entries, polled, no interrupts), reads
 * namespace 1's size, then keeps `qd` reads in flight: per completion it checks the phase tag,
 * records the latency, writes the next 64-byte SQE in place; per reap round one CQ head and one SQ
 * tail doorbell. No mapping (buffers come from dma_alloc), no statistics, no timeouts, no error
 * recovery, no range checks beyond the CID: a measuring instrument, not a driver (never copy it).
 * NVMe base specification 2.0: 3.1.3 (registers), 3.5.1 (initialisation), 4.2/4.6 (SQE, CQE),
 * 5.4/5.5 (Create I/O CQ/SQ), 5.17 (Identify), 7.1 (Read).
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/pci.h>
#include <keel/region.h>
#include <keel/str.h>

#include "floor.h"
#include "xorshift.h"

#define REG_CAP  0x00u
#define REG_CC   0x14u
#define REG_CSTS 0x1cu
#define REG_AQA  0x24u
#define REG_ASQ  0x28u
#define REG_ACQ  0x30u
#define DB_BASE  0x1000u

#define QENTRIES   64u
#define SQE_BYTES  64u
#define CQE_BYTES  16u
#define WAIT_US    5000000u
#define STALL_US   10000000u
#define FLOOR_QMAX 32u /* most reads in flight (< QENTRIES) */

struct queue {
    struct keel_dma_mem sq, cq;
    uint16_t tail, head;
    uint8_t phase;
    uint32_t sq_db, cq_db; /* doorbell offsets in BAR0 */
};

struct floor {
    const struct keel_hal *hal;
    struct keel_region bar;
    struct queue aq, iq;
    struct keel_dma_mem idbuf, data;
    uint32_t stride;
    uint16_t cid;
    bool found;
    struct keel_pci_addr addr;
    uint64_t bar_offset;
};

static struct floor fl;

static int find_nvme(void *arg, const struct keel_pci_fn *f)
{
    struct floor *s = arg;

    if (!s->found && f->class_code == 0x01u && f->subclass == 0x08u && f->prog_if == 0x02u) {
        s->found = true;
        s->addr = f->addr;
    }
    return 0;
}

static uint32_t rd32(uint32_t off)
{
    return keel_region_read32(&fl.bar, off);
}

static void wr32(uint32_t off, uint32_t v)
{
    keel_region_write32(&fl.bar, off, v);
}

static void wr64(uint32_t off, uint64_t v)
{
    wr32(off, (uint32_t)v);
    wr32(off + 4u, (uint32_t)(v >> 32));
}

static bool wait_rdy(uint32_t want)
{
    uint64_t end = keel_time_us(fl.hal) + WAIT_US;

    while ((rd32(REG_CSTS) & 1u) != want)
        if (keel_time_us(fl.hal) > end)
            return false;
    return true;
}

static int alloc(struct keel_dma_mem *m, size_t size)
{
    int rc = fl.hal->ops->dma_alloc(fl.hal->ctx, size, 4096, m);

    if (rc == KEEL_OK)
        keel_memset(m->cpu, 0, size);
    return rc;
}

/* Write SQE `cid` into q's tail slot (opcode, nsid, prp1, cdw10..12); the caller rings. */
static void put_sqe(struct queue *q, uint8_t opc, uint16_t cid, uint32_t nsid, uint64_t prp1,
                    uint32_t cdw10, uint32_t cdw11, uint32_t cdw12)
{
    uint32_t *e = (uint32_t *)q->sq.cpu + (size_t)q->tail * (SQE_BYTES / 4u);

    e[0] = keel_cpu_to_le32((uint32_t)opc | ((uint32_t)cid << 16));
    e[1] = keel_cpu_to_le32(nsid);
    e[2] = e[3] = e[4] = e[5] = 0;
    e[6] = keel_cpu_to_le32((uint32_t)prp1);
    e[7] = keel_cpu_to_le32((uint32_t)(prp1 >> 32));
    e[8] = e[9] = 0;
    e[10] = keel_cpu_to_le32(cdw10);
    e[11] = keel_cpu_to_le32(cdw11);
    e[12] = keel_cpu_to_le32(cdw12);
    e[13] = e[14] = e[15] = 0;
    q->tail = (uint16_t)((q->tail + 1u) & (QENTRIES - 1u));
}

/* The CQE at q's head if the device has posted it (phase), else NULL. */
static const uint32_t *peek_cqe(struct queue *q)
{
    const volatile uint32_t *e =
        (const volatile uint32_t *)q->cq.cpu + (size_t)q->head * (CQE_BYTES / 4u);

    if (((keel_le32_to_cpu(e[3]) >> 16) & 1u) != q->phase)
        return NULL;
    keel_rmb(fl.hal);
    return (const uint32_t *)e;
}

static void pop_cqe(struct queue *q)
{
    q->head = (uint16_t)((q->head + 1u) & (QENTRIES - 1u));
    if (q->head == 0u)
        q->phase ^= 1u;
}

/* One admin command, waited for by polling; returns its status field (0: success) or -1. */
static int admin(uint8_t opc, uint32_t nsid, uint64_t prp1, uint32_t cdw10, uint32_t cdw11)
{
    uint64_t end;
    const uint32_t *c;
    int st;

    put_sqe(&fl.aq, opc, fl.cid, nsid, prp1, cdw10, cdw11, 0);
    keel_wmb(fl.hal);
    wr32(fl.aq.sq_db, fl.aq.tail);
    end = keel_time_us(fl.hal) + WAIT_US;
    while ((c = peek_cqe(&fl.aq)) == NULL)
        if (keel_time_us(fl.hal) > end)
            return -1;
    st = (int)((keel_le32_to_cpu(c[3]) >> 17) & 0x7fffu);
    pop_cqe(&fl.aq);
    wr32(fl.aq.cq_db, fl.aq.head);
    fl.cid++;
    return st;
}

static int setup_queues(void)
{
    uint64_t cap = (uint64_t)rd32(REG_CAP) | ((uint64_t)rd32(REG_CAP + 4u) << 32);

    fl.stride = 4u << ((cap >> 32) & 0xfu);
    if (alloc(&fl.aq.sq, 4096) != KEEL_OK || alloc(&fl.aq.cq, 4096) != KEEL_OK ||
        alloc(&fl.iq.sq, 4096) != KEEL_OK || alloc(&fl.iq.cq, 4096) != KEEL_OK ||
        alloc(&fl.idbuf, 4096) != KEEL_OK)
        return KEEL_ENOMEM;
    fl.aq.phase = fl.iq.phase = 1;
    fl.aq.sq_db = DB_BASE;
    fl.aq.cq_db = DB_BASE + fl.stride;
    fl.iq.sq_db = DB_BASE + 2u * fl.stride;
    fl.iq.cq_db = DB_BASE + 3u * fl.stride;
    /* Reset (firmware may have left it enabled), admin queue, enable: 4 KiB pages, 64/16 B. */
    wr32(REG_CC, 0);
    if (!wait_rdy(0))
        return KEEL_ETIMEDOUT;
    wr32(REG_AQA, ((QENTRIES - 1u) << 16) | (QENTRIES - 1u));
    wr64(REG_ASQ, fl.aq.sq.bus);
    wr64(REG_ACQ, fl.aq.cq.bus);
    wr32(REG_CC, (4u << 20) | (6u << 16) | 1u);
    if (!wait_rdy(1))
        return KEEL_ETIMEDOUT;
    /* Create I/O CQ 1 (physically contiguous, interrupts off), then I/O SQ 1 on it. */
    if (admin(0x05, 0, fl.iq.cq.bus, ((QENTRIES - 1u) << 16) | 1u, 1u) != 0 ||
        admin(0x01, 0, fl.iq.sq.bus, ((QENTRIES - 1u) << 16) | 1u, (1u << 16) | 1u) != 0)
        return KEEL_EIO;
    return KEEL_OK;
}

/* Namespace 1: size in blocks and block size (Identify Namespace, CNS 0). */
static int identify_ns(uint64_t *nsze, uint32_t *bsize)
{
    const uint8_t *id = fl.idbuf.cpu;
    unsigned fmt;

    if (admin(0x06, 1, fl.idbuf.bus, 0, 0) != 0)
        return KEEL_EIO;
    *nsze = keel_ld_le64(id);
    fmt = id[26] & 0x0fu;
    *bsize = 1u << id[128u + 4u * fmt + 2u];
    return *nsze != 0u && *bsize >= 512u ? KEEL_OK : KEEL_EPROTO;
}

int nvme_floor_run(const struct floor_cfg *c, floor_lat_fn rec, struct floor_out *o)
{
    uint64_t ts[FLOOR_QMAX], rng = c->seed * 0x9e3779b97f4a7c15ull + 1u, nblocks, nsze, now;
    uint64_t warm = c->warmup, last;
    uint32_t bsize, per, nlb;
    const struct keel_port *p = c->port;
    unsigned h, i;
    int rc;

    *o = (struct floor_out){0};
    fl = (struct floor){.hal = &p->hal};
    if (c->qd < 1u || c->qd > FLOOR_QMAX)
        return KEEL_EINVAL;
    for (h = 0; h < p->npci && !fl.found; h++) {
        (void)keel_pci_scan(&p->hal, p->pci[h].segment, p->pci[h].bus_first, p->pci[h].bus_last,
                            find_nvme, &fl);
        fl.bar_offset = p->pci[h].windows.mem32.cpu_offset;
    }
    if (!fl.found)
        return KEEL_ENODEV;
    rc = keel_pci_bar_region(&p->hal, fl.addr, 0, fl.bar_offset, &fl.bar);
    if (rc == KEEL_OK)
        rc = keel_pci_enable(&p->hal, fl.addr, KEEL_PCI_CMD_MEM | KEEL_PCI_CMD_MASTER, 0);
    if (rc == KEEL_OK)
        rc = setup_queues();
    if (rc == KEEL_OK)
        rc = identify_ns(&nsze, &bsize);
    if (rc != KEEL_OK)
        return rc;
    if (c->bs % bsize != 0u || c->bs > 4096u)
        return KEEL_EINVAL; /* one PRP entry: at most one 4 KiB page */
    per = c->bs / bsize;
    nlb = per - 1u;
    nblocks = nsze / per;
    if (nblocks > UINT32_MAX)
        nblocks = UINT32_MAX;
    if (alloc(&fl.data, (size_t)c->qd * 4096u) != KEEL_OK)
        return KEEL_ENOMEM;
    o->sector_size = bsize;
    o->sectors = nsze;

    now = keel_time_us(fl.hal);
    for (i = 0; i < c->qd; i++) {
        uint64_t lba = (((xorshift64(&rng) >> 32) * nblocks) >> 32) * per;

        put_sqe(&fl.iq, c->write ? 0x01 : 0x02, (uint16_t)i, 1, fl.data.bus + (uint64_t)i * 4096u,
                (uint32_t)lba, (uint32_t)(lba >> 32), nlb);
        ts[i] = now;
    }
    keel_wmb(fl.hal);
    wr32(fl.iq.sq_db, fl.iq.tail);
    last = now;
    for (;;) {
        const uint32_t *e;
        unsigned n = 0;
        bool stop = false;

        while ((e = peek_cqe(&fl.iq)) != NULL) {
            uint32_t dw3 = keel_le32_to_cpu(e[3]);
            uint16_t cid = (uint16_t)dw3;
            uint64_t t = keel_time_us(fl.hal), lba;

            pop_cqe(&fl.iq);
            n++;
            if (cid >= c->qd || ((dw3 >> 17) & 0x7fffu) != 0u) {
                o->errors++;
                return KEEL_EIO;
            }
            if (warm != 0u) {
                if (--warm == 0u)
                    o->t0 = t;
            } else if (!stop) {
                rec(t - ts[cid]);
                o->ios++;
                if ((c->ios != 0u && o->ios >= c->ios) ||
                    (c->secs != 0u && t - o->t0 >= c->secs * 1000000u)) {
                    o->t_end = t;
                    stop = true;
                }
            }
            lba = (((xorshift64(&rng) >> 32) * nblocks) >> 32) * per;
            put_sqe(&fl.iq, c->write ? 0x01 : 0x02, cid, 1, fl.data.bus + (uint64_t)cid * 4096u,
                    (uint32_t)lba, (uint32_t)(lba >> 32), nlb);
            ts[cid] = t;
        }
        if (stop)
            return KEEL_OK; /* the machine ends next: in-flight reads are left to the device */
        if (n == 0u) {
            if (keel_time_us(fl.hal) - last > STALL_US)
                return KEEL_ETIMEDOUT;
            continue;
        }
        last = keel_time_us(fl.hal);
        keel_wmb(fl.hal);
        wr32(fl.iq.cq_db, fl.iq.head);
        wr32(fl.iq.sq_db, fl.iq.tail);
    }
}
