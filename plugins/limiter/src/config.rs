use std::sync::Arc;

use seam_core::{
    BuildContext, BuildError, Capability, Component, GoDuration, Middleware, Problem, Problems, async_trait,
};

use crate::middleware::LimiterMiddleware;

fn five() -> u64 {
    5
}
fn minute() -> GoDuration {
    GoDuration::from_secs(60)
}
fn sixty_four() -> u8 {
    64
}
fn ip() -> String {
    "ip".into()
}

/// What identifies a client for counting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyBy {
    /// The client's IP (after `server.trustedProxies`).
    Ip,
    /// A request header's value (the IP when it is missing).
    Header(http::HeaderName),
    /// A value of the session (the IP when there is none).
    Session(String),
    /// A claim of the request's verified token (the IP when there is none), e.g. `claim:sub`.
    Claim(String),
}

/// Limits how many requests a client makes per window, counted in a storage that every gateway instance shares.
///
/// Every limited response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
/// `X-RateLimit-Reset`; a refused request gets 429 with `Retry-After` and never reaches
/// the action.
#[seam_core::component(name = "plugins.limiter.middlewares.LimiterMiddleware")]
#[derive(Clone, Debug)]
pub struct LimiterMiddlewareConfig {
    /// The storage holding the counters (e.g. a ValkeyStorage). Left out: in-process memory, so limits are per instance.
    #[serde(default)]
    pub storage: Option<String>,
    /// Requests allowed per window and client.
    #[serde(default = "five")]
    #[schemars(default = "five")]
    pub max_connections: u64,
    /// Length of the window.
    #[serde(default = "minute")]
    #[schemars(default = "minute")]
    pub expiration: GoDuration,
    /// Do not count requests whose response status is 400 or more.
    #[serde(default)]
    pub skip_failed_requests: bool,
    /// Do not count requests whose response status is below 400.
    #[serde(default)]
    pub skip_successful_requests: bool,
    /// Sliding window: the current window's count plus the previous window's, weighted by how much of it still lies in the last `expiration` (rounded down, as Fiber does).
    #[serde(default)]
    pub sliding_window: bool,
    /// Who is counted: `ip`, `header:<Name>`, `session:<key>`, or `claim:<name>` of a verified token (e.g. `claim:sub`, after a JWT middleware).
    #[serde(default = "ip")]
    #[schemars(default = "ip")]
    #[schemars(extend("x-seam-request-header" = "lookup"))]
    pub key_by: String,
    /// While the storage is unreachable, let requests through (without rate-limit headers) instead of answering 503.
    #[serde(default)]
    pub fail_open: bool,
    /// IPv6 clients are counted by network: the first `ipv6Prefix` bits of their address (64: one subscriber's /64; 128: every address on its own).
    #[serde(default = "sixty_four")]
    #[schemars(default = "sixty_four", range(min = 1, max = 128))]
    pub ipv6_prefix: u8,
}

impl LimiterMiddlewareConfig {
    /// The parsed `keyBy`.
    pub fn key_by(&self) -> Result<KeyBy, Problem> {
        let bad = || {
            Problem::field(
                "keyBy",
                format!("keyBy `{}` is not `ip`, `header:<Name>`, `session:<key>` or `claim:<name>`", self.key_by),
            )
        };
        match self.key_by.split_once(':') {
            None if self.key_by == "ip" => Ok(KeyBy::Ip),
            Some(("header", name)) => {
                http::HeaderName::from_bytes(name.as_bytes()).map(KeyBy::Header).map_err(|_| bad())
            }
            Some(("session", key)) if !key.is_empty() => Ok(KeyBy::Session(key.to_owned())),
            Some(("claim", name)) if !name.is_empty() => Ok(KeyBy::Claim(name.to_owned())),
            _ => Err(bad()),
        }
    }
}

#[async_trait]
impl Component for LimiterMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let key_by = problems.check(self.key_by());
        problems
            .ensure(self.max_connections > 0, || Problem::field("maxConnections", "maxConnections must be at least 1"));
        problems.ensure(self.expiration.get().as_millis() > 0, || {
            Problem::field("expiration", "expiration must be more than 0")
        });
        problems.ensure((1..=128).contains(&self.ipv6_prefix), || {
            Problem::field("ipv6Prefix", "ipv6Prefix must be between 1 and 128")
        });
        problems.ensure(!(self.skip_failed_requests && self.skip_successful_requests), || {
            Problem::field("skipSuccessfulRequests", "skipping both failed and successful requests counts nothing")
        });
        let key_by = problems.finish(key_by)?;
        // Counting needs an atomic counter: a storage without one is refused here.
        let (storage, shared) = cx.storage_or_default(self.storage.as_deref(), &[Capability::Incr]).await?;
        if !shared {
            tracing::warn!(middleware = cx.name(), "no `storage`: rate limits are counted per gateway instance");
        }
        Ok(Arc::new(LimiterMiddleware::new(cx.name(), self.clone(), key_by, storage)))
    }
}
