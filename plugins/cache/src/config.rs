use std::sync::Arc;

use http::{HeaderName, Method};
use seam_core::{
    BuildContext, BuildError, Component, GoDuration, Middleware, PathStep, Problem, Problems, async_trait,
};

use crate::middleware::{CacheMiddleware, KeyParts};

fn minute() -> GoDuration {
    GoDuration::from_secs(60)
}
fn get_head() -> Vec<String> {
    vec!["GET".into(), "HEAD".into()]
}
fn one_mib() -> u64 {
    1024 * 1024
}

/// Caches upstream responses in a storage that every gateway instance shares, as RFC 9111 says.
///
/// Freshness comes from the origin (`s-maxage`, `max-age`, `Expires`, `Age`); stale entries
/// with a validator are revalidated (304); writes invalidate; stale answers only where the
/// origin allows them. Private by default: `Vary` honoured, per-client answers never stored.
/// Responses carry `X-Cache: HIT`, `MISS` or `STALE` (with `Age`). An unreachable storage
/// makes every request a miss, never an error.
#[seam_core::component(name = "plugins.cache.middlewares.CacheMiddleware")]
#[derive(Clone, Debug)]
pub struct CacheMiddlewareConfig {
    /// The storage holding cached responses (e.g. a ValkeyStorage). Left out: in-process memory.
    #[serde(default)]
    pub storage: Option<String>,
    /// Heuristic freshness (RFC 9111 §4.2.2): how long a response that says nothing about its freshness (no `s-maxage`, `max-age` or `Expires`) is fresh, for the statuses that allow it. `0s`: such responses are not stored.
    #[serde(default = "minute")]
    #[schemars(default = "minute")]
    pub expiration: GoDuration,
    /// How long a stale entry is kept beyond its freshness when it has a validator (`ETag`, `Last-Modified`), to be revalidated with a conditional request instead of fetched again.
    #[serde(default = "ten_minutes")]
    #[schemars(default = "ten_minutes")]
    pub keep_stale: GoDuration,
    /// Fields that target this cache (RFC 9213) and win over `Cache-Control` when the origin sends them; the first present counts. `[]`: only `Cache-Control`.
    #[serde(default = "targeted")]
    #[schemars(default = "targeted")]
    pub targeted_fields: Vec<String>,
    /// Longest time an entry of the in-process tier is served without reading the shared storage again: the bound within which an invalidation or purge made through another instance is seen here.
    #[serde(default = "one_second")]
    #[schemars(default = "one_second")]
    pub local_max_age: GoDuration,
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

fn ten_minutes() -> GoDuration {
    GoDuration::from_secs(600)
}

fn one_second() -> GoDuration {
    GoDuration::from_secs(1)
}

fn targeted() -> Vec<String> {
    vec!["CDN-Cache-Control".into(), "Surrogate-Control".into()]
}

fn sixteen_mib() -> u64 {
    16 * 1024 * 1024
}

fn at(field: &str, index: usize) -> Vec<PathStep> {
    vec![PathStep::Key(field.into()), PathStep::Index(index)]
}

#[async_trait]
impl Component for CacheMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let targeted: Vec<Option<HeaderName>> = (self.targeted_fields.iter().enumerate())
            .map(|(i, h)| {
                let header = HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| Problem::at(at("targetedFields", i), format!("`{h}` is not a valid header name")));
                problems.check(header)
            })
            .collect();
        let methods: Vec<Option<Method>> = (self.methods.iter().enumerate())
            .map(|(i, m)| {
                let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| Problem::at(at("methods", i), format!("`{m}` is not an HTTP method")));
                problems.check(method)
            })
            .collect();
        let headers: Vec<Option<HeaderName>> = (self.key_headers.iter().enumerate())
            .map(|(i, h)| {
                let header = HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| Problem::at(at("keyHeaders", i), format!("`{h}` is not a valid header name")));
                problems.check(header)
            })
            .collect();
        let methods = methods.into_iter().collect::<Option<Vec<_>>>();
        let headers = headers.into_iter().collect::<Option<Vec<_>>>();
        let targeted = targeted.into_iter().collect::<Option<Vec<_>>>();
        let ((methods, headers), targeted) = problems.finish(methods.zip(headers).zip(targeted))?;
        let (storage, shared) = cx.storage_or_default(self.storage.as_deref(), &[]).await?;
        if !shared {
            tracing::warn!(middleware = cx.name(), "no `storage`: the cache is kept per gateway instance");
        }
        let cache = CacheMiddleware::new(cx.name(), self, KeyParts { methods, headers, targeted }, storage);
        let cache = if cx.offline() { cache } else { cache.listen_for_purges().await };
        Ok(Arc::new(cache))
    }
}
