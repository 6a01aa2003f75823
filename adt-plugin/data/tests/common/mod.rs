//! Helpers that write small datasets for the tests.
#![allow(dead_code)]

use std::path::Path;

use image::{Rgb, RgbImage};

/// A w×h image whose red channel encodes x and green encodes y, so crops and
/// flips are visible in the pixel values; blue is `tag`.
pub fn pattern(w: u32, h: u32, tag: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w.max(2).saturating_sub(1).max(1)).min(255) as u8,
            (y * 255 / h.max(2).saturating_sub(1).max(1)).min(255) as u8,
            tag,
        ])
    })
}

/// Writes `pattern(w, h, tag)` to `path` (format from the extension).
pub fn write_image(path: &Path, w: u32, h: u32, tag: u8) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    pattern(w, h, tag).save(path).unwrap();
}

/// A PNG cut to its first half: the header reads, decoding fails.
pub fn write_truncated_png(path: &Path, w: u32, h: u32) {
    let mut bytes = Vec::new();
    pattern(w, h, 7)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

/// A JPEG cut to the fraction `keep` of its bytes.
pub fn write_truncated_jpeg(path: &Path, w: u32, h: u32, keep: f64) {
    let mut bytes = Vec::new();
    pattern(w, h, 7)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let n = (bytes.len() as f64 * keep) as usize;
    std::fs::write(path, &bytes[..n]).unwrap();
}

/// Writes lines to a file.
pub fn write_lines(path: &Path, lines: &[&str]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}
