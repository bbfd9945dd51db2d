use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use moka::ops::compute::Op;
use moka::sync::Cache;
use seam_core::storage::effective_ttl;
use seam_core::{Capabilities, Storage, StorageError, async_trait};

#[derive(Clone)]
struct Entry {
    value: Bytes,
    /// `None`: no expiry.
    ttl: Option<Duration>,
    /// An update that keeps the entry's current expiry (`incr` on an existing key).
    keep_ttl: bool,
}

struct EntryExpiry;

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        entry.ttl
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _now: Instant,
        current: Option<Duration>,
    ) -> Option<Duration> {
        if entry.keep_ttl { current } else { entry.ttl }
    }
}

/// Values in this process's memory, with per-key expiry to the millisecond and a bound
/// on the number of keys (least recently used evicted first).
pub struct MemoryStorage {
    cache: Cache<String, Entry>,
    closed: AtomicBool,
}

/// What bounds a [`MemoryStorage`]; beyond it, the least recently used keys are evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The bytes of keys and values (plus a small per-entry overhead).
    Bytes(u64),
    /// The number of keys.
    Entries(u64),
}

/// What one entry weighs under [`Bound::Bytes`]: its key, its value and the bookkeeping
/// around them.
fn weight(key: &str, entry: &Entry) -> u32 {
    const OVERHEAD: usize = 64;
    u32::try_from(key.len() + entry.value.len() + OVERHEAD).unwrap_or(u32::MAX)
}

impl MemoryStorage {
    /// A storage within `bound`.
    pub fn new(bound: Bound) -> Self {
        let builder = Cache::builder().expire_after(EntryExpiry);
        let cache = match bound {
            Bound::Bytes(bytes) => builder.max_capacity(bytes).weigher(|k: &String, e: &Entry| weight(k, e)).build(),
            Bound::Entries(entries) => builder.max_capacity(entries).build(),
        };
        MemoryStorage { cache, closed: AtomicBool::new(false) }
    }

    fn open(&self) -> Result<(), StorageError> {
        if self.closed.load(Ordering::Acquire) { Err(StorageError::Closed) } else { Ok(()) }
    }

    fn read(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.open()?;
        Ok(self.cache.get(key).map(|e| e.value))
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.read(key)
    }

    /// Every read of this storage is answered at once.
    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>, StorageError>> {
        Some(self.read(key))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), StorageError> {
        self.open()?;
        self.cache.insert(key.to_owned(), Entry { value, ttl: effective_ttl(ttl), keep_ttl: false });
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.open()?;
        Ok(self.cache.remove(key).is_some())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::KEYS
    }

    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, StorageError> {
        self.open()?;
        let mut outcome: Result<i64, StorageError> = Ok(0);
        self.cache.entry(key.to_owned()).and_compute_with(|current| {
            let (base, keep_ttl) = match current {
                None => (0, false),
                Some(entry) => {
                    let text = std::str::from_utf8(&entry.value().value).unwrap_or("");
                    match text.parse::<i64>() {
                        Ok(n) => (n, true),
                        Err(_) => {
                            outcome = Err(StorageError::InvalidValue(format!("`{key}` does not hold an integer")));
                            return Op::Nop;
                        }
                    }
                }
            };
            match base.checked_add(delta) {
                Some(n) => {
                    outcome = Ok(n);
                    Op::Put(Entry { value: Bytes::from(n.to_string()), ttl: effective_ttl(ttl), keep_ttl })
                }
                None => {
                    outcome = Err(StorageError::InvalidValue(format!("incrementing `{key}` would overflow")));
                    Op::Nop
                }
            }
        });
        outcome
    }

    async fn scan(&self, pattern: &str) -> Result<Vec<String>, StorageError> {
        self.open()?;
        let pattern = glob::Pattern::new(pattern)
            .map_err(|e| StorageError::InvalidValue(format!("invalid key pattern `{pattern}`: {e}")))?;
        self.cache.run_pending_tasks();
        let mut keys: Vec<String> =
            self.cache.iter().map(|(k, _)| k.as_ref().clone()).filter(|k| pattern.matches(k)).collect();
        keys.sort();
        Ok(keys)
    }

    async fn reset(&self) -> Result<(), StorageError> {
        self.open()?;
        self.cache.invalidate_all();
        self.cache.run_pending_tasks();
        Ok(())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.open()
    }

    async fn close(&self) -> Result<(), StorageError> {
        self.closed.store(true, Ordering::Release);
        self.cache.invalidate_all();
        Ok(())
    }
}
