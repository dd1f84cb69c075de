//! Every fuzz target under `cargo test`: its corpus replayed, then
//! mutations for `CTXVAULT_FUZZ_SECS` (default 2 s) with the fixed seed.

use ctxvault_fuzz::runner::{self, Options};
use ctxvault_fuzz::target;

fn fuzz(name: &str) {
    let opts = match Options::from_env() {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    let Some(t) = target(name) else {
        panic!("no target {name}");
    };
    match runner::campaign(t, &opts) {
        Ok(s) => {
            assert!(s.replayed > 0, "the {name} corpus is empty");
            println!(
                "{name}: {} corpus files, {} mutants in {:.1} s",
                s.replayed,
                s.mutants,
                s.elapsed.as_secs_f64()
            );
        }
        Err(f) => panic!("{}", runner::describe(t, &opts, &f)),
    }
}

#[test]
fn bundle() {
    fuzz("bundle");
}

#[test]
fn formats() {
    fuzz("formats");
}

#[test]
fn records() {
    fuzz("records");
}

#[test]
fn mcp() {
    fuzz("mcp");
}

#[test]
fn audit() {
    fuzz("audit");
}
