//! `clientCache` on a Valkey Cluster: every node (masters and replicas) is followed, a write
//! on any master evicts the other instances' copies within the bound, a lost node stops all
//! local answers, and after a failover the promoted replica's writes are seen. On real
//! valkey-server clusters created by the tests.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use seam_core::Storage;
use seam_plugin_valkey::ValkeyStorage;
use seam_testkit::{ValkeyCluster, unique_prefix};
use serde_json::json;

/// The bound within which another instance's write is seen, stated in README (loopback).
const BOUND: Duration = Duration::from_millis(50);

fn cached(cluster: &ValkeyCluster, prefix: &str) -> ValkeyStorage {
    let config = support::config(json!({
        "nodes": cluster.addresses(), "prefix": prefix,
        "clientCache": { "maxEntries": 1000, "ttl": "5m" },
    }));
    ValkeyStorage::from_config("ClusterCached", &config).expect("storage")
}

/// Waits until `storage` answers locally (its first read starts following the nodes).
async fn until_live(storage: &ValkeyStorage, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let _ = storage.get("warm-up").await;
        if storage.client_cache_live() {
            return;
        }
        assert!(Instant::now() < deadline, "clientCache did not follow every node within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `key` until `storage` holds a local copy of `value` (a read that raced an
/// invalidation is rightly not kept).
async fn fill(storage: &ValkeyStorage, key: &str, value: &[u8]) {
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
async fn set_eventually(storage: &ValkeyStorage, key: &str, value: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = storage.set(key, Bytes::copy_from_slice(value), None).await {
        assert!(Instant::now() < deadline, "the cluster never took the write of {key}: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long until `reader` sees `expected` for `key`; at most 2 s, or the test fails.
async fn seen_after(reader: &ValkeyStorage, key: &str, expected: Option<&[u8]>) -> Duration {
    let started = Instant::now();
    while reader.get(key).await.unwrap().as_deref() != expected {
        assert!(started.elapsed() < Duration::from_secs(2), "{key}: the other instance never saw {expected:?}");
        tokio::task::yield_now().await;
    }
    started.elapsed()
}

fn keys() -> Vec<String> {
    (0..30).map(|i| format!("session-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_masters_writes_evict_the_other_instances_copies() {
    let cluster = Arc::new(ValkeyCluster::start());
    let base = unique_prefix("cc-cluster");
    let c = cluster.clone();
    seam_core::testing::conformance(move |namespace| {
        let prefix = format!("{base}{namespace}:");
        let c = c.clone();
        async move { cached(&c, &prefix) }
    })
    .await;

    let prefix = unique_prefix("cc-cluster-two");
    let (a, b) = (cached(&cluster, &prefix), cached(&cluster, &prefix));
    until_live(&a, Duration::from_secs(10)).await;
    until_live(&b, Duration::from_secs(10)).await;
    let before = cluster.key_counts();
    for key in keys() {
        a.set(&key, Bytes::from_static(b"login"), Some(Duration::from_secs(60))).await.unwrap();
    }
    let after = cluster.key_counts();
    assert!(after.iter().zip(&before).all(|(a, b)| a > b), "the keys are on every master: {before:?} -> {after:?}");
    let mut slowest = Duration::ZERO;
    for round in 0..3 {
        for key in keys() {
            // B holds the session locally; A changes it, then logs out.
            fill(&b, &key, b"login").await;
            let changed = format!("changed {round}");
            a.set(&key, Bytes::from(changed.clone()), Some(Duration::from_secs(60))).await.unwrap();
            slowest = slowest.max(seen_after(&b, &key, Some(changed.as_bytes())).await);
            fill(&b, &key, changed.as_bytes()).await;
            assert!(a.delete(&key).await.unwrap());
            slowest = slowest.max(seen_after(&b, &key, None).await);
            tokio::time::sleep(BOUND).await;
            assert_eq!(b.get(&key).await.unwrap(), None, "after the bound, never the destroyed session");
            a.set(&key, Bytes::from_static(b"login"), Some(Duration::from_secs(60))).await.unwrap();
        }
    }
    eprintln!("slowest invalidation seen by the other instance on the cluster: {slowest:?}");
    assert!(slowest < BOUND, "another instance's write was seen after {slowest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_the_promoted_replicas_writes_are_seen() {
    let mut cluster = ValkeyCluster::start_with_replicas();
    let prefix = unique_prefix("cc-failover");
    let (a, b) = (cached(&cluster, &prefix), cached(&cluster, &prefix));
    until_live(&a, Duration::from_secs(10)).await;
    until_live(&b, Duration::from_secs(10)).await;
    for key in keys() {
        a.set(&key, Bytes::from_static(b"v1"), None).await.unwrap();
        fill(&b, &key, b"v1").await;
    }

    cluster.nodes[0].kill();
    // The lost node's connection drops every entry: nothing is answered locally.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.client_cache_live() {
        assert!(Instant::now() < deadline, "still answering locally with a node gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for key in keys() {
        assert!(b.get_now(&key).is_none(), "{key} answered locally with a node gone");
    }

    // Its replica takes over (node timeout 1 s); once the cluster has failed the old master,
    // every listed node is followed again and B answers locally again.
    until_live(&b, Duration::from_secs(30)).await;
    for key in keys() {
        set_eventually(&a, &key, b"v2").await;
        fill(&b, &key, b"v2").await;
    }
    // Every key, those on the promoted replica included: A's write evicts B's copy.
    for key in keys() {
        a.set(&key, Bytes::from_static(b"v3"), None).await.unwrap();
        seen_after(&b, &key, Some(b"v3")).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(b.get(&key).await.unwrap().as_deref(), Some(&b"v3"[..]), "{key} after the failover");
    }
}
