//! Shared helpers for the adt-clip integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `byte -> printable char` table of GPT-2/CLIP byte-level BPE (`bytes_to_unicode`).
fn bytes_to_unicode() -> Vec<char> {
    let mut bs: Vec<u32> = (b'!' as u32..=b'~' as u32)
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
    cs.into_iter().map(|c| char::from_u32(c).unwrap()).collect()
}

/// Write the real CLIP `vocab.json` + `merges.txt` into `dir`, rebuilt from
/// the committed gzipped merges exactly as open_clip / openai build the
/// vocabulary (byte chars, byte chars + `</w>`, merges, then the 2 specials).
pub fn write_real_clip_vocab(dir: &Path) -> (PathBuf, PathBuf) {
    let mut gz = flate2::read::GzDecoder::new(
        std::fs::File::open(fixtures().join("clip_bpe_merges.txt.gz")).unwrap(),
    );
    let mut merges_txt = String::new();
    gz.read_to_string(&mut merges_txt).unwrap();
    let bytes = bytes_to_unicode();
    let mut vocab: Vec<String> = bytes.iter().map(|c| c.to_string()).collect();
    vocab.extend(bytes.iter().map(|c| format!("{c}</w>")));
    for line in merges_txt.trim().split('\n').skip(1) {
        vocab.push(line.split(' ').collect::<String>());
    }
    vocab.push("<|startoftext|>".into());
    vocab.push("<|endoftext|>".into());
    assert_eq!(vocab.len(), 49408);
    let map: serde_json::Map<String, serde_json::Value> = vocab
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, serde_json::Value::from(i)))
        .collect();
    let vocab_path = dir.join("vocab.json");
    let merges_path = dir.join("merges.txt");
    std::fs::write(&vocab_path, serde_json::to_string(&map).unwrap()).unwrap();
    std::fs::write(&merges_path, merges_txt).unwrap();
    (vocab_path, merges_path)
}
