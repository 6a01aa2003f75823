//! Step metrics: one [`StepMetrics`] per optimizer step, reported both as burn-train numeric
//! metrics (one [`EngineMetric`] per name, registered with `metric_train_numeric`) and as the
//! `metrics` object of the `step` line in `events.jsonl`. Names follow `docs/run-directory.md`.

use std::sync::Arc;

use burn::tensor::TensorReadError;
use burn::train::ItemLazy;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};
use serde::{Deserialize, Serialize};

/// Every metric name the engine can emit, in display order.
pub const METRIC_NAMES: [&str; 13] = [
    "g_adv",
    "l_diff",
    "g_total",
    "d_loss",
    "d_real",
    "d_fake",
    "d_acc",
    "g_grad_norm",
    "d_grad_norm",
    "lr_g",
    "lr_d",
    "step_time_s",
    "r1",
];

/// Names a plain diffusion fine-tune emits.
pub const PLAIN_METRIC_NAMES: [&str; 5] =
    ["l_diff", "g_total", "g_grad_norm", "lr_g", "step_time_s"];

/// The values of one step (absent = not computed this step).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// −mean D(fake).
    pub g_adv: Option<f64>,
    /// Diffusion loss on real data.
    pub l_diff: Option<f64>,
    /// λ_adv·g_adv + λ_diff·l_diff.
    pub g_total: Option<f64>,
    /// Hinge D loss (+ R1).
    pub d_loss: Option<f64>,
    /// Mean D logit on real.
    pub d_real: Option<f64>,
    /// Mean D logit on fake.
    pub d_fake: Option<f64>,
    /// Sign accuracy.
    pub d_acc: Option<f64>,
    /// Generator gradient global L2 norm before clipping.
    pub g_grad_norm: Option<f64>,
    /// Discriminator gradient global L2 norm before clipping.
    pub d_grad_norm: Option<f64>,
    /// Generator learning rate used.
    pub lr_g: Option<f64>,
    /// Discriminator learning rate used.
    pub lr_d: Option<f64>,
    /// Wall time of the whole step.
    pub step_time_s: Option<f64>,
    /// R1 penalty (when enabled).
    pub r1: Option<f64>,
}

impl StepMetrics {
    /// One plain progress line (headless runs): `step N[/T]  g_adv …  l_diff …  d_loss …
    /// d_real …  d_fake …  d_acc …  0.123s`; `-` for values not computed this step.
    pub fn progress_line(&self, step: usize, total: Option<usize>) -> String {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into());
        let at = match total {
            Some(t) => format!("{step}/{t}"),
            None => format!("{step:>4}"),
        };
        format!(
            "step {at}  g_adv {}  l_diff {}  d_loss {}  d_real {}  d_fake {}  d_acc {}  {:.3}s",
            f(self.g_adv),
            f(self.l_diff),
            f(self.d_loss),
            f(self.d_real),
            f(self.d_fake),
            f(self.d_acc),
            self.step_time_s.unwrap_or(0.0)
        )
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "g_adv" => self.g_adv,
            "l_diff" => self.l_diff,
            "g_total" => self.g_total,
            "d_loss" => self.d_loss,
            "d_real" => self.d_real,
            "d_fake" => self.d_fake,
            "d_acc" => self.d_acc,
            "g_grad_norm" => self.g_grad_norm,
            "d_grad_norm" => self.d_grad_norm,
            "lr_g" => self.lr_g,
            "lr_d" => self.lr_d,
            "step_time_s" => self.step_time_s,
            "r1" => self.r1,
            _ => None,
        }
    }

    /// Present `(name, value)` pairs in [`METRIC_NAMES`] order.
    pub fn entries(&self) -> Vec<(&'static str, f64)> {
        METRIC_NAMES
            .iter()
            .filter_map(|n| self.get(n).map(|v| (*n, v)))
            .collect()
    }
}

/// The item a training step hands to burn-train's metric pipeline.
#[derive(Clone, Debug, Default)]
pub struct AdtOutput {
    /// The step's values.
    pub metrics: StepMetrics,
}

impl ItemLazy for AdtOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        Ok(self)
    }
}

impl Adaptor<StepMetrics> for AdtOutput {
    fn adapt(&self) -> StepMetrics {
        self.metrics.clone()
    }
}

/// A named numeric burn-train metric reading one field of [`StepMetrics`].
#[derive(Clone)]
pub struct EngineMetric {
    name: MetricName,
    state: NumericMetricState,
    higher_is_better: bool,
}

impl EngineMetric {
    /// The metric for `name` (one of [`METRIC_NAMES`]).
    pub fn new(name: &str) -> Self {
        assert!(
            METRIC_NAMES.contains(&name),
            "unknown engine metric `{name}`"
        );
        Self {
            name: Arc::new(name.to_string()),
            state: NumericMetricState::new(),
            higher_is_better: matches!(name, "d_acc" | "d_real"),
        }
    }

    fn format(&self) -> FormatOptions {
        let f = FormatOptions::new(self.name.clone()).precision(5);
        if self.name.as_str() == "step_time_s" {
            f.unit("s")
        } else {
            f
        }
    }
}

impl Metric for EngineMetric {
    type Input = StepMetrics;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: (self.name.as_str() == "step_time_s").then(|| "s".to_string()),
            higher_is_better: self.higher_is_better,
        }
        .into()
    }

    fn update(
        &mut self,
        item: &StepMetrics,
        _md: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        // A skipped (non-finite) or absent value does not enter the running mean.
        if let Some(v) = item.get(&self.name).filter(|v| v.is_finite()) {
            self.state.update(v, 1);
        }
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset()
    }
}

impl Numeric for EngineMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
