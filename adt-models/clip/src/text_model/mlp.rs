//! `CLIPMLP`: `fc1` → activation → `fc2`.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation;

use crate::HiddenAct;

#[derive(Module, Debug)]
pub struct ClipMlp {
    pub fc1: Linear,
    pub fc2: Linear,
    #[module(skip)]
    act: HiddenAct,
}

impl ClipMlp {
    pub fn new(hidden: usize, intermediate: usize, act: HiddenAct, device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(hidden, intermediate).init(device),
            fc2: LinearConfig::new(intermediate, hidden).init(device),
            act,
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.fc1.forward(x);
        let x = match self.act {
            HiddenAct::QuickGelu => x.clone() * activation::sigmoid(x * 1.702),
            HiddenAct::Gelu => activation::gelu(x),
            HiddenAct::GeluTanh => activation::gelu_approximate(x),
        };
        self.fc2.forward(x)
    }
}
