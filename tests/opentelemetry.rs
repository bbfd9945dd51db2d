//! OpenTelemetryMiddleware in `seam run --workers 1`, exporting over OTLP/HTTP to a collector
//! written in the test (it decodes the protobuf): the server span and the upstream call's
//! client span with the right parents, the `traceparent` the upstream receives, the HTTP
//! server metrics, the flush on shutdown, a collector that is down, and bad configs.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use support::{SeamProcess, Upstream, json, send};

/// What the collector received.
#[derive(Default)]
struct Received {
    /// Spans with their resource's `service.name`.
    spans: Vec<(String, Span)>,
    /// Names of the metrics received.
    metrics: Vec<String>,
}

/// An OTLP/HTTP collector (protobuf) on a free port.
async fn collector() -> (String, Arc<Mutex<Received>>) {
    let received = Arc::new(Mutex::new(Received::default()));
    let into = received.clone();
    let upstream = Upstream::start(move |req: http::Request<hyper::body::Incoming>| {
        let into = into.clone();
        async move {
            let path = req.uri().path().to_owned();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let mut received = into.lock().unwrap();
            match path.as_str() {
                "/v1/traces" => {
                    let request = ExportTraceServiceRequest::decode(body).expect("a protobuf trace export");
                    for resource_spans in request.resource_spans {
                        let service = resource_spans
                            .resource
                            .as_ref()
                            .and_then(|r| text_attribute(&r.attributes, "service.name"))
                            .unwrap_or_default();
                        for scope in resource_spans.scope_spans {
                            received.spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
                        }
                    }
                }
                "/v1/metrics" => {
                    let request = ExportMetricsServiceRequest::decode(body).expect("a protobuf metrics export");
                    for resource in request.resource_metrics {
                        for scope in resource.scope_metrics {
                            received.metrics.extend(scope.metrics.into_iter().map(|m| m.name));
                        }
                    }
                }
                other => panic!("unexpected export path {other}"),
            }
            http::Response::builder()
                .header("content-type", "application/x-protobuf")
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
    })
    .await;
    let url = upstream.url();
    std::mem::forget(upstream); // lives as long as the test process
    (url, received)
}

fn text_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| match &kv.value {
        Some(AnyValue { value: Some(Value::StringValue(s)) }) => Some(s.clone()),
        Some(AnyValue { value: Some(Value::IntValue(i)) }) => Some(i.to_string()),
        _ => None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The document: the plugin-level config in Seam's form, the middleware global, one route
/// to `upstream`.
fn document(upstream: &str) -> String {
    format!(
        "plugins:\n  - path: /plugins/opentelemetry.so\n    config: {{ providerConfig: {{ useOTLP: true, serviceName: test-gateway }} }}\n  - path: /plugins/httpfw.so\n\
         middlewares:\n  Otel: {{ use: plugins.opentelemetry.middlewares.OpenTelemetryMiddleware, config: {{ tracerName: seam-test }} }}\n\
         globalMiddlewares: [Otel]\n\
         actions:\n  Users: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{upstream}/u/:id\" }} }}\n\
         routes:\n  User: {{ gatewayPath: /users/:id, methods: [GET], action: Users }}\n"
    )
}

async fn wait_for(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {bound:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn get_with(url: &str, headers: &[(&str, &str)]) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn server_and_client_spans_reach_the_collector_with_the_gateway_as_the_upstreams_parent_on_one_worker() {
    let (collector, received) = collector().await;
    let upstream = Upstream::echo("users").await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300".to_owned()),
    ];
    let mut seam = SeamProcess::start_with(&document(&upstream.url()), &["--workers", "1"], &env).await;
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{client_trace}-{client_span}-01");
    let (status, headers, body) =
        send(get_with(&seam.url("/users/7"), &[("traceparent", &traceparent), ("baggage", "tenant=acme")])).await;
    assert_eq!(status, 200);
    let seen = json(&body);
    let upstream_parent = seen["headers"]["traceparent"].as_str().expect("the upstream got a traceparent").to_owned();
    let parts: Vec<&str> = upstream_parent.split('-').collect();
    assert_eq!((parts[0], parts[1], parts[3]), ("00", client_trace, "01"), "{upstream_parent}");
    assert_eq!(seen["headers"]["baggage"], "tenant=acme", "baggage travels on");

    wait_for("two spans exported", Duration::from_secs(15), || received.lock().unwrap().spans.len() >= 2).await;
    let spans = received.lock().unwrap().spans.clone();
    let server = spans.iter().find(|(_, s)| s.kind == 2).map(|(service, s)| (service.clone(), s.clone()));
    let client = spans.iter().find(|(_, s)| s.kind == 3).map(|(_, s)| s.clone());
    let ((service, server), client) = (server.expect("a server span"), client.expect("a client span"));
    assert_eq!(service, "test-gateway");
    assert_eq!(server.name, "GET /users/:id");
    assert_eq!(hex(&server.trace_id), client_trace, "the server span continues the client's trace");
    assert_eq!(hex(&server.parent_span_id), client_span, "the client's span is the server span's parent");
    assert_eq!(text_attribute(&server.attributes, "http.route").as_deref(), Some("/users/:id"));
    assert_eq!(text_attribute(&server.attributes, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(text_attribute(&server.attributes, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(hex(&client.trace_id), client_trace);
    assert_eq!(hex(&client.parent_span_id), hex(&server.span_id), "the client span is the server span's child");
    assert_eq!(parts[2], hex(&client.span_id), "the upstream's parent is the gateway's client span");
    assert_eq!(text_attribute(&client.attributes, "http.response.status_code").as_deref(), Some("200"));
    let answered = headers.get("traceparent").expect("the response carries the server span").to_str().unwrap();
    assert_eq!(answered, format!("00-{client_trace}-{}-01", hex(&server.span_id)));

    wait_for("the request duration metric exported", Duration::from_secs(15), || {
        received.lock().unwrap().metrics.iter().any(|m| m == "http.server.request.duration")
    })
    .await;
    seam.terminate(Duration::from_secs(20)).await;
}

#[tokio::test]
async fn spans_still_buffered_are_flushed_when_the_gateway_stops() {
    let (collector, received) = collector().await;
    let upstream = Upstream::echo("users").await;
    // Batches would leave only after ten minutes: what arrives was flushed by the shutdown.
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", collector), ("OTEL_BSP_SCHEDULE_DELAY", "600000".to_owned())];
    let mut seam = SeamProcess::start_with(&document(&upstream.url()), &["--workers", "1"], &env).await;
    let (status, _, body) = send(get_with(&seam.url("/users/1"), &[])).await;
    assert_eq!(status, 200);
    let upstream_trace = json(&body)["headers"]["traceparent"].as_str().unwrap().split('-').nth(1).unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(received.lock().unwrap().spans.is_empty(), "nothing is exported before the batch is due");
    seam.terminate(Duration::from_secs(20)).await;
    let spans = received.lock().unwrap().spans.clone();
    assert_eq!(spans.len(), 2, "the server and client spans were flushed on shutdown");
    assert!(spans.iter().all(|(_, s)| hex(&s.trace_id) == upstream_trace), "a new trace, the one the upstream saw");
    assert!(spans.iter().any(|(_, s)| s.kind == 2 && s.parent_span_id.is_empty()), "a root server span");
}

#[tokio::test]
async fn a_collector_that_is_down_neither_slows_requests_nor_holds_the_shutdown() {
    let upstream = Upstream::echo("users").await;
    let closed = format!("http://127.0.0.1:{}", seam_testkit::free_port());
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", closed),
        ("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000".to_owned()),
    ];
    let mut seam = SeamProcess::start_with(&document(&upstream.url()), &["--workers", "1"], &env).await;
    let started = Instant::now();
    for i in 0..50 {
        let (status, _, _) = send(get_with(&seam.url(&format!("/users/{i}")), &[])).await;
        assert_eq!(status, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(10), "50 requests took {:?}", started.elapsed());
    let took = seam.terminate(Duration::from_secs(30)).await;
    assert!(took < Duration::from_secs(25), "the shutdown took {took:?}");
}

fn check(document: &str) -> (bool, String) {
    check_with(document, &[])
}

fn check_with(document: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seam.yaml");
    std::fs::write(&path, document).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["check", "--offline", path.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_bad_provider_config_is_an_error_at_its_line_not_a_panic() {
    let otel = "middlewares:\n  Otel: { use: plugins.opentelemetry.middlewares.OpenTelemetryMiddleware }\nglobalMiddlewares: [Otel]\n";
    let (ok, stderr) = check(&format!(
        "plugins:\n  - path: /plugins/opentelemetry.so\n    config:\n      providerConfig:\n        useOTLP: maybe\n{otel}"
    ));
    assert!(!ok);
    assert!(stderr.contains("seam.yaml:5:18"), "{stderr}");
    assert!(!stderr.contains("panick"), "{stderr}");
    let (ok, stderr) = check(&format!(
        "plugins:\n  - path: /plugins/opentelemetry.so\n    config:\n      providerConfig: {{ serviceNam: x }}\n{otel}"
    ));
    assert!(!ok);
    assert!(stderr.contains("seam.yaml:4:") && stderr.contains("serviceName"), "{stderr}");
    let (ok, stderr) = check(&format!(
        "plugins:\n  - path: /plugins/opentelemetry.so\n    config: {{ provider: plugins.x.providers.Custom }}\n{otel}"
    ));
    assert!(!ok);
    assert!(
        stderr.contains("seam.yaml:3:") && stderr.contains("plugins.opentelemetry.providers.DefaultTelemetryProvider"),
        "{stderr}"
    );
    let (ok, stderr) = check_with(
        &format!(
            "plugins:\n  - path: /plugins/opentelemetry.so\n    config: {{ providerConfig: {{ useOTLP: true }} }}\n{otel}"
        ),
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
    );
    assert!(!ok);
    assert!(stderr.contains("seam.yaml:3:") && stderr.contains("http/protobuf"), "{stderr}");
}
