//! `clientCache` on a Valkey Cluster: every node (masters and replicas) is followed, a write
//! on any master evicts the other instances' copies within the bound, a lost node stops all
//! local answers, and after a failover the promoted replica's writes are seen. On real
//! valkey-server clusters created by the tests.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use seam_core::Storage;
use seam_plugin_valkey::ValkeyStorage;
use seam_testkit::{ValkeyCluster, unique_prefix};
use serde_json::json;
use support::cached::{BOUND, fill, keys, seen_after, stops_then_follows_the_new_primary, until_live};

fn cached(cluster: &ValkeyCluster, prefix: &str) -> ValkeyStorage {
    let config = support::config(json!({
        "nodes": cluster.addresses(), "prefix": prefix,
        "clientCache": { "maxEntries": 1000, "ttl": "5m" },
    }));
    ValkeyStorage::from_config("ClusterCached", &config).expect("storage")
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
    // The lost node's connection drops every entry: nothing is answered locally. Its replica
    // takes over (node timeout 1 s); once the cluster has failed the old master, every listed
    // node is followed again and B answers locally again.
    stops_then_follows_the_new_primary(&a, &b, Duration::from_secs(30)).await;
}
