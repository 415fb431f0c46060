/* SPDX-License-Identifier: MIT */
/*
 * keel/keel_config.h - compile-time options with their defaults.
 *
 * Override any option by defining it on the command line (-DKEEL_CONFIG_...=N) or in your own
 * header named by KEEL_CONFIG_FILE (-DKEEL_CONFIG_FILE='"my_keel_config.h"'). That header must
 * define KEEL_CONFIG_FILE_VERSION to the KEEL_CONFIG_VERSION it was written for; a stale file stops
 * the build, so a new option's meaning can never change silently under an old configuration.
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

/*
 * Largest GPT partition entry array read (num_entries x entry_size, in bytes); a header asking for
 * more is treated as corrupt. Bounds the reads a hostile header can cause. 1 MiB = 8192 entries.
 */
#ifndef KEEL_CONFIG_PART_GPT_MAX_ARRAY_BYTES
#define KEEL_CONFIG_PART_GPT_MAX_ARRAY_BYTES (1u << 20)
#endif

/* Most DMA segments one mapped buffer may use; larger needs split the request. */
#ifndef KEEL_CONFIG_DMA_MAX_SEGS
#define KEEL_CONFIG_DMA_MAX_SEGS 33
#endif

/* PCI: how many capabilities a walk follows before calling the list corrupt. */
#ifndef KEEL_CONFIG_PCI_MAX_CAPS
#define KEEL_CONFIG_PCI_MAX_CAPS 48
#endif

/* ---- virtio (virtio/: transports, virtqueues, virtio-blk) ------------------------------------ */

/* Virtqueues one virtio device may use (virtio-blk: request queues; virtio-scsi: 2 + requests). */
#ifndef KEEL_CONFIG_VIRTIO_MAX_QUEUES
#define KEEL_CONFIG_VIRTIO_MAX_QUEUES 10
#endif

/*
 * Largest virtqueue size used (entries). A device offering more is clamped to this; the private
 * per-descriptor shadow of every queue is sized by it. Must be a power of two, 2..32768.
 */
#ifndef KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX
#define KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX 256
#endif

/* Most buffers (descriptors) in one chain a device driver may add, header and status included. */
#ifndef KEEL_CONFIG_VIRTIO_MAX_SEGS
#define KEEL_CONFIG_VIRTIO_MAX_SEGS 64
#endif

/* Indirect descriptor tables preallocated per queue (0: never use VIRTIO_F_INDIRECT_DESC). */
#ifndef KEEL_CONFIG_VIRTIO_INDIRECT_POOL
#define KEEL_CONFIG_VIRTIO_INDIRECT_POOL 32
#endif

/* Bound on the wait for a device reset (status reads 0) and for a queue reset, microseconds. */
#ifndef KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US
#define KEEL_CONFIG_VIRTIO_RESET_TIMEOUT_US 1000000u
#endif

/*
 * After a per-queue reset shows the queue disabled, how long a queue_reset still reading 1 may take
 * to clear (VIRTIO 1.3 polarity) before the device is taken to use the VIRTIO 1.2 one, us.
 */
#ifndef KEEL_CONFIG_VIRTIO_QRESET_SETTLE_US
#define KEEL_CONFIG_VIRTIO_QRESET_SETTLE_US 1000u
#endif

/* Attempts at a consistent configuration read (generation loop) before KEEL_EAGAIN. */
#ifndef KEEL_CONFIG_VIRTIO_CONFIG_RETRIES
#define KEEL_CONFIG_VIRTIO_CONFIG_RETRIES 16
#endif

/* Polled mode: how often a queue poll also looks at device status and config generation, us. */
#ifndef KEEL_CONFIG_VIRTIO_STATUS_POLL_US
#define KEEL_CONFIG_VIRTIO_STATUS_POLL_US 100000u
#endif

/* virtio-blk: request queues per device (at most KEEL_CONFIG_BLK_MAX_QUEUES). */
#ifndef KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES
#define KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES 4
#endif

/* virtio-blk: virtio requests in flight per queue (header/status slots in DMA memory). */
#ifndef KEEL_CONFIG_VIRTIO_BLK_SLOTS
#define KEEL_CONFIG_VIRTIO_BLK_SLOTS 64
#endif

/*
 * virtio: most buffers a submission batch (keel_blk_plug / keel_vq_plug) holds back before it is
 * published and notified anyway: the bound for a batch the caller leaves open.
 */
#ifndef KEEL_CONFIG_VIRTIO_PLUG_MAX
#define KEEL_CONFIG_VIRTIO_PLUG_MAX 32u
#endif

/* virtio-blk: resubmissions of a request after a device reset before it fails with KEEL_EIO. */
#ifndef KEEL_CONFIG_VIRTIO_BLK_RETRIES
#define KEEL_CONFIG_VIRTIO_BLK_RETRIES 2
#endif

#if (KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX & (KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX - 1)) != 0 ||          \
    KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX < 2 || KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX > 32768
#error "KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX must be a power of two in 2..32768"
#endif
#if KEEL_CONFIG_VIRTIO_MAX_SEGS < 3 ||                                                             \
    KEEL_CONFIG_VIRTIO_MAX_SEGS > KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX
#error "KEEL_CONFIG_VIRTIO_MAX_SEGS must be in 3..KEEL_CONFIG_VIRTIO_QUEUE_SIZE_MAX"
#endif
#if KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES < 1 ||                                                       \
    KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES > KEEL_CONFIG_BLK_MAX_QUEUES
#error "KEEL_CONFIG_VIRTIO_BLK_MAX_QUEUES must be in 1..KEEL_CONFIG_BLK_MAX_QUEUES"
#endif
/* ---- end of virtio --------------------------------------------------------------------------- */

/* ---- virtio-scsi (virtio/src/scsi*.c) -------------------------------------------------------- */

/* virtio-scsi: request virtqueues used per adapter (each one owner; also <= BLK_MAX_QUEUES). */
#ifndef KEEL_CONFIG_VSCSI_MAX_QUEUES
#define KEEL_CONFIG_VSCSI_MAX_QUEUES 4
#endif

/* virtio-scsi: commands in flight per request queue (header/response slots in DMA memory). */
#ifndef KEEL_CONFIG_VSCSI_SLOTS
#define KEEL_CONFIG_VSCSI_SLOTS 32
#endif

/* virtio-scsi: LUNs in the table built into struct keel_vscsi (opts may supply a larger one). */
#ifndef KEEL_CONFIG_VSCSI_MAX_LUNS
#define KEEL_CONFIG_VSCSI_MAX_LUNS 16
#endif

/* virtio-scsi: highest target number scanned (the device's max_target bounds it further). */
#ifndef KEEL_CONFIG_VSCSI_MAX_TARGET
#define KEEL_CONFIG_VSCSI_MAX_TARGET 255
#endif

/* virtio-scsi: LUNs 0..N-1 probed one by one on a target that does not support REPORT LUNS. */
#ifndef KEEL_CONFIG_VSCSI_SEQ_SCAN_LUNS
#define KEEL_CONFIG_VSCSI_SEQ_SCAN_LUNS 8
#endif

/* virtio-scsi: first REPORT LUNS allocation length in bytes; grown to the list's size when cut. */
#ifndef KEEL_CONFIG_VSCSI_REPORT_LUNS_FIRST
#define KEEL_CONFIG_VSCSI_REPORT_LUNS_FIRST 256
#endif

/* virtio-scsi: discovery DMA buffer (bounds REPORT LUNS: (bytes - 8) / 8 LUNs per target). */
#ifndef KEEL_CONFIG_VSCSI_DISC_BUF_BYTES
#define KEEL_CONFIG_VSCSI_DISC_BUF_BYTES 8192
#endif

/* virtio-scsi: resends of a command after a retriable status, sense or response. */
#ifndef KEEL_CONFIG_VSCSI_RETRIES
#define KEEL_CONFIG_VSCSI_RETRIES 5
#endif

/* virtio-scsi: pause before resending after BUSY / TASK SET FULL / a busy transport, us. */
#ifndef KEEL_CONFIG_VSCSI_RETRY_DELAY_US
#define KEEL_CONFIG_VSCSI_RETRY_DELAY_US 1000u
#endif

/* virtio-scsi: how long a LUN reporting "becoming ready" is waited for, us. */
#ifndef KEEL_CONFIG_VSCSI_READY_TIMEOUT_US
#define KEEL_CONFIG_VSCSI_READY_TIMEOUT_US 10000000u
#endif

/* virtio-scsi: spacing of TEST UNIT READY polls while waiting for a LUN to become ready, us. */
#ifndef KEEL_CONFIG_VSCSI_READY_POLL_US
#define KEEL_CONFIG_VSCSI_READY_POLL_US 100000u
#endif

/* virtio-scsi: timeout of one discovery / internal command, us. */
#ifndef KEEL_CONFIG_VSCSI_CMD_TIMEOUT_US
#define KEEL_CONFIG_VSCSI_CMD_TIMEOUT_US 5000000u
#endif

/* virtio-scsi: timeout of one task management function on the control queue, us. */
#ifndef KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US
#define KEEL_CONFIG_VSCSI_TMF_TIMEOUT_US 2000000u
#endif

/* virtio-scsi: control queue requests that may be outstanding (a timed-out one stays taken). */
#ifndef KEEL_CONFIG_VSCSI_CTRL_SLOTS
#define KEEL_CONFIG_VSCSI_CTRL_SLOTS 4
#endif

/* virtio-scsi: event buffers kept posted on the event queue (the spec suggests 10-15 suffice). */
#ifndef KEEL_CONFIG_VSCSI_EVENT_BUFS
#define KEEL_CONFIG_VSCSI_EVENT_BUFS 8
#endif

/* virtio-scsi: largest event buffer (event_info_size is honoured up to this many bytes). */
#ifndef KEEL_CONFIG_VSCSI_EVENT_BUF_MAX
#define KEEL_CONFIG_VSCSI_EVENT_BUF_MAX 64
#endif

/* virtio-scsi: sense_size and cdb_size written to the device (defaults of the spec: 96, 32). */
#ifndef KEEL_CONFIG_VSCSI_SENSE_SIZE
#define KEEL_CONFIG_VSCSI_SENSE_SIZE 96
#endif
#ifndef KEEL_CONFIG_VSCSI_CDB_SIZE
#define KEEL_CONFIG_VSCSI_CDB_SIZE 32
#endif

/* virtio-scsi: block descriptors per UNMAP command (parameter list kept in each slot). */
#ifndef KEEL_CONFIG_VSCSI_UNMAP_DESC
#define KEEL_CONFIG_VSCSI_UNMAP_DESC 8
#endif

/* virtio-scsi: unit serial number kept per LUN (VPD 80h), bytes including the NUL. */
#ifndef KEEL_CONFIG_VSCSI_SERIAL_MAX
#define KEEL_CONFIG_VSCSI_SERIAL_MAX 41
#endif

#if KEEL_CONFIG_VSCSI_MAX_QUEUES < 1 ||                                                            \
    KEEL_CONFIG_VSCSI_MAX_QUEUES > KEEL_CONFIG_BLK_MAX_QUEUES ||                                   \
    KEEL_CONFIG_VSCSI_MAX_QUEUES + 2 > KEEL_CONFIG_VIRTIO_MAX_QUEUES
#error "KEEL_CONFIG_VSCSI_MAX_QUEUES must be in 1..min(BLK_MAX_QUEUES, VIRTIO_MAX_QUEUES - 2)"
#endif
#if KEEL_CONFIG_VSCSI_SLOTS < 2 || KEEL_CONFIG_VSCSI_SLOTS > 4096
#error "KEEL_CONFIG_VSCSI_SLOTS must be in 2..4096"
#endif
#if KEEL_CONFIG_VSCSI_SENSE_SIZE < 18 || KEEL_CONFIG_VSCSI_SENSE_SIZE > 252
#error "KEEL_CONFIG_VSCSI_SENSE_SIZE must be in 18..252"
#endif
#if KEEL_CONFIG_VSCSI_CDB_SIZE < 16 || KEEL_CONFIG_VSCSI_CDB_SIZE > 255
#error "KEEL_CONFIG_VSCSI_CDB_SIZE must be in 16..255"
#endif
#if KEEL_CONFIG_VSCSI_DISC_BUF_BYTES < 512 || KEEL_CONFIG_VSCSI_REPORT_LUNS_FIRST < 16 ||          \
    KEEL_CONFIG_VSCSI_REPORT_LUNS_FIRST > KEEL_CONFIG_VSCSI_DISC_BUF_BYTES
#error "virtio-scsi: need 16 <= REPORT_LUNS_FIRST <= DISC_BUF_BYTES and DISC_BUF_BYTES >= 512"
#endif
#if KEEL_CONFIG_VSCSI_EVENT_BUFS < 1 || KEEL_CONFIG_VSCSI_EVENT_BUF_MAX < 16 ||                    \
    KEEL_CONFIG_VSCSI_CTRL_SLOTS < 1 || KEEL_CONFIG_VSCSI_UNMAP_DESC < 1 ||                        \
    KEEL_CONFIG_VSCSI_MAX_TARGET > 255 || KEEL_CONFIG_VSCSI_SERIAL_MAX < 2
#error "virtio-scsi: an event, control, UNMAP, target or serial option is out of range"
#endif
/* ---- end of virtio-scsi ---------------------------------------------------------------------- */

/* ================================================================================================
 * NVMe driver (nvme/). Sizes of struct keel_nvme_ctrl and of the DMA memory taken at attach.
 * ============================================================================================== */

/* I/O queue pairs per controller (also bounded by KEEL_CONFIG_BLK_MAX_QUEUES and the grant). */
#ifndef KEEL_CONFIG_NVME_MAX_IO_QUEUES
#define KEEL_CONFIG_NVME_MAX_IO_QUEUES 4
#endif

/* Entries per I/O queue (SQ and CQ); one stays empty, so depth - 1 commands in flight. */
/* NVMe: most commands an open submission batch (keel_blk_plug / keel_nvme_batch_begin) holds
 * back before the SQ tail doorbell rings anyway (a full SQ and a poll of the queue ring too). */
#ifndef KEEL_CONFIG_NVME_PLUG_MAX
#define KEEL_CONFIG_NVME_PLUG_MAX 32u
#endif

#ifndef KEEL_CONFIG_NVME_IO_QUEUE_DEPTH
#define KEEL_CONFIG_NVME_IO_QUEUE_DEPTH 64
#endif

/* Entries of the admin queue pair. */
#ifndef KEEL_CONFIG_NVME_ADMIN_QUEUE_DEPTH
#define KEEL_CONFIG_NVME_ADMIN_QUEUE_DEPTH 16
#endif

/* Namespaces kept per controller (the first ones found). */
#ifndef KEEL_CONFIG_NVME_MAX_NAMESPACES
#define KEEL_CONFIG_NVME_MAX_NAMESPACES 4
#endif

/* Namespace IDs probed one by one when the Active Namespace List is unsupported (bounds NN). */
#ifndef KEEL_CONFIG_NVME_NS_SCAN_MAX
#define KEEL_CONFIG_NVME_NS_SCAN_MAX 64
#endif

/* PRP list pages per I/O queue (shared by its commands) and for the admin queue. */
#ifndef KEEL_CONFIG_NVME_PRP_POOL_PAGES
#define KEEL_CONFIG_NVME_PRP_POOL_PAGES 8
#endif
#ifndef KEEL_CONFIG_NVME_ADMIN_PRP_POOL_PAGES
#define KEEL_CONFIG_NVME_ADMIN_PRP_POOL_PAGES 1
#endif

/* PRP list pages one command may chain (list pages hold page/8 - 1 entries plus the chain). */
#ifndef KEEL_CONFIG_NVME_PRP_PAGES_PER_CMD
#define KEEL_CONFIG_NVME_PRP_PAGES_PER_CMD 2
#endif

/* Memory pages one command may carry (with MDTS, bounds a child command; sizes the map scratch). */
#ifndef KEEL_CONFIG_NVME_MAX_CMD_PAGES
#define KEEL_CONFIG_NVME_MAX_CMD_PAGES 128
#endif

/* Largest block request accepted (info.max_transfer); split into commands below it. */
#ifndef KEEL_CONFIG_NVME_MAX_TRANSFER_BYTES
#define KEEL_CONFIG_NVME_MAX_TRANSFER_BYTES (2u * 1024u * 1024u)
#endif

/* Bounce buffer per I/O queue for buffers that break PRP rules; 0: refuse them (KEEL_EFAULT). */
#ifndef KEEL_CONFIG_NVME_BOUNCE_BYTES
#define KEEL_CONFIG_NVME_BOUNCE_BYTES 8192u
#endif

/* Resubmissions of a command failing with a retriable status (DNR clear). */
#ifndef KEEL_CONFIG_NVME_MAX_RETRIES
#define KEEL_CONFIG_NVME_MAX_RETRIES 3
#endif

/* Admin command timeout (also how long an Abort may take before a reset), microseconds. */
#ifndef KEEL_CONFIG_NVME_ADMIN_TIMEOUT_US
#define KEEL_CONFIG_NVME_ADMIN_TIMEOUT_US 10000000u
#endif

/* Floor of the CSTS.RDY wait when CAP.TO is 0 or tiny, microseconds (CAP.TO is 500 ms units). */
#ifndef KEEL_CONFIG_NVME_READY_TIMEOUT_MIN_US
#define KEEL_CONFIG_NVME_READY_TIMEOUT_MIN_US 500000u
#endif

/* Shutdown wait: RTD3E clamped to [MIN, MAX], microseconds. */
#ifndef KEEL_CONFIG_NVME_SHUTDOWN_MIN_US
#define KEEL_CONFIG_NVME_SHUTDOWN_MIN_US 5000000u
#endif
#ifndef KEEL_CONFIG_NVME_SHUTDOWN_MAX_US
#define KEEL_CONFIG_NVME_SHUTDOWN_MAX_US 60000000u
#endif

/* Delay between polls in blocking waits (attach, admin commands, detach), microseconds. */
#ifndef KEEL_CONFIG_NVME_POLL_INTERVAL_US
#define KEEL_CONFIG_NVME_POLL_INTERVAL_US 100u
#endif

/* Asynchronous Event Requests kept outstanding (also bounded by AERL + 1). */
#ifndef KEEL_CONFIG_NVME_AER_MAX
#define KEEL_CONFIG_NVME_AER_MAX 1
#endif

/* Events queued for the integrator's callback between keel_nvme_service() calls. */
#ifndef KEEL_CONFIG_NVME_EVENT_QUEUE
#define KEEL_CONFIG_NVME_EVENT_QUEUE 8
#endif

/* Power state descriptors kept (NPSS + 1, at most 32). */
#ifndef KEEL_CONFIG_NVME_MAX_POWER_STATES
#define KEEL_CONFIG_NVME_MAX_POWER_STATES 32
#endif

/* Largest LBA data size accepted, log2 (16: 64 KiB blocks). */
#ifndef KEEL_CONFIG_NVME_MAX_LBA_SHIFT
#define KEEL_CONFIG_NVME_MAX_LBA_SHIFT 16
#endif

#endif
