//! seam plugin `opentelemetry`: `plugins.opentelemetry.middlewares.OpenTelemetryMiddleware`.
//!
//! A server span for every request it sees (HTTP semantic conventions: method, route,
//! status), a client span for every upstream call an action makes (through the core's
//! [`seam_core::extensions::UpstreamTracing`]), and W3C `traceparent`/`tracestate`/`baggage`
//! taken from the client and given to the upstream. Spans and the HTTP server metrics are
//! exported over OTLP/HTTP (configured by the standard `OTEL_EXPORTER_OTLP_*` variables) or
//! written to standard output, from threads of their own, so a gateway on `--workers 1`
//! never waits on its exporter; they are flushed, within a bound, when the gateway stops.

mod config;
mod export_client;
mod middleware;
mod telemetry;
mod upstream;

pub use config::{OpenTelemetryMiddlewareConfig, ProviderConfig};
