//! The HTTP client the OTLP exporters send with: seam's connector (rustls, the system's CAs)
//! on a runtime of its own, so an export never runs on, or waits for, a worker's runtime.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use seam_core::async_trait;
use seam_core::client::{HttpConnector, HttpsConnector, https_connector};

/// Largest answer read from a collector.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Sends export requests, each within `OTEL_EXPORTER_OTLP_TIMEOUT` (default 10 s).
#[derive(Clone, Debug)]
pub struct ExportClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl ExportClient {
    /// A client on the export runtime.
    pub fn new() -> Result<ExportClient, String> {
        runtime()?;
        Ok(ExportClient { client: Client::builder(TokioExecutor::new()).build(https_connector()?), timeout: timeout() })
    }
}

#[async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (client, timeout) = (self.client.clone(), self.timeout);
        let exchange = async move {
            let response = client.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES).collect().await?.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        let task = runtime()?.spawn(async move {
            tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| HttpError::from(format!("the collector did not answer within {timeout:?}")))?
        });
        task.await?
    }
}

/// One thread that drives every export request of the process.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("seam-otel-export")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the export runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT` in milliseconds; 10 s.
fn timeout() -> Duration {
    ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
}
