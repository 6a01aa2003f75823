"""The model cases of shared/bench-cases.md, ours and PyTorch's, side by side in one run.

    cargo build --release --example bench_models
    .venv/bin/python scripts/report/bench_side_by_side.py [--seconds 5] [--rounds 1] [--case A,B]

Case by case, PyTorch (scripts/report/bench_pytorch.py) then ours
(target/release/examples/bench_models), each in its own process with the same method
(2 threads, warm-up, median of repeats over at least `--seconds`), so a ratio compares
two runs minutes apart on the same machine. `--rounds N` repeats the whole sweep and
reports each case's medians over the rounds, with the ratio of every round. Prints a Markdown table; `--json FILE` also
keeps every record.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = [
    "unet_small_fwd",
    "unet_small_fwd_bwd",
    "vae_small_decode",
    "vae_small_decode_bwd",
    "dinov2_s_fwd",
    "dinov2_s_input_grad",
    "matmul_2048",
]


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")][0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--case", default="")
    ap.add_argument("--json", help="write every record here, one per line")
    ap.add_argument("--ours", default=os.path.join(ROOT, "target/release/examples/bench_models"))
    ap.add_argument("--from-json", nargs="+", metavar="FILE", help="tabulate these records (from --json) instead of measuring")
    args = ap.parse_args()
    cases = [c for c in args.case.split(",") if c] or CASES
    records = []
    for path in args.from_json or []:
        with open(path) as f:
            records.extend(json.loads(line) for line in f if line.strip())
    for _ in range(0 if args.from_json else args.rounds):
        for case in cases:
            secs = str(args.seconds)
            torch = run([sys.executable, "scripts/report/bench_pytorch.py", "--json", "--case", case, "--seconds", secs])
            ours = run([args.ours, "--json", "--case", case, "--seconds", secs])
            records.append({"case": case, "pytorch": torch, "ours": ours})
            print(f"{case}: ours {ours['median_ms']:.1f} ms, PyTorch {torch['median_ms']:.1f} ms", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
    print("| case | ours ms | PyTorch ms | ratio (median of rounds) | ratio per round | ours cores | PyTorch cores |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for case in cases:
        rs = [r for r in records if r["case"] == case]
        if not rs:
            continue
        ratios = [r["ours"]["median_ms"] / r["pytorch"]["median_ms"] for r in rs]
        o = statistics.median(r["ours"]["median_ms"] for r in rs)
        t = statistics.median(r["pytorch"]["median_ms"] for r in rs)
        oc = statistics.median(r["ours"]["cpu_ms_per_run"] / r["ours"]["median_ms"] for r in rs)
        tc = statistics.median(r["pytorch"]["cpu_ms_per_run"] / r["pytorch"]["median_ms"] for r in rs)
        per_round = ", ".join(f"{x:.2f}" for x in ratios)
        print(f"| {case} | {o:.0f} | {t:.0f} | {statistics.median(ratios):.2f} | {per_round} | {oc:.2f} | {tc:.2f} |")


if __name__ == "__main__":
    main()
