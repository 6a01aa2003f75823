//! Step metrics: one [`StepMetrics`] per optimizer step, reported both as burn-train numeric
//! metrics (one [`EngineMetric`] per name, registered with `metric_train_numeric`) and as the
//! `metrics` object of the `step` line in `events.jsonl`. The names and the per-step values are
//! defined once, in `adt-events` ([`METRICS`]), which the dashboard reads too.

use std::sync::Arc;

use burn::tensor::TensorReadError;
use burn::train::ItemLazy;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};

pub use adt_events::metrics::{METRICS, MetricInfo, StepMetrics, names, plain_names};

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
    info: &'static MetricInfo,
    state: NumericMetricState,
}

impl EngineMetric {
    /// The metric for `name` (one of [`METRICS`]).
    pub fn new(name: &str) -> Self {
        let info = adt_events::metrics::info(name)
            .unwrap_or_else(|| panic!("unknown engine metric `{name}`"));
        Self {
            name: Arc::new(name.to_string()),
            info,
            state: NumericMetricState::new(),
        }
    }

    fn format(&self) -> FormatOptions {
        let f = FormatOptions::new(self.name.clone()).precision(5);
        match self.info.unit {
            Some(u) => f.unit(u),
            None => f,
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
            unit: self.info.unit.map(str::to_string),
            higher_is_better: self.info.higher_is_better,
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
