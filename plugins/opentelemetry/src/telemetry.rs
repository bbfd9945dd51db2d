//! The providers of spans and metrics, their exporters, and their flush: one set per
//! distinct `providerConfig` in the process, shared by every middleware using it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};

use crate::config::ProviderConfig;
use crate::export_client::ExportClient;

/// The span and metric providers of one `providerConfig`.
pub struct Telemetry {
    /// `None` with `disableTraces`.
    pub traces: Option<SdkTracerProvider>,
    /// `None` with `disableMetrics`.
    pub metrics: Option<SdkMeterProvider>,
}

/// The live providers by config, so two middlewares with the same config share exporters.
static SHARED: Mutex<Option<HashMap<ProviderConfig, Weak<Telemetry>>>> = Mutex::new(None);

impl Telemetry {
    /// The providers of `config`, made on first use.
    pub fn shared(config: &ProviderConfig) -> Result<Arc<Telemetry>, String> {
        let mut shared = SHARED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let map = shared.get_or_insert_with(HashMap::new);
        map.retain(|_, t| t.strong_count() > 0);
        if let Some(live) = map.get(config).and_then(Weak::upgrade) {
            return Ok(live);
        }
        let made = Arc::new(Telemetry::new(config)?);
        map.insert(config.clone(), Arc::downgrade(&made));
        Ok(made)
    }

    fn new(config: &ProviderConfig) -> Result<Telemetry, String> {
        let protocol = if config.use_otlp { Some(otlp_protocol()?) } else { None };
        let resource = resource(config);
        let traces = match (config.disable_traces, protocol) {
            (true, _) => None,
            (false, Some(protocol)) => {
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(protocol)
                    .with_http_client(ExportClient::new()?)
                    .build()
                    .map_err(|e| e.to_string())?;
                Some(tracer_provider(resource.clone(), BatchSpanProcessor::builder(exporter).build()))
            }
            (false, None) => {
                let exporter = opentelemetry_stdout::SpanExporter::default();
                Some(tracer_provider(resource.clone(), BatchSpanProcessor::builder(exporter).build()))
            }
        };
        let metrics = match (config.disable_metrics, protocol) {
            (true, _) => None,
            (false, Some(protocol)) => {
                let exporter = opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_protocol(protocol)
                    .with_http_client(ExportClient::new()?)
                    .build()
                    .map_err(|e| e.to_string())?;
                Some(meter_provider(resource, PeriodicReader::builder(exporter).build()))
            }
            (false, None) => {
                let exporter = opentelemetry_stdout::MetricExporter::default();
                Some(meter_provider(resource, PeriodicReader::builder(exporter).build()))
            }
        };
        Ok(Telemetry { traces, metrics })
    }

    /// Exports what is buffered, waiting at most about `bound` (blocking: call it off the
    /// request path).
    pub fn flush(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(traces) = &self.traces
            && let Err(e) = traces.force_flush()
        {
            problems.push(format!("flushing spans failed: {e}"));
        }
        if let Some(metrics) = &self.metrics
            && let Err(e) = metrics.force_flush()
        {
            problems.push(format!("flushing metrics failed: {e}"));
        }
        problems
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // The last user is gone: stop the exporters' threads (what is left is sent first).
        if let Some(traces) = &self.traces {
            let _ = traces.shutdown_with_timeout(Duration::from_secs(5));
        }
        if let Some(metrics) = &self.metrics {
            let _ = metrics.shutdown_with_timeout(Duration::from_secs(5));
        }
    }
}

fn tracer_provider(resource: Resource, processor: BatchSpanProcessor) -> SdkTracerProvider {
    SdkTracerProvider::builder().with_resource(resource).with_span_processor(processor).build()
}

fn meter_provider<E: PushMetricExporter>(resource: Resource, reader: PeriodicReader<E>) -> SdkMeterProvider {
    SdkMeterProvider::builder().with_resource(resource).with_reader(reader).build()
}

/// `service.name` from the config unless `OTEL_SERVICE_NAME` is set; `OTEL_RESOURCE_ATTRIBUTES`
/// and the SDK's own attributes are kept.
fn resource(config: &ProviderConfig) -> Resource {
    let builder = Resource::builder();
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some_and(|v| !v.is_empty());
    if named { builder.build() } else { builder.with_service_name(config.service_name.clone()).build() }
}

/// The OTLP protocol from `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`: HTTP with protobuf (the
/// default) or JSON; gRPC is not built in.
fn otlp_protocol() -> Result<Protocol, String> {
    let chosen = ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()).map(|v| (*name, v)));
    match chosen {
        None => Ok(Protocol::HttpBinary),
        Some((_, v)) if v == "http/protobuf" => Ok(Protocol::HttpBinary),
        Some((_, v)) if v == "http/json" => Ok(Protocol::HttpJson),
        Some((name, v)) => Err(format!(
            "{name}={v} is not supported: seam exports OTLP over HTTP (`http/protobuf` or `http/json`); \
             point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port (4318)"
        )),
    }
}
