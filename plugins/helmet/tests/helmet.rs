//! HelmetMiddleware, with the cases of Fiber's `middleware/helmet/helmet_test.go`
//! (`Test_Default`, `Test_CustomValues_AllHeaders`, `Test_ContentSecurityPolicy`,
//! `Test_ContentSecurityPolicyReportOnly`, `Test_PermissionsPolicy`) and seam's additions.

use std::sync::Arc;

use seam_core::extensions::Client;
use seam_core::pipeline::Pipeline;
use seam_core::testing::Harness;
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_helmet::HelmetMiddlewareConfig;
use serde_json::{Value, json};

/// An upstream that sets its own `X-Frame-Options`.
struct Upstream;

#[async_trait]
impl Action for Upstream {
    async fn handle(&self, _req: Request) -> Response {
        let mut response = Response::new(Body::empty());
        response.headers_mut().insert("x-frame-options", "DENY".parse().unwrap());
        response
    }
}

async fn run(config: Value, scheme: &'static str) -> Response {
    let middleware = Harness::new().build::<HelmetMiddlewareConfig>(config).await.unwrap();
    let chain = Pipeline::new(vec![middleware], Arc::new(Upstream));
    let mut request = http::Request::get("/").body(Body::empty()).unwrap();
    request.extensions_mut().insert(Client::new(([192, 0, 2, 1], 4000).into(), scheme));
    chain.run(request).await
}

fn get<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn defaults() {
    let response = run(json!({}), "http").await;
    let expected = [
        ("x-xss-protection", "0"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-embedder-policy", "require-corp"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("origin-agent-cluster", "?1"),
        ("x-dns-prefetch-control", "off"),
        ("x-download-options", "noopen"),
        ("x-permitted-cross-domain-policies", "none"),
    ];
    for (name, value) in expected {
        assert_eq!(get(&response, name), Some(value), "{name}");
    }
    for absent in ["content-security-policy", "permissions-policy", "strict-transport-security"] {
        assert_eq!(get(&response, absent), None, "{absent}");
    }
}

#[tokio::test]
async fn custom_values_and_empty_ones_keep_the_default() {
    let config = json!({
        "xssProtection": "1", "contentTypeNosniff": "", "xFrameOptions": "DENY", "referrerPolicy": "strict-origin",
        "crossOriginEmbedderPolicy": "credentialless", "crossOriginOpenerPolicy": "same-origin-allow-popups",
        "crossOriginResourcePolicy": "cross-origin", "originAgentCluster": "?0", "xdnsPrefetchControl": "on",
        "xDownloadOptions": "open", "xPermittedCrossDomain": "master-only",
    });
    let response = run(config, "http").await;
    for (name, value) in [
        ("x-xss-protection", "1"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin"),
        ("cross-origin-embedder-policy", "credentialless"),
        ("cross-origin-opener-policy", "same-origin-allow-popups"),
        ("cross-origin-resource-policy", "cross-origin"),
        ("origin-agent-cluster", "?0"),
        ("x-dns-prefetch-control", "on"),
        ("x-download-options", "open"),
        ("x-permitted-cross-domain-policies", "master-only"),
    ] {
        assert_eq!(get(&response, name), Some(value), "{name}");
    }
}

#[tokio::test]
async fn content_security_and_permissions_policies() {
    let csp = "default-src 'self'";
    let response = run(json!({ "contentSecurityPolicy": csp, "permissionPolicy": "microphone=()" }), "http").await;
    assert_eq!(get(&response, "content-security-policy"), Some(csp));
    assert_eq!(get(&response, "permissions-policy"), Some("microphone=()"));
    let report_only = run(json!({ "contentSecurityPolicy": csp, "cspReportOnly": true }), "http").await;
    assert_eq!(get(&report_only, "content-security-policy-report-only"), Some(csp));
    assert_eq!(get(&report_only, "content-security-policy"), None);
}

#[tokio::test]
async fn hsts_only_over_https() {
    let config = json!({ "hstsMaxAge": 31536000 });
    assert_eq!(get(&run(config.clone(), "http").await, "strict-transport-security"), None);
    assert_eq!(
        get(&run(config, "https").await, "strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    let all = json!({ "hstsMaxAge": 60, "hstsExcludeSubdomains": true, "hstsPreloadEnabled": true });
    assert_eq!(get(&run(all, "https").await, "strict-transport-security"), Some("max-age=60; preload"));
}

#[tokio::test]
async fn omit_and_who_wins_over_the_upstream() {
    let response = run(json!({ "omit": ["Cross-Origin-Embedder-Policy"] }), "http").await;
    assert_eq!(get(&response, "cross-origin-embedder-policy"), None);
    assert_eq!(get(&response, "x-frame-options"), Some("SAMEORIGIN"), "the middleware's value replaces the upstream's");
    let keep = run(json!({ "overrideUpstream": false }), "http").await;
    assert_eq!(get(&keep, "x-frame-options"), Some("DENY"), "the upstream's own value is kept");
    assert_eq!(get(&keep, "x-content-type-options"), Some("nosniff"));
    let error = Harness::new()
        .build::<HelmetMiddlewareConfig>(json!({ "omit": ["X-Nope"], "referrerPolicy": "bad\nvalue" }))
        .await;
    assert_eq!(error.err().expect("refused").problems().len(), 2);
}
