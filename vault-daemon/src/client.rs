//! The agent's client, used by the CLI: one HTTP/1.1 request per call over
//! the Unix socket.
//!
//! Calls are typed: [`Client::call`] takes a request and returns its
//! [`Call::Answer`]. Transport failure (no agent, broken socket) and
//! request failure (the agent answered with an error) are kept apart: a
//! call returns `Result<Result<Answer, ApiError>, TransportError>`.

use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full, StreamBody};
pub use hyper::body::Bytes;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use vault_core::bundle::Counts;

use crate::paths::{self, PathError};
use client_view::ViewCall;
use serde::de::DeserializeOwned;

use crate::protocol::frames::{self, Decoder, EXPORT_PATH, FrameKind, IMPORT_PATH};
use crate::protocol::{
    ApiError, CALL_PATH, Call, ClientRequest, Export, HELLO_PATH, HelloInfo, Import, ImportSummary,
    PROTOCOL_HEADER, PROTOCOL_VERSION, Request, STOP_PATH, Secret,
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
        asking: Option<client_view::Asking>,
    ) -> Result<Result<C::Answer, ApiError>, TransportError> {
        let req = Request::Client(ClientRequest {
            token: token.clone(),
            tool: tool.map(str::to_owned),
            door: Some("stdio".to_owned()),
            call: call.into(),
            asking,
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

    /// Import bundle `text` with `opts`, streamed in frames.
    pub async fn import(
        &self,
        opts: &Import,
        text: Bytes,
    ) -> Result<Result<ImportSummary, ApiError>, TransportError> {
        let start = serde_json::to_vec(opts).map_err(|e| TransportError::Http(e.to_string()))?;
        let mut pieces = vec![Bytes::from_owner(frames::encode(FrameKind::Start, &start))];
        let mut at = 0;
        while at < text.len() {
            let end = (at + frames::DATA_FRAME).min(text.len());
            let head = frames::header(FrameKind::Data, end - at);
            pieces.push(Bytes::copy_from_slice(&head));
            pieces.push(text.slice(at..end));
            at = end;
        }
        pieces.push(Bytes::from_owner(frames::encode(FrameKind::End, &[])));
        let body = StreamBody::new(futures_util::stream::iter(
            pieces
                .into_iter()
                .map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b))),
        ));
        let (resp, driver) = self.exchange("POST", IMPORT_PATH, body).await?;
        let bytes = collect(resp, driver).await?;
        serde_json::from_slice(&bytes).map_err(|e| TransportError::BadResponse(e.to_string()))
    }

    /// Start an export: the vault's bundle text comes in pieces from
    /// [`ExportStream::next`].
    pub async fn export(
        &self,
        req: &Export,
    ) -> Result<Result<ExportStream, ApiError>, TransportError> {
        let body = serde_json::to_vec(req).map_err(|e| TransportError::Http(e.to_string()))?;
        let (resp, driver) = self
            .exchange("POST", EXPORT_PATH, Full::new(Bytes::from(body)))
            .await?;
        if resp.status() != hyper::StatusCode::OK {
            let bytes = collect(resp, driver).await?;
            return match serde_json::from_slice::<Result<(), ApiError>>(&bytes) {
                Ok(Err(e)) => Ok(Err(e)),
                Ok(Ok(())) => Err(TransportError::BadResponse(
                    "an export answered nothing".into(),
                )),
                Err(e) => Err(TransportError::BadResponse(e.to_string())),
            };
        }
        Ok(Ok(ExportStream {
            body: resp.into_body(),
            frames: Decoder::new(),
            driver,
            done: false,
        }))
    }

    /// One HTTP/1.1 exchange over the socket; the answer's body.
    async fn http(&self, method: &str, path: &str, body: Bytes) -> Result<Bytes, TransportError> {
        let (resp, driver) = self.exchange(method, path, Full::new(body)).await?;
        collect(resp, driver).await
    }

    /// Send one request over a new connection; the answer, and the task
    /// driving the connection (aborted when the answer is read).
    async fn exchange<B>(
        &self,
        method: &str,
        path: &str,
        body: B,
    ) -> Result<(hyper::Response<Incoming>, JoinHandle<()>), TransportError>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
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
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let http_req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "ctxvault-agent")
            .header("content-type", "application/json")
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .body(body)
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let resp = sender
            .send_request(http_req)
            .await
            .map_err(|e| TransportError::Interrupted(e.to_string()))?;
        if resp.status() == hyper::StatusCode::NOT_FOUND {
            driver.abort();
            return Err(TransportError::BadResponse(format!("{path} is not served")));
        }
        Ok((resp, driver))
    }
}

/// The whole body of an answer.
async fn collect(
    resp: hyper::Response<Incoming>,
    driver: JoinHandle<()>,
) -> Result<Bytes, TransportError> {
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| TransportError::Interrupted(e.to_string()))?
        .to_bytes();
    driver.abort();
    Ok(bytes)
}

/// What [`ExportStream::next`] gives.
pub enum Piece<'a> {
    /// The next piece of bundle text.
    Text(&'a [u8]),
    /// The export is complete: these were its records.
    Done(Counts),
}

/// A running export's answer.
pub struct ExportStream {
    body: Incoming,
    frames: Decoder,
    driver: JoinHandle<()>,
    done: bool,
}

impl Drop for ExportStream {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl ExportStream {
    /// The next piece of bundle text, or the end. Text not followed by
    /// [`Piece::Done`] is not a complete bundle.
    pub async fn next(&mut self) -> Result<Result<Piece<'_>, ApiError>, TransportError> {
        let cut = |why: String| TransportError::Interrupted(why);
        loop {
            if self.done {
                return Err(TransportError::BadResponse(
                    "read past the end of an export".into(),
                ));
            }
            // Borrowck: decide on the frame first, then return from it.
            let ready = match self.frames.next_frame() {
                Ok(Some((FrameKind::Data, _))) => true,
                Ok(Some((FrameKind::End, end))) => {
                    self.done = true;
                    return match serde_json::from_slice::<Result<Counts, ApiError>>(end) {
                        Ok(Ok(c)) => Ok(Ok(Piece::Done(c))),
                        Ok(Err(e)) => Ok(Err(e)),
                        Err(e) => Err(TransportError::BadResponse(e.to_string())),
                    };
                }
                Ok(Some((FrameKind::Start, _))) => {
                    return Err(TransportError::BadResponse(
                        "an export sent a start frame".into(),
                    ));
                }
                Ok(None) => false,
                Err(e) => return Err(TransportError::BadResponse(e.to_string())),
            };
            if ready {
                return Ok(Ok(Piece::Text(self.frames.last_payload())));
            }
            match self.body.frame().await {
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        self.frames.push(&data);
                        if let Ok(mut raw) = data.try_into_mut() {
                            zeroize::Zeroize::zeroize(&mut raw[..]);
                        }
                    }
                }
                Some(Err(e)) => return Err(cut(e.to_string())),
                None => return Err(cut("the export ended before its last frame".into())),
            }
        }
    }
}
