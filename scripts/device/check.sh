#!/usr/bin/env bash
# The GPU check, run on the lent device machine (see scripts/device/README.md):
#   1. `adt forward --device wgpu` on every parity fixture vs the diffusers/transformers
#      references (max-abs ≤ 1e-4 f32, like the CPU tests);
#   2. a short `adt train --device wgpu` run (tiny SD1.5 + tiny DINOv2, 4 ADT steps with a
#      resume in the middle), then `adt sample` on the GPU with the exported UNet;
#   3. the model benchmarks of shared/bench-cases.md on wgpu (if the binary was built).
# Expects release binaries with `--features wgpu` in .gpu/bin and the inputs that
# scripts/device/prepare.py writes to .gpu/; writes logs to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/adt-gpu-out}
# shellcheck source=scripts/device/vulkan.sh
. scripts/device/vulkan.sh
for b in adt bench_models; do unpack "$b"; done
ADT=.gpu/bin/adt
FX=adt-models
status=0

echo "== 1. forward parity on wgpu" | tee "$OUT/forward.log"
fw() { # kind model case
  timeout 120 "$ADT" forward "$1" --device wgpu --model "$2" --inputs ".gpu/harness/$3.in.safetensors" \
    --out "/tmp/$3.out.safetensors" --compare ".gpu/harness/$3.ref.safetensors" --tol 1e-4 \
    >>"$OUT/forward.log" 2>&1 && echo "PASS $3" | tee -a "$OUT/forward.log" \
    || { echo "FAIL $3" | tee -a "$OUT/forward.log"; status=1; }
}
fw unet $FX/diffusion/tests/fixtures/sd15_tiny/unet unet_sd15
fw unet $FX/diffusion/tests/fixtures/sdxl_tiny/unet unet_sdxl
fw vae-encode $FX/diffusion/tests/fixtures/sd15_tiny/vae vae_encode
fw vae-decode $FX/diffusion/tests/fixtures/sd15_tiny/vae vae_decode
fw clip-text $FX/clip/tests/fixtures/text_model clip_text
for c in native larger nonsquare; do fw dinov2 $FX/dinov2/tests/fixtures/tiny dinov2_$c; done

echo "== 2. ADT training on wgpu" | tee "$OUT/train.log"
RUN=/tmp/gpu-run
cat > /tmp/gpu-run.toml <<TOML
out = "$RUN"
[model]
source = "$PWD/$FX/sd15/tests/fixtures/tiny_sd15"
[discriminator]
backbone = "$PWD/$FX/dinov2/tests/fixtures/tiny"
input_size = [20, 20]
[data]
seed = 3
[data.source]
format = "image_folder"
root = "$PWD/.gpu/data"
[data.buckets]
resolution = 32
enabled = false
[adt]
sampler = "ddim"
total_steps = 4
batch_size = 4
bn_group = 2
m = 4
cmap_dim = 8
head_kernel = 3
checkpoint_every = 2
[validation]
every = 2
prompts = ["a red disc", "a blue disc"]
steps = 4
cfg = 3.0
columns = 2
TOML
{ time timeout 200 "$ADT" train --device wgpu --plain --config /tmp/gpu-run.toml --set adt.total_steps=2 \
  && time timeout 150 "$ADT" resume --device wgpu --plain --total-steps 4 "$RUN" \
  && "$ADT" export "$RUN" --out /tmp/gpu-export \
  && time timeout 120 "$ADT" sample "a red disc" "a green disc" --device wgpu --model "$FX/sd15/tests/fixtures/tiny_sd15" \
       --unet /tmp/gpu-export/unet --steps 8 --cfg 4 --batch 2 --out /tmp/gpu-samples; } >>"$OUT/train.log" 2>&1 \
  && echo "PASS train/resume/export/sample" | tee -a "$OUT/train.log" \
  || { echo "FAIL train" | tee -a "$OUT/train.log"; status=1; }
cp "$RUN/events.jsonl" "$OUT/events.jsonl" 2>/dev/null
cp "$RUN/samples/step-000004.png" "$OUT/validation-step4.png" 2>/dev/null

if [ -x .gpu/bin/bench_models ]; then
  echo "== 3. model benchmarks on wgpu" | tee "$OUT/bench.log"
  timeout 240 .gpu/bin/bench_models --device wgpu --json --seconds 3 >"$OUT/bench.jsonl" 2>>"$OUT/bench.log" \
    || echo "bench exited $?" | tee -a "$OUT/bench.log"
fi
echo "status $status"
exit $status
