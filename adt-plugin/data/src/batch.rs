//! Turning items into tensors: a burn [`Batcher`] for preprocessed images and
//! a resumable [`DataStream`] that pairs the dataset with the bucket sampler
//! and loads each batch on a few threads.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor, TensorData};

use crate::dataset::{ImageCaptionDataset, ImageCaptionItem};
use crate::error::{DataError, Result};
use crate::sampler::{BucketBatchSampler, SamplerState};
use crate::transform::Applied;

/// A batch of images `[B, 3, H, W]` in [-1, 1] with their captions.
#[derive(Debug, Clone)]
pub struct ImageCaptionBatch {
    pub pixels: Tensor<4>,
    pub captions: Vec<String>,
    /// Dataset index of each item (after substitution of undecodable images).
    pub indices: Vec<usize>,
    pub applied: Vec<Applied>,
}

/// Stacks items into `[B, 3, H, W]` data; errors when sizes differ (batch
/// with a [`BucketBatchSampler`] so they never do).
pub fn stack_images(items: &[ImageCaptionItem]) -> Result<TensorData> {
    let first = items
        .first()
        .ok_or_else(|| DataError::Config("cannot stack an empty batch".into()))?;
    let (h, w) = (first.image.height, first.image.width);
    let mut data = Vec::with_capacity(items.len() * 3 * h * w);
    for item in items {
        if (item.image.height, item.image.width) != (h, w) {
            return Err(DataError::Config(format!(
                "batch mixes image sizes {w}x{h} and {}x{} ({}); use the bucket sampler",
                item.image.width, item.image.height, item.name
            )));
        }
        data.extend_from_slice(&item.image.data);
    }
    Ok(TensorData::new(data, [items.len(), 3, h, w]))
}

/// Builds an [`ImageCaptionBatch`] from items of one size.
pub fn make_batch(items: Vec<ImageCaptionItem>, device: &Device) -> Result<ImageCaptionBatch> {
    let data = stack_images(&items)?;
    let pixels = Tensor::<4>::from_data(data, device);
    let mut captions = Vec::with_capacity(items.len());
    let mut indices = Vec::with_capacity(items.len());
    let mut applied = Vec::with_capacity(items.len());
    for item in items {
        captions.push(item.caption);
        indices.push(item.index);
        applied.push(item.applied);
    }
    Ok(ImageCaptionBatch {
        pixels,
        captions,
        indices,
        applied,
    })
}

/// burn batcher for [`ImageCaptionItem`]s.
///
/// # Panics
/// When the items have different sizes (the `Batcher` trait cannot return an
/// error); burn's default random sampler mixes buckets, so with bucketing
/// enabled use [`DataStream`] or batches from a [`BucketBatchSampler`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageCaptionBatcher;

impl Batcher<ImageCaptionItem, ImageCaptionBatch> for ImageCaptionBatcher {
    fn batch(&self, items: Vec<ImageCaptionItem>, device: &Device) -> ImageCaptionBatch {
        make_batch(items, device).unwrap_or_else(|e| panic!("ImageCaptionBatcher: {e}"))
    }
}

/// The training data stream: bucketed batches in a seeded order, loaded on
/// `workers` threads, resumable from a [`SamplerState`].
pub struct DataStream {
    dataset: Arc<ImageCaptionDataset>,
    sampler: BucketBatchSampler,
    workers: usize,
}

impl DataStream {
    /// The sampler is seeded with the dataset's seed.
    pub fn new(
        dataset: Arc<ImageCaptionDataset>,
        batch_size: usize,
        drop_last: bool,
        workers: usize,
    ) -> Result<Self> {
        let sampler = BucketBatchSampler::new(
            dataset.bucket_of().to_vec(),
            batch_size,
            drop_last,
            dataset.seed(),
        )?;
        Ok(Self {
            dataset,
            sampler,
            workers: workers.max(1),
        })
    }

    pub fn dataset(&self) -> &Arc<ImageCaptionDataset> {
        &self.dataset
    }

    pub fn sampler(&self) -> &BucketBatchSampler {
        &self.sampler
    }

    /// Position to store in a checkpoint.
    pub fn state(&self) -> SamplerState {
        self.sampler.state()
    }

    /// Continues from a checkpointed position.
    pub fn restore(&mut self, state: SamplerState) {
        self.sampler.restore(state);
    }

    /// The next batch's items, in sampler order.
    pub fn next_items(&mut self) -> Result<Vec<ImageCaptionItem>> {
        let (epoch, indices) = self.sampler.next_batch();
        load_items(&self.dataset, &indices, epoch, self.workers)
    }

    /// The next batch as tensors on `device`.
    pub fn next_batch(&mut self, device: &Device) -> Result<ImageCaptionBatch> {
        let items = self.next_items()?;
        make_batch(items, device)
    }
}

/// Load `indices` of `dataset` as seen in `epoch` on `workers` threads, in order.
pub fn load_items(
    dataset: &ImageCaptionDataset,
    indices: &[usize],
    epoch: u64,
    workers: usize,
) -> Result<Vec<ImageCaptionItem>> {
    dataset.set_epoch(epoch);
    let chunk = indices.len().div_ceil(workers.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&i| dataset.load(i, epoch))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut items = Vec::with_capacity(indices.len());
        for h in handles {
            let part = h
                .join()
                .map_err(|_| DataError::NoDecodableImage("a loader thread panicked".into()))??;
            items.extend(part);
        }
        Ok(items)
    })
}
