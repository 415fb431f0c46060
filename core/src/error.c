/* SPDX-License-Identifier: MIT */
#include <keel/error.h>

static const char *const err_names[KEEL_ERR_COUNT] = {
    "KEEL_OK",        "KEEL_EINVAL",    "KEEL_ENOMEM",  "KEEL_ENOSPC", "KEEL_ETIMEDOUT",
    "KEEL_EIO",       "KEEL_ENODEV",    "KEEL_ENOTSUP", "KEEL_EROFS",  "KEEL_ERANGE",
    "KEEL_EPROTO",    "KEEL_EBUSY",     "KEEL_EAGAIN",  "KEEL_ENOENT", "KEEL_EHAL",
    "KEEL_ECANCELED", "KEEL_ENOMEDIUM", "KEEL_EBADMSG", "KEEL_EEXIST", "KEEL_EFAULT",
};

const char *keel_strerror(int err)
{
    if (err > 0 || err <= -KEEL_ERR_COUNT)
        return "KEEL_E?";
    return err_names[-err];
}
