//! Sensitivity levels, ordered `public < normal < private < secret`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// How sensitive an item is: `public` < `normal` < `private` < `secret`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    /// Fine for anyone to see.
    Public,
    /// The default.
    #[default]
    Normal,
    /// Personal.
    Private,
    /// Seen only through a grant whose maximum is `secret`.
    Secret,
}

impl Sensitivity {
    /// Every level, lowest first.
    pub const ALL: [Sensitivity; 4] = [
        Sensitivity::Public,
        Sensitivity::Normal,
        Sensitivity::Private,
        Sensitivity::Secret,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Public => "public",
            Sensitivity::Normal => "normal",
            Sensitivity::Private => "private",
            Sensitivity::Secret => "secret",
        }
    }
}

impl FromStr for Sensitivity {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Sensitivity::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                ParseError(format!(
                    "unknown sensitivity {s:?}; use one of public, normal, private, secret"
                ))
            })
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
