//! `ctxvault export`.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use vault_core::bundle::Seal;
use vault_core::bundle::{Counts, Reader};
use vault_core::{WorkFactor, keys};
use vault_daemon::client::{ExportStream, Piece};
use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::{output, secret};

/// A plain (unencrypted) format.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PlainFormat {
    /// One JSON record per line (docs/bundle-format.md, items only).
    Jsonl,
    /// A folder of Markdown files with YAML front matter, by namespace.
    Markdown,
}

/// Write everything to an age-encrypted bundle (to a passphrase, or to age
/// recipients), or with --plain to a JSONL file or a Markdown folder that
/// needs no ctxvault to read. The bundle format is docs/bundle-format.md.
#[derive(clap::Args)]
pub struct Export {
    /// The file (or, for Markdown, the folder) to write; it must not exist.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Seal to this age recipient (`age1...`; repeat for several).
    #[arg(
        long = "recipient",
        value_name = "AGE_RECIPIENT",
        conflicts_with = "passphrase"
    )]
    recipients: Vec<String>,
    /// Seal to a passphrase (the default): `CTXVAULT_BUNDLE_PASSPHRASE` or a prompt.
    #[arg(long)]
    passphrase: bool,
    /// Also export clients (names only, never tokens), grants and deny rules.
    #[arg(long)]
    with_policy: bool,
    /// Write unencrypted: readable by anyone who can read the file.
    #[arg(long, conflicts_with_all = ["recipients", "passphrase", "with_policy"])]
    plain: bool,
    /// With --plain: write `secret` items too (left out otherwise).
    #[arg(long, requires = "plain")]
    include_secret: bool,
    /// The plain format.
    #[arg(long, value_enum, requires = "plain", default_value = "jsonl")]
    format: PlainFormat,
}

fn create_file(path: &Path) -> anyhow::Result<std::fs::File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow!(
                    "{} already exists; choose another name or remove it first",
                    path.display()
                )
            }
            _ => anyhow!("cannot create {}: {e}", path.display()),
        })
}

impl Export {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        // Check everything that can be checked before asking the agent.
        let seal = if self.plain {
            None
        } else if !self.recipients.is_empty() {
            let rs = self
                .recipients
                .iter()
                .map(|r| {
                    r.parse::<age::x25519::Recipient>()
                        .map_err(|e| anyhow!("--recipient {r:?} is not an age X25519 recipient ({e}); it looks like age1..."))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Some(Seal::Recipients(rs))
        } else {
            let wf = super::work_factor_from_env()?
                .map(WorkFactor::new)
                .transpose()?
                .unwrap_or(WorkFactor::DEFAULT);
            let p = secret::read("CTXVAULT_BUNDLE_PASSPHRASE", "Bundle passphrase", true)?;
            Some(Seal::Passphrase(keys::passphrase(p.expose_secret()), wf))
        };
        if self.out.exists() {
            bail!(
                "{} already exists; choose another name or remove it first",
                self.out.display()
            );
        }
        let without_secret = self.plain && !self.include_secret;
        let mut stream = ctx
            .export(&p::Export {
                with_policy: self.with_policy,
                without_secret,
            })
            .await?;
        // The vault is unlocked now: how many items it has in all.
        let before = if without_secret {
            ctx.call(p::StatusQuery {}).await?.items
        } else {
            0
        };
        let warn_plain = || {
            eprintln!(
                "warning: {} is not encrypted: anyone who can read it can read your context",
                self.out.display()
            )
        };
        let (c, what) = match (seal, self.format) {
            (Some(seal), _) => {
                let c = write_file(&self.out, &mut stream, |f| {
                    Ok(Box::new(vault_core::bundle::encrypt_to(&seal, f)?))
                })
                .await?;
                (c, "age-encrypted bundle")
            }
            (None, PlainFormat::Jsonl) => {
                warn_plain();
                let c = write_file(&self.out, &mut stream, |f| Ok(Box::new(Plain(f)))).await?;
                (c, "plain JSONL")
            }
            (None, PlainFormat::Markdown) => {
                warn_plain();
                (self.markdown(&mut stream).await?, "plain Markdown")
            }
        };
        let left_out = before.saturating_sub(c.items);
        if ctx.json {
            return output::json(&serde_json::json!({
                "path": self.out.display().to_string(),
                "format": what,
                "items": c.items,
                "clients": c.clients,
                "grants": c.grants,
                "denies": c.denies,
                "secret_left_out": left_out,
            }));
        }
        outln!(
            "exported {}{} to {} ({what})",
            output::count(c.items, "item"),
            if self.with_policy {
                format!(
                    ", {}, {}, {}",
                    output::count(c.clients, "client"),
                    output::count(c.grants, "grant"),
                    output::count(c.denies, "deny rule")
                )
            } else {
                String::new()
            },
            self.out.display()
        );
        if left_out > 0 {
            outln!(
                "{} left out: secret items are written unencrypted only with --include-secret",
                output::count(left_out, "secret item")
            );
        }
        Ok(())
    }
}

impl Export {
    /// Write the export as one Markdown file per item under `self.out`.
    async fn markdown(&self, stream: &mut ExportStream) -> anyhow::Result<Counts> {
        let mut reader = Reader::new();
        pump(stream, |t| {
            reader
                .push(t)
                .map_err(|e| anyhow!("the agent sent a bundle that does not read: {e}"))
        })
        .await?;
        let contents = reader
            .finish()
            .map_err(|e| anyhow!("the agent sent a bundle that does not read: {e}"))?
            .contents;
        let n = contents.items.len();
        let bar = output::progress(n, "exporting");
        for i in &contents.items {
            let (rel, text) = vault_core::formats::to_markdown(i);
            let path = self.out.join(rel);
            if let Some(dir) = path.parent() {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            create_file(&path)?
                .write_all(text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(Counts {
            items: n as u64,
            ..Default::default()
        })
    }
}

/// A sink for bundle text that ends by giving back its file.
trait Sink: Write {
    fn finish(self: Box<Self>) -> std::io::Result<BufWriter<std::fs::File>>;
}

impl Sink for age::stream::StreamWriter<BufWriter<std::fs::File>> {
    fn finish(self: Box<Self>) -> std::io::Result<BufWriter<std::fs::File>> {
        age::stream::StreamWriter::finish(*self)
    }
}

/// Text written as it is.
struct Plain(BufWriter<std::fs::File>);

impl Write for Plain {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Sink for Plain {
    fn finish(self: Box<Self>) -> std::io::Result<BufWriter<std::fs::File>> {
        Ok(self.0)
    }
}

/// Feed the export's text to `write` until its end.
async fn pump(
    stream: &mut ExportStream,
    mut write: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<Counts> {
    loop {
        match stream.next().await?.map_err(|e| anyhow!(e.message))? {
            Piece::Text(t) => write(t)?,
            Piece::Done(c) => return Ok(c),
        }
    }
}

/// Write the export into a new file at `path` through the sink `wrap`
/// makes, synced to disk. It is written under a temporary name in the same
/// folder (0600) and takes its name only once complete, never replacing a
/// file: an export that fails or is interrupted never leaves a partial
/// bundle looking like a whole one.
async fn write_file(
    path: &Path,
    stream: &mut ExportStream,
    wrap: impl FnOnce(BufWriter<std::fs::File>) -> anyhow::Result<Box<dyn Sink>>,
) -> anyhow::Result<Counts> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".ctxvault-export-")
        .tempfile_in(dir)
        .map_err(|e| anyhow!("cannot create a file in {}: {e}", dir.display()))?;
    let (file, tmp_path) = tmp.into_parts();
    let writing = || format!("writing {}", path.display());
    let mut sink = wrap(BufWriter::with_capacity(1 << 20, file))?;
    let counts = pump(stream, |t| sink.write_all(t).with_context(writing)).await?;
    sink.finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .with_context(writing)?;
    tmp_path
        .persist_noclobber(path)
        .map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow!(
                "{} already exists; choose another name or remove it first",
                path.display()
            ),
            _ => anyhow!("cannot create {}: {}", path.display(), e.error),
        })?;
    Ok(counts)
}
