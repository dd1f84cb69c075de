//! The user's model providers and each client's route through the proxy:
//! adding, listing, removing, the default, and routes. Keys are kept only
//! in the sealed `provider` records; answers carry a hint of four
//! characters at most.

use chrono::Utc;
use uuid::Uuid;
use vault_core::records::{PolicyRecord, ProviderKind, ProviderRecord, RouteRecord};

use crate::policy::{self, PolicyState};
use crate::protocol::{
    ApiError, ErrorKind, ProviderAdd, ProviderDefault, ProviderInfo, ProviderRemove, ProviderRoute,
    RouteInfo,
};
use crate::session::Session;

fn invalid(m: String) -> ApiError {
    ApiError::new(ErrorKind::Invalid, m)
}

/// Check a provider name: a lowercase word such as `openai` or `work-llm`.
fn check_provider_name(name: &str) -> Result<(), ApiError> {
    if policy::is_lowercase_word(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "invalid provider name {name:?}; use a lowercase word of a-z 0-9 - _ such as openrouter"
        )))
    }
}

/// A provider's base URL as stored: http or https, a host, no user, query
/// or fragment, no trailing slash. A key goes only over https, or plain
/// http to this machine.
pub(crate) fn check_url(url: &str, kind: ProviderKind, has_key: bool) -> Result<String, ApiError> {
    let example = match kind {
        ProviderKind::Openai => "https://api.openai.com/v1",
        ProviderKind::Anthropic => "https://api.anthropic.com",
        ProviderKind::Ollama => "http://127.0.0.1:11434",
    };
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        invalid(format!(
            "invalid provider URL {url:?}: {e}; such as {example}"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(format!(
            "invalid provider URL {url:?}: use an http or https URL such as {example}"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(format!(
            "the provider URL {url:?} holds a user name or password; give the key with --key-stdin or --key-env instead"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid(format!(
            "the provider URL {url:?} has a query or fragment; give only the base URL, such as {example}"
        )));
    }
    let loopback = is_loopback(&parsed);
    if has_key && parsed.scheme() == "http" && !loopback {
        return Err(invalid(format!(
            "the provider URL {url:?} is plain http to another machine: the API key would cross the network in the clear; use https"
        )));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// True when `url` names this machine (`localhost` or a loopback address).
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The route `client` has, as it now stands.
fn route_info(st: &PolicyState, client: &str) -> RouteInfo {
    let own = st.route_of(client);
    let named = own.and_then(|r| r.provider.clone());
    let default = st
        .providers
        .iter()
        .find(|p| p.default)
        .map(|p| p.name.clone());
    RouteInfo {
        client: client.to_owned(),
        by_default: named.is_none() && default.is_some(),
        provider: named.or(default),
        context: own.map(|r| r.context).unwrap_or_default(),
        fail_closed: own.is_some_and(|r| r.fail_closed),
    }
}

impl Session {
    /// Add a provider (or, with `replace`, replace one of the same name,
    /// keeping whether it is the default). The first one becomes the default.
    pub(crate) async fn provider_add(&self, r: ProviderAdd) -> Result<(), ApiError> {
        check_provider_name(&r.name)?;
        let key = r.key.map(|k| k.expose_secret().trim().to_owned());
        if key
            .as_deref()
            .is_some_and(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(invalid(
                "the API key given is empty or holds spaces, control or non-ASCII characters; give the key alone".into(),
            ));
        }
        let url = check_url(&r.url, r.kind, key.is_some())?;
        let mut st = self.policy.write().await;
        let old = st.providers.iter().find(|p| p.name == r.name);
        if old.is_some() && !r.replace {
            return Err(invalid(format!(
                "provider {:?} already exists; pass --replace to replace it, or choose another name",
                r.name
            )));
        }
        let rec = ProviderRecord {
            id: old.map_or_else(Uuid::now_v7, |p| p.id),
            name: r.name.clone(),
            kind: r.kind,
            url: url.clone(),
            key,
            default: old.map_or(st.providers.is_empty(), |p| p.default),
            class: r.class,
            created_at: Utc::now(),
        };
        let action = if old.is_some() {
            "provider-replace"
        } else {
            "provider-add"
        };
        let entry = policy::user_entry(
            action,
            vec![],
            format!(
                "provider {} ({}, {}) at {url}",
                r.name,
                r.kind,
                r.class
                    .unwrap_or_else(|| crate::destination::class_of_url(&url))
            ),
        );
        self.commit_policy(&mut st, vec![PolicyRecord::Provider(rec)], vec![], entry)
            .await
    }

    /// Every provider, by name.
    pub(crate) async fn provider_list(&self) -> Vec<ProviderInfo> {
        let st = self.policy.read().await;
        let mut out: Vec<ProviderInfo> = st
            .providers
            .iter()
            .map(|p| ProviderInfo {
                name: p.name.clone(),
                kind: p.kind,
                url: p.url.clone(),
                key_hint: p.key_hint(),
                default: p.default,
                class: st
                    .provider_class(&p.name)
                    .unwrap_or(policies::ProviderClass::Cloud),
                clients: st
                    .routes
                    .iter()
                    .filter(|r| r.provider.as_deref() == Some(&p.name))
                    .map(|r| r.client.clone())
                    .collect(),
                created_at: p.created_at,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Remove a provider; routes naming it go back to the default.
    pub(crate) async fn provider_remove(&self, r: ProviderRemove) -> Result<(), ApiError> {
        let mut st = self.policy.write().await;
        let id = st.provider(&r.name)?.id;
        let put: Vec<PolicyRecord> = st
            .routes
            .iter()
            .filter(|x| x.provider.as_deref() == Some(&r.name))
            .map(|x| {
                PolicyRecord::Route(RouteRecord {
                    provider: None,
                    ..x.clone()
                })
            })
            .collect();
        let entry = policy::user_entry("provider-rm", vec![], format!("provider {}", r.name));
        self.commit_policy(&mut st, put, vec![id], entry).await
    }

    /// Make `name` the default provider.
    pub(crate) async fn provider_default(&self, r: ProviderDefault) -> Result<(), ApiError> {
        let mut st = self.policy.write().await;
        st.provider(&r.name)?;
        let put: Vec<PolicyRecord> = st
            .providers
            .iter()
            .filter(|p| p.default != (p.name == r.name))
            .map(|p| {
                let mut p = p.clone();
                p.default = p.name == r.name;
                PolicyRecord::Provider(p)
            })
            .collect();
        let entry = policy::user_entry("provider-default", vec![], format!("provider {}", r.name));
        self.commit_policy(&mut st, put, vec![], entry).await
    }

    /// Set a client's route; answers it as it now stands.
    pub(crate) async fn provider_route(&self, r: ProviderRoute) -> Result<RouteInfo, ApiError> {
        let mut st = self.policy.write().await;
        st.client(&r.client)?;
        if let Some(Some(p)) = &r.provider {
            st.provider(p)?;
        }
        let old = st.route_of(&r.client);
        let rec = RouteRecord {
            id: old.map_or_else(Uuid::now_v7, |o| o.id),
            client: r.client.clone(),
            provider: match r.provider {
                Some(p) => p,
                None => old.and_then(|o| o.provider.clone()),
            },
            context: r.context.or(old.map(|o| o.context)).unwrap_or_default(),
            fail_closed: r
                .fail_closed
                .or(old.map(|o| o.fail_closed))
                .unwrap_or(false),
            created_at: Utc::now(),
        };
        let detail = format!(
            "client {} to {} with {} context{}",
            r.client,
            rec.provider.as_deref().unwrap_or("the default provider"),
            rec.context,
            if rec.fail_closed {
                ", failing closed when locked"
            } else {
                ""
            }
        );
        let entry = policy::user_entry("provider-route", vec![], detail);
        self.commit_policy(&mut st, vec![PolicyRecord::Route(rec)], vec![], entry)
            .await?;
        Ok(route_info(&st, &r.client))
    }
}
