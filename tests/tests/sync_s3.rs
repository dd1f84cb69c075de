//! Sync through S3, with a local S3 server no one here wrote (moto's, from
//! PyPI, installed by scripts/test.sh): a device joins from the bucket, an
//! edit flows back, the bucket holds no plaintext, the credentials are never
//! shown, a segment cannot be written twice (conditional writes), and an
//! unreachable endpoint or a missing bucket is one line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ctxvault_tests::oauth::free_port;
use ctxvault_tests::{Env, assert_one_line_error, python};

/// A moto S3 server this test started; stopped (SIGTERM by its pid) on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn moto(log: &Path) -> Moto {
    let port = free_port();
    let child = Command::new(python())
        .args(["-m", "moto.server", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .expect("moto is installed (scripts/test.sh installs it)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Run Python with boto3 against the server; returns stdout.
fn boto(m: &Moto, code: &str) -> String {
    let out = Command::new(python())
        .args(["-c", code])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("MOTO_URL", &m.url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

const CLIENT: &str = "import boto3, os\ns3 = boto3.client('s3', endpoint_url=os.environ['MOTO_URL'], region_name='us-east-1')\n";

fn device(m: &Moto) -> Env {
    let mut e = Env::new();
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing-secret-qx"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", m.url.as_str()),
        ("CTXVAULT_SYNC_PULL_MS", "3600000"),
    ] {
        e.vars.push((k.into(), v.into()));
    }
    e
}

#[test]
fn two_devices_sync_through_a_bucket_and_it_holds_no_plaintext() {
    let a_dir = tempfile::tempdir().unwrap();
    let m = moto(&a_dir.path().join("moto.log"));
    boto(
        &m,
        &format!("{CLIENT}s3.create_bucket(Bucket='vault-test')"),
    );
    let a = device(&m);
    a.init();
    a.add(&[
        "--ns",
        "nsmarkerqx",
        "--title",
        "titlemarkerqx",
        "--tag",
        "tagmarkerqx",
        "bodymarkerqx tea",
    ]);
    a.ok(&["client", "add", "clientmarkerqx"]);
    a.ok(&["grant", "clientmarkerqx", "nsmarkerqx"]);
    a.ok(&["sync", "add", "s3", "s3://vault-test/me"]);

    let b = device(&m);
    b.ok(&["sync", "join", "s3", "s3://vault-test/me"]);
    assert_eq!(b.bodies(), vec!["bodymarkerqx tea"]);
    let id = b.json(&["ls", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.ok(&["edit", &id, "bodymarkerqx coffee"]);
    b.ok(&["sync", "now"]);
    a.ok(&["sync", "now"]);
    assert_eq!(a.bodies(), vec!["bodymarkerqx coffee"]);

    // The credentials are sealed in the vault and never shown.
    let status = a.ok(&["sync", "status"]);
    assert!(status.contains("s3://vault-test/me/"), "{status}");
    assert!(!status.contains("testing-secret-qx"), "{status}");

    // Every object of the bucket, byte for byte: no marker in UTF-8 or
    // UTF-16, no namespace or client name.
    let dump = a_dir.path().join("dump");
    std::fs::create_dir(&dump).unwrap();
    boto(
        &m,
        &format!(
            "{CLIENT}import pathlib\nfor o in s3.list_objects_v2(Bucket='vault-test')['Contents']:\n    p = pathlib.Path({:?}) / o['Key'].replace('/', '_')\n    p.write_bytes(s3.get_object(Bucket='vault-test', Key=o['Key'])['Body'].read())\n",
            dump.display().to_string()
        ),
    );
    let files: Vec<_> = std::fs::read_dir(&dump).unwrap().flatten().collect();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let bytes = std::fs::read(f.path()).unwrap();
        for m in [
            "nsmarkerqx",
            "titlemarkerqx",
            "tagmarkerqx",
            "bodymarkerqx",
            "clientmarkerqx",
        ] {
            let le: Vec<u8> = m.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
            let be: Vec<u8> = m.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
            for needle in [m.as_bytes().to_vec(), le, be] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{m} in {:?}",
                    f.path()
                );
            }
        }
    }

    // A segment is written once: the store refuses to replace one.
    let refused = boto(
        &m,
        &format!(
            "{CLIENT}k = [o['Key'] for o in s3.list_objects_v2(Bucket='vault-test')['Contents'] if o['Key'].endswith('.seg')][0]\ntry:\n    s3.put_object(Bucket='vault-test', Key=k, Body=b'x', IfNoneMatch='*')\n    print('replaced')\nexcept Exception as e:\n    print('refused', e)\n"
        ),
    );
    assert!(refused.starts_with("refused"), "{refused}");
}

#[test]
fn an_unreachable_store_or_missing_bucket_is_one_line_and_changes_nothing() {
    let a_dir = tempfile::tempdir().unwrap();
    let m = moto(&a_dir.path().join("moto.log"));
    let a = device(&m);
    a.init();
    a.add(&["a note"]);
    let out = a.run(&["sync", "add", "s3", "s3://no-such-bucket/me"]);
    assert_ne!(out.code, 0);
    assert_one_line_error(&out.stderr, "NoSuchBucket");
    let out = a.run(&[
        "sync",
        "add",
        "s3",
        "s3://vault-test/me",
        "--endpoint",
        &format!("http://127.0.0.1:{}", free_port()),
    ]);
    assert_one_line_error(&out.stderr, "cannot be reached");
    let out = a.run(&["sync", "add", "s3", "vault-test/me"]);
    assert_one_line_error(&out.stderr, "give it as s3://BUCKET/PREFIX");
    let mut no_creds = device(&m);
    no_creds.vars.retain(|(k, _)| !k.starts_with("AWS_SECRET"));
    let out = no_creds.run(&["sync", "join", "s3", "s3://vault-test/me"]);
    assert_one_line_error(&out.stderr, "AWS_SECRET_ACCESS_KEY");
    let out = a.run(&["sync", "status"]);
    assert_one_line_error(&out.stderr, "sync is not set up");
    assert_eq!(a.bodies(), vec!["a note"]);
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

fn state(env: &Env) -> (Vec<String>, String, usize) {
    let mut items: Vec<String> = env
        .json(&["ls", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{} v{} {}", i["id"], i["version"], i["body"]))
        .collect();
    items.sort();
    let grants = env.json(&["grants", "--json"]).to_string();
    let conflicts = env.json(&["sync", "conflicts", "--json"]);
    (items, grants, conflicts.as_array().unwrap().len())
}

#[test]
fn three_devices_converge_through_a_bucket_whatever_the_interleaving() {
    let dir = tempfile::tempdir().unwrap();
    let m = moto(&dir.path().join("moto.log"));
    boto(
        &m,
        &format!("{CLIENT}s3.create_bucket(Bucket='vault-test')"),
    );
    for seed in 1..=3u64 {
        let url = format!("s3://vault-test/seed{seed}");
        let devs = [device(&m), device(&m), device(&m)];
        devs[0].init();
        devs[0].ok(&["client", "add", "app"]);
        devs[0].ok(&["sync", "add", "s3", &url]);
        for d in &devs[1..] {
            d.ok(&["sync", "join", "s3", &url]);
        }
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        for step in 0..40 {
            let d = &devs[rng.below(3)];
            let ids: Vec<String> = d
                .json(&["ls", "--json"])
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect();
            match rng.below(7) {
                0 | 1 => {
                    d.add(&["--ns", "work", &format!("note {seed}-{step}")]);
                }
                2 if !ids.is_empty() => {
                    let id = &ids[rng.below(ids.len())];
                    d.ok(&["edit", id, &format!("edit {seed}-{step}")]);
                }
                3 if !ids.is_empty() => {
                    d.ok(&["rm", &ids[rng.below(ids.len())]]);
                }
                4 => {
                    d.ok(&["grant", "app", &format!("ns{}", rng.below(3))]);
                }
                5 => {
                    d.ok(&["revoke", "app", "--all"]);
                }
                _ => {
                    d.ok(&["sync", "now"]);
                }
            }
        }
        for _ in 0..2 {
            for d in &devs {
                d.ok(&["sync", "now"]);
            }
        }
        let first = state(&devs[0]);
        for d in &devs[1..] {
            assert_eq!(state(d), first, "seed {seed}: devices differ");
        }
    }
}
