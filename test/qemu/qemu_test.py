#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QEMU integration tests for the ports and the storage examples (CTest label `qemu`).

Each scenario picks a machine and a set of QEMU devices, boots an example through tools/qemu-run
and checks the lines the guest printed against what it chose.

Ports (pciinfo, portcheck): every chosen PCI function is listed with its vendor:device and class,
with assigned BARs; every chosen virtio-mmio device sits in the slot QEMU gives it; interrupts and
DMA really arrive (QEMU's edu device); and the failure paths (CPU exception, alignment fault, guest
FAIL, hang) end in the right non-zero status.

Storage (blkinfo, blkverify, nvme-cli, hotplug): every disk, namespace and partition the scenario
configured is listed with its size, block size and read-only state (partitions as sfdisk made them
on the host image); blkverify's CRC of a range equals the CRC of that range of the image file after
QEMU exits, the range changed and every byte outside it did not; a range of random bytes reads back
with the host's CRC; run-time events (NVMe SMART warning, virtio-scsi hot-plug and removal,
virtio-blk resize) are driven through QMP and must be reported by the guest.

Every run traces QEMU's NVMe error events (pci_nvme_err_*, pci_nvme_ub_*) into a log that must stay
empty (a scenario that provokes errors allow-lists what it provokes), logs guest errors (-d
guest_errors: virtio-mmio misuse) into a log that must stay empty, and fails on any QEMU stderr line
(virtio_error() reports there).

  qemu_test.py --list ARCH                 scenario names for ARCH (CMake registers one test each)
  qemu_test.py --build ARCH --build-root D build the example images for ARCH under D/<arch>
  qemu_test.py --build-root D NAME         run scenario NAME with images from D/<arch> (no build)
"""
import argparse
import json
import os
import queue
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
QEMU_RUN = os.path.join(ROOT, "tools", "qemu-run")
EXAMPLES = ("pciinfo", "portcheck", "blkinfo", "blkverify", "nvme-cli", "hotplug", "blkbench")

# QEMU_ACCEL=kvm runs every scenario under KVM (tools/qemu-run reads it too). Guest time limits
# and QMP waits are multiplied by KEEL_QEMU_TIME_SCALE, by default 1 under TCG and 40 under KVM:
# the KVM on these machines is a software-nested one that ran the examples about 40x slower
# than TCG (docs/porting.md). The hang scenarios keep their short limit: they test the cut-off.
# KVM runs a guest of the host's own architecture only; the other architecture's scenarios then
# run under TCG (and say so).
KVM_WANTED = os.environ.get("QEMU_ACCEL", "tcg") == "kvm"


def kvm_for(arch):
    return KVM_WANTED and os.uname().machine == arch


def time_scale(arch):
    return float(os.environ.get("KEEL_QEMU_TIME_SCALE", "40" if kvm_for(arch) else "1"))


# Lines of QEMU's guest-error log that come from firmware, not from Keel, allowed only in the
# configuration that produces them. qboot writes into its own image in the pc.bios ROM; TCG
# ignores that silently, KVM (ROM mapped read-only) logs it, before Keel is even loaded.
FIRMWARE_GUEST_ERRORS = {
    ("qboot", True): (r"^Invalid write at addr 0x[0-9A-F]+, size [1248], region 'pc\.bios', "
                      r"reason: rejected$",),
}

# tools/qemu-run exit statuses.
RC_PASS, RC_FAIL, RC_PANIC, RC_TIMEOUT = 0, 1, 2, 3

NVME = ("1b36:0010", "010802")
VIRTIO_BLK_TRANSITIONAL = ("1af4:1001", "010000")
VIRTIO_BLK_MODERN = ("1af4:1042", "010000")
EDU = ("1234:11e8", "00ff00")
ROOT_PORT = ("1b36:000c", "060400")
PCIE_PCI_BRIDGE = ("1b36:000e", "060400")

# QEMU's own error reports that every run must be free of.
TRACE_PATTERNS = ("pci_nvme_err_*", "pci_nvme_ub_*")

SCENARIOS = {}


def scenario(name, arch):
    def register(fn):
        SCENARIOS[name] = (arch, fn)
        return fn
    return register


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


class Output:
    """The console of one run, parsed into the examples' stable lines."""

    def __init__(self, rc, text, stderr=""):
        self.rc = rc
        self.text = text
        self.stderr = stderr
        self.lines = [l.rstrip("\r") for l in text.splitlines()]
        self.platform = self._kv("platform ")
        self.pcihost = self._kv("pcihost ")
        self.pci = {}
        for l in self.lines:
            m = re.match(r"^pci (\S+) id=(\S+) class=(\S+)", l)
            if m:
                self.pci[m.group(1)] = {"id": m.group(2), "class": m.group(3), "bars": []}
            m = re.match(r"^pcibar (\S+) bar=(\d+) type=(\S+) pref=(\d) addr=(0x[0-9a-f]+) "
                         r"size=(0x[0-9a-f]+)", l)
            if m and m.group(1) in self.pci:
                self.pci[m.group(1)]["bars"].append(
                    {"bar": int(m.group(2)), "type": m.group(3),
                     "addr": int(m.group(5), 16), "size": int(m.group(6), 16)})
        self.mmio = {}
        for l in self.lines:
            m = re.match(r"^virtio-mmio slot=(\d+) base=(0x[0-9a-f]+) irq=(\d+) version=(\d+) "
                         r"device=(\d+)", l)
            if m:
                self.mmio[int(m.group(1))] = {"base": int(m.group(2), 16), "irq": int(m.group(3)),
                                              "version": int(m.group(4)),
                                              "device": int(m.group(5))}

    def _kv(self, prefix):
        found = self.records(prefix.strip())
        return found[0] if found else {}

    def records(self, tag):
        """Every `tag key=value key="quoted value" ...` line, as dicts, in order."""
        out = []
        for l in self.lines:
            if l.startswith(tag + " "):
                out.append({m.group(1): m.group(3) if m.group(3) is not None else m.group(2)
                            for m in re.finditer(r'(\w+)=(?:"([^"]*)"|(\S*))', l[len(tag) + 1:])})
        return out

    def has(self, pattern):
        return any(re.search(pattern, l) for l in self.lines)

    def functions(self, ident):
        vid, cls = ident
        return [a for a, f in self.pci.items() if f["id"] == vid and f["class"] == cls]

    def dump(self):
        return "\n".join("    | " + l for l in self.lines[-80:])


class QMP:
    """A minimal QMP client over a unix socket (commands, replies, events)."""

    def __init__(self, path, timeout=10.0, scale=1.0):
        timeout *= scale
        self.scale = scale
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise Failure(f"QMP socket {path} never accepted a connection")
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.f = self.sock.makefile("rw", encoding="utf-8", newline="\n")
        self.events = []
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise Failure("QMP connection closed")
        return json.loads(line)

    def execute(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        print(f"  qmp> {json.dumps(msg)}", flush=True)
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
                continue
            print(f"  qmp< {json.dumps(r)}", flush=True)
            if "error" in r:
                raise Failure(f"QMP {cmd} failed: {r['error']}")
            return r.get("return")

    def wait_event(self, name, timeout=10.0):
        timeout *= self.scale
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            expect(left > 0, f"QMP event {name} never came")
            self.sock.settimeout(left)
            try:
                self.events.append(self._read())
            except socket.timeout:
                pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Ctx:
    def __init__(self, build_root, arch, tmp):
        self.build_root = build_root
        self.arch = arch
        self.tmp = tmp
        self.runs = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def disk(self, name, size=1 << 20):
        path = self.path(name)
        with open(path, "wb") as f:
            f.truncate(size)
        return path

    def image(self, name, size, random_bytes=False, seed=1):
        """A raw image of `size` bytes: zeros, or reproducible random bytes."""
        path = self.path(name)
        with open(path, "wb") as f:
            if random_bytes:
                rng = __import__("random").Random(seed)
                f.write(rng.randbytes(size))
            else:
                f.truncate(size)
        return path

    def run(self, example, qemu_args, opts=(), timeout=60, allow_trace=(), actions=(),
            scale_time=True):
        """Boot `example`; `actions` is a list of (console regex, fn(qmp)) run in order, each
        when the guest prints a matching line. QEMU's error reports are checked after the run.
        `timeout` (seconds under TCG) is multiplied by time_scale() unless scale_time is False."""
        kvm = kvm_for(self.arch)
        if KVM_WANTED and not kvm:
            print(f"  (KVM runs {os.uname().machine} guests only: {self.arch} runs under TCG)")
        if scale_time:
            timeout = int(timeout * time_scale(self.arch))
        env = dict(os.environ, QEMU_ACCEL="kvm" if kvm else "tcg")
        bios = opts[opts.index("--bios") + 1] if "--bios" in opts else "seabios"
        allow_guest = FIRMWARE_GUEST_ERRORS.get((bios, kvm), ())
        self.runs += 1
        n = self.runs
        events = self.path(f"trace-events-{n}.txt")
        trace_log, guest_log = self.path(f"trace-{n}.log"), self.path(f"guest-errors-{n}.log")
        with open(events, "w") as f:
            f.write("\n".join(TRACE_PATTERNS) + "\n")
        extra = ["-trace", f"events={events},file={trace_log}", "-d", "guest_errors",
                 "-D", guest_log]
        sock = None
        if actions:
            sock = self.path(f"qmp-{n}.sock")
            extra += ["-qmp", f"unix:{sock},server=on,wait=off"]
        cmd = [QEMU_RUN, "--no-build", "--timeout", str(timeout),
               "--build-dir", os.path.join(self.build_root, self.arch), *opts,
               self.arch, example, *qemu_args, *extra]
        print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        t0 = time.monotonic()
        failure = None
        if actions:
            rc, text, err, failure = self._run_interactive(cmd, sock, actions, timeout, env)
        else:
            p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=timeout + 60)
            rc, text, err = p.returncode, p.stdout, p.stderr
        out = Output(rc, text, err)
        print(out.dump(), flush=True)
        if err.strip():
            print("  stderr:\n" + "\n".join("    ! " + l for l in err.splitlines()), flush=True)
        print(f"  ({time.monotonic() - t0:.2f}s)", flush=True)
        if failure is not None:
            raise failure
        self._check_qemu_reports(out, trace_log, guest_log, allow_trace, allow_guest)
        return out

    def _run_interactive(self, cmd, sock, actions, timeout, env):
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        lines, q, err = [], queue.Queue(), []

        def pump_out():
            for l in p.stdout:
                lines.append(l)
                q.put(l.rstrip("\r\n"))
            q.put(None)

        def pump_err():
            err.append(p.stderr.read())

        threads = [threading.Thread(target=pump_out, daemon=True),
                   threading.Thread(target=pump_err, daemon=True)]
        for t in threads:
            t.start()
        qmp, failure = None, None
        deadline = time.monotonic() + timeout
        try:
            for pattern, action in actions:
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Failure(f"the guest never printed a line matching {pattern!r}")
                    try:
                        l = q.get(timeout=left)
                    except queue.Empty:
                        continue
                    if l is None:
                        raise Failure(f"the guest ended before printing {pattern!r}")
                    if re.search(pattern, l.rstrip("\r")):
                        break
                if qmp is None:
                    qmp = QMP(sock, scale=time_scale(self.arch))
                action(qmp)
            p.wait(timeout=max(1.0, deadline - time.monotonic()) + 10)
        except (Failure, OSError, subprocess.TimeoutExpired) as e:
            failure = e if isinstance(e, Failure) else Failure(f"interactive run: {e}")
        finally:
            if qmp is not None:
                qmp.close()
            if p.poll() is None:
                p.kill()
                p.wait()
            for t in threads:
                t.join(timeout=5)
        return p.returncode, "".join(lines), "".join(err), failure

    def _check_qemu_reports(self, out, trace_log, guest_log, allow_trace, allow_guest=()):
        # QEMU's log backend writes trace events and guest errors to one file (whichever of
        # -trace file= and -D came last), so both allow-lists apply to both logs.
        bad = []
        if os.path.exists(trace_log):
            for l in open(trace_log, errors="replace"):
                m = re.search(r"(pci_nvme_\w+)", l)
                if m and m.group(1) in allow_trace:
                    continue
                if any(re.match(a, l.rstrip()) for a in allow_guest):
                    continue
                bad.append("QEMU log: " + l.rstrip())
        if os.path.exists(guest_log):
            bad += ["QEMU log: " + l.rstrip() for l in open(guest_log, errors="replace")
                    if l.strip() and not any(re.match(a, l.rstrip()) for a in allow_guest)]
        # Every QEMU stderr line counts (virtio_error() reports there), except the notice QEMU
        # prints when tools/qemu-run's time limit stops it (a scenario then checks the status).
        bad += ["QEMU stderr: " + l for l in out.stderr.splitlines()
                if l.strip() and not l.startswith("qemu-run:")
                and not re.match(r"^qemu-system-\w+: terminating on signal 15 from pid \d+ "
                                 r"\(timeout\)$", l)]
        expect(not bad, "QEMU reported errors:\n      " + "\n      ".join(bad[:20]))


# ---- Shared checks ------------------------------------------------------------------------------

def check_pass(out):
    expect(out.rc == RC_PASS, f"qemu-run returned {out.rc}, expected 0 (PASS)")
    expect(out.lines and any(l == "RESULT: PASS" for l in out.lines), "no 'RESULT: PASS' line")


def check_listed(out, ident, count=1):
    found = out.functions(ident)
    expect(len(found) == count,
           f"expected {count} function(s) {ident[0]} class {ident[1]}, found {found}")
    for a in found:
        bars = out.pci[a]["bars"]
        expect(bars, f"{a} ({ident[0]}) lists no BARs")
        for b in bars:
            expect(b["addr"] != 0, f"{a} BAR{b['bar']} unassigned")
    return found


def check_cmdline(out, text):
    expect(out.has(r'^cmdline "' + re.escape(text) + '"$'),
           f"the boot command line did not arrive as {text!r}")


def pci_devices(ctx):
    """NVMe and transitional virtio-blk on the root bus, modern virtio-blk behind a PCIe root port,
    edu behind a root port and a PCIe-to-PCI bridge."""
    n, v0, v1 = ctx.disk("nvme.img"), ctx.disk("vblk0.img"), ctx.disk("vblk1.img")
    return ["-drive", f"file={n},if=none,id=n0,format=raw",
            "-device", "nvme,serial=keelpci,drive=n0",
            "-drive", f"file={v0},if=none,id=v0,format=raw",
            "-device", "virtio-blk-pci,drive=v0",
            "-device", "pcie-root-port,id=rp1,chassis=1",
            "-drive", f"file={v1},if=none,id=v1,format=raw",
            "-device", "virtio-blk-pci,drive=v1,bus=rp1",
            "-device", "pcie-root-port,id=rp2,chassis=2",
            "-device", "pcie-pci-bridge,id=pb,bus=rp2",
            "-device", "edu,bus=pb,addr=3,dma_mask=0xffffffff"]


def check_pci_devices(out, transitional_blk=True):
    nvme = check_listed(out, NVME)
    expect(out.has(rf"^nvmeregs {re.escape(nvme[0])} vs=0x00010400 "),
           "NVMe VS register not read as 1.4 through BAR0")
    if transitional_blk:
        check_listed(out, VIRTIO_BLK_TRANSITIONAL)
    check_listed(out, VIRTIO_BLK_MODERN)
    check_listed(out, EDU)
    check_listed(out, ROOT_PORT, 2)
    check_listed(out, PCIE_PCI_BRIDGE)
    return nvme[0]


# ---- x86-64 -------------------------------------------------------------------------------------

@scenario("qemu_x86_64_seabios_pciinfo_lists_chosen_devices_with_firmware_bars", "x86_64")
def _(ctx):
    out = ctx.run("pciinfo", pci_devices(ctx) + ["-append", "alpha=1 beta=two"])
    check_pass(out)
    check_pci_devices(out)
    check_cmdline(out, "alpha=1 beta=two")
    expect(out.platform.get("machine") == "q35" and out.platform.get("firmware") == "seabios",
           f"platform line wrong: {out.platform}")
    expect(out.pcihost.get("ecam") == "0xb0000000", "q35 ECAM not found at 0xB0000000")
    expect(int(out.pcihost.get("bars_firmware", "0")) > 0, "SeaBIOS assigned no BAR?")


@scenario("qemu_x86_64_qboot_port_assigns_bars_bridges_and_a_64bit_window", "x86_64")
def _(ctx):
    out = ctx.run("pciinfo", pci_devices(ctx), opts=["--bios", "qboot"])
    check_pass(out)
    nvme = check_pci_devices(out)
    expect(out.platform.get("firmware") == "qboot", f"firmware not qboot: {out.platform}")
    expect(out.pcihost.get("bars_firmware") == "0", "qboot is expected to assign nothing")
    expect(int(out.pcihost.get("bars_port", "0")) >= 8, "the port assigned too few BARs")
    expect(int(out.pcihost.get("bridges_port", "0")) == 3, "the port did not open all 3 bridges")
    bar0 = out.pci[nvme]["bars"][0]
    expect(bar0["type"] == "mem64" and bar0["addr"] >= 1 << 32,
           f"NVMe BAR0 not placed in the 64-bit window above 4 GiB: {bar0}")


@scenario("qemu_x86_64_seabios_portcheck_delivers_intx_msi_and_dma", "x86_64")
def _(ctx):
    out = ctx.run("portcheck", ["-device", "edu,addr=5"])
    check_pass(out)
    for c in ("clock", "dma_alloc", "dma_map", "edu_intx", "edu_msi", "edu_dma_aligned",
              "edu_dma_unaligned"):
        expect(out.has(rf"^check {c} ok"), f"check {c} did not pass")


@scenario("qemu_x86_64_qboot_portcheck_swizzles_intx_through_two_bridges", "x86_64")
def _(ctx):
    out = ctx.run("portcheck", ["-device", "pcie-root-port,id=rp,chassis=1",
                                "-device", "pcie-pci-bridge,id=pb,bus=rp",
                                "-device", "edu,bus=pb,addr=2"], opts=["--bios", "qboot"])
    check_pass(out)
    expect(out.has(r"^edu 0000:02:02\.0 "), "edu not found behind the two bridges")
    for c in ("edu_intx", "edu_msi", "edu_dma_aligned", "edu_dma_unaligned"):
        expect(out.has(rf"^check {c} ok"), f"check {c} did not pass")


@scenario("qemu_x86_64_pc_machine_routes_intx_through_piix_and_cf8", "x86_64")
def _(ctx):
    out = ctx.run("portcheck", ["-device", "edu,addr=6"], opts=["--machine", "pc", "--bios", "qboot"])
    check_pass(out)
    expect(out.platform.get("machine") == "pc", f"platform line wrong: {out.platform}")
    expect(out.pcihost.get("ecam") == "0x0", "i440fx has no ECAM: config must go through 0xCF8")
    for c in ("edu_intx", "edu_msi", "edu_dma_aligned"):
        expect(out.has(rf"^check {c} ok"), f"check {c} did not pass")


@scenario("qemu_x86_64_cpu_exception_is_reported_as_panic", "x86_64")
def _(ctx):
    out = ctx.run("portcheck", ["-append", "fault=trap"])
    expect(out.rc == RC_PANIC, f"qemu-run returned {out.rc}, expected {RC_PANIC} (panic)")
    expect(out.has(r"^EXCEPTION vector=6 \(#UD"), "no #UD exception report")
    expect(out.has(r"^RESULT: FAIL"), "no FAIL result line after the exception")


@scenario("qemu_x86_64_page_fault_reports_the_address", "x86_64")
def _(ctx):
    out = ctx.run("portcheck", ["-append", "fault=unmapped"], opts=["--bios", "qboot"])
    expect(out.rc == RC_PANIC, f"qemu-run returned {out.rc}, expected {RC_PANIC} (panic)")
    expect(out.has(r"^EXCEPTION vector=14 \(#PF"), "no #PF exception report")
    expect(out.has(r"cr2=0x00007f0000000000"), "the faulting address is not reported")


@scenario("qemu_x86_64_guest_fail_is_a_failure", "x86_64")
def _(ctx):
    out = ctx.run("portcheck", ["-append", "fault=fail"])
    expect(out.rc == RC_FAIL, f"qemu-run returned {out.rc}, expected {RC_FAIL} (guest FAIL)")
    expect(out.has(r"^RESULT: FAIL failure requested"), "no FAIL result line")


@scenario("qemu_x86_64_hang_is_cut_by_the_time_limit", "x86_64")
def _(ctx):
    out = ctx.run("portcheck", ["-append", "fault=hang"], timeout=3, scale_time=False)
    expect(out.rc == RC_TIMEOUT, f"qemu-run returned {out.rc}, expected {RC_TIMEOUT} (timeout)")


# ---- AArch64 ------------------------------------------------------------------------------------

def mmio_devices(ctx):
    b, s = ctx.disk("mmio-blk.img"), ctx.disk("mmio-scsi.img")
    # The first -device takes the highest slot (31), the next slot 30.
    return ["-drive", f"file={b},if=none,id=mb,format=raw",
            "-device", "virtio-blk-device,drive=mb",
            "-device", "virtio-scsi-device,id=ms",
            "-drive", f"file={s},if=none,id=msd,format=raw",
            "-device", "scsi-hd,bus=ms.0,drive=msd"]


def check_mmio(out, version):
    expect(out.has(r"^virtio-mmio slots=32 devices=2$"), "expected 32 slots with 2 devices")
    for slot, dev in ((31, 2), (30, 8)):
        m = out.mmio.get(slot)
        expect(m is not None, f"virtio-mmio slot {slot} not listed")
        expect(m["device"] == dev and m["version"] == version,
               f"slot {slot}: {m}, expected device {dev} version {version}")
        expect(m["base"] == 0x0A000000 + slot * 0x200, f"slot {slot} base 0x{m['base']:x}")
        expect(m["irq"] == 32 + 16 + slot, f"slot {slot} irq {m['irq']} (expected SPI {16 + slot})")


@scenario("qemu_aarch64_gicv2_pciinfo_lists_pci_and_virtio_mmio_v1", "aarch64")
def _(ctx):
    out = ctx.run("pciinfo", pci_devices(ctx) + mmio_devices(ctx) + ["-append", "alpha=1 beta=two"])
    check_pass(out)
    check_pci_devices(out, transitional_blk=True)
    check_mmio(out, 1)
    check_cmdline(out, "alpha=1 beta=two")
    expect(out.platform.get("irqchip") == "gicv2+v2m" and out.platform.get("msi") == "1",
           f"platform line wrong: {out.platform}")
    expect(out.pcihost.get("ecam") == "0x4010000000", "ECAM not taken from the device tree")
    expect(out.pcihost.get("bars_firmware") == "0", "nothing should assign BARs before Keel")


@scenario("qemu_aarch64_gicv3_max_pciinfo_lists_virtio_mmio_v2", "aarch64")
def _(ctx):
    out = ctx.run("pciinfo", pci_devices(ctx) + mmio_devices(ctx)
                  + ["-global", "virtio-mmio.force-legacy=false"],
                  opts=["--machine", "virt,gic-version=3", "--cpu", "max"])
    check_pass(out)
    check_pci_devices(out)
    check_mmio(out, 2)
    expect(out.platform.get("irqchip") == "gicv3", f"platform line wrong: {out.platform}")


@scenario("qemu_aarch64_el2_entry_drops_to_el1", "aarch64")
def _(ctx):
    out = ctx.run("pciinfo", [], opts=["--machine", "virt,virtualization=on", "--cpu", "max"])
    check_pass(out)


@scenario("qemu_aarch64_gicv2_portcheck_delivers_intx_msi_and_dma", "aarch64")
def _(ctx):
    out = ctx.run("portcheck", ["-device", "pcie-root-port,id=rp,chassis=1",
                                "-device", "pcie-pci-bridge,id=pb,bus=rp",
                                "-device", "edu,bus=pb,addr=2,dma_mask=0xffffffff"])
    check_pass(out)
    for c in ("clock", "dma_alloc", "dma_map", "edu_intx", "edu_msi", "edu_dma_aligned",
              "edu_dma_unaligned"):
        expect(out.has(rf"^check {c} ok"), f"check {c} did not pass")


@scenario("qemu_aarch64_gicv3_portcheck_delivers_intx_and_dma", "aarch64")
def _(ctx):
    out = ctx.run("portcheck", ["-device", "edu,dma_mask=0xffffffff"],
                  opts=["--machine", "virt,gic-version=3", "--cpu", "max"])
    check_pass(out)
    for c in ("edu_intx", "edu_dma_aligned", "edu_dma_unaligned"):
        expect(out.has(rf"^check {c} ok"), f"check {c} did not pass")
    expect(out.has(r"^check edu_msi skip"), "GICv3 without ITS must refuse MSI, not fake it")


@scenario("qemu_aarch64_unaligned_access_faults_with_alignment_checking", "aarch64")
def _(ctx):
    out = ctx.run("portcheck", ["-append", "fault=align"])
    expect(out.rc == RC_PANIC, f"qemu-run returned {out.rc}, expected {RC_PANIC} (panic)")
    expect(out.has(r"data abort: alignment fault"), "no alignment fault reported")


@scenario("qemu_aarch64_cpu_exception_is_reported_as_panic", "aarch64")
def _(ctx):
    out = ctx.run("portcheck", ["-append", "fault=trap"])
    expect(out.rc == RC_PANIC, f"qemu-run returned {out.rc}, expected {RC_PANIC} (panic)")
    expect(out.has(r"^EXCEPTION sync: .*\(BRK\)"), "no BRK exception report")


@scenario("qemu_aarch64_translation_fault_reports_the_address", "aarch64")
def _(ctx):
    out = ctx.run("portcheck", ["-append", "fault=unmapped"])
    expect(out.rc == RC_PANIC, f"qemu-run returned {out.rc}, expected {RC_PANIC} (panic)")
    expect(out.has(r"far=0x00007f0000000000"), "the faulting address is not reported")


@scenario("qemu_aarch64_hang_is_cut_by_the_time_limit", "aarch64")
def _(ctx):
    out = ctx.run("portcheck", ["-append", "fault=hang"], timeout=3, scale_time=False)
    expect(out.rc == RC_TIMEOUT, f"qemu-run returned {out.rc}, expected {RC_TIMEOUT} (timeout)")


# ---- Storage: disks, expected listing, host-side image checks ----------------------------------

class Disk:
    """One block device a scenario configured, and what blkinfo must say about it."""

    def __init__(self, driver, image, size, lbs=512, ro=False, served=True, key=(), nsid=None):
        self.driver, self.image, self.size, self.lbs = driver, image, size, lbs
        self.ro, self.served, self.key, self.nsid = ro, served, key, nsid
        self.name = None
        self.drive = None  # QEMU -drive id (block_resize, device_del)
        self.parts = []  # (number, start, sectors) as sfdisk reports them


class Storage:
    """Builds the QEMU arguments of a scenario's disks and knows the names Keel will give them:
    PCI functions in (bus, slot) order, then virtio-mmio slots in address order (QEMU gives the
    first virtio-mmio -device the highest slot); NVMe namespaces nvme<c>n<nsid>, virtio-blk
    vda, vdb, ... over PCI and MMIO together."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.args = []
        self.disks = []
        self.nvme_ctrls = []  # (slot, [disks])
        self.mmio_count = 0
        self.scsi_hosts = []  # (id, discovery key)
        self.last_nvme_id = None
        self.n = 0

    def _image(self, size, fill):
        self.n += 1
        return self.ctx.image(f"disk{self.n}.img", size, random_bytes=fill, seed=self.n)

    def _drive(self, path, ro=False):
        did = f"drv{self.n}"
        self.args += ["-drive", f"file={path},if=none,id={did},format=raw"
                      + (",readonly=on" if ro else "")]
        return did

    def nvme(self, slot, namespaces, props="", cid=None, fill=True):
        """namespaces: list of dicts size=, lbs= (512), ms= (0), nsid= (1-based position)."""
        cid = cid or f"nvmec{len(self.nvme_ctrls)}"
        self.last_nvme_id = cid
        self.args += ["-device", f"nvme,id={cid},serial=keel{slot:02x},addr={slot:#x}"
                      + (f",{props}" if props else "")]
        disks = []
        for i, ns in enumerate(namespaces):
            nsid = ns.get("nsid", i + 1)
            lbs, ms = ns.get("lbs", 512), ns.get("ms", 0)
            path = self._image(ns["size"], fill)
            did = self._drive(path)
            extra = f",logical_block_size={lbs},physical_block_size={lbs}" if lbs != 512 else ""
            extra += f",ms={ms}" if ms else ""
            self.args += ["-device", f"nvme-ns,drive={did},bus={cid},nsid={nsid}{extra}"]
            d = Disk("nvme", path, ns["size"], lbs, served=ms == 0, nsid=nsid)
            d.drive = did
            disks.append(d)
            self.disks.append(d)
        self.nvme_ctrls.append((slot, disks))
        return disks

    def vblk_pci(self, slot, size, props="", lbs=512, ro=False, fill=True):
        path = self._image(size, fill)
        did = self._drive(path, ro)
        extra = f",logical_block_size={lbs},physical_block_size={lbs}" if lbs != 512 else ""
        self.args += ["-device", f"virtio-blk-pci,drive={did},addr={slot:#x}{extra}"
                      + (f",{props}" if props else "")]
        d = Disk("virtio-blk", path, size, lbs, ro, key=(0, slot))
        d.drive = did
        self.disks.append(d)
        return d

    def vblk_mmio(self, size, props="", lbs=512, ro=False, fill=True):
        path = self._image(size, fill)
        did = self._drive(path, ro)
        extra = f",logical_block_size={lbs},physical_block_size={lbs}" if lbs != 512 else ""
        self.args += ["-device", f"virtio-blk-device,drive={did}{extra}"
                      + (f",{props}" if props else "")]
        self.mmio_count += 1
        d = Disk("virtio-blk", path, size, lbs, ro, key=(1, -self.mmio_count))
        d.drive = did
        self.disks.append(d)
        return d

    def vscsi_pci(self, slot, props=""):
        hid = f"scsi{len(self.scsi_hosts)}"
        self.args += ["-device", f"virtio-scsi-pci,id={hid},addr={slot:#x}"
                      + (f",{props}" if props else "")]
        self.scsi_hosts.append((hid, (0, slot)))
        return hid

    def vscsi_mmio(self, props=""):
        hid = f"scsi{len(self.scsi_hosts)}"
        self.args += ["-device", f"virtio-scsi-device,id={hid}" + (f",{props}" if props else "")]
        self.mmio_count += 1
        self.scsi_hosts.append((hid, (1, -self.mmio_count)))
        return hid

    def scsi_hd(self, host, target, lun, size, lbs=512, props="", fill=True):
        path = self._image(size, fill)
        did = self._drive(path)
        extra = f",logical_block_size={lbs},physical_block_size={lbs}" if lbs != 512 else ""
        self.args += ["-device", f"scsi-hd,bus={host}.0,scsi-id={target},lun={lun},drive={did}"
                      + extra + (f",{props}" if props else "")]
        d = Disk("virtio-scsi", path, size, lbs, key=(host, target, lun))
        d.drive = did
        self.disks.append(d)
        return d

    def scsi_cd(self, host, target, lun):
        self.args += ["-device", f"scsi-cd,bus={host}.0,scsi-id={target},lun={lun}"]

    def names(self):
        """Assign the names Keel gives (after every device was added)."""
        for c, (slot, disks) in enumerate(sorted(self.nvme_ctrls, key=lambda x: x[0])):
            for d in disks:
                d.name = f"nvme{c}n{d.nsid}"
        vblk = sorted((d for d in self.disks if d.driver == "virtio-blk"), key=lambda d: d.key)
        for i, d in enumerate(vblk):
            d.name = "vd" + chr(ord("a") + i)
        # virtio-scsi host k (discovery order) names its disks sd<16 k + i>, in (target, LUN) order
        for k, (hid, _) in enumerate(sorted(self.scsi_hosts, key=lambda h: h[1])):
            disks = sorted((d for d in self.disks if d.driver == "virtio-scsi" and d.key[0] == hid),
                           key=lambda d: d.key[1:])
            for i, d in enumerate(disks):
                d.name = f"sd{16 * k + i}"
        return self


def sfdisk(disk, script):
    """Partition `disk`'s image on the host with sfdisk (512-byte blocks) and record the
    partitions `sfdisk --json` reports."""
    expect(disk.lbs == 512, "sfdisk 2.38 writes 512-byte sectors only: use fdisk_gpt")
    subprocess.run(["sfdisk", "-q", "--no-reread", "--no-tell-kernel", disk.image], input=script,
                   text=True, check=True, stdout=subprocess.DEVNULL)
    js = subprocess.run(["sfdisk", "--json", disk.image], text=True, check=True,
                        stdout=subprocess.PIPE).stdout
    table = json.loads(js)["partitiontable"]
    disk.parts = []
    for p in table["partitions"]:
        num = int(re.search(r"(\d+)$", p["node"]).group(1))
        if table["label"] == "dos" and p["type"] in ("5", "f", "85"):
            continue  # the extended container is not a block device
        disk.parts.append((num, p["start"], p["size"]))


def fdisk_gpt(disk, sizes):
    """A GPT in the disk's own block size (sfdisk 2.38 has no --sector-size: fdisk -b does it),
    one partition per size ("+1M", or "" for the rest); the reference is `fdisk -b -l`."""
    cmds = "g\n" + "".join(f"n\n{i + 1}\n\n{sz}\n" for i, sz in enumerate(sizes)) + "w\n"
    fd = ["fdisk", "-b", str(disk.lbs)]
    subprocess.run(fd + [disk.image], input=cmds, text=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listing = subprocess.run(fd + ["-l", "-o", "Device,Start,Sectors", disk.image], text=True,
                             check=True, stdout=subprocess.PIPE).stdout
    disk.parts = []
    for l in listing.splitlines():
        m = re.match(re.escape(disk.image) + r"(\d+)\s+(\d+)\s+(\d+)$", l.strip())
        if m:
            disk.parts.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    expect(len(disk.parts) == len(sizes), f"fdisk made {disk.parts} from {sizes}:\n{listing}")


def part_name(disk_name, num):
    return f"{disk_name}p{num}" if disk_name[-1].isdigit() else f"{disk_name}{num}"


def check_blkinfo(out, storage):
    """Every configured disk and partition listed exactly once with its geometry, nothing else;
    namespaces Keel cannot serve listed as unserved."""
    got = {}
    for r in out.records("blkdev"):
        expect(r["name"] not in got, f"{r['name']} listed twice")
        got[r["name"]] = r
    want = {}
    for d in storage.disks:
        if not d.served:
            continue
        want[d.name] = {"name": d.name, "driver": d.driver, "sectors": str(d.size // d.lbs),
                        "sector_size": str(d.lbs), "ro": "1" if d.ro else "0"}
        for num, start, size in d.parts:
            n = part_name(d.name, num)
            want[n] = {"name": n, "driver": "part", "sectors": str(size),
                       "sector_size": str(d.lbs), "ro": "1" if d.ro else "0",
                       "parent": d.name, "start": str(start)}
    expect(set(got) == set(want),
           f"blkdev names {sorted(got)} differ from the configuration {sorted(want)}")
    for n, w in want.items():
        expect(got[n] == w, f"{n}: listed as {got[n]}, configured as {w}")
    unserved = {r["what"]: r for r in out.records("unserved")}
    for d in storage.disks:
        if not d.served:
            expect(d.name in unserved, f"{d.name} (not servable) is not listed as unserved")
    expect(out.has(rf"^blkinfo devices={len(want)} "), "device count line wrong")


def crc_line(out, dev):
    recs = [r for r in out.records("crc32") if r["dev"] == dev]
    expect(len(recs) == 1, f"expected one crc32 line for {dev}, found {recs}")
    return int(recs[0]["value"], 16)


def check_verify(out, disk, dev, lba, count, before, mode="rw", part_start=0):
    """After QEMU exited: the guest's CRC equals the image's; in rw mode the range changed and
    nothing outside it did; in read mode nothing changed at all."""
    check_pass(out)
    after = open(disk.image, "rb").read()
    off, n = (part_start + lba) * disk.lbs, count * disk.lbs
    expect(len(after) == len(before), "image size changed")
    host = zlib.crc32(after[off:off + n])
    guest = crc_line(out, dev)
    expect(guest == host, f"{dev}: guest CRC 0x{guest:08x}, image CRC 0x{host:08x}")
    if mode == "rw":
        expect(after[off:off + n] != before[off:off + n], f"{dev}: the range was not written")
        expect(after[:off] == before[:off], f"{dev}: bytes before the range changed")
        expect(after[off + n:] == before[off + n:], f"{dev}: bytes after the range changed")
        expect(out.has(r"^pass kind=write ") and out.has(r"^pass kind=read "),
               "no write and read-back passes reported")
    else:
        expect(after == before, f"{dev}: mode=read changed the image")


def check_irq(out, dev, irq, arch):
    """The mode asked for was the one used, and completions arrived by interrupt (none needed a
    rescue poll) or, polled, none arrived by interrupt."""
    r = [x for x in out.records("irqstats") if x["dev"] == dev]
    expect(len(r) == 1, f"no irqstats line for {dev}")
    n = int(r[0]["interrupts"])
    if irq == "poll":
        expect(n == 0, f"{dev}: polled mode took {n} interrupts")
    else:
        expect(n > 0 and r[0]["rescued"] == "0",
               f"{dev}: irq={irq}: {n} interrupts, {r[0]['rescued']} completions only polled")
        # A shared INTx counts once per queue; anything far beyond one per command is a storm.
        # Interrupts that found no cause (a shared line, or a level-triggered line delivered once
        # more after its source went down, which KVM's in-kernel IOAPIC does) are counted apart
        # by the driver: at most one such per real interrupt. NVMe has no such count (its INTx
        # handler visits every queue), so under KVM its bound allows the one re-delivery.
        q = out.records("qstats")
        cmds = sum(int(x.get("submitted", x.get("buffers", "0"))) for x in q)
        spurious = int(r[0].get("spurious", "0"))
        real = n - spurious
        redelivery = 2 if kvm_for(arch) and irq == "intx" and "submitted" in q[0] else 1
        expect(0 < real <= redelivery * len(q) * (cmds + 16),
               f"{dev}: {real} interrupts (+{spurious} spurious) for {cmds} commands: a storm")
        expect(spurious <= real + 16, f"{dev}: {spurious} spurious interrupts for {real} real ones")


def verify(ctx, storage, disk, lba, count, irq="poll", mode="rw", seed=1, part=None,
           extra_append="", opts=(), args=(), allow_trace=()):
    """Run blkverify on `disk` (or its partition number `part`) and check it from the host."""
    dev, start = disk.name, 0
    if part is not None:
        num, start, _ = next(p for p in disk.parts if p[0] == part)
        dev = part_name(disk.name, num)
    before = open(disk.image, "rb").read()
    append = f"dev={dev} lba={lba} count={count} seed={seed} mode={mode} irq={irq} {extra_append}"
    if time_scale(ctx.arch) != 1.0:
        # A slow host delays interrupts as much as everything else: scale the idle time after
        # which blkverify polls once and calls the completion it finds a lost interrupt.
        append += f" rescue_ms={int(200 * time_scale(ctx.arch))}"
    out = ctx.run("blkverify", storage.args + list(args) + ["-append", append.strip()],
                  opts=opts, allow_trace=allow_trace)
    check_verify(out, disk, dev, lba, count, before, mode, start)
    if mode == "rw":
        check_irq(out, dev, irq, ctx.arch)
    return out


def nvme_line(out, ctrl="nvme0"):
    r = [x for x in out.records("nvme") if x["ctrl"] == ctrl]
    expect(len(r) == 1, f"no nvme line for {ctrl}")
    return r[0]


def vblk_line(out, name):
    r = [x for x in out.records("virtio-blk") if x["name"] == name]
    expect(len(r) == 1, f"no virtio-blk line for {name}")
    return r[0]


# ---- Storage scenarios: x86-64 ------------------------------------------------------------------

def x86_storage(ctx):
    """NVMe (three namespaces: 512-byte blocks with GPT, 4096-byte blocks with GPT, one with
    metadata Keel does not serve; MDTS 2, two I/O queue pairs, three MSI-X vectors), a transitional
    virtio-blk with an MBR and logical partitions, a modern-only read-only virtio-blk with
    4096-byte blocks."""
    st = Storage(ctx)
    n1, n2, _ = st.nvme(4, [{"size": 4 << 20}, {"size": 4 << 20, "lbs": 4096},
                            {"size": 1 << 20, "ms": 8}],
                        props="mdts=2,max_ioqpairs=2,msix_qsize=3")
    v0 = st.vblk_pci(5, 3 << 20, props="serial=keelvb0")
    st.vblk_pci(6, 2 << 20, props="disable-legacy=on", lbs=4096, ro=True)
    st.names()
    sfdisk(n1, "label: gpt\n,1M\n,512K\n,\n")
    fdisk_gpt(n2, ["+1M", ""])
    sfdisk(v0, "label: dos\n,512K\n,,E\n,512K\n,512K\n")
    return st


@scenario("qemu_x86_64_blkinfo_lists_namespaces_disks_and_sfdisk_partitions", "x86_64")
def _(ctx):
    st = x86_storage(ctx)
    out = ctx.run("blkinfo", st.args + ["-append", "irq=auto"])
    check_pass(out)
    check_blkinfo(out, st)
    c = nvme_line(out)
    expect(c["mdts"] == "2" and c["ioq"] == "2" and c["sn"] == "keel04",
           f"NVMe controller line does not match the configuration: {c}")
    expect(c["irq"] in ("msix", "intx"), f"irq=auto used no interrupts: {c}")
    ns = {r["name"]: r for r in out.records("nvme-ns")}
    expect(ns["nvme0n2"]["lbads"] == "12" and ns["nvme0n1"]["lbads"] == "9",
           f"namespace LBA sizes wrong: {ns}")
    expect(ns["nvme0n3"]["ms"] == "8" and ns["nvme0n3"]["state"] == "refused",
           f"the metadata namespace is not reported refused: {ns.get('nvme0n3')}")
    inuse = [r for r in out.records("nvme-lbaf") if r["name"] == "nvme0n2" and r["in_use"] == "1"]
    expect(len(inuse) == 1 and inuse[0]["lbads"] == "12", f"in-use LBA format wrong: {inuse}")
    vda, vdb = vblk_line(out, "vda"), vblk_line(out, "vdb")
    expect(vda["serial"] == "keelvb0" and vda["transport"] == "pci-modern",
           f"vda identity wrong: {vda}")
    expect(vdb["blk_size"] == "4096", f"vdb block size wrong: {vdb}")


@scenario("qemu_x86_64_blkverify_nvme_msix_512_and_intx_4k_partition_small_mdts", "x86_64")
def _(ctx):
    st = x86_storage(ctx)
    n1, n2 = st.disks[0], st.disks[1]
    verify(ctx, st, n1, 300, 1800, irq="msix", seed=11, extra_append="qdepth=8")
    verify(ctx, st, n2, 10, 200, irq="intx", seed=12, part=1)


@scenario("qemu_x86_64_qboot_blkverify_nvme_reads_random_bytes_polled", "x86_64")
def _(ctx):
    st = x86_storage(ctx)
    verify(ctx, st, st.disks[0], 1000, 2000, irq="poll", mode="read", opts=["--bios", "qboot"])
    verify(ctx, st, st.disks[0], 0, 64, irq="poll", seed=3, opts=["--bios", "qboot"],
           extra_append="ioq=1")


@scenario("qemu_x86_64_blkverify_virtio_blk_modern_packed_queue16_no_indirect_no_event_idx_msix",
          "x86_64")
def _(ctx):
    st = Storage(ctx)
    d = st.vblk_pci(4, 4 << 20, props="disable-legacy=on,packed=on,queue-size=16,"
                    "indirect_desc=off,event_idx=off")
    st.names()
    out = verify(ctx, st, d, 17, 3000, irq="msix", seed=5)
    expect(out.has(r"^qstats dev=vda queue=0 .* indirect=0$"), "indirect descriptors were used")


@scenario("qemu_x86_64_blkverify_virtio_blk_transitional_legacy_interface_intx", "x86_64")
def _(ctx):
    st = Storage(ctx)
    d = st.vblk_pci(4, 4 << 20, props="queue-size=64")
    st.names()
    verify(ctx, st, d, 5, 2500, irq="intx", seed=6, extra_append="virtio=legacy")
    verify(ctx, st, d, 5, 2500, irq="poll", mode="read", extra_append="virtio=legacy")
    out = ctx.run("blkinfo", st.args + ["-append", "virtio=legacy"])
    check_pass(out)
    expect(vblk_line(out, "vda")["transport"] == "pci-legacy", "the legacy interface was not used")


@scenario("qemu_x86_64_qboot_blkverify_virtio_blk_transitional_modern_split_polled", "x86_64")
def _(ctx):
    st = Storage(ctx)
    d = st.vblk_pci(4, 4 << 20)
    st.names()
    verify(ctx, st, d, 2000, 4000, irq="poll", seed=8, opts=["--bios", "qboot"],
           extra_append="qsize=32 packed=0")


def check_events(out, kind):
    return [r for r in out.records("event") if r["kind"] == kind]


def hotplug_nvme_and_resize(ctx, irq, mmio=False, opts=()):
    """QMP raises NVMe SMART critical warning bit 1 (temperature) and grows a virtio-blk disk by
    2 MiB while the guest waits; it must report the asynchronous event (with the warning read
    from the SMART log) and the new capacity, and read the new last sector."""
    st = Storage(ctx)
    st.nvme(4, [{"size": 1 << 20}])
    nvme_id = st.last_nvme_id
    d = st.vblk_mmio(2 << 20) if mmio else st.vblk_pci(5, 2 << 20)
    st.names()
    new_size = 4 << 20

    def provoke(qmp):
        qmp.execute("qom-set", path=f"/machine/peripheral/{nvme_id}",
                    property="smart_critical_warning", value=2)
        qmp.execute("block_resize", device=d.drive, size=new_size)

    out = ctx.run("hotplug", st.args + ["-append", f"expect=aer,resize wait=20 irq={irq}"],
                  opts=opts, actions=[(r"^hotplug ready ", provoke)])
    check_pass(out)
    aer = check_events(out, "aer")
    expect(len(aer) >= 1 and aer[0]["type"] == "1" and aer[0]["log"] == "0x02",
           f"no SMART/health asynchronous event naming the SMART log: {aer}")
    expect(int(aer[0]["critical_warning"], 16) & 0x2, f"temperature warning not reported: {aer}")
    rs = check_events(out, "resize")
    expect(len(rs) == 1 and rs[0]["dev"] == d.name and rs[0]["sectors"] == str((2 << 20) // 512)
           and rs[0]["new_sectors"] == str(new_size // 512), f"resize not reported right: {rs}")
    expect(out.has(rf"^blkdev name={d.name} driver=virtio-blk sectors={new_size // 512} "),
           "the resized disk is not listed with its new capacity")
    expect(out.has(rf"^readable dev={d.name} lba={new_size // 512 - 1}$"),
           "the new last sector was not read")
    expect(os.path.getsize(d.image) == new_size, "QEMU did not grow the image")


@scenario("qemu_x86_64_hotplug_reports_nvme_smart_warning_and_virtio_blk_resize_msix", "x86_64")
def _(ctx):
    hotplug_nvme_and_resize(ctx, "msix")


@scenario("qemu_x86_64_hotplug_reports_nvme_smart_warning_and_virtio_blk_resize_polled", "x86_64")
def _(ctx):
    hotplug_nvme_and_resize(ctx, "poll", opts=["--bios", "qboot"])


def nvme_cli(ctx, irq):
    """nvme-cli's id-ctrl / id-ns / smart-log / get-feature / list fields against the controller
    the scenario configured (serial, MDTS, namespace sizes and formats, SMART warning, queues)."""
    st = Storage(ctx)
    st.nvme(4, [{"size": 2 << 20}, {"size": 4 << 20, "lbs": 4096}],
            props="mdts=3,max_ioqpairs=3,smart_critical_warning=4")
    st.names()
    out = ctx.run("nvme-cli", st.args + ["-append", f"cmd=all irq={irq}"])
    check_pass(out)
    kv = {}
    for l in out.lines:
        m = re.match(r"^([A-Za-z_ ]+?)\s*: (.*)$", l)
        if m and m.group(1) not in kv:
            kv[m.group(1)] = m.group(2).rstrip()
    for k, v in (("vid", "0x1b36"), ("sn", "keel04"), ("mn", "QEMU NVMe Ctrl"), ("mdts", "3"),
                 ("nn", "256"), ("critical_warning", "4")):
        expect(kv.get(k) == v, f"nvme-cli field {k}: {kv.get(k)!r}, expected {v!r}")
    expect(re.match(r"^\d+ C \(\d+ Kelvin\)$", kv.get("temperature", "")),
           f"temperature line: {kv.get('temperature')!r}")
    expect(out.has(r"^nsze    : 0x1000$") and out.has(r"^nsze    : 0x400$"),
           "id-ns nsze does not match the namespaces (0x1000 x 512 B, 0x400 x 4096 B)")
    expect(out.has(r"^lbaf  0 : ms:0   lbads:9  rp:0 \(in use\)$"), "512 B format not in use")
    expect(out.has(r"^lbaf  4 : ms:0   lbads:12 rp:0 \(in use\)$"), "4 KiB format not in use")
    expect(out.has(r"^get-feature:0x07 \(Number of Queues\), Current value:0x00020002$"),
           "Number of Queues does not say 3 pairs")
    expect(out.has(r"^nvme0n1 +keel04 +QEMU NVMe Ctrl +1 +2\.10 MB /   2\.10 MB +512   B \+ 0 B +"),
           "nvme list line for nvme0n1 wrong")


@scenario("qemu_x86_64_nvme_cli_prints_nvme_cli_fields_matching_the_controller", "x86_64")
def _(ctx):
    nvme_cli(ctx, "msix")


@scenario("qemu_aarch64_nvme_cli_prints_nvme_cli_fields_matching_the_controller_intx", "aarch64")
def _(ctx):
    nvme_cli(ctx, "intx")


def scsi_storage(ctx, mmio=False):
    """One virtio-scsi adapter: a disk at target 0 LUN 0 (with an MBR), a CD-ROM without medium
    at target 1, a disk at LUN 5 of target 2 (no LUN 0 there), a 4096-byte-block disk at LUN 300
    of target 3 (flat-space LUN addressing)."""
    st = Storage(ctx)
    h = st.vscsi_mmio() if mmio else st.vscsi_pci(4, props="num_queues=2,virtqueue_size=64")
    d0 = st.scsi_hd(h, 0, 0, 3 << 20, props="serial=keelsd0")
    st.scsi_cd(h, 1, 0)
    st.scsi_hd(h, 2, 5, 2 << 20)
    st.scsi_hd(h, 3, 300, 2 << 20, lbs=4096)
    st.names()
    sfdisk(d0, "label: dos\n,1M\n,\n")
    return st


def check_scsi_listing(out, st):
    check_blkinfo(out, st)
    luns = {(r["target"], r["lun"]): r for r in out.records("scsi-lun")}
    expect(set(luns) == {("0", "0"), ("1", "0"), ("2", "5"), ("3", "300")},
           f"LUNs listed: {sorted(luns)}")
    expect(luns[("0", "0")]["serial"] == "keelsd0" and luns[("0", "0")]["product"] ==
           "QEMU HARDDISK", f"INQUIRY / serial of 0:0 wrong: {luns[('0', '0')]}")
    cd = luns[("1", "0")]
    expect(cd["type"] == "0x05" and cd["state"] == "no medium" and cd["name"] == "-",
           f"the empty CD-ROM is not listed as such: {cd}")
    expect(luns[("3", "300")]["block_size"] == "4096", "LUN 300 block size wrong")
    expect(any(r["what"] == "scsi0:1:0" for r in out.records("unserved")),
           "the CD-ROM without medium is not listed as unserved")


@scenario("qemu_x86_64_blkinfo_lists_virtio_scsi_targets_sparse_luns_and_empty_cdrom", "x86_64")
def _(ctx):
    st = scsi_storage(ctx)
    out = ctx.run("blkinfo", st.args + ["-append", "irq=auto"])
    check_pass(out)
    check_scsi_listing(out, st)


@scenario("qemu_x86_64_blkverify_virtio_scsi_msix_lun300_intx_partition_polled_read", "x86_64")
def _(ctx):
    st = scsi_storage(ctx)
    sd0, sd1, sd2 = st.disks
    verify(ctx, st, sd2, 1, 400, irq="msix", seed=51)
    verify(ctx, st, sd0, 7, 1500, irq="intx", seed=52, part=2)
    verify(ctx, st, sd1, 100, 3000, irq="poll", mode="read")


def hotplug_scsi(ctx, irq, mmio=False, opts=()):
    """QMP adds a scsi-hd at target 4 while the guest waits, then removes it; the guest must
    report both (the new disk read at its last sector), and the existing disks stay."""
    st = scsi_storage(ctx, mmio)
    img = ctx.image("hot.img", 1 << 20)

    def add(qmp):
        qmp.execute("blockdev-add", **{"node-name": "hot0", "driver": "raw",
                                       "file": {"driver": "file", "filename": img}})
        qmp.execute("device_add", driver="scsi-hd", id="hotdisk", bus="scsi0.0",
                    **{"scsi-id": 4, "lun": 0, "drive": "hot0"})

    def remove(qmp):
        # The guest ends as soon as it has seen the removal, which may be before QEMU's
        # DEVICE_DELETED event: the guest's report is what is checked.
        qmp.execute("device_del", id="hotdisk")

    out = ctx.run("hotplug", st.args + ["-append",
                                        f"expect=scsi-add,scsi-remove wait=30 irq={irq}"],
                  opts=opts, actions=[(r"^hotplug ready ", add),
                                      (r"^readable dev=sd3 ", remove)])
    check_pass(out)
    a, r = check_events(out, "scsi-add"), check_events(out, "scsi-remove")
    expect(len(a) == 1 and a[0]["target"] == "4" and a[0]["lun"] == "0" and a[0]["name"] == "sd3",
           f"hot-plugged disk not reported as sd3 at 4:0: {a}")
    expect(out.has(r"^blkdev name=sd3 driver=virtio-scsi sectors=2048 sector_size=512 "),
           "the hot-plugged disk is not listed with its capacity")
    expect(len(r) == 1 and r[0]["target"] == "4" and r[0]["name"] in ("sd3", "-"),
           f"removal not reported: {r}")


@scenario("qemu_x86_64_hotplug_virtio_scsi_disk_added_and_removed_msix", "x86_64")
def _(ctx):
    hotplug_scsi(ctx, "msix")


@scenario("qemu_x86_64_nvme_error_trace_fails_a_run_unless_allow_listed", "x86_64")
def _(ctx):
    """The harness itself: a command the controller rejects (Get Features of an undefined
    feature) leaves pci_nvme_err_req_status in QEMU's trace. That must fail the run, unless the
    scenario allow-lists it because it provokes the error on purpose."""
    st = Storage(ctx)
    st.nvme(4, [{"size": 1 << 20}])
    st.names()
    args = st.args + ["-append", "cmd=get-feature fid=0x55"]
    try:
        ctx.run("nvme-cli", args)
    except Failure as e:
        expect("pci_nvme_err_req_status" in str(e), f"failed for another reason: {e}")
    else:
        raise Failure("an NVMe error event in QEMU's trace did not fail the run")
    out = ctx.run("nvme-cli", args, allow_trace=("pci_nvme_err_req_status",))
    expect(out.rc == RC_FAIL and out.has(r"^RESULT: FAIL nvme0: get-feature 0x55: "),
           "the rejected Get Features is not reported as the guest's failure")


# ---- Storage scenarios: AArch64 -----------------------------------------------------------------

def arm_storage(ctx, mmio_props=""):
    """NVMe with 512 and 4096-byte namespaces (GPT on the second) and a modern virtio-blk on PCI;
    two virtio-mmio virtio-blk (the second with an MBR)."""
    st = Storage(ctx)
    st.nvme(2, [{"size": 2 << 20}, {"size": 4 << 20, "lbs": 4096}], props="mdts=3,max_ioqpairs=2")
    st.vblk_pci(3, 2 << 20, props="disable-legacy=on,packed=on")
    st.vblk_mmio(2 << 20, props=mmio_props)
    st.vblk_mmio(3 << 20, props=mmio_props)
    st.names()
    fdisk_gpt(st.disks[1], ["+1M", ""])
    sfdisk(st.disks[4], "label: dos\n,1M\n,\n")
    return st


@scenario("qemu_aarch64_blkinfo_lists_nvme_pci_and_mmio_v1_disks_with_partitions", "aarch64")
def _(ctx):
    st = arm_storage(ctx)
    out = ctx.run("blkinfo", st.args + ["-append", "irq=auto"])
    check_pass(out)
    check_blkinfo(out, st)
    for d in st.disks[3:]:
        expect(vblk_line(out, d.name)["transport"] == "mmio-legacy", f"{d.name} not on MMIO v1")
    expect(vblk_line(out, st.disks[2].name)["packed"] == "1", "PCI virtio-blk did not use packed")


@scenario("qemu_aarch64_gicv2m_blkverify_nvme_msix_4k_and_mmio_v1_line", "aarch64")
def _(ctx):
    st = arm_storage(ctx)
    verify(ctx, st, st.disks[1], 3, 500, irq="msix", seed=21, part=2)
    verify(ctx, st, st.disks[3], 1, 3000, irq="intx", seed=22)


@scenario("qemu_aarch64_blkverify_mmio_v2_packed_event_idx_off_small_queue_line", "aarch64")
def _(ctx):
    st = Storage(ctx)
    d = st.vblk_mmio(4 << 20, props="packed=on,event_idx=off,indirect_desc=off")
    st.names()
    out = verify(ctx, st, d, 100, 3000, irq="intx", seed=31, extra_append="qsize=16",
                 args=["-global", "virtio-mmio.force-legacy=false"])
    expect(out.has(r"^qstats dev=vda queue=0 .* indirect=0$"), "indirect descriptors were used")
    verify(ctx, st, d, 100, 3000, irq="poll", mode="read",
           args=["-global", "virtio-mmio.force-legacy=false"])


@scenario("qemu_aarch64_gicv3_blkverify_pci_virtio_blk_and_nvme_intx", "aarch64")
def _(ctx):
    st = Storage(ctx)
    n = st.nvme(2, [{"size": 2 << 20}], props="mdts=1")[0]
    d = st.vblk_pci(3, 4 << 20, props="disable-legacy=on,queue-size=32")
    st.names()
    gic3 = ["--machine", "virt,gic-version=3", "--cpu", "max"]
    verify(ctx, st, d, 0, 2048, irq="intx", seed=41, opts=gic3)
    verify(ctx, st, n, 7, 1000, irq="intx", seed=42, opts=gic3)
    verify(ctx, st, n, 1500, 548, irq="poll", mode="read", opts=gic3)


@scenario("qemu_aarch64_blkinfo_and_blkverify_virtio_scsi_on_mmio_v2_line", "aarch64")
def _(ctx):
    st = scsi_storage(ctx, mmio=True)
    v2 = ["-global", "virtio-mmio.force-legacy=false"]
    out = ctx.run("blkinfo", st.args + v2 + ["-append", "irq=intx"])
    check_pass(out)
    check_scsi_listing(out, st)
    verify(ctx, st, st.disks[2], 2, 300, irq="intx", seed=61, args=v2)


@scenario("qemu_aarch64_hotplug_virtio_scsi_pci_disk_added_and_removed_polled", "aarch64")
def _(ctx):
    hotplug_scsi(ctx, "poll")


@scenario("qemu_aarch64_blkverify_transitional_virtio_blk_legacy_interface_through_io_window",
          "aarch64")
def _(ctx):
    st = Storage(ctx)
    d = st.vblk_pci(3, 4 << 20)
    st.names()
    out = verify(ctx, st, d, 9, 2000, irq="intx", seed=71, extra_append="virtio=legacy")
    expect(out.has(r"^qstats dev=vda "), "no queue statistics")
    out = ctx.run("blkinfo", st.args + ["-append", "virtio=legacy"])
    check_pass(out)
    expect(vblk_line(out, "vda")["transport"] == "pci-legacy", "the legacy interface was not used")


@scenario("qemu_aarch64_hotplug_reports_nvme_smart_warning_and_mmio_resize_polled", "aarch64")
def _(ctx):
    hotplug_nvme_and_resize(ctx, "poll", mmio=True)


@scenario("qemu_aarch64_gicv2m_hotplug_reports_nvme_smart_warning_and_pci_resize_msix", "aarch64")
def _(ctx):
    hotplug_nvme_and_resize(ctx, "msix")


# ---- Driver -------------------------------------------------------------------------------------

def build(arch, build_root):
    for ex in EXAMPLES:
        if not os.path.isdir(os.path.join(ROOT, "examples", ex)):
            print(f"(example {ex} not in this tree: not built)", flush=True)
            continue
        cmd = [QEMU_RUN, "--build-only", "--build-dir", os.path.join(build_root, arch), arch, ex]
        print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        if subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode != 0:
            return 1
    return 0



# ---- blkbench smoke (the measurements themselves are tools/perf-qemu, not tests) ---------------

def null_disk(name, mib=1024):
    return ["-blockdev", f"driver=null-co,node-name={name},size={mib * 1024 * 1024},read-zeroes=on"]


def check_bench(out, dev, ios, queues=1, irq=None):
    """blkbench finished `ios` I/Os without errors, with sane latency lines, per queue."""
    check_pass(out)
    b = [r for r in out.records("bench") if r["dev"] == dev]
    lat = [r for r in out.records("benchlat") if r["dev"] == dev]
    expect(len(b) == 1 and len(lat) == 1, f"no bench/benchlat line for {dev}")
    b, lat = b[0], lat[0]
    # The requests in flight when the count is reached finish too: up to qd - 1 more.
    done = int(b["ios"])
    expect(ios <= done < ios + int(b["qd"]) and int(b["errors"]) == 0 and int(b["iops"]) > 0,
           f"{dev}: bench line wrong: {b}")
    expect(int(lat["lat_min_us"]) <= int(lat["lat_p50_us"]) <= int(lat["lat_p99_us"])
           <= int(lat["lat_max_us"]), f"{dev}: latency figures out of order: {lat}")
    expect(lat["rescued"] == "0", f"{dev}: {lat['rescued']} completions only found by polling")
    if irq == "poll":
        expect(lat["interrupts"] == "0", f"{dev}: polled run took interrupts: {lat}")
    elif irq is not None:
        expect(int(lat["interrupts"]) > 0, f"{dev}: interrupt run saw no interrupt: {lat}")
    qs = out.records("benchq")
    expect(len(qs) == queues and sum(int(q["ios"]) for q in qs) == done and
           all(int(q["ios"]) > 0 for q in qs), f"{dev}: per-queue counts wrong: {qs}")


@scenario("qemu_x86_64_blkbench_nvme_two_queues_polled_and_virtio_blk_scsi_msix", "x86_64")
def _(ctx):
    args = (null_disk("n0") + ["-device", "nvme,serial=bench,drive=n0"] + null_disk("v0") +
            ["-device", "virtio-blk-pci,drive=v0"] + null_disk("s0") +
            ["-device", "virtio-scsi-pci,id=scsi0", "-device", "scsi-hd,bus=scsi0.0,drive=s0"])
    out = ctx.run("blkbench", args + ["-append", "dev=nvme0n1 mode=randread qd=8 ios=2000 "
                                      "queues=2 poll=1"], opts=["--bios", "qboot"])
    check_bench(out, "nvme0n1", 2000, queues=2, irq="poll")
    out = ctx.run("blkbench", args + ["-append", "dev=vda mode=randwrite qd=8 ios=1000 poll=0"],
                  opts=["--bios", "qboot"])
    check_bench(out, "vda", 1000, irq="msix")
    out = ctx.run("blkbench", args + ["-append", "dev=sd0 mode=seqread bs=131072 qd=4 ios=200 "
                                      "poll=0"], opts=["--bios", "qboot"])
    check_bench(out, "sd0", 200, irq="msix")


@scenario("qemu_aarch64_blkbench_virtio_mmio_interrupts_and_nvme_floor", "aarch64")
def _(ctx):
    args = (null_disk("m0") + ["-device", "virtio-blk-device,drive=m0"] + null_disk("n0") +
            ["-device", "nvme,serial=bench,drive=n0"])
    out = ctx.run("blkbench", args + ["-append", "dev=vda mode=randread qd=8 ios=1000 poll=0"])
    check_bench(out, "vda", 1000, irq="line")
    out = ctx.run("blkbench", args + ["-append", "floor=1 mode=randread qd=4 ios=1000"])
    check_pass(out)
    b = out.records("bench")
    expect(len(b) == 1 and b[0].get("driver") == "nvme-floor" and 1000 <= int(b[0]["ios"]) < 1004,
           f"floor probe line wrong: {b}")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", metavar="ARCH")
    ap.add_argument("--build", metavar="ARCH")
    ap.add_argument("--build-root", default=os.path.join(ROOT, "build", "qemu-tests"))
    ap.add_argument("name", nargs="?")
    a = ap.parse_args()
    if a.list:
        print(";".join(n for n, (arch, _) in SCENARIOS.items() if arch == a.list))
        return 0
    if a.build:
        return build(a.build, a.build_root)
    if a.name not in SCENARIOS:
        print(f"unknown scenario {a.name!r}", file=sys.stderr)
        return 2
    arch, fn = SCENARIOS[a.name]
    with tempfile.TemporaryDirectory(prefix="keel-qemu-") as tmp:
        try:
            fn(Ctx(a.build_root, arch, tmp))
        except Failure as e:
            print(f"FAILED {a.name}: {e}", file=sys.stderr)
            return 1
    print(f"passed {a.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
