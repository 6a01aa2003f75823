//! [`Sd3`]: the SD3 / SD3.5 family — the MMDiT on flow matching, the 16-channel VAE with
//! `shift_factor`, CLIP-L + CLIP-G + optional T5 — loaded from a diffusers folder, the
//! Hugging Face cache, or a Stability single file (with or without its text encoders).

use std::path::Path;

use adt_clip::{ClipTextConfig, ClipTextModel, ClipTokenizer};
use adt_family::adapters::{ComponentDenoiser, LatentCodec, MmditDenoiser, VaeCodec};
use adt_family::{Family, FamilyError, Model, ModelIndex, Result, SchedulerFile};
use adt_models_common::ModelSource;
use adt_models_common::single_file as file;
use adt_schedulers::Scheduler;
use adt_t5::{T5Config, T5EncoderModel, T5Tokenizer};
use burn::prelude::*;

use crate::conditioner::{DEFAULT_MAX_SEQUENCE_LENGTH, Sd3Conditioner};
use crate::single_file::{
    CLIP_G_PREFIX, CLIP_L_PREFIX, MMDIT_BLOCKS_PREFIX, T5_PREFIX, has, load_clip_g, load_clip_l,
    load_t5,
};

/// Stable Diffusion 3 and 3.5: `StableDiffusion3Pipeline` checkpoints.
#[derive(Clone, Copy, Debug)]
pub struct Sd3;

/// A loaded SD3 / SD3.5 checkpoint.
pub type Sd3Model = Model<Sd3>;

/// The text encoders and tokenizers, however they were found.
struct Encoders {
    clip_l: ClipTextModel,
    clip_g: ClipTextModel,
    t5: Option<T5EncoderModel>,
}

impl Sd3 {
    /// The pipeline index, checked to be an SD3 one: both CLIP encoders with their tokenizers;
    /// `text_encoder_3` optional but never without `tokenizer_3`.
    fn index(source: &ModelSource) -> Result<ModelIndex> {
        let index = ModelIndex::read_for::<Self>(source)?;
        let wrong = |message: String| FamilyError::WrongFamily {
            path: index.path.clone(),
            message,
        };
        for part in ["text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2"] {
            if !index.has_component(part) {
                return Err(wrong(format!(
                    "an SD3 pipeline needs `{part}` (CLIP ViT-L and OpenCLIP ViT-bigG with \
                     their tokenizers); this index has none"
                )));
            }
        }
        if index.has_component("text_encoder_3") && !index.has_component("tokenizer_3") {
            return Err(wrong(
                "`text_encoder_3` (T5) is present but `tokenizer_3` is missing: T5 cannot be \
                 run without its tokenizer (add `tokenizer_3/tokenizer.json`, or drop \
                 `text_encoder_3` to run with zeros in its place)"
                    .into(),
            ));
        }
        Ok(index)
    }

    /// Assemble the model and check it.
    fn assemble(
        denoiser: MmditDenoiser,
        codec: VaeCodec,
        encoders: Encoders,
        tokenizers: &ModelSource,
        scheduler: SchedulerFile,
        source: String,
    ) -> Result<Model<Self>> {
        let tokenizer_3 = match &encoders.t5 {
            Some(_) => Some(T5Tokenizer::from_pretrained(tokenizers, "tokenizer_3")?),
            None => None,
        };
        let conditioner = Sd3Conditioner {
            text_encoder: encoders.clip_l,
            text_encoder_2: encoders.clip_g,
            text_encoder_3: encoders.t5,
            tokenizer: ClipTokenizer::from_pretrained(tokenizers, "tokenizer")?,
            tokenizer_2: ClipTokenizer::from_pretrained(tokenizers, "tokenizer_2")?,
            tokenizer_3,
            joint_attention_dim: denoiser.joint_attention_dim(),
            max_sequence_length: DEFAULT_MAX_SEQUENCE_LENGTH,
        };
        let model = Model {
            denoiser,
            codec,
            conditioner,
            scheduler,
            source,
        };
        Self::check(&model)?;
        Ok(model)
    }
}

impl Family for Sd3 {
    const NAME: &'static str = "sd3";
    const PIPELINE_CLASSES: &'static [&'static str] = &[
        "StableDiffusion3Pipeline",
        "StableDiffusion3Img2ImgPipeline",
    ];
    const SINGLE_FILE_MARK: &'static str = MMDIT_BLOCKS_PREFIX;
    const CONFIG_REPO: &'static str = "stabilityai/stable-diffusion-3-medium-diffusers";
    type Denoiser = MmditDenoiser;
    type Codec = VaeCodec;
    type Conditioner = Sd3Conditioner;

    /// Load a diffusers SD3 / SD3.5 folder or hub repo (`transformer/`, `vae/`,
    /// `text_encoder{,_2,_3}/`, `tokenizer{,_2,_3}/`, `scheduler/`; `text_encoder_3` may be
    /// absent), each component upcast to f32 (T5 may be sharded).
    fn from_pretrained(source: &ModelSource, device: &Device) -> Result<Model<Self>> {
        let index = Self::index(source)?;
        let scheduler = SchedulerFile::of_pipeline(source)?;
        let t5 = if index.has_component("text_encoder_3") {
            Some(T5EncoderModel::from_pretrained(
                source,
                "text_encoder_3",
                device,
            )?)
        } else {
            None
        };
        let encoders = Encoders {
            clip_l: ClipTextModel::from_pretrained(source, "text_encoder", device)?,
            clip_g: ClipTextModel::from_pretrained(source, "text_encoder_2", device)?,
            t5,
        };
        Self::assemble(
            MmditDenoiser::from_pipeline(source, &scheduler, device)?,
            VaeCodec::from_component(source, "vae", device)?,
            encoders,
            source,
            scheduler,
            source.describe(),
        )
    }

    /// Load a Stability single file: the MMDiT (`model.diffusion_model.*`, fused `qkv`) and
    /// the VAE (`first_stage_model.*`), plus the text encoders it bundles
    /// (`text_encoders.{clip_l,clip_g,t5xxl}.transformer.*`, an fp8 T5 upcast). Encoders the
    /// file lacks (`sd3_medium.safetensors` has none) are loaded from `configs`, a diffusers
    /// SD3 folder or repo of the same architecture, which also supplies every config, the
    /// tokenizers and the scheduler config. T5 is used when the file or `configs` has it.
    fn from_single_file(
        path: &Path,
        configs: &ModelSource,
        device: &Device,
    ) -> Result<Model<Self>> {
        let keys = file::keys(path)?;
        if !has(&keys, MMDIT_BLOCKS_PREFIX) {
            let hint = if has(&keys, "model.diffusion_model.input_blocks.") {
                " (it holds a UNet: an SD1.x or SDXL file, family \"sd15\" or \"sdxl\")"
            } else {
                ""
            };
            return Err(FamilyError::WrongFamily {
                path: path.to_path_buf(),
                message: format!(
                    "not an SD3 single file: no MMDiT under `{MMDIT_BLOCKS_PREFIX}*`{hint}"
                ),
            });
        }
        let index = Self::index(configs)?;
        let scheduler = SchedulerFile::of_pipeline(configs)?;
        let clip_config = |sub: &str| -> Result<ClipTextConfig> {
            Ok(ClipTextConfig::from_file(
                &configs.file(&format!("{sub}/config.json"))?,
            )?)
        };
        // An encoder the file lacks comes from `configs`; the error names both places.
        let elsewhere = |prefix: &str, sub: &str, e: FamilyError| FamilyError::Mismatch {
            source_desc: path.display().to_string(),
            message: format!(
                "this single file has no `{prefix}*`, and its `{sub}` could not be loaded from \
                 the config source {} either (give a diffusers SD3 folder or repo with \
                 weights as the model): {e}",
                configs.describe()
            ),
        };
        let clip_l = if has(&keys, CLIP_L_PREFIX) {
            load_clip_l(path, &clip_config("text_encoder")?, device)?
        } else {
            ClipTextModel::from_pretrained(configs, "text_encoder", device)
                .map_err(|e| elsewhere(CLIP_L_PREFIX, "text_encoder", e.into()))?
        };
        let clip_g = if has(&keys, CLIP_G_PREFIX) {
            load_clip_g(path, &clip_config("text_encoder_2")?, device)?
        } else {
            ClipTextModel::from_pretrained(configs, "text_encoder_2", device)
                .map_err(|e| elsewhere(CLIP_G_PREFIX, "text_encoder_2", e.into()))?
        };
        let t5 = if has(&keys, T5_PREFIX) {
            if !index.has_component("tokenizer_3") {
                return Err(FamilyError::WrongFamily {
                    path: index.path.clone(),
                    message: format!(
                        "{} bundles T5 (`{T5_PREFIX}*`) but this index has no `tokenizer_3` \
                         to run it with",
                        path.display()
                    ),
                });
            }
            let config = T5Config::from_file(&configs.file("text_encoder_3/config.json")?)?;
            Some(load_t5(path, &config, device)?)
        } else if index.has_component("text_encoder_3") {
            Some(
                T5EncoderModel::from_pretrained(configs, "text_encoder_3", device)
                    .map_err(|e| elsewhere(T5_PREFIX, "text_encoder_3", e.into()))?,
            )
        } else {
            None
        };
        Self::assemble(
            MmditDenoiser::from_single_file(path, configs, &scheduler, device)?,
            VaeCodec::from_single_file(path, configs, device)?,
            Encoders { clip_l, clip_g, t5 },
            configs,
            scheduler,
            path.display().to_string(),
        )
    }

    /// The joint sequence is as wide as the transformer reads (`joint_attention_dim`) and T5
    /// writes; both CLIP widths fit in it; the pooled projections sum to
    /// `pooled_projection_dim`; both tokenizers give the same length within their encoders'
    /// positions; the channels are the VAE's.
    fn check(model: &Model<Self>) -> Result<()> {
        let c = &model.conditioner;
        let d = &model.denoiser;
        let mismatch = |message: String| FamilyError::Mismatch {
            source_desc: model.source.clone(),
            message,
        };
        let joint = d.joint_attention_dim();
        if c.joint_attention_dim != joint {
            return Err(mismatch(format!(
                "the conditioner pads to {} but the transformer's joint_attention_dim is {joint}",
                c.joint_attention_dim
            )));
        }
        if let Some(t5) = &c.text_encoder_3
            && t5.hidden_size() != joint
        {
            return Err(mismatch(format!(
                "transformer joint_attention_dim = {joint}, but text_encoder_3 (T5) has \
                 d_model = {}: the transformer reads T5's hidden states directly",
                t5.hidden_size()
            )));
        }
        let (l, g) = (c.text_encoder.hidden_size(), c.text_encoder_2.hidden_size());
        if l + g > joint {
            return Err(mismatch(format!(
                "the CLIP hidden states are {l} (text_encoder) + {g} (text_encoder_2) = {} wide, \
                 more than the transformer's joint_attention_dim {joint} they are padded to",
                l + g
            )));
        }
        let pooled = d.pooled_projection_dim();
        match c.pooled_size() {
            None => {
                return Err(mismatch(
                    "text_encoder and text_encoder_2 must both have a text_projection \
                     (CLIPTextModelWithProjection): SD3 pools their projected outputs"
                        .into(),
                ));
            }
            Some(p) if p != pooled => {
                return Err(mismatch(format!(
                    "transformer pooled_projection_dim = {pooled}, but the text encoders' \
                     projections sum to {p}"
                )));
            }
            Some(_) => {}
        }
        let len = c.tokenizer.max_length();
        for (name, m, t) in [
            ("text_encoder", &c.text_encoder, &c.tokenizer),
            ("text_encoder_2", &c.text_encoder_2, &c.tokenizer_2),
        ] {
            if t.max_length() != len || t.max_length() > m.max_positions() {
                return Err(mismatch(format!(
                    "{name}: tokenizer model_max_length {} (tokenizer: {len}) must equal the \
                     other tokenizer's and fit the encoder's max_position_embeddings {}",
                    t.max_length(),
                    m.max_positions()
                )));
            }
        }
        model.check_latent_channels()?;
        if d.out_channels() != d.in_channels() {
            return Err(mismatch(format!(
                "transformer out_channels {} ≠ in_channels {}",
                d.out_channels(),
                d.in_channels()
            )));
        }
        Ok(())
    }

    /// 1 to 512 tokens, as the pipeline allows (`check_inputs`); the default is 256.
    fn set_max_sequence_length(model: &mut Model<Self>, tokens: usize) -> Result<()> {
        if !(1..=512).contains(&tokens) {
            return Err(FamilyError::Request(format!(
                "max_sequence_length must be in 1..=512 (StableDiffusion3Pipeline's limit), got \
                 {tokens}"
            )));
        }
        model.conditioner.max_sequence_length = tokens;
        Ok(())
    }

    /// `StableDiffusion3Img2ImgPipeline.get_timesteps`: the start keeps `n·strength`
    /// fractional (SD1.x/SDXL truncate it first).
    fn img2img_start(scheduler: &Scheduler, strength: f64) -> Result<usize> {
        Ok(scheduler.img2img_start_fractional(strength)?)
    }
}
