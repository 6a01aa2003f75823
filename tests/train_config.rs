//! The run config: the shipped example configs parse, and `--set` overrides reach nested
//! keys while a partial `[adt]` table keeps the defaults it does not name.

use std::path::Path;

use adt::plugin::AdtConfig;
use adt::train::{TrainConfig, apply_override, merge};

#[test]
fn shipped_example_configs_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configs");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            let c = TrainConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{e:#}"));
            assert!(c.out.is_absolute(), "out not resolved against the file");
            n += 1;
        }
    }
    assert!(n > 0, "no example configs in {}", dir.display());
}

#[test]
fn overrides_set_nested_values_and_keep_defaults() {
    let mut t: toml::Table = toml::from_str("[adt]\nk = 1\n[adt.g_optim]\nlr = 1e-5\n").unwrap();
    apply_override(&mut t, "adt.k=2").unwrap();
    apply_override(&mut t, "adt.sampler=euler").unwrap();
    apply_override(&mut t, "validation.prompts=[\"a\", \"b\"]").unwrap();
    assert_eq!(t["adt"]["k"].as_integer(), Some(2));
    assert_eq!(t["adt"]["sampler"].as_str(), Some("euler"));
    assert_eq!(t["validation"]["prompts"].as_array().unwrap().len(), 2);
    let mut adt = toml::Table::try_from(AdtConfig::default()).unwrap();
    merge(&mut adt, t["adt"].as_table().unwrap().clone());
    let cfg: AdtConfig = toml::Value::Table(adt).try_into().unwrap();
    assert_eq!(cfg.g_optim.lr, 1e-5);
    assert_eq!(cfg.g_optim.beta2, AdtConfig::default().g_optim.beta2);
    assert!(
        apply_override(&mut t, "adt.k.x=1")
            .unwrap_err()
            .to_string()
            .contains("not a table")
    );
    assert!(apply_override(&mut t, "novalue").is_err());
}
