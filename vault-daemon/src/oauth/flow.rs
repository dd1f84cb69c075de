//! The OAuth state kept in the agent's memory, with the clock passed in:
//! registrations not yet approved, authorization requests waiting for the
//! user, authorization codes, and the access tokens handed out (by hash).
//! Approved connectors and their refresh tokens are policy records (see
//! `vault_core::records::ConnectorRecord`), not here.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{OAuthError, random_token, sha256_hex};

/// Registrations kept while not approved.
pub const MAX_REGISTRATIONS: usize = 32;
/// Registrations accepted per [`REGISTRATION_WINDOW`].
pub const REGISTRATIONS_PER_WINDOW: usize = 10;
/// The window of the registration rate.
pub const REGISTRATION_WINDOW: Duration = Duration::from_secs(60);
/// Authorization requests waiting for the user at once.
pub const MAX_REQUESTS: usize = 16;
/// How long a request waits for the user's decision.
pub const REQUEST_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long an authorization code can be exchanged.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// How long an access token works.
pub const ACCESS_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// Access tokens alive at once.
pub const MAX_ACCESS: usize = 1024;

/// A dynamic client registration (RFC 7591).
#[derive(Clone, Debug)]
pub struct Registration {
    /// The `client_id` handed out.
    pub client_id: String,
    /// The name it gave (shown, never trusted).
    pub name: String,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    at: Instant,
}

/// The parameters of an authorization request, checked.
#[derive(Clone, Debug)]
pub struct AuthParams {
    /// The registered `client_id`.
    pub client_id: String,
    /// The connector's name, from its registration.
    pub name: String,
    /// The redirect URI (one of the registered ones).
    pub redirect_uri: String,
    /// Round-tripped as given.
    pub state: Option<String>,
    /// The PKCE S256 challenge.
    pub challenge: String,
    /// The resource the tokens will be for.
    pub resource: String,
}

/// The user's decision on a request (no `Debug`: it can hold a code).
#[derive(Clone)]
pub enum Decision {
    /// Not given yet.
    Waiting,
    /// Being written (the approval's records); neither expires nor can
    /// be decided again meanwhile.
    Deciding,
    /// Approved: the code to redirect with, handed out once.
    Approved(Option<String>),
    /// Refused.
    Denied,
}

/// An authorization request waiting for (or holding) the user's decision.
#[derive(Clone)]
pub struct Request {
    /// What was asked.
    pub params: AuthParams,
    /// The code the user types to approve (`XXXX-XXXX`).
    pub user_code: String,
    /// The decision.
    pub decision: Decision,
    /// SHA-256 of the cookie of the browser that asked: only it is told
    /// the decision.
    browser_sha256: String,
    at: Instant,
}

impl Request {
    /// How long ago it was asked.
    pub fn age(&self, now: Instant) -> Duration {
        now.duration_since(self.at)
    }
}

/// What an authorization code stands for.
#[derive(Clone)]
pub struct Code {
    /// The request it answers.
    pub params: AuthParams,
    /// The ctxvault client it grants.
    pub client: String,
    /// The refresh family its tokens start, once exchanged.
    pub family: Option<Uuid>,
    used: bool,
    /// Presented again while its first use was under way.
    replayed: bool,
    at: Instant,
}

/// An access token handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The ctxvault client it acts as.
    pub client: String,
    /// Its refresh family: revoked with it.
    pub family: Uuid,
    /// The resource it is for.
    pub resource: String,
    until: Instant,
}

/// The agent's OAuth memory.
#[derive(Default)]
pub struct Flow {
    registrations: Vec<Registration>,
    recent: VecDeque<Instant>,
    /// By the hash of the wait id (the secret part of the wait page's URL).
    requests: HashMap<String, Request>,
    /// By the hash of the code.
    codes: HashMap<String, Code>,
    /// By the hash of the token.
    access: HashMap<String, Access>,
    /// Shorter lifetimes, for tests.
    code_lifetime: Option<Duration>,
    access_lifetime: Option<Duration>,
}

/// Why a code was refused.
pub enum CodeRefusal {
    /// No such code, or it expired.
    Unknown,
    /// It does not go with this request (client, redirect, verifier): it
    /// stays as it was.
    Refused(OAuthError),
    /// Used before (with the family its first use started, if any).
    Reused(Option<Uuid>),
}

/// Requests of one client waiting at once.
pub const WAITING_PER_CLIENT: usize = 2;

fn open(d: &Decision) -> bool {
    matches!(d, Decision::Waiting | Decision::Deciding)
}

impl Flow {
    /// A flow whose codes and access tokens live at most as given (tests
    /// shorten them; they are never lengthened).
    pub fn with_lifetimes(code: Option<Duration>, access: Option<Duration>) -> Flow {
        Flow {
            code_lifetime: code.map(|d| d.min(CODE_LIFETIME)),
            access_lifetime: access.map(|d| d.min(ACCESS_LIFETIME)),
            ..Flow::default()
        }
    }

    /// A flow with the lifetimes a test may shorten with
    /// `CTXVAULT_TEST_OAUTH_CODE_MS` and `CTXVAULT_TEST_OAUTH_ACCESS_MS`.
    pub fn from_env() -> Flow {
        let ms = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis)
        };
        Flow::with_lifetimes(
            ms("CTXVAULT_TEST_OAUTH_CODE_MS"),
            ms("CTXVAULT_TEST_OAUTH_ACCESS_MS"),
        )
    }

    /// The access token lifetime in force.
    pub fn access_lifetime(&self) -> Duration {
        self.access_lifetime.unwrap_or(ACCESS_LIFETIME)
    }

    fn expire(&mut self, now: Instant) {
        let code_life = self.code_lifetime.unwrap_or(CODE_LIFETIME);
        self.registrations
            .retain(|r| now.duration_since(r.at) < REQUEST_LIFETIME * 6);
        self.requests.retain(|_, r| {
            matches!(r.decision, Decision::Deciding) || now.duration_since(r.at) < REQUEST_LIFETIME
        });
        // Used codes are kept well past their lifetime, so that a replay
        // still revokes what the first use gave.
        self.codes.retain(|_, c| {
            now.duration_since(c.at) < if c.used { REQUEST_LIFETIME } else { code_life }
        });
        self.access.retain(|_, a| a.until > now);
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= REGISTRATION_WINDOW)
        {
            self.recent.pop_front();
        }
    }

    /// Register a client; its `client_id`. Past the count, the oldest
    /// registration no request waits for gives way.
    pub fn register(
        &mut self,
        name: String,
        redirect_uris: Vec<String>,
        now: Instant,
    ) -> Result<String, OAuthError> {
        self.expire(now);
        let too_many = || {
            OAuthError::too_many(
                "too many client registrations: wait a minute, or approve or deny the waiting connectors",
            )
        };
        if self.recent.len() >= REGISTRATIONS_PER_WINDOW {
            return Err(too_many());
        }
        if self.registrations.len() >= MAX_REGISTRATIONS && !self.evict_idle_registration() {
            return Err(too_many());
        }
        let client_id = format!("cvc_{}", random_token()?);
        self.recent.push_back(now);
        self.registrations.push(Registration {
            client_id: client_id.clone(),
            name,
            redirect_uris,
            at: now,
        });
        Ok(client_id)
    }

    /// Count a metadata document fetch against the registration rate.
    pub fn admit_fetch(&mut self, now: Instant) -> Result<(), OAuthError> {
        self.expire(now);
        if self.recent.len() >= REGISTRATIONS_PER_WINDOW {
            return Err(OAuthError::too_many(
                "too many new clients at once: wait a minute",
            ));
        }
        self.recent.push_back(now);
        Ok(())
    }

    /// Keep a fetched metadata document as the registration of its URL
    /// (past the count, the oldest registration gives way).
    pub fn add_document(
        &mut self,
        client_id: &str,
        name: String,
        redirect_uris: Vec<String>,
        now: Instant,
    ) {
        self.registrations.retain(|r| r.client_id != client_id);
        if self.registrations.len() >= MAX_REGISTRATIONS {
            self.evict_idle_registration();
        }
        self.registrations.push(Registration {
            client_id: client_id.to_owned(),
            name,
            redirect_uris,
            at: now,
        });
    }

    /// Drop the oldest registration no request waits for; false if every
    /// one is in use.
    fn evict_idle_registration(&mut self) -> bool {
        let asked: Vec<String> = self
            .requests
            .values()
            .filter(|r| open(&r.decision))
            .map(|r| r.params.client_id.clone())
            .collect();
        match self
            .registrations
            .iter()
            .position(|r| !asked.contains(&r.client_id))
        {
            Some(i) => {
                self.registrations.remove(i);
                true
            }
            None => false,
        }
    }

    /// The registration of `client_id`, if it is one still waiting.
    pub fn registration(&self, client_id: &str) -> Option<&Registration> {
        self.registrations.iter().find(|r| r.client_id == client_id)
    }

    /// Forget a registration once it is approved (it is a record then).
    pub fn forget_registration(&mut self, client_id: &str) {
        self.registrations.retain(|r| r.client_id != client_id);
    }

    /// Start a request waiting for the user, from the browser whose cookie
    /// has this hash: the wait id (secret, for the wait page's URL) and the
    /// user code.
    pub fn request(
        &mut self,
        params: AuthParams,
        browser_sha256: String,
        now: Instant,
    ) -> Result<(String, String), OAuthError> {
        self.expire(now);
        // Past the bounds a new request is refused, never an older one
        // dropped: a flood must not push the user's own request out.
        let waiting = |client: Option<&str>| {
            self.requests
                .values()
                .filter(|r| {
                    matches!(r.decision, Decision::Waiting)
                        && client.is_none_or(|c| r.params.client_id == c)
                })
                .count()
        };
        if waiting(Some(&params.client_id)) >= WAITING_PER_CLIENT || waiting(None) >= MAX_REQUESTS {
            return Err(OAuthError::too_many(
                "too many authorization requests are waiting: the vault's owner must approve or deny them first (`ctxvault connector ls`)",
            ));
        }
        let wait = random_token()?;
        let user_code = user_code()?;
        self.requests.insert(
            sha256_hex(&wait),
            Request {
                params,
                user_code: user_code.clone(),
                decision: Decision::Waiting,
                browser_sha256,
                at: now,
            },
        );
        Ok((wait, user_code))
    }

    /// The request of a wait id, for the browser that asked (`None` for
    /// another: it learns nothing); an approved one hands its code out once.
    pub fn poll(&mut self, wait: &str, browser_sha256: &str, now: Instant) -> Option<Request> {
        self.expire(now);
        let r = self.requests.get_mut(&sha256_hex(wait))?;
        if r.browser_sha256 != browser_sha256 {
            return None;
        }
        let seen = r.clone();
        if let Decision::Approved(code) = &mut r.decision {
            code.take();
        }
        Some(seen)
    }

    fn find(&mut self, user_code: &str, now: Instant) -> Option<&mut Request> {
        self.expire(now);
        let want = normal_code(user_code);
        self.requests
            .values_mut()
            .find(|r| normal_code(&r.user_code) == want && open(&r.decision))
    }

    /// Every request still waiting for the user.
    pub fn all_waiting(&mut self, now: Instant) -> Vec<Request> {
        self.expire(now);
        let mut v: Vec<Request> = self
            .requests
            .values()
            .filter(|r| matches!(r.decision, Decision::Waiting))
            .cloned()
            .collect();
        v.sort_by_key(|r| r.at);
        v
    }

    /// Take the waiting request with this user code for a decision: its
    /// parameters. Until [`Flow::finish`] or [`Flow::abort`] it neither
    /// expires nor can be taken again.
    pub fn begin(&mut self, user_code: &str, now: Instant) -> Result<AuthParams, OAuthError> {
        match self.find(user_code, now) {
            Some(r) if matches!(r.decision, Decision::Waiting) => {
                r.decision = Decision::Deciding;
                Ok(r.params.clone())
            }
            _ => Err(OAuthError::no_request(user_code)),
        }
    }

    /// Put a request taken by [`Flow::begin`] back to waiting.
    pub fn abort(&mut self, user_code: &str, now: Instant) {
        if let Some(r) = self.find(user_code, now) {
            r.decision = Decision::Waiting;
        }
    }

    /// Decide a request taken by [`Flow::begin`]: approved for the
    /// ctxvault client `client` (a fresh code is made), or denied. The
    /// browser then has a request's lifetime to pick the answer up.
    pub fn finish(
        &mut self,
        user_code: &str,
        client: Option<&str>,
        now: Instant,
    ) -> Result<(), OAuthError> {
        let code = random_token()?;
        let Some(r) = self
            .find(user_code, now)
            .filter(|r| matches!(r.decision, Decision::Deciding))
        else {
            return Err(OAuthError::no_request(user_code));
        };
        r.at = now;
        let Some(client) = client else {
            r.decision = Decision::Denied;
            return Ok(());
        };
        r.decision = Decision::Approved(Some(code.clone()));
        let params = r.params.clone();
        self.codes.insert(
            sha256_hex(&code),
            Code {
                params,
                client: client.to_owned(),
                family: None,
                used: false,
                replayed: false,
                at: now,
            },
        );
        Ok(())
    }

    /// Take a code for the token endpoint once `check` (client, redirect,
    /// verifier) accepts it; refused, it stays as it was. A code used
    /// before fails and names the family its first use started, to be
    /// revoked (RFC 6749 4.1.2).
    pub fn take_code(
        &mut self,
        code: &str,
        check: impl FnOnce(&Code) -> Result<(), OAuthError>,
        now: Instant,
    ) -> Result<Code, CodeRefusal> {
        self.expire(now);
        let Some(c) = self.codes.get_mut(&sha256_hex(code)) else {
            return Err(CodeRefusal::Unknown);
        };
        check(c).map_err(CodeRefusal::Refused)?;
        if c.used {
            c.replayed = true;
            return Err(CodeRefusal::Reused(c.family));
        }
        c.used = true;
        Ok(c.clone())
    }

    /// Give back a code whose exchange failed for a passing reason (a
    /// locked vault), so that it can be tried again.
    pub fn release_code(&mut self, code: &str) {
        if let Some(c) = self.codes.get_mut(&sha256_hex(code))
            && c.family.is_none()
        {
            c.used = false;
            c.replayed = false;
        }
    }

    /// Note the family a code's exchange started; true when the code was
    /// presented again meanwhile (the family must then be revoked).
    pub fn code_started(&mut self, code: &str, family: Uuid) -> bool {
        match self.codes.get_mut(&sha256_hex(code)) {
            Some(c) => {
                c.family = Some(family);
                c.replayed
            }
            None => false,
        }
    }

    /// Hand out an access token; the token.
    pub fn issue(
        &mut self,
        client: &str,
        family: Uuid,
        resource: &str,
        now: Instant,
    ) -> Result<String, OAuthError> {
        self.expire(now);
        if self.access.len() >= MAX_ACCESS {
            return Err(OAuthError::too_many(
                "too many access tokens are alive: try again when some have expired",
            ));
        }
        let token = format!("cva_{}", random_token()?);
        self.access.insert(
            sha256_hex(&token),
            Access {
                client: client.to_owned(),
                family,
                resource: resource.to_owned(),
                until: now + self.access_lifetime(),
            },
        );
        Ok(token)
    }

    /// The live access token with this hash.
    pub fn access(&mut self, token_sha256: &str, now: Instant) -> Option<Access> {
        self.expire(now);
        self.access.get(token_sha256).cloned()
    }

    /// Revoke one access token.
    pub fn revoke_access(&mut self, token_sha256: &str) {
        self.access.remove(token_sha256);
    }

    /// Revoke every access token of these families.
    pub fn revoke_families(&mut self, families: &[Uuid]) {
        self.access.retain(|_, a| !families.contains(&a.family));
    }

    /// Keep only the access tokens `keep` accepts (after a policy change:
    /// those whose connector and family still stand).
    pub fn retain_access(&mut self, keep: impl Fn(&Access) -> bool) {
        self.access.retain(|_, a| keep(a));
    }

    /// Live access tokens per family.
    pub fn live_per_family(&mut self, now: Instant) -> HashMap<Uuid, usize> {
        self.expire(now);
        let mut m = HashMap::new();
        for a in self.access.values() {
            *m.entry(a.family).or_default() += 1;
        }
        m
    }
}

/// Eight letters from an alphabet without look-alikes, as `XXXX-XXXX`.
fn user_code() -> Result<String, OAuthError> {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let raw = super::random_bytes::<8>()?;
    let letters: String = raw
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    Ok(format!("{}-{}", &letters[..4], &letters[4..]))
}

fn normal_code(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
