//! The agent's client, used by the CLI: one HTTP/1.1 request per call over
//! the Unix socket.
//!
//! Transport failure (no agent, broken socket) and request failure (the
//! agent answered with an error) are kept apart: [`Client::call`] returns
//! `Result<Result<Response, ApiError>, TransportError>`.

use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::paths::{self, PathError};
use crate::protocol::{ApiError, CALL_PATH, PROTOCOL_HEADER, PROTOCOL_VERSION, Request, Response};

/// The agent could not be reached or answered nonsense.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No agent listens on the socket.
    #[error("no agent is running on {0}")]
    NotRunning(PathBuf),
    /// The socket directory is unsafe.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Socket I/O failed.
    #[error("agent connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// HTTP failed.
    #[error("agent connection failed: {0}")]
    Http(String),
    /// The answer was not a protocol response.
    #[error(
        "the agent sent an answer this ctxvault cannot read: {0}; run `ctxvault stop` and retry"
    )]
    BadResponse(String),
}

/// A client of one agent socket.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client for the agent at `socket`.
    pub fn new(socket: PathBuf) -> Self {
        Client { socket }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Send one request.
    pub async fn call(&self, req: &Request) -> Result<Result<Response, ApiError>, TransportError> {
        if let Some(dir) = self.socket.parent().filter(|d| d.exists()) {
            paths::check_private_dir(dir)?;
        }
        let stream = match UnixStream::connect(&self.socket).await {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(TransportError::NotRunning(self.socket.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let driver = tokio::spawn(conn);
        let body = serde_json::to_vec(req).map_err(|e| TransportError::Http(e.to_string()))?;
        let http_req = hyper::Request::post(CALL_PATH)
            .header("host", "ctxvault-agent")
            .header("content-type", "application/json")
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let resp = sender
            .send_request(http_req)
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?
            .to_bytes();
        driver.abort();
        serde_json::from_slice::<Result<Response, ApiError>>(&bytes)
            .map_err(|e| TransportError::BadResponse(e.to_string()))
    }
}
