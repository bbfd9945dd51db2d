use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use seam_registry::{BuildContext, BuildError, BuildMiddleware, ConfigError, GoDuration, Middleware};
use serde::Deserialize;

use crate::middleware::Cache;

fn minute() -> GoDuration {
    GoDuration::from_secs(60)
}
fn get_head() -> Vec<String> {
    vec!["GET".into(), "HEAD".into()]
}
fn one_mib() -> u64 {
    1024 * 1024
}

/// Caches upstream responses in a storage that every gateway instance shares.
///
/// Only 200/203/204/301/404/410 responses are stored; `Cache-Control: no-store`, `private`
/// or `no-cache`, a `Set-Cookie`, or a request with `Authorization` (unless
/// `cacheAuthorized`) prevent storing, and `max-age`/`s-maxage` shorten the TTL. Responses
/// carry `X-Cache: HIT` (with `Age`) or `MISS`; concurrent misses for one key make one
/// upstream request. An unreachable storage makes every request a miss, never an error.
#[derive(Clone, Debug, Deserialize, JsonSchema, seam_registry::Middleware)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[seam(name = "plugins.cache.middlewares.CacheMiddleware")]
pub struct CacheMiddlewareConfig {
    /// The storage holding cached responses (e.g. a ValkeyStorage). Left out: in-process memory.
    #[serde(default)]
    pub storage: Option<String>,
    /// How long a response is kept (shortened by the upstream's `max-age`).
    #[serde(default = "minute")]
    #[schemars(default = "minute")]
    pub expiration: GoDuration,
    /// Methods whose responses are cached.
    #[serde(default = "get_head")]
    #[schemars(default = "get_head")]
    pub methods: Vec<String>,
    /// Largest body stored, in bytes; larger responses pass through uncached, still streamed.
    #[serde(default = "one_mib")]
    #[schemars(default = "one_mib")]
    pub max_body_size: u64,
    /// Request headers that become part of the key (like `Vary`), e.g. `Accept-Language`.
    #[serde(default)]
    pub key_headers: Vec<String>,
    /// Also cache requests that carry `Authorization` (only for responses that are the same for every user).
    #[serde(default)]
    pub cache_authorized: bool,
    /// Bytes of hot entries also kept in this process, in front of the storage (0: none). An entry never changes before it expires, so the copy is exactly as fresh as the shared one.
    #[serde(default = "sixteen_mib")]
    #[schemars(default = "sixteen_mib")]
    pub local_size: u64,
}

fn sixteen_mib() -> u64 {
    16 * 1024 * 1024
}

#[async_trait]
impl BuildMiddleware for CacheMiddlewareConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.expiration.get().is_zero() {
            return Err(ConfigError::field("expiration", "expiration must be more than 0"));
        }
        for method in &self.methods {
            if http::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).is_err() {
                return Err(ConfigError::field("methods", format!("`{method}` is not an HTTP method")));
            }
        }
        for name in &self.key_headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError::field("keyHeaders", format!("`{name}` is not a valid header name")));
            }
        }
        Ok(())
    }

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let (storage, shared) = cx.storage_or_memory(self.storage.as_deref()).await?;
        if !shared {
            tracing::warn!(middleware = cx.name(), "no `storage`: the cache is kept per gateway instance");
        }
        Ok(Arc::new(Cache::new(cx.name(), self, storage)))
    }
}
