/* SPDX-License-Identifier: MIT */
/*
 * keel/keel_config.h - compile-time options with their defaults.
 *
 * Override any option by defining it on the command line (-DKEEL_CONFIG_...=N) or in your own header
 * named by KEEL_CONFIG_FILE (-DKEEL_CONFIG_FILE='"my_keel_config.h"'). That header must define
 * KEEL_CONFIG_FILE_VERSION to the KEEL_CONFIG_VERSION it was written for; a stale file stops the
 * build, so a new option's meaning can never change silently under an old configuration.
 */
#ifndef KEEL_CONFIG_H
#define KEEL_CONFIG_H

/* Bump when an option changes meaning or a default changes in a way overrides must revisit. */
#define KEEL_CONFIG_VERSION 1

#ifdef KEEL_CONFIG_FILE
#include KEEL_CONFIG_FILE
#ifndef KEEL_CONFIG_FILE_VERSION
#error "KEEL_CONFIG_FILE must define KEEL_CONFIG_FILE_VERSION (see keel/keel_config.h)"
#elif KEEL_CONFIG_FILE_VERSION != KEEL_CONFIG_VERSION
#error "KEEL_CONFIG_FILE was written for another KEEL_CONFIG_VERSION: review it and update"
#endif
#endif

/* Log lines up to this level are compiled in (0 = none, 1 = error ... 4 = debug). */
#ifndef KEEL_CONFIG_LOG_LEVEL
#define KEEL_CONFIG_LOG_LEVEL 2
#endif

/* Longest log line, including the NUL; the line buffer lives on the caller's stack. */
#ifndef KEEL_CONFIG_LOG_LINE_MAX
#define KEEL_CONFIG_LOG_LINE_MAX 128
#endif

/* Block-device name length, including the NUL ("nvme0n1p15"). */
#ifndef KEEL_CONFIG_BLK_NAME_MAX
#define KEEL_CONFIG_BLK_NAME_MAX 16
#endif

/* Queues per block device for which the block layer keeps statistics. */
#ifndef KEEL_CONFIG_BLK_MAX_QUEUES
#define KEEL_CONFIG_BLK_MAX_QUEUES 8
#endif

/* Latency histogram buckets: bucket i counts latencies in [2^(i-1), 2^i) us; the last is open. */
#ifndef KEEL_CONFIG_BLK_LAT_BUCKETS
#define KEEL_CONFIG_BLK_LAT_BUCKETS 24
#endif

/* Words of driver-private state inside each struct keel_blk_req. */
#ifndef KEEL_CONFIG_BLK_REQ_PRIV_WORDS
#define KEEL_CONFIG_BLK_REQ_PRIV_WORDS 4
#endif

/* Default per-request timeout when a request gives 0, in microseconds. */
#ifndef KEEL_CONFIG_BLK_DEFAULT_TIMEOUT_US
#define KEEL_CONFIG_BLK_DEFAULT_TIMEOUT_US 30000000u
#endif

/* Block devices one registry can hold. */
#ifndef KEEL_CONFIG_REGISTRY_MAX
#define KEEL_CONFIG_REGISTRY_MAX 32
#endif

/*
 * Extra time a blocking helper waits past a request's timeout for the driver's own escalation
 * (poll, abort, reset) to complete it, before it calls the driver's recover hook.
 */
#ifndef KEEL_CONFIG_BLK_RECOVERY_GRACE_US
#define KEEL_CONFIG_BLK_RECOVERY_GRACE_US 10000000u
#endif

/* Partitions kept per disk (MBR primaries + logicals, or GPT entries in use). */
#ifndef KEEL_CONFIG_PART_MAX
#define KEEL_CONFIG_PART_MAX 16
#endif

/* Longest EBR chain followed in an MBR extended partition (bounds hostile loops). */
#ifndef KEEL_CONFIG_PART_MAX_LOGICAL
#define KEEL_CONFIG_PART_MAX_LOGICAL 64
#endif

/* Most DMA segments one mapped buffer may use; larger needs split the request. */
#ifndef KEEL_CONFIG_DMA_MAX_SEGS
#define KEEL_CONFIG_DMA_MAX_SEGS 33
#endif

/* PCI: how many capabilities a walk follows before calling the list corrupt. */
#ifndef KEEL_CONFIG_PCI_MAX_CAPS
#define KEEL_CONFIG_PCI_MAX_CAPS 48
#endif

#endif
