//! The lean path to plain-HTTP upstreams: HTTP/1.1 connections owned by the calling thread.
//!
//! Each worker thread keeps its own idle connections per upstream (`host:port`), checks one
//! out for a request, drives it on the same thread, and puts it back when the response body
//! has been read to its end. No lock, no cross-thread channel, no task per request: a
//! response whose body is dropped half-way takes its connection with it.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Authority;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use seam_core::Body;
use seam_core::body::BoxError;

/// Idle connections older than this are closed rather than reused (upstreams such as nginx
/// close theirs after 75 s).
const IDLE_FOR: Duration = Duration::from_secs(60);
/// Most idle connections kept per upstream and thread.
const MAX_IDLE: usize = 1024;

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

thread_local! {
    /// By `host:port` as the upstream URL spells it: looked up with the `&str` the request
    /// already has (one hash of the string, no copy).
    static IDLE: RefCell<HashMap<Box<str>, VecDeque<Idle>, ahash::RandomState>> = RefCell::new(HashMap::default());
}

/// Why a request could not be sent.
pub enum SendError {
    /// No connection could be made; the request was not sent.
    Connect(String),
    /// The connection failed once the request was on its way.
    Other(String),
}

/// Sends `request` (origin-form URI) to `authority` on a pooled connection of this thread,
/// or a new one; returns the response with a body that gives the connection back when done.
pub async fn send(authority: &Authority, mut request: http::Request<Body>) -> Result<http::Response<Body>, SendError> {
    // A pooled connection the upstream closed before our request was written hands the
    // request back: it then goes out on a fresh connection, once.
    while let Some(mut sender) = checkout(authority) {
        if sender.ready().await.is_err() {
            continue;
        }
        match sender.try_send_request(request).await {
            Ok(response) => return Ok(give_back_when_done(response, authority.clone(), sender)),
            Err(mut e) => match e.take_message() {
                Some(returned) => request = returned,
                None => return Err(SendError::Other(detail(e.error()))),
            },
        }
    }
    // Boxed: a new connection's state (the resolver, the handshake) is far larger than a
    // pooled send's, and would otherwise be carried by every request's future.
    Box::pin(send_on_new_connection(authority, request)).await
}

async fn send_on_new_connection(
    authority: &Authority,
    request: http::Request<Body>,
) -> Result<http::Response<Body>, SendError> {
    let mut sender = connect(authority).await?;
    match sender.send_request(request).await {
        Ok(response) => Ok(give_back_when_done(response, authority.clone(), sender)),
        Err(e) => Err(SendError::Other(detail(&e))),
    }
}

/// Sends an upgrade request on a connection of its own (never pooled: after a 101 it
/// belongs to the upgraded protocol).
pub async fn send_upgrade(
    authority: &Authority,
    request: http::Request<Body>,
) -> Result<http::Response<hyper::body::Incoming>, SendError> {
    let mut sender = connect_with(authority, true).await?;
    sender.send_request(request).await.map_err(|e| SendError::Other(detail(&e)))
}

fn detail(e: &hyper::Error) -> String {
    std::error::Error::source(e).map(ToString::to_string).unwrap_or_else(|| e.to_string())
}

fn checkout(authority: &Authority) -> Option<SendRequest<Body>> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let queue = idle.get_mut(authority.as_str())?;
        while let Some(front) = queue.front() {
            if front.since.elapsed() < IDLE_FOR {
                break;
            }
            queue.pop_front();
        }
        // The most recently used first: it is the least likely to have been closed.
        while let Some(Idle { sender, .. }) = queue.pop_back() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    })
}

fn checkin(authority: Authority, sender: SendRequest<Body>) {
    if sender.is_closed() {
        return;
    }
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let returned = Idle { sender, since: Instant::now() };
        let Some(queue) = idle.get_mut(authority.as_str()) else {
            // The first connection to this upstream on this thread names its queue.
            idle.insert(authority.as_str().into(), VecDeque::from([returned]));
            return;
        };
        if queue.len() >= MAX_IDLE {
            queue.pop_front();
        }
        queue.push_back(returned);
    });
}

async fn connect(authority: &Authority) -> Result<SendRequest<Body>, SendError> {
    connect_with(authority, false).await
}

async fn connect_with(authority: &Authority, upgrades: bool) -> Result<SendRequest<Body>, SendError> {
    let port = authority.port_u16().unwrap_or(80);
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let stream = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| SendError::Connect(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        http1::Builder::new().handshake(TokioIo::new(stream)).await.map_err(|e| SendError::Connect(detail(&e)))?;
    // Driven by this thread (each worker runs a single-threaded runtime).
    tokio::spawn(async move {
        let ended = if upgrades { connection.with_upgrades().await } else { connection.await };
        if let Err(e) = ended {
            tracing::debug!("upstream connection ended: {e}");
        }
    });
    Ok(sender)
}

fn give_back_when_done(
    response: http::Response<hyper::body::Incoming>,
    authority: Authority,
    sender: SendRequest<Body>,
) -> http::Response<Body> {
    response.map(|body| {
        if body.is_end_stream() {
            checkin(authority, sender);
            Body::new(body)
        } else {
            Body::new(Returning { inner: body, back: Some((authority, sender)) })
        }
    })
}

/// A response body that gives its connection back to the pool once read to its end.
struct Returning {
    inner: hyper::body::Incoming,
    back: Option<(Authority, SendRequest<Body>)>,
}

impl HttpBody for Returning {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.give_back(),
            Poll::Ready(Some(Err(_))) => self.back = None,
            _ => {}
        }
        polled.map(|frame| frame.map(|result| result.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Returning {
    fn give_back(&mut self) {
        if let Some((authority, sender)) = self.back.take() {
            checkin(authority, sender);
        }
    }
}
