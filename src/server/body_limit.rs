//! `bodyLimit` for request bodies whose size is not announced (chunked, HTTP/2 streams), and
//! the `readTimeout` deadline for reading a whole request body.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body as HttpBody, Frame, SizeHint};
use seam_core::body::BoxError;

/// Why a request body was cut off, and the status the host answers with instead of
/// whatever the action made of the error.
#[derive(Clone, Copy, Debug)]
pub struct Rejected {
    /// 413 or 408.
    pub status: StatusCode,
    /// For the client.
    pub detail: &'static str,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.detail)
    }
}

impl std::error::Error for Rejected {}

/// The body went past `bodyLimit`.
pub const TOO_LARGE: Rejected =
    Rejected { status: StatusCode::PAYLOAD_TOO_LARGE, detail: "request body larger than the server's bodyLimit" };
/// The body went past `readTimeout`.
const TOO_SLOW: Rejected = Rejected {
    status: StatusCode::REQUEST_TIMEOUT,
    detail: "request body not received within the server's readTimeout",
};

/// Passes frames through and fails once more than `limit` bytes went by, or when the
/// deadline passes (a timer: it fires even when no frame arrives), recording why in
/// `rejected`.
pub struct LimitedBody<B> {
    inner: B,
    remaining: u64,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    rejected: Arc<OnceLock<Rejected>>,
}

impl<B> LimitedBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, limit: u64, deadline: Option<Instant>, rejected: Arc<OnceLock<Rejected>>) -> Self {
        let deadline = deadline.map(|at| Box::pin(tokio::time::sleep_until(at.into())));
        LimitedBody { inner, remaining: limit, deadline, rejected }
    }

    fn reject(&self, why: Rejected) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let _ = self.rejected.set(why);
        Poll::Ready(Some(Err(Box::new(why))))
    }
}

impl<B> HttpBody for LimitedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(deadline) = self.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return self.reject(TOO_SLOW);
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > self.remaining {
                return self.reject(TOO_LARGE);
            }
            self.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
