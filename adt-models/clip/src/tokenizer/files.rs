//! Reading CLIP tokenizer files: `vocab.json`, `merges.txt`, `tokenizer_config.json`,
//! `special_tokens_map.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use tokenizers::models::bpe::{Merges, Vocab};

use crate::ClipError;

/// Merges the slow CLIPTokenizer reads: lines `[1, 49152 - 256 - 2]` of
/// `merges.txt` (the first line is the `#version` header, skipped unread).
pub const CLIP_MERGES: usize = 49152 - 256 - 2;

fn read(path: &Path) -> Result<String, ClipError> {
    std::fs::read_to_string(path).map_err(|e| ClipError::TokenizerFile {
        path: path.to_path_buf(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "file not found".into()
        } else {
            e.to_string()
        },
    })
}

/// `vocab.json`: a JSON object `token -> id`.
pub fn read_vocab(path: &Path) -> Result<Vocab, ClipError> {
    let text = read(path)?;
    let map: BTreeMap<String, u32> =
        serde_json::from_str(&text).map_err(|e| ClipError::TokenizerFile {
            path: path.to_path_buf(),
            message: format!("expected a JSON object mapping tokens to ids: {e}"),
        })?;
    if map.is_empty() {
        return Err(ClipError::TokenizerFile {
            path: path.to_path_buf(),
            message: "the vocabulary is empty".into(),
        });
    }
    Ok(map.into_iter().collect())
}

/// `merges.txt` as the slow tokenizer reads it: strip, split on `\n`, skip the
/// first line, keep at most [`CLIP_MERGES`] lines, each `left right`.
pub fn read_merges(path: &Path) -> Result<Merges, ClipError> {
    let text = read(path)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ClipError::TokenizerFile {
            path: path.to_path_buf(),
            message: "empty merges file".into(),
        });
    }
    text.split('\n')
        .enumerate()
        .skip(1)
        .take(CLIP_MERGES)
        .map(|(n, line)| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                [a, b] => Ok((a.to_string(), b.to_string())),
                _ => Err(ClipError::TokenizerFile {
                    path: path.to_path_buf(),
                    message: format!(
                        "line {}: expected two space-separated symbols, found {:?}",
                        n + 1,
                        line
                    ),
                }),
            }
        })
        .collect()
}

/// A token in `tokenizer_config.json` / `special_tokens_map.json`: a string
/// or an `AddedToken` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TokenSpec {
    Plain(String),
    Added { content: String },
}

impl TokenSpec {
    pub fn content(&self) -> &str {
        match self {
            TokenSpec::Plain(s) => s,
            TokenSpec::Added { content } => content,
        }
    }
}

/// The fields of `tokenizer_config.json` / `special_tokens_map.json` that
/// change the ids; everything else is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SpecialTokensConfig {
    pub bos_token: Option<TokenSpec>,
    pub eos_token: Option<TokenSpec>,
    pub unk_token: Option<TokenSpec>,
    pub pad_token: Option<TokenSpec>,
    /// transformers writes `1e30` ("no limit") when unset.
    pub model_max_length: Option<f64>,
    #[serde(default)]
    pub added_tokens_decoder: BTreeMap<String, TokenSpec>,
}

impl SpecialTokensConfig {
    pub fn read(path: &Path) -> Result<Self, ClipError> {
        let text = read(path)?;
        serde_json::from_str(&text).map_err(|e| ClipError::TokenizerFile {
            path: path.to_path_buf(),
            message: format!("invalid tokenizer config: {e}"),
        })
    }

    /// `self`, with fields it lacks taken from `other`.
    pub fn or(self, other: Self) -> Self {
        let mut added = other.added_tokens_decoder;
        added.extend(self.added_tokens_decoder);
        Self {
            bos_token: self.bos_token.or(other.bos_token),
            eos_token: self.eos_token.or(other.eos_token),
            unk_token: self.unk_token.or(other.unk_token),
            pad_token: self.pad_token.or(other.pad_token),
            model_max_length: self.model_max_length.or(other.model_max_length),
            added_tokens_decoder: added,
        }
    }
}
