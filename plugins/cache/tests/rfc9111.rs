//! CacheMiddleware against a test origin whose response headers each test sets; each test
//! names the section of RFC 9111 (or 5861, 9213, 9110) it pins.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use seam_core::pipeline::Pipeline;
use seam_core::testing::{Harness, MapStorage};
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_cache::CacheMiddlewareConfig;
use serde_json::json;

type Script = dyn Fn(&Request, usize) -> (u16, Vec<(&'static str, String)>) + Send + Sync;

/// An origin that answers as its script says; the body is `call <n>`.
struct Origin {
    calls: AtomicUsize,
    seen: std::sync::Mutex<Vec<HeaderMap>>,
    script: Box<Script>,
}

#[async_trait]
impl Action for Origin {
    async fn handle(&self, req: Request) -> Response {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.lock().unwrap().push(req.headers().clone());
        let (status, headers) = (self.script)(&req, n);
        let body = if status == 304 { Body::empty() } else { Body::from(format!("call {n}")) };
        let mut response = Response::new(body);
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        for (name, value) in headers {
            response.headers_mut().append(name, value.parse().unwrap());
        }
        response
    }
}

struct Setup {
    chain: Pipeline,
    origin: Arc<Origin>,
}

async fn setup(
    config: serde_json::Value,
    script: impl Fn(&Request, usize) -> (u16, Vec<(&'static str, String)>) + Send + Sync + 'static,
) -> Setup {
    let storage = MapStorage::default();
    setup_on(Harness::new().storage("S", storage), config, script).await
}

async fn setup_on(
    harness: Harness,
    mut config: serde_json::Value,
    script: impl Fn(&Request, usize) -> (u16, Vec<(&'static str, String)>) + Send + Sync + 'static,
) -> Setup {
    config["storage"] = json!("S");
    let cache = harness.build::<CacheMiddlewareConfig>(config).await.unwrap();
    let origin = Arc::new(Origin { calls: AtomicUsize::new(0), seen: Default::default(), script: Box::new(script) });
    Setup { chain: Pipeline::new(vec![cache], origin.clone()), origin }
}

struct Answer {
    status: u16,
    state: String,
    age: Option<u64>,
    body: String,
    headers: HeaderMap,
}

async fn send(chain: &Pipeline, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = http::Request::builder().method(method).uri(path).header("host", "gw");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = chain.run(request.body(Body::empty()).unwrap()).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let state = headers.get("x-cache").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let age = headers.get("age").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Answer { status, state, age, body, headers }
}

async fn get(s: &Setup, path: &str) -> Answer {
    send(&s.chain, "GET", path, &[]).await
}

fn calls(s: &Setup) -> usize {
    s.origin.calls.load(Ordering::SeqCst)
}

fn http_date(offset_secs: i64) -> String {
    let now = SystemTime::now();
    let at = if offset_secs >= 0 {
        now + Duration::from_secs(offset_secs as u64)
    } else {
        now - Duration::from_secs(offset_secs.unsigned_abs())
    };
    httpdate::fmt_http_date(at)
}

fn h(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

#[tokio::test]
async fn rfc9111_4_2_1_expires_and_date() {
    let cases: [(Vec<(&'static str, String)>, bool); 5] = [
        (vec![("date", http_date(0)), ("expires", http_date(60))], true),
        (vec![("date", http_date(0)), ("expires", http_date(-60))], false),
        (vec![("expires", "0".into())], false),
        (vec![("expires", "not a date".into())], false),
        (vec![("cache-control", "max-age=60".into()), ("expires", http_date(-60))], true),
    ];
    for (headers, fresh) in cases {
        let shown = format!("{headers:?}");
        let s = setup(json!({}), move |_, _| (200, headers.clone())).await;
        get(&s, "/x").await;
        let second = get(&s, "/x").await;
        assert_eq!(second.state == "HIT", fresh, "{shown}: {}", second.state);
    }
}

#[tokio::test]
async fn rfc9111_4_2_3_the_origins_age_is_counted() {
    let s = setup(json!({}), |_, _| (200, h(&[("cache-control", "max-age=3600"), ("age", "7200")]))).await;
    get(&s, "/x").await;
    let second = get(&s, "/x").await;
    assert_ne!(second.state, "HIT", "max-age=3600 with Age: 7200 is stale");
    assert_eq!(calls(&s), 2);

    let s = setup(json!({}), |_, _| (200, h(&[("cache-control", "max-age=3600"), ("age", "100")]))).await;
    get(&s, "/x").await;
    let hit = get(&s, "/x").await;
    assert_eq!((hit.state.as_str(), hit.age), ("HIT", Some(100)), "Age counts the origin's age");
}

#[tokio::test]
async fn rfc9111_5_1_malformed_age_is_ignored() {
    for age in ["-5", "1.5", "soon", ""] {
        let s = setup(json!({}), move |_, _| (200, h(&[("cache-control", "max-age=60"), ("age", age)]))).await;
        get(&s, "/x").await;
        assert_eq!(get(&s, "/x").await.state, "HIT", "Age: {age:?}");
    }
}

#[tokio::test]
async fn rfc9111_4_2_2_heuristic_freshness_only_without_explicit_and_for_cacheable_statuses() {
    let s = setup(json!({ "expiration": "1m" }), |_, _| (200, vec![])).await;
    get(&s, "/x").await;
    assert_eq!(get(&s, "/x").await.state, "HIT");
    let s = setup(json!({ "expiration": "1m" }), |_, _| (302, vec![])).await;
    get(&s, "/x").await;
    assert_eq!(get(&s, "/x").await.state, "MISS", "302 is not heuristically cacheable");
    let s = setup(json!({ "expiration": "1m" }), |_, _| (302, h(&[("cache-control", "max-age=60")]))).await;
    get(&s, "/x").await;
    assert_eq!(get(&s, "/x").await.state, "HIT", "explicit freshness makes it storable");
    let s = setup(json!({ "expiration": "0s" }), |_, _| (200, vec![])).await;
    get(&s, "/x").await;
    assert_eq!(get(&s, "/x").await.state, "MISS", "heuristic turned off");
}

#[tokio::test]
async fn rfc9111_4_3_a_stale_entry_is_revalidated_and_a_304_updates_it() {
    let s = setup(json!({}), |req, n| {
        if n > 1 && req.headers().get("if-none-match").is_some_and(|v| v == "\"v1\"") {
            return (304, h(&[("cache-control", "max-age=60"), ("etag", "\"v1\""), ("x-version", "updated")]));
        }
        (200, h(&[("cache-control", "max-age=0"), ("etag", "\"v1\""), ("x-version", "first")]))
    })
    .await;
    assert_eq!(get(&s, "/x").await.state, "MISS");
    let revalidated = get(&s, "/x").await;
    assert_eq!((revalidated.status, revalidated.state.as_str()), (200, "REVALIDATED"));
    assert_eq!(revalidated.body, "call 1", "the stored body is served");
    assert_eq!(revalidated.headers["x-version"], "updated", "§3.2: the 304's headers update the stored ones");
    assert_eq!(s.origin.seen.lock().unwrap()[1]["if-none-match"], "\"v1\"");
    let third = get(&s, "/x").await;
    assert_eq!((third.state.as_str(), third.body.as_str()), ("HIT", "call 1"), "fresh again after the 304");
    assert_eq!(calls(&s), 2);
}

#[tokio::test]
async fn rfc9110_13_1_a_clients_conditional_is_answered_304_from_a_fresh_entry() {
    let last_modified = http_date(-3600);
    let s = setup(json!({}), move |_, _| {
        (200, h(&[("cache-control", "max-age=60"), ("etag", "W/\"v1\""), ("last-modified", &last_modified)]))
    })
    .await;
    get(&s, "/x").await;
    let answer = send(&s.chain, "GET", "/x", &[("if-none-match", "\"v1\"")]).await;
    assert_eq!((answer.status, answer.body.as_str()), (304, ""), "weak comparison for If-None-Match");
    let answer = send(&s.chain, "GET", "/x", &[("if-none-match", "\"v2\"")]).await;
    assert_eq!(answer.status, 200);
    let answer = send(&s.chain, "GET", "/x", &[("if-modified-since", &http_date(0))]).await;
    assert_eq!(answer.status, 304);
    assert_eq!(calls(&s), 1);
}

#[tokio::test]
async fn rfc9111_4_4_unsafe_methods_invalidate_the_uri_and_its_locations() {
    for method in ["POST", "PUT", "DELETE", "PATCH", "PURGEALL"] {
        let s = setup(json!({}), |req, _| match req.method().as_str() {
            "GET" => (200, h(&[("cache-control", "max-age=60")])),
            _ => (201, h(&[("location", "/items/7"), ("content-location", "http://gw/items/8")])),
        })
        .await;
        for path in ["/items", "/items/7", "/items/8", "/other"] {
            get(&s, path).await;
        }
        send(&s.chain, method, "/items", &[]).await;
        for (path, state) in [("/items", "MISS"), ("/items/7", "MISS"), ("/items/8", "MISS"), ("/other", "HIT")] {
            assert_eq!(get(&s, path).await.state, state, "{method} /items then GET {path}");
        }
    }
    // An error answer invalidates nothing; another origin's Location neither.
    let s = setup(json!({}), |req, _| match req.method().as_str() {
        "GET" => (200, h(&[("cache-control", "max-age=60")])),
        "PUT" => (201, h(&[("location", "http://elsewhere/items/7")])),
        _ => (500, vec![]),
    })
    .await;
    get(&s, "/items").await;
    get(&s, "/items/7").await;
    send(&s.chain, "POST", "/items", &[]).await;
    assert_eq!(get(&s, "/items").await.state, "HIT", "a failed POST invalidates nothing");
    send(&s.chain, "PUT", "/other", &[]).await;
    assert_eq!(get(&s, "/items/7").await.state, "HIT", "a Location of another origin is not invalidated");
}

#[tokio::test]
async fn rfc9111_4_4_invalidation_reaches_another_instance_within_local_max_age() {
    let storage = Arc::new(MapStorage::default());
    let shared = SharedStorage(storage.clone());
    let config = json!({ "localMaxAge": "200ms" });
    let script = |req: &Request, _: usize| match req.method().as_str() {
        "GET" => (200, h(&[("cache-control", "max-age=60")])),
        _ => (204, vec![]),
    };
    let a = setup_on(Harness::new().storage("S", shared.clone()), config.clone(), script).await;
    let b = setup_on(Harness::new().storage("S", shared), config, script).await;
    get(&a, "/items").await;
    assert_eq!(get(&b, "/items").await.state, "HIT", "filled through A, served by B (now in B's local tier)");
    send(&a.chain, "POST", "/items", &[]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get(&b, "/items").await.state, "MISS", "B follows within localMaxAge (200 ms)");
}

/// One storage seen by two caches.
#[derive(Clone)]
struct SharedStorage(Arc<MapStorage>);

#[async_trait]
impl seam_core::Storage for SharedStorage {
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, seam_core::StorageError> {
        self.0.get(key).await
    }
    async fn set(&self, key: &str, value: bytes::Bytes, ttl: Option<Duration>) -> Result<(), seam_core::StorageError> {
        self.0.set(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, seam_core::StorageError> {
        self.0.delete(key).await
    }
}

#[tokio::test]
async fn rfc9111_4_2_4_stale_rules_with_the_origin_down() {
    // Stale on arrival (Age > max-age), with a validator so it is kept; then the origin fails.
    for (cache_control, expected) in [
        ("max-age=10, must-revalidate", 504),
        ("max-age=10, proxy-revalidate", 504),
        ("s-maxage=10", 504),
        ("max-age=10, no-cache", 504),
        ("max-age=10, stale-if-error=600", 200),
        ("max-age=10", 200),
    ] {
        let s = setup(json!({}), move |_, n| match n {
            1 => (200, h(&[("cache-control", cache_control), ("age", "20"), ("etag", "\"v1\"")])),
            _ => (503, vec![]),
        })
        .await;
        get(&s, "/x").await;
        let answer = get(&s, "/x").await;
        assert_eq!(answer.status, expected, "{cache_control}: {}", answer.state);
        if expected == 200 {
            assert_eq!((answer.state.as_str(), answer.body.as_str()), ("STALE", "call 1"), "{cache_control}");
        }
    }
    // stale-if-error only within its window.
    let s = setup(json!({}), |_, n| match n {
        1 => (200, h(&[("cache-control", "max-age=10, stale-if-error=5"), ("age", "60"), ("etag", "\"v1\"")])),
        _ => (503, vec![]),
    })
    .await;
    get(&s, "/x").await;
    assert_eq!(get(&s, "/x").await.status, 503, "stale for 50 s, beyond stale-if-error=5: the error passes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5861_3_stale_while_revalidate_serves_stale_and_refreshes_once() {
    let s = setup(json!({}), |_, n| {
        let age = if n == 1 { "20" } else { "0" };
        (200, h(&[("cache-control", "max-age=10, stale-while-revalidate=60"), ("age", age), ("etag", "\"v1\"")]))
    })
    .await;
    get(&s, "/x").await;
    let chain = Arc::new(s.chain);
    let first = send(&chain, "GET", "/x", &[]).await;
    assert_eq!((first.state.as_str(), first.body.as_str()), ("STALE", "call 1"), "answered at once, stale");
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let chain = chain.clone();
            tokio::spawn(async move { send(&chain, "GET", "/x", &[]).await })
        })
        .collect();
    for client in clients {
        let answer = client.await.unwrap();
        let state = (answer.state.as_str(), answer.body.as_str());
        assert!(state == ("STALE", "call 1") || state == ("HIT", "call 2"), "{state:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.origin.calls.load(Ordering::SeqCst), 2, "one background request for ten clients");
    let fresh = send(&chain, "GET", "/x", &[]).await;
    assert_eq!((fresh.state.as_str(), fresh.body.as_str()), ("HIT", "call 2"), "refreshed in the background");
}

#[tokio::test]
async fn rfc9213_targeted_fields_win_and_surrogate_control_never_leaves() {
    let s = setup(json!({}), |_, _| {
        (
            200,
            h(&[
                ("cache-control", "no-store"),
                ("cdn-cache-control", "max-age=60"),
                ("surrogate-control", "max-age=5"),
            ]),
        )
    })
    .await;
    let first = get(&s, "/x").await;
    assert!(first.headers.get("surrogate-control").is_none());
    let second = get(&s, "/x").await;
    assert_eq!(second.state, "HIT", "CDN-Cache-Control: max-age=60 wins over Cache-Control: no-store");
    assert!(second.headers.get("surrogate-control").is_none());
    assert_eq!(second.headers["cache-control"], "no-store", "Cache-Control still tells the clients");

    let s = setup(json!({ "targetedFields": [] }), |_, _| {
        (200, h(&[("cache-control", "no-store"), ("cdn-cache-control", "max-age=60")]))
    })
    .await;
    get(&s, "/x").await;
    assert_eq!(get(&s, "/x").await.state, "MISS", "with no targeted field, Cache-Control rules");

    let s =
        setup(json!({}), |_, _| (200, h(&[("cache-control", "max-age=60"), ("surrogate-control", "no-store")]))).await;
    get(&s, "/x").await;
    assert_eq!(get(&s, "/x").await.state, "MISS", "Surrogate-Control: no-store");
}

#[tokio::test]
async fn head_is_served_from_a_stored_get_and_ranges_are_not_cached() {
    let s = setup(json!({}), |_, _| (200, h(&[("cache-control", "max-age=60")]))).await;
    get(&s, "/x").await;
    let head = send(&s.chain, "HEAD", "/x", &[]).await;
    assert_eq!((head.state.as_str(), head.body.as_str()), ("HIT", ""));
    let ranged = send(&s.chain, "GET", "/x", &[("range", "bytes=0-1")]).await;
    assert_eq!(ranged.state, "MISS", "a Range request goes to the origin");
    assert_eq!(calls(&s), 2);
}

#[tokio::test]
async fn the_middlewares_own_rules_still_hold_under_rfc_rules() {
    // no-store, private and a per-client answer are never stored, whatever the freshness.
    for headers in [h(&[("cache-control", "no-store, max-age=60")]), h(&[("cache-control", "private, max-age=60")])] {
        let s = setup(json!({}), move |_, _| (200, headers.clone())).await;
        get(&s, "/x").await;
        assert_eq!(get(&s, "/x").await.state, "MISS");
    }
}
