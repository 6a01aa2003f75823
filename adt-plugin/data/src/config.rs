//! The `[data]` section of a run config and the one call that turns it into
//! train and held-out datasets.

use serde::{Deserialize, Serialize};

use crate::bucket::{BucketConfig, Buckets};
use crate::dataset::ImageCaptionDataset;
use crate::error::{DataError, Result};
use crate::progress::ProgressMode;
use crate::report::DataReport;
use crate::source::SourceConfig;
use crate::split::split_records;
use crate::transform::{CropMode, FlipMode, Preprocess};

/// Every data knob. See README.md for an example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub source: SourceConfig,
    #[serde(default)]
    pub buckets: BucketConfig,
    #[serde(default)]
    pub preprocess: Preprocess,
    /// Fraction of records held out for evaluation (by a hash of the name).
    #[serde(default = "default_eval_fraction")]
    pub eval_fraction: f64,
    /// Fraction of bad records tolerated before the run stops.
    #[serde(default = "default_max_bad_fraction")]
    pub max_bad_fraction: f64,
    /// Seed of augmentation draws and of the batch order.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub progress: ProgressMode,
}

fn default_eval_fraction() -> f64 {
    0.0
}

fn default_max_bad_fraction() -> f64 {
    0.01
}

/// The datasets a config describes.
pub struct OpenedData {
    /// Training records with the configured augmentation.
    pub train: ImageCaptionDataset,
    /// Held-out records, always center-cropped and unflipped.
    pub eval: ImageCaptionDataset,
    /// Records skipped while indexing.
    pub report: DataReport,
}

impl DataConfig {
    /// A config with defaults around `source`.
    pub fn new(source: SourceConfig) -> Self {
        Self {
            source,
            buckets: BucketConfig::default(),
            preprocess: Preprocess::default(),
            eval_fraction: default_eval_fraction(),
            max_bad_fraction: default_max_bad_fraction(),
            seed: 0,
            progress: ProgressMode::Auto,
        }
    }

    /// Indexes the source, applies the bad-record limit and splits.
    pub fn open(&self) -> Result<OpenedData> {
        for (name, v) in [
            ("eval_fraction", self.eval_fraction),
            ("max_bad_fraction", self.max_bad_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(DataError::Config(format!("{name} = {v} is not in [0, 1]")));
            }
        }
        let buckets = Buckets::new(&self.buckets)?;
        let (records, report) = self.source.index(self.progress)?;
        report.check(self.max_bad_fraction)?;
        if records.is_empty() {
            return Err(DataError::Empty {
                what: format!("{:?}", self.source),
            });
        }
        let (train, eval) = split_records(records, self.eval_fraction, self.seed);
        if train.is_empty() {
            return Err(DataError::Empty {
                what: format!("training split (eval_fraction {})", self.eval_fraction),
            });
        }
        let eval_pre = Preprocess {
            crop: CropMode::Center,
            flip: FlipMode::None,
            filter: self.preprocess.filter,
        };
        Ok(OpenedData {
            train: ImageCaptionDataset::new(train, buckets.clone(), self.preprocess, self.seed),
            eval: ImageCaptionDataset::new(eval, buckets, eval_pre, self.seed),
            report,
        })
    }
}
