//! Step-based atomic checkpoints: `RUN_DIR/checkpoints/step-N/`.
//!
//! A checkpoint is written into `step-N.tmp/` (every file flushed and fsynced, `state.json` last),
//! the directory is renamed to `step-N/`, and then the `latest` pointer is replaced atomically
//! (`latest.tmp` + rename). A write killed at any point therefore leaves the previous checkpoint
//! and the previous `latest` intact; leftover `*.tmp` directories are ignored and removed by the
//! next write. Loading trusts `latest` only if it names a complete directory (one with
//! `state.json`); otherwise it falls back to the newest complete `step-N/`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{AdtError, Result};
use crate::rng::EngineRng;

/// File names inside a checkpoint directory.
pub mod files {
    /// The trainable models (generator + discriminator heads), burnpack.
    pub const MODEL: &str = "model.bpk";
    /// Generator optimizer state, burnpack.
    pub const OPTIM_G: &str = "optim_g.bpk";
    /// Discriminator optimizer state, burnpack.
    pub const OPTIM_D: &str = "optim_d.bpk";
    /// EMA generator, burnpack.
    pub const EMA: &str = "ema.bpk";
    /// [`super::TrainState`] as JSON; written last, marks the checkpoint complete.
    pub const STATE: &str = "state.json";
}

/// Everything outside the tensors needed to resume exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Last finished optimizer step.
    pub step: usize,
    /// Batches consumed from the data stream (the data position).
    pub batches_consumed: usize,
    /// The engine RNG after `step`.
    pub rng: EngineRng,
    /// Consecutive steps with a non-finite loss so far.
    pub nonfinite_in_row: usize,
    /// Whether `ema.bpk` is present.
    pub has_ema: bool,
    /// Devices the run trains on (data parallel when > 1): with `grad_accum` and
    /// `batch_size` it sets the global batch, so a resume must use as many.
    #[serde(default = "one_device")]
    pub devices: usize,
}

fn one_device() -> usize {
    1
}

/// The checkpoint area of a run.
#[derive(Clone, Debug)]
pub struct CheckpointDir {
    root: PathBuf,
}

fn fsync_dir(path: &Path) {
    // Directory fsync makes the rename durable on Linux; not all platforms allow opening a dir.
    if let Ok(f) = File::open(path) {
        let _ = f.sync_all();
    }
}

impl CheckpointDir {
    /// `run_dir/checkpoints`.
    pub fn new(run_dir: &Path) -> Self {
        Self {
            root: run_dir.join("checkpoints"),
        }
    }

    /// The directory path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of the final directory of `step`.
    pub fn step_dir(&self, step: usize) -> PathBuf {
        self.root.join(format!("step-{step}"))
    }

    /// Write checkpoint `step`: `write_files` fills the temporary directory (everything except
    /// `state.json`), then the state is written and the directory published atomically.
    pub fn write<F>(&self, step: usize, state: &TrainState, write_files: F) -> Result<PathBuf>
    where
        F: FnOnce(&Path) -> Result<()>,
    {
        fs::create_dir_all(&self.root).map_err(|e| AdtError::io("create", &self.root, e))?;
        let tmp = self.root.join(format!("step-{step}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| AdtError::io("remove stale", &tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| AdtError::io("create", &tmp, e))?;
        write_files(&tmp)?;
        let state_json = serde_json::to_vec_pretty(state).expect("TrainState serializes");
        write_synced(&tmp.join(files::STATE), &state_json)?;
        for entry in fs::read_dir(&tmp).map_err(|e| AdtError::io("list", &tmp, e))? {
            let p = entry.map_err(|e| AdtError::io("list", &tmp, e))?.path();
            File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| AdtError::io("fsync", &p, e))?;
        }
        fsync_dir(&tmp);
        let dest = self.step_dir(step);
        if dest.exists() {
            fs::remove_dir_all(&dest).map_err(|e| AdtError::io("replace", &dest, e))?;
        }
        fs::rename(&tmp, &dest).map_err(|e| AdtError::io("publish", &dest, e))?;
        fsync_dir(&self.root);
        let latest_tmp = self.root.join("latest.tmp");
        write_synced(&latest_tmp, format!("step-{step}\n").as_bytes())?;
        let latest = self.root.join("latest");
        fs::rename(&latest_tmp, &latest).map_err(|e| AdtError::io("publish", &latest, e))?;
        fsync_dir(&self.root);
        Ok(dest)
    }

    /// Complete checkpoints on disk, ascending by step.
    pub fn list(&self) -> Vec<(usize, PathBuf)> {
        let Ok(rd) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut v: Vec<(usize, PathBuf)> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let step = name.strip_prefix("step-")?.parse::<usize>().ok()?;
                let p = e.path();
                p.join(files::STATE).is_file().then_some((step, p))
            })
            .collect();
        v.sort_by_key(|(s, _)| *s);
        v
    }

    /// The newest complete checkpoint: the one `latest` names if complete, else the newest
    /// complete `step-N/`.
    pub fn latest(&self) -> Option<(usize, PathBuf)> {
        if let Ok(text) = fs::read_to_string(self.root.join("latest")) {
            let name = text.trim();
            if let Some(step) = name
                .strip_prefix("step-")
                .and_then(|s| s.parse::<usize>().ok())
            {
                let p = self.root.join(name);
                if p.join(files::STATE).is_file() {
                    return Some((step, p));
                }
            }
        }
        self.list().pop()
    }

    /// Read `state.json` of a checkpoint directory.
    pub fn read_state(dir: &Path) -> Result<TrainState> {
        let p = dir.join(files::STATE);
        let bytes = fs::read(&p).map_err(|e| AdtError::io("read", &p, e))?;
        serde_json::from_slice(&bytes).map_err(|e| AdtError::Checkpoint {
            path: p,
            message: format!("unreadable state.json: {e}"),
        })
    }

    /// Delete all but the newest `keep` complete checkpoints, and stale `*.tmp` directories.
    pub fn prune(&self, keep: usize) -> Result<()> {
        let list = self.list();
        let n = list.len();
        for (_, p) in list.into_iter().take(n.saturating_sub(keep)) {
            fs::remove_dir_all(&p).map_err(|e| AdtError::io("delete old checkpoint", &p, e))?;
        }
        if let Ok(rd) = fs::read_dir(&self.root) {
            for e in rd.filter_map(|e| e.ok()) {
                let p = e.path();
                if p.is_dir() && p.extension().is_some_and(|x| x == "tmp") {
                    let _ = fs::remove_dir_all(&p);
                }
            }
        }
        Ok(())
    }
}

/// Write `bytes` to `path` and fsync.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| AdtError::io("create", path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| AdtError::io("write", path, e))
}

/// Map a burn record error on `path` to a checkpoint error.
pub fn record_error(path: &Path, e: impl std::fmt::Display) -> AdtError {
    AdtError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Which weights of a checkpoint to take as "the tuned generator".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeneratorWeights {
    /// The EMA weights when the run kept them (what validation samples show), else the live ones.
    Preferred,
    /// The live (non-averaged) weights.
    Live,
}

/// Which tensors of the trained modules a checkpoint stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Every tensor (a full fine-tune).
    All,
    /// A LoRA run: the adapters and the discriminator heads. The frozen base weights are the
    /// base checkpoint's, so a checkpoint is megabytes where the whole model would be
    /// gigabytes (SDXL's UNet: 10 GB in f32).
    Adapters,
}

impl Stored {
    /// What a run of `config` stores.
    pub fn of(config: &crate::AdtConfig) -> Self {
        if config.lora.is_some() {
            Self::Adapters
        } else {
            Self::All
        }
    }

    /// Module paths kept ([`Stored::Adapters`]).
    const ADAPTERS: &'static str = r"(^discriminator\.|\.lora\.[ab]$)";

    fn keeps(self, path: &str) -> bool {
        match self {
            Self::All => true,
            Self::Adapters => regex_is_match(Self::ADAPTERS, path),
        }
    }
}

fn regex_is_match(pattern: &str, path: &str) -> bool {
    burn::store::PathFilter::new()
        .with_regex(pattern)
        .matches(path)
}

/// Write `module`'s tensors that `stored` keeps to `path` (burnpack).
pub fn save_module<M: burn::module::Module>(module: &M, path: &Path, stored: Stored) -> Result<()> {
    use burn::store::{BurnpackStore, ModuleSnapshot};
    let mut store = BurnpackStore::from_file(path).overwrite(true);
    if stored == Stored::Adapters {
        store = store.with_regex(Stored::ADAPTERS);
    }
    module
        .save_into(&mut store)
        .map_err(|e| record_error(path, e))
}

/// Load what [`save_module`] wrote into `module` (a model of the same architecture, e.g. built
/// from the base checkpoint); `strip` removes a key prefix first (`generator.` to read the
/// generator out of `model.bpk`). Every tensor `stored` keeps must be in the file.
pub fn load_module<M: burn::module::Module>(
    module: M,
    path: &Path,
    stored: Stored,
    strip: Option<&str>,
) -> Result<M> {
    use burn::store::{BurnpackStore, ModuleSnapshot};
    if !path.is_file() {
        return Err(AdtError::Checkpoint {
            path: path.to_path_buf(),
            message: "missing: not a complete checkpoint directory".into(),
        });
    }
    let mut store = BurnpackStore::from_file(path).allow_partial(true);
    if let Some(prefix) = strip {
        store = store.with_remap_pattern(format!("^{}", regex_escape(prefix)), "");
    }
    let mut module = module;
    let result = module
        .load_from(&mut store)
        .map_err(|e| record_error(path, e))?;
    let missing: Vec<&String> = result
        .missing
        .iter()
        .map(|(p, _)| p)
        .filter(|p| stored.keeps(p))
        .collect();
    // Trained adapters the module has no place for (its `[adt.lora] targets` shrank since):
    // dropping them silently would lose training.
    let orphans: Vec<&String> = result
        .unused
        .iter()
        .filter(|k| regex_is_match(r"\.lora\.[ab]$", k))
        .collect();
    if !orphans.is_empty() {
        return Err(AdtError::Checkpoint {
            path: path.to_path_buf(),
            message: format!(
                "{} trained LoRA factor(s) match no adapter of this model (e.g. {:?}): \
                 `[adt.lora] targets` or `rank` differ from the run's",
                orphans.len(),
                orphans.first()
            ),
        });
    }
    if !missing.is_empty() || !result.errors.is_empty() {
        return Err(AdtError::Checkpoint {
            path: path.to_path_buf(),
            message: format!(
                "the model does not match this checkpoint: {} missing tensor(s) (e.g. {:?}), {} error(s) {:?}",
                missing.len(),
                missing.first(),
                result.errors.len(),
                result.errors.first()
            ),
        });
    }
    Ok(module)
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = ".^$*+?()[]{}|\\".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// Load the generator of the checkpoint directory `dir` into `generator` (a freshly built
/// model of the same architecture, e.g. the base checkpoint, with the run's LoRA adapters when
/// it had them). Returns the model and the file it came from (`ema.bpk`, or the
/// `generator.*` part of `model.bpk`).
pub fn load_generator<G: burn::module::Module>(
    generator: G,
    dir: &Path,
    which: GeneratorWeights,
    stored: Stored,
) -> Result<(G, PathBuf)> {
    let ema = dir.join(files::EMA);
    if which == GeneratorWeights::Preferred && ema.is_file() {
        return Ok((load_module(generator, &ema, stored, None)?, ema));
    }
    let p = dir.join(files::MODEL);
    // model.bpk holds the generator under `generator.` next to the discriminator heads.
    Ok((load_module(generator, &p, stored, Some("generator."))?, p))
}
