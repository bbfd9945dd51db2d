//! The client span of each upstream call an action makes.

use std::sync::Arc;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::HeaderInjector;
use opentelemetry_sdk::trace::SdkTracer;
use seam_core::extensions::{TraceUpstream, UpstreamSpan};

/// Starts client spans as children of the request's server span.
pub struct Upstream {
    pub tracer: SdkTracer,
    /// The server span's context.
    pub cx: Context,
    pub propagator: Arc<TextMapCompositePropagator>,
}

impl TraceUpstream for Upstream {
    fn start(&self, method: &http::Method, uri: &http::Uri, headers: &mut http::HeaderMap) -> Box<dyn UpstreamSpan> {
        let mut attributes = vec![KeyValue::new("http.request.method", method.to_string())];
        if let Some(host) = uri.host() {
            attributes.push(KeyValue::new("server.address", host.to_owned()));
        }
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
        attributes.push(KeyValue::new("server.port", i64::from(port)));
        // Scheme, authority and path: never the query, which may carry secrets.
        let full = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map_or("", |a| a.as_str()),
            uri.path()
        );
        attributes.push(KeyValue::new("url.full", full));
        let span = self
            .tracer
            .span_builder(method.to_string())
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &self.cx);
        let cx = self.cx.with_span(span);
        self.propagator.inject_context(&cx, &mut HeaderInjector(headers));
        Box::new(ClientSpan(cx))
    }
}

/// One upstream call's span; ended by its outcome, or when dropped.
struct ClientSpan(Context);

impl UpstreamSpan for ClientSpan {
    fn answered(self: Box<Self>, status: http::StatusCode) {
        let span = self.0.span();
        let code = i64::from(status.as_u16());
        span.set_attribute(KeyValue::new("http.response.status_code", code));
        if status.is_client_error() || status.is_server_error() {
            span.set_attribute(KeyValue::new("error.type", code.to_string()));
            span.set_status(Status::error(""));
        }
        span.end();
    }

    fn failed(self: Box<Self>, kind: &'static str, detail: &str) {
        let span = self.0.span();
        span.set_attribute(KeyValue::new("error.type", kind));
        span.set_status(Status::error(detail.to_owned()));
        span.end();
    }
}

impl Drop for ClientSpan {
    fn drop(&mut self) {
        self.0.span().end();
    }
}
