#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarise cppcheck's MISRA C:2012 addon output into docs/misra.md (run by tools/analyze).

Input: lines "<file>:<line>:<col>: misra-c2012-<rule>: <message>" (cppcheck --template). The
addon ships without the rule texts (they are MISRA's copyright), so the report names rules by
number; each rule Keel deviates from carries a one-line summary in our own words and the reason.
A rule that shows up without an entry in DEVIATIONS is listed as open: decide to fix or deviate.
The report is advisory: tools/analyze never fails on it.
"""
import argparse
import collections
import re
import sys

# rule -> (what it is about, in our words; why Keel deviates)
DEVIATIONS = {
    "2.4": ("unused tag declarations",
            "Public headers declare enum/struct tags that are API for integrators (keel_err, "
            "keel_blk_op, ...); the library itself need not use every tag."),
    "2.5": ("unused macros",
            "Public headers name spec constants (register offsets, opcodes, status bits) with the "
            "spec's names for integrators and tests; dropping the unused ones would hide the spec."),
    "5.7": ("tag names unique",
            "File-local helper types (e.g. one `struct` per transport file) reuse a short tag; each is "
            "confined to its translation unit or component-internal header, never seen together."),
    "5.9": ("internal-linkage identifiers unique",
            "Static helpers with the same short name in different files (fail, collect, resubmit, ...): "
            "a file per concept, and no two of them are ever visible in one translation unit."),
    "7.3": ("lowercase l in literal suffixes",
            "`ull` on 64-bit constants (fmt.c's power-of-ten table, ring offsets). Mechanical to "
            "change to `ULL`; kept for now because nothing reads 'l' as '1' in the code font used, "
            "and clang-format would not catch a mix."),
    "8.7": ("external linkage only when used from several files",
            "The exported keel_* functions are the library's API: their callers are integrators' "
            "files, which the addon does not see."),
    "8.9": ("objects at block scope when used in one function",
            "Constant tables (CRC-32, error and status names) sit at file scope next to the function "
            "that reads them; `static const` either way, so no run-time or safety difference."),
    "8.14": ("restrict",
             "core/src/libc_min.c provides memcpy/memmove/memset/memcmp for naked targets and must "
             "match the standard prototypes, restrict included."),
    "9.2": ("braces in aggregate initialisers",
            "Positional initialisers of small HAL structs (keel_irq_src); -Wmissing-field-"
            "initializers (-Wextra) checks the field count."),
    "9.3": ("partially initialised arrays",
            "`= {0}`-style initialisers: C zero-fills the rest, which is the intent."),
    "10.1": ("essential type of operands",
             "Covered for Keel by -Wconversion -Wsign-conversion -Werror on gcc and clang: every "
             "implicit narrowing or sign change is a build error, so the remaining reports are "
             "value-preserving (unsigned arithmetic on bytes, character arithmetic)."),
    "10.3": ("assignment to a narrower or different essential type",
             "As 10.1: conversions are explicit casts wherever -Wconversion asks for them."),
    "10.4": ("both operands of the same essential type category",
             "Mostly small unsuffixed constants with unsigned operands (`x + 1`, `'0' + d`): "
             "value-preserving, and -Wsign-conversion/-Wsign-compare reject the harmful mixes."),
    "10.6": ("composite expression assigned to a wider type",
             "As 10.1; the 64-bit results (BAR sizes, byte counts) widen explicitly before the "
             "operation where overflow is possible (bugprone-misplaced-widening-cast checks this)."),
    "10.7": ("composite expression in a wider operation",
             "As 10.6."),
    "10.8": ("composite expression cast to a wider or different type",
             "As 10.6: the casts document an intended truncation or a value known to fit."),
    "11.4": ("conversion between pointer and integer",
             "Drivers handle bus addresses and MMIO windows, which are integers by nature; the HAL "
             "owns the pointer/address boundary (io_map, dma_alloc)."),
    "11.5": ("conversion from void * to an object pointer",
             "Callback contexts (`void *ctx`, req->user, HAL ctx): C's only generic callback "
             "argument."),
    "11.6": ("conversion between void * and an arithmetic type",
             "keel_blk_write passes a const buffer through the request's one buffer pointer (the "
             "device only reads it for writes) via uintptr_t, the defined way to drop const."),
    "11.8": ("casts removing const or volatile",
             "Reported on passing `x->buf` where x points to a const struct: the member is a "
             "`void *` (the struct is const, not the buffer it points to), so no qualifier is "
             "dropped (addon false positive)."),
    "11.9": ("NULL as the null pointer constant",
             "Reported on `reg ? reg->count : 0u`, where 0u is a count, not a pointer (addon false "
             "positive); Keel writes NULL for null pointers."),
    "12.1": ("explicit precedence in expressions",
             "Keel relies on C's precedence for arithmetic (`a + b * c`, `x >> s & m`); gcc's "
             "-Wparentheses (-Wall, -Werror) flags the error-prone mixes (& with ==, && in ||)."),
    "12.2": ("shift amount within the operand's width",
             "The shifts are by constants or by values bounded by a preceding check or loop "
             "condition (block-size shifts below 32); UBSan checks every shift in the host tests."),
    "12.3": ("comma operator",
             "The addon reports declarations of several variables (`int rc, depth = 0;`), which are "
             "not the comma operator (false positive); Keel does not use the comma operator."),
    "13.3": ("++/-- with other side effects",
             "The `out[n++] = c` idiom in bounded copy loops."),
    "13.4": ("result of an assignment used",
             "Loop heads of the form `while ((r = head) != NULL)` and chained resets "
             "(`head = tail = NULL`)."),
    "14.2": ("well-formed for loops",
             "A few loops advance their cursor inside the body (variable-length records: VPD "
             "descriptors, GPT entries), always towards a bound checked in the condition."),
    "14.4": ("controlling expression essentially Boolean",
             "The `if (flags & BIT)` and `if (ptr)` idioms; -Wparentheses guards the confusable "
             "cases."),
    "15.4": ("one break per loop",
             "Scan loops stop on the first of several conditions; flags would add state."),
    "15.5": ("single point of exit",
             "Validation returns an error code at the first bad value the device gave: with a single "
             "exit the checks would nest or need flags, hiding the rule 'check, then use'."),
    "15.6": ("compound statement bodies",
             "Keel's clang-format style allows unbraced single-statement bodies; the hazard the rule "
             "is about (misleading indentation) is caught by gcc -Wmisleading-indentation (-Wall) "
             "and clang-tidy readability-misleading-indentation, and clang-format fixes layout."),
    "15.7": ("if ... else if ends with else",
             "No empty `else {}` where there is nothing to do."),
    "17.1": ("stdarg.h",
             "Logging (KEEL_LOG*) and keel_snprintf take a format string: confined to core/src/fmt.c "
             "and log.c, format strings checked by -Wformat=2 through format attributes."),
    "17.7": ("return value of a non-void function used",
             "keel_strlcpy's result (the source length) is not needed where truncation into a "
             "fixed-size name field is intended."),
    "17.8": ("function parameters not modified",
             "Parameters used as cursors in short functions (`lba += n`, `f++`, `dev = dev->parent`)."),
    "18.4": ("+ and - on pointers",
             "Parsing device data from byte buffers (`p + off`) after the length checks; indexing "
             "would be the same arithmetic."),
    "19.2": ("union",
             "struct keel_virtio_dev keeps the per-transport state (PCI modern, legacy, MMIO) in a "
             "union: one member is live for the transport found at probe, and the instance is "
             "caller memory, so size matters."),
    "20.9": ("identifiers in #if defined",
             "`#if UINTPTR_MAX < UINT64_MAX` uses stdint.h's macros; the addon runs without the "
             "compiler's freestanding headers and does not see them (false positive)."),
    "21.2": ("reserved identifiers",
             "core/src/libc_min.c defines memcpy/memmove/memset/memcmp on purpose: it is the opt-in "
             "provider of exactly these four for environments without a libc."),
}

LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+): misra-c2012-(?P<rule>\d+\.\d+):")


def rule_key(rule):
    major, minor = rule.split(".")
    return int(major), int(minor)


def component(path):
    return path.split("/", 1)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cppcheck-version", default="cppcheck")
    ap.add_argument("--components", default="core virtio nvme")
    ap.add_argument("raw")
    ap.add_argument("out")
    args = ap.parse_args()

    hits = collections.defaultdict(list)
    for text in open(args.raw, encoding="utf-8", errors="replace"):
        m = LINE.match(text)
        if m:
            hits[m["rule"]].append((m["file"], int(m["line"])))
    comps = args.components.split()
    if any(component(f) == "hal" for v in hits.values() for f, _ in v):
        comps = ["hal"] + comps
    total = sum(len(v) for v in hits.values())
    open_rules = [r for r in hits if r not in DEVIATIONS]

    out = []
    w = out.append
    w("<!-- SPDX-License-Identifier: MIT -->")
    w("# MISRA C:2012 report (advisory)")
    w("")
    w("Generated by `tools/analyze` (issue 7, point 4) with "
      f"{args.cppcheck_version}'s misra addon over the driver libraries ({', '.join(comps)}: every "
      "`src/*.c` and the headers they include). Do not edit by hand: change the sources or the "
      "deviations in `tools/misra_report.py`, then run `tools/analyze --misra-only`.")
    w("")
    w("Keel is not MISRA-compliant and does not claim to be. This report shows where it departs "
      "from MISRA C:2012, and why, so that a team that needs compliance knows the size of the job "
      "and can review each deviation. The rule texts are not shipped with cppcheck, so rules are "
      "named by number with a short summary in our own words: read the rule itself in the MISRA "
      "C:2012 document. The addon has false positives; where a rule's reports are (mostly) false "
      "positives, its justification says so.")
    w("")
    w("What Keel enforces instead, on every build: C11 with `-Wall -Wextra -Werror -Wshadow "
      "-Wconversion -Wsign-conversion -Wcast-align -Wvla -Wformat=2 ...` on gcc and clang; "
      "clang-tidy (bugprone, cert, clang-analyzer) and cppcheck with zero findings "
      "(`tools/analyze`); ASan+UBSan and valgrind on every host test; no libc, no dynamic memory, "
      "no recursion (misc-no-recursion), no floating point, no 64-bit division.")
    w("")
    w(f"## Summary: {total} reports of {len(hits)} rules, {len(open_rules)} without a recorded deviation")
    w("")
    w("| rule | about | reports | " + " | ".join(comps) + " | status |")
    w("|---|---|---:|" + "---:|" * len(comps) + "---|")
    for rule in sorted(hits, key=rule_key):
        per = collections.Counter(component(f) for f, _ in hits[rule])
        about = DEVIATIONS.get(rule, ("?", ""))[0]
        status = "deviation" if rule in DEVIATIONS else "**open**"
        w(f"| {rule} | {about} | {len(hits[rule])} | "
          + " | ".join(str(per.get(c, 0)) for c in comps) + f" | {status} |")
    w("")
    w("Reports in public and HAL headers count under the component of the header (hal = the HAL).")
    w("")
    w("## Deviations")
    w("")
    w("| rule | justification | first reports |")
    w("|---|---|---|")
    for rule in sorted(hits, key=rule_key):
        if rule not in DEVIATIONS:
            continue
        first = ", ".join(f"`{f}:{ln}`" for f, ln in sorted(set(hits[rule]))[:3])
        w(f"| {rule} | {DEVIATIONS[rule][1]} | {first} |")
    w("")
    if open_rules:
        w("## Open: rules reported without a recorded deviation")
        w("")
        w("Fix these or add a justified deviation in `tools/misra_report.py`.")
        w("")
        w("| rule | reports | where |")
        w("|---|---:|---|")
        for rule in sorted(open_rules, key=rule_key):
            where = ", ".join(f"`{f}:{ln}`" for f, ln in sorted(set(hits[rule]))[:6])
            w(f"| {rule} | {len(hits[rule])} | {where} |")
        w("")
    w("## Reports per file")
    w("")
    w("| file | reports |")
    w("|---|---:|")
    per_file = collections.Counter(f for v in hits.values() for f, _ in v)
    for f in sorted(per_file):
        w(f"| `{f}` | {per_file[f]} |")
    w("")
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out))
    print(f"misra: {total} reports of {len(hits)} rules ({len(open_rules)} open) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
