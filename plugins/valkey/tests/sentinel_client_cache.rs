//! `clientCache` behind sentinels: the primary and every replica are followed, a write is
//! seen by another instance within the bound, a lost primary stops all local answers, and
//! after the sentinels' failover the new primary's writes are seen. On real valkey-servers
//! and sentinels started by the test.

mod support;

use std::time::Duration;

use bytes::Bytes;
use seam_core::Storage;
use seam_plugin_valkey::ValkeyStorage;
use seam_testkit::{MASTER_NAME, ValkeySentinel, unique_prefix};
use serde_json::json;
use support::cached::{BOUND, fill, keys, seen_after, stops_then_follows_the_new_primary, until_live};

fn cached(topology: &ValkeySentinel, prefix: &str) -> ValkeyStorage {
    let config = support::config(json!({
        "sentinels": topology.sentinel_addresses(), "masterName": MASTER_NAME, "prefix": prefix,
        "clientCache": { "maxEntries": 1000, "ttl": "5m" },
    }));
    ValkeyStorage::from_config("SentinelCached", &config).expect("storage")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_seen_and_after_a_failover_the_new_primarys_too() {
    let mut topology = ValkeySentinel::start();
    let prefix = unique_prefix("cc-sentinel");
    let (a, b) = (cached(&topology, &prefix), cached(&topology, &prefix));
    until_live(&a, Duration::from_secs(10)).await;
    until_live(&b, Duration::from_secs(10)).await;
    let mut slowest = Duration::ZERO;
    for key in keys() {
        a.set(&key, Bytes::from_static(b"login"), None).await.unwrap();
        fill(&b, &key, b"login").await;
        a.set(&key, Bytes::from_static(b"changed"), None).await.unwrap();
        slowest = slowest.max(seen_after(&b, &key, Some(b"changed")).await);
        fill(&b, &key, b"changed").await;
        assert!(a.delete(&key).await.unwrap());
        slowest = slowest.max(seen_after(&b, &key, None).await);
        a.set(&key, Bytes::from_static(b"v1"), None).await.unwrap();
        fill(&b, &key, b"v1").await;
    }
    eprintln!("slowest invalidation seen by the other instance behind sentinels: {slowest:?}");
    assert!(slowest < BOUND, "another instance's write was seen after {slowest:?}");

    topology.primary.kill();
    // The primary's connection is lost: nothing is answered locally. The sentinels promote a
    // replica; once they see the old primary down, the new primary and the other replica are
    // all that is listed, and B answers locally again.
    stops_then_follows_the_new_primary(&a, &b, Duration::from_secs(60)).await;
}
