//! seam plugin `csrf`: `plugins.csrf.middlewares.CSRFMiddleware`, Fiber's double-submit CSRF
//! protection with Seam's keys: a token cookie on safe requests, and on every other request
//! the same token in a header (or query, form, path parameter) that must match the cookie
//! and exist in the storage, so that every gateway instance on that storage accepts it.

mod config;
mod lookup;
mod middleware;

pub use config::CsrfMiddlewareConfig;
