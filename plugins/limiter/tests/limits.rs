//! LimiterMiddleware in a chain, on a test storage with an atomic counter.

use std::net::SocketAddr;
use std::sync::Arc;

use seam_core::extensions::Client;
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
    request.extensions_mut().insert(Client::new(addr, "http"));
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

#[test]
fn ipv6_clients_are_counted_per_network() {
    use seam_plugin_limiter::client_network;
    let a = client_network("2001:db8:1:2:aaaa::1".parse().unwrap(), 64);
    let b = client_network("2001:db8:1:2:bbbb::2".parse().unwrap(), 64);
    assert_eq!(a, b, "one /64 is one client");
    assert_eq!(a, "2001:db8:1:2::/64");
    assert_ne!(client_network("2001:db8:1:3::1".parse().unwrap(), 64), a);
    assert_eq!(client_network("::ffff:192.0.2.1".parse().unwrap(), 64), "192.0.2.1", "IPv4-mapped is IPv4");
    assert_ne!(
        client_network("2001:db8::1".parse().unwrap(), 128),
        client_network("2001:db8::2".parse().unwrap(), 128)
    );
}

/// A storage that records the TTL of every `incr`.
#[derive(Default)]
struct Recording {
    inner: MapStorage,
    incr_ttls: std::sync::Mutex<Vec<Option<std::time::Duration>>>,
}

#[async_trait]
impl seam_core::Storage for Recording {
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, seam_core::StorageError> {
        self.inner.get(key).await
    }
    async fn set(
        &self,
        key: &str,
        value: bytes::Bytes,
        ttl: Option<std::time::Duration>,
    ) -> Result<(), seam_core::StorageError> {
        self.inner.set(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, seam_core::StorageError> {
        self.inner.delete(key).await
    }
    fn capabilities(&self) -> seam_core::Capabilities {
        seam_core::Capabilities::KEYS
    }
    async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<std::time::Duration>,
    ) -> Result<i64, seam_core::StorageError> {
        self.incr_ttls.lock().unwrap().push(ttl);
        self.inner.incr(key, delta, ttl).await
    }
}

#[tokio::test]
async fn an_uncounted_request_never_leaves_a_counter_without_expiry() {
    let storage = Arc::new(Recording::default());
    let harness = Harness::new().shared_storage("Counters", storage.clone());
    let config =
        json!({ "storage": "Counters", "maxConnections": 5, "expiration": "1m", "skipSuccessfulRequests": true });
    let limiter = harness.build::<LimiterMiddlewareConfig>(config).await.unwrap();
    let chain = Pipeline::new(vec![limiter], Arc::new(Ok200));
    chain.run(from("10.0.0.7")).await;
    let ttls = storage.incr_ttls.lock().unwrap().clone();
    assert_eq!(ttls.len(), 2, "counted, then uncounted");
    assert!(
        ttls.iter().all(Option::is_some),
        "every incr carries a TTL (a decrement after expiry creates one): {ttls:?}"
    );
}

#[tokio::test]
async fn a_huge_expiration_is_refused_at_load() {
    let harness = Harness::new().storage("Counters", MapStorage::default());
    let config = json!({ "storage": "Counters", "expiration": "100000000000h" });
    let error = harness.build::<LimiterMiddlewareConfig>(config).await.err().expect("refused");
    assert!(error.to_string().contains("longer than Go's time.Duration allows"), "{error}");
}

#[tokio::test]
async fn key_by_a_claim_counts_each_token_subject_apart_behind_one_address() {
    let harness = Harness::new().storage("Counters", MapStorage::default());
    let config = json!({ "storage": "Counters", "maxConnections": 1, "expiration": "1m", "keyBy": "claim:sub" });
    let limiter = harness.build::<LimiterMiddlewareConfig>(config).await.unwrap();
    let chain = Pipeline::new(vec![limiter], Arc::new(Ok200));
    let as_subject = |sub: Option<&str>| {
        let mut request = from("10.0.0.9");
        if let Some(sub) = sub {
            let claims = serde_json::Map::from_iter([("sub".to_owned(), json!(sub))]);
            request.extensions_mut().insert(seam_core::extensions::Claims(Arc::new(claims)));
        }
        request
    };
    assert_eq!(chain.run(as_subject(Some("alice"))).await.status(), 200);
    assert_eq!(chain.run(as_subject(Some("alice"))).await.status(), 429);
    assert_eq!(chain.run(as_subject(Some("bob"))).await.status(), 200, "another subject, same address");
    assert_eq!(chain.run(as_subject(None)).await.status(), 200, "no token: counted by address");
    assert_eq!(chain.run(as_subject(None)).await.status(), 429);
}

#[tokio::test]
async fn a_huge_header_value_makes_a_small_counter_and_still_counts_apart() {
    let storage = Arc::new(MapStorage::default());
    let harness = Harness::new().shared_storage("Counters", storage.clone());
    let config = json!({
        "storage": "Counters", "maxConnections": 1, "expiration": "1m", "keyBy": "header:X-Api-Key", "slidingWindow": true
    });
    let limiter = harness.build::<LimiterMiddlewareConfig>(config).await.unwrap();
    let chain = Pipeline::new(vec![limiter], Arc::new(Ok200));
    let with_key = |key: &str| {
        let mut request = from("10.0.0.9");
        request.headers_mut().insert("x-api-key", key.parse().unwrap());
        request
    };
    let huge = "k".repeat(100_000);
    let other = format!("{}j", &huge[1..]);
    assert_eq!(chain.run(with_key(&huge)).await.status(), 200);
    assert_eq!(chain.run(with_key(&huge)).await.status(), 429, "the same value is the same client");
    assert_eq!(chain.run(with_key(&other)).await.status(), 200, "a value differing in one byte is another");
    assert_eq!(chain.run(with_key("short")).await.status(), 200);
    let keys = seam_core::Storage::scan(&*storage, "*").await.unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k.len() < 160), "counters' keys stay small: {keys:?}");
    assert!(keys.iter().any(|k| k.contains(":h:short:")), "a short value is kept readable: {keys:?}");
}
