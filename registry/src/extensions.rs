//! Typed values the host puts into every request's extensions before the chain runs.
//!
//! Middlewares hand values to later middlewares and actions the same way: insert any
//! `Clone + Send + Sync + 'static` type into `request.extensions_mut()`.

use std::net::SocketAddr;
use std::sync::Arc;

/// The address of the peer that opened the connection (before any `X-Forwarded-For`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// The route that matched the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedRoute {
    /// The route's name in the document (`routes: { <name>: ... }`).
    pub name: Arc<str>,
    /// The service the route was served through, when the document has `services`.
    pub service: Option<Arc<str>>,
    /// The full gateway path pattern, base path included (`/api/v1/users/:id`).
    pub pattern: Arc<str>,
}

/// The values of a route's `:param` placeholders, and of its `*` wildcard under the name `*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathParams(pub Vec<(String, String)>);

impl PathParams {
    /// The value of the placeholder `name` (`"*"` for the wildcard), if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The part of the path the route's `*` matched, if it has one.
    pub fn wildcard(&self) -> Option<&str> {
        self.get("*")
    }
}

/// `http` or `https`: how the client reached the gateway (or, behind a trusted proxy, what
/// its `X-Forwarded-Proto` says).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestScheme(pub &'static str);

/// The client's IP address: the peer's, or, when the peer is a trusted proxy
/// (`server.trustedProxies`), the right-most address of `X-Forwarded-For` that is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);
