#!/usr/bin/env bash
# Pretrain the shapes models (examples/pretrain_shapes) on the lent GPU, sized to a budget:
#   1. `--probe` times a few steps of every phase at the GPU batch sizes;
#   2. scripts/device/size_pretrain.py turns that into step counts that fit BUDGET seconds;
#   3. the full run writes the pipeline folder, returned as $OUT/shapes.tgz with the logs.
# Expects `.gpu/xz/pretrain_shapes.xz` (release build with `--features wgpu`, stripped, xz)
# and `.gl/*.deb` (Vulkan loader), as scripts/device/README.md describes.
set -uo pipefail
OUT=${OUT:-/tmp/adt-gpu-out}
BUDGET=${BUDGET:-380}
POOL=${POOL:-65536}
# shellcheck source=scripts/device/vulkan.sh
. scripts/device/vulkan.sh
unpack pretrain_shapes
BIN=.gpu/bin/pretrain_shapes
COMMON=(--device wgpu --seed 0 --merges 1000 --vae-batch 64 --unet-batch 256 --vit-batch 256 --unet-lr 1e-3 --pool "$POOL")
start=$(date +%s)
timeout 150 "$BIN" --probe "${COMMON[@]}" >"$OUT/probe.json" 2>"$OUT/probe.log" || { echo "probe failed"; tail -20 "$OUT/probe.log"; exit 1; }
cat "$OUT/probe.json"
used=$(( $(date +%s) - start ))
STEPS=$(python3 scripts/device/size_pretrain.py "$OUT/probe.json" $(( BUDGET - used )) "$POOL" 2>"$OUT/size.log")
cat "$OUT/size.log"; echo "steps: $STEPS" | tee "$OUT/steps.txt"
# shellcheck disable=SC2086
timeout $(( BUDGET - used + 60 )) "$BIN" --out /tmp/shapes "${COMMON[@]}" $STEPS 2>"$OUT/pretrain.log"
rc=$?
tail -30 "$OUT/pretrain.log"
# One archive: a device call returns only a limited number of files.
tar czf "$OUT/shapes.tgz" -C /tmp shapes 2>/dev/null
echo "rc $rc, $(( $(date +%s) - start ))s"
exit $rc
