//! The owners of the HTTP endpoint's MCP sessions: which token opened each
//! session, bounded per client and in all, and forgotten when idle.
//!
//! # Invariants
//! - A session id is accepted only with the token that opened it; a
//!   forgotten one is unknown (404), never let through.
//! - A client opening more than [`MAX_PER_CLIENT`] sessions loses its own
//!   least recently used one, never another client's; past
//!   [`MAX_SESSIONS`] in all, the least recently used of any goes.
//! - A session unused for [`IDLE`] is forgotten (rmcp closes it too).
//! - Every session forgotten is returned to the caller, which closes it,
//!   so its memory (about 50 KB each) goes with it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Most sessions remembered in all.
pub const MAX_SESSIONS: usize = 1024;
/// Most sessions one client (one token) may hold open.
pub const MAX_PER_CLIENT: usize = 32;
/// A session unused this long is forgotten and closed.
pub const IDLE: Duration = Duration::from_secs(30 * 60);

/// What the owner table says of a session id used with a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The id belongs to this token.
    Owner,
    /// The id belongs to another client's token.
    Other,
    /// The id is not (or no longer) known.
    Unknown,
}

struct Entry {
    owner: String,
    tick: u64,
    used: Instant,
}

/// Session id -> SHA-256 of the token that opened it.
pub struct SessionOwners {
    cap: usize,
    per_client: usize,
    idle: Duration,
    tick: u64,
    owners: HashMap<String, Entry>,
    /// Every session by last use (tick), oldest first.
    by_use: BTreeMap<u64, String>,
    /// Each client's sessions by last use.
    by_client: HashMap<String, BTreeMap<u64, String>>,
}

impl SessionOwners {
    /// An empty table: at most `cap` sessions, `per_client` per token,
    /// each forgotten after `idle` unused.
    pub fn new(cap: usize, per_client: usize, idle: Duration) -> Self {
        SessionOwners {
            cap: cap.max(1),
            per_client: per_client.max(1),
            idle,
            tick: 0,
            owners: HashMap::new(),
            by_use: BTreeMap::new(),
            by_client: HashMap::new(),
        }
    }

    /// Sessions remembered.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// True when no session is remembered.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Whose session `sid` is, seen from `token_hash` at `now`; a use by
    /// its owner makes it the most recently used. An idle one is unknown.
    pub fn check(&mut self, sid: &str, token_hash: &str, now: Instant) -> Ownership {
        let Some(e) = self.owners.get(sid) else {
            return Ownership::Unknown;
        };
        if now.saturating_duration_since(e.used) >= self.idle {
            self.remove(sid);
            return Ownership::Unknown;
        }
        if e.owner != token_hash {
            return Ownership::Other;
        }
        let (owner, old) = (e.owner.clone(), e.tick);
        self.tick += 1;
        let tick = self.tick;
        self.by_use.remove(&old);
        self.by_use.insert(tick, sid.to_owned());
        if let Some(mine) = self.by_client.get_mut(&owner) {
            mine.remove(&old);
            mine.insert(tick, sid.to_owned());
        }
        if let Some(e) = self.owners.get_mut(sid) {
            e.tick = tick;
            e.used = now;
        }
        Ownership::Owner
    }

    /// Remember a new session's owner; answers the sessions forgotten to
    /// make room or for idleness (the caller closes them).
    pub fn insert(&mut self, sid: &str, token_hash: &str, now: Instant) -> Vec<String> {
        if self.owners.contains_key(sid) {
            return Vec::new();
        }
        let mut gone = self.sweep(now);
        let mine = self.by_client.get(token_hash).map_or(0, BTreeMap::len);
        if mine >= self.per_client {
            if let Some(old) = self
                .by_client
                .get(token_hash)
                .and_then(|m| m.first_key_value())
                .map(|(_, s)| s.clone())
            {
                self.remove(&old);
                gone.push(old);
            }
        } else if self.owners.len() >= self.cap
            && let Some((_, old)) = self.by_use.first_key_value().map(|(t, s)| (*t, s.clone()))
        {
            self.remove(&old);
            gone.push(old);
        }
        self.tick += 1;
        self.owners.insert(
            sid.to_owned(),
            Entry {
                owner: token_hash.to_owned(),
                tick: self.tick,
                used: now,
            },
        );
        self.by_use.insert(self.tick, sid.to_owned());
        self.by_client
            .entry(token_hash.to_owned())
            .or_default()
            .insert(self.tick, sid.to_owned());
        gone
    }

    /// Forget the sessions idle at `now` (oldest first: last use and tick
    /// grow together); returns them.
    pub fn sweep(&mut self, now: Instant) -> Vec<String> {
        let mut gone = Vec::new();
        while let Some(sid) = self.by_use.first_key_value().map(|(_, s)| s.clone()) {
            let idle = self
                .owners
                .get(&sid)
                .is_none_or(|e| now.saturating_duration_since(e.used) >= self.idle);
            if !idle {
                break;
            }
            self.remove(&sid);
            gone.push(sid);
        }
        gone
    }

    /// Forget a session (closed by its client, or evicted).
    pub fn remove(&mut self, sid: &str) {
        if let Some(e) = self.owners.remove(sid) {
            self.by_use.remove(&e.tick);
            if let Some(mine) = self.by_client.get_mut(&e.owner) {
                mine.remove(&e.tick);
                if mine.is_empty() {
                    self.by_client.remove(&e.owner);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under many sessions from two clients, a session id is never accepted
    /// with another client's token, and each client keeps its own newest.
    #[test]
    fn owners_stay_checked_and_clients_bounded() {
        let now = Instant::now();
        let mut t = SessionOwners::new(100, 10, IDLE);
        for i in 0..1000 {
            let owner = if i % 2 == 0 { "a" } else { "b" };
            t.insert(&format!("s{i}"), owner, now);
        }
        assert_eq!(t.len(), 20, "ten each");
        for i in 0..1000 {
            let (mine, other) = if i % 2 == 0 { ("a", "b") } else { ("b", "a") };
            let sid = format!("s{i}");
            assert_ne!(t.check(&sid, other, now), Ownership::Owner, "{sid}");
            let want = if i >= 980 {
                Ownership::Owner
            } else {
                Ownership::Unknown
            };
            assert_eq!(t.check(&sid, mine, now), want, "{sid}");
        }
    }

    /// One client filling its share never pushes out another's session.
    #[test]
    fn a_busy_client_evicts_only_its_own() {
        let now = Instant::now();
        let mut t = SessionOwners::new(1000, 4, IDLE);
        t.insert("quiet", "b", now);
        for i in 0..100 {
            let gone = t.insert(&format!("busy{i}"), "a", now);
            assert!(!gone.contains(&"quiet".to_owned()));
        }
        assert_eq!(t.check("quiet", "b", now), Ownership::Owner);
        assert_eq!(t.len(), 5);
    }

    /// Past the total, the least recently used of any client goes.
    #[test]
    fn the_total_is_bounded_least_recently_used_first() {
        let now = Instant::now();
        let mut t = SessionOwners::new(3, 10, IDLE);
        t.insert("x", "a", now);
        t.insert("y", "b", now);
        t.insert("z", "c", now);
        t.check("x", "a", now);
        assert_eq!(t.insert("w", "d", now), vec!["y".to_owned()]);
        assert_eq!(t.check("x", "a", now), Ownership::Owner);
    }

    /// An idle session is forgotten and handed back for closing.
    #[test]
    fn idle_sessions_expire() {
        let start = Instant::now();
        let mut t = SessionOwners::new(100, 10, Duration::from_secs(60));
        t.insert("old", "a", start);
        t.insert("kept", "a", start + Duration::from_secs(50));
        let later = start + Duration::from_secs(70);
        assert_eq!(t.check("old", "a", later), Ownership::Unknown);
        assert_eq!(t.check("kept", "a", later), Ownership::Owner);
        t.insert("idle", "b", later);
        let gone = t.insert("new", "b", later + Duration::from_secs(200));
        assert_eq!(gone.len(), 2, "{gone:?}");
        assert_eq!(t.len(), 1);
    }
}
