//! Exponential moving average of the generator, `ema ← d·ema + (1−d)·θ`, kept as a separate
//! module on the plain (non-autodiff) device and checkpointed with the run.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;

struct Collect {
    values: HashMap<ParamId, Tensor<1>>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // Frozen parameters (a LoRA run's base weights) are not averaged: the EMA keeps
        // sharing them, exactly (d·x + (1−d)·x is not x in f32) and without a second copy.
        if !param.val().is_require_grad() {
            return;
        }
        let t = param.val().without_autodiff();
        let n = t.shape().num_elements();
        self.values.insert(param.id, t.reshape([n]));
    }
}

struct Blend {
    values: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(src) = self.values.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|ema| {
            let shape = ema.shape();
            let src = src.reshape(shape).to_device(&ema.device());
            ema.mul_scalar(decay) + src.mul_scalar(1.0 - decay)
        })
    }
}

/// The EMA copy of a module (same parameter ids as the tracked module).
#[derive(Clone, Debug)]
pub struct Ema<M: Module> {
    /// The averaged module (plain device, valid mode).
    pub module: M,
    /// Decay d.
    pub decay: f64,
}

impl<M: Module> Ema<M> {
    /// Start the average at `source` (cloned to the plain device).
    pub fn new(source: &M, decay: f64) -> Self {
        Self {
            module: source.valid(),
            decay,
        }
    }

    /// Blend in the current `source`'s trained parameters (matched by parameter id; frozen
    /// ones stay as they are).
    pub fn update(&mut self, source: &M) {
        let mut c = Collect {
            values: HashMap::new(),
        };
        source.visit(&mut c);
        let mut b = Blend {
            values: c.values,
            decay: self.decay,
        };
        self.module = self.module.clone().map(&mut b);
        debug_assert!(
            b.values.is_empty(),
            "the source has trained parameters the EMA lacks"
        );
    }
}
