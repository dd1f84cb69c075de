//! The agent's client, used by the CLI: one HTTP/1.1 request per call over
//! the Unix socket.
//!
//! Calls are typed: [`Client::call`] takes a request and returns its
//! [`Call::Answer`]. Transport failure (no agent, broken socket) and
//! request failure (the agent answered with an error) are kept apart: a
//! call returns `Result<Result<Answer, ApiError>, TransportError>`.

use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::paths::{self, PathError};
use client_view::ViewCall;
use serde::de::DeserializeOwned;

use crate::protocol::{
    ApiError, CALL_PATH, Call, ClientRequest, HELLO_PATH, HelloInfo, PROTOCOL_HEADER,
    PROTOCOL_VERSION, Request, STOP_PATH, Secret,
};

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
    /// HTTP failed before the request was sent.
    #[error("agent connection failed: {0}")]
    Http(String),
    /// The request was sent but the agent stopped before answering: it may
    /// or may not have been carried out.
    #[error("the agent stopped before answering ({0})")]
    Interrupted(String),
    /// The answer was not a protocol response.
    #[error(
        "the agent sent an answer this ctxvault cannot read: {0}; run `ctxvault stop` and retry"
    )]
    BadResponse(String),
}

/// A request encoded for sending, with its answer type.
pub struct Prepared<R>(Bytes, std::marker::PhantomData<R>);

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

    /// Send one request; the answer is its typed answer.
    pub async fn call<R: Call>(
        &self,
        req: R,
    ) -> Result<Result<R::Answer, ApiError>, TransportError> {
        self.send(&req.into()).await
    }

    /// Encode a request once, to send it more than once (a retry after an
    /// unlock) without copying it.
    pub fn prepare<R: Call>(req: R) -> Result<Prepared<R>, TransportError> {
        let body =
            serde_json::to_vec(&req.into()).map_err(|e| TransportError::Http(e.to_string()))?;
        Ok(Prepared(Bytes::from(body), std::marker::PhantomData))
    }

    /// Send a prepared request.
    pub async fn send_prepared<R: Call>(
        &self,
        req: &Prepared<R>,
    ) -> Result<Result<R::Answer, ApiError>, TransportError> {
        let bytes = self.http("POST", CALL_PATH, req.0.clone()).await?;
        serde_json::from_slice::<Result<R::Answer, ApiError>>(&bytes)
            .map_err(|e| TransportError::BadResponse(e.to_string()))
    }

    /// Make a view call as the client holding `token`, on behalf of the
    /// door's `tool`.
    pub async fn call_view<C: ViewCall>(
        &self,
        token: &Secret,
        tool: Option<&str>,
        call: C,
    ) -> Result<Result<C::Answer, ApiError>, TransportError> {
        let req = Request::Client(ClientRequest {
            token: token.clone(),
            tool: tool.map(str::to_owned),
            call: call.into(),
        });
        self.send(&req).await
    }

    /// Who runs (answered whatever protocol version the agent speaks).
    pub async fn hello(&self) -> Result<HelloInfo, TransportError> {
        let bytes = self.http("GET", HELLO_PATH, Bytes::new()).await?;
        serde_json::from_slice(&bytes).map_err(|e| TransportError::BadResponse(e.to_string()))
    }

    /// Ask the agent to shut down (answered whatever protocol version it
    /// speaks).
    pub async fn stop(&self) -> Result<(), TransportError> {
        self.http("POST", STOP_PATH, Bytes::from_static(b"{}"))
            .await
            .map(drop)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: &Request,
    ) -> Result<Result<T, ApiError>, TransportError> {
        let body = serde_json::to_vec(req).map_err(|e| TransportError::Http(e.to_string()))?;
        let bytes = self.http("POST", CALL_PATH, Bytes::from(body)).await?;
        serde_json::from_slice::<Result<T, ApiError>>(&bytes)
            .map_err(|e| TransportError::BadResponse(e.to_string()))
    }

    /// One HTTP/1.1 exchange over the socket; the answer's body.
    async fn http(&self, method: &str, path: &str, body: Bytes) -> Result<Bytes, TransportError> {
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
        let http_req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "ctxvault-agent")
            .header("content-type", "application/json")
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .body(Full::new(body))
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let resp = sender
            .send_request(http_req)
            .await
            .map_err(|e| TransportError::Interrupted(e.to_string()))?;
        if resp.status() == hyper::StatusCode::NOT_FOUND {
            driver.abort();
            return Err(TransportError::BadResponse(format!("{path} is not served")));
        }
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| TransportError::Interrupted(e.to_string()))?
            .to_bytes();
        driver.abort();
        Ok(bytes)
    }
}
