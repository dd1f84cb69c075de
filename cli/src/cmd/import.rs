//! `ctxvault import`.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use vault_core::bundle::Contents;
use vault_core::keys::{self, Unlock};
use vault_core::{Item, Namespace, Tag, formats};
use vault_daemon::ErrorKind;
use vault_daemon::client::Bytes;
use vault_daemon::protocol as p;
use zeroize::Zeroizing;

use super::history::History;
use crate::ctx::Ctx;
use crate::{output, secret};
use vault_core::formats::history::Origin;

/// An import format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// An age-encrypted bundle from `export`.
    Bundle,
    /// Our plain JSONL (docs/bundle-format.md).
    Jsonl,
    /// A folder of Markdown files: ours, hand-written, with YAML front
    /// matter or none.
    Markdown,
    /// One memory per line, as copied from ChatGPT's or Claude's memory settings.
    Lines,
    /// The memory.jsonl of the MCP memory server (@modelcontextprotocol/server-memory).
    McpMemory,
    /// ChatGPT's data export: the zip, or its conversations.json.
    Chatgpt,
    /// Claude's data export: the zip, or its conversations.json.
    Claude,
    /// Chat transcripts: JSON lines of {role, content} messages.
    Transcript,
}

/// Bring items in, in one transaction: a bad record anywhere aborts the
/// import (naming the file and position) and nothing is written. Items
/// already present (same id, or same namespace and text) are skipped and
/// counted, so importing twice changes nothing.
#[derive(clap::Args)]
pub struct Import {
    /// A file, or a folder of Markdown files.
    path: PathBuf,
    /// The format; detected when not given.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Namespace for `lines` and `mcp-memory` (defaults: memories, memory);
    /// for the other formats, a prefix put before each item's namespace.
    #[arg(long = "ns", value_name = "PREFIX")]
    namespace: Option<Namespace>,
    /// Add this tag to every imported item (repeat for several).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<Tag>,
    /// Report what would be imported; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also import the file's clients, grants and deny rules. They attach
    /// only to clients the import creates, never to existing ones; what
    /// they grant is shown, and confirmed, before anything is written.
    #[arg(long)]
    with_policy: bool,
    /// With --with-policy: import without asking (required when not run in
    /// a terminal).
    #[arg(long, requires = "with_policy")]
    yes: bool,
    /// Markdown: stop at the first file that cannot be an item, importing
    /// nothing (by default such files are named, with the reason, and left
    /// out).
    #[arg(long)]
    strict: bool,
    /// Open a bundle sealed to age recipients with this identity file.
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
}

fn detect(path: &Path, bytes: &[u8]) -> anyhow::Result<Format> {
    if vault_core::bundle::is_age(bytes) {
        return Ok(Format::Bundle);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        anyhow!(
            "{}: neither an age bundle nor UTF-8 text; pass --format if you know what it is",
            path.display()
        )
    })?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.trim_start().starts_with('{') {
        if first.contains("\"ctxvault-bundle\"") {
            return Ok(Format::Jsonl);
        }
        if formats::looks_like_mcp_memory(text) {
            return Ok(Format::McpMemory);
        }
        bail!(
            "{}: JSON lines of an unknown kind; pass --format jsonl or --format mcp-memory",
            path.display()
        );
    }
    Ok(Format::Lines)
}

/// The bundle text inside an age file.
fn open_bundle(
    path: &Path,
    bytes: &[u8],
    identity: Option<&Path>,
) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let how = match identity {
        Some(f) => Unlock::identity_file(secret::identity_file(f)?.expose_secret())?,
        None => Unlock::Passphrase(keys::passphrase(
            secret::read("CTXVAULT_BUNDLE_PASSPHRASE", "Bundle passphrase", false)?.expose_secret(),
        )),
    };
    keys::age_unwrap(bytes, &how).map_err(|e| match e {
        vault_core::Error::WrongPassphrase => anyhow!(
            "{}: wrong passphrase for this bundle (or it is sealed to age recipients: pass --identity FILE)",
            path.display()
        ),
        vault_core::Error::IdentityNoMatch => anyhow!("{}: this identity cannot open the bundle", path.display()),
        vault_core::Error::MalformedSlot(why) => {
            anyhow!("{}: the bundle is damaged or truncated ({why})", path.display())
        }
        e => anyhow!("{}: {e}", path.display()),
    })
}

/// The Markdown files under `dir`, in path order. Symbolic links are not
/// followed (a looping link would never end, and a link would read files
/// outside the folder or the same ones twice): each is named on stderr as
/// skipped.
fn markdown_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut links = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .with_context(|| format!("{}: cannot read the folder", d.display()))?
        {
            let e = e.with_context(|| format!("{}: cannot read the folder", d.display()))?;
            let kind = e
                .file_type()
                .with_context(|| format!("{}: cannot read", e.path().display()))?;
            let p = e.path();
            if kind.is_symlink() {
                links.push(p);
            } else if kind.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    links.sort();
    for l in &links {
        eprintln!(
            "skipped {}: a symbolic link (links are not followed)",
            output::visible_line(&l.display().to_string())
        );
    }
    files.sort();
    Ok(files)
}

/// Largest Markdown file read: an item's body is at most 1 MiB.
const MAX_MARKDOWN_FILE: u64 = 2 * 1024 * 1024;

/// One Markdown file as an item, or why it cannot be one.
fn markdown_file(f: &Path) -> anyhow::Result<formats::Markdown> {
    let name = f.display().to_string();
    let len = std::fs::metadata(f)
        .map_err(|e| anyhow!("{name}: cannot read: {e}"))?
        .len();
    if len > MAX_MARKDOWN_FILE {
        bail!("{name}: the file is {len} bytes, over the 2 MiB an item can come from; split it");
    }
    let bytes = std::fs::read(f).map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| anyhow!("{name}: cannot read: not UTF-8 text"))?;
    Ok(formats::from_markdown(&name, &text)?)
}

impl Format {
    /// The format's name on the command line.
    fn name(self) -> &'static str {
        match self {
            Format::Bundle => "bundle",
            Format::Jsonl => "jsonl",
            Format::Markdown => "markdown",
            Format::Lines => "lines",
            Format::McpMemory => "mcp-memory",
            Format::Chatgpt => "chatgpt",
            Format::Claude => "claude",
            Format::Transcript => "transcript",
        }
    }

    /// The format in words, for reports.
    fn words(self) -> &'static str {
        match self {
            Format::Bundle => "an encrypted ctxvault bundle",
            Format::Jsonl => "a plain ctxvault JSONL file",
            Format::Markdown => "a folder of Markdown files",
            Format::Lines => "one memory per line",
            Format::McpMemory => "the MCP memory server's memory file",
            Format::Chatgpt => "a ChatGPT data export",
            Format::Claude => "a Claude data export",
            Format::Transcript => "chat transcripts",
        }
    }
}

impl Import {
    /// The history export at the path, when it is one (by --format, or
    /// detected when no other format is given).
    fn history(&self) -> anyhow::Result<Option<History>> {
        let forced = match self.format {
            None => None,
            Some(Format::Chatgpt) => Some(Origin::ChatGpt),
            Some(Format::Claude) => Some(Origin::Claude),
            Some(Format::Transcript) => Some(Origin::Transcript),
            Some(_) => return Ok(None),
        };
        if self.path.is_dir()
            || (forced.is_none() && self.path.extension().is_some_and(|x| x == "md"))
        {
            if forced.is_some() {
                bail!(
                    "{} is a folder: pass the export's zip or its conversations.json",
                    self.path.display()
                );
            }
            return Ok(None);
        }
        History::detect(&self.path, forced)
    }

    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        ctx.require_vault()?;
        let path = &self.path;
        let mut skipped_files = 0;
        // Bundles and JSONL go to the agent as they are (it reads them, and
        // applies --ns and --tag); the other formats are read here into
        // items, checked (naming their position), and sent as bundle text.
        if let Some(h) = self.history()? {
            if self.with_policy {
                bail!(
                    "{}: a history export holds no clients or rules; drop --with-policy",
                    path.display()
                );
            }
            if self.namespace.is_some() {
                bail!(
                    "--ns does not apply to {}: history goes under history/{}/; drop --ns",
                    h.words(),
                    h.format_name()
                );
            }
            return h.import(ctx, &self.tags, self.dry_run).await;
        }
        let (format, text, applied) = if path.is_dir() {
            if self.format.is_some_and(|f| f != Format::Markdown) {
                bail!(
                    "{} is a folder: only --format markdown reads folders",
                    path.display()
                );
            }
            let (items, skipped) = self.markdown(markdown_files(path)?, self.strict)?;
            skipped_files = skipped;
            (Format::Markdown, as_bundle(items), true)
        } else if self.format == Some(Format::Markdown)
            || (self.format.is_none() && path.extension().is_some_and(|x| x == "md"))
        {
            // One Markdown file: one item (bad input is an error here).
            let (items, skipped) = self.markdown(vec![path.clone()], true)?;
            skipped_files = skipped;
            (Format::Markdown, as_bundle(items), true)
        } else {
            let bytes = Zeroizing::new(
                std::fs::read(path).map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?,
            );
            let format = match self.format {
                Some(f) => f,
                None => detect(path, &bytes)?,
            };
            let text = || {
                std::str::from_utf8(&bytes)
                    .map_err(|_| anyhow!("{}: not UTF-8 text", path.display()))
            };
            match format {
                Format::Bundle => (
                    format,
                    open_bundle(path, &bytes, self.identity.as_deref())?,
                    false,
                ),
                Format::Jsonl => (format, bytes, false),
                Format::Lines => {
                    let ns = self
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "memories".parse().unwrap_or_default());
                    let items = self.adjust(format, formats::from_lines(text()?, &ns))?;
                    (format, as_bundle(items), true)
                }
                Format::McpMemory => {
                    let ns = self
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "memory".parse().unwrap_or_default());
                    let items =
                        formats::from_mcp_memory(&path.display().to_string(), text()?, &ns)?;
                    let items = self.adjust(format, items)?;
                    (format, as_bundle(items), true)
                }
                Format::Markdown => bail!(
                    "{} is not a Markdown file (.md); pass the file or its folder",
                    path.display()
                ),
                Format::Chatgpt | Format::Claude | Format::Transcript => {
                    bail!("{}: cannot be read as {}", path.display(), format.words())
                }
            }
        };
        let text = Bytes::from_owner(text);
        let opts = |dry_run: bool| p::Import {
            dry_run,
            with_policy: self.with_policy,
            prefix: self.namespace.clone().filter(|_| !applied),
            ids_only: false,
            tags: if applied {
                Vec::new()
            } else {
                self.tags.clone()
            },
        };
        let import = |opts: p::Import| {
            let text = text.clone();
            async move {
                match ctx.import(&opts, text).await? {
                    Ok(s) => Ok(s),
                    // The agent names the line; say which file.
                    Err(e) if e.kind == ErrorKind::Invalid => {
                        Err(anyhow!("{}: {}", path.display(), e.message))
                    }
                    Err(e) => Err(anyhow!(e.message)),
                }
            }
        };
        if self.with_policy && !self.dry_run && !self.yes {
            // Show what the file grants, then ask.
            let preview = import(opts(true)).await?;
            if !preview.new_clients.is_empty() || !preview.rules.is_empty() {
                use std::io::IsTerminal;
                if !std::io::stdin().is_terminal() {
                    bail!(
                        "importing policy needs --yes when not run in a terminal; see what it would grant with --dry-run --with-policy"
                    );
                }
                print_policy(&preview);
                eprint!("import these clients and rules? [y/N] ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    bail!("import cancelled: nothing was written");
                }
            }
        }
        let s = import(opts(self.dry_run)).await?;
        if ctx.json {
            return output::json(&serde_json::json!({
                "path": path.display().to_string(),
                "format": format.name(),
                "dry_run": s.dry_run,
                "offered": s.offered,
                "added": s.added,
                "duplicates": s.duplicates,
                "files_left_out": skipped_files,
                "policy_left_out": s.policy_left_out,
                "clients": s.clients,
                "grants": s.grants,
                "denies": s.denies,
                "rules_skipped": s.rules_skipped,
                "new_clients": s.new_clients,
                "rules": s.rules,
            }));
        }
        let verb = if s.dry_run {
            "would import"
        } else {
            "imported"
        };
        let mut line = format!(
            "{verb} {} of {} items from {} ({}); {}",
            s.added,
            s.offered,
            path.display(),
            format.words(),
            output::count(s.duplicates, "duplicate"),
        );
        line.push_str(" skipped");
        if skipped_files > 0 {
            line.push_str(&format!(
                "; {} left out (named above)",
                output::count(skipped_files as u64, "file")
            ));
        }
        outln!("{line}");
        if s.policy_left_out > 0 {
            outln!(
                "policy: {} in the file left out; pass --with-policy to import them (they attach only to new clients)",
                output::count(s.policy_left_out, "client or rule record")
            );
        }
        if s.dry_run {
            print_policy(&s);
        }
        if s.clients + s.grants + s.denies + s.rules_skipped > 0 {
            outln!(
                "policy: {}, {}, {}; {} skipped{}",
                output::count(s.clients, "client"),
                output::count(s.grants, "grant"),
                output::count(s.denies, "deny rule"),
                s.rules_skipped,
                if s.clients > 0 && !s.dry_run {
                    "; imported clients have no token yet: run `ctxvault client rotate NAME` for each"
                } else {
                    ""
                }
            );
        }
        Ok(())
    }

    /// The items of a folder of Markdown files. A file that cannot be an
    /// item is named on stderr with the reason and left out, or with
    /// --strict ends the import; keys left out of front matter are named
    /// once, with how many files had them. Returns the items (in the order
    /// they were made) and how many files were left out.
    fn markdown(&self, files: Vec<PathBuf>, strict: bool) -> anyhow::Result<(Vec<Item>, usize)> {
        let bar = output::progress(files.len(), "reading");
        let mut items = Vec::with_capacity(files.len());
        let mut skipped = 0;
        let mut ignored: std::collections::BTreeMap<String, usize> = Default::default();
        let mut bad_tags: std::collections::BTreeMap<String, usize> = Default::default();
        for f in &files {
            let read = markdown_file(f).and_then(|m| {
                if m.item.body.trim().is_empty() {
                    bail!(
                        "{}: no text after the front matter; an item needs some",
                        f.display()
                    );
                }
                let item = self
                    .adjust_one(Format::Markdown, m.item)
                    .map_err(|e| anyhow!("{}: {e}", f.display()))?;
                Ok((item, m.ignored, m.bad_tags))
            });
            match read {
                Ok((item, keys, tags)) => {
                    items.push(item);
                    for k in keys {
                        *ignored.entry(k).or_default() += 1;
                    }
                    for t in tags {
                        *bad_tags.entry(t).or_default() += 1;
                    }
                }
                Err(e) if strict => {
                    return Err(e.context("nothing was imported (--strict)"));
                }
                Err(e) => {
                    bar.suspend(|| {
                        eprintln!("skipped {}", output::visible_line(&format!("{e:#}")))
                    });
                    skipped += 1;
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let counted = |m: &std::collections::BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, n)| {
                    format!(
                        "{} ({})",
                        output::visible_line(k),
                        output::count(*n as u64, "file")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !bad_tags.is_empty() {
            eprintln!(
                "tags that cannot be ctxvault tags (lowercase a-z 0-9 . _ -) were left out: {}",
                counted(&bad_tags)
            );
        }
        if !ignored.is_empty() {
            eprintln!(
                "front matter keys ctxvault has no field for were left out: {}",
                counted(&ignored)
            );
        }
        // Files come in path order; restore the order the items were made in.
        items.sort_by_key(|a| (a.created_at, a.id));
        Ok((items, skipped))
    }

    /// Put --ns before an item's namespace (Markdown) and add --tag, then
    /// check it.
    fn adjust_one(&self, format: Format, mut item: Item) -> anyhow::Result<Item> {
        if let Some(prefix) = self
            .namespace
            .as_ref()
            .filter(|_| format == Format::Markdown)
        {
            item.namespace = format!("{prefix}/{}", item.namespace).parse()?;
        }
        item.tags.extend(self.tags.iter().cloned());
        item.validate()?;
        Ok(item)
    }

    /// [`Self::adjust_one`] for each item, naming the position of a bad one.
    fn adjust(&self, format: Format, items: Vec<Item>) -> anyhow::Result<Vec<Item>> {
        let path = &self.path;
        items
            .into_iter()
            .enumerate()
            .map(|(k, item)| {
                self.adjust_one(format, item)
                    .map_err(|e| anyhow!("{}: record {}: {e}", path.display(), k + 1))
            })
            .collect()
    }
}

/// Items as bundle text.
fn as_bundle(items: Vec<Item>) -> Zeroizing<Vec<u8>> {
    Contents {
        items,
        ..Default::default()
    }
    .to_ndjson(chrono::Utc::now())
}

/// The clients and rules an import creates, one per line.
fn print_policy(s: &p::ImportSummary) {
    for c in &s.new_clients {
        outln!("new client {c}");
    }
    for r in &s.rules {
        outln!("{}", super::grants::rule_line(r));
    }
}
