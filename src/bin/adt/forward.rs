//! `adt forward`: one model, named inputs in, named outputs out.
//!
//! Names follow the reference implementations so the same file can be fed to
//! diffusers/transformers: `unet` (sample, timestep, encoder_hidden_states, optional
//! text_embeds and time_ids → sample), `mmdit` (SD3's transformer: hidden_states,
//! encoder_hidden_states, pooled_projections, timestep → sample), `vae-encode` (image →
//! posterior_mean, posterior_logvar), `vae-decode` (latents → decoded; any latent channels,
//! SD3's 16 included), `clip-text` (input_ids → last_hidden_state, pooler_output or
//! text_embeds, hidden_states.N), `t5` (input_ids, optional attention_mask →
//! last_hidden_state, hidden_states.N), `dinov2` (pixel_values → last_hidden_state,
//! pooler_output, hidden_states.N).

use std::collections::BTreeMap;
use std::path::PathBuf;

use adt::models::clip::ClipTextModel;
use adt::models::common::ModelSource;
use adt::models::common::tensor_io::{read_tensors, write_tensors};
use adt::models::diffusion::{
    AddedCond, AutoencoderKL, Sd3Transformer2DModel, UNet2DConditionModel,
};
use adt::models::t5::T5EncoderModel;
use anyhow::{Context, Result, bail};

use adt::device::DeviceArg;
use burn::prelude::*;

/// Which model the inputs are for.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Kind {
    Unet,
    Mmdit,
    VaeEncode,
    VaeDecode,
    ClipText,
    T5,
    Dinov2,
}

#[derive(Debug, clap::Args)]
pub struct ForwardArgs {
    /// The model kind.
    #[arg(value_enum)]
    kind: Kind,
    /// The model folder (with `config.json`), e.g. a pipeline's `unet/`, or a hub id.
    #[arg(long)]
    model: String,
    /// Safetensors file of named inputs.
    #[arg(long)]
    inputs: PathBuf,
    /// Where to write the named outputs (safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Reference outputs (e.g. written by diffusers/transformers): compare every output of the
    /// same name and fail when the max-abs error exceeds --tol.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Max-abs tolerance for --compare.
    #[arg(long, default_value_t = 1e-4)]
    tol: f32,
    #[arg(long, value_enum, default_value_t)]
    device: DeviceArg,
}

type Tensors = BTreeMap<String, TensorData>;

impl ForwardArgs {
    pub fn run(&self) -> Result<()> {
        let inputs = read_tensors(&self.inputs)
            .with_context(|| format!("reading inputs {}", self.inputs.display()))?;
        let source = ModelSource::parse(&self.model);
        let device = self.device.device();
        let outputs = match self.kind {
            Kind::Unet => unet(&source, &inputs, &device),
            Kind::Mmdit => mmdit(&source, &inputs, &device),
            Kind::T5 => t5(&source, &inputs, &device),
            Kind::VaeEncode => vae(&source, &inputs, &device, true),
            Kind::VaeDecode => vae(&source, &inputs, &device, false),
            Kind::ClipText => clip_text(&source, &inputs, &device),
            Kind::Dinov2 => match &source {
                ModelSource::Local(dir) => Ok(adt::models::dinov2::forward_harness_on(
                    dir, &inputs, &device,
                )?),
                ModelSource::Hub { .. } => bail!("dinov2: --model must be a local folder"),
            },
        }
        .with_context(|| format!("{:?} forward with model {}", self.kind, source.describe()))?;
        write_tensors(&self.out, &outputs)
            .with_context(|| format!("writing {}", self.out.display()))?;
        let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
        println!("wrote {} ({})", self.out.display(), names.join(", "));
        if let Some(reference) = &self.compare {
            compare(&outputs, reference, self.tol)?;
        }
        Ok(())
    }
}

/// Max-abs error of every output against the reference file's tensor of the same name.
fn compare(outputs: &Tensors, reference: &std::path::Path, tol: f32) -> Result<()> {
    let refs = read_tensors(reference)
        .with_context(|| format!("reading reference {}", reference.display()))?;
    let mut worst = 0f32;
    let mut compared = 0;
    for (name, out) in outputs {
        let Some(expected) = refs.get(name) else {
            continue;
        };
        if out.shape() != expected.shape() {
            bail!(
                "`{name}`: shape {:?}, reference {:?}",
                out.shape(),
                expected.shape()
            );
        }
        let err = adt::models::common::testing::max_abs_diff(
            &out.clone().convert::<f32>(),
            &expected.clone().convert::<f32>(),
        );
        println!("  {name}: max-abs {err:.3e}");
        worst = worst.max(err);
        compared += 1;
    }
    if compared == 0 {
        bail!("{} has none of the outputs' names", reference.display());
    }
    // NaN errors fail too.
    if worst.is_nan() || worst > tol {
        bail!("max-abs error {worst:.3e} exceeds --tol {tol:.0e}");
    }
    println!(
        "matches {} ({compared} outputs, max-abs {worst:.3e} ≤ {tol:.0e})",
        reference.display()
    );
    Ok(())
}

/// The input called `name`, as a float tensor of rank `D`, with a message naming
/// what is missing or mis-shaped.
fn float<const D: usize>(inputs: &Tensors, name: &str, device: &Device) -> Result<Tensor<D>> {
    let data = get(inputs, name)?;
    if data.shape().len() != D {
        bail!(
            "input `{name}` must have {D} dimensions, found shape {:?}",
            data.shape()
        );
    }
    Ok(Tensor::from_data(data.clone().convert::<f32>(), device))
}

fn get<'a>(inputs: &'a Tensors, name: &str) -> Result<&'a TensorData> {
    inputs.get(name).with_context(|| {
        let have: Vec<&str> = inputs.keys().map(String::as_str).collect();
        format!("missing input `{name}` (the file has: {})", have.join(", "))
    })
}

/// `timestep`: one value for the batch or one per sample (diffusers accepts both).
fn timesteps(inputs: &Tensors, batch: usize, device: &Device) -> Result<Tensor<1>> {
    let t = get(inputs, "timestep")?.clone().convert::<f32>();
    let n = t.num_elements();
    let values = Tensor::<1>::from_data(TensorData::new(t.iter::<f32>().collect(), [n]), device);
    Ok(match n {
        1 => values.repeat_dim(0, batch),
        n if n == batch => values,
        n => bail!("input `timestep` has {n} values for a batch of {batch}"),
    })
}

fn unet(source: &ModelSource, inputs: &Tensors, device: &Device) -> Result<Tensors> {
    let model = UNet2DConditionModel::from_pretrained(source, "", device)?;
    let sample: Tensor<4> = float(inputs, "sample", device)?;
    let t = timesteps(inputs, sample.dims()[0], device)?;
    let context: Tensor<3> = float(inputs, "encoder_hidden_states", device)?;
    let added = match (
        inputs.contains_key("text_embeds"),
        inputs.contains_key("time_ids"),
    ) {
        (true, true) => Some(AddedCond {
            text_embeds: float(inputs, "text_embeds", device)?,
            time_ids: float(inputs, "time_ids", device)?,
        }),
        (false, false) => None,
        _ => bail!("`text_embeds` and `time_ids` go together (SDXL's added conditions)"),
    };
    let out = model.forward(sample, t, context, added);
    Ok(BTreeMap::from([("sample".to_string(), out.into_data())]))
}

fn vae(source: &ModelSource, inputs: &Tensors, device: &Device, encode: bool) -> Result<Tensors> {
    let model = AutoencoderKL::from_pretrained(source, "", device)?;
    if encode {
        let posterior = model.encode(float(inputs, "image", device)?);
        Ok(BTreeMap::from([
            ("posterior_mean".to_string(), posterior.mean.into_data()),
            ("posterior_logvar".to_string(), posterior.logvar.into_data()),
        ]))
    } else {
        let decoded = model.decode(float(inputs, "latents", device)?);
        Ok(BTreeMap::from([(
            "decoded".to_string(),
            decoded.into_data(),
        )]))
    }
}

fn clip_text(source: &ModelSource, inputs: &Tensors, device: &Device) -> Result<Tensors> {
    let model = ClipTextModel::from_pretrained(source, "", device)?;
    let ids = get(inputs, "input_ids")?.clone().convert::<i64>();
    if ids.shape().len() != 2 {
        bail!(
            "input `input_ids` must be [batch, seq], found shape {:?}",
            ids.shape()
        );
    }
    let out = model.forward(Tensor::<2, Int>::from_data(ids, device));
    let mut map = BTreeMap::from([
        (
            "last_hidden_state".to_string(),
            out.last_hidden_state.into_data(),
        ),
        ("pooler_output".to_string(), out.pooler_output.into_data()),
    ]);
    if let Some(e) = out.text_embeds {
        map.insert("text_embeds".to_string(), e.into_data());
    }
    for (i, h) in out.hidden_states.into_iter().enumerate() {
        map.insert(format!("hidden_states.{i}"), h.into_data());
    }
    Ok(map)
}

fn mmdit(source: &ModelSource, inputs: &Tensors, device: &Device) -> Result<Tensors> {
    let model = Sd3Transformer2DModel::from_pretrained(source, "", device)?;
    let x: Tensor<4> = float(inputs, "hidden_states", device)?;
    let [b, c, h, w] = x.dims();
    let config = model.config();
    if c != config.in_channels {
        bail!(
            "input `hidden_states` has {c} channels; the transformer takes {}",
            config.in_channels
        );
    }
    model
        .check_latent_size(h, w)
        .map_err(|e| anyhow::anyhow!("input `hidden_states`: {}", e.0))?;
    let context: Tensor<3> = float(inputs, "encoder_hidden_states", device)?;
    let pooled: Tensor<2> = float(inputs, "pooled_projections", device)?;
    for (name, have, want) in [
        (
            "encoder_hidden_states",
            context.dims()[2],
            config.joint_attention_dim,
        ),
        (
            "pooled_projections",
            pooled.dims()[1],
            config.pooled_projection_dim,
        ),
    ] {
        if have != want {
            bail!("input `{name}` is {have} wide; the transformer takes {want}");
        }
    }
    if context.dims()[0] != b || pooled.dims()[0] != b {
        bail!(
            "batch sizes differ: hidden_states {b}, encoder_hidden_states {}, pooled_projections {}",
            context.dims()[0],
            pooled.dims()[0]
        );
    }
    let t = timesteps(inputs, b, device)?;
    let out = model.forward(x, context, pooled, t);
    Ok(BTreeMap::from([("sample".to_string(), out.into_data())]))
}

fn t5(source: &ModelSource, inputs: &Tensors, device: &Device) -> Result<Tensors> {
    let model = T5EncoderModel::from_pretrained(source, "", device)?;
    let ids = get(inputs, "input_ids")?.clone().convert::<i64>();
    if ids.shape().len() != 2 {
        bail!(
            "input `input_ids` must be [batch, seq], found shape {:?}",
            ids.shape()
        );
    }
    let mask = match inputs.contains_key("attention_mask") {
        true => Some(float::<2>(inputs, "attention_mask", device)?),
        false => None,
    };
    let out = model.try_forward(Tensor::<2, Int>::from_data(ids, device), mask)?;
    // transformers' `hidden_states`: the embeddings, every block's output but the last, then
    // `last_hidden_state` (its last block's output is only kept after `final_layer_norm`).
    let n = out.hidden_states.len() - 1;
    let last = out.last_hidden_state.into_data();
    let mut map = BTreeMap::from([
        ("last_hidden_state".to_string(), last.clone()),
        (format!("hidden_states.{n}"), last),
    ]);
    for (i, h) in out.hidden_states.into_iter().take(n).enumerate() {
        map.insert(format!("hidden_states.{i}"), h.into_data());
    }
    Ok(map)
}
