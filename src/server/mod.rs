//! The HTTP(S) server: accepts connections, serves HTTP/1.1 and HTTP/2, shuts down gracefully.

mod body_limit;
pub mod canonical;
mod connection;
mod forwarded;
mod handler;
mod listener;
mod message;
mod metrics;
mod protocol;
mod router;
mod tls;
mod worker;
mod write_timeout;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use seam_config::document::ServerConfig;
use seam_config::resolver::Gateway;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

pub use handler::App;
pub use router::Router;

use connection::Connections;
use worker::Shared;

/// A bound, ready-to-serve gateway.
pub struct Server {
    listeners: Vec<std::net::TcpListener>,
    /// The graph requests run on; replaced whole by a reload.
    app: Arc<ArcSwap<App>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: ServerConfig,
    metrics: Option<std::net::TcpListener>,
}

/// Replaces the graph a running server serves (see [`Server::reloader`]).
#[derive(Clone)]
pub struct Reloader {
    app: Arc<ArcSwap<App>>,
    config: ServerConfig,
}

impl Reloader {
    /// Serves `gateway` from the next request on; requests in flight finish on the graph they
    /// started with. Returns the `server:` keys that changed but apply only on a restart, and
    /// the graph served until now (requests still running hold it too).
    pub fn swap(&self, gateway: &Gateway) -> Result<(Vec<&'static str>, Arc<App>), String> {
        let app = app_of(gateway, self.app.load().tls)?;
        let previous = self.app.swap(Arc::new(app));
        Ok((restart_only(&self.config, &gateway.server), previous))
    }

    /// The graph served now.
    pub fn current(&self) -> Arc<App> {
        self.app.load_full()
    }
}

/// The `server:` keys read when the server binds and starts, which a reload cannot change.
fn restart_only(old: &ServerConfig, new: &ServerConfig) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |key: &'static str, differs: bool| {
        if differs {
            changed.push(key);
        }
    };
    check("address", old.address != new.address);
    check("tls", old.tls != new.tls);
    check("certFile", old.cert_file != new.cert_file);
    check("keyFile", old.key_file != new.key_file);
    check("metrics", old.metrics != new.metrics);
    check("concurrency", old.concurrency != new.concurrency);
    check("idleTimeout", old.idle_timeout != new.idle_timeout);
    check("headerTimeout", old.header_timeout != new.header_timeout);
    check("tlsHandshakeTimeout", old.tls_handshake_timeout != new.tls_handshake_timeout);
    check("shutdownTimeout", old.shutdown_timeout != new.shutdown_timeout);
    check("http1MaxHeaderSize", old.http1_max_header_size != new.http1_max_header_size);
    check("http2MaxConcurrentStreams", old.http2_max_concurrent_streams != new.http2_max_concurrent_streams);
    check("http2MaxHeaderListSize", old.http2_max_header_list_size != new.http2_max_header_list_size);
    check("http2KeepAliveInterval", old.http2_keep_alive_interval != new.http2_keep_alive_interval);
    check("http2KeepAliveTimeout", old.http2_keep_alive_timeout != new.http2_keep_alive_timeout);
    changed
}

/// The request-handling side of `gateway`: routes, chains, and the `server:` keys that
/// apply per request.
fn app_of(gateway: &Gateway, tls: bool) -> Result<App, String> {
    let config = &gateway.server;
    let router = Router::build(&gateway.routes, config.case_sensitive, config.strict_routing)?;
    let trusted = forwarded::TrustedProxies::new(gateway.server_plan.trusted_proxies.clone())
        .with_proxy_header(&config.proxy_header);
    Ok(App {
        router,
        body_limit: config.body_limit,
        head_rules: message::HeadRules {
            http1_max_head: config.http1_max_header_size as usize,
            underscores: config.underscores_in_headers,
        },
        trusted,
        health: (!config.disable_health_check)
            .then(|| (config.health_check_live_route.clone(), config.health_check_ready_route.clone())),
        storages: gateway.storages.iter().map(|(n, s)| (n.clone(), s.instance.clone())).collect(),
        tls,
        read_timeout: config.read_timeout.non_zero(),
        write_timeout: config.write_timeout.non_zero(),
        globals: gateway.globals.clone(),
        strict_routing: config.strict_routing,
        path_rules: canonical::PathRules {
            allow_encoded_slashes: config.allow_encoded_slashes,
            allow_path_parameters: config.allow_path_parameters,
        },
        unrouted: seam_core::metrics::RequestMetrics::new("", None),
        metrics_url: config.metrics.as_ref().map(|m| format!("http://{}{}", m.address, m.path)),
    })
}

impl Server {
    /// Builds the routing table and TLS, and binds `server.address` for one worker, the
    /// calling runtime. Errors name what is wrong.
    pub async fn bind(gateway: &Gateway) -> Result<Server, String> {
        Self::bind_workers(gateway, 1).await
    }

    /// Like [`Server::bind`], for `workers` workers: the calling runtime and `workers - 1`
    /// threads, each with its own single-threaded runtime and its own listener on the same
    /// address, so a connection and its requests stay on one thread.
    pub async fn bind_workers(gateway: &Gateway, workers: usize) -> Result<Server, String> {
        let config = gateway.server.clone();
        let tls = gateway.server_plan.tls.as_ref().map(tls::acceptor).transpose()?;
        let app = app_of(gateway, tls.is_some())?;
        let listeners = listener::bind(&config.address, workers.max(1))?;
        let metrics = config.metrics.as_ref().map(metrics::bind).transpose()?;
        Ok(Server { listeners, app: Arc::new(ArcSwap::from_pointee(app)), tls, config, metrics })
    }

    /// What replaces the served graph on a reload.
    pub fn reloader(&self) -> Reloader {
        Reloader { app: self.app.clone(), config: self.config.clone() }
    }

    /// The address of the metrics listener, when `server.metrics` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address it listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listeners[0].local_addr().expect("a bound listener has an address")
    }

    /// How many routes it serves.
    pub fn route_count(&self) -> usize {
        self.app.load().router.route_count()
    }

    /// Serves until `shutdown` completes; then stops accepting, lets in-flight requests
    /// finish for up to `server.shutdownTimeout`, closes what is left, and returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let config = &self.config;
        let mut http1 = hyper::server::conn::http1::Builder::new();
        // A header-read timeout always applies (`headerTimeout`, 30 s by default), shortened by
        // `readTimeout` when it is set: to a new connection's first bytes, and to an HTTP/1.1
        // connection with no request in flight, from its accept or its last answer, so while a
        // kept-alive connection waits for its next request too (`worker::drive`). Not hyper's
        // own, which makes and drops a timer for every request (and was all hyper's HTTP/1.1
        // side used a timer for: it has none).
        let header_timeout = config
            .read_timeout
            .non_zero()
            .map_or(config.header_timeout.get(), |read| read.min(config.header_timeout.get()));
        let idle_timeout = config.idle_timeout.non_zero();
        http1
            .keep_alive(true)
            .header_read_timeout(None)
            // Checked at load to be at least hyper's minimum (which it asserts).
            .max_buf_size(
                config.http1_max_header_size.max(seam_config::document::server::MIN_HTTP1_HEADER_SIZE) as usize
            );
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(config.http2_max_concurrent_streams)
            .max_header_list_size(config.http2_max_header_list_size)
            .keep_alive_interval(config.http2_keep_alive_interval.non_zero())
            .keep_alive_timeout(config.http2_keep_alive_timeout.get());
        let connections = Connections::new(config.concurrency);
        let metrics_server = match (self.metrics, &config.metrics) {
            (Some(listener), Some(at)) => metrics::serve(listener, at.path.clone(), self.app.clone()),
            _ => None,
        };
        let (stop_upgraded, lifecycle) = seam_core::extensions::Lifecycle::new();
        let shared = Arc::new(Shared {
            lifecycle: lifecycle.clone(),
            open: seam_core::metrics::open_connections(if self.tls.is_some() { "https" } else { "http" }),
            app: self.app.clone(),
            http1,
            http2,
            header_timeout,
            tls: self.tls,
            connections: connections.clone(),
            handshake_timeout: config.tls_handshake_timeout.non_zero().unwrap_or(Duration::from_secs(10)),
            idle_timeout,
            http1_idle_timeout: idle_timeout.map_or(header_timeout, |idle| idle.min(header_timeout)),
        });
        let (phase, stopping) = watch::channel(Phase::Serving);
        let mut listeners = self.listeners.into_iter();
        let Some(first) = listeners.next() else { return };
        let mut workers = Vec::new();
        for (index, listener) in listeners.enumerate() {
            let (done, finished) = oneshot::channel::<()>();
            let (shared, stopping) = (shared.clone(), stopping.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("seam-worker-{}", index + 1))
                .spawn(move || run_worker(shared, listener, stopping, done));
            match spawned {
                Ok(_) => workers.push(finished),
                Err(e) => tracing::error!("cannot start worker {}: {e}", index + 1),
            }
        }
        match TcpListener::from_std(first) {
            Ok(listener) => {
                let accepting = worker::accept_loop(shared.clone(), listener, stopping.clone());
                tokio::select! {
                    () = accepting => {}
                    () = shutdown => {}
                }
            }
            Err(e) => tracing::error!("cannot serve the listener: {e}"),
        }
        let _ = phase.send(Phase::Draining);
        connections.ask_all(connection::DRAIN);
        // Upgraded connections (WebSockets, tunnels) are told to close too.
        let _ = stop_upgraded.send(true);
        let limit = config.shutdown_timeout.get();
        tracing::info!("shutting down: waiting up to {limit:?} for in-flight requests");
        let everything = async {
            connections.all_closed().await;
            lifecycle.released().await;
        };
        if tokio::time::timeout(limit, everything).await.is_ok() {
            tracing::info!("all connections closed");
        } else {
            tracing::warn!("shutdownTimeout reached; closing the remaining connections");
            connections.ask_all(connection::DROP);
            let _ = tokio::time::timeout(Duration::from_secs(1), connections.all_closed()).await;
        }
        let _ = phase.send(Phase::Done);
        for finished in workers {
            let _ = finished.await;
        }
        if let Some(task) = metrics_server {
            task.abort();
        }
    }
}

/// Where a server is in its life; workers follow it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    /// Accepting and serving.
    Serving,
    /// No longer accepting; in-flight requests finish.
    Draining,
    /// Every connection is closed: workers stop.
    Done,
}

/// One extra worker's thread: a single-threaded runtime serving `listener` until the server
/// is done.
fn run_worker(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    mut stopping: watch::Receiver<Phase>,
    done: oneshot::Sender<()>,
) {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(async {
            match TcpListener::from_std(listener) {
                Ok(listener) => worker::accept_loop(shared, listener, stopping.clone()).await,
                Err(e) => tracing::error!("cannot serve the listener: {e}"),
            }
            let _ = stopping.wait_for(|phase| *phase == Phase::Done).await;
        }),
        Err(e) => tracing::error!("cannot start a worker's runtime: {e}"),
    }
    let _ = done.send(());
}
