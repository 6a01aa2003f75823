//! Key tables: renames, q/k/v splits, transposes, swapped halves, and unknown keys refused by name.

use std::collections::BTreeMap;
use std::path::Path;

use adt_models_common::convert::*;
use burn::tensor::TensorData;

#[test]
fn a_table_renames_splits_transposes_swaps_and_refuses_the_unknown() {
    let t = |v: Vec<f32>, s: Vec<usize>| TensorData::new(v, s);
    let tensors = BTreeMap::from([
        (
            "a.qkv".to_string(),
            t((0..6).map(|x| x as f32).collect(), vec![3, 2]),
        ),
        (
            "b.proj".to_string(),
            t(vec![1., 2., 3., 4., 5., 6.], vec![2, 3]),
        ),
        ("c.mod".to_string(), t(vec![1., 2., 3., 4.], vec![4])),
        ("junk".to_string(), t(vec![0.], vec![1])),
    ]);
    let rules = [
        rule(r"^a\.qkv$", "a.{}", Transform::SplitQkv),
        rule(r"^b\.proj$", "b.weight", Transform::Transpose),
        rule(r"^c\.(mod)$", "c.$1", Transform::SwapHalves),
    ];
    let out = convert(tensors.clone(), &rules, &["^junk$"], Path::new("f"), "p.").unwrap();
    assert_eq!(out["a.k"], t(vec![2., 3.], vec![1, 2]));
    assert_eq!(out["b.weight"], t(vec![1., 4., 2., 5., 3., 6.], vec![3, 2]));
    assert_eq!(out["c.mod"], t(vec![3., 4., 1., 2.], vec![4]));
    let e = convert(tensors, &rules, &[], Path::new("f.safetensors"), "p.")
        .unwrap_err()
        .to_string();
    assert!(e.contains("p.junk") && e.contains("f.safetensors"), "{e}");
}
