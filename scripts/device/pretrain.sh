#!/usr/bin/env bash
# Pretrain the shapes models (examples/pretrain_shapes) on the lent GPU, sized to a budget:
#   1. `--probe` times a few steps of every phase at the GPU batch sizes;
#   2. scripts/device/size_pretrain.py turns that into step counts that fit BUDGET seconds;
#   3. the full run writes the pipeline folder, copied to $OUT/shapes with the logs.
# Expects `.gpu/xz/pretrain_shapes.xz` (release build with `--features wgpu`, stripped, xz)
# and `.gl/*.deb` (Vulkan loader), as scripts/device/README.md describes.
set -uo pipefail
OUT=${OUT:-/tmp/adt-gpu-out}
BUDGET=${BUDGET:-380}
POOL=${POOL:-65536}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
mkdir -p .gpu/bin
BIN=.gpu/bin/pretrain_shapes
if [ ! -x "$BIN" ]; then
  python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" \
    .gpu/xz/pretrain_shapes.xz "$BIN" && chmod +x "$BIN"
fi
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
mkdir -p "$OUT/shapes" && cp -r /tmp/shapes/. "$OUT/shapes/" 2>/dev/null
echo "rc $rc, $(( $(date +%s) - start ))s"
exit $rc
