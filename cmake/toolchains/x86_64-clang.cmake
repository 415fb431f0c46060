# SPDX-License-Identifier: MIT
# x86-64 bare metal (multiboot kernel on QEMU q35) with clang and lld. Flags as in x86_64-gcc.cmake.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER clang)
set(CMAKE_ASM_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET x86_64-unknown-none-elf)
set(CMAKE_ASM_COMPILER_TARGET x86_64-unknown-none-elf)
keel_toolchain_binutils(x86_64-linux-gnu-)
keel_toolchain_flags(-fno-pic -mno-red-zone -mgeneral-regs-only)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -fuse-ld=lld")
# ports/CMakeLists.txt links the QEMU images with -fuse-ld=${KEEL_PORT_LINKER} and picks linker
# options for it: tell it the images use lld too.
set(KEEL_PORT_LINKER lld CACHE STRING "Linker the port images use (-fuse-ld=)")
