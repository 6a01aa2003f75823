//! Inference timestep spacing (`timestep_spacing`), replaying diffusers' numpy code.
//!
//! numpy rounds half to even (`np.round`), `np.linspace` computes `i * step + start`
//! and pins the last value to `stop`, and `np.arange` with a float step has
//! `ceil((stop - start) / step)` elements computed as `start + i * delta`; these
//! details decide ties and element counts, so they are replayed exactly.

/// `timestep_spacing` (Table 2 of arXiv 2305.08891).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestepSpacing {
    Linspace,
    Leading,
    Trailing,
}

/// `np.linspace(start, stop, num)` (endpoint=True), float64.
pub fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return Vec::new();
    }
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// `np.arange(start, stop, step)` with a float step, float64.
pub fn np_arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil();
    if len <= 0.0 || !len.is_finite() {
        return Vec::new();
    }
    let len = len as usize;
    // numpy's fill: delta = (start + step) - start, element i = start + i * delta.
    let delta = (start + step) - start;
    (0..len).map(|i| start + i as f64 * delta).collect()
}

/// `np.interp(x, arange(len(fp)), fp)` for x within [0, len-1] (clamped outside).
pub fn np_interp_index(x: f64, fp: &[f64]) -> f64 {
    let last = fp.len() - 1;
    if x <= 0.0 {
        return fp[0];
    }
    if x >= last as f64 {
        return fp[last];
    }
    let j = x.floor() as usize;
    let slope = (fp[j + 1] - fp[j]) / 1.0;
    // numpy: slope * (x - xp[j]) + fp[j]; exact at integer x.
    if x == j as f64 {
        return fp[j];
    }
    slope * (x - j as f64) + fp[j]
}

/// DDIM/DDPM `set_timesteps`: integer timesteps, descending.
pub fn ddpm_family_timesteps(
    spacing: TimestepSpacing,
    n: usize,
    num_train: usize,
    steps_offset: usize,
) -> Vec<i64> {
    match spacing {
        TimestepSpacing::Linspace => np_linspace(0.0, (num_train - 1) as f64, n)
            .into_iter()
            .rev()
            .map(|t| t.round_ties_even() as i64)
            .collect(),
        TimestepSpacing::Leading => {
            let ratio = num_train / n;
            (0..n)
                .rev()
                .map(|i| (i * ratio + steps_offset) as i64)
                .collect()
        }
        TimestepSpacing::Trailing => {
            let ratio = num_train as f64 / n as f64;
            np_arange(num_train as f64, 0.0, -ratio)
                .into_iter()
                .map(|t| t.round_ties_even() as i64 - 1)
                .collect()
        }
    }
}

/// Euler / Euler ancestral `set_timesteps` (before sigma conversion): float32 values.
pub fn euler_timesteps(
    spacing: TimestepSpacing,
    n: usize,
    num_train: usize,
    steps_offset: usize,
) -> Vec<f32> {
    match spacing {
        // np.linspace(..., dtype=float32): computed in float64, then cast.
        TimestepSpacing::Linspace => np_linspace(0.0, (num_train - 1) as f64, n)
            .into_iter()
            .rev()
            .map(|t| t as f32)
            .collect(),
        TimestepSpacing::Leading => {
            let ratio = num_train / n;
            (0..n)
                .rev()
                .map(|i| (i * ratio) as f32 + steps_offset as f32)
                .collect()
        }
        TimestepSpacing::Trailing => {
            let ratio = num_train as f64 / n as f64;
            np_arange(num_train as f64, 0.0, -ratio)
                .into_iter()
                .map(|t| t.round_ties_even() as f32 - 1.0)
                .collect()
        }
    }
}

/// DPM-Solver `set_timesteps` (no karras): `n + 1` points with the last dropped.
/// `last_timestep` is `num_train - clipped_idx` (lambda_min_clipped).
pub fn dpm_timesteps(
    spacing: TimestepSpacing,
    n: usize,
    num_train: usize,
    last_timestep: usize,
    steps_offset: usize,
) -> Vec<i64> {
    match spacing {
        TimestepSpacing::Linspace => {
            let mut v: Vec<i64> = np_linspace(0.0, last_timestep as f64 - 1.0, n + 1)
                .into_iter()
                .rev()
                .map(|t| t.round_ties_even() as i64)
                .collect();
            v.pop();
            v
        }
        TimestepSpacing::Leading => {
            let ratio = last_timestep / (n + 1);
            (1..=n)
                .rev()
                .map(|i| (i * ratio + steps_offset) as i64)
                .collect()
        }
        TimestepSpacing::Trailing => {
            let ratio = num_train as f64 / n as f64;
            np_arange(last_timestep as f64, 0.0, -ratio)
                .into_iter()
                .map(|t| t.round_ties_even() as i64 - 1)
                .collect()
        }
    }
}
