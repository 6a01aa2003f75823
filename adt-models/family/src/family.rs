//! [`Family`]: a model family (SD1.x, SDXL, …) as one bundle of component types plus its
//! loading, and what every family shares — the loaded [`Model`], the pipeline's
//! `model_index.json` ([`ModelIndex`]) and scheduler file ([`SchedulerFile`]), and
//! [`Tuning`], the family as the engine's [`Components`].

use std::fmt::Debug;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use adt_models_common::{LoadError, ModelSource};
use adt_plugin::Components;
use adt_plugin::traits::{Backbone, Conditioner};
use adt_schedulers::{SamplerName, Scheduler, SchedulerConfig};
use burn::prelude::*;
use serde_json::{Map, Value};

use crate::adapters::{ComponentDenoiser, Dinov2Discriminator, LatentCodec};
use crate::error::{FamilyError, Result};
use crate::pipeline::Pipeline;

/// A model family: its component types, the diffusers pipeline classes it loads, and how a
/// checkpoint of it is read. Adding a family is one crate implementing this trait.
pub trait Family: Copy + Debug + Send + Sync + 'static {
    /// Short name, as in `[model] family` and run metadata (`sd15`, `sdxl`, `sd3`).
    const NAME: &'static str;
    /// The `model_index.json` `_class_name`s of the diffusers pipelines this family loads.
    const PIPELINE_CLASSES: &'static [&'static str];
    /// A key prefix only this family's original single files have (SD1.x:
    /// `cond_stage_model.`, SDXL: `conditioner.embedders.`, SD3:
    /// `model.diffusion_model.joint_blocks.`): how a file's family is told without `--family`.
    const SINGLE_FILE_MARK: &'static str;
    /// The diffusers repo of the family's reference release, whose configs, tokenizers and
    /// scheduler its single files need (named in messages when none is given).
    const CONFIG_REPO: &'static str;
    /// The trainable denoiser.
    type Denoiser: ComponentDenoiser;
    /// The frozen codec.
    type Codec: LatentCodec;
    /// The frozen prompt encoder (and the family's micro-conditioning).
    type Conditioner: Conditioner;

    /// Load a diffusers pipeline folder or hub repo (resolved through the hf-hub cache).
    fn from_pretrained(source: &ModelSource, device: &Device) -> Result<Model<Self>>;

    /// Load an original single file; `configs` (a diffusers folder or repo of the same
    /// architecture) supplies the configs, tokenizers and scheduler config the file lacks.
    fn from_single_file(path: &Path, configs: &ModelSource, device: &Device)
    -> Result<Model<Self>>;

    /// Check that the components fit together (widths, channels, added conditions); called
    /// after every load and component swap.
    fn check(model: &Model<Self>) -> Result<()>;

    /// Set the pipeline's `max_sequence_length` (T5 tokens per prompt, SD3); families
    /// without a T5 encoder refuse it.
    fn set_max_sequence_length(model: &mut Model<Self>, tokens: usize) -> Result<()> {
        let _ = (model, tokens);
        Err(FamilyError::Request(format!(
            "max_sequence_length sets the T5 prompt length; a `{}` model has no T5 encoder",
            Self::NAME
        )))
    }

    /// The first step an img2img run of `strength` executes: SD1.x/SDXL's
    /// `get_timesteps` by default (whole steps); SD3 keeps the fractional start.
    fn img2img_start(scheduler: &Scheduler, strength: f64) -> Result<usize> {
        Ok(scheduler.img2img_start(strength)?)
    }
}

/// A family with DINOv2 (or another backbone `B`) as the discriminator's feature network:
/// the engine's [`Components`] for tuning `F`.
pub struct Tuning<F, B = Dinov2Discriminator>(PhantomData<fn() -> (F, B)>);

impl<F, B> Clone for Tuning<F, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F, B> Copy for Tuning<F, B> {}

impl<F, B> Debug for Tuning<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tuning")
    }
}

impl<F: Family, B: Backbone> Components for Tuning<F, B> {
    type Denoiser = F::Denoiser;
    type Codec = F::Codec;
    type Conditioner = F::Conditioner;
    type Backbone = B;
}

/// A loaded checkpoint of family `F`.
#[derive(Debug)]
pub struct Model<F: Family> {
    pub denoiser: F::Denoiser,
    pub codec: F::Codec,
    pub conditioner: F::Conditioner,
    /// The checkpoint's `scheduler/scheduler_config.json`.
    pub scheduler: SchedulerFile,
    /// Where it came from, for messages and run metadata.
    pub source: String,
}

impl<F: Family> Model<F> {
    /// Load a diffusers pipeline folder or hub repo ([`Family::from_pretrained`]).
    pub fn from_pretrained(source: &ModelSource, device: &Device) -> Result<Self> {
        F::from_pretrained(source, device)
    }

    /// Load an original single file ([`Family::from_single_file`]).
    pub fn from_single_file(path: &Path, configs: &ModelSource, device: &Device) -> Result<Self> {
        F::from_single_file(path, configs, device)
    }

    /// The sampling pipeline over this model's components.
    pub fn pipeline(&self) -> Pipeline<'_, F> {
        Pipeline {
            denoiser: &self.denoiser,
            codec: &self.codec,
            conditioner: &self.conditioner,
        }
    }

    /// Replace the denoiser with a tuned one saved in diffusers' layout (`adt export`, or any
    /// `save_pretrained` folder of the same component).
    pub fn with_denoiser(mut self, dir: &Path, device: &Device) -> Result<Self> {
        self.denoiser = self.denoiser.load_like(dir, device)?;
        self.source = format!(
            "{} ({} from {})",
            self.source,
            F::Denoiser::SUBFOLDER,
            dir.display()
        );
        F::check(&self)?;
        Ok(self)
    }

    /// Merge a LoRA file (diffusers/PEFT or kohya layout) into the denoiser at `scale`.
    pub fn with_lora(mut self, path: &Path, scale: f64) -> Result<Self> {
        let file = crate::lora::read_lora::<F::Denoiser>(path)?;
        self.denoiser = crate::lora::merge_lora(self.denoiser, &file, scale)?;
        self.source = format!(
            "{} (+ LoRA {}, {} layers, scale {scale})",
            self.source,
            path.display(),
            file.layers.len()
        );
        Ok(self)
    }

    /// Replace the VAE with another one (a `vae/` folder or a hub repo holding one at its
    /// root, e.g. `madebyollin/sdxl-vae-fp16-fix`); its own `scaling_factor` is used.
    pub fn with_vae(mut self, source: &ModelSource, device: &Device) -> Result<Self> {
        let codec = F::Codec::from_component(source, "", device)?;
        let (have, want) = (codec.latent_channels(), self.denoiser.in_channels());
        if have != want {
            return Err(FamilyError::Mismatch {
                source_desc: source.describe(),
                message: format!(
                    "this VAE has {have} latent channels; the {} of {} takes {want}",
                    F::Denoiser::SUBFOLDER,
                    self.source
                ),
            });
        }
        self.codec = codec;
        self.source = format!("{} (VAE from {})", self.source, source.describe());
        F::check(&self)?;
        Ok(self)
    }

    /// The denoiser's in/out channels are the codec's latent channels (a check every
    /// family's [`Family::check`] makes).
    pub fn check_latent_channels(&self) -> Result<()> {
        let latent = self.codec.latent_channels();
        let (i, o) = (self.denoiser.in_channels(), self.denoiser.out_channels());
        if i != latent || o != latent {
            return Err(FamilyError::Mismatch {
                source_desc: self.source.clone(),
                message: format!(
                    "{} in/out channels = {i}/{o} but the VAE has {latent} latent channels",
                    F::Denoiser::SUBFOLDER
                ),
            });
        }
        Ok(())
    }

    /// Native image size `(height, width)`: the denoiser's `sample_size` × the VAE's
    /// downscale (512² for SD1.5, 1024² for SDXL); 64 latent cells per side when the config
    /// states none.
    pub fn default_size(&self) -> (usize, usize) {
        let f = self.codec.downscale();
        let (h, w) = self.denoiser.sample_size().unwrap_or((64, 64));
        (h * f, w * f)
    }
}

/// The `scheduler/scheduler_config.json` of a checkpoint, kept as text so any sampler can be
/// built from it (SD1.5 ships a `PNDMScheduler` config; diffusers' `from_config` reads the
/// shared fields — betas, prediction type, spacing — into the class you choose).
#[derive(Debug, Clone)]
pub struct SchedulerFile {
    pub text: String,
    pub origin: String,
}

impl SchedulerFile {
    /// Read `scheduler/scheduler_config.json` of a pipeline.
    pub fn of_pipeline(source: &ModelSource) -> Result<Self> {
        Self::read(&source.file("scheduler/scheduler_config.json")?)
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            text,
            origin: path.display().to_string(),
        })
    }

    /// This file read as sampler `name`.
    pub fn config(&self, name: SamplerName) -> Result<SchedulerConfig> {
        Ok(name.parse_config(&self.text, &self.origin)?)
    }

    /// The sampler this file itself names (its `_class_name`), if it is one of ours.
    pub fn own_sampler(&self) -> Result<Option<SamplerName>> {
        Ok(SamplerName::of_checkpoint(&self.text, &self.origin)?)
    }

    /// The sampler to sample with when none is named: the checkpoint's own where adt
    /// implements it (SDXL: Euler, SD3: flow Euler), else DDIM (SD1.5 ships PNDM).
    pub fn sampling_sampler(&self) -> Result<SamplerName> {
        Ok(self.own_sampler()?.unwrap_or(SamplerName::DDIM))
    }

    /// The samplers a comparison grid (`adt eval`) uses when none are named: flow Euler for
    /// a flow-matching checkpoint (the only sampler its config builds), else DDIM, Euler and
    /// DPM-Solver++ 2M.
    pub fn comparison_samplers(&self) -> Result<Vec<SamplerName>> {
        Ok(match self.own_sampler()? {
            Some(SamplerName::FLOW_EULER) => vec![SamplerName::FLOW_EULER],
            _ => vec![SamplerName::DDIM, SamplerName::EULER, SamplerName::DPMPP_2M],
        })
    }

    /// The sampler to train with when the run config names none: the checkpoint's own
    /// scheduler where the engine can step it (deterministic), else DDIM. The second value
    /// says why, for the start banner.
    pub fn training_sampler(&self) -> Result<(SamplerName, String)> {
        let class = self
            .class_name()
            .unwrap_or_else(|| "(no _class_name)".into());
        Ok(match self.own_sampler()? {
            Some(name) if name.is_deterministic() => (
                name,
                format!("the checkpoint's own scheduler ({class} = `{name}`)"),
            ),
            Some(name) => (
                SamplerName::DDIM,
                format!(
                    "DDIM: the checkpoint's {class} (`{name}`) adds fresh noise every step, \
                     which the simulated inference cannot"
                ),
            ),
            None => (
                SamplerName::DDIM,
                format!("DDIM: the engine cannot step the checkpoint's {class}"),
            ),
        })
    }

    /// `_class_name`, if the file has one.
    pub fn class_name(&self) -> Option<String> {
        serde_json::from_str::<Value>(&self.text)
            .ok()?
            .get("_class_name")?
            .as_str()
            .map(str::to_string)
    }
}

/// A diffusers pipeline's `model_index.json`: which pipeline class it is, which components
/// it has, and the pipeline-level options (`force_zeros_for_empty_prompt`, …).
#[derive(Debug, Clone)]
pub struct ModelIndex {
    pub path: PathBuf,
    /// `_class_name` (`StableDiffusionPipeline`, `StableDiffusionXLPipeline`, …).
    pub class_name: String,
    entries: Map<String, Value>,
}

impl ModelIndex {
    /// Read the `model_index.json` of a pipeline folder or repo.
    pub fn read(source: &ModelSource) -> Result<Self> {
        let path = source.file("model_index.json")?;
        let text = std::fs::read_to_string(&path).map_err(|e| LoadError::Io {
            path: path.clone(),
            source: e,
        })?;
        let bad = |message: String| LoadError::Config {
            path: path.clone(),
            message,
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let Value::Object(entries) = value else {
            return Err(bad("not a JSON object".into()).into());
        };
        let class_name = entries
            .get("_class_name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no string `_class_name`".into()))?
            .to_string();
        Ok(Self {
            path,
            class_name,
            entries,
        })
    }

    /// Read the index of `source` and check it is a pipeline of family `F` (its
    /// `_class_name` one of `F::PIPELINE_CLASSES`); the error names the file and the classes.
    pub fn read_for<F: Family>(source: &ModelSource) -> Result<Self> {
        let index = Self::read(source)?;
        if !F::PIPELINE_CLASSES.contains(&index.class_name.as_str()) {
            return Err(FamilyError::WrongFamily {
                path: index.path.clone(),
                message: format!(
                    "`_class_name` {:?} is not a `{}` pipeline (expected one of {})",
                    index.class_name,
                    F::NAME,
                    F::PIPELINE_CLASSES.join(", ")
                ),
            });
        }
        Ok(index)
    }

    /// Whether component `name` is present (`["transformers", "CLIPTextModel"]`, not
    /// `[null, null]` or absent).
    pub fn has_component(&self, name: &str) -> bool {
        match self.entries.get(name) {
            Some(Value::Array(v)) => v.iter().any(|x| !x.is_null()),
            _ => false,
        }
    }

    /// A boolean pipeline option, e.g. `force_zeros_for_empty_prompt`.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.entries.get(name).and_then(Value::as_bool)
    }
}
