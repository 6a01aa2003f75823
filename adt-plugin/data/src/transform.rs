//! Preprocessing: resize to cover the target with a good filter, crop
//! (center or random), random horizontal flip, and conversion to f32 CHW in
//! [-1, 1]. All randomness comes from [`augment_rng`], a ChaCha8 stream keyed
//! by (seed, epoch, index), so a resumed run sees the same pixels.

use image::{DynamicImage, RgbImage, imageops};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Where the crop window sits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropMode {
    #[default]
    Center,
    Random,
}

/// Horizontal flipping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipMode {
    #[default]
    None,
    /// Flip with probability 1/2, drawn per (epoch, index).
    Random,
}

/// Resampling filter for the resize.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeFilter {
    #[default]
    Lanczos3,
    CatmullRom,
    Triangle,
}

impl ResizeFilter {
    fn to_image(self) -> imageops::FilterType {
        match self {
            Self::Lanczos3 => imageops::FilterType::Lanczos3,
            Self::CatmullRom => imageops::FilterType::CatmullRom,
            Self::Triangle => imageops::FilterType::Triangle,
        }
    }
}

/// The preprocessing knobs (the target size comes from the record's bucket).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preprocess {
    pub crop: CropMode,
    pub flip: FlipMode,
    pub filter: ResizeFilter,
}

/// A preprocessed image: `[3, height, width]` f32 in [-1, 1], row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTensor {
    pub data: Vec<f32>,
    pub height: usize,
    pub width: usize,
}

impl ImageTensor {
    /// The same image mirrored left–right.
    pub fn flipped(&self) -> Self {
        let (h, w) = (self.height, self.width);
        let mut data = self.data.clone();
        for row in data.chunks_mut(w) {
            row.reverse();
        }
        debug_assert_eq!(data.len(), 3 * h * w);
        Self {
            data,
            height: h,
            width: w,
        }
    }
}

/// What the augmentation did (SDXL-style micro-conditioning needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Size of the source image (width, height).
    pub original_size: (u32, u32),
    /// Size of the resized image the crop was cut from (width, height).
    pub resized_size: (u32, u32),
    /// Top-left of the crop window in the resized image (top, left).
    pub crop_top_left: (u32, u32),
    pub flipped: bool,
}

impl Applied {
    /// The crop's top-left corner in the image as the model sees it (top, left): with a flip,
    /// the window's mirror image in the flipped resized image. diffusers' SDXL training script
    /// flips before cropping and records that offset; adt-data crops first, so this converts.
    pub fn crop_top_left_as_seen(&self, target_width: u32) -> (u32, u32) {
        let (top, left) = self.crop_top_left;
        if self.flipped {
            let right_margin = self.resized_size.0.saturating_sub(left + target_width);
            (top, right_margin)
        } else {
            (top, left)
        }
    }
}

/// The augmentation RNG of record `index` in `epoch`: ChaCha8 keyed by the
/// triple, so every (epoch, index) has its own independent stream.
pub fn augment_rng(seed: u64, epoch: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    key[24..].copy_from_slice(b"adt-aug\0");
    ChaCha8Rng::from_seed(key)
}

/// The flip decision; always the first draw from the augmentation RNG, so the
/// latent cache can replay it without decoding the image.
pub fn draw_flip(pre: &Preprocess, rng: &mut ChaCha8Rng) -> bool {
    match pre.flip {
        FlipMode::None => false,
        FlipMode::Random => rng.random_bool(0.5),
    }
}

/// Resizes `img` so it covers `target` (width, height), crops to exactly
/// `target`, flips if `flip`, and converts to [-1, 1] CHW. `rng` supplies the
/// random crop offset (draw the flip first with [`draw_flip`]).
pub fn preprocess(
    img: &DynamicImage,
    target: (u32, u32),
    pre: &Preprocess,
    flip: bool,
    rng: &mut ChaCha8Rng,
) -> (ImageTensor, Applied) {
    let (tw, th) = target;
    let rgb = to_rgb_on_white(img);
    let (w, h) = rgb.dimensions();
    let scale = f64::max(tw as f64 / w as f64, th as f64 / h as f64);
    let nw = ((w as f64 * scale).round() as u32).max(tw);
    let nh = ((h as f64 * scale).round() as u32).max(th);
    let resized = if (nw, nh) == (w, h) {
        rgb
    } else {
        imageops::resize(&rgb, nw, nh, pre.filter.to_image())
    };
    let (left, top) = match pre.crop {
        CropMode::Center => ((nw - tw) / 2, (nh - th) / 2),
        CropMode::Random => (rng.random_range(0..=nw - tw), rng.random_range(0..=nh - th)),
    };
    let (tw_us, th_us) = (tw as usize, th as usize);
    let plane = tw_us * th_us;
    let mut data = vec![0f32; 3 * plane];
    for y in 0..th_us {
        for x in 0..tw_us {
            let px = resized.get_pixel(left + x as u32, top + y as u32);
            let dx = if flip { tw_us - 1 - x } else { x };
            for c in 0..3 {
                data[c * plane + y * tw_us + dx] = px[c] as f32 / 127.5 - 1.0;
            }
        }
    }
    let tensor = ImageTensor {
        data,
        height: th_us,
        width: tw_us,
    };
    let applied = Applied {
        original_size: (w, h),
        resized_size: (nw, nh),
        crop_top_left: (top, left),
        flipped: flip,
    };
    (tensor, applied)
}

/// RGB with any alpha composited onto white (dropping alpha would expose
/// whatever colour transparent pixels happen to store).
fn to_rgb_on_white(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let p = rgba.get_pixel(x, y);
        let a = p[3] as f32 / 255.0;
        let mix = |c: u8| (c as f32 * a + 255.0 * (1.0 - a)).round() as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}
