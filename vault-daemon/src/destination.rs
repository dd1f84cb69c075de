//! Where a client's answers go: the model provider behind it and its
//! class. A provider added for the proxy is local when its URL is a
//! loopback address (or the user declared it local) and cloud otherwise;
//! a name of a well-known provider that was not added has the class it is
//! known by; a client that declared no provider is judged as going to an
//! unnamed cloud provider.

use policies::{Destination, ProviderClass, ProviderCondition};

use crate::policy::PolicyState;
use crate::protocol::{ApiError, ErrorKind};

/// Well-known providers that run elsewhere.
pub const KNOWN_CLOUD: &[&str] = &[
    "anthropic",
    "azure",
    "bedrock",
    "cohere",
    "deepseek",
    "fireworks",
    "google",
    "groq",
    "mistral",
    "openai",
    "openrouter",
    "perplexity",
    "together",
    "xai",
];

/// Well-known providers that run on the user's machine.
pub const KNOWN_LOCAL: &[&str] = &["llama-cpp", "lm-studio", "localai", "ollama", "vllm"];

/// The class of a provider at `url`: local for a loopback host.
pub fn class_of_url(url: &str) -> ProviderClass {
    if url::Url::parse(url)
        .ok()
        .is_some_and(|u| crate::providers::is_loopback(&u))
    {
        ProviderClass::Local
    } else {
        ProviderClass::Cloud
    }
}

impl PolicyState {
    /// The class of the provider `name`, if it is known: an added one
    /// first, then the well-known names.
    pub fn provider_class(&self, name: &str) -> Option<ProviderClass> {
        if let Some(p) = self.providers.iter().find(|p| p.name == name) {
            return Some(p.class.unwrap_or_else(|| class_of_url(&p.url)));
        }
        if KNOWN_LOCAL.contains(&name) {
            Some(ProviderClass::Local)
        } else if KNOWN_CLOUD.contains(&name) {
            Some(ProviderClass::Cloud)
        } else {
            None
        }
    }

    /// Refuse a provider name that is neither added nor well known.
    pub fn check_provider(&self, name: &str) -> Result<ProviderClass, ApiError> {
        self.provider_class(name).ok_or_else(|| {
            let added: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
            ApiError::new(
                ErrorKind::Invalid,
                format!(
                    "unknown provider {name:?}; name one added with `ctxvault provider add`{} or a known one: {}",
                    if added.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", added.join(", "))
                    },
                    KNOWN_LOCAL
                        .iter()
                        .chain(KNOWN_CLOUD)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    /// Check a grant's provider condition: every name known.
    pub fn check_condition(&self, c: &ProviderCondition) -> Result<(), ApiError> {
        for p in &c.providers {
            self.check_provider(p)?;
        }
        Ok(())
    }

    /// Where answers go when they go to the provider `name`.
    pub fn destination_of(&self, name: &str) -> Destination {
        Destination::to(
            name,
            self.provider_class(name).unwrap_or(ProviderClass::Cloud),
        )
    }

    /// Where `client`'s answers go when no request says otherwise: the
    /// provider it declared, else an unnamed cloud provider.
    pub fn client_destination(&self, client: &str) -> Destination {
        self.clients
            .iter()
            .find(|c| c.name == client)
            .and_then(|c| c.provider.as_deref())
            .map_or_else(Destination::unknown, |p| self.destination_of(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_local() {
        assert_eq!(class_of_url("http://127.0.0.1:11434"), ProviderClass::Local);
        assert_eq!(
            class_of_url("http://localhost:8080/v1"),
            ProviderClass::Local
        );
        assert_eq!(class_of_url("http://[::1]:1/v1"), ProviderClass::Local);
        assert_eq!(
            class_of_url("https://api.anthropic.com"),
            ProviderClass::Cloud
        );
        assert_eq!(class_of_url("http://10.0.0.2:11434"), ProviderClass::Cloud);
        assert_eq!(class_of_url("not a url"), ProviderClass::Cloud);
        let st = PolicyState::default();
        assert_eq!(st.provider_class("ollama"), Some(ProviderClass::Local));
        assert_eq!(st.provider_class("anthropic"), Some(ProviderClass::Cloud));
        assert!(st.check_provider("acme").is_err());
        assert_eq!(st.client_destination("nobody"), Destination::unknown());
    }
}
