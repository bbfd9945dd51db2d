//! The worker's idle connections to plain-HTTP upstreams, and sending a request on one.
//!
//! Each worker thread keeps its own idle connections per upstream (`host:port`), checks one
//! out for a request and puts it back when the answer's body has been read to its end. No
//! lock, no cross-thread channel, no task per connection: an answer whose body is dropped
//! half-way takes its connection with it.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use http::uri::Authority;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use seam_core::Body;

use super::conn::Conn;
use super::exchange::{Exchange, Failed};
use super::request::Outgoing;

/// Idle connections older than this are closed rather than reused (upstreams such as nginx
/// close theirs after 75 s).
const IDLE_FOR: Duration = Duration::from_secs(60);
/// Most idle connections kept per upstream and thread.
const MAX_IDLE: usize = 1024;

struct Idle {
    conn: Conn,
    since: Instant,
}

thread_local! {
    /// By `host:port` as the upstream URL spells it: looked up with the `&str` the request
    /// already has (one hash of the string, no copy).
    static IDLE: RefCell<HashMap<Box<str>, VecDeque<Idle>, ahash::RandomState>> = RefCell::new(HashMap::default());
    /// Whether this thread's sweeper runs.
    static SWEEPING: Cell<bool> = const { Cell::new(false) };
}

/// Why a request could not be sent.
pub enum SendError {
    /// No connection could be made; the request was not sent.
    Connect(String),
    /// The connection failed once the request was on its way, or the answer was invalid.
    Other(String),
}

/// Sends `request` (origin-form URI) to `authority` on a pooled connection of this thread,
/// or a new one; returns the answer with a body that gives the connection back when done.
pub async fn send(authority: &Authority, request: http::Request<Body>) -> Result<http::Response<Body>, SendError> {
    let mut out = Outgoing::new(request).map_err(SendError::Other)?;
    // A pooled connection the upstream closed before it could act on the request hands the
    // request back: it then goes out on another connection.
    while let Some(conn) = checkout(authority) {
        match Exchange::new(conn, true, out, authority.clone()).await {
            Ok(response) => return Ok(response),
            Err(Failed::Retry(back)) => out = back,
            Err(Failed::Fatal(e)) => return Err(SendError::Other(e)),
        }
    }
    // Boxed: a new connection's state (the resolver, the connect) is larger than a pooled
    // send's, and would otherwise be carried by every request's future.
    Box::pin(send_on_new_connection(authority, out)).await
}

async fn send_on_new_connection(authority: &Authority, out: Outgoing) -> Result<http::Response<Body>, SendError> {
    let conn = Conn::new(connect(authority).await?);
    match Exchange::new(conn, false, out, authority.clone()).await {
        Ok(response) => Ok(response),
        Err(Failed::Fatal(e)) => Err(SendError::Other(e)),
        Err(Failed::Retry(_)) => Err(SendError::Other("the upstream closed a new connection before answering".into())),
    }
}

/// Sends an upgrade request on a connection of its own, through hyper's client (never
/// pooled: after a 101 it belongs to the upgraded protocol).
pub async fn send_upgrade(
    authority: &Authority,
    request: http::Request<Body>,
) -> Result<http::Response<hyper::body::Incoming>, SendError> {
    let stream = connect(authority).await?;
    let (mut sender, connection) =
        http1::Builder::new().handshake(TokioIo::new(stream)).await.map_err(|e| SendError::Connect(detail(&e)))?;
    // Driven by this thread (each worker runs a single-threaded runtime).
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!("upstream connection ended: {e}");
        }
    });
    sender.send_request(request).await.map_err(|e| SendError::Other(detail(&e)))
}

fn detail(e: &hyper::Error) -> String {
    std::error::Error::source(e).map(ToString::to_string).unwrap_or_else(|| e.to_string())
}

async fn connect(authority: &Authority) -> Result<tokio::net::TcpStream, SendError> {
    let port = authority.port_u16().unwrap_or(80);
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let stream = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| SendError::Connect(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

fn checkout(authority: &Authority) -> Option<Conn> {
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
        while let Some(Idle { mut conn, .. }) = queue.pop_back() {
            if conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    })
}

/// Puts a connection whose answer was read to its end back into this thread's pool.
pub(super) fn checkin(authority: &Authority, conn: Conn) {
    if !conn.read.is_empty() {
        // Bytes beyond the answer: nobody asked for them, the connection is not trusted again.
        return;
    }
    if !SWEEPING.get()
        && let Ok(runtime) = tokio::runtime::Handle::try_current()
    {
        SWEEPING.set(true);
        runtime.spawn(sweep());
    }
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let returned = Idle { conn, since: Instant::now() };
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

/// Closes this thread's idle connections that the upstream closed or that waited past
/// [`IDLE_FOR`], every quarter of it: without it, they would wait for the next request to
/// their upstream, which may never come.
async fn sweep() {
    loop {
        tokio::time::sleep(IDLE_FOR / 4).await;
        sweep_once();
    }
}

fn sweep_once() {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        for queue in idle.values_mut() {
            queue.retain_mut(|kept| kept.since.elapsed() < IDLE_FOR && kept.conn.is_reusable());
        }
        idle.retain(|_, queue| !queue.is_empty());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_connections_the_upstream_closed_or_that_waited_too_long_are_swept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority: Authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        let mut conns = Vec::new();
        let mut peers = Vec::new();
        for _ in 0..3 {
            conns.push(Conn::new(connect(&authority).await.ok().unwrap()));
            peers.push(listener.accept().await.unwrap().0);
        }
        let (old, closing, open) = (conns.remove(0), conns.remove(0), conns.remove(0));
        checkin(&authority, open);
        checkin(&authority, closing);
        let waited = Instant::now().checked_sub(IDLE_FOR).unwrap();
        IDLE.with(|idle| {
            idle.borrow_mut().get_mut(authority.as_str()).unwrap().push_front(Idle { conn: old, since: waited })
        });
        let count = || IDLE.with(|idle| idle.borrow().get(authority.as_str()).map_or(0, VecDeque::len));
        assert_eq!(count(), 3);
        drop(peers.remove(1));
        // The end of the stream reaches the event loop soon; the sweep then drops that one
        // and the one idle too long, and keeps the open one.
        let deadline = Instant::now() + Duration::from_secs(5);
        while count() > 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            sweep_once();
        }
        assert_eq!(count(), 1);
        assert!(checkout(&authority).is_some(), "the open one is still there, and usable");
    }
}
