//! The storage conformance suite: one async function every storage crate calls from its
//! tests, so all storages keep the same semantics.
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread")]
//! async fn conformance() {
//!     seam_core::testing::conformance(|namespace| async move { MyStorage::new(&namespace) }).await;
//! }
//! ```
//!
//! `make(namespace)` must return a fresh storage whose keys live in `namespace` (e.g. a key
//! prefix); two different namespaces must not see each other's keys.
//!
//! `get`, `set`, `delete` and expiry run for every storage; `incr`, `scan` and `reset` run for
//! the storages that declare them, and the others must answer `Unsupported`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::storage::{Capability, Storage, StorageError};

async fn fresh<S, F, Fut>(make: &F, namespace: &str) -> Arc<dyn Storage>
where
    S: Storage,
    F: Fn(String) -> Fut,
    Fut: Future<Output = S>,
{
    let storage: Arc<dyn Storage> = Arc::new(make(namespace.to_owned()).await);
    if storage.capabilities().has(Capability::Reset) {
        storage.reset().await.expect("reset of a fresh storage");
    }
    storage
}

fn b(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

/// Runs every case against storages made by `make`. Panics with the failing case's name.
pub async fn conformance<S, F, Fut>(make: F)
where
    S: Storage,
    F: Fn(String) -> Fut,
    Fut: Future<Output = S>,
{
    round_trip(&fresh(&make, "conf-roundtrip").await).await;
    binary_values(&fresh(&make, "conf-binary").await).await;
    missing_and_delete(&fresh(&make, "conf-delete").await).await;
    get_now_agrees_with_get(&fresh(&make, "conf-get-now").await).await;
    expiry(&fresh(&make, "conf-ttl").await).await;
    let s = fresh(&make, "conf-capabilities").await;
    let declared = s.capabilities();
    if declared.has(Capability::Incr) {
        incr_counts_exactly(fresh(&make, "conf-incr").await).await;
        incr_keeps_the_first_ttl(&fresh(&make, "conf-incr-ttl").await).await;
    }
    if declared.has(Capability::Scan) {
        scan_lists_exactly(&fresh(&make, "conf-scan").await).await;
    }
    if declared.has(Capability::Reset) {
        reset_is_scoped(&fresh(&make, "conf-reset-a").await, &fresh(&make, "conf-reset-b").await).await;
    }
    if declared.has(Capability::Broadcast) {
        broadcast_reaches_subscribers_of_the_namespace(
            &fresh(&make, "conf-broadcast-a").await,
            &fresh(&make, "conf-broadcast-b").await,
        )
        .await;
    }
    undeclared_are_unsupported(&s).await;
}

/// The next message that is not the (re)subscription mark, within 5 s.
async fn next_message(rx: &mut tokio::sync::mpsc::Receiver<Bytes>) -> Option<Bytes> {
    let wait = async {
        while let Some(message) = rx.recv().await {
            if !message.is_empty() {
                return Some(message);
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(5), wait).await.ok().flatten()
}

/// Waits for the mark that says the subscription is established.
async fn subscribed(rx: &mut tokio::sync::mpsc::Receiver<Bytes>) {
    let mark = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert!(matches!(mark, Ok(Some(ref m)) if m.is_empty()), "a subscription starts with an empty message");
}

async fn broadcast_reaches_subscribers_of_the_namespace(a: &Arc<dyn Storage>, other: &Arc<dyn Storage>) {
    let mut first = a.subscribe("news").await.expect("subscribe");
    let mut second = a.subscribe("news").await.expect("subscribe again");
    let mut elsewhere = other.subscribe("news").await.expect("subscribe in another namespace");
    for rx in [&mut first, &mut second, &mut elsewhere] {
        subscribed(rx).await;
    }
    a.publish("news", b("purge /a")).await.expect("publish");
    assert_eq!(next_message(&mut first).await.as_deref(), Some(&b"purge /a"[..]), "a subscriber gets the message");
    assert_eq!(next_message(&mut second).await.as_deref(), Some(&b"purge /a"[..]), "every subscriber gets it");
    other.publish("news", b("own")).await.expect("publish in the other namespace");
    assert_eq!(
        next_message(&mut elsewhere).await.as_deref(),
        Some(&b"own"[..]),
        "the other namespace's subscriber gets only its own message"
    );
}

/// For a storage that holds connections or memory to release: after `close`, every operation
/// fails with [`StorageError::Closed`].
pub async fn closed_refuses_operations(s: &dyn Storage) {
    s.set("k", b("v"), None).await.unwrap();
    s.close().await.expect("close");
    assert!(matches!(s.get("k").await, Err(StorageError::Closed)), "get after close fails with Closed");
    assert!(matches!(s.get_now("k"), None | Some(Err(StorageError::Closed))), "nothing is read at once after close");
    assert!(matches!(s.set("k", b("v"), None).await, Err(StorageError::Closed)), "set after close fails");
    assert!(matches!(s.delete("k").await, Err(StorageError::Closed)), "delete after close fails");
    if s.capabilities().has(Capability::Incr) {
        assert!(matches!(s.incr("n", 1, None).await, Err(StorageError::Closed)), "incr after close fails");
    }
}

async fn undeclared_are_unsupported(s: &Arc<dyn Storage>) {
    let declared = s.capabilities();
    for capability in Capability::ALL.into_iter().filter(|c| !declared.has(*c)) {
        let result = match capability {
            Capability::Incr => s.incr("undeclared", 1, None).await.map(drop),
            Capability::Scan => s.scan("*").await.map(drop),
            Capability::Reset => s.reset().await,
            Capability::Broadcast => s.publish("undeclared", Bytes::from_static(b"x")).await,
        };
        assert!(
            matches!(result, Err(StorageError::Unsupported(c)) if c == capability),
            "a storage that does not declare {capability} answers Unsupported"
        );
    }
}

async fn round_trip(s: &Arc<dyn Storage>) {
    s.set("k", b("v1"), None).await.expect("set");
    assert_eq!(s.get("k").await.expect("get").as_deref(), Some(&b"v1"[..]), "round trip");
    s.set("k", b("v2"), None).await.expect("overwrite");
    assert_eq!(s.get("k").await.expect("get").as_deref(), Some(&b"v2"[..]), "overwrite");
    s.set("key with spaces/and:colons", b("x"), None).await.expect("set odd key");
    assert_eq!(s.get("key with spaces/and:colons").await.unwrap().as_deref(), Some(&b"x"[..]), "odd key");
}

async fn binary_values(s: &Arc<dyn Storage>) {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    for (key, value) in [("empty", Vec::new()), ("all", all_bytes), ("1mib", big)] {
        s.set(key, Bytes::from(value.clone()), None).await.expect("set binary");
        let got = s.get(key).await.expect("get binary").unwrap_or_else(|| panic!("binary value `{key}` missing"));
        assert!(got[..] == value[..], "binary value `{key}` differs ({} bytes read)", got.len());
    }
}

async fn missing_and_delete(s: &Arc<dyn Storage>) {
    assert_eq!(s.get("never-set").await.expect("get missing"), None, "a missing key reads as none");
    s.set("d", b("v"), None).await.expect("set");
    assert!(s.delete("d").await.expect("delete existing"), "delete of an existing key reports it existed");
    assert_eq!(s.get("d").await.expect("get deleted"), None, "deleted key is gone");
    assert!(!s.delete("d").await.expect("delete missing"), "delete of a missing key reports it did not exist");
}

/// `get_now`, whenever it answers, answers what `get` does: right after each write (a copy
/// kept from before it must not be served) and after the read that follows it.
async fn get_now_agrees_with_get(s: &Arc<dyn Storage>) {
    let now = |when: &str| s.get_now("k").map(|answer| answer.unwrap_or_else(|e| panic!("get_now {when}: {e}")));
    assert!(matches!(now("of a missing key"), None | Some(None)), "get_now of a missing key");
    for (step, value) in [("a first write", Some("v1")), ("an overwrite", Some("v2")), ("a delete", None)] {
        match value {
            Some(value) => s.set("k", b(value), None).await.expect("set"),
            None => assert!(s.delete("k").await.expect("delete")),
        }
        let expected = value.map(str::as_bytes);
        if let Some(answer) = now(&format!("after {step}")) {
            assert_eq!(answer.as_deref(), expected, "get_now right after {step}");
        }
        assert_eq!(s.get("k").await.expect("get").as_deref(), expected, "get after {step}");
        if let Some(answer) = now(&format!("after {step} and a get")) {
            assert_eq!(answer.as_deref(), expected, "get_now after {step} and a get");
        }
    }
}

async fn incr_counts_exactly(s: Arc<dyn Storage>) {
    assert_eq!(s.incr("n", 5, None).await.expect("incr creates"), 5);
    assert_eq!(s.incr("n", -2, None).await.expect("incr"), 3);
    assert_eq!(s.get("n").await.unwrap().as_deref(), Some(&b"3"[..]), "incr stores decimal text");
    s.set("text", b("abc"), None).await.unwrap();
    assert!(s.incr("text", 1, None).await.is_err(), "incr of a non-integer fails");

    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.incr("c", 1, Some(Duration::from_secs(60))).await })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.expect("task").expect("concurrent incr"));
    }
    seen.sort();
    assert_eq!(seen, (1..=64).collect::<Vec<i64>>(), "64 concurrent incr give 1..=64");
    assert_eq!(s.get("c").await.unwrap().as_deref(), Some(&b"64"[..]));
}

async fn scan_lists_exactly(s: &Arc<dyn Storage>) {
    for key in ["a", "b", "c:1", "c:2"] {
        s.set(key, b("v"), None).await.unwrap();
    }
    assert_eq!(s.scan("*").await.expect("scan"), ["a", "b", "c:1", "c:2"], "scan lists exactly the keys");
    assert_eq!(s.scan("c:*").await.expect("scan pattern"), ["c:1", "c:2"], "scan with a pattern");
}

async fn reset_is_scoped(a: &Arc<dyn Storage>, other: &Arc<dyn Storage>) {
    for i in 0..50 {
        a.set(&format!("k{i}"), b("v"), None).await.unwrap();
    }
    other.set("k1", b("kept"), None).await.unwrap();
    a.reset().await.expect("reset");
    assert!(a.scan("*").await.unwrap().is_empty(), "reset removes every key");
    assert_eq!(a.get("k1").await.unwrap(), None);
    assert_eq!(other.get("k1").await.unwrap().as_deref(), Some(&b"kept"[..]), "reset spares another storage's keys");
}

async fn expiry(s: &Arc<dyn Storage>) {
    s.set("one-second", b("v"), Some(Duration::from_secs(1))).await.unwrap();
    s.set("fifty-ms", b("v"), Some(Duration::from_millis(50))).await.unwrap();
    s.set("forever", b("v"), None).await.unwrap();
    s.set("zero-means-forever", b("v"), Some(Duration::ZERO)).await.unwrap();
    s.set("ten-seconds", b("v"), Some(Duration::from_secs(10))).await.unwrap();
    assert!(s.get("one-second").await.unwrap().is_some(), "a 1 s key exists right after set");

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.get("fifty-ms").await.unwrap(), None, "a 50 ms key is gone after 100 ms");
    assert!(s.get("ten-seconds").await.unwrap().is_some(), "a 10 s key survives 100 ms");

    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(s.get("one-second").await.unwrap(), None, "a 1 s key is gone after 1.1 s");
    assert!(s.get("forever").await.unwrap().is_some(), "no TTL never expires");
    assert!(s.get("zero-means-forever").await.unwrap().is_some(), "a zero TTL means no expiry");
}

async fn incr_keeps_the_first_ttl(s: &Arc<dyn Storage>) {
    assert_eq!(s.incr("counter", 1, Some(Duration::from_secs(1))).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // An existing key keeps the TTL it was created with.
    assert_eq!(s.incr("counter", 1, Some(Duration::from_secs(1))).await.unwrap(), 2);
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(s.get("counter").await.unwrap(), None, "incr sets the TTL only when it creates the key");
}

/// Builds components outside a document, for a plugin's own tests: storages are given by
/// name, and `build` runs the component's `Component::build` as the resolver would.
///
/// ```ignore
/// let harness = Harness::new().storage("Counters", MapStorage::default());
/// let limiter = harness.build::<LimiterMiddlewareConfig>(json!({ "storage": "Counters" })).await?;
/// ```
#[derive(Default)]
pub struct Harness {
    storages: std::collections::HashMap<String, Arc<dyn Storage>>,
}

impl Harness {
    /// No storages.
    pub fn new() -> Self {
        Harness::default()
    }

    /// Adds `storage` under `name`.
    pub fn storage(self, name: &str, storage: impl Storage) -> Self {
        self.shared_storage(name, Arc::new(storage))
    }

    /// Adds a storage the test keeps a handle on, under `name`.
    pub fn shared_storage(mut self, name: &str, storage: Arc<dyn Storage>) -> Self {
        self.storages.insert(name.to_owned(), storage);
        self
    }

    /// Deserializes `config` as `C` and builds it (offline), called `Test`.
    pub async fn build<C>(&self, config: serde_json::Value) -> Result<Arc<C::Output>, crate::BuildError>
    where
        C: crate::Component,
        C::Output: crate::component::Built,
    {
        let config: C = crate::component::deserialize(&config)?;
        let kind = <C::Output as crate::component::Built>::KIND;
        config.build(&crate::BuildContext::new("Test", kind, true, self)).await
    }
}

#[async_trait::async_trait]
impl crate::StorageSource for Harness {
    async fn storage(&self, who: &str, name: &str) -> Result<(Arc<dyn Storage>, &'static str), crate::BuildError> {
        match self.storages.get(name) {
            Some(s) => Ok((s.clone(), "a test storage")),
            None => Err(crate::Problem::new(format!("{who} refers to storage `{name}`, which the test did not give"))
                .reference(name)
                .into()),
        }
    }
}

/// An in-process storage with every capability, for plugin tests (not registered: plugins'
/// tests use it without depending on the memory plugin).
#[derive(Default)]
pub struct MapStorage {
    map: std::sync::Mutex<std::collections::HashMap<String, (Bytes, Option<std::time::Instant>)>>,
}

impl MapStorage {
    fn live(map: &mut std::collections::HashMap<String, (Bytes, Option<std::time::Instant>)>, now: std::time::Instant) {
        map.retain(|_, (_, at)| at.is_none_or(|at| at > now));
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut std::collections::HashMap<String, (Bytes, Option<std::time::Instant>)>) -> T,
    ) -> Result<T, StorageError> {
        let mut map = self.map.lock().map_err(|_| StorageError::Backend("poisoned".into()))?;
        Self::live(&mut map, std::time::Instant::now());
        Ok(f(&mut map))
    }
}

#[async_trait::async_trait]
impl Storage for MapStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.with(|m| m.get(key).map(|(v, _)| v.clone()))
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), StorageError> {
        let at = crate::storage::effective_ttl(ttl).map(|t| std::time::Instant::now() + t);
        self.with(|m| {
            m.insert(key.to_owned(), (value, at));
        })
    }
    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.with(|m| m.remove(key).is_some())
    }
    fn capabilities(&self) -> crate::Capabilities {
        crate::Capabilities::KEYS
    }
    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, StorageError> {
        self.with(|m| {
            let at = crate::storage::effective_ttl(ttl).map(|t| std::time::Instant::now() + t);
            let (value, expiry) = m.get(key).cloned().unwrap_or((Bytes::from_static(b"0"), at));
            let n: i64 = std::str::from_utf8(&value)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| StorageError::InvalidValue(format!("`{key}` is not an integer")))?;
            let next = n.checked_add(delta).ok_or_else(|| StorageError::InvalidValue("overflow".into()))?;
            m.insert(key.to_owned(), (Bytes::from(next.to_string()), expiry));
            Ok(next)
        })?
    }
    async fn scan(&self, pattern: &str) -> Result<Vec<String>, StorageError> {
        // Enough for tests: `*` alone, or a prefix followed by `*`.
        let prefix = pattern.trim_end_matches('*');
        self.with(|m| {
            let mut keys: Vec<String> = m.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
            keys.sort();
            keys
        })
    }
    async fn reset(&self) -> Result<(), StorageError> {
        self.with(|m| m.clear())
    }
}
