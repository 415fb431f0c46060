/* SPDX-License-Identifier: MIT */
/*
 * Empty "C library" limits.h for the freestanding header check only. gcc's own limits.h defines
 * every C11 limit and then #include_next's the C library's limits.h for POSIX additions; a
 * freestanding build has no C library, so the next limits.h adds nothing.
 */
