//! An upstream's answer head: parsed from the connection's buffer into the `http` types,
//! hop-by-hop fields left out, and how its body is framed.
//!
//! Header values are views of the bytes read (nothing copied). The rules where an answer
//! could smuggle a second one, or be read two ways, are nginx's: `Transfer-Encoding` other
//! than `chunked`, `Transfer-Encoding` beside `Content-Length`, and `Content-Length` values
//! that disagree are refused.

use std::mem::MaybeUninit;

use bytes::{Buf, BytesMut};
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode, Version};

use super::framing::{Framing, content_length};
use crate::headers::is_hop_by_hop;

/// Most header fields in an answer head (hyper's default).
const MAX_HEADERS: usize = 100;
/// Largest answer head (nginx's `proxy_buffer_size` refuses far smaller ones).
const MAX_HEAD: usize = 64 * 1024;
/// Header fields an answer's map holds beyond the upstream's own without growing.
const ROOM: usize = 16;

/// An answer head read whole.
#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    /// End-to-end fields only: hop-by-hop ones and those `Connection` names are left out.
    pub headers: HeaderMap,
    pub framing: Framing,
    /// Whether the connection may carry another request after this answer.
    pub keep_alive: bool,
}

/// What [`parse`] found at the start of the buffer.
#[derive(Debug)]
pub enum Parsed {
    /// A final answer's head (taken out of the buffer).
    Final(Head),
    /// An interim answer (100 Continue, 103 Early Hints), taken out of the buffer and dropped.
    Interim,
    /// The head is not complete yet.
    Partial,
}

/// Parses the answer head at the start of `buf`; `to_head` tells that the request was `HEAD`
/// (its answer has no body, whatever its fields say).
pub fn parse(buf: &mut BytesMut, to_head: bool) -> Result<Parsed, String> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let used =
        match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut response, buf, &mut fields) {
            Ok(httparse::Status::Complete(used)) if used <= MAX_HEAD => used,
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Ok(Parsed::Partial),
            Ok(_) => return Err(format!("the upstream sent an answer head over {} KiB", MAX_HEAD / 1024)),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(format!("the upstream sent more than {MAX_HEADERS} header fields"));
            }
            Err(e) => return Err(format!("the upstream sent an invalid answer head: {e}")),
        };
    let code = response.code.unwrap_or_default();
    let status = StatusCode::from_u16(code).map_err(|_| format!("the upstream sent status {code}"))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err("the upstream switched protocols on a request that asked for none".into());
    }
    if status.is_informational() {
        buf.advance(used);
        return Ok(Parsed::Interim);
    }
    let version = if response.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    // Where each field lies in the buffer, so that the head's bytes can be taken out of it
    // and shared by every header value.
    let start = buf.as_ptr() as usize;
    let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let count = response.headers.len();
    for (span, field) in spans.iter_mut().zip(response.headers.iter()) {
        let at = |part: &[u8]| (part.as_ptr() as usize - start) as u32;
        *span = (at(field.name.as_bytes()), field.name.len() as u32, at(field.value), field.value.len() as u32);
    }
    let head = buf.split_to(used).freeze();
    // Room beyond the upstream's fields: for what middlewares add to the answer (Helmet's
    // eleven headers, CORS, a request id) without growing the map, and, since hyper keeps
    // an answer's map to parse the connection's next request into, for the `X-Forwarded-*`
    // fields of that request too.
    let mut headers = HeaderMap::with_capacity(count + ROOM);
    let mut hop = Hop::default();
    for &(name_at, name_len, value_at, value_len) in &spans[..count] {
        let name = &head[name_at as usize..][..name_len as usize];
        let value_range = value_at as usize..(value_at + value_len) as usize;
        if hop.notes(name, &head[value_range.clone()]) {
            continue;
        }
        let invalid = || invalid_field(&String::from_utf8_lossy(name));
        let name = HeaderName::from_bytes(name).map_err(|_| invalid())?;
        let value = HeaderValue::from_maybe_shared(head.slice(value_range)).map_err(|_| invalid())?;
        if name == CONTENT_LENGTH {
            hop.content_length(value.as_bytes())?;
        }
        headers.append(name, value);
    }
    for named in &hop.named {
        headers.remove(named.as_str());
    }
    let no_body = to_head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let framing = match (hop.transfer_encoding, hop.length) {
        _ if no_body => Framing::Empty,
        (Some(_), Some(_)) => return Err("the upstream sent both Transfer-Encoding and Content-Length".into()),
        (Some(_), None) if version == Version::HTTP_10 => {
            return Err("the upstream sent Transfer-Encoding in an HTTP/1.0 answer".into());
        }
        (Some(true), None) => Framing::Chunked,
        (Some(false), None) => return Err("the upstream sent a Transfer-Encoding other than chunked".into()),
        (None, Some(0)) => Framing::Empty,
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::UntilClose,
    };
    let keep_alive = framing != Framing::UntilClose && !hop.close && (version == Version::HTTP_11 || hop.keep_alive);
    Ok(Parsed::Final(Head { status, version, headers, framing, keep_alive }))
}

fn invalid_field(name: &str) -> String {
    format!("the upstream sent an invalid `{name}` header")
}

/// What the hop-by-hop fields of an answer say.
#[derive(Default)]
struct Hop {
    close: bool,
    keep_alive: bool,
    /// `Some(true)` for `Transfer-Encoding: chunked` alone, `Some(false)` for any other.
    transfer_encoding: Option<bool>,
    length: Option<u64>,
    /// Other fields `Connection` names, removed from the answer.
    named: Vec<String>,
}

impl Hop {
    /// Takes note of a hop-by-hop field; `false` for an end-to-end one, which is passed on.
    fn notes(&mut self, name: &[u8], value: &[u8]) -> bool {
        if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|b| *b == b',').map(<[u8]>::trim_ascii).filter(|o| !o.is_empty()) {
                if option.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                } else if let Ok(named) = std::str::from_utf8(option) {
                    self.named.push(named.to_ascii_lowercase());
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only `chunked`, once: a coding before it would reach the client undeclared.
            let chunked = value.trim_ascii().eq_ignore_ascii_case(b"chunked");
            self.transfer_encoding = Some(self.transfer_encoding.is_none() && chunked);
        }
        is_hop_by_hop(name)
    }

    /// Notes a `Content-Length` value: digits only, and every value (or list item) the same.
    fn content_length(&mut self, value: &[u8]) -> Result<(), String> {
        for item in value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
            let n = content_length(item).ok_or("the upstream sent an invalid Content-Length")?;
            if self.length.is_some_and(|seen| seen != n) {
                return Err("the upstream sent Content-Length values that disagree".into());
            }
            self.length = Some(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(wire: &str) -> Result<Head, String> {
        let mut buf = BytesMut::from(wire);
        loop {
            match parse(&mut buf, false)? {
                Parsed::Final(head) => return Ok(head),
                Parsed::Interim => continue,
                Parsed::Partial => return Err("partial".into()),
            }
        }
    }

    #[test]
    fn an_ordinary_answer() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\nConnection: keep-alive\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello",
        );
        let Parsed::Final(head) = parse(&mut buf, false).unwrap() else { panic!() };
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.framing, Framing::Length(5));
        assert!(head.keep_alive);
        assert!(head.headers.get("connection").is_none());
        assert_eq!(head.headers["content-length"], "5");
        assert_eq!(head.headers.get_all("x-a").iter().collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(&buf[..], b"hello", "the body stays in the buffer");
    }

    #[test]
    fn partial_heads_wait_and_interim_answers_are_skipped() {
        let wire = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 204 No Content\r\nX-B: 1\r\n\r\n";
        for cut in 1..wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            while let Parsed::Interim = parse(&mut buf, false).unwrap() {}
        }
        let head = head(wire).unwrap();
        assert_eq!(head.status, StatusCode::NO_CONTENT);
        assert_eq!(head.framing, Framing::Empty);
        assert!(head.headers.get("link").is_none(), "an interim answer's fields are not the final one's");
    }

    #[test]
    fn framing_and_keep_alive() {
        let cases = [
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Framing::Chunked, true),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n", Framing::Chunked, false),
            ("HTTP/1.1 200 OK\r\n\r\n", Framing::UntilClose, false),
            ("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", Framing::Length(3), false),
            ("HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: Keep-Alive\r\n\r\n", Framing::Length(3), true),
            ("HTTP/1.1 304 Not Modified\r\nContent-Length: 30\r\n\r\n", Framing::Empty, true),
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Framing::Empty, true),
            ("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n", Framing::Length(7), true),
        ];
        for (wire, framing, keep_alive) in cases {
            let head = head(wire).unwrap();
            assert_eq!((head.framing, head.keep_alive), (framing, keep_alive), "{wire:?}");
            assert!(head.headers.get("transfer-encoding").is_none());
        }
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n");
        let Parsed::Final(head) = parse(&mut buf, true).unwrap() else { panic!() };
        assert_eq!(head.framing, Framing::Empty, "a HEAD request's answer has no body");
        assert_eq!(head.headers["content-length"], "30");
    }

    #[test]
    fn answers_that_could_be_read_two_ways_are_refused() {
        for wire in [
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3 3\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX Bad: a\r\n\r\n",
            "HTTP/2 200 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
        ] {
            assert!(head(wire).is_err(), "accepted {wire:?}");
        }
    }

    #[test]
    fn hop_by_hop_fields_and_those_connection_names_are_left_out() {
        let head = head(
            "HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: x\r\n\
             Trailer: x\r\nUpgrade: x\r\nProxy-Connection: x\r\nProxy-Authenticate: x\r\nProxy-Authorization: x\r\n\
             X-Kept: 1\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        let mut kept = head.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>();
        kept.sort_unstable();
        assert_eq!(kept, ["content-length", "x-kept"]);
    }

    #[test]
    fn heads_and_field_counts_are_bounded() {
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X-A: 1\r\n".repeat(MAX_HEADERS + 1));
        assert!(head(&many).unwrap_err().contains("header fields"));
        let mut endless = BytesMut::from(format!("HTTP/1.1 200 OK\r\nX-A: {}", "a".repeat(MAX_HEAD)).as_str());
        assert!(parse(&mut endless, false).unwrap_err().contains("KiB"));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use crate::h1::fuzzing::upstream_answer;

    /// Field lines an answer is made of: the ones that decide framing and hop-by-hop, spelled
    /// every way, and arbitrary ones.
    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("Content-Length: 5".to_string()),
            Just("content-length: 0".to_string()),
            Just("Content-Length: 5, 5".to_string()),
            Just("Content-Length: 6".to_string()),
            Just("Transfer-Encoding: chunked".to_string()),
            Just("transfer-encoding: gzip".to_string()),
            Just("Connection: close".to_string()),
            Just("Connection: keep-alive, X-Hop".to_string()),
            Just("X-Hop: 1".to_string()),
            Just("Keep-Alive: timeout=5".to_string()),
            "[A-Za-z-]{1,12}: [ -~]{0,20}",
        ]
    }

    proptest! {
        /// Answers assembled from framing fields and bodies, read in pieces of any size: never
        /// a panic, never a hop-by-hop field passed on, never more body than was sent.
        #[test]
        fn assembled_answers(status in prop_oneof![Just(200u16), Just(204), Just(304), Just(103), 100u16..600],
                             fields in proptest::collection::vec(field(), 0..6),
                             body in "[ -~\r\n]{0,40}",
                             to_head in any::<bool>(),
                             piece in 1usize..64) {
            let wire = format!("HTTP/1.1 {status} X\r\n{}\r\n{body}", fields.iter().map(|f| format!("{f}\r\n")).collect::<String>());
            let _ = upstream_answer(wire.as_bytes(), to_head, piece);
        }

        /// Arbitrary bytes after a valid status line.
        #[test]
        fn arbitrary_answers(rest in proptest::collection::vec(any::<u8>(), 0..300), piece in 1usize..64) {
            let wire = [b"HTTP/1.1 200 OK\r\n".as_slice(), &rest].concat();
            let _ = upstream_answer(&wire, false, piece);
        }
    }

    #[test]
    fn the_fuzzing_entry_reads_what_the_client_reads() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(upstream_answer(chunked, false, 5), Some((200, b"abc".to_vec())));
        assert_eq!(upstream_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false, 5), None, "incomplete");
        assert_eq!(
            upstream_answer(b"HTTP/1.1 200 OK\r\n\r\nuntil close", false, 3),
            Some((200, b"until close".to_vec()))
        );
    }
}
