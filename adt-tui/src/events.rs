//! Typed `events.jsonl` lines (the contract in `docs/run-directory.md`), parsed tolerantly:
//! a line that is not JSON, lacks `type`, or has the wrong shape is an error the caller
//! counts and skips; a well-formed line of an unknown type is "foreign", not malformed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// One event of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    RunStart(RunStart),
    Step(StepEvent),
    Alarm(AlarmEvent),
    Sample(SampleEvent),
    Checkpoint(CheckpointEvent),
    RunEnd(RunEnd),
}

impl Event {
    /// The optimizer step the event belongs to (`run_start` has none).
    pub fn step(&self) -> Option<u64> {
        match self {
            Event::RunStart(_) => None,
            Event::Step(e) => Some(e.step),
            Event::Alarm(e) => e.step,
            Event::Sample(e) => e.step,
            Event::Checkpoint(e) => e.step,
            Event::RunEnd(e) => e.step,
        }
    }
}

/// `run_start`: the run's identity and resolved key configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunStart {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub run: String,
    #[serde(default)]
    pub total_steps: Option<u64>,
    #[serde(default)]
    pub resumed_from: Option<u64>,
    #[serde(default)]
    pub config: RunConfig,
}

/// The key knobs a viewer shows; every field is optional so that older or foreign
/// writers still parse. Anything else in `config` is kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct RunConfig {
    pub model: Option<String>,
    pub sampler: Option<String>,
    /// Sampling steps of the simulated inference.
    pub m: Option<u64>,
    /// Graph steps (the last `k` steps keep their autodiff graph).
    pub k: Option<u64>,
    pub lambda_diff: Option<f64>,
    pub lambda_adv: Option<f64>,
    pub lr_g: Option<f64>,
    pub lr_d: Option<f64>,
    pub batch_size: Option<u64>,
    /// `false` for a plain diffusion fine-tune (no discriminator).
    pub adversarial: Option<bool>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `step`: the metrics of one finished optimizer step. `None` = written as `null`
/// (non-finite at the writer).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StepEvent {
    #[serde(default)]
    pub time: f64,
    pub step: u64,
    #[serde(default, deserialize_with = "metrics_map")]
    pub metrics: BTreeMap<String, Option<f64>>,
}

/// `alarm` raised by the engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AlarmEvent {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub step: Option<u64>,
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

/// `sample`: a validation grid written under the run directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SampleEvent {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub step: Option<u64>,
    pub path: String,
    #[serde(default)]
    pub prompts: Vec<String>,
}

/// `checkpoint` written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CheckpointEvent {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub step: Option<u64>,
    pub path: String,
}

/// `run_end`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunEnd {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub step: Option<u64>,
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// Why a line was not turned into an [`Event`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    /// Not JSON, not an object, no string `type`, or a known type with the wrong fields.
    #[error("malformed line: {0}")]
    Malformed(String),
    /// Valid JSON object whose `type` this viewer does not know (skipped by contract).
    #[error("unknown event type `{0}`")]
    Foreign(String),
}

/// Parses one line of `events.jsonl` (without its newline).
///
/// Accepts the bare `NaN`/`Infinity`/`-Infinity` tokens Python's `json.dumps` writes, as
/// `null` (non-finite), so a Python-side writer cannot hide a NaN behind a parse error.
pub fn parse_line(line: &str) -> Result<Event, LineError> {
    let line = line.trim();
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(first) => match nan_tokens_to_null(line) {
            Some(fixed) => {
                serde_json::from_str(&fixed).map_err(|_| LineError::Malformed(first.to_string()))?
            }
            None => return Err(LineError::Malformed(first.to_string())),
        },
    };
    let Value::Object(obj) = &value else {
        return Err(LineError::Malformed("not a JSON object".into()));
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return Err(LineError::Malformed("no string field `type`".into()));
    };
    fn typed<T: for<'de> Deserialize<'de>>(v: Value, kind: &str) -> Result<T, LineError> {
        serde_json::from_value(v).map_err(|e| LineError::Malformed(format!("`{kind}`: {e}")))
    }
    let kind = kind.to_string();
    Ok(match kind.as_str() {
        "run_start" => Event::RunStart(typed(value, &kind)?),
        "step" => Event::Step(typed(value, &kind)?),
        "alarm" => Event::Alarm(typed(value, &kind)?),
        "sample" => Event::Sample(typed(value, &kind)?),
        "checkpoint" => Event::Checkpoint(typed(value, &kind)?),
        "run_end" => Event::RunEnd(typed(value, &kind)?),
        _ => return Err(LineError::Foreign(kind)),
    })
}

/// Metric values: numbers, `null` (non-finite) and, leniently, the strings
/// "NaN"/"inf"/"-inf"; anything else makes the line malformed.
fn metrics_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Option<f64>>, D::Error> {
    let raw = BTreeMap::<String, Value>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let x = match &v {
            Value::Null => None,
            Value::Number(n) => n.as_f64(),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "nan" | "inf" | "-inf" | "infinity" | "-infinity" => None,
                _ => return Err(serde::de::Error::custom(format!("metric `{k}`: {v}"))),
            },
            _ => return Err(serde::de::Error::custom(format!("metric `{k}`: {v}"))),
        };
        out.insert(k, x.filter(|x| x.is_finite()));
    }
    Ok(out)
}

/// Replaces bare `NaN`, `Infinity`, `-Infinity` outside strings by `null`; `None` if there
/// was nothing to replace.
fn nan_tokens_to_null(line: &str) -> Option<String> {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let (mut i, mut in_str, mut changed) = (0, false, false);
    while i < bytes.len() {
        let c = bytes[i];
        if in_str {
            if c == b'\\' && i + 1 < bytes.len() {
                out.push_str(&line[i..i + 2]);
                i += 2;
                continue;
            }
            in_str = c != b'"';
        } else if c == b'"' {
            in_str = true;
        } else {
            let rest = &line[i..];
            let token = ["-Infinity", "Infinity", "NaN"]
                .into_iter()
                .find(|t| rest.starts_with(t));
            if let Some(t) = token {
                out.push_str("null");
                i += t.len();
                changed = true;
                continue;
            }
        }
        // Push the whole UTF-8 character starting at i.
        let ch = line[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_known_type() {
        let start = r#"{"type":"run_start","time":1.0,"run":"r","total_steps":100,"resumed_from":null,"config":{"model":"sd15","sampler":"ddim","m":4,"k":1,"lambda_diff":1.0,"lambda_adv":0.1,"lr_g":1e-5,"lr_d":1e-4,"batch_size":4,"adversarial":true,"seed":7}}"#;
        let Event::RunStart(s) = parse_line(start).unwrap() else {
            panic!()
        };
        assert_eq!(s.total_steps, Some(100));
        assert_eq!(s.config.k, Some(1));
        assert_eq!(s.config.extra["seed"], 7);
        let step = r#"{"type":"step","time":2.0,"step":3,"metrics":{"g_adv":0.5,"d_loss":null}}"#;
        let Event::Step(e) = parse_line(step).unwrap() else {
            panic!()
        };
        assert_eq!(e.metrics["g_adv"], Some(0.5));
        assert_eq!(e.metrics["d_loss"], None);
        assert!(matches!(
            parse_line(r#"{"type":"alarm","time":1,"step":3,"kind":"non_finite","message":"x"}"#),
            Ok(Event::Alarm(_))
        ));
        assert!(matches!(
            parse_line(
                r#"{"type":"sample","time":1,"step":3,"path":"samples/a.png","prompts":["a"]}"#
            ),
            Ok(Event::Sample(_))
        ));
        assert!(matches!(
            parse_line(r#"{"type":"checkpoint","time":1,"step":3,"path":"checkpoints/step-3"}"#),
            Ok(Event::Checkpoint(_))
        ));
        assert!(matches!(
            parse_line(r#"{"type":"run_end","time":1,"step":3,"status":"finished"}"#),
            Ok(Event::RunEnd(_))
        ));
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            r#"{"type":"step","time":1,"ste"#,
            "[1,2]",
            r#"{"time":1}"#,
            r#"{"type":"step","time":1,"metrics":{}}"#,
            r#"{"type":"step","step":1,"metrics":{"g_adv":[1]}}"#,
            "\u{0}\u{1}garbage",
        ] {
            assert!(
                matches!(parse_line(bad), Err(LineError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_line(r#"{"type":"hello","x":1}"#),
            Err(LineError::Foreign("hello".into()))
        );
    }

    #[test]
    fn python_nan_tokens_become_non_finite() {
        let line = r#"{"type":"step","time":1,"step":2,"metrics":{"g_adv":NaN,"d_loss":-Infinity,"l_diff":0.1},"note":"NaN inside"}"#;
        let Event::Step(e) = parse_line(line).unwrap() else {
            panic!()
        };
        assert_eq!(e.metrics["g_adv"], None);
        assert_eq!(e.metrics["d_loss"], None);
        assert_eq!(e.metrics["l_diff"], Some(0.1));
    }
}
