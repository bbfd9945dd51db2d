use std::sync::Arc;

use seam_core::{BuildContext, BuildError, Component, Problem, Problems, Storage, async_trait};

use crate::storage::{Bound, MemoryStorage};

/// In-process storage with per-key TTLs: fast, but neither shared between gateway instances nor kept across restarts.
///
/// Memory is bounded in bytes (`maxBytes`); beyond it, the least recently used keys are
/// evicted. It is the default storage: a component whose `storage` is left out gets a
/// private one.
#[seam_core::component(name = "plugins.memory.storages.MemoryStorage", default_storage)]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct MemoryStorageConfig {
    /// Most bytes of keys and values kept at once (64 MiB); beyond it, the least recently used keys are evicted.
    #[schemars(range(min = 1))]
    pub max_bytes: u64,
    /// Bound the number of keys instead of their bytes (values of any size then count as one, so memory is not bounded; prefer `maxBytes`).
    #[schemars(range(min = 1))]
    pub max_entries: Option<u64>,
}

impl Default for MemoryStorageConfig {
    fn default() -> Self {
        MemoryStorageConfig { max_bytes: 64 * 1024 * 1024, max_entries: None }
    }
}

#[async_trait]
impl Component for MemoryStorageConfig {
    type Output = dyn Storage;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        let mut problems = Problems::new();
        problems.ensure(self.max_bytes > 0, || Problem::field("maxBytes", "maxBytes must be at least 1"));
        problems.ensure(self.max_entries != Some(0), || Problem::field("maxEntries", "maxEntries must be at least 1"));
        problems.into_result()?;
        let bound = match self.max_entries {
            Some(entries) => Bound::Entries(entries),
            None => Bound::Bytes(self.max_bytes),
        };
        Ok(Arc::new(MemoryStorage::new(bound)))
    }
}
