//! Sync through a real file-sync engine no one here wrote: two instances
//! of Debian's Syncthing on loopback replicate two folders, each the remote
//! of one vault. A device joins from its own replica, and changes made on
//! either vault reach the other through Syncthing alone.
//!
//! Needs `syncthing` on the PATH (scripts/test.sh installs Debian's).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ctxvault_tests::Env;
use ctxvault_tests::oauth::free_port;

/// A Syncthing instance this test started; stopped (SIGTERM by its pid)
/// on drop.
struct Syncthing {
    child: Child,
}

impl Drop for Syncthing {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// Generate an instance's keys in `home`; returns its device id.
fn generate(home: &Path) -> String {
    let out = Command::new("syncthing")
        .args(["generate", "--no-default-folder", "--home"])
        .arg(home)
        .env("STNODEFAULTFOLDER", "1")
        .output()
        .expect("syncthing is installed (scripts/test.sh installs Debian's)");
    assert!(out.status.success(), "{out:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.split("Device ID: ").nth(1))
        .map(|id| id.trim().to_owned())
        .unwrap_or_else(|| panic!("no device id in {text}"))
}

/// The config of instance `me` (of two), sharing `folder` with the other.
fn config(ids: &[String; 2], ports: &[u16; 2], me: usize, folder: &Path) -> String {
    let devices: String = (0..2)
        .map(|k| {
            format!(
                r#"<device id="{}" name="d{k}" compression="metadata" introducer="false"><address>tcp://127.0.0.1:{}</address></device>"#,
                ids[k], ports[k]
            )
        })
        .collect();
    format!(
        r#"<configuration version="36">
<folder id="ctxvault" label="ctxvault" path="{}" type="sendreceive" rescanIntervalS="2" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
<device id="{}"></device><device id="{}"></device>
</folder>
{devices}
<gui enabled="false" tls="false"><address>127.0.0.1:0</address></gui>
<options>
<listenAddress>tcp://127.0.0.1:{}</listenAddress>
<globalAnnounceEnabled>false</globalAnnounceEnabled>
<localAnnounceEnabled>false</localAnnounceEnabled>
<relaysEnabled>false</relaysEnabled>
<natEnabled>false</natEnabled>
<urAccepted>-1</urAccepted>
<autoUpgradeIntervalH>0</autoUpgradeIntervalH>
<crashReportingEnabled>false</crashReportingEnabled>
<startBrowser>false</startBrowser>
</options>
</configuration>
"#,
        folder.display(),
        ids[0],
        ids[1],
        ports[me]
    )
}

/// Two Syncthing instances replicating `folders[0]` and `folders[1]`.
fn replicate(root: &Path, folders: &[PathBuf; 2]) -> [Syncthing; 2] {
    let homes = [root.join("st0"), root.join("st1")];
    let ids = [generate(&homes[0]), generate(&homes[1])];
    let ports = [free_port(), free_port()];
    for k in 0..2 {
        std::fs::create_dir_all(folders[k].join(".stfolder")).unwrap();
        std::fs::write(
            homes[k].join("config.xml"),
            config(&ids, &ports, k, &folders[k]),
        )
        .unwrap();
    }
    let start = |k: usize| {
        let log = std::fs::File::create(root.join(format!("st{k}.log"))).unwrap();
        Syncthing {
            child: Command::new("syncthing")
                .args([
                    "serve",
                    "--no-browser",
                    "--no-restart",
                    "--no-upgrade",
                    "--home",
                ])
                .arg(&homes[k])
                .env("STNODEFAULTFOLDER", "1")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        }
    };
    [start(0), start(1)]
}

/// The names of the log's files under `folder` (hidden ones aside).
fn log_files(folder: &Path) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(folder, folder, &mut out);
    out.sort();
    out
}

fn eventually(what: &str, root: &Path, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > Duration::from_secs(90) {
            let logs: String = (0..2)
                .map(|k| {
                    std::fs::read_to_string(root.join(format!("st{k}.log"))).unwrap_or_default()
                })
                .collect();
            panic!("{what}; syncthing said:\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_vaults_sync_through_two_syncthing_instances() {
    let mut a = Env::new();
    let mut b = Env::new();
    for e in [&mut a, &mut b] {
        e.vars.push(("CTXVAULT_SYNC_PULL_MS".into(), "100".into()));
        e.vars
            .push(("CTXVAULT_TEST_SYNC_TICK_MS".into(), "50".into()));
    }
    let root = a.tmp.path().to_owned();
    let folders = [root.join("replica0"), root.join("replica1")];
    let _st = replicate(&root, &folders);

    a.init();
    a.add(&["--ns", "notes", "I prefer green tea over coffee"]);
    a.ok(&["sync", "add", "folder", folders[0].to_str().unwrap()]);
    let written = log_files(&folders[0]);
    assert!(written.len() >= 3, "{written:?}");
    eventually("Syncthing replicates the first device's log", &root, || {
        log_files(&folders[1]) == written
    });

    b.ok(&["sync", "join", "folder", folders[1].to_str().unwrap()]);
    assert_eq!(b.bodies(), vec!["I prefer green tea over coffee"]);

    let id = b.add(&["--ns", "notes", "oat milk, never dairy"]);
    eventually("b's item reaches a through Syncthing", &root, || {
        a.bodies().contains(&"oat milk, never dairy".to_owned())
    });
    a.ok(&["edit", &id, "oat milk only"]);
    eventually("a's edit reaches b through Syncthing", &root, || {
        b.bodies().contains(&"oat milk only".to_owned())
    });
    assert_eq!(a.bodies(), b.bodies());
    for env in [&a, &b] {
        let st = env.json(&["sync", "status", "--json"]);
        assert!(st["blocked"].as_array().unwrap().is_empty(), "{st}");
    }
}
