use std::sync::Arc;

use seam_core::{BuildContext, BuildError, Component, Problem, Storage, async_trait};

use crate::storage::MemoryStorage;

/// In-process storage with per-key TTLs: fast, but neither shared between gateway instances nor kept across restarts.
///
/// When more than `maxEntries` keys are stored, the least recently used ones are evicted.
/// It is the default storage: a component whose `storage` is left out gets a private one.
#[seam_core::component(name = "plugins.memory.storages.MemoryStorage", default_storage)]
#[derive(Clone, Debug)]
#[serde(default)]
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
impl Component for MemoryStorageConfig {
    type Output = dyn Storage;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        if self.max_entries == 0 {
            return Err(Problem::field("maxEntries", "maxEntries must be at least 1").into());
        }
        Ok(Arc::new(MemoryStorage::new(self.max_entries)))
    }
}
