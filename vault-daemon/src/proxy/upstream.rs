//! Connections to the providers: HTTP/1.1 over TCP, or over TLS checked
//! against the system's certificate authorities (rustls with ring). A
//! connection is made (or an idle one taken) before any context is read,
//! so a provider that is down costs no read of the vault; a connection goes
//! back to its pool once the answer's head has arrived, and serves again
//! when its last answer has been read.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;
use vault_core::records::ProviderKind;

use crate::agent::lock;

/// Longest wait for a provider to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept per provider URL.
const IDLE_PER_UPSTREAM: usize = 8;

/// An idle connection older than this is closed rather than reused: many
/// servers end idle connections after about 5 s, and a request sent on one
/// they just closed fails after its context was read.
const IDLE_MAX: Duration = Duration::from_secs(4);

type Sender = SendRequest<Full<Bytes>>;

/// A connection ready for one request.
pub(crate) struct Conn {
    key: String,
    sender: Sender,
    /// Taken from the pool (the provider may have closed it meanwhile).
    reused: bool,
    url: url::Url,
}

/// Open and idle connections to the providers.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<(Sender, Instant)>>>,
    https: OnceLock<Result<HttpsConnector<HttpConnector>, String>>,
}

/// The `scheme://host:port` a URL's connections are pooled under.
fn pool_key(url: &url::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

impl Pool {
    fn https(&self) -> Result<HttpsConnector<HttpConnector>, String> {
        self.https
            .get_or_init(|| {
                let provider = rustls::crypto::ring::default_provider();
                let mut tcp = HttpConnector::new();
                tcp.set_nodelay(true);
                tcp.enforce_http(false);
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(provider)
                    .map(|b| b.https_or_http().enable_http1().wrap_connector(tcp))
                    .map_err(|e| format!("cannot load the system's certificate authorities: {e}"))
            })
            .clone()
    }

    /// A connection to `url`'s host: an idle one that is ready, else a new one.
    pub(crate) async fn connect(&self, url: &url::Url) -> Result<Conn, String> {
        let key = pool_key(url);
        if let Some(sender) = self.take_idle(&key) {
            return Ok(Conn {
                key,
                sender,
                reused: true,
                url: url.clone(),
            });
        }
        self.open(url, key).await
    }

    async fn open(&self, url: &url::Url, key: String) -> Result<Conn, String> {
        let uri: hyper::Uri = key
            .parse()
            .map_err(|e| format!("invalid provider address {key}: {e}"))?;
        let io = tokio::time::timeout(CONNECT_TIMEOUT, async {
            if url.scheme() == "https" {
                self.https()?.call(uri).await.map_err(|e| e.to_string())
            } else {
                let mut http = HttpConnector::new();
                http.set_nodelay(true);
                http.call(uri)
                    .await
                    .map(MaybeHttpsStream::Http)
                    .map_err(|e| e.to_string())
            }
        })
        .await
        .map_err(|_| format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))??;
        let (sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("provider connection ended: {e}");
            }
        });
        Ok(Conn {
            key,
            sender,
            reused: false,
            url: url.clone(),
        })
    }

    fn take_idle(&self, key: &str) -> Option<Sender> {
        let mut idle = lock(&self.idle);
        let list = idle.get_mut(key)?;
        list.retain(|(s, at)| !s.is_closed() && at.elapsed() < IDLE_MAX);
        let at = list.iter().position(|(s, _)| s.is_ready())?;
        Some(list.swap_remove(at).0)
    }

    /// Close every idle connection (at lock: their buffers held requests
    /// with context in them).
    pub(crate) fn clear(&self) {
        lock(&self.idle).clear();
    }

    /// Send the request `build` makes on `conn` (again on a new connection
    /// if a pooled one turns out closed); the connection returns to the
    /// pool once the answer's head is in.
    pub(crate) async fn send(
        &self,
        mut conn: Conn,
        build: impl Fn() -> Result<hyper::Request<Full<Bytes>>, String>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let res = match conn.sender.send_request(build()?).await {
            Ok(res) => res,
            // A pooled connection the provider closed meanwhile (its
            // keep-alive ran out): once more on a new one.
            Err(e)
                if conn.reused
                    && (e.is_closed() || e.is_canceled() || e.is_incomplete_message()) =>
            {
                conn = self.open(&conn.url, conn.key).await?;
                conn.sender
                    .send_request(build()?)
                    .await
                    .map_err(|e| e.to_string())?
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut idle = lock(&self.idle);
        let list = idle.entry(conn.key).or_default();
        list.retain(|(s, at)| !s.is_closed() && at.elapsed() < IDLE_MAX);
        if list.len() < IDLE_PER_UPSTREAM {
            list.push((conn.sender, Instant::now()));
        }
        Ok(res)
    }
}

/// The `Host` header for requests to `url`.
pub(crate) fn authority(url: &url::Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    }
}

/// The headers every request to a provider of `kind` carries: its key
/// (marked sensitive, so never logged) and, for Anthropic, the API version
/// unless the caller named one.
pub(crate) fn provider_headers(
    mut b: hyper::http::request::Builder,
    kind: ProviderKind,
    key: Option<&str>,
    has_version: bool,
) -> hyper::http::request::Builder {
    if kind == ProviderKind::Anthropic && !has_version {
        b = b.header("anthropic-version", "2023-06-01");
    }
    if let Some(key) = key {
        let (name, value) = super::apis::key_header(kind, key);
        // Checked when the provider was added: a header-safe line.
        if let Ok(mut value) = hyper::header::HeaderValue::from_str(&value) {
            value.set_sensitive(true);
            b = b.header(name, value);
        }
    }
    b
}
