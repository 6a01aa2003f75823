//! Training noise schedule: betas and `alphas_cumprod`, as diffusers builds them.
//!
//! diffusers builds these as float32 torch tensors. We replay the same float32
//! arithmetic on the host: torch's CPU `linspace` formula, float32 squares and
//! `1 - x`, and `cumprod`, which on CPU accumulates in float64 and rounds each
//! output to float32 (verified bit-exact against torch). One known difference:
//! torch's `linspace` runs a SIMD path whose lane-wise `base + k·step` rounds
//! differently from its scalar formula (which we use) and depends on the CPU's vector
//! width, so betas differ by ≤ 1.9e-9 and ᾱ by ≤ 6e-8 (measured; ≤ 3e-6 in betas
//! after zero-SNR rescaling, whose ratios near ᾱ → 0 amplify it). Everything downstream (sigmas, step coefficients) is then
//! computed in f64 from these float32 values; see each scheduler for where
//! diffusers itself rounds to float32 again.

/// `beta_schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    Linear,
    ScaledLinear,
    SquaredcosCapV2,
}

/// The config fields every DDPM-family scheduler shares.
#[derive(Debug, Clone, PartialEq)]
pub struct BetaConfig {
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub beta_schedule: BetaSchedule,
    pub trained_betas: Option<Vec<f64>>,
    pub rescale_betas_zero_snr: bool,
}

/// betas, alphas_cumprod (float32 values, as diffusers holds them).
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    pub betas: Vec<f32>,
    pub alphas_cumprod: Vec<f32>,
}

impl NoiseSchedule {
    /// `DDIMScheduler.__init__` / `DDPMScheduler.__init__` (no terminal clamp).
    pub fn new(cfg: &BetaConfig) -> Self {
        let n = cfg.num_train_timesteps;
        let mut betas = match (&cfg.trained_betas, cfg.beta_schedule) {
            (Some(b), _) => b.iter().map(|&x| x as f32).collect(),
            (None, BetaSchedule::Linear) => torch_linspace_f32(cfg.beta_start, cfg.beta_end, n),
            (None, BetaSchedule::ScaledLinear) => {
                torch_linspace_f32(cfg.beta_start.sqrt(), cfg.beta_end.sqrt(), n)
                    .into_iter()
                    .map(|x| x * x)
                    .collect()
            }
            (None, BetaSchedule::SquaredcosCapV2) => betas_for_alpha_bar_cosine(n, 0.999),
        };
        if cfg.rescale_betas_zero_snr {
            betas = rescale_zero_terminal_snr(&betas);
        }
        let alphas: Vec<f32> = betas.iter().map(|b| 1.0 - b).collect();
        Self {
            alphas_cumprod: cumprod_f32(&alphas),
            betas,
        }
    }

    /// Euler / Euler ancestral / DPM-Solver: with zero-SNR rescaling diffusers sets the
    /// last `alphas_cumprod` to 2^-24 so that sigma_max = sqrt((1-ᾱ)/ᾱ) stays finite.
    pub fn new_sigma_safe(cfg: &BetaConfig) -> Self {
        let mut s = Self::new(cfg);
        if cfg.rescale_betas_zero_snr
            && let Some(last) = s.alphas_cumprod.last_mut()
        {
            *last = 2f32.powi(-24);
        }
        s
    }

    pub fn num_train_timesteps(&self) -> usize {
        self.alphas_cumprod.len()
    }

    /// `((1 - ᾱ) / ᾱ) ** 0.5` in float32, as torch computes it, indexed by train timestep.
    pub fn train_sigmas_f32(&self) -> Vec<f32> {
        self.alphas_cumprod
            .iter()
            .map(|&a| ((1.0 - a) / a).sqrt())
            .collect()
    }
}

/// torch's CPU `linspace` for float32 (scalar path of `linspace_kernel`): the first
/// half counts up from `start`, the second half down from `end`, in float32.
pub fn torch_linspace_f32(start: f64, end: f64, steps: usize) -> Vec<f32> {
    let (s, e) = (start as f32, end as f32);
    if steps == 1 {
        return vec![s];
    }
    let step = (e - s) / (steps - 1) as f32;
    let half = steps / 2;
    (0..steps)
        .map(|i| {
            if i < half {
                s + step * i as f32
            } else {
                e - step * (steps - i - 1) as f32
            }
        })
        .collect()
}

/// `torch.cumprod` on CPU: float64 accumulator, float32 outputs.
pub fn cumprod_f32(x: &[f32]) -> Vec<f32> {
    let mut acc = 1.0f64;
    x.iter()
        .map(|&v| {
            acc *= v as f64;
            acc as f32
        })
        .collect()
}

/// `betas_for_alpha_bar(n, max_beta, "cosine")`: Python float64, then float32.
fn betas_for_alpha_bar_cosine(n: usize, max_beta: f64) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        let c = ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0).cos();
        c * c
    };
    (0..n)
        .map(|i| {
            let t1 = i as f64 / n as f64;
            let t2 = (i + 1) as f64 / n as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(max_beta) as f32
        })
        .collect()
}

/// `rescale_zero_terminal_snr` (arXiv 2305.08891, Algorithm 1), in float32 like torch.
fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let alphas: Vec<f32> = betas.iter().map(|b| 1.0 - b).collect();
    let mut sqrt_ab: Vec<f32> = cumprod_f32(&alphas).iter().map(|a| a.sqrt()).collect();
    let first = sqrt_ab[0];
    let last = *sqrt_ab.last().expect("num_train_timesteps >= 2");
    let scale = first / (first - last);
    for v in &mut sqrt_ab {
        *v = (*v - last) * scale;
    }
    let ab: Vec<f32> = sqrt_ab.iter().map(|v| v * v).collect();
    let mut out = Vec::with_capacity(ab.len());
    out.push(1.0 - ab[0]);
    for k in 1..ab.len() {
        out.push(1.0 - ab[k] / ab[k - 1]);
    }
    out
}
