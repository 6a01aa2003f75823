#!/usr/bin/env bash
# Train the shipped shapes UNet + text encoder further on the lent GPU
# (`pretrain_shapes --continue-from assets/shapes`); the new folder comes back as
# $OUT/shapes.tgz with the log. Expects .gpu/xz/pretrain_shapes.xz and .gl/*.deb
# (scripts/device/README.md). STEPS, BATCH, LR, POOL override the defaults; EXTRA adds
# flags (e.g. "--v-zero-snr --unet-seconds 420").
set -uo pipefail
OUT=${OUT:-/tmp/adt-gpu-out}
# shellcheck source=scripts/device/vulkan.sh
. scripts/device/vulkan.sh
unpack pretrain_shapes
BIN=.gpu/bin/pretrain_shapes
"$BIN" --continue-from assets/shapes --out /tmp/shapes-gpu --device wgpu --seed 0 \
  --unet-steps "${STEPS:-650}" --unet-batch "${BATCH:-256}" --unet-lr "${LR:-7e-4}" --pool "${POOL:-65536}" ${EXTRA:-} \
  2>"$OUT/continue.log"
rc=$?
tail -8 "$OUT/continue.log"
tar czf "$OUT/shapes.tgz" -C /tmp shapes-gpu
exit $rc
