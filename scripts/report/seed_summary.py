#!/usr/bin/env python3
"""Summarise quickstart runs of several training seeds (their report.csv files): per grid
cell, ADT's and plain fine-tuning's FD change against the base (mean ± sample std over the
training seeds, each seed's change taken on its mean over evaluation seeds) and each model's
attribute accuracy (mean over training and evaluation seeds), as a markdown table.

usage: scripts/report/seed_summary.py runs/qs-seed0/report.csv runs/qs-seed1/report.csv ...
Files without plain rows (e.g. `adt eval` CSVs of base and ADT concatenated by
scripts/report/eval_seeds.sh) leave the plain columns empty.
"""
import csv
import statistics
import sys
from collections import OrderedDict

HEADS = ["kind", "color", "size", "position", "background"]


def load(path):
    cells = OrderedDict()  # (sampler, steps, cfg) -> model -> list of rows
    with open(path) as f:
        for row in csv.DictReader(f):
            key = (row["sampler"], int(row["steps"]), row["cfg"])
            cells.setdefault(key, {}).setdefault(row["model"], []).append(row)
    return cells


def mean(xs):
    return sum(xs) / len(xs)


runs = [load(p) for p in sys.argv[1:]]
if not runs:
    sys.exit(__doc__)
print(f"Training seeds: {len(runs)}; FD change vs base: mean ± std over training seeds; "
      "accuracy: mean over all seeds.\n")
print("| sampler | steps | CFG | base FD | plain vs base | ADT vs base | ADT − plain (FD) | "
      + " | ".join(f"{h} base / ADT" for h in HEADS) + " |")
print("|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(HEADS))
with_plain = all("plain" in cell for run in runs for cell in run.values())
models = ("base", "plain", "adt") if with_plain else ("base", "adt")
for key in runs[0]:
    fd = {m: [mean([float(r["fd"]) for r in run[key][m]]) for run in runs] for m in models}
    change = {m: [100 * (a / b - 1) for a, b in zip(fd[m], fd["base"])] for m in models[1:]}
    sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
    acc = lambda m, h: 100 * mean([float(r[f"acc_{h}"]) for run in runs for r in run[key][m]])
    cols = [f"{acc('base', h):.1f} / {acc('adt', h):.1f}" for h in HEADS]
    if with_plain:
        gap = [a - p for a, p in zip(fd["adt"], fd["plain"])]
        plain = f"{mean(change['plain']):+.1f}% ± {sd(change['plain']):.1f}"
        gap = f"{mean(gap):+.2f} (max {max(gap):+.2f})"
    else:
        plain = gap = "–"
    print(f"| {key[0]} | {key[1]} | {key[2]} | {mean(fd['base']):.2f} | {plain} | "
          f"{mean(change['adt']):+.1f}% ± {sd(change['adt']):.1f} | {gap} | "
          + " | ".join(cols) + " |")
