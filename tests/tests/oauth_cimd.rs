//! Client ID Metadata Documents: a client whose client_id is an https URL
//! is described by the document there, fetched by the agent from a real
//! HTTPS server (a test CA the agent trusts through SSL_CERT_FILE) and
//! checked; a document that lies, a redirect, a missing document and a
//! private address are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ctxvault_tests::Env;
use ctxvault_tests::oauth::{
    CHALLENGE, REDIRECT, approved_code, enc, exchange, get, header, mcp_status, public_vault,
};

/// A CA and a certificate it signed for localhost, made with openssl: the
/// CA's file and the certificate's and key's.
fn test_tls(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ctxvault test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    run(&ca);
    let mut leaf = vec!["req"];
    leaf.extend(ec);
    leaf.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&leaf);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}

#[test]
fn a_client_id_metadata_document_is_fetched_and_checked() {
    let mut env = Env::new();
    let dir = env.tmp.path().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = test_tls(&dir);
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let mut server = Command::new(ctxvault_tests::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/https_doc.py"
        ))
        .args([&cert, &key, &docs])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut port,
    )
    .unwrap();
    let base = format!("https://localhost:{}", port.trim());
    let url = format!("{base}/client.json");
    let doc = |id: &str| {
        serde_json::json!({
            "client_id": id, "client_name": "Metadata App", "redirect_uris": [REDIRECT],
        })
        .to_string()
    };
    std::fs::write(docs.join("client.json"), doc(&url)).unwrap();
    std::fs::write(
        docs.join("other.json"),
        doc("https://elsewhere.example/c.json"),
    )
    .unwrap();
    // The agent trusts the test CA the way it trusts any: SSL_CERT_FILE.
    env.vars
        .push(("SSL_CERT_FILE".into(), ca.display().to_string()));
    // Documents on loopback are fetched only for a test on this machine.
    env.vars
        .push(("CTXVAULT_TEST_CIMD_LOOPBACK".into(), "1".into()));
    let agent = public_vault(&mut env);
    let (addr, resource) = (agent.addr.clone(), agent.url.clone());
    let (_, _, asm) = get(&addr, "/.well-known/oauth-authorization-server");
    assert!(
        asm.contains("\"client_id_metadata_document_supported\":true"),
        "{asm}"
    );

    // The document's URL is the client_id: no registration.
    let code = approved_code(&env, &addr, &url, &resource, &["--grant", "work/**"]);
    let (s, v) = exchange(&addr, &url, &code);
    assert_eq!(s, 200, "{v}");
    assert_eq!(mcp_status(&addr, v["access_token"].as_str().unwrap()), 200);
    let list = env.json(&["connector", "ls", "--json"]);
    assert_eq!(list["approved"][0]["name"], "Metadata App", "{list}");

    // Refused, each with an error page and no redirect: a document naming
    // another client_id, a redirect, a missing one, a private address.
    for (id, why) in [
        (
            format!("{base}/other.json"),
            "is not the URL it was fetched from",
        ),
        (format!("{base}/moved"), "redirects are not followed"),
        (
            "https://localhost:9/client.json".to_owned(),
            "cannot be fetched from a public https address",
        ),
        (format!("{base}/missing.json"), "answered 404"),
        ("https://10.1.2.3/client.json".to_owned(), "private address"),
    ] {
        let (s, h, page) = get(
            &addr,
            &format!(
                "/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={}&code_challenge_method=S256&state=st8",
                enc(&id),
                enc(REDIRECT),
                CHALLENGE
            ),
        );
        assert_eq!((s, header(&h, "location")), (401, None), "{id}: {page}");
        assert!(page.contains(why), "{id}: {page}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
