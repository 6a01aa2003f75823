//! DINOv2 architecture configs: the transformers `config.json` (models `dinov2` and
//! `dinov2_with_registers`), the original repository's `DinoVisionTransformer` kwargs
//! and its published variants, both turned into one [`Dinov2Config`].

use std::path::Path;

use serde::Deserialize;

use crate::Dinov2Error;

/// How the position table is resampled to a new patch grid. The two checkpoint
/// layouts differ here, so the loader picks it from the checkpoint kind:
///
/// | layout | torch call |
/// |---|---|
/// | transformers `Dinov2Model` | `interpolate(size=(h, w), bicubic, antialias=False)` |
/// | transformers `Dinov2WithRegistersModel` | `interpolate(size=(h, w), bicubic, antialias=True)` |
/// | original, `interpolate_offset=0.1` (non-register hub models) | `interpolate(scale_factor=((h+0.1)/M, (w+0.1)/M), bicubic, antialias=False)` |
/// | original registers hub models | `interpolate(size=(h, w), bicubic, antialias=True)` (offset 0) |
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PosInterpolation {
    /// torch's `antialias=` flag (the anti-aliasing bicubic kernel uses a = -0.5 and
    /// renormalised border weights; the plain one a = -0.75 and clamped borders).
    pub antialias: bool,
    /// The original layout's `interpolate_offset`: when non-zero, torch is called
    /// with `scale_factor = (n + offset) / M` (which sets the sampling positions),
    /// otherwise with the output size.
    pub offset: f64,
}

/// Which reference implementation a model follows where they differ in behaviour
/// (besides [`PosInterpolation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// transformers: the patch convolution silently drops a remainder of the image
    /// that is not a multiple of the patch size.
    Transformers,
    /// facebookresearch/dinov2: `PatchEmbed` asserts that the image is a multiple
    /// of the patch size; here that is an [`Dinov2Error::Input`] error.
    Original,
}

/// Everything that defines a DINOv2 ViT (field names follow transformers).
#[derive(Debug, Clone, PartialEq)]
pub struct Dinov2Config {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub mlp_ratio: f64,
    pub patch_size: usize,
    /// Training image size: the position table covers `(image_size / patch_size)²` patches.
    pub image_size: usize,
    pub num_channels: usize,
    pub layer_norm_eps: f64,
    pub qkv_bias: bool,
    /// Layer scale after attention and FFN (always on in transformers and in the
    /// published checkpoints; the original code allows `init_values=None`).
    pub layer_scale: bool,
    pub layerscale_value: f64,
    /// SwiGLU FFN (ViT-g) instead of the GELU MLP.
    pub use_swiglu_ffn: bool,
    pub num_register_tokens: usize,
    pub use_mask_token: bool,
    pub interpolation: PosInterpolation,
    pub layout: Layout,
}

impl Dinov2Config {
    /// Side of the square position grid (37 for the 518-px published models).
    pub fn grid_size(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Width of the FFN hidden layer: `int(hidden * mlp_ratio)`, and for SwiGLU the
    /// upstream `(int(h * 2 / 3) + 7) // 8 * 8` rounding.
    pub fn ffn_hidden_size(&self) -> usize {
        let h = (self.hidden_size as f64 * self.mlp_ratio) as usize;
        if self.use_swiglu_ffn {
            ((h as f64 * 2.0 / 3.0) as usize).div_ceil(8) * 8
        } else {
            h
        }
    }

    /// Tokens before the patch tokens: CLS plus the registers.
    pub fn num_prefix_tokens(&self) -> usize {
        1 + self.num_register_tokens
    }

    /// Check the invariants the model relies on; `origin` names the config in errors.
    pub fn validate(&self, origin: &Path) -> Result<(), Dinov2Error> {
        let bad = |message: String| {
            Err(Dinov2Error::Config {
                path: origin.to_path_buf(),
                message,
            })
        };
        if self.hidden_size == 0 || self.num_hidden_layers == 0 || self.patch_size == 0 {
            return bad("hidden_size, num_hidden_layers and patch_size must be positive".into());
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.image_size < self.patch_size {
            return bad(format!(
                "image_size {} is smaller than patch_size {}",
                self.image_size, self.patch_size
            ));
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.mlp_ratio) || !positive(self.layer_norm_eps) {
            return bad("mlp_ratio and layer_norm_eps must be positive".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// transformers config.json
// ---------------------------------------------------------------------------

fn d_mlp_ratio() -> f64 {
    4.0
}
fn d_gelu() -> String {
    "gelu".into()
}
fn d_eps() -> f64 {
    1e-6
}
fn d_true() -> bool {
    true
}
fn d_one() -> f64 {
    1.0
}
fn d_three() -> usize {
    3
}

/// The fields of transformers' `Dinov2Config` / `Dinov2WithRegistersConfig` that
/// shape the network (others, e.g. `out_features`, `initializer_range`, are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct HfDinov2Config {
    pub model_type: String,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default = "d_mlp_ratio")]
    pub mlp_ratio: f64,
    #[serde(default = "d_gelu")]
    pub hidden_act: String,
    pub image_size: usize,
    pub patch_size: usize,
    #[serde(default = "d_three")]
    pub num_channels: usize,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "d_true")]
    pub qkv_bias: bool,
    #[serde(default = "d_one")]
    pub layerscale_value: f64,
    #[serde(default)]
    pub use_swiglu_ffn: bool,
    #[serde(default)]
    pub num_register_tokens: usize,
    #[serde(default = "d_true")]
    pub use_mask_token: bool,
    /// Dropout and stochastic depth act only in training mode; the backbone is run
    /// frozen, in eval semantics, so any value is accepted and not applied.
    #[serde(default)]
    pub hidden_dropout_prob: f64,
    #[serde(default)]
    pub attention_probs_dropout_prob: f64,
    #[serde(default)]
    pub drop_path_rate: f64,
}

impl HfDinov2Config {
    /// Turn into a [`Dinov2Config`], rejecting what this port does not implement.
    pub fn to_config(&self, origin: &Path) -> Result<Dinov2Config, Dinov2Error> {
        let bad = |message: String| Dinov2Error::Config {
            path: origin.to_path_buf(),
            message,
        };
        let registers = match self.model_type.as_str() {
            "dinov2" => false,
            "dinov2_with_registers" => true,
            other => {
                return Err(bad(format!(
                    "model_type `{other}` is not `dinov2` or `dinov2_with_registers`"
                )));
            }
        };
        if self.hidden_act != "gelu" {
            return Err(bad(format!(
                "hidden_act `{}` is not supported (DINOv2 uses exact `gelu`)",
                self.hidden_act
            )));
        }
        if !registers && self.num_register_tokens != 0 {
            return Err(bad(
                "num_register_tokens is set on a plain `dinov2` model".into()
            ));
        }
        let config = Dinov2Config {
            hidden_size: self.hidden_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            mlp_ratio: self.mlp_ratio,
            patch_size: self.patch_size,
            image_size: self.image_size,
            num_channels: self.num_channels,
            layer_norm_eps: self.layer_norm_eps,
            qkv_bias: self.qkv_bias,
            layer_scale: true,
            layerscale_value: self.layerscale_value,
            use_swiglu_ffn: self.use_swiglu_ffn,
            num_register_tokens: if registers {
                self.num_register_tokens
            } else {
                0
            },
            // Dinov2WithRegistersEmbeddings always owns a mask token.
            use_mask_token: registers || self.use_mask_token,
            interpolation: PosInterpolation {
                antialias: registers,
                offset: 0.0,
            },
            layout: Layout::Transformers,
        };
        config.validate(origin)?;
        Ok(config)
    }
}

// ---------------------------------------------------------------------------
// Original repository (facebookresearch/dinov2)
// ---------------------------------------------------------------------------

fn d_518() -> usize {
    518
}
fn d_14() -> usize {
    14
}
fn d_mlp() -> String {
    "mlp".into()
}
fn d_offset() -> f64 {
    0.1
}
fn d_init_values() -> Option<f64> {
    Some(1.0)
}

/// The `DinoVisionTransformer(...)` keyword arguments that shape the network, as
/// `dinov2/hub/backbones.py::_make_dinov2_model` passes them (its defaults here).
/// Stored next to an original-layout checkpoint as `dinov2_vit.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginalVitConfig {
    #[serde(default = "d_518")]
    pub img_size: usize,
    #[serde(default = "d_14")]
    pub patch_size: usize,
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
    #[serde(default = "d_mlp_ratio")]
    pub mlp_ratio: f64,
    /// Layer-scale init; `None` or 0 means no layer scale (upstream semantics).
    #[serde(default = "d_init_values")]
    pub init_values: Option<f64>,
    /// `mlp`, or `swiglu` / `swiglufused` (same weights, `w12` / `w3`).
    #[serde(default = "d_mlp")]
    pub ffn_layer: String,
    #[serde(default)]
    pub num_register_tokens: usize,
    #[serde(default)]
    pub interpolate_antialias: bool,
    #[serde(default = "d_offset")]
    pub interpolate_offset: f64,
    #[serde(default = "d_true")]
    pub qkv_bias: bool,
    #[serde(default = "d_true")]
    pub proj_bias: bool,
    #[serde(default = "d_true")]
    pub ffn_bias: bool,
    /// Only changes key names (`blocks.<chunk>.<i>.`); the loader accepts both.
    #[serde(default)]
    pub block_chunks: usize,
    #[serde(default)]
    pub drop_path_rate: f64,
}

/// The published hub entry points (`dinov2/hub/backbones.py`).
pub const ORIGINAL_VARIANTS: [&str; 8] = [
    "dinov2_vits14",
    "dinov2_vitb14",
    "dinov2_vitl14",
    "dinov2_vitg14",
    "dinov2_vits14_reg",
    "dinov2_vitb14_reg",
    "dinov2_vitl14_reg",
    "dinov2_vitg14_reg",
];

impl OriginalVitConfig {
    /// The config of a published variant (`dinov2_vits14`, `vitb14_reg`, ...; the
    /// `dinov2_` prefix is optional). Architectures from `vision_transformer.py`
    /// (`vit_small` 384/12/6, `vit_base` 768/12/12, `vit_large` 1024/24/16,
    /// `vit_giant2` 1536/40/24 with SwiGLU); register models use 4 registers,
    /// `interpolate_antialias=True`, `interpolate_offset=0.0`.
    pub fn preset(name: &str) -> Result<Self, Dinov2Error> {
        let short = name.strip_prefix("dinov2_").unwrap_or(name);
        let (arch, reg) = match short.strip_suffix("_reg") {
            Some(a) => (a, true),
            None => (short, false),
        };
        let (embed_dim, depth, num_heads, ffn) = match arch {
            "vits14" => (384, 12, 6, "mlp"),
            "vitb14" => (768, 12, 12, "mlp"),
            "vitl14" => (1024, 24, 16, "mlp"),
            "vitg14" => (1536, 40, 24, "swiglufused"),
            _ => {
                return Err(Dinov2Error::UnknownVariant {
                    name: name.to_string(),
                    known: ORIGINAL_VARIANTS.join(", "),
                });
            }
        };
        Ok(Self {
            img_size: 518,
            patch_size: 14,
            embed_dim,
            depth,
            num_heads,
            mlp_ratio: 4.0,
            init_values: Some(1.0),
            ffn_layer: ffn.into(),
            num_register_tokens: if reg { 4 } else { 0 },
            interpolate_antialias: reg,
            interpolate_offset: if reg { 0.0 } else { 0.1 },
            qkv_bias: true,
            proj_bias: true,
            ffn_bias: true,
            block_chunks: 0,
            drop_path_rate: 0.0,
        })
    }

    /// Turn into a [`Dinov2Config`], rejecting what this port does not implement.
    pub fn to_config(&self, origin: &Path) -> Result<Dinov2Config, Dinov2Error> {
        let bad = |message: String| Dinov2Error::Config {
            path: origin.to_path_buf(),
            message,
        };
        let use_swiglu_ffn = match self.ffn_layer.as_str() {
            "mlp" => false,
            "swiglu" | "swiglufused" => true,
            other => {
                return Err(bad(format!(
                    "ffn_layer `{other}` is not supported (use mlp, swiglu or swiglufused)"
                )));
            }
        };
        if !self.proj_bias || !self.ffn_bias {
            return Err(bad(
                "proj_bias=False / ffn_bias=False are not supported".into()
            ));
        }
        let init = self.init_values.unwrap_or(0.0);
        let config = Dinov2Config {
            hidden_size: self.embed_dim,
            num_hidden_layers: self.depth,
            num_attention_heads: self.num_heads,
            mlp_ratio: self.mlp_ratio,
            patch_size: self.patch_size,
            image_size: self.img_size,
            num_channels: 3,
            // `partial(nn.LayerNorm, eps=1e-6)` in DinoVisionTransformer.
            layer_norm_eps: 1e-6,
            qkv_bias: self.qkv_bias,
            layer_scale: init != 0.0,
            layerscale_value: init,
            use_swiglu_ffn,
            num_register_tokens: self.num_register_tokens,
            use_mask_token: true,
            interpolation: PosInterpolation {
                antialias: self.interpolate_antialias,
                offset: self.interpolate_offset,
            },
            layout: Layout::Original,
        };
        config.validate(origin)?;
        Ok(config)
    }
}
