#!/usr/bin/env python3
"""Prepare the GPU check (scripts/device/check.sh) on the development machine.

Writes, under `.gpu/` (git-ignored, carried to the device machine):
  harness/<case>.in.safetensors / <case>.ref.safetensors  inputs under `adt forward`'s
      argument names and the diffusers/transformers reference outputs, from the committed
      parity fixtures;
  data/  a 16-image imagefolder dataset for a short `adt train --device wgpu` run.
Run: .venv/bin/python scripts/device/prepare.py
"""

from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".gpu"
FX = ROOT / "adt-models"


def case(name, io_file, inputs, outputs):
    io = load_file(str(io_file))
    d = OUT / "harness"
    d.mkdir(parents=True, exist_ok=True)
    save_file({to: np.ascontiguousarray(io[src]) for src, to in inputs}, str(d / f"{name}.in.safetensors"))
    save_file({to: np.ascontiguousarray(io[src]) for src, to in outputs}, str(d / f"{name}.ref.safetensors"))


def main():
    dfx = FX / "diffusion/tests/fixtures"
    case("unet_sd15", dfx / "sd15_tiny_unet_io.safetensors",
         [("sample", "sample"), ("timesteps", "timestep"), ("encoder_hidden_states", "encoder_hidden_states")],
         [("out", "sample")])
    case("unet_sdxl", dfx / "sdxl_tiny_unet_io.safetensors",
         [("sample", "sample"), ("timesteps", "timestep"), ("encoder_hidden_states", "encoder_hidden_states"),
          ("text_embeds", "text_embeds"), ("time_ids", "time_ids")],
         [("out", "sample")])
    case("vae_encode", dfx / "sd15_tiny_vae_io.safetensors", [("x", "image")],
         [("posterior.mean", "posterior_mean"), ("posterior.logvar", "posterior_logvar")])
    case("vae_decode", dfx / "sd15_tiny_vae_io.safetensors", [("z", "latents")], [("decoded", "decoded")])
    cio = load_file(str(FX / "clip/tests/fixtures/text_model_io.safetensors"))
    case("clip_text", FX / "clip/tests/fixtures/text_model_io.safetensors", [("input_ids", "input_ids")],
         [(k, k) for k in cio if k != "input_ids"])
    dio = load_file(str(FX / "dinov2/tests/fixtures/tiny/cases.safetensors"))
    for c in ["native", "larger", "nonsquare"]:
        case(f"dinov2_{c}", FX / "dinov2/tests/fixtures/tiny/cases.safetensors",
             [(f"{c}.pixel_values", "pixel_values")],
             [(k, k[len(c) + 1:]) for k in dio if k.startswith(c + ".") and not k.endswith("pixel_values")])

    data = OUT / "data"
    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    colours = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 40)}
    lines = []
    for i in range(16):
        name, rgb = list(colours.items())[i % 4]
        yy, xx = np.mgrid[0:32, 0:32]
        r = 6 + i % 8
        inside = (xx - 16) ** 2 + (yy - 16) ** 2 < r * r
        img = np.where(inside[..., None], np.array(rgb), np.array([240, 240, 240])).astype(np.uint8)
        img = np.clip(img + rng.integers(-8, 8, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(data / f"img{i:02}.png")
        lines.append(f'{{"file_name": "img{i:02}.png", "text": "a {name} disc"}}')
    (data / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
