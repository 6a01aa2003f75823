//! DiffAugment (Zhao et al. 2020): colour, translation, cutout — differentiable, with explicit
//! draws so the real and the fake image of a pair get *identical* transforms.
//!
//! Usage: `let d = AugmentDraws::draw(&policy, b, h, w, &mut rng); let f = d.apply(fake); let r =
//! d.apply(real);`. Formulas follow the reference implementation (images in `[-1, 1]`):
//! brightness `x + (r − 0.5)`, saturation `(x − mean_c)·2r + mean_c`, contrast
//! `(x − mean_chw)·(r + 0.5) + mean_chw`, integer translation up to `ratio·side` with zero padding,
//! cutout of a `ratio·side` square (zeroed) at a random centre.

use burn::prelude::*;

use crate::error::{AdtError, Result};
use crate::rng::EngineRng;

/// Which DiffAugment ops are on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AugmentPolicy {
    /// Brightness shift (`color` turns on all three colour ops).
    pub brightness: bool,
    /// Saturation scale.
    pub saturation: bool,
    /// Contrast scale.
    pub contrast: bool,
    /// Integer translation with zero padding.
    pub translation: bool,
    /// Cutout.
    pub cutout: bool,
    /// Max translation as a fraction of the side.
    pub translation_ratio: f64,
    /// Cutout side as a fraction of the side.
    pub cutout_ratio: f64,
}

impl AugmentPolicy {
    /// Parse `"color,translation,cutout"` (any subset, empty = none). Ratios default to 1/8, 1/2.
    ///
    /// Extension of the reference's policy names: `brightness`, `saturation` and `contrast`
    /// turn on one of `color`'s three ops each (brightness shifts all channels alike, which
    /// can carry one hue into its neighbour, e.g. orange into yellow or red).
    pub fn parse(s: &str) -> Result<Self> {
        let mut p = Self {
            translation_ratio: 0.125,
            cutout_ratio: 0.5,
            ..Self::default()
        };
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "color" => (p.brightness, p.saturation, p.contrast) = (true, true, true),
                "brightness" => p.brightness = true,
                "saturation" => p.saturation = true,
                "contrast" => p.contrast = true,
                "translation" => p.translation = true,
                "cutout" => p.cutout = true,
                other => {
                    return Err(AdtError::config(
                        "augment",
                        format!(
                            "unknown DiffAugment policy `{other}` (known: color, brightness, saturation, contrast, translation, cutout)"
                        ),
                    ));
                }
            }
        }
        Ok(p)
    }

    /// Set the ratios.
    pub fn with_ratios(mut self, translation: f64, cutout: f64) -> Self {
        self.translation_ratio = translation;
        self.cutout_ratio = cutout;
        self
    }
}

/// One batch's augmentation draws; apply to the fake and to its paired real image.
#[derive(Clone, Debug, PartialEq)]
pub struct AugmentDraws {
    /// Image height and width the draws were made for.
    pub size: [usize; 2],
    /// Per-sample brightness draw r ∈ [0,1) (None when brightness is off).
    pub brightness: Option<Vec<f32>>,
    /// Per-sample saturation draw.
    pub saturation: Option<Vec<f32>>,
    /// Per-sample contrast draw.
    pub contrast: Option<Vec<f32>>,
    /// Per-sample integer shift (dy, dx).
    pub translation: Option<Vec<(i64, i64)>>,
    /// Per-sample cutout rectangle (y0, y1, x0, x1), already clamped; and its size.
    pub cutout: Option<Vec<(usize, usize, usize, usize)>>,
}

impl AugmentDraws {
    /// Draw for a batch of `b` images of `h × w`.
    pub fn draw(policy: &AugmentPolicy, b: usize, h: usize, w: usize, rng: &mut EngineRng) -> Self {
        let per = |rng: &mut EngineRng| (0..b).map(|_| rng.uniform() as f32).collect::<Vec<_>>();
        // In this order, each only when on: `color` draws as the reference does.
        let brightness = policy.brightness.then(|| per(rng));
        let saturation = policy.saturation.then(|| per(rng));
        let contrast = policy.contrast.then(|| per(rng));
        let translation = policy.translation.then(|| {
            let sy = (h as f64 * policy.translation_ratio + 0.5) as i64;
            let sx = (w as f64 * policy.translation_ratio + 0.5) as i64;
            (0..b)
                .map(|_| (rng.int_inclusive(-sy, sy), rng.int_inclusive(-sx, sx)))
                .collect()
        });
        let cutout = policy.cutout.then(|| {
            let ch = (h as f64 * policy.cutout_ratio + 0.5) as i64;
            let cw = (w as f64 * policy.cutout_ratio + 0.5) as i64;
            (0..b)
                .map(|_| {
                    let oy = rng.int_inclusive(0, h as i64 + (1 - ch % 2) - 1);
                    let ox = rng.int_inclusive(0, w as i64 + (1 - cw % 2) - 1);
                    let clamp = |v: i64, n: usize| v.clamp(0, n as i64) as usize;
                    (
                        clamp(oy - ch / 2, h),
                        clamp(oy - ch / 2 + ch, h),
                        clamp(ox - cw / 2, w),
                        clamp(ox - cw / 2 + cw, w),
                    )
                })
                .collect()
        });
        Self {
            size: [h, w],
            brightness,
            saturation,
            contrast,
            translation,
            cutout,
        }
    }

    /// The draws of samples `start..start + len` (one micro-batch of an accumulated step).
    pub fn rows(&self, start: usize, len: usize) -> Self {
        fn cut<T: Clone>(v: &Option<Vec<T>>, start: usize, len: usize) -> Option<Vec<T>> {
            v.as_ref().map(|v| v[start..start + len].to_vec())
        }
        Self {
            size: self.size,
            brightness: cut(&self.brightness, start, len),
            saturation: cut(&self.saturation, start, len),
            contrast: cut(&self.contrast, start, len),
            translation: cut(&self.translation, start, len),
            cutout: cut(&self.cutout, start, len),
        }
    }

    /// True when no transform is drawn.
    pub fn is_identity(&self) -> bool {
        self.brightness.is_none()
            && self.saturation.is_none()
            && self.contrast.is_none()
            && self.translation.is_none()
            && self.cutout.is_none()
    }

    /// Apply to a batch `[B, C, H, W]` (differentiable). Panics if the batch does not match the draws.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, _, h, w] = x.dims();
        assert_eq!(
            [h, w],
            self.size,
            "AugmentDraws made for {:?}, applied to {h}x{w}",
            self.size
        );
        let device = x.device();
        let col = |v: &Vec<f32>, f: fn(f32) -> f32| -> Tensor<4> {
            assert_eq!(
                v.len(),
                b,
                "AugmentDraws made for batch {}, applied to {b}",
                v.len()
            );
            let data: Vec<f32> = v.iter().map(|&r| f(r)).collect();
            Tensor::from_data(TensorData::new(data, [b, 1, 1, 1]), &device)
        };
        let mut x = x;
        if let Some(br) = &self.brightness {
            x = x + col(br, |r| r - 0.5);
        }
        if let Some(sa) = &self.saturation {
            let mean = x.clone().mean_dim(1);
            x = (x - mean.clone()) * col(sa, |r| r * 2.0) + mean;
        }
        if let Some(co) = &self.contrast {
            let mean = x.clone().mean_dims(&[1, 2, 3]);
            x = (x - mean.clone()) * col(co, |r| r + 0.5) + mean;
        }
        if let Some(tr) = &self.translation {
            let sy = tr
                .iter()
                .map(|t| t.0.unsigned_abs() as usize)
                .max()
                .unwrap_or(0);
            let sx = tr
                .iter()
                .map(|t| t.1.unsigned_abs() as usize)
                .max()
                .unwrap_or(0);
            let padded = x.pad(
                [(0, 0), (0, 0), (sy, sy), (sx, sx)],
                burn::tensor::ops::PadMode::Constant(0.0),
            );
            // out(y, x) = in(y − dy, x − dx), zero outside: a window of the padded image.
            let parts = tr
                .iter()
                .enumerate()
                .map(|(i, &(dy, dx))| {
                    let y0 = (sy as i64 - dy) as usize;
                    let x0 = (sx as i64 - dx) as usize;
                    padded
                        .clone()
                        .narrow(0, i, 1)
                        .narrow(2, y0, h)
                        .narrow(3, x0, w)
                })
                .collect::<Vec<_>>();
            x = Tensor::cat(parts, 0);
        }
        if let Some(cut) = &self.cutout {
            let mut mask = vec![1.0f32; b * h * w];
            for (i, &(y0, y1, x0, x1)) in cut.iter().enumerate() {
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        mask[i * h * w + yy * w + xx] = 0.0;
                    }
                }
            }
            let mask = Tensor::<4>::from_data(TensorData::new(mask, [b, 1, h, w]), &device);
            x = x * mask;
        }
        x
    }
}
