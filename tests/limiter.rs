//! LimiterMiddleware over real HTTP, on memory and on a real Valkey.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use http_body_util::Full;
use redis::Commands;
use seam_testkit::Server;
use support::{Gateway, SERVER, send};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Waits until `elapsed` ms into the next fixed window of `window` ms (windows are aligned
/// to the clock).
async fn at_window_offset(window: u64, elapsed: u64) {
    let now = now_ms();
    let target = (now / window + 1) * window + elapsed;
    tokio::time::sleep(Duration::from_millis(target - now)).await;
}

/// Makes sure at least 4 s of the current window of `window` ms are left.
async fn fresh_window(window: u64) {
    let now = now_ms();
    if now % window > window.saturating_sub(4000) {
        at_window_offset(window, 20).await;
    }
}

fn storage_yaml(valkey: Option<u16>) -> String {
    // Each gateway counts under a prefix of its own: the same limiter name in two gateways
    // on one Valkey shares counters by design.
    match valkey {
        Some(port) => format!(
            "storages:\n  Counters: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {port}, prefix: \"{}\", commandTimeout: 500ms, connectTimeout: 500ms }} }}\n",
            seam_testkit::unique_prefix("rl")
        ),
        None => "storages:\n  Counters: { use: plugins.memory.storages.MemoryStorage }\n".into(),
    }
}

fn doc(valkey: Option<u16>, limiter: &str, status: u16) -> String {
    format!(
        "{SERVER}{}middlewares:\n  Limit: {{ use: plugins.limiter.middlewares.LimiterMiddleware, config: {{ storage: Counters, {limiter} }} }}\nactions:\n  Ok: {{ use: plugins.respond.actions.RespondAction, config: {{ status: {status}, body: done }} }}\nroutes:\n  R: {{ gatewayPath: /r, middlewares: [Limit], action: Ok }}\n",
        storage_yaml(valkey)
    )
}

async fn hit(gw: &Gateway) -> (StatusCode, http::HeaderMap) {
    let (status, headers, _) = send(http::Request::get(gw.url("/r")).body(Full::default()).unwrap()).await;
    (status, headers)
}

/// Fiber's case: max 2 in a 2 s window: 200, 200, 429, and 200 again after 3 s.
async fn fiber_case(valkey: Option<u16>, sliding: bool) {
    let gw = Gateway::start(&doc(valkey, &format!("maxConnections: 2, expiration: 2s, slidingWindow: {sliding}"), 200))
        .await;
    at_window_offset(2000, 50).await;
    let statuses = [hit(&gw).await.0, hit(&gw).await.0, hit(&gw).await.0];
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS],
        "valkey={valkey:?} sliding={sliding}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hit(&gw).await.0, StatusCode::OK, "after 3 s: valkey={valkey:?} sliding={sliding}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fiber_cases_for_both_algorithms_on_memory_and_valkey() {
    let valkey = Server::start();
    tokio::join!(
        fiber_case(None, false),
        fiber_case(None, true),
        fiber_case(Some(valkey.port()), false),
        fiber_case(Some(valkey.port()), true),
    );
}

#[tokio::test]
async fn headers_carry_limit_remaining_and_reset_and_429_has_retry_after() {
    let gw = Gateway::start(&doc(None, "maxConnections: 2, expiration: 10s", 200)).await;
    fresh_window(10_000).await;
    let (_, h) = hit(&gw).await;
    assert_eq!((h["x-ratelimit-limit"].to_str().unwrap(), h["x-ratelimit-remaining"].to_str().unwrap()), ("2", "1"));
    let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!((4..=10).contains(&reset), "reset {reset}");
    let (_, h) = hit(&gw).await;
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let (status, h) = hit(&gw).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "retry-after {retry}");
}

#[tokio::test]
async fn skip_failed_and_skip_successful_requests() {
    let failing = Gateway::start(&doc(None, "maxConnections: 2, expiration: 30s, skipFailedRequests: true", 500)).await;
    fresh_window(30_000).await;
    for _ in 0..5 {
        assert_eq!(hit(&failing).await.0, StatusCode::INTERNAL_SERVER_ERROR, "failed requests are not counted");
    }
    let ok = Gateway::start(&doc(None, "maxConnections: 2, expiration: 30s, skipSuccessfulRequests: true", 200)).await;
    for _ in 0..5 {
        assert_eq!(hit(&ok).await.0, StatusCode::OK, "successful requests are not counted");
    }
    let counted =
        Gateway::start(&doc(None, "maxConnections: 2, expiration: 30s, skipSuccessfulRequests: true", 500)).await;
    assert_eq!(hit(&counted).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(hit(&counted).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(hit(&counted).await.0, StatusCode::TOO_MANY_REQUESTS, "failed ones still count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_with_max_fifty_all_pass_and_the_fifty_first_is_refused() {
    let valkey = Server::start();
    let gw = std::sync::Arc::new(
        Gateway::start(&doc(Some(valkey.port()), "maxConnections: 50, expiration: 30s", 200)).await,
    );
    fresh_window(30_000).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move { hit(&gw).await.0 })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(hit(&gw).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seam_processes_on_one_valkey_let_exactly_the_limit_through() {
    let valkey = Server::start();
    // One document for both processes: they share the limiter's counters.
    let body = doc(Some(valkey.port()), "maxConnections: 100, expiration: 20s", 200).replacen(SERVER, "", 1);
    let (a, b) = (support::SeamProcess::start(&body).await, support::SeamProcess::start(&body).await);
    let urls = std::sync::Arc::new([a.url("/r"), b.url("/r")]);
    fresh_window(20_000).await;
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let urls = urls.clone();
            tokio::spawn(async move { send(http::Request::get(&urls[i % 2]).body(Full::default()).unwrap()).await.0 })
        })
        .collect();
    let mut passed = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::OK {
            passed += 1;
        }
    }
    assert_eq!(passed, 100, "exactly maxConnections pass across both processes");
}

#[tokio::test]
async fn sliding_window_follows_the_reference_formula() {
    // Window 4 s, max 4. Four requests early in one window; then, 1.5 s into the next, the
    // previous window weighs (4 − 1.5) / 4 = 0.625, ⌊4 × 0.625⌋ = 2 (and still 2 anywhere
    // from 1 s to 2 s in): the first two requests estimate 3 and 4 (allowed), the third 5.
    let gw = Gateway::start(&doc(None, "maxConnections: 4, expiration: 4s, slidingWindow: true", 200)).await;
    at_window_offset(4000, 50).await;
    for _ in 0..4 {
        assert_eq!(hit(&gw).await.0, StatusCode::OK);
    }
    at_window_offset(4000, 1500).await;
    let sent_at = now_ms() % 4000;
    let expected = |count: i64| seam_plugin_limiter::sliding_estimate(count, 4, sent_at, 4000) <= 4;
    for count in 1..=3 {
        assert_eq!(hit(&gw).await.0 == StatusCode::OK, expected(count), "request {count} at {sent_at} ms");
    }
    assert!(expected(2) && !expected(3), "the timeline landed where the formula decides: {sent_at} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkey_down_is_503_unless_fail_open() {
    let mut valkey = Server::start();
    let closed = Gateway::start(&doc(Some(valkey.port()), "maxConnections: 5, expiration: 30s", 200)).await;
    let open =
        Gateway::start(&doc(Some(valkey.port()), "maxConnections: 5, expiration: 30s, failOpen: true", 200)).await;
    valkey.kill();
    assert_eq!(hit(&closed).await.0, StatusCode::SERVICE_UNAVAILABLE);
    let (status, headers) = hit(&open).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("x-ratelimit-limit").is_none(), "no rate-limit headers while failing open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_by_header_and_by_session_value() {
    let valkey = Server::start();
    let gw = Gateway::start(&doc(None, "maxConnections: 1, expiration: 30s, keyBy: \"header:X-Api-Key\"", 200)).await;
    fresh_window(30_000).await;
    let with_key =
        |k: &'static str| http::Request::get(gw.url("/r")).header("x-api-key", k).body(Full::default()).unwrap();
    assert_eq!(send(with_key("alpha")).await.0, StatusCode::OK);
    assert_eq!(send(with_key("beta")).await.0, StatusCode::OK, "another key has its own counter");
    assert_eq!(send(with_key("alpha")).await.0, StatusCode::TOO_MANY_REQUESTS);

    // Two sessions of the same user share one counter.
    let mut raw = valkey.client();
    let now = now_ms();
    let (a, b) = ("A".repeat(43), "B".repeat(43));
    for id in [&a, &b] {
        raw.set::<_, _, ()>(format!("session_{id}"), format!(r#"{{"created":{now},"data":{{"user_id":"7"}}}}"#))
            .unwrap();
    }
    let text = format!(
        "{SERVER}storages:\n  S: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {}, prefix: \"session_\" }} }}\nmiddlewares:\n  Sess: {{ use: plugins.sessions.middlewares.SessionMiddleware, config: {{ storage: S }} }}\n  Limit: {{ use: plugins.limiter.middlewares.LimiterMiddleware, config: {{ storage: S, maxConnections: 2, expiration: 30s, keyBy: \"session:user_id\" }} }}\nactions:\n  Ok: {{ use: plugins.respond.actions.RespondAction }}\nroutes:\n  R: {{ gatewayPath: /r, middlewares: [Sess, Limit], action: Ok }}\n",
        valkey.port()
    );
    let gw = Gateway::start(&text).await;
    fresh_window(30_000).await;
    let with_cookie = |id: &str| {
        http::Request::get(gw.url("/r")).header("cookie", format!("session_id={id}")).body(Full::default()).unwrap()
    };
    assert_eq!(send(with_cookie(&a)).await.0, StatusCode::OK);
    assert_eq!(send(with_cookie(&b)).await.0, StatusCode::OK);
    assert_eq!(send(with_cookie(&a)).await.0, StatusCode::TOO_MANY_REQUESTS, "user 7 is counted across sessions");
}
