//! The limiter needs an atomic counter: a storage without `incr` is refused when the
//! document is resolved (so by `seam check`), naming both, never at request time.

use std::sync::Arc;
use std::time::Duration;

use seam_config::document;
use seam_config::resolver::{self, Options};
use seam_core::{BuildContext, BuildError, Bytes, Component, Storage, StorageError, async_trait};
use seam_plugin_limiter as _;
use seam_plugin_memory as _;

/// Keeps nothing; has no `incr`.
#[seam_core::component(name = "plugins.probe.storages.PlainStorage")]
struct PlainStorageConfig {}

struct Plain;

#[async_trait]
impl Storage for Plain {
    async fn get(&self, _key: &str) -> Result<Option<Bytes>, StorageError> {
        Ok(None)
    }
    async fn set(&self, _key: &str, _value: Bytes, _ttl: Option<Duration>) -> Result<(), StorageError> {
        Ok(())
    }
    async fn delete(&self, _key: &str) -> Result<bool, StorageError> {
        Ok(false)
    }
}

#[async_trait]
impl Component for PlainStorageConfig {
    type Output = dyn Storage;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        Ok(Arc::new(Plain))
    }
}

#[tokio::test]
async fn a_storage_without_incr_is_refused_at_build_naming_both() {
    let doc = "
storages:
  Counters: { use: plugins.probe.storages.PlainStorage }
middlewares:
  Limit:
    use: plugins.limiter.middlewares.LimiterMiddleware
    config: { storage: Counters }
";
    let loaded = document::load_str("doc.yaml", doc);
    let errors = resolver::resolve(&loaded.document, Options { offline: true }).await.err().expect("refused");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let message = &errors[0].message;
    assert!(message.contains("middleware `Limit`"), "{message}");
    assert!(message.contains("count atomically"), "{message}");
    assert!(message.contains("storage `Counters` (plugins.probe.storages.PlainStorage)"), "{message}");
    // Placed at the storage name in the limiter's config.
    let loc = errors[0].loc.as_ref().unwrap();
    assert_eq!((loc.line, loc.column), (7, 24));
}

#[tokio::test]
async fn the_default_memory_storage_counts_atomically() {
    let doc = "
middlewares:
  Limit: { use: plugins.limiter.middlewares.LimiterMiddleware }
";
    let loaded = document::load_str("doc.yaml", doc);
    resolver::resolve(&loaded.document, Options { offline: true }).await.map_err(|e| format!("{e:#?}")).unwrap();
}

#[tokio::test]
async fn every_mistake_of_one_limiter_is_reported() {
    let doc = "
middlewares:
  Limit:
    use: plugins.limiter.middlewares.LimiterMiddleware
    config:
      maxConnections: 0
      keyBy: mac
      skipFailedRequests: true
      skipSuccessfulRequests: true
      expirtion: 1m
";
    let loaded = document::load_str("doc.yaml", doc);
    let errors = resolver::resolve(&loaded.document, Options { offline: true }).await.err().expect("refused");
    let mut paths: Vec<&str> = errors.iter().filter_map(|e| e.path.as_deref()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "middlewares.Limit.config.expirtion",
            "middlewares.Limit.config.keyBy",
            "middlewares.Limit.config.maxConnections",
            "middlewares.Limit.config.skipSuccessfulRequests",
        ],
        "{errors:#?}"
    );
    let unknown = errors.iter().find(|e| e.message.contains("unknown config key `expirtion`")).unwrap();
    assert_eq!(unknown.help.as_deref(), Some("did you mean `expiration`?"));
    assert_eq!(unknown.loc.as_ref().map(|l| l.line), Some(10));
}
