//! PyTorch-exact image resampling (`F.interpolate`, `align_corners=False`) as two
//! small matrix products.
//!
//! Bilinear and bicubic resizes are separable: `out = Wh · x · Wwᵀ` with one 1-D
//! weight matrix per axis. Building those matrices here, with the index and weight
//! rules of ATen's CPU kernels, gives results equal to torch (to f32 rounding) for
//! both the plain and the `antialias=True` kernels, for an output size or a scale
//! factor — burn's `interpolate` has no antialias flag and a different bicubic
//! border rule. Matrix products are differentiable on every backend, which the
//! frozen backbone needs (the generator's gradient flows through the resize).
//!
//! Ported from ATen `UpSample.h` (`area_pixel_compute_scale`,
//! `area_pixel_compute_source_index`, `cubic_convolution1/2` with A = -0.75) and
//! `UpSampleKernel.cpp` (`_compute_indices_min_size_weights_aa`, `aa_filter` with
//! a = -0.5 for bicubic, triangle for bilinear). Verified against torch 2.15 by
//! the `resample` parity test.

use burn::prelude::*;

/// The interpolation kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResizeMode {
    Bilinear,
    Bicubic,
}

/// How the sampling positions are derived along one axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// torch `size=`: the scale is `in / out`.
    Size,
    /// torch `scale_factor=s`: the scale is `1 / s` (the output size is given
    /// separately and must be `floor(in * s)`).
    ScaleFactor(f64),
}

fn cubic1(x: f32, a: f32) -> f32 {
    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
}

fn cubic2(x: f32, a: f32) -> f32 {
    ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
}

/// Keys' cubic convolution kernel with parameter `a`.
fn cubic_filter(x: f32, a: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 {
        cubic1(x, a)
    } else if x < 2.0 {
        cubic2(x, a)
    } else {
        0.0
    }
}

fn triangle_filter(x: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

/// The `[output, input]` weight matrix of one axis, row-major.
pub fn weight_matrix(
    input: usize,
    output: usize,
    mode: ResizeMode,
    antialias: bool,
    sampling: Sampling,
) -> Vec<f32> {
    let mut w = vec![0f32; output * input];
    // ATen computes the scale in the tensor's precision (`opmath_t` = f32 here).
    let scale: f32 = match sampling {
        Sampling::ScaleFactor(s) if s > 0.0 => (1.0 / s) as f32,
        _ => input as f32 / output as f32,
    };
    // ATen copies an axis whose size does not change for the anti-aliasing kernels
    // and for bilinear (not for plain bicubic, where a scale factor still moves the
    // sampling positions).
    let identity = input == output && (antialias || mode == ResizeMode::Bilinear);
    if identity {
        for i in 0..output {
            w[i * input + i] = 1.0;
        }
        return w;
    }
    if antialias {
        let interp = match mode {
            ResizeMode::Bicubic => 4.0f32,
            ResizeMode::Bilinear => 2.0,
        };
        let (support, invscale) = if scale >= 1.0 {
            (interp * 0.5 * scale, 1.0 / scale)
        } else {
            (interp * 0.5, 1.0)
        };
        for i in 0..output {
            let center = scale * (i as f32 + 0.5);
            // C++ `static_cast<int64_t>` truncates toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(input as i64).max(0) as usize;
            let row = &mut w[i * input..(i + 1) * input];
            let mut total = 0f32;
            for (j, slot) in row.iter_mut().enumerate().take(xmax).skip(xmin) {
                let d = (j as f32 - center + 0.5) * invscale;
                let v = match mode {
                    ResizeMode::Bicubic => cubic_filter(d, -0.5),
                    ResizeMode::Bilinear => triangle_filter(d),
                };
                *slot = v;
                total += v;
            }
            if total != 0.0 {
                row.iter_mut().for_each(|v| *v /= total);
            }
        }
        return w;
    }
    for i in 0..output {
        let real = scale * (i as f32 + 0.5) - 0.5;
        let row = &mut w[i * input..(i + 1) * input];
        let last = input as i64 - 1;
        match mode {
            ResizeMode::Bicubic => {
                // No clamping of the source coordinate for cubic; taps clamp to the border.
                let i0 = real.floor();
                let t = real - i0;
                let i0 = i0 as i64;
                const A: f32 = -0.75;
                let coeffs = [
                    cubic2(t + 1.0, A),
                    cubic1(t, A),
                    cubic1(1.0 - t, A),
                    cubic2(2.0 - t, A),
                ];
                for (k, c) in coeffs.iter().enumerate() {
                    let idx = (i0 - 1 + k as i64).clamp(0, last) as usize;
                    row[idx] += c;
                }
            }
            ResizeMode::Bilinear => {
                let real = real.max(0.0);
                let i0 = real as i64;
                let i1 = (i0 + 1).min(last);
                let l1 = real - i0 as f32;
                row[i0 as usize] += 1.0 - l1;
                row[i1 as usize] += l1;
            }
        }
    }
    w
}

/// An axis resampler as a tensor `[output, input]`.
fn matrix(
    input: usize,
    output: usize,
    mode: ResizeMode,
    antialias: bool,
    sampling: Sampling,
    device: &Device,
) -> Tensor<2> {
    let w = weight_matrix(input, output, mode, antialias, sampling);
    Tensor::from_data(TensorData::new(w, [output, input]), device)
}

/// Resize `x` `[B, C, H, W]` to `[B, C, out_h, out_w]` like
/// `F.interpolate(x, size=(out_h, out_w), mode, align_corners=False, antialias)`.
/// Differentiable w.r.t. `x`.
pub fn resize(x: Tensor<4>, out: [usize; 2], mode: ResizeMode, antialias: bool) -> Tensor<4> {
    resize_with(x, out, mode, antialias, [Sampling::Size; 2])
}

/// [`resize`] with an explicit sampling rule per axis (`[height, width]`).
pub fn resize_with(
    x: Tensor<4>,
    out: [usize; 2],
    mode: ResizeMode,
    antialias: bool,
    sampling: [Sampling; 2],
) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let [oh, ow] = out;
    let unchanged = mode == ResizeMode::Bilinear || antialias || sampling == [Sampling::Size; 2];
    if [h, w] == out && unchanged {
        return x;
    }
    let device = x.device();
    let wh = matrix(h, oh, mode, antialias, sampling[0], &device);
    let ww = matrix(w, ow, mode, antialias, sampling[1], &device);
    // Width pass: [B*C*H, W] · Wwᵀ -> [B*C*H, ow].
    let y = x.reshape([b * c * h, w]).matmul(ww.transpose());
    // Height pass on [B*C, H, ow]: bring H last, [B*C*ow, H] · Whᵀ -> [B*C*ow, oh].
    let y = y
        .reshape([b * c, h, ow])
        .swap_dims(1, 2)
        .reshape([b * c * ow, h]);
    let y = y.matmul(wh.transpose());
    y.reshape([b * c, ow, oh])
        .swap_dims(1, 2)
        .reshape([b, c, oh, ow])
}

/// Resample a channels-last grid `[gh, gw, D]` to `[oh, ow, D]` (the position
/// table's layout), equal to permuting to NCHW, `F.interpolate`, permuting back.
pub fn resize_grid(
    grid: Tensor<3>,
    out: [usize; 2],
    mode: ResizeMode,
    antialias: bool,
    sampling: [Sampling; 2],
) -> Tensor<3> {
    let [gh, gw, d] = grid.dims();
    let [oh, ow] = out;
    let device = grid.device();
    let wh = matrix(gh, oh, mode, antialias, sampling[0], &device);
    let ww = matrix(gw, ow, mode, antialias, sampling[1], &device);
    // Height pass: Wh [oh, gh] · [gh, gw*D] -> [oh, gw*D].
    let y = wh.matmul(grid.reshape([gh, gw * d]));
    // Width pass: per row, Ww [ow, gw] · [gw, D]: as [oh, gw, D] -> [oh, D, gw] · Wwᵀ.
    let y = y
        .reshape([oh, gw, d])
        .swap_dims(1, 2)
        .reshape([oh * d, gw])
        .matmul(ww.transpose());
    y.reshape([oh, d, ow]).swap_dims(1, 2)
}
