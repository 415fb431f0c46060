/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi event queue (5.6.6.3): buffers of max(16, event_info_size) bytes (bounded by
 * KEEL_CONFIG_VSCSI_EVENT_BUF_MAX) are kept posted; each event is copied out, its buffer re-posted
 * at once (a device drops events it has no buffer for), and only then handled:
 *
 *   TRANSPORT_RESET / RESCAN    probe the LUN and add it (LUN 0: rescan the whole
 * target, 5.6.6.3.1) TRANSPORT_RESET / REMOVED   mark the LUN gone (LUN 0: also rescan the target)
 *   TRANSPORT_RESET / HARD      revalidate the LUN (its unit attention follows)
 *   PARAM_CHANGE (ASC/ASCQ)     revalidate the LUN: capacity, write protection
 *   ASYNC_NOTIFY                revalidate the LUN (medium change)
 *   bit 31 EVENTS_MISSED        full rescan, whatever the event itself says
 *
 * Every field is the device's word: the LUN address must have the 1, target, single-level LUN,
 * zeroes shape, the target and LUN must be within the configuration's bounds, and the used length
 * must cover the event (except on legacy devices, whose used lengths are advisory).
 */
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio_scsi.h>

#include "scsi_internal.h"

static uint8_t *ev_cpu(const struct keel_vscsi *vs, unsigned i)
{
    return (uint8_t *)vs->event_mem.cpu + (size_t)i * vs->event_len;
}

static int post_one(struct keel_vscsi *vs, unsigned i)
{
    struct keel_vq_sg sg;

    keel_memset(ev_cpu(vs, i), 0, vs->event_len);
    sg.addr = vs->event_mem.bus + (keel_bus_addr_t)i * vs->event_len;
    sg.len = vs->event_len;
    return keel_vq_add(&vs->event_vq, &sg, 0, 1, ev_cpu(vs, i));
}

int keel_vscsi_events_post(struct keel_vscsi *vs)
{
    unsigned i;
    int rc;

    for (i = 0; i < vs->nevents; i++) {
        vs->ev_unposted[i] = 0;
        rc = post_one(vs, i);
        if (rc != KEEL_OK)
            return rc;
    }
    (void)keel_vq_kick(&vs->event_vq);
    return KEEL_OK;
}

/* Post again the buffers that could not go back at once (their descriptors were held). */
static void repost_taken(struct keel_vscsi *vs)
{
    bool any = false;
    unsigned i;

    for (i = 0; i < vs->nevents; i++) {
        if (vs->ev_unposted[i] != 0u && post_one(vs, i) == KEEL_OK) {
            vs->ev_unposted[i] = 0;
            any = true;
        }
    }
    if (any)
        (void)keel_vq_kick(&vs->event_vq);
}

void keel_vscsi_event_irq(struct keel_vq *vq, void *arg)
{
    struct keel_vscsi *vs = arg;

    (void)vq;
    vs->work |= W_EVENTS; /* handled in keel_vscsi_service / the next poll of queue 0 */
}

/* The event buffer a token names, or -1 (events are rare: a short search is fine). */
static int ev_index(const struct keel_vscsi *vs, const void *token)
{
    unsigned i;

    for (i = 0; i < vs->nevents; i++)
        if (token == (const void *)ev_cpu(vs, i))
            return (int)i;
    return -1;
}

/* Decode the lun[8] of an event; false for a shape or a number the device may not use. */
static bool event_lun(const struct keel_vscsi *vs, const uint8_t *p, uint8_t *target, uint16_t *lun)
{
    uint8_t e[8] = {0};
    uint32_t l;

    if (p[0] != 1u || p[4] != 0u || p[5] != 0u || p[6] != 0u || p[7] != 0u)
        return false;
    e[0] = p[2];
    e[1] = p[3];
    if (keel_scsi_lun_decode(e, &l) != KEEL_OK || l > vs->cfg.max_lun || p[1] > vs->cfg.max_target)
        return false;
    *target = p[1];
    *lun = (uint16_t)l;
    return true;
}

static void revalidate_now(struct keel_vscsi *vs, uint8_t target, uint16_t lun)
{
    struct keel_vscsi_lun *e = keel_vscsi_lun_lookup(vs, target, lun);

    if (e != NULL && e->state != KEEL_VSCSI_LUN_GONE)
        (void)keel_vscsi_revalidate(vs, e);
}

static bool transport_reset(struct keel_vscsi *vs, uint32_t reason, uint8_t target, uint16_t lun)
{
    struct keel_vscsi_lun *e;

    switch (reason) {
    case KEEL_VIRTIO_SCSI_EVT_RESET_RESCAN:
        if (lun == 0u)
            keel_vscsi_mark_rescan(vs, target); /* may be a whole new target */
        else
            (void)keel_vscsi_rescan_lun(vs, target, lun);
        return true;
    case KEEL_VIRTIO_SCSI_EVT_RESET_REMOVED:
        e = keel_vscsi_lun_lookup(vs, target, lun);
        if (e != NULL)
            keel_vscsi_lun_gone(vs, e);
        if (lun == 0u)
            keel_vscsi_mark_rescan(vs, target); /* may be the whole target */
        return true;
    case KEEL_VIRTIO_SCSI_EVT_RESET_HARD:
        revalidate_now(vs, target, lun);
        return true;
    default:
        return false;
    }
}

static void handle(struct keel_vscsi *vs, const uint8_t *ev)
{
    uint32_t event = keel_vscsi_get32(vs, ev), reason = keel_vscsi_get32(vs, ev + 12);
    uint32_t type = event & ~KEEL_VIRTIO_SCSI_T_EVENTS_MISSED;
    uint16_t lun = 0;
    uint8_t target = 0;
    bool ok = true;

    vs->stats.events++;
    if (event & KEEL_VIRTIO_SCSI_T_EVENTS_MISSED) {
        vs->stats.events_missed++;
        keel_vscsi_set_work(vs, W_RESCAN_ALL); /* 5.6.6.3.1: rescan to catch up */
    }
    if (type == KEEL_VIRTIO_SCSI_T_NO_EVENT)
        return;
    if (!event_lun(vs, ev + 4, &target, &lun)) {
        vs->stats.bad_events++;
        KEEL_LOGW(vs->vdev.hal, "virtio-scsi: event %u for a bad LUN address ignored",
                  (unsigned)event);
        return;
    }
    switch (type) {
    case KEEL_VIRTIO_SCSI_T_TRANSPORT_RESET:
        ok = transport_reset(vs, reason, target, lun);
        break;
    case KEEL_VIRTIO_SCSI_T_PARAM_CHANGE:
        /* reason: ASC in bits 0..7, ASCQ in 8..15 (2A/09: capacity data has changed). */
        KEEL_LOGI(vs->vdev.hal, "virtio-scsi %u:%u: parameters changed (%02x/%02x)",
                  (unsigned)target, (unsigned)lun, (unsigned)(reason & 0xffu),
                  (unsigned)((reason >> 8) & 0xffu));
        revalidate_now(vs, target, lun);
        break;
    case KEEL_VIRTIO_SCSI_T_ASYNC_NOTIFY:
        revalidate_now(vs, target, lun);
        break;
    default:
        ok = false;
        break;
    }
    if (!ok)
        vs->stats.bad_events++;
}

void keel_vscsi_events_service(struct keel_vscsi *vs)
{
    vs->work &= ~W_EVENTS;
    repost_taken(vs); /* left over when an earlier pass ended in a recovery or a reset */
    for (;;) {
        uint8_t ev[KEEL_VIRTIO_SCSI_EVENT_BYTES];
        const volatile uint8_t *src;
        void *token;
        uint32_t len, k;
        int rc = keel_vq_get(&vs->event_vq, &token, &len), i;

        if (rc == 0) {
            repost_taken(vs); /* every completion seen is consumed: nothing is held back now */
            break;
        }
        i = rc < 0 ? -1 : ev_index(vs, token);
        if (i < 0) {
            keel_vq_mark_broken(&vs->event_vq, KEEL_VQ_NOT_HEAD);
            (void)keel_vscsi_device_recover(vs, R_NEEDS_RESET, NULL);
            return;
        }
        src = ev_cpu(vs, (unsigned)i);
        for (k = 0; k < sizeof(ev); k++)
            ev[k] = src[k];
        /* Back to the device first: it drops events when it finds no buffer. While the device
         * has more completions visible, the virtqueue holds this descriptor back (a repeated id
         * must not complete the buffer again): the buffer then goes back after the loop. */
        if (post_one(vs, (unsigned)i) == KEEL_OK)
            (void)keel_vq_kick(&vs->event_vq);
        else
            vs->ev_unposted[i] = 1;
        if (!vs->vdev.legacy && len < KEEL_VIRTIO_SCSI_EVENT_BYTES) {
            vs->stats.bad_events++;
            continue;
        }
        handle(vs, ev);
        if (vs->dead || vs->in_recovery)
            return;
    }
}
