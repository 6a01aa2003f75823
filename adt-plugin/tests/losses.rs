//! Hinge, generator, R1 and L_diff (ε / v / flow, SD3's weightings and timestep densities)
//! against hand-computed values.

use adt_plugin::config::{LossWeighting, LrDecay, LrScheduleConfig};
use adt_plugin::losses::{
    Density, add_noise, d_hinge, diffusion_loss, diffusion_target, flow_x0, g_adversarial,
    r1_penalty, sign_accuracy, weighted_diffusion_loss,
};
use adt_plugin::step::learning_rate;
use adt_plugin::traits::{NoiseLevel, Prediction};
use burn::prelude::*;

const TOL: f64 = 1e-6;

fn dev() -> Device {
    Device::flex().autodiff()
}

fn t2(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), &dev())
}

fn t4(v: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, shape), &dev())
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f64>()
}

#[test]
fn hinge_and_generator_losses_match_hand_values() {
    let real = t2(vec![2.0, 0.5, -1.0, 0.0], [2, 2]);
    let fake = t2(vec![-2.0, 0.5, 1.0, -0.25], [2, 2]);
    // relu(1 - real) = [0, .5, 2, 1] -> mean .875 ; relu(1 + fake) = [0, 1.5, 2, .75] -> mean 1.0625
    let d = scalar(d_hinge(real, fake.clone()));
    assert!((d - (0.875 + 1.0625)).abs() < TOL, "hinge {d}");
    // -mean(fake) = -(−2 + .5 + 1 − .25)/4 = 0.1875
    let g = scalar(g_adversarial(fake));
    assert!((g - 0.1875).abs() < TOL, "g_adv {g}");
    let acc = sign_accuracy(&[2.0, 0.5, -1.0, 0.0], &[-2.0, 0.5, 1.0, -0.25]);
    assert!((acc - 4.0 / 8.0).abs() < TOL, "acc {acc}");
}

fn levels() -> Vec<NoiseLevel> {
    vec![
        NoiseLevel {
            timestep: 10.0,
            alpha: 0.8,
            sigma: 0.6,
        },
        NoiseLevel {
            timestep: 500.0,
            alpha: 0.5,
            sigma: 0.75,
        },
    ]
}

#[test]
fn diffusion_targets_and_losses_match_hand_values() {
    let x0 = t4(vec![1.0, -1.0, 0.5, 2.0], [2, 2, 1, 1]);
    let eps = t4(vec![0.5, 0.25, -1.0, 1.0], [2, 2, 1, 1]);
    let pred = t4(vec![0.0, 0.0, 0.0, 0.0], [2, 2, 1, 1]);
    let lv = levels();
    // x_t = α x0 + σ ε
    let xt = add_noise(x0.clone(), eps.clone(), &lv)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let want = [
        0.8 * 1.0 + 0.6 * 0.5,
        -0.8 + 0.6 * 0.25,
        0.5 * 0.5 - 0.75,
        0.5 * 2.0 + 0.75 * 1.0,
    ];
    for (a, b) in xt.iter().zip(want) {
        assert!((*a as f64 - b).abs() < TOL, "x_t {a} vs {b}");
    }
    // ε target: mean(ε²) = (0.25 + 0.0625 + 1 + 1)/4
    let l = scalar(diffusion_loss(
        pred.clone(),
        diffusion_target(Prediction::Epsilon, x0.clone(), eps.clone(), &lv),
    ));
    assert!((l - 2.3125 / 4.0).abs() < TOL, "eps loss {l}");
    // v = α ε − σ x0: [0.4-0.6, 0.2+0.6, -0.5-0.375, 0.5-1.5] = [-0.2, 0.8, -0.875, -1.0]
    let v: [f64; 4] = [-0.2, 0.8, -0.875, -1.0];
    let want_v = v.iter().map(|x| x * x).sum::<f64>() / 4.0;
    let l = scalar(diffusion_loss(
        pred.clone(),
        diffusion_target(Prediction::V, x0.clone(), eps.clone(), &lv),
    ));
    assert!((l - want_v).abs() < TOL, "v loss {l} vs {want_v}");
    // flow: ε − x0 = [-0.5, 1.25, -1.5, -1.0]
    let f: [f64; 4] = [-0.5, 1.25, -1.5, -1.0];
    let want_f = f.iter().map(|x| x * x).sum::<f64>() / 4.0;
    let l = scalar(diffusion_loss(
        pred,
        diffusion_target(Prediction::Flow, x0, eps, &lv),
    ));
    assert!((l - want_f).abs() < TOL, "flow loss {l} vs {want_f}");
}

#[test]
fn flow_loss_weightings_and_densities_match_hand_values() {
    let x0 = t4(vec![1.0, -1.0, 0.5, 2.0], [2, 2, 1, 1]);
    let eps = t4(vec![0.5, 0.25, -1.0, 1.0], [2, 2, 1, 1]);
    let pred = t4(vec![0.0, 0.0, 0.0, 0.0], [2, 2, 1, 1]);
    let lv = levels(); // σ = 0.6, 0.75
    let target = diffusion_target(Prediction::Flow, x0, eps, &lv);
    // Per-sample mean of (ε − x0)²: [(0.25 + 1.5625)/2, (2.25 + 1)/2] = [0.90625, 1.625].
    let weighted = |w: LossWeighting| {
        let weights: Vec<f32> = lv.iter().map(|l| w.weight(l.sigma)).collect();
        scalar(weighted_diffusion_loss(
            pred.clone(),
            target.clone(),
            &weights,
        ))
    };
    // none: the plain mean, (0.90625 + 1.625) / 2.
    let l = weighted(LossWeighting::None);
    assert!((l - 1.265625).abs() < TOL, "none {l}");
    let plain = scalar(diffusion_loss(pred.clone(), target.clone()));
    assert!((plain - 1.265625).abs() < TOL, "unweighted {plain}");
    // sigma_sqrt: σ⁻² = [1/0.36, 1/0.5625] → (0.90625/0.36 + 1.625/0.5625) / 2.
    let l = weighted(LossWeighting::SigmaSqrt);
    assert!((l - 2.703125).abs() < 1e-5, "sigma_sqrt {l}");
    // cosmap: 2/(π(1 − 2σ + 2σ²)) = [2/(0.52π), 2/(0.625π)] = [1.2242688, 1.0185916].
    let l = weighted(LossWeighting::Cosmap);
    assert!((l - 1.3823525).abs() < 1e-5, "cosmap {l}");

    // Preconditioned outputs: x̂0 = x_σ − σ·v̂ against x0. x_σ = α x0 + σ ε =
    // [1.1, −0.65, −0.5, 1.75]; v̂ = 1 → x̂0 = [0.5, −1.25, −1.25, 1.0], x̂0 − x0 =
    // [−0.5, −0.25, −1.75, −1.0] → mean of squares 4.375 / 4.
    let x0 = t4(vec![1.0, -1.0, 0.5, 2.0], [2, 2, 1, 1]);
    let eps = t4(vec![0.5, 0.25, -1.0, 1.0], [2, 2, 1, 1]);
    let x_t = add_noise(x0.clone(), eps, &lv);
    let ones = t4(vec![1.0; 4], [2, 2, 1, 1]);
    let l = scalar(diffusion_loss(flow_x0(x_t, ones, &lv), x0));
    assert!((l - 1.09375).abs() < TOL, "preconditioned {l}");

    // Densities: mode at v = 0.25, scale 1.29: 0.75 − 1.29·(cos²(π/8) − 0.75).
    let u = Density::Mode { scale: 1.29 }.fraction(0.25);
    assert!((u - 0.616_416_126).abs() < 1e-9, "mode {u}");
    // logit-normal, mean 0.5, std 1.5, n = −0.4: sigmoid(−0.1).
    let u = Density::LogitNormal {
        mean: 0.5,
        std: 1.5,
    }
    .fraction(-0.4);
    assert!((u - 0.475_020_813).abs() < 1e-9, "logit_normal {u}");
    assert_eq!(Density::Uniform.fraction(0.3), 0.3);
}

#[test]
fn r1_matches_hand_value_for_a_linear_discriminator() {
    // D(f) = Σ_n f[b,n,:]·w per token → S = Σ all; ∇_{f_b} S = w at every token of sample b.
    let d = dev();
    let w = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, -2.0], [2]), &d);
    let score = |inp: &[Tensor<3>]| -> Tensor<2> {
        let f = inp[0].clone(); // [B, N, C]
        let [b, n, c] = f.dims();
        f.reshape([b * n, c])
            .matmul(w.clone().unsqueeze_dim::<2>(1))
            .reshape([b, n])
    };
    let f = Tensor::<3>::from_data(TensorData::new(vec![0.3f32; 2 * 3 * 2], [2, 3, 2]), &d);
    // One probe δ: directional derivative = Σ δ·w exactly (linear D, central difference exact).
    let delta_v: Vec<f32> = vec![
        0.5, 1.0, -1.0, 0.25, 2.0, 0.0, 1.0, 1.0, -0.5, 0.5, 0.0, -1.0,
    ];
    let delta = Tensor::<3>::from_data(TensorData::new(delta_v.clone(), [2, 3, 2]), &d);
    let dir: f64 = delta_v
        .chunks(2)
        .map(|p| p[0] as f64 * 1.0 + p[1] as f64 * -2.0)
        .sum();
    let gamma = 0.5;
    let want = gamma / 2.0 * dir * dir / 2.0; // / B
    let got = scalar(r1_penalty(
        score,
        std::slice::from_ref(&f),
        gamma,
        1e-2,
        &[vec![delta]],
    ));
    assert!(
        (got - want).abs() < 1e-4 * want.abs().max(1.0),
        "r1 {got} vs {want}"
    );

    // Exact penalty: γ/2 · mean_b ‖∇_{f_b} S‖² = γ/2 · N·‖w‖² = 0.25 · 3 · 5. The Hutchinson
    // average over many probes approaches it.
    let mut rng = adt_plugin::rng::EngineRng::new(3);
    let probes: Vec<Vec<Tensor<3>>> = (0..400)
        .map(|_| vec![rng.normal_tensor([2, 3, 2], &d)])
        .collect();
    let est = scalar(r1_penalty(score, &[f], gamma, 1e-2, &probes));
    let exact = gamma / 2.0 * 3.0 * 5.0;
    assert!(
        (est - exact).abs() < 0.15 * exact,
        "Hutchinson estimate {est} far from {exact}"
    );
}

#[test]
fn lr_schedule_warmup_and_cosine() {
    let s = LrScheduleConfig {
        warmup_steps: 4,
        decay: LrDecay::Cosine,
        min_lr_ratio: 0.1,
    };
    assert!((learning_rate(&s, 1.0, 1, 104) - 0.25).abs() < TOL);
    assert!((learning_rate(&s, 1.0, 4, 104) - 1.0).abs() < TOL);
    assert!((learning_rate(&s, 1.0, 54, 104) - 0.55).abs() < TOL);
    assert!((learning_rate(&s, 1.0, 104, 104) - 0.1).abs() < TOL);
    let c = LrScheduleConfig::default();
    assert_eq!(learning_rate(&c, 0.5, 7, 10), 0.5);
}
