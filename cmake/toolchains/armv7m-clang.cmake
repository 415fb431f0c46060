# SPDX-License-Identifier: MIT
# ARMv7-M (Cortex-M3, Thumb-2, soft float) with clang: driver libraries only.
#
# -meabi gnu: for *-none-eabi clang otherwise lowers memcpy/memset to the run-time ABI helpers
# __aeabi_memcpy/__aeabi_memclr; with it clang imports plain memcpy/memset like gcc does, so the
# library needs only the four functions keel::libc_min provides.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER clang)
set(CMAKE_ASM_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET thumbv7m-none-eabi)
set(CMAKE_ASM_COMPILER_TARGET thumbv7m-none-eabi)
keel_toolchain_binutils(arm-none-eabi-)
keel_toolchain_flags(-mcpu=cortex-m3 -mthumb -mfloat-abi=soft -meabi gnu -ffunction-sections
                     -fdata-sections)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -fuse-ld=lld")
