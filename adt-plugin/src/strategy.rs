//! The ADT training loop as a burn-train custom strategy ([`AdtStrategy`]).
//!
//! burn-train drives the run (`SupervisedTraining::launch` → `SupervisedLearningStrategy::train`
//! → our `fit`): metrics flow through its event processor to its renderers and file logger. The
//! loop itself is ours because ADT alternates two players with their own optimizers and needs
//! step-based checkpoints. burn's `Learner` keeps its single optimizer private (no way to save its
//! state per step), so the strategy owns both players' [`Optimizers`] and checkpoints them itself;
//! the `Learner` only carries the model in.
//!
//! Data position: the loader is treated as an endless stream of epochs. `batches_consumed` is
//! checkpointed; on resume, finished epochs are replayed by opening (and dropping) one iterator
//! each — burn's loader reshuffles from its own seeded RNG at every `iter()` — and the partial
//! epoch is skipped batch by batch. A batch smaller than `batch_size` (an epoch's remainder) is
//! consumed but not trained on (local batch norm needs full groups).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::module::Module;
use burn::prelude::Device;
use burn::train::{
    EventProcessorTraining, Learner, LearnerEvent, SupervisedLearningStrategy,
    SupervisedTrainingEventProcessor, TrainLoader, TrainingComponents, TrainingItem, ValidLoader,
};

use crate::checkpoint::{CheckpointDir, Stored, TrainState, files, record_error, save_module};
use crate::components::Components;
use crate::ema::Ema;
use crate::error::{AdtError, Result};
use crate::events::{EventWriter, RunConfig, RunStatus};
use crate::metrics::{AdtOutput, StepMetrics};
use crate::model::{AdtBatch, AdtModel};
use crate::step::{Optimizers, Replicas, step_model};

/// Called after every step with the step number and its metrics (plain progress output etc.).
pub type ProgressFn = Box<dyn Fn(usize, &StepMetrics) + Send + Sync>;

/// Validation samples: called with the step and the generator to sample from (the EMA weights
/// when EMA is on, else the live ones; a non-autodiff copy). Returns the written file's path
/// relative to the run directory and the prompts it shows, for a `sample` event. An error
/// is reported as an alarm; the run goes on.
pub type ValidationFn<G> =
    Box<dyn Fn(usize, &G) -> std::result::Result<(String, Vec<String>), String> + Send + Sync>;

/// [`ValidationFn`] and how often it runs (every `every` steps and at the last step).
pub struct Validation<G> {
    pub every: usize,
    pub run: ValidationFn<G>,
}

/// Where a run continues from.
pub struct ResumeState<K: Components> {
    /// Optimizer states.
    pub optims: Optimizers,
    /// EMA generator.
    pub ema: Option<Ema<K::Denoiser>>,
    /// Step, data position, RNG, non-finite counter.
    pub state: TrainState,
}

/// What a finished `fit` leaves behind.
pub struct RunOutcome<K: Components> {
    /// Last finished step.
    pub step: usize,
    /// How the run ended.
    pub status: RunStatus,
    /// The error that ended it, if any.
    pub error: Option<AdtError>,
    /// Metrics of every step run in this session.
    pub history: Vec<(usize, StepMetrics)>,
    /// The EMA generator (when enabled).
    pub ema: Option<Ema<K::Denoiser>>,
    /// Final optimizer states.
    pub optims: Optimizers,
    /// Final state (what a checkpoint of the last step holds).
    pub state: TrainState,
}

/// The custom burn-train strategy running ADT (or a plain fine-tune when `adversarial = false`).
pub struct AdtStrategy<K: Components> {
    run_dir: PathBuf,
    run_name: String,
    family: Option<String>,
    start: Mutex<Option<ResumeState<K>>>,
    resumed_from: Option<usize>,
    progress: Option<ProgressFn>,
    validation: Option<Validation<K::Denoiser>>,
    devices: Vec<Device>,
    outcome: Mutex<Option<RunOutcome<K>>>,
}

impl<K: Components> AdtStrategy<K> {
    /// A strategy writing to `run_dir`, starting from `start`, on `devices` (the main one
    /// first; more than one: data parallel, see [`crate::step::adt_step_on`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        run_dir: PathBuf,
        run_name: String,
        family: Option<String>,
        start: ResumeState<K>,
        resumed_from: Option<usize>,
        progress: Option<ProgressFn>,
        validation: Option<Validation<K::Denoiser>>,
        devices: Vec<Device>,
    ) -> Self {
        Self {
            run_dir,
            run_name,
            family,
            start: Mutex::new(Some(start)),
            resumed_from,
            progress,
            validation,
            devices,
            outcome: Mutex::new(None),
        }
    }

    /// Take the outcome after `launch` returned.
    pub fn take_outcome(&self) -> Option<RunOutcome<K>> {
        self.outcome.lock().expect("outcome lock").take()
    }
}

/// Batches from a loader as an endless, resumable stream.
struct DataStream<'a> {
    loader: &'a Arc<dyn DataLoader<AdtBatch>>,
    iter: Box<dyn DataLoaderIterator<AdtBatch> + 'a>,
    consumed: usize,
    batch_size: usize,
}

impl<'a> DataStream<'a> {
    fn open(
        loader: &'a Arc<dyn DataLoader<AdtBatch>>,
        position: usize,
        batch_size: usize,
    ) -> Result<Self> {
        let items = loader.num_items();
        if items == 0 {
            return Err(AdtError::Data {
                position,
                message: "the training data loader is empty".into(),
            });
        }
        let per_epoch = items.div_ceil(batch_size);
        for _ in 0..position / per_epoch {
            drop(loader.iter());
        }
        let mut s = Self {
            loader,
            iter: loader.iter(),
            consumed: position - position % per_epoch,
            batch_size,
        };
        for _ in 0..position % per_epoch {
            s.raw_next()?;
        }
        Ok(s)
    }

    fn raw_next(&mut self) -> Result<AdtBatch> {
        for _ in 0..2 {
            match self.iter.next() {
                Some(Ok(b)) => {
                    self.consumed += 1;
                    return Ok(b);
                }
                Some(Err(e)) => {
                    return Err(AdtError::Data {
                        position: self.consumed,
                        message: e.to_string(),
                    });
                }
                None => self.iter = self.loader.iter(),
            }
        }
        Err(AdtError::Data {
            position: self.consumed,
            message: "the data loader yields no batches".into(),
        })
    }

    /// Next full batch (partial remainders are consumed and skipped).
    fn next_full(&mut self) -> Result<AdtBatch> {
        loop {
            let b = self.raw_next()?;
            let n = b.prompts.len();
            if n == self.batch_size {
                return Ok(b);
            }
            if n > self.batch_size {
                return Err(AdtError::config(
                    "batch_size",
                    format!(
                        "the data loader yields batches of {n}, the config says {}",
                        self.batch_size
                    ),
                ));
            }
        }
    }
}

impl<K: Components> AdtStrategy<K> {
    fn save(
        &self,
        ckpt: &CheckpointDir,
        model: &AdtModel<K>,
        optims: &Optimizers,
        ema: Option<&Ema<K::Denoiser>>,
        state: &TrainState,
    ) -> Result<PathBuf> {
        let keep = model.ctx.config.keep_checkpoints;
        let stored = Stored::of(&model.ctx.config);
        let dir = ckpt.write(state.step, state, |tmp| {
            save_module(model, &tmp.join(files::MODEL), stored)?;
            let p = tmp.join(files::OPTIM_G);
            optims.g.save(&p).map_err(|e| record_error(&p, e))?;
            let p = tmp.join(files::OPTIM_D);
            optims.d.save(&p).map_err(|e| record_error(&p, e))?;
            if let Some(ema) = ema {
                save_module(&ema.module, &tmp.join(files::EMA), stored)?;
            }
            Ok(())
        })?;
        ckpt.prune(keep)?;
        Ok(dir)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_loop(
        &self,
        model: &mut Option<AdtModel<K>>,
        optims: &mut Optimizers,
        ema: &mut Option<Ema<K::Denoiser>>,
        state: &mut TrainState,
        tc: &mut TrainingComponents<AdtModel<K>>,
        train: &TrainLoader<AdtModel<K>>,
        history: &mut Vec<(usize, StepMetrics)>,
    ) -> Result<RunStatus> {
        let held = "the run loop always puts the model back";
        let cfg = model.as_ref().expect(held).ctx.config.clone();
        let replicas = (self.devices.len() > 1)
            .then(|| Replicas::new(model.as_ref().expect(held).ctx.clone(), &self.devices));
        let per_step = cfg.grad_accum * self.devices.len();
        let ckpt = CheckpointDir::new(&self.run_dir);
        let mut events = EventWriter::open(&self.run_dir)?;
        events.run_start(
            &self.run_name,
            cfg.total_steps,
            self.resumed_from,
            RunConfig {
                model: Some(cfg.model.clone()),
                family: self.family.clone(),
                sampler: cfg.sampler.clone(),
                m: Some(cfg.m as u64),
                k: Some(cfg.k as u64),
                lambda_diff: Some(cfg.lambda_diff),
                lambda_adv: Some(cfg.lambda_adv),
                lr_g: Some(cfg.g_optim.lr),
                lr_d: Some(cfg.d_optim.lr),
                batch_size: Some(cfg.batch_size as u64),
                adversarial: Some(cfg.adversarial),
                extra: Default::default(),
            },
        )?;
        {
            let r = tc.event_processor.process_train(LearnerEvent::StartSplit {
                epoch_number: 1,
                total_items: cfg.total_steps,
            });
            tc.interrupter.fail_on_error(r);
        }
        let mut stream = DataStream::open(train, state.batches_consumed, cfg.batch_size)?;
        let mut last_saved = self.resumed_from.unwrap_or(0);
        let result = loop {
            if state.step >= cfg.total_steps {
                break Ok(RunStatus::Finished);
            }
            if tc.interrupter.should_stop() {
                break Ok(RunStatus::Interrupted);
            }
            let batches: Result<Vec<AdtBatch>> =
                (0..per_step).map(|_| stream.next_full()).collect();
            let batches = match batches {
                Ok(b) => b,
                Err(e) => break Err(e),
            };
            let step = state.step + 1;
            // The model moves into the step (no second copy of the weights alive while the
            // optimizers replace them) and always comes back.
            let (m, report) = step_model(
                model.take().expect(held),
                optims,
                ema.as_mut(),
                &batches,
                &mut state.rng,
                step,
                replicas.as_ref(),
            );
            *model = Some(m);
            let report = match report {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            state.step = step;
            state.batches_consumed = stream.consumed;
            let metrics = report.metrics;
            events.step(step, &metrics.entries())?;
            history.push((step, metrics.clone()));
            if report.nonfinite.is_empty() {
                state.nonfinite_in_row = 0;
            } else {
                state.nonfinite_in_row += 1;
                let detail = report.nonfinite.join(", ");
                events.alarm(
                    step,
                    "non_finite",
                    &format!(
                        "non-finite {detail}: update skipped ({} in a row, limit {})",
                        state.nonfinite_in_row, cfg.max_nonfinite_in_row
                    ),
                )?;
                if state.nonfinite_in_row >= cfg.max_nonfinite_in_row {
                    break Err(AdtError::NonFinite {
                        count: state.nonfinite_in_row,
                        step,
                        detail,
                    });
                }
            }
            let item = TrainingItem {
                item: AdtOutput {
                    metrics: metrics.clone(),
                },
                progress: Progress {
                    items_processed: step,
                    items_total: cfg.total_steps,
                    unit: Some("steps".into()),
                },
                iteration: Some(step),
                lr: metrics.lr_g.map(Into::into),
            };
            {
                let r = tc
                    .event_processor
                    .process_train(LearnerEvent::ProcessedItem(item));
                tc.interrupter.fail_on_error(r);
            }
            if let Some(p) = &self.progress {
                p(step, &metrics);
            }
            if let Some(v) = &self.validation
                && v.every > 0
                && (step.is_multiple_of(v.every) || step == cfg.total_steps)
            {
                let g = match ema.as_ref() {
                    Some(e) => e.module.clone(),
                    None => model.as_ref().expect(held).generator.valid(),
                };
                match (v.run)(step, &g) {
                    Ok((rel, prompts)) => events.sample(step, &rel, &prompts)?,
                    Err(message) => events.alarm(step, "validation", &message)?,
                }
            }
            // No checkpoint inside a non-finite streak: it would rotate out a good one.
            let due = cfg.checkpoint_every > 0
                && step.is_multiple_of(cfg.checkpoint_every)
                && state.nonfinite_in_row == 0;
            if due || step == cfg.total_steps {
                let dir = self.save(
                    &ckpt,
                    model.as_ref().expect(held),
                    optims,
                    ema.as_ref(),
                    state,
                )?;
                last_saved = step;
                let rel = dir
                    .strip_prefix(&self.run_dir)
                    .unwrap_or(&dir)
                    .to_string_lossy()
                    .to_string();
                events.checkpoint(step, &rel)?;
            }
        };
        if matches!(result, Ok(RunStatus::Interrupted)) && state.step > last_saved {
            let dir = self.save(
                &ckpt,
                model.as_ref().expect(held),
                optims,
                ema.as_ref(),
                state,
            )?;
            let rel = dir
                .strip_prefix(&self.run_dir)
                .unwrap_or(&dir)
                .to_string_lossy()
                .to_string();
            events.checkpoint(state.step, &rel)?;
        }
        {
            let r = tc.event_processor.process_train(LearnerEvent::EndSplit(1));
            tc.interrupter.fail_on_error(r);
        }
        {
            let r = tc.event_processor.process_train(LearnerEvent::EndEpoch(1));
            tc.interrupter.fail_on_error(r);
        }
        match &result {
            Ok(status) => events.run_end(state.step, *status, None)?,
            Err(e) => events.run_end(state.step, RunStatus::Failed, Some(&e.to_string()))?,
        }
        result
    }
}

impl<K: Components> SupervisedLearningStrategy<AdtModel<K>> for AdtStrategy<K> {
    fn fit(
        &self,
        mut tc: TrainingComponents<AdtModel<K>>,
        learner: Learner<AdtModel<K>>,
        train: TrainLoader<AdtModel<K>>,
        _valid: ValidLoader<AdtModel<K>>,
        _starting_epoch: usize,
    ) -> (AdtModel<K>, SupervisedTrainingEventProcessor<AdtModel<K>>) {
        let mut model = Some(learner.model());
        let ResumeState {
            mut optims,
            mut ema,
            mut state,
        } = self
            .start
            .lock()
            .expect("start lock")
            .take()
            .expect("AdtStrategy::fit called twice");
        let mut history = Vec::new();
        let result = self.run_loop(
            &mut model,
            &mut optims,
            &mut ema,
            &mut state,
            &mut tc,
            &train,
            &mut history,
        );
        let (status, error) = match result {
            Ok(s) => (s, None),
            Err(e) => (RunStatus::Failed, Some(e)),
        };
        *self.outcome.lock().expect("outcome lock") = Some(RunOutcome {
            step: state.step,
            status,
            error,
            history,
            ema,
            optims,
            state,
        });
        (
            model.expect("the run loop always puts the model back"),
            tc.event_processor,
        )
    }
}
