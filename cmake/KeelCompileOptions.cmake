# SPDX-License-Identifier: MIT
# Warning and code-generation flags shared by Keel's libraries.

# Strict warnings for the driver libraries (core, nvme, virtio): gcc and clang alike.
set(KEEL_DRIVER_WARNINGS
    -Wall -Wextra -Werror -Wshadow -Wconversion -Wsign-conversion -Wstrict-prototypes
    -Wmissing-prototypes -Wcast-align -Wpointer-arith -Wundef -Wvla -Wformat=2
    -Wmissing-declarations -Wredundant-decls -Wnested-externs)

# Flags that keep the libraries freestanding and portable (no hidden libc or FP use).
# KEEL_FREESTANDING_CODEGEN is also used by test/freestanding for the freestanding variants of the
# libraries that the host presets check.
set(KEEL_DRIVER_CODEGEN -fno-common -fno-strict-aliasing)
set(KEEL_FREESTANDING_CODEGEN -ffreestanding -fno-builtin-printf -fno-stack-protector)
if(KEEL_FREESTANDING)
  list(APPEND KEEL_DRIVER_CODEGEN ${KEEL_FREESTANDING_CODEGEN})
endif()

if(KEEL_SANITIZE)
  set(KEEL_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                          -fno-omit-frame-pointer)
  add_compile_options(${KEEL_SANITIZE_FLAGS})
  add_link_options(${KEEL_SANITIZE_FLAGS})
endif()

# keel_driver_library(<target> <sources...>): a static driver library with the strict flags.
#
# It also registers the target in two global properties:
#   KEEL_DRIVER_LIBRARIES - every source of these libraries goes through the freestanding checks
#                           (poisoned libc headers, nm -u import list) in test/freestanding.
#   KEEL_EXPORT_TARGETS   - cmake/KeelInstall.cmake installs these and exports them as keel::<name>
#                           (set EXPORT_NAME, e.g. keel_nvme -> EXPORT_NAME nvme -> keel::nvme).
# A target made without this function (e.g. the INTERFACE library keel_hal) registers itself with
#   set_property(GLOBAL APPEND PROPERTY KEEL_EXPORT_TARGETS <target>)
# Public headers are installed from <component>/include of each exported target's source dir.
function(keel_driver_library target)
  add_library(${target} STATIC ${ARGN})
  target_compile_options(${target} PRIVATE ${KEEL_DRIVER_WARNINGS} ${KEEL_DRIVER_CODEGEN})
  set_property(GLOBAL APPEND PROPERTY KEEL_DRIVER_LIBRARIES ${target})
  set_property(GLOBAL APPEND PROPERTY KEEL_EXPORT_TARGETS ${target})
endfunction()
