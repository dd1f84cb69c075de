//! No plaintext on disk: markers in every field never appear in any file
//! under the vault directory, in UTF-8 or UTF-16.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use ctxvault_tests::Env;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn encodings(marker: &str) -> Vec<Vec<u8>> {
    let mut v = vec![
        marker.as_bytes().to_vec(),
        marker.to_uppercase().into_bytes(),
    ];
    for m in [marker.to_owned(), marker.to_uppercase()] {
        v.push(m.encode_utf16().flat_map(u16::to_le_bytes).collect());
        v.push(m.encode_utf16().flat_map(u16::to_be_bytes).collect());
    }
    v
}

fn assert_no_marker(env: &Env, markers: &[&str]) {
    let mut all = Vec::new();
    files(&env.vault, &mut all);
    assert!(all.iter().any(|p| p.ends_with("vault.db")));
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        for m in markers {
            for enc in encodings(m) {
                assert!(
                    !bytes.windows(enc.len()).any(|w| w == enc.as_slice()),
                    "marker {m} found in {}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn no_marker_in_any_file() {
    let env = Env::new();
    env.init();
    let body = "zqxbodymarker the body of a private note";
    let id = env.add(&[
        "--ns",
        "zqxnsmarker/sub",
        "--title",
        "zqxtitlemarker",
        "--tag",
        "zqxtagmarker",
        "--kind",
        "zqxkindmarker",
        body,
    ]);
    env.add(&["--ns", "profile", "another zqxbodymarker2 item"]);
    for q in [
        "zqxbodymarker",
        "zqxtitlemarker",
        "zqxtagmarker",
        "zqxbody*",
    ] {
        let hits = env.json(&["search", q, "--json"]);
        assert!(
            hits.as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == id.as_str()),
            "search {q}: {hits}"
        );
    }
    env.ok(&["edit", &id, "zqxeditmarker edited body"]);
    let markers = [
        "zqxbodymarker",
        "zqxnsmarker",
        "zqxtitlemarker",
        "zqxtagmarker",
        "zqxkindmarker",
        "zqxeditmarker",
    ];
    // While the agent runs (WAL and SHM present) ...
    assert_no_marker(&env, &markers);
    // ... and after it stopped and checkpointed.
    env.ok(&["stop"]);
    assert_no_marker(&env, &markers);
}
