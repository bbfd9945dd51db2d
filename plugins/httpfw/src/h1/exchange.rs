//! One request and its answer's head on one connection, polled by the request's own task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::uri::Authority;
use tokio::io::AsyncWrite;

use super::body::UpstreamBody;
use super::conn::Conn;
use super::request::{Outgoing, UploadError};
use super::response::{self, Parsed};

/// Why an exchange did not get an answer.
pub enum Failed {
    /// A reused connection broke before the upstream could have acted on the request: the
    /// request, given back whole, may go out again on another connection.
    Retry(Outgoing),
    /// The request failed; the text says why.
    Fatal(String),
}

/// Writes the request, then reads until the answer's head; its body is read by the
/// [`UpstreamBody`] it resolves to, which also finishes sending the request's body when the
/// upstream answers before taking all of it.
pub struct Exchange {
    conn: Option<Conn>,
    out: Option<Outgoing>,
    authority: Authority,
    /// Whether the connection came from the pool (it may have been closed meanwhile).
    reused: bool,
    /// Bytes of the head written.
    written: usize,
    /// Whether any byte of an answer arrived.
    answered: bool,
    /// Why sending the request's body failed, kept while an early answer may still come.
    upload_failed: Option<String>,
}

impl Exchange {
    pub fn new(conn: Conn, reused: bool, out: Outgoing, authority: Authority) -> Exchange {
        Exchange {
            conn: Some(conn),
            out: Some(out),
            authority,
            reused,
            written: 0,
            answered: false,
            upload_failed: None,
        }
    }

    /// The failure of a connection that broke: the request goes out again when that cannot
    /// have had an effect upstream.
    fn broke(&mut self, before_sent: bool, why: String) -> Failed {
        let out = self.out.take().expect("an exchange fails once");
        let replayable = self.reused && !self.answered && out.upload.is_untouched() && (before_sent || out.idempotent);
        if replayable { Failed::Retry(out) } else { Failed::Fatal(self.upload_failed.take().unwrap_or(why)) }
    }
}

impl Future for Exchange {
    type Output = Result<http::Response<seam_core::Body>, Failed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (Some(conn), Some(out)) = (this.conn.as_mut(), this.out.as_mut()) else {
            return Poll::Ready(Err(Failed::Fatal("polled after it completed".into())));
        };
        let to_head = out.to_head;
        while this.written < out.head.len() {
            match ready!(Pin::new(&mut conn.io).poll_write(cx, &out.head[this.written..])) {
                Ok(0) => return Poll::Ready(Err(this.broke(true, "the connection closed".into()))),
                Ok(n) => this.written += n,
                Err(e) => return Poll::Ready(Err(this.broke(true, e.to_string()))),
            }
        }
        if this.upload_failed.is_none() && !out.upload.is_done() {
            match out.upload.poll_send(cx, &mut conn.io) {
                // The request cannot be completed: the connection goes, with the request.
                Poll::Ready(Err(e @ UploadError::Body(_))) => return Poll::Ready(Err(Failed::Fatal(e.to_string()))),
                // The upstream may have stopped reading to answer early: wait for that answer.
                Poll::Ready(Err(e @ UploadError::Write(_))) => this.upload_failed = Some(e.to_string()),
                Poll::Ready(Ok(())) | Poll::Pending => {}
            }
        }
        loop {
            let conn = this.conn.as_mut().expect("checked above");
            match response::parse(&mut conn.read, to_head) {
                Ok(Parsed::Final(head)) => {
                    let (Some(conn), Some(out)) = (this.conn.take(), this.out.take()) else {
                        unreachable!("checked above")
                    };
                    let upload = (!out.upload.is_done() && this.upload_failed.is_none()).then_some(out.upload);
                    let keep_alive = head.keep_alive && this.upload_failed.is_none();
                    let body = UpstreamBody::start(conn, head.framing, keep_alive, upload, this.authority.clone());
                    let mut response = http::Response::new(body);
                    *response.status_mut() = head.status;
                    *response.version_mut() = head.version;
                    *response.headers_mut() = head.headers;
                    return Poll::Ready(Ok(response));
                }
                Ok(Parsed::Interim) => continue,
                Ok(Parsed::Partial) => {}
                Err(e) => return Poll::Ready(Err(Failed::Fatal(e))),
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) => {
                    let why = "the upstream closed the connection before answering".to_string();
                    return Poll::Ready(Err(this.broke(false, why)));
                }
                Ok(_) => this.answered = true,
                Err(e) => return Poll::Ready(Err(this.broke(false, e.to_string()))),
            }
        }
    }
}
