# SPDX-License-Identifier: MIT
# Shared part of Keel's cross toolchain files (included by <arch>-<compiler>.cmake).
#
# Every Keel cross target is bare metal: there is no C library to link against, so CMake's compiler
# checks build a static library instead of an executable, and find_* never picks up host libraries.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Flags every Keel target shares: no libc, no stack-protector runtime (__stack_chk_fail), no unwind
# tables (nothing unwinds in a kernel or firmware image).
set(KEEL_TOOLCHAIN_COMMON_FLAGS "-ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables")

# keel_toolchain_binutils(<cross-prefix>): archiver and nm for a clang toolchain. clang itself is
# target-independent but the host's ar/nm only understand host objects, so use the cross binutils
# that come with the matching gcc package, or LLVM's own tools when those are installed.
macro(keel_toolchain_binutils prefix)
  find_program(CMAKE_AR NAMES ${prefix}ar llvm-ar-14 llvm-ar REQUIRED)
  find_program(CMAKE_RANLIB NAMES ${prefix}ranlib llvm-ranlib-14 llvm-ranlib REQUIRED)
  find_program(CMAKE_NM NAMES ${prefix}nm llvm-nm-14 llvm-nm REQUIRED)
  find_program(CMAKE_OBJCOPY NAMES ${prefix}objcopy llvm-objcopy-14 llvm-objcopy)
  find_program(CMAKE_OBJDUMP NAMES ${prefix}objdump llvm-objdump-14 llvm-objdump)
endmacro()

# keel_toolchain_flags(<flags...>): target flags for C and assembler (ports/ has start-up assembly).
macro(keel_toolchain_flags)
  string(JOIN " " _keel_tc_flags ${KEEL_TOOLCHAIN_COMMON_FLAGS} ${ARGN})
  set(CMAKE_C_FLAGS_INIT "${_keel_tc_flags}")
  set(CMAKE_ASM_FLAGS_INIT "${_keel_tc_flags}")
endmacro()
