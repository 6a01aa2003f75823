//! The README's example config parses into the real config types.

use adt_data::{CacheOptions, DataConfig, FlipMode, SourceConfig};

#[derive(serde::Deserialize)]
struct RunConfig {
    data: DataConfig,
    cache: CacheOptions,
}

#[test]
fn readme_example_parses() {
    let readme = include_str!("../README.md");
    let start = readme.find("## Example: SD1.5").expect("example section");
    let rest = &readme[start..];
    let open = rest.find("```toml\n").expect("toml block") + "```toml\n".len();
    let close = rest[open..].find("```").expect("closing fence");
    let cfg: RunConfig = toml::from_str(&rest[open..open + close]).unwrap();
    assert!(
        matches!(cfg.data.source, SourceConfig::Jsonl { ref path_key, .. } if path_key == "img_path")
    );
    assert_eq!(cfg.data.preprocess.flip, FlipMode::Random);
    assert!(cfg.data.buckets.enabled);
    assert_eq!(cfg.cache.shard_size, 256);
    let buckets = adt_data::Buckets::new(&cfg.data.buckets).unwrap();
    assert_eq!(
        buckets.sizes(),
        [(384, 640), (448, 576), (512, 512), (576, 448), (640, 384)]
    );
}
