//! The agent's clock for what expires (grants, aspects, retention): the
//! system's, except in tests, where `CTXVAULT_TEST_CLOCK_FILE` may name a
//! file holding a number of seconds to move it forward by (read at each
//! call, so a test moves time without waiting).

use chrono::{DateTime, Utc};

/// The test variable naming the clock file.
pub const TEST_CLOCK_VAR: &str = "CTXVAULT_TEST_CLOCK_FILE";

/// Now, as what expires sees it.
pub fn now() -> DateTime<Utc> {
    let real = Utc::now();
    let Some(path) = std::env::var_os(TEST_CLOCK_VAR) else {
        return real;
    };
    let ahead = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|s| *s >= 0)
        .unwrap_or(0);
    real.checked_add_signed(chrono::Duration::seconds(ahead))
        .unwrap_or(real)
}
