//! Validation grids: the same prompts and seeds at every validation step, sampled with the
//! generator being tuned, written as `samples/step-NNNNNN.png`.

use std::path::PathBuf;

use adt_family::image_io::{grid, save_png, to_rgb8};
use adt_family::{Family, Pipeline, Request, SeededNoise};
use adt_schedulers::{SamplerName, Scheduler, SchedulerConfig};
use burn::prelude::*;

/// What a validation renders; built once when the run starts.
pub struct ValidationPlan<F: Family> {
    pub run_dir: PathBuf,
    pub prompts: Vec<String>,
    pub negative: Option<String>,
    pub seed: u64,
    pub sampler: SamplerName,
    pub scheduler: SchedulerConfig,
    pub steps: usize,
    pub cfg: f64,
    pub size: usize,
    pub columns: usize,
    /// Frozen parts on a plain (non-autodiff) device.
    pub codec: F::Codec,
    pub conditioner: F::Conditioner,
    pub device: Device,
}

impl<F: Family> ValidationPlan<F> {
    /// Render the grid for `step` with `denoiser`; returns the path relative to the run
    /// directory.
    pub fn render(
        &self,
        step: usize,
        denoiser: &F::Denoiser,
    ) -> Result<(String, Vec<String>), String> {
        let scheduler = Scheduler::new(&self.scheduler, self.steps).map_err(|e| e.to_string())?;
        let pipeline: Pipeline<'_, F> = Pipeline {
            denoiser,
            codec: &self.codec,
            conditioner: &self.conditioner,
        };
        let mut images = Vec::with_capacity(self.prompts.len());
        // One image per call keeps peak memory at a single sample, whatever the prompt count.
        for (k, prompt) in self.prompts.iter().enumerate() {
            let request = Request {
                negative_prompts: self.negative.clone().map(|n| vec![n]),
                ..Request::txt2img(vec![prompt.clone()], self.cfg, self.size, self.size)
            };
            let mut noise = SeededNoise::new(self.seed + k as u64, 1);
            let out = pipeline
                .generate(&scheduler, &request, &mut noise, &self.device)
                .map_err(|e| format!("validation sample {k}: {e}"))?;
            images.extend(to_rgb8(out.images));
        }
        let rel = format!("samples/step-{step:06}.png");
        save_png(&grid(&images, self.columns), &self.run_dir.join(&rel))
            .map_err(|e| e.to_string())?;
        Ok((rel, self.prompts.clone()))
    }

    /// A short description for the start banner.
    pub fn describe(&self) -> String {
        format!(
            "{} prompt(s), {} × {} steps, CFG {}, {}px, seed {}",
            self.prompts.len(),
            self.sampler,
            self.steps,
            self.cfg,
            self.size,
            self.seed
        )
    }
}
