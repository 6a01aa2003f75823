#!/usr/bin/env bash
# Real-scale training on the lent GPU (issue 16's device check): one ADT step of the real
# SD1.5 UNet + VAE at 512² and of SDXL's at 1024² (random weights, DINOv2-S at 224²,
# batch 1) with each memory saver — f32/bf16, gradient checkpointing, LoRA r=4 — each
# setting in a fresh process (`bench_models --memory`, see examples/bench_models/memory.rs):
# step time (it/s = 1 / step s), the allocator's reserved GPU memory after the step, the
# peak of `nvidia-smi`'s used memory while the setting ran, and the achieved model TFLOP/s
# (FLOPs from docs/memory/step-costs.json) as a fraction of the GPU's dense peak. Then, where
# the machine has two GPUs or more, the data-parallel run: `adt train --devices 2` against
# `--devices 1` with twice the accumulation (the same global batch), final losses compared.
#
# Expects `.gpu/xz/{bench_models,adt}.xz` (release, `--features wgpu`, stripped, xz) and
# `.gl/*.deb` (Vulkan loader), as scripts/device/README.md describes.
#
#   bash scripts/device/scale.sh [sd15|sdxl|ddp|all]    (default all)
#
# A device call runs at most 600 s: BUDGET (default 540) bounds this invocation, each setting
# gets at most what is left of it, and a setting that no longer fits is a row saying so — run
# the parts as separate calls where all of them do not fit one.
set -uo pipefail
OUT=${OUT:-/tmp/adt-gpu-out}
PART=${1:-all}
BUDGET=${BUDGET:-540}
start=$(date +%s)
# shellcheck source=scripts/device/vulkan.sh
. scripts/device/vulkan.sh
for b in bench_models adt; do unpack "$b"; done
BENCH=.gpu/bin/bench_models

# Dense peak TFLOP/s (f32 CUDA cores, bf16 tensor cores) from NVIDIA's data sheets.
case "$(head -1 "$OUT/gpu.txt")" in
  *H100*PCIe*) PEAK=51,756 ;;
  *H100*|*H200*) PEAK=67,989 ;;
  *) PEAK= ;;
esac

left() { echo $(( start + BUDGET - $(date +%s) )); }

run_scale() { # model image seconds-limit settings...
  local model=$1 image=$2 limit=$3; shift 3
  echo "== $model at ${image}²" | tee -a "$OUT/scale.log"
  for s in "$@"; do
    local t rc peak smi pid
    t=$(left); [ "$t" -lt "$limit" ] || t=$limit
    if [ "$t" -lt 20 ]; then
      echo "{\"setting\":\"$s\",\"scale\":\"$model\",\"error\":\"skipped: BUDGET $BUDGET s spent\"}" | tee -a "$OUT/scale.jsonl"
      continue
    fi
    smi="$OUT/smi-$model-$s.txt"
    # The GPU's used memory every 100 ms while the setting runs.
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$smi" 2>/dev/null &
    pid=$!
    timeout "$t" "$BENCH" --memory --json --device wgpu --memory-model "$model" \
      --memory-image "$image" --memory-batch 1 --memory-only "$s" \
      --memory-flops docs/memory/step-costs.json ${PEAK:+--memory-peak-tflops $PEAK} \
      >>"$OUT/scale.jsonl" 2>>"$OUT/scale.log"
    rc=$?
    kill "$pid" 2>/dev/null
    if [ "$rc" -ne 0 ]; then
      local why="exit $rc"; [ "$rc" -eq 124 ] && why="timeout after $t s"
      echo "{\"setting\":\"$s\",\"scale\":\"$model\",\"error\":\"$why\"}" >>"$OUT/scale.jsonl"
    fi
    peak=$(sort -n "$smi" | tail -1)
    echo "{\"setting\":\"$s\",\"scale\":\"$model\",\"smi_peak_mib\":${peak:-null}}" >>"$OUT/scale-smi.jsonl"
    tail -1 "$OUT/scale.jsonl"
  done
}

# Settings as four digits: adversarial, bf16 (1 the denoiser, 2 everything), checkpointing,
# LoRA — the ADT step with each saver, and the plain step in f32 as the reference.
case "$PART" in sd15|all) run_scale sd15 512 60 0000 1000 1100 1200 1010 1001 1211 ;; esac
case "$PART" in sdxl|all) run_scale sdxl 1024 90 1000 1100 1200 1010 1001 1211 ;; esac

if [ "$PART" = ddp ] || [ "$PART" = all ]; then
  if [ "$(nvidia-smi -L | wc -l)" -ge 2 ]; then
    echo "== data parallel: --devices 2 vs 1" | tee -a "$OUT/scale.log"
    FX=adt-models/sd15/tests/fixtures/tiny_sd15
    common=(--device wgpu --plain --config scripts/device/ddp.toml --set "model.source=\"$PWD/$FX\""
            --set "discriminator.backbone=\"$PWD/adt-models/dinov2/tests/fixtures/tiny\""
            --set "data.source.root=\"$PWD/.gpu/data\"")
    timeout 150 .gpu/bin/adt train "${common[@]}" --devices 2 --set out=\"/tmp/ddp2\" >>"$OUT/ddp.log" 2>&1
    timeout 150 .gpu/bin/adt train "${common[@]}" --devices 1 --set adt.grad_accum=2 --set out=\"/tmp/ddp1\" >>"$OUT/ddp.log" 2>&1
    for n in 1 2; do tail -1 "/tmp/ddp$n/events.jsonl" >"$OUT/ddp$n-last.json" 2>/dev/null; done
  else
    echo "== data parallel: skipped, $(nvidia-smi -L | wc -l) GPU" | tee -a "$OUT/scale.log"
  fi
fi
echo "done in $(( $(date +%s) - start )) s"
