/* SPDX-License-Identifier: MIT */
/*
 * Device initialisation and status handling (VIRTIO 1.2 sections 2.1, 2.2, 2.5, 3.1), the same for
 * every transport: reset with a bounded wait, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK
 * written then re-read, DRIVER_OK; configuration snapshots inside the generation loop; detection of
 * DEVICE_NEEDS_RESET and configuration changes.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/log.h>
#include <keel/str.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>
#include <keel/wait.h>

#include "vq_internal.h"

/* Largest snapshot a legacy (generation-less) config read can compare. */
#define CFG_SNAP_MAX 256u

/* Device-independent features Keel implements. */
#define KEEL_VIRTIO_TRANSPORT_FEATURES                                                             \
    (KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_VERSION_1) | KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_RING_PACKED) |       \
     KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_INDIRECT_DESC) | KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_EVENT_IDX) |     \
     KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_RING_RESET) | KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_ACCESS_PLATFORM))

const char *keel_virtio_transport_name(const struct keel_virtio_dev *dev)
{
    if (dev == NULL || dev->tops == NULL)
        return "none";
    return dev->tops->name;
}

uint8_t keel_virtio_status(struct keel_virtio_dev *dev)
{
    return dev->tops->get_status(dev);
}

/* Status bits are only added (2.1.2: the driver MUST NOT clear a device status bit). */
static void status_add(struct keel_virtio_dev *dev, uint8_t bits)
{
    dev->status = (uint8_t)(dev->status | bits);
    dev->tops->set_status(dev, dev->status);
}

static bool status_is_zero(void *arg)
{
    struct keel_virtio_dev *dev = arg;
    return dev->tops->get_status(dev) == 0u;
}

int keel_virtio_wait_status_zero(struct keel_virtio_dev *dev)
{
    return keel_wait_until(dev->hal, status_is_zero, dev, KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US, 10);
}

int keel_virtio_reset(struct keel_virtio_dev *dev)
{
    int rc;

    if (dev == NULL || dev->tops == NULL)
        return KEEL_EINVAL;
    dev->tops->set_status(dev, 0);
    dev->stats.resets++;
    /* 4.1.4.3.2 / 4.2.3.1: a read of 0 is what tells the driver the reset has completed. */
    rc = keel_virtio_wait_status_zero(dev);
    if (rc != KEEL_OK) {
        uint8_t st = dev->tops->get_status(dev);
        dev->dead = true;
        KEEL_LOGE(dev->hal, "virtio: reset did not complete (status 0x%x)", (unsigned)st);
        return st == 0xffu ? KEEL_ENODEV : KEEL_ETIMEDOUT;
    }
    dev->status = 0;
    dev->events = 0;
    dev->dead = false;
    return KEEL_OK;
}

static uint64_t choose_features(const struct keel_virtio_dev *dev, uint64_t wanted, bool no_packed)
{
    uint64_t mask = KEEL_VIRTIO_TRANSPORT_FEATURES | (wanted & 0xffffffull);

    if (no_packed)
        mask &= ~KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_RING_PACKED);
    if (dev->legacy) {
        /* The legacy interface has 32 feature bits and only split rings. */
        mask &= 0xffffffffull;
    }
    if (dev->tops->queue_reset == NULL)
        mask &= ~KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_RING_RESET);
#if KEEL_CONFIG_VIRTIO_INDIRECT_POOL == 0
    mask &= ~KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_INDIRECT_DESC);
#endif
    return dev->offered & mask;
}

int keel_virtio_begin(struct keel_virtio_dev *dev, uint64_t wanted, bool no_packed)
{
    uint8_t st;
    int rc;

    if (dev == NULL || dev->tops == NULL)
        return KEEL_EINVAL;
    rc = keel_virtio_reset(dev); /* 3.1.1 step 1 */
    if (rc != KEEL_OK)
        return rc;
    status_add(dev, KEEL_VIRTIO_S_ACKNOWLEDGE);
    status_add(dev, KEEL_VIRTIO_S_DRIVER);
    dev->offered = dev->tops->get_features(dev);
    if (!dev->legacy && !(dev->offered & KEEL_VIRTIO_BIT(KEEL_VIRTIO_F_VERSION_1))) {
        /* A modern interface whose device does not speak VERSION_1 is not one Keel can drive. */
        KEEL_LOGE(dev->hal, "virtio: modern transport without VERSION_1");
        keel_virtio_fail(dev);
        return KEEL_ENOTSUP;
    }
    dev->features = choose_features(dev, wanted, no_packed);
    dev->tops->set_features(dev, dev->features);
    if (dev->legacy)
        return KEEL_OK; /* legacy devices have no FEATURES_OK step */
    status_add(dev, KEEL_VIRTIO_S_FEATURES_OK);
    st = dev->tops->get_status(dev);
    if (!(st & KEEL_VIRTIO_S_FEATURES_OK)) {
        /* 3.1.1 step 6: the device does not support this subset. */
        KEEL_LOGE(dev->hal, "virtio: device refused features 0x%llx",
                  (unsigned long long)dev->features);
        keel_virtio_fail(dev);
        return KEEL_ENOTSUP;
    }
    if (dev->tops->generation != NULL)
        dev->generation = dev->tops->generation(dev);
    return KEEL_OK;
}

int keel_virtio_driver_ok(struct keel_virtio_dev *dev)
{
    uint8_t st;
    uint16_t i;

    if (dev == NULL || dev->tops == NULL)
        return KEEL_EINVAL;
    status_add(dev, KEEL_VIRTIO_S_DRIVER_OK);
    st = dev->tops->get_status(dev);
    if (st == 0xffu)
        return KEEL_ENODEV;
    if (st & (KEEL_VIRTIO_S_DEVICE_NEEDS_RESET | KEEL_VIRTIO_S_FAILED)) {
        dev->stats.needs_reset++;
        return KEEL_EIO;
    }
    for (i = 0; i < dev->irq_count; i++)
        if (dev->hal->ops->irq_mask != NULL)
            dev->hal->ops->irq_mask(dev->hal->ctx, dev->irq_handle[i], false);
    if (dev->tops->generation != NULL)
        dev->generation = dev->tops->generation(dev);
    dev->last_check_us = keel_time_us(dev->hal);
    return KEEL_OK;
}

void keel_virtio_fail(struct keel_virtio_dev *dev)
{
    status_add(dev, KEEL_VIRTIO_S_FAILED);
}

/*
 * Device configuration fields are little-endian on the modern interface and in the guest's own
 * byte order on the legacy one (VIRTIO 1.2 4.1.4.8 and 4.2.4 legacy notes; QEMU swaps them for a
 * big-endian guest). The transports access the window at natural width through the HAL's
 * little-endian bus accessors, so on a big-endian CPU a legacy field arrives byte-swapped: swap it
 * back here (for 64-bit fields the two 32-bit halves also trade places). Nothing changes on a
 * little-endian CPU.
 */
static bool cfg_swapped(const struct keel_virtio_dev *dev)
{
    return KEEL_BIG_ENDIAN && dev->legacy;
}

uint8_t keel_virtio_cfg8(struct keel_virtio_dev *dev, uint32_t off)
{
    return (uint8_t)dev->tops->cfg_read(dev, off, 1);
}

uint16_t keel_virtio_cfg16(struct keel_virtio_dev *dev, uint32_t off)
{
    uint16_t v = (uint16_t)dev->tops->cfg_read(dev, off, 2);

    return cfg_swapped(dev) ? keel_bswap16(v) : v;
}

uint32_t keel_virtio_cfg32(struct keel_virtio_dev *dev, uint32_t off)
{
    uint32_t v = dev->tops->cfg_read(dev, off, 4);

    return cfg_swapped(dev) ? keel_bswap32(v) : v;
}

uint64_t keel_virtio_cfg64(struct keel_virtio_dev *dev, uint32_t off)
{
    uint32_t first = dev->tops->cfg_read(dev, off, 4);
    uint32_t second = dev->tops->cfg_read(dev, off + 4u, 4);

    if (cfg_swapped(dev)) /* big-endian field: the first four bytes are the high half */
        return ((uint64_t)keel_bswap32(first) << 32) | keel_bswap32(second);
    return (uint64_t)first | ((uint64_t)second << 32);
}

void keel_virtio_cfg_write8(struct keel_virtio_dev *dev, uint32_t off, uint8_t val)
{
    dev->tops->cfg_write(dev, off, 1, val);
}

void keel_virtio_cfg_write16(struct keel_virtio_dev *dev, uint32_t off, uint16_t val)
{
    dev->tops->cfg_write(dev, off, 2, cfg_swapped(dev) ? keel_bswap16(val) : val);
}

void keel_virtio_cfg_write32(struct keel_virtio_dev *dev, uint32_t off, uint32_t val)
{
    dev->tops->cfg_write(dev, off, 4, cfg_swapped(dev) ? keel_bswap32(val) : val);
}

/* Legacy: no generation counter; a snapshot is accepted once two consecutive reads agree. */
static int config_read_legacy(struct keel_virtio_dev *dev, keel_virtio_cfg_reader fn, void *snap,
                              size_t len)
{
    uint8_t prev[CFG_SNAP_MAX];
    unsigned tries;

    if (len > sizeof(prev))
        return KEEL_EINVAL;
    fn(dev, snap);
    for (tries = 0; tries < KEEL_CONFIG_VIRTIO_CONFIG_RETRIES; tries++) {
        keel_memcpy(prev, snap, len);
        fn(dev, snap);
        if (keel_memcmp(prev, snap, len) == 0)
            return KEEL_OK;
        dev->stats.config_retries++;
    }
    return KEEL_EAGAIN;
}

int keel_virtio_config_read(struct keel_virtio_dev *dev, keel_virtio_cfg_reader fn, void *snap,
                            size_t len)
{
    unsigned tries;

    if (dev == NULL || fn == NULL || snap == NULL)
        return KEEL_EINVAL;
    if (dev->tops->generation == NULL)
        return config_read_legacy(dev, fn, snap, len);
    /* 2.5.1: read generation, the fields, generation again; retry while it moved. */
    for (tries = 0; tries < KEEL_CONFIG_VIRTIO_CONFIG_RETRIES; tries++) {
        uint32_t before = dev->tops->generation(dev), after;
        fn(dev, snap);
        after = dev->tops->generation(dev);
        if (before == after) {
            dev->generation = after;
            return KEEL_OK;
        }
        dev->stats.config_retries++;
    }
    KEEL_LOGW(dev->hal, "virtio: config generation never settled");
    return KEEL_EAGAIN;
}

uint32_t keel_virtio_check(struct keel_virtio_dev *dev, bool force)
{
    uint32_t ev = dev->events;
    uint8_t st;

    dev->events = 0;
    if (!force && ev == 0u) {
        /* Polled devices report changes only through registers: look now and then. */
        uint64_t now = keel_time_us(dev->hal);
        if (now - dev->last_check_us < KEEL_CONFIG_VIRTIO_STATUS_POLL_US)
            return 0;
        dev->last_check_us = now;
    }
    st = dev->tops->get_status(dev);
    if (st != 0xffu && (st & KEEL_VIRTIO_S_DEVICE_NEEDS_RESET)) {
        dev->stats.needs_reset++;
        ev |= KEEL_VIRTIO_EV_NEEDS_RESET;
    }
    if (dev->tops->generation != NULL) {
        /* With a generation counter, "maybe changed" resolves to changed or not. */
        uint32_t g = dev->tops->generation(dev);
        ev &= ~KEEL_VIRTIO_EV_RECHECK;
        if (g != dev->generation) {
            dev->generation = g;
            ev |= KEEL_VIRTIO_EV_CONFIG;
        }
    } else {
        ev |= KEEL_VIRTIO_EV_RECHECK; /* legacy: no generation, the driver re-reads and compares */
    }
    if (ev & KEEL_VIRTIO_EV_CONFIG)
        dev->stats.config_changes++;
    return ev;
}
