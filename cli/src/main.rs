//! `ctxvault`: the command line of the user-owned context vault.
//!
//! Thin by design: each subcommand is a module with a clap-derived struct
//! and a `run`; the work happens in the agent (vault-daemon), reached over
//! its Unix socket.

#[macro_use]
mod output;
mod cmd;
mod config;
mod ctx;
mod examples;
mod keyring;
mod merge;
mod secret;
mod setup;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};

/// Every heap block is wiped as it is freed: the agent's request and answer
/// buffers, the HTTP stack's read buffers and the parser's scratch copies
/// hold passphrases, tokens and item text that no `Zeroizing` type reaches.
#[global_allocator]
static ALLOC: zalloc::ZeroizingAlloc<std::alloc::System> =
    zalloc::ZeroizingAlloc(std::alloc::System);

/// ctxvault keeps your AI context in one encrypted vault that you own, and
/// decides which slices each AI client may see.
#[derive(Parser)]
#[command(name = "ctxvault", version, about, max_term_width = 100)]
struct Cli {
    /// Vault directory (default: $CTXVAULT_HOME, else the XDG data dir).
    #[arg(long, global = true, value_name = "DIR")]
    vault: Option<PathBuf>,
    /// Print results as JSON (on every command that prints any; not for
    /// `daemon`, `mcp` and `demo`).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: cmd::Command,
}

/// The command line, with its examples.
pub(crate) fn command() -> clap::Command {
    examples::apply(Cli::command())
}

fn main() -> ExitCode {
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => return output::clap_error(e),
    };
    let dir = match ctx::vault_dir(cli.vault) {
        Ok(d) => d,
        Err(e) => return output::fail(&e),
    };
    let config = match config::Config::load(&dir) {
        Ok(c) => c,
        Err(e) => return output::fail(&e),
    };
    if cli.json && cli.command.is_stream() {
        return output::fail(&anyhow::anyhow!(
            "--json: this command prints no results to format; run it without --json"
        ));
    }
    if let cmd::Command::Daemon(d) = cli.command {
        // The agent hardens itself and builds its own runtime.
        return d.run(dir, &config);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return output::fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    let json = cli.json || (config.output == config::Output::Json && !cli.command.is_stream());
    match rt.block_on(
        cli.command
            .run(ctx::Ctx::new(dir, json).with_config(config)),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::fail(&e),
    }
}
