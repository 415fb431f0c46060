/* SPDX-License-Identifier: MIT */
/* keel/version.h - release version of the Keel SDK (see CHANGELOG.md). */
#ifndef KEEL_VERSION_H
#define KEEL_VERSION_H

#define KEEL_VERSION_MAJOR 0
#define KEEL_VERSION_MINOR 1
#define KEEL_VERSION_PATCH 0
#define KEEL_VERSION_NUMBER                                                                        \
    ((KEEL_VERSION_MAJOR << 16) | (KEEL_VERSION_MINOR << 8) | KEEL_VERSION_PATCH)
#define KEEL_VERSION_STRING "0.1.0"

#endif
