/* SPDX-License-Identifier: MIT */
/*
 * Internal to virtio/: ring-format halves of the virtqueue (ring_split.c, ring_packed.c) and the
 * accessors they share. Ring fields are little-endian for VERSION_1 devices and CPU order on the
 * legacy interface; every access is volatile (the device writes the same memory) and goes through
 * these helpers, which compile to plain loads and stores on little-endian CPUs.
 */
#ifndef KEEL_VIRTIO_VQ_INTERNAL_H
#define KEEL_VIRTIO_VQ_INTERNAL_H

#include <keel/endian.h>
#include <keel/virtio.h>
#include <keel/virtqueue.h>

#ifndef KEEL_CONFIG_VIRTIO_CHECK_DESC
/* Split rings: compare a completed chain's ring descriptors with the shadow (device rewrote them?).
 */
#define KEEL_CONFIG_VIRTIO_CHECK_DESC 1
#endif

/* Byte size of one descriptor (split and packed alike) and of one used element. */
#define VQ_DESC_BYTES      16u
#define VQ_USED_ELEM_BYTES 8u

static inline uint16_t vq_16(const struct keel_vq *vq, uint16_t v)
{
#if KEEL_BIG_ENDIAN
    return vq->native_endian ? v : keel_bswap16(v);
#else
    (void)vq;
    return v;
#endif
}

static inline uint32_t vq_32(const struct keel_vq *vq, uint32_t v)
{
#if KEEL_BIG_ENDIAN
    return vq->native_endian ? v : keel_bswap32(v);
#else
    (void)vq;
    return v;
#endif
}

static inline uint64_t vq_64(const struct keel_vq *vq, uint64_t v)
{
#if KEEL_BIG_ENDIAN
    return vq->native_endian ? v : keel_bswap64(v);
#else
    (void)vq;
    return v;
#endif
}

static inline uint16_t vq_rd16(const struct keel_vq *vq, const uint8_t *base, size_t off)
{
    return vq_16(vq, *(const volatile uint16_t *)(const void *)(base + off));
}

static inline uint32_t vq_rd32(const struct keel_vq *vq, const uint8_t *base, size_t off)
{
    return vq_32(vq, *(const volatile uint32_t *)(const void *)(base + off));
}

static inline uint64_t vq_rd64(const struct keel_vq *vq, const uint8_t *base, size_t off)
{
    return vq_64(vq, *(const volatile uint64_t *)(const void *)(base + off));
}

static inline void vq_wr16(const struct keel_vq *vq, uint8_t *base, size_t off, uint16_t v)
{
    *(volatile uint16_t *)(void *)(base + off) = vq_16(vq, v);
}

static inline void vq_wr32(const struct keel_vq *vq, uint8_t *base, size_t off, uint32_t v)
{
    *(volatile uint32_t *)(void *)(base + off) = vq_32(vq, v);
}

static inline void vq_wr64(const struct keel_vq *vq, uint8_t *base, size_t off, uint64_t v)
{
    *(volatile uint64_t *)(void *)(base + off) = vq_64(vq, v);
}

/* Record a device protocol violation: the queue is broken from now on. */
void keel_vq_violation(struct keel_vq *vq, enum keel_vq_violation why, uint32_t a, uint32_t b);

/* Bytes of one indirect table (KEEL_CONFIG_VIRTIO_MAX_SEGS descriptors). */
#define VQ_IND_TABLE_BYTES ((size_t)KEEL_CONFIG_VIRTIO_MAX_SEGS * VQ_DESC_BYTES)

/* Where an indirect table lives: CPU pointer and bus address of table `ind` (inline: once per
 * buffer on the hot path). */
static inline uint8_t *keel_vq_ind_cpu(const struct keel_vq *vq, uint16_t ind)
{
    return (uint8_t *)vq->ind_pool.cpu + (size_t)ind * VQ_IND_TABLE_BYTES;
}

static inline keel_bus_addr_t keel_vq_ind_bus(const struct keel_vq *vq, uint16_t ind)
{
    return vq->ind_pool.bus + (keel_bus_addr_t)ind * VQ_IND_TABLE_BYTES;
}

/* Split ring (ring_split.c; adding and reaping: ring_split.h). */
size_t keel_vq_split_bytes(uint16_t size);
void keel_vq_split_init(struct keel_vq *vq);
bool keel_vq_split_kick_prepare(struct keel_vq *vq);
bool keel_vq_split_pending(struct keel_vq *vq);
void keel_vq_split_set_irq(struct keel_vq *vq, bool on);
void keel_vq_split_free(struct keel_vq *vq, uint16_t head);

/* Packed ring (ring_packed.c; adding and reaping: ring_packed.h). */
size_t keel_vq_packed_bytes(uint16_t size);
void keel_vq_packed_init(struct keel_vq *vq);
bool keel_vq_packed_kick_prepare(struct keel_vq *vq);
bool keel_vq_packed_pending(struct keel_vq *vq);
void keel_vq_packed_set_irq(struct keel_vq *vq, bool on);
void keel_vq_packed_free(struct keel_vq *vq, uint16_t id);

/* Release the indirect table of an in-flight entry (common to both formats; inline: once per
 * completion on the hot path). */
static inline void keel_vq_ind_release(struct keel_vq *vq, uint16_t ind)
{
#if KEEL_CONFIG_VIRTIO_INDIRECT_POOL > 0
    if (ind != KEEL_VQ_NO_IND && vq->ind_top < vq->ind_count)
        vq->ind_free[vq->ind_top++] = ind;
#else
    (void)vq;
    (void)ind;
#endif
}

/* Device layer helpers shared by the transports (device.c, irq.c). */
int keel_virtio_wait_status_zero(struct keel_virtio_dev *dev);
void keel_virtio_irq_vq_handler(void *arg);
void keel_virtio_irq_config_handler(void *arg);
void keel_virtio_irq_shared_handler(void *arg);

/* PCI: virtio device type of function `a` (modern or transitional ID scheme), and its device ID. */
int keel_virtio_pci_identify(const struct keel_hal *hal, struct keel_pci_addr a, uint32_t *id,
                             uint16_t *pci_device);

/* Transports (one file each). */
extern const struct keel_virtio_transport_ops keel_virtio_pci_modern_ops;
extern const struct keel_virtio_transport_ops keel_virtio_pci_legacy_ops;
extern const struct keel_virtio_transport_ops keel_virtio_mmio_ops;
extern const struct keel_virtio_transport_ops keel_virtio_mmio_legacy_ops;

#endif
