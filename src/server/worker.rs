//! One worker: its listener, its accept loop and the connections it accepted, all on the
//! thread that runs it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use seam_core::Body;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Phase;
use super::connection::{self, Connections, Slot, TrackedBody};
use super::handler::App;

/// How long a new connection past `concurrency` waits for an idle one to make room.
const ADMIT_WAIT: Duration = Duration::from_millis(250);

/// What every worker of a server shares.
pub struct Shared {
    /// The graph: each request takes the one current when it arrives.
    pub app: Arc<arc_swap::ArcSwap<App>>,
    /// `seam_open_connections{protocol}`.
    pub open: seam_core::metrics::Gauge,
    pub builder: auto::Builder<hyper_util::rt::TokioExecutor>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub connections: Arc<Connections>,
    pub handshake_timeout: Duration,
    pub idle_timeout: Option<Duration>,
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
        tokio::spawn(serve(shared.clone(), stream, peer, slot));
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
        None => http(shared.clone(), stream, peer, &slot).await,
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
        Ok(Ok(stream)) => http(shared.clone(), stream, peer, slot).await,
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

async fn http<I>(shared: Arc<Shared>, io: I, peer: SocketAddr, slot: &Slot)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
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
            Ok::<_, Infallible>(response.map(|body| Body::new(TrackedBody::new(body, in_flight))))
        }
    });
    // Pinned here and driven by reference: moved into `drive`, the connection would be held
    // twice in this future (as the argument, and pinned).
    let conn = pin!(shared.builder.serve_connection_with_upgrades(TokioIo::new(io), service));
    if let Err(e) = drive(conn, slot, shared.idle_timeout).await {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

/// Runs `conn` to its end, closing it gracefully when it has been idle for `idle_timeout`,
/// when the server needs its slot while it is idle, or when the server shuts down; and at
/// once when the shutdown timeout has passed.
async fn drive<C>(mut conn: Pin<&mut C>, slot: &Slot, idle_timeout: Option<Duration>) -> Result<(), C::Error>
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let activity = &slot.activity;
    let mut closing = false;
    let far = Duration::from_secs(86_400 * 365);
    let mut idle = pin!(tokio::time::sleep(idle_timeout.unwrap_or(far)));
    let mut signal = pin!(activity.signal.notified());
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => return result,
            () = signal.as_mut() => match activity.asked() {
                connection::DROP => return Ok(()),
                connection::DRAIN if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                    signal.set(activity.signal.notified());
                }
                connection::EVICT if !closing && activity.idle_for().is_some() => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                    signal.set(activity.signal.notified());
                }
                _ => signal.set(activity.signal.notified()),
            },
            () = idle.as_mut(), if !closing => {
                let limit = idle_timeout.unwrap_or(far);
                match activity.idle_for() {
                    Some(for_how_long) if for_how_long >= limit => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    Some(for_how_long) => idle.as_mut().reset(tokio::time::Instant::now() + (limit - for_how_long)),
                    None => idle.as_mut().reset(tokio::time::Instant::now() + limit),
                }
            }
        }
    }
}
