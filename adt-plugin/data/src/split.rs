//! Deterministic held-out split: a record is held out when a hash of its
//! name falls below the fraction, so the split is stable under reordering,
//! adding or removing other records.

use sha2::{Digest, Sha256};

use crate::record::Record;

/// Whether `name` belongs to the held-out (evaluation) split.
pub fn is_held_out(name: &str, fraction: f64, salt: u64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let mut h = Sha256::new();
    h.update(salt.to_le_bytes());
    h.update(name.as_bytes());
    let digest = h.finalize();
    let x = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    let u = (x >> 11) as f64 / (1u64 << 53) as f64;
    u < fraction
}

/// Splits records into (train, held-out), keeping their order.
pub fn split_records(records: Vec<Record>, fraction: f64, salt: u64) -> (Vec<Record>, Vec<Record>) {
    records
        .into_iter()
        .partition(|r| !is_held_out(&r.name, fraction, salt))
}
