//! The patched burn-flex kernels (`vendor/README.md`) against f64 references computed here:
//! vectorised `exp`/`sigmoid`, attention with the softmax scale in the score GEMM, the
//! conv2d and conv3d im2col path, conv_transpose2d/3d (stride 1 through the convolution, the
//! rest through col2im), and matmul into an output it does not zero first. Each op is reached through burn's public `Tensor` API on `flex`,
//! in the layouts that take different code paths (unique, shared, strided buffers).

use burn::prelude::*;
use burn::tensor::module::{attention, conv_transpose2d, conv_transpose3d, conv2d, conv3d};
use burn::tensor::ops::{AttentionModuleOptions, ConvOptions, ConvTransposeOptions};
use burn::tensor::{Distribution, TensorData, activation};

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn ulps(a: f32, b: f32) -> u64 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

/// Inputs over exp's whole range (overflow, normal, subnormal, underflow) plus specials.
fn exp_inputs() -> Vec<f32> {
    let mut xs: Vec<f32> = (0..20_000).map(|i| -110.0 + i as f32 * 0.01).collect();
    xs.extend([
        0.0,
        -0.0,
        1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        88.72,
        88.73,
        -87.33,
    ]);
    xs
}

fn check_exp(got: &[f32], xs: &[f32], what: &str) {
    for (&g, &x) in got.iter().zip(xs) {
        let want = (x as f64).exp() as f32;
        if want.is_infinite() || want == 0.0 || want < f32::MIN_POSITIVE {
            // Overflow, underflow, subnormal: libm's result to within the subnormal spacing.
            assert!(
                g == want || (g - want).abs() <= 2.0 * f32::from_bits(1),
                "{what}: exp({x}) = {g}, want {want}"
            );
        } else {
            assert!(ulps(g, want) <= 2, "{what}: exp({x}) = {g}, want {want}");
        }
    }
}

#[test]
fn exp_is_within_two_ulp_in_every_layout() {
    let d = Device::flex();
    let xs = exp_inputs();
    let n = xs.len();
    let fresh = || Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &d);
    // Unique contiguous buffer: exp in place.
    check_exp(&host(fresh().exp()), &xs, "in place");
    // Shared buffer (`kept` still holds it): exp into a new buffer.
    let kept = fresh();
    check_exp(&host(kept.clone().exp()), &xs, "shared");
    assert_eq!(host(kept), xs, "the shared input was left as it was");
    // Strided view: the element-wise fallback.
    let m = Tensor::<2>::from_data(TensorData::new(xs.clone(), [n / 8, 8]), &d);
    let transposed = host(m.swap_dims(0, 1).exp().swap_dims(0, 1));
    check_exp(&transposed, &xs[..(n / 8) * 8], "strided");
    // NaN stays NaN.
    let nan = Tensor::<1>::from_data(TensorData::new(vec![f32::NAN, 1.0], [2]), &d);
    assert!(host(nan.exp())[0].is_nan());
}

#[test]
fn sigmoid_matches_f64() {
    let d = Device::flex();
    let xs: Vec<f32> = (0..100_000).map(|i| -60.0 + i as f32 * 1.2e-3).collect();
    let t = Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &d);
    // A shared buffer, as in SiLU's `x * sigmoid(x)`; it must be left as it was.
    let got = host(activation::sigmoid(t.clone()));
    assert_eq!(host(t), xs);
    for (&g, &x) in got.iter().zip(&xs) {
        let want = 1.0 / (1.0 + (-(x as f64)).exp());
        assert!(
            (g as f64 - want).abs() <= 2e-7 * want.max(1e-30) + 1e-37,
            "sigmoid({x}) = {g}, want {want}"
        );
    }
}

/// softmax(q kᵀ · scale + bias, masked) v in f64; `q`, `k`, `v` are [heads, seq, dim].
#[allow(clippy::too_many_arguments)]
fn attention_f64(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    bias: Option<&[f32]>,
    mask: Option<&[bool]>,
    heads: usize,
    seq_q: usize,
    seq_kv: usize,
    dim: usize,
) -> Vec<f64> {
    let scale = 1.0 / (dim as f64).sqrt();
    let mut out = vec![0.0; heads * seq_q * dim];
    for h in 0..heads {
        for i in 0..seq_q {
            let mut s: Vec<f64> = (0..seq_kv)
                .map(|j| {
                    let dot: f64 = (0..dim)
                        .map(|c| {
                            q[(h * seq_q + i) * dim + c] as f64
                                * k[(h * seq_kv + j) * dim + c] as f64
                        })
                        .sum();
                    let at = (h * seq_q + i) * seq_kv + j;
                    let masked = mask.is_some_and(|m| m[at]);
                    if masked {
                        f64::NEG_INFINITY
                    } else {
                        dot * scale + bias.map_or(0.0, |b| b[at] as f64)
                    }
                })
                .collect();
            let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            s.iter_mut().for_each(|x| *x = (*x - max).exp());
            let sum: f64 = s.iter().sum();
            for c in 0..dim {
                out[(h * seq_q + i) * dim + c] = (0..seq_kv)
                    .map(|j| s[j] * v[(h * seq_kv + j) * dim + c] as f64)
                    .sum::<f64>()
                    / sum;
            }
        }
    }
    out
}

#[test]
fn attention_matches_f64_on_the_naive_and_flash_paths() {
    let d = Device::flex();
    // 64 × 77 scores per head: the naive path; 700 × 700: the flash path (over 256K scores).
    for (seq_q, seq_kv, dim, extras) in [
        (64, 77, 8, false),
        (700, 700, 4, false),
        (64, 77, 8, true),
        (700, 700, 16, true),
    ] {
        let heads = 2;
        let q = Tensor::<4>::random([1, heads, seq_q, dim], Distribution::Normal(0.0, 1.0), &d);
        let k = Tensor::<4>::random([1, heads, seq_kv, dim], Distribution::Normal(0.0, 1.0), &d);
        let v = Tensor::<4>::random([1, heads, seq_kv, dim], Distribution::Normal(0.0, 1.0), &d);
        let (bias, mask) = if extras {
            let b = Tensor::<4>::random(
                [1, heads, seq_q, seq_kv],
                Distribution::Normal(0.0, 1.0),
                &d,
            );
            let m = Tensor::<4>::random(
                [1, heads, seq_q, seq_kv],
                Distribution::Uniform(0.0, 1.0),
                &d,
            )
            .greater_elem(0.8);
            (Some(b), Some(m))
        } else {
            (None, None)
        };
        let want = attention_f64(
            &host(q.clone()),
            &host(k.clone()),
            &host(v.clone()),
            bias.clone().map(host).as_deref(),
            mask.clone()
                .map(|m| m.into_data().try_to_vec::<bool>().unwrap())
                .as_deref(),
            heads,
            seq_q,
            seq_kv,
            dim,
        );
        let got = host(attention(
            q,
            k,
            v,
            mask,
            bias,
            AttentionModuleOptions::default(),
        ));
        let err = max_abs_err(&got, &want);
        assert!(
            err <= 1e-5,
            "attention {seq_q}x{seq_kv}x{dim} (bias and mask: {extras}): max abs error {err}"
        );
    }
}

/// One conv2d case: input [b, c_in, h, w], weight [c_out, c_in / groups, k, k], with a bias.
#[derive(Clone, Copy, Debug)]
struct ConvCase {
    b: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    groups: usize,
}

impl ConvCase {
    /// A case from its fields in declaration order, the map as (h, w).
    #[allow(clippy::too_many_arguments)]
    fn new(
        b: usize,
        c_in: usize,
        c_out: usize,
        (h, w): (usize, usize),
        kernel: usize,
        stride: usize,
        pad: usize,
        dilation: usize,
        groups: usize,
    ) -> Self {
        Self {
            b,
            c_in,
            c_out,
            h,
            w,
            kernel,
            stride,
            pad,
            dilation,
            groups,
        }
    }
}

/// Largest |got − want| over two equally long sequences.
fn max_abs_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs())
        .fold(0.0, f64::max)
}

/// Direct convolution in f64 with a bias; `x` [b, c_in, h, w], `w` [c_out, c_in / groups, k, k].
fn conv2d_f64(x: &[f32], w: &[f32], bias: &[f32], c: ConvCase) -> (Vec<f64>, [usize; 4]) {
    let ConvCase {
        b,
        c_in,
        c_out,
        h,
        w: wd,
        kernel: k,
        stride,
        pad,
        dilation,
        groups,
    } = c;
    let cpg = c_in / groups;
    let span = dilation * (k - 1) + 1;
    let (oh, ow) = (
        (h + 2 * pad - span) / stride + 1,
        (wd + 2 * pad - span) / stride + 1,
    );
    let opg = c_out / groups;
    let mut out = vec![0.0; b * c_out * oh * ow];
    for n in 0..b {
        for co in 0..c_out {
            let g = co / opg;
            for y in 0..oh {
                for xo in 0..ow {
                    let mut acc = bias[co] as f64;
                    for ci in 0..cpg {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (y * stride + ky * dilation) as isize - pad as isize;
                                let ix = (xo * stride + kx * dilation) as isize - pad as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xi = ((n * c_in + g * cpg + ci) * h + iy as usize) * wd
                                    + ix as usize;
                                acc += x[xi] as f64 * w[((co * cpg + ci) * k + ky) * k + kx] as f64;
                            }
                        }
                    }
                    out[((n * c_out + co) * oh + y) * ow + xo] = acc;
                }
            }
        }
    }
    (out, [b, c_out, oh, ow])
}

#[test]
fn conv2d_matches_f64() {
    let d = Device::flex();
    let case = ConvCase::new;
    // The im2col path (3×3: tiles that end mid-row, a batch, a rectangular map), strided,
    // dilated, 5×5 with padding 2, grouped, a single output channel, and 1×1.
    for c in [
        case(2, 16, 24, (37, 37), 3, 1, 1, 1, 1),
        case(1, 16, 32, (96, 40), 3, 1, 1, 1, 1),
        case(1, 16, 8, (20, 20), 3, 2, 1, 1, 1),
        case(1, 16, 8, (21, 18), 3, 2, 0, 1, 1),
        case(1, 12, 8, (19, 23), 3, 1, 2, 2, 1),
        case(1, 8, 8, (17, 17), 5, 1, 2, 1, 1),
        case(1, 16, 16, (12, 12), 3, 1, 1, 1, 2),
        case(1, 8, 12, (13, 11), 3, 1, 1, 1, 2),
        case(1, 32, 1, (33, 33), 3, 1, 1, 1, 1),
        case(2, 16, 8, (9, 9), 1, 1, 0, 1, 1),
    ] {
        let x = Tensor::<4>::random([c.b, c.c_in, c.h, c.w], Distribution::Normal(0.0, 1.0), &d);
        let w = Tensor::<4>::random(
            [c.c_out, c.c_in / c.groups, c.kernel, c.kernel],
            Distribution::Normal(0.0, 0.2),
            &d,
        );
        let bias = Tensor::<1>::random([c.c_out], Distribution::Normal(0.0, 1.0), &d);
        let (want, shape) = conv2d_f64(&host(x.clone()), &host(w.clone()), &host(bias.clone()), c);
        let y = conv2d(
            x,
            w,
            Some(bias),
            ConvOptions::new([c.stride; 2], [c.pad; 2], [c.dilation; 2], c.groups),
        );
        assert_eq!(y.dims(), shape, "{c:?}");
        let err = max_abs_err(&host(y), &want);
        assert!(err <= 1e-4, "conv2d {c:?}: max abs error {err}");
    }
}

/// Transposed convolution in f64 with a bias; `x` [b, c_in, h, w], `w` [c_in, c_out / groups,
/// k, k]; `c.c_out` is the output's channels, `c.pad` the input padding; `pad_out` extra rows
/// and columns at the end.
fn conv_transpose2d_f64(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    c: ConvCase,
    pad_out: usize,
) -> (Vec<f64>, [usize; 4]) {
    let ConvCase {
        b,
        c_in,
        c_out,
        h,
        w: wd,
        kernel: k,
        stride,
        pad,
        dilation,
        groups,
    } = c;
    let (icpg, opg) = (c_in / groups, c_out / groups);
    let size = |n: usize| (n - 1) * stride + dilation * (k - 1) + pad_out + 1 - 2 * pad;
    let (oh, ow) = (size(h), size(wd));
    let mut out = vec![0.0; b * c_out * oh * ow];
    for n in 0..b {
        for co in 0..c_out {
            let (g, o) = (co / opg, co % opg);
            for v in &mut out[(n * c_out + co) * oh * ow..(n * c_out + co + 1) * oh * ow] {
                *v = bias[co] as f64;
            }
            for i in 0..icpg {
                let ci = g * icpg + i;
                for iy in 0..h {
                    for ix in 0..wd {
                        let xv = x[((n * c_in + ci) * h + iy) * wd + ix] as f64;
                        for ky in 0..k {
                            for kx in 0..k {
                                let y = (iy * stride + ky * dilation) as isize - pad as isize;
                                let xo = (ix * stride + kx * dilation) as isize - pad as isize;
                                if y < 0 || xo < 0 || y >= oh as isize || xo >= ow as isize {
                                    continue;
                                }
                                out[((n * c_out + co) * oh + y as usize) * ow + xo as usize] +=
                                    xv * w[((ci * opg + o) * k + ky) * k + kx] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (out, [b, c_out, oh, ow])
}

#[test]
fn conv_transpose2d_matches_f64() {
    let d = Device::flex();
    let case = ConvCase::new;
    // Stride 1 (a convolution's input gradient: the convolution path) with padding 1, 0 and
    // 2 (dilated), grouped and 1×1; stride 2 and output padding (the col2im path).
    for (c, pad_out) in [
        (case(2, 16, 24, (37, 37), 3, 1, 1, 1, 1), 0),
        (case(1, 16, 8, (21, 18), 3, 1, 0, 1, 1), 0),
        (case(1, 12, 8, (19, 23), 3, 1, 2, 2, 1), 0),
        (case(1, 16, 16, (12, 12), 3, 1, 1, 1, 2), 0),
        (case(1, 8, 12, (13, 11), 3, 1, 1, 1, 2), 0),
        (case(2, 16, 8, (9, 9), 1, 1, 0, 1, 1), 0),
        (case(1, 16, 8, (10, 10), 3, 2, 1, 1, 1), 1),
    ] {
        let x = Tensor::<4>::random([c.b, c.c_in, c.h, c.w], Distribution::Normal(0.0, 1.0), &d);
        let w = Tensor::<4>::random(
            [c.c_in, c.c_out / c.groups, c.kernel, c.kernel],
            Distribution::Normal(0.0, 0.2),
            &d,
        );
        let bias = Tensor::<1>::random([c.c_out], Distribution::Normal(0.0, 1.0), &d);
        let (want, shape) = conv_transpose2d_f64(
            &host(x.clone()),
            &host(w.clone()),
            &host(bias.clone()),
            c,
            pad_out,
        );
        let y = conv_transpose2d(
            x,
            w,
            Some(bias),
            ConvTransposeOptions::new(
                [c.stride; 2],
                [c.pad; 2],
                [pad_out; 2],
                [c.dilation; 2],
                c.groups,
            ),
        );
        assert_eq!(y.dims(), shape, "{c:?}");
        let err = max_abs_err(&host(y), &want);
        assert!(
            err <= 1e-4,
            "conv_transpose2d {c:?} (output padding {pad_out}): max abs error {err}"
        );
    }
}

/// 3D convolution in f64 (`c_out` channels, kernel `k`), stride 1, symmetric padding `pad`, one
/// group, with a bias: the plain sum, and the transposed one (`w` read as [c_in, c_out, k, k,
/// k]) scattering each input.
fn conv3d_f64(
    x: &[f32],
    [b, c_in, d, h, wd]: [usize; 5],
    w: &[f32],
    [c_out, k, pad]: [usize; 3],
    bias: &[f32],
    transposed: bool,
) -> (Vec<f64>, [usize; 5]) {
    let size = |n: usize| {
        if transposed {
            n + k - 1 - 2 * pad
        } else {
            n + 2 * pad + 1 - k
        }
    };
    let (od, oh, ow) = (size(d), size(h), size(wd));
    let mut out = vec![0.0; b * c_out * od * oh * ow];
    for n in 0..b {
        for (co, &b_co) in bias[..c_out].iter().enumerate() {
            let o_base = (n * c_out + co) * od * oh * ow;
            for v in &mut out[o_base..o_base + od * oh * ow] {
                *v = b_co as f64;
            }
            for ci in 0..c_in {
                let wi = |kz: usize, ky: usize, kx: usize| {
                    let (a, c) = if transposed { (ci, co) } else { (co, ci) };
                    let m = if transposed { c_out } else { c_in };
                    w[(((a * m + c) * k + kz) * k + ky) * k + kx] as f64
                };
                // out position (z, y, x) meets input (z + kz − pad, ...) in the plain sum;
                // input (z, y, x) lands on (z + kz − pad, ...) in the transposed one.
                let (src, dst) = if transposed {
                    ((d, h, wd), (od, oh, ow))
                } else {
                    ((od, oh, ow), (d, h, wd))
                };
                for z in 0..src.0 {
                    for y in 0..src.1 {
                        for xx in 0..src.2 {
                            for kz in 0..k {
                                for ky in 0..k {
                                    for kx in 0..k {
                                        let (tz, ty, tx) = (
                                            (z + kz) as isize - pad as isize,
                                            (y + ky) as isize - pad as isize,
                                            (xx + kx) as isize - pad as isize,
                                        );
                                        if tz < 0 || ty < 0 || tx < 0 {
                                            continue;
                                        }
                                        let (tz, ty, tx) = (tz as usize, ty as usize, tx as usize);
                                        if tz >= dst.0 || ty >= dst.1 || tx >= dst.2 {
                                            continue;
                                        }
                                        let wv = wi(kz, ky, kx);
                                        if transposed {
                                            let xv =
                                                x[(((n * c_in + ci) * d + z) * h + y) * wd + xx];
                                            out[o_base + (tz * oh + ty) * ow + tx] +=
                                                xv as f64 * wv;
                                        } else {
                                            let xv =
                                                x[(((n * c_in + ci) * d + tz) * h + ty) * wd + tx];
                                            out[o_base + (z * oh + y) * ow + xx] += xv as f64 * wv;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (out, [b, c_out, od, oh, ow])
}

#[test]
fn conv3d_and_transpose_match_f64() {
    let d = Device::flex();
    // 3×3×3 with padding 1 and 0 (tiles cross depth planes), a conv and its stride-1 transpose
    // (the conv path with the kernel flipped along all three axes).
    for (transposed, pad) in [(false, 1), (false, 0), (true, 1), (true, 0)] {
        let xs = [2, 6, 7, 9, 8];
        let (c_in, c_out) = (6, 5);
        let x = Tensor::<5>::random(xs, Distribution::Normal(0.0, 1.0), &d);
        let w_shape = if transposed {
            [c_in, c_out, 3, 3, 3]
        } else {
            [c_out, c_in, 3, 3, 3]
        };
        let w = Tensor::<5>::random(w_shape, Distribution::Normal(0.0, 0.2), &d);
        let bias = Tensor::<1>::random([c_out], Distribution::Normal(0.0, 1.0), &d);
        let (want, shape) = conv3d_f64(
            &host(x.clone()),
            xs,
            &host(w.clone()),
            [c_out, 3, pad],
            &host(bias.clone()),
            transposed,
        );
        let y = if transposed {
            conv_transpose3d(
                x,
                w,
                Some(bias),
                ConvTransposeOptions::new([1; 3], [pad; 3], [0; 3], [1; 3], 1),
            )
        } else {
            conv3d(
                x,
                w,
                Some(bias),
                ConvOptions::new([1; 3], [pad; 3], [1; 3], 1),
            )
        };
        assert_eq!(y.dims(), shape, "transposed {transposed}, pad {pad}");
        let err = max_abs_err(&host(y), &want);
        assert!(
            err <= 1e-4,
            "conv3d transposed {transposed}, pad {pad}: max abs error {err}"
        );
    }
}

/// `a @ b` in f64 for row-major `a` [batch, m, k] and `b` [batch, k, n].
fn matmul_f64(a: &[f32], b: &[f32], [batch, m, k, n]: [usize; 4]) -> Vec<f64> {
    let mut out = vec![0.0; batch * m * n];
    for t in 0..batch {
        for i in 0..m {
            for j in 0..n {
                out[(t * m + i) * n + j] = (0..k)
                    .map(|p| a[(t * m + i) * k + p] as f64 * b[(t * k + p) * n + j] as f64)
                    .sum();
            }
        }
    }
    out
}

#[test]
fn matmul_overwrites_its_output() {
    let d = Device::flex();
    // 2D, batched (one large matrix: the GEMM's own threads; many small ones: a task per
    // matrix), a transposed (strided) operand, and k = 0 (the output must be zeros, not
    // whatever the allocation held). Each runs after a large tensor was freed, so a stale
    // buffer would show.
    for (batch, m, k, n, transposed) in [
        (1, 67, 33, 45, false),
        (1, 300, 200, 250, false),
        (12, 31, 17, 29, true),
        (3, 40, 0, 24, false),
    ] {
        drop(Tensor::<1>::full([1 << 20], 7.0, &d));
        let a = Tensor::<3>::random([batch, m, k], Distribution::Normal(0.0, 1.0), &d);
        let b = if transposed {
            Tensor::<3>::random([batch, n, k], Distribution::Normal(0.0, 1.0), &d).swap_dims(1, 2)
        } else {
            Tensor::<3>::random([batch, k, n], Distribution::Normal(0.0, 1.0), &d)
        };
        let want = matmul_f64(&host(a.clone()), &host(b.clone()), [batch, m, k, n]);
        let got = if batch == 1 {
            host(a.reshape([m, k]).matmul(b.reshape([k, n])))
        } else {
            host(a.matmul(b))
        };
        let err = max_abs_err(&got, &want);
        assert!(
            err <= 1e-3,
            "matmul {batch}×{m}×{k}×{n}: max abs error {err}"
        );
    }
}
