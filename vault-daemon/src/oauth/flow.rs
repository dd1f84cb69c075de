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

/// The user's decision on a request.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Not given yet.
    Waiting,
    /// Approved: the code to redirect with, handed out once.
    Approved(Option<String>),
    /// Refused.
    Denied,
}

/// An authorization request waiting for (or holding) the user's decision.
#[derive(Clone, Debug)]
pub struct Request {
    /// What was asked.
    pub params: AuthParams,
    /// The code the user types to approve (`XXXX-XXXX`).
    pub user_code: String,
    /// The decision.
    pub decision: Decision,
    at: Instant,
}

/// What an authorization code stands for.
#[derive(Clone, Debug)]
pub struct Code {
    /// The request it answers.
    pub params: AuthParams,
    /// The ctxvault client it grants.
    pub client: String,
    /// The refresh family its tokens start, once exchanged.
    pub family: Option<Uuid>,
    used: bool,
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
        self.requests
            .retain(|_, r| now.duration_since(r.at) < REQUEST_LIFETIME);
        // Used codes are kept until they expire, so a replay is told apart.
        self.codes
            .retain(|_, c| now.duration_since(c.at) < code_life);
        self.access.retain(|_, a| a.until > now);
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= REGISTRATION_WINDOW)
        {
            self.recent.pop_front();
        }
    }

    /// Register a client; its `client_id`.
    pub fn register(
        &mut self,
        name: String,
        redirect_uris: Vec<String>,
        now: Instant,
    ) -> Result<String, OAuthError> {
        self.expire(now);
        if self.recent.len() >= REGISTRATIONS_PER_WINDOW
            || self.registrations.len() >= MAX_REGISTRATIONS
        {
            return Err(OAuthError::too_many(
                "too many client registrations: wait a minute, or approve or remove the waiting connectors",
            ));
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

    /// The registration of `client_id`, if it is one still waiting.
    pub fn registration(&self, client_id: &str) -> Option<&Registration> {
        self.registrations.iter().find(|r| r.client_id == client_id)
    }

    /// Forget a registration once it is approved (it is a record then).
    pub fn forget_registration(&mut self, client_id: &str) {
        self.registrations.retain(|r| r.client_id != client_id);
    }

    /// Start a request waiting for the user: the wait id (secret, for the
    /// wait page's URL) and the user code.
    pub fn request(
        &mut self,
        params: AuthParams,
        now: Instant,
    ) -> Result<(String, String), OAuthError> {
        self.expire(now);
        if self.requests.len() >= MAX_REQUESTS {
            return Err(OAuthError::too_many(
                "too many authorization requests are waiting: approve or deny them first (`ctxvault connector ls`)",
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
                at: now,
            },
        );
        Ok((wait, user_code))
    }

    /// The request of a wait id; an approved one hands out its code once.
    pub fn poll(&mut self, wait: &str, now: Instant) -> Option<Request> {
        self.expire(now);
        let r = self.requests.get_mut(&sha256_hex(wait))?;
        let seen = r.clone();
        if let Decision::Approved(code) = &mut r.decision {
            code.take();
        }
        Some(seen)
    }

    /// The waiting request with this user code (case and dash ignored).
    pub fn waiting(&mut self, user_code: &str, now: Instant) -> Option<Request> {
        self.expire(now);
        let want = normal_code(user_code);
        self.requests
            .values()
            .find(|r| normal_code(&r.user_code) == want && matches!(r.decision, Decision::Waiting))
            .cloned()
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

    /// Decide the waiting request with this user code: approved for the
    /// ctxvault client `client` (a fresh code is made), or denied.
    pub fn decide(
        &mut self,
        user_code: &str,
        client: Option<&str>,
        now: Instant,
    ) -> Result<(), OAuthError> {
        self.expire(now);
        let want = normal_code(user_code);
        let Some(r) = self
            .requests
            .values_mut()
            .find(|r| normal_code(&r.user_code) == want && matches!(r.decision, Decision::Waiting))
        else {
            return Err(OAuthError::no_request(user_code));
        };
        match client {
            None => r.decision = Decision::Denied,
            Some(client) => {
                let code = random_token()?;
                self.codes.insert(
                    sha256_hex(&code),
                    Code {
                        params: r.params.clone(),
                        client: client.to_owned(),
                        family: None,
                        used: false,
                        at: now,
                    },
                );
                r.decision = Decision::Approved(Some(code));
            }
        }
        Ok(())
    }

    /// Take a code for the token endpoint. A code used before fails and
    /// names the family its first use started (to be revoked: RFC 6749
    /// 4.1.2); `started` records that family on the first use.
    pub fn take_code(&mut self, code: &str, now: Instant) -> Result<Code, CodeRefusal> {
        self.expire(now);
        let Some(c) = self.codes.get_mut(&sha256_hex(code)) else {
            return Err(CodeRefusal::Unknown);
        };
        if c.used {
            return Err(CodeRefusal::Reused(c.family));
        }
        c.used = true;
        Ok(c.clone())
    }

    /// Note the family a code's exchange started.
    pub fn code_started(&mut self, code: &str, family: Uuid) {
        if let Some(c) = self.codes.get_mut(&sha256_hex(code)) {
            c.family = Some(family);
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

    /// Revoke every access token of these families.
    pub fn revoke_families(&mut self, families: &[Uuid]) {
        self.access.retain(|_, a| !families.contains(&a.family));
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

/// Why a code was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    /// No such code, or it expired.
    Unknown,
    /// Used before (with the family its first use started, if any).
    Reused(Option<Uuid>),
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
mod tests {
    use super::*;

    fn params() -> AuthParams {
        AuthParams {
            client_id: "cvc_x".into(),
            name: "Test".into(),
            redirect_uri: "https://app.example/cb".into(),
            state: Some("s".into()),
            challenge: "c".into(),
            resource: "https://v.example/mcp".into(),
        }
    }

    #[test]
    fn registrations_are_bounded_in_rate_and_count() {
        let mut f = Flow::default();
        let t = Instant::now();
        for _ in 0..REGISTRATIONS_PER_WINDOW {
            f.register("a".into(), vec![], t).unwrap();
        }
        let e = f.register("a".into(), vec![], t).unwrap_err();
        assert_eq!(e.code, "temporarily_unavailable");
        // A minute later the rate allows more, until the count is reached.
        let mut now = t;
        while f.registrations.len() < MAX_REGISTRATIONS {
            now += REGISTRATION_WINDOW;
            for _ in 0..REGISTRATIONS_PER_WINDOW {
                if f.registrations.len() < MAX_REGISTRATIONS {
                    f.register("a".into(), vec![], now).unwrap();
                }
            }
        }
        now += REGISTRATION_WINDOW;
        assert!(f.register("a".into(), vec![], now).is_err());
    }

    #[test]
    fn a_code_works_once_and_for_a_short_time() {
        let mut f = Flow::default();
        let t = Instant::now();
        let (wait, user) = f.request(params(), t).unwrap();
        assert!(matches!(
            f.poll(&wait, t).unwrap().decision,
            Decision::Waiting
        ));
        f.decide(&user.to_lowercase(), Some("app"), t).unwrap();
        // The code is handed out once.
        let Decision::Approved(Some(code)) = f.poll(&wait, t).unwrap().decision else {
            panic!("approved with a code")
        };
        assert!(matches!(
            f.poll(&wait, t).unwrap().decision,
            Decision::Approved(None)
        ));
        let fam = Uuid::now_v7();
        assert_eq!(f.take_code(&code, t).unwrap().client, "app");
        f.code_started(&code, fam);
        assert_eq!(
            f.take_code(&code, t).unwrap_err(),
            CodeRefusal::Reused(Some(fam))
        );
        // A second approval's code expires unused.
        let (_, user) = f.request(params(), t).unwrap();
        f.decide(&user, Some("app"), t).unwrap();
        let code2 = f
            .codes
            .iter()
            .find(|(_, c)| !c.used)
            .map(|(h, _)| h.clone())
            .unwrap();
        assert!(f.codes.contains_key(&code2));
        f.expire(t + CODE_LIFETIME);
        assert!(!f.codes.contains_key(&code2));
        // A decided request cannot be decided again.
        assert!(f.decide(&user, None, t + CODE_LIFETIME).is_err());
    }

    #[test]
    fn access_tokens_expire_and_go_with_their_family() {
        let mut f = Flow::with_lifetimes(None, Some(Duration::from_secs(10)));
        let t = Instant::now();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let ta = f.issue("x", a, "r", t).unwrap();
        let tb = f.issue("y", b, "r", t).unwrap();
        assert_eq!(f.access(&sha256_hex(&ta), t).unwrap().client, "x");
        f.revoke_families(&[a]);
        assert!(f.access(&sha256_hex(&ta), t).is_none());
        assert!(f.access(&sha256_hex(&tb), t).is_some());
        assert!(
            f.access(&sha256_hex(&tb), t + Duration::from_secs(10))
                .is_none()
        );
        // Test lifetimes only shorten.
        assert_eq!(
            Flow::with_lifetimes(None, Some(Duration::from_secs(1 << 20))).access_lifetime(),
            ACCESS_LIFETIME
        );
    }

    #[test]
    fn requests_are_bounded_and_expire() {
        let mut f = Flow::default();
        let t = Instant::now();
        for _ in 0..MAX_REQUESTS {
            f.request(params(), t).unwrap();
        }
        assert!(f.request(params(), t).is_err());
        assert_eq!(f.all_waiting(t).len(), MAX_REQUESTS);
        assert!(f.all_waiting(t + REQUEST_LIFETIME).is_empty());
        let code = user_code().unwrap();
        assert_eq!(code.len(), 9);
        assert_eq!(normal_code(&code.to_lowercase()), normal_code(&code));
    }
}
