//! LimiterMiddleware in a chain, on a test storage with an atomic counter.

use std::net::SocketAddr;
use std::sync::Arc;

use seam_core::extensions::ClientAddr;
use seam_core::pipeline::Pipeline;
use seam_core::testing::{Harness, MapStorage};
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_limiter::LimiterMiddlewareConfig;
use serde_json::json;

struct Ok200;

#[async_trait]
impl Action for Ok200 {
    async fn handle(&self, _req: Request) -> Response {
        Response::new(Body::from("ok"))
    }
}

fn from(ip: &str) -> Request {
    let mut request = Request::new(Body::empty());
    let addr: SocketAddr = format!("{ip}:5000").parse().unwrap();
    request.extensions_mut().insert(ClientAddr(addr));
    request
}

#[tokio::test]
async fn the_request_after_the_limit_gets_429_and_other_clients_are_counted_apart() {
    let harness = Harness::new().storage("Counters", MapStorage::default());
    let config = json!({ "storage": "Counters", "maxConnections": 2, "expiration": "1m" });
    let limiter = harness.build::<LimiterMiddlewareConfig>(config).await.unwrap();
    let chain = Pipeline::new(vec![limiter], Arc::new(Ok200));

    let first = chain.run(from("10.0.0.1")).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit"], "2");
    assert_eq!(first.headers()["x-ratelimit-remaining"], "1");
    assert_eq!(chain.run(from("10.0.0.1")).await.status(), 200);
    let refused = chain.run(from("10.0.0.1")).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(chain.run(from("10.0.0.2")).await.status(), 200, "another client has its own count");
}
