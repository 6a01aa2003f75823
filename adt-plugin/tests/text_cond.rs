//! Text-conditioned discriminator heads (`AdtConfig::text_cond`):
//! - the logits of the same images change with the prompt, and the text weight learns in a D step;
//! - without the knob the prompt is ignored and the heads initialise exactly as before;
//! - a conditioner without a pooled embedding is refused with the knob named.

use adt_plugin::augment::AugmentDraws;
use adt_plugin::model::AdtBatch;
use adt_plugin::rng::EngineRng;
use adt_plugin::step::discriminator_loss;
use adt_plugin::toy::{ToyConditioner, ToyModel, ToyParts, ToySizes, toy_config, toy_loader};
use adt_plugin::traits::{Conditioner, TextEmbedding};
use adt_plugin::{AdtConfig, AdtError, AdtModel};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

fn dev() -> Device {
    Device::flex().autodiff()
}

fn model(text_cond: bool, d: &Device) -> ToyModel {
    let cfg = AdtConfig {
        text_cond,
        ..toy_config()
    };
    ToyParts::new(ToySizes::default(), 3, d)
        .model(cfg, d)
        .unwrap()
}

fn batch(d: &Device) -> AdtBatch {
    toy_loader(8, 16, 4, 0, d).iter().next().unwrap().unwrap()
}

/// D logits (real, fake) for the batch's images scored against themselves under `prompts`.
fn logits(m: &ToyModel, b: &AdtBatch, prompts: &[String]) -> (Vec<f32>, Vec<f32>) {
    let d = b.images.device();
    let pooled = m.ctx.conditioner.encode_text(prompts, &d).pooled;
    let mut rng = EngineRng::new(5);
    let draws = AugmentDraws::draw(&m.ctx.augment, 4, 16, 16, &mut rng);
    let out = discriminator_loss(
        m,
        b.images.clone(),
        b.images.clone(),
        pooled,
        &draws,
        &mut rng,
    );
    (out.real, out.fake)
}

#[test]
fn text_conditioned_logits_follow_the_prompt_and_the_text_weight_learns() {
    let d = dev();
    let m = model(true, &d);
    assert!(m.discriminator.is_text_conditioned());
    let b = batch(&d);
    let mut shuffled = b.prompts.clone();
    shuffled.rotate_left(1);
    assert_ne!(shuffled, b.prompts, "the toy batch needs distinct prompts");
    let (right, _) = logits(&m, &b, &b.prompts);
    let (wrong, _) = logits(&m, &b, &shuffled);
    let diff = right
        .iter()
        .zip(&wrong)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff > 1e-4, "logits ignore the prompt (max change {diff})");

    // One D loss backward reaches the text weight.
    let pooled = m.ctx.conditioner.encode_text(&b.prompts, &d).pooled;
    let mut rng = EngineRng::new(5);
    let draws = AugmentDraws::draw(&m.ctx.augment, 4, 16, 16, &mut rng);
    let fake = b.images.clone().flip([3]);
    let out = discriminator_loss(&m, fake, b.images.clone(), pooled, &draws, &mut rng);
    let mut grads = out.loss.backward();
    let gp = GradientsParams::from_module(&mut grads, &m.discriminator);
    let w = m.discriminator.text_weight.as_ref().unwrap();
    let g = gp.get::<2>(w.id).expect("text weight has a gradient");
    let g = g.abs().max().into_scalar::<f32>();
    assert!(g > 0.0, "text weight gradient is zero");
}

struct Snap(Vec<Vec<u32>>);
impl ModuleVisitor for Snap {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let v = p.val().into_data().try_into_vec::<f32>().unwrap();
        self.0.push(v.iter().map(|x| x.to_bits()).collect());
    }
}

#[test]
fn without_text_cond_the_prompt_is_ignored_and_init_is_unchanged() {
    let d = dev();
    let plain = model(false, &d);
    assert!(!plain.discriminator.is_text_conditioned());
    let b = batch(&d);
    let mut shuffled = b.prompts.clone();
    shuffled.rotate_left(1);
    assert_eq!(
        logits(&plain, &b, &b.prompts),
        logits(&plain, &b, &shuffled)
    );

    // Same heads and image projection with and without the text term (drawn last).
    let text = model(true, &d);
    let (mut a, mut t) = (Snap(Vec::new()), Snap(Vec::new()));
    plain.discriminator.visit(&mut a);
    text.discriminator.visit(&mut t);
    let w = text.discriminator.text_weight.as_ref().unwrap().val();
    let w: Vec<u32> = w
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect();
    let pos =
        t.0.iter()
            .position(|p| *p == w)
            .expect("text weight visited");
    t.0.remove(pos);
    assert_eq!(a.0, t.0);
}

/// The toy conditioner with its pooled embedding removed.
#[derive(Module, Debug)]
struct HiddenOnly {
    inner: ToyConditioner,
}

impl Conditioner for HiddenOnly {
    fn encode_text(&self, prompts: &[String], device: &Device) -> TextEmbedding {
        TextEmbedding {
            pooled: None,
            ..self.inner.encode_text(prompts, device)
        }
    }
}

#[test]
fn text_cond_without_a_pooled_embedding_is_refused() {
    let d = dev();
    let parts = ToyParts::new(ToySizes::default(), 3, &d);
    let cfg = AdtConfig {
        text_cond: true,
        ..toy_config()
    };
    let parts = parts.parts_with(|g| g, |inner| HiddenOnly { inner });
    let err = AdtModel::from_parts(cfg, parts, &mut EngineRng::new(0), &d).unwrap_err();
    assert!(matches!(err, AdtError::Config { .. }), "{err}");
    assert!(err.to_string().contains("text_cond"), "{err}");
}
