//! Gradients through `Attention` (the fused `attention` op under autodiff) must equal
//! those of the explicit softmax(QKᵀ/√d)V — for the query input *and* for the context,
//! which is how the text conditioning of cross-attention learns.

use adt_diffusion::attention::Attention;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::softmax;

fn explicit(att: &Attention, x: Tensor<3>, ctx: Tensor<3>) -> Tensor<3> {
    let heads = att.heads;
    let split = |t: Tensor<3>| {
        let [b, l, inner] = t.dims();
        t.reshape([b, l, heads, inner / heads]).swap_dims(1, 2)
    };
    let q = split(att.to_q.forward(x));
    let k = split(att.to_k.forward(ctx.clone()));
    let v = split(att.to_v.forward(ctx));
    let d = q.dims()[3] as f64;
    let w = softmax(q.matmul(k.swap_dims(2, 3)).div_scalar(d.sqrt()), 3);
    let out = w.matmul(v).swap_dims(1, 2);
    let [b, l, h, dh] = out.dims();
    att.to_out[0].forward(out.reshape([b, l, h * dh]))
}

#[test]
fn cross_attention_gradients_reach_query_and_context() {
    let device = Device::flex().autodiff();
    device.seed(7);
    let att = Attention::new(16, 12, 4, 4, false, &device);
    let x = Tensor::<3>::random([2, 9, 16], Distribution::Normal(0.0, 1.0), &device);
    let ctx = Tensor::<3>::random([2, 5, 12], Distribution::Normal(0.0, 1.0), &device);
    let r = Tensor::<3>::random([2, 9, 16], Distribution::Normal(0.0, 1.0), &device);
    let grads = |f: &dyn Fn(Tensor<3>, Tensor<3>) -> Tensor<3>| {
        let (x, ctx) = (x.clone().require_grad(), ctx.clone().require_grad());
        let loss = (f(x.clone(), ctx.clone()) * r.clone()).sum();
        let g = loss.backward();
        let gx = x
            .grad(&g)
            .expect("grad x")
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let gc = ctx
            .grad(&g)
            .expect("grad ctx")
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        (gx, gc)
    };
    let (fx, fc) = grads(&|x, c| att.forward(x, Some(c)));
    let (ex, ec) = grads(&|x, c| explicit(&att, x, c));
    let max = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max)
    };
    let norm = |a: &[f32]| a.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    assert!(
        norm(&ec) > 1e-3,
        "explicit context gradient is {}",
        norm(&ec)
    );
    assert!(
        max(&fx, &ex) < 1e-4,
        "query-input gradients differ by {}",
        max(&fx, &ex)
    );
    assert!(
        max(&fc, &ec) < 1e-4,
        "context gradients differ by {} (fused max {}, explicit max {})",
        max(&fc, &ec),
        norm(&fc),
        norm(&ec)
    );
}
