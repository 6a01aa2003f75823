//! The T5 tokenizer: a `tokenizer.json` (what `T5TokenizerFast.save_pretrained` writes) run
//! through the `tokenizers` crate, padded and truncated to a fixed length exactly as
//! transformers calls it (`padding="max_length", truncation=True, add_special_tokens=True`:
//! the `</s>` the post-processor appends survives truncation).

use std::path::Path;

use adt_models_common::ModelSource;
use burn::prelude::*;
use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use crate::error::T5Error;

/// Token ids of a batch, and how many prompts were cut to fit.
#[derive(Debug, Clone)]
pub struct T5Tokens {
    /// `[B, max_length]`.
    pub ids: Vec<Vec<u32>>,
    /// `[B, max_length]`: 1 for tokens, 0 for padding.
    pub attention_mask: Vec<Vec<u32>>,
    /// Indices of the prompts that were longer than `max_length` tokens (truncated).
    pub truncated: Vec<usize>,
}

/// A `tokenizer.json` tokenizer with T5's special tokens.
#[derive(Debug, Clone)]
pub struct T5Tokenizer {
    inner: Tokenizer,
    pad_id: u32,
    pad_token: String,
}

impl T5Tokenizer {
    /// Read `tokenizer.json`; its pad token (`<pad>`) must be in the vocabulary.
    pub fn from_file(path: &Path) -> Result<Self, T5Error> {
        let bad = |message: String| T5Error::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(T5Error::Load(adt_models_common::LoadError::Missing {
                path: path.to_path_buf(),
            }));
        }
        let inner = Tokenizer::from_file(path).map_err(|e| bad(e.to_string()))?;
        let pad_token = "<pad>".to_string();
        let pad_id = inner
            .token_to_id(&pad_token)
            .ok_or_else(|| bad(format!("no `{pad_token}` token in the vocabulary")))?;
        Ok(Self {
            inner,
            pad_id,
            pad_token,
        })
    }

    /// A checkpoint's tokenizer folder, e.g. `(sd3, "tokenizer_3")`: its `tokenizer.json`.
    pub fn from_pretrained(source: &ModelSource, subfolder: &str) -> Result<Self, T5Error> {
        Self::from_file(&source.file_in(subfolder, "tokenizer.json")?)
    }

    /// Id of `<pad>`.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Tokenize `prompts` to exactly `max_length` ids each (truncated, `</s>` kept, padded
    /// with `<pad>` on the right).
    pub fn encode_batch(&self, prompts: &[String], max_length: usize) -> Result<T5Tokens, T5Error> {
        let encode = |e: tokenizers::Error| T5Error::Encode(e.to_string());
        let mut t = self.inner.clone();
        t.with_truncation(Some(TruncationParams {
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(encode)?;
        t.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(max_length),
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id: self.pad_id,
            pad_type_id: 0,
            pad_token: self.pad_token.clone(),
        }));
        let encodings = t
            .encode_batch(prompts.iter().map(String::as_str).collect::<Vec<_>>(), true)
            .map_err(encode)?;
        Ok(T5Tokens {
            ids: encodings.iter().map(|e| e.get_ids().to_vec()).collect(),
            attention_mask: encodings
                .iter()
                .map(|e| e.get_attention_mask().to_vec())
                .collect(),
            // Truncation keeps what it cut as the encoding's overflow.
            truncated: encodings
                .iter()
                .enumerate()
                .filter(|(_, e)| !e.get_overflowing().is_empty())
                .map(|(i, _)| i)
                .collect(),
        })
    }

    /// [`Self::encode_batch`] as tensors: ids `[B, max_length]` and the float mask.
    pub fn encode_batch_tensor(
        &self,
        prompts: &[String],
        max_length: usize,
        device: &Device,
    ) -> Result<(Tensor<2, Int>, Tensor<2>, Vec<usize>), T5Error> {
        let t = self.encode_batch(prompts, max_length)?;
        let b = prompts.len();
        let ids: Vec<i64> = t.ids.iter().flatten().map(|&i| i as i64).collect();
        let mask: Vec<f32> = t
            .attention_mask
            .iter()
            .flatten()
            .map(|&m| m as f32)
            .collect();
        Ok((
            Tensor::from_data(TensorData::new(ids, [b, max_length]), device),
            Tensor::from_data(TensorData::new(mask, [b, max_length]), device),
            t.truncated,
        ))
    }
}
