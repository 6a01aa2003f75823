//! Attribute accuracy on the shapes domain: the evaluation network's linear heads
//! (`heads.json` + `heads.safetensors` beside it, PyTorch `nn.Linear` layout) read a
//! generated image's shape kind, colour, size, position and background, compared with what
//! its caption asked for.

use std::path::Path;

use adt_data::ShapeAttributes;
use adt_models_common::tensor_io::read_tensors;
use anyhow::{Context, Result, bail};

/// One linear classifier on the feature vector.
struct Head {
    name: String,
    classes: Vec<String>,
    /// `[classes, dim]`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// The heads of an evaluation network.
pub struct AttributeHeads {
    heads: Vec<Head>,
    dim: usize,
}

#[derive(serde::Deserialize)]
struct HeadsFile {
    heads: Vec<HeadEntry>,
}

#[derive(serde::Deserialize)]
struct HeadEntry {
    name: String,
    classes: Vec<String>,
}

impl AttributeHeads {
    /// Read `dir/heads.json` and `dir/heads.safetensors`; `None` when the folder has no heads.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let json = dir.join("heads.json");
        if !json.is_file() {
            return Ok(None);
        }
        let file: HeadsFile = serde_json::from_str(
            &std::fs::read_to_string(&json)
                .with_context(|| format!("reading {}", json.display()))?,
        )
        .with_context(|| format!("{}: not a heads file", json.display()))?;
        let st = dir.join("heads.safetensors");
        let tensors = read_tensors(&st)?;
        let mut heads = Vec::new();
        let mut dim = 0;
        for e in file.heads {
            let get = |suffix: &str| {
                let key = format!("{}.{suffix}", e.name);
                tensors
                    .get(&key)
                    .with_context(|| format!("{}: missing `{key}`", st.display()))
                    .map(|t| {
                        (
                            t.shape().to_vec(),
                            t.clone().convert::<f32>().iter::<f32>().collect::<Vec<_>>(),
                        )
                    })
            };
            let (wshape, weight) = get("weight")?;
            let (_, bias) = get("bias")?;
            if wshape.len() != 2 || wshape[0] != e.classes.len() || bias.len() != e.classes.len() {
                bail!(
                    "{}: `{}.weight` has shape {wshape:?}, expected [{}, D]",
                    st.display(),
                    e.name,
                    e.classes.len()
                );
            }
            dim = wshape[1];
            heads.push(Head {
                name: e.name,
                classes: e.classes,
                weight,
                bias,
            });
        }
        Ok(Some(Self { heads, dim }))
    }

    /// Head names, in file order.
    pub fn names(&self) -> Vec<String> {
        self.heads.iter().map(|h| h.name.clone()).collect()
    }

    /// Per head: 1 when the predicted class is what `attrs` asks for, else 0.
    pub fn score(&self, features: &[f32], attrs: &ShapeAttributes) -> Result<Vec<f64>> {
        if features.len() != self.dim {
            bail!(
                "features have {} values, the heads take {}",
                features.len(),
                self.dim
            );
        }
        self.heads
            .iter()
            .map(|h| {
                let best = (0..h.classes.len())
                    .map(|c| {
                        let w = &h.weight[c * self.dim..(c + 1) * self.dim];
                        let z: f32 =
                            w.iter().zip(features).map(|(a, b)| a * b).sum::<f32>() + h.bias[c];
                        (c, z)
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(c, _)| c)
                    .expect("at least one class");
                let want = target(attrs, &h.name)
                    .with_context(|| format!("unknown attribute head `{}`", h.name))?;
                Ok(f64::from(u8::from(h.classes[best] == want)))
            })
            .collect()
    }
}

/// The class name a caption asks for, in the heads' vocabulary.
fn target(a: &ShapeAttributes, head: &str) -> Option<String> {
    Some(match head {
        "kind" => a.kind.name().to_string(),
        "color" => a.color.name().to_string(),
        "size" => a.size.name().to_string(),
        "background" => a.background.name().to_string(),
        "position" => a.position.name().to_string(),
        _ => return None,
    })
}
