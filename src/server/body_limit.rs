//! `bodyLimit` for request bodies whose size is not announced (chunked, HTTP/2 streams), and
//! the `readTimeout` deadline for reading a whole request body.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use seam_registry::Body;
use seam_registry::body::BoxError;

/// Passes frames through and fails once more than `limit` bytes went by, raising `tripped`
/// so the host answers 413 whatever the action made of the error.
pub struct LimitedBody {
    inner: Body,
    remaining: u64,
    tripped: Arc<AtomicBool>,
    deadline: Option<(Instant, Arc<AtomicBool>)>,
}

impl LimitedBody {
    /// Wraps `inner`.
    pub fn new(inner: Body, limit: u64, tripped: Arc<AtomicBool>) -> Self {
        LimitedBody { inner, remaining: limit, tripped, deadline: None }
    }

    /// Also fails a frame that arrives after `deadline`, raising `late` (answered with 408).
    pub fn with_deadline(mut self, deadline: Instant, late: Arc<AtomicBool>) -> Self {
        self.deadline = Some((deadline, late));
        self
    }
}

/// The error a body read past `readTimeout` fails with.
#[derive(Debug)]
pub struct TooSlow;

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body not received within the server's readTimeout")
    }
}

impl std::error::Error for TooSlow {}

/// The error a body over the limit fails with.
#[derive(Debug)]
pub struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body larger than the server's bodyLimit")
    }
}

impl std::error::Error for TooLarge {}

impl HttpBody for LimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some((deadline, late)) = &this.deadline
                    && Instant::now() > *deadline
                {
                    late.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(Box::new(TooSlow))));
                }
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.tripped.store(true, Ordering::Release);
                        return Poll::Ready(Some(Err(Box::new(TooLarge))));
                    }
                    this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
