//! seam plugin `logger`: `plugins.logger.middlewares.LoggerMiddleware`, one line per request
//! written from a Fiber template (`${status} ${latency} ${method} ${path}`), parsed once at
//! load, written by a thread of its own so a slow terminal never holds a request.

mod config;
mod layout;
mod middleware;
mod template;

pub use config::LoggerMiddlewareConfig;
