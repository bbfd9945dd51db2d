//! CORSMiddleware, with the cases of Fiber's `middleware/cors/cors_test.go` (v2.52.5) that
//! Seam's keys reach, as tables.

use std::sync::Arc;

use seam_core::pipeline::Pipeline;
use seam_core::testing::Harness;
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_cors::CorsMiddlewareConfig;
use serde_json::{Value, json};

/// An upstream that sets headers of its own, and counts as "the action ran".
struct Upstream;

#[async_trait]
impl Action for Upstream {
    async fn handle(&self, _req: Request) -> Response {
        let mut response = Response::new(Body::from("from the upstream"));
        response.headers_mut().insert("vary", "Accept-Encoding".parse().unwrap());
        response.headers_mut().insert("x-upstream", "1".parse().unwrap());
        response
    }
}

async fn chain(config: Value) -> Pipeline {
    let middleware = Harness::new().build::<CorsMiddlewareConfig>(config).await.unwrap();
    Pipeline::new(vec![middleware], Arc::new(Upstream))
}

fn request(method: &str, headers: &[(&str, &str)]) -> Request {
    let mut builder = http::Request::builder().method(method).uri("/");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

fn get(response: &Response, name: &str) -> Option<String> {
    let values: Vec<&str> = response.headers().get_all(name).iter().map(|v| v.to_str().unwrap()).collect();
    (!values.is_empty()).then(|| values.join(", "))
}

const PREFLIGHT: &[(&str, &str)] = &[("origin", "http://localhost"), ("access-control-request-method", "GET")];

/// `Test_CORS_Defaults`, `Test_CORS_Empty_Config`.
#[tokio::test]
async fn defaults() {
    for config in [json!({}), json!({ "allowOrigins": "*" })] {
        let chain = chain(config).await;
        let response = chain.run(request("GET", &[("origin", "http://localhost")])).await;
        assert_eq!(get(&response, "access-control-allow-origin").as_deref(), Some("*"));
        assert_eq!(get(&response, "x-upstream").as_deref(), Some("1"), "the action ran");
        assert_eq!(get(&response, "access-control-allow-credentials"), None);
        assert_eq!(get(&response, "access-control-expose-headers"), None);
        let preflight = chain.run(request("OPTIONS", PREFLIGHT)).await;
        assert_eq!(preflight.status(), 204);
        assert_eq!(get(&preflight, "x-upstream"), None, "a preflight stops the chain");
        assert_eq!(get(&preflight, "access-control-allow-origin").as_deref(), Some("*"));
        assert_eq!(get(&preflight, "access-control-allow-methods").as_deref(), Some("GET,POST,HEAD,PUT,DELETE,PATCH"));
        assert_eq!(get(&preflight, "access-control-allow-headers"), None);
        assert_eq!(get(&preflight, "access-control-max-age"), None);
    }
}

/// `Test_CORS_Negative_MaxAge`, `Test_CORS_Wildcard`.
#[tokio::test]
async fn max_age_and_expose_headers() {
    for (max_age, want) in [(-1, Some("0")), (0, None), (3600, Some("3600"))] {
        let chain = chain(json!({ "maxAge": max_age, "exposeHeaders": "X-Request-ID, X-Total" })).await;
        let preflight = chain.run(request("OPTIONS", PREFLIGHT)).await;
        assert_eq!(get(&preflight, "access-control-max-age").as_deref(), want, "maxAge {max_age}");
        assert_eq!(get(&preflight, "access-control-expose-headers").as_deref(), Some("X-Request-ID,X-Total"));
    }
}

/// `Test_CORS_AllowOrigins_Vary`.
#[tokio::test]
async fn vary_origin_unless_every_origin_is_allowed() {
    let listed = chain(json!({ "allowOrigins": "http://localhost" })).await;
    let all = chain(json!({})).await;
    /// Method, request headers, `Vary` with listed origins, `Vary` with every origin.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>, Option<&'a str>);
    let cases: [Case; 4] = [
        ("GET", &[], Some("Accept-Encoding, Origin"), Some("Accept-Encoding")),
        ("GET", &[("origin", "http://localhost")], Some("Accept-Encoding, Origin"), Some("Accept-Encoding")),
        (
            "OPTIONS",
            &[("origin", "http://localhost")],
            Some("Accept-Encoding, Origin"),
            Some("Accept-Encoding, Origin"),
        ),
        (
            "OPTIONS",
            PREFLIGHT,
            Some("Access-Control-Request-Method, Access-Control-Request-Headers, Origin"),
            Some("Access-Control-Request-Method, Access-Control-Request-Headers, Origin"),
        ),
    ];
    for (method, headers, want_listed, want_all) in cases {
        assert_eq!(
            get(&listed.run(request(method, headers)).await, "vary").as_deref(),
            want_listed,
            "{method} {headers:?}"
        );
        assert_eq!(get(&all.run(request(method, headers)).await, "vary").as_deref(), want_all, "{method} {headers:?}");
    }
}

/// `Test_CORS_Origin_AllowCredentials`, `Test_CORS_AllowCredentials`,
/// `Test_CORS_AllowOriginScheme`, `Test_CORS_AllowOriginHeader_NoMatch`, `Test_CORS_Subdomain`.
#[tokio::test]
async fn which_origins_are_allowed() {
    let cases = [
        ("http://localhost", true, "http://localhost", Some("http://localhost"), Some("true")),
        ("http://localhost", true, "http://LOCALHOST", Some("http://LOCALHOST"), Some("true")),
        ("http://localhost", false, "http://localhost", Some("http://localhost"), None),
        ("http://localhost", true, "https://localhost", None, None),
        ("http://localhost", true, "http://localhost:8080", None, None),
        ("http://example.com, https://example.com/", false, "https://example.com", Some("https://example.com"), None),
        ("http://example.com", false, "http://evil.com", None, None),
        ("https://*.example.com", false, "https://api.example.com", Some("https://api.example.com"), None),
        ("https://*.example.com", false, "https://a.b.example.com", Some("https://a.b.example.com"), None),
        ("https://*.example.com", false, "https://example.com", None, None),
        ("https://*.example.com", false, "http://api.example.com", None, None),
        ("https://*.example.com", false, "https://api.example.com.evil.com", None, None),
    ];
    for (allow, credentials, origin, want_origin, want_credentials) in cases {
        let chain = chain(json!({ "allowOrigins": allow, "allowCredentials": credentials })).await;
        for method in ["GET", "OPTIONS"] {
            let response =
                chain.run(request(method, &[("origin", origin), ("access-control-request-method", "GET")])).await;
            assert_eq!(
                get(&response, "access-control-allow-origin").as_deref(),
                want_origin,
                "{allow} / {origin} / {method}"
            );
            assert_eq!(
                get(&response, "access-control-allow-credentials").as_deref(),
                want_credentials,
                "{allow} / {origin}"
            );
            if method == "GET" {
                assert_eq!(get(&response, "x-upstream").as_deref(), Some("1"), "a CORS mismatch is never refused");
            }
        }
    }
}

/// `Test_CORS_Headers_BasedOnRequestType`: what a preflight asks for is echoed unless
/// `allowHeaders` is set.
#[tokio::test]
async fn allow_headers_echo_or_configured() {
    let asked = [
        ("origin", "http://localhost"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "X-Custom, Content-Type"),
    ];
    let echo = chain(json!({})).await.run(request("OPTIONS", &asked)).await;
    assert_eq!(get(&echo, "access-control-allow-headers").as_deref(), Some("X-Custom, Content-Type"));
    let set =
        chain(json!({ "allowHeaders": "Content-Type, Authorization" })).await.run(request("OPTIONS", &asked)).await;
    assert_eq!(get(&set, "access-control-allow-headers").as_deref(), Some("Content-Type,Authorization"));
    let methods = chain(json!({ "allowMethods": "GET, POST" })).await.run(request("OPTIONS", &asked)).await;
    assert_eq!(get(&methods, "access-control-allow-methods").as_deref(), Some("GET,POST"));
}

/// `Test_CORS_Wildcard_AllowCredentials_Panic`, `Test_CORS_Invalid_Origins_Panic`: Fiber
/// panics; seam refuses the document with the key.
#[tokio::test]
async fn unsafe_or_malformed_setups_are_refused_at_load() {
    let cases = [
        (json!({ "allowCredentials": true }), "allowCredentials"),
        (json!({ "allowOrigins": "*", "allowCredentials": true }), "allowCredentials"),
        (json!({ "allowOrigins": "http://" }), "allowOrigins"),
        (json!({ "allowOrigins": "http://example.com/path" }), "allowOrigins"),
        (json!({ "allowOrigins": "http://example.com?q=1" }), "allowOrigins"),
        (json!({ "allowOrigins": "https://*" }), "allowOrigins"),
        (json!({ "allowOrigins": "ftp://example.com" }), "allowOrigins"),
        (json!({ "allowOrigins": "http://a.com," }), "allowOrigins"),
        (json!({ "allowOrigins": "localhost" }), "allowOrigins"),
    ];
    for (config, key) in cases {
        let error = Harness::new().build::<CorsMiddlewareConfig>(config.clone()).await.err().expect("refused");
        let paths: Vec<String> = error.problems().iter().map(|p| format!("{:?}", p.path)).collect();
        assert!(paths.iter().any(|p| p.contains(key)), "{config}: {paths:?} ({error})");
    }
}
