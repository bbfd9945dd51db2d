//! seam's HTTP/1.1 client for plain-HTTP upstreams.
//!
//! A request is written straight from its parts into one buffer, and its answer is read by
//! the request's own task: no connection task, no channel between the two, no second
//! header map. Connections belong to the worker thread that made them and wait in its pool
//! between requests. Upgrades (WebSocket) and `https://` upstreams go through hyper's
//! client instead.
//!
//! - [`request`]: the request's head and body framing;
//! - [`response`]: the answer's head, and how its body is framed;
//! - [`framing`]: reading a body to its end (length, chunked, until close);
//! - [`exchange`]: one request and its answer's head on one connection;
//! - [`body`]: the answer's body, which gives the connection back;
//! - [`pool`]: the worker's idle connections, and sending with a retry on a stale one;
//! - [`fuzzing`]: the parsers read from any bytes, for the fuzz target and property tests.

mod body;
mod conn;
mod exchange;
mod framing;
pub mod fuzzing;
pub mod pool;
mod request;
mod response;
