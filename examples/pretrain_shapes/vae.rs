//! Phase 1: a tiny `AutoencoderKL` (32×32 RGB ↔ 4×8×8 latents) trained on the
//! domain's train split with L1 + L2 reconstruction and a small KL term; its
//! `scaling_factor` is then set to 1/std of the encoder means.
//!
//! Deviation from SD's VAE recipe (L1 + LPIPS + a patch GAN): the reconstruction terms are
//! weighted per pixel by its distance from its image's mean colour (`Run::focus_weight`).
//! With plain per-pixel means the shape, a few percent of the pixels, came back as a brownish
//! blob (evaluation network: colour 17% on reconstructions); weighted, 98% (docs/shapes-report.md).

use adt_data::{ShapesDomain, Split};
use adt_diffusion::config_util::SampleSize;
use adt_diffusion::{AutoencoderKL, AutoencoderKLConfig};
use anyhow::Result;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::data::{IMAGE_SIZE, Running, StepClock, images, lr_at, reads_loss, to_vec};

/// Three down blocks: downscale 4, so 32×32 images ↔ 8×8 latents with `latent_channels`
/// channels.
pub fn config(scaling_factor: f64, latent_channels: usize) -> AutoencoderKLConfig {
    AutoencoderKLConfig {
        block_out_channels: vec![16, 32, 32],
        down_block_types: vec!["DownEncoderBlock2D".into(); 3],
        up_block_types: vec!["UpDecoderBlock2D".into(); 3],
        layers_per_block: 1,
        latent_channels,
        norm_num_groups: 8,
        sample_size: Some(SampleSize::Square(IMAGE_SIZE)),
        scaling_factor,
        ..AutoencoderKLConfig::default()
    }
}

pub struct VaeReport {
    pub steps: usize,
    /// Weight of the KL term (per latent element, against per-pixel reconstruction means).
    pub kl_weight: f64,
    /// Weight of the image-gradient L1 term.
    pub edge_weight: f64,
    pub final_l1: f64,
    pub final_l2: f64,
    pub final_kl: f64,
    pub heldout_l1: f64,
    pub heldout_psnr: f64,
    pub latent_mean: f64,
    pub latent_std: f64,
    pub params: usize,
    pub batch: usize,
    /// Seconds per step after the warm-up.
    pub sec_per_step: f64,
}

/// The knobs of one VAE training run.
#[derive(Clone, Copy)]
pub struct Run {
    pub steps: usize,
    pub batch: usize,
    pub latent_channels: usize,
    /// Weight of the KL term (per latent element, against per-pixel reconstruction means).
    pub kl_weight: f64,
    /// Weight of an L1 loss on the reconstruction's finite differences (image gradients):
    /// a sharpness term, since small shapes are a few percent of the pixel loss.
    pub edge_weight: f64,
    /// Per-pixel reconstruction weight 1 + `focus_weight` × the pixel's L1 distance from its
    /// image's mean colour, normalised to mean 1 over the batch (0 = off): the flat background
    /// is most of the pixels and dominates an unweighted mean.
    pub focus_weight: f64,
    /// Peak learning rate (AdamW; warm-up, then cosine to a tenth).
    pub lr: f64,
    pub log_every: usize,
}

/// Per-pixel weights `[B, 1, H, W]` of the reconstruction terms: 1 + `focus` × the pixel's
/// L1 distance from its image's mean colour, normalised to mean 1 over the batch. `None`
/// when `focus` is 0, so the loss is the unweighted recipe's to the bit.
fn focus_weights(x: &Tensor<4>, focus: f64) -> Option<Tensor<4>> {
    (focus > 0.0).then(|| {
        let w = (x.clone() - x.clone().mean_dim(3).mean_dim(2))
            .abs()
            .sum_dim(1)
            .mul_scalar(focus)
            .add_scalar(1.0);
        let norm = w.clone().mean();
        w / norm.unsqueeze()
    })
}

/// Train; returns the model on the plain device with `scaling_factor` = 1/std.
pub fn train(
    domain: &ShapesDomain,
    seed: u64,
    run: &Run,
    plain: &Device,
) -> Result<(AutoencoderKL, VaeReport)> {
    let Run {
        steps,
        batch,
        latent_channels,
        kl_weight,
        edge_weight,
        focus_weight,
        lr,
        log_every,
    } = *run;
    let device = plain.clone().autodiff();
    device.seed(seed);
    let mut vae = AutoencoderKL::new(&config(1.0, latent_channels), &device)?;
    let params = vae.num_params();
    eprintln!("[vae] {params} parameters, {steps} steps of batch {batch}");
    let mut optim = AdamWConfig::new().with_weight_decay(0.0).init();
    let (mut l1_avg, mut l2_avg, mut kl_avg) =
        (Running::default(), Running::default(), Running::default());
    let mut clock = StepClock::new();
    for step in 0..steps {
        let ks: Vec<u64> = (0..batch).map(|i| (step * batch + i) as u64).collect();
        let x = images(domain, Split::Train, &ks, &device);
        let posterior = vae.encode(x.clone());
        let noise = Tensor::random(
            posterior.mean.shape(),
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let z = posterior.sample_with(noise);
        let diff = vae.decode(z) - x.clone();
        let (abs, sq) = (diff.clone().abs(), diff.clone().powf_scalar(2.0));
        let (l1, l2) = match focus_weights(&x, focus_weight) {
            Some(w) => ((abs * w.clone()).mean(), (sq * w).mean()),
            None => (abs.mean(), sq.mean()),
        };
        // ∇(rec) − ∇(x) = ∇(rec − x): finite differences are linear. Off (weight 0): not
        // computed, so the loss is the plain recipe's to the bit.
        let edge = (edge_weight > 0.0).then(|| {
            let [_, _, h, w] = diff.dims();
            let dx = diff.clone().narrow(3, 1, w - 1) - diff.clone().narrow(3, 0, w - 1);
            let dy = diff.clone().narrow(2, 1, h - 1) - diff.clone().narrow(2, 0, h - 1);
            (dx.abs().mean() + dy.abs().mean()).mul_scalar(edge_weight)
        });
        let var = posterior.logvar.clone().exp();
        let kl = (posterior.mean.clone().powf_scalar(2.0) + var - posterior.logvar)
            .sub_scalar(1.0)
            .mean()
            .mul_scalar(0.5);
        let mut loss = l1.clone() + l2.clone() + kl.clone().mul_scalar(kl_weight);
        if let Some(edge) = edge {
            loss = loss + edge;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &vae);
        vae = optim.step(lr_at(step, steps, (steps / 10).min(100), lr), vae, grads);
        if reads_loss(step, steps) {
            let scalar = |t: Tensor<1>| t.into_scalar::<f64>();
            l1_avg.push(scalar(l1));
            l2_avg.push(scalar(l2));
            kl_avg.push(scalar(kl));
        }
        clock.tick(step);
        if (step + 1) % log_every == 0 || step + 1 == steps {
            eprintln!(
                "[vae] step {:>5}/{steps}  l1 {:.4}  l2 {:.5}  kl {:.2}  {:.0}s",
                step + 1,
                l1_avg.value,
                l2_avg.value,
                kl_avg.value,
                clock.start.elapsed().as_secs_f64()
            );
        }
    }
    let sec_per_step = clock.per_step(steps);

    // Latent statistics and held-out reconstruction on the plain device.
    let vae = vae.valid();
    let (mut sum, mut sq, mut count) = (0.0f64, 0.0f64, 0usize);
    for chunk in 0..8u64 {
        let ks: Vec<u64> = (chunk * 128..(chunk + 1) * 128).collect();
        let z = to_vec(vae.encode(images(domain, Split::Train, &ks, plain)).mean);
        count += z.len();
        for v in z {
            sum += v as f64;
            sq += (v as f64) * (v as f64);
        }
    }
    let mean = sum / count as f64;
    let std = (sq / count as f64 - mean * mean).sqrt();
    let ks: Vec<u64> = (0..512).collect();
    let x = images(domain, Split::Heldout, &ks, plain);
    let rec = vae.decode(vae.encode(x.clone()).mean).clamp(-1.0, 1.0);
    let diff = rec - x;
    let heldout_l1 = diff.clone().abs().mean().into_scalar::<f64>();
    let mse01 = diff.powf_scalar(2.0).mean().into_scalar::<f64>() / 4.0;
    let report = VaeReport {
        steps,
        kl_weight,
        edge_weight,
        final_l1: l1_avg.value,
        final_l2: l2_avg.value,
        final_kl: kl_avg.value,
        heldout_l1,
        heldout_psnr: -10.0 * mse01.log10(),
        latent_mean: mean,
        latent_std: std,
        params,
        batch,
        sec_per_step,
    };
    eprintln!(
        "[vae] held-out L1 {heldout_l1:.4}, PSNR {:.2} dB; latents mean {mean:.4} std {std:.4} -> scaling_factor {:.5}",
        report.heldout_psnr,
        1.0 / std
    );
    let scaled = AutoencoderKL::new(&config(1.0 / std, latent_channels), plain)?
        .load_record(vae.into_record());
    Ok((scaled, report))
}
