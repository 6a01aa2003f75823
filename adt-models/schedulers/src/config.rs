//! `scheduler_config.json` → typed configs, with diffusers 0.37.1's field names and
//! per-class defaults.
//!
//! `_class_name` picks the scheduler ([`SchedulerConfig::from_json`]); like diffusers'
//! `Class.from_config(other.config)`, [`SchedulerConfig::from_json_as`] reads any
//! scheduler's config as the class you name (SD1.5 ships a `PNDMScheduler` config).
//! Keys a class does not take are ignored, as diffusers does; options we do not
//! implement are accepted only at their diffusers default, otherwise the error names
//! the field, its value and what is supported.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::betas::{BetaConfig, BetaSchedule};
use crate::error::ConfigError;
use crate::prediction::PredictionType;
use crate::spacing::TimestepSpacing;

/// The scheduler classes this crate implements, by diffusers class name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchedulerKind {
    Ddpm,
    Ddim,
    EulerDiscrete,
    EulerAncestralDiscrete,
    DpmSolverMultistep,
    FlowMatchEulerDiscrete,
}

impl SchedulerKind {
    pub const ALL: [SchedulerKind; 6] = [
        Self::Ddpm,
        Self::Ddim,
        Self::EulerDiscrete,
        Self::EulerAncestralDiscrete,
        Self::DpmSolverMultistep,
        Self::FlowMatchEulerDiscrete,
    ];

    /// The diffusers class name (`_class_name`).
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Ddpm => "DDPMScheduler",
            Self::Ddim => "DDIMScheduler",
            Self::EulerDiscrete => "EulerDiscreteScheduler",
            Self::EulerAncestralDiscrete => "EulerAncestralDiscreteScheduler",
            Self::DpmSolverMultistep => "DPMSolverMultistepScheduler",
            Self::FlowMatchEulerDiscrete => "FlowMatchEulerDiscreteScheduler",
        }
    }

    pub fn from_class_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.class_name() == name)
    }
}

/// `final_sigmas_type`: the sigma appended after the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalSigmasType {
    Zero,
    SigmaMin,
}

/// DDPM `variance_type` values with a closed form (the learned ones need a model head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DdpmVarianceType {
    FixedSmall,
    FixedSmallLog,
    FixedLarge,
    FixedLargeLog,
    Learned,
    LearnedRange,
}

/// DPM-Solver second-order formula (`solver_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpmSolverType {
    Midpoint,
    Heun,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DdpmConfig {
    pub betas: BetaConfig,
    pub variance_type: DdpmVarianceType,
    pub clip_sample: bool,
    pub clip_sample_range: f64,
    pub prediction_type: PredictionType,
    pub timestep_spacing: TimestepSpacing,
    pub steps_offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DdimConfig {
    pub betas: BetaConfig,
    pub clip_sample: bool,
    pub clip_sample_range: f64,
    pub set_alpha_to_one: bool,
    pub steps_offset: usize,
    pub prediction_type: PredictionType,
    pub timestep_spacing: TimestepSpacing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EulerConfig {
    pub betas: BetaConfig,
    pub prediction_type: PredictionType,
    pub use_karras_sigmas: bool,
    pub sigma_min: Option<f64>,
    pub sigma_max: Option<f64>,
    pub timestep_spacing: TimestepSpacing,
    pub steps_offset: usize,
    pub final_sigmas_type: FinalSigmasType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EulerAncestralConfig {
    pub betas: BetaConfig,
    pub prediction_type: PredictionType,
    pub timestep_spacing: TimestepSpacing,
    pub steps_offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DpmSolverConfig {
    pub betas: BetaConfig,
    /// 1 or 2 (third order is not implemented).
    pub solver_order: usize,
    pub prediction_type: PredictionType,
    pub solver_type: DpmSolverType,
    pub lower_order_final: bool,
    pub euler_at_final: bool,
    pub use_karras_sigmas: bool,
    pub final_sigmas_type: FinalSigmasType,
    pub lambda_min_clipped: f64,
    pub timestep_spacing: TimestepSpacing,
    pub steps_offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowMatchConfig {
    pub num_train_timesteps: usize,
    pub shift: f64,
}

/// A parsed `scheduler_config.json`, one variant per implemented class.
#[derive(Debug, Clone, PartialEq)]
pub enum SchedulerConfig {
    Ddpm(DdpmConfig),
    Ddim(DdimConfig),
    EulerDiscrete(EulerConfig),
    EulerAncestralDiscrete(EulerAncestralConfig),
    DpmSolverMultistep(DpmSolverConfig),
    FlowMatchEulerDiscrete(FlowMatchConfig),
}

impl SchedulerConfig {
    pub fn kind(&self) -> SchedulerKind {
        match self {
            Self::Ddpm(_) => SchedulerKind::Ddpm,
            Self::Ddim(_) => SchedulerKind::Ddim,
            Self::EulerDiscrete(_) => SchedulerKind::EulerDiscrete,
            Self::EulerAncestralDiscrete(_) => SchedulerKind::EulerAncestralDiscrete,
            Self::DpmSolverMultistep(_) => SchedulerKind::DpmSolverMultistep,
            Self::FlowMatchEulerDiscrete(_) => SchedulerKind::FlowMatchEulerDiscrete,
        }
    }

    /// What the model this schedule drives predicts (`prediction_type`; flow matching:
    /// the flow velocity).
    pub fn prediction_type(&self) -> PredictionType {
        match self {
            Self::Ddpm(c) => c.prediction_type,
            Self::Ddim(c) => c.prediction_type,
            Self::EulerDiscrete(c) => c.prediction_type,
            Self::EulerAncestralDiscrete(c) => c.prediction_type,
            Self::DpmSolverMultistep(c) => c.prediction_type,
            Self::FlowMatchEulerDiscrete(_) => PredictionType::FlowPrediction,
        }
    }

    /// Reads a `scheduler_config.json`; `_class_name` selects the scheduler.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let (text, origin) = read(path.as_ref())?;
        Self::from_json(&text, &origin)
    }

    /// Reads a config file as `kind`, whatever its `_class_name` (diffusers' `from_config`).
    pub fn from_file_as(path: impl AsRef<Path>, kind: SchedulerKind) -> Result<Self, ConfigError> {
        let (text, origin) = read(path.as_ref())?;
        Self::from_json_as(&text, &origin, kind)
    }

    /// Parses config text; `origin` (a path or label) only appears in error messages.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let map = parse_object(text, origin)?;
        let class = match map.get("_class_name") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(ConfigError::MissingClassName {
                    origin: origin.to_string(),
                });
            }
        };
        let kind =
            SchedulerKind::from_class_name(&class).ok_or_else(|| ConfigError::UnknownClass {
                origin: origin.to_string(),
                class: class.clone(),
                supported: SchedulerKind::ALL.map(|k| k.class_name()).join(", "),
            })?;
        Self::from_map(&map, origin, kind)
    }

    /// Parses config text as `kind`, ignoring `_class_name`.
    pub fn from_json_as(
        text: &str,
        origin: &str,
        kind: SchedulerKind,
    ) -> Result<Self, ConfigError> {
        let map = parse_object(text, origin)?;
        Self::from_map(&map, origin, kind)
    }

    pub(crate) fn from_map(
        map: &Map<String, Value>,
        origin: &str,
        kind: SchedulerKind,
    ) -> Result<Self, ConfigError> {
        let f = Fields {
            map,
            origin,
            class: kind.class_name(),
        };
        Ok(match kind {
            SchedulerKind::Ddpm => Self::Ddpm(ddpm(&f)?),
            SchedulerKind::Ddim => Self::Ddim(ddim(&f)?),
            SchedulerKind::EulerDiscrete => Self::EulerDiscrete(euler(&f)?),
            SchedulerKind::EulerAncestralDiscrete => {
                Self::EulerAncestralDiscrete(euler_ancestral(&f)?)
            }
            SchedulerKind::DpmSolverMultistep => Self::DpmSolverMultistep(dpm(&f)?),
            SchedulerKind::FlowMatchEulerDiscrete => Self::FlowMatchEulerDiscrete(flow_match(&f)?),
        })
    }
}

fn read(path: &Path) -> Result<(String, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((text, path.display().to_string()))
}

/// diffusers writes Python's JSON, which spells non-finite floats as bare `Infinity`,
/// `-Infinity` and `NaN` (DPM-Solver's `lambda_min_clipped` is `-Infinity` by default).
/// Strict JSON parsers reject them, so they are quoted before parsing and mapped back
/// by `Fields::float`.
fn quote_non_finite(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        let token = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t));
        if let Some(t) = token {
            out.push('"');
            out.push_str(t);
            out.push('"');
            rest = &rest[t.len()..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

pub(crate) fn parse_object(text: &str, origin: &str) -> Result<Map<String, Value>, ConfigError> {
    let value: Value =
        serde_json::from_str(&quote_non_finite(text)).map_err(|source| ConfigError::Json {
            origin: origin.to_string(),
            source,
        })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ConfigError::NotAnObject {
            origin: origin.to_string(),
        }),
    }
}

/// Field access with the error naming the field; `null` means "use the default".
struct Fields<'a> {
    map: &'a Map<String, Value>,
    origin: &'a str,
    class: &'static str,
}

impl Fields<'_> {
    fn get_opt<T: DeserializeOwned>(&self, field: &'static str) -> Result<Option<T>, ConfigError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|source| self.type_error(field, source)),
        }
    }

    /// A float field; also accepts Python's non-finite spellings (see [`quote_non_finite`]).
    fn float_opt(&self, field: &'static str) -> Result<Option<f64>, ConfigError> {
        match self.map.get(field) {
            Some(Value::String(s)) if s == "Infinity" => Ok(Some(f64::INFINITY)),
            Some(Value::String(s)) if s == "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            Some(Value::String(s)) if s == "NaN" => Ok(Some(f64::NAN)),
            _ => self.get_opt(field),
        }
    }

    fn float(&self, field: &'static str, default: f64) -> Result<f64, ConfigError> {
        Ok(self.float_opt(field)?.unwrap_or(default))
    }

    fn type_error(&self, field: &'static str, source: serde_json::Error) -> ConfigError {
        ConfigError::FieldType {
            origin: self.origin.to_string(),
            field,
            source,
        }
    }

    fn get<T: DeserializeOwned>(&self, field: &'static str, default: T) -> Result<T, ConfigError> {
        Ok(self.get_opt(field)?.unwrap_or(default))
    }

    fn unsupported(
        &self,
        field: &'static str,
        value: impl std::fmt::Debug,
        supported: &str,
    ) -> ConfigError {
        ConfigError::Unsupported {
            origin: self.origin.to_string(),
            class: self.class,
            field,
            value: format!("{value:?}"),
            supported: supported.to_string(),
        }
    }

    /// An option we only implement at one value (diffusers' default): anything else is an error.
    fn only<T>(&self, field: &'static str, allowed: T) -> Result<(), ConfigError>
    where
        T: DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        match self.get_opt::<T>(field)? {
            Some(v) if v != allowed => Err(self.unsupported(field, v, &format!("{allowed:?}"))),
            _ => Ok(()),
        }
    }

    /// A key diffusers writes as `null` by default; any other value is unsupported.
    fn only_null(&self, field: &'static str) -> Result<(), ConfigError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(()),
            Some(v) => Err(self.unsupported(field, v, "null")),
        }
    }

    fn betas(&self, default_schedule: BetaSchedule) -> Result<BetaConfig, ConfigError> {
        let num_train_timesteps: usize = self.get("num_train_timesteps", 1000)?;
        if num_train_timesteps < 2 {
            return Err(self.unsupported("num_train_timesteps", num_train_timesteps, ">= 2"));
        }
        let trained_betas: Option<Vec<f64>> = self.get_opt("trained_betas")?;
        if let Some(b) = &trained_betas
            && b.len() != num_train_timesteps
        {
            return Err(self.unsupported(
                "trained_betas",
                format!("{} values", b.len()),
                &format!("num_train_timesteps = {num_train_timesteps} values"),
            ));
        }
        Ok(BetaConfig {
            num_train_timesteps,
            beta_start: self.float("beta_start", 0.0001)?,
            beta_end: self.float("beta_end", 0.02)?,
            beta_schedule: self.get("beta_schedule", default_schedule)?,
            trained_betas,
            rescale_betas_zero_snr: self.get("rescale_betas_zero_snr", false)?,
        })
    }

    fn prediction(&self, allowed: &[PredictionType]) -> Result<PredictionType, ConfigError> {
        let p: PredictionType = self.get("prediction_type", PredictionType::Epsilon)?;
        if !allowed.contains(&p) {
            let names: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
            return Err(self.unsupported("prediction_type", p, &names.join(", ")));
        }
        Ok(p)
    }

    fn no_thresholding(&self) -> Result<(), ConfigError> {
        // Dynamic thresholding (Imagen) is for pixel-space models; diffusers' default is off.
        self.only("thresholding", false)
    }
}

const EPS_SAMPLE_V: [PredictionType; 3] = [
    PredictionType::Epsilon,
    PredictionType::Sample,
    PredictionType::VPrediction,
];

fn ddpm(f: &Fields) -> Result<DdpmConfig, ConfigError> {
    f.no_thresholding()?;
    let variance_type = f.get("variance_type", DdpmVarianceType::FixedSmall)?;
    match variance_type {
        DdpmVarianceType::FixedSmall
        | DdpmVarianceType::FixedSmallLog
        | DdpmVarianceType::FixedLarge => {}
        // fixed_large_log takes the square root of log(beta) < 0 in diffusers (NaN noise);
        // learned* need the model's predicted variance channels.
        other => {
            return Err(f.unsupported(
                "variance_type",
                other,
                "FixedSmall, FixedSmallLog, FixedLarge",
            ));
        }
    }
    Ok(DdpmConfig {
        betas: f.betas(BetaSchedule::Linear)?,
        variance_type,
        clip_sample: f.get("clip_sample", true)?,
        clip_sample_range: f.float("clip_sample_range", 1.0)?,
        prediction_type: f.prediction(&EPS_SAMPLE_V)?,
        timestep_spacing: f.get("timestep_spacing", TimestepSpacing::Leading)?,
        steps_offset: f.get("steps_offset", 0)?,
    })
}

fn ddim(f: &Fields) -> Result<DdimConfig, ConfigError> {
    f.no_thresholding()?;
    Ok(DdimConfig {
        betas: f.betas(BetaSchedule::Linear)?,
        clip_sample: f.get("clip_sample", true)?,
        clip_sample_range: f.float("clip_sample_range", 1.0)?,
        set_alpha_to_one: f.get("set_alpha_to_one", true)?,
        steps_offset: f.get("steps_offset", 0)?,
        prediction_type: f.prediction(&EPS_SAMPLE_V)?,
        timestep_spacing: f.get("timestep_spacing", TimestepSpacing::Leading)?,
    })
}

fn euler(f: &Fields) -> Result<EulerConfig, ConfigError> {
    f.only("interpolation_type", "linear".to_string())?;
    f.only("use_exponential_sigmas", false)?;
    f.only("use_beta_sigmas", false)?;
    f.only("timestep_type", "discrete".to_string())?;
    Ok(EulerConfig {
        betas: f.betas(BetaSchedule::Linear)?,
        prediction_type: f.prediction(&EPS_SAMPLE_V)?,
        use_karras_sigmas: f.get("use_karras_sigmas", false)?,
        sigma_min: f.float_opt("sigma_min")?,
        sigma_max: f.float_opt("sigma_max")?,
        timestep_spacing: f.get("timestep_spacing", TimestepSpacing::Linspace)?,
        steps_offset: f.get("steps_offset", 0)?,
        final_sigmas_type: f.get("final_sigmas_type", FinalSigmasType::Zero)?,
    })
}

fn euler_ancestral(f: &Fields) -> Result<EulerAncestralConfig, ConfigError> {
    Ok(EulerAncestralConfig {
        betas: f.betas(BetaSchedule::Linear)?,
        prediction_type: f.prediction(&EPS_SAMPLE_V)?,
        timestep_spacing: f.get("timestep_spacing", TimestepSpacing::Linspace)?,
        steps_offset: f.get("steps_offset", 0)?,
    })
}

fn dpm(f: &Fields) -> Result<DpmSolverConfig, ConfigError> {
    f.no_thresholding()?;
    f.only("use_exponential_sigmas", false)?;
    f.only("use_beta_sigmas", false)?;
    f.only("use_lu_lambdas", false)?;
    f.only("use_flow_sigmas", false)?;
    f.only("use_dynamic_shifting", false)?;
    f.only_null("variance_type")?;
    // diffusers maps the legacy "deis" algorithm to dpmsolver++ and the UniPC/DEIS
    // solver types to midpoint; we do the same.
    let algorithm: String = f.get("algorithm_type", "dpmsolver++".to_string())?;
    if algorithm != "dpmsolver++" && algorithm != "deis" {
        return Err(f.unsupported(
            "algorithm_type",
            algorithm,
            "\"dpmsolver++\" (and its alias \"deis\")",
        ));
    }
    let solver: String = f.get("solver_type", "midpoint".to_string())?;
    let solver_type = match solver.as_str() {
        "midpoint" | "logrho" | "bh1" | "bh2" => DpmSolverType::Midpoint,
        "heun" => DpmSolverType::Heun,
        _ => return Err(f.unsupported("solver_type", solver, "\"midpoint\", \"heun\"")),
    };
    let solver_order: usize = f.get("solver_order", 2)?;
    if !(1..=2).contains(&solver_order) {
        return Err(f.unsupported("solver_order", solver_order, "1, 2"));
    }
    Ok(DpmSolverConfig {
        betas: f.betas(BetaSchedule::Linear)?,
        solver_order,
        prediction_type: f.prediction(&EPS_SAMPLE_V)?,
        solver_type,
        lower_order_final: f.get("lower_order_final", true)?,
        euler_at_final: f.get("euler_at_final", false)?,
        use_karras_sigmas: f.get("use_karras_sigmas", false)?,
        final_sigmas_type: f.get("final_sigmas_type", FinalSigmasType::Zero)?,
        lambda_min_clipped: f.float("lambda_min_clipped", f64::NEG_INFINITY)?,
        timestep_spacing: f.get("timestep_spacing", TimestepSpacing::Linspace)?,
        steps_offset: f.get("steps_offset", 0)?,
    })
}

fn flow_match(f: &Fields) -> Result<FlowMatchConfig, ConfigError> {
    f.only("use_dynamic_shifting", false)?;
    f.only("invert_sigmas", false)?;
    f.only_null("shift_terminal")?;
    f.only("use_karras_sigmas", false)?;
    f.only("use_exponential_sigmas", false)?;
    f.only("use_beta_sigmas", false)?;
    f.only("stochastic_sampling", false)?;
    let num_train_timesteps: usize = f.get("num_train_timesteps", 1000)?;
    if num_train_timesteps < 2 {
        return Err(f.unsupported("num_train_timesteps", num_train_timesteps, ">= 2"));
    }
    Ok(FlowMatchConfig {
        num_train_timesteps,
        shift: f.float("shift", 1.0)?,
    })
}
