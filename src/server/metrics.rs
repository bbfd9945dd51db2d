//! The metrics listener (`server.metrics`): the OpenMetrics exposition at one path, on an
//! address of its own, never on the public port.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use seam_config::document::server::MetricsConfig;

use super::handler::App;

/// Binds the metrics address.
pub fn bind(config: &MetricsConfig) -> Result<std::net::TcpListener, String> {
    let listener = std::net::TcpListener::bind(&config.address)
        .map_err(|e| format!("cannot listen for metrics on {}: {e}", config.address))?;
    listener.set_nonblocking(true).map_err(|e| format!("cannot listen for metrics on {}: {e}", config.address))?;
    Ok(listener)
}

/// Serves the exposition at `path` until the task is aborted. Each scrape pings the current
/// graph's storages first (1 s at most), so `seam_storage_up` is fresh.
pub fn serve(
    listener: std::net::TcpListener,
    path: String,
    app: Arc<ArcSwap<App>>,
) -> Option<tokio::task::JoinHandle<()>> {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("cannot serve metrics: {e}");
            return None;
        }
    };
    let path: Arc<str> = path.into();
    Some(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (path, app) = (path.clone(), app.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (path, app) = (path.clone(), app.clone());
                    async move { Ok::<_, std::convert::Infallible>(answer(&req, &path, &app).await) }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    }))
}

async fn answer(
    req: &http::Request<hyper::body::Incoming>,
    path: &str,
    app: &ArcSwap<App>,
) -> http::Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    if req.uri().path() != path {
        return reply(StatusCode::NOT_FOUND, "text/plain", format!("metrics are at {path}\n"));
    }
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n".into());
    }
    let graph = app.load_full();
    let pings = graph.storages.iter().map(|(_, storage)| tokio::time::timeout(Duration::from_secs(1), storage.ping()));
    let _ = futures_util::future::join_all(pings).await;
    reply(StatusCode::OK, seam_core::metrics::CONTENT_TYPE, seam_core::metrics::exposition())
}
