//! Player isolation and frozen modules:
//! - a D update computes no generator gradient (fakes are detached), a G update no head gradient;
//! - over real training steps, backbone, codec and conditioner stay bit-identical while the
//!   generator and the heads do change.

use adt_plugin::augment::AugmentDraws;
use adt_plugin::model::AdtBatch;
use adt_plugin::rng::EngineRng;
use adt_plugin::step::{Optimizers, adt_step, discriminator_loss, generate};
use adt_plugin::toy::{ToyParts, ToySizes, toy_config, toy_loader};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

fn dev() -> Device {
    Device::flex().autodiff()
}

struct Snap(Vec<Vec<f32>>);
impl ModuleVisitor for Snap {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0
            .push(p.val().into_data().try_into_vec::<f32>().unwrap());
    }
}
fn snap<M: Module>(m: &M) -> Vec<Vec<f32>> {
    let mut s = Snap(Vec::new());
    m.visit(&mut s);
    s.0
}
fn bits(v: &[Vec<f32>]) -> Vec<Vec<u32>> {
    v.iter()
        .map(|t| t.iter().map(|x| x.to_bits()).collect())
        .collect()
}

fn batch(d: &Device) -> AdtBatch {
    toy_loader(8, 16, 4, 0, d).iter().next().unwrap().unwrap()
}

#[test]
fn discriminator_loss_yields_no_generator_gradient() {
    let d = dev();
    let cfg = adt_plugin::AdtConfig {
        r1: true,
        ..toy_config()
    };
    let model = ToyParts::new(ToySizes::default(), 3, &d)
        .model(cfg, &d)
        .unwrap();
    let prep = model.prepare(&batch(&d)).unwrap();
    let mut rng = EngineRng::new(2);
    let generated = generate(&model, &prep, &mut rng);
    let draws = AugmentDraws::draw(&model.ctx.augment, 4, 16, 16, &mut rng);
    let out = discriminator_loss(
        &model,
        generated.image,
        prep.real.clone(),
        None,
        &draws,
        &mut rng,
    );
    assert!(
        out.r1.is_some_and(|r| r > 0.0),
        "R1 enabled but not computed"
    );
    let mut grads = out.loss.backward();
    let g = GradientsParams::from_module(&mut grads, &model.generator);
    assert_eq!(g.len(), 0, "the D loss reached generator parameters");
    let h = GradientsParams::from_module(&mut grads, &model.discriminator);
    assert!(!h.is_empty(), "the D loss produced no head gradients");
    for frozen in [
        GradientsParams::from_module(&mut grads, &model.ctx.backbone).len(),
        GradientsParams::from_module(&mut grads, &model.ctx.codec).len(),
        GradientsParams::from_module(&mut grads, &model.ctx.conditioner).len(),
    ] {
        assert_eq!(frozen, 0, "a frozen module received gradients");
    }
}

#[test]
fn frozen_modules_stay_bit_identical_while_players_train() {
    let d = dev();
    let cfg = adt_plugin::AdtConfig {
        r1: true,
        ema: true,
        ..toy_config()
    };
    let mut model = ToyParts::new(ToySizes::default(), 3, &d)
        .model(cfg.clone(), &d)
        .unwrap();
    let frozen_before = (
        bits(&snap(&model.ctx.backbone)),
        bits(&snap(&model.ctx.codec)),
        bits(&snap(&model.ctx.conditioner)),
    );
    let g_before = bits(&snap(&model.generator));
    let d_before = bits(&snap(&model.discriminator));
    let mut optims = Optimizers::new(&cfg);
    let mut ema = adt_plugin::ema::Ema::new(&model.generator, cfg.ema_decay);
    let mut rng = EngineRng::new(4);
    let b = batch(&d);
    for step in 1..=3 {
        let (m, report) = adt_step(
            model,
            &mut optims,
            Some(&mut ema),
            std::slice::from_ref(&b),
            &mut rng,
            step,
        )
        .unwrap();
        model = m;
        assert!(report.nonfinite.is_empty());
        assert!(
            report.metrics.d_grad_norm.unwrap() > 0.0 && report.metrics.g_grad_norm.unwrap() > 0.0
        );
    }
    let frozen_after = (
        bits(&snap(&model.ctx.backbone)),
        bits(&snap(&model.ctx.codec)),
        bits(&snap(&model.ctx.conditioner)),
    );
    assert!(
        frozen_before == frozen_after,
        "a frozen module changed during training"
    );
    assert!(
        g_before != bits(&snap(&model.generator)),
        "the generator did not train"
    );
    assert!(
        d_before != bits(&snap(&model.discriminator)),
        "the heads did not train"
    );
    assert!(bits(&snap(&ema.module)) != g_before, "the EMA did not move");
}

/// `real_through_vae`: D's real images are the codec's round trip of the batch, not its pixels.
#[test]
fn real_through_vae_shows_d_the_decoded_reals() {
    let d = dev();
    let b = batch(&d);
    let parts = || ToyParts::new(ToySizes::default(), 3, &d);
    let plain = parts().model(toy_config(), &d).unwrap();
    let decoded = parts()
        .model(
            adt_plugin::AdtConfig {
                real_through_vae: true,
                ..toy_config()
            },
            &d,
        )
        .unwrap();
    let p = plain.prepare(&b).unwrap();
    let q = decoded.prepare(&b).unwrap();
    let v = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().unwrap();
    assert_eq!(v(p.real.clone()), v(b.images.clone()));
    assert_eq!(
        v(q.x0.clone()),
        v(p.x0.clone()),
        "the latents do not change"
    );
    let round_trip = v(decoded.ctx.decode(q.x0.clone()));
    assert_eq!(v(q.real.clone()), round_trip);
    assert_ne!(round_trip, v(b.images), "the toy codec is lossless here");
}
