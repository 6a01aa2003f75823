//! Evaluation metrics that need no model of their own.
//!
//! - [`frechet`]: Gaussian fits of feature sets ([`FeatureStats`], streaming
//!   [`FeatureAccumulator`]) and the Fréchet distance between them
//!   ([`frechet_distance`]), the arithmetic of FID/FD-DINOv2 with whatever
//!   feature extractor the caller runs.

pub mod frechet;

pub use frechet::{
    FRECHET_EPS, FeatureAccumulator, FeatureStats, FrechetError, FrechetParts, frechet_distance,
    frechet_distance_parts,
};
