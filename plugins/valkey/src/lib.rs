//! seam plugin `valkey`: `plugins.valkey.storages.ValkeyStorage`, the storage that many
//! gateway instances share — sessions, rate limits and caches in one Valkey (or Redis, or a
//! Valkey Cluster), so the gateway itself stays stateless.

mod client_cache;
mod config;
mod connect;
mod keys;
mod node_tracking;
mod pubsub;
mod push;
mod storage;
mod topology;

pub use config::{ClientCacheConfig, TlsConfig, ValkeyStorageConfig};
pub use storage::ValkeyStorage;
