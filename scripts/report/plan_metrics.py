#!/usr/bin/env python3
"""Per start index s (metric `start_s`) and per graph step (`graph_step`) of ADT runs: how
many steps drew it, and the mean of D's logits on fakes (`d_fake`), D's sign accuracy
(`d_acc`), the adversarial loss (`g_adv`) and the generator's gradient norm (`g_grad_norm`),
over the second half of each run (after D has warmed up). Reads `events.jsonl` files.

usage: scripts/report/plan_metrics.py runs/qs-seed{0,1,2}/adt/events.jsonl
"""
import json
import sys
from collections import defaultdict

KEYS = ["d_fake", "d_acc", "g_adv", "g_grad_norm"]


def table(title, by):
    print(f"\n| {title} | steps | " + " | ".join(KEYS) + " |")
    print("|---:|---:|" + "---:|" * len(KEYS))
    for key in sorted(by):
        rows = by[key]
        means = [sum(r[k] for r in rows) / len(rows) for k in KEYS]
        print(f"| {key} | {len(rows)} | " + " | ".join(f"{m:.3f}" for m in means) + " |")


by_s, by_graph = defaultdict(list), defaultdict(list)
for path in sys.argv[1:]:
    steps = []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e.get("type") == "step" and "start_s" in e["metrics"]:
                steps.append(e["metrics"])
    for m in steps[len(steps) // 2:]:
        if all(k in m for k in KEYS):
            by_s[int(m["start_s"])].append(m)
            if "graph_step" in m:
                by_graph[int(m["graph_step"])].append(m)
if not by_s:
    sys.exit(__doc__)
table("start s", by_s)
table("graph step", by_graph)
