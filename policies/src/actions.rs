//! Actions a client may take (read, propose, write) and sets of them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// What a client may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Search, get, list, resources, prompts.
    Read,
    /// Write-back into the pending queue the user approves.
    Propose,
    /// Write-back stored directly, inside the granted scope.
    Write,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 3] = [Action::Read, Action::Propose, Action::Write];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Propose => "propose",
            Action::Write => "write",
        }
    }
}

impl FromStr for Action {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| ParseError(format!("unknown action {s:?}; use read, propose or write")))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of actions; serialized as a list of names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Actions(u8);

impl Actions {
    /// The set holding these actions.
    pub fn of(actions: &[Action]) -> Self {
        Actions(actions.iter().fold(0, |acc, a| acc | 1 << (*a as u8)))
    }

    /// True when `a` is in the set.
    pub fn contains(self, a: Action) -> bool {
        self.0 & (1 << (a as u8)) != 0
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets together.
    pub fn union(self, other: Actions) -> Actions {
        Actions(self.0 | other.0)
    }

    /// The actions, in order.
    pub fn list(self) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|a| self.contains(*a))
            .collect()
    }
}

impl FromStr for Actions {
    type Err = ParseError;
    /// A comma-separated list such as `read,propose`.
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let list = s
            .split(',')
            .map(|a| a.trim().parse())
            .collect::<Result<Vec<Action>, _>>()?;
        if list.is_empty() {
            return Err(ParseError(
                "no action given; use read, propose or write".into(),
            ));
        }
        Ok(Actions::of(&list))
    }
}

impl Serialize for Actions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Actions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Actions::of(&Vec::<Action>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse() {
        assert_eq!(
            "read,write".parse::<Actions>().unwrap().list(),
            vec![Action::Read, Action::Write]
        );
        assert!(
            "read,delete"
                .parse::<Actions>()
                .unwrap_err()
                .to_string()
                .contains("unknown action \"delete\"")
        );
    }
}
