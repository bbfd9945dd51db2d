//! Sending one request to one upstream.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::Either;

use http::request::Parts;
use http::{StatusCode, Version};
use seam_core::extensions::{PathParams, UpstreamSpan, UpstreamTracing};
use seam_core::{Body, Response, json_error};

use crate::client::UpstreamClient;
use crate::h1::pool::{self, SendError};
use crate::headers::{remove_hop_by_hop, set_forwarded};
use crate::upgrade;
use crate::upstream::Upstream;

/// Why forwarding failed.
#[derive(Debug)]
pub enum ForwardError {
    /// No connection could be made (refused, unreachable, TLS failed): 502, and the
    /// request was not sent.
    Connect(String),
    /// The upstream did not answer within the timeout: 504.
    Timeout(Duration),
    /// Anything else (the connection broke, a malformed answer): 502.
    Other(String),
}

impl ForwardError {
    /// `connect`, `timeout` or `reset`: how the call failed, for traces and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ForwardError::Connect(_) => "connect",
            ForwardError::Timeout(_) => "timeout",
            ForwardError::Other(_) => "reset",
        }
    }

    /// The answer the client gets.
    pub fn into_response(self, upstream: &str) -> Response {
        let status = match &self {
            ForwardError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ForwardError::Connect(_) | ForwardError::Other(_) => StatusCode::BAD_GATEWAY,
        };
        let message = self.to_string();
        tracing::warn!(upstream, status = status.as_u16(), "{message}");
        json_error(status, &message)
    }
}

impl std::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForwardError::Connect(e) => write!(f, "cannot connect to the upstream: {e}"),
            ForwardError::Timeout(t) => write!(f, "the upstream did not answer within {t:?}"),
            ForwardError::Other(e) => write!(f, "the upstream failed: {e}"),
        }
    }
}

/// Forwards the request (`parts` and `body`) to `upstream` and returns its answer, streaming.
/// (Not an `async fn`: the request is prepared when this is called, so the future holds the
/// prepared request once rather than the client's parts as well.)
pub fn forward<'a>(
    client: &'a UpstreamClient,
    upstream: &'a Upstream,
    parts: Parts,
    body: Body,
    timeout: Duration,
    preserve_host: bool,
) -> impl Future<Output = Result<Response, ForwardError>> + Send + 'a {
    let (out, span) = match prepare(client, upstream, parts, body, timeout, preserve_host) {
        Ok(prepared) => prepared,
        Err(e) => return Either::Left(std::future::ready(Err(e))),
    };
    // The clock is read only when the duration is recorded.
    let started = upstream.metrics.as_ref().map(|_| std::time::Instant::now());
    // `map`, not an `async` block: a block would hold the sending future twice.
    Either::Right(send(out).map(move |sent| {
        if let (Some(metrics), Some(started)) = (&upstream.metrics, started) {
            match &sent {
                Ok(_) => metrics.duration.observe(started.elapsed().as_secs_f64()),
                Err(e) => metrics.failed(e.kind()),
            }
        }
        if let Some(span) = span {
            match &sent {
                Ok(response) => span.answered(response.status()),
                Err(e) => span.failed(e.kind(), &e.to_string()),
            }
        }
        sent
    }))
}

/// The request as it goes upstream (hop-by-hop headers gone, `X-Forwarded-*` set, the
/// target in the form the connection takes), and its client span when traced.
fn prepare<'a>(
    client: &'a UpstreamClient,
    upstream: &'a Upstream,
    mut parts: Parts,
    body: Body,
    timeout: Duration,
    preserve_host: bool,
) -> Result<(Outgoing<'a>, Option<Box<dyn UpstreamSpan>>), ForwardError> {
    let params = parts.extensions.get::<PathParams>();
    // Plain HTTP goes out in origin form on a pooled connection; TLS through the client,
    // which takes the absolute URI.
    let target = if upstream.is_plain_http() {
        upstream.path_and_query(params, parts.uri.query()).map(http::Uri::from)
    } else {
        upstream.target(params, parts.uri.query())
    }
    .map_err(ForwardError::Other)?;
    // A protocol upgrade (WebSocket) keeps its upgrade headers and is joined on 101.
    let upgrade = upgrade::requested(&parts.headers)
        .and_then(|value| parts.extensions.remove::<hyper::upgrade::OnUpgrade>().map(|on| (value, on)));
    let lifecycle = parts.extensions.get::<seam_core::extensions::Lifecycle>().cloned();
    remove_hop_by_hop(&mut parts.headers);
    let client_upgrade = upgrade.map(|(value, on)| {
        upgrade::restore(&mut parts.headers, value);
        on
    });
    // The client's host: `Host`, or an HTTP/2 request's `:authority` (before the URI is replaced).
    let client_host = parts
        .headers
        .get(http::header::HOST)
        .cloned()
        .or_else(|| parts.uri.authority().and_then(|a| http::HeaderValue::from_str(a.as_str()).ok()));
    parts.uri = target;
    parts.version = Version::HTTP_11;
    let mut request = http::Request::from_parts(parts, body);
    set_forwarded(&mut request, client_host, upstream.host(), preserve_host);
    let span = start_span(&mut request);
    Ok((Outgoing { client, upstream, request, client_upgrade, lifecycle, timeout }, span))
}

/// The client span of this call when the request is traced; it writes the propagation
/// headers into the request.
fn start_span(request: &mut http::Request<Body>) -> Option<Box<dyn UpstreamSpan>> {
    let tracing = request.extensions().get::<UpstreamTracing>()?.clone();
    let (method, uri) = (request.method().clone(), request.uri().clone());
    Some(tracing.0.start(&method, &uri, request.headers_mut()))
}

/// A prepared request and where it goes.
struct Outgoing<'a> {
    client: &'a UpstreamClient,
    upstream: &'a Upstream,
    request: http::Request<Body>,
    /// The client's side of an upgrade it asked for, joined on 101.
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    lifecycle: Option<seam_core::extensions::Lifecycle>,
    timeout: Duration,
}

/// Sends the prepared request (joining an upgrade when the client asked for one). (Not an
/// `async fn`: the request moves straight into the pool's call, held once.)
fn send<'a>(out: Outgoing<'a>) -> impl Future<Output = Result<Response, ForwardError>> + Send + 'a {
    if !out.upstream.is_plain_http() || out.client_upgrade.is_some() {
        // Boxed: upgrades and TLS would otherwise make every request's future as large as
        // theirs.
        return Either::Left(Box::pin(send_through_client_or_upgrade(out)));
    }
    let Outgoing { upstream, request, timeout, .. } = out;
    // The lean path: a connection of this thread, the target already in origin form.
    // Its answer comes without hop-by-hop fields (the client leaves them out as it reads).
    Either::Right(tokio::time::timeout(timeout, pool::send(upstream.authority(), request)).map(
        move |sent| match sent {
            Err(_) => Err(ForwardError::Timeout(timeout)),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(response)) => Ok(response),
        },
    ))
}

impl From<SendError> for ForwardError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Connect(e) => ForwardError::Connect(e),
            SendError::Other(e) => ForwardError::Other(e),
        }
    }
}

/// An upgrade to a plain-HTTP upstream, or any request to a TLS one.
async fn send_through_client_or_upgrade(out: Outgoing<'_>) -> Result<Response, ForwardError> {
    let Outgoing { client, upstream, request, client_upgrade, lifecycle, timeout } = out;
    let mut response = if upstream.is_plain_http() {
        // An upgrade: a connection of its own, joined on 101.
        match tokio::time::timeout(timeout, pool::send_upgrade(upstream.authority(), request)).await {
            Err(_) => return Err(ForwardError::Timeout(timeout)),
            Ok(Err(e)) => return Err(e.into()),
            Ok(Ok(response)) => response,
        }
    } else {
        match tokio::time::timeout(timeout, client.request(request)).await {
            Err(_) => return Err(ForwardError::Timeout(timeout)),
            Ok(Err(e)) => {
                let detail = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.to_string());
                return Err(if e.is_connect() { ForwardError::Connect(detail) } else { ForwardError::Other(detail) });
            }
            Ok(Ok(response)) => response,
        }
    };
    if let Some(client) = client_upgrade {
        upgrade::join(&mut response, client, lifecycle, timeout);
    }
    let (mut parts, body) = response.into_parts();
    if parts.status != http::StatusCode::SWITCHING_PROTOCOLS {
        remove_hop_by_hop(&mut parts.headers);
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}
