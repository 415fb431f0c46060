/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk and the finished-list race (test point KEEL_TP_VBLK_FIN_POP): the scenarios are in
 * drain_race.c (see drain_race.h); this file gives them the virtio-blk fixture.
 */
#include <stdlib.h>

#include "drain_race.h"
#include "vtest.h"

static void *blk_start(enum vmodel_transport t, bool packed)
{
    struct vt_params p = {t, packed, true, SIM_MAP_TRANSLATE};
    struct vt *v = calloc(1, sizeof(*v));

    assert_non_null(v);
    vt_init(v, &p);
    assert_int_equal(vt_start(v), KEEL_OK);
    return v;
}

static struct keel_blkdev *blk_disk(void *fx)
{
    return &((struct vt *)fx)->vb->blk;
}

static struct vmodel *blk_model(void *fx)
{
    return ((struct vt *)fx)->m;
}

static struct sim *blk_sim(void *fx)
{
    return ((struct vt *)fx)->s;
}

static int blk_recover(void *fx)
{
    return keel_vblk_recover(((struct vt *)fx)->vb);
}

static bool blk_media_equals(void *fx, uint64_t off, const void *buf, size_t len)
{
    return vt_media_equals(fx, off, buf, len);
}

static uint64_t blk_timeouts(void *fx)
{
    return ((struct vt *)fx)->vb->stats.timeouts;
}

static void blk_finish(void *fx)
{
    vt_finish(fx);
    free(fx);
}

int main(void)
{
    static const struct race_ops ops = {
        "vblk_drain_race",
        KEEL_TP_VBLK_FIN_POP,
        0,
        512,
        blk_start,
        blk_disk,
        blk_model,
        blk_sim,
        blk_recover,
        blk_media_equals,
        blk_timeouts,
        blk_finish,
    };
    return drain_race_run(&ops);
}
