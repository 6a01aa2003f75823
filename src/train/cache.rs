//! `[cache]`: VAE latents and prompt embeddings (the conditioner's `encode_text`: hidden
//! states and, where the family has one, the pooled embedding) computed once, stored in
//! shards, and fed to the engine instead of encoding every batch. The key holds the family,
//! a hash of the VAE's and the text encoders' weights plus everything `adt_data::CacheKey`
//! covers (dataset, buckets, preprocessing, dtype), so a changed model or setting never
//! reuses a stale cache. Micro-conditioning is not cached: it comes with every batch.

use std::sync::Arc;

use adt_data::{
    Arrays, CacheKey, CacheOptions, CachedArray, CachedDataset, FnEncoder, ImageCaptionDataset,
    LatentCache, StorageDtype,
};
use adt_family::Family;
use adt_plugin::traits::{Codec, Conditioner};
use anyhow::{Context, Result};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use sha2::{Digest, Sha256};

/// Cache array names of the prompt embeddings (`TextEmbedding::hidden`, `::pooled`).
pub const TEXT: &str = "text";
pub const POOLED: &str = "pooled";

/// SHA-256 over every float parameter of `m` (visit order, f32 little-endian bytes).
pub fn module_hash<M: Module>(m: &M) -> String {
    struct H(Sha256);
    impl ModuleVisitor for H {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let data = p.val().into_data().convert::<f32>();
            for d in data.shape().iter() {
                self.0.update((*d as u64).to_le_bytes());
            }
            self.0.update(data.as_bytes());
        }
    }
    let mut h = H(Sha256::new());
    m.visit(&mut h);
    h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Open the cache for `dataset`, encoding what is missing (with a progress bar).
pub fn open_cache<F: Family>(
    opts: &CacheOptions,
    dataset: &ImageCaptionDataset,
    codec: &F::Codec,
    conditioner: &F::Conditioner,
    device: &Device,
) -> Result<Arc<CachedDataset>> {
    let model_hash = format!(
        "vae:{} text:{}",
        module_hash(codec),
        module_hash(conditioner)
    );
    let key = CacheKey::for_dataset(dataset, model_hash, "f32", StorageDtype::F32)
        .with_extra("latents", "scaled posterior mean")
        .with_extra(
            "text",
            format!(
                "{} encode_text: hidden (+ pooled){}",
                F::NAME,
                conditioner.encoding_settings()
            ),
        );
    let mut encoder = FnEncoder {
        images: |images: &[adt_data::ImageTensor]| {
            let rows: Vec<Tensor<4>> = images
                .iter()
                .map(|im| {
                    Tensor::<3>::from_data(
                        TensorData::new(im.data.clone(), [3, im.height, im.width]),
                        device,
                    )
                    .unsqueeze()
                })
                .collect();
            let z = codec.encode(Tensor::cat(rows, 0));
            Ok(split(z.into_data(), "latent"))
        },
        captions: |captions: &[String]| {
            let text = conditioner.encode_text(captions, device);
            let mut rows = split(text.hidden.into_data(), TEXT);
            if let Some(pooled) = text.pooled {
                for (row, p) in rows.iter_mut().zip(split(pooled.into_data(), POOLED)) {
                    row.extend(p);
                }
            }
            Ok(rows)
        },
    };
    let (cache, stats) = LatentCache::open_or_build(opts, &key, dataset, &mut encoder)
        .context("[cache] building the latent/text cache")?;
    eprintln!("cache {}: {stats:?}", cache.dir().display());
    Ok(Arc::new(
        CachedDataset::new(cache, dataset).context("[cache] opening")?,
    ))
}

/// `[B, ...]` → one `Arrays` per row under `name`.
fn split(data: TensorData, name: &str) -> Vec<Arrays> {
    let shape = data.shape().to_vec();
    let row: usize = shape[1..].iter().product();
    let values = data.convert::<f32>().try_into_vec::<f32>().expect("f32");
    values
        .chunks(row)
        .map(|chunk| {
            Arrays::from([(
                name.to_string(),
                CachedArray {
                    shape: shape[1..].to_vec(),
                    data: chunk.to_vec(),
                },
            )])
        })
        .collect()
}
