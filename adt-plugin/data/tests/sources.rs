//! Every source format on small generated datasets, and every kind of bad
//! input reported with its file and line.

use crate::common;

use std::path::Path;

use adt_data::{BadReason, DataConfig, DataError, ProgressMode, SourceConfig};
use common::*;

fn index(src: &SourceConfig) -> (Vec<adt_data::Record>, adt_data::DataReport) {
    src.index(ProgressMode::Silent).unwrap()
}

fn reasons_at(report: &adt_data::DataReport, file: &Path) -> Vec<(Option<usize>, BadReason)> {
    report
        .bad
        .iter()
        .filter(|b| b.file == file)
        .map(|b| (b.line, b.reason.clone()))
        .collect()
}

#[test]
fn imagefolder_with_custom_caption_column() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_image(&root.join("a.png"), 16, 8, 1);
    write_image(&root.join("sub/b.jpg"), 8, 16, 2);
    write_lines(
        &root.join("metadata.jsonl"),
        &[
            r#"{"file_name": "a.png", "caption": "  a red square ", "text": "ignored"}"#,
            "",
            r#"{"file_name": "./sub/b.jpg", "caption": "b"}"#,
        ],
    );
    let src = SourceConfig::ImageFolder {
        root: root.to_path_buf(),
        metadata: "metadata.jsonl".into(),
        caption_column: "caption".into(),
    };
    let (records, report) = index(&src);
    assert!(report.bad.is_empty(), "{report}");
    assert_eq!(report.total, 2);
    let names: Vec<_> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a.png", "sub/b.jpg"]);
    assert_eq!(records[0].caption, "a red square");
    assert_eq!((records[0].width, records[0].height), (16, 8));
    assert_eq!((records[1].width, records[1].height), (8, 16));
    assert_eq!(records[1].origin.line, Some(3));
}

#[test]
fn imagefolder_config_defaults_parse_from_toml_like_json() {
    let cfg: DataConfig = serde_json::from_str(
        r#"{"source": {"format": "image_folder", "root": "/data"}, "eval_fraction": 0.05}"#,
    )
    .unwrap();
    match &cfg.source {
        SourceConfig::ImageFolder {
            metadata,
            caption_column,
            ..
        } => {
            assert_eq!(metadata, "metadata.jsonl");
            assert_eq!(caption_column, "text");
        }
        other => panic!("wrong source {other:?}"),
    }
    assert_eq!(cfg.max_bad_fraction, 0.01);
    let bad = serde_json::from_str::<DataConfig>(
        r#"{"source": {"format": "jsonl", "file": "x.jsonl", "caption_colum": "p"}}"#,
    );
    assert!(bad.is_err(), "a misspelt key must be rejected");
}

#[test]
fn jsonl_records_with_journeydb_keys_and_separate_root() {
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("imgs");
    write_image(&imgs.join("000/1.png"), 12, 12, 1);
    write_image(&imgs.join("000/2.jpeg"), 20, 10, 2);
    let file = dir.path().join("meta/train.jsonl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    write_lines(
        &file,
        &[
            r#"{"img_path": "000/1.png", "prompt": "one", "aspect_ratio": "1:1"}"#,
            r#"{"img_path": "000/2.jpeg", "prompt": "two\nlines"}"#,
        ],
    );
    let src = SourceConfig::Jsonl {
        file: file.clone(),
        root: Some(imgs),
        path_key: "img_path".into(),
        caption_key: "prompt".into(),
    };
    let (records, report) = index(&src);
    assert!(report.bad.is_empty(), "{report}");
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].caption, "two\nlines");
    assert_eq!(records[1].origin.file, file);
    assert_eq!(records[1].origin.line, Some(2));
}

#[test]
fn caption_txt_files_beside_images() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_image(&root.join("x/cat.png"), 8, 8, 1);
    std::fs::write(root.join("x/cat.txt"), "\u{feff}a cat\n").unwrap();
    write_image(&root.join("dog.jpg"), 8, 8, 2);
    std::fs::write(root.join("dog.txt"), "a dog").unwrap();
    write_image(&root.join(".hidden.png"), 8, 8, 3);
    let src = SourceConfig::CaptionTxt {
        root: root.to_path_buf(),
        caption_extension: "txt".into(),
    };
    let (records, report) = index(&src);
    assert!(report.bad.is_empty(), "{report}");
    let got: Vec<_> = records
        .iter()
        .map(|r| (r.name.as_str(), r.caption.as_str()))
        .collect();
    assert_eq!(got, [("dog.jpg", "a dog"), ("x/cat.png", "a cat")]);
}

/// One metadata file exercising every kind of bad line.
#[test]
fn bad_metadata_lines_are_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    write_image(&root.join("ok.png"), 8, 8, 1);
    write_image(&root.join("ok2.png"), 8, 8, 2);
    std::fs::write(root.join("text.png"), "this is not an image").unwrap();
    write_image(&dir.path().join("outside.png"), 8, 8, 3);
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("outside.png"), root.join("link.png")).unwrap();
    let abs = dir.path().join("outside.png");
    let lines = [
        r#"{"file_name": "ok.png", "text": "fine"}"#.to_string(), // 1
        r#"{"file_name": "missing.png", "text": "x"}"#.to_string(), // 2
        r#"{"file_name": "text.png", "text": "x"}"#.to_string(),  // 3
        r#"{"file_name": "ok.png", "text": "again"}"#.to_string(), // 4 duplicate
        r#"{"file_name": "ok2.png", "text": "   "}"#.to_string(), // 5 empty caption
        r#"{"file_name": "ok2.png", "prompt": "no text column"}"#.to_string(), // 6
        r#"{"file_name": "../outside.png", "text": "x"}"#.to_string(), // 7
        format!(
            r#"{{"file_name": {:?}, "text": "x"}}"#,
            abs.display().to_string()
        ), // 8
        r#"{"file_name": "link.png", "text": "x"}"#.to_string(),  // 9
        r#"{"file_name": "ok2.png", "text": 5}"#.to_string(),     // 10 not a string
        "not json".to_string(),                                   // 11
        r#"{"text": "no file"}"#.to_string(),                     // 12
    ];
    let mut bytes = lines.join("\n").into_bytes();
    // 13: invalid UTF-8 inside the caption.
    bytes.extend_from_slice(b"\n{\"file_name\": \"ok2.png\", \"text\": \"caf\xe9\"}\n");
    let meta = root.join("metadata.jsonl");
    std::fs::write(&meta, bytes).unwrap();
    let src = SourceConfig::ImageFolder {
        root: root.clone(),
        metadata: "metadata.jsonl".into(),
        caption_column: "text".into(),
    };
    let (records, report) = index(&src);
    assert_eq!(records.len(), 1, "only line 1 is good: {report}");
    assert_eq!(report.total, 13);
    let bad = reasons_at(&report, &meta);
    let lines: Vec<_> = bad.iter().map(|(l, _)| l.unwrap()).collect();
    let mut expected: Vec<usize> = (2..=13).collect();
    if cfg!(not(unix)) {
        expected.retain(|&l| l != 9);
    }
    assert_eq!(lines, expected, "{report}");
    let reason = |line: usize| &bad.iter().find(|(l, _)| *l == Some(line)).unwrap().1;
    assert!(matches!(reason(2), BadReason::MissingFile { .. }));
    assert!(matches!(reason(3), BadReason::UnreadableImage { .. }));
    // The line names the metadata file, its line and the image file.
    let line3 = report
        .bad
        .iter()
        .find(|b| b.line == Some(3))
        .unwrap()
        .to_string();
    let BadReason::UnreadableImage { path, .. } = reason(3) else {
        unreachable!()
    };
    assert!(
        line3.contains("metadata.jsonl:3: unreadable image")
            && line3.contains(&path.display().to_string()),
        "{line3}"
    );
    assert!(matches!(reason(4), BadReason::DuplicateName { first, .. } if first == "line 1"));
    assert_eq!(reason(5), &BadReason::EmptyCaption);
    assert!(matches!(reason(6), BadReason::MissingCaptionColumn { column } if column == "text"));
    assert!(matches!(reason(7), BadReason::EscapesRoot { .. }));
    assert!(matches!(reason(8), BadReason::EscapesRoot { .. }));
    if cfg!(unix) {
        assert!(
            matches!(reason(9), BadReason::EscapesRoot { .. }),
            "{:?}",
            reason(9)
        );
    }
    assert!(matches!(reason(10), BadReason::MissingCaptionColumn { .. }));
    assert!(matches!(reason(11), BadReason::InvalidJson { .. }));
    assert!(matches!(reason(12), BadReason::MissingPathColumn { .. }));
    assert_eq!(reason(13), &BadReason::NonUtf8Caption);
    // The display names the file and the line.
    let text = report.to_string();
    assert!(
        text.contains(&format!("{}:6: no string caption column", meta.display())),
        "{text}"
    );
}

#[test]
fn bad_caption_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_image(&root.join("good.png"), 8, 8, 1);
    std::fs::write(root.join("good.txt"), "good").unwrap();
    write_image(&root.join("nocap.png"), 8, 8, 2);
    write_image(&root.join("empty.png"), 8, 8, 3);
    std::fs::write(root.join("empty.txt"), " \n").unwrap();
    write_image(&root.join("latin1.png"), 8, 8, 4);
    std::fs::write(root.join("latin1.txt"), b"caf\xe9").unwrap();
    write_image(&root.join("twin.jpg"), 8, 8, 5);
    write_image(&root.join("twin.png"), 8, 8, 5);
    std::fs::write(root.join("twin.txt"), "twins").unwrap();
    std::fs::write(root.join("fake.png"), "not a png").unwrap();
    std::fs::write(root.join("fake.txt"), "fake").unwrap();
    let src = SourceConfig::CaptionTxt {
        root: root.to_path_buf(),
        caption_extension: "txt".into(),
    };
    let (records, report) = index(&src);
    let names: Vec<_> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["good.png", "twin.jpg"], "{report}");
    assert_eq!(report.total, 7);
    let canon = root.canonicalize().unwrap();
    let reason = |f: &str| {
        report
            .bad
            .iter()
            .find(|b| b.file == root.join(f) || b.file == canon.join(f))
            .unwrap_or_else(|| panic!("{f} not reported: {report}"))
            .reason
            .clone()
    };
    assert!(matches!(
        reason("nocap.png"),
        BadReason::MissingCaption { .. }
    ));
    assert_eq!(reason("empty.png"), BadReason::EmptyCaption);
    assert_eq!(reason("latin1.png"), BadReason::NonUtf8Caption);
    assert!(matches!(
        reason("twin.png"),
        BadReason::DuplicateName { .. }
    ));
    assert!(matches!(
        reason("fake.png"),
        BadReason::UnreadableImage { .. }
    ));
}

#[test]
fn too_many_bad_records_stop_the_run_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut lines = Vec::new();
    for i in 0..8 {
        write_image(&root.join(format!("{i}.png")), 8, 8, i as u8);
        lines.push(format!(r#"{{"file_name": "{i}.png", "text": "img {i}"}}"#));
    }
    lines.push(r#"{"file_name": "gone.png", "text": "x"}"#.into());
    lines.push(r#"{"file_name": "0.png"}"#.into());
    std::fs::write(root.join("metadata.jsonl"), lines.join("\n")).unwrap();
    let mut cfg = DataConfig::new(SourceConfig::ImageFolder {
        root: root.to_path_buf(),
        metadata: "metadata.jsonl".into(),
        caption_column: "text".into(),
    });
    cfg.progress = ProgressMode::Silent;
    // 2 of 10 bad = 20% > default 1%.
    match cfg.open() {
        Err(DataError::TooManyBad { bad, total, .. }) => assert_eq!((bad, total), (2, 10)),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("20% bad records must stop the run at max 1%"),
    }
    let msg = cfg.open().err().unwrap().to_string();
    assert!(
        msg.contains("metadata.jsonl:9: image file not found"),
        "{msg}"
    );
    cfg.max_bad_fraction = 0.2;
    let opened = cfg.open().unwrap();
    assert_eq!(opened.train.records().len(), 8);
    assert_eq!(opened.report.bad.len(), 2);
}

#[test]
fn missing_metadata_and_csv_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let src = SourceConfig::ImageFolder {
        root: dir.path().to_path_buf(),
        metadata: "metadata.jsonl".into(),
        caption_column: "text".into(),
    };
    let err = src.index(ProgressMode::Silent).err().unwrap().to_string();
    assert!(err.contains("no metadata.jsonl"), "{err}");
    std::fs::write(dir.path().join("metadata.csv"), "file_name,text\n").unwrap();
    let err = src.index(ProgressMode::Silent).err().unwrap().to_string();
    assert!(err.contains("metadata.csv is not supported"), "{err}");
}
