//! A W3C WebDriver session on Debian's `chromedriver` driving headless
//! Chromium, for the console's browser tests: the handful of commands
//! they use (navigate, find, type, click, read, screenshot), spoken as
//! the protocol's JSON over plain HTTP on loopback. The driver and the
//! browser are stopped (by the driver's pid) on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// The element key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian puts the driver and the browser.
pub fn available() -> bool {
    Path::new("/usr/bin/chromedriver").exists() && Path::new("/usr/bin/chromium").exists()
}

/// A running driver with one browser session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

/// A found element.
#[derive(Clone, Debug)]
pub struct Element(String);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP exchange with the driver: status and JSON answer.
fn exchange(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    // The driver may keep the connection open: read the head, then as
    // many bytes as it announces (or to the end when it announces none).
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut byte)?;
        if n == 0 {
            break buf.len();
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let mut body = buf[head_end..].to_vec();
    match length {
        Some(n) => {
            while body.len() < n {
                let got = s.read(&mut byte)?;
                if got == 0 {
                    break;
                }
                body.extend_from_slice(&byte[..got]);
            }
        }
        None => {
            s.read_to_end(&mut body)?;
        }
    }
    let rest = String::from_utf8_lossy(&body).into_owned();
    let chunked = head.contains("transfer-encoding: chunked");
    let json_text = if chunked { dechunk(&rest) } else { rest };
    let value = serde_json::from_str(&json_text).unwrap_or(Value::Null);
    Ok((status, value))
}

/// The body of a chunked answer.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Browser {
    /// Start `chromedriver` and a headless Chromium session with a fresh
    /// profile, offline apart from loopback.
    pub fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        // Ready when its status endpoint says so.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, v)) = exchange(port, "GET", "/status", None)
                && v["value"]["ready"] == json!(true)
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        } } });
        let (status, v) = exchange(port, "POST", "/session", Some(&caps)).expect("new session");
        assert_eq!(status, 200, "chromedriver refused a session: {v}");
        let session = v["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Browser {
            driver,
            port,
            session,
            _profile: profile,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.session);
        let (status, v) = exchange(self.port, method, &full, body.as_ref()).expect("webdriver");
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    /// Load `url` and wait for it.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's HTML as the browser holds it.
    pub fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Every element matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching a CSS selector, waiting (up to 10 s)
    /// for a page still loading to show it.
    pub fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}: {}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (up to 10 s) until the page's visible text holds `needle`;
    /// the text then.
    pub fn wait_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.page_text();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never showed on {}: {text}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The text an element shows.
    pub fn text(&self, e: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", e.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The body's visible text. A page replaced between finding its body
    /// and reading it (a form's answer arriving) is read again.
    pub fn page_text(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let body = self.find("body");
            let full = format!("/session/{}/element/{}/text", self.session, body.0);
            let (status, v) = exchange(self.port, "GET", &full, None).expect("webdriver");
            if status == 200 {
                return v["value"].as_str().unwrap_or_default().to_owned();
            }
            let stale = v["value"]["error"] == "stale element reference";
            assert!(stale && Instant::now() < deadline, "GET body text: {v}");
        }
    }

    /// Type into a field (after clearing it).
    pub fn fill(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{}/clear", e.0), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// Click an element (a submit button navigates; the command returns
    /// once the new page has loaded).
    pub fn click(&self, e: &Element) {
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Click the first element matching `css`.
    pub fn click_css(&self, css: &str) {
        let e = self.find(css);
        self.click(&e);
    }

    /// Save a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("artifact dir");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = exchange(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where a test's screenshots go: `target/test-artifacts/NAME` (not
/// committed).
pub fn artifacts(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("test-artifacts").join(name)
}
