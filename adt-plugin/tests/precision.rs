//! `precision = "bf16"`: a bf16 run tracks the f32 run of the same toy model over 10 steps
//! within bf16's precision, its master weights and optimizer state stay f32, it resumes
//! exactly, and unsupported precisions are refused by name.

use adt_plugin::AdtConfig;
use adt_plugin::checkpoint::files;
use adt_plugin::config::Precision;
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::DType;

use crate::common::{Report, config, max_diff, run_with, values};
use crate::resume::assert_resume_is_exact;

fn ten_steps(precision: Precision) -> AdtConfig {
    AdtConfig {
        precision,
        total_steps: 10,
        checkpoint_every: 10,
        ..config()
    }
}

struct Dtypes(Vec<DType>);
impl ModuleVisitor for Dtypes {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push(p.val().dtype());
    }
}

/// The f32 run of 10 steps and the same run with `bf16` (its run directories live in the
/// returned temporary directory).
fn twin_runs(bf16: AdtConfig) -> (tempfile::TempDir, Report, Report) {
    let tmp = tempfile::tempdir().unwrap();
    let f32_run = run_with(
        ten_steps(Precision::F32),
        &tmp.path().join("f32"),
        None,
        false,
    );
    let bf16_run = run_with(bf16, &tmp.path().join("bf16"), None, false);
    (tmp, f32_run, bf16_run)
}

/// Every step's losses and generator gradient norm within bf16's precision of the f32 run's,
/// and not all bit-identical (bf16 was used).
fn assert_tracks(f32_run: &Report, bf16_run: &Report) {
    let mut any_differs = false;
    for ((s, a), (_, b)) in f32_run.history.iter().zip(&bf16_run.history) {
        for (name, x, y) in [
            ("l_diff", a.l_diff, b.l_diff),
            ("g_adv", a.g_adv, b.g_adv),
            ("d_loss", a.d_loss, b.d_loss),
            ("g_grad_norm", a.g_grad_norm, b.g_grad_norm),
        ] {
            let (x, y) = (x.unwrap(), y.unwrap());
            any_differs |= x != y;
            // bf16 keeps 8 bits of mantissa (relative rounding 2^-9 ≈ 0.2% per op).
            assert!(
                (x - y).abs() <= 0.03 * x.abs() + 1e-3,
                "step {s} {name}: f32 {x} vs bf16 {y}"
            );
        }
    }
    assert!(
        any_differs,
        "the bf16 run is bit-identical to f32: bf16 was not used"
    );
}

#[test]
fn a_bf16_run_tracks_the_f32_run_with_f32_masters() {
    let (_tmp, f32_run, bf16_run) = twin_runs(ten_steps(Precision::Bf16));
    for (_, b) in &bf16_run.history {
        // The generator's gradient reaches the f32 masters through the bf16 copy.
        assert!(
            b.g_grad_norm.unwrap() > 0.0,
            "no generator gradient in bf16"
        );
    }
    assert_tracks(&f32_run, &bf16_run);
    // Master weights stay f32 and close to the f32 run's.
    let mut d = Dtypes(Vec::new());
    bf16_run.model.generator.visit(&mut d);
    assert!(d.0.iter().all(|t| *t == DType::F32), "{:?}", d.0);
    let worst = max_diff(
        &values(&f32_run.model.generator),
        &values(&bf16_run.model.generator),
    );
    assert!(worst < 5e-3, "generator weights differ by {worst}");
    // The optimizer state is f32: every tensor the checkpoint's burnpack header lists is.
    let optim = std::fs::read(
        bf16_run
            .run_dir
            .join("checkpoints/step-10")
            .join(files::OPTIM_G),
    )
    .unwrap();
    let has = |needle: &[u8]| optim.windows(needle.len()).any(|w| w == needle);
    assert!(
        has(b"moment_2") && has(b"dtypecF32"),
        "unexpected optimizer record"
    );
    assert!(
        !has(b"BF16") && !has(b"cF16"),
        "half-precision optimizer state"
    );
}

#[test]
fn a_bf16_run_resumes_bit_exactly() {
    assert_resume_is_exact(AdtConfig {
        precision: Precision::Bf16,
        ..config()
    });
}

#[test]
fn unsupported_precisions_are_named() {
    let e = AdtConfig::from_toml_str("precision = \"fp8\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("fp8") && e.contains("bf16"), "{e}");
    for key in ["vae_precision", "backbone_precision"] {
        let e = AdtConfig::from_toml_str(&format!("{key} = \"f16\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("f16") && e.contains("bf16"), "{e}");
    }
}

/// The frozen parts in bf16 too (VAE decode/encode, backbone): the run still tracks f32,
/// and the heads and masters see f32.
#[test]
fn a_run_with_bf16_frozen_parts_tracks_the_f32_run() {
    let (_tmp, f32_run, bf16_run) = twin_runs(AdtConfig {
        vae_precision: Precision::Bf16,
        backbone_precision: Precision::Bf16,
        ..ten_steps(Precision::Bf16)
    });
    assert_tracks(&f32_run, &bf16_run);
    let ctx = &bf16_run.model.ctx;
    let mut d = Dtypes(Vec::new());
    ctx.backbone.visit(&mut d);
    assert!(d.0.iter().all(|t| *t == DType::BF16), "{:?}", d.0);
    let mut d = Dtypes(Vec::new());
    bf16_run.model.discriminator.visit(&mut d);
    assert!(d.0.iter().all(|t| *t == DType::F32), "heads: {:?}", d.0);
}
