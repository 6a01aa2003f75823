#!/usr/bin/env python3
"""Where generated colours go wrong (docs/shapes-report.md, "Colour: what moves it").

Loads the shipped pipeline (assets/shapes) in diffusers, optionally with tuned UNets from
`adt export` / the quickstart (`<run>/adt/export/unet`), samples with DDIM at CFG 1, and
  confusions N STEPS NAME=UNET...  reads N uniformly drawn captions' colours with the
                                   evaluation network's colour head: accuracy and confusions
  hue COLOUR N STEPS NAME=UNET...  the mean and spread (over images) of the shape pixels'
                                   colour for N large shapes of COLOUR
UNET `base` is the shipped UNet. Needs the parity env (.venv: torch, diffusers, transformers).
The shipped safetensors carry no `format: pt` metadata, which transformers' from_pretrained
requires, so the text encoder and the DINOv2 network are built from config and loaded here.
"""
import sys

import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel, Dinov2Config, Dinov2Model

ROOT = "assets/shapes"
KINDS = ["circle", "square", "triangle", "ring", "cross", "diamond"]
COLOURS = ["red", "orange", "yellow", "green", "blue", "purple", "white", "black"]
PHRASES = [["at the top left", "at the top", "at the top right"],
           ["on the left", "in the center", "on the right"],
           ["at the bottom left", "at the bottom", "at the bottom right"]]


def caption(rng, colour=None, size=None):
    """A caption in adt_data::ShapeAttributes::caption's format."""
    c = rng.integers(8) if colour is None else COLOURS.index(colour)
    b = rng.integers(7)
    b = b + 1 if b >= c else b
    kind, s, p = KINDS[rng.integers(6)], size or ["small", "large"][rng.integers(2)], rng.integers(9)
    bg = COLOURS[b]
    article = "an" if bg[0] in "aeiou" else "a"
    return c, f"a {s} {COLOURS[c]} {kind} on {article} {bg} background {PHRASES[p // 3][p % 3]}"


def load_strict(model, path):
    missing, unexpected = model.load_state_dict(
        {k.removeprefix("dinov2."): v for k, v in load_file(path).items()}, strict=False)
    # CLIP's position_ids is a buffer, not a weight.
    if [k for k in missing if not k.endswith("position_ids")] or unexpected:
        sys.exit(f"{path}: missing {missing}, unexpected {unexpected}")
    return model.eval()


def pipelines(specs):
    text = load_strict(CLIPTextModel(CLIPTextConfig.from_pretrained(f"{ROOT}/text_encoder")),
                       f"{ROOT}/text_encoder/model.safetensors")
    for spec in specs:
        name, unet = spec.split("=", 1)
        pipe = StableDiffusionPipeline.from_pretrained(
            ROOT, text_encoder=text, safety_checker=None, requires_safety_checker=False)
        if unet != "base":
            pipe.unet = UNet2DConditionModel.from_pretrained(unet)
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        yield name, pipe


def sample(pipe, captions, steps):
    """[N, 3, 32, 32] in [0, 1]; batch i of 64 seeded with i."""
    out = []
    for i in range(0, len(captions), 64):
        g = torch.Generator().manual_seed(i)
        out.append(pipe(captions[i:i + 64], num_inference_steps=steps, guidance_scale=1.0,
                        height=32, width=32, generator=g, output_type="pt").images.float())
    return torch.cat(out)


def confusions(n, steps, specs):
    rng = np.random.default_rng(123)
    asked, captions = zip(*(caption(rng) for _ in range(n)))
    net = load_strict(Dinov2Model(Dinov2Config.from_pretrained(f"{ROOT}/dinov2_eval")),
                      f"{ROOT}/dinov2_eval/model.safetensors")
    heads = load_file(f"{ROOT}/dinov2_eval/heads.safetensors")
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    for name, pipe in pipelines(specs):
        with torch.no_grad():
            feats = net(pixel_values=(sample(pipe, list(captions), steps) - mean) / std).pooler_output
        read = (feats @ heads["color.weight"].T + heads["color.bias"]).argmax(1).numpy()
        errors = {}
        for a, r in zip(asked, read):
            if a != r:
                key = f"{COLOURS[a]}->{COLOURS[r]}"
                errors[key] = errors.get(key, 0) + 1
        accuracy = 100 * np.mean(np.array(asked) == read)
        print(f"{name}: colour {accuracy:.1f}%", sorted(errors.items(), key=lambda e: -e[1]))


def hue(colour, n, steps, specs):
    rng = np.random.default_rng(7)
    captions = [caption(rng, colour, "large")[1] for _ in range(n)]
    for name, pipe in pipelines(specs):
        rows = []
        for x in sample(pipe, captions, steps).permute(0, 2, 3, 1).numpy():
            border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
            # The shape: pixels far (L1 > 0.5) from the border's median colour.
            mask = np.abs(x - np.median(border, 0)).sum(-1) > 0.5
            if mask.sum() >= 4:
                rows.append(255 * x[mask].mean(0))
        rows = np.array(rows)
        print(f"{name}: {colour}, {len(rows)} shapes, mean RGB {rows.mean(0).round(1)}, "
              f"std over images {rows.std(0).round(1)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    if sys.argv[1] == "confusions":
        confusions(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    elif sys.argv[1] == "hue":
        hue(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    else:
        sys.exit(__doc__)
