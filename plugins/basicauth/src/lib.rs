//! seam plugin `basicauth`: `plugins.basicauth.middlewares.BasicAuthMiddleware`, HTTP Basic
//! authentication (RFC 7617) with Seam's keys: constant-time checks, passwords as secrets
//! or as bcrypt / argon2id hashes, a correctly quoted challenge, and the user optionally
//! passed on to the upstream.

mod config;
mod credentials;
mod middleware;

pub use config::BasicAuthMiddlewareConfig;
