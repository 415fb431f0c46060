/* SPDX-License-Identifier: MIT */
#include <keel/error.h>
#include <keel/registry.h>
#include <keel/str.h>

static uintptr_t reg_lock(struct keel_registry *reg)
{
    return reg->hal ? keel_lock(reg->hal, &reg->lock) : 0u;
}

static void reg_unlock(struct keel_registry *reg, uintptr_t s)
{
    if (reg->hal)
        keel_unlock(reg->hal, &reg->lock, s);
}

void keel_registry_init(struct keel_registry *reg, const struct keel_hal *hal)
{
    keel_memset(reg, 0, sizeof(*reg));
    reg->hal = hal;
}

static int find_index(const struct keel_registry *reg, const char *name)
{
    unsigned i;
    for (i = 0; i < reg->count; i++)
        if (keel_streq(reg->devs[i]->info.name, name))
            return (int)i;
    return -1;
}

int keel_registry_add(struct keel_registry *reg, struct keel_blkdev *dev)
{
    uintptr_t s;
    int rc = KEEL_OK;

    if (reg == NULL || dev == NULL || dev->info.name[0] == '\0')
        return KEEL_EINVAL;
    s = reg_lock(reg);
    if (find_index(reg, dev->info.name) >= 0)
        rc = KEEL_EEXIST;
    else if (reg->count >= KEEL_CONFIG_REGISTRY_MAX)
        rc = KEEL_ENOSPC;
    else
        reg->devs[reg->count++] = dev;
    reg_unlock(reg, s);
    return rc;
}

int keel_registry_remove(struct keel_registry *reg, const struct keel_blkdev *dev)
{
    uintptr_t s;
    unsigned i;
    int rc = KEEL_ENOENT;

    if (reg == NULL || dev == NULL)
        return KEEL_EINVAL;
    s = reg_lock(reg);
    for (i = 0; i < reg->count; i++) {
        if (reg->devs[i] != dev)
            continue;
        for (; i + 1u < reg->count; i++)
            reg->devs[i] = reg->devs[i + 1u];
        reg->devs[--reg->count] = NULL;
        rc = KEEL_OK;
        break;
    }
    reg_unlock(reg, s);
    return rc;
}

struct keel_blkdev *keel_registry_find(struct keel_registry *reg, const char *name)
{
    struct keel_blkdev *d = NULL;
    uintptr_t s;
    int i;

    if (reg == NULL || name == NULL)
        return NULL;
    s = reg_lock(reg);
    i = find_index(reg, name);
    if (i >= 0)
        d = reg->devs[i];
    reg_unlock(reg, s);
    return d;
}

struct keel_blkdev *keel_registry_at(struct keel_registry *reg, unsigned i)
{
    struct keel_blkdev *d = NULL;
    uintptr_t s;

    if (reg == NULL)
        return NULL;
    s = reg_lock(reg);
    if (i < reg->count)
        d = reg->devs[i];
    reg_unlock(reg, s);
    return d;
}

unsigned keel_registry_count(struct keel_registry *reg)
{
    return reg ? reg->count : 0u;
}
