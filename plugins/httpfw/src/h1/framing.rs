//! Where an upstream's answer body ends (RFC 9112 §6.3), and reading it to that end.
//!
//! The decoder works on the connection's read buffer and never does I/O itself: it hands out
//! the body's bytes as they are buffered (views of the buffer, nothing copied) and says when
//! it needs more. Chunk sizes, the lines between chunks and the trailer section are bounded,
//! so an upstream cannot make it buffer without end.

use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// Largest trailer section after the last chunk (read and dropped, as nginx does).
const MAX_TRAILERS: usize = 16 * 1024;

/// A `Content-Length` value: decimal digits only (no sign, no space), within 64 bits.
pub fn content_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// How an answer's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: a `HEAD` request's answer, 1xx, 204, 304, or `Content-Length: 0`.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the upstream closes the connection (no length given); the
    /// connection cannot be used again.
    UntilClose,
}

/// A body that is not what its framing says.
#[derive(Debug, PartialEq, Eq)]
pub enum FramingError {
    /// A chunk-size line that is not hexadecimal digits (and extensions) ending in CRLF.
    ChunkSize,
    /// A chunk's data not followed by CRLF.
    ChunkEnd,
    /// A chunk-size line or a trailer section beyond its bound.
    TooLong,
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FramingError::ChunkSize => "the upstream sent an invalid chunk size",
            FramingError::ChunkEnd => "the upstream sent a chunk not ended by CRLF",
            FramingError::TooLong => "the upstream sent a chunk-size line or trailers beyond their bound",
        })
    }
}

impl std::error::Error for FramingError {}

/// What the decoder found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Bytes of the body.
    Data(Bytes),
    /// The buffer holds no more of the body: read from the connection, then step again.
    More,
    /// The body is complete.
    End,
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Bytes left of a `Content-Length` body.
    Length(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Bytes left of the current chunk.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// The trailer section after the last chunk; the number of its bytes skipped so far.
    Trailers(usize),
    UntilClose,
    Done,
}

/// Reads one body out of a connection's buffer.
#[derive(Debug)]
pub struct Decoder {
    state: State,
}

impl Decoder {
    /// A decoder for a body framed as `framing`.
    pub fn new(framing: Framing) -> Decoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        Decoder { state }
    }

    /// Whether the body has been read to its end (the connection's next bytes are the next
    /// answer's).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether the body ends where the connection does.
    pub fn ends_at_close(&self) -> bool {
        matches!(self.state, State::UntilClose)
    }

    /// Bytes of the body still to come, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// The next piece of the body in `buf`, taking it out of the buffer.
    pub fn step(&mut self, buf: &mut BytesMut) -> Result<Step, FramingError> {
        loop {
            match self.state {
                State::Done => return Ok(Step::End),
                State::Length(left) | State::ChunkData(left) => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let left = left - take as u64;
                    self.state = match self.state {
                        State::Length(_) if left == 0 => State::Done,
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                    return Ok(Step::Data(buf.split_to(take).freeze()));
                }
                State::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    return Ok(Step::Data(buf.split().freeze()));
                }
                State::ChunkSize | State::ChunkEnd | State::Trailers(_) => {
                    if !self.advance_framing(buf)? {
                        return Ok(Step::More);
                    }
                }
            }
        }
    }

    /// Steps over what follows the body's data in `buf` (the CRLF after a chunk, the last
    /// chunk, the trailers) without taking any data: after the last bytes of a body, this
    /// tells that it is complete without waiting for another read.
    pub fn skip_framing(&mut self, buf: &mut BytesMut) -> Result<(), FramingError> {
        while matches!(self.state, State::ChunkSize | State::ChunkEnd | State::Trailers(_)) {
            if !self.advance_framing(buf)? {
                break;
            }
        }
        Ok(())
    }

    /// One step through a chunk-size line, the CRLF after a chunk or a trailer line; `false`
    /// when the buffer does not hold it whole yet.
    fn advance_framing(&mut self, buf: &mut BytesMut) -> Result<bool, FramingError> {
        match self.state {
            State::ChunkSize => {
                // At least one hex digit: httparse reads an empty size as 0, the last chunk.
                match buf.first() {
                    None => return Ok(false),
                    Some(digit) if !digit.is_ascii_hexdigit() => return Err(FramingError::ChunkSize),
                    Some(_) => {}
                }
                match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        buf.advance(used);
                        self.state = if size == 0 { State::Trailers(0) } else { State::ChunkData(size) };
                        Ok(true)
                    }
                    Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE => Err(FramingError::TooLong),
                    Ok(httparse::Status::Partial) => Ok(false),
                    Err(_) => Err(FramingError::ChunkSize),
                }
            }
            State::ChunkEnd => match buf.get(..2) {
                None if buf.first().is_none_or(|b| *b == b'\r') => Ok(false),
                Some(b"\r\n") => {
                    buf.advance(2);
                    self.state = State::ChunkSize;
                    Ok(true)
                }
                _ => Err(FramingError::ChunkEnd),
            },
            State::Trailers(skipped) => {
                // Lines up to an empty one; trailer fields are not passed on.
                match buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        buf.advance(2);
                        self.state = State::Done;
                        Ok(true)
                    }
                    Some(line) if skipped + line + 2 <= MAX_TRAILERS => {
                        buf.advance(line + 2);
                        self.state = State::Trailers(skipped + line + 2);
                        Ok(true)
                    }
                    None if skipped + buf.len() <= MAX_TRAILERS => Ok(false),
                    _ => Err(FramingError::TooLong),
                }
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The whole body `wire` decodes to, fed in pieces of `cut` bytes; and whether it ended.
    fn decode(framing: Framing, wire: &[u8], cut: usize) -> Result<(Vec<u8>, bool, usize), FramingError> {
        let mut decoder = Decoder::new(framing);
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match decoder.step(&mut buf)? {
                Step::Data(d) => body.extend_from_slice(&d),
                Step::End => return Ok((body, true, buf.len() + wire.len() - fed)),
                Step::More if fed == wire.len() => return Ok((body, false, 0)),
                Step::More => {
                    let next = (fed + cut.max(1)).min(wire.len());
                    buf.extend_from_slice(&wire[fed..next]);
                    fed = next;
                }
            }
        }
    }

    fn chunked(body: &[u8], sizes: &[usize], trailers: &str) -> Vec<u8> {
        let mut wire = Vec::new();
        let mut rest = body;
        for size in sizes.iter().copied().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, more) = rest.split_at(size.clamp(1, rest.len()));
            wire.extend_from_slice(format!("{:x};ext=1\r\n", chunk.len()).as_bytes());
            wire.extend_from_slice(chunk);
            wire.extend_from_slice(b"\r\n");
            rest = more;
        }
        wire.extend_from_slice(format!("0\r\n{trailers}\r\n").as_bytes());
        wire
    }

    #[test]
    fn a_chunked_body_with_extensions_and_trailers() {
        let wire = chunked(b"hello, world", &[5, 2], "X-Checksum: 1\r\nX-More: 2\r\n");
        let (body, ended, left) = decode(Framing::Chunked, &wire, 1).unwrap();
        assert_eq!((body.as_slice(), ended, left), (&b"hello, world"[..], true, 0));
        // What follows the body (the next answer) stays in the buffer.
        let mut next = wire.clone();
        next.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let (_, ended, left) = decode(Framing::Chunked, &next, 7).unwrap();
        assert!(ended);
        assert_eq!(left, 17);
    }

    #[test]
    fn malformed_chunks_are_errors() {
        let cases: [(&[u8], FramingError); 6] = [
            (b"\r\n\r\n", FramingError::ChunkSize),     // an empty size is not the last chunk
            (b"zz\r\n", FramingError::ChunkSize),       // not hexadecimal
            (b"-1\r\nx\r\n", FramingError::ChunkSize),  // no sign
            (b"3\r\nabcX\r\n", FramingError::ChunkEnd), // data longer than its size
            (b"3\r\nabc\n0\r\n\r\n", FramingError::ChunkEnd),
            (b"11111111111111111\r\n", FramingError::ChunkSize), // beyond 64 bits
        ];
        for (wire, error) in cases {
            assert_eq!(decode(Framing::Chunked, wire, 64).unwrap_err(), error, "{:?}", String::from_utf8_lossy(wire));
        }
        let long_line = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE]].concat();
        assert_eq!(decode(Framing::Chunked, &long_line, 512).unwrap_err(), FramingError::TooLong);
        let long_trailers = [b"0\r\n".as_slice(), &b"X-A: 1\r\n".repeat(MAX_TRAILERS / 8 + 1), b"\r\n"].concat();
        assert_eq!(decode(Framing::Chunked, &long_trailers, 300).unwrap_err(), FramingError::TooLong);
    }

    #[test]
    fn length_and_until_close() {
        let (body, ended, left) = decode(Framing::Length(5), b"helloHTTP", 2).unwrap();
        assert_eq!((body.as_slice(), ended, left), (&b"hello"[..], true, 4));
        let (body, ended, _) = decode(Framing::Length(9), b"short", 2).unwrap();
        assert_eq!((body.as_slice(), ended), (&b"short"[..], false));
        let (body, ended, _) = decode(Framing::UntilClose, b"all of it", 4).unwrap();
        assert_eq!((body.as_slice(), ended), (&b"all of it"[..], false));
        assert!(Decoder::new(Framing::Empty).is_done());
        assert!(Decoder::new(Framing::Length(0)).is_done());
    }

    #[test]
    fn the_end_is_seen_right_after_the_last_data() {
        let wire = chunked(b"abc", &[3], "");
        let mut decoder = Decoder::new(Framing::Chunked);
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(decoder.step(&mut buf).unwrap(), Step::Data(Bytes::from_static(b"abc")));
        assert!(!decoder.is_done());
        decoder.skip_framing(&mut buf).unwrap();
        assert!(decoder.is_done());
        assert!(buf.is_empty());
        // Only part of the end buffered: not done, nothing lost.
        let mut decoder = Decoder::new(Framing::Chunked);
        let mut buf = BytesMut::from(&wire[..wire.len() - 3]);
        decoder.step(&mut buf).unwrap();
        decoder.skip_framing(&mut buf).unwrap();
        assert!(!decoder.is_done());
        buf.extend_from_slice(&wire[wire.len() - 3..]);
        assert_eq!(decoder.step(&mut buf).unwrap(), Step::End);
    }

    proptest! {
        /// Any body, chunked any way and delivered in pieces of any size, decodes to itself.
        #[test]
        fn chunked_bodies_round_trip(body in proptest::collection::vec(any::<u8>(), 0..2048),
                                     sizes in proptest::collection::vec(1usize..300, 1..8),
                                     cut in 1usize..64) {
            let wire = chunked(&body, &sizes, "");
            let (decoded, ended, left) = decode(Framing::Chunked, &wire, cut).unwrap();
            prop_assert!(ended);
            prop_assert_eq!(left, 0);
            prop_assert_eq!(decoded, body);
        }

        /// Arbitrary bytes never make the decoder panic or hand out more than it was given.
        #[test]
        fn arbitrary_bytes_are_refused_or_decoded(wire in proptest::collection::vec(any::<u8>(), 0..512), cut in 1usize..32) {
            if let Ok((decoded, _, _)) = decode(Framing::Chunked, &wire, cut) {
                prop_assert!(decoded.len() <= wire.len());
            }
        }
    }
}
