#!/usr/bin/env python3
"""Merge `adt eval` CSVs of several models into one markdown table and a bar plot.

usage: merge_eval.py OUT_PREFIX NAME=DIR [NAME=DIR ...]
Each DIR holds the `eval.csv` of one `adt eval` run on the same grid; the first NAME is
the baseline the changes are relative to. Writes OUT_PREFIX.md and OUT_PREFIX.png.
"""
import csv
import statistics as st
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

prefix = sys.argv[1]
models = [a.split("=", 1) for a in sys.argv[2:]]
data = OrderedDict()  # (sampler, steps, cfg) -> {name: [fd...]}
for name, d in models:
    with open(f"{d}/eval.csv") as f:
        for row in csv.DictReader(f):
            key = (row["sampler"], int(row["steps"]), row["cfg"])
            data.setdefault(key, {}).setdefault(name, []).append(float(row["fd"]))

names = [n for n, _ in models]
base = names[0]
lines = ["| sampler | steps | CFG | " + " | ".join(f"{n} FD" for n in names) + " | "
         + " | ".join(f"{n} vs {base}" for n in names[1:]) + " |",
         "|---|---:|---:|" + "---:|" * (2 * len(names) - 1)]
for (sampler, steps, cfg), per in data.items():
    cells = []
    for n in names:
        v = per[n]
        cells.append(f"{st.mean(v):.2f} ± {st.stdev(v) if len(v) > 1 else 0:.2f}")
    b = st.mean(per[base])
    changes = [f"{100 * (st.mean(per[n]) / b - 1):+.1f}%" for n in names[1:]]
    lines.append(f"| {sampler} | {steps} | {cfg} | " + " | ".join(cells) + " | " + " | ".join(changes) + " |")
open(prefix + ".md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))

fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(data)), 4))
width = 0.8 / len(names)
for i, n in enumerate(names):
    xs = [k + i * width for k in range(len(data))]
    means = [st.mean(per[n]) for per in data.values()]
    sds = [st.stdev(per[n]) if len(per[n]) > 1 else 0 for per in data.values()]
    ax.bar(xs, means, width * 0.9, yerr=sds, capsize=3, label=n)
ax.set_xticks([k + 0.4 - width / 2 for k in range(len(data))])
ax.set_xticklabels([f"{s} {n}\ncfg {c}" for (s, n, c) in data], fontsize=8)
ax.set_ylabel("Fréchet distance to held-out images")
ax.set_title("FD per sampler and step count (mean ± std over seeds)")
ax.legend()
fig.tight_layout()
fig.savefig(prefix + ".png", dpi=110)
