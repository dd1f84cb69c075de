//! Where an answer goes: the model provider behind a request, and whether
//! it runs on the user's machine (`local`) or elsewhere (`cloud`).
//!
//! A grant may hold a provider condition ([`ProviderCondition`]): only
//! these providers, or only this class. A request whose provider is not
//! known is judged as going to an unnamed cloud provider.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// Whether a provider runs on the user's machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderClass {
    /// On the user's machine (a loopback upstream, or one the user
    /// declared local).
    Local,
    /// Anywhere else.
    Cloud,
}

impl ProviderClass {
    /// Its name as the user writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderClass::Local => "local",
            ProviderClass::Cloud => "cloud",
        }
    }
}

impl FromStr for ProviderClass {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "local" => Ok(ProviderClass::Local),
            "cloud" => Ok(ProviderClass::Cloud),
            _ => Err(ParseError(format!(
                "unknown provider class {s:?}; use local or cloud"
            ))),
        }
    }
}

impl fmt::Display for ProviderClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The provider a request's answer goes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// The provider's name, when known.
    pub provider: Option<String>,
    /// Its class (an unknown provider is `cloud`).
    pub class: ProviderClass,
}

impl Destination {
    /// A provider nobody named: judged as cloud.
    pub fn unknown() -> Self {
        Destination {
            provider: None,
            class: ProviderClass::Cloud,
        }
    }

    /// The provider `name` of `class`.
    pub fn to(name: &str, class: ProviderClass) -> Self {
        Destination {
            provider: Some(name.to_owned()),
            class,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{p} ({})", self.class),
            None => write!(f, "an undeclared provider ({})", self.class),
        }
    }
}

/// A grant's limit on where its items may go: these providers by name
/// (any, when empty) and this class (any, when `None`); both must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCondition {
    /// Only these providers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<String>,
    /// Only providers of this class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<ProviderClass>,
}

impl ProviderCondition {
    /// True when the condition limits nothing.
    pub fn is_open(&self) -> bool {
        self.providers.is_empty() && self.class.is_none()
    }

    /// Whether an answer may go to `to`.
    pub fn holds(&self, to: &Destination) -> bool {
        let named = self.providers.is_empty()
            || to
                .provider
                .as_deref()
                .is_some_and(|p| self.providers.iter().any(|q| q == p));
        named && self.class.is_none_or(|c| c == to.class)
    }

    /// The condition in words: `local providers only`, `ollama only`.
    pub fn words(&self) -> Option<String> {
        let class = self.class.map(|c| format!("{c} providers"));
        let names = (!self.providers.is_empty()).then(|| self.providers.join(", "));
        match (names, class) {
            (None, None) => None,
            (Some(n), None) => Some(format!("{n} only")),
            (None, Some(c)) => Some(format!("{c} only")),
            (Some(n), Some(c)) => Some(format!("{n} only, and {c} only")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let local = Destination::to("ollama", ProviderClass::Local);
        let cloud = Destination::to("anthropic", ProviderClass::Cloud);
        let open = ProviderCondition::default();
        assert!(open.holds(&local) && open.holds(&cloud) && open.holds(&Destination::unknown()));
        let only_local = ProviderCondition {
            providers: vec![],
            class: Some(ProviderClass::Local),
        };
        assert!(only_local.holds(&local));
        assert!(!only_local.holds(&cloud));
        assert!(!only_local.holds(&Destination::unknown()));
        let named = ProviderCondition {
            providers: vec!["ollama".into()],
            class: None,
        };
        assert!(named.holds(&local) && !named.holds(&cloud));
        assert!(!named.holds(&Destination::unknown()));
        assert_eq!(only_local.words().unwrap(), "local providers only");
        assert!("remote".parse::<ProviderClass>().is_err());
    }
}
