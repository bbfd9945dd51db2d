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
//! - [`pool`]: the worker's idle connections, and sending with a retry on a stale one.

mod body;
mod conn;
mod exchange;
mod framing;
pub mod pool;
mod request;
mod response;

/// The upstream client's parsers, for the fuzz target and the property tests: an answer's
/// head and body read from any bytes.
pub mod fuzzing {
    use bytes::BytesMut;

    use super::framing::{Decoder, Step};
    use super::response::{self, Parsed};

    /// Reads `wire` as an upstream's answer (to a `HEAD` request when `to_head`), handed over
    /// in pieces of `piece` bytes as reads would. Returns the status and the body's bytes when
    /// a whole answer was read; `None` when it was refused or incomplete. Panics when a rule
    /// is broken: a hop-by-hop field passed on, or more body than was sent.
    pub fn upstream_answer(wire: &[u8], to_head: bool, piece: usize) -> Option<(u16, Vec<u8>)> {
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut feed = |buf: &mut BytesMut| {
            let next = (fed + piece.max(1)).min(wire.len());
            buf.extend_from_slice(&wire[fed..next]);
            let more = next > fed;
            fed = next;
            more
        };
        let head = loop {
            match response::parse(&mut buf, to_head) {
                Ok(Parsed::Final(head)) => break head,
                Ok(Parsed::Interim) => continue,
                Ok(Parsed::Partial) if feed(&mut buf) => continue,
                Ok(Parsed::Partial) | Err(_) => return None,
            }
        };
        for hop in ["connection", "transfer-encoding", "keep-alive", "te", "trailer", "upgrade", "proxy-connection"] {
            assert!(!head.headers.contains_key(hop), "`{hop}` passed on");
        }
        let mut decoder = Decoder::new(head.framing);
        let mut body = Vec::new();
        loop {
            match decoder.step(&mut buf) {
                Ok(Step::Data(data)) => body.extend_from_slice(&data),
                Ok(Step::End) => break,
                Ok(Step::More) if feed(&mut buf) => {}
                Ok(Step::More) if decoder.ends_at_close() => break,
                Ok(Step::More) | Err(_) => return None,
            }
        }
        assert!(body.len() <= wire.len(), "more body than bytes sent");
        Some((head.status.as_u16(), body))
    }
}
