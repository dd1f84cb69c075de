//! Client ID Metadata Documents (the MCP authorization spec): a client whose
//! `client_id` is an https URL is described by the JSON document at that
//! URL, which the agent fetches instead of taking a registration. The
//! fetch is a request a remote party chooses, so it is fenced: https only,
//! no redirects, 5 s, 8 KiB, and only to public addresses (checked on the
//! addresses actually connected to, so DNS cannot point it into the
//! user's network), on port 443. Loopback (any port) is allowed only when
//! the agent's own public URL is on loopback and a test asks for it with
//! `CTXVAULT_TEST_CIMD_LOOPBACK`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use serde::Deserialize;
use tower_service::Service;

use super::OAuthError;

/// Longest wait for a document, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest document read.
const MAX_DOCUMENT: usize = 8 * 1024;

/// Whether `client_id` is a metadata document URL: https with a host and a
/// path, no credentials, fragment or dot segments.
pub fn is_document_url(client_id: &str) -> bool {
    let Ok(u) = url::Url::parse(client_id) else {
        return false;
    };
    client_id.len() <= 2000
        && u.scheme() == "https"
        && u.host_str().is_some()
        && u.username().is_empty()
        && u.password().is_none()
        && u.fragment().is_none()
        && u.path() != "/"
        && !client_id.contains("/./")
        && !client_id.contains("/../")
}

/// An address a remote party may make the agent fetch from.
pub fn public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            // Forms that carry an IPv4 address: the IPv4 address decides.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_address(IpAddr::V4(v4));
            }
            if seg[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return public_address(embedded(seg[6], seg[7])); // IPv4-compatible
            }
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return public_address(embedded(seg[6], seg[7])); // NAT64
            }
            if seg[0] == 0x2002 {
                return public_address(embedded(seg[1], seg[2])); // 6to4
            }
            let first = seg[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && seg[1] == 0x0db8
                || first == 0x2001 && seg[1] == 0
                || first == 0x64 && seg[1] == 0xff9b
                || seg[..4] == [0x100, 0, 0, 0])
        }
    }
}

fn allowed(ip: IpAddr, loopback: bool) -> bool {
    public_address(ip) || (loopback && ip.is_loopback())
}

/// A resolver that keeps only the addresses the fetch may connect to.
#[derive(Clone)]
struct Vetted {
    loopback: bool,
}

impl Service<Name> for Vetted {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let loopback = self.loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allowed(a.ip(), loopback))
                .collect();
            if addrs.is_empty() {
                return Err(std::io::Error::other("the host has no public address"));
            }
            Ok(addrs.into_iter())
        })
    }
}

/// A document as the spec describes it (the fields the agent uses).
#[derive(Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

fn refused(d: impl Into<String>) -> OAuthError {
    OAuthError {
        status: axum::http::StatusCode::UNAUTHORIZED,
        ..OAuthError::new("invalid_client", d)
    }
}

/// Fetch and check the document at `url`: the client's name and redirect
/// URIs.
pub async fn fetch(url: &str, loopback: bool) -> Result<(String, Vec<String>), OAuthError> {
    let u = url::Url::parse(url).map_err(|_| refused("the client_id URL does not parse"))?;
    // Port 443 only, but on this machine in tests: no probing of ports.
    if !loopback && u.port().is_some_and(|p| p != 443) {
        return Err(refused(
            "a metadata document must be served on the https port (443)",
        ));
    }
    // An address written in the URL is not resolved: check it here.
    if let Some(ip) = u
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        && !allowed(ip, loopback)
    {
        return Err(refused(
            "the client_id URL points to a private address; a metadata document must be public",
        ));
    }
    let body = tokio::time::timeout(FETCH_TIMEOUT, get(&u, loopback))
        .await
        .map_err(|_| refused("the client's metadata document did not arrive within 5 s"))??;
    let doc: Document = serde_json::from_slice(&body)
        .map_err(|_| refused("the client's metadata document is not a JSON client description"))?;
    if doc.client_id != url {
        return Err(refused(
            "the metadata document's client_id is not the URL it was fetched from",
        ));
    }
    if doc.redirect_uris.is_empty()
        || doc.redirect_uris.len() > 8
        || !doc
            .redirect_uris
            .iter()
            .all(|r| super::endpoints::redirect_ok(r))
    {
        return Err(refused(
            "the metadata document needs 1 to 8 redirect_uris, each https, http on loopback or a private-use scheme",
        ));
    }
    if doc
        .token_endpoint_auth_method
        .as_deref()
        .is_some_and(|m| m != "none")
    {
        return Err(refused(
            "only public clients are supported: the document's token_endpoint_auth_method must be none",
        ));
    }
    let name = super::endpoints::clean_name(doc.client_name.as_deref().unwrap_or_default());
    Ok((name, doc.redirect_uris))
}

async fn get(u: &url::Url, loopback: bool) -> Result<Bytes, OAuthError> {
    let mut tcp = HttpConnector::new_with_resolver(Vetted { loopback });
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| {
            OAuthError::internal(format!(
                "cannot load the system's certificate authorities: {e}"
            ))
        })?
        .https_only()
        .enable_http1()
        .wrap_connector(tcp);
    let uri: hyper::Uri = u
        .as_str()
        .parse()
        .map_err(|_| refused("the client_id URL does not parse"))?;
    // One message for every way of not connecting: no port or address
    // oracle for whoever picks the URL.
    let io = https.call(uri.clone()).await.map_err(|e| {
        tracing::info!("client metadata document not fetched: {e}");
        refused("the client's metadata document cannot be fetched from a public https address")
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|e| refused(format!("the client's metadata host failed: {e}")))?;
    tokio::spawn(conn);
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let req = hyper::Request::get(path)
        .header(
            hyper::header::HOST,
            match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_owned(),
            },
        )
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(|e| OAuthError::internal(e.to_string()))?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| refused(format!("the client's metadata host failed: {e}")))?;
    if res.status() != hyper::StatusCode::OK {
        return Err(refused(format!(
            "the client's metadata document answered {} (redirects are not followed)",
            res.status().as_u16()
        )));
    }
    Limited::new(res.into_body(), MAX_DOCUMENT)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|_| refused("the client's metadata document is over 8 KiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_urls() {
        assert!(is_document_url("https://app.example/oauth/client.json"));
        for bad in [
            "https://app.example/",
            "https://app.example",
            "http://app.example/client.json",
            "https://u@app.example/c",
            "https://app.example/c#x",
            "https://app.example/a/../c",
            "cvc_1234",
        ] {
            assert!(!is_document_url(bad), "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_unless_all_is_local() {
        for ok in [
            "93.184.216.34",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert!(public_address(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
            "64:ff9b::a01:203",
            "2002:c0a8:101::1",
            "::10.0.0.1",
            "2001::1",
            "fec0::1",
            "100::1",
        ] {
            assert!(!public_address(bad.parse().unwrap()), "{bad}");
        }
        assert!(allowed("127.0.0.1".parse().unwrap(), true));
        assert!(!allowed("192.168.1.1".parse().unwrap(), true));
    }
}
