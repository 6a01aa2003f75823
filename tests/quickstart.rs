//! A shortened quickstart (the README's first command) end to end: shipped weights
//! verified, data written, plain and ADT runs, evaluation of the three models, report.

use adt::models::schedulers::SamplerName;
use adt::quickstart::{Args, run};

#[test]
fn shortened_quickstart_writes_the_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("qs");
    let args = Args {
        out: out.clone(),
        steps: 2,
        train_images: 16,
        eval_images: 8,
        seeds: vec![0],
        samplers: vec![SamplerName::DDIM],
        eval_steps: vec![2],
        cfg: vec![1.0],
        config: None,
        overrides: vec!["adt.checkpoint_every=0".into()],
        plain: true,
        device: Default::default(),
    };
    let outcome = run(&args).expect("quickstart");
    let names: Vec<&str> = outcome.fd.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["base", "plain", "adt"]);
    for (name, fd) in &outcome.fd {
        assert!(
            fd.len() == 1 && fd[0].is_finite() && fd[0] > 0.0,
            "{name}: {fd:?}"
        );
    }
    // The two tuned UNets moved away from the base, and differently.
    assert_ne!(outcome.fd[0].1, outcome.fd[1].1);
    assert_ne!(outcome.fd[1].1, outcome.fd[2].1);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for row in [
        "| ddim | 2 | 1 | base |",
        "| ddim | 2 | 1 | plain |",
        "| ddim | 2 | 1 | adt |",
    ] {
        assert!(report.contains(row), "missing {row} in\n{report}");
    }
    let csv = std::fs::read_to_string(out.join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert_eq!(
        csv.lines().next().unwrap(),
        "model,sampler,steps,cfg,seed,fd,acc_kind,acc_color,acc_size,acc_position,acc_background"
    );
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 11, "{line}");
        assert_eq!(fields[4], "0", "the evaluation seed: {line}");
        for acc in &fields[6..] {
            let a: f64 = acc
                .parse()
                .unwrap_or_else(|_| panic!("accuracy {acc:?} in {line}"));
            assert!((0.0..=1.0).contains(&a), "{line}");
        }
    }
    let png = image::open(out.join("samples.png")).unwrap();
    // 4 rows (real, base, plain, ADT) of 8 tiles, 32 px upscaled ×4, 2 px gaps.
    assert!(
        png.height() > 4 * 32 * 4 && png.width() > 8 * 32 * 4,
        "{:?}",
        (png.width(), png.height())
    );
    for run_dir in ["plain", "adt"] {
        assert!(out.join(run_dir).join("events.jsonl").is_file());
        assert!(out.join(run_dir).join("export/unet/config.json").is_file());
        // The config's validation grid at the last step, announced to the dashboard.
        assert!(out.join(run_dir).join("samples/step-000002.png").is_file());
        let events = std::fs::read_to_string(out.join(run_dir).join("events.jsonl")).unwrap();
        assert!(
            events.contains(r#""type":"sample""#),
            "{run_dir}: no sample event"
        );
    }
    // A second quickstart into the same folder replaces it; a foreign folder is refused.
    let foreign = dir.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep").unwrap();
    let err = run(&Args {
        out: foreign.clone(),
        ..args
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("not an earlier quickstart"), "{err}");
    assert!(foreign.join("notes.txt").is_file());
}
