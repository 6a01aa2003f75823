//! DiffAugment: hand-checked transforms, and identical draws for the real and fake of a pair.

use adt_plugin::augment::{AugmentDraws, AugmentPolicy};
use adt_plugin::model::AdtBatch;
use adt_plugin::rng::EngineRng;
use adt_plugin::step::discriminator_loss;
use adt_plugin::toy::{ToyParts, ToySizes, toy_config, toy_loader};
use burn::prelude::*;

fn dev() -> Device {
    Device::flex().autodiff()
}

fn img(b: usize, h: usize, w: usize) -> (Vec<f32>, Tensor<4>) {
    let v: Vec<f32> = (0..b * 3 * h * w)
        .map(|i| (i as f32 * 0.37).sin())
        .collect();
    (
        v.clone(),
        Tensor::from_data(TensorData::new(v, [b, 3, h, w]), &dev()),
    )
}

fn none() -> AugmentDraws {
    AugmentDraws {
        size: [4, 4],
        brightness: None,
        saturation: None,
        contrast: None,
        translation: None,
        cutout: None,
    }
}

#[test]
fn translation_shifts_with_zero_fill() {
    let (v, x) = img(1, 4, 4);
    let d = AugmentDraws {
        translation: Some(vec![(1, -1)]),
        ..none()
    };
    let y = d.apply(x).into_data().try_into_vec::<f32>().unwrap();
    for c in 0..3 {
        for yy in 0..4i64 {
            for xx in 0..4i64 {
                let (sy, sx) = (yy - 1, xx + 1);
                let want = if (0..4).contains(&sy) && (0..4).contains(&sx) {
                    v[c * 16 + (sy * 4 + sx) as usize]
                } else {
                    0.0
                };
                assert_eq!(y[c * 16 + (yy * 4 + xx) as usize], want, "c{c} y{yy} x{xx}");
            }
        }
    }
}

#[test]
fn cutout_and_colour_match_hand_formulas() {
    let (v, x) = img(1, 4, 4);
    let d = AugmentDraws {
        cutout: Some(vec![(1, 3, 0, 2)]),
        ..none()
    };
    let y = d
        .apply(x.clone())
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    for c in 0..3 {
        for yy in 0..4 {
            for xx in 0..4 {
                let i = c * 16 + yy * 4 + xx;
                let inside = (1..3).contains(&yy) && (0..2).contains(&xx);
                assert_eq!(y[i], if inside { 0.0 } else { v[i] });
            }
        }
    }
    let d = AugmentDraws {
        brightness: Some(vec![0.75]),
        saturation: Some(vec![0.25]),
        contrast: Some(vec![0.5]),
        ..none()
    };
    let y = d.apply(x).into_data().try_into_vec::<f32>().unwrap();
    // brightness +0.25; saturation: (x − mean_c)·0.5 + mean_c; contrast: (x − mean)·1.0 + mean.
    let b: Vec<f64> = v.iter().map(|p| *p as f64 + 0.25).collect();
    let mut s = b.clone();
    for p in 0..16 {
        let mc = (b[p] + b[16 + p] + b[32 + p]) / 3.0;
        for c in 0..3 {
            s[c * 16 + p] = (b[c * 16 + p] - mc) * 0.5 + mc;
        }
    }
    for (a, w) in y.iter().zip(&s) {
        assert!((*a as f64 - w).abs() < 1e-5, "{a} vs {w}");
    }
}

#[test]
fn draws_are_per_sample_and_deterministic() {
    let p = AugmentPolicy::parse("color,translation,cutout").unwrap();
    let a = AugmentDraws::draw(&p, 4, 16, 16, &mut EngineRng::new(1));
    let b = AugmentDraws::draw(&p, 4, 16, 16, &mut EngineRng::new(1));
    assert_eq!(a, b);
    let t = a.translation.as_ref().unwrap();
    assert!(
        t.iter().all(|(dy, dx)| dy.abs() <= 2 && dx.abs() <= 2),
        "{t:?}"
    );
    let c = a.cutout.as_ref().unwrap();
    assert!(
        c.iter()
            .all(|&(y0, y1, x0, x1)| y1 - y0 <= 8 && x1 - x0 <= 8 && y1 > y0 && x1 > x0)
    );
    assert!(AugmentPolicy::parse("color,zoom").is_err());
}

/// `color` is its three ops together, drawn as before; a single op draws and applies only
/// itself (brightness alone: `x + r − 0.5`).
#[test]
fn colour_ops_split_into_brightness_saturation_contrast() {
    let all = AugmentPolicy::parse("color").unwrap();
    assert_eq!(
        all,
        AugmentPolicy::parse("brightness, saturation,contrast").unwrap()
    );
    let a = AugmentDraws::draw(&all, 3, 4, 4, &mut EngineRng::new(5));
    let mut rng = EngineRng::new(5);
    let expected: Vec<Vec<f32>> = (0..3)
        .map(|_| (0..3).map(|_| rng.uniform() as f32).collect())
        .collect();
    assert_eq!(a.brightness.as_ref(), Some(&expected[0]));
    assert_eq!(a.saturation.as_ref(), Some(&expected[1]));
    assert_eq!(a.contrast.as_ref(), Some(&expected[2]));

    let sc = AugmentDraws::draw(
        &AugmentPolicy::parse("saturation,contrast").unwrap(),
        3,
        4,
        4,
        &mut EngineRng::new(5),
    );
    assert_eq!(sc.brightness, None);
    assert_eq!(sc.saturation.as_ref(), Some(&expected[0]));
    assert!(!sc.is_identity());

    let br = AugmentDraws::draw(
        &AugmentPolicy::parse("brightness").unwrap(),
        3,
        4,
        4,
        &mut EngineRng::new(5),
    );
    assert_eq!(
        (br.saturation.is_none(), br.contrast.is_none()),
        (true, true)
    );
    let (v, x) = img(3, 4, 4);
    let y = br.apply(x).into_data().try_into_vec::<f32>().unwrap();
    for (i, (a, b)) in y.iter().zip(&v).enumerate() {
        let r = expected[0][i / (3 * 16)];
        assert!((a - (b + r - 0.5)).abs() < 1e-6, "{i}: {a} vs {b}");
    }
    let err = AugmentPolicy::parse("hue").unwrap_err().to_string();
    assert!(err.contains("`hue`") && err.contains("brightness"), "{err}");
}

#[test]
fn real_and_fake_of_a_pair_get_identical_draws_in_the_engine() {
    // Score a "fake" that is pixel-identical to its real image: with the same augmentation draws
    // applied to both (and the same heads / batch-norm groups), D(real) and D(fake) must be
    // bit-identical. Any difference in the draws would break the equality.
    let d = dev();
    let model = ToyParts::new(ToySizes::default(), 3, &d)
        .model(toy_config(), &d)
        .unwrap();
    let batch: AdtBatch = toy_loader(8, 16, 4, 0, &d).iter().next().unwrap().unwrap();
    let mut rng = EngineRng::new(8);
    let draws = AugmentDraws::draw(&model.ctx.augment, 4, 16, 16, &mut rng);
    assert!(!draws.is_identity());
    let out = discriminator_loss(
        &model,
        batch.images.clone(),
        batch.images.clone(),
        None,
        &draws,
        &mut rng,
    );
    assert_eq!(
        out.real, out.fake,
        "real and fake were augmented differently"
    );
    // Control: a different draw for one side changes the logits.
    let other = AugmentDraws::draw(&model.ctx.augment, 4, 16, 16, &mut rng);
    let a = other.apply(batch.images.clone());
    let out2 = discriminator_loss(
        &model,
        draws.apply(batch.images.clone()),
        a,
        None,
        &none_for(16),
        &mut rng,
    );
    assert_ne!(out2.real, out2.fake);
}

fn none_for(s: usize) -> AugmentDraws {
    AugmentDraws {
        size: [s, s],
        ..none()
    }
}
