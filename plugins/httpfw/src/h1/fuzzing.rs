//! The upstream client's parsers, for the fuzz target and the property tests: an answer's
//! head and body read from any bytes.

use bytes::BytesMut;

use super::framing::{Decoder, Step};
use super::response::{self, Parsed};
use crate::headers::HOP_BY_HOP;

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
    for hop in &HOP_BY_HOP {
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
