//! Bucketed, shuffled, resumable batch sampling. Each epoch groups indices
//! by bucket, shuffles each group, cuts it into batches (all images of a
//! batch share one size) and shuffles the batch order, all from a ChaCha8
//! stream keyed by (seed, epoch). The state is just (epoch, batches consumed),
//! so a resumed run continues at exactly the same data position.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Where the sampler is: serialise it into checkpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerState {
    pub epoch: u64,
    /// Batches already handed out in `epoch`.
    pub position: u64,
}

/// Yields batches of dataset indices that share a bucket.
#[derive(Debug, Clone)]
pub struct BucketBatchSampler {
    bucket_of: Vec<usize>,
    batch_size: usize,
    drop_last: bool,
    seed: u64,
    state: SamplerState,
    plan: Vec<Vec<usize>>,
}

impl BucketBatchSampler {
    /// `bucket_of[i]` is the bucket of dataset index `i`. With `drop_last`,
    /// a bucket's incomplete last batch is dropped (so every batch has
    /// exactly `batch_size` items); otherwise it is kept.
    pub fn new(
        bucket_of: Vec<usize>,
        batch_size: usize,
        drop_last: bool,
        seed: u64,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(DataError::Config("batch_size must be >= 1".into()));
        }
        let mut s = Self {
            bucket_of,
            batch_size,
            drop_last,
            seed,
            state: SamplerState::default(),
            plan: Vec::new(),
        };
        s.plan = s.epoch_plan(0);
        if s.plan.is_empty() {
            return Err(DataError::Empty {
                what: format!(
                    "sampler ({} records, batch_size {batch_size}, drop_last {drop_last})",
                    s.bucket_of.len()
                ),
            });
        }
        Ok(s)
    }

    /// The batches of `epoch`, in order.
    pub fn epoch_plan(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&epoch.to_le_bytes());
        key[16..].copy_from_slice(b"adt-bucket-batch");
        let mut rng = ChaCha8Rng::from_seed(key);
        let n_buckets = self.bucket_of.iter().copied().max().map_or(0, |m| m + 1);
        let mut groups = vec![Vec::new(); n_buckets];
        for (i, &b) in self.bucket_of.iter().enumerate() {
            groups[b].push(i);
        }
        let mut batches = Vec::new();
        for mut group in groups {
            group.shuffle(&mut rng);
            for chunk in group.chunks(self.batch_size) {
                if chunk.len() == self.batch_size || !self.drop_last {
                    batches.push(chunk.to_vec());
                }
            }
        }
        batches.shuffle(&mut rng);
        batches
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.plan.len()
    }

    /// The current position.
    pub fn state(&self) -> SamplerState {
        self.state
    }

    /// Jumps to a saved position (from [`Self::state`]).
    pub fn restore(&mut self, state: SamplerState) {
        if state.epoch != self.state.epoch {
            self.plan = self.epoch_plan(state.epoch);
        }
        self.state = state;
    }

    /// The next batch: (epoch it belongs to, dataset indices). Moves to the
    /// next epoch when the current one is exhausted.
    pub fn next_batch(&mut self) -> (u64, Vec<usize>) {
        if self.state.position as usize >= self.plan.len() {
            self.state.epoch += 1;
            self.state.position = 0;
            self.plan = self.epoch_plan(self.state.epoch);
        }
        let batch = self.plan[self.state.position as usize].clone();
        self.state.position += 1;
        (self.state.epoch, batch)
    }
}

impl Iterator for BucketBatchSampler {
    type Item = (u64, Vec<usize>);

    /// Never ends; one epoch is [`BucketBatchSampler::batches_per_epoch`] items.
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_batch())
    }
}
