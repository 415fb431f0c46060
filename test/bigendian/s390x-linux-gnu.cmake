# SPDX-License-Identifier: MIT
# Big-endian proof (issue 7, point 5): the host unit tests cross-built for s390x (64-bit,
# big-endian) with Debian's s390x-linux-gnu-gcc and run under qemu-user (qemu-s390x) through CTest.
#
# A hosted Linux build like the host preset, not a freestanding one: the tests need libc and
# cmocka. cmocka comes from Debian multiarch (libcmocka-dev:s390x, after
# `dpkg --add-architecture s390x`), whose library lands in /usr/lib/s390x-linux-gnu; the s390x
# loader and libc come with it (libc6:s390x), so qemu-s390x needs no -L sysroot.
# tools/test-bigendian drives this file through the "s390x" preset of CMakePresets.json.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE s390x-linux-gnu)

# CTest prefixes every test executable with this (test/CMakeLists.txt builds the host tests in a
# cross build only when an emulator is set).
find_program(KEEL_QEMU_S390X NAMES qemu-s390x qemu-s390x-static REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${KEEL_QEMU_S390X})

# Headers from /usr/include (cmocka.h is shared by every architecture), libraries only from the
# s390x multiarch directories, programs from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_LIBRARY_PATH /usr/lib/s390x-linux-gnu /lib/s390x-linux-gnu)
