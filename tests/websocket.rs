//! WebSocketAction and CheckWebSocketUpgradeMiddleware in a served gateway, in front of a
//! real WebSocket echo server (tokio-tungstenite): frames both ways, close codes, pings, the
//! inactivity close, a silent client, a side that stops reading, origins, and the HTTP
//! answers to what is not a WebSocket handshake.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::{Gateway, SERVER, get};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// An echo server; remembers the close frame it received last.
async fn echo_server() -> (String, Arc<Mutex<Option<CloseFrame>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let closed = Arc::new(Mutex::new(None));
    let seen = closed.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Close(frame) = message {
                        *seen.lock().unwrap() = frame;
                        break;
                    }
                    let echoed = matches!(message, Message::Text(_) | Message::Binary(_));
                    if echoed && ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (url, closed)
}

/// The close frame the echo server received, waiting up to 5 s for it (`why` if none came).
async fn upstream_close(closed: &Mutex<Option<CloseFrame>>, why: &str) -> CloseFrame {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(frame) = closed.lock().unwrap().clone() {
            return frame;
        }
        assert!(Instant::now() < deadline, "{why}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn gateway(upstream: &str, config: &str) -> Gateway {
    Gateway::start(&format!(
        "{SERVER}middlewares:\n  OnlyWs: {{ use: plugins.wsfw.middlewares.CheckWebSocketUpgradeMiddleware }}\n\
         actions:\n  Ws: {{ use: plugins.wsfw.actions.WebSocketAction, config: {{ upstreamEndpoint: \"{upstream}\", {config} }} }}\n\
         routes:\n  Socket: {{ gatewayPath: /ws/*, middlewares: [OnlyWs], action: Ws }}\n  Bare: {{ gatewayPath: /bare, action: Ws }}\n"
    ))
    .await
}

fn ws_url(gateway: &Gateway, path: &str) -> String {
    format!("ws://{}{path}", gateway.addr)
}

#[tokio::test]
async fn frames_both_ways_and_the_close_code_reaches_the_upstream() {
    let (upstream, closed) = echo_server().await;
    let gateway = gateway(&upstream, "pingInterval: 10s").await;
    let (mut ws, response) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/room")).await.expect("handshake");
    assert_eq!(response.status(), 101);
    ws.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Text("hello".into()));
    let binary = vec![0u8, 1, 2, 255];
    ws.send(Message::Binary(binary.clone().into())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(binary.into()));
    ws.close(Some(CloseFrame { code: CloseCode::Library(4001), reason: "bye".into() })).await.unwrap();
    let frame = upstream_close(&closed, "the upstream never saw the close").await;
    assert_eq!((u16::from(frame.code), frame.reason.as_str()), (4001, "bye"));
}

/// Small and large, text and binary: the relay reads several in one read and passes them on
/// together; some span its read chunks.
fn burst() -> Vec<Message> {
    (0..300)
        .map(|i| match i % 3 {
            0 => Message::Text(format!("message {i}").into()),
            1 => Message::Binary(vec![(i % 251) as u8; 10 + i * 37 % 9000].into()),
            _ => Message::Text("x".repeat(i * 13 % 5000).into()),
        })
        .collect()
}

#[tokio::test]
async fn a_burst_sent_in_one_write_arrives_whole_and_in_order_both_ways() {
    let (upstream, _) = echo_server().await;
    let gateway = gateway(&upstream, "pingInterval: 10s").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/burst")).await.unwrap();
    let burst = burst();
    for message in &burst {
        ws.feed(message.clone()).await.unwrap();
    }
    ws.flush().await.unwrap();
    let mut echoed = Vec::new();
    while echoed.len() < burst.len() {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("echoes within 10 s") {
            Some(Ok(message)) => echoed.push(message),
            other => panic!("{other:?} after {} echoes", echoed.len()),
        }
    }
    assert!(echoed == burst, "every message came back, in the order sent");
}

#[tokio::test]
async fn a_close_right_behind_a_burst_reaches_the_upstream_after_it_and_is_answered() {
    // An upstream that counts the messages it gets before the close.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("ws://{}", listener.local_addr().unwrap());
    let seen = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let mut messages = 0;
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return (messages, frame),
                Some(Ok(_)) => messages += 1,
                other => panic!("{other:?} after {messages} messages"),
            }
        }
    });
    let gateway = gateway(&upstream, "pingInterval: 10s").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/burst")).await.unwrap();
    let burst = burst();
    for message in &burst {
        ws.feed(message.clone()).await.unwrap();
    }
    ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Library(4002), reason: "done".into() }))).await.unwrap();
    let (messages, frame) = tokio::time::timeout(Duration::from_secs(10), seen).await.expect("the close").unwrap();
    assert_eq!(messages, burst.len(), "the whole burst went before the close");
    let frame = frame.expect("a close frame with a code");
    assert_eq!((u16::from(frame.code), frame.reason.as_str()), (4002, "done"));
    // The client's closing handshake completes: its close is answered, not cut off.
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("an answer within 5 s") {
        Some(Ok(Message::Close(_))) | None => {}
        other => panic!("the close was not answered: {other:?}"),
    }
}

#[tokio::test]
async fn the_gateway_pings_and_closes_an_inactive_connection() {
    let (upstream, _) = echo_server().await;
    let gateway = gateway(&upstream, "pingInterval: 200ms, pongTimeout: 2s, maxInactivity: 1s").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/x")).await.unwrap();
    let started = Instant::now();
    let mut pinged = false;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("something within 5s") {
            Some(Ok(Message::Ping(_))) => pinged = true,
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert!(pinged, "a ping arrived before the close");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "closed after {took:?}");
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Normal));
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_taken_as_gone() {
    let (upstream, closed) = echo_server().await;
    let gateway = gateway(&upstream, "pingInterval: 200ms, pongTimeout: 500ms, maxInactivity: 0s").await;
    // Handshake, then never read: the library cannot answer the pings.
    let (_silent, _) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/x")).await.unwrap();
    let frame = upstream_close(&closed, "the silent client was never dropped").await;
    assert_eq!(frame.code, CloseCode::Away, "{frame:?}");
}

/// Sends 64 KiB messages on `ws` until the peer closes it or fails; the close frame that
/// ended it, if one came.
async fn flood<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> Option<CloseFrame>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let message = Message::Binary(vec![7u8; 64 * 1024].into());
    loop {
        tokio::select! {
            read = stream.next() => match read {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                _ => return None,
            },
            sent = sink.send(message.clone()) => if sent.is_err() {
                break;
            },
        }
    }
    // Sending failed: the close frame may still be there to read.
    while let Some(Ok(read)) = stream.next().await {
        if let Message::Close(frame) = read {
            return frame;
        }
    }
    None
}

/// No pings and no inactivity close: only the write deadline can end a stuck connection.
const STUCK: &str = "writeTimeout: 1s, pingInterval: 1h, maxInactivity: 0s";

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_write_timeout_and_the_upstream_told() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("ws://{}", listener.local_addr().unwrap());
    let (ended, upstream_saw) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let _ = ended.send(flood(ws).await);
    });
    let gateway = gateway(&upstream, STUCK).await;
    let started = Instant::now();
    // Handshake, then never read: the gateway's writes to it stop once the buffers are full.
    let (_reads_nothing, _) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/x")).await.unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(20), upstream_saw)
        .await
        .expect("the upstream was never told: the relay waits on the client for ever")
        .unwrap()
        .expect("a close frame, not a dropped connection");
    assert_eq!((frame.code, frame.reason.as_str()), (CloseCode::Away, "the client stopped reading"));
    assert!(started.elapsed() >= Duration::from_secs(1), "closed after {:?}, before writeTimeout", started.elapsed());
}

#[tokio::test]
async fn an_upstream_that_stops_reading_is_closed_after_write_timeout_and_the_client_told() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _reads_nothing = tokio_tungstenite::accept_async(stream).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let gateway = gateway(&upstream, STUCK).await;
    let (client, _) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/x")).await.unwrap();
    let started = Instant::now();
    let frame = tokio::time::timeout(Duration::from_secs(20), flood(client))
        .await
        .expect("the client was never told: the relay waits on the upstream for ever")
        .expect("a close frame, not a dropped connection");
    assert_eq!((frame.code, frame.reason.as_str()), (CloseCode::Away, "the upstream stopped reading"));
    assert!(started.elapsed() >= Duration::from_secs(1), "closed after {:?}, before writeTimeout", started.elapsed());
}

#[tokio::test]
async fn what_is_not_a_websocket_handshake_gets_an_http_answer() {
    let (upstream, _) = echo_server().await;
    let gateway = gateway(&upstream, "origins: [\"https://app.example.com\"]").await;
    assert_eq!(get(&gateway.url("/ws/x")).await.0, 426, "the check middleware");
    assert_eq!(get(&gateway.url("/bare")).await.0, 426, "the action itself");
    let mut request = ws_url(&gateway, "/ws/x").into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }
    let mut allowed = ws_url(&gateway, "/ws/x").into_client_request().unwrap();
    allowed.headers_mut().insert("origin", "https://app.example.com".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(allowed).await.is_ok());
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_not_a_broken_socket() {
    let port = seam_testkit::free_port();
    let gateway = gateway(&format!("ws://127.0.0.1:{port}"), "handshakeTimeout: 2s").await;
    match tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/x")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 502),
        other => panic!("expected 502, got {:?}", other.map(|(_, r)| r.status())),
    }
}

#[tokio::test]
async fn a_graceful_shutdown_closes_websockets_with_1001_and_waits_for_them() {
    let (upstream, closed) = echo_server().await;
    let mut gateway = gateway(&upstream, "pingInterval: 10s").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/x")).await.unwrap();
    ws.send(Message::Text("before".into())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Text("before".into()));
    gateway.stop();
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closed within 5s") {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Away), "going away (1001)");
    let done = gateway.done.take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), done).await.expect("the server stopped").unwrap();
    let frame = upstream_close(&closed, "the upstream was told too").await;
    assert_eq!(frame.code, CloseCode::Away);
}

/// A TCP stream that counts the bytes it carries, to see what crossed the wire.
struct Counting {
    inner: tokio::net::TcpStream,
    read: Arc<std::sync::atomic::AtomicUsize>,
    written: Arc<std::sync::atomic::AtomicUsize>,
}

impl tokio::io::AsyncRead for Counting {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read.fetch_add(buf.filled().len() - before, std::sync::atomic::Ordering::Relaxed);
        polled
    }
}

impl tokio::io::AsyncWrite for Counting {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            self.written.fetch_add(*n, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A client offering permessage-deflate (yawc), over a stream that counts its bytes.
async fn deflating_client(
    gateway: &Gateway,
    path: &str,
) -> (yawc::WebSocket<Counting>, Arc<std::sync::atomic::AtomicUsize>, Arc<std::sync::atomic::AtomicUsize>) {
    let (read, written) = (Arc::default(), Arc::default());
    let inner = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let io = Counting { inner, read: Arc::clone(&read), written: Arc::clone(&written) };
    let options = yawc::Options::default()
        .with_compression_level(yawc::CompressionLevel::fast())
        .with_max_payload_read(4 << 20)
        .with_max_read_buffer(8 << 20);
    let ws = yawc::WebSocket::handshake(ws_url(gateway, path).parse().unwrap(), io, options).await.expect("handshake");
    (ws, read, written)
}

/// The next data frame, answering nothing else (yawc answers pings itself).
async fn next_data(ws: &mut yawc::WebSocket<Counting>) -> Option<yawc::Frame> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a frame within 5s")?;
        if matches!(frame.opcode(), yawc::OpCode::Text | yawc::OpCode::Binary | yawc::OpCode::Close) {
            return Some(frame);
        }
    }
}

#[tokio::test]
async fn with_enable_compression_messages_to_and_from_the_client_travel_deflated() {
    let (upstream, closed) = echo_server().await;
    let gateway = gateway(&upstream, "enableCompression: true, pingInterval: 100ms, pongTimeout: 400ms").await;
    let (mut ws, read, written) = deflating_client(&gateway, "/ws/room").await;
    let text: String = "the same line of a chat message, again and again\n".repeat(5_000);
    ws.send(yawc::Frame::text(text.clone())).await.unwrap();
    let echoed = next_data(&mut ws).await.expect("the echo");
    assert_eq!(echoed.opcode(), yawc::OpCode::Text);
    assert_eq!(echoed.as_str(), text, "the upstream got the message inflated and sent it back whole");
    let (read, written) =
        (read.load(std::sync::atomic::Ordering::Relaxed), written.load(std::sync::atomic::Ordering::Relaxed));
    assert!(written < text.len() / 10, "{written} bytes went up for {} of text", text.len());
    assert!(read < text.len() / 10, "{read} bytes came down for {} of text", text.len());
    // A second of pings at 100 ms: the client answers them (yawc does), and the gateway sees
    // the pongs through the compressing side, so it does not take the client as gone.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        if let Ok(frame) = tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
            let frame = frame.expect("the connection stays open");
            assert_ne!(frame.opcode(), yawc::OpCode::Close, "closed while answering pings");
        }
    }
    let binary = vec![7u8; 70_000];
    ws.send(yawc::Frame::binary(binary.clone())).await.unwrap();
    let echoed = next_data(&mut ws).await.expect("the binary echo");
    assert_eq!((echoed.opcode(), echoed.payload().as_ref()), (yawc::OpCode::Binary, binary.as_slice()));
    ws.send(yawc::Frame::close(yawc::close::CloseCode::from(4001), "bye")).await.unwrap();
    let frame = upstream_close(&closed, "the upstream never saw the close").await;
    assert_eq!((u16::from(frame.code), frame.reason.as_str()), (4001, "bye"));
    // Its close is answered through the compressing side too: the closing handshake completes.
    let answer = next_data(&mut ws).await.expect("an answer to the close");
    assert_eq!(answer.opcode(), yawc::OpCode::Close);
    // A client that offers nothing gets plain frames from the same action.
    let (mut plain, response) = tokio_tungstenite::connect_async(ws_url(&gateway, "/ws/room")).await.unwrap();
    assert!(response.headers().get("sec-websocket-extensions").is_none());
    plain.send(Message::Text("plain".into())).await.unwrap();
    assert_eq!(plain.next().await.unwrap().unwrap(), Message::Text("plain".into()));
}

#[tokio::test]
async fn a_deflated_message_that_inflates_past_max_message_size_closes_the_connection() {
    let (upstream, _) = echo_server().await;
    let gateway = gateway(&upstream, "enableCompression: true, maxMessageSize: 65536, pingInterval: 10s").await;
    let (mut ws, _, written) = deflating_client(&gateway, "/ws/x").await;
    // 4 MiB of zeros: a few KiB on the wire, 64 times the limit once inflated.
    ws.send(yawc::Frame::binary(vec![0u8; 4 << 20])).await.unwrap();
    assert!(written.load(std::sync::atomic::Ordering::Relaxed) < 64 * 1024, "the bomb went compressed");
    match next_data(&mut ws).await {
        None => {}
        Some(frame) => {
            assert_eq!(frame.opcode(), yawc::OpCode::Close, "nothing is echoed: the upstream never got it");
            assert_eq!(frame.close_code().map(u16::from), Some(1009), "message too big");
        }
    }
    // A message within the limit still passes on a new connection.
    let (mut ws, _, _) = deflating_client(&gateway, "/ws/x").await;
    ws.send(yawc::Frame::binary(vec![1u8; 60_000])).await.unwrap();
    assert_eq!(next_data(&mut ws).await.expect("the echo").payload().len(), 60_000);
}
