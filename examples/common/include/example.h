/* SPDX-License-Identifier: MIT */
/*
 * example.h - helpers shared by the portable examples: boot-command-line arguments ("key=value"
 * words from QEMU's -append), pass/fail bookkeeping ending in the "RESULT: PASS" / "RESULT: FAIL
 * <reason>" line tools/qemu-run looks for, and the platform report every example starts with.
 * Thread safety: thread context on the boot CPU, like the examples themselves.
 */
#ifndef KEEL_EXAMPLE_H
#define KEEL_EXAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/port.h>

/**
 * Copy the value of `key=value` from the space-separated `cmdline` into buf (NUL-terminated,
 * truncated to size). Returns true when the key is present (a bare `key` gives ""); the last
 * occurrence wins.
 */
bool ex_arg(const char *cmdline, const char *key, char *buf, size_t size);

/** `key=<number>` in decimal or 0x-hex; false when absent or not a number (then *out is untouched).
 */
bool ex_arg_u64(const char *cmdline, const char *key, uint64_t *out);

/** Parse a decimal or 0x-hex number; false on junk or overflow. */
bool ex_parse_u64(const char *s, uint64_t *out);

/** Record a failed check: prints "FAIL: <message>"; the first message becomes the RESULT reason. */
void ex_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** `ok` or ex_fail(...); returns ok. */
#define EX_CHECK(ok, ...) ((ok) ? true : (ex_fail(__VA_ARGS__), false))

/** Failures recorded so far. */
unsigned ex_failures(void);

/**
 * Print the last line, "RESULT: PASS" or "RESULT: FAIL <first reason>", and return the status for
 * main (0 pass, 1 fail).
 */
int ex_finish(void);

/** Print the `platform ...` line and one `pcihost ...` line per PCI host bridge. */
void ex_print_platform(const struct keel_port *port);

#endif
