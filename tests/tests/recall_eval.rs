//! The recall evaluation set stays valid: its own checker (eval/recall/
//! check.py) passes, so a paraphrase question that came to share a word
//! with its answer, or a dangling answer id, fails the tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn the_recall_set_passes_its_checks() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../eval/recall/check.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .output()
        .expect("python3 runs the checker");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("violations:          0"), "{out}");
}
