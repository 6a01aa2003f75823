//! The CLIP BPE tokenizer, id-exact to transformers' slow `CLIPTokenizer` with
//! ftfy installed (what diffusers' SD pipelines use).
//!
//! Pipeline for one prompt, mirroring `PreTrainedTokenizer.tokenize` +
//! `CLIPTokenizer._tokenize`:
//! 1. split the raw text at the special tokens (bos, eos, unk, pad and any
//!    added tokens), which map straight to their ids — so with SD2's pad token
//!    `!` every literal `!` becomes id 0, exactly as in transformers;
//! 2. each piece in between: [`ftfy::fix_text`] (see its docs for the one step
//!    not reproduced), whitespace runs → one space + strip, lowercase (Rust's
//!    `str::to_lowercase`, which like Python's `str.lower` handles final sigma);
//! 3. the `tokenizers` pipeline CLIPTokenizerFast is converted to: NFC /
//!    whitespace / lowercase normaliser (a no-op after step 2), the CLIP split
//!    regex + byte-level pre-tokenizer, BPE with `</w>` word ends;
//! 4. `[bos] + ids[..max_length - 2] + [eos]`, padded with the pad id to
//!    `max_length` (77).

mod files;
pub mod ftfy;
mod ftfy_tables;

use std::path::Path;

use adt_models_common::{LoadError, ModelSource};
use burn::prelude::*;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::unicode::NFC;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

pub use files::{CLIP_MERGES, SpecialTokensConfig, TokenSpec, read_merges, read_vocab};

use crate::ClipError;

/// The pre-tokenizer split of the CLIP converter (`convert_slow_tokenizer.CLIPConverter`).
pub const CLIP_SPLIT_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";
/// Default special tokens of `CLIPTokenizer`.
pub const BOS_TOKEN: &str = "<|startoftext|>";
pub const EOS_TOKEN: &str = "<|endoftext|>";
/// `model_max_length` of every SD tokenizer (= the text encoder's positions).
pub const DEFAULT_MAX_LENGTH: usize = 77;

/// CLIP tokenizer producing fixed-length id rows for the text encoder.
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    pipeline: Tokenizer,
    /// Tokens split out of the raw text before normalisation, longest first.
    specials: Vec<(String, u32)>,
    bos_id: u32,
    eos_id: u32,
    pad_id: u32,
    max_length: usize,
}

/// Which special tokens a tokenizer uses (contents, not ids).
#[derive(Debug, Clone)]
struct Specials {
    bos: String,
    eos: String,
    unk: String,
    pad: String,
    extra: Vec<String>,
}

impl Specials {
    fn with_pad(pad: &str) -> Self {
        Self {
            bos: BOS_TOKEN.into(),
            eos: EOS_TOKEN.into(),
            unk: EOS_TOKEN.into(),
            pad: pad.into(),
            extra: Vec::new(),
        }
    }
}

impl ClipTokenizer {
    /// Build from `vocab.json` + `merges.txt` (the slow tokenizer's files),
    /// padding with `pad_token` (`"<|endoftext|>"` for SD1.x, `"!"` for SD2 and
    /// SDXL's tokenizer_2). `max_length` is 77.
    pub fn from_files(vocab: &Path, merges: &Path, pad_token: &str) -> Result<Self, ClipError> {
        Self::build_from_files(
            vocab,
            merges,
            Specials::with_pad(pad_token),
            DEFAULT_MAX_LENGTH,
        )
    }

    /// Build from a fast-tokenizer `tokenizer.json` (its normaliser,
    /// pre-tokenizer and BPE model; its post-processor, padding and truncation
    /// are replaced by this type's own).
    pub fn from_tokenizer_json(path: &Path, pad_token: &str) -> Result<Self, ClipError> {
        Self::build_from_json(path, Specials::with_pad(pad_token), DEFAULT_MAX_LENGTH)
    }

    /// Load a checkpoint's tokenizer folder, e.g. `(sd15, "tokenizer")`:
    /// `vocab.json` + `merges.txt` (preferred: the reference files), else
    /// `tokenizer.json`; special tokens and `model_max_length` from
    /// `tokenizer_config.json`, then `special_tokens_map.json`, then the
    /// CLIPTokenizer defaults (pad `<|endoftext|>`, 77).
    pub fn from_pretrained(source: &ModelSource, subfolder: &str) -> Result<Self, ClipError> {
        let rel = |f: &str| {
            if subfolder.is_empty() {
                f.to_string()
            } else {
                format!("{}/{f}", subfolder.trim_end_matches('/'))
            }
        };
        let optional = |f: &str| match source.file(&rel(f)) {
            Ok(p) => Ok(Some(p)),
            Err(LoadError::Missing { .. } | LoadError::Hub { .. }) => Ok(None),
            Err(e) => Err(ClipError::Load(e)),
        };
        let mut cfg = SpecialTokensConfig::default();
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            if let Some(p) = optional(name)? {
                cfg = cfg.or(SpecialTokensConfig::read(&p)?);
            }
        }
        let content = |t: &Option<TokenSpec>, default: &str| {
            t.as_ref()
                .map_or(default.to_string(), |t| t.content().to_string())
        };
        let eos = content(&cfg.eos_token, EOS_TOKEN);
        let specials = Specials {
            bos: content(&cfg.bos_token, BOS_TOKEN),
            unk: content(&cfg.unk_token, &eos),
            pad: content(&cfg.pad_token, &eos),
            extra: cfg
                .added_tokens_decoder
                .values()
                .map(|t| t.content().to_string())
                .collect(),
            eos,
        };
        // transformers' "no limit" sentinel is 1e30; SD tokenizers say 77.
        let max_length = match cfg.model_max_length {
            Some(n) if (2.0..=1e6).contains(&n) => n as usize,
            _ => DEFAULT_MAX_LENGTH,
        };
        match (optional("vocab.json")?, optional("merges.txt")?) {
            (Some(v), Some(m)) => Self::build_from_files(&v, &m, specials, max_length),
            (v, m) => match optional("tokenizer.json")? {
                Some(j) => Self::build_from_json(&j, specials, max_length),
                None => Err(ClipError::TokenizerFile {
                    path: source.describe().into(),
                    message: format!(
                        "no tokenizer in `{subfolder}`: need vocab.json + merges.txt{}{} or tokenizer.json",
                        if v.is_none() {
                            " (vocab.json missing)"
                        } else {
                            ""
                        },
                        if m.is_none() {
                            " (merges.txt missing)"
                        } else {
                            ""
                        },
                    ),
                }),
            },
        }
    }

    fn build_from_files(
        vocab_path: &Path,
        merges_path: &Path,
        specials: Specials,
        max_length: usize,
    ) -> Result<Self, ClipError> {
        let vocab = read_vocab(vocab_path)?;
        let merges = read_merges(merges_path)?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .unk_token(specials.unk.clone())
            .continuing_subword_prefix(String::new())
            .end_of_word_suffix("</w>".into())
            .fuse_unk(false)
            .build()
            .map_err(|e| ClipError::TokenizerFile {
                path: merges_path.to_path_buf(),
                message: format!("inconsistent with {}: {e}", vocab_path.display()),
            })?;
        let mut pipeline = Tokenizer::new(bpe);
        let encode_err = |e: tokenizers::Error| ClipError::Encode(e.to_string());
        let normalizer = NormalizerSequence::new(vec![
            NFC.into(),
            Replace::new(ReplacePattern::Regex(r"\s+".into()), " ")
                .map_err(encode_err)?
                .into(),
            Lowercase.into(),
        ]);
        pipeline
            .with_normalizer(Some(normalizer))
            .map_err(encode_err)?;
        let pre_tokenizer = PreTokenizerSequence::new(vec![
            Split::new(
                SplitPattern::Regex(CLIP_SPLIT_PATTERN.into()),
                SplitDelimiterBehavior::Removed,
                true,
            )
            .map_err(encode_err)?
            .into(),
            ByteLevel::new(false, true, true).into(),
        ]);
        pipeline.with_pre_tokenizer(Some(pre_tokenizer));
        Self::finish(pipeline, specials, max_length, vocab_path)
    }

    fn build_from_json(
        path: &Path,
        specials: Specials,
        max_length: usize,
    ) -> Result<Self, ClipError> {
        if !path.is_file() {
            return Err(ClipError::TokenizerFile {
                path: path.to_path_buf(),
                message: "file not found".into(),
            });
        }
        let file = Tokenizer::from_file(path).map_err(|e| ClipError::TokenizerFile {
            path: path.to_path_buf(),
            message: format!("not a valid tokenizer.json: {e}"),
        })?;
        // Keep only the normaliser, pre-tokenizer and model: special tokens are
        // split out by `tokenize` (the file's added tokens would also match text
        // that only becomes e.g. `!` after ftfy, which the slow tokenizer does not),
        // and bos/eos/truncation/padding are added by `encode`.
        let mut pipeline = Tokenizer::new(file.get_model().clone());
        pipeline
            .with_normalizer(file.get_normalizer().cloned())
            .map_err(|e| ClipError::Encode(e.to_string()))?;
        pipeline.with_pre_tokenizer(file.get_pre_tokenizer().cloned());
        Self::finish(pipeline, specials, max_length, path)
    }

    fn finish(
        mut pipeline: Tokenizer,
        specials: Specials,
        max_length: usize,
        vocab_path: &Path,
    ) -> Result<Self, ClipError> {
        if max_length < 2 {
            return Err(ClipError::Encode(format!(
                "max_length {max_length} leaves no room for bos + eos"
            )));
        }
        let id = |token: &str, role: &str| {
            pipeline
                .token_to_id(token)
                .ok_or_else(|| ClipError::TokenizerFile {
                    path: vocab_path.to_path_buf(),
                    message: format!("{role} token {token:?} is not in the vocabulary"),
                })
        };
        let bos_id = id(&specials.bos, "bos")?;
        let eos_id = id(&specials.eos, "eos")?;
        let pad_id = id(&specials.pad, "pad")?;
        let mut table: Vec<(String, u32)> = Vec::new();
        for (token, role) in [
            (&specials.bos, "bos"),
            (&specials.eos, "eos"),
            (&specials.unk, "unk"),
            (&specials.pad, "pad"),
        ]
        .into_iter()
        .chain(specials.extra.iter().map(|t| (t, "added")))
        {
            if !table.iter().any(|(t, _)| t == token) {
                table.push((token.clone(), id(token, role)?));
            }
        }
        table.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        // Inside normalised text, the slow tokenizer's split regex still keeps
        // `<|startoftext|>` / `<|endoftext|>` whole (e.g. typed in upper case).
        // Both already have vocabulary ids, so the returned "added" count is always 0.
        let _ = pipeline.add_special_tokens([
            AddedToken::from(specials.bos.clone(), true).normalized(true),
            AddedToken::from(specials.eos.clone(), true).normalized(true),
        ]);
        Ok(Self {
            pipeline,
            specials: table,
            bos_id,
            eos_id,
            pad_id,
            max_length,
        })
    }

    /// Use another fixed length (SD: 77 = the text encoder's positions).
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        assert!(max_length >= 2, "max_length must leave room for bos + eos");
        self.max_length = max_length;
        self
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }
    pub fn bos_id(&self) -> u32 {
        self.bos_id
    }
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The ids of `text` without bos/eos, truncation or padding.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, ClipError> {
        let mut ids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            // Earliest special token, longest at that position (HF `Trie.split`).
            let next = rest.char_indices().find_map(|(i, _)| {
                self.specials
                    .iter()
                    .find(|(t, _)| rest[i..].starts_with(t.as_str()))
                    .map(|(t, id)| (i, t.len(), *id))
            });
            let (chunk, special) = match next {
                Some((i, len, id)) => {
                    let chunk = &rest[..i];
                    rest = &rest[i + len..];
                    (chunk, Some(id))
                }
                None => (std::mem::take(&mut rest), None),
            };
            self.tokenize_text(chunk, &mut ids)?;
            ids.extend(special);
        }
        Ok(ids)
    }

    fn tokenize_text(&self, chunk: &str, ids: &mut Vec<u32>) -> Result<(), ClipError> {
        let fixed = ftfy::fix_text(chunk);
        let cleaned = fixed.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = cleaned.to_lowercase();
        if text.is_empty() {
            return Ok(());
        }
        let encoding = self
            .pipeline
            .encode(text.as_str(), false)
            .map_err(|e| ClipError::Encode(format!("{chunk:?}: {e}")))?;
        ids.extend_from_slice(encoding.get_ids());
        Ok(())
    }

    /// `[bos] + ids + [eos]`, truncated to `max_length` (keeping bos and eos)
    /// and padded with the pad id — `tokenizer(text, padding="max_length",
    /// max_length=77, truncation=True).input_ids`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ClipError> {
        let mut ids = self.tokenize(text)?;
        ids.truncate(self.max_length - 2);
        let mut row = Vec::with_capacity(self.max_length);
        row.push(self.bos_id);
        row.extend(ids);
        row.push(self.eos_id);
        row.resize(self.max_length, self.pad_id);
        Ok(row)
    }

    /// [`Self::encode`] for each prompt: rows of exactly `max_length` ids.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, ClipError> {
        texts.iter().map(|t| self.encode(t)).collect()
    }

    /// [`Self::encode_batch`] as a `[batch, max_length]` Int tensor for
    /// `ClipTextModel::forward`.
    pub fn encode_batch_tensor(
        &self,
        texts: &[&str],
        device: &Device,
    ) -> Result<Tensor<2, Int>, ClipError> {
        Ok(ids_to_tensor(&self.encode_batch(texts)?, device))
    }
}

/// Equal-length id rows → `[rows, len]` Int tensor.
///
/// # Panics
/// If the rows differ in length.
pub fn ids_to_tensor(rows: &[Vec<u32>], device: &Device) -> Tensor<2, Int> {
    let len = rows.first().map_or(0, Vec::len);
    assert!(
        rows.iter().all(|r| r.len() == len),
        "id rows differ in length"
    );
    let flat: Vec<i64> = rows.iter().flatten().map(|&i| i64::from(i)).collect();
    Tensor::<1, Int>::from_data(TensorData::new(flat, [rows.len() * len]), device)
        .reshape([rows.len(), len])
}
