//! ValkeyStorage on one real valkey-server (shared by the tests of this binary, each under
//! a prefix of its own).

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::Commands;
use seam_core::Storage;
use seam_plugin_valkey as _;
use seam_testkit::{Server, unique_prefix};
use support::storage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_standalone_server() {
    let server = Server::shared();
    let base = unique_prefix("conformance");
    seam_core::testing::conformance(|namespace| {
        let prefix = format!("{base}{namespace}:");
        async move { storage(server.port(), &prefix) }
    })
    .await;
}

#[tokio::test]
async fn the_seed_configuration_stores_prefix_plus_key_verbatim() {
    let server = Server::shared();
    let yaml = format!(
        "storages:\n  ValkeySessionStorage:\n    use: plugins.valkey.storages.ValkeyStorage\n    config:\n      prefix: \"session_\"\n      host: \"127.0.0.1\"\n      port: {}\n      database: 5\n",
        server.port()
    );
    let s =
        support::resolve_storage(&yaml, "ValkeySessionStorage").await.map_err(|e| support::first_error(&e)).unwrap();
    let mut raw = server.client();
    redis::cmd("SELECT").arg(5).query::<()>(&mut raw).unwrap();
    s.set("abc", Bytes::from_static(b"v"), None).await.unwrap();
    assert_eq!(raw.get::<_, Option<String>>("session_abc").unwrap().as_deref(), Some("v"));
    assert_eq!(s.incr("n", 2, None).await.unwrap(), 2);
    assert_eq!(raw.get::<_, Option<String>>("session_n").unwrap().as_deref(), Some("2"));
    raw.set::<_, _, ()>("session_outside", "x").unwrap();
    assert_eq!(s.get("outside").await.unwrap().as_deref(), Some(&b"x"[..]));
    assert!(s.delete("abc").await.unwrap());
    assert!(!raw.exists::<_, bool>("session_abc").unwrap(), "delete goes through the prefix");
    s.reset().await.unwrap();
}

#[tokio::test]
async fn reset_and_delete_never_touch_other_prefixes_or_unprefixed_keys() {
    let server = Server::shared();
    let mut raw = server.client();
    redis::cmd("SELECT").arg(1).query::<()>(&mut raw).unwrap();
    // A prefix full of glob characters: `*`, `?`, `[` must match only themselves.
    let tricky = format!("{}a*b?c[d]", unique_prefix("glob"));
    let config = support::config(
        serde_json::json!({"host": "127.0.0.1", "port": server.port(), "prefix": tricky, "database": 1}),
    );
    let s = seam_plugin_valkey::ValkeyStorage::from_config("Tricky", &config).unwrap();
    let sibling = tricky.replace("a*b", "aXb");
    let survivors = [format!("{sibling}k"), "k".to_owned(), "plain".to_owned(), tricky.replace("c[d]", "cd")];
    for key in &survivors {
        raw.set::<_, _, ()>(key, "keep").unwrap();
    }
    for i in 0..1200 {
        s.set(&format!("k{i}"), Bytes::from_static(b"x"), None).await.unwrap();
    }
    assert_eq!(s.scan("*").await.unwrap().len(), 1200);
    assert!(!s.delete("plain").await.unwrap(), "delete of `plain` looks under the prefix only");
    s.reset().await.unwrap();
    assert!(s.scan("*").await.unwrap().is_empty());
    for key in &survivors {
        assert_eq!(raw.get::<_, Option<String>>(key).unwrap().as_deref(), Some("keep"), "`{key}` must survive");
        raw.del::<_, ()>(key).unwrap();
    }
}

#[tokio::test]
async fn database_selects_where_keys_go() {
    let server = Server::shared();
    let prefix = unique_prefix("db");
    let config = support::config(
        serde_json::json!({"host": "127.0.0.1", "port": server.port(), "prefix": prefix, "database": 3}),
    );
    let s = seam_plugin_valkey::ValkeyStorage::from_config("Db3", &config).unwrap();
    s.set("k", Bytes::from_static(b"three"), None).await.unwrap();
    let mut raw = server.client();
    for db in [0, 1, 2, 4] {
        redis::cmd("SELECT").arg(db).query::<()>(&mut raw).unwrap();
        assert!(!raw.exists::<_, bool>(format!("{prefix}k")).unwrap(), "database {db} must not hold the key");
    }
    redis::cmd("SELECT").arg(3).query::<()>(&mut raw).unwrap();
    assert_eq!(raw.get::<_, Option<String>>(format!("{prefix}k")).unwrap().as_deref(), Some("three"));
    s.reset().await.unwrap();
}

#[tokio::test]
async fn ttls_are_sent_in_milliseconds_and_none_means_no_expiry() {
    let server = Server::shared();
    let prefix = unique_prefix("ttl");
    let s = storage(server.port(), &prefix);
    let mut raw = server.client();
    s.set("short", Bytes::from_static(b"v"), Some(Duration::from_millis(300))).await.unwrap();
    let pttl: i64 = raw.pttl(format!("{prefix}short")).unwrap();
    assert!((1..=300).contains(&pttl), "PTTL {pttl} for a 300 ms TTL");
    // 200 µs is rounded up to 1 ms, never down to 0 (which Valkey refuses) nor left out.
    s.set("tiny", Bytes::from_static(b"v"), Some(Duration::from_micros(200))).await.unwrap();
    assert_ne!(raw.pttl::<_, i64>(format!("{prefix}tiny")).unwrap(), -1, "a sub-millisecond TTL is kept");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(s.get("tiny").await.unwrap(), None, "and it expires");
    s.set("forever", Bytes::from_static(b"v"), None).await.unwrap();
    assert_eq!(raw.pttl::<_, i64>(format!("{prefix}forever")).unwrap(), -1);
    assert_eq!(s.incr("counter", 1, Some(Duration::from_secs(30))).await.unwrap(), 1);
    let pttl: i64 = raw.pttl(format!("{prefix}counter")).unwrap();
    assert!((29_000..=30_000).contains(&pttl), "incr sets the TTL on creation: {pttl}");
    s.reset().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incr_is_exact_across_independent_instances() {
    // Two storages with separate connections stand for two gateway instances.
    let server = Server::shared();
    let prefix = unique_prefix("incr");
    let a = std::sync::Arc::new(storage(server.port(), &prefix));
    let b = std::sync::Arc::new(storage(server.port(), &prefix));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..400 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.incr("hits", 1, Some(Duration::from_secs(60))).await.unwrap() }));
    }
    let mut values: Vec<i64> = Vec::new();
    for t in tasks {
        values.push(t.await.unwrap());
    }
    values.sort();
    assert_eq!(values, (1..=400).collect::<Vec<_>>(), "every increment counted once ({:?})", started.elapsed());
    a.reset().await.unwrap();
}

#[tokio::test]
async fn incr_of_a_non_integer_is_an_invalid_value() {
    let server = Server::shared();
    let s = storage(server.port(), &unique_prefix("nonint"));
    s.set("text", Bytes::from_static(b"abc"), None).await.unwrap();
    let error = s.incr("text", 1, Some(Duration::from_secs(5))).await.unwrap_err();
    assert!(matches!(error, seam_core::StorageError::InvalidValue(_)), "{error:?}");
    s.reset().await.unwrap();
}
