/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi and the finished-list race (test point KEEL_TP_VSCSI_FIN_POP): the scenarios are in
 * test/virtio/drain_race.c (see drain_race.h); this file gives them the virtio-scsi fixture and
 * its first disk (target 0, LUN 0, 512-byte blocks).
 */
#include <stdlib.h>

#include "drain_race.h"
#include "vst.h"

#define SECTOR 512u

static void *scsi_start(enum vmodel_transport t, bool packed)
{
    struct vst_params p = {t, packed, true, SIM_MAP_TRANSLATE, 0, 0};
    struct vst *v = calloc(1, sizeof(*v));

    assert_non_null(v);
    vst_init(v, &p, true);
    assert_int_equal(vst_start(v), KEEL_OK);
    assert_int_equal(vst_disk(v, 0, 0)->info.sector_size, SECTOR);
    return v;
}

static struct keel_blkdev *scsi_disk(void *fx)
{
    return vst_disk(fx, 0, 0);
}

static struct vmodel *scsi_model(void *fx)
{
    return ((struct vst *)fx)->m;
}

static struct sim *scsi_sim(void *fx)
{
    return ((struct vst *)fx)->s;
}

static int scsi_recover(void *fx)
{
    return keel_vscsi_recover(((struct vst *)fx)->vs);
}

static bool scsi_media_equals(void *fx, uint64_t off, const void *buf, size_t len)
{
    return vst_media_equals(fx, 0, 0, off, buf, len);
}

static uint64_t scsi_timeouts(void *fx)
{
    return ((struct vst *)fx)->vs->stats.timeouts;
}

static void scsi_finish(void *fx)
{
    vst_finish(fx);
    free(fx);
}

int main(void)
{
    static const struct race_ops ops = {
        "vscsi_drain_race",
        KEEL_TP_VSCSI_FIN_POP,
        KEEL_VIRTIO_SCSI_Q_REQUEST,
        SECTOR,
        scsi_start,
        scsi_disk,
        scsi_model,
        scsi_sim,
        scsi_recover,
        scsi_media_equals,
        scsi_timeouts,
        scsi_finish,
    };
    return drain_race_run(&ops);
}
