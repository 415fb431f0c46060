# SPDX-License-Identifier: MIT
# AArch64 bare metal (QEMU virt) with clang and lld. Flags as in aarch64-gcc.cmake (clang does not
# outline atomics for bare-metal targets).
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER clang)
set(CMAKE_ASM_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET aarch64-none-elf)
set(CMAKE_ASM_COMPILER_TARGET aarch64-none-elf)
keel_toolchain_binutils(aarch64-linux-gnu-)
keel_toolchain_flags(-fno-pic -mgeneral-regs-only -mstrict-align)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -fuse-ld=lld")
# ports/CMakeLists.txt links the QEMU images with -fuse-ld=${KEEL_PORT_LINKER} and picks linker
# options for it: tell it the images use lld too.
set(KEEL_PORT_LINKER lld CACHE STRING "Linker the port images use (-fuse-ld=)")
