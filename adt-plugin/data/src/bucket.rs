//! Aspect-ratio buckets (SDXL / NovelAI style): a list of (width, height)
//! pairs, multiples of `step`, with about `resolution²` pixels each, so
//! non-square images are trained near their own aspect instead of being
//! cropped square.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// How images are sized.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketConfig {
    /// Side of the square target; buckets keep about `resolution²` pixels.
    pub resolution: u32,
    /// Off: every image becomes `resolution × resolution`.
    pub enabled: bool,
    /// Bucket sides are multiples of this (64 keeps SD latents divisible).
    pub step: u32,
    /// Largest long/short side ratio of a bucket.
    pub max_aspect: f64,
}

impl Default for BucketConfig {
    fn default() -> Self {
        Self {
            resolution: 512,
            enabled: false,
            step: 64,
            max_aspect: 2.0,
        }
    }
}

/// The bucket list and nearest-aspect assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    /// (width, height) pairs sorted by aspect ratio (width / height).
    sizes: Vec<(u32, u32)>,
}

impl Buckets {
    /// Builds the bucket list; errors on a resolution or step that cannot
    /// give VAE-compatible sizes.
    pub fn new(cfg: &BucketConfig) -> Result<Self> {
        let res = cfg.resolution;
        if res == 0 || !res.is_multiple_of(8) {
            return Err(DataError::Config(format!(
                "resolution {res} must be a positive multiple of 8"
            )));
        }
        if !cfg.enabled {
            return Ok(Self {
                sizes: vec![(res, res)],
            });
        }
        let step = cfg.step;
        if step == 0 || !step.is_multiple_of(8) || !res.is_multiple_of(step) {
            return Err(DataError::Config(format!(
                "bucket step {step} must be a positive multiple of 8 dividing resolution {res}"
            )));
        }
        if cfg.max_aspect.is_nan() || cfg.max_aspect < 1.0 {
            return Err(DataError::Config(format!(
                "bucket max_aspect {} must be >= 1",
                cfg.max_aspect
            )));
        }
        let area = res as u64 * res as u64;
        let mut sizes = Vec::new();
        let mut w = step as u64;
        while w * step as u64 <= area {
            let h = (area / w) / step as u64 * step as u64;
            let (long, short) = (w.max(h) as f64, w.min(h) as f64);
            if h >= step as u64 && long / short <= cfg.max_aspect + 1e-9 {
                sizes.push((w as u32, h as u32));
                sizes.push((h as u32, w as u32));
            }
            w += step as u64;
        }
        sizes.sort_by(|a, b| aspect(*a).total_cmp(&aspect(*b)).then(a.cmp(b)));
        sizes.dedup();
        Ok(Self { sizes })
    }

    /// The (width, height) of every bucket.
    pub fn sizes(&self) -> &[(u32, u32)] {
        &self.sizes
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Always false (there is at least the square bucket).
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Size of bucket `i`.
    pub fn size(&self, i: usize) -> (u32, u32) {
        self.sizes[i]
    }

    /// The bucket whose aspect is nearest (in log ratio) to `width/height`;
    /// ties go to the first.
    pub fn assign(&self, width: u32, height: u32) -> usize {
        let a = (width as f64 / height as f64).ln();
        let mut best = 0;
        let mut best_d = f64::INFINITY;
        for (i, &s) in self.sizes.iter().enumerate() {
            let d = (aspect(s).ln() - a).abs();
            if d < best_d - 1e-12 {
                best = i;
                best_d = d;
            }
        }
        best
    }
}

fn aspect((w, h): (u32, u32)) -> f64 {
    w as f64 / h as f64
}
