//! Phase 2: a tiny SD1.5-layout `UNet2DConditionModel` trained jointly with a
//! from-scratch `CLIPTextModel` on the plain ε-prediction loss over SD1.5's
//! scaled-linear schedule, with 10% of the captions dropped (empty prompt) so
//! classifier-free guidance works. An EMA of both is what gets exported.

use adt_clip::{ClipTextConfig, ClipTextModel, ClipTokenizer, ids_to_tensor};
use adt_data::{ShapesDomain, Split};
use adt_diffusion::config_util::{PerBlock, SampleSize};
use adt_diffusion::{AutoencoderKL, UNet2DConditionConfig, UNet2DConditionModel};
use adt_plugin::ema::Ema;
use adt_schedulers::NoiseSchedule;
use anyhow::Result;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::data::{Running, StepClock, captions, images, lr_at, reads_loss, to_vec};

/// Text width = the UNet's `cross_attention_dim`.
pub const TEXT_HIDDEN: usize = 64;
/// Share of captions replaced by the empty prompt.
pub const CAPTION_DROPOUT: f64 = 0.1;
pub const EMA_DECAY: f64 = 0.999;

/// transformers' `config.json` of the text encoder (what is shipped and what the
/// model is built from).
pub fn text_config_json(vocab_size: usize) -> Value {
    json!({
        "architectures": ["CLIPTextModel"],
        "attention_dropout": 0.0,
        "bos_token_id": vocab_size - 2,
        "dtype": "float32",
        "eos_token_id": vocab_size - 1,
        "hidden_act": "quick_gelu",
        "hidden_size": TEXT_HIDDEN,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": 4 * TEXT_HIDDEN,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77,
        "model_type": "clip_text_model",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 1,
        "projection_dim": TEXT_HIDDEN,
        "transformers_version": "4.57.6",
        "vocab_size": vocab_size
    })
}

/// SD1.5's block layout (cross-attention down blocks, a plain lowest block, the
/// cross-attention mid block, mirrored up blocks) at tiny widths and one
/// downsample fewer (8×8 latents: 8 → 4 → 2).
pub fn unet_config(latent_channels: usize) -> UNet2DConditionConfig {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    UNet2DConditionConfig {
        sample_size: Some(SampleSize::Square(8)),
        in_channels: latent_channels,
        out_channels: latent_channels,
        down_block_types: s(&[
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ]),
        up_block_types: s(&["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]),
        block_out_channels: vec![32, 48, 48],
        layers_per_block: PerBlock::One(1),
        norm_num_groups: Some(8),
        cross_attention_dim: PerBlock::One(TEXT_HIDDEN),
        attention_head_dim: PerBlock::One(4),
        ..UNet2DConditionConfig::default()
    }
}

#[derive(Module, Debug)]
pub struct TextToImage {
    pub unet: UNet2DConditionModel,
    pub text_encoder: ClipTextModel,
}

pub struct UnetReport {
    pub steps: usize,
    pub batch: usize,
    pub pool: usize,
    pub final_loss: f64,
    pub unet_params: usize,
    pub text_params: usize,
    pub tokens_per_caption: f64,
    pub lr: f64,
    /// Seconds per step after the warm-up.
    pub sec_per_step: f64,
    /// Seconds spent rendering and encoding the pool.
    pub encode_seconds: f64,
}

pub struct Setup<'a> {
    pub domain: &'a ShapesDomain,
    pub vae: &'a AutoencoderKL,
    pub tokenizer: &'a ClipTokenizer,
    pub schedule: &'a NoiseSchedule,
    pub vocab_size: usize,
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    /// Train images encoded once up front.
    pub pool: usize,
    pub log_every: usize,
    /// Peak learning rate (AdamW, warm-up then cosine to a tenth).
    pub lr: f64,
    pub device: Device,
    /// Start from these weights (on the autodiff device) instead of a fresh model.
    pub init: Option<TextToImage>,
    /// Per-sample weight of the ε-MSE: `clamp(1/SNR(t), 1, cap)`; `None` = unweighted.
    pub snr_weight_cap: Option<f64>,
    pub objective: Objective,
    /// Seconds the loop may take (see `Args::unet_seconds`).
    pub time_budget: Option<f64>,
}

/// `clamp(1/SNR(t), 1, cap)`: the ε-loss in x0 terms is SNR·‖x0 − x̂0‖², so at high noise,
/// where the caption decides the colours, the plain ε-loss barely rewards reading it; this
/// weight makes those timesteps count as an x0-loss (capped), low-noise ones unchanged.
pub fn snr_weight(schedule: &NoiseSchedule, t: usize, cap: f64) -> f64 {
    (1.0 / schedule.snr_at(t)).clamp(1.0, cap)
}

/// What the UNet regresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// ε on SD1.5's schedule (terminal ᾱ = 0.0047). With 8×8 latents the start noise's
    /// per-channel mean (std 1/8) is as large as the leftover signal √ᾱ_T·x0 the model learns
    /// to read at t = T, so sampling takes its colours from the noise, not the caption.
    Epsilon,
    /// v = √ᾱ·ε − √(1−ᾱ)·x0 on the betas rescaled to zero terminal SNR: at t = T the target is
    /// −x0 from the caption alone (arXiv 2305.08891, the fix for that leak).
    VZeroSnr,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Self::Epsilon => "ε",
            Self::VZeroSnr => "v",
        }
    }

    /// How the shipped scheduler config (`crate::scheduler_json`) sets this objective up.
    pub fn schedule_description(self) -> &'static str {
        match self {
            Self::Epsilon => "ε-prediction, leading spacing, steps_offset 1",
            Self::VZeroSnr => "v-prediction, betas rescaled to zero terminal SNR, trailing spacing",
        }
    }
}

/// Train; returns the EMA model (plain device).
pub fn train(s: &Setup<'_>) -> Result<(TextToImage, UnetReport)> {
    let plain = &s.device;
    let channels = s.vae.config().latent_channels;
    let per_latent = channels * 8 * 8;
    // Latents of the pool (scaled like the pipeline scales them), and token ids.
    let t0 = std::time::Instant::now();
    let mut latents: Vec<f32> = Vec::with_capacity(s.pool * per_latent);
    let mut ids: Vec<Vec<u32>> = Vec::with_capacity(s.pool);
    let mut token_count = 0usize;
    for start in (0..s.pool).step_by(256) {
        let ks: Vec<u64> = (start as u64..(start + 256).min(s.pool) as u64).collect();
        let z = s
            .vae
            .encode(images(s.domain, Split::Train, &ks, plain))
            .mean;
        latents.extend(to_vec(s.vae.scale_latents(z)));
        for c in captions(s.domain, Split::Train, &ks) {
            token_count += s.tokenizer.tokenize(&c)?.len();
            ids.push(s.tokenizer.encode(&c)?);
        }
    }
    let empty = s.tokenizer.encode("")?;
    let tokens_per_caption = token_count as f64 / s.pool as f64;
    let encode_seconds = t0.elapsed().as_secs_f64();
    eprintln!(
        "[unet] encoded {} train images and captions ({tokens_per_caption:.1} tokens each) in {:.0}s",
        s.pool,
        t0.elapsed().as_secs_f64()
    );

    let device = plain.clone().autodiff();
    device.seed(s.seed);
    let text_config: ClipTextConfig = serde_json::from_value(text_config_json(s.vocab_size))?;
    let mut model = match &s.init {
        Some(m) => m.clone(),
        None => TextToImage {
            unet: UNet2DConditionModel::new(&unet_config(channels), &device)?,
            text_encoder: ClipTextModel::new(&text_config, false, &device)?,
        },
    };
    let (unet_params, text_params) = (model.unet.num_params(), model.text_encoder.num_params());
    eprintln!(
        "[unet] UNet {unet_params} + text encoder {text_params} parameters, {} steps of batch {}",
        s.steps, s.batch
    );
    let mut ema = Ema::new(&model, EMA_DECAY);
    let mut optim = AdamWConfig::new().with_weight_decay(1e-2).init();
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x756e_6574);
    let n_train = s.schedule.num_train_timesteps();
    let mut loss_avg = Running::default();
    let mut clock = StepClock::new();
    let mut total = s.steps;
    let mut step = 0;
    // Synced time at step 10 (after kernel compilation/autotuning), to rate the steps.
    let mut at_ten: Option<f64> = None;
    while step < total {
        let picks: Vec<usize> = (0..s.batch).map(|_| rng.random_range(0..s.pool)).collect();
        let mut z0 = Vec::with_capacity(s.batch * per_latent);
        let mut rows = Vec::with_capacity(s.batch);
        for &p in &picks {
            z0.extend_from_slice(&latents[p * per_latent..(p + 1) * per_latent]);
            rows.push(if rng.random_bool(CAPTION_DROPOUT) {
                empty.clone()
            } else {
                ids[p].clone()
            });
        }
        let ts: Vec<i64> = (0..s.batch)
            .map(|_| rng.random_range(0..n_train) as i64)
            .collect();
        let z0 = Tensor::<4>::from_data(TensorData::new(z0, [s.batch, channels, 8, 8]), &device);
        let t_int = Tensor::<1, Int>::from_data(TensorData::new(ts.clone(), [s.batch]), &device);
        let t_float = Tensor::<1>::from_data(
            TensorData::new(ts.iter().map(|&t| t as f32).collect::<Vec<_>>(), [s.batch]),
            &device,
        );
        let noise = Tensor::random(
            [s.batch, channels, 8, 8],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let target = match s.objective {
            Objective::Epsilon => noise.clone(),
            Objective::VZeroSnr => {
                s.schedule
                    .get_velocity(z0.clone(), noise.clone(), t_int.clone())?
            }
        };
        let x_t = s.schedule.add_noise(z0, noise, t_int)?;
        let cond = model
            .text_encoder
            .forward(ids_to_tensor(&rows, &device))
            .last_hidden_state;
        let pred = model.unet.forward(x_t, t_float, cond, None);
        let per_sample = (pred - target)
            .powf_scalar(2.0)
            .mean_dim(3)
            .mean_dim(2)
            .mean_dim(1);
        let loss = match s.snr_weight_cap {
            Some(cap) => {
                let w: Vec<f32> = ts
                    .iter()
                    .map(|&t| snr_weight(s.schedule, t as usize, cap) as f32)
                    .collect();
                let w = Tensor::<1>::from_data(TensorData::new(w, [s.batch]), &device);
                (per_sample.reshape([s.batch]) * w).mean()
            }
            None => per_sample.mean(),
        };
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(
            lr_at(step, total, (total / 10).min(200), s.lr),
            model,
            grads,
        );
        ema.update(&model);
        let read = reads_loss(step, total);
        if read {
            // A device sync: the clock below is then exact.
            loss_avg.push(loss.into_scalar::<f64>());
        }
        clock.tick(step);
        if read && step == 10 {
            at_ten = Some(clock.start.elapsed().as_secs_f64());
        }
        if let (Some(budget), Some(t10)) = (s.time_budget, at_ten)
            && read
            && step == 30
        {
            let elapsed = clock.start.elapsed().as_secs_f64();
            let per_step = (elapsed - t10) / 20.0;
            let fits = step + 1 + ((budget - elapsed).max(0.0) / per_step) as usize;
            if fits < total {
                total = fits.max(step + 2);
                eprintln!(
                    "[unet] {budget:.0} s budget: {total} of {} steps fit",
                    s.steps
                );
            }
        }
        if (step + 1) % s.log_every == 0 || step + 1 == total {
            eprintln!(
                "[unet] step {:>5}/{}  loss {:.4}  {:.0}s",
                step + 1,
                total,
                loss_avg.value,
                clock.start.elapsed().as_secs_f64()
            );
        }
        step += 1;
    }
    let report = UnetReport {
        steps: total,
        batch: s.batch,
        pool: s.pool,
        final_loss: loss_avg.value,
        unet_params,
        text_params,
        tokens_per_caption,
        lr: s.lr,
        sec_per_step: clock.per_step(total),
        encode_seconds,
    };
    Ok((ema.module, report))
}
