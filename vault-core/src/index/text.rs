//! Text shared by the engines and snippets: tokens of indexed text and the
//! words of a query.

/// Longest token kept, in bytes.
pub(crate) const MAX_TOKEN_BYTES: usize = 64;

/// Call `f` with every token of `text`, lowercased. Runs of lowercase
/// ASCII letters and digits are passed straight from `text`; other tokens
/// are lowercased into `buf`.
pub(crate) fn for_each_token(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Skip separators quickly.
        let b = bytes[i];
        if b < 0x80 && !b.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        let mut simple = true;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if b.is_ascii_lowercase() || b.is_ascii_digit() {
                    i += 1;
                } else if b.is_ascii_uppercase() {
                    simple = false;
                    i += 1;
                } else {
                    break;
                }
            } else {
                let c = text[i..].chars().next().unwrap_or(' ');
                if !c.is_alphanumeric() {
                    break;
                }
                simple = false;
                i += c.len_utf8();
            }
        }
        if i == start {
            // A non-ASCII separator.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let token = &text[start..i];
        if simple {
            if token.len() <= MAX_TOKEN_BYTES {
                f(token);
            }
        } else {
            buf.clear();
            for c in token.chars() {
                buf.extend(c.to_lowercase());
            }
            if buf.len() <= MAX_TOKEN_BYTES {
                f(buf);
            }
        }
    }
}

/// The words of a user query: runs of letters and digits, lowercased; a
/// trailing `*` on a word asks for a prefix match.
pub fn query_terms(query: &str) -> Vec<(String, bool)> {
    let mut terms = Vec::new();
    let mut cur = String::new();
    for c in query.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
            continue;
        }
        if !cur.is_empty() {
            terms.push((std::mem::take(&mut cur), c == '*'));
        }
    }
    if !cur.is_empty() {
        terms.push((cur, false));
    }
    terms.retain(|(t, _)| t.len() <= MAX_TOKEN_BYTES);
    terms
}
