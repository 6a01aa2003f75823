//! Per-trajectory sampler state, held by the caller.
//!
//! Schedules are immutable; everything a step mutates lives here, so one schedule
//! can drive many trajectories (a training batch, CFG branches, restarts). Start a
//! fresh `StepState` for every trajectory, including img2img starts mid-schedule
//! (diffusers' `set_begin_index` also starts with an empty history).

use burn::tensor::TensorData;
use burn::tensor::{Device, Tensor};

/// Mutable multistep state. Only DPM-Solver reads `history`; all schedulers count steps.
#[derive(Debug, Clone, Default)]
pub struct StepState {
    /// (index of the step that produced it, its data prediction x̂0).
    pub(crate) history: Option<(usize, Tensor<4>)>,
    /// DPM-Solver's `lower_order_nums`: steps taken so far, saturating at the solver order.
    pub(crate) lower_order_nums: usize,
    /// Steps taken with this state.
    pub(crate) steps_taken: usize,
}

impl StepState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the state of a trajectory that has taken `steps_taken` steps, the last of
    /// which (index `i`) produced the data prediction `x0` — for callers that keep the
    /// history themselves (the ADT engine's per-trajectory `SamplerHistory`).
    pub fn resume(last: Option<(usize, Tensor<4>)>, steps_taken: usize) -> Self {
        Self {
            history: last,
            // Schedulers only compare it with their order, so the unsaturated count is exact.
            lower_order_nums: steps_taken,
            steps_taken,
        }
    }

    pub fn steps_taken(&self) -> usize {
        self.steps_taken
    }

    /// The data prediction a multistep solver keeps, with the index of its step.
    pub fn history(&self) -> Option<(usize, &Tensor<4>)> {
        self.history.as_ref().map(|(i, t)| (*i, t))
    }

    /// Detaches the stored history from the autodiff graph (e.g. between trajectories'
    /// differentiable windows).
    pub fn detach(&mut self) {
        if let Some((_, h)) = &mut self.history {
            *h = h.clone().detach();
        }
    }

    /// A serialisable snapshot (history as host data).
    pub fn to_record(&self) -> StepStateRecord {
        StepStateRecord {
            history: self.history.as_ref().map(|(i, t)| (*i, t.to_data())),
            lower_order_nums: self.lower_order_nums,
            steps_taken: self.steps_taken,
        }
    }

    pub fn from_record(record: StepStateRecord, device: &Device) -> Self {
        Self {
            history: record.history.map(|(i, d)| {
                let dtype = d.dtype();
                (i, Tensor::from_data(d, (device, dtype)))
            }),
            lower_order_nums: record.lower_order_nums,
            steps_taken: record.steps_taken,
        }
    }
}

/// Serde form of [`StepState`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepStateRecord {
    pub history: Option<(usize, TensorData)>,
    pub lower_order_nums: usize,
    pub steps_taken: usize,
}
