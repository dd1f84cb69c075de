//! The console's ways in: one-time login links and the sessions they open.
//!
//! # Invariants
//! - Only SHA-256 digests of link tokens and session ids are kept (the
//!   CSRF token, which every page carries, is kept as it is).
//! - A login link opens at most one session, and only within
//!   [`LINK_LIFETIME`] of being made.
//! - A session ends after [`Limits::idle`] without a request, after
//!   [`SESSION_LIFETIME`] in all, and at lock ([`Auth::clear`]).
//! - Time is passed in, so every rule here is tested without waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::policy::sha256_hex;
use crate::protocol::{ApiError, ErrorKind};

/// How long a login link can be used.
pub const LINK_LIFETIME: Duration = Duration::from_secs(120);
/// How long a session lasts, however busy.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Login links waiting at once (older ones are dropped).
const MAX_LINKS: usize = 16;
/// Sessions at once (the least recently used is ended).
const MAX_SESSIONS: usize = 16;

/// How long a session may sit idle.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Idle time after which a session ends.
    pub idle: Duration,
}

impl Limits {
    /// 15 minutes, or less when a test sets `CTXVAULT_TEST_CONSOLE_IDLE_MS`
    /// (never more: the variable cannot keep a session alive longer).
    pub fn from_env() -> Self {
        let default = Duration::from_secs(15 * 60);
        let idle = std::env::var("CTXVAULT_TEST_CONSOLE_IDLE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(default, Duration::from_millis)
            .min(default);
        Limits { idle }
    }
}

/// A session just opened: the cookie's value and the form token, given
/// to the browser once.
pub struct Opened {
    /// The session cookie's value.
    pub cookie: Zeroizing<String>,
}

/// What a valid session carries.
#[derive(Clone)]
pub struct Live {
    /// The CSRF token its forms carry.
    pub csrf: String,
    /// What the last change did (text, and whether it failed), shown once.
    pub flash: Option<(String, bool)>,
}

struct Session {
    csrf: String,
    opened: Instant,
    seen: Instant,
    flash: Option<(String, bool)>,
}

/// Login links and sessions, by digest.
pub struct Auth {
    limits: Limits,
    links: HashMap<String, Instant>,
    sessions: HashMap<String, Session>,
}

/// 32 random bytes as hex.
fn random_hex() -> Result<Zeroizing<String>, ApiError> {
    let mut b = Zeroizing::new([0u8; 32]);
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), b.as_mut())
        .map_err(|_| ApiError::new(ErrorKind::Internal, "no randomness for a console token"))?;
    Ok(Zeroizing::new(
        b.iter().map(|x| format!("{x:02x}")).collect(),
    ))
}

impl Auth {
    /// An empty table.
    pub fn new(limits: Limits) -> Self {
        Auth {
            limits,
            links: HashMap::new(),
            sessions: HashMap::new(),
        }
    }

    /// A new login link's token, valid once for [`LINK_LIFETIME`].
    pub fn new_link(&mut self, now: Instant) -> Result<Zeroizing<String>, ApiError> {
        self.links
            .retain(|_, made| now.duration_since(*made) < LINK_LIFETIME);
        while self.links.len() >= MAX_LINKS {
            let oldest = self
                .links
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.links.remove(&k),
                None => break,
            };
        }
        let token = random_hex()?;
        self.links.insert(sha256_hex(&token), now);
        Ok(token)
    }

    /// Use a login link: a new session when the link is known, unused and
    /// fresh; `None` otherwise (the link is gone either way).
    pub fn redeem(&mut self, token: &str, now: Instant) -> Result<Option<Opened>, ApiError> {
        let Some(made) = self.links.remove(&sha256_hex(token)) else {
            return Ok(None);
        };
        if now.duration_since(made) >= LINK_LIFETIME {
            return Ok(None);
        }
        self.expire(now);
        while self.sessions.len() >= MAX_SESSIONS {
            let stalest = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.seen)
                .map(|(k, _)| k.clone());
            match stalest {
                Some(k) => self.sessions.remove(&k),
                None => break,
            };
        }
        let cookie = random_hex()?;
        let csrf = random_hex()?;
        self.sessions.insert(
            sha256_hex(&cookie),
            Session {
                csrf: csrf.to_string(),
                opened: now,
                seen: now,
                flash: None,
            },
        );
        Ok(Some(Opened { cookie }))
    }

    /// The live session with this cookie value (its idle clock restarted).
    pub fn session(&mut self, cookie: &str, now: Instant) -> Option<Live> {
        self.expire(now);
        let s = self.sessions.get_mut(&sha256_hex(cookie))?;
        s.seen = now;
        Some(Live {
            csrf: s.csrf.clone(),
            flash: s.flash.take(),
        })
    }

    /// Say what a change did on the session's next page.
    pub fn set_flash(&mut self, cookie: &str, text: String, error: bool) {
        if let Some(s) = self.sessions.get_mut(&sha256_hex(cookie)) {
            s.flash = Some((text, error));
        }
    }

    /// End the session with this cookie value.
    pub fn end(&mut self, cookie: &str) {
        self.sessions.remove(&sha256_hex(cookie));
    }

    /// End every session and forget every link (at lock).
    pub fn clear(&mut self) {
        self.sessions.clear();
        self.links.clear();
    }

    fn expire(&mut self, now: Instant) {
        let idle = self.limits.idle;
        self.sessions.retain(|_, s| {
            now.duration_since(s.seen) < idle && now.duration_since(s.opened) < SESSION_LIFETIME
        });
    }
}

/// Whether a form's CSRF token is the session's (compared as digests, so
/// the time taken tells nothing about the token).
pub fn csrf_matches(live: &Live, given: &str) -> bool {
    sha256_hex(&live.csrf) == sha256_hex(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(Limits {
            idle: Duration::from_secs(60),
        })
    }

    #[test]
    fn a_link_opens_one_session_once() {
        let mut a = auth();
        let t0 = Instant::now();
        let link = a.new_link(t0).unwrap();
        let opened = a.redeem(&link, t0).unwrap().expect("fresh link opens");
        assert!(a.redeem(&link, t0).unwrap().is_none(), "used twice");
        assert!(a.session(&opened.cookie, t0).is_some());
        assert!(a.session("nope", t0).is_none());
        assert!(a.redeem("not-a-link", t0).unwrap().is_none());
    }

    #[test]
    fn a_stale_link_opens_nothing() {
        let mut a = auth();
        let t0 = Instant::now();
        let link = a.new_link(t0).unwrap();
        assert!(a.redeem(&link, t0 + LINK_LIFETIME).unwrap().is_none());
    }

    #[test]
    fn sessions_end_when_idle_in_time_and_at_clear() {
        let mut a = auth();
        let t0 = Instant::now();
        let link = a.new_link(t0).unwrap();
        let c = a.redeem(&link, t0).unwrap().unwrap().cookie;
        // Use keeps it alive past one idle period...
        assert!(a.session(&c, t0 + Duration::from_secs(50)).is_some());
        assert!(a.session(&c, t0 + Duration::from_secs(100)).is_some());
        // ...idleness ends it.
        assert!(a.session(&c, t0 + Duration::from_secs(161)).is_none());
        // However busy, a session ends after its lifetime.
        let link = a.new_link(t0).unwrap();
        let c = a.redeem(&link, t0).unwrap().unwrap().cookie;
        let mut t = t0;
        while t < t0 + SESSION_LIFETIME - Duration::from_secs(30) {
            t += Duration::from_secs(30);
            assert!(a.session(&c, t).is_some());
        }
        assert!(a.session(&c, t + Duration::from_secs(30)).is_none());
        let link = a.new_link(t0).unwrap();
        let c = a.redeem(&link, t0).unwrap().unwrap().cookie;
        a.clear();
        assert!(a.session(&c, t0).is_none());
    }

    #[test]
    fn csrf_is_per_session() {
        let mut a = auth();
        let t0 = Instant::now();
        let link = a.new_link(t0).unwrap();
        let one = a.redeem(&link, t0).unwrap().unwrap().cookie;
        let link = a.new_link(t0).unwrap();
        let two = a.redeem(&link, t0).unwrap().unwrap().cookie;
        let l1 = a.session(&one, t0).unwrap();
        let l2 = a.session(&two, t0).unwrap();
        assert!(csrf_matches(&l1, &l1.csrf));
        assert!(!csrf_matches(&l1, &l2.csrf));
        assert!(!csrf_matches(&l1, ""));
    }

    #[test]
    fn tables_stay_bounded() {
        let mut a = auth();
        let t0 = Instant::now();
        let first = a.new_link(t0).unwrap();
        for i in 0..(MAX_LINKS as u64 * 2) {
            a.new_link(t0 + Duration::from_millis(i + 1)).unwrap();
        }
        assert!(a.links.len() <= MAX_LINKS);
        assert!(a.redeem(&first, t0).unwrap().is_none(), "oldest dropped");
        for _ in 0..MAX_SESSIONS * 2 {
            let l = a.new_link(t0).unwrap();
            a.redeem(&l, t0).unwrap().unwrap();
        }
        assert!(a.sessions.len() <= MAX_SESSIONS);
    }
}
