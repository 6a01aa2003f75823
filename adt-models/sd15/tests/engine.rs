//! The SD1.5 components behind the ADT engine's seams: the diffusers samplers step exactly as
//! `Scheduler` does through the engine's one-step interface (DPM++ 2M's history included), and
//! real ADT steps on the tiny checkpoint train the UNet while the VAE and CLIP stay frozen.

use std::path::PathBuf;
use std::sync::Arc;

use adt_family::Tuning;
use adt_family::adapters::{AlphaSchedule, SchedulerSampler};
use adt_models_common::ModelSource;
use adt_models_common::testing::assert_close;
use adt_plugin::rng::EngineRng;
use adt_plugin::toy::{ToyBackbone, toy_config, toy_loader};
use adt_plugin::traits::{NoiseSchedule, Sampler, SamplerHistory};
use adt_plugin::{AdtConfig, AdtTrainer, Parts};
use adt_schedulers::{SamplerName, Scheduler, StepState};
use adt_sd15::{Sd15, Sd15Model};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

fn checkpoint() -> ModelSource {
    ModelSource::Local(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_sd15"))
}

#[test]
fn engine_sampler_steps_exactly_like_the_scheduler() {
    let device = Device::flex();
    let sd = Sd15Model::from_pretrained(&checkpoint(), &device).unwrap();
    let mut rng = EngineRng::new(1);
    for name in ["ddim", "euler-karras", "dpmpp-2m"] {
        let name: SamplerName = name.parse().unwrap();
        let config = sd.scheduler.config(name).unwrap();
        let sampler = SchedulerSampler::new(name, config.clone()).unwrap();
        let m = 6;
        let sched = Scheduler::new(&config, m).unwrap();
        assert_eq!(
            sampler.timesteps(m),
            sched
                .timesteps()
                .iter()
                .map(|&t| t as f32)
                .collect::<Vec<_>>()
        );
        // Same start, same model outputs: the engine path and the scheduler path agree.
        let x0 = rng.normal_tensor([1, 4, 4, 4], &device);
        let noise = rng.normal_tensor([1, 4, 4, 4], &device);
        let start = 2;
        let mut a = sampler.add_noise(m, start, x0.clone(), noise.clone());
        let mut b = sched.add_noise_at(x0, noise, start).unwrap();
        let mut history = SamplerHistory::default();
        let mut state = StepState::new();
        for i in start..m {
            let out = rng.normal_tensor([1, 4, 4, 4], &device);
            let sa = sampler.scale_model_input(m, i, a.clone());
            let sb = sched.scale_model_input(b.clone(), i).unwrap();
            assert_close(
                &format!("{name} input {i}"),
                &sa.into_data(),
                &sb.into_data(),
                0.0,
            );
            a = sampler.step(m, i, a, out.clone(), &mut history);
            b = sched.step(&mut state, i, out, b, None).unwrap();
            assert_close(
                &format!("{name} step {i}"),
                &a.clone().into_data(),
                &b.clone().into_data(),
                0.0,
            );
        }
    }
    let ancestral = SchedulerSampler::new(
        "euler-a".parse().unwrap(),
        sd.scheduler.config("euler-a".parse().unwrap()).unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(ancestral.contains("deterministic"), "{ancestral}");
}

#[test]
fn training_levels_follow_the_checkpoint_alphas() {
    let device = Device::flex();
    let sd = Sd15Model::from_pretrained(&checkpoint(), &device).unwrap();
    let schedule = AlphaSchedule::new(&sd.scheduler.config(SamplerName::DDIM).unwrap()).unwrap();
    let l = schedule.training_level(0.5);
    assert_eq!(l.timestep, 500.0);
    // SD1.5's scaled-linear ᾱ_500 (torch float32 cumprod): 0.276332468.
    assert!((l.alpha - 0.276_332_47f32.sqrt()).abs() < 1e-6, "{l:?}");
    assert!((l.alpha.powi(2) + l.sigma.powi(2) - 1.0).abs() < 1e-6);
    assert_eq!(schedule.training_level(0.99999).timestep, 999.0);
}

struct Snap(Vec<Vec<u32>>);
impl ModuleVisitor for Snap {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let v = p.val().into_data().try_into_vec::<f32>().unwrap();
        self.0.push(v.into_iter().map(f32::to_bits).collect());
    }
}
fn snap<M: Module>(m: &M) -> Vec<Vec<u32>> {
    let mut s = Snap(Vec::new());
    m.visit(&mut s);
    s.0
}

#[test]
fn adt_steps_train_the_unet_and_keep_vae_and_clip_frozen() {
    adt_steps_on_the_tiny_checkpoint(false);
}

/// The same with discriminator heads conditioned on CLIP's pooled (EOS) state.
#[test]
fn text_conditioned_heads_read_clip_pooled_state() {
    adt_steps_on_the_tiny_checkpoint(true);
}

fn adt_steps_on_the_tiny_checkpoint(text_cond: bool) {
    let device = Device::flex().autodiff();
    let sd = Sd15Model::from_pretrained(&checkpoint(), &device).unwrap();
    let name = SamplerName::DDIM;
    let sched = sd.scheduler.config(name).unwrap();
    let (unet0, vae0, clip0) = (snap(&sd.denoiser), snap(&sd.codec), snap(&sd.conditioner));
    let config = AdtConfig {
        model: "tiny-sd15".into(),
        sampler: Some(name.to_string()),
        total_steps: 2,
        checkpoint_every: 0,
        text_cond,
        ..toy_config()
    };
    let mut rng = EngineRng::new(5);
    let backbone = ToyBackbone::new(16, 4, 32, &mut rng, &device);
    let run = tempfile::tempdir().unwrap();
    let parts: Parts<Tuning<Sd15, ToyBackbone>> = Parts {
        generator: sd.denoiser,
        codec: sd.codec,
        conditioner: sd.conditioner,
        backbone,
        schedule: Arc::new(AlphaSchedule::new(&sched).unwrap()),
        sampler: Arc::new(SchedulerSampler::new(name, sched).unwrap()),
    };
    let trainer = AdtTrainer::new(
        config.clone(),
        parts,
        toy_loader(8, 32, config.batch_size, 0, &device),
        &device,
    )
    .unwrap();
    let report = trainer.run(run.path()).unwrap();
    assert_eq!(report.step, 2);
    let ctx = &report.model.ctx;
    assert_eq!(snap(&ctx.codec), vae0, "VAE changed");
    assert_eq!(snap(&ctx.conditioner), clip0, "text encoder changed");
    assert_ne!(snap(&report.model.generator), unet0, "UNet did not train");
    let text_weight = report.model.discriminator.text_weight.as_ref();
    assert_eq!(text_weight.is_some(), text_cond);
    if let Some(w) = text_weight {
        // [CLIP hidden width, projection width].
        let hidden = ctx.conditioner.hidden_size();
        assert_eq!(w.val().dims(), [hidden, config.cmap_dim]);
    }
    let events = std::fs::read_to_string(run.path().join("events.jsonl")).unwrap();
    assert!(events.contains("\"g_adv\""), "{events}");
}
