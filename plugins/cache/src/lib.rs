//! seam plugin `cache`: `plugins.cache.middlewares.CacheMiddleware`.
//!
//! Responses are kept in a storage — shared by every gateway instance when it is Valkey —
//! under a key of method, host, path, query and chosen request headers. A cache never fails
//! a request: when the storage is unreachable, the request goes upstream as a miss.

mod conditional;
mod config;
mod entry;
mod freshness;
mod middleware;
mod privacy;
pub mod purge;

pub use config::CacheMiddlewareConfig;

/// Entry points for fuzzing and property tests of what the cache parses from untrusted
/// headers; not an API.
#[doc(hidden)]
pub mod fuzzing {
    use http::{HeaderMap, HeaderName, HeaderValue};

    /// Parses `text` as each cache-related header of a response and a request, and runs every
    /// computation on the result; returns the freshness lifetime in ms, if any.
    pub fn cache_headers(text: &str) -> Option<u64> {
        let Ok(value) = HeaderValue::from_str(text) else { return None };
        let mut headers = HeaderMap::new();
        for name in [
            "cache-control",
            "cdn-cache-control",
            "surrogate-control",
            "vary",
            "age",
            "expires",
            "date",
            "etag",
            "last-modified",
            "if-none-match",
            "if-modified-since",
        ] {
            headers.append(HeaderName::from_static(name), value.clone());
        }
        let targeted = [HeaderName::from_static("cdn-cache-control"), HeaderName::from_static("surrogate-control")];
        let d = crate::freshness::effective(&headers, &targeted);
        let _ = crate::privacy::vary_names(&headers);
        let _ = crate::conditional::not_modified(&headers, &headers);
        let _ = crate::conditional::updated(&headers, &headers);
        let initial = crate::freshness::initial_age(&headers, 1_000, 2_000);
        let _ = crate::freshness::current_age(initial, 2_000, u64::MAX);
        crate::freshness::lifetime(&d, &headers, 200, 2_000, 60_000)
    }
}
