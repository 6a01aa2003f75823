//! adt-data: the dataset layer of the ADT plugin.
//!
//! Sources ([`SourceConfig`]): a Hugging Face imagefolder (`metadata.jsonl`),
//! a JSONL of path/prompt records, or images with caption `.txt` files.
//! Indexing reads only metadata and image headers; bad records are reported
//! with file and line ([`DataReport`]) and skipped unless too many are bad.
//! [`ImageCaptionDataset`] decodes lazily (resize, crop, flip, buckets);
//! [`DataStream`] yields resumable bucketed batches; [`LatentCache`] stores
//! encoder outputs on disk under a key of every setting that changes them.
//! [`ShapesDomain`] is a procedural text-to-image domain (coloured shapes with
//! attribute captions) that needs no files at all.

pub mod batch;
pub mod bucket;
pub mod cache;
pub mod cached;
pub mod config;
pub mod dataset;
pub mod error;
pub mod procedural;
pub mod progress;
pub mod record;
pub mod report;
pub mod sampler;
pub mod source;
pub mod split;
pub mod transform;

pub use batch::{
    DataStream, ImageCaptionBatch, ImageCaptionBatcher, load_items, make_batch, stack_images,
};
pub use bucket::{BucketConfig, Buckets};
pub use cache::{
    Arrays, CacheEncoder, CacheKey, CacheOptions, CacheStats, CachedArray, CachedSample, FnEncoder,
    LatentCache, StorageDtype, dataset_fingerprint,
};
pub use cached::{CachedDataset, CachedItem, stack_arrays};
pub use config::{DataConfig, OpenedData};
pub use dataset::{ImageCaptionDataset, ImageCaptionItem};
pub use error::{DataError, Result};
pub use procedural::{
    CaptionParseError, Position, ShapeAttributes, ShapeColor, ShapeKind, ShapeLayout, ShapeSample,
    ShapeSize, ShapesDataset, ShapesDomain, Split,
};
pub use progress::{Progress, ProgressMode};
pub use record::{Origin, Record};
pub use report::{BadReason, BadRecord, DataReport};
pub use sampler::{BucketBatchSampler, SamplerState};
pub use source::SourceConfig;
pub use split::{is_held_out, split_records};
pub use transform::{Applied, CropMode, FlipMode, ImageTensor, Preprocess, ResizeFilter};
