//! User-facing sampler names (`ddim`, `euler-karras`, `dpmpp-2m`, …) → a scheduler class plus
//! the option overrides that name implies, applied on top of a checkpoint's own
//! `scheduler_config.json` (diffusers' `Class.from_config(pipe.scheduler.config, **overrides)`).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde_json::Value;

use crate::config::{SchedulerConfig, SchedulerKind};
use crate::error::ConfigError;

/// A sampler as users name it on the command line and in configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SamplerName {
    /// The scheduler class.
    pub kind: SchedulerKind,
    /// `use_karras_sigmas = true` (Euler, DPM-Solver++).
    pub karras: bool,
}

/// Every accepted spelling, for `--help` and error messages.
pub const SAMPLER_NAMES: [&str; 8] = [
    "ddim",
    "ddpm",
    "euler",
    "euler-karras",
    "euler-a",
    "dpmpp-2m",
    "dpmpp-2m-karras",
    "flow-euler",
];

impl SamplerName {
    /// DDIM (η = 0), the default of the ADT paper and of `adt sample`.
    pub const DDIM: Self = Self {
        kind: SchedulerKind::Ddim,
        karras: false,
    };

    /// Euler (`EulerDiscreteScheduler`, SDXL's own).
    pub const EULER: Self = Self {
        kind: SchedulerKind::EulerDiscrete,
        karras: false,
    };

    /// DPM-Solver++ 2M (`DPMSolverMultistepScheduler`).
    pub const DPMPP_2M: Self = Self {
        kind: SchedulerKind::DpmSolverMultistep,
        karras: false,
    };

    /// Flow-matching Euler (`FlowMatchEulerDiscreteScheduler`, SD3).
    pub const FLOW_EULER: Self = Self {
        kind: SchedulerKind::FlowMatchEulerDiscrete,
        karras: false,
    };

    /// Whether every step is deterministic (no fresh noise per step), as the ADT engine's
    /// simulated inference requires.
    pub fn is_deterministic(&self) -> bool {
        !matches!(
            self.kind,
            SchedulerKind::Ddpm | SchedulerKind::EulerAncestralDiscrete
        )
    }

    /// The sampler a checkpoint's own `scheduler_config.json` describes — its `_class_name`
    /// with the options that name implies (`use_karras_sigmas`; DPM-Solver++ of order 2) —
    /// or `None` when no name of [`SAMPLER_NAMES`] is that scheduler (e.g. SD1.5's
    /// `PNDMScheduler`, DPM-Solver of order 1).
    pub fn of_checkpoint(text: &str, origin: &str) -> Result<Option<Self>, ConfigError> {
        let map = crate::config::parse_object(text, origin)?;
        let Some(kind) = map
            .get("_class_name")
            .and_then(Value::as_str)
            .and_then(SchedulerKind::from_class_name)
        else {
            return Ok(None);
        };
        let karras = map
            .get("use_karras_sigmas")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let name = match kind {
            SchedulerKind::EulerDiscrete => Self { kind, karras },
            SchedulerKind::DpmSolverMultistep => {
                let algorithm = map.get("algorithm_type").and_then(Value::as_str);
                let order = map.get("solver_order").and_then(Value::as_u64);
                if !matches!(algorithm, None | Some("dpmsolver++"))
                    || !matches!(order, None | Some(2))
                {
                    return Ok(None);
                }
                Self { kind, karras }
            }
            _ => Self {
                kind,
                karras: false,
            },
        };
        // The file must also parse as that sampler.
        name.parse_config(text, origin)?;
        Ok(Some(name))
    }

    /// Reads `scheduler_config.json` at `path` as this sampler: class from the name, shared
    /// fields (betas, prediction type, spacing, offset) from the file, overrides on top.
    pub fn read_config(&self, path: impl AsRef<Path>) -> Result<SchedulerConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.parse_config(&text, &path.display().to_string())
    }

    /// [`Self::read_config`] on config text; `origin` only appears in error messages.
    pub fn parse_config(&self, text: &str, origin: &str) -> Result<SchedulerConfig, ConfigError> {
        let mut map = crate::config::parse_object(text, origin)?;
        if self.karras {
            map.insert("use_karras_sigmas".into(), Value::Bool(true));
        }
        if self.kind == SchedulerKind::DpmSolverMultistep {
            // "2M" is DPM-Solver++ of order 2, whatever the file's class held.
            map.insert("solver_order".into(), Value::from(2));
            map.insert("algorithm_type".into(), Value::from("dpmsolver++"));
        }
        SchedulerConfig::from_map(&map, origin, self.kind)
    }
}

impl FromStr for SamplerName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, karras) = match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "ddim" => (SchedulerKind::Ddim, false),
            "ddpm" => (SchedulerKind::Ddpm, false),
            "euler" => (SchedulerKind::EulerDiscrete, false),
            "euler-karras" => (SchedulerKind::EulerDiscrete, true),
            "euler-a" | "euler-ancestral" => (SchedulerKind::EulerAncestralDiscrete, false),
            "dpmpp-2m" | "dpm++2m" | "dpm++-2m" => (SchedulerKind::DpmSolverMultistep, false),
            "dpmpp-2m-karras" => (SchedulerKind::DpmSolverMultistep, true),
            "flow-euler" => (SchedulerKind::FlowMatchEulerDiscrete, false),
            _ => {
                return Err(format!(
                    "unknown sampler `{s}`; expected one of: {}",
                    SAMPLER_NAMES.join(", ")
                ));
            }
        };
        Ok(Self { kind, karras })
    }
}

impl fmt::Display for SamplerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = match self.kind {
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Ddpm => "ddpm",
            SchedulerKind::EulerDiscrete => "euler",
            SchedulerKind::EulerAncestralDiscrete => "euler-a",
            SchedulerKind::DpmSolverMultistep => "dpmpp-2m",
            SchedulerKind::FlowMatchEulerDiscrete => "flow-euler",
        };
        if self.karras {
            write!(f, "{base}-karras")
        } else {
            f.write_str(base)
        }
    }
}
