"""The training-memory table of docs/benchmarks.md extrapolated to real SD1.5, SDXL and
SD3-medium sizes (standard library only).

Inputs: the memory benchmark's rows measured on the mid-size UNet
(`bench_models --memory --json`, one JSON object per setting; docs/memory/small-cpu.jsonl)
and the reference implementations' per-component costs (docs/memory/step-costs.json,
written by scripts/report/step_costs.py).

The formula, per setting (precision, checkpointing, LoRA) and step kind:

    graph(size)     = U + V + B (ADT: the G step's adversarial graph — the K = 1 sampler
                      step's UNet pass, the VAE decode, the backbone — the largest one alive;
                      L_diff's UNet graph is recorded after that one is freed) or U (plain),
                      from PyTorch's saved-for-backward bytes with non-fused attention at that
                      size (step_costs.py)
    extras(size)    = 4 B × trainable (f32 gradients) + 2 B × denoiser params (bf16: the
                      step's bf16 copy of the weights)
    frozen          = 4 B × (VAE + DINOv2-S params); with everything bf16 (setting digit 2)
                      6 B × VAE (a bf16 copy beside the f32 one the cache encodes with) and
                      2 B × DINOv2-S
    c               = (measured transient − extras(small)) / graph(small)
    activations     = c × graph(real)
    total           = 4 B × denoiser params (weights) + 8 B × trainable (AdamW moments)
                      + 4 B × trainable (EMA) + frozen + extras(real) + activations

c is burn's activation bytes per byte PyTorch saves, calibrated on the benchmark's own step,
so it carries each setting's effect (bf16, checkpointing, LoRA) from the measured size to the
real one. Text encoders are not counted (ADT trains from the text-embedding cache).

    python3 scripts/report/real_size_memory.py docs/memory/small-cpu.jsonl
"""

import json
import os
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
GB = 1e9
# Parameter counts of our ports (bench_models --memory's second table) and the rank-4 LoRA
# on to_q, to_k, to_v, to_out.0.
DENOISERS = {
    "sd15": ("SD1.5 UNet", 859_520_964, 797_184),
    "sdxl": ("SDXL UNet", 2_567_463_684, 5_806_080),
    "sd3m": ("SD3-medium MMDiT", 2_084_951_104, 1_179_648),
}
CARDS = (24, 48, 80)


def graph(row, adversarial):
    u = row["denoiser_saved_mib"] * 2**20
    if not adversarial:
        return u
    return u + (row["vae_decode_saved_mib"] + row["backbone_saved_mib"]) * 2**20


def extras(params, trainable, bf16):
    return 4 * trainable + (2 * params if bf16 > 0 else 0)


LABELS = (["plain", "ADT"], ["f32", "bf16", "bf16 all"], ["off", "on"], ["off", "r=4"])


def measured_table(rows):
    """The benchmark's own rows as docs/benchmarks.md shows them."""
    print("| step | precision | checkpointing | LoRA | step s | steady MiB | step peak above steady MiB | trainable params | AdamW state MiB |")
    print("|---|:---:|:---:|:---:|---:|---:|---:|---:|---:|")
    for m in rows:
        labels = " | ".join(LABELS[i][int(c)] for i, c in enumerate(m["setting"]))
        if "error" in m:
            print(f"| {labels} | failed: {m['error']} |||||")
            continue
        mib = lambda k: m[k] / 1024
        print(f"| {labels} | {m['step_s']:.2f} | {mib('steady_kb'):.0f} | "
              f"{mib('peak_kb') - mib('steady_kb'):.0f} | {m['trainable']} | {m['trainable'] * 8 / 2**20:.2f} |")
    print()


def main(measured_path):
    costs = json.load(open(os.path.join(ROOT, "docs", "memory", "step-costs.json")))["rows"]
    small = next(r for r in costs if r["scale"] == "small")
    rows = [json.loads(l) for l in open(measured_path) if l.strip()]
    measured_table(rows)
    print("| model | step | precision | checkpointing | LoRA | c | activations 512² GB | total 512² GB | activations 1024² GB | total 1024² GB | fits (512² / 1024²) |")
    print("|---|---|:---:|:---:|:---:|---:|---:|---:|---:|---:|---|")
    for scale, (name, params, lora) in DENOISERS.items():
        for m in rows:
            if "error" in m:
                continue
            adv, ckpt, use_lora = (m["setting"][i] == "1" for i in (0, 2, 3))
            bf16 = int(m["setting"][1])  # 0 f32, 1 the denoiser, 2 VAE and backbone too
            if not adv:
                continue
            transient = (m["peak_kb"] - m["steady_kb"]) * 1024
            c = (transient - extras(m["params"], m["trainable"], bf16)) / graph(small, adv)
            trainable = lora if use_lora else params
            cells, fits = [], []
            for image in (512, 1024):
                real = next(r for r in costs if r["scale"] == scale and r["image"] == image)
                act = c * graph(real, adv)
                # bf16 all: a bf16 copy of the VAE beside the f32 one, the backbone cast.
                frozen = (4 + 2 * (bf16 > 1)) * real["vae_params"] + (4 - 2 * (bf16 > 1)) * real["backbone_params"]
                total = (4 * params + 12 * trainable + frozen
                         + extras(params, trainable, bf16) + act)
                cells += [f"{act / GB:.1f}", f"{total / GB:.1f}"]
                fits.append(next((f"{g} GB" for g in CARDS if total <= g * GB), "none"))
            print(f"| {name} | ADT | {['f32', 'bf16', 'bf16 all'][bf16]} | {'on' if ckpt else 'off'} | "
                  f"{'r=4' if use_lora else 'off'} | {c:.2f} | " + " | ".join(cells)
                  + f" | {' / '.join(fits)} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "memory", "small-cpu.jsonl"))
