//! Phase 3: two small DINOv2-architecture ViTs supervised on the domain's
//! attributes (linear heads on the final-normed CLS token, cross-entropy): the
//! discriminator backbone and a separate evaluation network. Both are saved in
//! transformers' layout (`config.json` + `model.safetensors`); the evaluation
//! network also ships its heads.

use std::path::Path;

use adt_data::{ShapesDomain, Split};
use adt_dinov2::{Dinov2Model, HfDinov2Config, IMAGENET_MEAN, IMAGENET_STD};
use adt_models_common::{LoadOptions, ModelSource, load_safetensors_with, save_safetensors};
use anyhow::Result;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use serde_json::{Value, json};

use crate::data::{
    IMAGE_SIZE, Running, StepClock, heads, images, label_tensors, lr_at, reads_loss,
};
use crate::tokenizer::write_json;

/// The architecture knobs that differ between the two networks.
#[derive(Debug, Clone, Copy)]
pub struct VitSpec {
    pub name: &'static str,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub patch: usize,
    pub seed: u64,
}

/// transformers `Dinov2Config` as `save_pretrained` writes it.
pub fn config_json(spec: &VitSpec) -> Value {
    json!({
        "apply_layernorm": true,
        "architectures": ["Dinov2Model"],
        "attention_probs_dropout_prob": 0.0,
        "drop_path_rate": 0.0,
        "dtype": "float32",
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": spec.hidden,
        "image_size": IMAGE_SIZE,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-06,
        "layerscale_value": 1.0,
        "mlp_ratio": 4,
        "model_type": "dinov2",
        "num_attention_heads": spec.heads,
        "num_channels": 3,
        "num_hidden_layers": spec.layers,
        "patch_size": spec.patch,
        "qkv_bias": true,
        "reshape_hidden_states": true,
        "transformers_version": "4.57.6",
        "use_mask_token": true,
        "use_swiglu_ffn": false
    })
}

/// One linear classifier per attribute on the CLS token.
#[derive(Module, Debug)]
pub struct AttributeHeads {
    pub kind: Linear,
    pub color: Linear,
    pub size: Linear,
    pub position: Linear,
    pub background: Linear,
}

impl AttributeHeads {
    pub fn new(hidden: usize, device: &Device) -> Self {
        let sizes: Vec<usize> = heads().iter().map(|(_, c)| c.len()).collect();
        let l = |n: usize| LinearConfig::new(hidden, n).init(device);
        Self {
            kind: l(sizes[0]),
            color: l(sizes[1]),
            size: l(sizes[2]),
            position: l(sizes[3]),
            background: l(sizes[4]),
        }
    }

    pub fn forward(&self, cls: Tensor<2>) -> [Tensor<2>; 5] {
        [
            self.kind.forward(cls.clone()),
            self.color.forward(cls.clone()),
            self.size.forward(cls.clone()),
            self.position.forward(cls.clone()),
            self.background.forward(cls),
        ]
    }
}

#[derive(Module, Debug)]
pub struct AttributeClassifier {
    pub vit: Dinov2Model,
    pub heads: AttributeHeads,
}

/// `[-1, 1]` images → ImageNet-normalised `pixel_values` (what `Dinov2Backbone`
/// feeds the model; the input is already the model's 32×32).
pub fn pixel_values(images: Tensor<4>) -> Tensor<4> {
    let device = images.device();
    let mean = Tensor::<1>::from_floats(IMAGENET_MEAN, &device).reshape([1, 3, 1, 1]);
    let std = Tensor::<1>::from_floats(IMAGENET_STD, &device).reshape([1, 3, 1, 1]);
    (images.add_scalar(1.0).mul_scalar(0.5) - mean) / std
}

impl AttributeClassifier {
    pub fn forward(&self, images: Tensor<4>) -> [Tensor<2>; 5] {
        let out = self
            .vit
            .forward_features(pixel_values(images), &[])
            .expect("32x32 RGB input");
        self.heads.forward(out.pooler_output)
    }
}

pub struct VitReport {
    pub spec: VitSpec,
    pub steps: usize,
    pub batch: usize,
    pub params: usize,
    pub final_loss: f64,
    /// Seconds per step after the warm-up.
    pub sec_per_step: f64,
    /// Held-out accuracy per head, measured on the reloaded files.
    pub heldout_accuracy: [f64; 5],
}

/// Per-head accuracy of `model` on `images` against `labels`.
pub fn accuracy(
    model: &AttributeClassifier,
    images: Tensor<4>,
    labels: &[Tensor<1, Int>],
) -> [f64; 5] {
    let logits = model.forward(images);
    std::array::from_fn(|h| {
        let pred = logits[h].clone().argmax(1).flatten::<1>(0, 1);
        let n = pred.dims()[0] as f64;
        pred.equal(labels[h].clone())
            .int()
            .sum()
            .into_scalar::<i64>() as f64
            / n
    })
}

/// Step count, batch size and log interval of one training phase.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub steps: usize,
    pub batch: usize,
    pub log_every: usize,
}

/// Train `spec`, save it to `dir` (plus the heads when `with_heads`), reload the
/// files and measure held-out accuracy on them.
pub fn train_and_save(
    domain: &ShapesDomain,
    spec: VitSpec,
    run: Run,
    dir: &Path,
    with_heads: bool,
    plain: &Device,
) -> Result<(AttributeClassifier, VitReport)> {
    let Run {
        steps,
        batch,
        log_every,
    } = run;
    let device = plain.clone().autodiff();
    device.seed(spec.seed);
    let cfg_json = config_json(&spec);
    let config = serde_json::from_value::<HfDinov2Config>(cfg_json.clone())?
        .to_config(&dir.join("config.json"))?;
    let mut model = AttributeClassifier {
        vit: Dinov2Model::new(&config, &device),
        heads: AttributeHeads::new(spec.hidden, &device),
    };
    let params = model.vit.num_params();
    eprintln!(
        "[{}] ViT {params} parameters (hidden {}, {} layers, patch {}), {steps} steps of batch {batch}",
        spec.name, spec.hidden, spec.layers, spec.patch
    );
    let ce = CrossEntropyLossConfig::new().init(&device);
    let mut optim = AdamWConfig::new().with_weight_decay(0.05).init();
    let mut loss_avg = Running::default();
    let mut clock = StepClock::new();
    // A different stretch of the (unlimited) train split per network.
    let offset = 10_000_000 * spec.seed;
    for step in 0..steps {
        let ks: Vec<u64> = (0..batch)
            .map(|i| offset + (step * batch + i) as u64)
            .collect();
        let x = images(domain, Split::Train, &ks, &device);
        let labels = label_tensors(domain, Split::Train, &ks, &device);
        let logits = model.forward(x);
        let loss = logits
            .into_iter()
            .zip(labels)
            .map(|(l, y)| ce.forward(l, y))
            .reduce(|a, b| a + b)
            .expect("five heads");
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(
            lr_at(step, steps, (steps / 10).min(100), 1e-3),
            model,
            grads,
        );
        if reads_loss(step, steps) {
            loss_avg.push(loss.into_scalar::<f64>());
        }
        clock.tick(step);
        if (step + 1) % log_every == 0 || step + 1 == steps {
            eprintln!(
                "[{}] step {:>5}/{steps}  loss {:.4}  {:.0}s",
                spec.name,
                step + 1,
                loss_avg.value,
                clock.start.elapsed().as_secs_f64()
            );
        }
    }
    let sec_per_step = clock.per_step(steps);

    // Save in transformers' layout; burn's FFN enum variant is not part of the key.
    std::fs::create_dir_all(dir)?;
    let model = model.valid();
    write_json(&dir.join("config.json"), &cfg_json)?;
    save_safetensors(
        &model.vit,
        &dir.join("model.safetensors"),
        &[(r"^(encoder\.layer\.\d+\.mlp)\.Mlp\.", "${1}.")],
    )?;
    if with_heads {
        save_safetensors(&model.heads, &dir.join("heads.safetensors"), &[])?;
    }

    // Reload what was written and evaluate that.
    let reloaded = AttributeClassifier {
        vit: Dinov2Model::from_pretrained(&ModelSource::Local(dir.to_path_buf()), plain)?,
        heads: if with_heads {
            load_heads(&dir.join("heads.safetensors"), spec.hidden, plain)?
        } else {
            model.heads.clone()
        },
    };
    let ks: Vec<u64> = (0..2048).collect();
    let mut correct = [0.0; 5];
    for chunk in ks.chunks(256) {
        let acc = accuracy(
            &reloaded,
            images(domain, Split::Heldout, chunk, plain),
            &label_tensors(domain, Split::Heldout, chunk, plain),
        );
        for h in 0..5 {
            correct[h] += acc[h] * chunk.len() as f64;
        }
    }
    let heldout_accuracy = correct.map(|c| c / ks.len() as f64);
    eprintln!(
        "[{}] held-out accuracy (reloaded): {}",
        spec.name,
        format_accuracy(&heldout_accuracy)
    );
    Ok((
        reloaded,
        VitReport {
            spec,
            steps,
            batch,
            params,
            final_loss: loss_avg.value,
            sec_per_step,
            heldout_accuracy,
        },
    ))
}

/// The evaluation network of an output folder (`dinov2_eval/` + its heads).
pub fn load_eval_net(dir: &Path, device: &Device) -> Result<AttributeClassifier> {
    let vit = Dinov2Model::from_pretrained(&ModelSource::Local(dir.to_path_buf()), device)?;
    let hidden = vit.config().hidden_size;
    Ok(AttributeClassifier {
        vit,
        heads: load_heads(&dir.join("heads.safetensors"), hidden, device)?,
    })
}

/// Load `heads.safetensors` (PyTorch `nn.Linear` layout: `kind.weight` `[6, D]`, …).
pub fn load_heads(path: &Path, hidden: usize, device: &Device) -> Result<AttributeHeads> {
    Ok(load_safetensors_with(
        AttributeHeads::new(hidden, device),
        &[path.to_path_buf()],
        &LoadOptions::default(),
    )?)
}

pub fn format_accuracy(acc: &[f64; 5]) -> String {
    heads()
        .iter()
        .zip(acc)
        .map(|((n, _), a)| format!("{n} {:.1}%", 100.0 * a))
        .collect::<Vec<_>>()
        .join(", ")
}
