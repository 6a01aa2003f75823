//! The `adt forward` harness entry for DINOv2: named input tensors in, the
//! transformers output names out, so outputs can be diffed against Python.

use std::collections::BTreeMap;
use std::path::Path;

use adt_models_common::ModelSource;
use burn::prelude::*;

use crate::{Dinov2Error, Dinov2Model};

/// Load the model at `model_dir` (transformers or original layout) on the CPU
/// (`flex`) and run [`forward_harness_on`].
pub fn forward_harness(
    model_dir: &Path,
    inputs: &BTreeMap<String, TensorData>,
) -> Result<BTreeMap<String, TensorData>, Dinov2Error> {
    forward_harness_on(model_dir, inputs, &Device::flex())
}

/// `pixel_values` `[B, 3, H, W]` → `last_hidden_state`, `pooler_output` and
/// `hidden_states.N` for N = 0..=num_hidden_layers (transformers'
/// `output_hidden_states=True` numbering).
pub fn forward_harness_on(
    model_dir: &Path,
    inputs: &BTreeMap<String, TensorData>,
    device: &Device,
) -> Result<BTreeMap<String, TensorData>, Dinov2Error> {
    let pixels = inputs.get("pixel_values").ok_or_else(|| {
        let names: Vec<&str> = inputs.keys().map(String::as_str).collect();
        Dinov2Error::Input(format!(
            "the dinov2 harness needs an input named `pixel_values`; got [{}]",
            names.join(", ")
        ))
    })?;
    if let Some(extra) = inputs.keys().find(|k| *k != "pixel_values") {
        return Err(Dinov2Error::Input(format!(
            "unexpected input `{extra}` (the dinov2 harness takes only `pixel_values`)"
        )));
    }
    if pixels.shape().len() != 4 {
        return Err(Dinov2Error::Input(format!(
            "pixel_values must be [B, C, H, W], got shape {:?}",
            pixels.shape()
        )));
    }
    let model = Dinov2Model::from_pretrained(&ModelSource::Local(model_dir.to_path_buf()), device)?;
    let x = Tensor::<4>::from_data(pixels.clone(), device);
    let out = model.forward_all_hidden_states(x)?;
    let mut result = BTreeMap::new();
    result.insert(
        "last_hidden_state".to_string(),
        out.last_hidden_state.to_data(),
    );
    result.insert("pooler_output".to_string(), out.pooler_output.to_data());
    for (i, h) in out.taps.into_iter().enumerate() {
        result.insert(format!("hidden_states.{i}"), h.to_data());
    }
    Ok(result)
}
