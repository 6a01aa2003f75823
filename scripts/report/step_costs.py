"""Per-component FLOPs and saved-for-backward bytes of one ADT training step, from the
reference implementations (diffusers 0.37.1, transformers 4.57.6) on torch's meta device.

Nothing is computed and nothing is downloaded: the models are built from their published
configs on `torch.device("meta")`, which runs only shape logic, so SDXL at 1024² costs
milliseconds. Two figures per component and size:

- `fwd_gflop`: matmul/conv/attention GFLOP of one forward pass (torch's FlopCounterMode,
  2 FLOP per multiply-add), also for the VAE encoder (the step encodes uncached images);
- `saved_mib`: bytes that autograd keeps for backward (saved_tensors_hooks; parameters and
  repeated saves of one tensor counted once), with the *non-fused* attention of diffusers'
  `AttnProcessor` and transformers' `eager` attention: burn's autodiff materialises the
  attention scores too (its fused attention op falls back to the decomposed one under
  autodiff), so these are the tensors burn keeps, up to a constant factor.

Trainable UNet/MMDiT (parameters require grad); the VAE decoder and DINOv2 are frozen with
the gradient flowing to their input, as in ADT's G step. Written to
`docs/memory/step-costs.json`, which `bench_models --memory --memory-flops` (achieved TFLOP/s
on the GPU) and `scripts/report/real_size_memory.py` (the extrapolated memory table) read.

    .venv/bin/python scripts/report/step_costs.py
"""

import json
import math
import os

import torch
from torch.utils.flop_counter import FlopCounterMode

from diffusers import AutoencoderKL, SD3Transformer2DModel, UNet2DConditionModel
from diffusers.models.attention_processor import AttnProcessor
from transformers import Dinov2Config, Dinov2Model

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "docs", "memory", "step-costs.json")
META = torch.device("meta")

# shared/bench-cases.md's unet_small and vae_small (examples/bench_models/diffusion.rs).
UNET_SMALL = dict(
    sample_size=32, cross_attention_dim=256, attention_head_dim=8,
    block_out_channels=[32, 64, 128, 128], layers_per_block=2,
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
)
VAE_SMALL = dict(
    block_out_channels=[32, 64, 128, 128], latent_channels=4, layers_per_block=2,
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    sample_size=256,
)
# unet/config.json of stable-diffusion-v1-5/stable-diffusion-v1-5 (keys that differ from the
# defaults), as examples/bench_models/memory.rs.
UNET_SD15 = dict(
    sample_size=64, cross_attention_dim=768, attention_head_dim=8,
    block_out_channels=[320, 640, 1280, 1280], layers_per_block=2,
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
)
# unet/config.json of stabilityai/stable-diffusion-xl-base-1.0.
UNET_SDXL = dict(
    sample_size=128, cross_attention_dim=2048, attention_head_dim=[5, 10, 20],
    block_out_channels=[320, 640, 1280], layers_per_block=2,
    transformer_layers_per_block=[1, 2, 10], use_linear_projection=True,
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
)
# vae/config.json of SD1.5 (SDXL's VAE has the same architecture).
VAE_SD = dict(
    block_out_channels=[128, 256, 512, 512], latent_channels=4, layers_per_block=2,
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    sample_size=512,
)
# transformer/ and vae/config.json of stabilityai/stable-diffusion-3-medium-diffusers.
MMDIT_SD3M = dict(
    sample_size=128, patch_size=2, in_channels=16, num_layers=24, attention_head_dim=64,
    num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536,
    pooled_projection_dim=2048, out_channels=16, pos_embed_max_size=192,
)
VAE_SD3 = dict(VAE_SD, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False,
               sample_size=1024)
# DINOv2-S/14 (facebook/dinov2-small), eager attention.
DINO_S = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                      intermediate_size=1536, patch_size=14, image_size=518)


def count(module, make_inputs, trainable):
    """(forward GFLOP, saved-for-backward MiB, parameters) of `module(**inputs)` on the meta
    device."""
    for p in module.parameters():
        p.requires_grad_(trainable)
    params = {p.untyped_storage()._cdata for p in module.parameters()}
    inputs = make_inputs()
    saved = {}

    def pack(t):
        key = t.untyped_storage()._cdata
        if key not in params:
            saved[key] = max(saved.get(key, 0), t.untyped_storage().nbytes())
        return t

    flops = FlopCounterMode(display=False)
    with flops, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(**inputs)
    n = sum(p.numel() for p in module.parameters())
    return flops.get_total_flops() / 1e9, sum(saved.values()) / 2**20, n


def randn(*shape, grad=False):
    return torch.randn(*shape, device=META, requires_grad=grad)


def unet(config, batch, latent, tokens, added=None):
    with META:
        m = UNet2DConditionModel.from_config(config)
    m.set_attn_processor(AttnProcessor())

    def inputs():
        x = dict(sample=randn(batch, 4, latent, latent), timestep=torch.full((batch,), 500, device=META),
                 encoder_hidden_states=randn(batch, tokens, config["cross_attention_dim"]))
        if added:
            x["added_cond_kwargs"] = dict(text_embeds=randn(batch, 1280), time_ids=randn(batch, 6))
        return x

    return count(m, inputs, trainable=True)


def mmdit(config, batch, latent, tokens):
    with META:
        m = SD3Transformer2DModel.from_config(config)
    m.set_attn_processor(_joint_eager())

    def inputs():
        return dict(hidden_states=randn(batch, 16, latent, latent),
                    encoder_hidden_states=randn(batch, tokens, config["joint_attention_dim"]),
                    pooled_projections=randn(batch, config["pooled_projection_dim"]),
                    timestep=torch.full((batch,), 500.0, device=META))

    return count(m, inputs, trainable=True)


def _joint_eager():
    """SD3's joint attention with explicit scores (diffusers' JointAttnProcessor2_0 with SDPA
    replaced by softmax(QKᵀ/√d)V), the form burn's autodiff runs."""
    from diffusers.models.attention_processor import JointAttnProcessor2_0
    import torch.nn.functional as F

    class Eager(JointAttnProcessor2_0):
        def __call__(self, *args, **kwargs):
            orig = F.scaled_dot_product_attention

            def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
                s = (q @ k.transpose(-1, -2)) * (scale or 1 / math.sqrt(q.shape[-1]))
                return s.softmax(-1) @ v

            F.scaled_dot_product_attention = sdpa
            try:
                return super().__call__(*args, **kwargs)
            finally:
                F.scaled_dot_product_attention = orig

    return Eager()


def vae_encode(config, batch, image):
    """GFLOP of the VAE encoder's forward (the step encodes uncached real images, no graph)."""
    with META:
        m = AutoencoderKL.from_config(config)
    m.set_attn_processor(AttnProcessor())

    class Encode(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vae = m

        def forward(self, x):
            return self.vae.encode(x).latent_dist.mean

    flops = FlopCounterMode(display=False)
    with flops, torch.no_grad():
        Encode()(randn(batch, 3, image, image))
    return flops.get_total_flops() / 1e9


def vae_decode(config, batch, latent):
    with META:
        m = AutoencoderKL.from_config(config)
    m.set_attn_processor(AttnProcessor())
    c = config["latent_channels"]

    class Decode(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vae = m

        def forward(self, z):
            return self.vae.decode(z).sample

    return count(Decode(), lambda: dict(z=randn(batch, c, latent, latent, grad=True)), trainable=False)


def dino(batch, side):
    with META:
        m = Dinov2Model(DINO_S)
    m.config._attn_implementation = "eager"
    return count(m, lambda: dict(pixel_values=randn(batch, 3, side, side, grad=True)), trainable=False)


def entry(name, denoiser, vae, backbone, image, batch, backbone_side, encode):
    (uf, us, un), (vf, vs, vn), (bf, bs, bn) = denoiser, vae, backbone
    return dict(scale=name, image=image, batch=batch, backbone_side=backbone_side,
                vae_encode_fwd_gflop=encode,
                denoiser_fwd_gflop=uf, denoiser_saved_mib=us, denoiser_params=un,
                vae_decode_fwd_gflop=vf, vae_decode_saved_mib=vs, vae_params=vn,
                backbone_fwd_gflop=bf, backbone_saved_mib=bs, backbone_params=bn)


def main():
    rows = []
    # The memory benchmark's own step: 128² images (16² latents), batch 2, DINOv2-S at 112².
    rows.append(entry("small", unet(UNET_SMALL, 2, 16, 4), vae_decode(VAE_SMALL, 2, 16),
                      dino(2, 112), 128, 2, 112, vae_encode(VAE_SMALL, 2, 128)))
    for image in (512, 1024):
        lat = image // 8
        enc = vae_encode(VAE_SD, 1, image)
        rows.append(entry("sd15", unet(UNET_SD15, 1, lat, 77), vae_decode(VAE_SD, 1, lat),
                          dino(1, 224), image, 1, 224, enc))
        rows.append(entry("sdxl", unet(UNET_SDXL, 1, lat, 77, added=True), vae_decode(VAE_SD, 1, lat),
                          dino(1, 224), image, 1, 224, enc))
        rows.append(entry("sd3m", mmdit(MMDIT_SD3M, 1, lat, 333), vae_decode(VAE_SD3, 1, lat),
                          dino(1, 224), image, 1, 224, vae_encode(VAE_SD3, 1, image)))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(dict(
            source="scripts/report/step_costs.py (diffusers 0.37.1, transformers 4.57.6, torch meta device)",
            rows=rows), f, indent=1)
        f.write("\n")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
