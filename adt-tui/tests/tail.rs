//! Tailing `events.jsonl`: waiting for the directory, partial lines, truncation, replacement, several viewers.

use std::path::Path;

use adt_tui::tail::*;
use std::io::Write;

fn append(path: &Path, s: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
}

#[test]
fn waits_for_directory_then_reads_incrementally_with_partial_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut t = Tailer::new(&dir);
    assert!(t.poll().lines.is_empty());
    assert_eq!(t.status(), &SourceStatus::NoDirectory);
    std::fs::create_dir(&dir).unwrap();
    t.poll();
    assert_eq!(t.status(), &SourceStatus::NoEventsFile);
    let p = dir.join("events.jsonl");
    append(&p, "a\nb\r\npar");
    let got = t.poll();
    assert!(!got.reset);
    assert_eq!(got.lines, ["a", "b"]);
    assert_eq!(
        t.status(),
        &SourceStatus::Open {
            bytes: 8,
            pending: 3
        }
    );
    assert!(t.poll().lines.is_empty());
    append(&p, "tial\nc\n");
    assert_eq!(t.poll().lines, ["partial", "c"]);
}

#[test]
fn truncation_and_replacement_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("events.jsonl");
    append(&p, "one\ntwo\n");
    let mut t = Tailer::new(tmp.path());
    assert_eq!(t.poll().lines.len(), 2);
    std::fs::write(&p, "x\n").unwrap(); // shorter: truncated and rewritten
    let got = t.poll();
    assert!(got.reset);
    assert_eq!(got.lines, ["x"]);
    // Replaced by a new file (rename over it), even if longer.
    let q = tmp.path().join("new.jsonl");
    std::fs::write(&q, "n1\nn2\nn3\n").unwrap();
    std::fs::rename(&q, &p).unwrap();
    let got = t.poll();
    assert!(got.reset);
    assert_eq!(got.lines, ["n1", "n2", "n3"]);
    std::fs::remove_file(&p).unwrap();
    let got = t.poll();
    assert!(got.reset && got.lines.is_empty());
    assert_eq!(t.status(), &SourceStatus::NoEventsFile);
}

#[test]
fn two_viewers_see_the_same_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("events.jsonl");
    let (mut a, mut b) = (Tailer::new(tmp.path()), Tailer::new(tmp.path()));
    append(&p, "1\n2\n");
    assert_eq!(a.poll().lines, ["1", "2"]);
    append(&p, "3\n");
    assert_eq!(b.poll().lines, ["1", "2", "3"]);
    assert_eq!(a.poll().lines, ["3"]);
}
