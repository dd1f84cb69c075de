//! Embedding models on this machine: where they are installed, which one a
//! vault uses, installing one from a directory or an archive (checked
//! first, so a bad one changes nothing), and loading one for the agent.
//!
//! # Format
//! - Models live in `<data dir>/ctxvault/models/<name>/` (the data dir is
//!   `$XDG_DATA_HOME`, else `~/.local/share`), shared by every vault of the
//!   user: `config.json`, `tokenizer.json`, `model.safetensors` and
//!   `ctxvault-model.json` (a [`ModelInfo`]: name, id, dimension and the
//!   SHA-256 of each file, checked whenever the model is loaded).
//! - A model's id is its name and the first 12 hex digits of the SHA-256
//!   over its files' digests: vectors name the id, so changed weights
//!   never pass for the old ones.
//! - The file `model` in a vault directory names the model the vault uses;
//!   without it a vault uses [`DEFAULT_MODEL`] when that is installed.
//!   `none` turns recall by meaning off.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The model a vault uses when it names none.
pub const DEFAULT_MODEL: &str = "all-minilm-l6-v2";
/// Models known by the SHA-256 of their weights, named so on install.
const KNOWN: &[(&str, &str)] = &[(
    DEFAULT_MODEL,
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)];
/// The files of a model.
pub const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
const MANIFEST: &str = "ctxvault-model.json";
/// The file in a vault directory naming its model.
pub const ACTIVE_FILE: &str = "model";
/// Largest model file read.
const MAX_FILE: u64 = 2 << 30;

/// An installed model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Its name (the directory's).
    pub name: String,
    /// Its id: name and a digest of its files.
    pub id: String,
    /// Dimensions of its vectors.
    pub dim: usize,
    /// Bytes of its files.
    pub size: u64,
    /// SHA-256 (hex) of each file.
    pub files: BTreeMap<String, String>,
}

impl ModelInfo {
    /// The record of model `name` with these files (in [`FILES`] order) and
    /// their SHA-256 digests.
    fn of(name: &str, dim: usize, files: &[Vec<u8>], digests: &[String]) -> ModelInfo {
        ModelInfo {
            name: name.to_owned(),
            id: format!("{name}-{}", &sha256_hex(digests.concat().as_bytes())[..12]),
            dim,
            size: files.iter().map(|f| f.len() as u64).sum(),
            files: FILES
                .iter()
                .zip(digests)
                .map(|(f, d)| ((*f).to_owned(), d.clone()))
                .collect(),
        }
    }
}

/// Why a model cannot be installed, chosen or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Nothing at the path.
    #[error(
        "no model at {0}: give a directory holding config.json, tokenizer.json and model.safetensors, or a .whl or .zip archive of them"
    )]
    Missing(PathBuf),
    /// The files are not a model the engine runs.
    #[error("{0}; nothing was installed")]
    NotAModel(String),
    /// The checksum given does not match.
    #[error(
        "checksum mismatch: {path} has SHA-256 {got}, not {want}; it is not the file you meant (or it is damaged): nothing was installed"
    )]
    Checksum {
        /// The file checked.
        path: PathBuf,
        /// Its SHA-256.
        got: String,
        /// The SHA-256 asked for.
        want: String,
    },
    /// The model's vectors are not of the dimension asked for.
    #[error(
        "the model makes vectors of {got} dimensions, not {want} as --dim says: nothing was installed"
    )]
    Dimension {
        /// What the model gives.
        got: usize,
        /// What was asked.
        want: usize,
    },
    /// A bad model name.
    #[error("invalid model name {0:?}: use 1 to 64 lowercase letters, digits, '.' or '-'")]
    Name(String),
    /// Another model has the name.
    #[error(
        "a different model named {0} is installed; choose another name with --name: nothing was installed"
    )]
    Exists(String),
    /// No model of that name.
    #[error(
        "no model named {0} is installed; `ctxvault model ls` lists them, `ctxvault model install PATH` adds one"
    )]
    NotInstalled(String),
    /// An installed model's files changed since it was installed.
    #[error(
        "the installed model {name} is damaged ({file} changed since it was installed); install it again"
    )]
    Damaged {
        /// The model.
        name: String,
        /// The file that changed.
        file: String,
    },
    /// No data directory to keep models in.
    #[error("no home directory to keep models in; set XDG_DATA_HOME")]
    NoHome,
    /// A file error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The first line of an engine's error (candle may append a backtrace).
fn first_line(e: impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// Refuse vectors the vault cannot hold.
fn check_dim(dim: usize) -> Result<(), ModelError> {
    if dim > vault_core::records::MAX_DIM {
        return Err(ModelError::NotAModel(format!(
            "the model makes vectors of {dim} dimensions; ctxvault keeps at most {}",
            vault_core::records::MAX_DIM
        )));
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where models are installed.
pub fn models_dir() -> Result<PathBuf, ModelError> {
    directories::BaseDirs::new()
        .map(|d| d.data_dir().join("ctxvault").join("models"))
        .ok_or(ModelError::NoHome)
}

fn check_name(name: &str) -> Result<(), ModelError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && !name.starts_with('.')
        && name != "none";
    if ok {
        Ok(())
    } else {
        Err(ModelError::Name(name.into()))
    }
}

/// Every installed model, by name.
pub fn installed() -> Result<Vec<ModelInfo>, ModelError> {
    let dir = models_dir()?;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<ModelInfo> = entries
        .flatten()
        .filter_map(|e| {
            let m = std::fs::read(e.path().join(MANIFEST)).ok()?;
            serde_json::from_slice(&m).ok()
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The installed model named `name`.
pub fn find(name: &str) -> Result<ModelInfo, ModelError> {
    installed()?
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| ModelError::NotInstalled(name.into()))
}

/// The name of the model the vault in `vault_dir` uses (`None`: recall by
/// meaning is off, or no model is installed).
pub fn active_name(vault_dir: &Path) -> Result<Option<String>, ModelError> {
    let file = vault_dir.join(ACTIVE_FILE);
    match std::fs::read_to_string(&file) {
        Ok(s) => {
            let name = s.trim();
            Ok((name != "none").then(|| name.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let default = installed()?.iter().any(|m| m.name == DEFAULT_MODEL);
            Ok(default.then(|| DEFAULT_MODEL.to_owned()))
        }
        Err(e) => Err(io(&file)(e)),
    }
}

/// Make the vault in `vault_dir` use `name` (`None`: no model). The model
/// must be installed.
pub fn set_active(vault_dir: &Path, name: Option<&str>) -> Result<(), ModelError> {
    if let Some(n) = name {
        find(n)?;
    }
    let file = vault_dir.join(ACTIVE_FILE);
    let tmp = vault_dir.join(format!(".{ACTIVE_FILE}.tmp"));
    std::fs::write(&tmp, format!("{}\n", name.unwrap_or("none"))).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &file).map_err(io(&file))
}

/// What `install` is asked to check and call the model.
#[derive(Debug, Default)]
pub struct InstallOptions {
    /// The name to install under (default: a known model's, else the
    /// source's file or directory name).
    pub name: Option<String>,
    /// The SHA-256 the source must have (an archive's, or a directory's
    /// `model.safetensors`).
    pub sha256: Option<String>,
    /// The dimension its vectors must have.
    pub dim: Option<usize>,
}

/// The three files of a model, read from a directory or an archive.
fn read_source(src: &Path) -> Result<(Vec<Vec<u8>>, PathBuf), ModelError> {
    let meta = std::fs::metadata(src).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ModelError::Missing(src.to_owned()),
        _ => io(src)(e),
    })?;
    if meta.is_dir() {
        let mut files = Vec::new();
        for f in FILES {
            let p = src.join(f);
            let m = std::fs::metadata(&p).map_err(|_| {
                ModelError::NotAModel(format!(
                    "{}: missing; a model directory holds config.json, tokenizer.json and model.safetensors",
                    p.display()
                ))
            })?;
            if m.len() > MAX_FILE {
                return Err(ModelError::NotAModel(format!("{}: too large", p.display())));
            }
            files.push(std::fs::read(&p).map_err(io(&p))?);
        }
        return Ok((files, src.join("model.safetensors")));
    }
    let not_archive = |why: String| {
        ModelError::NotAModel(format!(
            "{}: not a model: {why}; give a model directory, or a .whl or .zip archive holding config.json, tokenizer.json and model.safetensors",
            src.display()
        ))
    };
    let file = std::fs::File::open(src).map_err(io(src))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| not_archive(format!("not a zip archive ({e})")))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    // The weights decide the directory: the other files are its neighbours
    // (a sentence-transformers layout has more config.json files deeper).
    let weights: Vec<&String> = names
        .iter()
        .filter(|n| *n == FILES[2] || n.ends_with(&format!("/{}", FILES[2])))
        .collect();
    let [weights] = weights.as_slice() else {
        return Err(not_archive(format!(
            "it holds {} files named {}, not one",
            weights.len(),
            FILES[2]
        )));
    };
    let dir = &weights[..weights.len() - FILES[2].len()];
    let mut files = Vec::new();
    for f in FILES {
        let entry = format!("{dir}{f}");
        if !names.contains(&entry) {
            return Err(not_archive(format!("it has no {f} beside {weights}")));
        }
        let mut z = zip
            .by_name(&entry)
            .map_err(|e| not_archive(format!("{entry}: {}", first_line(e))))?;
        if z.size() > MAX_FILE {
            return Err(not_archive(format!("{entry} is too large")));
        }
        // The header's size may lie: grow as the bytes come, up to the cap.
        let mut buf = Vec::with_capacity((z.size() as usize).min(64 << 20));
        z.by_ref()
            .take(MAX_FILE)
            .read_to_end(&mut buf)
            .map_err(|e| not_archive(format!("{entry}: {}", first_line(e))))?;
        files.push(buf);
    }
    Ok((files, src.to_owned()))
}

fn default_name(src: &Path, weights_sha: &str) -> String {
    if let Some((n, _)) = KNOWN.iter().find(|(_, s)| *s == weights_sha) {
        return (*n).to_owned();
    }
    let stem = src
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .split(['-', '.'])
        .next()
        .unwrap_or("model");
    let name: String = stem
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64)
        .collect();
    if name.is_empty() {
        "model".into()
    } else {
        name
    }
}

/// Install the model at `src` (a directory or an archive) after checking
/// it: its checksum and dimension when asked, and that it loads and embeds.
/// Installing the same model again is not an error.
pub fn install(src: &Path, opts: &InstallOptions) -> Result<ModelInfo, ModelError> {
    if let Some(n) = &opts.name {
        check_name(n)?;
    }
    let (files, checked) = read_source(src)?;
    if let Some(want) = &opts.sha256 {
        let want = want.trim().to_ascii_lowercase();
        let got = if checked == src {
            sha256_hex(&std::fs::read(src).map_err(io(src))?)
        } else {
            sha256_hex(&files[2])
        };
        if got != want {
            return Err(ModelError::Checksum {
                path: checked,
                got,
                want,
            });
        }
    }
    let digests: Vec<String> = files.iter().map(|f| sha256_hex(f)).collect();
    let embedder = embedder::Embedder::from_bytes(src, &files[0], &files[1], files[2].clone())
        .map_err(|e| ModelError::NotAModel(first_line(e)))?;
    let dim = embedder.dim();
    drop(embedder);
    check_dim(dim)?;
    if let Some(want) = opts.dim
        && want != dim
    {
        return Err(ModelError::Dimension { got: dim, want });
    }
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| default_name(src, &digests[2]));
    check_name(&name)?;
    let info = ModelInfo::of(&name, dim, &files, &digests);
    if let Ok(old) = find(&name) {
        return if old.id == info.id {
            Ok(old)
        } else {
            Err(ModelError::Exists(name))
        };
    }
    let root = models_dir()?;
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let tmp = root.join(format!(".install-{}", uuid::Uuid::now_v7()));
    let written = (|| {
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        for (f, bytes) in FILES.iter().zip(&files) {
            write_synced(&tmp.join(f), bytes)?;
        }
        let manifest = serde_json::to_vec_pretty(&info).unwrap_or_default();
        write_synced(&tmp.join(MANIFEST), &manifest)?;
        let dest = root.join(&name);
        std::fs::rename(&tmp, &dest).map_err(io(&dest))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written.map(|()| info)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let mut f = std::fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// A loaded model, as the vault uses it.
pub struct Model {
    info: ModelInfo,
    embedder: embedder::Embedder,
}

impl Model {
    /// The model's record.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }
}

impl vault_core::Embed for Model {
    fn model_id(&self) -> &str {
        &self.info.id
    }
    fn dim(&self) -> usize {
        self.info.dim
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        self.embedder.embed(texts).map_err(|e| match e {
            embedder::Error::Embed(why) => first_line(why),
            e => first_line(e),
        })
    }
}

/// Load a model straight from a directory (not installed: for tools and
/// benchmarks), calling it `name`.
pub fn load_dir(dir: &Path, name: &str) -> Result<Model, ModelError> {
    check_name(name)?;
    let (files, _) = read_source(dir)?;
    let digests: Vec<String> = files.iter().map(|f| sha256_hex(f)).collect();
    let [config, tokenizer, weights]: [Vec<u8>; 3] = files
        .try_into()
        .map_err(|_| ModelError::NotAModel(format!("{}: incomplete", dir.display())))?;
    let embedder = embedder::Embedder::from_bytes(dir, &config, &tokenizer, weights)
        .map_err(|e| ModelError::NotAModel(first_line(e)))?;
    let info = ModelInfo::of(
        name,
        embedder.dim(),
        &[config, tokenizer, Vec::new()],
        &digests,
    );
    let size = info.size + std::fs::metadata(dir.join(FILES[2])).map_or(0, |m| m.len());
    Ok(Model {
        info: ModelInfo { size, ..info },
        embedder,
    })
}

/// Load the installed model `name`, checking its files against what was
/// installed.
pub fn load(name: &str) -> Result<Model, ModelError> {
    let info = find(name)?;
    let dir = models_dir()?.join(name);
    let mut files = Vec::new();
    for f in FILES {
        let p = dir.join(f);
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        if info.files.get(f) != Some(&sha256_hex(&bytes)) {
            return Err(ModelError::Damaged {
                name: name.into(),
                file: f.into(),
            });
        }
        files.push(bytes);
    }
    let weights = files.pop().unwrap_or_default();
    let embedder = embedder::Embedder::from_bytes(&dir, &files[0], &files[1], weights)
        .map_err(|e| ModelError::NotAModel(first_line(e)))?;
    check_dim(embedder.dim())?;
    if embedder.dim() != info.dim {
        return Err(ModelError::Damaged {
            name: name.into(),
            file: "config.json".into(),
        });
    }
    Ok(Model { info, embedder })
}
