//! `attention::scaled_dot_product` against burn's own attention: the same values and, in
//! a graph, the same gradients; outside a graph on an autodiff (and checkpointing) device,
//! a result that combines with that device's tensors.

use adt_models_common::attention::scaled_dot_product;
use burn::prelude::*;
use burn::tensor::module::attention_fallback;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Distribution, Tolerance};

fn qkv(device: &Device, bias: bool) -> (Tensor<4>, Tensor<4>, Tensor<4>, Option<Tensor<4>>) {
    let n = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), device);
    (
        n([2, 3, 40, 8]),
        n([2, 3, 17, 8]),
        n([2, 3, 17, 8]),
        bias.then(|| n([2, 3, 40, 17])),
    )
}

#[test]
fn values_and_gradients_match_burns_attention() {
    let device = Device::flex().autodiff();
    for (bias, scale) in [(false, None), (true, Some(0.5))] {
        let options = AttentionModuleOptions {
            scale,
            ..Default::default()
        };
        let (q, k, v, b) = qkv(&device, bias);
        let run = |f: &dyn Fn(Tensor<4>, Tensor<4>, Tensor<4>, Option<Tensor<4>>) -> Tensor<4>| {
            let (q, k, v) = (
                q.clone().require_grad(),
                k.clone().require_grad(),
                v.clone().require_grad(),
            );
            let b = b.clone().map(Tensor::require_grad);
            let out = f(q.clone(), k.clone(), v.clone(), b.clone());
            let grads = (out.clone() * out.clone()).sum().backward();
            let mut all = vec![
                out.inner(),
                q.grad(&grads).unwrap(),
                k.grad(&grads).unwrap(),
                v.grad(&grads).unwrap(),
            ];
            all.extend(b.map(|b| b.grad(&grads).unwrap()));
            all
        };
        let ours = run(&|q, k, v, b| scaled_dot_product(q, k, v, None, b, options));
        let burns = run(&|q, k, v, b| attention_fallback(q, k, v, None, b, options));
        for (a, b) in ours.into_iter().zip(burns) {
            a.into_data()
                .assert_approx_eq::<f32>(&b.into_data(), Tolerance::absolute(1e-5));
        }
    }
}

#[test]
fn outside_a_graph_the_result_joins_the_devices_tensors() {
    for device in [
        Device::flex(),
        Device::flex().autodiff(),
        Device::flex().autodiff().gradient_checkpointing(),
    ] {
        let (q, k, v, _) = qkv(&device, false);
        let other = Tensor::<4>::ones([2, 3, 40, 8], &device);
        let out = scaled_dot_product(
            q.clone(),
            k.clone(),
            v.clone(),
            None,
            None,
            AttentionModuleOptions::default(),
        );
        let want = attention_fallback(q, k, v, None, None, AttentionModuleOptions::default());
        // Adding a tensor of the device would panic on a checkpointing-strategy mismatch.
        (out + other.clone())
            .into_data()
            .assert_approx_eq::<f32>(&(want + other).into_data(), Tolerance::absolute(1e-5));
    }
}
