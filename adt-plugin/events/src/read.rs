//! Reading `events.jsonl` lines tolerantly: a line that is not JSON, lacks `type`, or has the
//! wrong shape is an error the caller counts and skips; a well-formed line of an unknown type is
//! "foreign", not malformed. Any bytes are accepted — a half-written line, invalid UTF-8 — and
//! never panic.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::schema::{EVENT_TYPES, Event};

/// Why a line was not turned into an [`Event`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    /// Not JSON, not an object, no string `type`, or a known type with the wrong fields.
    #[error("malformed line: {0}")]
    Malformed(String),
    /// A valid JSON object whose `type` this reader does not know (skipped by contract).
    #[error("unknown event type `{0}`")]
    Foreign(String),
}

/// Parses one line of `events.jsonl` (without its newline).
///
/// Accepts the bare `NaN`/`Infinity`/`-Infinity` tokens Python's `json.dumps` writes, as
/// `null` (non-finite), so a Python-side writer cannot hide a NaN behind a parse error.
/// Invalid UTF-8 makes the line malformed (JSON is UTF-8).
pub fn parse_line(line: impl AsRef<[u8]>) -> Result<Event, LineError> {
    let bytes = trim(line.as_ref());
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(first) => match nan_tokens_to_null(bytes) {
            Some(fixed) => serde_json::from_slice(&fixed)
                .map_err(|_| LineError::Malformed(first.to_string()))?,
            None => return Err(LineError::Malformed(first.to_string())),
        },
    };
    let Value::Object(obj) = &value else {
        return Err(LineError::Malformed("not a JSON object".into()));
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return Err(LineError::Malformed("no string field `type`".into()));
    };
    if !EVENT_TYPES.contains(&kind) {
        return Err(LineError::Foreign(kind.to_string()));
    }
    let kind = kind.to_string();
    serde_json::from_value(value).map_err(|e| LineError::Malformed(format!("`{kind}`: {e}")))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Metric values: numbers, `null` (non-finite) and, leniently, the strings
/// "NaN"/"inf"/"-inf"; anything else makes the line malformed.
pub(crate) fn metrics_map<'de, D: serde::Deserializer<'de>>(
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
/// was nothing to replace. Works on bytes: the tokens are ASCII, and every other byte
/// (including the parts of a multi-byte or invalid UTF-8 sequence) is copied unchanged.
fn nan_tokens_to_null(line: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(line.len());
    let (mut i, mut in_str, mut changed) = (0, false, false);
    while i < line.len() {
        let c = line[i];
        if in_str {
            if c == b'\\' && i + 1 < line.len() {
                // An escape: its next byte never ends the string.
                out.extend_from_slice(&line[i..i + 2]);
                i += 2;
                continue;
            }
            in_str = c != b'"';
        } else if c == b'"' {
            in_str = true;
        } else if let Some(t) = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|t| line[i..].starts_with(t))
        {
            out.extend_from_slice(b"null");
            i += t.len();
            changed = true;
            continue;
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::RunStatus;

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
        let Ok(Event::RunEnd(end)) =
            parse_line(r#"{"type":"run_end","time":1,"step":3,"status":"finished"}"#)
        else {
            panic!()
        };
        assert_eq!(end.status, RunStatus::Finished);
        let Ok(Event::RunEnd(end)) =
            parse_line(r#"{"type":"run_end","time":1,"step":3,"status":"exploded"}"#)
        else {
            panic!()
        };
        assert_eq!(end.status, RunStatus::Unknown);
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"{",
            br#"{"type":"step","time":1,"ste"#,
            b"[1,2]",
            br#"{"time":1}"#,
            br#"{"type":"step","time":1,"metrics":{}}"#,
            br#"{"type":"step","step":1,"metrics":{"g_adv":[1]}}"#,
            b"\x00\x01garbage",
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
    fn any_bytes_are_survived() {
        // Invalid UTF-8, lossy-decoded replacement characters after a backslash, a NaN next
        // to multi-byte text, truncations of a valid line at every byte.
        let valid = "{\"type\":\"alarm\",\"time\":1,\"step\":2,\"kind\":\"x\",\"message\":\"é \\\"ü\\\" NaN\"}";
        assert!(parse_line(valid).is_ok());
        for cut in 0..valid.len() {
            let _ = parse_line(&valid.as_bytes()[..cut]);
        }
        let lossy =
            String::from_utf8_lossy(b"{\"type\":\"step\",\"step\":1,\"x\":\"\\\xff\xfe\"} NaN");
        assert!(parse_line(lossy.as_bytes()).is_err());
        for bytes in [
            &b"{\"type\":\"step\",\"step\":1,\"metrics\":{\"g\":NaN},\"s\":\"\\\xe9\"}"[..],
            b"\xff\xfe\xfd NaN \\",
            b"\"\\",
            b"NaN\xc3",
            b"{\"type\":\"step\",\"step\":1,\"metrics\":{\"g_adv\":NaN}}\xc3\xa9",
        ] {
            assert!(parse_line(bytes).is_err(), "{bytes:?}");
        }
        // Every single byte and pairs of high bytes.
        for a in 0..=255u8 {
            let _ = parse_line([a]);
            let _ = parse_line([b'"', b'\\', a, 0xc3]);
        }
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
