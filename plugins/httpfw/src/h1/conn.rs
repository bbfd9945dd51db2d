//! One HTTP/1.1 connection to an upstream: the socket and what has been read from it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::net::TcpStream;

/// How much a read asks for at first (a typical answer's head and body fit in one).
const READ_SIZE: usize = 8 * 1024;
/// How much a read asks for at most: reads that fill their buffer double the next one's
/// size up to this, so a large body is read in few system calls.
const MAX_READ_SIZE: usize = 128 * 1024;

/// A connection to an upstream, owned by one worker thread.
pub struct Conn {
    pub io: TcpStream,
    /// Bytes read and not yet taken by an answer's head or body.
    pub read: BytesMut,
    /// How much the next read asks for.
    read_size: usize,
}

impl Conn {
    /// A new connection's state.
    pub fn new(io: TcpStream) -> Conn {
        Conn { io, read: BytesMut::new(), read_size: READ_SIZE }
    }

    /// Reads what the socket has; ready with 0 at the end of the stream.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read.capacity() - self.read.len() < self.read_size / 4 {
            self.read.reserve(self.read_size);
        }
        let room = self.read.capacity() - self.read.len();
        // `AsyncRead::poll_read` (which `poll_read_buf` uses) clears the socket's readiness
        // after a short read, so a kept-alive connection is not read again only to find it
        // empty.
        let read = tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read);
        if let Poll::Ready(Ok(n)) = read
            && n == room
        {
            self.read_size = (self.read_size * 2).min(MAX_READ_SIZE);
        }
        read
    }

    /// Whether a pooled connection can carry a request: nothing unread, and no sign from
    /// the event loop that the upstream closed it or sent something unasked. Makes no
    /// system call unless the socket turned readable while the connection was idle.
    pub fn is_reusable(&mut self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readable: the end of the stream, an error, or bytes nobody asked for.
            Poll::Ready(Ok(())) => {
                matches!(self.io.try_read_buf(&mut self.read), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}
