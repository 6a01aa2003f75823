//! Strict loading: round trip, remap tables, and the errors users see.

use std::collections::BTreeMap;

use adt_models_common::tensor_io::{read_tensors, write_tensors};
use adt_models_common::{
    LoadError, LoadOptions, load_safetensors, load_safetensors_with, save_safetensors,
};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Linear, LinearConfig};
use burn::prelude::*;

#[derive(Module, Debug)]
struct Block {
    proj: Linear,
    norm: GroupNorm,
    conv: Conv2d,
}

fn block(device: &Device) -> Block {
    Block {
        proj: LinearConfig::new(3, 2).init(device),
        norm: GroupNormConfig::new(2, 4).init(device),
        conv: Conv2dConfig::new([4, 4], [1, 1]).init(device),
    }
}

/// A PyTorch-named checkpoint for `Block`: `proj.weight` is `[out, in]`.
fn torch_checkpoint() -> BTreeMap<String, TensorData> {
    let mut m = BTreeMap::new();
    m.insert(
        "proj.weight".into(),
        TensorData::new(vec![1f32, 2., 3., 4., 5., 6.], [2, 3]),
    );
    m.insert("proj.bias".into(), TensorData::new(vec![0.5f32, -0.5], [2]));
    m.insert(
        "norm.weight".into(),
        TensorData::new(vec![1.1f32, 1.2, 1.3, 1.4], [4]),
    );
    m.insert(
        "norm.bias".into(),
        TensorData::new(vec![0.1f32, 0.2, 0.3, 0.4], [4]),
    );
    m.insert(
        "conv.weight".into(),
        TensorData::new((0..16).map(|i| i as f32).collect::<Vec<_>>(), [4, 4, 1, 1]),
    );
    m.insert("conv.bias".into(), TensorData::new(vec![0f32; 4], [4]));
    m
}

#[test]
fn loads_pytorch_names_and_exports_them_back() {
    let dev = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.safetensors");
    write_tensors(&file, &torch_checkpoint()).unwrap();
    let m = load_safetensors(block(&dev), std::slice::from_ref(&file), &[]).unwrap();
    // burn's Linear is [in, out]: the adapter transposed it.
    let w = m.proj.weight.val().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(w, vec![1., 4., 2., 5., 3., 6.]);
    let out = dir.path().join("out.safetensors");
    save_safetensors(&m, &out, &[]).unwrap();
    assert_eq!(read_tensors(&out).unwrap(), torch_checkpoint());
}

#[test]
fn remap_table_and_ignored_buffers() {
    let dev = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.safetensors");
    let mut ckpt: BTreeMap<String, TensorData> = torch_checkpoint()
        .into_iter()
        .map(|(k, v)| (format!("model.{k}"), v))
        .collect();
    ckpt.insert(
        "model.position_ids".into(),
        TensorData::new(vec![0i64, 1], [2]),
    );
    write_tensors(&file, &ckpt).unwrap();
    let remap = [(r"^model\.", "")];
    let err = load_safetensors(block(&dev), std::slice::from_ref(&file), &remap).unwrap_err();
    assert!(matches!(err, LoadError::UnusedKeys { .. }), "{err}");
    assert!(err.to_string().contains("position_ids"), "{err}");
    let opts = LoadOptions {
        remap: &remap,
        ignore_unused: &[r"position_ids$"],
        allow_missing: false,
    };
    load_safetensors_with(block(&dev), &[file], &opts).unwrap();
}

#[test]
fn missing_and_misshaped_keys_are_named() {
    let dev = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.safetensors");
    let mut ckpt = torch_checkpoint();
    ckpt.remove("norm.bias");
    write_tensors(&file, &ckpt).unwrap();
    let err = load_safetensors(block(&dev), std::slice::from_ref(&file), &[]).unwrap_err();
    assert!(
        matches!(err, LoadError::MissingKeys { .. }) && err.to_string().contains("norm.beta"),
        "{err}"
    );

    let mut ckpt = torch_checkpoint();
    ckpt.insert("conv.bias".into(), TensorData::new(vec![0f32; 5], [5]));
    write_tensors(&file, &ckpt).unwrap();
    let err = load_safetensors(block(&dev), std::slice::from_ref(&file), &[]).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, LoadError::Shape { .. })
            && msg.contains("conv.bias")
            && msg.contains("m.safetensors"),
        "{msg}"
    );
}

#[test]
fn sharded_checkpoints_and_half_precision() {
    let dev = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let (a, b): (Vec<_>, Vec<_>) = torch_checkpoint()
        .into_iter()
        .partition(|(k, _)| k.starts_with("proj"));
    let fa = dir.path().join("a.safetensors");
    let fb = dir.path().join("b.safetensors");
    write_tensors(&fa, &a.into_iter().collect()).unwrap();
    // Second shard in f16, as `variant="fp16"` files are: values are exactly
    // representable, so the upcast must reproduce them bit for bit.
    let half = f16_file(&b.into_iter().collect());
    std::fs::write(&fb, half).unwrap();
    let m = load_safetensors(block(&dev), &[fa, fb], &[]).unwrap();
    assert_eq!(
        m.norm.gamma.as_ref().unwrap().val().dtype(),
        burn::tensor::DType::F32
    );
    assert_eq!(
        m.norm
            .gamma
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()[1],
        half::f16::from_f32(1.2).to_f32()
    );
}

fn f16_file(map: &BTreeMap<String, TensorData>) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = map
        .iter()
        .map(|(k, v)| {
            let bytes = v
                .iter::<f32>()
                .flat_map(|x| half::f16::from_f32(x).to_le_bytes())
                .collect();
            (k.clone(), v.shape().to_vec(), bytes)
        })
        .collect();
    let views = owned.iter().map(|(k, s, b)| {
        (
            k.clone(),
            TensorView::new(Dtype::F16, s.clone(), b).unwrap(),
        )
    });
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn corrupt_file_is_named() {
    let dev = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.safetensors");
    std::fs::write(&file, [8u8, 0, 0, 0, 0, 0, 0, 0, b'{', b'x']).unwrap();
    let err = load_safetensors(block(&dev), &[file], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.safetensors"), "{err}");
    let err =
        load_safetensors(block(&dev), &[dir.path().join("nope.safetensors")], &[]).unwrap_err();
    assert!(matches!(err, LoadError::Missing { .. }));
}
