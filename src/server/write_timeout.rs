//! `writeTimeout`: a response body that is still being sent after the deadline is cut off
//! (the connection is closed), so a slow reader or a stalled upstream cannot hold it forever.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use seam_core::Body;
use seam_core::body::BoxError;
use tokio::time::Sleep;

/// A body that fails once `timeout` has passed since it was created.
pub struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl DeadlineBody {
    /// Wraps `inner`; the clock starts now.
    pub fn new(inner: Body, timeout: Duration) -> Self {
        DeadlineBody { inner, sleep: Box::pin(tokio::time::sleep(timeout)), timeout }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            let message = format!("response not written within the server's writeTimeout ({:?})", self.timeout);
            tracing::warn!("{message}");
            return Poll::Ready(Some(Err(message.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
