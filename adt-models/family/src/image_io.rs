//! Tensors ↔ image files: PNG output (diffusers' `numpy_to_pil` rounding), init images for
//! img2img, and contact-sheet grids.

use std::path::Path;

use burn::prelude::*;
use image::{RgbImage, imageops::FilterType};

use crate::error::{FamilyError, Result};

/// `[B, 3, H, W]` in `[0, 1]` → 8-bit RGB images, `round(x·255)` like diffusers.
pub fn to_rgb8(images: Tensor<4>) -> Vec<RgbImage> {
    let [b, c, h, w] = images.dims();
    assert_eq!(c, 3, "to_rgb8 takes RGB images [B, 3, H, W]");
    let data: Vec<f32> = images
        .clamp(0.0, 1.0)
        .permute([0, 2, 3, 1])
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 image data");
    data.chunks(h * w * 3)
        .take(b)
        .map(|px| {
            let bytes = px.iter().map(|v| (v * 255.0).round() as u8).collect();
            RgbImage::from_raw(w as u32, h as u32, bytes).expect("buffer size matches")
        })
        .collect()
}

/// Write an image as PNG, creating parent folders; the error names the file.
pub fn save_png(image: &RgbImage, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FamilyError::Image {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    image
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| FamilyError::Image {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Read an image file (PNG/JPEG), convert to RGB, resize to `width × height` with
/// Lanczos3 when it differs, and return `[1, 3, H, W]` in `[-1, 1]`.
pub fn load_image(path: &Path, width: usize, height: usize, device: &Device) -> Result<Tensor<4>> {
    let img = image::open(path)
        .map_err(|e| FamilyError::Image {
            path: path.to_path_buf(),
            message: format!("cannot decode image: {e}"),
        })?
        .to_rgb8();
    let img = if img.dimensions() != (width as u32, height as u32) {
        image::imageops::resize(&img, width as u32, height as u32, FilterType::Lanczos3)
    } else {
        img
    };
    Ok(from_rgb8(&img, device))
}

/// 8-bit RGB → `[1, 3, H, W]` in `[-1, 1]`.
pub fn from_rgb8(img: &RgbImage, device: &Device) -> Tensor<4> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let v: Vec<f32> = img
        .as_raw()
        .iter()
        .map(|&b| b as f32 / 127.5 - 1.0)
        .collect();
    Tensor::<4>::from_data(TensorData::new(v, [1, h, w, 3]), device).permute([0, 3, 1, 2])
}

/// Tile equally sized images into a grid of `cols` columns (row-major), with a 2-px gap.
pub fn grid(images: &[RgbImage], cols: usize) -> RgbImage {
    let cols = cols.max(1).min(images.len().max(1));
    let rows = images.len().div_ceil(cols);
    let (w, h) = images.first().map(|i| i.dimensions()).unwrap_or((1, 1));
    let gap = 2;
    let mut out = RgbImage::from_pixel(
        cols as u32 * (w + gap) - gap,
        (rows as u32 * (h + gap)).saturating_sub(gap).max(1),
        image::Rgb([255, 255, 255]),
    );
    for (k, img) in images.iter().enumerate() {
        let (x, y) = ((k % cols) as u32 * (w + gap), (k / cols) as u32 * (h + gap));
        image::imageops::replace(&mut out, img, x as i64, y as i64);
    }
    out
}
