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
    let config =
        json!({ "targetedFields": ["bad field"], "methods": ["GET", "NOT A METHOD"], "keyHeaders": ["bad header"] });
    let error = Harness::new().build::<CacheMiddlewareConfig>(config).await.err().expect("refused");
    assert_eq!(error.problems().len(), 3, "{error}");
}

/// Answers with the request's `accept-language`, counting calls; `Vary: Accept-Language`;
/// `/public` is `Cache-Control: public`; `/session` sets the header `x-session-id`;
/// `/marked` is marked per-client; `/slow` takes 300 ms.
#[derive(Default)]
struct Negotiating(AtomicUsize);

#[async_trait]
impl Action for Negotiating {
    async fn handle(&self, req: Request) -> Response {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        let lang = req.headers().get("accept-language").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let path = req.uri().path().to_owned();
        if path == "/slow" {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let mut response = Response::new(Body::from(format!("{lang} #{n}")));
        response.headers_mut().insert("vary", "Accept-Language".parse().unwrap());
        match path.as_str() {
            "/public" => {
                response.headers_mut().insert("cache-control", "public, max-age=60".parse().unwrap());
            }
            "/session" => {
                response.headers_mut().insert("x-session-id", "a-new-session-id".parse().unwrap());
            }
            "/marked" => {
                response.extensions_mut().insert(seam_core::extensions::PerClient);
            }
            "/star" => {
                response.headers_mut().insert("vary", "*".parse().unwrap());
            }
            _ => {}
        }
        response
    }
}

/// Puts the session middleware's control header names in front of the cache, as a session
/// middleware in header mode does.
struct SessionInFront;

#[async_trait]
impl seam_core::Middleware for SessionInFront {
    async fn handle(&self, mut req: Request, next: seam_core::Next) -> Response {
        let names = vec![http::HeaderName::from_static("x-session-id")];
        req.extensions_mut().insert(seam_core::extensions::SessionHeaders(names.into()));
        next.run(req).await
    }
}

async fn negotiating(session_in_front: bool) -> (Pipeline, Arc<Negotiating>) {
    let harness = Harness::new().storage("Cache", MapStorage::default());
    let cache = harness.build::<CacheMiddlewareConfig>(json!({ "storage": "Cache" })).await.unwrap();
    let app = Arc::new(Negotiating::default());
    let mut chain: Vec<Arc<dyn seam_core::Middleware>> = Vec::new();
    if session_in_front {
        chain.push(Arc::new(SessionInFront));
    }
    chain.push(cache);
    (Pipeline::new(chain, app.clone()), app)
}

async fn ask(chain: &Pipeline, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = http::Request::get(path).header("host", "gw");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = chain.run(request.body(Body::empty()).unwrap()).await;
    let state = response.headers().get("x-cache").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (state, body)
}

#[tokio::test]
async fn vary_keeps_variants_apart_and_vary_star_is_never_stored() {
    let (chain, _) = negotiating(false).await;
    assert_eq!(ask(&chain, "/page", &[("accept-language", "de")]).await, ("MISS".into(), "de #1".into()));
    assert_eq!(ask(&chain, "/page", &[("accept-language", "de")]).await, ("HIT".into(), "de #1".into()));
    let (_, english) = ask(&chain, "/page", &[("accept-language", "en")]).await;
    assert_eq!(english, "en #2", "another Accept-Language never gets the stored variant");
    ask(&chain, "/star", &[]).await;
    assert_eq!(ask(&chain, "/star", &[]).await.0, "MISS", "Vary: * is never stored");
}

#[tokio::test]
async fn answers_made_for_one_client_are_never_stored() {
    let (chain, _) = negotiating(true).await;
    ask(&chain, "/session", &[]).await;
    let (state, body) = ask(&chain, "/session", &[]).await;
    assert_eq!((state.as_str(), body.as_str()), ("MISS", " #2"), "a response carrying a session id is not stored");
    ask(&chain, "/marked", &[]).await;
    assert_eq!(ask(&chain, "/marked", &[]).await.0, "MISS", "a response marked per-client is not stored");
}

#[tokio::test]
async fn cookies_bypass_and_authorization_needs_public() {
    let (chain, app) = negotiating(false).await;
    ask(&chain, "/page", &[]).await;
    assert_eq!(ask(&chain, "/page", &[("cookie", "sid=1")]).await.0, "MISS", "a request with Cookie is not served");
    assert_eq!(app.0.load(Ordering::SeqCst), 2);
    assert_eq!(ask(&chain, "/page", &[("authorization", "Bearer a")]).await.0, "MISS", "a non-public entry");
    assert_eq!(ask(&chain, "/page", &[("authorization", "Bearer b")]).await.0, "MISS", "and not stored");
    ask(&chain, "/public", &[("authorization", "Bearer a")]).await;
    assert_eq!(ask(&chain, "/public", &[("authorization", "Bearer b")]).await.0, "HIT", "public answers are shared");
}

#[tokio::test]
async fn the_key_is_unambiguous() {
    let (chain, _) = negotiating(false).await;
    let request = |host: &str, path: &str| http::Request::get(path).header("host", host).body(Body::empty()).unwrap();
    chain.run(request("gw/x", "/page")).await;
    let response = chain.run(request("gw", "/x/page")).await;
    assert_eq!(response.headers()["x-cache"], "MISS", "Host `gw/x` + `/page` is not `gw` + `/x/page`");
}

#[tokio::test]
async fn a_leader_that_goes_away_releases_its_waiters() {
    let (chain, app) = negotiating(false).await;
    let chain = Arc::new(chain);
    // The first request of /slow leads the fetch, and its client goes away after 50 ms.
    let leader = tokio::time::timeout(std::time::Duration::from_millis(50), ask(&chain, "/slow", &[])).await;
    assert!(leader.is_err(), "the leader was cut off");
    let started = std::time::Instant::now();
    let (state, _) = ask(&chain, "/slow", &[]).await;
    assert_eq!(state, "MISS");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "a waiter does not wait for a gone leader");
    assert_eq!(ask(&chain, "/slow", &[]).await.0, "HIT", "the next leader stored it");
    assert_eq!(app.0.load(Ordering::SeqCst), 2);
}
