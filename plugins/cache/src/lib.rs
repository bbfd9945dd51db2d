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

pub use config::CacheMiddlewareConfig;
