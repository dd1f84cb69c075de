//! Fuzz targets for the parsers an attacker reaches, and a runner for them
//! on stable Rust.
//!
//! Each target is a `pub fn(&[u8])` in [`targets`] that must return for
//! every input, never panic (in any thread) and never hang:
//!
//! | target | what it feeds |
//! |---|---|
//! | `bundle` | an age bundle or bundle text: `keys::age_unwrap` with a fixed identity, and with a passphrase when the file's scrypt work factor is low, then `bundle::Contents::from_ndjson` (and its round trip) |
//! | `formats` | every import format: Markdown with front matter, MCP memory JSONL, plain lines, then `Item::validate` |
//! | `records` | the sealed-record decoders (`records::open_item`, `records::open_record`) under a fixed key, on raw blobs and on plaintexts sealed by the real sealer |
//! | `mcp` | the MCP server (`mcp_server::ContextServer`) over an in-memory duplex, after an `initialize` handshake, with an in-memory client view |
//! | `audit` | `audit::AuditKeys::verify` over an in-memory SQLite database whose `audit` and `audit_head` rows the input builds and tampers with |
//!
//! Seeds are in `fuzz/corpus/<target>/` (regenerate the `seed-*` files with
//! the `seed` command after a format change).
//!
//! # Running
//! ```text
//! cargo test -p ctxvault-fuzz                       # every target, 2 s each (debug)
//! CTXVAULT_FUZZ_SECS=20 cargo run --release -p ctxvault-fuzz -- run
//! cargo run --release -p ctxvault-fuzz -- run mcp audit   # some targets
//! ```
//! A run replays every corpus file, then mutates corpus inputs (bit flips,
//! byte inserts and deletes, copies, splices of two files, line swaps,
//! interesting numbers, the target's dictionary) until the budget
//! (`CTXVAULT_FUZZ_SECS`, seconds per target, default 2) is spent. The seed
//! is `CTXVAULT_FUZZ_SEED` (a number, or `random`); by default it is fixed,
//! so CI is reproducible. A watchdog stops the run if one input takes more
//! than `CTXVAULT_FUZZ_HANG_SECS` (default 30).
//!
//! # Reproducing a failure
//! A failing input is written to `fuzz/crashes/<target>-<hash>` (or
//! `CTXVAULT_FUZZ_CRASH_DIR`) and printed escaped in the log, with the seed.
//! Replay it, under a debugger if need be:
//! ```text
//! cargo run -p ctxvault-fuzz -- replay <target> fuzz/crashes/<file>
//! ```
//! Once fixed, copy the file into `fuzz/corpus/<target>/` so it stays tested.
//!
//! # Coverage-guided runs (nightly, optional)
//! `fuzz/libfuzzer/` holds libFuzzer entry points calling the same
//! functions, built and run by `fuzz/libfuzzer/run.sh TARGET SECS` with
//! nightly; see its README. It is its own workspace: CI never builds it.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fixture;
pub mod mutate;
pub mod runner;
pub mod seeds;
pub mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

/// One fuzz target.
pub struct Target {
    /// Its name, also the name of its corpus directory.
    pub name: &'static str,
    /// The function under test.
    pub run: fn(&[u8]),
    /// Tokens the mutator inserts (keywords of the format).
    pub dict: &'static [&'static [u8]],
    /// Longest input the mutator makes.
    pub max_len: usize,
}

/// Every target, in the order the runner runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "bundle",
        run: targets::bundle::run,
        dict: targets::bundle::DICT,
        max_len: 16 * 1024,
    },
    Target {
        name: "formats",
        run: targets::formats::run,
        dict: targets::formats::DICT,
        max_len: 16 * 1024,
    },
    Target {
        name: "records",
        run: targets::records::run,
        dict: targets::records::DICT,
        max_len: 8 * 1024,
    },
    Target {
        name: "mcp",
        run: targets::mcp::run,
        dict: targets::mcp::DICT,
        max_len: 16 * 1024,
    },
    Target {
        name: "audit",
        run: targets::audit::run,
        dict: targets::audit::DICT,
        max_len: 4 * 1024,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

static PANICS: AtomicU64 = AtomicU64::new(0);
static HOOK: Once = Once::new();

/// Count every panic in the process, in any thread: a panic in a task the
/// server spawned is caught by tokio and would otherwise go unseen. The
/// previous hook still prints the message.
fn install_panic_counter() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Run `target` on `data`; `Err` with a description when it panicked, here
/// or in any other thread while it ran.
pub fn check(target: &Target, data: &[u8]) -> Result<(), String> {
    install_panic_counter();
    let before = PANICS.load(Ordering::SeqCst);
    let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(data)));
    let after = PANICS.load(Ordering::SeqCst);
    match outcome {
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".to_owned());
            Err(format!("target {} panicked: {msg}", target.name))
        }
        Ok(()) if after != before => Err(format!(
            "target {}: {} panic(s) in another thread (see the message above)",
            target.name,
            after - before
        )),
        Ok(()) => Ok(()),
    }
}
