//! seam plugin `limiter`: `plugins.limiter.middlewares.LimiterMiddleware`.
//!
//! Counts with the storage's atomic `incr`, so several gateway instances sharing one Valkey
//! enforce one limit exactly (Seam's limiter read-modified-wrote under a per-process lock).

mod config;
mod middleware;
mod window;

pub use config::{KeyBy, LimiterMiddlewareConfig};
pub use middleware::client_network;
pub use window::sliding_estimate;
