//! A run writes the run directory of docs/run-directory.md: config.toml, events.jsonl with
//! run_start / step / checkpoint / run_end lines and the named metrics, checkpoints, and burn's own
//! metric logs for the registered numeric metrics.

use std::collections::BTreeSet;

use adt_plugin::AdtConfig;
use adt_plugin::metrics::{names, plain_names};
use adt_plugin::toy::{ToyParts, ToySizes, toy_config};
use burn::prelude::*;
use serde_json::Value;

fn read_events(dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn adversarial_run_writes_the_contract() {
    let d = Device::flex().autodiff();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    let cfg = AdtConfig {
        total_steps: 4,
        checkpoint_every: 2,
        keep_checkpoints: 1,
        ..toy_config()
    };
    let r = ToyParts::new(ToySizes::default(), 1, &d)
        .trainer(cfg.clone(), 8, 16, &d)
        .unwrap()
        .run(&dir)
        .unwrap();
    assert_eq!(r.step, 4);

    let written = AdtConfig::load(&dir.join("config.toml")).unwrap();
    assert_eq!(written, cfg);

    let ev = read_events(&dir);
    let start = &ev[0];
    assert_eq!(start["type"], "run_start");
    assert_eq!(start["run"], "tiny");
    assert_eq!(start["total_steps"], 4);
    assert!(start["resumed_from"].is_null());
    for k in [
        "model",
        "sampler",
        "m",
        "k",
        "lambda_diff",
        "lambda_adv",
        "lr_g",
        "lr_d",
        "batch_size",
        "adversarial",
    ] {
        assert!(
            !start["config"][k].is_null(),
            "run_start.config.{k} missing"
        );
    }
    assert!(
        ev.iter()
            .all(|e| e["time"].as_f64().is_some_and(|t| t > 1.6e9))
    );
    let steps: Vec<&Value> = ev.iter().filter(|e| e["type"] == "step").collect();
    assert_eq!(steps.len(), 4);
    let want: BTreeSet<&str> = names().filter(|n| *n != "r1").collect();
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["step"], i + 1);
        let keys: BTreeSet<&str> = s["metrics"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, want);
        let m = &s["metrics"];
        let acc = m["d_acc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        let total = m["g_total"].as_f64().unwrap();
        let want_total = cfg.lambda_adv * m["g_adv"].as_f64().unwrap()
            + cfg.lambda_diff * m["l_diff"].as_f64().unwrap();
        assert!((total - want_total).abs() < 1e-9 * want_total.abs().max(1.0));
    }
    let ck: Vec<u64> = ev
        .iter()
        .filter(|e| e["type"] == "checkpoint")
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(ck, vec![2, 4]);
    assert_eq!(
        ev.iter().rfind(|e| e["type"] == "checkpoint").unwrap()["path"],
        "checkpoints/step-4"
    );
    let end = ev.last().unwrap();
    assert_eq!(
        (
            end["type"].as_str(),
            end["status"].as_str(),
            end["step"].as_u64()
        ),
        (Some("run_end"), Some("finished"), Some(4))
    );
    // keep_checkpoints = 1: only the newest remains.
    assert!(dir.join("checkpoints/step-4/model.bpk").is_file());
    assert!(!dir.join("checkpoints/step-2").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("checkpoints/latest"))
            .unwrap()
            .trim(),
        "step-4"
    );
    // burn-train's metric pipeline saw the same named metrics.
    for n in ["g_adv", "d_loss", "d_acc", "lr_g", "step_time_s"] {
        let p = dir.join(format!("burn/train/epoch-1/{n}.log"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(text.lines().count() >= 4, "{n}: {text}");
    }
}

#[test]
fn plain_finetune_writes_only_its_metrics() {
    let d = Device::flex().autodiff();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plain");
    let cfg = AdtConfig {
        adversarial: false,
        total_steps: 2,
        ..toy_config()
    };
    ToyParts::new(ToySizes::default(), 1, &d)
        .trainer(cfg, 8, 16, &d)
        .unwrap()
        .run(&dir)
        .unwrap();
    let ev = read_events(&dir);
    assert_eq!(ev[0]["config"]["adversarial"], false);
    let want: BTreeSet<&str> = plain_names().collect();
    for s in ev.iter().filter(|e| e["type"] == "step") {
        let keys: BTreeSet<&str> = s["metrics"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, want);
    }
}
