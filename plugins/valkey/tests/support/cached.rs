//! Waiting on `clientCache`: until it answers locally, until a key is kept, until another
//! instance's write is seen.

use std::time::{Duration, Instant};

use bytes::Bytes;
use seam_core::Storage;
use seam_plugin_valkey::ValkeyStorage;

/// The bound within which another instance's write is seen, stated in README (loopback).
pub const BOUND: Duration = Duration::from_millis(50);

/// Thirty session keys (spread over a cluster's masters).
pub fn keys() -> Vec<String> {
    (0..30).map(|i| format!("session-{i}")).collect()
}

/// Waits until `storage` answers locally (its first read starts following the nodes).
pub async fn until_live(storage: &ValkeyStorage, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let _ = storage.get("warm-up").await;
        if storage.client_cache_live() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "clientCache did not answer locally within {within:?} (its invalidation connections did not come up)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `key` until `storage` holds a local copy of `value` (a read that raced an
/// invalidation is rightly not kept).
pub async fn fill(storage: &ValkeyStorage, key: &str, value: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(Some(found)) = storage.get(key).await
            && found.as_ref() == value
            && let Some(now) = storage.get_now(key)
        {
            assert_eq!(now.unwrap().as_deref(), Some(value), "the local copy of {key}");
            return;
        }
        assert!(Instant::now() < deadline, "{key} was never kept locally");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sets `key`, retrying while the cluster fails over (a write may be refused meanwhile).
pub async fn set_eventually(storage: &ValkeyStorage, key: &str, value: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = storage.set(key, Bytes::copy_from_slice(value), None).await {
        assert!(Instant::now() < deadline, "the cluster never took the write of {key}: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long until `reader` sees `expected` for `key`; at most 2 s, or the test fails.
pub async fn seen_after(reader: &ValkeyStorage, key: &str, expected: Option<&[u8]>) -> Duration {
    let started = Instant::now();
    while reader.get(key).await.unwrap().as_deref() != expected {
        assert!(started.elapsed() < Duration::from_secs(2), "{key}: the other instance never saw {expected:?}");
        tokio::task::yield_now().await;
    }
    started.elapsed()
}

/// After a server of `b`'s topology was killed: `b` stops answering locally within 5 s and
/// answers no key locally; then, once the topology has recovered (within `recovery`), `a`'s
/// writes (retried while it recovers) are kept by `b` and evicted from it again.
pub async fn stops_then_follows_the_new_primary(a: &ValkeyStorage, b: &ValkeyStorage, recovery: Duration) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.client_cache_live() {
        assert!(Instant::now() < deadline, "still answering locally with a server gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for key in keys() {
        assert!(b.get_now(&key).is_none(), "{key} answered locally with a server gone");
    }
    until_live(b, recovery).await;
    for key in keys() {
        set_eventually(a, &key, b"v2").await;
        fill(b, &key, b"v2").await;
    }
    // Every key, those on the new primary included: A's write evicts B's copy.
    for key in keys() {
        a.set(&key, Bytes::from_static(b"v3"), None).await.unwrap();
        seen_after(b, &key, Some(b"v3")).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(b.get(&key).await.unwrap().as_deref(), Some(&b"v3"[..]), "{key} after the failover");
    }
}
