# SPDX-License-Identifier: MIT
# ARMv7-M (Cortex-M3, Thumb-2, soft float) with arm-none-eabi-gcc: driver libraries only. This is
# the 32-bit target that proves the drivers need no 64-bit division helpers (__aeabi_uldivmod).
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
find_program(CMAKE_NM NAMES arm-none-eabi-nm REQUIRED)
keel_toolchain_flags(-mcpu=cortex-m3 -mthumb -mfloat-abi=soft -ffunction-sections -fdata-sections)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static")
