use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use seam_registry::{BuildContext, BuildError, BuildStorage, ConfigError, Storage};
use serde::{Deserialize, Serialize};

use crate::storage::MemoryStorage;

/// In-process storage with per-key TTLs: fast, but neither shared between gateway instances nor kept across restarts.
///
/// When more than `maxEntries` keys are stored, the least recently used ones are evicted.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, seam_registry::Storage)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
#[seam(name = "plugins.memory.storages.MemoryStorage")]
pub struct MemoryStorageConfig {
    /// Most keys kept at once; beyond it, the least recently used keys are evicted.
    #[schemars(range(min = 1))]
    pub max_entries: u64,
}

impl Default for MemoryStorageConfig {
    fn default() -> Self {
        MemoryStorageConfig { max_entries: 100_000 }
    }
}

#[async_trait]
impl BuildStorage for MemoryStorageConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_entries == 0 {
            return Err(ConfigError::field("maxEntries", "maxEntries must be at least 1"));
        }
        Ok(())
    }

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        Ok(Arc::new(MemoryStorage::new(self.max_entries)))
    }
}
