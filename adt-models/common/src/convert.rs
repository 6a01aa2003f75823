//! Declarative key tables for checkpoint layouts that need more than a rename: each
//! [`Rule`] maps a key (regex, with capture groups) to the module's key(s) and says how the
//! tensor changes on the way ([`Transform`]: a fused q/k/v split in three, a transpose,
//! swapped halves). [`convert`] applies a table strictly — a key no rule knows and no
//! ignore pattern lists is an error naming it — and the result loads with
//! [`crate::load_tensor_map`].

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::TensorData;
use regex::Regex;

use crate::LoadError;

/// How a checkpoint tensor becomes the module's tensor(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// Unchanged.
    Copy,
    /// 2-D transpose (e.g. OpenCLIP's `text_projection` `[width, proj]`, used as `x @ P`, into
    /// a linear weight `[proj, width]`).
    Transpose,
    /// Split along dim 0 into three equal parts written to the target with `{}` replaced by
    /// `q`, `k`, `v` (fused attention projections).
    SplitQkv,
    /// Swap the two halves along dim 0 (`shift, scale` → `scale, shift`: the original SD3
    /// layout's adaLN modulation vs diffusers' `AdaLayerNormContinuous`).
    SwapHalves,
}

/// One line of a key table: checkpoint key regex → module key (with `$1`… from the regex).
/// Tables whose lines depend on the config (e.g. "the last block") are built at load time,
/// hence owned strings.
#[derive(Debug, Clone)]
pub struct Rule {
    pub from: String,
    pub to: String,
    pub transform: Transform,
}

/// Shorthand for a table line.
pub fn rule(from: impl Into<String>, to: impl Into<String>, transform: Transform) -> Rule {
    Rule {
        from: from.into(),
        to: to.into(),
        transform,
    }
}

fn tensor_error(path: &Path, key: &str, message: String) -> LoadError {
    LoadError::Tensor {
        path: path.to_path_buf(),
        key: key.to_string(),
        message,
    }
}

/// Apply `rules` (first match wins) to every tensor of `tensors`; keys matching an
/// `ignored` regex are dropped. `path` (the file) and `prefix` (prepended to keys in
/// messages) only name things in errors.
pub fn convert(
    tensors: BTreeMap<String, TensorData>,
    rules: &[Rule],
    ignored: &[&str],
    path: &Path,
    prefix: &str,
) -> Result<BTreeMap<String, TensorData>, LoadError> {
    let compile = |re: &str| {
        Regex::new(re).map_err(|e| LoadError::Remap {
            pattern: re.to_string(),
            message: e.to_string(),
        })
    };
    let table = rules
        .iter()
        .map(|r| Ok((compile(&r.from)?, r)))
        .collect::<Result<Vec<_>, LoadError>>()?;
    let ignored = ignored
        .iter()
        .map(|re| compile(re))
        .collect::<Result<Vec<_>, LoadError>>()?;
    let mut out = BTreeMap::new();
    for (key, data) in tensors {
        if ignored.iter().any(|re| re.is_match(&key)) {
            continue;
        }
        let full = format!("{prefix}{key}");
        let Some((re, r)) = table.iter().find(|(re, _)| re.is_match(&key)) else {
            return Err(tensor_error(
                path,
                &full,
                "no rule of this layout's key table covers it".into(),
            ));
        };
        let target = re.replace(&key, r.to.as_str()).into_owned();
        for (k, v) in apply(r.transform, &target, data).map_err(|m| tensor_error(path, &full, m))? {
            if out.insert(k.clone(), v).is_some() {
                return Err(tensor_error(
                    path,
                    &full,
                    format!("a second tensor maps to `{k}`"),
                ));
            }
        }
    }
    Ok(out)
}

fn apply(
    transform: Transform,
    target: &str,
    data: TensorData,
) -> Result<Vec<(String, TensorData)>, String> {
    let shape = data.shape().to_vec();
    let values = |data: TensorData| {
        data.convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| format!("{e:?}"))
    };
    let halves = |n: usize| {
        if shape.is_empty() || !shape[0].is_multiple_of(n) {
            Err(format!(
                "needs a first dimension divisible by {n}, found shape {shape:?}"
            ))
        } else {
            Ok(())
        }
    };
    Ok(match transform {
        Transform::Copy => vec![(target.to_string(), data)],
        Transform::Transpose => {
            if shape.len() != 2 {
                return Err(format!("expected a 2-D tensor, found shape {shape:?}"));
            }
            let (r, c) = (shape[0], shape[1]);
            let v = values(data)?;
            let mut t = vec![0f32; r * c];
            for i in 0..r {
                for j in 0..c {
                    t[j * r + i] = v[i * c + j];
                }
            }
            vec![(target.to_string(), TensorData::new(t, [c, r]))]
        }
        Transform::SplitQkv => {
            halves(3)?;
            let v = values(data)?;
            let part = v.len() / 3;
            let mut part_shape = shape.clone();
            part_shape[0] /= 3;
            ["q", "k", "v"]
                .into_iter()
                .enumerate()
                .map(|(i, name)| {
                    (
                        target.replace("{}", name),
                        TensorData::new(v[i * part..(i + 1) * part].to_vec(), part_shape.clone()),
                    )
                })
                .collect()
        }
        Transform::SwapHalves => {
            halves(2)?;
            let v = values(data)?;
            let half = v.len() / 2;
            let swapped = [&v[half..], &v[..half]].concat();
            vec![(target.to_string(), TensorData::new(swapped, shape))]
        }
    })
}
