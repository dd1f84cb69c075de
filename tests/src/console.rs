//! A console session spoken to with raw HTTP (every header as written),
//! for the console's tests.

use crate::{Env, raw_http};

/// Percent-encode a form value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `ctxvault console --no-browser --json`: the console's address and a
/// login link's path.
pub fn login_link(env: &Env) -> (String, String) {
    let v = env.json(&["console", "--no-browser", "--json"]);
    let login = v["login"].as_str().unwrap().to_owned();
    let url = v["url"].as_str().unwrap().to_owned();
    let addr = url.strip_prefix("http://").unwrap().to_owned();
    let path = login.strip_prefix(&url).unwrap().to_owned();
    (addr, path)
}

/// A logged-in console session spoken to with raw HTTP.
pub struct Raw {
    /// The console's address.
    pub addr: String,
    /// The session cookie (`name=value`).
    pub cookie: String,
}

/// The value of header `name` (lowercase).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Raw {
    /// Log in with a fresh link from `ctxvault console`.
    pub fn login(env: &Env) -> Raw {
        let (addr, path) = login_link(env);
        let (status, headers, _) = raw_http(&addr, &get(&addr, &path, None));
        assert_eq!(status, 303, "a fresh login link logs in");
        let set = header(&headers, "set-cookie").expect("a session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_owned();
        Raw { addr, cookie }
    }

    /// GET `path` in the session.
    pub fn get(&self, path: &str) -> (u16, Vec<(String, String)>, String) {
        raw_http(&self.addr, &get(&self.addr, path, Some(&self.cookie)))
    }

    /// The CSRF token of the session's forms (from a page).
    pub fn csrf(&self) -> String {
        let (_, _, body) = self.get("/");
        let at = body.find("name=\"csrf\" value=\"").expect("a form") + 19;
        body[at..at + 64].to_owned()
    }

    /// POST a form as the console's own page does.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
        let csrf = self.csrf();
        let mut pairs: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        pairs.extend_from_slice(form);
        self.post_raw(
            path,
            &pairs,
            &[("Origin", &format!("http://{}", self.addr))],
        )
    }

    /// POST `form` with only the `extra` headers added.
    pub fn post_raw(
        &self,
        path: &str,
        form: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, String) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.addr,
            self.cookie,
            body.len()
        );
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        raw_http(&self.addr, &req)
    }
}

/// A GET request for `path`, with the session's cookie if given.
pub fn get(addr: &str, path: &str, cookie: Option<&str>) -> String {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n")
}
