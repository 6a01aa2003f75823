//! The training data as the engine's loader: bucketed, seeded batches of an
//! [`ImageCaptionDataset`], one epoch per `iter()` call.
//!
//! The engine replays finished epochs on resume by opening one iterator each, so epoch `e` is
//! the `e`-th `iter()` of this loader and its order depends only on (seed, e): a resumed run
//! sees exactly the batches the uninterrupted run would have. Batches never mix buckets, and
//! every batch is full (the sampler drops each bucket's remainder), so `num_items` is the
//! plan's length × batch size, as the engine's epoch arithmetic expects.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::cache::{POOLED, TEXT};

use adt_data::{
    BucketBatchSampler, CachedDataset, ImageCaptionDataset, load_items, make_batch, stack_arrays,
};
use adt_plugin::AdtBatch;
use adt_plugin::traits::{MicroCond, TextEmbedding};
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::prelude::*;

/// What the data pipeline did to an image, as the micro-conditioning the model is told,
/// as diffusers' `train_text_to_image_sdxl.py` records it: `original_size` = the source
/// image's `(height, width)`, `crop_top_left` = the crop offset in the (flipped, if flipped)
/// resized image, `target_size` = the batch's `(height, width)`.
pub fn micro_cond(applied: &adt_data::Applied, target: (u32, u32)) -> MicroCond {
    let (w, h) = applied.original_size;
    MicroCond {
        original_size: (h, w),
        crop_top_left: applied.crop_top_left_as_seen(target.1),
        ..MicroCond::full(target)
    }
}

pub struct BucketLoader {
    dataset: Arc<ImageCaptionDataset>,
    /// Cached latents and prompt embeddings of the same records, if `[cache]` is on.
    cached: Option<Arc<CachedDataset>>,
    sampler: Arc<BucketBatchSampler>,
    epochs_opened: Arc<AtomicU64>,
    device: Device,
    workers: usize,
    batch_size: usize,
}

impl BucketLoader {
    pub fn new(
        dataset: Arc<ImageCaptionDataset>,
        batch_size: usize,
        workers: usize,
        device: &Device,
    ) -> adt_data::Result<Self> {
        let sampler = BucketBatchSampler::new(
            dataset.bucket_of().to_vec(),
            batch_size,
            true,
            dataset.seed(),
        )?;
        Ok(Self {
            dataset,
            cached: None,
            sampler: Arc::new(sampler),
            epochs_opened: Arc::new(AtomicU64::new(0)),
            device: device.clone(),
            workers: workers.max(1),
            batch_size,
        })
    }

    /// Feed the engine cached latents and prompt embeddings (same records, same flips).
    pub fn with_cache(mut self, cached: Arc<CachedDataset>) -> Self {
        self.cached = Some(cached);
        self
    }

    /// Full batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.sampler.batches_per_epoch()
    }
}

struct EpochIter<'a> {
    loader: &'a BucketLoader,
    epoch: u64,
    plan: Vec<Vec<usize>>,
    next: usize,
}

impl Iterator for EpochIter<'_> {
    type Item = Result<AdtBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let indices = self.plan.get(self.next)?.clone();
        self.next += 1;
        let epoch = self.epoch;
        let items = load_items(&self.loader.dataset, &indices, epoch, self.loader.workers);
        let device = &self.loader.device;
        let batch = items
            .and_then(|items| make_batch(items, device))
            .and_then(|b| {
                let [_, _, h, w] = b.pixels.dims();
                let micro = b
                    .applied
                    .iter()
                    .map(|a| micro_cond(a, (h as u32, w as u32)))
                    .collect();
                let mut batch = AdtBatch {
                    micro,
                    ..AdtBatch::new(b.pixels, b.captions)
                };
                if let Some(cached) = &self.loader.cached {
                    let rows = indices
                        .iter()
                        .map(|&i| cached.load(i, epoch))
                        .collect::<adt_data::Result<Vec<_>>>()?;
                    let pick = |arrays: &[&adt_data::Arrays], name: &str| {
                        let v: Vec<&adt_data::CachedArray> =
                            arrays.iter().map(|a| &a[name]).collect();
                        stack_arrays(&v)
                    };
                    let images: Vec<&adt_data::Arrays> = rows.iter().map(|r| &r.image).collect();
                    let texts: Vec<&adt_data::Arrays> = rows.iter().map(|r| &r.text).collect();
                    batch.latents = Some(Tensor::from_data(pick(&images, "latent")?, device));
                    let pooled = texts.iter().all(|t| t.contains_key(POOLED));
                    batch.text = Some(TextEmbedding {
                        hidden: Tensor::from_data(pick(&texts, TEXT)?, device),
                        pooled: if pooled {
                            Some(Tensor::from_data(pick(&texts, POOLED)?, device))
                        } else {
                            None
                        },
                    });
                }
                Ok(batch)
            });
        Some(batch.map_err(DatasetError::new))
    }
}

impl DataLoaderIterator<AdtBatch> for EpochIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.next, self.plan.len(), Some("batches".into()))
    }
}

impl DataLoader<AdtBatch> for BucketLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<AdtBatch> + 'a> {
        let epoch = self.epochs_opened.fetch_add(1, Ordering::SeqCst);
        Box::new(EpochIter {
            loader: self,
            epoch,
            plan: self.sampler.epoch_plan(epoch),
            next: 0,
        })
    }

    fn num_items(&self) -> usize {
        self.sampler.batches_per_epoch() * self.batch_size
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<AdtBatch>> {
        Arc::new(Self {
            dataset: self.dataset.clone(),
            cached: self.cached.clone(),
            sampler: self.sampler.clone(),
            epochs_opened: self.epochs_opened.clone(),
            device: device.clone(),
            workers: self.workers,
            batch_size: self.batch_size,
        })
    }

    fn slice(&self, _start: usize, _end: usize) -> Arc<dyn DataLoader<AdtBatch>> {
        // The engine never splits its training stream; a slice is the whole stream.
        self.to_device(&self.device)
    }
}
