# SPDX-License-Identifier: MIT
# x86-64 bare metal (multiboot kernel on QEMU q35) with the host's x86-64 gcc.
#
# -mno-red-zone: interrupts arrive on the current stack, so the 128 bytes below %rsp are not ours.
# -mgeneral-regs-only: no SSE/x87 state in kernel code (nothing saves it across interrupts).
# -fno-pic/-fno-pie, default small code model: the kernel is linked and identity-mapped below 2 GiB
# (multiboot loads it at 1 MiB); a higher-half port would add -mcmodel=kernel in ports/.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
find_program(CMAKE_C_COMPILER NAMES x86_64-linux-gnu-gcc gcc REQUIRED)
set(CMAKE_ASM_COMPILER ${CMAKE_C_COMPILER})
keel_toolchain_flags(-fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie")
