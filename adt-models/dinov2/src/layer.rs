//! One transformer block (transformers `Dinov2Layer`, the original `Block`):
//! `x += ls1(attn(norm1(x)))`, `x += ls2(ffn(norm2(x)))`.

use adt_models_common::attention::scaled_dot_product;
use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, silu};
use burn::tensor::ops::AttentionModuleOptions;

use crate::config::Dinov2Config;

/// `attention.attention`: the q/k/v projections (separate, as transformers stores
/// them; the original layout's fused `qkv` is split by the loader).
#[derive(Module, Debug)]
pub struct Dinov2SelfAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    #[module(skip)]
    num_heads: usize,
}

/// `attention.output`
#[derive(Module, Debug)]
pub struct Dinov2SelfOutput {
    pub dense: Linear,
}

/// `attention`: multi-head self-attention + output projection.
#[derive(Module, Debug)]
pub struct Dinov2Attention {
    pub attention: Dinov2SelfAttention,
    pub output: Dinov2SelfOutput,
}

impl Dinov2Attention {
    pub fn new(config: &Dinov2Config, device: &Device) -> Self {
        let d = config.hidden_size;
        let qkv = || {
            LinearConfig::new(d, d)
                .with_bias(config.qkv_bias)
                .init(device)
        };
        Self {
            attention: Dinov2SelfAttention {
                query: qkv(),
                key: qkv(),
                value: qkv(),
                num_heads: config.num_attention_heads,
            },
            output: Dinov2SelfOutput {
                dense: LinearConfig::new(d, d).init(device),
            },
        }
    }

    /// `[B, L, D]` → `[B, L, D]`. Uses burn's fused attention op (flash-style
    /// kernels on CPU/GPU in inference; under autodiff burn decomposes it).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, l, d] = x.dims();
        let h = self.attention.num_heads;
        let heads = |t: Tensor<3>| t.reshape([b, l, h, d / h]).swap_dims(1, 2);
        let q = heads(self.attention.query.forward(x.clone()));
        let k = heads(self.attention.key.forward(x.clone()));
        let v = heads(self.attention.value.forward(x));
        let options = AttentionModuleOptions {
            scale: Some(1.0 / ((d / h) as f64).sqrt()),
            softcap: None,
            is_causal: false,
        };
        let ctx = scaled_dot_product(q, k, v, None, None, options); // [B, H, L, Dh]
        let ctx = ctx.swap_dims(1, 2).reshape([b, l, d]);
        self.output.dense.forward(ctx)
    }
}

/// `layer_scale{1,2}`: per-channel scale `lambda1` (`ls{1,2}.gamma` upstream).
#[derive(Module, Debug)]
pub struct Dinov2LayerScale {
    pub lambda1: Param<Tensor<1>>,
}

impl Dinov2LayerScale {
    pub fn new(config: &Dinov2Config, device: &Device) -> Self {
        let t = Tensor::full([config.hidden_size], config.layerscale_value, device);
        Self {
            lambda1: Param::from_tensor(t),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        x * self.lambda1.val().unsqueeze::<3>()
    }
}

/// `mlp` for ViT-S/B/L: `fc2(gelu(fc1(x)))`, exact (erf) GELU.
#[derive(Module, Debug)]
pub struct Dinov2Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

/// `mlp` for ViT-g: `weights_out(silu(a) * b)` with `[a, b] = chunk(weights_in(x), 2)`
/// (`w12` / `w3` upstream).
#[derive(Module, Debug)]
pub struct Dinov2SwiGluFfn {
    pub weights_in: Linear,
    pub weights_out: Linear,
}

/// The block's feed-forward network. Both variants live under the key prefix
/// `mlp.`; the loader's remap table inserts the enum variant name burn uses.
#[derive(Module, Debug)]
pub enum Dinov2Ffn {
    Mlp(Dinov2Mlp),
    SwiGlu(Dinov2SwiGluFfn),
}

impl Dinov2Ffn {
    pub fn new(config: &Dinov2Config, device: &Device) -> Self {
        let d = config.hidden_size;
        let hid = config.ffn_hidden_size();
        if config.use_swiglu_ffn {
            Self::SwiGlu(Dinov2SwiGluFfn {
                weights_in: LinearConfig::new(d, 2 * hid).init(device),
                weights_out: LinearConfig::new(hid, d).init(device),
            })
        } else {
            Self::Mlp(Dinov2Mlp {
                fc1: LinearConfig::new(d, hid).init(device),
                fc2: LinearConfig::new(hid, d).init(device),
            })
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Self::Mlp(m) => m.fc2.forward(gelu(m.fc1.forward(x))),
            Self::SwiGlu(m) => {
                let h = m.weights_in.forward(x);
                let [a, b] = h.chunk(2, 2).try_into().expect("two chunks");
                m.weights_out.forward(silu(a) * b)
            }
        }
    }
}

/// `encoder.layer.N`
#[derive(Module, Debug)]
pub struct Dinov2Layer {
    pub norm1: LayerNorm,
    pub attention: Dinov2Attention,
    pub layer_scale1: Option<Dinov2LayerScale>,
    pub norm2: LayerNorm,
    pub mlp: Dinov2Ffn,
    pub layer_scale2: Option<Dinov2LayerScale>,
}

impl Dinov2Layer {
    pub fn new(config: &Dinov2Config, device: &Device) -> Self {
        let norm = || {
            LayerNormConfig::new(config.hidden_size)
                .with_epsilon(config.layer_norm_eps)
                .init(device)
        };
        let scale = || {
            config
                .layer_scale
                .then(|| Dinov2LayerScale::new(config, device))
        };
        Self {
            norm1: norm(),
            attention: Dinov2Attention::new(config, device),
            layer_scale1: scale(),
            norm2: norm(),
            mlp: Dinov2Ffn::new(config, device),
            layer_scale2: scale(),
        }
    }

    /// `[B, L, D]` → `[B, L, D]` (eval semantics: no dropout / drop path).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let scaled = |ls: &Option<Dinov2LayerScale>, t: Tensor<3>| match ls {
            Some(ls) => ls.forward(t),
            None => t,
        };
        let a = self.attention.forward(self.norm1.forward(x.clone()));
        let x = x + scaled(&self.layer_scale1, a);
        let f = self.mlp.forward(self.norm2.forward(x.clone()));
        x + scaled(&self.layer_scale2, f)
    }
}
