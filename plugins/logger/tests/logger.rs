//! LoggerMiddleware: lines from the template, written by its thread (cases after Fiber's
//! `middleware/logger/logger_test.go`: `Test_Logger`, `Test_Logger_locals`,
//! `Test_Logger_All`, `Test_ReqHeader`, `Test_RespHeader`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use seam_core::extensions::{Client, Locals};
use seam_core::pipeline::Pipeline;
use seam_core::testing::Harness;
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_logger::LoggerMiddlewareConfig;
use serde_json::json;

struct Upstream;

#[async_trait]
impl Action for Upstream {
    async fn handle(&self, req: Request) -> Response {
        let mut response = Response::new(Body::from("hello"));
        if req.uri().path() == "/fail" {
            *response.status_mut() = http::StatusCode::BAD_GATEWAY;
        }
        response.headers_mut().insert("x-served-by", "up-1".parse().unwrap());
        response
    }
}

/// Runs one request through a logger writing to a file; returns the file's text once it
/// has `lines` lines.
async fn log_of(config: serde_json::Value, requests: Vec<Request>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut config = config;
    config["output"] = json!(path.to_str().unwrap());
    let logger = Harness::new().build::<LoggerMiddlewareConfig>(config).await.unwrap();
    let chain = Pipeline::new(vec![logger], Arc::new(Upstream));
    let count = requests.len();
    for request in requests {
        chain.run(request).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= count {
            return text;
        }
        assert!(Instant::now() < deadline, "the log has {text:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn request(method: &str, uri: &str) -> Request {
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("x-env", "prod")
        .header("x-forwarded-for", "203.0.113.1, 10.0.0.1")
        .header("content-length", "0")
        .body(Body::empty())
        .unwrap();
    // Behind a trusted proxy at 10.0.0.1: the client's IP is the forwarded one.
    let client = Client { addr: "10.0.0.1:5000".parse().unwrap(), ip: "203.0.113.1".parse().unwrap(), scheme: "https" };
    request.extensions_mut().insert(client);
    Locals::set(request.extensions_mut(), "requestId".into(), "rid-7".into());
    request
}

#[tokio::test]
async fn every_tag() {
    let format = "${status}|${method}|${path}|${url}|${query}|${ip}|${ips}|${protocol}|${bytesSent}|${bytesReceived}|${reqHeader:X-Env}|${respHeader:X-Served-By}|${locals:requestId}|${error}|${pid}\n";
    let log = log_of(json!({ "format": format }), vec![request("GET", "/a/b?x=1"), request("POST", "/fail")]).await;
    let lines: Vec<&str> = log.lines().collect();
    let pid = std::process::id();
    assert_eq!(
        lines[0],
        format!("200|GET|/a/b|/a/b?x=1|x=1|203.0.113.1|203.0.113.1, 10.0.0.1|https|5|0|prod|up-1|rid-7||{pid}")
    );
    assert_eq!(
        lines[1],
        format!("502|POST|/fail|/fail||203.0.113.1|203.0.113.1, 10.0.0.1|https|5|0|prod|up-1|rid-7|Bad Gateway|{pid}")
    );
}

#[tokio::test]
async fn time_latency_and_colors() {
    let format = "${time} ${latency} ${green}${status}${reset}\n";
    let plain = log_of(
        json!({ "format": format, "timeFormat": "2006-01-02T15:04:05Z07:00", "disableColors": true }),
        vec![request("GET", "/")],
    )
    .await;
    let (time, rest) = plain.trim_end().split_once(' ').unwrap();
    assert!(jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%:z", time).is_ok() || time.ends_with("+00:00"), "{time}");
    let (latency, status) = rest.split_once(' ').unwrap();
    assert!(latency.ends_with("s"), "{latency}");
    assert_eq!(status, "200", "no color codes with disableColors");
    let colored = log_of(json!({ "format": format }), vec![request("GET", "/")]).await;
    assert!(colored.contains("\x1b[92m200\x1b[0m"), "{colored:?}");
}

#[tokio::test]
async fn mistakes_are_refused_at_load() {
    let cases = [
        (json!({ "format": "${stauts}" }), "did you mean `${status}`?"),
        (json!({ "format": "${status" }), "unterminated"),
        (json!({ "timeZone": "Mars/Olympus" }), "unknown time zone"),
        (json!({ "output": "/nonexistent/dir/log" }), "cannot open"),
    ];
    for (config, expected) in cases {
        let error = Harness::new().build::<LoggerMiddlewareConfig>(config.clone()).await.err().expect("refused");
        let text = format!("{error} {:?}", error.problems());
        assert!(text.contains(expected), "{config}: {text}");
    }
}
