//! `enableCompression`: the client side of the relay speaks permessage-deflate (RFC 7692)
//! through yawc, without context takeover in either direction as Seam negotiates it, and
//! appears to the pump as the same stream of messages as an uncompressed side.
//!
//! The upstream side stays uncompressed (Seam compresses only towards the client). Every
//! message is bounded by `maxMessageSize` after inflation, so a small compressed frame that
//! inflates past the limit closes the connection (1009) instead of filling memory.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message, Utf8Bytes};
use yawc::{CompressionLevel, DeflatePool, Frame, OpCode, Options};

/// The yawc options of an action's compressing client sides, made once at build: deflate
/// at Go's default level for websockets (fastest), no context takeover, compressors shared
/// by the action's connections (without context takeover a connection needs one only while
/// it compresses a message), and the same limits as the uncompressed side.
pub fn options(max_message_size: usize, read_buffer: usize, write_buffer: usize) -> Options {
    let pool = DeflatePool::new(std::thread::available_parallelism().map_or(2, usize::from) * 2);
    // yawc's limits are exclusive: a message of exactly `maxMessageSize` passes.
    let limit = max_message_size.saturating_add(1);
    Options::default()
        .with_compression_level(CompressionLevel::fast())
        .server_no_context_takeover()
        .client_no_context_takeover()
        .with_deflate_pool(pool)
        .with_max_payload_read(limit)
        .with_max_read_buffer(limit)
        .with_read_buffer_capacity(read_buffer)
        .with_write_buffer_capacity(write_buffer)
        .with_utf8()
}

/// A yawc WebSocket seen as a stream and sink of tungstenite messages.
pub struct Deflating<S>(pub yawc::WebSocket<S>);

fn failed(what: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(what.to_string()))
}

/// The message a received frame carries (yawc reassembles fragments, so there are no
/// continuation frames here).
fn message(frame: Frame) -> Result<Message, Error> {
    let code = frame.close_code();
    let reason = frame.close_reason().ok().flatten().map(str::to_owned);
    let (opcode, _, payload) = frame.into_parts();
    Ok(match opcode {
        OpCode::Text => Message::Text(Utf8Bytes::try_from(payload).map_err(failed)?),
        OpCode::Binary | OpCode::Continuation => Message::Binary(payload),
        OpCode::Ping => Message::Ping(payload),
        OpCode::Pong => Message::Pong(payload),
        OpCode::Close => Message::Close(code.map(|code| CloseFrame {
            code: CloseCode::from(u16::from(code)),
            reason: reason.unwrap_or_default().into(),
        })),
    })
}

/// The frame that sends `message`; `None` for a raw frame, which the pump never sends.
fn frame(message: Message) -> Option<Frame> {
    Some(match message {
        Message::Text(text) => Frame::text(Bytes::from(text)),
        Message::Binary(data) => Frame::binary(data),
        Message::Ping(data) => Frame::ping(data),
        Message::Pong(data) => Frame::pong(data),
        Message::Close(Some(close)) => {
            Frame::close(yawc::close::CloseCode::from(u16::from(close.code)), close.reason.as_bytes())
        }
        Message::Close(None) => Frame::close(yawc::close::CloseCode::Normal, b""),
        Message::Frame(_) => return None,
    })
}

impl<S> Stream for Deflating<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match ready!(this.0.poll_next_frame(cx)) {
            Ok(frame) => Poll::Ready(Some(message(frame))),
            // yawc has told the peer why (1002, 1007, 1009) when that was possible.
            Err(e) => Poll::Ready(Some(Err(failed(e)))),
        }
    }
}

impl<S> Sink<Message> for Deflating<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().0).poll_ready(cx).map_err(failed)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        match frame(message) {
            Some(frame) => Pin::new(&mut self.get_mut().0).start_send(frame).map_err(failed),
            None => Ok(()),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx).map_err(failed)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_unchanged() {
        let cases = [
            Message::Text("héllo".into()),
            Message::Binary(Bytes::from_static(b"\x00\xff")),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Pong(Bytes::from_static(b"q")),
            Message::Close(Some(CloseFrame { code: CloseCode::Away, reason: "bye".into() })),
            Message::Close(Some(CloseFrame { code: CloseCode::from(4001), reason: "".into() })),
        ];
        for sent in cases {
            let back = message(frame(sent.clone()).expect("a frame")).expect("a message");
            assert_eq!(back, sent);
        }
    }
}
