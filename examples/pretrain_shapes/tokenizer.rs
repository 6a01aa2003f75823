//! The shipped tokenizer: the real CLIP BPE cut to its first `n` merges, in the
//! vocabulary order of openai/clip (256 byte symbols, the same with `</w>`, one
//! token per merge, then `<|startoftext|>` and `<|endoftext|>`), written as the
//! slow `CLIPTokenizer`'s `vocab.json` + `merges.txt` — the recipe of
//! `scripts/fixtures/sd15.py` (`build_vocab` in `scripts/fixtures/clip.py`).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

/// The real CLIP merges, gzipped, as the CLIP port's tests keep them.
pub const MERGES_GZ: &str = "adt-models/clip/tests/fixtures/clip_bpe_merges.txt.gz";

/// GPT-2/CLIP `bytes_to_unicode`, in its insertion order.
fn byte_symbols() -> Vec<char> {
    let mut bs: Vec<u32> = (u32::from(b'!')..=u32::from(b'~'))
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    cs.into_iter()
        .map(|c| char::from_u32(c).expect("a valid code point"))
        .collect()
}

/// Write `vocab.json`, `merges.txt`, `tokenizer_config.json` and
/// `special_tokens_map.json` for the first `n_merges` merges into `dir`;
/// returns the vocabulary size.
pub fn write(dir: &Path, merges_gz: &Path, n_merges: usize) -> Result<usize> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(merges_gz)
            .with_context(|| format!("opening {}", merges_gz.display()))?,
    )
    .read_to_string(&mut text)
    .with_context(|| format!("reading {}", merges_gz.display()))?;
    let merges: Vec<(String, String)> = text
        .split('\n')
        .skip(1)
        .take(n_merges)
        .map(|line| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(a), Some(b)) => Ok((a.to_string(), b.to_string())),
                _ => anyhow::bail!("malformed merge line {line:?}"),
            }
        })
        .collect::<Result<_>>()?;
    anyhow::ensure!(merges.len() == n_merges, "only {} merges", merges.len());

    let bytes = byte_symbols();
    let mut vocab: Vec<String> = bytes.iter().map(|c| c.to_string()).collect();
    vocab.extend(bytes.iter().map(|c| format!("{c}</w>")));
    vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
    vocab.push("<|startoftext|>".into());
    vocab.push("<|endoftext|>".into());
    let n = vocab.len();

    std::fs::create_dir_all(dir)?;
    // json.dumps(vocab, ensure_ascii=False): entries in id order.
    let entries: Vec<String> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{}: {i}",
                serde_json::to_string(t).expect("a string serialises")
            )
        })
        .collect();
    std::fs::write(
        dir.join("vocab.json"),
        format!("{{{}}}", entries.join(", ")),
    )?;
    let lines: Vec<String> = merges.iter().map(|(a, b)| format!("{a} {b}")).collect();
    std::fs::write(
        dir.join("merges.txt"),
        format!("#version: 0.2\n{}\n", lines.join("\n")),
    )?;

    let added = |content: &str| {
        json!({"content": content, "lstrip": false, "normalized": true, "rstrip": false,
               "single_word": false, "special": true})
    };
    let config = json!({
        "added_tokens_decoder": {
            (n - 2).to_string(): added("<|startoftext|>"),
            (n - 1).to_string(): added("<|endoftext|>"),
        },
        "bos_token": "<|startoftext|>",
        "clean_up_tokenization_spaces": false,
        "eos_token": "<|endoftext|>",
        "errors": "replace",
        "extra_special_tokens": {},
        "model_max_length": 77,
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": "<|endoftext|>"
    });
    write_json(&dir.join("tokenizer_config.json"), &config)?;
    let special = |content: &str| {
        json!({"content": content, "lstrip": false, "normalized": true, "rstrip": false,
               "single_word": false})
    };
    let map = json!({
        "bos_token": special("<|startoftext|>"),
        "eos_token": special("<|endoftext|>"),
        "pad_token": "<|endoftext|>",
        "unk_token": special("<|endoftext|>"),
    });
    write_json(&dir.join("special_tokens_map.json"), &map)?;
    Ok(n)
}

/// Pretty JSON with a trailing newline.
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
