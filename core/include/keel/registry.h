/* SPDX-License-Identifier: MIT */
/*
 * keel/registry.h - a caller-owned list of block devices (the seeds' DriverManager), so an
 * application can list every disk and find one by name. Static capacity (KEEL_CONFIG_REGISTRY_MAX),
 * no allocation.
 *
 * Thread safety: when `hal` has lock hooks, add/remove/find/at take the registry's lock and may be
 * called from any thread (not from interrupt handlers); without them, the caller serialises.
 * Pointers returned stay valid until that device is removed.
 */
#ifndef KEEL_REGISTRY_H
#define KEEL_REGISTRY_H

#include <keel/blkdev.h>

#ifdef __cplusplus
extern "C" {
#endif

struct keel_registry {
    const struct keel_hal *hal; /* for locking; may be NULL */
    keel_lock_t lock;
    unsigned count;
    struct keel_blkdev *devs[KEEL_CONFIG_REGISTRY_MAX];
};

/** Empty the registry. `hal` may be NULL (no locking). */
void keel_registry_init(struct keel_registry *reg, const struct keel_hal *hal);

/** Add `dev`. KEEL_EEXIST if a device of that name is present, KEEL_ENOSPC when full. */
int keel_registry_add(struct keel_registry *reg, struct keel_blkdev *dev);

/** Remove `dev` (order of the others is kept). KEEL_ENOENT if absent. */
int keel_registry_remove(struct keel_registry *reg, const struct keel_blkdev *dev);

/** Find by exact name; NULL if absent. */
struct keel_blkdev *keel_registry_find(struct keel_registry *reg, const char *name);

/** The i-th device in insertion order, NULL when i >= count: `for (i = 0; (d = at(r, i)); i++)`. */
struct keel_blkdev *keel_registry_at(struct keel_registry *reg, unsigned i);

/** Number of devices. */
unsigned keel_registry_count(struct keel_registry *reg);

#ifdef __cplusplus
}
#endif

#endif
