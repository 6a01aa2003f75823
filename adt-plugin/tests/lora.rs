//! `[adt.lora]`: only the adapters train, the base weights stay bit-identical, the
//! optimizer state shrinks to the adapters', resume stays exact, and bad settings are named.

use adt_plugin::checkpoint::files;
use adt_plugin::lora::{LoraConfig, adapters};
use adt_plugin::toy::{ToyParts, ToySizes};
use adt_plugin::{AdtConfig, AdtError};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::common::{bits, config, run_with};
use crate::resume::assert_resume_is_exact;

fn lora(rank: usize, targets: &[&str]) -> LoraConfig {
    LoraConfig {
        rank,
        alpha: Some(2.0 * rank as f64),
        targets: targets.iter().map(|s| s.to_string()).collect(),
    }
}

fn with_lora(l: LoraConfig) -> AdtConfig {
    AdtConfig {
        lora: Some(l),
        ..config()
    }
}

/// The module's parameters without the adapter factors, by visiting order.
struct BaseBits(Vec<Vec<u32>>, Vec<String>, Vec<String>);
impl ModuleVisitor for BaseBits {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.1.push(name.into());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.1.pop();
    }
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let path = self.1.join(".");
        if path.contains(".lora.") {
            return;
        }
        self.2.push(path);
        self.0.push(
            p.val()
                .into_data()
                .iter::<f32>()
                .map(f32::to_bits)
                .collect(),
        );
    }
}

fn base_bits<M: Module>(m: &M) -> (Vec<Vec<u32>>, Vec<String>) {
    let mut v = BaseBits(Vec::new(), Vec::new(), Vec::new());
    m.visit(&mut v);
    (v.0, v.2)
}

#[test]
fn only_the_adapters_train_and_the_optimizer_holds_only_theirs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Device::flex().autodiff();
    let base = ToyParts::new(ToySizes::default(), 3, &d).generator;
    let cfg = with_lora(lora(2, &["time_proj", "cond_proj"]));
    let report = run_with(cfg, &tmp.path().join("lora"), None, false);
    let g = &report.model.generator;

    // Base weights untouched: the generator's own tensors (factors aside) are the base's.
    let (tuned, paths) = base_bits(g);
    assert_eq!(tuned, bits(&base), "a base weight moved ({paths:?})");
    // Two adapters, both trained (B starts at zero).
    let ad = adapters(g);
    let names: Vec<&str> = ad.iter().map(|a| a.weight.as_str()).collect();
    assert_eq!(names, ["time_proj.weight", "cond_proj.weight"]);
    for a in &ad {
        let b_max = a.b.iter::<f32>().map(f32::abs).fold(0.0, f32::max);
        assert!(b_max > 0.0, "{}: B did not train", a.weight);
        assert_eq!(a.a.shape()[1], 2);
    }
    // The effective weight is base + (α/r)·A·B.
    let eff = g.time_proj.weight.val().into_data();
    let delta = Tensor::<2>::from_data(ad[0].a.clone(), &Device::flex())
        .matmul(Tensor::from_data(ad[0].b.clone(), &Device::flex()))
        .mul_scalar(2.0);
    let expect = (base.time_proj.weight.val().inner() + delta).into_data();
    eff.assert_approx_eq::<f32>(&expect, burn::tensor::Tolerance::absolute(1e-6));

    // The generator's optimizer state is the adapters' only: far smaller than full tuning's.
    let full = run_with(config(), &tmp.path().join("full"), None, false);
    let size = |r: &std::path::Path| {
        std::fs::metadata(r.join("checkpoints/step-6").join(files::OPTIM_G))
            .unwrap()
            .len()
    };
    let (l, f) = (size(&report.run_dir), size(&full.run_dir));
    assert!(l * 4 < f, "LoRA optimizer state {l} B vs full {f} B");
}

#[test]
fn a_lora_run_resumes_bit_exactly() {
    // At the default EMA decay: the EMA must leave the frozen base weights alone (blending
    // them drifts in f32, and the adapter checkpoints do not hold them).
    assert_resume_is_exact(AdtConfig {
        ema_decay: 0.999,
        ..with_lora(lora(2, &["time_proj", "cond_proj"]))
    });
}

#[test]
fn targets_match_module_names_not_enum_variants_or_parents() {
    let l = lora(4, &["proj_in", "to_q"]);
    let path = "unet.mid_block.attentions.0.proj_in.Linear.weight";
    assert_eq!(l.target_of(path), Some("proj_in"));
    assert_eq!(
        l.target_of("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"),
        Some("to_q")
    );
    assert_eq!(l.target_of("unet.x.attn1.to_q.bias"), None);
    let parent = lora(4, &["attn1"]);
    assert_eq!(parent.target_of("unet.x.attn1.to_q.weight"), None);
}

#[test]
fn lora_init_follows_the_seed() {
    let d = Device::flex().autodiff();
    let make = |seed| {
        let cfg = AdtConfig {
            seed,
            ..with_lora(lora(2, &["time_proj"]))
        };
        let m = ToyParts::new(ToySizes::default(), 3, &d)
            .model(cfg, &d)
            .unwrap();
        adapters(&m.generator)[0].a.clone()
    };
    assert_eq!(make(1), make(1));
    assert_ne!(make(1), make(2));
}

fn model_error(l: LoraConfig) -> String {
    let d = Device::flex().autodiff();
    let err: AdtError = ToyParts::new(ToySizes::default(), 3, &d)
        .model(with_lora(l), &d)
        .unwrap_err();
    err.to_string()
}

#[test]
fn bad_lora_settings_are_named() {
    let e = model_error(lora(0, &["time_proj"]));
    assert!(e.contains("lora.rank") && e.contains(">= 1"), "{e}");
    let e = model_error(lora(1000, &["time_proj"]));
    assert!(
        e.contains("lora.rank") && e.contains("time_proj.weight") && e.contains("at most"),
        "{e}"
    );
    let e = model_error(lora(2, &["to_q", "to_k"]));
    assert!(
        e.contains("lora.targets") && e.contains("to_q") && e.contains("time_proj.weight"),
        "{e}"
    );
    // One target of several matching nothing is named too.
    let e = model_error(lora(2, &["time_proj", "tmie_proj"]));
    assert!(
        e.contains("tmie_proj") && !e.contains("\"time_proj\""),
        "{e}"
    );
    // A convolution is not a LoRA target (burn adapts 2-D weights).
    let e = model_error(lora(2, &["conv_in"]));
    assert!(
        e.contains("convolution") && e.contains("conv_in.weight"),
        "{e}"
    );
    let e = model_error(LoraConfig {
        alpha: Some(-1.0),
        ..lora(2, &["time_proj"])
    });
    assert!(e.contains("lora.alpha"), "{e}");
    // Unknown keys of the section are refused by name.
    let e = AdtConfig::from_toml_str("[lora]\nrank = 4\nrnak = 2\n").unwrap_err();
    assert!(e.to_string().contains("rnak"), "{e}");
    let c = AdtConfig::from_toml_str("[lora]\nrank = 4\n").unwrap();
    let l = c.lora.unwrap();
    assert_eq!((l.alpha(), l.targets.len()), (4.0, 4));
}
