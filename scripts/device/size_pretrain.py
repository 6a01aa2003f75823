#!/usr/bin/env python3
"""Size a `pretrain_shapes` run to a time budget from its `--probe` line.

usage: size_pretrain.py PROBE.json BUDGET_SECONDS POOL
Prints the step flags (`--vae-steps N --unet-steps N --vit-steps N`). Each phase's
fixed cost (kernel compilation, evaluation, the UNet's pool encoding scaled to POOL)
comes off the budget first; the rest is shared by fixed weights and capped.
"""
import json
import sys

probe = json.load(open(sys.argv[1]))
budget = float(sys.argv[2])
pool = int(sys.argv[3])
steps = probe["steps"]
SAMPLING = 30.0  # loading the folder back, 64 DDIM-25 samples with CFG, README
WEIGHTS = {"vae": 0.15, "unet": 0.60, "vit": 0.25}
CAPS = {"vae": 4000, "unet": 20000, "vit": 4000}
FLOORS = {"vae": 400, "unet": 900, "vit": 250}

fixed = SAMPLING
for name in ["vae", "unet", "dinov2_disc", "dinov2_eval"]:
    p = probe[name]
    fixed += p["phase_seconds"] - steps * p["sec_per_step"]
unet = probe["unet"]
fixed += unet["encode_seconds"] / unet["pool"] * (pool - unet["pool"])
left = budget - fixed
per_step = {
    "vae": probe["vae"]["sec_per_step"],
    "unet": probe["unet"]["sec_per_step"],
    "vit": probe["dinov2_disc"]["sec_per_step"] + probe["dinov2_eval"]["sec_per_step"],
}
out = {}
for k, w in WEIGHTS.items():
    n = int(left * w / per_step[k])
    out[k] = max(FLOORS[k], min(CAPS[k], n))
print(
    f"fixed {fixed:.0f}s, {left:.0f}s for steps: {out}, est. {sum(out[k] * per_step[k] for k in out) + fixed:.0f}s",
    file=sys.stderr,
)
print(f"--vae-steps {out['vae']} --unet-steps {out['unet']} --vit-steps {out['vit']}")
