# SPDX-License-Identifier: MIT
# RISC-V 64 (RV64IMAC, LP64) with clang: driver libraries only. Flags as in riscv64-gcc.cmake.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_C_COMPILER clang)
set(CMAKE_ASM_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET riscv64-unknown-elf)
set(CMAKE_ASM_COMPILER_TARGET riscv64-unknown-elf)
keel_toolchain_binutils(riscv64-unknown-elf-)
keel_toolchain_flags(-march=rv64imac -mabi=lp64 -mcmodel=medany -ffunction-sections -fdata-sections)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -fuse-ld=lld")
