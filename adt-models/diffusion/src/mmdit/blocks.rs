//! The pieces of the MMDiT (diffusers `attention.py` `JointTransformerBlock`,
//! `attention_processor.py` `JointAttnProcessor2_0`, `normalization.py`
//! `AdaLayerNormZero` / `SD35AdaLayerNormZeroX` / `AdaLayerNormContinuous` / `RMSNorm`).
//! Field names are diffusers' attribute names, so checkpoints load without renaming.

use adt_models_common::attention::scaled_dot_product;
use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation::{gelu_approximate, silu};
use burn::tensor::ops::AttentionModuleOptions;

use crate::attention::{merge_heads, split_heads};
use crate::layers::linear;

/// `nn.LayerNorm(dim, elementwise_affine=False, eps)` over the last axis (biased variance).
pub fn layer_norm_plain(x: Tensor<3>, eps: f64) -> Tensor<3> {
    let mean = x.clone().mean_dim(2);
    let centered = x - mean;
    let var = centered.clone().powi_scalar(2).mean_dim(2);
    centered / (var + eps).sqrt()
}

/// `RMSNorm(dim_head, eps, elementwise_affine=True)` over the last axis, applied to queries
/// and keys per head (SD3.5's `qk_norm = "rms_norm"`).
#[derive(Module, Debug)]
pub struct QkNorm {
    pub weight: Param<Tensor<1>>,
    #[module(skip)]
    pub eps: f64,
}

impl QkNorm {
    pub fn new(dim: usize, eps: f64, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([dim], device)),
            eps,
        }
    }

    /// `[B, H, L, D]` → normed, scaled by `weight`. As diffusers' `RMSNorm`, the variance and
    /// the normalisation run in f32 and the result is cast to the weight's dtype before the
    /// scale (no-ops in f32; with bf16 weights the mean of squares keeps f32 precision).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let weight = self.weight.val();
        let x = x.cast(DType::F32);
        let var = x.clone().powi_scalar(2).mean_dim(3);
        let d = weight.dims()[0];
        let dtype = weight.dtype();
        (x / (var + self.eps).sqrt()).cast(dtype) * weight.reshape([1, 1, 1, d])
    }
}

/// `AdaLayerNormZero` (6 chunks) or `SD35AdaLayerNormZeroX` (9 chunks): `linear(silu(temb))`
/// modulating a non-affine LayerNorm (eps 1e-6).
#[derive(Module, Debug)]
pub struct AdaNormZero {
    pub linear: Linear,
}

/// The modulation `AdaNormZero` returns.
pub struct Modulation {
    /// `norm(x) · (1 + scale_msa) + shift_msa`.
    pub normed: Tensor<3>,
    pub gate_msa: Tensor<2>,
    pub shift_mlp: Tensor<2>,
    pub scale_mlp: Tensor<2>,
    pub gate_mlp: Tensor<2>,
    /// MMDiT-X: `norm(x) · (1 + scale_msa2) + shift_msa2` and its gate, for `attn2`.
    pub second: Option<(Tensor<3>, Tensor<2>)>,
}

/// `t[:, None, :]`.
fn per_token(t: Tensor<2>) -> Tensor<3> {
    t.unsqueeze_dim(1)
}

impl AdaNormZero {
    /// `chunks` is 6 (`AdaLayerNormZero`) or 9 (`SD35AdaLayerNormZeroX`).
    pub fn new(dim: usize, chunks: usize, device: &Device) -> Self {
        Self {
            linear: linear(dim, chunks * dim, true, device),
        }
    }

    pub fn forward(&self, x: Tensor<3>, temb: Tensor<2>) -> Modulation {
        ada_zero(&self.linear, x, temb)
    }
}

/// adaLN-Zero with `linear` (6 or 9 chunks, by its width).
fn ada_zero(linear: &Linear, x: Tensor<3>, temb: Tensor<2>) -> Modulation {
    let emb = linear.forward(silu(temb));
    let d = x.dims()[2];
    let n = emb.dims()[1] / d;
    let mut c: Vec<Tensor<2>> = emb.chunk(n, 1);
    let normed = layer_norm_plain(x, 1e-6);
    let second = (n == 9).then(|| {
        let gate2 = c.pop().expect("9 chunks");
        let scale2 = c.pop().expect("9 chunks");
        let shift2 = c.pop().expect("9 chunks");
        (
            normed.clone() * (per_token(scale2) + 1.0) + per_token(shift2),
            gate2,
        )
    });
    let [
        shift_msa,
        scale_msa,
        gate_msa,
        shift_mlp,
        scale_mlp,
        gate_mlp,
    ]: [Tensor<2>; 6] = c.try_into().expect("6 chunks");
    Modulation {
        normed: normed * (per_token(scale_msa) + 1.0) + per_token(shift_msa),
        gate_msa,
        shift_mlp,
        scale_mlp,
        gate_mlp,
        second,
    }
}

/// `AdaLayerNormContinuous` (`elementwise_affine=False`, eps 1e-6): `linear(silu(temb))`
/// split into `scale, shift` (in that order).
#[derive(Module, Debug)]
pub struct AdaNormContinuous {
    pub linear: Linear,
}

impl AdaNormContinuous {
    pub fn new(dim: usize, device: &Device) -> Self {
        Self {
            linear: linear(dim, 2 * dim, true, device),
        }
    }

    pub fn forward(&self, x: Tensor<3>, temb: Tensor<2>) -> Tensor<3> {
        ada_continuous(&self.linear, x, temb)
    }
}

/// adaLN-Continuous with `linear`.
fn ada_continuous(linear: &Linear, x: Tensor<3>, temb: Tensor<2>) -> Tensor<3> {
    let emb = linear.forward(silu(temb));
    let [scale, shift]: [Tensor<2>; 2] = emb.chunk(2, 1).try_into().expect("2 chunks");
    layer_norm_plain(x, 1e-6) * (per_token(scale) + 1.0) + per_token(shift)
}

/// `GELU(dim, dim_out, approximate="tanh")`: `proj` then the tanh GELU.
#[derive(Module, Debug)]
pub struct GeluProj {
    pub proj: Linear,
}

/// `FeedForward(dim, activation_fn="gelu-approximate")`: `net.0` = GELU projection to
/// `4·dim`, `net.1` = dropout (no weights), `net.2` = output projection.
#[derive(Module, Debug)]
pub struct FeedForward {
    pub net: (GeluProj, Dropout, Linear),
}

impl FeedForward {
    pub fn new(dim: usize, device: &Device) -> Self {
        Self {
            net: (
                GeluProj {
                    proj: linear(dim, 4 * dim, true, device),
                },
                DropoutConfig::new(0.0).init(),
                linear(4 * dim, dim, true, device),
            ),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.net
            .2
            .forward(gelu_approximate(self.net.0.proj.forward(x)))
    }
}

/// diffusers `Attention` with `JointAttnProcessor2_0`: the sample stream's `to_q/k/v`, the
/// context stream's `add_q/k/v_proj` (absent in `attn2`), both attended jointly (sample
/// tokens first), `to_out.0` and `to_add_out` (absent where `context_pre_only`).
#[derive(Module, Debug)]
pub struct JointAttention {
    pub to_q: Linear,
    pub to_k: Linear,
    pub to_v: Linear,
    pub add_q_proj: Option<Linear>,
    pub add_k_proj: Option<Linear>,
    pub add_v_proj: Option<Linear>,
    pub norm_q: Option<QkNorm>,
    pub norm_k: Option<QkNorm>,
    pub norm_added_q: Option<QkNorm>,
    pub norm_added_k: Option<QkNorm>,
    pub to_out: Vec<Linear>,
    pub to_add_out: Option<Linear>,
    #[module(skip)]
    pub heads: usize,
}

impl JointAttention {
    /// `context`: the joint form (`added_kv_proj_dim = dim`); `context_out`: whether the
    /// context stream gets an output projection (`not context_pre_only`).
    pub fn new(
        dim: usize,
        heads: usize,
        head_dim: usize,
        context: bool,
        context_out: bool,
        qk_norm: bool,
        device: &Device,
    ) -> Self {
        let inner = heads * head_dim;
        let lin = |din: usize, dout: usize| linear(din, dout, true, device);
        let norm = |on: bool| on.then(|| QkNorm::new(head_dim, 1e-6, device));
        Self {
            to_q: lin(dim, inner),
            to_k: lin(dim, inner),
            to_v: lin(dim, inner),
            add_q_proj: context.then(|| lin(dim, inner)),
            add_k_proj: context.then(|| lin(dim, inner)),
            add_v_proj: context.then(|| lin(dim, inner)),
            norm_q: norm(qk_norm),
            norm_k: norm(qk_norm),
            norm_added_q: norm(qk_norm && context),
            norm_added_k: norm(qk_norm && context),
            to_out: vec![lin(inner, dim)],
            to_add_out: (context && context_out).then(|| lin(inner, dim)),
            heads,
        }
    }

    fn project(&self, proj: &Linear, norm: &Option<QkNorm>, x: Tensor<3>) -> Tensor<4> {
        let t = split_heads(proj.forward(x), self.heads);
        match norm {
            Some(n) => n.forward(t),
            None => t,
        }
    }

    /// `x` `[B, N, D]` (sample stream), `context` `[B, L, D]` → the sample stream's output and,
    /// when the block keeps its context stream, the context's.
    pub fn forward(
        &self,
        x: Tensor<3>,
        context: Option<Tensor<3>>,
    ) -> (Tensor<3>, Option<Tensor<3>>) {
        let n = x.dims()[1];
        let mut q = self.project(&self.to_q, &self.norm_q, x.clone());
        let mut k = self.project(&self.to_k, &self.norm_k, x.clone());
        let mut v = self.project(&self.to_v, &None, x);
        let joint = match (
            &context,
            &self.add_q_proj,
            &self.add_k_proj,
            &self.add_v_proj,
        ) {
            (Some(c), Some(aq), Some(ak), Some(av)) => {
                let cq = self.project(aq, &self.norm_added_q, c.clone());
                let ck = self.project(ak, &self.norm_added_k, c.clone());
                let cv = self.project(av, &None, c.clone());
                q = Tensor::cat(vec![q, cq], 2);
                k = Tensor::cat(vec![k, ck], 2);
                v = Tensor::cat(vec![v, cv], 2);
                true
            }
            _ => false,
        };
        let out = merge_heads(scaled_dot_product(
            q,
            k,
            v,
            None,
            None,
            AttentionModuleOptions::default(),
        ));
        if !joint {
            return (self.to_out[0].forward(out), None);
        }
        let [b, total, d] = out.dims();
        let sample = out.clone().slice([0..b, 0..n, 0..d]);
        let ctx = out.slice([0..b, n..total, 0..d]);
        let ctx = self.to_add_out.as_ref().map(|p| p.forward(ctx));
        (self.to_out[0].forward(sample), ctx)
    }
}

/// `JointTransformerBlock`: the sample and context streams, each adaLN-modulated, attending
/// jointly; the last block (`context_pre_only`) only reads the context.
#[derive(Module, Debug)]
pub struct JointTransformerBlock {
    pub norm1: AdaNormZero,
    pub norm1_context: ContextNorm,
    pub attn: JointAttention,
    pub attn2: Option<JointAttention>,
    pub ff: FeedForward,
    pub ff_context: Option<FeedForward>,
}

/// The context stream's first norm: adaLN-Zero, or (in the last block, `context_pre_only`)
/// adaLN-Continuous. Both hold one `linear` (6·dim or 2·dim wide), so one struct keeps
/// diffusers' key `norm1_context.linear`.
#[derive(Module, Debug)]
pub struct ContextNorm {
    pub linear: Linear,
    #[module(skip)]
    pub continuous: bool,
}

impl JointTransformerBlock {
    pub fn new(
        dim: usize,
        heads: usize,
        head_dim: usize,
        context_pre_only: bool,
        qk_norm: bool,
        dual_attention: bool,
        device: &Device,
    ) -> Self {
        Self {
            norm1: AdaNormZero::new(dim, if dual_attention { 9 } else { 6 }, device),
            norm1_context: ContextNorm {
                linear: linear(
                    dim,
                    if context_pre_only { 2 } else { 6 } * dim,
                    true,
                    device,
                ),
                continuous: context_pre_only,
            },
            attn: JointAttention::new(
                dim,
                heads,
                head_dim,
                true,
                !context_pre_only,
                qk_norm,
                device,
            ),
            attn2: dual_attention
                .then(|| JointAttention::new(dim, heads, head_dim, false, false, qk_norm, device)),
            ff: FeedForward::new(dim, device),
            ff_context: (!context_pre_only).then(|| FeedForward::new(dim, device)),
        }
    }

    /// `(context, sample)` as diffusers returns them; `context` is `None` after the last block.
    pub fn forward(
        &self,
        x: Tensor<3>,
        context: Tensor<3>,
        temb: Tensor<2>,
    ) -> (Option<Tensor<3>>, Tensor<3>) {
        let m = self.norm1.forward(x.clone(), temb.clone());
        let cn = &self.norm1_context;
        let (norm_context, c_mod) = if cn.continuous {
            (
                ada_continuous(&cn.linear, context.clone(), temb.clone()),
                None,
            )
        } else {
            let c = ada_zero(&cn.linear, context.clone(), temb.clone());
            (c.normed.clone(), Some(c))
        };
        let (attn_out, context_attn_out) = self.attn.forward(m.normed, Some(norm_context));
        let mut x = x + per_token(m.gate_msa) * attn_out;
        if let (Some(attn2), Some((normed2, gate2))) = (&self.attn2, m.second) {
            let (out2, _) = attn2.forward(normed2, None);
            x = x + per_token(gate2) * out2;
        }
        let normed = layer_norm_plain(x.clone(), 1e-6) * (per_token(m.scale_mlp) + 1.0)
            + per_token(m.shift_mlp);
        let x = x + per_token(m.gate_mlp) * self.ff.forward(normed);

        let context = match (c_mod, context_attn_out, &self.ff_context) {
            (Some(c), Some(out), Some(ff)) => {
                let context = context + per_token(c.gate_msa) * out;
                let normed = layer_norm_plain(context.clone(), 1e-6)
                    * (per_token(c.scale_mlp) + 1.0)
                    + per_token(c.shift_mlp);
                Some(context + per_token(c.gate_mlp) * ff.forward(normed))
            }
            _ => None,
        };
        (context, x)
    }
}
