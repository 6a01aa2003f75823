//! The latent cache: reuse, invalidation by every setting, interrupted
//! builds, the flip policy and stored values.

use crate::common;

use std::cell::Cell;
use std::path::Path;

use adt_data::cache::BoxError;
use adt_data::{
    Arrays, BucketConfig, CacheEncoder, CacheKey, CacheOptions, CachedArray, CachedDataset,
    CropMode, DataConfig, DataError, FlipMode, ImageCaptionDataset, ImageTensor, LatentCache,
    Preprocess, ProgressMode, ResizeFilter, SourceConfig, StorageDtype, stack_arrays,
};
use common::*;

/// A stand-in for a VAE + text encoder: 4×4 block means per channel, and a
/// caption's length and byte sum. Counts what it encodes.
#[derive(Default)]
struct FakeEncoder {
    images: Cell<usize>,
    captions: Cell<usize>,
    /// Fail on the call that would push `images` past this.
    fail_after_images: Option<usize>,
}

fn fake_latent(img: &ImageTensor) -> CachedArray {
    let (h, w) = (img.height / 4, img.width / 4);
    let mut data = vec![0f32; 3 * h * w];
    for c in 0..3 {
        for y in 0..img.height {
            for x in 0..img.width {
                let v = img.data[c * img.height * img.width + y * img.width + x];
                data[c * h * w + (y / 4) * w + x / 4] += v / 16.0;
            }
        }
    }
    CachedArray {
        shape: vec![3, h, w],
        data,
    }
}

fn fake_text(caption: &str) -> CachedArray {
    let sum: u32 = caption.bytes().map(u32::from).sum();
    CachedArray {
        shape: vec![2],
        data: vec![caption.len() as f32, sum as f32],
    }
}

impl CacheEncoder for FakeEncoder {
    fn encode_images(&mut self, images: &[ImageTensor]) -> Result<Vec<Arrays>, BoxError> {
        let n = self.images.get() + images.len();
        if self.fail_after_images.is_some_and(|limit| n > limit) {
            return Err("simulated crash".into());
        }
        self.images.set(n);
        Ok(images
            .iter()
            .map(|img| Arrays::from([("latent".to_string(), fake_latent(img))]))
            .collect())
    }
    fn encode_captions(&mut self, captions: &[String]) -> Result<Vec<Arrays>, BoxError> {
        self.captions.set(self.captions.get() + captions.len());
        Ok(captions
            .iter()
            .map(|c| Arrays::from([("hidden".to_string(), fake_text(c))]))
            .collect())
    }
}

fn write_dataset(root: &Path, n: usize) {
    let mut lines = Vec::new();
    for i in 0..n {
        let (w, h) = if i % 3 == 0 { (32, 16) } else { (20, 20) };
        write_image(&root.join(format!("{i}.png")), w, h, (i * 9) as u8);
        lines.push(format!(
            r#"{{"file_name": "{i}.png", "text": "caption number {i}"}}"#
        ));
    }
    std::fs::write(root.join("metadata.jsonl"), lines.join("\n")).unwrap();
}

fn config(root: &Path) -> DataConfig {
    let mut cfg = DataConfig::new(SourceConfig::ImageFolder {
        root: root.to_path_buf(),
        metadata: "metadata.jsonl".into(),
        caption_column: "text".into(),
    });
    cfg.buckets = BucketConfig {
        resolution: 16,
        enabled: false,
        step: 8,
        max_aspect: 2.0,
    };
    cfg.progress = ProgressMode::Silent;
    cfg
}

fn options(dir: &Path) -> CacheOptions {
    CacheOptions {
        dir: dir.to_path_buf(),
        shard_size: 4,
        encode_batch_size: 3,
        progress: ProgressMode::Silent,
    }
}

fn key(ds: &ImageCaptionDataset) -> CacheKey {
    CacheKey::for_dataset(ds, "model-sha256-aaaa", "f32", StorageDtype::F32)
}

/// Builds (or reuses) a cache; returns what was encoded.
fn build(opts: &CacheOptions, key: &CacheKey, ds: &ImageCaptionDataset) -> (LatentCache, usize) {
    let mut enc = FakeEncoder::default();
    let (cache, stats) = LatentCache::open_or_build(opts, key, ds, &mut enc).unwrap();
    assert_eq!(stats.reused, enc.images.get() == 0);
    (cache, enc.images.get())
}

#[test]
fn second_run_reuses_the_cache_and_values_match_the_encoder() {
    let data = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    write_dataset(data.path(), 10);
    let ds = config(data.path()).open().unwrap().train;
    let opts = options(cache_dir.path());
    let key = key(&ds);
    let (cache, encoded) = build(&opts, &key, &ds);
    assert_eq!(encoded, 10);
    assert_eq!(cache.len(), 10);
    let shards = std::fs::read_dir(cache.dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".safetensors")
        })
        .count();
    assert_eq!(shards, 3, "10 records in shards of 4");
    for i in 0..10 {
        let item = ds.load(i, 0).unwrap();
        let sample = cache.load(i, false).unwrap();
        assert_eq!(sample.image["latent"], fake_latent(&item.image));
        assert_eq!(sample.text["hidden"], fake_text(&item.caption));
    }
    // A second run (a fresh process would do the same) encodes nothing.
    let ds2 = config(data.path()).open().unwrap().train;
    let (cache2, encoded2) = build(
        &opts,
        &CacheKey::for_dataset(&ds2, "model-sha256-aaaa", "f32", StorageDtype::F32),
        &ds2,
    );
    assert_eq!(encoded2, 0);
    assert_eq!(cache2.dir(), cache.dir());
    assert_eq!(
        cache2.load(7, false).unwrap(),
        cache.load(7, false).unwrap()
    );
    // Stacked for a batch.
    let a = cache2.load(1, false).unwrap();
    let b = cache2.load(2, false).unwrap();
    let stacked = stack_arrays(&[&a.image["latent"], &b.image["latent"]]).unwrap();
    assert_eq!(stacked.shape().as_slice(), [2, 3, 4, 4]);
}

#[test]
fn every_setting_invalidates_the_key() {
    let data = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    write_dataset(data.path(), 4);
    let base_cfg = config(data.path());
    let ds = base_cfg.open().unwrap().train;
    let opts = options(cache_dir.path());
    let base = key(&ds);
    let (_, n) = build(&opts, &base, &ds);
    assert_eq!(n, 4);

    let mut digests = vec![base.digest()];
    let mut check = |what: &str, cfg: &DataConfig, f: &dyn Fn(CacheKey) -> CacheKey| {
        let ds = cfg.open().unwrap().train;
        let k = f(key(&ds));
        assert!(
            !digests.contains(&k.digest()),
            "{what} did not change the key"
        );
        digests.push(k.digest());
        assert!(
            LatentCache::open(cache_dir.path(), &k).unwrap().is_none(),
            "{what}"
        );
        let (_, n) = build(&opts, &k, &ds);
        assert!(n > 0, "{what} reused a stale cache");
    };
    let same = |k: CacheKey| k;
    check("model hash", &base_cfg, &|mut k| {
        k.model_hash = "model-sha256-bbbb".into();
        k
    });
    check("dtype", &base_cfg, &|mut k| {
        k.dtype = "f16".into();
        k
    });
    check("storage dtype", &base_cfg, &|mut k| {
        k.storage = StorageDtype::F16;
        k
    });
    check("extra", &base_cfg, &|k| {
        k.with_extra("vae_scaling_factor", "0.18215")
    });
    let mut c = base_cfg.clone();
    c.buckets.resolution = 24;
    check("resolution", &c, &same);
    let mut c = base_cfg.clone();
    c.buckets.enabled = true;
    c.buckets.max_aspect = 3.0;
    check("bucketing", &c, &same);
    let mut c = base_cfg.clone();
    c.preprocess.filter = ResizeFilter::CatmullRom;
    check("filter", &c, &same);
    let mut c = base_cfg.clone();
    c.preprocess.flip = FlipMode::Random;
    check("flip", &c, &same);
    // Dataset changes: a caption, then an image's content.
    let meta = data.path().join("metadata.jsonl");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("caption number 2", "a new caption")).unwrap();
    check("caption", &base_cfg, &same);
    write_image(&data.path().join("3.png"), 40, 20, 200);
    check("image file", &base_cfg, &same);
}

#[test]
fn random_crop_cannot_be_cached_and_keys_must_match_the_dataset() {
    let data = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    write_dataset(data.path(), 3);
    let mut cfg = config(data.path());
    cfg.preprocess.crop = CropMode::Random;
    let ds = cfg.open().unwrap().train;
    let mut enc = FakeEncoder::default();
    let err = LatentCache::open_or_build(&options(cache_dir.path()), &key(&ds), &ds, &mut enc)
        .err()
        .unwrap();
    assert!(
        matches!(&err, DataError::Config(m) if m.contains("random crops")),
        "{err}"
    );
    let ds_center = config(data.path()).open().unwrap().train;
    let mut wrong = key(&ds_center);
    wrong.dataset = "something else".into();
    let err = LatentCache::open_or_build(&options(cache_dir.path()), &wrong, &ds_center, &mut enc)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("does not describe this dataset"),
        "{err}"
    );
    assert_eq!(enc.images.get(), 0);
}

#[test]
fn interrupted_build_is_not_used_and_resumes_at_the_missing_shards() {
    let data = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    write_dataset(data.path(), 10);
    let ds = config(data.path()).open().unwrap().train;
    let opts = options(cache_dir.path());
    let key = key(&ds);
    let mut crashing = FakeEncoder {
        fail_after_images: Some(6),
        ..FakeEncoder::default()
    };
    let err = LatentCache::open_or_build(&opts, &key, &ds, &mut crashing)
        .err()
        .unwrap();
    assert!(matches!(err, DataError::Encoder(_)), "{err}");
    assert!(
        LatentCache::open(&opts.dir, &key).unwrap().is_none(),
        "no manifest, no cache"
    );
    let mut enc = FakeEncoder::default();
    let (cache, stats) = LatentCache::open_or_build(&opts, &key, &ds, &mut enc).unwrap();
    assert_eq!((stats.shards_reused, stats.shards_built), (1, 2));
    assert_eq!(
        enc.images.get(),
        6,
        "only the two missing shards were encoded"
    );
    for i in 0..10 {
        let item = ds.load(i, 0).unwrap();
        assert_eq!(
            cache.load(i, false).unwrap().image["latent"],
            fake_latent(&item.image)
        );
    }
}

#[test]
fn random_flip_caches_both_variants_and_replays_the_dataset_draw() {
    let data = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    write_dataset(data.path(), 6);
    let mut cfg = config(data.path());
    cfg.preprocess = Preprocess {
        crop: CropMode::Center,
        flip: FlipMode::Random,
        filter: ResizeFilter::Lanczos3,
    };
    cfg.seed = 9;
    let ds = cfg.open().unwrap().train;
    let opts = options(cache_dir.path());
    let mut enc = FakeEncoder::default();
    let (cache, _) = LatentCache::open_or_build(&opts, &key(&ds), &ds, &mut enc).unwrap();
    assert!(cache.has_flipped());
    assert_eq!(enc.images.get(), 12, "plain and flipped per record");
    assert_eq!(enc.captions.get(), 6, "captions once per record");
    let cached = CachedDataset::new(cache, &ds).unwrap();
    let mut flips = 0;
    for epoch in 0..4 {
        for i in 0..6 {
            let live = ds.load(i, epoch).unwrap();
            let c = cached.load(i, epoch).unwrap();
            assert_eq!(c.flipped, live.applied.flipped);
            assert_eq!(
                c.image["latent"],
                fake_latent(&live.image),
                "epoch {epoch} index {i}"
            );
            assert_eq!(c.caption, live.caption);
            flips += c.flipped as usize;
        }
    }
    assert!(flips > 0 && flips < 24, "{flips}");
}

#[test]
fn half_precision_storage_round_trips_within_its_precision() {
    let data = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    write_dataset(data.path(), 3);
    let ds = config(data.path()).open().unwrap().train;
    for (storage, tol) in [(StorageDtype::F16, 1e-3f32), (StorageDtype::Bf16, 8e-3)] {
        let key = CacheKey::for_dataset(&ds, "m", "f32", storage);
        let (cache, _) = build(&options(cache_dir.path()), &key, &ds);
        for i in 0..3 {
            let want = fake_latent(&ds.load(i, 0).unwrap().image);
            let got = &cache.load(i, false).unwrap().image["latent"];
            assert_eq!(got.shape, want.shape);
            let err = got
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err <= tol, "{storage:?}: max-abs {err}");
        }
    }
}

#[test]
fn undecodable_image_is_substituted_in_the_cache_too() {
    let data = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    write_dataset(data.path(), 4);
    write_truncated_png(&data.path().join("1.png"), 64, 64);
    let ds = config(data.path()).open().unwrap().train;
    let (cache, _) = build(&options(cache_dir.path()), &key(&ds), &ds);
    let s = cache.load(1, false).unwrap();
    assert_eq!(s.source_index, 2);
    assert_eq!(s.text["hidden"], fake_text("caption number 2"));
    let ds2 = config(data.path()).open().unwrap().train;
    let cached = CachedDataset::new(
        LatentCache::open(cache_dir.path(), &key(&ds2))
            .unwrap()
            .unwrap(),
        &ds2,
    )
    .unwrap();
    let item = cached.load(1, 0).unwrap();
    assert_eq!((item.index, item.caption.as_str()), (2, "caption number 2"));
}
