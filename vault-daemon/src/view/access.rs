//! `describe_access` in words: a few sentences a client can relay to the
//! user, naming where its answers go, what is kept for other providers,
//! the aspect in force and which reads wait for a yes. Only the client's
//! own grants are named (never a deny rule, whose scope could name what is
//! hidden).

use policies::{ClientPolicy, Destination, Grant};

/// The summary of `client`'s access: `items` readable now, answers going
/// to `to`, `held` its live grants (whatever their provider condition),
/// `p` its policy for this destination.
pub(crate) fn summary(
    client: &str,
    items: u64,
    to: &Destination,
    held: &[Grant],
    p: &ClientPolicy,
) -> String {
    let mut s = format!("{client} can read {items} item(s) now; its answers go to {to}.");
    for g in held {
        if let Some(w) = g.providers.words() {
            let here = if g.providers.holds(to) {
                "so with this request too"
            } else {
                "so not with this request"
            };
            s.push_str(&format!(" {} is shared with {w}, {here}.", g.scope));
        }
    }
    if let Some(a) = p.aspect() {
        // Its name only: its scopes may name what this client cannot see.
        s.push_str(&format!(
            " The user switched on the aspect {:?}: only part of what it may read is shared for now.",
            a.name
        ));
    }
    let asks: Vec<String> = p
        .grants()
        .iter()
        .filter(|g| g.confirm.is_some())
        .map(|g| g.scope.to_string())
        .collect();
    if !asks.is_empty() {
        s.push_str(&format!(
            " Reads of {} wait for the user's yes each time.",
            asks.join(", ")
        ));
    }
    s
}
