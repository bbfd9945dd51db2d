//! seam plugin `jwt`: `plugins.jwt.middlewares.JWTValidationMiddleware`, JSON Web Tokens
//! verified against Seam's `signingKey` (HMAC secret, or an RSA/EC/Ed25519 public key in
//! PEM) or `jwkUrls` (JWKS fetched, cached and refreshed), with the algorithm tied to the
//! key's family, `exp` required, and the claims handed to later middlewares.

mod config;
mod jwks;
mod keys;
mod lookup;
mod middleware;

pub use config::JwtValidationMiddlewareConfig;
