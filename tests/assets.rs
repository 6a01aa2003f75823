//! The shipped embedded default is checked against its manifest before use: a corrupted or
//! missing file is named, with how to restore or regenerate it.

use adt::assets::{AssetError, shapes_dir, verify};

fn copy_assets(to: &std::path::Path) {
    let from = shapes_dir();
    for line in std::fs::read_to_string(from.join("MANIFEST.sha256"))
        .unwrap()
        .lines()
    {
        let rel = line.split_once("  ").unwrap().1;
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), dst).unwrap();
    }
    std::fs::copy(from.join("MANIFEST.sha256"), to.join("MANIFEST.sha256")).unwrap();
}

#[test]
fn shipped_assets_match_their_manifest() {
    let n = verify(&shapes_dir()).expect("the shipped assets verify");
    assert!(n >= 15, "only {n} files checked");
}

#[test]
fn corrupted_weight_file_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    copy_assets(dir.path());
    let weights = dir.path().join("unet/diffusion_pytorch_model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&weights, bytes).unwrap();
    let err = verify(dir.path()).unwrap_err();
    assert!(matches!(err, AssetError::Checksum { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("unet/diffusion_pytorch_model.safetensors"),
        "{msg}"
    );
    assert!(msg.contains("corrupted"), "{msg}");
    assert!(msg.contains("git checkout"), "{msg}");
    assert!(msg.contains("--example pretrain_shapes"), "{msg}");
}

#[test]
fn missing_file_and_missing_manifest_are_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_assets(dir.path());
    std::fs::remove_file(dir.path().join("dinov2_disc/model.safetensors")).unwrap();
    let msg = verify(dir.path()).unwrap_err().to_string();
    assert!(
        msg.contains("dinov2_disc/model.safetensors: missing"),
        "{msg}"
    );

    std::fs::remove_file(dir.path().join("MANIFEST.sha256")).unwrap();
    let msg = verify(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("MANIFEST.sha256"), "{msg}");
    assert!(msg.contains("pretrain_shapes"), "{msg}");
}
