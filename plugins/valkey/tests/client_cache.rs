//! `clientCache`: reads answered from the process, evicted by Valkey's invalidation pushes,
//! never trusted while the invalidation connection is down. On real valkey-servers.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use seam_core::Storage;
use seam_plugin_valkey::ValkeyStorage;
use seam_testkit::{Server, unique_prefix};
use serde_json::json;
use support::cached::{BOUND, until_live};

fn cached(port: u16, prefix: &str) -> ValkeyStorage {
    cached_named("Cached", port, prefix)
}

fn cached_named(name: &str, port: u16, prefix: &str) -> ValkeyStorage {
    let config = support::config(json!({
        "host": "127.0.0.1", "port": port, "prefix": prefix,
        "clientCache": { "maxEntries": 1000, "ttl": "5m" },
    }));
    ValkeyStorage::from_config(name, &config).expect("storage")
}

/// `seam_storage_client_cache_live` of the storage called `name`, as /metrics shows it.
fn live_gauge(name: &str) -> Option<String> {
    let line = format!("seam_storage_client_cache_live{{storage=\"{name}\"}} ");
    seam_core::metrics::exposition().lines().find_map(|l| l.strip_prefix(&line).map(str::to_owned))
}

fn get_calls(server: &Server) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut server.client()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_the_client_cache_on() {
    let server = Server::shared();
    let base = unique_prefix("cc-conformance");
    seam_core::testing::conformance(|namespace| {
        let prefix = format!("{base}{namespace}:");
        async move { cached(server.port(), &prefix) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reads_are_answered_locally() {
    let server = Server::start();
    let storage = cached(server.port(), &unique_prefix("cc-hot"));
    until_live(&storage, Duration::from_secs(10)).await;
    storage.set("k", Bytes::from_static(b"v"), None).await.unwrap();
    // The server pushes the invalidation of our own write too; a read that started before
    // it arrived is not kept. Read until one is (a loaded machine gets seconds).
    let deadline = Instant::now() + Duration::from_secs(2);
    while storage.get_now("k").is_none() {
        assert!(Instant::now() < deadline, "a key read 2 s after its write is kept");
        assert_eq!(storage.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let before = get_calls(&server);
    for _ in 0..100 {
        assert_eq!(storage.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }
    assert_eq!(get_calls(&server), before, "100 reads of a hot key, no GET reached the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_now_answers_from_a_trusted_local_copy_only() {
    let server = Server::shared();
    let prefix = unique_prefix("cc-now");
    let config = support::config(json!({ "host": "127.0.0.1", "port": server.port(), "prefix": prefix }));
    let uncached = ValkeyStorage::from_config("Uncached", &config).expect("storage");
    let (a, b) = (cached(server.port(), &prefix), cached(server.port(), &prefix));
    assert!(a.get_now("k").is_none(), "nothing is answered at once before the cache has started");
    until_live(&a, Duration::from_secs(10)).await;
    b.set("k", Bytes::from_static(b"v1"), None).await.unwrap();
    assert!(a.get_now("k").is_none(), "a key never read here is not known here");
    // The server pushes the invalidation of b's write to a as well (BCAST). A read that
    // started before that push arrived is not kept, so read until one is (the bound itself
    // is the next test's subject; a loaded machine gets seconds here).
    let deadline = Instant::now() + Duration::from_secs(2);
    let now = loop {
        assert_eq!(a.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));
        if let Some(now) = a.get_now("k") {
            break now.unwrap();
        }
        assert!(Instant::now() < deadline, "a key read 2 s after its write is answered at once");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    assert_eq!(now.as_deref(), Some(&b"v1"[..]));
    // Another instance's write evicts the copy within the bound; get_now never serves it after.
    b.set("k", Bytes::from_static(b"v2"), None).await.unwrap();
    let deadline = Instant::now() + BOUND;
    while let Some(answer) = a.get_now("k") {
        assert!(Instant::now() < deadline, "the old copy was still served {BOUND:?} after the write");
        assert_eq!(answer.unwrap().as_deref(), Some(&b"v1"[..]));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    assert!(uncached.get_now("k").is_none(), "without clientCache every read goes to Valkey");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_deletes_by_another_instance_are_seen_within_the_bound_200_times() {
    let server = Server::shared();
    let prefix = unique_prefix("cc-two");
    let (a, b) = (cached(server.port(), &prefix), cached(server.port(), &prefix));
    until_live(&a, Duration::from_secs(10)).await;
    until_live(&b, Duration::from_secs(10)).await;
    let mut slowest = Duration::ZERO;
    for i in 0..200 {
        let key = format!("session-{}", i % 7);
        let value = Bytes::from(format!("login {i}"));
        a.set(&key, value.clone(), Some(Duration::from_secs(60))).await.unwrap();
        let started = Instant::now();
        while b.get(&key).await.unwrap().as_ref() != Some(&value) {
            assert!(started.elapsed() < Duration::from_secs(2), "B never saw login {i}");
            tokio::task::yield_now().await;
        }
        slowest = slowest.max(started.elapsed());
        // B now holds the session locally; A logs out.
        assert_eq!(b.get(&key).await.unwrap(), Some(value));
        a.delete(&key).await.unwrap();
        let started = Instant::now();
        while b.get(&key).await.unwrap().is_some() {
            assert!(started.elapsed() < Duration::from_secs(2), "B kept the destroyed session {i}");
            tokio::task::yield_now().await;
        }
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(BOUND).await;
        assert_eq!(b.get(&key).await.unwrap(), None, "after the bound, never the destroyed session ({i})");
    }
    assert!(slowest < BOUND, "another instance's write was seen after {slowest:?}");
    eprintln!("slowest invalidation seen by the other instance: {slowest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_invalidation_connection_drops_every_entry_and_comes_back() {
    let mut server = Server::start();
    let storage = cached_named("CachedLost", server.port(), &unique_prefix("cc-lost"));
    until_live(&storage, Duration::from_secs(10)).await;
    assert_eq!(live_gauge("CachedLost").as_deref(), Some("1"), "the gauge says it answers locally");
    storage.set("k", Bytes::from_static(b"v"), None).await.unwrap();
    assert!(storage.get("k").await.unwrap().is_some());
    server.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    while storage.client_cache_live() {
        assert!(Instant::now() < deadline, "the cache is still trusted with the server gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(storage.get("k").await.is_err(), "no answer from the process while Valkey is away");
    assert_eq!(live_gauge("CachedLost").as_deref(), Some("0"), "the gauge says it does not");
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let _ = storage.get("k").await;
        if storage.client_cache_live() {
            break;
        }
        assert!(Instant::now() < deadline, "the invalidation connection did not come back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live_gauge("CachedLost").as_deref(), Some("1"), "the gauge follows it back");
    // The server restarted empty: the old value is gone, not served from the process.
    assert_eq!(storage.get("k").await.unwrap(), None);
}
