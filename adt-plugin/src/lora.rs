//! LoRA for the generator (`[adt.lora]`): burn's LoRA reparameterization (`LoraAdapter`,
//! `base + scale·(a @ b)`) on the 2-D weights the config's targets name, every base parameter
//! frozen, so only the adapters train; and the adapters read back for export.
//!
//! Deviation from `burn::module::Lora`: the factor `A` is drawn from the run's seed (engine
//! stream [`INIT_STREAM`]) instead of the device RNG, so two runs with one seed start alike.
//! Its law is burn's, `A ~ N(0, 1/rank)`, `B = 0`, which is PEFT's `init_lora_weights =
//! "gaussian"` as diffusers' `train_text_to_image_lora.py` uses it.

use burn::module::{LoraAdapter, Module, ModuleVisitor, Param, Reparameterizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AdtError, Result};
use crate::rng::EngineRng;

/// The engine RNG stream the `A` factors are drawn from.
pub const INIT_STREAM: u64 = 3;

/// The default targets: the attention projections, as diffusers' LoRA training scripts
/// (`target_modules=["to_k", "to_q", "to_v", "to_out.0"]`).
pub const DEFAULT_TARGETS: [&str; 4] = ["to_q", "to_k", "to_v", "to_out.0"];

fn default_targets() -> Vec<String> {
    DEFAULT_TARGETS.iter().map(|s| s.to_string()).collect()
}

/// `[adt.lora]`: train low-rank adapters of the generator instead of all its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank r of every adapter (≥ 1, at most the adapted layer's smaller side).
    pub rank: usize,
    /// α; the adapter adds `(α/r)·B·A`. Unset: α = r (diffusers' LoRA scripts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Module names whose `weight` gets an adapter: a module matches when its path is the
    /// name or ends with `.name` (PEFT's `target_modules` rule). 2-D weights only.
    #[serde(default = "default_targets")]
    pub targets: Vec<String>,
}

impl LoraConfig {
    /// Rank `rank` on the default targets, α = rank.
    pub fn new(rank: usize) -> Self {
        Self {
            rank,
            alpha: None,
            targets: default_targets(),
        }
    }

    /// α (r when unset).
    pub fn alpha(&self) -> f64 {
        self.alpha.unwrap_or(self.rank as f64)
    }

    /// The adapters' scale α/r.
    pub fn scale(&self) -> f64 {
        self.alpha() / self.rank as f64
    }

    /// Check the values; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(AdtError::config("lora.rank", "must be >= 1"));
        }
        let a = self.alpha();
        if !(a.is_finite() && a > 0.0) {
            return Err(AdtError::config(
                "lora.alpha",
                format!("must be a finite number > 0, got {a}"),
            ));
        }
        if self.targets.is_empty() || self.targets.iter().any(|t| t.trim().is_empty()) {
            return Err(AdtError::config(
                "lora.targets",
                format!(
                    "must name at least one module, without empty names: {:?}",
                    self.targets
                ),
            ));
        }
        Ok(())
    }

    /// The target whose weight the parameter at `path` is (e.g. `unet.mid_block.….to_q.weight`
    /// for `to_q`). Enum-variant segments of the module path (CamelCase, such as the
    /// `Linear` of `proj_in.Linear.weight`) are not part of the name matched.
    pub fn target_of(&self, path: &str) -> Option<&str> {
        let module = path.strip_suffix(".weight")?;
        let module: Vec<&str> = module
            .split('.')
            .filter(|s| !s.starts_with(|c: char| c.is_ascii_uppercase()))
            .collect();
        let module = module.join(".");
        self.targets
            .iter()
            .find(|t| module == **t || module.ends_with(&format!(".{t}")))
            .map(String::as_str)
    }
}

/// What [`SeededLora`] did, read after the module is mapped.
#[derive(Default)]
struct Applied {
    /// Targets that adapted at least one weight.
    hit: Vec<String>,
    /// Targets that named a weight that is not 2-D (a convolution), with its path.
    not_linear: Option<(String, String)>,
    too_narrow: Option<(String, [usize; 2])>,
}

struct SeededLora<'a> {
    config: &'a LoraConfig,
    rng: &'a mut EngineRng,
    applied: &'a mut Applied,
}

impl Reparameterizer for SeededLora<'_> {
    type Reparam = LoraAdapter;

    fn reparameterize<const D: usize>(
        &mut self,
        path: &str,
        param: Param<Tensor<D>>,
    ) -> (Param<Tensor<D>>, Option<LoraAdapter>) {
        let base = param.set_require_grad(false);
        let Some(target) = self.config.target_of(path) else {
            return (base, None);
        };
        if D != 2 {
            self.applied
                .not_linear
                .get_or_insert((target.to_string(), path.to_string()));
            return (base, None);
        }
        let dims = base.lazy_shape();
        let (d_in, d_out) = (dims[0], dims[1]);
        let rank = self.config.rank;
        if rank > d_in.min(d_out) {
            self.applied
                .too_narrow
                .get_or_insert((path.to_string(), [d_in, d_out]));
            return (base, None);
        }
        let device = base.lazy_device();
        let a = self
            .rng
            .normal_tensor([d_in, rank], &device)
            .mul_scalar(1.0 / rank as f64);
        let b = Tensor::<2>::zeros([rank, d_out], &device);
        if !self.applied.hit.iter().any(|t| t == target) {
            self.applied.hit.push(target.to_string());
        }
        let adapter = LoraAdapter {
            a: Param::from_tensor(a),
            b: Param::from_tensor(b),
            scale: self.config.scale(),
        };
        (base, Some(adapter))
    }
}

/// Freeze every parameter of `module` and attach an adapter to each target weight, `A` drawn
/// from `rng`. Errors when no weight matches a target, or a rank exceeds a layer's side.
pub fn apply_lora<M: Module>(module: M, config: &LoraConfig, rng: &mut EngineRng) -> Result<M> {
    config.validate()?;
    let mut applied = Applied::default();
    let module = module.apply_reparameterization(SeededLora {
        config,
        rng,
        applied: &mut applied,
    });
    if let Some((path, [d_in, d_out])) = applied.too_narrow {
        return Err(AdtError::config(
            "lora.rank",
            format!(
                "rank {} is larger than the layer {path} ({d_in} in, {d_out} out) allows: at most {}",
                config.rank,
                d_in.min(d_out)
            ),
        ));
    }
    let missed: Vec<&String> = config
        .targets
        .iter()
        .filter(|t| !applied.hit.contains(t))
        .collect();
    if !missed.is_empty() {
        let mut names = WeightPaths::default();
        module.visit(&mut names);
        let examples: Vec<&String> = names.two_d.iter().take(4).collect();
        let conv = match &applied.not_linear {
            Some((t, p)) => format!(
                "; `{t}` names {p}, a convolution weight (burn's LoRA adapts 2-D weights only)"
            ),
            None => String::new(),
        };
        return Err(AdtError::config(
            "lora.targets",
            format!(
                "{missed:?} name no linear (2-D) weight of the generator{conv}; its linear \
                 weights are e.g. {examples:?}"
            ),
        ));
    }
    Ok(module)
}

/// The path of every visited parameter, tracked through `enter_module`/`exit_module`.
#[derive(Default)]
struct WeightPaths {
    path: Vec<String>,
    two_d: Vec<String>,
    factors: Vec<(String, TensorData)>,
}

impl ModuleVisitor for WeightPaths {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.path.join(".");
        if path.ends_with(".lora.a") || path.ends_with(".lora.b") {
            self.factors.push((path, param.val().into_data()));
        } else if D == 2 && path.ends_with(".weight") {
            self.two_d.push(path);
        }
    }
}

/// One trained adapter: `weight' = weight + scale·(a @ b)` in burn's `[d_in, d_out]` layout.
#[derive(Clone, Debug)]
pub struct AdapterWeights {
    /// Path of the adapted weight in the module (`unet.….to_q.weight`).
    pub weight: String,
    /// `A`, `[d_in, rank]`.
    pub a: TensorData,
    /// `B`, `[rank, d_out]`.
    pub b: TensorData,
}

/// The adapters of a module [`apply_lora`] prepared, in module order.
pub fn adapters<M: Module>(module: &M) -> Vec<AdapterWeights> {
    let mut v = WeightPaths::default();
    module.visit(&mut v);
    let mut a_of: Vec<(String, TensorData)> = Vec::new();
    let mut out = Vec::new();
    for (path, data) in v.factors {
        if let Some(weight) = path.strip_suffix(".lora.a") {
            a_of.push((weight.to_string(), data));
        } else if let Some(weight) = path.strip_suffix(".lora.b")
            && let Some(i) = a_of.iter().position(|(w, _)| w == weight)
        {
            let (weight, a) = a_of.swap_remove(i);
            out.push(AdapterWeights { weight, a, b: data });
        }
    }
    out
}
