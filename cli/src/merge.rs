//! Putting one entry into an app's JSON configuration by splicing text:
//! every byte outside the entry stays as the app (or the user) wrote it,
//! so other servers' settings are neither reformatted nor shown.

use indexmap::IndexMap;
use serde_json::value::RawValue;

/// Members of an object, their values as written (keys unescaped).
type Members<'a> = IndexMap<String, &'a RawValue>;

/// Where `part` (a slice of `text`) starts in `text`.
fn offset(text: &str, part: &str) -> usize {
    part.as_ptr() as usize - text.as_ptr() as usize
}

/// The indentation of the line `at` is on.
fn indent_at(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// `value` as pretty JSON whose lines after the first start with `indent`.
fn pretty(value: &serde_json::Value, indent: &str) -> Result<String, String> {
    let p = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    Ok(p.replace('\n', &format!("\n{indent}")))
}

/// `object` (the text of a JSON object, a slice of `text`) with `key`
/// set to `value`: the old value's text replaced, or a first member put
/// before the others. The whole new text of `text`.
fn set_member(
    text: &str,
    object: &str,
    key: &str,
    value: &serde_json::Value,
) -> Result<String, String> {
    let members: Members = serde_json::from_str(object).map_err(|e| e.to_string())?;
    let start = offset(text, object);
    let quoted = serde_json::to_string(key).map_err(|e| e.to_string())?;
    if let Some(old) = members.get(key) {
        let at = offset(text, old.get());
        let new = pretty(value, indent_at(text, at))?;
        return Ok(format!(
            "{}{new}{}",
            &text[..at],
            &text[at + old.get().len()..]
        ));
    }
    let inner = &object[1..];
    let first = inner.len() - inner.trim_start().len();
    let open = start + 1;
    let outer = indent_at(text, start);
    if members.is_empty() {
        let child = format!("{outer}  ");
        let new = pretty(value, &child)?;
        let close = start + object.len() - 1;
        return Ok(format!(
            "{}\n{child}{quoted}: {new}\n{outer}{}",
            &text[..open],
            &text[close..]
        ));
    }
    // Before the first member, in its style (on its own line, or inline).
    let at = open + first;
    if inner[..first].contains('\n') {
        let child = indent_at(text, at).to_owned();
        let new = pretty(value, &child)?;
        Ok(format!(
            "{}{quoted}: {new},\n{child}{}",
            &text[..at],
            &text[at..]
        ))
    } else {
        let new = serde_json::to_string(value).map_err(|e| e.to_string())?;
        Ok(format!("{}{quoted}: {new}, {}", &text[..at], &text[at..]))
    }
}

/// `text` (a JSON object; `None` or blank for no file yet) with `entry`
/// at `servers_key`.`key`. Fails, naming why, on anything but a JSON
/// object whose `servers_key` (if present) is an object.
pub fn merge(
    text: Option<&str>,
    servers_key: &str,
    key: &str,
    entry: &serde_json::Value,
) -> Result<String, String> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        let fresh = serde_json::json!({ servers_key: { key: entry } });
        return Ok(pretty(&fresh, "")? + "\n");
    };
    let not_object = |e: serde_json::Error| {
        format!("it is not a JSON object ({e}; comments and trailing commas are not JSON)")
    };
    let top: &RawValue = serde_json::from_str(text).map_err(not_object)?;
    let top_members: Members = serde_json::from_str(top.get()).map_err(not_object)?;
    let new = match top_members.get(servers_key) {
        Some(servers) => {
            if !servers.get().starts_with('{') {
                return Err(format!("its {servers_key:?} is not an object"));
            }
            set_member(text, servers.get(), key, entry)?
        }
        None => set_member(
            text,
            top.get(),
            servers_key,
            &serde_json::json!({ key: entry }),
        )?,
    };
    // What was written must read back as the entry, with all else kept.
    let check: serde_json::Value = serde_json::from_str(&new).map_err(|e| e.to_string())?;
    if check.get(servers_key).and_then(|s| s.get(key)) != Some(entry) {
        return Err("the merged file does not read back as written".into());
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_entry_changes() {
        let entry = serde_json::json!({"command": "/bin/ctxvault", "args": ["mcp"]});
        let fresh = merge(None, "mcpServers", "ctxvault", &entry).unwrap();
        let v: serde_json::Value = serde_json::from_str(&fresh).unwrap();
        assert_eq!(v["mcpServers"]["ctxvault"], entry);
        let old = "{\n  \"zeta\": 1,\n  \"mcpServers\": {\n    \"other\": {\n      \"command\": \"x\",\n      \"env\": {\"KEY\": \"s3cret\"}\n    }\n  },\n  \"alpha\": [1,   2]\n}\n";
        let new = merge(Some(old), "mcpServers", "ctxvault", &entry).unwrap();
        // Every line of the old file is still there, as it was.
        for line in old.lines() {
            assert!(new.contains(line), "{line:?} lost from {new}");
        }
        let v: serde_json::Value = serde_json::from_str(&new).unwrap();
        assert_eq!(v["mcpServers"]["ctxvault"], entry);
        assert_eq!(v["mcpServers"]["other"]["env"]["KEY"], "s3cret");
        // Merging again changes nothing; a changed entry replaces its text.
        assert_eq!(
            merge(Some(&new), "mcpServers", "ctxvault", &entry).unwrap(),
            new
        );
        let other = serde_json::json!({"command": "/other/ctxvault"});
        let again = merge(Some(&new), "mcpServers", "ctxvault", &other).unwrap();
        assert!(again.contains("/other/ctxvault") && !again.contains("/bin/ctxvault"));
        for line in old.lines() {
            assert!(again.contains(line), "{line:?} lost");
        }
        // No servers yet, an empty object, compact JSON.
        for t in [
            "{\"a\": 1}",
            "{}",
            "{\"mcpServers\": {}}",
            "{\"mcpServers\":{\"x\":{}}}",
        ] {
            let m = merge(Some(t), "mcpServers", "ctxvault", &entry).unwrap();
            let v: serde_json::Value = serde_json::from_str(&m).unwrap();
            assert_eq!(v["mcpServers"]["ctxvault"], entry, "{t} -> {m}");
        }
        assert!(merge(Some("// comment\n{}"), "servers", "k", &entry).is_err());
        assert!(merge(Some("[1]"), "servers", "k", &entry).is_err());
        assert!(merge(Some("{\"servers\": 3}"), "servers", "k", &entry).is_err());
    }
}
