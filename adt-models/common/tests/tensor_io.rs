//! Named tensor files: round trip of floats and ids, and a corrupt header named.

use std::collections::BTreeMap;

use adt_models_common::tensor_io::*;
use burn::tensor::TensorData;

#[test]
fn round_trip_keeps_values_and_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.safetensors");
    let mut m = BTreeMap::new();
    m.insert("a".into(), TensorData::new(vec![1.5f32, -2.0, 3.25], [3]));
    m.insert(
        "ids".into(),
        TensorData::new(vec![49406i64, 320, 49407, 7], [2, 2]),
    );
    write_tensors(&path, &m).unwrap();
    let back = read_tensors(&path).unwrap();
    assert_eq!(back["a"], m["a"]);
    assert_eq!(back["ids"], m["ids"]);
}

#[test]
fn corrupt_header_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    std::fs::write(&path, b"\xff\xff\xff\xff\xff\xff\xff\x7fgarbage").unwrap();
    let err = read_tensors(&path).unwrap_err().to_string();
    assert!(err.contains("bad.safetensors"), "{err}");
}
