//! Rendering tests with ratatui's TestBackend over the committed event-log fixtures
//! (made by scripts/fixtures/tui.py): the compact (80×24) and large (200×60) layouts for a
//! healthy run, a NaN run, a collapsed discriminator, a run still being written, and a
//! plain diffusion fine-tune. Expected values are read from the fixtures themselves.

use std::path::{Path, PathBuf};

use adt_tui::app::{App, buffer_text, pump};
use adt_tui::image::{ImageMode, SampleImages};
use adt_tui::tail::Tailer;
use adt_tui::ui::fmt;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A run directory holding `NAME.jsonl` as events.jsonl, and the sample images.
fn run_dir(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join(format!("{name}.jsonl")),
        tmp.path().join("events.jsonl"),
    )
    .unwrap();
    std::fs::create_dir(tmp.path().join("samples")).unwrap();
    for e in std::fs::read_dir(fixtures().join("samples")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.path().join("samples").join(e.file_name())).unwrap();
    }
    tmp
}

fn app_for(dir: &Path) -> App {
    let mut app = App::new(
        Some(dir.to_path_buf()),
        SampleImages::new(ImageMode::Halfblocks.picker_offline()),
        500,
    );
    let mut tailer = Tailer::new(dir);
    while pump(&mut tailer, &mut app.state) {}
    app
}

fn render(app: &mut App, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    let buf = term.backend().buffer().clone();
    (buffer_text(&buf), buf)
}

/// The last complete `step` event of a fixture.
fn last_step(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.jsonl"))).unwrap();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "step")
        .unwrap()
}

fn metric(v: &Value, k: &str) -> f64 {
    v["metrics"][k].as_f64().unwrap()
}

fn has_braille(s: &str) -> bool {
    s.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c))
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn healthy_run_compact_80x24() {
    let dir = run_dir("healthy");
    let mut app = app_for(dir.path());
    let (text, _) = render(&mut app, 80, 24);
    let last = last_step("healthy");
    for want in [
        "sd15-adt-healthy",
        "running",
        "step 300/1000",
        "ETA",
        "img/s",
        "Losses",
        "D logits",
        "Diffusion",
        "Metrics",
        "d_grad_norm",
        "no alarms",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // The latest values, as the fixture has them.
    assert!(
        text.contains(&format!("G adv {}", fmt::value(metric(&last, "g_adv")))),
        "{text}"
    );
    let margin = metric(&last, "d_real") - metric(&last, "d_fake");
    assert!(
        text.contains(&format!("margin {}", fmt::value(margin))),
        "{text}"
    );
    assert!(has_braille(&text), "charts drew nothing:\n{text}");
    // Samples live on page 2 at this size.
    assert!(!text.contains("Sample"));
    app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    let (page2, _) = render(&mut app, 80, 24);
    for want in [
        "Sample @ step 300",
        "Config",
        "m=4 K=1",
        "G 1.00e-5  D 1.00e-4",
        "checkpoints/step-250",
    ] {
        assert!(page2.contains(want), "missing {want:?} in\n{page2}");
    }
    assert!(page2.contains('▀'), "no half-block image:\n{page2}");
    println!("{text}\n{page2}");
}

#[test]
fn healthy_run_large_200x60_shows_everything() {
    let dir = run_dir("healthy");
    let mut app = app_for(dir.path());
    let (text, _) = render(&mut app, 200, 60);
    for want in [
        "Losses",
        "D logits",
        "Diffusion",
        "Grad norm",
        "LR",
        "Step time",
        "Sample @ step 300",
        "astronaut",
        "Metrics",
        "Alarms",
        "Config",
        "ddim",
        "lr_d",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(text.contains('▀'), "no half-block image:\n{text}");
    // The zoom window changes the shared step axis: full history starts at step 1,
    // zoomed to the last 100 steps it starts at 200.
    let axis_starts = |t: &str, s: &str| {
        t.lines()
            .any(|l| l.contains(&format!(" {s} ")) || l.contains(&format!("│{s} ")))
    };
    assert!(axis_starts(&text, "1"));
    app.view.recent = 100;
    app.handle_key(key('z'));
    let (zoomed, _) = render(&mut app, 200, 60);
    assert!(zoomed.contains("last 100"), "{zoomed}");
    assert!(axis_starts(&zoomed, "200"), "{zoomed}");
}

#[test]
fn nan_run_shows_alarm_with_its_first_step_and_placeholder_image() {
    let dir = run_dir("nan");
    let mut app = app_for(dir.path());
    let (text, _) = render(&mut app, 80, 24);
    for want in ["failed", "NaN/Inf", "step 143–160", "1 alarm(s)", "NaN"] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let (large, _) = render(&mut app, 200, 60);
    assert!(large.contains("cannot show this sample"), "{large}");
    assert!(large.contains("placeholder"), "{large}");
    assert!(
        large.contains("Invalid PNG signature"),
        "reason missing:\n{large}"
    );
    assert!(large.contains("non-finite loss for 18 steps"), "{large}");
}

#[test]
fn collapsed_discriminator_is_flagged_from_where_it_began() {
    let dir = run_dir("collapsed");
    let mut app = app_for(dir.path());
    // Independently of the detector: the first step after which |D(real)−D(fake)| stays
    // below the collapse margin.
    let text = std::fs::read_to_string(fixtures().join("collapsed.jsonl")).unwrap();
    let margins: Vec<(u64, f64)> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "step")
        .map(|v| {
            (
                v["step"].as_u64().unwrap(),
                (metric(&v, "d_real") - metric(&v, "d_fake")).abs(),
            )
        })
        .collect();
    let began = margins
        .iter()
        .rposition(|&(_, m)| m >= adt_tui::alarms::COLLAPSE_MARGIN)
        .map(|i| margins[i + 1].0)
        .unwrap();
    assert!(
        (125..170).contains(&began),
        "fixture changed: began {began}"
    );
    eprintln!("independent collapse start: {began}");
    let (small, _) = render(&mut app, 80, 24);
    let (large, _) = render(&mut app, 200, 60);
    for t in [&small, &large] {
        assert!(t.contains("D collapse"), "{t}");
        assert!(
            t.contains(&format!("step {began}–240")),
            "expected began {began}:\n{t}"
        );
        assert!(t.contains("engine+viewer"), "{t}");
    }
}

#[test]
fn run_being_written_counts_bad_lines_and_holds_the_partial_one() {
    let dir = run_dir("partial");
    let mut app = app_for(dir.path());
    let (text, _) = render(&mut app, 80, 24);
    let tail = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let partial = tail.len() - tail.rfind('\n').unwrap() - 1;
    for want in [
        "step 80/500".to_string(),
        "skipped 2 bad, 1 foreign".to_string(),
        format!("(+{partial} B partial)"),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    // The writer finishes the line: step 81 appears.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("events.jsonl"))
        .unwrap();
    std::io::Write::write_all(
        &mut f,
        br#""g_adv":0.5,"l_diff":0.1,"d_real":0.4,"d_fake":-0.3}}
"#,
    )
    .unwrap();
    let mut tailer = Tailer::new(dir.path());
    app.state = Default::default();
    while pump(&mut tailer, &mut app.state) {}
    let (text, _) = render(&mut app, 80, 24);
    assert!(text.contains("step 81/500"), "{text}");
    assert!(!text.contains("partial)"), "{text}");
}

#[test]
fn plain_diffusion_fine_tune_shows_only_what_exists() {
    let dir = run_dir("diffusion");
    let mut app = app_for(dir.path());
    for (w, h) in [(80, 24), (200, 60)] {
        let (text, _) = render(&mut app, w, h);
        assert!(text.contains("diffusion fine-tune"), "{text}");
        assert!(
            text.contains("Diffusion") && text.contains("Grad norm"),
            "{text}"
        );
        for absent in ["D logits", "d_real", "d_loss", "Losses", "lr D"] {
            assert!(
                !text.contains(absent),
                "{absent:?} shown for a run without D:\n{text}"
            );
        }
        assert!(has_braille(&text));
    }
}

#[test]
fn pause_freezes_and_help_pops_up() {
    let dir = run_dir("partial");
    let mut app = app_for(dir.path());
    app.handle_key(key('p'));
    app.state
        .ingest_line(r#"{"type":"step","time":1767225700.0,"step":90,"metrics":{"g_adv":9.0}}"#);
    let (text, _) = render(&mut app, 80, 24);
    assert!(
        text.contains("PAUSED") && text.contains("step 80/500"),
        "{text}"
    );
    app.handle_key(key('p'));
    app.handle_key(key('?'));
    let (text, _) = render(&mut app, 80, 24);
    assert!(
        text.contains("step 90/500") && !text.contains("PAUSED"),
        "{text}"
    );
    assert!(
        text.contains("Keys") && text.contains("toggle EMA smoothing"),
        "{text}"
    );
}

#[test]
fn waiting_for_a_missing_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("not-yet");
    let mut app = app_for(&dir);
    let (text, _) = render(&mut app, 80, 24);
    assert!(text.contains("does not exist yet"), "{text}");
    assert!(text.contains("waiting for run directory"), "{text}");
}

#[test]
fn invalid_utf8_in_the_events_file_is_skipped_not_fatal() {
    // A line with invalid UTF-8 right after a backslash (what made the old reader slice
    // inside a multi-byte character), a NaN next to it, and a torn multi-byte tail.
    let dir = run_dir("partial");
    let path = dir.path().join("events.jsonl");
    let mut bytes = std::fs::read(&path).unwrap();
    let cut = bytes.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    bytes.truncate(cut);
    bytes.extend_from_slice(
        b"{\"type\":\"alarm\",\"step\":80,\"kind\":\"x\",\"message\":\"\\\xff\xfe NaN\"}\n",
    );
    bytes.extend_from_slice(b"\xc3\x28 NaN \\\xe2\x82\n");
    bytes.extend_from_slice(
        "{\"type\":\"step\",\"time\":9e9,\"step\":81,\"metrics\":{\"g_adv\":NaN,\"d_real\":0.4}}\n"
            .as_bytes(),
    );
    bytes.extend_from_slice(b"{\"type\":\"step\",\"step\":82,\"metrics\":{\"g_adv\":0.1}}\xe2\x82");
    std::fs::write(&path, bytes).unwrap();
    let mut app = app_for(dir.path());
    let (text, _) = render(&mut app, 80, 24);
    assert!(text.contains("step 81/500"), "{text}");
    assert!(text.contains("skipped 4 bad, 1 foreign"), "{text}");
}
