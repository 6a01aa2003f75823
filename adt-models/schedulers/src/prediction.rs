//! What the denoiser predicts (`prediction_type`) and the linear maps from
//! (sample, model_output) to the x0 and ε estimates.

/// `prediction_type`. diffusers' Euler schedulers also accept `original_sample` for `sample`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictionType {
    Epsilon,
    #[serde(alias = "original_sample")]
    Sample,
    VPrediction,
    /// Flow matching velocity (ε − x0); only the flow-match scheduler uses it.
    FlowPrediction,
}

/// `x = s·sample + m·model_output`: a linear estimate built from the two step inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear2 {
    pub sample: f64,
    pub model_output: f64,
}

impl Linear2 {
    pub fn scale(self, k: f64) -> Self {
        Self {
            sample: self.sample * k,
            model_output: self.model_output * k,
        }
    }
}

/// x0 and ε estimates in the variance-preserving parametrisation
/// x_t = α·x0 + σ·ε with α = √ᾱ, σ = √(1-ᾱ) (DDIM/DDPM/DPM-Solver formulas).
pub fn vp_estimates(p: PredictionType, alpha: f64, sigma: f64) -> (Linear2, Linear2) {
    match p {
        PredictionType::Epsilon => (
            Linear2 {
                sample: 1.0 / alpha,
                model_output: -sigma / alpha,
            },
            Linear2 {
                sample: 0.0,
                model_output: 1.0,
            },
        ),
        PredictionType::Sample => (
            Linear2 {
                sample: 0.0,
                model_output: 1.0,
            },
            Linear2 {
                sample: 1.0 / sigma,
                model_output: -alpha / sigma,
            },
        ),
        PredictionType::VPrediction => (
            Linear2 {
                sample: alpha,
                model_output: -sigma,
            },
            Linear2 {
                sample: sigma,
                model_output: alpha,
            },
        ),
        PredictionType::FlowPrediction => unreachable!("rejected by the config reader"),
    }
}

/// x0 estimate in Euler's variance-exploding space x = x0 + σ·ε (sample not scaled).
pub fn ve_x0(p: PredictionType, sigma: f64) -> Linear2 {
    match p {
        PredictionType::Epsilon => Linear2 {
            sample: 1.0,
            model_output: -sigma,
        },
        PredictionType::Sample => Linear2 {
            sample: 0.0,
            model_output: 1.0,
        },
        // model_output * (-σ / √(σ²+1)) + sample / (σ²+1)
        PredictionType::VPrediction => Linear2 {
            sample: 1.0 / (sigma * sigma + 1.0),
            model_output: -sigma / (sigma * sigma + 1.0).sqrt(),
        },
        PredictionType::FlowPrediction => unreachable!("rejected by the config reader"),
    }
}
