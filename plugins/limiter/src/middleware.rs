//! The runtime of `LimiterMiddleware`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use seam_core::extensions::{Claims, Client, Session};
use seam_core::metrics::{Counter, Events};
use seam_core::{Middleware, Next, Request, Response, Storage, StorageError, async_trait, json_error, unix_ms};
use sha2::{Digest, Sha256};

use crate::config::{KeyBy, LimiterMiddlewareConfig};
use crate::window::{sliding_estimate, window_of};

/// Counts requests per client and window.
pub struct LimiterMiddleware {
    name: String,
    config: LimiterMiddlewareConfig,
    key_by: KeyBy,
    storage: Arc<dyn Storage>,
    window_ms: u64,
    outage_logged: AtomicBool,
    /// `seam_limiter_requests_total{middleware,outcome}`.
    allowed: Counter,
    rejected: Counter,
    unavailable: Counter,
}

fn header(n: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&n.to_string()).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

struct Verdict {
    allowed: bool,
    remaining: u64,
    reset_secs: u64,
    key: String,
}

impl LimiterMiddleware {
    /// A limiter named `name` (its counters are its own).
    pub fn new(name: &str, config: LimiterMiddlewareConfig, key_by: KeyBy, storage: Arc<dyn Storage>) -> Self {
        let window_ms = config.expiration.get().as_millis().max(1) as u64;
        LimiterMiddleware {
            name: name.to_owned(),
            config,
            key_by,
            storage,
            window_ms,
            outage_logged: AtomicBool::new(false),
            allowed: Events::Limiter.counter(name, "allowed"),
            rejected: Events::Limiter.counter(name, "rejected"),
            unavailable: Events::Limiter.counter(name, "unavailable"),
        }
    }

    fn client(&self, req: &Request) -> String {
        let ip = || {
            req.extensions()
                .get::<Client>()
                .map(|c| c.ip)
                .map(|ip| client_network(ip, self.config.ipv6_prefix))
                .unwrap_or_else(|| "unknown".into())
        };
        match &self.key_by {
            KeyBy::Ip => format!("ip:{}", ip()),
            KeyBy::Header(name) => match req.headers().get(name).and_then(|v| v.to_str().ok()) {
                Some(value) => bounded("h", value),
                None => format!("ip:{}", ip()),
            },
            KeyBy::Session(key) => match req.extensions().get::<Session>().and_then(|s| s.get(key)) {
                Some(serde_json::Value::String(s)) => bounded("s", &s),
                Some(value) if !value.is_null() => bounded("s", &value.to_string()),
                _ => format!("ip:{}", ip()),
            },
            KeyBy::Claim(name) => match req.extensions().get::<Claims>().and_then(|c| c.text(name)) {
                Some(value) => bounded("c", &value),
                None => format!("ip:{}", ip()),
            },
        }
    }

    async fn check(&self, client: &str) -> Result<Verdict, StorageError> {
        let now = unix_ms();
        let (window, elapsed) = window_of(now, self.window_ms);
        let key = format!("limiter:{}:{client}:{window}", self.name);
        let max = self.config.max_connections;
        let reset_secs = (self.window_ms - elapsed).div_ceil(1000);
        if !self.config.sliding_window {
            let count = self.storage.incr(&key, 1, Some(Duration::from_millis(self.window_ms))).await?;
            let count = count.max(0) as u64;
            return Ok(Verdict { allowed: count <= max, remaining: max.saturating_sub(count), reset_secs, key });
        }
        // The current window's counter lives two windows: the next one reads it as `previous`.
        let count = self.storage.incr(&key, 1, Some(Duration::from_millis(self.window_ms * 2))).await?;
        let previous_key = format!("limiter:{}:{client}:{}", self.name, window.wrapping_sub(1));
        let previous = match seam_core::storage::read(&*self.storage, &previous_key).await? {
            Some(bytes) => std::str::from_utf8(&bytes).ok().and_then(|t| t.parse::<i64>().ok()).unwrap_or(0),
            None => 0,
        };
        let estimate = sliding_estimate(count, previous, elapsed, self.window_ms).max(0) as u64;
        Ok(Verdict { allowed: estimate <= max, remaining: max.saturating_sub(estimate), reset_secs, key })
    }
}

/// Longest client value kept as it is in a counter's key.
const LONGEST_KEY_VALUE: usize = 64;

/// `kind:value`, or `kind#` and the SHA-256 of a value longer than [`LONGEST_KEY_VALUE`]
/// bytes: a header is the client's to write, up to the server's header limit, and every new
/// value makes a counter (two with the sliding window) that lives a window in the shared
/// storage. Hashed, a counter's key stays small whatever the client sends, and two values
/// still count apart.
fn bounded(kind: &str, value: &str) -> String {
    if value.len() <= LONGEST_KEY_VALUE {
        format!("{kind}:{value}")
    } else {
        format!("{kind}#{:x}", Sha256::digest(value.as_bytes()))
    }
}

/// The key of a client address: an IPv4 address itself, an IPv6 address by its first
/// `ipv6_prefix` bits (a /64 is what one subscriber usually gets, so counting per /128 would
/// let one client rotate through 2^64 addresses).
pub fn client_network(ip: std::net::IpAddr, ipv6_prefix: u8) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let bits = u32::from(ipv6_prefix.min(128));
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            format!("{}/{bits}", std::net::Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[async_trait]
impl Middleware for LimiterMiddleware {
    async fn handle(&self, req: Request, next: Next) -> Response {
        let client = self.client(&req);
        let verdict = match self.check(&client).await {
            Ok(verdict) => {
                self.outage_logged.store(false, Ordering::Relaxed);
                verdict
            }
            Err(e) if self.config.fail_open => {
                self.unavailable.inc();
                if !self.outage_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(limiter = %self.name, "rate-limit storage unavailable, letting requests through (failOpen): {e}");
                }
                return next.run(req).await;
            }
            Err(e) => {
                self.unavailable.inc();
                tracing::error!(limiter = %self.name, "rate-limit storage unavailable: {e}");
                return json_error(StatusCode::SERVICE_UNAVAILABLE, "the rate-limit storage is unavailable");
            }
        };
        let mut response = if verdict.allowed {
            self.allowed.inc();
            next.run(req).await
        } else {
            self.rejected.inc();
            let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, &format!("retry in {} s", verdict.reset_secs));
            response.headers_mut().insert(RETRY_AFTER, header(verdict.reset_secs.max(1)));
            response
        };
        if verdict.allowed {
            let failed = response.status().as_u16() >= 400;
            let uncount =
                (self.config.skip_failed_requests && failed) || (self.config.skip_successful_requests && !failed);
            // With the window's TTL: a decrement after the counter expired creates one that
            // expires too, never a counter that lives forever.
            let ttl = Some(Duration::from_millis(self.window_ms.saturating_mul(2)));
            if uncount && let Err(e) = self.storage.incr(&verdict.key, -1, ttl).await {
                tracing::warn!(limiter = %self.name, "could not uncount a skipped request: {e}");
            }
        }
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", header(self.config.max_connections));
        headers.insert("x-ratelimit-remaining", header(verdict.remaining));
        headers.insert("x-ratelimit-reset", header(verdict.reset_secs));
        response
    }
}
