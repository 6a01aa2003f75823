"""PyTorch side of the model benchmarks: the exact cases of shared/bench-cases.md.

Same method and output contract as `examples/bench_models` (float32, 2 threads by default,
random inputs, warm-up first, then the median of repeats lasting at least `--seconds` and at
least 5 runs; with `--json` one object per case per line with `case`, `median_ms`, `min_ms`,
`max_ms`, `runs`, `threads`, `params`, `cpu_ms_per_run`). `scripts/report/bench_side_by_side.sh`
runs it case by case next to ours so that only same-run ratios are reported.

    .venv/bin/python scripts/report/bench_pytorch.py --json [--case NAME,...] [--seconds S]
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch


def unet_model():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        mid_block_type="UNetMidBlock2DCrossAttn",
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        block_out_channels=(32, 64, 128, 128),
        layers_per_block=2,
        transformer_layers_per_block=1,
        attention_head_dim=8,
        cross_attention_dim=256,
        norm_num_groups=32,
        norm_eps=1e-5,
        use_linear_projection=False,
        flip_sin_to_cos=True,
        freq_shift=0,
        act_fn="silu",
        downsample_padding=1,
    )


def unet_inputs():
    return (
        torch.randn(2, 4, 32, 32),
        torch.tensor([999, 499], dtype=torch.int64),
        torch.randn(2, 77, 256),
    )


def unet_fwd():
    model = unet_model().eval()
    sample, t, ctx = unet_inputs()

    def step():
        with torch.no_grad():
            return model(sample, t, encoder_hidden_states=ctx).sample

    return model, step


def unet_fwd_bwd():
    model = unet_model().train()
    sample, t, ctx = unet_inputs()
    target = torch.randn(2, 4, 32, 32)

    def reset():
        model.zero_grad(set_to_none=True)

    def step():
        out = model(sample, t, encoder_hidden_states=ctx).sample
        loss = ((out - target) ** 2).mean()
        loss.backward()
        return loss

    return model, step, reset


def vae_model():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 64, 128, 128),
        layers_per_block=2,
        norm_num_groups=32,
        act_fn="silu",
        sample_size=256,
        scaling_factor=0.18215,
    ).eval()


def vae_params(vae):
    return sum(p.numel() for p in vae.post_quant_conv.parameters()) + sum(
        p.numel() for p in vae.decoder.parameters()
    )


def vae_decode():
    vae = vae_model()
    z = torch.randn(1, 4, 32, 32)

    def step():
        with torch.no_grad():
            return vae.decode(z).sample

    return vae, step


def vae_decode_bwd():
    vae = vae_model().requires_grad_(False)
    z = torch.randn(1, 4, 32, 32)

    def step():
        zz = z.detach().requires_grad_(True)
        vae.decode(zz).sample.mean().backward()
        return zz.grad

    return vae, step


def dinov2_model():
    from transformers import Dinov2Config, Dinov2Model

    config = Dinov2Config(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        mlp_ratio=4,
        hidden_act="gelu",
        use_swiglu_ffn=False,
        patch_size=14,
        image_size=518,
        num_channels=3,
        layerscale_value=1.0,
        layer_norm_eps=1e-6,
        qkv_bias=True,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        drop_path_rate=0.0,
        attn_implementation="sdpa",
    )
    return Dinov2Model(config).eval().requires_grad_(False)


def dinov2_fwd():
    model = dinov2_model()
    x = torch.randn(2, 3, 224, 224)

    def step():
        with torch.no_grad():
            return model(pixel_values=x).last_hidden_state

    return model, step


def dinov2_input_grad():
    model = dinov2_model()
    x = torch.randn(2, 3, 224, 224)

    def step():
        xx = x.detach().requires_grad_(True)
        model(pixel_values=xx).last_hidden_state.mean().backward()
        return xx.grad

    return model, step


def matmul_2048():
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    c = torch.empty(2048, 2048)

    def step():
        return torch.matmul(a, b, out=c)

    return None, step


CASES = {
    "unet_small_fwd": (unet_fwd, 9_084_516),
    "unet_small_fwd_bwd": (unet_fwd_bwd, 9_084_516),
    "vae_small_decode": (vae_decode, 3_104_343),
    "vae_small_decode_bwd": (vae_decode_bwd, 3_104_343),
    "dinov2_s_fwd": (dinov2_fwd, 22_056_576),
    "dinov2_s_input_grad": (dinov2_input_grad, 22_056_576),
    "matmul_2048": (matmul_2048, None),
}


def cpu_ms():
    t = os.times()
    return (t.user + t.system) * 1000.0


def run_case(name, seconds, warmup):
    build, expected = CASES[name]
    built = build()
    model, step = built[0], built[1]
    reset = built[2] if len(built) > 2 else (lambda: None)
    params = None
    if model is not None:
        params = vae_params(model) if name.startswith("vae") else sum(p.numel() for p in model.parameters())
        if params != expected:
            sys.exit(f"{name}: {params} parameters, bench-cases.md says {expected}: the config drifted")
    for _ in range(warmup):
        reset()
        step()
    times = []
    cpu = 0.0
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        reset()
        c0 = cpu_ms()
        t0 = time.perf_counter()
        out = step()
        dt = time.perf_counter() - t0
        cpu += cpu_ms() - c0
        del out
        times.append(dt * 1000.0)
    return {
        "case": name,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "runs": len(times),
        "threads": torch.get_num_threads(),
        "params": params,
        "cpu_ms_per_run": cpu / len(times),
        "torch": torch.__version__,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--case", default="", help="comma list; all when empty")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    names = [c for c in args.case.split(",") if c] or list(CASES)
    for name in names:
        if name not in CASES:
            sys.exit(f"unknown case {name!r}; known: {', '.join(CASES)}")
        row = run_case(name, args.seconds, args.warmup)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(f"{name:24} {row['median_ms']:9.1f} ms  ({row['runs']} runs, "
                  f"{row['cpu_ms_per_run'] / row['median_ms']:.2f} cores)", flush=True)


if __name__ == "__main__":
    main()
