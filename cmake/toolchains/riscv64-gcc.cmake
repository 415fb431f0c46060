# SPDX-License-Identifier: MIT
# RISC-V 64 (RV64IMAC, LP64 soft-float ABI) with riscv64-unknown-elf-gcc: driver libraries only.
# -mcmodel=medany: code and data may live anywhere within 2 GiB of the PC (RAM at 0x80000000).
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_ASM_COMPILER riscv64-unknown-elf-gcc)
find_program(CMAKE_NM NAMES riscv64-unknown-elf-nm REQUIRED)
keel_toolchain_flags(-march=rv64imac -mabi=lp64 -mcmodel=medany -ffunction-sections -fdata-sections)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static")
