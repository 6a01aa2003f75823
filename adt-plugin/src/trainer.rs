//! [`AdtTrainer`]: the programmatic entry point — models + data + config → a run directory.
//!
//! ```text
//! let parts = Parts { generator, codec, conditioner, backbone, schedule, sampler };
//! let report = AdtTrainer::<MyComponents>::new(config, parts, train_loader, &device)?
//!     .with_renderer(Box::new(my_renderer))   // optional burn-train MetricsRenderer
//!     .resume(true)                           // continue from runs/NAME/checkpoints/latest
//!     .run(Path::new("runs/NAME"))?;
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::prelude::*;
use burn::train::renderer::MetricsRenderer;
use burn::train::{Interrupter, Learner, SupervisedTraining, TrainingStrategy};

use crate::checkpoint::TrainState;
use crate::checkpoint::{CheckpointDir, Stored, files, load_module, record_error, write_synced};
use crate::components::{Components, Parts};
use crate::config::AdtConfig;
use crate::ema::Ema;
use crate::error::{AdtError, Result};
use crate::events::RunStatus;
use crate::metrics::{EngineMetric, StepMetrics};
use crate::model::{AdtBatch, AdtModel};
use crate::rng::EngineRng;
use crate::step::Optimizers;
use crate::strategy::{AdtStrategy, ProgressFn, ResumeState, Validation};

/// RNG stream ids derived from the config seed.
pub mod streams {
    /// Discriminator head initialisation.
    pub const HEAD_INIT: u64 = 1;
    /// The training stream (plans, noise, timesteps, augmentation).
    pub const TRAIN: u64 = 2;
    /// LoRA's `A` factors ([`crate::lora::INIT_STREAM`]).
    pub const LORA_INIT: u64 = crate::lora::INIT_STREAM;
}

/// The training device must be an autodiff device whose checkpointing matches
/// `gradient_checkpointing` (burn panics on ops mixing strategies, so the config and the
/// device the caller built everything on must agree).
fn check_device(config: &AdtConfig, device: &Device) -> Result<()> {
    use burn::tensor::GradientCheckpointingStrategy as S;
    let message = match (
        device.gradient_checkpointing_strategy(),
        config.gradient_checkpointing,
    ) {
        (None, _) => "the training device is not an autodiff device: use `device.autodiff()`",
        (Some(S::Disabled), true) => {
            "is true, but the training device was created without it: build the modules and \
             the data loader on `device.autodiff().gradient_checkpointing()`"
        }
        (Some(S::Balanced), false) => {
            "is false, but the training device checkpoints (`.gradient_checkpointing()`): set \
             it to true or use `device.autodiff()`"
        }
        _ => return Ok(()),
    };
    Err(AdtError::config("gradient_checkpointing", message))
}

/// The result of [`AdtTrainer::run`].
pub struct RunReport<K: Components> {
    /// The trained pair (generator + heads), on the training device.
    pub model: AdtModel<K>,
    /// The EMA generator (when enabled).
    pub ema: Option<Ema<K::Denoiser>>,
    /// Last finished step.
    pub step: usize,
    /// How the run ended.
    pub status: RunStatus,
    /// Metrics of every step run in this session.
    pub history: Vec<(usize, StepMetrics)>,
    /// The run directory.
    pub run_dir: PathBuf,
}

/// Builder + runner of an ADT run.
pub struct AdtTrainer<K: Components> {
    model: AdtModel<K>,
    data: Arc<dyn DataLoader<AdtBatch>>,
    renderer: Option<Box<dyn MetricsRenderer>>,
    resume: bool,
    progress: Option<ProgressFn>,
    validation: Option<Validation<K::Denoiser>>,
    family: Option<String>,
    interrupter: Interrupter,
    devices: Vec<Device>,
}

impl<K: Components> AdtTrainer<K> {
    /// Validate the config, freeze codec/conditioner/backbone and build the discriminator heads.
    /// All modules of `parts` must live on `device` (an autodiff device).
    pub fn new(
        config: AdtConfig,
        parts: Parts<K>,
        data: Arc<dyn DataLoader<AdtBatch>>,
        device: &Device,
    ) -> Result<Self> {
        check_device(&config, device)?;
        let mut rng = EngineRng::derived(config.seed, streams::HEAD_INIT);
        let model = AdtModel::from_parts(config, parts, &mut rng, device)?;
        Ok(Self {
            model,
            data,
            renderer: None,
            resume: false,
            progress: None,
            validation: None,
            family: None,
            interrupter: Interrupter::new(),
            devices: vec![device.clone()],
        })
    }

    /// Train data-parallel on `devices` as well as the main one (autodiff devices with the
    /// main device's checkpointing): each step's `grad_accum × devices` micro-batches are
    /// spread over them, gradients summed on the main device; the step equals one batch of
    /// the same global size on one device (see [`crate::step::adt_step_on`]).
    pub fn on_devices(mut self, others: Vec<Device>) -> Result<Self> {
        for d in &others {
            check_device(&self.model.ctx.config, d)?;
        }
        self.devices.extend(others);
        Ok(self)
    }

    /// Name the model family in `run_start` (informational, for viewers).
    pub fn with_family(mut self, name: impl Into<String>) -> Self {
        self.family = Some(name.into());
        self
    }

    /// Use this burn-train renderer (e.g. the adt-tui dashboard). Default: [`crate::renderer::SilentRenderer`].
    pub fn with_renderer(mut self, renderer: Box<dyn MetricsRenderer>) -> Self {
        self.renderer = Some(renderer);
        self
    }

    /// Continue from the run directory's latest checkpoint if there is one.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Call `f(step, metrics)` after every step.
    pub fn on_step(mut self, f: impl Fn(usize, &StepMetrics) + Send + Sync + 'static) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Write validation samples every `every` steps (and at the last step) with `f`; each
    /// becomes a `sample` event in `events.jsonl`.
    pub fn validate_every(
        mut self,
        every: usize,
        f: impl Fn(usize, &K::Denoiser) -> std::result::Result<(String, Vec<String>), String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.validation = Some(Validation {
            every,
            run: Box::new(f),
        });
        self
    }

    /// The interrupter: `stop()` ends the run after the current step, with a checkpoint.
    pub fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }

    /// The model as it will start (e.g. to inspect parameters in tests).
    pub fn model(&self) -> &AdtModel<K> {
        &self.model
    }

    fn load_resume(&mut self, run_dir: &Path) -> Result<Option<(usize, ResumeState<K>)>> {
        let cfg = self.model.ctx.config.clone();
        let cfg = &cfg;
        let Some((step, dir)) = CheckpointDir::new(run_dir).latest() else {
            return Ok(None);
        };
        let state = CheckpointDir::read_state(&dir)?;
        if state.devices != self.devices.len() {
            return Err(AdtError::Checkpoint {
                path: dir.clone(),
                message: format!(
                    "this run trains on {} device(s) (global batch {} = grad_accum {} × {} \
                     device(s) × batch_size {}); resuming on {} would change the step: resume \
                     with as many devices (`--devices {}`)",
                    state.devices,
                    cfg.grad_accum * state.devices * cfg.batch_size,
                    cfg.grad_accum,
                    state.devices,
                    cfg.batch_size,
                    self.devices.len(),
                    state.devices
                ),
            });
        }
        let stored = Stored::of(cfg);
        self.model = load_module(self.model.clone(), &dir.join(files::MODEL), stored, None)?;
        let mut optims = Optimizers::new(cfg);
        let p = dir.join(files::OPTIM_G);
        optims.g = optims.g.load(&p).map_err(|e| record_error(&p, e))?;
        let p = dir.join(files::OPTIM_D);
        optims.d = optims.d.load(&p).map_err(|e| record_error(&p, e))?;
        let ema = if cfg.ema {
            let mut ema = Ema::new(&self.model.generator, cfg.ema_decay);
            if state.has_ema {
                ema.module = load_module(ema.module, &dir.join(files::EMA), stored, None)?;
            }
            Some(ema)
        } else {
            None
        };
        Ok(Some((step, ResumeState { optims, ema, state })))
    }

    /// Run to `total_steps` in `run_dir` (writes `config.toml`, `events.jsonl`, `checkpoints/`,
    /// and burn-train's own logs under `burn/`).
    pub fn run(mut self, run_dir: &Path) -> Result<RunReport<K>> {
        std::fs::create_dir_all(run_dir)
            .map_err(|e| AdtError::io("create run directory", run_dir, e))?;
        let cfg = self.model.ctx.config.clone();
        let resumed = if self.resume {
            self.load_resume(run_dir)?
        } else {
            None
        };
        let (resumed_from, start) = match resumed {
            Some((step, s)) => (Some(step), s),
            None => (
                None,
                ResumeState {
                    optims: Optimizers::new(&cfg),
                    ema: cfg
                        .ema
                        .then(|| Ema::new(&self.model.generator, cfg.ema_decay)),
                    state: TrainState {
                        step: 0,
                        batches_consumed: 0,
                        rng: EngineRng::derived(cfg.seed, streams::TRAIN),
                        nonfinite_in_row: 0,
                        has_ema: cfg.ema,
                        devices: self.devices.len(),
                    },
                },
            ),
        };
        let cfg_tmp = run_dir.join("config.toml.tmp");
        write_synced(&cfg_tmp, cfg.to_toml().as_bytes())?;
        let cfg_path = run_dir.join("config.toml");
        std::fs::rename(&cfg_tmp, &cfg_path).map_err(|e| AdtError::io("publish", &cfg_path, e))?;

        let run_name = run_dir
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "run".into());
        let strategy = Arc::new(AdtStrategy::new(
            run_dir.to_path_buf(),
            run_name,
            self.family.take(),
            start,
            resumed_from,
            self.progress.take(),
            self.validation.take(),
            self.devices.clone(),
        ));
        let names: Vec<&str> = if cfg.adversarial {
            crate::metrics::names().collect()
        } else {
            crate::metrics::plain_names().collect()
        };
        let mut training =
            SupervisedTraining::new(run_dir.join("burn"), self.data.clone(), self.data.clone())
                .with_training_strategy(TrainingStrategy::Custom(strategy.clone()))
                .with_interrupter(self.interrupter.clone())
                .with_application_logger(None)
                .num_epochs(1);
        for n in names.iter().filter(|n| cfg.r1 || **n != "r1") {
            training = training.metric_train_numeric(EngineMetric::new(n));
        }
        let renderer = self
            .renderer
            .take()
            .unwrap_or_else(|| Box::new(crate::renderer::SilentRenderer));
        training = training.renderer(renderer);
        // The Learner's optimizer slot is unused: the strategy owns both players' optimizers.
        let learner = Learner::new(self.model, Optimizers::new(&cfg).g, cfg.g_optim.lr);
        let result = training.launch(learner);
        let outcome = strategy
            .take_outcome()
            .expect("AdtStrategy::fit did not run (burn-train launch failed before training)");
        if let Some(e) = outcome.error {
            return Err(e);
        }
        Ok(RunReport {
            model: result.model,
            ema: outcome.ema,
            step: outcome.step,
            status: outcome.status,
            history: outcome.history,
            run_dir: run_dir.to_path_buf(),
        })
    }
}
