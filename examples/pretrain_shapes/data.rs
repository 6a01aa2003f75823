//! Batches of the procedural shapes domain as tensors, and the attribute labels the
//! ViTs are supervised on.

use adt_data::{Position, ShapeAttributes, ShapeColor, ShapeKind, ShapeSize, ShapesDomain, Split};
use burn::prelude::*;

/// Side of every image (the VAE maps 32×32 pixels to 8×8 latents).
pub const IMAGE_SIZE: usize = 32;

/// The domain all models are trained on.
pub fn domain(seed: u64) -> ShapesDomain {
    ShapesDomain::new(IMAGE_SIZE as u32, seed)
}

/// Images of split elements `ks` as `[B, 3, H, W]` in `[-1, 1]`, rendered on every
/// core (a GPU step would otherwise wait on single-threaded rendering).
pub fn images(domain: &ShapesDomain, split: Split, ks: &[u64], device: &Device) -> Tensor<4> {
    let s = domain.image_size as usize;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = ks.len().div_ceil(threads).max(16);
    let parts: Vec<Vec<f32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ks
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || {
                    let mut data = Vec::with_capacity(part.len() * 3 * s * s);
                    for (j, &k) in part.iter().enumerate() {
                        data.extend(domain.item(split.index(k), c * chunk + j).image.data);
                    }
                    data
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("rendering thread"))
            .collect()
    });
    Tensor::from_data(TensorData::new(parts.concat(), [ks.len(), 3, s, s]), device)
}

/// The captions of split elements `ks`.
pub fn captions(domain: &ShapesDomain, split: Split, ks: &[u64]) -> Vec<String> {
    ks.iter().map(|&k| domain.caption(split.index(k))).collect()
}

/// The five attributes, each a classification head: name and classes.
pub fn heads() -> Vec<(&'static str, Vec<String>)> {
    let names = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
    vec![
        ("kind", names(ShapeKind::ALL.map(ShapeKind::name).to_vec())),
        (
            "color",
            names(ShapeColor::ALL.map(ShapeColor::name).to_vec()),
        ),
        ("size", names(ShapeSize::ALL.map(ShapeSize::name).to_vec())),
        (
            "position",
            names(Position::ALL.iter().map(|p| p.name()).collect()),
        ),
        (
            "background",
            names(ShapeColor::ALL.map(ShapeColor::name).to_vec()),
        ),
    ]
}

/// Class index of each attribute, in [`heads`] order.
pub fn labels(a: &ShapeAttributes) -> [usize; 5] {
    let at = |found: Option<usize>| found.expect("every attribute value is listed in ALL");
    [
        at(ShapeKind::ALL.iter().position(|k| *k == a.kind)),
        at(ShapeColor::ALL.iter().position(|c| *c == a.color)),
        at(ShapeSize::ALL.iter().position(|s| *s == a.size)),
        at(Position::ALL.iter().position(|p| *p == a.position)),
        at(ShapeColor::ALL.iter().position(|c| *c == a.background)),
    ]
}

/// Per-head label tensors `[B]` for split elements `ks`.
pub fn label_tensors(
    domain: &ShapesDomain,
    split: Split,
    ks: &[u64],
    device: &Device,
) -> Vec<Tensor<1, Int>> {
    let rows: Vec<[usize; 5]> = ks
        .iter()
        .map(|&k| labels(&domain.attributes(split.index(k))))
        .collect();
    (0..5)
        .map(|h| {
            let v: Vec<i64> = rows.iter().map(|r| r[h] as i64).collect();
            Tensor::from_data(TensorData::new(v, [ks.len()]), device)
        })
        .collect()
}

/// Host copy of a float tensor.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("f32 tensor data")
}

/// Linear warm-up to `peak` over `warmup` steps, then cosine decay to `peak / 10`.
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let p = (step - warmup) as f64 / (total - warmup).max(1) as f64;
    let floor = peak * 0.1;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * p.min(1.0)).cos())
}

/// Losses are read back from the device every `LOSS_EVERY` steps (and at the last):
/// a read is a device sync, which would stall a GPU's command queue on every step.
pub const LOSS_EVERY: usize = 10;

/// Whether step `step` (0-based) of `steps` reads its losses back.
pub fn reads_loss(step: usize, steps: usize) -> bool {
    step.is_multiple_of(LOSS_EVERY) || step + 1 == steps
}

/// Running mean of the losses read back (exponential, about the last 50 steps).
#[derive(Debug, Default, Clone, Copy)]
pub struct Running {
    pub value: f64,
    started: bool,
}

impl Running {
    pub fn push(&mut self, v: f64) {
        self.value = if self.started {
            self.value + 0.2 * (v - self.value)
        } else {
            v
        };
        self.started = true;
    }
}

/// Seconds per training step after the first `WARM_STEPS` (which include kernel
/// compilation and autotuning on a GPU); what `--probe` reports.
pub struct StepClock {
    warm_at: Option<std::time::Instant>,
    pub start: std::time::Instant,
}

pub const WARM_STEPS: usize = 3;

impl StepClock {
    pub fn new() -> Self {
        Self {
            warm_at: None,
            start: std::time::Instant::now(),
        }
    }

    /// Call at the end of step `step` (after its losses were read, if any).
    pub fn tick(&mut self, step: usize) {
        if step + 1 == WARM_STEPS {
            self.warm_at = Some(std::time::Instant::now());
        }
    }

    /// Seconds per step after the warm-up, given the total step count (call after the
    /// last step, whose loss read synchronises the device).
    pub fn per_step(&self, steps: usize) -> f64 {
        match self.warm_at {
            Some(t) if steps > WARM_STEPS => {
                t.elapsed().as_secs_f64() / (steps - WARM_STEPS) as f64
            }
            _ => self.start.elapsed().as_secs_f64() / steps.max(1) as f64,
        }
    }
}

/// ×4 nearest-neighbour upscaling for the preview grids of 32-pixel images.
pub fn upscale(img: &image::RgbImage) -> image::RgbImage {
    image::imageops::resize(
        img,
        img.width() * 4,
        img.height() * 4,
        image::imageops::FilterType::Nearest,
    )
}
