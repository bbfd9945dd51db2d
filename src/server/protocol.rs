//! Which HTTP a plain connection speaks, told from its first bytes, and the connection with
//! those bytes put back in front of it for hyper.
//!
//! The first read takes whatever the client sent (up to `FIRST_READ` bytes: the whole
//! request head, usually) and hands all of it to hyper, so a connection costs one read
//! before its request is parsed. (hyper-util's automatic detection reads exactly 24 bytes
//! first: a second read for every connection, and hyper's 8 KiB read buffer grown and copied
//! when the rest arrives.)

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What HTTP/2 prior knowledge (h2c, or h2 over TLS without ALPN) starts with (RFC 9113, 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The most the first read takes.
const FIRST_READ: usize = 8 * 1024;

/// The HTTP a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    /// The protocol TLS's ALPN settled on, if it settled on one.
    pub fn from_alpn(alpn: Option<&[u8]>) -> Option<Protocol> {
        match alpn? {
            b"h2" => Some(Protocol::Http2),
            b"http/1.1" => Some(Protocol::Http1),
            _ => None,
        }
    }

    /// The protocol `first` (the bytes received so far) shows, or `None` while they are a
    /// strict beginning of the HTTP/2 preface. Anything else is HTTP/1, as hyper-util decides.
    pub fn of(first: &[u8]) -> Option<Protocol> {
        let n = first.len().min(PREFACE.len());
        if first[..n] != PREFACE[..n] {
            Some(Protocol::Http1)
        } else if n == PREFACE.len() {
            Some(Protocol::Http2)
        } else {
            None
        }
    }
}

thread_local! {
    /// Where each worker thread's first reads land before the bytes are copied out.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; FIRST_READ].into_boxed_slice());
}

/// Reads the client's first bytes, until they tell the protocol. `Ok(None)`: the client
/// closed before they did.
pub async fn first_bytes<I: AsyncRead + Unpin>(io: &mut I) -> io::Result<Option<(Protocol, Bytes)>> {
    // Filled only when a read ends inside the HTTP/2 preface (a client writing byte by byte).
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let read = std::future::poll_fn(|cx| {
            SCRATCH.with_borrow_mut(|scratch| {
                let mut buf = ReadBuf::new(scratch);
                ready!(Pin::new(&mut *io).poll_read(cx, &mut buf))?;
                // Copied once, to a buffer of their size.
                Poll::Ready(Ok::<_, io::Error>(Bytes::copy_from_slice(buf.filled())))
            })
        })
        .await?;
        if read.is_empty() {
            return Ok(None);
        }
        let first = if partial.is_empty() {
            read
        } else {
            partial.extend_from_slice(&read);
            Bytes::from(std::mem::take(&mut partial))
        };
        match Protocol::of(&first) {
            Some(protocol) => return Ok(Some((protocol, first))),
            None => partial = first.into(),
        }
    }
}

/// `inner`, with `first` read from it already: reads give `first` before anything else.
pub struct Prefixed<I> {
    first: Bytes,
    inner: I,
}

impl<I> Prefixed<I> {
    pub fn new(inner: I, first: Bytes) -> Self {
        Prefixed { first, inner }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.first.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = this.first.len().min(buf.remaining());
        buf.put_slice(&this.first[..n]);
        this.first.advance(n);
        if this.first.is_empty() {
            // Its memory goes now, not with the connection.
            this.first = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn the_preface_is_http2_anything_else_http1_and_a_beginning_of_it_undecided() {
        assert_eq!(Protocol::of(PREFACE), Some(Protocol::Http2));
        assert_eq!(Protocol::of(&[PREFACE, b"\0\0\x12\x04"].concat()), Some(Protocol::Http2));
        assert_eq!(Protocol::of(b"GET / HTTP/1.1\r\n"), Some(Protocol::Http1));
        assert_eq!(Protocol::of(b"PRI * HTTP/1.1\r\n"), Some(Protocol::Http1));
        assert_eq!(Protocol::of(b"P"), None);
        assert_eq!(Protocol::of(&PREFACE[..23]), None);
        assert_eq!(Protocol::from_alpn(Some(b"h2")), Some(Protocol::Http2));
        assert_eq!(Protocol::from_alpn(Some(b"http/1.1")), Some(Protocol::Http1));
        assert_eq!(Protocol::from_alpn(None), None);
    }

    #[tokio::test]
    async fn the_first_read_is_kept_whole_and_read_again_before_the_rest() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        client.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n").await.unwrap();
        let (protocol, first) = first_bytes(&mut server).await.unwrap().unwrap();
        assert_eq!((protocol, &first[..]), (Protocol::Http1, &b"GET / HTTP/1.1\r\nhost: a\r\n\r\n"[..]));
        client.write_all(b"next").await.unwrap();
        drop(client);
        let mut prefixed = Prefixed::new(server, first);
        let mut all = Vec::new();
        prefixed.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"GET / HTTP/1.1\r\nhost: a\r\n\r\nnext");
    }

    #[tokio::test]
    async fn a_preface_in_pieces_is_waited_for_and_kept_whole() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            for piece in PREFACE.chunks(5) {
                client.write_all(piece).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            client
        });
        let (protocol, first) = first_bytes(&mut server).await.unwrap().unwrap();
        assert_eq!((protocol, &first[..]), (Protocol::Http2, PREFACE));
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn a_client_that_closes_first_is_no_connection() {
        let (client, mut server) = tokio::io::duplex(1024);
        drop(client);
        assert!(first_bytes(&mut server).await.unwrap().is_none());
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(&PREFACE[..10]).await.unwrap();
        drop(client);
        assert!(first_bytes(&mut server).await.unwrap().is_none(), "half a preface, then the end");
    }

    #[tokio::test]
    async fn a_first_read_larger_than_the_scratch_leaves_the_rest_to_later_reads() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let big = vec![b'a'; FIRST_READ + 100];
        client.write_all(&big).await.unwrap();
        drop(client);
        let (protocol, first) = first_bytes(&mut server).await.unwrap().unwrap();
        assert_eq!(protocol, Protocol::Http1);
        assert!(first.len() <= FIRST_READ);
        let mut prefixed = Prefixed::new(server, first);
        let mut all = Vec::new();
        prefixed.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, big);
    }
}
