# SPDX-License-Identifier: MIT
# AArch64 bare metal (QEMU virt) with Debian's aarch64-linux-gnu-gcc used freestanding.
#
# -mgeneral-regs-only: no FP/SIMD registers (exception handlers do not save them).
# -mstrict-align: device memory and the MMU-off boot path fault on unaligned accesses.
# -mno-outline-atomics: otherwise atomics call __aarch64_* helpers from libgcc.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
find_program(CMAKE_NM NAMES aarch64-linux-gnu-nm REQUIRED)
keel_toolchain_flags(-fno-pic -fno-pie -mgeneral-regs-only -mstrict-align -mno-outline-atomics)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie")
