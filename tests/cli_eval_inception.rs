//! `adt eval --inception`: FID with pytorch-fid's InceptionV3 as the feature network. A
//! missing weights file fails fast, naming the file; the network gives 2048-d rows and the
//! report names FID.

use std::path::PathBuf;
use std::process::Command;

use adt::eval::{FID_METRIC, FeatureNet};
use adt::models::inception::InceptionV3Fid;
use burn::prelude::*;

#[test]
fn missing_inception_weights_are_named() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("pt_inception-2015-12-05-6726825d.pth");
    let out = Command::new(env!("CARGO_BIN_EXE_adt"))
        .arg("eval")
        .arg("--model")
        .arg(root.join("assets/shapes"))
        .arg("--inception")
        .arg(&weights)
        .arg("--out")
        .arg(dir.path().join("eval"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("file not found") && stderr.contains(&weights.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn features_and_inception_are_exclusive() {
    let out = Command::new(env!("CARGO_BIN_EXE_adt"))
        .args([
            "eval",
            "--model",
            "m",
            "--features",
            "f",
            "--inception",
            "w.pth",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn inception_feature_net_gives_fid_rows() {
    let device = Device::flex();
    let net = FeatureNet::from_inception(InceptionV3Fid::new(&device));
    assert_eq!(net.dim(), 2048);
    assert_eq!(net.metric(), FID_METRIC);
    assert!(!net.is_dinov2());
    let rows = net
        .features(Tensor::<4>::zeros([1, 3, 32, 32], &device))
        .unwrap();
    assert_eq!((rows.len(), rows[0].len()), (1, 2048));
    assert!(rows[0].iter().all(|v| v.is_finite()));
}
