//! Loading errors name the file and, in pytorch-fid's spelling, the key: a
//! missing file, missing keys (zip and legacy `.pth`, safetensors), a wrong shape,
//! an unexpected key, a non-f32 `.pth`, a file that is not a checkpoint.

use crate::common;

use std::collections::BTreeMap;

use adt_inception::{InceptionError, InceptionV3Fid};
use adt_models_common::LoadError;
use burn::tensor::TensorData;
use common::*;

fn load_err(path: &std::path::Path) -> InceptionError {
    match InceptionV3Fid::load(path, &device()) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e,
    }
}

#[test]
fn missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "pt_inception-2015-12-05-6726825d.pth",
        "inception.safetensors",
    ] {
        let path = dir.path().join(name);
        let err = load_err(&path);
        assert!(
            matches!(&err, InceptionError::Load(LoadError::Missing { path: p }) if *p == path),
            "{err}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

/// `partial*.pth` hold only `Conv2d_1a_3x3.*`: everything else is reported missing,
/// by its checkpoint name, with the file.
#[test]
fn missing_keys_are_named_for_zip_and_legacy_pth() {
    for name in ["partial.pth", "partial_legacy.pth"] {
        let path = fixture(name);
        let err = load_err(&path);
        let msg = err.to_string();
        let InceptionError::Load(LoadError::MissingKeys { files, count, keys }) = &err else {
            panic!("{name}: {msg}");
        };
        assert!(files.contains(name), "{msg}");
        // 470 FID tensors, 5 of them in the file.
        assert_eq!(*count, 465, "{msg}");
        assert!(keys.contains("Conv2d_2a_3x3.bn.weight"), "{msg}");
        assert!(!keys.contains("Conv2d_1a_3x3"), "{msg}");
        assert!(msg.contains("missing from the checkpoint"), "{msg}");
    }
}

#[test]
fn wrong_shape_names_key_and_both_shapes() {
    let path = fixture("wrong_shape.pth");
    let err = load_err(&path);
    let msg = err.to_string();
    let InceptionError::Load(LoadError::Shape {
        path: p,
        key,
        expected,
        found,
    }) = &err
    else {
        panic!("{msg}");
    };
    assert_eq!(p, &path);
    assert_eq!(key, "Conv2d_1a_3x3.conv.weight");
    assert_eq!(expected, &vec![32, 3, 3, 3]);
    assert_eq!(found, &vec![32, 3, 5, 5]);
    assert!(
        msg.contains("wrong_shape.pth") && msg.contains("[32, 3, 5, 5]"),
        "{msg}"
    );
}

#[test]
fn safetensors_missing_and_wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let stem = |shape: [usize; 4]| {
        let mut sd = BTreeMap::new();
        let n: usize = shape.iter().product();
        sd.insert(
            "Conv2d_1a_3x3.conv.weight".to_string(),
            TensorData::new(vec![0f32; n], shape),
        );
        for p in ["weight", "bias", "running_mean", "running_var"] {
            sd.insert(
                format!("Conv2d_1a_3x3.bn.{p}"),
                TensorData::new(vec![1f32; 32], [32]),
            );
        }
        sd
    };
    let path = write_safetensors(dir.path(), "stem.safetensors", &stem([32, 3, 3, 3]));
    let msg = load_err(&path).to_string();
    assert!(
        msg.contains("stem.safetensors") && msg.contains("Conv2d_2a_3x3.conv.weight"),
        "{msg}"
    );
    let path = write_safetensors(dir.path(), "wrong.safetensors", &stem([32, 3, 7, 7]));
    let err = load_err(&path);
    assert!(
        matches!(&err, InceptionError::Load(LoadError::Shape { key, found, .. })
            if key == "Conv2d_1a_3x3.conv.weight" && found == &vec![32, 3, 7, 7]),
        "{err}"
    );
}

/// A full state dict loads with its `fc.*` and `num_batches_tracked` extras, but a
/// tensor of another network (torchvision's aux classifier) is an error naming it.
#[test]
fn unexpected_key_is_named_but_fc_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut sd = formula_state_dict();
    assert!(sd.contains_key("fc.weight"));
    assert!(sd.contains_key("Mixed_7c.branch_pool.bn.num_batches_tracked"));
    sd.insert(
        "AuxLogits.fc.weight".into(),
        TensorData::new(vec![0f32; 4], [2, 2]),
    );
    let path = write_safetensors(dir.path(), "aux.safetensors", &sd);
    let err = load_err(&path);
    let msg = err.to_string();
    assert!(
        matches!(&err, InceptionError::Load(LoadError::UnusedKeys { count: 1, keys, .. })
            if keys == "AuxLogits.fc.weight"),
        "{msg}"
    );
    assert!(msg.contains("aux.safetensors"), "{msg}");
}

#[test]
fn half_precision_pth_is_refused_with_the_key() {
    let err = load_err(&fixture("partial_f16.pth"));
    assert!(
        matches!(&err, InceptionError::DType { key, dtype, .. }
            if key.starts_with("Conv2d_1a_3x3.") && dtype == "F16"),
        "{err}"
    );
}

#[test]
fn not_a_checkpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.pth");
    std::fs::write(&path, b"definitely not a torch file").unwrap();
    let err = load_err(&path);
    assert!(
        matches!(&err, InceptionError::Pth { path: p, .. } if *p == path),
        "{err}"
    );
    assert!(err.to_string().contains("weights.pth"), "{err}");
}

#[test]
fn wrong_input_is_an_error() {
    let model = InceptionV3Fid::new(&device());
    let x = burn::tensor::Tensor::<4>::zeros([1, 1, 8, 8], &device());
    assert!(matches!(model.features(x), Err(InceptionError::Input(_))));
}
