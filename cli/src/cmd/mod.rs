//! The subcommands, one module each.

mod access;
mod add;
mod aspect;
mod audit;
mod backup;
mod client;
mod client_setup;
mod completions;
mod config;
mod confirm;
mod connector;
mod console;
mod daemon;
mod demo;
mod deny;
mod distill;
mod edit;
mod editor;
mod export;
mod get;
mod grant;
mod grants;
mod history;
mod http;
mod identity;
mod import;
mod init;
mod keyring;
mod lock;
mod ls;
mod mcp;
mod mcpb;
mod model;
mod passwd;
mod pending;
mod provider;
mod rekey;
mod revoke;
mod rm;
mod search;
mod service;
mod status;
mod stop;
mod sync;
mod unlock;

use clap::Subcommand;

use crate::ctx::Ctx;

/// Every subcommand.
#[derive(Subcommand)]
pub enum Command {
    /// Create a vault and leave the agent running with it unlocked.
    Init(init::Init),
    /// Unlock the vault in the agent (passphrase or age identity).
    Unlock(unlock::Unlock),
    /// Lock the vault: the agent wipes its keys and the search index.
    Lock(lock::Lock),
    /// Show whether the agent runs, whether the vault is locked, and counts.
    Status(status::Status),
    /// Stop the agent (the vault locks).
    Stop(stop::Stop),
    /// Run the agent in the foreground.
    Daemon(daemon::Daemon),
    /// Add an item; prints its id.
    Add(add::Add),
    /// Show one item.
    Get(get::Get),
    /// Change an item: only the fields given change (--tag replaces the
    /// tags, --add-tag and --rm-tag keep the others); with no text and no
    /// field it opens in $VISUAL or $EDITOR.
    Edit(edit::Edit),
    /// Delete items (named by id or its first characters, or a whole
    /// namespace with --ns); all go or none does.
    Rm(rm::Rm),
    /// List items.
    Ls(ls::Ls),
    /// Search by words and meaning, best match first.
    Search(search::Search),
    /// Embedding models for search by meaning: install, ls, use.
    #[command(subcommand)]
    Model(model::Model),
    /// Manage AI clients: add, ls, rm, rotate, and connect apps (setup, bundle).
    #[command(subcommand)]
    Client(client::Client),
    /// Give a client actions on a scope; prints the grant id.
    Grant(grant::GrantCmd),
    /// Remove a scope from a client whatever grants say; prints the rule id.
    Deny(deny::Deny),
    /// Remove a grant or deny rule by id, or all of a client's with --all.
    Revoke(revoke::Revoke),
    /// List grants and deny rules.
    Grants(grants::Grants),
    /// What a client can see and do.
    Access(access::Access),
    /// The record of every read and write made for a client, and of every
    /// policy change; `audit verify` checks it.
    Audit(audit::Audit),
    /// Write everything to an encrypted bundle (or a plain JSONL file or
    /// Markdown folder) that you can take anywhere.
    Export(export::Export),
    /// Bring items in: a bundle, our JSONL or Markdown, plain lines, the
    /// MCP memory server's memory.jsonl, or history: ChatGPT's and Claude's
    /// data exports and chat transcripts.
    Import(import::Import),
    /// Change the passphrase (only its key slot changes).
    Passwd(passwd::Passwd),
    /// Manage age identities that can unlock the vault: add, rm, ls.
    #[command(subcommand)]
    Identity(identity::Identity),
    /// Make a new master key and re-seal everything under it.
    Rekey(rekey::Rekey),
    /// Serve MCP over stdio for one client (token in CTXVAULT_TOKEN).
    Mcp(mcp::Mcp),
    /// A tour of a second or two in a throwaway vault: two AI clients, real
    /// MCP sessions side by side, a live revoke, the audit trail.
    Demo(demo::Demo),
    /// List what clients proposed to remember, waiting for your review.
    Pending(pending::Pending),
    /// Store a proposal in the vault.
    Approve(pending::Approve),
    /// Drop a proposal.
    Reject(pending::Reject),
    /// Ask a model to propose facts and preferences from imported history.
    Distill(distill::Distill),
    /// Copy the sealed database to a file while the agent runs.
    Backup(backup::Backup),
    /// Run the agent at login: a systemd user unit or a launchd agent.
    #[command(subcommand)]
    Service(service::Service),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(completions::Completions),
    /// Print the manual page, or write them all with --out DIR.
    Man(completions::Man),
    /// Open or close MCP over HTTP in the running agent (no restart).
    #[command(subcommand)]
    Http(http::Http),
    /// Open the web console in your browser (one-time login link).
    Console(console::ConsoleCmd),
    /// Hosted assistants connecting with OAuth: approve, deny, ls, revoke.
    #[command(subcommand)]
    Connector(connector::Connector),
    /// The model providers the proxy forwards to, and each client's route.
    #[command(subcommand)]
    Provider(provider::Provider),
    /// Show the settings in force (config.toml) and where they come from.
    Config(config::ConfigCmd),
    /// Keep the passphrase in the system keyring, to unlock at login.
    #[command(subcommand)]
    Keyring(keyring::Keyring),
    /// Named views that narrow what every client sees for a while: add,
    /// use, off, ls, rm.
    #[command(subcommand)]
    Aspect(aspect::Aspect),
    /// How long items are kept: set, rm, ls, sweep.
    #[command(subcommand)]
    Retention(aspect::Retention),
    /// Reads waiting for your yes (grants made with --confirm): list them,
    /// or answer one.
    Confirm(confirm::Confirm),
    /// One vault on every device, end-to-end encrypted through a folder a
    /// file-sync engine replicates: add, now, status, join, conflicts,
    /// resolve, unblock.
    #[command(subcommand)]
    Sync(sync::Sync),
}

impl Command {
    /// True for the commands that serve or narrate rather than print
    /// results (`--json` has nothing to format there).
    pub fn is_stream(&self) -> bool {
        matches!(
            self,
            Command::Daemon(_) | Command::Mcp(_) | Command::Demo(_) | Command::Completions(_)
        )
    }

    /// Run the command (every one but `daemon`, which owns its runtime).
    pub async fn run(self, ctx: Ctx) -> anyhow::Result<()> {
        match self {
            Command::Init(c) => c.run(&ctx).await,
            Command::Unlock(c) => c.run(&ctx).await,
            Command::Lock(c) => c.run(&ctx).await,
            Command::Status(c) => c.run(&ctx).await,
            Command::Stop(c) => c.run(&ctx).await,
            Command::Daemon(_) => anyhow::bail!("the daemon runs in its own runtime"),
            Command::Add(c) => c.run(&ctx).await,
            Command::Get(c) => c.run(&ctx).await,
            Command::Edit(c) => c.run(&ctx).await,
            Command::Rm(c) => c.run(&ctx).await,
            Command::Ls(c) => c.run(&ctx).await,
            Command::Search(c) => c.run(&ctx).await,
            Command::Model(c) => c.run(&ctx).await,
            Command::Client(c) => c.run(&ctx).await,
            Command::Provider(c) => c.run(&ctx).await,
            Command::Grant(c) => c.run(&ctx).await,
            Command::Deny(c) => c.run(&ctx).await,
            Command::Revoke(c) => c.run(&ctx).await,
            Command::Grants(c) => c.run(&ctx).await,
            Command::Access(c) => c.run(&ctx).await,
            Command::Audit(c) => c.run(&ctx).await,
            Command::Export(c) => c.run(&ctx).await,
            Command::Import(c) => c.run(&ctx).await,
            Command::Passwd(c) => c.run(&ctx).await,
            Command::Identity(c) => c.run(&ctx).await,
            Command::Rekey(c) => c.run(&ctx).await,
            Command::Mcp(c) => c.run(&ctx).await,
            Command::Demo(c) => c.run().await,
            Command::Pending(c) => c.run(&ctx).await,
            Command::Distill(c) => c.run(&ctx).await,
            Command::Approve(c) => c.run(&ctx).await,
            Command::Reject(c) => c.run(&ctx).await,
            Command::Backup(c) => c.run(&ctx).await,
            Command::Service(c) => c.run(&ctx).await,
            Command::Completions(c) => c.run(),
            Command::Man(c) => c.run(ctx.json),
            Command::Http(c) => c.run(&ctx).await,
            Command::Console(c) => c.run(&ctx).await,
            Command::Connector(c) => c.run(&ctx).await,
            Command::Config(c) => c.run(&ctx).await,
            Command::Keyring(c) => c.run(&ctx).await,
            Command::Aspect(c) => c.run(&ctx).await,
            Command::Retention(c) => c.run(&ctx).await,
            Command::Confirm(c) => c.run(&ctx).await,
            Command::Sync(c) => c.run(&ctx).await,
        }
    }
}

/// Parse an item id, with a message that says what an id looks like.
/// An item named on the command line: its whole id, or (as git takes a
/// commit) any start of it that only one item's id has.
#[derive(Clone, Debug)]
pub enum ItemId {
    /// A whole id.
    Whole(uuid::Uuid),
    /// The start of one: hex digits, dashes ignored.
    Start(String),
}

/// Parse an item id argument: a whole id, or at least four hex digits.
pub fn parse_item_id(s: &str) -> Result<ItemId, String> {
    let s = s.trim();
    if let Ok(id) = uuid::Uuid::parse_str(s) {
        return Ok(ItemId::Whole(id));
    }
    let digits = s.chars().filter(|c| *c != '-').count();
    if digits >= vault_core::vault::MIN_PREFIX
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
    {
        return Ok(ItemId::Start(s.to_ascii_lowercase()));
    }
    Err(format!(
        "malformed id {s:?}: give an item's id, or its first {} or more characters, as `ctxvault ls` shows them",
        vault_core::vault::MIN_PREFIX
    ))
}

/// Parse a whole id (of a proposal).
pub fn parse_id(s: &str) -> Result<uuid::Uuid, String> {
    uuid::Uuid::parse_str(s.trim())
        .map_err(|_| format!("malformed id {s:?}: an item id is a UUID such as 0192f0c1-7c5e-7d3a-9a4e-3b1f2c4d5e6f; list ids with `ctxvault ls`"))
}

/// Read item text: the argument, or standard input for `-` (without the
/// newline that ends what `echo` or a file gives).
pub fn read_text(arg: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    use std::io::Read;
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut s)
            .context("reading the text from stdin (it must be UTF-8)")?;
        if s.ends_with('\n') {
            s.pop();
            if s.ends_with('\r') {
                s.pop();
            }
        }
        Ok(s)
    } else {
        Ok(arg.to_owned())
    }
}

/// Item fields shared by `add` and `edit`.
#[derive(clap::Args, Default)]
pub struct ItemFields {
    /// Namespace, a slash path such as `work/acme` (`add`: default `notes`).
    #[arg(long = "ns", value_name = "NS")]
    pub namespace: Option<vault_core::Namespace>,
    /// Kind (`add`: default `note`): fact, preference, note, person, project,
    /// event, document, or one already in use; another needs --new-kind.
    #[arg(long)]
    pub kind: Option<vault_core::Kind>,
    /// Allow a kind no item has yet (refused otherwise, as a likely typo).
    #[arg(long, requires = "kind")]
    pub new_kind: bool,
    /// Short title.
    #[arg(long)]
    pub title: Option<String>,
    /// A tag (repeat for several). On `edit`, the new set of tags,
    /// replacing the old one (see --add-tag and --rm-tag).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<vault_core::Tag>,
    /// public, normal, private or secret (`add`: default `normal`).
    #[arg(long)]
    pub sensitivity: Option<vault_core::Sensitivity>,
}

pub use vault_daemon::when::parse_time;

/// The scrypt work factor from `CTXVAULT_SCRYPT_WORK_FACTOR` (for tests),
/// with a warning when it is below the default; `None` for the default.
pub fn work_factor_from_env() -> anyhow::Result<Option<u8>> {
    const ENV: &str = "CTXVAULT_SCRYPT_WORK_FACTOR";
    let Ok(v) = std::env::var(ENV) else {
        return Ok(None);
    };
    let n: u8 = v
        .parse()
        .map_err(|_| anyhow::anyhow!("{ENV}={v:?} is not a number; unset it"))?;
    vault_core::WorkFactor::new(n).map_err(|e| anyhow::anyhow!("{ENV}: {e}"))?;
    let default = vault_core::WorkFactor::DEFAULT.get();
    if n < default {
        eprintln!(
            "warning: scrypt work factor {n} is below the default {default}; fine for tests, weak for real use"
        );
    }
    Ok(Some(n))
}
