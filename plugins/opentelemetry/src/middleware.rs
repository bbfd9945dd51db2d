//! The server span and metrics of each request.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use http::Version;
use opentelemetry::metrics::{Histogram, MeterProvider as _, UpDownCounter};
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracer;
use seam_core::extensions::{Client, Locals, MatchedRoute, UpstreamTracing};
use seam_core::{Middleware, Next, Request, Response, async_trait};

use crate::telemetry::Telemetry;
use crate::upstream::Upstream;

/// Bucket bounds of `http.server.request.duration`, in seconds (the semantic conventions').
const DURATION_BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// The runtime of `OpenTelemetryMiddleware`.
pub struct OpenTelemetryMiddleware {
    telemetry: Arc<Telemetry>,
    tracer: Option<SdkTracer>,
    metrics: Option<Arc<ServerMetrics>>,
    propagator: Arc<TextMapCompositePropagator>,
    context_key: Arc<str>,
}

/// The HTTP server instruments, made once at build.
struct ServerMetrics {
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
}

impl OpenTelemetryMiddleware {
    /// A middleware recording with `telemetry`'s providers under the scope `tracer_name`.
    pub fn new(telemetry: Arc<Telemetry>, tracer_name: &str, context_key: &str) -> Self {
        let scope =
            || InstrumentationScope::builder(tracer_name.to_owned()).with_version(env!("CARGO_PKG_VERSION")).build();
        let tracer = telemetry.traces.as_ref().map(|p| p.tracer_with_scope(scope()));
        let metrics = telemetry.metrics.as_ref().map(|p| {
            let meter = p.meter_with_scope(scope());
            Arc::new(ServerMetrics {
                duration: meter
                    .f64_histogram("http.server.request.duration")
                    .with_unit("s")
                    .with_description("Duration of HTTP server requests.")
                    .with_boundaries(DURATION_BUCKETS.to_vec())
                    .build(),
                active: meter
                    .i64_up_down_counter("http.server.active_requests")
                    .with_unit("{request}")
                    .with_description("Number of active HTTP server requests.")
                    .build(),
            })
        });
        let propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> =
            vec![Box::new(TraceContextPropagator::new()), Box::new(BaggagePropagator::new())];
        let propagator = TextMapCompositePropagator::new(propagators);
        OpenTelemetryMiddleware {
            telemetry,
            tracer,
            metrics,
            propagator: Arc::new(propagator),
            context_key: context_key.into(),
        }
    }
}

#[async_trait]
impl Middleware for OpenTelemetryMiddleware {
    async fn handle(&self, mut req: Request, next: Next) -> Response {
        let start = Instant::now();
        let route: Option<Arc<str>> = req.extensions().get::<MatchedRoute>().map(|r| r.pattern.clone());
        let method = KeyValue::new("http.request.method", method_of(&req));
        let scheme = KeyValue::new("url.scheme", req.extensions().get::<Client>().map_or("http", |c| c.scheme));
        let cx = self.tracer.as_ref().map(|tracer| {
            let parent = self.propagator.extract(&HeaderExtractor(req.headers()));
            let name = match &route {
                Some(route) => format!("{} {route}", req.method()),
                None => req.method().to_string(),
            };
            let mut attributes = vec![
                method.clone(),
                scheme.clone(),
                KeyValue::new("url.path", req.uri().path().to_owned()),
                KeyValue::new("network.protocol.version", protocol_version(req.version())),
            ];
            if let Some(route) = &route {
                attributes.push(KeyValue::new("http.route", route.to_string()));
            }
            if let Some(host) = host_of(&req) {
                attributes.push(KeyValue::new("server.address", host));
            }
            if let Some(client) = req.extensions().get::<Client>() {
                attributes.push(KeyValue::new("client.address", client.ip.to_string()));
            }
            if let Some(agent) = req.headers().get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()) {
                attributes.push(KeyValue::new("user_agent.original", agent.to_owned()));
            }
            let span = tracer
                .span_builder(name)
                .with_kind(SpanKind::Server)
                .with_attributes(attributes)
                .start_with_context(tracer, &parent);
            let cx = parent.with_span(span);
            let span_context = cx.span().span_context().clone();
            let traceparent = format!(
                "00-{}-{}-{:02x}",
                span_context.trace_id(),
                span_context.span_id(),
                span_context.trace_flags().to_u8()
            );
            Locals::set(req.extensions_mut(), self.context_key.clone(), traceparent.into());
            let upstream = Upstream { tracer: tracer.clone(), cx: cx.clone(), propagator: self.propagator.clone() };
            req.extensions_mut().insert(UpstreamTracing(Arc::new(upstream)));
            cx
        });
        if let Some(metrics) = &self.metrics {
            metrics.active.add(1, &[method.clone(), scheme.clone()]);
        }
        let mut response = next.run(req).await;
        let status = response.status();
        if let Some(cx) = &cx {
            self.propagator.inject_context(cx, &mut HeaderInjector(response.headers_mut()));
        }
        // The span and the duration end when the response body has been sent (or dropped).
        let finish = Finish { start, cx, status, route, method, scheme, metrics: self.metrics.clone() };
        response.map(|body| body.on_finish(move |_| finish.record()))
    }

    async fn close(&self) {
        let telemetry = self.telemetry.clone();
        let flushed = tokio::task::spawn_blocking(move || telemetry.flush()).await;
        for problem in flushed.unwrap_or_default() {
            tracing::warn!("opentelemetry: {problem}");
        }
    }
}

/// What is recorded once the response is over.
struct Finish {
    start: Instant,
    cx: Option<Context>,
    status: http::StatusCode,
    route: Option<Arc<str>>,
    method: KeyValue,
    scheme: KeyValue,
    metrics: Option<Arc<ServerMetrics>>,
}

impl Finish {
    /// Ends the span and records the duration.
    fn record(self) {
        let code = i64::from(self.status.as_u16());
        if let Some(cx) = &self.cx {
            let span = cx.span();
            span.set_attribute(KeyValue::new("http.response.status_code", code));
            if self.status.is_server_error() {
                span.set_attribute(KeyValue::new("error.type", code.to_string()));
                span.set_status(Status::error(""));
            }
            span.end();
        }
        if let Some(metrics) = &self.metrics {
            let mut attributes =
                vec![self.method.clone(), self.scheme.clone(), KeyValue::new("http.response.status_code", code)];
            if let Some(route) = &self.route {
                attributes.push(KeyValue::new("http.route", route.to_string()));
            }
            metrics.duration.record(self.start.elapsed().as_secs_f64(), &attributes);
            metrics.active.add(-1, &[self.method.clone(), self.scheme.clone()]);
        }
    }
}

/// The method as the conventions want it: the known ones as they are, others `_OTHER`.
fn method_of(req: &Request) -> &'static str {
    match *req.method() {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::CONNECT => "CONNECT",
        http::Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// The host the client asked for (`Host`, or HTTP/2's `:authority`), without the port.
fn host_of(req: &Request) -> Option<String> {
    let authority: Cow<'_, str> = match req.headers().get(http::header::HOST).and_then(|v| v.to_str().ok()) {
        Some(host) => Cow::Borrowed(host),
        None => Cow::Owned(req.uri().authority()?.to_string()),
    };
    let host = authority.parse::<http::uri::Authority>().ok()?;
    Some(host.host().to_owned())
}
