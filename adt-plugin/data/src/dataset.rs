//! The image–caption dataset: indexed records, decoded lazily in `get`.
//! Only the record list (paths, captions, sizes) lives in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::data::dataset::{Dataset, DatasetError};
use image::DynamicImage;

use crate::bucket::Buckets;
use crate::error::{DataError, Result};
use crate::record::Record;
use crate::report::{BadReason, BadRecord, DataReport};
use crate::transform::{Applied, ImageTensor, Preprocess, augment_rng, draw_flip, preprocess};

/// One preprocessed training pair.
#[derive(Debug, Clone)]
pub struct ImageCaptionItem {
    /// Dataset index of the record whose pixels and caption these are.
    pub index: usize,
    /// The index that was asked for; differs from `index` when that record
    /// failed to decode and was substituted.
    pub requested_index: usize,
    pub name: String,
    pub caption: String,
    /// `[3, h, w]` in [-1, 1]; (w, h) is the requested record's bucket.
    pub image: ImageTensor,
    pub applied: Applied,
}

/// Records + buckets + preprocessing; a burn [`Dataset`].
///
/// Decode failures at load time (e.g. a truncated JPEG whose header was fine)
/// never fail the run: the record is reported once (see
/// [`Self::runtime_report`]) and the next record in the same bucket (cyclic
/// by index; any bucket if none is left) is returned instead, resized to the
/// requested bucket. The substitute is a deterministic function of the index,
/// so resumed runs see the same data.
pub struct ImageCaptionDataset {
    records: Vec<Record>,
    buckets: Buckets,
    bucket_of: Vec<usize>,
    preprocess: Preprocess,
    seed: u64,
    epoch: AtomicU64,
    broken: Mutex<BTreeMap<usize, BadRecord>>,
}

impl ImageCaptionDataset {
    /// Assigns every record to its nearest-aspect bucket.
    pub fn new(records: Vec<Record>, buckets: Buckets, preprocess: Preprocess, seed: u64) -> Self {
        let bucket_of = records
            .iter()
            .map(|r| buckets.assign(r.width, r.height))
            .collect();
        Self {
            records,
            buckets,
            bucket_of,
            preprocess,
            seed,
            epoch: AtomicU64::new(0),
            broken: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// Bucket index of every record (feed to a `BucketBatchSampler`).
    pub fn bucket_of(&self) -> &[usize] {
        &self.bucket_of
    }

    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The epoch used by [`Dataset::get`] for its augmentation draws.
    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Records that failed to decode at load time so far.
    pub fn runtime_report(&self) -> DataReport {
        let broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        DataReport {
            total: self.records.len(),
            bad: broken.values().cloned().collect(),
        }
    }

    /// Loads record `index` with the augmentation of `epoch`.
    pub fn load(&self, index: usize, epoch: u64) -> Result<ImageCaptionItem> {
        self.load_with_flip(index, epoch, None)
    }

    /// Like [`Self::load`], but `flip` overrides the random flip decision
    /// (the cache uses it to encode both variants).
    pub fn load_with_flip(
        &self,
        index: usize,
        epoch: u64,
        flip: Option<bool>,
    ) -> Result<ImageCaptionItem> {
        let target = self.buckets.size(self.bucket_of[index]);
        let mut rng = augment_rng(self.seed, epoch, index as u64);
        let drawn = draw_flip(&self.preprocess, &mut rng);
        let flip = flip.unwrap_or(drawn);
        let mut last_err = String::new();
        for candidate in self.substitution_order(index) {
            match self.decode(candidate) {
                Ok(img) => {
                    let (image, applied) =
                        preprocess(&img, target, &self.preprocess, flip, &mut rng);
                    let r = &self.records[candidate];
                    return Ok(ImageCaptionItem {
                        index: candidate,
                        requested_index: index,
                        name: r.name.clone(),
                        caption: r.caption.clone(),
                        image,
                        applied,
                    });
                }
                Err(msg) => last_err = format!("{}: {msg}", self.records[candidate].path.display()),
            }
        }
        Err(DataError::NoDecodableImage(last_err))
    }

    /// `index`, then the following indices of the same bucket (cyclic), then
    /// every other index (cyclic); known-broken records are skipped.
    fn substitution_order(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let n = self.records.len();
        let bucket = self.bucket_of[index];
        let same = (0..n)
            .map(move |k| (index + k) % n)
            .filter(move |&j| self.bucket_of[j] == bucket);
        let other = (1..n)
            .map(move |k| (index + k) % n)
            .filter(move |&j| self.bucket_of[j] != bucket);
        same.chain(other).filter(move |&j| !self.is_broken(j))
    }

    fn is_broken(&self, index: usize) -> bool {
        let broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        broken.contains_key(&index)
    }

    /// Decodes record `index`; a failure is recorded (and warned about once).
    fn decode(&self, index: usize) -> std::result::Result<DynamicImage, String> {
        let r = &self.records[index];
        let decoded = std::fs::read(&r.path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                check_jpeg_complete(&bytes)?;
                image::ImageReader::new(std::io::Cursor::new(bytes))
                    .with_guessed_format()
                    .map_err(|e| e.to_string())?
                    .decode()
                    .map_err(|e| e.to_string())
            });
        decoded.map_err(|message| {
            let bad = BadRecord {
                file: r.origin.file.clone(),
                line: r.origin.line,
                reason: BadReason::UndecodableImage {
                    message: format!("{}: {message}", r.path.display()),
                },
            };
            let mut broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
            if let std::collections::btree_map::Entry::Vacant(slot) = broken.entry(index) {
                eprintln!("adt-data: skipping record {index}: {bad}");
                slot.insert(bad);
            }
            message
        })
    }
}

/// The `image` crate decodes JPEGs leniently: a file cut inside its scan
/// data decodes "successfully" with grey filler. A complete JPEG has an EOI
/// marker (`FF D9`) after its last start-of-scan (`FF DA`); entropy-coded
/// data never contains `FF DA`/`FF D9` (an `FF` there is followed by `00` or
/// a restart marker), so their absence means the file was truncated.
fn check_jpeg_complete(bytes: &[u8]) -> std::result::Result<(), String> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Ok(());
    }
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let complete = last_sos.is_some_and(|p| bytes[p..].windows(2).any(|w| w == [0xFF, 0xD9]));
    if complete {
        Ok(())
    } else {
        Err("truncated JPEG (no end-of-image marker after the last scan)".into())
    }
}

impl Dataset<ImageCaptionItem> for ImageCaptionDataset {
    fn get(&self, index: usize) -> std::result::Result<ImageCaptionItem, DatasetError> {
        assert!(
            index < self.records.len(),
            "index {index} out of bounds for a dataset of {}",
            self.records.len()
        );
        self.load(index, self.epoch()).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.records.len()
    }
}
