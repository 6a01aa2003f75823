//! transformers `T5EncoderModel`: the token embedding (`shared`) and the encoder stack.
//!
//! ```text
//! shared.weight                                   (or encoder.embed_tokens.weight: tied)
//! encoder.block.N.layer.0.SelfAttention.{q,k,v,o}.weight        (no biases)
//! encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight   (block 0 only;
//!                                                  every block reuses its position bias)
//! encoder.block.N.layer.0.layer_norm.weight       (RMS-style: no mean, no bias)
//! encoder.block.N.layer.1.DenseReluDense.{wi_0,wi_1,wo}.weight  (gated-gelu; relu: wi, wo)
//! encoder.block.N.layer.1.layer_norm.weight
//! encoder.final_layer_norm.weight
//! ```
//!
//! Attention has no 1/√d scale (T5 folds it into the initialisation); softmax runs in f32.

use std::path::{Path, PathBuf};

use adt_models_common::attention::scaled_dot_product;
use adt_models_common::{LoadOptions, ModelSource, load_safetensors_with, load_tensor_map};
use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu_approximate, relu};
use burn::tensor::ops::AttentionModuleOptions;

use crate::config::{FeedForwardKind, T5Config};
use crate::error::T5Error;

/// `T5LayerNorm`: `weight · (x · rsqrt(mean(x²) + eps))`, in transformers' order.
#[derive(Module, Debug)]
pub struct T5LayerNorm {
    pub weight: Param<Tensor<1>>,
    #[module(skip)]
    pub eps: f64,
}

impl T5LayerNorm {
    fn new(dim: usize, eps: f64, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([dim], device)),
            eps,
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let var = x.clone().powi_scalar(2).mean_dim(2);
        let d = self.weight.dims()[0];
        self.weight.val().reshape([1, 1, d]) * (x * (var + self.eps).sqrt().recip())
    }
}

/// T5's self-attention (`T5Attention`, encoder: bidirectional buckets).
#[derive(Module, Debug)]
pub struct T5Attention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    /// `[num_buckets, heads]`, block 0 only.
    pub relative_attention_bias: Option<Embedding>,
    #[module(skip)]
    pub heads: usize,
}

/// `_relative_position_bucket(memory − query, bidirectional=True)`, in torch's f32
/// arithmetic (the logarithmic buckets truncate a float32 product).
pub fn relative_position_bucket(relative: i64, num_buckets: usize, max_distance: usize) -> i64 {
    let half = (num_buckets / 2) as i64;
    let mut bucket = if relative > 0 { half } else { 0 };
    let n = relative.abs();
    let max_exact = half / 2;
    if n < max_exact {
        bucket += n;
    } else {
        // torch: log(n.float() / max_exact) / math.log(max_distance / max_exact) *
        // (num_buckets - max_exact), each op in float32 (the Python scalars become f32).
        let ratio = n as f32 / max_exact as f32;
        let denom = (max_distance as f64 / max_exact as f64).ln() as f32;
        let large = max_exact + (ratio.ln() / denom * (half - max_exact) as f32) as i64;
        bucket += large.min(half - 1);
    }
    bucket
}

impl T5Attention {
    /// `[1, heads, L, L]`: the learned bias of each relative position (block 0).
    fn position_bias(&self, len: usize, config: &T5Config, device: &Device) -> Tensor<4> {
        let table = self
            .relative_attention_bias
            .as_ref()
            .expect("block 0 holds relative_attention_bias");
        let buckets: Vec<i64> = (0..len as i64)
            .flat_map(|q| {
                (0..len as i64).map(move |m| {
                    relative_position_bucket(
                        m - q,
                        config.relative_attention_num_buckets,
                        config.relative_attention_max_distance,
                    )
                })
            })
            .collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(buckets, [1, len * len]), device);
        let bias = table.forward(ids); // [1, L·L, H]
        bias.reshape([len, len, self.heads])
            .permute([2, 0, 1])
            .unsqueeze_dim(0)
    }

    /// `x` `[B, L, d_model]`, `bias` `[B, H, L, L]` (positions + mask) → `[B, L, d_model]`.
    fn forward(&self, x: Tensor<3>, bias: Tensor<4>) -> Tensor<3> {
        let [b, l, _] = x.dims();
        let split = |t: Tensor<3>| {
            let inner = t.dims()[2];
            t.reshape([b, l, self.heads, inner / self.heads])
                .swap_dims(1, 2)
        };
        let q = split(self.q.forward(x.clone()));
        let k = split(self.k.forward(x.clone()));
        let v = split(self.v.forward(x));
        let out = scaled_dot_product(
            q,
            k,
            v,
            None,
            Some(bias),
            AttentionModuleOptions {
                scale: Some(1.0),
                ..Default::default()
            },
        );
        let [_, h, _, d] = out.dims();
        self.o.forward(out.swap_dims(1, 2).reshape([b, l, h * d]))
    }
}

/// `T5LayerSelfAttention`: `x + SelfAttention(layer_norm(x))`.
#[derive(Module, Debug)]
pub struct T5LayerSelfAttention {
    /// `SelfAttention` in the checkpoint (remapped on load).
    pub self_attention: T5Attention,
    pub layer_norm: T5LayerNorm,
}

/// `T5DenseGatedActDense` (`wi_0`, `wi_1`, `wo`) or `T5DenseActDense` (`wi`, `wo`).
#[derive(Module, Debug)]
pub struct T5DenseAct {
    pub wi: Option<Linear>,
    pub wi_0: Option<Linear>,
    pub wi_1: Option<Linear>,
    pub wo: Linear,
}

impl T5DenseAct {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = match (&self.wi, &self.wi_0, &self.wi_1) {
            (_, Some(w0), Some(w1)) => gelu_approximate(w0.forward(x.clone())) * w1.forward(x),
            (Some(wi), _, _) => relu(wi.forward(x)),
            _ => unreachable!("built with one of the two feed-forward forms"),
        };
        self.wo.forward(h)
    }
}

/// `T5LayerFF`: `x + DenseReluDense(layer_norm(x))`.
#[derive(Module, Debug)]
pub struct T5LayerFF {
    /// `DenseReluDense` in the checkpoint (remapped on load).
    pub dense_relu_dense: T5DenseAct,
    pub layer_norm: T5LayerNorm,
}

/// One encoder block: self-attention, then the feed-forward (`layer.0`, `layer.1`).
#[derive(Module, Debug)]
pub struct T5Block {
    pub layer: (T5LayerSelfAttention, T5LayerFF),
}

/// The encoder stack.
#[derive(Module, Debug)]
pub struct T5Stack {
    pub block: Vec<T5Block>,
    pub final_layer_norm: T5LayerNorm,
}

/// Outputs of [`T5EncoderModel::forward`], named as in transformers.
#[derive(Debug, Clone)]
pub struct T5Output {
    /// `[B, L, d_model]` after `final_layer_norm`.
    pub last_hidden_state: Tensor<3>,
    /// The embeddings, then every block's output (before `final_layer_norm`).
    pub hidden_states: Vec<Tensor<3>>,
}

/// transformers `T5EncoderModel`.
#[derive(Module, Debug)]
pub struct T5EncoderModel {
    pub shared: Embedding,
    pub encoder: T5Stack,
    #[module(skip)]
    config: T5Config,
}

/// The renames and ignored keys for a checkpoint with these `keys`: the embedding is
/// `shared.weight`, else (a file that kept only the tied copy) `encoder.embed_tokens.weight`.
fn key_rules(
    keys: &std::collections::BTreeSet<String>,
) -> (Vec<(&'static str, &'static str)>, Vec<&'static str>) {
    let (mut remap, mut ignore) = (REMAP.to_vec(), IGNORED.to_vec());
    if keys.contains("shared.weight") {
        ignore.push(r"^encoder\.embed_tokens\.weight$");
    } else {
        remap.push((r"^encoder\.embed_tokens\.weight$", "shared.weight"));
    }
    (remap, ignore)
}

/// Checkpoint names → module paths.
const REMAP: &[(&str, &str)] = &[
    (r"\.SelfAttention\.", ".self_attention."),
    (r"\.DenseReluDense\.", ".dense_relu_dense."),
];

/// Every block's position bias comes from block 0; other blocks' tables (if a checkpoint
/// kept them) are unused by transformers too.
const IGNORED: &[&str] =
    &[r"^encoder\.block\.[1-9]\d*\.layer\.0\.SelfAttention\.relative_attention_bias\.weight$"];

impl T5EncoderModel {
    /// Randomly initialised model (weights are meant to be loaded next).
    pub fn new(config: &T5Config, device: &Device) -> Result<Self, T5Error> {
        let path = Path::new("<T5Config>");
        config.validate(path)?;
        let ff = config.feed_forward(path)?;
        let lin =
            |din: usize, dout: usize| LinearConfig::new(din, dout).with_bias(false).init(device);
        let inner = config.num_heads * config.d_kv;
        let norm = || T5LayerNorm::new(config.d_model, config.layer_norm_epsilon, device);
        let block = (0..config.num_layers)
            .map(|i| T5Block {
                layer: (
                    T5LayerSelfAttention {
                        self_attention: T5Attention {
                            q: lin(config.d_model, inner),
                            k: lin(config.d_model, inner),
                            v: lin(config.d_model, inner),
                            o: lin(inner, config.d_model),
                            relative_attention_bias: (i == 0).then(|| {
                                EmbeddingConfig::new(
                                    config.relative_attention_num_buckets,
                                    config.num_heads,
                                )
                                .init(device)
                            }),
                            heads: config.num_heads,
                        },
                        layer_norm: norm(),
                    },
                    T5LayerFF {
                        dense_relu_dense: match ff {
                            FeedForwardKind::GatedGelu => T5DenseAct {
                                wi: None,
                                wi_0: Some(lin(config.d_model, config.d_ff)),
                                wi_1: Some(lin(config.d_model, config.d_ff)),
                                wo: lin(config.d_ff, config.d_model),
                            },
                            FeedForwardKind::Relu => T5DenseAct {
                                wi: Some(lin(config.d_model, config.d_ff)),
                                wi_0: None,
                                wi_1: None,
                                wo: lin(config.d_ff, config.d_model),
                            },
                        },
                        layer_norm: norm(),
                    },
                ),
            })
            .collect();
        Ok(Self {
            shared: EmbeddingConfig::new(config.vocab_size, config.d_model).init(device),
            encoder: T5Stack {
                block,
                final_layer_norm: norm(),
            },
            config: config.clone(),
        })
    }

    /// Load `subfolder/config.json` and the weights (`model.safetensors`, its `fp16` variant,
    /// or the shards of `model.safetensors.index.json`) of a transformers folder or a
    /// diffusers pipeline's `text_encoder_3`, upcast to f32. The embedding is read from
    /// `shared.weight` or, when a file has only that, `encoder.embed_tokens.weight`.
    pub fn from_pretrained(
        source: &ModelSource,
        subfolder: &str,
        device: &Device,
    ) -> Result<Self, T5Error> {
        let config = T5Config::from_file(&source.file_in(subfolder, "config.json")?)?;
        // SD3's `text_encoder_3` is sharded.
        let files = source.weight_files(subfolder, "model")?;
        Self::new(&config, device)?.load_weights(&files)
    }

    /// Strictly load transformers-named safetensors `files` into this model.
    pub fn load_weights(self, files: &[PathBuf]) -> Result<Self, T5Error> {
        let mut keys = std::collections::BTreeSet::new();
        for f in files {
            keys.extend(adt_models_common::single_file::keys(f)?);
        }
        let (remap, ignore) = key_rules(&keys);
        Ok(load_safetensors_with(
            self,
            files,
            &LoadOptions {
                remap: &remap,
                ignore_unused: &ignore,
                allow_missing: false,
            },
        )?)
    }

    /// Load the encoder out of a single file that keeps it below `prefix` with
    /// transformers' names — SD3's `text_encoders.t5xxl.transformer.` (f32/f16/bf16, or
    /// the fp8 E4M3/E5M2 of `t5xxl_fp8_e4m3fn.safetensors`, upcast to f32). The file
    /// carries no config: pass the matching one (the release's `text_encoder_3/config.json`).
    pub fn from_single_file(
        path: &Path,
        prefix: &str,
        config: &T5Config,
        device: &Device,
    ) -> Result<Self, T5Error> {
        let model = Self::new(config, device)?;
        let tensors = adt_models_common::single_file::read_below(path, prefix, "T5 encoder")?;
        let keys = tensors.keys().cloned().collect();
        let (remap, ignore) = key_rules(&keys);
        Ok(load_tensor_map(
            model,
            &tensors,
            path,
            &LoadOptions {
                remap: &remap,
                ignore_unused: &ignore,
                allow_missing: false,
            },
        )?)
    }

    /// The config.
    pub fn config(&self) -> &T5Config {
        &self.config
    }

    /// `d_model`: the width of `last_hidden_state`.
    pub fn hidden_size(&self) -> usize {
        self.config.d_model
    }

    /// Encode `input_ids` `[B, L]`; `attention_mask` `[B, L]` (1 = attend, 0 = padding;
    /// `None` attends everywhere, as SD3's pipeline calls it).
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2>>,
    ) -> T5Output {
        let [b, l] = input_ids.dims();
        let device = input_ids.device();
        let mut x = self.shared.forward(input_ids);
        let first = &self.encoder.block[0].layer.0.self_attention;
        let mut bias =
            first
                .position_bias(l, &self.config, &device)
                .expand([b, self.config.num_heads, l, l]);
        if let Some(mask) = attention_mask {
            // transformers: (1 - mask) · finfo(float32).min, added to every block's bias.
            let add = (mask.neg() + 1.0)
                .mul_scalar(f32::MIN)
                .reshape([b, 1, 1, l]);
            bias = bias + add;
        }
        let mut hidden_states = vec![x.clone()];
        for block in &self.encoder.block {
            let (attn, ff) = &block.layer;
            x = x.clone()
                + attn
                    .self_attention
                    .forward(attn.layer_norm.forward(x), bias.clone());
            x = x.clone() + ff.dense_relu_dense.forward(ff.layer_norm.forward(x));
            hidden_states.push(x.clone());
        }
        T5Output {
            last_hidden_state: self.encoder.final_layer_norm.forward(x),
            hidden_states,
        }
    }

    /// [`Self::forward`] with the ids checked against the vocabulary.
    pub fn try_forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2>>,
    ) -> Result<T5Output, T5Error> {
        let ids = input_ids.clone().into_data().convert::<i64>();
        let v = self.config.vocab_size as i64;
        if let Some(bad) = ids.iter::<i64>().find(|&i| i < 0 || i >= v) {
            return Err(T5Error::Input(format!(
                "token id {bad} is outside the vocabulary (vocab_size {v})"
            )));
        }
        if let Some(m) = &attention_mask
            && m.dims() != input_ids.dims()
        {
            return Err(T5Error::Input(format!(
                "attention_mask has shape {:?}, input_ids {:?}",
                m.dims(),
                input_ids.dims()
            )));
        }
        Ok(self.forward(input_ids, attention_mask))
    }
}
