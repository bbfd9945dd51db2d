//! A request as it goes to an upstream: its head written once into bytes, its body framed
//! (`Content-Length` when known, chunked otherwise) and sent as the connection takes it.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http::header::CONTENT_LENGTH;
use http::{Method, Request};
use http_body::Body as _;
use seam_core::Body;

use super::framing::content_length;
use tokio::io::AsyncWrite;

/// A request ready to be written to an upstream connection.
pub struct Outgoing {
    /// Request line and header fields, with the framing field the body needs.
    pub head: Vec<u8>,
    pub upload: Upload,
    /// `HEAD`: the answer has no body.
    pub to_head: bool,
    /// A method that may be sent again when a reused connection breaks before any answer
    /// (RFC 9110 §9.2.2).
    pub idempotent: bool,
}

impl Outgoing {
    /// The request's head in HTTP/1.1 form; its URI must be in origin form. The body's
    /// framing is the request's `Content-Length` when it has one, the body's exact length
    /// otherwise, chunked when that is not known.
    pub fn new(request: Request<Body>) -> Result<Outgoing, String> {
        let (parts, body) = request.into_parts();
        if parts.method == Method::CONNECT {
            // A tunnel is not a request to forward (a 2xx would turn the connection into one).
            return Err("CONNECT is not forwarded to upstreams".into());
        }
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let fields: usize = parts.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
        let mut head = Vec::with_capacity(parts.method.as_str().len() + target.len() + fields + 64);
        head.extend_from_slice(parts.method.as_str().as_bytes());
        head.push(b' ');
        head.extend_from_slice(target.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &parts.headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        let declared = match parts.headers.get(CONTENT_LENGTH) {
            None => None,
            Some(value) => {
                Some(content_length(value.as_bytes()).ok_or("the request's Content-Length is not a number")?)
            }
        };
        let framing = match (declared, body.is_end_stream(), body.size_hint().exact()) {
            (Some(n), _, _) => Send::Length(n),
            (None, true, _) => Send::Length(0),
            (None, false, Some(n)) => {
                head.extend_from_slice(b"content-length: ");
                head.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                head.extend_from_slice(b"\r\n");
                Send::Length(n)
            }
            (None, false, None) => {
                head.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Send::Chunked
            }
        };
        head.extend_from_slice(b"\r\n");
        let idempotent = matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
        );
        let to_head = parts.method == Method::HEAD;
        let done = body.is_end_stream() && framing == Send::Length(0);
        Ok(Outgoing {
            head,
            upload: Upload { body, framing, pending: VecDeque::new(), touched: false, done },
            to_head,
            idempotent,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Send {
    /// Bytes of the body still to send.
    Length(u64),
    Chunked,
}

/// Why a request body could not be sent.
#[derive(Debug)]
pub enum UploadError {
    /// The body itself failed (the client stopped sending, a limit, a length that does not
    /// match): the request cannot be completed.
    Body(String),
    /// The connection would not take it (the upstream may have answered early).
    Write(io::Error),
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadError::Body(e) => write!(f, "the request body failed: {e}"),
            UploadError::Write(e) => write!(f, "sending the request body failed: {e}"),
        }
    }
}

/// A request body on its way to the upstream.
pub struct Upload {
    body: Body,
    framing: Send,
    /// Framed bytes not yet written.
    pending: VecDeque<Bytes>,
    /// Whether the body has been read from: then it cannot be sent again.
    touched: bool,
    done: bool,
}

impl Upload {
    /// Whether all of the body has been written.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether none of the body has been taken yet (the request could go out again whole).
    pub fn is_untouched(&self) -> bool {
        !self.touched
    }

    /// Writes as much of the body as the body and the connection allow; ready when all of it
    /// has been written.
    pub fn poll_send<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<Result<(), UploadError>> {
        loop {
            while !self.pending.is_empty() {
                let mut slices = [IoSlice::new(&[]); 8];
                let count = self.pending.len().min(slices.len());
                for (slice, bytes) in slices.iter_mut().zip(&self.pending) {
                    *slice = IoSlice::new(bytes);
                }
                let mut written =
                    ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count])).map_err(UploadError::Write)?;
                if written == 0 {
                    return Poll::Ready(Err(UploadError::Write(io::ErrorKind::WriteZero.into())));
                }
                while written > 0 {
                    let front = self.pending.front_mut().expect("written bytes were pending");
                    let step = written.min(front.len());
                    front.advance(step);
                    written -= step;
                    if front.is_empty() {
                        self.pending.pop_front();
                    }
                }
            }
            if self.done {
                return Poll::Ready(Ok(()));
            }
            self.touched = true;
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => {
                    match self.framing {
                        Send::Length(0) => {}
                        Send::Length(_) => {
                            return Poll::Ready(Err(UploadError::Body("it ended before its Content-Length".into())));
                        }
                        Send::Chunked => self.pending.push_back(Bytes::from_static(b"0\r\n\r\n")),
                    }
                    self.done = true;
                }
                Some(Err(e)) => return Poll::Ready(Err(UploadError::Body(e.to_string()))),
                Some(Ok(frame)) => {
                    // Trailers are not sent on (nor are an answer's).
                    let Ok(data) = frame.into_data() else { continue };
                    if data.is_empty() {
                        continue;
                    }
                    match &mut self.framing {
                        Send::Length(left) => {
                            *left = left
                                .checked_sub(data.len() as u64)
                                .ok_or_else(|| UploadError::Body("it is longer than its Content-Length".into()))?;
                            self.pending.push_back(data);
                        }
                        Send::Chunked => {
                            self.pending.push_back(Bytes::from(format!("{:x}\r\n", data.len())));
                            self.pending.push_back(data);
                            self.pending.push_back(Bytes::from_static(b"\r\n"));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use http_body_util::StreamBody;

    fn written(request: Request<Body>) -> String {
        let mut out = Outgoing::new(request).unwrap();
        let mut wire = std::mem::take(&mut out.head);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        match out.upload.poll_send(&mut cx, &mut wire) {
            Poll::Ready(Ok(())) => {}
            other => panic!("{other:?}"),
        }
        String::from_utf8(wire).unwrap()
    }

    #[test]
    fn heads_and_framing() {
        let get = Request::get("/a?b=1").header("host", "up").header("x-a", "1").body(Body::empty()).unwrap();
        assert_eq!(written(get), "GET /a?b=1 HTTP/1.1\r\nhost: up\r\nx-a: 1\r\n\r\n");
        let post = Request::post("/p").body(Body::from("hello")).unwrap();
        assert_eq!(written(post), "POST /p HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello");
        let declared = Request::post("/p").header("content-length", "5").body(Body::from("hello")).unwrap();
        assert_eq!(written(declared), "POST /p HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello");
        let frames = futures_util::stream::iter(
            ["ab", "", "cde"]
                .map(|part| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(part.as_bytes())))),
        );
        let streamed = Request::put("/s").body(Body::new(StreamBody::new(frames))).unwrap();
        assert_eq!(
            written(streamed),
            "PUT /s HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
        );
    }

    #[test]
    fn a_body_that_does_not_match_its_length_fails() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for (declared, body) in [("3", "hello"), ("9", "hello")] {
            let request = Request::post("/p").header("content-length", declared).body(Body::from(body)).unwrap();
            let mut out = Outgoing::new(request).unwrap();
            let mut wire = Vec::new();
            assert!(matches!(out.upload.poll_send(&mut cx, &mut wire), Poll::Ready(Err(_))), "{declared}");
        }
        let bad = Request::post("/p").header("content-length", "-1").body(Body::empty()).unwrap();
        assert!(Outgoing::new(bad).is_err());
    }
}
