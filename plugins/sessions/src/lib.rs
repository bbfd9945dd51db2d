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
mod opened;
mod seal;

pub use config::{MapSessionToHeaderMiddlewareConfig, SameSite, SessionMiddlewareConfig};

seam_core::plugin_alias!("session" => "sessions");

/// Entry points for fuzzing and property tests of what sessions parse from untrusted input;
/// not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `cookie` as a `Cookie` header and `value` as an `X-Session-Set` value and as a
    /// stored session; returns the session id found, if any.
    pub fn session_input(cookie: &str, value: &[u8]) -> Option<String> {
        let _ = crate::middleware::parse_stored(value);
        let _ = serde_json::from_slice::<serde_json::Value>(value);
        crate::middleware::id_from_cookies(std::iter::once(cookie), "session_id")
    }
}
