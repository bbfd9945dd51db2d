//! seam plugin `sessions` (Seam's `session`): sessions kept in a storage — shared by every
//! gateway instance when the storage is Valkey.
//!
//! - `plugins.sessions.middlewares.SessionMiddleware` (Seam: `LoadSessionMiddleware`) loads the
//!   session named by a cookie or header, hands it to later middlewares and actions as the
//!   request extension `seam_core::extensions::Session`, applies `X-Session-Set` and
//!   `X-Session-Destroy` from the response, and stores the changes before answering.
//! - `plugins.sessions.middlewares.MapSessionToHeaderMiddleware` copies session values into
//!   request headers for the upstream (and removes those headers when a client sends them).

mod config;
mod id;
mod map_header;
mod middleware;
mod seal;

pub use config::{MapSessionToHeaderMiddlewareConfig, SameSite, SessionMiddlewareConfig};

seam_core::plugin_alias!("session" => "sessions");
