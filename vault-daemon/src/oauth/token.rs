//! The token endpoint (codes and refresh tokens for access tokens) and
//! revocation (RFC 7009).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::endpoints::{Oauth, form_pairs, same_resource};
use super::flow::CodeRefusal;
use super::{OAuthError, no_store, s256, verifier_ok};
use crate::agent::lock;

/// `POST /token`.
pub(super) async fn token(
    State(o): State<Oauth>,
    headers: axum::http::HeaderMap,
    raw: Bytes,
) -> Response {
    // On a task of its own: a client hanging up must not cut an exchange
    // between its record and its tokens.
    let answer = match form(&headers, &raw) {
        Ok(f) => tokio::spawn(async move { token_answer(&o, f).await })
            .await
            .unwrap_or_else(|e| {
                Err(OAuthError::internal(format!(
                    "the token request failed: {e}"
                )))
            }),
        Err(e) => Err(e),
    };
    match answer {
        Ok(v) => {
            let mut r = axum::Json(v).into_response();
            no_store(&mut r);
            r
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /revoke` (RFC 7009): a connector gives up a token. An access
/// token stops; a refresh token ends its family. Unknown tokens, and tokens
/// of another client, change nothing; the answer is 200 either way.
pub(super) async fn revoke(
    State(o): State<Oauth>,
    headers: axum::http::HeaderMap,
    raw: Bytes,
) -> Response {
    let f = match form(&headers, &raw) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let get = |k: &str| f.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(token), Some(client_id)) = (get("token"), get("client_id")) else {
        return OAuthError::request("give token and client_id").into_response();
    };
    let (token, client_id) = (token.to_owned(), client_id.to_owned());
    let done = tokio::spawn(async move { o.agent.connector_give_up(&token, &client_id).await })
        .await
        .unwrap_or_else(|e| Err(OAuthError::internal(format!("the revocation failed: {e}"))));
    if let Err(e) = done {
        return e.into_response();
    }
    let mut r = StatusCode::OK.into_response();
    no_store(&mut r);
    r
}

/// The parameters of a form body (RFC 6749 3.2: the only body taken).
fn form(
    headers: &axum::http::HeaderMap,
    raw: &[u8],
) -> Result<std::collections::HashMap<String, String>, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    form_pairs(raw)
}

async fn token_answer(
    o: &Oauth,
    f: std::collections::HashMap<String, String>,
) -> Result<serde_json::Value, OAuthError> {
    let get = |k: &str| f.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let resource = o.public.resource();
    if get("resource").is_some_and(|r| !same_resource(r, &resource)) {
        return Err(OAuthError::new(
            "invalid_target",
            "resource is not this vault's MCP endpoint; tokens here are only for it",
        ));
    }
    let client_id = get("client_id").ok_or_else(|| OAuthError {
        status: StatusCode::UNAUTHORIZED,
        ..OAuthError::new("invalid_client", "client_id is missing")
    })?;
    let now = Instant::now();
    let issued = match get("grant_type") {
        Some("authorization_code") => {
            let code = get("code").ok_or_else(|| OAuthError::request("code is missing"))?;
            let redirect = get("redirect_uri");
            let verifier = get("code_verifier");
            // Checked before the code counts as used: a party holding a
            // leaked code but not its verifier can neither burn it nor, by
            // replaying it, revoke what it gave.
            let check = |c: &super::flow::Code| {
                let p = &c.params;
                if p.client_id != client_id {
                    return Err(OAuthError::grant(
                        "the authorization code was issued to another client",
                    ));
                }
                if redirect.is_some_and(|r| r != p.redirect_uri) {
                    return Err(OAuthError::grant(
                        "redirect_uri differs from the one the code was issued with",
                    ));
                }
                let verifier = verifier.ok_or_else(|| {
                    OAuthError::request("code_verifier is missing: PKCE is required")
                })?;
                if !verifier_ok(verifier) || s256(verifier) != p.challenge {
                    return Err(OAuthError::grant(
                        "code_verifier does not match the code_challenge",
                    ));
                }
                Ok(())
            };
            let taken = lock(&o.agent.oauth).take_code(code, check, now);
            let c = match taken {
                Ok(c) => c,
                Err(CodeRefusal::Unknown) => {
                    return Err(OAuthError::grant(
                        "the authorization code is unknown or expired; authorize again",
                    ));
                }
                Err(CodeRefusal::Refused(e)) => return Err(e),
                Err(CodeRefusal::Reused(family)) => {
                    if let Some(f) = family {
                        o.agent
                            .revoke_family(f, "authorization code used twice")
                            .await;
                    }
                    return Err(OAuthError::grant(
                        "the authorization code was already used; the tokens it gave are revoked",
                    ));
                }
            };
            let (access, refresh, family) = match o.agent.connector_exchange(&c).await {
                Ok(t) => t,
                Err(e) => {
                    // Only a locked vault is a passing reason.
                    if e.status == StatusCode::SERVICE_UNAVAILABLE {
                        lock(&o.agent.oauth).release_code(code);
                    }
                    return Err(e);
                }
            };
            let replayed = lock(&o.agent.oauth).code_started(code, family);
            if replayed {
                o.agent
                    .revoke_family(family, "authorization code used twice")
                    .await;
                return Err(OAuthError::grant(
                    "the authorization code was used twice; the tokens it gave are revoked",
                ));
            }
            (access, refresh)
        }
        Some("refresh_token") => {
            let refresh = get("refresh_token")
                .ok_or_else(|| OAuthError::request("refresh_token is missing"))?;
            o.agent.connector_refresh(refresh, client_id).await?
        }
        Some(other) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!(
                    "grant_type {other:?} is not supported; use authorization_code or refresh_token"
                ),
            ));
        }
        None => return Err(OAuthError::request("grant_type is missing")),
    };
    let expires = lock(&o.agent.oauth).access_lifetime().as_secs().max(1);
    Ok(json!({
        "access_token": issued.0,
        "token_type": "Bearer",
        "expires_in": expires,
        "refresh_token": issued.1,
    }))
}
