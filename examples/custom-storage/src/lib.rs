//! An example of a storage added outside seam's tree: one config struct with one attribute,
//! one `Component` impl, and the runtime type with the three required `Storage` methods.
//! A binary that links this crate and calls `seam::main()` (see `gateway/`) lists it in
//! `seam list` and `seam schema`, and accepts it in documents:
//!
//! ```yaml
//! storages:
//!   Scratch:
//!     use: plugins.example.storages.HashMapStorage
//!     config: { initialCapacity: 1024 }
//! ```
//!
//! It declares no capability beyond `get`, `set` and `delete`: the sessions and the cache
//! can use it; the rate limiter, which needs an atomic `incr`, refuses it when the document
//! is checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seam_core::storage::effective_ttl;
use seam_core::{BuildContext, BuildError, Bytes, Component, Storage, StorageError, async_trait};

/// A plain HashMap behind a mutex: the smallest complete storage, an example of `#[seam_core::component]`.
#[seam_core::component(name = "plugins.example.storages.HashMapStorage")]
#[derive(Debug, Default)]
#[serde(default)]
pub struct HashMapStorageConfig {
    /// Keys to reserve room for up front.
    pub initial_capacity: usize,
}

#[async_trait]
impl Component for HashMapStorageConfig {
    type Output = dyn Storage;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        Ok(Arc::new(HashMapStorage { map: Mutex::new(HashMap::with_capacity(self.initial_capacity)) }))
    }
}

/// The runtime of `HashMapStorage`: values with their expiry.
#[derive(Default)]
pub struct HashMapStorage {
    map: Mutex<HashMap<String, (Bytes, Option<Instant>)>>,
}

impl HashMapStorage {
    fn live(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let map = self.map.lock().map_err(|_| StorageError::Backend("a previous operation panicked".into()))?;
        Ok(map.get(key).filter(|(_, at)| at.is_none_or(|at| at > Instant::now())).map(|(v, _)| v.clone()))
    }
}

#[async_trait]
impl Storage for HashMapStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.live(key)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), StorageError> {
        let expires = effective_ttl(ttl).map(|t| Instant::now() + t);
        let mut map = self.map.lock().map_err(|_| StorageError::Backend("a previous operation panicked".into()))?;
        map.insert(key.to_owned(), (value, expires));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        let existed = self.live(key)?.is_some();
        self.map.lock().map_err(|_| StorageError::Backend("a previous operation panicked".into()))?.remove(key);
        Ok(existed)
    }
}
