//! seam plugin `memory`: `plugins.memory.storages.MemoryStorage`, the in-process storage
//! used wherever a component's `storage` is left out.

mod config;
mod storage;

pub use config::MemoryStorageConfig;
pub use storage::{Bound, MemoryStorage};
