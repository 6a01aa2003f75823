//! Crops, flips, resize, buckets, split, sampler and resume.

use crate::common;

use std::sync::Arc;

use adt_data::transform::{augment_rng, preprocess};
use adt_data::{
    BucketBatchSampler, BucketConfig, Buckets, CropMode, DataConfig, DataStream, FlipMode,
    Preprocess, ProgressMode, ResizeFilter, SamplerState, SourceConfig, is_held_out,
};
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use common::*;
use image::DynamicImage;

/// Pixel value → [-1, 1] as the transform does it.
fn unit(v: u8) -> f32 {
    v as f32 / 127.5 - 1.0
}

/// Tolerance for values that went through no resampling.
const EXACT: f32 = 1e-6;

#[test]
fn center_crop_without_resize_is_exact() {
    let img = pattern(12, 8, 9);
    let dynimg = DynamicImage::ImageRgb8(img.clone());
    let pre = Preprocess::default();
    let mut rng = augment_rng(0, 0, 0);
    let (t, applied) = preprocess(&dynimg, (8, 8), &pre, false, &mut rng);
    assert_eq!((t.width, t.height), (8, 8));
    assert_eq!(applied.crop_top_left, (0, 2));
    assert_eq!(applied.original_size, (12, 8));
    for y in 0..8 {
        for x in 0..8 {
            let p = img.get_pixel(x as u32 + 2, y as u32);
            for c in 0..3 {
                let got = t.data[c * 64 + y * 8 + x];
                assert!((got - unit(p[c])).abs() <= EXACT, "({x},{y},{c})");
            }
        }
    }
}

#[test]
fn flip_mirrors_and_random_crop_is_seeded() {
    let img = pattern(20, 8, 3);
    let dynimg = DynamicImage::ImageRgb8(img.clone());
    let pre = Preprocess {
        crop: CropMode::Random,
        flip: FlipMode::Random,
        filter: ResizeFilter::Lanczos3,
    };
    let (plain, a) = preprocess(&dynimg, (8, 8), &pre, false, &mut augment_rng(5, 1, 2));
    let (flipped, b) = preprocess(&dynimg, (8, 8), &pre, true, &mut augment_rng(5, 1, 2));
    assert_eq!(a.crop_top_left, b.crop_top_left, "same key, same crop");
    assert_eq!(flipped, plain.flipped());
    assert_ne!(flipped, plain);
    // The crop window is the stated one and its offset varies across epochs.
    let left = a.crop_top_left.1 as usize;
    for x in 0..8 {
        let p = img.get_pixel((left + x) as u32, 0);
        assert!((plain.data[x] - unit(p[0])).abs() <= EXACT);
    }
    let lefts: std::collections::BTreeSet<u32> = (0..20)
        .map(|e| {
            preprocess(&dynimg, (8, 8), &pre, false, &mut augment_rng(5, e, 2))
                .1
                .crop_top_left
                .1
        })
        .collect();
    assert!(lefts.len() > 3, "random crop offsets {lefts:?}");
    assert!(lefts.iter().all(|&l| l <= 12));
}

#[test]
fn resize_keeps_flat_colour_and_range() {
    let img = image::RgbImage::from_pixel(37, 23, image::Rgb([200, 10, 128]));
    let dynimg = DynamicImage::ImageRgb8(img);
    for filter in [
        ResizeFilter::Lanczos3,
        ResizeFilter::CatmullRom,
        ResizeFilter::Triangle,
    ] {
        let pre = Preprocess {
            filter,
            ..Preprocess::default()
        };
        let (t, _) = preprocess(&dynimg, (16, 16), &pre, false, &mut augment_rng(0, 0, 0));
        for (c, v) in [200u8, 10, 128].into_iter().enumerate() {
            for &x in &t.data[c * 256..(c + 1) * 256] {
                assert!((x - unit(v)).abs() <= 1.0 / 127.5 + EXACT, "{filter:?}");
            }
        }
    }
    // Upscaling a small image covers the target.
    let small = DynamicImage::ImageRgb8(pattern(4, 6, 0));
    let (t, _) = preprocess(
        &small,
        (16, 8),
        &Preprocess::default(),
        false,
        &mut augment_rng(0, 0, 0),
    );
    assert_eq!((t.width, t.height), (16, 8));
    assert!(t.data.iter().all(|v| (-1.0..=1.0).contains(v)));
}

#[test]
fn alpha_is_composited_on_white() {
    let img = image::RgbaImage::from_pixel(8, 8, image::Rgba([0, 0, 0, 0]));
    let (t, _) = preprocess(
        &DynamicImage::ImageRgba8(img),
        (8, 8),
        &Preprocess::default(),
        false,
        &mut augment_rng(0, 0, 0),
    );
    assert!(t.data.iter().all(|&v| (v - 1.0).abs() <= EXACT));
}

#[test]
fn bucket_list_matches_sdxl_style_rules() {
    let cfg = BucketConfig {
        resolution: 512,
        enabled: true,
        step: 64,
        max_aspect: 2.0,
    };
    let b = Buckets::new(&cfg).unwrap();
    assert_eq!(
        b.sizes(),
        [(384, 640), (448, 576), (512, 512), (576, 448), (640, 384)]
    );
    for &(w, h) in b.sizes() {
        assert!(w % 64 == 0 && h % 64 == 0 && w * h <= 512 * 512);
    }
    assert_eq!(b.size(b.assign(1920, 1080)), (640, 384));
    assert_eq!(b.size(b.assign(1000, 1000)), (512, 512));
    assert_eq!(b.size(b.assign(600, 800)), (448, 576));
    let off = Buckets::new(&BucketConfig::default()).unwrap();
    assert_eq!(off.sizes(), [(512, 512)]);
    assert!(
        Buckets::new(&BucketConfig {
            resolution: 500,
            ..cfg
        })
        .is_err()
    );
    assert!(
        Buckets::new(&BucketConfig {
            max_aspect: 0.5,
            ..cfg
        })
        .is_err()
    );
}

#[test]
fn held_out_split_is_stable_and_near_the_fraction() {
    let names: Vec<String> = (0..2000).map(|i| format!("img/{i:05}.png")).collect();
    let held: Vec<bool> = names.iter().map(|n| is_held_out(n, 0.1, 7)).collect();
    let count = held.iter().filter(|&&h| h).count();
    assert!(
        (150..=250).contains(&count),
        "{count} of 2000 held out at 10%"
    );
    // Stable under reordering: the decision depends on the name only.
    for (n, h) in names.iter().rev().zip(held.iter().rev()) {
        assert_eq!(is_held_out(n, 0.1, 7), *h);
    }
    assert!(names.iter().all(|n| !is_held_out(n, 0.0, 7)));
    assert!(names.iter().all(|n| is_held_out(n, 1.0, 7)));
}

#[test]
fn sampler_covers_each_index_once_per_epoch_and_resumes_exactly() {
    let bucket_of: Vec<usize> = (0..23).map(|i| i % 3).collect();
    let mut s = BucketBatchSampler::new(bucket_of.clone(), 4, false, 11).unwrap();
    let per_epoch = s.batches_per_epoch();
    let mut seen = [0; 23];
    for _ in 0..per_epoch {
        let (epoch, batch) = s.next_batch();
        assert_eq!(epoch, 0);
        let b0 = bucket_of[batch[0]];
        assert!(
            batch.iter().all(|&i| bucket_of[i] == b0),
            "one bucket per batch"
        );
        for i in batch {
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1));
    assert_eq!(s.next_batch().0, 1, "rolls into the next epoch");
    let e0 = s.epoch_plan(0);
    assert_ne!(e0, s.epoch_plan(1), "epochs are reshuffled");

    // Resume from a serialised state.
    let mut a = BucketBatchSampler::new(bucket_of.clone(), 4, true, 11).unwrap();
    for _ in 0..9 {
        a.next_batch();
    }
    let saved = serde_json::to_string(&a.state()).unwrap();
    let expected: Vec<_> = (0..15).map(|_| a.next_batch()).collect();
    let mut b = BucketBatchSampler::new(bucket_of, 4, true, 11).unwrap();
    b.restore(serde_json::from_str::<SamplerState>(&saved).unwrap());
    let got: Vec<_> = (0..15).map(|_| b.next_batch()).collect();
    assert_eq!(got, expected);
    assert!(
        got.iter().all(|(_, batch)| batch.len() == 4),
        "drop_last keeps full batches"
    );
}

fn bucketed_dataset(root: &std::path::Path) -> DataConfig {
    let mut lines = Vec::new();
    let sizes = [(32, 16), (16, 32), (24, 24), (40, 20), (20, 40), (30, 30)];
    for i in 0..18 {
        let (w, h) = sizes[i % sizes.len()];
        let name = format!("{i}.png");
        write_image(&root.join(&name), w, h, i as u8);
        lines.push(format!(r#"{{"file_name": "{name}", "text": "image {i}"}}"#));
    }
    std::fs::write(root.join("metadata.jsonl"), lines.join("\n")).unwrap();
    let mut cfg = DataConfig::new(SourceConfig::ImageFolder {
        root: root.to_path_buf(),
        metadata: "metadata.jsonl".into(),
        caption_column: "text".into(),
    });
    cfg.buckets = BucketConfig {
        resolution: 32,
        enabled: true,
        step: 8,
        max_aspect: 2.0,
    };
    cfg.preprocess = Preprocess {
        crop: CropMode::Random,
        flip: FlipMode::Random,
        filter: ResizeFilter::Lanczos3,
    };
    cfg.seed = 3;
    cfg.progress = ProgressMode::Silent;
    cfg
}

#[test]
fn bucketed_stream_gives_one_size_per_batch_and_resumes_at_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = bucketed_dataset(dir.path());
    let opened = cfg.open().unwrap();
    let ds = Arc::new(opened.train);
    assert_eq!(ds.buckets().sizes(), [(24, 40), (32, 32), (40, 24)]);
    for i in 0..ds.len() {
        let item = ds.get(i).unwrap();
        let r = &ds.records()[i];
        let (bw, bh) = ds.buckets().size(ds.bucket_of()[i]);
        assert_eq!(
            (item.image.width, item.image.height),
            (bw as usize, bh as usize)
        );
        assert_eq!(r.width > r.height, bw > bh, "{}", r.name);
    }
    let device = Device::flex();
    let mut a = DataStream::new(ds.clone(), 2, false, 2).unwrap();
    let mut flips = 0;
    for _ in 0..5 {
        let batch = a.next_batch(&device).unwrap();
        let dims = batch.pixels.dims();
        assert_eq!(dims[0], batch.captions.len());
        assert_eq!(dims[1], 3);
        flips += batch.applied.iter().filter(|x| x.flipped).count();
    }
    let state = a.state();
    let expected: Vec<_> = (0..12).map(|_| a.next_items().unwrap()).collect();
    assert!(a.state().epoch >= 1, "the run crossed an epoch boundary");

    let ds2 = Arc::new(cfg.open().unwrap().train);
    let mut b = DataStream::new(ds2, 2, false, 1).unwrap();
    b.restore(state);
    for want in expected {
        let got = b.next_items().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.index, w.index);
            assert_eq!(g.caption, w.caption);
            assert_eq!(g.applied, w.applied);
            assert_eq!(g.image, w.image, "same pixels after resume");
        }
    }
    let total_flips = flips;
    assert!(
        total_flips > 0 && total_flips < 10,
        "random flips happen sometimes: {total_flips}"
    );
}

#[test]
fn truncated_images_are_skipped_at_load_time_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut lines = Vec::new();
    for i in 0..4 {
        write_image(&root.join(format!("{i}.png")), 16, 16, i as u8);
        lines.push(format!(
            r#"{{"file_name": "{i}.png", "text": "image {i}"}}"#
        ));
    }
    write_truncated_png(&root.join("cut.png"), 64, 64);
    lines.insert(1, r#"{"file_name": "cut.png", "text": "cut"}"#.into());
    std::fs::write(root.join("metadata.jsonl"), lines.join("\n")).unwrap();
    let mut cfg = DataConfig::new(SourceConfig::ImageFolder {
        root: root.to_path_buf(),
        metadata: "metadata.jsonl".into(),
        caption_column: "text".into(),
    });
    cfg.buckets.resolution = 16;
    cfg.progress = ProgressMode::Silent;
    let ds = cfg.open().unwrap().train;
    assert_eq!(ds.len(), 5, "the header of the truncated file reads fine");
    let item = ds.get(1).unwrap();
    assert_eq!(item.requested_index, 1);
    assert_eq!(item.index, 2, "substituted by the next record");
    assert_eq!(item.caption, "image 1");
    let again = ds.get(1).unwrap();
    assert_eq!(again.index, 2);
    assert_eq!(again.image, item.image);
    let report = ds.runtime_report();
    assert_eq!(report.bad.len(), 1);
    assert_eq!(report.bad[0].line, Some(2));
    assert!(
        report
            .to_string()
            .contains("metadata.jsonl:2: image fails to decode"),
        "{report}"
    );
}

#[test]
fn truncated_jpeg_is_reported_at_index_or_load_time() {
    // Whether the cut lands in the header (caught when indexing) or in the
    // scan data (caught when decoding), the record is reported and skipped.
    for (size, keep) in [(64, 0.5), (256, 0.6)] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_truncated_jpeg(&root.join("cut.jpg"), size, size, keep);
        write_image(&root.join("ok.jpg"), 16, 16, 1);
        std::fs::write(
            root.join("metadata.jsonl"),
            "{\"file_name\": \"cut.jpg\", \"text\": \"cut\"}\n{\"file_name\": \"ok.jpg\", \"text\": \"ok\"}\n",
        )
        .unwrap();
        let mut cfg = DataConfig::new(SourceConfig::ImageFolder {
            root: root.to_path_buf(),
            metadata: "metadata.jsonl".into(),
            caption_column: "text".into(),
        });
        cfg.buckets.resolution = 16;
        cfg.max_bad_fraction = 0.5;
        cfg.progress = ProgressMode::Silent;
        let opened = cfg.open().unwrap();
        let ds = opened.train;
        let items: Vec<_> = (0..ds.len()).map(|i| ds.get(i).unwrap()).collect();
        assert!(items.iter().all(|it| it.caption == "ok"), "size {size}");
        let reported = opened.report.bad.len() + ds.runtime_report().bad.len();
        assert_eq!(reported, 1, "size {size}");
    }
}
