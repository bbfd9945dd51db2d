//! The HTTP(S) server: accepts connections, serves HTTP/1.1 and HTTP/2, shuts down gracefully.

mod body_limit;
pub mod canonical;
mod forwarded;
mod handler;
mod router;
mod tls;
mod write_timeout;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use seam_config::document::ServerConfig;
use seam_config::resolver::Gateway;
use tokio::net::TcpListener;

pub use handler::App;
pub use router::Router;

/// A bound, ready-to-serve gateway.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: ServerConfig,
}

impl Server {
    /// Builds the routing table and TLS, and binds `server.address`. Errors name what is wrong.
    pub async fn bind(gateway: &Gateway) -> Result<Server, String> {
        let config = gateway.server.clone();
        let router = Router::build(&gateway.routes)?;
        let trusted = forwarded::TrustedProxies::new(gateway.server_plan.trusted_proxies.clone());
        let tls = gateway.server_plan.tls.as_ref().map(tls::acceptor).transpose()?;
        let listener = TcpListener::bind(&config.address)
            .await
            .map_err(|e| format!("cannot listen on server.address `{}`: {e}", config.address))?;
        let app = App {
            router,
            body_limit: config.body_limit,
            trusted,
            health: (!config.disable_health_check)
                .then(|| (config.health_check_live_route.clone(), config.health_check_ready_route.clone())),
            storages: gateway.storages.iter().map(|(n, s)| (n.clone(), s.instance.clone())).collect(),
            tls: tls.is_some(),
            read_timeout: config.read_timeout.non_zero(),
            write_timeout: config.write_timeout.non_zero(),
            path_rules: canonical::PathRules {
                allow_encoded_slashes: config.allow_encoded_slashes,
                allow_path_parameters: config.allow_path_parameters,
            },
        };
        Ok(Server { listener, app: Arc::new(app), tls, config })
    }

    /// The address it listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// How many routes it serves.
    pub fn route_count(&self) -> usize {
        self.app.router.route_count()
    }

    /// Serves until `shutdown` completes; then stops accepting, lets in-flight requests
    /// finish for up to `server.shutdownTimeout`, and returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let config = &self.config;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // A header-read timeout always applies (`headerTimeout`, 30 s by default), shortened by
        // `readTimeout` or `idleTimeout` when they are set.
        let header_timeout =
            [Some(config.header_timeout.get()), config.read_timeout.non_zero(), config.idle_timeout.non_zero()]
                .into_iter()
                .flatten()
                .min();
        builder.http1().timer(TokioTimer::new()).keep_alive(true).header_read_timeout(header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(config.http2_max_concurrent_streams)
            .max_header_list_size(config.http2_max_header_list_size)
            .keep_alive_interval(config.http2_keep_alive_interval.non_zero())
            .keep_alive_timeout(config.http2_keep_alive_timeout.get());
        let builder = Arc::new(builder);
        let graceful = GracefulShutdown::new();
        // `concurrency`: each connection holds a permit; without one, accepting waits.
        let permits = Arc::new(tokio::sync::Semaphore::new(
            usize::try_from(config.concurrency).unwrap_or(usize::MAX).min(tokio::sync::Semaphore::MAX_PERMITS),
        ));
        let handshake_timeout = config.tls_handshake_timeout.non_zero().unwrap_or(Duration::from_secs(10));
        let mut last_accept_error: Option<std::time::Instant> = None;
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and the like: back off, and say so once a second, not per error.
                        if last_accept_error.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                            tracing::warn!("accept failed: {e}; backing off");
                            last_accept_error = Some(std::time::Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let app = self.app.clone();
            let builder = builder.clone();
            let watcher = graceful.watcher();
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(app.handle(req, peer).await) }
                });
                let result = match tls {
                    Some(acceptor) => match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let conn =
                                builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                            watcher.watch(conn).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake not done within {handshake_timeout:?}");
                            return;
                        }
                    },
                    None => {
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                        watcher.watch(conn).await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
            });
        }
        drop(self.listener);
        let limit = self.config.shutdown_timeout.get();
        tracing::info!("shutting down: waiting up to {limit:?} for in-flight requests");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections closed"),
            () = tokio::time::sleep(limit) => tracing::warn!("shutdownTimeout reached; closing the remaining connections"),
        }
    }
}
