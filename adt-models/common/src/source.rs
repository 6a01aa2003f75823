//! Where a model's files come from: a local folder or the Hugging Face hub.

use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};

use crate::LoadError;

/// A model checkpoint location.
///
/// `Local` is a diffusers/transformers folder on disk (`unet/config.json`, …).
/// `Hub` is a repository id resolved through the Hugging Face cache
/// (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`, the
/// layout Python's `huggingface_hub` writes); a file missing from the cache is
/// downloaded unless `HF_HUB_OFFLINE` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    Local(PathBuf),
    Hub {
        repo: String,
        revision: Option<String>,
    },
}

impl ModelSource {
    /// An existing path is a local folder; anything else of the form
    /// `org/name[@revision]` is a hub repository.
    pub fn parse(spec: &str) -> Self {
        let path = Path::new(spec);
        if path.exists() || spec.starts_with('.') || spec.starts_with('/') {
            return ModelSource::Local(path.to_path_buf());
        }
        match spec.split_once('@') {
            Some((repo, rev)) => ModelSource::Hub {
                repo: repo.to_string(),
                revision: Some(rev.to_string()),
            },
            None => ModelSource::Hub {
                repo: spec.to_string(),
                revision: None,
            },
        }
    }

    /// Human-readable name for messages.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Local(p) => p.display().to_string(),
            ModelSource::Hub {
                repo,
                revision: Some(rev),
            } => format!("{repo}@{rev}"),
            ModelSource::Hub { repo, .. } => repo.clone(),
        }
    }

    /// Path of `relative` (e.g. `unet/config.json`), downloading it if needed.
    pub fn file(&self, relative: &str) -> Result<PathBuf, LoadError> {
        match self {
            ModelSource::Local(dir) => {
                let path = dir.join(relative);
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(LoadError::Missing { path })
                }
            }
            ModelSource::Hub { repo, revision } => hub_file(repo, revision.as_deref(), relative),
        }
    }

    /// The first of `candidates` that exists (e.g. the fp16 variant, then the
    /// full-precision file); the error lists all of them.
    pub fn first_file(&self, candidates: &[&str]) -> Result<PathBuf, LoadError> {
        let mut tried = Vec::new();
        for c in candidates {
            match self.file(c) {
                Ok(p) => return Ok(p),
                Err(LoadError::Missing { path }) => tried.push(path.display().to_string()),
                Err(LoadError::Hub { .. }) => tried.push(format!("{}:{c}", self.describe())),
                Err(e) => return Err(e),
            }
        }
        Err(LoadError::Missing {
            path: PathBuf::from(tried.join(" | ")),
        })
    }
}

/// `subfolder/name`, or `name` when `subfolder` is empty (a pipeline component's file).
fn join(subfolder: &str, name: &str) -> String {
    if subfolder.is_empty() {
        name.to_string()
    } else {
        format!("{}/{name}", subfolder.trim_end_matches('/'))
    }
}

impl ModelSource {
    /// [`Self::file`] of `name` in `subfolder` (which may be empty).
    pub fn file_in(&self, subfolder: &str, name: &str) -> Result<PathBuf, LoadError> {
        self.file(&join(subfolder, name))
    }

    /// The weight file(s) of a component saved as `<subfolder>/<stem>.safetensors`
    /// (diffusers: `diffusion_pytorch_model`, transformers: `model`): that file, else its
    /// `fp16` variant `<stem>.fp16.safetensors`, else the shards listed by
    /// `<stem>.safetensors.index.json` (or `.index.fp16.json`). The error lists the single
    /// files tried.
    pub fn weight_files(&self, subfolder: &str, stem: &str) -> Result<Vec<PathBuf>, LoadError> {
        let rel = |name: &str| join(subfolder, name);
        let (full, half) = (
            rel(&format!("{stem}.safetensors")),
            rel(&format!("{stem}.fp16.safetensors")),
        );
        let err = match self.first_file(&[full.as_str(), half.as_str()]) {
            Ok(p) => return Ok(vec![p]),
            Err(e) => e,
        };
        for index in [
            format!("{stem}.safetensors.index.json"),
            format!("{stem}.safetensors.index.fp16.json"),
        ] {
            let Ok(path) = self.file(&rel(&index)) else {
                continue;
            };
            #[derive(serde::Deserialize)]
            struct Index {
                weight_map: std::collections::BTreeMap<String, String>,
            }
            let idx: Index = crate::read_config(&path)?;
            let shards: std::collections::BTreeSet<&String> = idx.weight_map.values().collect();
            return shards.into_iter().map(|f| self.file(&rel(f))).collect();
        }
        Err(err)
    }
}

/// Root of the Hugging Face hub cache, as Python's `huggingface_hub` finds it.
pub(crate) fn hub_cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HF_HOME") {
        return PathBuf::from(home).join("hub");
    }
    Cache::default().path().clone()
}

fn is_commit_hash(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| !matches!(v.as_str(), "" | "0" | "false" | "FALSE"))
        .unwrap_or(false)
}

fn hub_file(repo_id: &str, revision: Option<&str>, relative: &str) -> Result<PathBuf, LoadError> {
    let cache = Cache::new(hub_cache_dir());
    let rev = revision.unwrap_or("main").to_string();
    let repo = Repo::with_revision(repo_id.to_string(), RepoType::Model, rev.clone());
    // hf-hub resolves branch names through refs/; a pinned commit is a
    // snapshot folder of its own, which it does not look up.
    let cached = if is_commit_hash(&rev) {
        let p = cache
            .path()
            .join(repo.folder_name())
            .join("snapshots")
            .join(&rev)
            .join(relative);
        p.is_file().then_some(p)
    } else {
        cache.repo(repo.clone()).get(relative)
    };
    if let Some(p) = cached {
        return Ok(p);
    }
    let hub_err = |message: String| LoadError::Hub {
        repo: format!("{repo_id}@{rev}"),
        file: relative.to_string(),
        message,
    };
    if offline() {
        return Err(hub_err(format!(
            "is not in the cache at {} and HF_HUB_OFFLINE is set",
            cache.path().display()
        )));
    }
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache)
        .with_progress(true)
        .build()
        .map_err(|e| hub_err(format!("could not start the hub client: {e}")))?;
    api.repo(repo)
        .get(relative)
        .map_err(|e| hub_err(format!("could not be downloaded (and is not cached): {e}")))
}
