//! LoRA end to end on the tiny SD1.5 pipeline (`scripts/fixtures/lora.py`):
//! - `adt sample --lora` with a diffusers/PEFT file (α ≠ r, scale 0.7 and 1) and its kohya
//!   conversion reproduces diffusers' pipeline with `load_lora_weights` for the same noise;
//! - `adt train` with `[adt.lora]` → `adt export --lora` (both layouts) and `--merge-lora` →
//!   `adt sample`: the LoRA file and the merged weights sample alike, and unlike the base;
//! - bad input is named: a file that is no LoRA, layers that match no module, a full run
//!   exported with `--lora`, a LoRA run exported without it.

use std::path::Path;

use adt::models::common::tensor_io::{read_tensors, write_tensors};
use adt::models::common::testing::max_abs_diff;
use burn::tensor::TensorData;

use crate::cli_train::{adt, config_for, dataset, root, run};
use crate::sdxl::sample_matches;

fn fixtures() -> std::path::PathBuf {
    root().join("adt-models/sd15/tests/fixtures")
}

const DDIM: [&str; 10] = [
    "--sampler",
    "ddim",
    "--steps",
    "4",
    "--cfg",
    "7.5",
    "--width",
    "32",
    "--height",
    "32",
];

/// `adt sample` with `lora` (and extra args) against the fixture's diffusers outputs `case`.
fn sample_with_lora_matches(case: &str, lora: &Path, extra: &[&str]) {
    let io = read_tensors(&fixtures().join("lora_io.safetensors")).unwrap();
    let model = fixtures().join("tiny_sd15");
    let lora = lora.display().to_string();
    for (row, prompt, negative) in [
        (0, "a red circle on a blue background", "blurry"),
        (1, "Two small green SQUARES, top left!", ""),
    ] {
        let mut args = vec!["--negative", negative, "--lora", &lora];
        args.extend(DDIM);
        args.extend(extra);
        sample_matches(case, &model, &io, case, row..row + 1, &[prompt], &args);
    }
}

#[test]
fn sample_with_a_lora_reproduces_diffusers_load_lora_weights() {
    let peft = fixtures().join("lora_peft");
    sample_with_lora_matches("peft_s0.7", &peft, &["--lora-scale", "0.7"]);
    sample_with_lora_matches(
        "peft_s1.0",
        &peft.join("pytorch_lora_weights.safetensors"),
        &[],
    );
    sample_with_lora_matches("kohya", &fixtures().join("lora_kohya.safetensors"), &[]);
    // 1×1-convolution factors on proj_in / proj_out (SD1.x's conv projections).
    let conv = fixtures().join("lora_kohya_conv.safetensors");
    sample_with_lora_matches("kohya_conv", &conv, &[]);
}

fn sample_latents(dir: &Path, out: &str, extra: &[&str]) -> TensorData {
    let mut cmd = adt();
    cmd.args(["sample", "a red disc", "--model"])
        .arg(fixtures().join("tiny_sd15"))
        .args([
            "--steps", "2", "--cfg", "3", "--width", "32", "--height", "32",
        ])
        .args(["--save-latents", "--out"])
        .arg(dir.join(out))
        .args(extra);
    run(&mut cmd);
    read_tensors(&dir.join(out).join("latents.safetensors")).unwrap()["latents"].clone()
}

fn fails(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{cmd:?} succeeded:\n{text}");
    text
}

#[test]
fn lora_train_export_and_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(&dir.join("data"));
    let model = fixtures().join("tiny_sd15");
    let cfg = config_for(dir, "run", &model, Some("ddim"));
    let log = run(adt()
        .args(["train", "--plain", "--config"])
        .arg(&cfg)
        .args(["--set", "adt.total_steps=2", "--set", "adt.lora.rank=2"])
        .args([
            "--set",
            "adt.lora.alpha=4.0",
            "--set",
            "adt.g_optim.lr=0.05",
        ]));
    assert!(log.contains("finished at step 2"), "{log}");
    let run_dir = dir.join("run");
    // The checkpoint's generator optimizer holds the adapters' moments only.
    let optim = std::fs::metadata(run_dir.join("checkpoints/step-2/optim_g.bpk"))
        .unwrap()
        .len();
    let unet = std::fs::metadata(model.join("unet/diffusion_pytorch_model.safetensors"))
        .unwrap()
        .len();
    assert!(
        optim * 10 < unet,
        "optimizer state {optim} B vs UNet {unet} B"
    );

    let export = |flags: &[&str], out: &str| {
        run(adt()
            .arg("export")
            .arg(&run_dir)
            .args(flags)
            .arg("--out")
            .arg(dir.join(out)))
    };
    let e = fails(
        adt()
            .arg("export")
            .arg(&run_dir)
            .arg("--out")
            .arg(dir.join("x")),
    );
    assert!(e.contains("--lora") && e.contains("--merge-lora"), "{e}");
    export(&["--lora"], "peft");
    export(&["--lora", "--lora-format", "kohya"], "kohya");
    export(&["--merge-lora"], "merged");
    export(&["--lora", "--dtype", "bf16"], "peft-bf16");
    crate::cli_train::assert_rounded_copy(
        &dir.join("peft/pytorch_lora_weights.safetensors"),
        &dir.join("peft-bf16/pytorch_lora_weights.safetensors"),
        burn::tensor::DType::BF16,
    );
    let peft_file = dir.join("peft/pytorch_lora_weights.safetensors");
    let kohya_file = dir.join("kohya/run.safetensors");
    let keys = read_tensors(&peft_file).unwrap();
    assert!(
        keys.contains_key(
            "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0.lora_B.weight"
        ),
        "{:?}",
        keys.keys().take(4).collect::<Vec<_>>()
    );
    assert!(read_tensors(&kohya_file).unwrap().contains_key(
        "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_out_0.alpha"
    ));

    let base = sample_latents(dir, "base", &[]);
    let peft_dir = dir.join("peft").display().to_string();
    let with_peft = sample_latents(dir, "with_peft", &["--lora", &peft_dir]);
    let kohya = kohya_file.display().to_string();
    let with_kohya = sample_latents(dir, "with_kohya", &["--lora", &kohya]);
    let merged_unet = dir.join("merged/unet").display().to_string();
    let merged = sample_latents(dir, "merged", &["--unet", &merged_unet]);
    let half = sample_latents(dir, "half", &["--lora", &peft_dir, "--lora-scale", "0.5"]);
    assert!(
        max_abs_diff(&with_peft, &base) > 1e-3,
        "the LoRA changes nothing"
    );
    assert!(
        max_abs_diff(&with_peft, &merged) < 1e-5,
        "LoRA file vs merged weights"
    );
    assert!(
        max_abs_diff(&with_peft, &with_kohya) < 1e-6,
        "PEFT vs kohya export"
    );
    let (d_half, d_full) = (max_abs_diff(&half, &base), max_abs_diff(&with_peft, &base));
    assert!(
        d_half > 0.0 && d_half < d_full,
        "scale 0.5: {d_half} vs 1: {d_full}"
    );

    // A full fine-tune has no adapters to export.
    let full = config_for(dir, "full", &model, Some("ddim"));
    run(adt()
        .args(["train", "--plain", "--config"])
        .arg(&full)
        .args(["--set", "adt.total_steps=1", "--set", "validation.every=0"]));
    let e = fails(
        adt()
            .arg("export")
            .arg(dir.join("full"))
            .args(["--lora", "--out"])
            .arg(dir.join("y")),
    );
    assert!(e.contains("no [adt.lora]"), "{e}");
}

#[test]
fn bad_lora_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sample = |lora: &Path| {
        let mut cmd = adt();
        cmd.args(["sample", "x", "--model"])
            .arg(fixtures().join("tiny_sd15"))
            .args(["--steps", "1", "--width", "32", "--height", "32", "--lora"])
            .arg(lora)
            .arg("--out")
            .arg(dir.join("out"));
        fails(&mut cmd)
    };
    // Not a LoRA: the UNet's own weights.
    let unet = fixtures().join("tiny_sd15/unet/diffusion_pytorch_model.safetensors");
    let e = sample(&unet);
    assert!(
        e.contains("not a LoRA file") && e.contains("diffusion_pytorch_model"),
        "{e}"
    );
    // Missing and corrupt files.
    let e = sample(&dir.join("absent.safetensors"));
    assert!(e.contains("absent.safetensors"), "{e}");
    std::fs::write(
        dir.join("corrupt.safetensors"),
        b"\x10\0\0\0\0\0\0\0{not json",
    )
    .unwrap();
    let e = sample(&dir.join("corrupt.safetensors"));
    assert!(e.contains("corrupt.safetensors"), "{e}");
    // Layers for modules the UNet does not have (text-encoder layers among them).
    let mut t =
        read_tensors(&fixtures().join("lora_peft/pytorch_lora_weights.safetensors")).unwrap();
    let module = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k";
    for factor in ["lora_A", "lora_B"] {
        let v = t.remove(&format!("unet.{module}.{factor}.weight")).unwrap();
        t.insert(format!("text_encoder.{module}.{factor}.weight"), v);
    }
    write_tensors(&dir.join("te.safetensors"), &t).unwrap();
    let e = sample(&dir.join("te.safetensors"));
    assert!(
        e.contains("match no linear weight") && e.contains("text_encoder.down_blocks.0"),
        "{e}"
    );
    // A 0-D factor and a rank-0 pair.
    let base = read_tensors(&fixtures().join("lora_kohya.safetensors")).unwrap();
    let key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
    for (down, up) in [
        (
            TensorData::new(vec![1f32], [0usize; 0]),
            TensorData::new(vec![0f32; 16], [16, 1]),
        ),
        (
            TensorData::new(Vec::<f32>::new(), [0, 16]),
            TensorData::new(Vec::<f32>::new(), [16, 0]),
        ),
    ] {
        let mut t = base.clone();
        t.insert(format!("{key}.lora_down.weight"), down);
        t.insert(format!("{key}.lora_up.weight"), up);
        write_tensors(&dir.join("bad.safetensors"), &t).unwrap();
        let e = sample(&dir.join("bad.safetensors"));
        assert!(e.contains("not a rank-r pair") && e.contains(key), "{e}");
    }
    // A factor of the wrong width.
    let mut t = read_tensors(&fixtures().join("lora_kohya.safetensors")).unwrap();
    let key =
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight";
    t.insert(key.into(), TensorData::new(vec![0f32; 4 * 7], [4, 7]));
    write_tensors(&dir.join("wide.safetensors"), &t).unwrap();
    let e = sample(&dir.join("wide.safetensors"));
    assert!(
        e.contains("do not fit the layer") && e.contains("attn1.to_q"),
        "{e}"
    );
}
