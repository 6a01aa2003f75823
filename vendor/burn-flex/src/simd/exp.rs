//! Vectorisable `exp` for f32 (adt patch, see `vendor/README.md`).
//!
//! Upstream calls the scalar libm `expf` element by element, which made `exp` (softmax
//! in attention, its autodiff backward, sigmoid/SiLU) the largest single cost of a
//! small UNet's training step on CPU. This is the Cephes `expf` polynomial written
//! branch-free, so that the loops below auto-vectorise inside `macerator`'s
//! per-instruction-set dispatch (AVX-512/AVX2/NEON/SSE). Accuracy: within 2 ulp of the
//! correctly rounded result on the normal range, subnormal results as libm's to within
//! their lower precision; `-inf -> 0`, `+inf -> inf`, NaN stays NaN.

/// Above this `exp` overflows f32.
const MAX_INPUT: f32 = 88.722_84;
/// Below this the result is under half the smallest subnormal, 2^-150: 0.
const MIN_INPUT: f32 = -103.972_08;
const LOG2E: f32 = core::f32::consts::LOG2_E;
/// ln 2 split in a part exact in f32 and the rest (Cody–Waite reduction).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding and subtracting it rounds to the nearest integer.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// e^x, branch-free (the comparisons become selects when vectorised).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let xc = x.clamp(MIN_INPUT, MAX_INPUT);
    let t = xc * LOG2E + ROUND_MAGIC;
    let n = t - ROUND_MAGIC;
    // n as an integer, read from t's mantissa (a float-to-int cast would not vectorise).
    let ni = t.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let y = p * (r * r) + r + 1.0;
    // 2^n as 2^h * 2^(n-h), h = floor(n/2): both factors are normal for n in [-150, 128],
    // so x near MAX_INPUT does not overflow the exponent field and results below 2^-126
    // underflow gradually to subnormals, as libm's do.
    let h = ni >> 1;
    let e = y * f32::from_bits(((h + 127) as u32) << 23) * f32::from_bits(((ni - h + 127) as u32) << 23);
    let e = if x > MAX_INPUT { f32::INFINITY } else { e };
    if x < MIN_INPUT { 0.0 } else { e }
}

/// Logistic sigmoid 1 / (1 + e^-x), branch-free.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// `xs[i] = exp(xs[i])`.
pub fn exp_inplace_f32(xs: &mut [f32]) {
    map_inplace(xs, Kernel::Exp);
}

/// `xs[i] = sigmoid(xs[i])`.
pub fn sigmoid_inplace_f32(xs: &mut [f32]) {
    map_inplace(xs, Kernel::Sigmoid);
}

/// `xs[i] = exp(xs[i] - shift)`: softmax's numerator, `shift` being the row maximum.
pub fn exp_shifted_inplace_f32(xs: &mut [f32], shift: f32) {
    map_inplace(xs, Kernel::ExpShifted(shift));
}

#[derive(Clone, Copy)]
enum Kernel {
    Exp,
    Sigmoid,
    ExpShifted(f32),
}

#[cfg(feature = "simd")]
fn map_inplace(xs: &mut [f32], kernel: Kernel) {
    dispatched(xs, kernel);
}

#[cfg(not(feature = "simd"))]
fn map_inplace(xs: &mut [f32], kernel: Kernel) {
    body(xs, kernel);
}

/// One copy per instruction set; the scalar loops in `body` are vectorised for it.
#[cfg(feature = "simd")]
#[macerator::with_simd]
fn dispatched<S: macerator::Simd>(xs: &mut [f32], kernel: Kernel) {
    body(xs, kernel);
}

#[inline(always)]
fn body(xs: &mut [f32], kernel: Kernel) {
    match kernel {
        Kernel::Exp => xs.iter_mut().for_each(|x| *x = exp_f32(*x)),
        Kernel::Sigmoid => xs.iter_mut().for_each(|x| *x = sigmoid_f32(*x)),
        Kernel::ExpShifted(shift) => xs.iter_mut().for_each(|x| *x = exp_f32(*x - shift)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_within_two_ulp_of_the_correctly_rounded_result() {
        let mut worst = 0;
        let mut x = MIN_INPUT + 0.5;
        while x < MAX_INPUT {
            let want = (x as f64).exp() as f32;
            worst = worst.max(ulps(exp_f32(x), want));
            x += 1.3e-3;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(-100.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        let mut v = [0.0, 1.0, f32::NAN, f32::NEG_INFINITY, 88.7, -87.3];
        exp_inplace_f32(&mut v);
        assert_eq!(v[0], 1.0);
        assert!(v[2].is_nan());
        assert_eq!(v[3], 0.0);
        assert!(v[4].is_finite() && v[4] > 1e38);
    }
}
