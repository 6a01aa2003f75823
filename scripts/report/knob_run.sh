#!/bin/bash
# One ADT-only run of docs/shapes-report.md's knob tables: the quickstart config with
# `--set` overrides, trained on the quickstart's data, exported, and evaluated on the
# quickstart's DDIM 4/8 cells (2 evaluation seeds, 128 images), which reproduces the
# quickstart's own ADT figures for the same config.
#
# usage: scripts/report/knob_run.sh NAME [--set key=value ...]
#   needs: cargo build --release --bin adt, and runs/quickstart/data from a quickstart run
#   writes: runs/knobs/NAME/{run,export,eval}; eval/eval.md holds the table
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1
shift
dir=runs/knobs/$name
data=$PWD/runs/quickstart/data
[ -f "$data/metadata.jsonl" ] || { echo "no $data: run the quickstart first" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
target/release/adt train --config examples/configs/shapes-quickstart.toml --plain \
  --set "out=\"$PWD/$dir/run\"" --set "data.source.root=\"$data\"" \
  --set 'data.progress="silent"' "$@" > "$dir/train.log" 2>&1
target/release/adt export "$dir/run" --out "$dir/export" > "$dir/export.log" 2>&1
target/release/adt eval --model assets/shapes --unet "$dir/export/unet" \
  --features assets/shapes/dinov2_eval --samplers ddim --steps 4,8 --cfg 1 --seeds 0,1 \
  --n 128 --out "$dir/eval" > "$dir/eval.log" 2>&1
grep -E "^\| ddim" "$dir/eval/eval.md"
