"""Where the CPU time goes, op by op: `perf` samples of a command, grouped by backend op.

    python3 scripts/report/profile_ops.py [--freq 499] [--top 25] -- CMD [ARGS...]
    python3 scripts/report/profile_ops.py -- target/release/examples/bench_models \\
        --case unet_small_fwd_bwd --seconds 4 --warmup 1

Runs CMD under `perf record --call-graph dwarf` and attributes every sample, on every
thread, to a burn-flex op:
- a sample of the driving thread (its stack passes through burn's tensor API: `main`, or
  the pool thread `adt_plugin::host::run_in_pool` runs the work on) goes to the innermost `<impl ...Ops<Flex> for Flex>::METHOD` frame
  of its stack (`float_matmul`, `conv2d`, `float_exp`, ...), or to the innermost
  `burn_flex::ops::MODULE` function when the op was entered another way; with `bwd:` in
  front when the stack is inside burn-autodiff's backward pass;
- a sample of a helping thread (rayon workers, GEMM threads) goes to its own op module when
  its stack names one, else to the driving thread's latest op, which it is helping with.
Samples in the kernel (page faults of fresh buffers, scheduling) are counted in `kernel %`.

Per op: CPU ms (all threads) per process, its share, and `cores` = CPU samples / the
number of sampling periods in which the op ran on any thread (2.0 = both cores busy
throughout on a 2-core machine). A second table groups the forward pass by model layer
(the innermost `adt_*` frame of the driving thread's stack).
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

OP_FRAME = re.compile(r"<impl [\w:]+::(\w+)<burn_flex::backend::Flex> for burn_flex::backend::Flex>::(\w+)")
FLEX_MOD = re.compile(r"^burn_flex::(?:ops::)?(\w+)::")
LAYER = re.compile(r"^(adt_\w+)::((?:\w+::)*)([A-Z]\w*)::(\w+)")
HEADER = re.compile(r"^\s*\d+/\d+\s+\d")
BACKWARD = "burn_autodiff::runtime::server::AutodiffServer::execute_steps"


def parse(script_output):
    """Yields (pid, tid, time_s, frames, in_kernel) per sample; frames innermost first."""
    pid = tid = None
    t = 0.0
    frames, kernel = [], False
    for line in script_output:
        if not line.strip():
            if pid is not None:
                yield pid, tid, t, frames, kernel
            pid = None
            continue
        if HEADER.match(line):
            head = line.split()
            pid, tid = (int(x) for x in head[0].split("/"))
            t = float(head[1].rstrip(":"))
            frames, kernel = [], False
            continue
        parts = line.strip().split(" ", 1)
        if len(parts) < 2:
            continue
        sym, _, dso = parts[1].rpartition(" (")
        if not frames and "kernel" in dso:
            kernel = True
        frames.append(sym)
    if pid is not None:
        yield pid, tid, t, frames, kernel


HELPERS = {"zip", "simd", "strided_index", "layout", "backend"}


def module_of(frames):
    """The innermost burn-flex op module (`conv`, `binary`, `tensor` copies, ...), if any."""
    for f in frames:
        m = FLEX_MOD.match(f)
        if m and m.group(1) not in HELPERS:
            return m.group(1)
    return None


def method_of(frames):
    for f in frames:
        m = OP_FRAME.search(f)
        if m:
            return m.group(2)
    return None


def op_of(frames):
    """(label, method, backward) of a driving-thread sample."""
    backward = any(BACKWARD in f for f in frames)
    label = module_of(frames)
    if label is None:
        if any(f.startswith("burn_autodiff") for f in frames):
            label = "autodiff (graph bookkeeping)"
        else:
            label = "other (outside backend ops)"
    return label, method_of(frames), backward


def layer_of(frames):
    for f in frames:
        m = LAYER.match(f)
        if m:
            return f"{m.group(1)}::{m.group(3)}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--freq", type=int, default=499, help="samples per second per thread")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--data", help="keep perf's data file here (default: a temporary file)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        sys.exit("give the command to profile after --")
    data = args.data or tempfile.mktemp(suffix=".perf.data")
    subprocess.run(
        ["perf", "record", "-q", "-F", str(args.freq), "--call-graph", "dwarf,32768", "-o", data, "--", *cmd],
        check=True,
        stdout=sys.stderr,
    )
    out = subprocess.run(
        ["perf", "script", "-i", data, "-F", "pid,tid,time,ip,sym,dso"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    if not args.data:
        os.unlink(data)

    period = 1.0 / args.freq
    cpu = collections.Counter()
    kern = collections.Counter()
    slots = collections.defaultdict(set)
    layers = collections.Counter()
    methods = collections.defaultdict(collections.Counter)
    current = {}  # pid -> (label, backward) of the driving thread's latest sample
    total = 0
    t0 = t1 = None
    for pid, tid, t, frames, kernel in parse(out):
        if any(f.startswith(("burn_tensor::", "burn_autodiff::")) for f in frames):
            # The driving thread (main, or the pool thread `adt_plugin::host::run_in_pool`
            # runs the work on): it called the op through burn's tensor API.
            label, method, backward = op_of(frames)
            current[pid] = (label, backward)
            if method:
                methods[("bwd: " if backward else "") + label][method] += 1
            if not backward:
                layer = layer_of(frames)
                if layer:
                    layers[layer] += 1
        else:
            # A helping thread: its own op module when its stack names one (conv's tiles,
            # element-wise chunks), else the op the driving thread is in (GEMM threads).
            main_label, backward = current.get(pid, ("other (outside backend ops)", False))
            label = module_of(frames) or main_label
        label = ("bwd: " if backward else "") + label
        cpu[label] += 1
        kern[label] += kernel
        slots[label].add(int(t / period))
        total += 1
        t0 = t if t0 is None else min(t0, t)
        t1 = t if t1 is None else max(t1, t)

    ms = period * 1000.0
    wall = (t1 - t0) if total else 0.0
    print(f"{total} samples at {args.freq} Hz over {wall:.1f} s wall: {total * period / max(wall, 1e-9):.2f} cores on average")
    print()
    print("| op module | CPU ms | share | cores | kernel % | ops called (share of the module's driving-thread samples) |")
    print("|---|---:|---:|---:|---:|---|")
    for label, n in cpu.most_common(args.top):
        m = methods[label]
        mt = sum(m.values())
        top = ", ".join(f"{k} {100.0 * v / mt:.0f}%" for k, v in m.most_common(4)) if mt else ""
        print(f"| {label} | {n * ms:.0f} | {100.0 * n / total:.1f}% | {n / len(slots[label]):.2f} | {100.0 * kern[label] / n:.0f} | {top} |")
    rest = sum(n for label, n in cpu.most_common()[args.top:])
    if rest:
        print(f"| (other ops) | {rest * ms:.0f} | {100.0 * rest / total:.1f}% | | |")
    if layers:
        print()
        print("Forward pass, the driving thread's samples by model layer (innermost `adt_*` frame):")
        print()
        print("| layer | driving-thread ms | share of its forward samples |")
        print("|---|---:|---:|")
        lt = sum(layers.values())
        for layer, n in layers.most_common(12):
            print(f"| {layer} | {n * ms:.0f} | {100.0 * n / lt:.1f}% |")


if __name__ == "__main__":
    main()
