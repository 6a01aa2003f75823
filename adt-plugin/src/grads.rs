//! Gradient utilities: global L2 norm over a player's parameters and global-norm clipping.
//!
//! burn's `GradientClipping::Norm` clips each parameter tensor separately; the method (and the
//! diffusers/torch practice it follows) clips the *global* norm, so clipping is done here:
//! `g ← g · min(1, max_norm / (‖g‖₂ + 1e-6))` over all of the player's gradients at once.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

struct SumSquares<'a> {
    grads: &'a GradientsParams,
    total: f64,
}

impl ModuleVisitor for SumSquares<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s: f64 = g.powi_scalar(2).sum().into_scalar::<f64>();
            self.total += s;
        }
    }
}

/// Global L2 norm of the gradients of `module`'s parameters present in `grads`.
pub fn global_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut v = SumSquares { grads, total: 0.0 };
    module.visit(&mut v);
    v.total.sqrt()
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads
                .register::<D>(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Clip `grads` (of `module`) to global norm `max_norm` given their current `norm`; `max_norm <= 0`
/// disables. Returns the factor applied.
pub fn clip_global_norm<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    norm: f64,
    max_norm: f64,
) -> f64 {
    if max_norm <= 0.0 || norm <= max_norm {
        return 1.0;
    }
    let factor = max_norm / (norm + 1e-6);
    module.visit(&mut Scale { grads, factor });
    factor
}
