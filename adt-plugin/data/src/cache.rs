//! On-disk cache of encoder outputs (VAE latents, text-encoder states).
//!
//! Layout: `cache_dir/<key digest>/` holds `key.json` (the key, readable),
//! `shard-NNNNN.safetensors` (records `[k·S, (k+1)·S)`, tensors named
//! `<index>/image/<name>`, `<index>/image_flipped/<name>`,
//! `<index>/text/<name>`) and `manifest.json`, written last by an atomic
//! rename: a directory without it is incomplete. Shards are also written
//! atomically, so an interrupted build resumes at the first missing shard.
//!
//! The key is the SHA-256 of a canonical JSON of everything that changes the
//! cached values: the caller's model hash and compute dtype, the storage
//! dtype, the bucket sizes, the preprocessing knobs and a fingerprint of the
//! records (names, captions, sizes, file sizes and mtimes). Any change gives
//! a new directory, so a stale cache is never read.
//!
//! Augmentation policy: a latent can only be cached for a deterministic
//! input. Random crops are therefore rejected ([`DataError::Config`]); a
//! random flip is supported by caching both the unflipped and the flipped
//! center crop and choosing per (epoch, index) with the same draw the image
//! dataset uses ([`crate::transform::draw_flip`]).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dataset::ImageCaptionDataset;
use crate::error::{DataError, Result};
use crate::progress::{Progress, ProgressMode};
use crate::record::Record;
use crate::transform::{CropMode, FlipMode, ImageTensor, Preprocess};

/// Bumped whenever the on-disk layout changes.
pub const CACHE_FORMAT_VERSION: u32 = 1;

/// Precision the arrays are stored in (read back as f32).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageDtype {
    #[default]
    F32,
    F16,
    Bf16,
}

/// One cached array (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct CachedArray {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Named arrays of one record, e.g. `{"latent": [4, 64, 64]}`.
pub type Arrays = BTreeMap<String, CachedArray>;

/// Error type encoders return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the cache calls to fill itself; implemented by the model crates
/// (this crate depends on none of them).
pub trait CacheEncoder {
    /// Encodes a batch of same-size preprocessed images (`[3, H, W]` in
    /// [-1, 1]); one `Arrays` per image, in order.
    fn encode_images(&mut self, images: &[ImageTensor]) -> Result<Vec<Arrays>, BoxError>;
    /// Encodes a batch of captions; one `Arrays` per caption, in order.
    fn encode_captions(&mut self, captions: &[String]) -> Result<Vec<Arrays>, BoxError>;
}

/// A [`CacheEncoder`] from two closures.
pub struct FnEncoder<I, T> {
    pub images: I,
    pub captions: T,
}

impl<I, T> CacheEncoder for FnEncoder<I, T>
where
    I: FnMut(&[ImageTensor]) -> Result<Vec<Arrays>, BoxError>,
    T: FnMut(&[String]) -> Result<Vec<Arrays>, BoxError>,
{
    fn encode_images(&mut self, images: &[ImageTensor]) -> Result<Vec<Arrays>, BoxError> {
        (self.images)(images)
    }
    fn encode_captions(&mut self, captions: &[String]) -> Result<Vec<Arrays>, BoxError> {
        (self.captions)(captions)
    }
}

/// Everything that changes the cached values. Field order is the canonical
/// JSON order; `extra` is sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheKey {
    pub format_version: u32,
    /// Identifies the encoder weights (e.g. SHA-256 of the weight files).
    pub model_hash: String,
    /// Compute dtype of the encoders (`"f32"`, `"f16"`, …).
    pub dtype: String,
    pub storage: StorageDtype,
    /// Bucket (width, height) list; records map to buckets by their size.
    pub buckets: Vec<(u32, u32)>,
    pub preprocess: Preprocess,
    /// [`dataset_fingerprint`] of the records.
    pub dataset: String,
    /// Anything else the encoder output depends on (VAE scaling factor,
    /// tokenizer max length, clip skip, …).
    pub extra: BTreeMap<String, String>,
}

impl CacheKey {
    /// The key of `dataset` encoded by the given model.
    pub fn for_dataset(
        dataset: &ImageCaptionDataset,
        model_hash: impl Into<String>,
        dtype: impl Into<String>,
        storage: StorageDtype,
    ) -> Self {
        Self {
            format_version: CACHE_FORMAT_VERSION,
            model_hash: model_hash.into(),
            dtype: dtype.into(),
            storage,
            buckets: dataset.buckets().sizes().to_vec(),
            preprocess: *dataset.preprocess(),
            dataset: dataset_fingerprint(dataset.records()),
            extra: BTreeMap::new(),
        }
    }

    /// Adds an `extra` entry.
    pub fn with_extra(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.extra.insert(k.into(), v.into());
        self
    }

    /// The canonical JSON the digest is taken of.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("CacheKey serialises")
    }

    /// Hex SHA-256 of [`Self::canonical_json`]; the cache directory name.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.canonical_json().as_bytes()))
    }
}

/// SHA-256 over every record's name, caption, size, file size and mtime.
pub fn dataset_fingerprint(records: &[Record]) -> String {
    let mut h = Sha256::new();
    h.update((records.len() as u64).to_le_bytes());
    for r in records {
        let line = serde_json::json!([
            r.name,
            r.caption,
            r.width,
            r.height,
            r.file_size,
            r.modified_ns
        ]);
        h.update(line.to_string().as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How the cache is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheOptions {
    /// Parent directory of all caches.
    pub dir: PathBuf,
    /// Records per shard file.
    pub shard_size: usize,
    /// Images / captions per encoder call.
    pub encode_batch_size: usize,
    pub progress: ProgressMode,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("cache"),
            shard_size: 256,
            encode_batch_size: 8,
            progress: ProgressMode::Auto,
        }
    }
}

/// What [`LatentCache::open_or_build`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// A complete cache was found; nothing was encoded.
    pub reused: bool,
    pub shards_built: usize,
    /// Shards left over from an interrupted build and kept.
    pub shards_reused: usize,
    /// Records encoded in this call.
    pub records_encoded: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    digest: String,
    key: CacheKey,
    records: usize,
    shard_size: usize,
    shards: Vec<String>,
    flipped_variants: bool,
    /// (requested index, index whose pixels and caption were cached).
    substitutions: Vec<(usize, usize)>,
}

/// Offsets of one shard's tensors.
#[derive(Debug)]
struct ShardHeader {
    data_start: u64,
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    dtype: StorageDtype,
    shape: Vec<usize>,
    begin: u64,
    end: u64,
}

/// The cached arrays of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedSample {
    /// Index whose pixels and caption were cached (differs from the request
    /// when that image was undecodable and substituted).
    pub source_index: usize,
    pub image: Arrays,
    pub text: Arrays,
}

/// A complete cache, read lazily record by record (only shard headers are
/// kept in memory).
#[derive(Debug)]
pub struct LatentCache {
    dir: PathBuf,
    manifest: Manifest,
    substitutions: HashMap<usize, usize>,
    headers: Mutex<HashMap<usize, Arc<ShardHeader>>>,
}

const MANIFEST: &str = "manifest.json";

impl LatentCache {
    /// Opens the complete cache for `key` under `dir`, if there is one.
    pub fn open(dir: &Path, key: &CacheKey) -> Result<Option<Self>> {
        let kdir = dir.join(key.digest());
        let path = kdir.join(MANIFEST);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| DataError::cache(&path, format!("bad manifest: {e}")))?;
        if manifest.key != *key {
            return Err(DataError::cache(
                &path,
                "manifest key differs from the requested key (digest collision or edited file)",
            ));
        }
        Ok(Some(Self::from_manifest(kdir, manifest)))
    }

    fn from_manifest(dir: PathBuf, manifest: Manifest) -> Self {
        let substitutions = manifest.substitutions.iter().copied().collect();
        Self {
            dir,
            manifest,
            substitutions,
            headers: Mutex::new(HashMap::new()),
        }
    }

    /// Opens the cache of `dataset` under `key`, encoding whatever is missing
    /// with `encoder` (shards of an interrupted build are kept), with a
    /// progress bar. Errors if `key` does not describe `dataset` or the
    /// preprocessing is not cacheable (random crop).
    pub fn open_or_build(
        opts: &CacheOptions,
        key: &CacheKey,
        dataset: &ImageCaptionDataset,
        encoder: &mut dyn CacheEncoder,
    ) -> Result<(Self, CacheStats)> {
        check_key(key, dataset)?;
        if opts.shard_size == 0 || opts.encode_batch_size == 0 {
            return Err(DataError::Config(
                "cache shard_size and encode_batch_size must be >= 1".into(),
            ));
        }
        if let Some(cache) = Self::open(&opts.dir, key)? {
            let stats = CacheStats {
                reused: true,
                shards_built: 0,
                shards_reused: cache.manifest.shards.len(),
                records_encoded: 0,
            };
            return Ok((cache, stats));
        }
        let kdir = opts.dir.join(key.digest());
        std::fs::create_dir_all(&kdir).map_err(|e| DataError::io(&kdir, e))?;
        let key_json = serde_json::to_string_pretty(key).expect("CacheKey serialises");
        write_atomic(&kdir.join("key.json"), key_json.as_bytes())?;

        let n = dataset.records().len();
        let flipped = key.preprocess.flip == FlipMode::Random;
        let n_shards = n.div_ceil(opts.shard_size);
        let bar = Progress::new("caching latents", n as u64, opts.progress);
        let mut stats = CacheStats {
            reused: false,
            shards_built: 0,
            shards_reused: 0,
            records_encoded: 0,
        };
        let mut shards = Vec::with_capacity(n_shards);
        let mut substitutions = Vec::new();
        for s in 0..n_shards {
            let first = s * opts.shard_size;
            let range = first..(first + opts.shard_size).min(n);
            let name = format!("shard-{s:05}.safetensors");
            let path = kdir.join(&name);
            let existing = if path.is_file() {
                read_shard_substitutions(&path, range.clone(), flipped).ok()
            } else {
                None
            };
            let subs = match existing {
                Some(subs) => {
                    stats.shards_reused += 1;
                    subs
                }
                None => {
                    let subs = build_shard(&path, range.clone(), dataset, encoder, opts, key)?;
                    stats.shards_built += 1;
                    stats.records_encoded += range.len();
                    subs
                }
            };
            bar.inc(range.len() as u64);
            substitutions.extend(subs);
            shards.push(name);
        }
        bar.finish();
        let manifest = Manifest {
            digest: key.digest(),
            key: key.clone(),
            records: n,
            shard_size: opts.shard_size,
            shards,
            flipped_variants: flipped,
            substitutions,
        };
        let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
        write_atomic(&kdir.join(MANIFEST), text.as_bytes())?;
        Ok((Self::from_manifest(kdir, manifest), stats))
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of cached records.
    pub fn len(&self) -> usize {
        self.manifest.records
    }

    pub fn is_empty(&self) -> bool {
        self.manifest.records == 0
    }

    /// Whether flipped image variants are stored.
    pub fn has_flipped(&self) -> bool {
        self.manifest.flipped_variants
    }

    /// The key the cache was built for.
    pub fn key(&self) -> &CacheKey {
        &self.manifest.key
    }

    /// Reads record `index` (the flipped image variant if `flipped`).
    pub fn load(&self, index: usize, flipped: bool) -> Result<CachedSample> {
        if index >= self.manifest.records {
            return Err(DataError::cache(
                &self.dir,
                format!(
                    "index {index} out of range ({} records)",
                    self.manifest.records
                ),
            ));
        }
        if flipped && !self.manifest.flipped_variants {
            return Err(DataError::cache(
                &self.dir,
                "flipped variant requested but the cache was built without flips",
            ));
        }
        let shard = index / self.manifest.shard_size;
        let path = self.dir.join(&self.manifest.shards[shard]);
        let header = self.header(shard, &path)?;
        let image_group = if flipped { "image_flipped" } else { "image" };
        let mut file = File::open(&path).map_err(|e| DataError::io(&path, e))?;
        let image = read_group(&mut file, &path, &header, index, image_group)?;
        let text = read_group(&mut file, &path, &header, index, "text")?;
        Ok(CachedSample {
            source_index: self.substitutions.get(&index).copied().unwrap_or(index),
            image,
            text,
        })
    }

    fn header(&self, shard: usize, path: &Path) -> Result<Arc<ShardHeader>> {
        let mut headers = self.headers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = headers.get(&shard) {
            return Ok(h.clone());
        }
        let (h, _) = read_header(path)?;
        let h = Arc::new(h);
        headers.insert(shard, h.clone());
        Ok(h)
    }
}

/// The key must describe this dataset, and the preprocessing must be
/// deterministic apart from the flip.
fn check_key(key: &CacheKey, dataset: &ImageCaptionDataset) -> Result<()> {
    if key.preprocess.crop == CropMode::Random {
        return Err(DataError::Config(
            "random crops cannot be cached (one latent per record); use crop = \"center\" \
             when caching, or disable the cache"
                .into(),
        ));
    }
    if key.preprocess != *dataset.preprocess()
        || key.buckets != dataset.buckets().sizes()
        || key.dataset != dataset_fingerprint(dataset.records())
    {
        return Err(DataError::Config(
            "cache key does not describe this dataset (build it with CacheKey::for_dataset)".into(),
        ));
    }
    Ok(())
}

/// Encodes records `range` and writes them to `path` atomically. Returns the
/// substitutions made for undecodable images.
fn build_shard(
    path: &Path,
    range: std::ops::Range<usize>,
    dataset: &ImageCaptionDataset,
    encoder: &mut dyn CacheEncoder,
    opts: &CacheOptions,
    key: &CacheKey,
) -> Result<Vec<(usize, usize)>> {
    let flipped = key.preprocess.flip == FlipMode::Random;
    let mut items = Vec::with_capacity(range.len());
    for i in range.clone() {
        items.push(dataset.load_with_flip(i, 0, Some(false))?);
    }
    let mut tensors: Vec<(String, CachedArray)> = Vec::new();
    // Images: group same-size items (one bucket) into encoder batches.
    let mut by_size: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for (k, item) in items.iter().enumerate() {
        by_size
            .entry((item.image.height, item.image.width))
            .or_default()
            .push(k);
    }
    for group in by_size.values() {
        for chunk in group.chunks(opts.encode_batch_size) {
            let mut images: Vec<ImageTensor> =
                chunk.iter().map(|&k| items[k].image.clone()).collect();
            if flipped {
                images.extend(chunk.iter().map(|&k| items[k].image.flipped()));
            }
            let out = encode_checked(images.len(), encoder.encode_images(&images))?;
            for (j, arrays) in out.into_iter().enumerate() {
                let (k, group_name) = if j < chunk.len() {
                    (chunk[j], "image")
                } else {
                    (chunk[j - chunk.len()], "image_flipped")
                };
                push_arrays(&mut tensors, range.start + k, group_name, arrays);
            }
        }
    }
    let captions: Vec<String> = items.iter().map(|it| it.caption.clone()).collect();
    for (c, chunk) in captions.chunks(opts.encode_batch_size).enumerate() {
        let out = encode_checked(chunk.len(), encoder.encode_captions(chunk))?;
        for (j, arrays) in out.into_iter().enumerate() {
            let idx = range.start + c * opts.encode_batch_size + j;
            push_arrays(&mut tensors, idx, "text", arrays);
        }
    }
    let substitutions: Vec<(usize, usize)> = items
        .iter()
        .filter(|it| it.index != it.requested_index)
        .map(|it| (it.requested_index, it.index))
        .collect();
    write_shard(path, &tensors, key.storage, &range, &substitutions)?;
    Ok(substitutions)
}

fn encode_checked(expected: usize, out: Result<Vec<Arrays>, BoxError>) -> Result<Vec<Arrays>> {
    let out = out.map_err(|e| DataError::Encoder(e.to_string()))?;
    if out.len() != expected {
        return Err(DataError::Encoder(format!(
            "encoder returned {} outputs for {expected} inputs",
            out.len()
        )));
    }
    for arrays in &out {
        for (name, a) in arrays {
            if a.shape.iter().product::<usize>() != a.data.len() || name.contains('/') {
                return Err(DataError::Encoder(format!(
                    "array {name:?}: shape {:?} does not match {} values (or the name has '/')",
                    a.shape,
                    a.data.len()
                )));
            }
        }
    }
    Ok(out)
}

fn push_arrays(out: &mut Vec<(String, CachedArray)>, index: usize, group: &str, arrays: Arrays) {
    for (name, a) in arrays {
        out.push((format!("{index}/{group}/{name}"), a));
    }
}

fn to_bytes(data: &[f32], dtype: StorageDtype) -> Vec<u8> {
    match dtype {
        StorageDtype::F32 => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        StorageDtype::F16 => data
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect(),
        StorageDtype::Bf16 => data
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect(),
    }
}

fn from_bytes(bytes: &[u8], dtype: StorageDtype) -> Vec<f32> {
    match dtype {
        StorageDtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        StorageDtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        StorageDtype::Bf16 => bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
    }
}

fn st_dtype(d: StorageDtype) -> Dtype {
    match d {
        StorageDtype::F32 => Dtype::F32,
        StorageDtype::F16 => Dtype::F16,
        StorageDtype::Bf16 => Dtype::BF16,
    }
}

fn write_shard(
    path: &Path,
    tensors: &[(String, CachedArray)],
    storage: StorageDtype,
    range: &std::ops::Range<usize>,
    substitutions: &[(usize, usize)],
) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, a)| to_bytes(&a.data, storage))
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, a), b)| {
            TensorView::new(st_dtype(storage), a.shape.clone(), b)
                .map(|v| (name.clone(), v))
                .map_err(|e| DataError::cache(path, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut meta = HashMap::new();
    meta.insert("first".to_string(), range.start.to_string());
    meta.insert("count".to_string(), range.len().to_string());
    meta.insert(
        "substitutions".to_string(),
        serde_json::to_string(substitutions).expect("pairs serialise"),
    );
    let data = safetensors::serialize(views, Some(meta))
        .map_err(|e| DataError::cache(path, e.to_string()))?;
    write_atomic(path, &data)
}

/// Writes `path.tmp` then renames it over `path`.
fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, data).map_err(|e| DataError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

/// Parses a safetensors header (offsets only; no tensor data is read).
fn read_header(path: &Path) -> Result<(ShardHeader, HashMap<String, String>)> {
    let bad = |m: String| DataError::cache(path, m);
    let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|e| bad(format!("truncated header: {e}")))?;
    let n = u64::from_le_bytes(len);
    if n > 100_000_000 || 8 + n > file_len {
        return Err(bad(format!("header length {n} is invalid")));
    }
    let mut json = vec![0u8; n as usize];
    file.read_exact(&mut json)
        .map_err(|e| bad(format!("truncated header: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| bad(format!("bad header: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| bad("header is not an object".into()))?;
    let data_start = 8 + n;
    let mut entries = BTreeMap::new();
    let mut meta = HashMap::new();
    for (name, v) in obj {
        if name == "__metadata__" {
            if let Some(m) = v.as_object() {
                for (k, v) in m {
                    meta.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                }
            }
            continue;
        }
        let dtype = match v.get("dtype").and_then(|d| d.as_str()) {
            Some("F32") => StorageDtype::F32,
            Some("F16") => StorageDtype::F16,
            Some("BF16") => StorageDtype::Bf16,
            other => return Err(bad(format!("{name}: unsupported dtype {other:?}"))),
        };
        let shape: Vec<usize> = v
            .get("shape")
            .and_then(|s| serde_json::from_value(s.clone()).ok())
            .ok_or_else(|| bad(format!("{name}: bad shape")))?;
        let offsets: [u64; 2] = v
            .get("data_offsets")
            .and_then(|s| serde_json::from_value(s.clone()).ok())
            .ok_or_else(|| bad(format!("{name}: bad data_offsets")))?;
        let elem = if dtype == StorageDtype::F32 { 4 } else { 2 };
        let numel: usize = shape.iter().product();
        if offsets[1] < offsets[0]
            || offsets[1] - offsets[0] != (numel * elem) as u64
            || data_start + offsets[1] > file_len
        {
            return Err(bad(format!("{name}: data offsets out of range")));
        }
        entries.insert(
            name.clone(),
            Entry {
                dtype,
                shape,
                begin: offsets[0],
                end: offsets[1],
            },
        );
    }
    Ok((
        ShardHeader {
            data_start,
            entries,
        },
        meta,
    ))
}

/// Validates a shard left by an interrupted build (its range and that every
/// record has all groups) and returns its substitutions.
fn read_shard_substitutions(
    path: &Path,
    range: std::ops::Range<usize>,
    flipped: bool,
) -> Result<Vec<(usize, usize)>> {
    let (header, meta) = read_header(path)?;
    let expect = |k: &str, v: usize| meta.get(k).map(String::as_str) == Some(&*v.to_string());
    if !expect("first", range.start) || !expect("count", range.len()) {
        return Err(DataError::cache(path, "shard covers a different range"));
    }
    for i in range {
        let mut groups = vec!["image", "text"];
        if flipped {
            groups.push("image_flipped");
        }
        for g in groups {
            let prefix = format!("{i}/{g}/");
            if !header.entries.keys().any(|k| k.starts_with(&prefix)) {
                return Err(DataError::cache(path, format!("record {i} lacks {g}")));
            }
        }
    }
    let subs = meta
        .get("substitutions")
        .map(String::as_str)
        .unwrap_or("[]");
    serde_json::from_str(subs).map_err(|e| DataError::cache(path, e.to_string()))
}

fn read_group(
    file: &mut File,
    path: &Path,
    header: &ShardHeader,
    index: usize,
    group: &str,
) -> Result<Arrays> {
    let prefix = format!("{index}/{group}/");
    let mut out = Arrays::new();
    for (name, e) in header.entries.range(prefix.clone()..) {
        let Some(short) = name.strip_prefix(&prefix) else {
            break;
        };
        let mut bytes = vec![0u8; (e.end - e.begin) as usize];
        file.seek(SeekFrom::Start(header.data_start + e.begin))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|err| DataError::io(path, err))?;
        out.insert(
            short.to_string(),
            CachedArray {
                shape: e.shape.clone(),
                data: from_bytes(&bytes, e.dtype),
            },
        );
    }
    if out.is_empty() {
        return Err(DataError::cache(
            path,
            format!("record {index} has no {group} arrays"),
        ));
    }
    Ok(out)
}
