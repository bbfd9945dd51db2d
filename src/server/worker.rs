//! One worker: its listener, its accept loop and the connections it accepted, all on the
//! thread that runs it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Phase;
use super::connection::{self, Connections, Slot, TrackedBody};
use super::handler::App;
use super::protocol::{self, Prefixed, Protocol};

/// How long a new connection past `concurrency` waits for an idle one to make room.
const ADMIT_WAIT: Duration = Duration::from_millis(250);

/// What every worker of a server shares.
pub struct Shared {
    /// The graph: each request takes the one current when it arrives.
    pub app: Arc<arc_swap::ArcSwap<App>>,
    /// `seam_open_connections{protocol}`.
    pub open: seam_core::metrics::Gauge,
    pub http1: hyper::server::conn::http1::Builder,
    pub http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    /// `headerTimeout` (shortened by `readTimeout`): also how long a new connection may take
    /// to send its first bytes.
    pub header_timeout: Duration,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub connections: Arc<Connections>,
    pub handshake_timeout: Duration,
    pub idle_timeout: Option<Duration>,
    /// How long an HTTP/1.1 connection with no request in flight stays open: the smaller of
    /// `idleTimeout` and the header timeout, since a request's head must arrive within the
    /// latter.
    pub http1_idle_timeout: Duration,
    /// Handed to requests that ask for an upgrade, so the connections they keep follow the
    /// server's shutdown.
    pub lifecycle: seam_core::extensions::Lifecycle,
}

/// Accepts on `listener` until the server stops serving, serving each connection on this thread.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, mut stopping: watch::Receiver<Phase>) {
    let mut last_warning: Option<Instant> = None;
    let mut warn = |message: String| {
        // EMFILE and the like, or a full server: say so once a second, not per connection.
        if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            tracing::warn!("{message}");
            last_warning = Some(Instant::now());
        }
    };
    let mut stopped = pin!(async move {
        let _ = stopping.wait_for(|phase| *phase != Phase::Serving).await;
    });
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    warn(format!("accept failed: {e}; backing off"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped.as_mut() => return,
        };
        let Some(slot) = shared.connections.admit(ADMIT_WAIT).await else {
            warn("server.concurrency reached and no connection is idle: refusing new connections".into());
            drop(stream);
            continue;
        };
        if !super::listener::ACCEPTED_INHERIT_NODELAY {
            let _ = stream.set_nodelay(true);
        }
        // Boxed here, where it is made: the task's future is a few KiB, and moved by value
        // it would be copied whole at each step of spawning (five copies per connection).
        tokio::spawn(Box::pin(serve(shared.clone(), stream, peer, slot)));
    }
}

async fn serve(shared: Arc<Shared>, stream: tokio::net::TcpStream, peer: SocketAddr, slot: Slot) {
    shared.open.inc();
    let _open = Open(&shared.open);
    match &shared.tls {
        // Boxed: a TLS connection's state (the handshake, the session's buffers) is several
        // times a plain one's, and every plain connection's task would otherwise be sized
        // (and copied) for it.
        Some(acceptor) => Box::pin(serve_tls(&shared, acceptor, stream, peer, &slot)).await,
        None => http(shared.clone(), stream, peer, &slot, None).await,
    }
}

async fn serve_tls(
    shared: &Arc<Shared>,
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: &Slot,
) {
    match tokio::time::timeout(shared.handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            // ALPN settles the protocol, usually: then nothing is read before hyper reads.
            let known = Protocol::from_alpn(stream.get_ref().1.alpn_protocol());
            http(shared.clone(), stream, peer, slot, known).await
        }
        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
        Err(_) => tracing::debug!(%peer, "TLS handshake not done within {:?}", shared.handshake_timeout),
    }
}

/// Counts a connection open while it lives.
struct Open<'a>(&'a seam_core::metrics::Gauge);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn http<I>(shared: Arc<Shared>, mut io: I, peer: SocketAddr, slot: &Slot, known: Option<Protocol>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (protocol, first) = match known {
        Some(protocol) => (protocol, bytes::Bytes::new()),
        None => match first_bytes(&shared, &mut io, peer, slot).await {
            Some(first) => first,
            None => return,
        },
    };
    let io = TokioIo::new(Prefixed::new(io, first));
    let graph = shared.app.clone();
    let activity = slot.activity.clone();
    let lifecycle = shared.lifecycle.clone();
    let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let app = graph.load_full();
        let in_flight = activity.begin();
        if req.headers().contains_key(http::header::UPGRADE) {
            req.extensions_mut().insert(lifecycle.clone());
        }
        async move {
            let response = app.handle(req, peer).await;
            // Not boxed again into a `Body`: hyper takes the tracked body as it is.
            Ok::<_, Infallible>(response.map(|body| TrackedBody::new(body, in_flight)))
        }
    });
    // Pinned here and driven by reference: moved into `drive`, the connection would be held
    // twice in this future (as the argument, and pinned).
    let ended = match protocol {
        Protocol::Http1 => {
            let conn = pin!(shared.http1.serve_connection(io, service).with_upgrades());
            // hyper's graceful shutdown leaves a first head it is reading alone.
            let idle = Idle { after: Some(shared.http1_idle_timeout), drop_unserved: true };
            drive(conn, |conn| conn.graceful_shutdown(), slot, idle).await
        }
        Protocol::Http2 => {
            // HTTP/2 spawns each request's future as a task of its own: boxed, the task holds
            // a pointer, where the chain's whole future would be copied at each step of
            // spawning (16 copies per request, 4 % of an HTTP/2 request's instructions).
            let service = hyper::service::service_fn(move |req| Box::pin(hyper::service::Service::call(&service, req)));
            let conn = pin!(shared.http2.serve_connection(io, service));
            let idle = Idle { after: shared.idle_timeout, drop_unserved: false };
            drive(conn, |conn| conn.graceful_shutdown(), slot, idle).await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

/// The protocol a connection speaks and the bytes that told it, read within the header
/// timeout; `None` when the connection is to be closed (it sent nothing in time, it closed,
/// or the server asked it to close: nothing is in flight yet).
async fn first_bytes<I: AsyncRead + Unpin>(
    shared: &Shared,
    io: &mut I,
    peer: SocketAddr,
    slot: &Slot,
) -> Option<(Protocol, bytes::Bytes)> {
    let first = tokio::select! {
        biased;
        first = tokio::time::timeout(shared.header_timeout, protocol::first_bytes(io)) => first,
        () = slot.activity.signal.notified() => return None,
    };
    match first {
        Ok(Ok(first)) => first,
        Ok(Err(e)) => {
            tracing::debug!(%peer, "connection ended: {e}");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "nothing received within {:?}", shared.header_timeout);
            None
        }
    }
}

/// When [`drive`] closes a connection with no request in flight.
struct Idle {
    /// After this long idle (never, when `None`).
    after: Option<Duration>,
    /// At once rather than gracefully if no request has begun on it yet: nothing can be left
    /// to flush, and HTTP/1.1's graceful shutdown does not stop a first head being read.
    drop_unserved: bool,
}

/// Runs `conn` to its end, closing it gracefully when it has been idle (no request in flight)
/// for `after`, when the server needs its slot while it is idle, or when the server
/// shuts down; and at once when the shutdown timeout has passed, or when it is still open and
/// idle `after` after it was asked to close for being idle.
async fn drive<C>(
    mut conn: Pin<&mut C>,
    graceful_shutdown: impl Fn(Pin<&mut C>),
    slot: &Slot,
    Idle { after, drop_unserved }: Idle,
) -> Result<(), hyper::Error>
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let activity = &slot.activity;
    let mut closing = false;
    let far = Duration::from_secs(86_400 * 365);
    let limit = after.unwrap_or(far);
    let mut idle = pin!(tokio::time::sleep(limit));
    // Asked to close for being idle: `idle` then holds the moment it is dropped if it has not
    // closed by itself (an HTTP/1.1 connection still reading a head closes only then).
    let mut dropping = false;
    let mut signal = pin!(activity.signal.notified());
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => return result,
            () = signal.as_mut() => match activity.asked() {
                connection::DROP => return Ok(()),
                connection::DRAIN if !closing => {
                    closing = true;
                    graceful_shutdown(conn.as_mut());
                    signal.set(activity.signal.notified());
                }
                connection::EVICT if !closing && activity.idle_for().is_some() => {
                    closing = true;
                    graceful_shutdown(conn.as_mut());
                    signal.set(activity.signal.notified());
                }
                _ => signal.set(activity.signal.notified()),
            },
            () = idle.as_mut(), if !closing || dropping => {
                if dropping {
                    // Still open a whole limit after it was asked to close: dropped, unless a
                    // request it took meanwhile is in flight.
                    if activity.idle_for().is_some() {
                        tracing::debug!("connection idle past its limit and still open: dropped");
                        return Ok(());
                    }
                    idle.as_mut().reset(tokio::time::Instant::now() + limit);
                    continue;
                }
                match activity.idle_for() {
                    Some(for_how_long) if for_how_long >= limit && drop_unserved && !activity.has_served() => {
                        return Ok(());
                    }
                    Some(for_how_long) if for_how_long >= limit => {
                        closing = true;
                        graceful_shutdown(conn.as_mut());
                        // What an answer left to flush gets as long again.
                        dropping = true;
                        idle.as_mut().reset(tokio::time::Instant::now() + limit);
                    }
                    Some(for_how_long) => idle.as_mut().reset(tokio::time::Instant::now() + (limit - for_how_long)),
                    None => idle.as_mut().reset(tokio::time::Instant::now() + limit),
                }
            }
        }
    }
}
