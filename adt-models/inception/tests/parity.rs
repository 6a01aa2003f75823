//! Parity with pytorch-fid 0.3.0's `InceptionV3` (FID variant, block 3, resize and
//! normalize on) on formula weights: pool3 features end to end, pytorch-fid's
//! blocks 0–2 (channel means), a batch, and a non-square input. The weights are
//! written under pytorch-fid's key names and loaded through the real loader.

use crate::common;

use adt_inception::{FID_FEATURE_DIM, InceptionV3Fid};
use burn::prelude::*;
use common::*;

/// Max-abs tolerance on pool3 features (reference max |x| ≈ 6.4, so ≈ 1.6e-5
/// relative) and on block channel means.
const TOL_FEATURES: f32 = 1e-4;

#[test]
fn formula_matches_the_script_bit_for_bit() {
    let formula = Formula::load();
    let keys = checkpoint_shapes();
    assert_eq!(keys.first().unwrap().0, formula.json["first_key"]);
    assert_eq!(keys.last().unwrap().0, formula.json["last_key"]);
    let checks = formula.json["check"].as_object().unwrap();
    assert!(checks.len() >= 3);
    for (key, want) in checks {
        let (j, (_, shape)) = keys
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k == key)
            .unwrap_or_else(|| panic!("{key} not in the module"));
        let v = formula.tensor(key, j, shape)[3];
        // JSON holds the f32 value as a decimal f64: exact round trip.
        assert_eq!(v, want.as_f64().unwrap() as f32, "{key}[3]");
    }
}

#[test]
fn features_match_pytorch_fid() {
    let dev = device();
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let path = write_safetensors(dir.path(), "formula.safetensors", &formula_state_dict());
    let model = InceptionV3Fid::load(&path, &dev).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "formula weights written and loaded in {:.2?}",
        start.elapsed()
    );
    let cases = cases();
    let to_pm1 = |key: &str| -> Tensor<4> {
        Tensor::<4>::from_data(get(&cases, key).clone(), &dev)
            .mul_scalar(2.0)
            .sub_scalar(1.0)
    };
    for case in ["a", "c"] {
        let start = std::time::Instant::now();
        let x = to_pm1(&format!("image.{case}"));
        let blocks = model.forward_blocks(x).unwrap();
        let feats = blocks.pool3.clone().reshape([1, FID_FEATURE_DIM]);
        println!("case {case}: forward {:.2?}", start.elapsed());
        let (err, scale) = max_abs(&feats.to_data(), get(&cases, &format!("features.{case}")));
        println!("case {case}: features max-abs {err:.3e} (max |x| {scale:.3})");
        assert!(
            err <= TOL_FEATURES,
            "case {case}: features max-abs {err:.3e}"
        );
        for (b, t) in [blocks.pool1, blocks.pool2, blocks.mixed_6e]
            .into_iter()
            .enumerate()
        {
            let mean = t.mean_dim(3).mean_dim(2).flatten::<2>(1, 3);
            let (err, scale) = max_abs(
                &mean.to_data(),
                get(&cases, &format!("block{b}_mean.{case}")),
            );
            println!("case {case}: block {b} channel means max-abs {err:.3e} (max |x| {scale:.3})");
            assert!(err <= TOL_FEATURES, "case {case} block {b}: {err:.3e}");
        }
    }
    // A batch of the two 32×32 images: same rows as pytorch-fid's batch.
    let start = std::time::Instant::now();
    let x = Tensor::cat(vec![to_pm1("image.a"), to_pm1("image.b")], 0);
    let feats = model.features(x).unwrap();
    println!("batch of 2: forward {:.2?}", start.elapsed());
    let (err, _) = max_abs(&feats.to_data(), get(&cases, "features.batch"));
    println!("batch: features max-abs {err:.3e}");
    assert!(err <= TOL_FEATURES, "batch: {err:.3e}");
    // The two images are told apart far beyond the tolerance.
    let ab = max_abs(get(&cases, "features.a"), get(&cases, "features.b")).0;
    assert!(
        ab > 100.0 * TOL_FEATURES,
        "fixture images too similar: {ab}"
    );
}

/// By hand, not in CI: the full formula weights as `torch.save(state_dict)` in both
/// containers (written by the script into the gitignored
/// `target/fixtures-tmp/inception/`) load with `from_pth` and give the same
/// features. `cargo test -p adt-inception --test parity -- --ignored`
#[test]
#[ignore = "needs target/fixtures-tmp/inception/*.pth from scripts/fixtures/inception.py"]
fn from_pth_zip_and_legacy_match_pytorch_fid() {
    let dev = device();
    let cases = cases();
    let tmp = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/fixtures-tmp/inception");
    for name in ["formula_zip.pth", "formula_legacy.pth"] {
        let start = std::time::Instant::now();
        let model =
            InceptionV3Fid::from_pth(&tmp.join(name), &dev).unwrap_or_else(|e| panic!("{e}"));
        println!("{name}: loaded in {:.2?}", start.elapsed());
        let x = Tensor::<4>::from_data(get(&cases, "image.c").clone(), &dev)
            .mul_scalar(2.0)
            .sub_scalar(1.0);
        let (err, _) = max_abs(
            &model.features(x).unwrap().to_data(),
            get(&cases, "features.c"),
        );
        println!("{name}: features max-abs {err:.3e}");
        assert!(err <= TOL_FEATURES, "{name}: {err:.3e}");
    }
}
