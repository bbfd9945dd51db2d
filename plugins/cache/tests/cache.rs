//! CacheMiddleware in a chain in front of a counting action, on a test storage.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::BodyExt;
use seam_core::pipeline::Pipeline;
use seam_core::testing::{Harness, MapStorage};
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_cache::CacheMiddlewareConfig;
use serde_json::json;

/// Answers `<path> #<n>` where n counts the calls; `/private` answers `Cache-Control: private`.
#[derive(Default)]
struct Counting(AtomicUsize);

#[async_trait]
impl Action for Counting {
    async fn handle(&self, req: Request) -> Response {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        let mut response = Response::new(Body::from(format!("{} #{n}", req.uri().path())));
        if req.uri().path() == "/private" {
            response.headers_mut().insert("cache-control", "private".parse().unwrap());
        }
        response
    }
}

async fn chain() -> (Pipeline, Arc<Counting>) {
    let harness = Harness::new().storage("Cache", MapStorage::default());
    let cache = harness.build::<CacheMiddlewareConfig>(json!({ "storage": "Cache", "localSize": 0 })).await.unwrap();
    let app = Arc::new(Counting::default());
    (Pipeline::new(vec![cache], app.clone()), app)
}

fn request(method: &str, path: &str) -> Request {
    http::Request::builder().method(method).uri(path).header("host", "gw").body(Body::empty()).unwrap()
}

async fn answer(chain: &Pipeline, method: &str, path: &str) -> (String, String) {
    let response = chain.run(request(method, path)).await;
    let state = response.headers().get("x-cache").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (state, body)
}

#[tokio::test]
async fn a_second_get_is_served_from_the_cache() {
    let (chain, app) = chain().await;
    assert_eq!(answer(&chain, "GET", "/items").await, ("MISS".into(), "/items #1".into()));
    assert_eq!(answer(&chain, "GET", "/items").await, ("HIT".into(), "/items #1".into()));
    assert_eq!(answer(&chain, "GET", "/other").await, ("MISS".into(), "/other #2".into()));
    assert_eq!(app.0.load(Ordering::SeqCst), 2, "the hit did not reach the action");
}

#[tokio::test]
async fn posts_and_private_answers_are_not_stored() {
    let (chain, app) = chain().await;
    answer(&chain, "POST", "/items").await;
    let (_, body) = answer(&chain, "POST", "/items").await;
    assert_eq!(body, "/items #2", "a POST is never answered from the cache");
    answer(&chain, "GET", "/private").await;
    let (state, body) = answer(&chain, "GET", "/private").await;
    assert_eq!((state.as_str(), body.as_str()), ("MISS", "/private #4"), "Cache-Control: private is not stored");
    assert_eq!(app.0.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn every_mistake_of_the_config_is_reported() {
    let config = json!({ "expiration": "0s", "methods": ["GET", "NOT A METHOD"], "keyHeaders": ["bad header"] });
    let error = Harness::new().build::<CacheMiddlewareConfig>(config).await.err().expect("refused");
    assert_eq!(error.problems().len(), 3, "{error}");
}
