//! The model families the CLI knows, and the one place a family is chosen: from the
//! checkpoint's `model_index.json` `_class_name`, or by name (`[model] family`, `--family`)
//! for single files. Every command is written once, generic over [`Family`], and
//! [`FamilyKind::run`] is the single `match` that picks the concrete family.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use adt_family::{Family, Model, ModelIndex};
use adt_models_common::ModelSource;
use adt_sd3::Sd3;
use adt_sd15::Sd15;
use adt_sdxl::Sdxl;
use anyhow::{Context, Result, bail};
use burn::prelude::*;

/// A model family of the zoo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyKind {
    /// Stable Diffusion 1.x/2.x ([`adt_sd15::Sd15`]).
    Sd15,
    /// Stable Diffusion XL, base and refiner ([`adt_sdxl::Sdxl`]).
    Sdxl,
    /// Stable Diffusion 3 and 3.5 ([`adt_sd3::Sd3`]).
    Sd3,
}

/// A family's constants ([`Family::NAME`], [`Family::PIPELINE_CLASSES`],
/// [`Family::SINGLE_FILE_MARK`], [`Family::CONFIG_REPO`]).
#[derive(Clone, Copy, Debug)]
pub struct FamilyInfo {
    pub name: &'static str,
    pub pipeline_classes: &'static [&'static str],
    pub single_file_mark: &'static str,
    pub config_repo: &'static str,
}

/// A job written once for every family: [`FamilyKind::run`] calls `run::<F>` with the
/// family chosen at run time.
pub trait FamilyJob {
    type Output;
    fn run<F: Family>(self) -> Self::Output;
}

impl FamilyKind {
    /// Every family, in the order messages list them.
    pub const ALL: [FamilyKind; 3] = [FamilyKind::Sd15, FamilyKind::Sdxl, FamilyKind::Sd3];

    /// Run `job` with this family's types (the one dispatch `match`).
    pub fn run<J: FamilyJob>(self, job: J) -> J::Output {
        match self {
            FamilyKind::Sd15 => job.run::<Sd15>(),
            FamilyKind::Sdxl => job.run::<Sdxl>(),
            FamilyKind::Sd3 => job.run::<Sd3>(),
        }
    }

    /// What the family crate declares about itself (one dispatch for all of it).
    pub fn info(self) -> FamilyInfo {
        struct Info;
        impl FamilyJob for Info {
            type Output = FamilyInfo;
            fn run<F: Family>(self) -> FamilyInfo {
                FamilyInfo {
                    name: F::NAME,
                    pipeline_classes: F::PIPELINE_CLASSES,
                    single_file_mark: F::SINGLE_FILE_MARK,
                    config_repo: F::CONFIG_REPO,
                }
            }
        }
        self.run(Info)
    }

    /// The family's name (`sd15`, …), as `[model] family` spells it.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The family of a diffusers pipeline folder or repo, from its `model_index.json`.
    pub fn of_pipeline(source: &ModelSource) -> Result<Self> {
        let index = ModelIndex::read(source)
            .with_context(|| format!("reading the pipeline index of {}", source.describe()))?;
        Self::ALL
            .into_iter()
            .find(|k| {
                k.info()
                    .pipeline_classes
                    .contains(&index.class_name.as_str())
            })
            .with_context(|| {
                let known: Vec<String> = Self::ALL
                    .iter()
                    .flat_map(|k| {
                        k.info()
                            .pipeline_classes
                            .iter()
                            .map(move |c| format!("{c} ({})", k.name()))
                    })
                    .collect();
                format!(
                    "{}: `_class_name` {:?} is not a pipeline adt can load; known: {}",
                    index.path.display(),
                    index.class_name,
                    known.join(", ")
                )
            })
    }

    /// The family named explicitly, else the one `source`'s `model_index.json` says.
    pub fn resolve(explicit: Option<&str>, source: &ModelSource) -> Result<Self> {
        match explicit {
            Some(name) => Ok(name.parse()?),
            None => Self::of_pipeline(source),
        }
    }

    /// The family of an original single file, from the key prefix only its files have.
    pub fn of_single_file(path: &std::path::Path) -> Result<Self> {
        let keys = adt_models_common::single_file::keys(path)
            .with_context(|| format!("reading the tensor names of {}", path.display()))?;
        let claims: Vec<Self> = Self::ALL
            .into_iter()
            .filter(|k| {
                keys.iter()
                    .any(|key| key.starts_with(k.info().single_file_mark))
            })
            .collect();
        match claims.as_slice() {
            [one] => Ok(*one),
            _ => {
                let marks: Vec<String> = Self::ALL
                    .iter()
                    .map(|k| format!("`{}*` ({})", k.info().single_file_mark, k.name()))
                    .collect();
                bail!(
                    "{}: cannot tell the model family of this single file (keys under {} \
                     decide it{}); name it with --family / `[model] family`",
                    path.display(),
                    marks.join(", "),
                    if claims.is_empty() {
                        ": it has none"
                    } else {
                        ": it has several"
                    }
                )
            }
        }
    }
}

impl FromStr for FamilyKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match Self::ALL.into_iter().find(|k| k.name() == s) {
            Some(k) => Ok(k),
            None => bail!(
                "unknown model family `{s}`; known: {}",
                Self::ALL.map(|k| k.name()).join(", ")
            ),
        }
    }
}

impl fmt::Display for FamilyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a model comes from: a diffusers pipeline (folder or hub id), optionally an original
/// single file (the pipeline then supplies configs and tokenizers), another VAE, a tuned
/// denoiser, and the family when the pipeline's index cannot say.
#[derive(Clone, Debug, Default)]
pub struct ModelSpec {
    /// A diffusers folder or Hugging Face repo id (`org/name[@revision]`).
    pub source: String,
    /// An original-layout single file.
    pub single_file: Option<PathBuf>,
    /// The family by name; default: from `source`'s `model_index.json`.
    pub family: Option<String>,
    /// Another VAE: a component folder or a hub repo holding one at its root.
    pub vae: Option<String>,
    /// A tuned denoiser in diffusers layout (what `adt export` writes).
    pub denoiser: Option<PathBuf>,
    /// T5 tokens per prompt (SD3's `max_sequence_length`; the family's default if unset).
    pub max_sequence_length: Option<usize>,
    /// A LoRA file (diffusers/PEFT or kohya layout) merged into the denoiser, and its scale.
    pub lora: Option<(PathBuf, f64)>,
}

impl ModelSpec {
    /// A pipeline with nothing swapped.
    pub fn pipeline(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            ..Default::default()
        }
    }

    /// The family to load this as: named, else from the single file's keys, else from the
    /// pipeline's `model_index.json`.
    pub fn family(&self) -> Result<FamilyKind> {
        match (&self.family, &self.single_file) {
            (None, Some(file)) => FamilyKind::of_single_file(file),
            _ => FamilyKind::resolve(self.family.as_deref(), &ModelSource::parse(&self.source)),
        }
    }

    /// Load as family `F` on `device` (the one loading path of every command).
    pub fn load<F: Family>(&self, device: &Device) -> Result<Model<F>> {
        let source = ModelSource::parse(&self.source);
        let mut model = match &self.single_file {
            Some(file) => {
                Model::<F>::from_single_file(file, &source, device).with_context(|| {
                    format!(
                        "loading single file {} as {} (configs from {})",
                        file.display(),
                        F::NAME,
                        source.describe()
                    )
                })?
            }
            None => Model::<F>::from_pretrained(&source, device)
                .with_context(|| format!("loading {} as {}", source.describe(), F::NAME))?,
        };
        if let Some(vae) = &self.vae {
            let vae = ModelSource::parse(vae);
            model = model
                .with_vae(&vae, device)
                .with_context(|| format!("loading the VAE {}", vae.describe()))?;
        }
        if let Some(n) = self.max_sequence_length {
            F::set_max_sequence_length(&mut model, n)?;
        }
        if let Some(dir) = &self.denoiser {
            model = model
                .with_denoiser(dir, device)
                .with_context(|| format!("loading the tuned denoiser from {}", dir.display()))?;
        }
        if let Some((file, scale)) = &self.lora {
            model = model.with_lora(file, *scale)?;
        }
        Ok(model)
    }
}
