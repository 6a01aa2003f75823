//! The resampler against torch `F.interpolate` (align_corners=False): bilinear and
//! bicubic, with and without antialias, by output size and by scale factor.

use crate::common;

use adt_dinov2::resample::{ResizeMode, Sampling, resize_with};
use burn::prelude::*;
use common::*;

/// Resampling is a pair of small matrix products; errors are f32 rounding only.
const TOL_RESAMPLE: f32 = 1e-5;

#[test]
fn matches_torch_interpolate() {
    let dev = device();
    let refs =
        adt_models_common::tensor_io::read_tensors(&fixture("resample.safetensors")).unwrap();
    let mut checked = 0;
    for k in 0.. {
        let Some(input) = refs.get(&format!("{k}.input")) else {
            break;
        };
        let x: Tensor<4> = tensor(input, &dev);
        let [_, _, hi, wi] = x.dims();
        for mode in [ResizeMode::Bicubic, ResizeMode::Bilinear] {
            for aa in [false, true] {
                let tag = format!(
                    "{}{}",
                    if mode == ResizeMode::Bicubic {
                        "bicubic"
                    } else {
                        "bilinear"
                    },
                    if aa { "_aa" } else { "" }
                );
                let want = get(&refs, &format!("{k}.size.{tag}"));
                let out = [want.shape()[2], want.shape()[3]];
                let y = resize_with(x.clone(), out, mode, aa, [Sampling::Size; 2]);
                close(
                    &format!("{k} {hi}x{wi}->{out:?} size {tag}"),
                    &y,
                    want,
                    TOL_RESAMPLE,
                );
                let want = get(&refs, &format!("{k}.offset.{tag}"));
                let sf = [
                    Sampling::ScaleFactor((out[0] as f64 + 0.1) / hi as f64),
                    Sampling::ScaleFactor((out[1] as f64 + 0.1) / wi as f64),
                ];
                let y = resize_with(x.clone(), out, mode, aa, sf);
                close(
                    &format!("{k} {hi}x{wi}->{out:?} scale_factor {tag}"),
                    &y,
                    want,
                    TOL_RESAMPLE,
                );
                checked += 2;
            }
        }
    }
    assert!(checked >= 40, "only {checked} comparisons");
}
