//! seam plugin `cors`: `plugins.cors.middlewares.CORSMiddleware`, Cross-Origin Resource
//! Sharing with Fiber's semantics (the ones Seam configures), its two unsafe setups refused
//! at load instead of panicking, and its headers kept on proxied responses.

mod config;
mod middleware;
mod origin;

pub use config::CorsMiddlewareConfig;
