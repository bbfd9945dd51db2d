//! The [`Storage`] trait every storage component implements.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage was closed; it accepts no more operations.
    #[error("the storage is closed")]
    Closed,
    /// The backing server could not be reached (the text names it and says why).
    #[error("{0}")]
    Unavailable(String),
    /// An operation did not complete within its time limit (the text says which and where).
    #[error("{0}")]
    Timeout(String),
    /// The stored value is not what the operation needs (e.g. `incr` on a non-number).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// Any other failure reported by the backend.
    #[error("{0}")]
    Backend(String),
}

/// Bytes under string keys, shared by every component that names the storage.
///
/// Keys are relative to the storage's own namespace (a key prefix, a database); a storage
/// never reads, lists or removes keys outside it. A `ttl` of `None` or zero means no expiry;
/// sub-second TTLs are kept to the millisecond.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The value under `key`, or `None` when it is missing or expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError>;

    /// Stores `value` under `key`, replacing any value and TTL it had.
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), StorageError>;

    /// Removes `key`; returns whether it existed.
    async fn delete(&self, key: &str) -> Result<bool, StorageError>;

    /// Atomically adds `delta` to the integer under `key` and returns the new value. A missing
    /// key counts from 0 and is created with `ttl`; an existing key keeps its TTL.
    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, StorageError>;

    /// The keys of this storage matching the glob `pattern` (`*`, `?`, `[...]`), sorted.
    async fn scan(&self, pattern: &str) -> Result<Vec<String>, StorageError>;

    /// Removes every key this storage owns, and nothing else.
    async fn reset(&self) -> Result<(), StorageError>;

    /// Succeeds when the storage can serve operations (readiness).
    async fn ping(&self) -> Result<(), StorageError>;

    /// Releases connections; later operations fail with [`StorageError::Closed`].
    async fn close(&self) -> Result<(), StorageError>;
}

/// `Some(0)` means "no expiry" like `None`; this folds both into `None`.
pub fn effective_ttl(ttl: Option<Duration>) -> Option<Duration> {
    ttl.filter(|t| !t.is_zero())
}
