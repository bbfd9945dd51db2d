//! seam plugin `httpfw`: forwarding actions.
//!
//! - `plugins.httpfw.actions.HttpAction` forwards to one `upstreamEndpoint`.
//! - `plugins.httpfw.actions.BalancerHttpAction` spreads requests over `upstreamEndpoints`
//!   round robin, skipping an endpoint that refuses connections for a back-off.
//!
//! Bodies stream both ways; hop-by-hop headers are removed; `X-Forwarded-*` are set;
//! connections to upstreams are pooled and kept alive.

mod action;
mod balancer;
mod client;
mod config;
mod forward;
mod h1;
mod headers;
mod upgrade;
mod upstream;

pub use config::{BalancerHttpActionConfig, HttpActionConfig};
#[doc(hidden)]
pub use h1::fuzzing;
