//! The S3 remote: the sync log in a bucket of any S3-compatible store (AWS
//! S3, Cloudflare R2, MinIO, Garage). Requests are signed with SigV4
//! (rusty-s3) and sent over the agent's HTTP/1.1 client (TLS checked
//! against the system's authorities). A segment is written with
//! `If-None-Match: *`, so a store that supports conditional writes refuses
//! to replace one.
//!
//! # Format
//! `s3://BUCKET[/PREFIX]?endpoint=URL&region=R&key=ID&secret=S`: the
//! endpoint (default AWS's for the region), the region (default
//! `us-east-1`) and the credentials, which the CLI takes from the usual
//! `AWS_*` variables and which are kept sealed with the remote in the vault.
//! [`S3::describe`] never shows the credentials.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use rusty_s3::actions::{GetObject, ListObjectsV2, PutObject, S3Action};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use vault_core::sync::remote::{Entry, Remote, RemoteError};

use crate::protocol::{ApiError, ErrorKind};

/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(300);

/// A bucket (and a prefix in it) holding the log.
pub(crate) struct S3 {
    bucket: Bucket,
    creds: Option<Credentials>,
    prefix: String,
    shown: String,
    pool: crate::proxy::Pool,
}

fn invalid(msg: String) -> ApiError {
    ApiError::new(ErrorKind::Invalid, msg)
}

impl S3 {
    /// The remote named by `s` (see the module's Format).
    pub(crate) fn parse(s: &str) -> Result<S3, ApiError> {
        // Messages name the address without its query (the credentials).
        let bare = s.split('?').next().unwrap_or_default();
        let url = url::Url::parse(s).map_err(|e| {
            invalid(format!(
                "{bare:?} is not an s3://BUCKET/PREFIX address ({e})"
            ))
        })?;
        let name = url.host_str().unwrap_or_default().to_owned();
        if url.scheme() != "s3" || name.is_empty() {
            return Err(invalid(format!(
                "{bare:?} is not an s3://BUCKET/PREFIX address"
            )));
        }
        let q = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let region = q("region").unwrap_or_else(|| "us-east-1".into());
        let endpoint =
            q("endpoint").unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint: url::Url = endpoint
            .parse()
            .map_err(|e| invalid(format!("the S3 endpoint {endpoint:?} is not a URL ({e})")))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "the S3 endpoint {endpoint} is not http or https"
            )));
        }
        let bucket = Bucket::new(endpoint.clone(), UrlStyle::Path, name.clone(), region)
            .map_err(|e| invalid(format!("the bucket name {name:?} is not valid ({e})")))?;
        let creds = match (q("key"), q("secret")) {
            (Some(k), Some(s)) => Some(Credentials::new(k, s)),
            _ => None,
        };
        let mut prefix = url.path().trim_matches('/').to_owned();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        Ok(S3 {
            bucket,
            creds,
            shown: format!("s3://{name}/{prefix} at {endpoint}"),
            prefix,
            pool: Default::default(),
        })
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> RemoteError {
        RemoteError::Unreachable {
            remote: self.describe(),
            reason: reason.to_string(),
        }
    }

    /// Send a signed request; the status and the body.
    async fn send(
        &self,
        method: hyper::Method,
        url: url::Url,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(u16, Bytes), RemoteError> {
        let conn =
            self.pool.connect(&url).await.map_err(|e| {
                self.unreachable(format!("{e}; check the endpoint and your network"))
            })?;
        let host = crate::proxy::authority(&url);
        let res = self
            .pool
            .send(conn, || {
                let mut b = hyper::Request::builder()
                    .method(method.clone())
                    .uri(url.as_str())
                    .header(hyper::header::HOST, &host)
                    .header(hyper::header::CONTENT_LENGTH, body.len());
                for (k, v) in headers {
                    b = b.header(*k, *v);
                }
                b.body(Full::new(body.clone())).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = res.status().as_u16();
        let bytes = tokio::time::timeout(Duration::from_secs(120), res.into_body().collect())
            .await
            .map_err(|_| self.unreachable("no answer within 120 s"))?
            .map_err(|e| self.unreachable(e))?
            .to_bytes();
        if status == 403 || status == 401 {
            return Err(RemoteError::Denied {
                remote: self.describe(),
                reason: format!(
                    "{}; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then add the remote again",
                    s3_error(&bytes).unwrap_or_else(|| format!("HTTP {status}"))
                ),
            });
        }
        Ok((status, bytes))
    }

    fn failed(&self, what: &str, status: u16, body: &[u8]) -> RemoteError {
        self.unreachable(format!(
            "{what} failed: {}",
            s3_error(body).unwrap_or_else(|| format!("HTTP {status}"))
        ))
    }
}

/// The code and message of an S3 error document.
fn s3_error(body: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?;
    let tag = |t: &str| {
        let start = s.find(&format!("<{t}>"))? + t.len() + 2;
        let end = s[start..].find(&format!("</{t}>"))? + start;
        Some(s[start..end].to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(c), None) => Some(c),
        _ => None,
    }
}

impl Remote for S3 {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        let key = format!("{}{path}", self.prefix);
        let url = GetObject::new(&self.bucket, self.creds.as_ref(), &key).sign(SIGNED_FOR);
        let (status, body) = self
            .send(hyper::Method::GET, url, &[], Bytes::new())
            .await?;
        match status {
            200 => Ok(Some(body.to_vec())),
            404 if s3_error(&body).is_some_and(|e| e.starts_with("NoSuchBucket")) => {
                Err(self.failed("reading", status, &body))
            }
            404 => Ok(None),
            _ => Err(self.failed("reading", status, &body)),
        }
    }

    async fn put_new(&self, path: &str, bytes: &[u8]) -> Result<String, RemoteError> {
        let key = format!("{}{path}", self.prefix);
        let mut action = PutObject::new(&self.bucket, self.creds.as_ref(), &key);
        action.headers_mut().insert("if-none-match", "*");
        let url = action.sign(SIGNED_FOR);
        let (status, body) = self
            .send(
                hyper::Method::PUT,
                url,
                &[("if-none-match", "*")],
                Bytes::copy_from_slice(bytes),
            )
            .await?;
        match status {
            200 => Ok(self
                .list(path)
                .await?
                .into_iter()
                .find(|e| e.path == path)
                .map(|e| e.stamp)
                .unwrap_or_default()),
            412 => Err(RemoteError::Exists(path.to_owned())),
            // A conditional write still in flight: try again later.
            409 => Err(self.unreachable(
                "a write of the same object is in flight (409); the next round tries again",
            )),
            _ => Err(self.failed("writing", status, &body)),
        }
    }

    async fn put(&self, path: &str, bytes: &[u8]) -> Result<(), RemoteError> {
        let key = format!("{}{path}", self.prefix);
        let url = PutObject::new(&self.bucket, self.creds.as_ref(), &key).sign(SIGNED_FOR);
        let (status, body) = self
            .send(hyper::Method::PUT, url, &[], Bytes::copy_from_slice(bytes))
            .await?;
        match status {
            200 => Ok(()),
            _ => Err(self.failed("writing", status, &body)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Entry>, RemoteError> {
        let full = format!("{}{prefix}", self.prefix);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, self.creds.as_ref());
            action.with_prefix(full.clone());
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let (status, body) = self
                .send(hyper::Method::GET, url, &[], Bytes::new())
                .await?;
            if status != 200 {
                return Err(self.failed("listing", status, &body));
            }
            let text = String::from_utf8_lossy(&body);
            let page = ListObjectsV2::parse_response(&text)
                .map_err(|e| self.unreachable(format!("the listing does not parse ({e})")))?;
            for c in page.contents {
                let Some(path) = c.key.strip_prefix(&self.prefix) else {
                    continue;
                };
                out.push(Entry {
                    path: path.to_owned(),
                    size: c.size.unwrap_or(0),
                    stamp: format!(
                        "{}/{}",
                        c.etag.unwrap_or_default(),
                        c.last_modified.unwrap_or_default()
                    ),
                });
            }
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that refuses every request as S3 does a wrong key (moto's
    /// own check of keys cannot read signed URLs, so this stands in).
    #[tokio::test]
    async fn refused_credentials_are_one_line_naming_the_fix_and_never_the_secret() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf).await;
                let body = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>";
                let _ = c
                    .write_all(
                        format!(
                            "HTTP/1.1 403 Forbidden\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        let s = S3::parse(&format!(
            "s3://vault/me?endpoint=http://127.0.0.1:{port}&key=AKID&secret=SEKRIT"
        ))
        .unwrap();
        let e = s.get("ctxvault-sync").await.unwrap_err();
        assert!(matches!(e, RemoteError::Denied { .. }), "{e}");
        let line = e.to_string();
        assert!(
            line.contains("refused the credentials")
                && line.contains("SignatureDoesNotMatch")
                && line.contains("AWS_SECRET_ACCESS_KEY"),
            "{line}"
        );
        assert!(!line.contains("SEKRIT") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn an_address_names_bucket_prefix_endpoint_and_keeps_credentials_out_of_sight() {
        let s = S3::parse(
            "s3://vault/me/laptop?endpoint=http://127.0.0.1:9000&region=eu-west-1&key=AKID&secret=SEKRIT",
        )
        .unwrap();
        assert_eq!(s.prefix, "me/laptop/");
        assert!(s.creds.is_some());
        let shown = s.describe();
        assert!(shown.contains("s3://vault/me/laptop/") && shown.contains("127.0.0.1:9000"));
        assert!(
            !shown.contains("SEKRIT") && !shown.contains("AKID"),
            "{shown}"
        );
        assert!(S3::parse("s3://").is_err());
        assert!(S3::parse("http://vault/x").is_err());
        assert!(S3::parse("s3://vault?endpoint=ftp://x").is_err());
        let r = crate::protocol::SyncAdd {
            remote: "s3://vault/me?key=AKID&secret=SEKRIT".into(),
        };
        assert!(!format!("{r:?}").contains("SEKRIT"));
        let e = S3::parse("s3:///x?secret=SEKRIT").err().unwrap();
        assert!(!e.message.contains("SEKRIT"), "{}", e.message);
        assert_eq!(
            s3_error(b"<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>").unwrap(),
            "NoSuchBucket: gone"
        );
    }
}
