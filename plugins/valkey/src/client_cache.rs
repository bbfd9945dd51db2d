//! `clientCache`: hot values answered from this process, never stale beyond the push of an
//! invalidation.
//!
//! Dedicated RESP3 connections ask the servers for `CLIENT TRACKING ON BCAST PREFIX
//! <prefix>` (one per server a write can reach: see `node_tracking`): from then on Valkey
//! pushes the name of every key under the prefix that any client writes, deletes or lets
//! expire, and the entry is evicted here. While any of them is not established nothing is
//! cached and every entry is dropped, so a lost invalidation can never leave a stale value
//! behind. A read that raced with an invalidation (the value was fetched before the push
//! arrived) is not stored: every read takes a ticket, the generation of invalidations it
//! started under, and is stored only if none came since. Each worker thread answers hot
//! keys from its own copies, which are used only while the generation has not moved since
//! they were copied: every removal moves it before and after, so no copy survives an
//! invalidation, even one copied while it was being applied.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::Value;
use seam_core::metrics::{ShardedCounter, client_cache_counter, client_cache_live};
use thread_local::ThreadLocal;

use crate::node_tracking::NodeTracking;

/// Most entries each thread keeps in front of the shared entries (it starts over when full).
const FRONT_ENTRIES: usize = 4096;

/// A thread's own copies of hot entries: a hit reads nothing another worker writes (no
/// shard lock, no shared reference count), so the workers do not take turns at one cache
/// line. An entry is used only while no invalidation has happened since it was copied.
type Front = HashMap<String, (Cached, u64), ahash::RandomState>;

/// The local entries and whether they can be trusted.
///
/// Entries are keyed by the storage's own key, without its prefix, so a read looks its key
/// up as it is given; the prefix is taken off the keys the server names in invalidations.
pub struct ClientCache {
    entries: quick_cache::sync::Cache<String, Cached>,
    /// Per thread: copies of entries, each with the generation it was copied under.
    front: ThreadLocal<RefCell<Front>>,
    prefix: String,
    generation: AtomicU64,
    live: AtomicBool,
    ttl: Duration,
    started: AtomicBool,
    tracker: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
    /// `seam_storage_client_cache_lookups_total{storage,outcome}`.
    hits: ShardedCounter,
    misses: ShardedCounter,
    /// `seam_storage_client_cache_live{storage}`.
    live_gauge: seam_core::metrics::Gauge,
}

#[derive(Clone)]
struct Cached {
    value: Option<Bytes>,
    until: Instant,
}

/// The state a read started under; see [`ClientCache::store`].
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl ClientCache {
    /// Up to `max_entries` values of the keys under `prefix`, each kept at most `ttl` (and
    /// never past its key's TTL).
    pub fn new(storage: &str, prefix: String, max_entries: u64, ttl: Duration) -> ClientCache {
        ClientCache {
            entries: quick_cache::sync::Cache::new(usize::try_from(max_entries).unwrap_or(usize::MAX)),
            front: ThreadLocal::new(),
            prefix,
            generation: AtomicU64::new(0),
            live: AtomicBool::new(false),
            ttl,
            started: AtomicBool::new(false),
            tracker: std::sync::Mutex::new(None),
            hits: client_cache_counter(storage, "hit"),
            misses: client_cache_counter(storage, "miss"),
            live_gauge: client_cache_live(storage),
        }
    }

    /// The cached value of `key` (without the prefix; `Some(None)`: known to be absent), if it
    /// can be trusted.
    pub fn lookup(&self, key: &str) -> Option<Option<Bytes>> {
        let found = self.lookup_hit(key);
        if found.is_none() {
            self.misses.inc();
        }
        found
    }

    /// [`lookup`](Self::lookup) counting only a hit: for a caller that reads from Valkey
    /// through `lookup` after a miss, so that the miss is counted once.
    pub fn lookup_hit(&self, key: &str) -> Option<Option<Bytes>> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        // Read before the shared entries: an invalidation after this makes the copy below
        // carry an old generation, so it is never used.
        let generation = self.generation.load(Ordering::Acquire);
        let now = Instant::now();
        let front = self.front.get_or_default();
        if let Some((cached, made)) = front.borrow().get(key)
            && *made == generation
            && cached.until > now
        {
            self.hits.inc();
            return Some(cached.value.clone());
        }
        // An expired entry is left in place: the read from Valkey that follows replaces it.
        match self.entries.get(key).filter(|cached| cached.until > now) {
            Some(cached) => {
                self.hits.inc();
                // This thread's own copy of the bytes: its reference count is this thread's.
                let copy = Cached { value: cached.value.as_deref().map(Bytes::copy_from_slice), until: cached.until };
                let mut front = front.borrow_mut();
                if front.len() >= FRONT_ENTRIES {
                    front.clear();
                }
                front.insert(key.to_owned(), (copy.clone(), generation));
                Some(copy.value)
            }
            None => None,
        }
    }

    /// Taken before reading from the server.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Keeps what a read returned, unless an invalidation arrived since its `ticket` or the
    /// tracking connection is down. `pttl` is the key's remaining time to live in ms as
    /// PTTL answers it (negative: none, or no key).
    pub fn store(&self, ticket: Ticket, key: String, value: Option<Bytes>, pttl: i64) {
        let mut keep = self.ttl;
        if let Ok(ms) = u64::try_from(pttl) {
            keep = keep.min(Duration::from_millis(ms));
        }
        if keep.is_zero() || !self.live.load(Ordering::Acquire) {
            return;
        }
        let until = Instant::now() + keep;
        if self.generation.load(Ordering::Acquire) == ticket.0 {
            self.entries.insert(key.clone(), Cached { value, until });
            // An invalidation that landed while inserting wins.
            if self.generation.load(Ordering::Acquire) != ticket.0 {
                self.entries.remove(&key);
            }
        }
    }

    /// Runs `remove` between two steps of the generation. The step before makes a read in
    /// flight ([`ClientCache::store`]) drop what it fetched; the step after makes every
    /// thread's copies ([`ClientCache::lookup`]) unusable, including a copy taken from an
    /// entry `remove` had not reached yet.
    fn removing(&self, remove: impl FnOnce()) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        remove();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops `key` (without the prefix; this process wrote it).
    pub fn forget(&self, key: &str) {
        self.removing(|| {
            self.entries.remove(key);
        });
    }

    /// Drops everything (a reset, a lost tracking connection).
    pub fn forget_all(&self) {
        self.removing(|| self.entries.clear());
    }

    /// Applies an `invalidate` push: its keys, or null (a flush) for every key.
    pub(crate) fn invalidated(&self, data: &[Value]) {
        match data.first() {
            Some(Value::Array(keys)) => self.removing(|| {
                for key in keys {
                    // The server names the full key; only keys under the prefix are kept here.
                    if let Value::BulkString(bytes) = key
                        && let Some(own) = bytes.strip_prefix(self.prefix.as_bytes())
                    {
                        self.entries.remove(String::from_utf8_lossy(own).as_ref());
                    }
                }
            }),
            // After FLUSHDB / FLUSHALL the server sends null instead of the keys.
            _ => self.forget_all(),
        }
    }

    /// Trusts the entries (the invalidations are being received) or not; drops them either
    /// way, since what came before cannot be vouched for.
    pub(crate) fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        self.live_gauge.set(i64::from(live));
        self.forget_all();
    }

    /// Whether values are being answered from the process now.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Whether [`ClientCache::start`] was called.
    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Starts following the invalidations of `servers` (once) on the current runtime.
    pub fn start(self: &Arc<Self>, servers: Arc<NodeTracking>, timeouts: (Duration, Duration)) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let task =
            tokio::spawn(crate::node_tracking::track(Arc::downgrade(self), servers, self.prefix.clone(), timeouts));
        *self.tracker.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task.abort_handle());
    }

    /// Stops the tracking connection; nothing is answered locally afterwards.
    pub fn stop(&self) {
        if let Some(task) = self.tracker.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            task.abort();
        }
        self.set_live(false);
    }
}

impl Drop for ClientCache {
    fn drop(&mut self) {
        if let Some(task) = self.tracker.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_cache() -> ClientCache {
        let cache = ClientCache::new("test", "p:".into(), 100, Duration::from_secs(60));
        cache.set_live(true);
        cache
    }

    fn keep(cache: &ClientCache, key: &str, value: &'static [u8]) {
        let ticket = cache.ticket();
        cache.store(ticket, key.into(), Some(Bytes::from_static(value)), -1);
    }

    #[test]
    fn a_thread_copy_is_never_used_after_an_invalidation() {
        let cache = live_cache();
        keep(&cache, "k", b"v1");
        assert_eq!(cache.lookup("k"), Some(Some(Bytes::from_static(b"v1"))), "from the shared entries");
        assert_eq!(cache.lookup("k"), Some(Some(Bytes::from_static(b"v1"))), "from this thread's copy");
        cache.invalidated(&[Value::Array(vec![Value::BulkString(b"p:k".to_vec())])]);
        assert_eq!(cache.lookup("k"), None, "the copy went with the shared entry");
        keep(&cache, "k", b"v2");
        assert_eq!(cache.lookup("k"), Some(Some(Bytes::from_static(b"v2"))));
        cache.forget("k");
        assert_eq!(cache.lookup("k"), None, "a local write drops the copy too");
        keep(&cache, "k", b"v3");
        assert_eq!(cache.lookup("k"), Some(Some(Bytes::from_static(b"v3"))));
        cache.set_live(false);
        assert_eq!(cache.lookup("k"), None, "nothing is answered without the tracking connection");
    }

    #[test]
    fn an_invalidation_of_another_prefix_or_key_keeps_the_entry() {
        let cache = live_cache();
        keep(&cache, "k", b"v");
        cache.invalidated(&[Value::Array(vec![Value::BulkString(b"other:k".to_vec())])]);
        // The copies are dropped (any invalidation moves the generation), the shared entry stays.
        assert_eq!(cache.lookup("k"), Some(Some(Bytes::from_static(b"v"))));
    }
}
