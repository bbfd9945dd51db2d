//! RequestIdMiddleware, with the cases of Fiber's `middleware/requestid/requestid_test.go`
//! (`Test_RequestID`, `Test_RequestID_Locals`, `Test_RequestID_DefaultKey`) and the hostile
//! ones Fiber lets through.

use std::sync::Arc;

use seam_core::extensions::{Locals, RequestId};
use seam_core::pipeline::Pipeline;
use seam_core::testing::Harness;
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_requestid::RequestIdMiddlewareConfig;
use serde_json::json;

/// Answers with what it received: the id header, the extension and the locals.
struct Upstream;

#[async_trait]
impl Action for Upstream {
    async fn handle(&self, req: Request) -> Response {
        let header = req.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let extension = req.extensions().get::<RequestId>().map(|r| r.0.to_string()).unwrap_or_default();
        let locals = req.extensions().get::<Locals>().cloned().unwrap_or_default();
        let local = locals.get("requestId").or(locals.get("trace")).unwrap_or_default().to_owned();
        let mut response = Response::new(Body::empty());
        for (name, value) in [("x-seen-header", header), ("x-seen-extension", extension), ("x-seen-local", local)] {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        response
    }
}

async fn chain(config: serde_json::Value) -> Pipeline {
    let middleware = Harness::new().build::<RequestIdMiddlewareConfig>(config).await.unwrap();
    Pipeline::new(vec![middleware], Arc::new(Upstream))
}

fn request(id: Option<&str>) -> Request {
    let mut builder = http::Request::get("/");
    if let Some(id) = id {
        builder = builder.header("x-request-id", id);
    }
    builder.body(Body::empty()).unwrap()
}

fn header(response: &Response, name: &str) -> String {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_uuid_is_generated_and_reaches_the_upstream_the_response_and_the_locals() {
    let chain = chain(json!({})).await;
    let response = chain.run(request(None)).await;
    let id = header(&response, "x-request-id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(uuid_version(&id), '4');
    assert_eq!(header(&response, "x-seen-header"), id, "the upstream gets it");
    assert_eq!(header(&response, "x-seen-extension"), id);
    assert_eq!(header(&response, "x-seen-local"), id, "under the default contextKey `requestId`");
    assert_eq!(response.extensions().get::<RequestId>().map(|r| r.0.to_string()), Some(id.clone()));
    let other = header(&chain.run(request(None)).await, "x-request-id");
    assert_ne!(other, id, "each request its own");
}

fn uuid_version(id: &str) -> char {
    id.chars().nth(14).unwrap()
}

#[tokio::test]
async fn a_sane_client_id_is_kept() {
    let chain = chain(json!({})).await;
    for id in ["abc-123", "0af7651916cd43dd8448eb211c80319c", "trace:1.2/3+4=", &"x".repeat(128)] {
        let response = chain.run(request(Some(id))).await;
        assert_eq!(header(&response, "x-request-id"), id);
        assert_eq!(header(&response, "x-seen-header"), id);
    }
}

#[tokio::test]
async fn a_hostile_client_id_is_replaced() {
    let chain = chain(json!({})).await;
    for id in ["", "has space", "quote\"d", "semi;colon", "new\tline", &"x".repeat(129), "émoji"] {
        let request = http::Request::get("/")
            .header("x-request-id", http::HeaderValue::from_bytes(id.as_bytes()).unwrap())
            .body(Body::empty())
            .unwrap();
        let response = chain.run(request).await;
        let got = header(&response, "x-request-id");
        assert_eq!(got.len(), 36, "`{id}` is replaced by a UUID, got `{got}`");
        assert_eq!(header(&response, "x-seen-header"), got, "the upstream never sees the hostile value");
    }
}

#[tokio::test]
async fn a_custom_header_and_context_key() {
    let middleware = Harness::new()
        .build::<RequestIdMiddlewareConfig>(json!({ "headerName": "X-Trace", "contextKey": "trace" }))
        .await
        .unwrap();
    let chain = Pipeline::new(vec![middleware], Arc::new(Upstream));
    let response = chain.run(http::Request::get("/").header("x-trace", "t-1").body(Body::empty()).unwrap()).await;
    assert_eq!(header(&response, "x-trace"), "t-1");
    assert_eq!(header(&response, "x-seen-local"), "t-1");
}

#[tokio::test]
async fn a_bad_header_name_is_refused_at_load() {
    let error = Harness::new().build::<RequestIdMiddlewareConfig>(json!({ "headerName": "bad name" })).await;
    let error = error.err().expect("refused").to_string();
    assert!(error.contains("not a valid header name"), "{error}");
}
