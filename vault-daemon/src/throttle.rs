//! Rate limits: repeated wrong passphrases, and clients' audited reads.
//!
//! After `n` consecutive wrong passphrases the next attempt must wait
//! `min(250 ms * 2^(n-1), 30 s)` from the last failure. A success resets the
//! count. Each client's reads draw from a token bucket ([`ReadLimit`]):
//! a burst, refilled at a steady rate. Time is an argument, so both are
//! tested without sleeping.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest wait between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
const BASE_DELAY: Duration = Duration::from_millis(250);

/// Consecutive-failure counter.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: u32,
    last_failure: Option<Instant>,
}

impl Throttle {
    /// How long an attempt made at `now` must wait first.
    pub fn wait(&self, now: Instant) -> Duration {
        match self.last_failure {
            None => Duration::ZERO,
            Some(last) => {
                let shift = self.failures.saturating_sub(1).min(16);
                let delay = BASE_DELAY.saturating_mul(1 << shift).min(MAX_DELAY);
                (last + delay).saturating_duration_since(now)
            }
        }
    }

    /// Record a failed attempt at `now`.
    pub fn failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
    }

    /// Record a success.
    pub fn succeeded(&mut self) {
        *self = Throttle::default();
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Reads a client may make at once, by default.
pub const DEFAULT_READ_BURST: u32 = 10_000;
/// Reads a second a client's bucket refills with, by default.
pub const DEFAULT_READ_RATE: u32 = 100;

/// Each client's audited reads, limited by a token bucket, so that no
/// client can fill the disk with audit entries or drain the vault by
/// hammering it. The default is generous: a burst of 10,000 reads, then
/// 100 a second (360,000 an hour).
pub struct ReadLimit {
    burst: f64,
    rate: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl ReadLimit {
    /// A limit of `burst` reads at once, refilled at `per_sec` a second.
    pub fn new(burst: u32, per_sec: u32) -> Self {
        ReadLimit {
            burst: f64::from(burst.max(1)),
            rate: f64::from(per_sec.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one read for `client` at `now`; when the bucket is empty,
    /// answers how long until the next read is allowed.
    pub fn take(&self, client: &str, now: Instant) -> Result<(), Duration> {
        let mut all = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = all.entry(client.to_owned()).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }

    /// The configured burst and rate, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} reads at once, then {} a second",
            self.burst as u64, self.rate as u64
        )
    }
}

impl Default for ReadLimit {
    fn default() -> Self {
        ReadLimit::new(DEFAULT_READ_BURST, DEFAULT_READ_RATE)
    }
}

/// Wait out the delay the throttle asks for before a key attempt.
pub(crate) async fn throttle_wait(throttle: &Throttle) {
    let wait = throttle.wait(Instant::now());
    if !wait.is_zero() {
        tracing::info!(
            failures = throttle.failures(),
            ?wait,
            "throttling a key attempt"
        );
        tokio::time::sleep(wait).await;
    }
}

/// Count a key attempt's outcome: wrong keys grow the delay, a success resets it.
pub(crate) fn throttle_record<T>(throttle: &mut Throttle, result: &vault_core::Result<T>) {
    match result {
        Ok(_) => throttle.succeeded(),
        Err(vault_core::Error::WrongPassphrase | vault_core::Error::IdentityNoMatch) => {
            throttle.failed(Instant::now());
            tracing::warn!(failures = throttle.failures(), "failed key attempt");
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_burst_then_refill() {
        let t0 = Instant::now();
        let l = ReadLimit::new(3, 2);
        for _ in 0..3 {
            assert!(l.take("a", t0).is_ok());
        }
        let wait = l.take("a", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(l.take("b", t0).is_ok(), "each client has its own bucket");
        assert!(l.take("a", t0 + Duration::from_millis(500)).is_ok());
        assert!(l.take("a", t0 + Duration::from_millis(500)).is_err());
        // Refill stops at the burst.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(l.take("a", later).is_ok());
        }
        assert!(l.take("a", later).is_err());
    }

    #[test]
    fn backs_off_and_resets() {
        let t0 = Instant::now();
        let mut t = Throttle::default();
        assert_eq!(t.wait(t0), Duration::ZERO);
        t.failed(t0);
        assert_eq!(t.wait(t0), Duration::from_millis(250));
        assert_eq!(
            t.wait(t0 + Duration::from_millis(100)),
            Duration::from_millis(150)
        );
        assert_eq!(t.wait(t0 + Duration::from_secs(1)), Duration::ZERO);
        t.failed(t0);
        t.failed(t0);
        assert_eq!(t.wait(t0), Duration::from_secs(1));
        for _ in 0..20 {
            t.failed(t0);
        }
        assert_eq!(t.wait(t0), MAX_DELAY);
        t.succeeded();
        assert_eq!(t.wait(t0), Duration::ZERO);
        assert_eq!(t.failures(), 0);
    }
}
