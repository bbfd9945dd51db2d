//! seam plugin `requestid`: `plugins.requestid.middlewares.RequestIdMiddleware`, an id for
//! every request that the upstream, the client and the access log all see.

mod config;
mod middleware;

pub use config::RequestIdMiddlewareConfig;
