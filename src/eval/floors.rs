//! The floors of an evaluation: how close to the reference a model could come at best, scored
//! like a grid cell against the same reference images. Per evaluation seed `s`, a second set of
//! real images with the reference's captions (`ShapesDomain::redraw` of each reference image,
//! variant `s`: same attributes, the jitter within them drawn again), as a model asked for
//! those captions would draw them:
//! - **real**: those images as they are. Two finite draws of the data are not at FD 0, so
//!   this is the FD a perfect model shows on this grid.
//! - **codec**: those images through the model's encode → decode round trip (posterior mean,
//!   clamped to `[-1, 1]` as the pipeline's output is). The floor of a latent model that
//!   reproduces its encoder's latents; its attribute accuracy is what such a model can reach
//!   through this codec.

use adt_family::image_io::from_rgb8;
use adt_plugin::traits::Codec;
use anyhow::Result;
use burn::prelude::*;

use super::{AttributeHeads, FeatureNet, Grid, Scores, Tally};
use adt_data::Split;
use adt_plugin::eval::{FeatureStats, frechet_distance};

/// The two floors of [`super::GridResult`].
#[derive(Debug, Clone)]
pub struct Floors {
    /// A second set of real held-out images.
    pub real: Scores,
    /// The same images through the codec's round trip.
    pub codec: Scores,
}

/// Score each evaluation seed's second set of real images, passed through `transform`
/// (`[-1, 1]` in and out), against `reference`.
pub(super) fn second_set(
    net: &FeatureNet,
    heads: Option<&AttributeHeads>,
    grid: &Grid,
    reference: &FeatureStats,
    device: &Device,
    transform: impl Fn(Tensor<4>) -> Tensor<4>,
) -> Result<Scores> {
    let n = grid.n as u64;
    let mut fd = Vec::new();
    let mut seed_accuracy = Vec::new();
    for &seed in &grid.seeds {
        let mut tally = Tally::new(net, heads);
        for start in (0..n).step_by(grid.batch) {
            let indices: Vec<u64> = (start..(start + grid.batch as u64).min(n))
                .map(|k| Split::Heldout.index(k))
                .collect();
            let images: Vec<Tensor<4>> = indices
                .iter()
                .map(|&i| {
                    from_rgb8(
                        &grid.domain.render_layout(&grid.domain.redraw(i, seed)),
                        device,
                    )
                })
                .collect();
            let attrs: Vec<_> = indices.iter().map(|&i| grid.domain.attributes(i)).collect();
            tally.add(net, transform(Tensor::cat(images, 0)), &attrs)?;
        }
        fd.push(frechet_distance(&tally.features.stats()?, reference)?);
        seed_accuracy.push(tally.accuracy());
    }
    Ok(Scores {
        seeds: grid.seeds.clone(),
        fd,
        seed_accuracy,
    })
}

/// The codec's round trip on images in `[-1, 1]`.
pub(super) fn round_trip<C: Codec>(codec: &C, images: Tensor<4>) -> Tensor<4> {
    codec.decode(codec.encode(images)).clamp(-1.0, 1.0)
}
