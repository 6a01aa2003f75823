//! [`Components`]: the model types of one ADT run, bundled in a trait with associated types
//! (as burn-train bundles a learner's), so the engine's types take one parameter instead of
//! repeating `<Denoiser, Codec, Conditioner, Backbone>` everywhere; and [`Parts`], the values.

use std::fmt::Debug;
use std::sync::Arc;

use crate::traits::{Backbone, Codec, Conditioner, Denoiser, NoiseSchedule, Sampler};

/// The four module types a run is generic over. Implement it on a marker type (a model
/// family's adapter crate does: `adt_family::Tuning<F>`).
pub trait Components: Clone + Debug + Send + Sync + 'static {
    /// The trainable network θ.
    type Denoiser: Denoiser;
    /// The frozen VAE (or identity).
    type Codec: Codec;
    /// The frozen prompt encoder.
    type Conditioner: Conditioner;
    /// The frozen feature network of the discriminator.
    type Backbone: Backbone;
}

/// Everything a run is built from besides the config and the data: the trainable generator,
/// the frozen modules, the training noise schedule of `L_diff` and the deployment sampler.
/// All modules must live on the training (autodiff) device; the engine freezes the frozen
/// ones itself.
pub struct Parts<K: Components> {
    /// The generator θ (trainable).
    pub generator: K::Denoiser,
    /// VAE or identity (frozen by the engine).
    pub codec: K::Codec,
    /// Prompt encoder (frozen by the engine).
    pub conditioner: K::Conditioner,
    /// Discriminator backbone (frozen by the engine).
    pub backbone: K::Backbone,
    /// Training noise schedule of `L_diff`.
    pub schedule: Arc<dyn NoiseSchedule>,
    /// Deployment sampler, stepped inside the training step.
    pub sampler: Arc<dyn Sampler>,
}
