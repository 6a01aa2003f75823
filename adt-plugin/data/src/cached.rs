//! A burn dataset over a [`LatentCache`]: the same records, flips and
//! substitutions as the image dataset, without decoding or encoding.

use std::sync::atomic::{AtomicU64, Ordering};

use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::TensorData;

use crate::cache::{Arrays, CachedArray, LatentCache};
use crate::dataset::ImageCaptionDataset;
use crate::error::{DataError, Result};
use crate::transform::{Preprocess, augment_rng, draw_flip};

/// One cached training pair.
#[derive(Debug, Clone)]
pub struct CachedItem {
    /// Index whose pixels and caption were cached.
    pub index: usize,
    pub requested_index: usize,
    pub caption: String,
    pub flipped: bool,
    pub image: Arrays,
    pub text: Arrays,
}

/// Cached encoder outputs with the image dataset's per-(epoch, index) flip.
pub struct CachedDataset {
    cache: LatentCache,
    captions: Vec<String>,
    bucket_of: Vec<usize>,
    preprocess: Preprocess,
    seed: u64,
    epoch: AtomicU64,
}

impl CachedDataset {
    /// `cache` must have been built for `dataset` (checked by length).
    pub fn new(cache: LatentCache, dataset: &ImageCaptionDataset) -> Result<Self> {
        if cache.len() != dataset.records().len() {
            return Err(DataError::cache(
                cache.dir(),
                format!(
                    "cache has {} records, dataset {}",
                    cache.len(),
                    dataset.records().len()
                ),
            ));
        }
        Ok(Self {
            captions: dataset
                .records()
                .iter()
                .map(|r| r.caption.clone())
                .collect(),
            bucket_of: dataset.bucket_of().to_vec(),
            preprocess: *dataset.preprocess(),
            seed: dataset.seed(),
            cache,
            epoch: AtomicU64::new(0),
        })
    }

    pub fn cache(&self) -> &LatentCache {
        &self.cache
    }

    /// Bucket of every record (for the bucket sampler).
    pub fn bucket_of(&self) -> &[usize] {
        &self.bucket_of
    }

    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// Loads record `index` as seen in `epoch`.
    pub fn load(&self, index: usize, epoch: u64) -> Result<CachedItem> {
        let mut rng = augment_rng(self.seed, epoch, index as u64);
        let flipped = draw_flip(&self.preprocess, &mut rng);
        let sample = self.cache.load(index, flipped)?;
        Ok(CachedItem {
            index: sample.source_index,
            requested_index: index,
            caption: self.captions[sample.source_index].clone(),
            flipped,
            image: sample.image,
            text: sample.text,
        })
    }
}

impl Dataset<CachedItem> for CachedDataset {
    fn get(&self, index: usize) -> std::result::Result<CachedItem, DatasetError> {
        assert!(
            index < self.captions.len(),
            "index {index} out of bounds for a dataset of {}",
            self.captions.len()
        );
        self.load(index, self.epoch.load(Ordering::Relaxed))
            .map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.captions.len()
    }
}

/// Stacks the same-shaped arrays into `[B, ...]` (e.g. each item's
/// `image["latent"]`), erroring on a shape mismatch.
pub fn stack_arrays(arrays: &[&CachedArray]) -> Result<TensorData> {
    let first = arrays
        .first()
        .ok_or_else(|| DataError::Config("cannot stack an empty batch".into()))?;
    let mut data = Vec::with_capacity(arrays.len() * first.data.len());
    for a in arrays {
        if a.shape != first.shape {
            return Err(DataError::Config(format!(
                "cannot stack shapes {:?} and {:?}; batch by bucket",
                first.shape, a.shape
            )));
        }
        data.extend_from_slice(&a.data);
    }
    let mut shape = vec![arrays.len()];
    shape.extend_from_slice(&first.shape);
    Ok(TensorData::new(data, shape))
}
