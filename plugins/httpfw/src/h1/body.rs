//! An upstream's answer body, read from its connection by the task that sends it on; the
//! connection goes back to the worker's pool once the body has been read to its end.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::uri::Authority;
use http_body::{Frame, SizeHint};
use seam_core::Body;
use seam_core::body::BoxError;

use super::conn::Conn;
use super::framing::{Decoder, Framing, Step};
use super::pool;
use super::request::{Upload, UploadError};

/// The body of an answer being read from its connection.
pub struct UpstreamBody {
    /// `None` once the body has ended (or failed): the connection was given back or closed.
    conn: Option<Conn>,
    decoder: Decoder,
    /// Whether the connection may carry another request after this answer.
    keep_alive: bool,
    /// The rest of the request's body, when the upstream answered before taking all of it.
    upload: Option<Upload>,
    authority: Authority,
}

impl UpstreamBody {
    /// The body of an answer whose head was just read from `conn`.
    pub fn start(conn: Conn, framing: Framing, keep_alive: bool, upload: Option<Upload>, authority: Authority) -> Body {
        let mut body = UpstreamBody { conn: Some(conn), decoder: Decoder::new(framing), keep_alive, upload, authority };
        if body.decoder.is_done() {
            body.finish();
            return Body::empty();
        }
        Body::new(body)
    }

    /// The body has been read to its end: the connection goes back to the pool when it can
    /// carry another request (the request's body all sent, nothing read beyond the answer).
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            && self.upload.is_none()
        {
            pool::checkin(&self.authority, conn);
        }
    }

    fn fail(&mut self, why: impl Into<BoxError>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(why.into())))
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(conn) = this.conn.as_mut() else { return Poll::Ready(None) };
        if let Some(upload) = this.upload.as_mut() {
            match upload.poll_send(cx, &mut conn.io) {
                Poll::Ready(Ok(())) => this.upload = None,
                // The upstream has an incomplete request: its answer cannot be trusted whole.
                Poll::Ready(Err(e @ UploadError::Body(_))) => return this.fail(e.to_string()),
                Poll::Ready(Err(UploadError::Write(_))) => {
                    // The upstream stopped taking the request's body; its answer still counts,
                    // the connection does not carry another request.
                    this.upload = None;
                    this.keep_alive = false;
                }
                Poll::Pending => {}
            }
        }
        loop {
            let conn = this.conn.as_mut().expect("checked above");
            match this.decoder.step(&mut conn.read) {
                Err(e) => return this.fail(e),
                Ok(Step::End) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Step::Data(data)) => {
                    // Past the last chunk already buffered: the end is known now, and the
                    // connection is free before the data is even written to the client. (An
                    // error there comes back at the next step.)
                    let _ = this.decoder.skip_framing(&mut conn.read);
                    if this.decoder.is_done() {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Step::More) => match ready!(conn.poll_fill(cx)) {
                    Ok(0) if this.decoder.ends_at_close() => {
                        this.conn = None;
                        return Poll::Ready(None);
                    }
                    Ok(0) => return this.fail("the upstream closed the connection before the end of the body"),
                    Ok(_) => {}
                    Err(e) => return this.fail(e),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
