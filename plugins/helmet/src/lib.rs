//! seam plugin `helmet`: `plugins.helmet.middlewares.HelmetMiddleware`, the security headers
//! of Fiber's helmet with Seam's keys, set on the answer on its way back so that they stay
//! on proxied responses.

mod config;
mod middleware;

pub use config::HelmetMiddlewareConfig;
