//! The CLIP tokenizer against transformers' slow CLIPTokenizer (with ftfy) on
//! the real 49408-token vocabulary; goldens from scripts/fixtures/clip.py.

use crate::common;

use std::path::Path;

use adt_clip::{ClipError, ClipTokenizer};
use adt_models_common::ModelSource;
use burn::prelude::*;
use serde_json::Value;

struct Goldens {
    prompts: Vec<String>,
    known_differences: Vec<String>,
    variants: Value,
}

fn goldens() -> Goldens {
    let text = std::fs::read_to_string(common::fixtures().join("tokenizer_goldens.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    Goldens {
        prompts: strings("prompts"),
        known_differences: strings("known_differences"),
        variants: v["variants"].clone(),
    }
}

fn rows(v: &Value) -> Vec<Vec<u32>> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Exact ids for every prompt: equal to the slow tokenizer except on the
/// documented mojibake prompts, where they equal the slow tokenizer with
/// ftfy's `fix_encoding` off.
fn check_variant(tok: &ClipTokenizer, g: &Goldens, variant: &str) {
    let refs: Vec<&str> = g.prompts.iter().map(String::as_str).collect();
    let ours = tok.encode_batch(&refs).unwrap();
    let slow = rows(&g.variants[variant]["ids"]);
    let without_fix_encoding = rows(&g.variants[variant]["ids_without_fix_encoding"]);
    let mut exact = 0;
    for (i, prompt) in g.prompts.iter().enumerate() {
        assert_eq!(ours[i].len(), 77, "{variant} {prompt:?}: length");
        assert_eq!(ours[i], without_fix_encoding[i], "{variant} {prompt:?}");
        if g.known_differences.contains(prompt) {
            assert_ne!(
                ours[i], slow[i],
                "{variant} {prompt:?} is documented as differing"
            );
        } else {
            assert_eq!(ours[i], slow[i], "{variant} {prompt:?}");
            exact += 1;
        }
    }
    println!(
        "{variant}: {exact}/{} prompts id-exact to the slow tokenizer",
        g.prompts.len()
    );
    assert!(exact >= g.prompts.len() - 1);
}

#[test]
fn ids_match_slow_clip_tokenizer_pad_eos_and_pad_bang() {
    let dir = tempfile::tempdir().unwrap();
    let (vocab, merges) = common::write_real_clip_vocab(dir.path());
    let g = goldens();
    let t = std::time::Instant::now();
    let sd15 = ClipTokenizer::from_files(&vocab, &merges, "<|endoftext|>").unwrap();
    println!("built tokenizer in {:?}", t.elapsed());
    assert_eq!(
        (sd15.bos_id(), sd15.eos_id(), sd15.pad_id()),
        (49406, 49407, 49407)
    );
    check_variant(&sd15, &g, "pad_eos");
    let sd2 = ClipTokenizer::from_files(&vocab, &merges, "!").unwrap();
    assert_eq!(sd2.pad_id(), 0);
    check_variant(&sd2, &g, "pad_bang");
}

fn pretrained_dir(root: &Path, config_fixture: &str) -> ModelSource {
    let sub = root.join("tokenizer");
    std::fs::create_dir_all(&sub).unwrap();
    common::write_real_clip_vocab(&sub);
    for f in ["tokenizer_config.json", "special_tokens_map.json"] {
        std::fs::copy(common::fixtures().join(config_fixture).join(f), sub.join(f)).unwrap();
    }
    ModelSource::Local(root.to_path_buf())
}

#[test]
fn from_pretrained_reads_pad_token_from_config() {
    let g = goldens();
    for (fixture, variant, pad) in [
        ("tokenizer_eos", "pad_eos", 49407),
        ("tokenizer_bang", "pad_bang", 0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tok = ClipTokenizer::from_pretrained(&pretrained_dir(dir.path(), fixture), "tokenizer")
            .unwrap();
        assert_eq!(tok.pad_id(), pad, "{fixture}");
        assert_eq!(tok.max_length(), 77);
        check_variant(&tok, &g, variant);
    }
}

#[test]
fn batch_tensor_has_ids_in_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (vocab, merges) = common::write_real_clip_vocab(dir.path());
    let tok = ClipTokenizer::from_files(&vocab, &merges, "<|endoftext|>").unwrap();
    let device = Device::flex();
    let prompts = ["a photograph of an astronaut riding a horse", ""];
    let t = tok.encode_batch_tensor(&prompts, &device).unwrap();
    assert_eq!(t.dims(), [2, 77]);
    let flat = t.to_data().convert::<i64>().try_to_vec::<i64>().unwrap();
    let expected: Vec<i64> = tok
        .encode_batch(&prompts)
        .unwrap()
        .concat()
        .into_iter()
        .map(i64::from)
        .collect();
    assert_eq!(flat, expected);
    // From the goldens: the SD1.5 ids of the first prompt.
    assert_eq!(
        &flat[..10],
        &[49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407]
    );
    assert_eq!(&flat[77..80], &[49406, 49407, 49407]);
}

#[test]
fn long_prompt_keeps_bos_and_eos() {
    let dir = tempfile::tempdir().unwrap();
    let (vocab, merges) = common::write_real_clip_vocab(dir.path());
    let tok = ClipTokenizer::from_files(&vocab, &merges, "!").unwrap();
    let long = "photo ".repeat(200);
    assert_eq!(tok.tokenize(&long).unwrap().len(), 200);
    let row = tok.encode(&long).unwrap();
    assert_eq!(row.len(), 77);
    assert_eq!((row[0], row[76]), (49406, 49407));
    assert!(row[1..76].iter().all(|&i| i == row[1]));
}

#[test]
fn missing_tokenizer_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokenizer")).unwrap();
    std::fs::write(dir.path().join("tokenizer/vocab.json"), "{}").unwrap();
    let err = ClipTokenizer::from_pretrained(&ModelSource::Local(dir.path().into()), "tokenizer")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("merges.txt missing") && msg.contains("tokenizer.json"),
        "{msg}"
    );

    let err = ClipTokenizer::from_files(
        &dir.path().join("nope.json"),
        &dir.path().join("merges.txt"),
        "!",
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope.json"), "{err}");
}

#[test]
fn malformed_vocab_and_merges_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (vocab, merges) = common::write_real_clip_vocab(dir.path());

    let bad_vocab = dir.path().join("bad_vocab.json");
    std::fs::write(&bad_vocab, "[\"not\", \"a\", \"map\"]").unwrap();
    let err = ClipTokenizer::from_files(&bad_vocab, &merges, "!").unwrap_err();
    assert!(
        matches!(err, ClipError::TokenizerFile { .. })
            && err.to_string().contains("bad_vocab.json"),
        "{err}"
    );

    let bad_merges = dir.path().join("bad_merges.txt");
    std::fs::write(&bad_merges, "#version: 0.2\ni n\nt h e\n").unwrap();
    let err = ClipTokenizer::from_files(&vocab, &bad_merges, "!").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("bad_merges.txt") && msg.contains("line 3"),
        "{msg}"
    );

    let unknown = dir.path().join("unknown_merges.txt");
    std::fs::write(&unknown, "#version: 0.2\nq\u{2603} z\n").unwrap();
    let err = ClipTokenizer::from_files(&vocab, &unknown, "!").unwrap_err();
    assert!(err.to_string().contains("unknown_merges.txt"), "{err}");

    let err = ClipTokenizer::from_files(&vocab, &merges, "<pad>").unwrap_err();
    assert!(err.to_string().contains("pad token \"<pad>\""), "{err}");
}

#[test]
fn tokenizer_json_matches_slow_tokenizer_on_the_same_vocab() {
    // CLIPTokenizerFast's own tokenizer.json (cut vocabulary, pad "!"), checked
    // against the slow tokenizer's ids on the same vocab/merges.
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixtures().join("tokenizer_goldens.json")).unwrap(),
    )
    .unwrap();
    let prompts: Vec<&str> = v["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let expected = rows(&v["small_vocab"]["ids_without_fix_encoding"]);
    let tok =
        ClipTokenizer::from_tokenizer_json(&common::fixtures().join("tokenizer_small.json"), "!")
            .unwrap();
    assert_eq!(
        (tok.bos_id(), tok.eos_id(), tok.pad_id()),
        (256 * 2 + 3000, 256 * 2 + 3001, 0)
    );
    let ours = tok.encode_batch(&prompts).unwrap();
    for (i, p) in prompts.iter().enumerate() {
        assert_eq!(ours[i], expected[i], "{p:?}");
    }
}
