# SPDX-License-Identifier: MIT
# keel::virtio_scsi - the virtio-scsi driver (control, event and request queues, LUN discovery,
# sense handling, task management, hot-plug) on top of keel::virtio and the SCSI helpers of
# keel::core. Included from virtio/CMakeLists.txt.
set(KEEL_VIRTIO_SCSI_SOURCES
  src/scsi.c
  src/scsi_cmd.c
  src/scsi_discover.c
  src/scsi_events.c
  src/scsi_io.c
  src/scsi_lun.c
  src/scsi_reset.c
  src/scsi_resp.c
  src/scsi_tmf.c)
list(TRANSFORM KEEL_VIRTIO_SCSI_SOURCES PREPEND ${CMAKE_CURRENT_LIST_DIR}/)
set(KEEL_VIRTIO_SCSI_SOURCES ${KEEL_VIRTIO_SCSI_SOURCES}
    CACHE INTERNAL "virtio-scsi sources (freestanding checks)")

keel_driver_library(keel_virtio_scsi ${KEEL_VIRTIO_SCSI_SOURCES})
add_library(keel::virtio_scsi ALIAS keel_virtio_scsi)
target_include_directories(keel_virtio_scsi PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_LIST_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(keel_virtio_scsi PUBLIC keel_virtio keel_core)
set_target_properties(keel_virtio_scsi PROPERTIES EXPORT_NAME virtio_scsi OUTPUT_NAME keel_virtio_scsi)
set_property(GLOBAL APPEND PROPERTY KEEL_EXPORT_TARGETS keel_virtio_scsi)
