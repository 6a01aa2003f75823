//! The metric names of a `step` event: one list ([`METRICS`], in display order) with what
//! each means, and the values of one step ([`StepMetrics`]). The engine registers the same
//! names as burn-train numeric metrics; the dashboard shows them in this order.

use serde::{Deserialize, Serialize};

/// One metric of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInfo {
    /// The key in `step` events (and the burn-train metric's name).
    pub name: &'static str,
    /// What it measures, for docs and help screens.
    pub meaning: &'static str,
    /// Unit, if any.
    pub unit: Option<&'static str>,
    /// For burn-train's summary: larger is better.
    pub higher_is_better: bool,
    /// Also written by a plain diffusion fine-tune (no discriminator).
    pub plain: bool,
}

const fn metric(
    name: &'static str,
    meaning: &'static str,
    higher_is_better: bool,
    plain: bool,
) -> MetricInfo {
    MetricInfo {
        name,
        meaning,
        unit: None,
        higher_is_better,
        plain,
    }
}

/// Every metric the engine can write, in display order (`docs/run-directory.md`).
pub const METRICS: [MetricInfo; 15] = [
    metric(
        "g_adv",
        "generator adversarial loss, −mean D(fake)",
        false,
        false,
    ),
    metric("l_diff", "diffusion loss on real data", false, true),
    metric("g_total", "λ_adv·g_adv + λ_diff·l_diff", false, true),
    metric("d_loss", "discriminator hinge loss (+ R1)", false, false),
    metric("d_real", "mean D logit on real images", true, false),
    metric("d_fake", "mean D logit on fakes", false, false),
    metric(
        "d_acc",
        "sign accuracy: real with D > 0 and fakes with D < 0",
        true,
        false,
    ),
    metric("r1", "R1 penalty (only when enabled)", false, false),
    metric(
        "g_grad_norm",
        "generator gradient global L2 norm before clipping",
        false,
        true,
    ),
    metric(
        "d_grad_norm",
        "discriminator gradient global L2 norm before clipping",
        false,
        false,
    ),
    metric(
        "start_s",
        "start index s of the simulated inference: steps run from the image-to-image start (m = from noise)",
        false,
        false,
    ),
    metric(
        "graph_step",
        "first sampler step that keeps a graph (0 = the noisiest of m, m − 1 = the last)",
        false,
        false,
    ),
    metric("lr_g", "generator learning rate", false, true),
    metric("lr_d", "discriminator learning rate", false, false),
    MetricInfo {
        unit: Some("s"),
        ..metric("step_time_s", "wall time of the whole step", false, true)
    },
];

/// The [`MetricInfo`] of `name`.
pub fn info(name: &str) -> Option<&'static MetricInfo> {
    METRICS.iter().find(|m| m.name == name)
}

/// Names in display order.
pub fn names() -> impl Iterator<Item = &'static str> {
    METRICS.iter().map(|m| m.name)
}

/// Names a plain diffusion fine-tune writes, in display order.
pub fn plain_names() -> impl Iterator<Item = &'static str> {
    METRICS.iter().filter(|m| m.plain).map(|m| m.name)
}

/// The values of one step (absent = not computed this step). Field names are the
/// [`METRICS`] names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    pub g_adv: Option<f64>,
    pub l_diff: Option<f64>,
    pub g_total: Option<f64>,
    pub d_loss: Option<f64>,
    pub d_real: Option<f64>,
    pub d_fake: Option<f64>,
    pub d_acc: Option<f64>,
    pub r1: Option<f64>,
    pub g_grad_norm: Option<f64>,
    pub d_grad_norm: Option<f64>,
    pub start_s: Option<f64>,
    pub graph_step: Option<f64>,
    pub lr_g: Option<f64>,
    pub lr_d: Option<f64>,
    pub step_time_s: Option<f64>,
}

impl StepMetrics {
    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "g_adv" => self.g_adv,
            "l_diff" => self.l_diff,
            "g_total" => self.g_total,
            "d_loss" => self.d_loss,
            "d_real" => self.d_real,
            "d_fake" => self.d_fake,
            "d_acc" => self.d_acc,
            "r1" => self.r1,
            "g_grad_norm" => self.g_grad_norm,
            "d_grad_norm" => self.d_grad_norm,
            "start_s" => self.start_s,
            "graph_step" => self.graph_step,
            "lr_g" => self.lr_g,
            "lr_d" => self.lr_d,
            "step_time_s" => self.step_time_s,
            _ => None,
        }
    }

    /// Present `(name, value)` pairs in [`METRICS`] order.
    pub fn entries(&self) -> Vec<(&'static str, f64)> {
        names()
            .filter_map(|n| self.get(n).map(|v| (n, v)))
            .collect()
    }

    /// One plain progress line (headless runs): `step N[/T]  g_adv …  l_diff …  d_loss …
    /// d_real …  d_fake …  d_acc …  0.123s`; `-` for values not computed this step.
    pub fn progress_line(&self, step: usize, total: Option<usize>) -> String {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into());
        let at = match total {
            Some(t) => format!("{step}/{t}"),
            None => format!("{step:>4}"),
        };
        format!(
            "step {at}  g_adv {}  l_diff {}  d_loss {}  d_real {}  d_fake {}  d_acc {}  {:.3}s",
            f(self.g_adv),
            f(self.l_diff),
            f(self.d_loss),
            f(self.d_real),
            f(self.d_fake),
            f(self.d_acc),
            self.step_time_s.unwrap_or(0.0)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_a_field_and_unique() {
        // Serialising a fully set StepMetrics gives exactly the METRICS names as keys.
        let mut m = StepMetrics::default();
        let json = serde_json::to_value(&m).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut want: Vec<&str> = names().collect();
        want.sort();
        assert_eq!(keys, want, "StepMetrics fields and METRICS names differ");
        for (i, n) in names().enumerate() {
            let v = serde_json::json!({ n: i as f64 });
            m = serde_json::from_value(v).unwrap();
            assert_eq!(m.get(n), Some(i as f64), "get({n}) does not read its field");
            assert_eq!(m.entries(), vec![(n, i as f64)]);
        }
    }
}
