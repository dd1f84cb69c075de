//! Slows down repeated wrong passphrases.
//!
//! After `n` consecutive failures the next attempt must wait
//! `min(250 ms * 2^(n-1), 30 s)` from the last failure. A success resets the
//! count. Time is an argument, so the policy is tested without sleeping.

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

#[cfg(test)]
mod tests {
    use super::*;

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
