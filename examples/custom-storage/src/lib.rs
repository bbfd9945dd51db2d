//! An example of a storage added outside seam's tree.
//!
//! One config struct with `#[derive(Storage)]`, one `BuildStorage` impl, and the runtime
//! type implementing `Storage`. A binary that links this crate and calls `seam::main()`
//! (see `gateway/`) lists it in `seam list` and `seam schema`, and accepts it in documents:
//!
//! ```yaml
//! storages:
//!   Scratch:
//!     use: plugins.example.storages.HashMapStorage
//!     config: { initialCapacity: 1024 }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use schemars::JsonSchema;
use seam_registry::storage::effective_ttl;
use seam_registry::{BuildContext, BuildError, BuildStorage, Storage, StorageError};
use serde::Deserialize;

/// A plain HashMap behind a mutex: the smallest complete storage, as an example of `#[derive(Storage)]`.
#[derive(Debug, Default, Deserialize, JsonSchema, seam_registry::Storage)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
#[seam(name = "plugins.example.storages.HashMapStorage")]
pub struct HashMapStorageConfig {
    /// Keys to reserve room for up front.
    pub initial_capacity: usize,
}

#[async_trait]
impl BuildStorage for HashMapStorageConfig {
    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        Ok(Arc::new(HashMapStorage::with_capacity(self.initial_capacity)))
    }
}

struct Entry {
    value: Bytes,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

/// The runtime of `HashMapStorage`.
#[derive(Default)]
pub struct HashMapStorage {
    map: Mutex<HashMap<String, Entry>>,
    closed: AtomicBool,
}

impl HashMapStorage {
    /// An empty storage with room for `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        HashMapStorage { map: Mutex::new(HashMap::with_capacity(capacity)), closed: AtomicBool::new(false) }
    }

    fn map(&self) -> Result<MutexGuard<'_, HashMap<String, Entry>>, StorageError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        self.map.lock().map_err(|_| StorageError::Backend("a previous operation panicked".into()))
    }
}

fn expiry(ttl: Option<Duration>) -> Option<Instant> {
    effective_ttl(ttl).map(|t| Instant::now() + t)
}

#[async_trait]
impl Storage for HashMapStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let now = Instant::now();
        Ok(self.map()?.get(key).filter(|e| e.live(now)).map(|e| e.value.clone()))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), StorageError> {
        self.map()?.insert(key.to_owned(), Entry { value, expires: expiry(ttl) });
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        let now = Instant::now();
        Ok(self.map()?.remove(key).is_some_and(|e| e.live(now)))
    }

    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, StorageError> {
        let now = Instant::now();
        let mut map = self.map()?;
        let (current, expires) = match map.get(key).filter(|e| e.live(now)) {
            Some(e) => {
                let n = std::str::from_utf8(&e.value).ok().and_then(|t| t.parse::<i64>().ok());
                let n = n.ok_or_else(|| StorageError::InvalidValue(format!("`{key}` does not hold an integer")))?;
                (n, e.expires)
            }
            None => (0, expiry(ttl)),
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| StorageError::InvalidValue(format!("incrementing `{key}` would overflow")))?;
        map.insert(key.to_owned(), Entry { value: Bytes::from(next.to_string()), expires });
        Ok(next)
    }

    async fn scan(&self, pattern: &str) -> Result<Vec<String>, StorageError> {
        let pattern = glob::Pattern::new(pattern)
            .map_err(|e| StorageError::InvalidValue(format!("invalid key pattern `{pattern}`: {e}")))?;
        let now = Instant::now();
        let mut map = self.map()?;
        map.retain(|_, e| e.live(now));
        let mut keys: Vec<String> = map.keys().filter(|k| pattern.matches(k)).cloned().collect();
        keys.sort();
        Ok(keys)
    }

    async fn reset(&self) -> Result<(), StorageError> {
        self.map()?.clear();
        Ok(())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.map().map(drop)
    }

    async fn close(&self) -> Result<(), StorageError> {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
        Ok(())
    }
}
