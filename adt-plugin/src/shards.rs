//! Shards: one training step's per-sample work split by batch rows and run side by side on
//! the CPU backend's cores.
//!
//! burn-flex parallelises each op over rayon's pool, but a small model's ops (the quickstart's
//! 8×8 latents: a few thousand elements each) are too small to keep every core busy one at a
//! time. Where the work is per sample — the simulated inference, the decode, the backbone and
//! their backward passes; `L_diff` in a plain run — the step instead gives each pool thread a
//! shard of the batch, on its own fork of the generator (its own autodiff graph, so the
//! backward passes run side by side too), and does once, on the whole batch, what needs all of
//! it: the heads (their local batch norm; an ADT step's `L_diff` runs beside them) and the
//! optimizers. `docs/benchmarks.md` has the measurements.
//!
//! Shards change only the order of floating-point sums (a parameter's gradient is the sum of
//! the shards' sums), not what is computed. GPU backends get one shard: their queue is fed by
//! one thread, and their ops are large enough already.

use std::ops::Range;

use burn::prelude::*;

use crate::config::AdtConfig;

/// The batch rows of each shard of one step, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shards {
    ranges: Vec<Range<usize>>,
}

impl Shards {
    /// One shard of `batch` rows: the whole batch, no splitting.
    pub fn one(batch: usize) -> Self {
        Self {
            ranges: std::iter::once(0..batch).collect(),
        }
    }

    /// `count` shards of `batch` rows, as even as whole rows allow (sizes differ by at most
    /// one, the larger first); at most one per row.
    pub fn even(batch: usize, count: usize) -> Self {
        let count = count.clamp(1, batch.max(1));
        let (base, extra) = (batch / count, batch % count);
        let mut start = 0;
        let ranges = (0..count)
            .map(|i| {
                let len = base + usize::from(i < extra);
                let range = start..start + len;
                start += len;
                range
            })
            .collect();
        Self { ranges }
    }

    /// The shards of a step on `device` for `batch` rows: `cpu_shards` of them on the CPU
    /// backend (unset: one per thread of rayon's pool), one elsewhere.
    pub fn for_step(config: &AdtConfig, device: &Device, batch: usize) -> Self {
        if device.clone().inner() == Device::flex() {
            let count = config.cpu_shards.unwrap_or_else(rayon::current_num_threads);
            Self::even(batch, count)
        } else {
            Self::one(batch)
        }
    }

    /// How many shards.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Always false: a step has at least one shard.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Each shard's rows.
    pub fn ranges(&self) -> &[Range<usize>] {
        &self.ranges
    }
}

/// Run `jobs` side by side on rayon's pool and return their results in order; inline when
/// there is one.
pub fn side_by_side<'a, T: Send>(jobs: Vec<Box<dyn FnOnce() -> T + Send + 'a>>) -> Vec<T> {
    use rayon::prelude::*;
    if jobs.len() == 1 {
        return jobs.into_iter().map(|job| job()).collect();
    }
    jobs.into_par_iter().map(|job| job()).collect()
}

/// Concatenate per-shard lists of tensors (one list per shard, one tensor per list entry)
/// along the batch: entry `i` of the result is every shard's entry `i`, in shard order.
pub fn cat_rows<const D: usize>(shards: Vec<Vec<Tensor<D>>>) -> Vec<Tensor<D>> {
    let entries = shards.first().map_or(0, Vec::len);
    let mut columns: Vec<Vec<Tensor<D>>> = (0..entries).map(|_| Vec::new()).collect();
    for shard in shards {
        for (column, tensor) in columns.iter_mut().zip(shard) {
            column.push(tensor);
        }
    }
    columns
        .into_iter()
        .map(|column| {
            if column.len() == 1 {
                column.into_iter().next().expect("one tensor")
            } else {
                Tensor::cat(column, 0)
            }
        })
        .collect()
}
