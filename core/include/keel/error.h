/* SPDX-License-Identifier: MIT */
/* keel/error.h - Keel's error codes: 0 is success, every failure is a negative KEEL_E* value. */
#ifndef KEEL_ERROR_H
#define KEEL_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum keel_err {
    KEEL_OK = 0,
    KEEL_EINVAL = -1,     /* an argument is invalid */
    KEEL_ENOMEM = -2,     /* out of DMA memory or caller-provided storage */
    KEEL_ENOSPC = -3,     /* no free slot: queue full (back-pressure, try again after a poll) */
    KEEL_ETIMEDOUT = -4,  /* a bounded wait expired */
    KEEL_EIO = -5,        /* the device reported an error for this request */
    KEEL_ENODEV = -6,     /* no such device, or the device is gone (all-ones reads) */
    KEEL_ENOTSUP = -7,    /* the device or driver does not offer this operation */
    KEEL_EROFS = -8,      /* write to a read-only device or partition */
    KEEL_ERANGE = -9,     /* LBA range beyond the end of the device, or overflowing */
    KEEL_EPROTO = -10,    /* the device broke the protocol (bad id, length, state) */
    KEEL_EBUSY = -11,     /* resource in use; the state does not allow the call now */
    KEEL_EAGAIN = -12,    /* not finished yet: call again (state machines) */
    KEEL_ENOENT = -13,    /* not found */
    KEEL_EHAL = -14,      /* the HAL does not meet the contract (version, missing hook) */
    KEEL_ECANCELED = -15, /* request failed by a reset, removal or shutdown before completing */
    KEEL_ENOMEDIUM = -16, /* removable device without a medium */
    KEEL_EBADMSG = -17,   /* on-disk or device data is corrupt (bad CRC, bad signature) */
    KEEL_EEXIST = -18,    /* already present (registry name clash) */
    KEEL_EFAULT = -19,    /* a buffer cannot be used for DMA as given (alignment, mapping) */
};

/** Number of error codes, for table-driven tests: codes run from 0 down to -(KEEL_ERR_COUNT - 1).
 */
#define KEEL_ERR_COUNT 20

/**
 * Name of an error code, e.g. "KEEL_ETIMEDOUT"; "KEEL_E?" for unknown values.
 * Thread safety: pure; any context.
 */
const char *keel_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
