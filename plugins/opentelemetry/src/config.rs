//! The middleware's config (with Seam's plugin-level keys) and its build.

use std::sync::Arc;

use schemars::JsonSchema;
use seam_core::{BuildContext, BuildError, Component, Middleware, Problem, Problems, async_trait};
use serde::{Deserialize, Serialize};

use crate::middleware::OpenTelemetryMiddleware;
use crate::telemetry::Telemetry;

/// The name of the one telemetry provider of this build (Seam's default provider).
pub const DEFAULT_PROVIDER: &str = "plugins.opentelemetry.providers.DefaultTelemetryProvider";

/// How spans and metrics leave the gateway (Seam's `providerConfig`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ProviderConfig {
    /// The `service.name` of the gateway's spans and metrics; the `OTEL_SERVICE_NAME` variable, when set, wins.
    pub service_name: String,
    /// `true`: export over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`; `OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT`, `_PROTOCOL` = `http/protobuf` or `http/json` apply). `false`: write them to standard output.
    #[serde(rename = "useOTLP")]
    pub use_otlp: bool,
    /// Record no spans (and send no `traceparent` upstream).
    pub disable_traces: bool,
    /// Record no metrics (`http.server.request.duration`, `http.server.active_requests`).
    pub disable_metrics: bool,
    /// Accepted for Seam's documents; seam's own logs go to standard error (`--log-format json` for collectors), not through OpenTelemetry.
    pub disable_logs: bool,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            service_name: "seam-api-gateway".into(),
            use_otlp: false,
            disable_traces: false,
            disable_metrics: false,
            disable_logs: false,
        }
    }
}

/// Traces every request it sees with OpenTelemetry: a server span per request (named `METHOD /route/:pattern`, with the HTTP semantic-convention attributes), a client span per upstream call, and W3C `traceparent`/`tracestate`/`baggage` propagated from the client to the upstream.
///
/// Put it first in `globalMiddlewares` to time whole requests. `provider`, `providerConfig`
/// and `contextTracerKey` are usually set once in the plugin's `config:` under `plugins:`.
/// The response carries the server span's `traceparent`.
#[seam_core::component(name = "plugins.opentelemetry.middlewares.OpenTelemetryMiddleware")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct OpenTelemetryMiddlewareConfig {
    /// The name of the tracer: the instrumentation scope of the spans and metrics.
    pub tracer_name: String,
    /// The telemetry provider: empty for the default, the only one in this build (`plugins.opentelemetry.providers.DefaultTelemetryProvider`).
    pub provider: String,
    /// How spans and metrics are exported.
    pub provider_config: ProviderConfig,
    /// The name under which the request's W3C `traceparent` is kept in the request's locals (a logger prints it with `${locals:openTelemetryTracer}`).
    pub context_tracer_key: String,
}

impl Default for OpenTelemetryMiddlewareConfig {
    fn default() -> Self {
        OpenTelemetryMiddlewareConfig {
            tracer_name: "seam".into(),
            provider: String::new(),
            provider_config: ProviderConfig::default(),
            context_tracer_key: "openTelemetryTracer".into(),
        }
    }
}

#[async_trait]
impl Component for OpenTelemetryMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        problems.ensure(self.provider.is_empty() || self.provider == DEFAULT_PROVIDER, || {
            Problem::field("provider", format!("unknown telemetry provider `{}`", self.provider))
                .help(format!("the only provider in this build is `{DEFAULT_PROVIDER}`; leave `provider` empty for it"))
        });
        problems.ensure(!self.tracer_name.is_empty(), || Problem::field("tracerName", "tracerName must not be empty"));
        problems.ensure(!self.context_tracer_key.is_empty(), || {
            Problem::field("contextTracerKey", "contextTracerKey must not be empty")
        });
        let telemetry =
            problems.check(Telemetry::shared(&self.provider_config).map_err(|e| {
                Problem::field("providerConfig", format!("cannot set up the OpenTelemetry exporters: {e}"))
            }));
        let built = telemetry.map(|telemetry| {
            Arc::new(OpenTelemetryMiddleware::new(telemetry, &self.tracer_name, &self.context_tracer_key))
                as Arc<dyn Middleware>
        });
        problems.finish(built)
    }
}
