//! OAuth 2.1 for hosted assistants (MCP's authorization spec): the agent is
//! both the authorization server and the protected resource, reached
//! through a tunnel the user runs at `--public-url`.
//!
//! - Discovery: protected-resource metadata (RFC 9728) and authorization
//!   server metadata (RFC 8414); a 401 from `/mcp` points to the first.
//! - Dynamic client registration (RFC 7591), bounded in rate and count,
//!   and Client ID Metadata Documents (a client_id that is an https URL);
//!   public clients only (PKCE, no secret).
//! - `/authorize` checks the request and shows a code; the user approves
//!   it only on their own machine (`ctxvault connector approve CODE`, or
//!   the console), which makes the connector an ordinary ctxvault client
//!   with ordinary grants. The public page never shows the vault.
//! - `/token`: codes (single use, short-lived, S256 PKCE, exact redirect
//!   URI, resource indicator per RFC 8707), then short-lived access tokens
//!   and rotating refresh tokens; a refresh token or code used twice
//!   revokes its family. Only hashes of codes and tokens are kept.

mod cimd;
pub(crate) mod connectors;
mod endpoints;
pub(crate) mod flow;
mod token;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ring::rand::SecureRandom;
use serde_json::json;

pub(crate) use crate::policy::sha256_hex;
pub(crate) use endpoints::router;

/// How long a refresh token family lasts from its approval.
pub const FAMILY_LIFETIME: chrono::Duration = chrono::Duration::days(30);

/// The address the user's tunnel makes public: scheme, host and port, as
/// given to `--public-url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
    authority: String,
}

impl PublicUrl {
    /// Parse `https://NAME.example` (or http, for a tunnel on this
    /// machine): an origin, with no path, query or credentials.
    pub fn parse(s: &str) -> Result<PublicUrl, String> {
        let bad = |why: &str| {
            format!(
                "--public-url {s:?} {why}; give the tunnel's origin, such as https://vault.example.ts.net"
            )
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("is not a URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(bad("is not http or https"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
        if authority.is_empty() {
            return Err(bad("has no host"));
        }
        if authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad("has a path, query or user part"));
        }
        let host = crate::http::host_of(&authority);
        let port = authority[host.len()..].strip_prefix(':');
        if host.is_empty() || port.is_some_and(|p| p.parse::<u16>().is_err()) {
            return Err(bad("has a bad host or port"));
        }
        // Tokens cross it: plain http only to this machine (RFC 9700 2.6).
        if scheme == "http" && !crate::http::is_loopback_host(host) {
            return Err(bad(
                "is plain http to another machine; use the tunnel's https URL",
            ));
        }
        Ok(PublicUrl {
            origin: format!("{scheme}://{authority}"),
            authority,
        })
    }

    /// The origin, such as `https://vault.example` (also the issuer).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether it is on this machine (a loopback host).
    pub fn is_loopback(&self) -> bool {
        crate::http::is_loopback_host(crate::http::host_of(&self.authority))
    }

    /// The `Host` its requests arrive with (lowercase).
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The protected resource: the MCP endpoint's public URL.
    pub fn resource(&self) -> String {
        format!("{}{}", self.origin, crate::http::MCP_PATH)
    }

    /// Where the protected-resource metadata is.
    pub fn resource_metadata(&self) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource{}",
            self.origin,
            crate::http::MCP_PATH
        )
    }

    /// The `WWW-Authenticate` value of a 401 from the MCP endpoint.
    pub fn challenge(&self, invalid: bool) -> String {
        let error = if invalid {
            ", error=\"invalid_token\""
        } else {
            ""
        };
        format!(
            "Bearer realm=\"ctxvault\", resource_metadata=\"{}\"{error}",
            self.resource_metadata()
        )
    }
}

/// An OAuth error as the specs define it: a code and one sentence.
#[derive(Debug)]
pub struct OAuthError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The spec's error code (`invalid_grant`, ...).
    pub code: &'static str,
    /// One sentence saying what is wrong and what to do.
    pub description: String,
}

impl OAuthError {
    /// An error with status 400.
    pub fn new(code: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }

    /// `invalid_request`.
    pub fn request(d: impl Into<String>) -> OAuthError {
        Self::new("invalid_request", d)
    }

    /// `invalid_grant`.
    pub fn grant(d: impl Into<String>) -> OAuthError {
        Self::new("invalid_grant", d)
    }

    /// Too many of something: 429 `temporarily_unavailable`.
    pub fn too_many(d: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            ..Self::new("temporarily_unavailable", d)
        }
    }

    /// The vault is locked: 503 `temporarily_unavailable`.
    pub fn locked() -> OAuthError {
        OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..Self::new(
                "temporarily_unavailable",
                "the vault is locked; its owner must unlock it (`ctxvault unlock`) and the request be tried again",
            )
        }
    }

    /// No waiting request has this user code (for the CLI and console).
    pub fn no_request(code: &str) -> OAuthError {
        Self::new(
            "invalid_request",
            format!(
                "no connector waits for approval with code {code:?}; see `ctxvault connector ls`"
            ),
        )
    }

    /// A failure inside the agent.
    pub fn internal(d: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            ..Self::new("server_error", d)
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({ "error": self.code, "error_description": self.description })),
        )
            .into_response();
        no_store(&mut r);
        r
    }
}

impl From<crate::protocol::ApiError> for OAuthError {
    fn from(e: crate::protocol::ApiError) -> Self {
        use crate::protocol::ErrorKind;
        match e.kind {
            ErrorKind::Locked => OAuthError::locked(),
            ErrorKind::Invalid | ErrorKind::NoClient => OAuthError::request(e.message),
            _ => OAuthError::internal(e.message),
        }
    }
}

/// Mark an answer as not to be cached (token answers must not be).
pub(crate) fn no_store(r: &mut Response) {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// `N` random bytes from the OS.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], OAuthError> {
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| OAuthError::internal("the OS random number generator failed"))?;
    Ok(b)
}

/// 256 random bits as 64 hex digits.
pub(crate) fn random_token() -> Result<String, OAuthError> {
    Ok(random_bytes::<32>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The S256 PKCE challenge of a verifier (RFC 7636 4.2).
pub(crate) fn s256(verifier: &str) -> String {
    use base64::Engine;
    let d = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// A verifier as RFC 7636 4.1 allows: 43 to 128 unreserved characters.
pub(crate) fn verifier_ok(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls() {
        let p = PublicUrl::parse("https://Vault.Example.ts.net/").unwrap();
        assert_eq!(p.origin(), "https://vault.example.ts.net");
        assert_eq!(p.resource(), "https://vault.example.ts.net/mcp");
        assert_eq!(p.authority(), "vault.example.ts.net");
        let p = PublicUrl::parse("http://127.0.0.1:8443").unwrap();
        assert_eq!(p.authority(), "127.0.0.1:8443");
        for bad in [
            "http://vault.example",
            "vault.example",
            "ftp://vault.example",
            "https://",
            "https://vault.example/mcp",
            "https://u@vault.example",
            "https://vault.example?x",
            "https://vault.example:port",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pkce() {
        // RFC 7636 appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(verifier_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!verifier_ok("short"));
        assert!(!verifier_ok(&"a".repeat(129)));
        assert!(!verifier_ok(&format!("{}+", "a".repeat(50))));
    }
}
