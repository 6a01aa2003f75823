#!/bin/bash
# Re-evaluate the ADT exports of several quickstart runs (one per training seed) and the base
# on a larger grid than the quickstart's, then summarise them with seed_summary.py: the
# attribute accuracies of docs/shapes-report.md's "more captions" table.
#
# usage: scripts/report/eval_seeds.sh OUT N RUN [RUN ...]
#   RUN: a quickstart --out folder (its adt/export/unet is evaluated)
#   N:   images per cell and evaluation seed (evaluation seeds 0 and 1; DDIM and DPM++ 2M at
#        4/8/25 steps, CFG 1: the grid of the quickstart's seed runs)
#   needs: cargo build --release --bin adt
#   writes: OUT/base, OUT/<run name>/ (eval.md, eval.csv), OUT/summary.md
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1 n=$2
shift 2
mkdir -p "$out"
grid=(--features assets/shapes/dinov2_eval --samplers ddim,dpmpp-2m --steps 4,8,25 --cfg 1
  --seeds 0,1 --n "$n")
[ -f "$out/base/eval.csv" ] ||
  target/release/adt eval --model assets/shapes "${grid[@]}" --out "$out/base" > "$out/base.log" 2>&1
csvs=()
for run in "$@"; do
  name=$(basename "$run")
  target/release/adt eval --model assets/shapes --unet "$run/adt/export/unet" "${grid[@]}" \
    --out "$out/$name" > "$out/$name.log" 2>&1
  # One file per training seed in report.csv's shape: the base's rows, then ADT's.
  { head -1 "$out/base/eval.csv"
    tail -n +2 "$out/base/eval.csv" | sed 's/^[^,]*,/base,/'
    tail -n +2 "$out/$name/eval.csv" | sed 's/^[^,]*,/adt,/'
  } > "$out/$name.csv"
  csvs+=("$out/$name.csv")
done
python3 scripts/report/seed_summary.py "${csvs[@]}" | tee "$out/summary.md"
