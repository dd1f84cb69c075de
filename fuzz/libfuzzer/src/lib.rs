//! What every libFuzzer entry point does: run the named target through
//! `ctxvault_fuzz::check`, which also sees panics in other threads, and
//! turn a failure into a panic, which libFuzzer records as a crash.

/// Run target `name` on `data`; panic on a failure.
pub fn run(name: &str, data: &[u8]) {
    let Some(target) = ctxvault_fuzz::target(name) else {
        panic!("no fuzz target {name}");
    };
    if let Err(m) = ctxvault_fuzz::check(target, data) {
        panic!("{m}");
    }
}
