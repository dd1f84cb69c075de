//! Sentence embeddings in pure Rust, for recall by meaning.
//!
//! An [`Embedder`] runs a BERT-family sentence encoder (all-MiniLM-L6-v2
//! and its kin, as sentence-transformers ships them: `config.json`,
//! `tokenizer.json`, `model.safetensors`) on the CPU with candle: no
//! system library, no network. A text becomes a unit vector: the encoder's
//! last hidden states, mean-pooled over the attention mask, then
//! L2-normalised, so the dot product of two vectors is their cosine
//! similarity.
//!
//! # Invariants
//! - Every vector has [`Embedder::dim`] components and unit length (a text
//!   with no tokens is refused rather than given a zero vector).
//! - Texts longer than [`MAX_TOKENS`] tokens are cut there (the encoder's
//!   own limit is 512; longer inputs cost quadratically and add little).
//! - The model is read whole and checked when loaded; a directory that is
//!   not such a model is an error naming the file and what is wrong.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Most tokens of a text that are read.
pub const MAX_TOKENS: usize = 256;

/// Why a model cannot be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the model needs is not there, or cannot be read.
    #[error(
        "{path}: cannot read ({why}); a model directory holds config.json, tokenizer.json and model.safetensors"
    )]
    Missing {
        /// The file.
        path: PathBuf,
        /// What the system said.
        why: String,
    },
    /// The files are there but are not a model this engine runs.
    #[error("{path}: not a sentence-embedding model ctxvault can run: {why}")]
    NotAModel {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Embedding failed (a text with nothing to embed, or the engine).
    #[error("embedding failed: {0}")]
    Embed(String),
}

/// A loaded sentence encoder.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    dim: usize,
    device: Device,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("dim", &self.dim).finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Missing {
        path: path.to_owned(),
        why: e.to_string(),
    })
}

impl Embedder {
    /// Load the model in `dir`.
    pub fn from_dir(dir: &Path) -> Result<Embedder, Error> {
        let file = |n: &str| dir.join(n);
        let config = read(&file("config.json"))?;
        let tokenizer = read(&file("tokenizer.json"))?;
        let weights = read(&file("model.safetensors"))?;
        Self::from_bytes(dir, &config, &tokenizer, weights)
    }

    /// Load a model from its three files' bytes (`dir` names them in errors).
    pub fn from_bytes(
        dir: &Path,
        config: &[u8],
        tokenizer: &[u8],
        weights: Vec<u8>,
    ) -> Result<Embedder, Error> {
        let bad = |name: &str, why: String| Error::NotAModel {
            path: dir.join(name),
            why,
        };
        let config: Config = serde_json::from_slice(config)
            .map_err(|e| bad("config.json", format!("not a BERT configuration ({e})")))?;
        let mut tokenizer = Tokenizer::from_bytes(tokenizer)
            .map_err(|e| bad("tokenizer.json", format!("not a tokenizer ({e})")))?;
        // The shipped tokenizer pads and cuts every text at a fixed length:
        // pad to the longest of a batch instead, and cut at MAX_TOKENS.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| bad("model.safetensors", e.to_string()))?;
        let model = BertModel::load(vb, &config).map_err(|e| {
            bad(
                "model.safetensors",
                format!("does not match config.json ({e})"),
            )
        })?;
        let mut e = Embedder {
            model,
            tokenizer,
            dim: 0,
            device,
        };
        // The width the encoder really gives, checked on a text.
        let probe = e.embed(&["ctxvault"])?;
        e.dim = probe.first().map_or(0, Vec::len);
        if e.dim == 0 {
            return Err(bad("model.safetensors", "gives empty vectors".into()));
        }
        Ok(e)
    }

    /// Components of each vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One unit vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let fail = |e: &dyn std::fmt::Display| Error::Embed(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| fail(&e))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        if let Some(k) = encodings
            .iter()
            .position(|e| e.get_attention_mask().iter().all(|m| *m == 0))
        {
            return Err(Error::Embed(format!("text {} has nothing to embed", k + 1)));
        }
        let ids = Tensor::from_vec(ids, (rows, cols), &self.device).map_err(|e| fail(&e))?;
        let mask = Tensor::from_vec(mask, (rows, cols), &self.device).map_err(|e| fail(&e))?;
        let types = ids.zeros_like().map_err(|e| fail(&e))?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(|e| fail(&e))?;
        // Mean over the real tokens, then unit length.
        let m = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(|e| fail(&e))?;
        let summed = hidden
            .broadcast_mul(&m)
            .and_then(|h| h.sum(1))
            .map_err(|e| fail(&e))?;
        let counts = m.sum(1).map_err(|e| fail(&e))?;
        let mean = summed.broadcast_div(&counts).map_err(|e| fail(&e))?;
        let norm = mean
            .sqr()
            .and_then(|s| s.sum_keepdim(1))
            .and_then(|s| s.sqrt())
            .map_err(|e| fail(&e))?;
        let unit = mean.broadcast_div(&norm).map_err(|e| fail(&e))?;
        unit.to_vec2::<f32>().map_err(|e| fail(&e))
    }
}

/// The cosine similarity of two unit vectors (their dot product).
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
