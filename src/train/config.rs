//! `adt train --config FILE.toml`: the whole run in one typed file, with `--set key=value`
//! overrides. Relative paths are resolved against the config file's folder.

use std::path::{Path, PathBuf};

use adt_data::{DataConfig, SourceConfig};
use adt_plugin::AdtConfig;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Everything `adt train` needs; saved as `train.toml` in the run directory for `adt resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The run directory (checkpoints, events.jsonl, samples/).
    pub out: PathBuf,
    pub model: ModelSection,
    #[serde(default)]
    pub discriminator: DiscriminatorSection,
    pub data: DataConfig,
    /// Every engine knob (see `adt_plugin::AdtConfig`); `adt.sampler` names the training
    /// sampler (`ddim`, `euler`, `dpmpp-2m`, ...; absent: the checkpoint's own scheduler where
    /// the engine can step it, else DDIM) and `adt.m` its step count.
    #[serde(default)]
    pub adt: AdtConfig,
    #[serde(default)]
    pub validation: ValidationSection,
    /// Cache VAE latents and prompt embeddings on disk (`adt_data::CacheOptions`: dir,
    /// shard_size, encode_batch_size, progress); absent = encode every batch.
    #[serde(default)]
    pub cache: Option<adt_data::CacheOptions>,
}

/// The model to tune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// A diffusers folder or Hugging Face repo id (`org/name[@revision]`).
    pub source: String,
    /// An original-layout single file; `source` then supplies configs and tokenizers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_file: Option<PathBuf>,
    /// The model family (`sd15`, `sdxl`, `sd3`); default: from `single_file`'s keys, else from
    /// `source`'s `model_index.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Another VAE (a component folder or hub repo), e.g. an fp16-fix VAE; used for the
    /// latents, the simulated inference's decode and validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vae: Option<String>,
    /// T5 tokens per caption (SD3's `max_sequence_length`, 1..=512); default 256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sequence_length: Option<usize>,
}

impl ModelSection {
    /// The model as the loader takes it.
    pub fn spec(&self) -> crate::family::ModelSpec {
        crate::family::ModelSpec {
            source: self.source.clone(),
            single_file: self.single_file.clone(),
            family: self.family.clone(),
            vae: self.vae.clone(),
            denoiser: None,
            max_sequence_length: self.max_sequence_length,
            lora: None,
        }
    }
}

/// The frozen feature network of the discriminator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscriminatorSection {
    /// A DINOv2 checkpoint: transformers folder or hub id.
    pub backbone: String,
    /// Hidden states to tap (0 = patch embedding, i = block i−1's output); empty = the
    /// method's default quarter points.
    pub taps: Vec<usize>,
    /// `[height, width]` the images are resized to before the backbone (multiples of 14).
    pub input_size: [usize; 2],
}

impl Default for DiscriminatorSection {
    fn default() -> Self {
        Self {
            backbone: "facebook/dinov2-small".into(),
            taps: Vec::new(),
            input_size: [224, 224],
        }
    }
}

/// Fixed-prompt, fixed-seed sample grids written to `samples/` during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationSection {
    /// Every N steps (and at the last step); 0 = off.
    pub every: usize,
    pub prompts: Vec<String>,
    /// A file with one prompt per line, appended to `prompts`.
    pub prompt_file: Option<PathBuf>,
    /// Seed of the first image (image k: seed + k), the same at every validation.
    pub seed: u64,
    /// Sampler for the grids; default: the training sampler (`adt.sampler`).
    pub sampler: Option<String>,
    /// Steps; default: `adt.m`.
    pub steps: Option<usize>,
    pub cfg: f64,
    /// The negative prompt of every image; absent = the family's default (SD1.x: the empty
    /// prompt; SDXL: zeros where the checkpoint's `force_zeros_for_empty_prompt` says so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// Image side; default: `data.buckets.resolution`.
    pub size: Option<usize>,
    /// Grid columns.
    pub columns: usize,
}

impl Default for ValidationSection {
    fn default() -> Self {
        Self {
            every: 0,
            prompts: Vec::new(),
            prompt_file: None,
            seed: 0,
            sampler: None,
            steps: None,
            cfg: 7.5,
            negative_prompt: None,
            size: None,
            columns: 4,
        }
    }
}

impl TrainConfig {
    /// Read `path`, apply `overrides` (`a.b.c=value`, value in TOML syntax or a bare string),
    /// resolve relative paths against the file's folder, and validate.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let mut value: toml::Table =
            toml::from_str(&text).with_context(|| format!("{}: not valid TOML", path.display()))?;
        for o in overrides {
            apply_override(&mut value, o).with_context(|| format!("--set {o}"))?;
        }
        // Partial nested tables ([adt.g_optim] with only `lr`) keep the other defaults: the
        // user's [adt] is laid over the defaults' TOML, key by key.
        let mut adt = toml::Table::try_from(AdtConfig::default()).expect("defaults serialize");
        if let Some(user) = value.remove("adt") {
            let toml::Value::Table(user) = user else {
                bail!("{}: `adt` must be a table", path.display());
            };
            merge(&mut adt, user);
        }
        value.insert("adt".into(), toml::Value::Table(adt));
        let mut config: Self = toml::Value::Table(value)
            .try_into()
            .with_context(|| format!("{}: invalid config", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config
            .validate()
            .with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    /// Parse a config that is already resolved (the run directory's `train.toml`).
    pub fn from_resolved_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Self =
            toml::from_str(&text).with_context(|| format!("{}: invalid config", path.display()))?;
        config
            .validate()
            .with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("TrainConfig always serializes")
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.out);
        if let Some(p) = &mut self.model.single_file {
            fix(p);
        }
        if let Some(p) = &mut self.validation.prompt_file {
            fix(p);
        }
        if let Some(c) = &mut self.cache {
            fix(&mut c.dir);
        }
        // A relative model source is a local folder only if it exists next to the config.
        let sources = [
            Some(&mut self.model.source),
            self.model.vae.as_mut(),
            Some(&mut self.discriminator.backbone),
        ];
        for s in sources.into_iter().flatten() {
            let candidate = base.join(&*s);
            if Path::new(s.as_str()).is_relative() && candidate.exists() {
                *s = candidate.display().to_string();
            }
        }
        match &mut self.data.source {
            SourceConfig::ImageFolder { root, .. } | SourceConfig::CaptionTxt { root, .. } => {
                fix(root)
            }
            SourceConfig::Jsonl { file, root, .. } => {
                fix(file);
                if let Some(r) = root {
                    fix(r);
                }
            }
        }
    }

    /// Cross-section checks (each section validates its own fields too).
    pub fn validate(&self) -> Result<()> {
        self.adt.validate().context("[adt]")?;
        if let Some(s) = &self.adt.sampler {
            s.parse::<adt_schedulers::SamplerName>()
                .map_err(anyhow::Error::msg)
                .context("[adt] sampler")?;
        }
        if let Some(f) = &self.model.family {
            f.parse::<crate::family::FamilyKind>()
                .context("[model] family")?;
        }
        if let Some(s) = &self.validation.sampler {
            s.parse::<adt_schedulers::SamplerName>()
                .map_err(anyhow::Error::msg)
                .context("[validation] sampler")?;
        }
        if self.validation.every > 0
            && self.validation.prompts.is_empty()
            && self.validation.prompt_file.is_none()
        {
            bail!(
                "[validation] every = {} but no prompts or prompt_file",
                self.validation.every
            );
        }
        Ok(())
    }
}

/// `a.b.c=value`: set a nested key, creating tables; the value is parsed as TOML (`2`, `1e-5`,
/// `true`, `"text"`, `[1, 2]`), falling back to a bare string.
pub fn apply_override(table: &mut toml::Table, spec: &str) -> Result<()> {
    let Some((key, raw)) = spec.split_once('=') else {
        bail!("expected key=value");
    };
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        bail!("empty key segment in `{key}`");
    }
    let raw = raw.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let (last, path) = parts.split_last().expect("non-empty");
    let mut cur = table;
    for p in path {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            other => bail!("`{p}` is a {} , not a table", other.type_str()),
        };
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// Lay `over` onto `base`: tables merge recursively, everything else replaces (how a
/// partial `[adt]` table keeps the defaults it does not name).
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}
