//! The [`Storage`] trait every storage component implements, and the capabilities a storage
//! declares beyond `get`, `set` and `delete`.

use std::fmt;
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
    /// The storage does not have this capability (see [`Storage::capabilities`]).
    #[error("this storage cannot {0}")]
    Unsupported(Capability),
    /// Any other failure reported by the backend.
    #[error("{0}")]
    Backend(String),
}

/// An operation beyond `get`, `set` and `delete` that a storage may offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// [`Storage::incr`]: an atomic counter, exact under concurrent callers (and across
    /// gateway instances for a shared storage).
    Incr,
    /// [`Storage::scan`]: list the keys of the storage's namespace.
    Scan,
    /// [`Storage::reset`]: remove every key of the storage's namespace, and nothing else.
    Reset,
    /// [`Storage::publish`] and [`Storage::subscribe`]: messages to every process sharing the
    /// storage (cache purges reach every instance's in-process tier).
    Broadcast,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 4] = [Capability::Incr, Capability::Scan, Capability::Reset, Capability::Broadcast];

    fn bit(self) -> u8 {
        capability_bit(self)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Incr => "count atomically (`incr`)",
            Capability::Scan => "list its keys (`scan`)",
            Capability::Reset => "remove its keys (`reset`)",
            Capability::Broadcast => "send messages to every process sharing it (`publish`, `subscribe`)",
        })
    }
}

/// The set of [`Capability`]s a storage declares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability beyond `get`, `set` and `delete`.
    pub const NONE: Capabilities = Capabilities(0);
    /// Every capability.
    pub const ALL: Capabilities = Capabilities(15);
    /// `incr`, `scan` and `reset`: everything about keys (a storage of one process cannot
    /// broadcast to others).
    pub const KEYS: Capabilities = Capabilities(7);

    /// This set with `capability` added.
    pub const fn with(self, capability: Capability) -> Capabilities {
        Capabilities(self.0 | capability_bit(capability))
    }

    /// Whether the set has `capability`.
    pub fn has(self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }
}

const fn capability_bit(capability: Capability) -> u8 {
    match capability {
        Capability::Incr => 1,
        Capability::Scan => 2,
        Capability::Reset => 4,
        Capability::Broadcast => 8,
    }
}

/// Bytes under string keys, shared by every component that names the storage.
///
/// Keys are relative to the storage's own namespace (a key prefix, a database); a storage
/// never reads, lists or removes keys outside it. A `ttl` of `None` or zero means no expiry;
/// sub-second TTLs are kept to the millisecond.
///
/// `get`, `set` and `delete` are required. `incr`, `scan` and `reset` are capabilities: a
/// storage that offers one says so in [`Storage::capabilities`] and overrides it; the
/// defaults answer [`StorageError::Unsupported`] (there is no safe default: a counter that
/// is not atomic would let a rate limit be exceeded). A component that needs a capability
/// asks for it at build time ([`crate::BuildContext::storage_with`]), so a storage that lacks
/// it is refused when the document is checked, never at request time.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The value under `key`, or `None` when it is missing or expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError>;

    /// What [`get`](Storage::get) would answer, when the storage can tell without waiting:
    /// from memory (the memory storage always; a Valkey storage with `clientCache` when it
    /// holds a trusted copy of the key). `None` means "ask `get`", not "missing": a caller
    /// on a hot path tries this first, then awaits `get`, and so spares a boxed future per
    /// read the process answers itself. The default answers `None`.
    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>, StorageError>> {
        let _ = key;
        None
    }

    /// Stores `value` under `key`, replacing any value and TTL it had.
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), StorageError>;

    /// Removes `key`; returns whether it existed.
    async fn delete(&self, key: &str) -> Result<bool, StorageError>;

    /// The capabilities this storage offers beyond `get`, `set` and `delete`.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

    /// Atomically adds `delta` to the integer under `key` and returns the new value. A missing
    /// key counts from 0 and is created with `ttl`; an existing key keeps its TTL.
    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, StorageError> {
        let _ = (key, delta, ttl);
        Err(StorageError::Unsupported(Capability::Incr))
    }

    /// The keys of this storage matching the glob `pattern` (`*`, `?`, `[...]`), sorted.
    async fn scan(&self, pattern: &str) -> Result<Vec<String>, StorageError> {
        let _ = pattern;
        Err(StorageError::Unsupported(Capability::Scan))
    }

    /// Removes every key this storage owns, and nothing else.
    async fn reset(&self) -> Result<(), StorageError> {
        Err(StorageError::Unsupported(Capability::Reset))
    }

    /// Sends `message` (not empty) to every subscriber of `channel`, in every process sharing
    /// the storage; the channel is in the storage's namespace like a key.
    async fn publish(&self, channel: &str, message: Bytes) -> Result<(), StorageError> {
        let _ = (channel, message);
        Err(StorageError::Unsupported(Capability::Broadcast))
    }

    /// The messages published on `channel` from now on. Each time the subscription is
    /// (re)established, an empty message comes first: messages sent while it was down are
    /// lost, so whoever keeps copies should drop them. The receiver ends when the storage
    /// is closed.
    async fn subscribe(&self, channel: &str) -> Result<tokio::sync::mpsc::Receiver<Bytes>, StorageError> {
        let _ = channel;
        Err(StorageError::Unsupported(Capability::Broadcast))
    }

    /// Where the storage is connected now, when it was discovered rather than configured (a
    /// primary found through sentinels); `seam check` prints it.
    fn endpoint(&self) -> Option<String> {
        None
    }

    /// Whether this storage's namespace is the whole server it talks to (a Valkey storage
    /// with an empty `prefix`): its `reset` would remove keys that other programs may own,
    /// so operators must confirm it explicitly.
    fn owns_whole_server(&self) -> bool {
        false
    }

    /// Succeeds when the storage can serve operations (readiness). The default, for storages
    /// without a server, always succeeds.
    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// Releases connections; later operations fail with [`StorageError::Closed`]. The default
    /// does nothing (a storage that holds nothing to release).
    async fn close(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Reads `key` from `storage`: at once when the storage can answer from memory
/// ([`Storage::get_now`]), otherwise through [`Storage::get`]. What every hot read uses.
pub async fn read(storage: &dyn Storage, key: &str) -> Result<Option<Bytes>, StorageError> {
    match storage.get_now(key) {
        Some(answer) => answer,
        None => storage.get(key).await,
    }
}

/// `Some(0)` means "no expiry" like `None`; this folds both into `None`.
pub fn effective_ttl(ttl: Option<Duration>) -> Option<Duration> {
    ttl.filter(|t| !t.is_zero())
}
