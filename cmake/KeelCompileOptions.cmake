# SPDX-License-Identifier: MIT
# Warning and code-generation flags shared by Keel's libraries.

# Strict warnings for the driver libraries (core, nvme, virtio): gcc and clang alike.
set(KEEL_DRIVER_WARNINGS
    -Wall -Wextra -Werror -Wshadow -Wconversion -Wsign-conversion -Wstrict-prototypes
    -Wmissing-prototypes -Wcast-align -Wpointer-arith -Wundef -Wvla -Wformat=2
    -Wmissing-declarations -Wredundant-decls -Wnested-externs)

# Flags that keep the libraries freestanding and portable (no hidden libc or FP use).
set(KEEL_DRIVER_CODEGEN -fno-common -fno-strict-aliasing)
if(KEEL_FREESTANDING)
  list(APPEND KEEL_DRIVER_CODEGEN -ffreestanding -fno-builtin-printf -fno-stack-protector)
endif()

if(KEEL_SANITIZE)
  set(KEEL_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                          -fno-omit-frame-pointer)
  add_compile_options(${KEEL_SANITIZE_FLAGS})
  add_link_options(${KEEL_SANITIZE_FLAGS})
endif()

# keel_driver_library(<target> <sources...>): a static driver library with the strict flags.
function(keel_driver_library target)
  add_library(${target} STATIC ${ARGN})
  target_compile_options(${target} PRIVATE ${KEEL_DRIVER_WARNINGS} ${KEEL_DRIVER_CODEGEN})
endfunction()
