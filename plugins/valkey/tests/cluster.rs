//! ValkeyStorage on a 3-master Valkey Cluster created by the test.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use seam_core::Storage;
use seam_plugin_valkey::ValkeyStorage;
use seam_testkit::{ValkeyCluster, unique_prefix};
use serde_json::json;

fn cluster_storage(cluster: &ValkeyCluster, prefix: &str) -> ValkeyStorage {
    let config = support::config(json!({ "nodes": cluster.addresses(), "prefix": prefix }));
    ValkeyStorage::from_config("Cluster", &config).expect("storage")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_reset_and_spread_on_a_cluster() {
    let cluster = Arc::new(ValkeyCluster::start());
    let base = unique_prefix("cluster");
    let c = cluster.clone();
    seam_core::testing::conformance(move |namespace| {
        let prefix = format!("{base}{namespace}:");
        let c = c.clone();
        async move { cluster_storage(&c, &prefix) }
    })
    .await;

    // Keys spread over many slots land on every master; reset clears them on all of them.
    let s = cluster_storage(&cluster, "spread:");
    let other = cluster_storage(&cluster, "other:");
    // What the conformance cases left behind (under their own prefixes) stays too.
    let before: usize = cluster.key_counts().iter().sum();
    for i in 0..600 {
        s.set(&format!("key-{i}"), Bytes::from(format!("v{i}")), None).await.unwrap();
    }
    for i in 0..30 {
        other.set(&format!("key-{i}"), Bytes::from_static(b"kept"), None).await.unwrap();
    }
    let counts = cluster.key_counts();
    assert!(counts.iter().all(|&n| n > 100), "keys on every master: {counts:?}");
    assert_eq!(s.scan("*").await.unwrap().len(), 600);
    assert_eq!(s.scan("key-1?").await.unwrap().len(), 10);
    for i in (0..600).step_by(37) {
        assert_eq!(s.get(&format!("key-{i}")).await.unwrap(), Some(Bytes::from(format!("v{i}"))));
    }
    s.reset().await.unwrap();
    assert!(s.scan("*").await.unwrap().is_empty());
    assert_eq!(cluster.key_counts().iter().sum::<usize>(), before + 30, "only this prefix's keys are gone");
    assert_eq!(other.scan("*").await.unwrap().len(), 30);
    s.ping().await.unwrap();
}
